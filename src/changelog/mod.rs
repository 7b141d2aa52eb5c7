//! What to apply: changelog directories, their SQL files, parameters and statements.
//!
//! The layout is Python pum 1.x's: `changelogs/<version>/*.sql`. Each sub-directory is a
//! version (`1.2`, `1.2.3`, …), applied in numeric order; its `.sql` files run in file-name
//! order. A version with no SQL file is an application-only release and must say so with an
//! empty `APP_ONLY_RELEASE` file. Other files (a README) are ignored, as in Python pum.
//!
//! SQL files may use parameters as `{name}` (declared in `.pum.yaml`: [`crate::config::ParameterDef`]). A file containing the line
//! `-- pum:no-transaction` runs outside any transaction (for `CREATE INDEX CONCURRENTLY`
//! and the like).
//!
//! A version may undo itself: `changelogs/<version>/down/*.sql` are its down files, run
//! in reverse name order by a downgrade. They sit in a sub-directory, which Python pum
//! (reading only the version directory's own `.sql` files) passes over.
//! `scaffold` writes new changelog files (`pum new`).
//!
//! This module knows files, not configurations: [`discover`] takes the changelogs
//! directory, and [`crate::Config::changelogs`] hands it the configured one.

mod decimal;
pub mod deltas;
mod embedded;
pub(crate) mod params;
mod render;
pub(crate) mod scaffold;
pub(crate) mod stream;
pub(crate) use embedded::EmbeddedFiles;
pub(crate) use render::render_percent;

/// `sql` as a changelog file must hold it so that rendering its parameters gives `sql`
/// back: braces doubled where pum reads `{name}` (comments left alone). Autogenerate
/// writes its SQL through it.
pub fn escape_braces(sql: &str) -> String {
    render::escape(sql)
}

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::version::Version;

/// The marker file of a version with no SQL files.
pub const APP_ONLY_MARKER: &str = "APP_ONLY_RELEASE";

/// The directive that makes a file run outside a transaction.
pub const NO_TRANSACTION_DIRECTIVE: &str = "-- pum:no-transaction";

/// One SQL file of a changelog, read.
#[derive(Debug, Clone)]
pub struct ChangelogFile {
    /// Where it is.
    pub path: PathBuf,
    /// The name recorded in the migrations table: `<changelogs_directory>/<version>/<file>`,
    /// as Python pum records it.
    pub name: String,
    /// Its text, checksum and directives.
    pub sql: SqlText,
}

/// One version directory.
#[derive(Debug, Clone)]
pub struct Changelog {
    /// Its version.
    pub version: Version,
    /// Its directory.
    pub dir: PathBuf,
    /// Its SQL files, in the order they run.
    pub files: Vec<ChangelogFile>,
    /// Its down files (`down/*.sql`), in name order (a downgrade runs them backwards).
    pub down: Vec<ChangelogFile>,
}

/// The sub-directory of a version holding its down files.
pub const DOWN_DIR: &str = "down";

impl Changelog {
    /// Whether this is an application-only release (no SQL files).
    pub fn app_only(&self) -> bool {
        self.files.is_empty()
    }
}

/// Lists and reads the changelogs in `root`, in version order. `recorded_as` is the
/// directory's name as the configuration writes it (`changelogs`): recorded file names
/// start with it.
///
/// # Errors
/// [`Error::Changelog`] naming the directory that is missing, empty, not a version, a
/// duplicate version, a version with neither SQL files nor an `APP_ONLY_RELEASE` marker
/// (or with both), or a symbolic link that leads nowhere; [`Error::Io`] for an unreadable
/// file.
pub fn discover(root: &Path, recorded_as: &str) -> Result<Vec<Changelog>> {
    discover_in(&Disk, root, recorded_as)
}

/// [`discover`] for a migration, which reads its large files again as they run rather
/// than hold them ([`SqlText::is_held`]).
///
/// # Errors
/// As [`discover`].
pub(crate) fn discover_for_run(root: &Path, recorded_as: &str) -> Result<Vec<Changelog>> {
    discover_in(&DiskForRun, root, recorded_as)
}

/// What is in a directory of a [`Tree`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Dir,
    File,
    /// A symbolic link to nothing (which `is_file` and `is_dir` would silently pass over).
    Dangling,
    /// A name that is not UTF-8, which pum would read as another name: an SQL file
    /// (`.sql`) or a directory.
    NotUtf8,
    Other,
}

/// Where changelogs are read from: the disk, or files compiled into the program
/// ([`EmbeddedFiles`]).
pub(crate) trait Tree {
    /// The entries directly in `dir` (name, path, kind); `None` when it does not exist.
    fn entries(&self, dir: &Path) -> Result<Option<Vec<(String, PathBuf, EntryKind)>>>;
    /// The text of the file at `path`.
    fn read(&self, path: &Path) -> Result<SqlText>;
}

/// The file system.
pub(crate) struct Disk;

impl Tree for Disk {
    fn entries(&self, dir: &Path) -> Result<Option<Vec<(String, PathBuf, EntryKind)>>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(dir, e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let path = entry.path();
            let name = entry.file_name();
            let lossy = name.to_string_lossy();
            let kind = if name.to_str().is_none() && (lossy.ends_with(".sql") || path.is_dir()) {
                EntryKind::NotUtf8
            } else if path.is_dir() {
                EntryKind::Dir
            } else if path.is_file() {
                EntryKind::File
            } else if !path.exists() && path.symlink_metadata().is_ok() {
                EntryKind::Dangling
            } else {
                EntryKind::Other
            };
            found.push((lossy.into_owned(), path, kind));
        }
        Ok(Some(found))
    }

    fn read(&self, path: &Path) -> Result<SqlText> {
        SqlText::read(path)
    }
}

/// The file system, for a migration: large files are not held.
struct DiskForRun;

impl Tree for DiskForRun {
    fn entries(&self, dir: &Path) -> Result<Option<Vec<(String, PathBuf, EntryKind)>>> {
        Disk.entries(dir)
    }

    fn read(&self, path: &Path) -> Result<SqlText> {
        stream::read_for_run(path)
    }
}

/// [`discover`] in any [`Tree`].
pub(crate) fn discover_in(
    tree: &dyn Tree,
    root: &Path,
    recorded_as: &str,
) -> Result<Vec<Changelog>> {
    let problem = |path: &Path, message: &str| Error::Changelog {
        path: path.display().to_string(),
        message: message.to_string(),
    };
    let entries = tree
        .entries(root)?
        .ok_or_else(|| problem(root, "the changelogs directory does not exist"))?;
    let mut changelogs: Vec<Changelog> = Vec::new();
    for (dir_name, dir, kind) in entries {
        match kind {
            EntryKind::Dangling => return Err(problem(&dir, DANGLING_LINK)),
            EntryKind::NotUtf8 => return Err(not_utf8(&dir)),
            EntryKind::Dir => {}
            EntryKind::File | EntryKind::Other => continue,
        }
        let version = Version::parse(&dir_name)
            .map_err(|e| problem(&dir, &format!("not a version directory: {e}")))?;
        if let Some(other) = changelogs.iter().find(|c| c.version == version) {
            return Err(problem(
                &dir,
                &format!(
                    "version {version} is also {}",
                    other.dir.file_name().unwrap_or_default().to_string_lossy()
                ),
            ));
        }
        let mut names = Vec::new();
        let mut marker = false;
        let mut has_down = false;
        for (name, path, kind) in tree.entries(&dir)?.unwrap_or_default() {
            match kind {
                EntryKind::Dangling => return Err(problem(&path, DANGLING_LINK)),
                EntryKind::NotUtf8 => return Err(not_utf8(&path)),
                EntryKind::Dir if name == DOWN_DIR => has_down = true,
                EntryKind::File if name == APP_ONLY_MARKER => marker = true,
                EntryKind::File if name.ends_with(".sql") => names.push(name),
                EntryKind::Dir | EntryKind::Other if name.ends_with(".sql") => {
                    return Err(not_a_file(&path));
                }
                _ => {}
            }
        }
        names.sort();
        match (names.is_empty(), marker) {
            (true, false) => {
                return Err(problem(
                    &dir,
                    &format!(
                        "no .sql file; a release that changes only the application needs an \
                         empty {APP_ONLY_MARKER} file"
                    ),
                ));
            }
            (false, true) => {
                return Err(problem(
                    &dir,
                    &format!("has .sql files and an {APP_ONLY_MARKER} marker; remove one"),
                ));
            }
            _ => {}
        }
        let files = read_files(tree, &dir, names, &format!("{recorded_as}/{dir_name}"))?;
        let down = if has_down {
            down_files(tree, &dir, &format!("{recorded_as}/{dir_name}/{DOWN_DIR}"))?
        } else {
            Vec::new()
        };
        changelogs.push(Changelog {
            version,
            dir,
            files,
            down,
        });
    }
    if changelogs.is_empty() {
        return Err(problem(
            root,
            "the changelogs directory has no version directory",
        ));
    }
    changelogs.sort_by(|a, b| a.version.cmp(&b.version));
    Ok(changelogs)
}

/// Reads the files `names` of `dir`, recorded as `<recorded_as>/<name>`.
fn read_files(
    tree: &dyn Tree,
    dir: &Path,
    names: Vec<String>,
    recorded_as: &str,
) -> Result<Vec<ChangelogFile>> {
    names
        .into_iter()
        .map(|name| {
            let path = dir.join(&name);
            Ok(ChangelogFile {
                sql: tree.read(&path)?,
                path,
                name: format!("{recorded_as}/{name}"),
            })
        })
        .collect()
}

/// The `.sql` files of `dir/down`, in name order.
fn down_files(tree: &dyn Tree, dir: &Path, recorded_as: &str) -> Result<Vec<ChangelogFile>> {
    let down = dir.join(DOWN_DIR);
    let mut names = Vec::new();
    for (name, path, kind) in tree.entries(&down)?.unwrap_or_default() {
        match kind {
            EntryKind::Dangling => {
                return Err(Error::Changelog {
                    path: path.display().to_string(),
                    message: DANGLING_LINK.into(),
                });
            }
            EntryKind::NotUtf8 => return Err(not_utf8(&path)),
            EntryKind::File if name.ends_with(".sql") => names.push(name),
            EntryKind::Dir | EntryKind::Other if name.ends_with(".sql") => {
                return Err(not_a_file(&path));
            }
            _ => {}
        }
    }
    names.sort();
    read_files(tree, &down, names, recorded_as)
}

/// A `.sql` name on what is not a regular file: a directory, a FIFO (which would block a
/// reader), a device (`/dev/zero` would never end), also behind a symbolic link.
pub(crate) fn not_a_file(path: &Path) -> Error {
    Error::Changelog {
        path: crate::text::path(path),
        message: "not a regular file (a directory, FIFO, socket or device, perhaps behind a \
                  symbolic link): pum reads SQL from regular files only"
            .into(),
    }
}

/// A name pum cannot read as it is written.
pub(crate) fn not_utf8(path: &Path) -> Error {
    Error::Changelog {
        path: crate::text::path(path),
        message: "invalid file name: not UTF-8 (the bytes shown as \\xNN); rename it".into(),
    }
}

/// What a symbolic link to nothing is told.
const DANGLING_LINK: &str = "a symbolic link to nothing: restore its target or remove it";

/// A file's text, read for applying.
#[derive(Debug, Clone)]
pub struct SqlText {
    /// The text; empty when it is not held ([`SqlText::is_held`]).
    pub text: String,
    /// `blake3:<hex>` of the text with line endings normalised to `\n`.
    pub checksum: String,
    /// Whether the file asks to run outside a transaction.
    pub no_transaction: bool,
    /// Whether `text` holds the text: a run does not hold a large file, which it reads
    /// again as it runs.
    held: bool,
}

impl SqlText {
    /// Reads `path`.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn read(path: &Path) -> Result<SqlText> {
        let bytes = crate::files::read_bytes(path, crate::files::SQL_FILE)?;
        Ok(SqlText::new(sql_source(
            &path.display().to_string(),
            bytes,
        )?))
    }

    /// Wraps text that does not come from a file.
    pub fn new(text: String) -> SqlText {
        let no_transaction = text
            .lines()
            .any(|l| l.trim().eq_ignore_ascii_case(NO_TRANSACTION_DIRECTIVE));
        SqlText {
            checksum: checksum(&text),
            text,
            no_transaction,
            held: true,
        }
    }

    /// Whether [`SqlText::text`] holds the text. Only the changelogs a migration reads
    /// leave large files on disk, to read them again as they run.
    pub fn is_held(&self) -> bool {
        self.held
    }
}

/// The UTF-8 byte order mark some Windows editors put at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The SQL text of a file's `bytes`, as psql reads it: without a UTF-8 byte order mark
/// at its start (so that a file saved with one has the same text, and the same checksum,
/// as without), UTF-8, and without NUL bytes (which the server's protocol cannot carry:
/// the text would end there).
///
/// # Errors
/// [`Error::Statement`] naming `file`, the line and the column of the first byte that is
/// not UTF-8, or of the first NUL.
pub(crate) fn sql_source(file: &str, mut bytes: Vec<u8>) -> Result<String> {
    if bytes.starts_with(BOM) {
        bytes.drain(..BOM.len());
    }
    let at = |text: &str, offset: usize, message: String| {
        let (line, column) = crate::sql::split::line_column(text, offset);
        Error::Statement {
            file: file.to_string(),
            line,
            column,
            message,
            code: None,
            statement: None,
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let before = String::from_utf8_lossy(&bytes[..valid]);
            return Err(at(
                &before,
                valid,
                format!(
                    "not UTF-8 text (byte 0x{:02X}): save the file as UTF-8",
                    bytes[valid]
                ),
            ));
        }
    };
    if let Some(nul) = text.find('\0') {
        return Err(at(
            &text,
            nul,
            "a NUL byte, which SQL text cannot hold (PostgreSQL would read the text as \
             ending there): remove it"
                .into(),
        ));
    }
    Ok(text)
}

/// `blake3:<hex>` of `text` with `\r\n` and `\r` line endings read as `\n`.
pub fn checksum(text: &str) -> String {
    // Hashed as it is read, without a normalised copy of the text (a file can be large).
    let mut checksum = stream::Checksum::default();
    checksum.update(text);
    checksum.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn checksum_ignores_line_endings() {
        assert_eq!(checksum("a\r\nb\r\n"), checksum("a\nb\n"));
        assert_eq!(checksum("a\r\r\nb\rc"), checksum("a\n\nb\nc"));
        assert_eq!(
            checksum("a\nb\n"),
            format!("blake3:{}", blake3::hash(b"a\nb\n").to_hex())
        );
        assert_ne!(checksum("a\nb\n"), checksum("a\nc\n"));
        assert!(checksum("").starts_with("blake3:"));
    }

    #[test]
    fn a_bom_is_dropped_nul_and_bad_utf8_are_located() {
        let plain = sql_source("f.sql", b"SELECT 1;\n".to_vec()).unwrap();
        let bom = sql_source("f.sql", b"\xEF\xBB\xBFSELECT 1;\n".to_vec()).unwrap();
        assert_eq!(bom, plain);
        assert_eq!(SqlText::new(bom).checksum, SqlText::new(plain).checksum);
        // Only at the start: elsewhere it is text (and the server's business).
        let inner = sql_source("f.sql", b"SELECT '\xEF\xBB\xBF';".to_vec()).unwrap();
        assert_eq!(inner, "SELECT '\u{feff}';");
        let err = sql_source("f.sql", b"SELECT 1;\nSELECT '\0';\n".to_vec())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f.sql:2:9: a NUL byte"), "{err}");
        let err = sql_source("f.sql", b"\xEF\xBB\xBF-- \xC3\xA9\nSELECT '\xE9';".to_vec())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("f.sql:2:9: not UTF-8 text (byte 0xE9)"),
            "{err}"
        );
    }

    #[test]
    fn no_transaction_directive() {
        assert!(
            SqlText::new("-- pum:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);".into())
                .no_transaction
        );
        assert!(!SqlText::new("-- pum: no transaction here\nSELECT 1;".into()).no_transaction);
    }

    #[cfg(unix)]
    #[test]
    fn a_dangling_symbolic_link_is_named_not_skipped() {
        let root = tempfile::tempdir().unwrap();
        let v1 = root.path().join("1.0.0");
        std::fs::create_dir(&v1).unwrap();
        std::fs::write(v1.join("01.sql"), "SELECT 1;").unwrap();
        assert_eq!(
            discover(root.path(), "changelogs").unwrap()[0].files.len(),
            1
        );
        std::os::unix::fs::symlink(root.path().join("gone.sql"), v1.join("02.sql")).unwrap();
        let err = discover(root.path(), "changelogs").unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: a symbolic link to nothing: restore its target or remove it",
                v1.join("02.sql").display()
            )
        );
        std::fs::remove_file(v1.join("02.sql")).unwrap();
        std::os::unix::fs::symlink(root.path().join("nowhere"), root.path().join("1.1.0")).unwrap();
        let err = discover(root.path(), "changelogs").unwrap_err().to_string();
        assert!(
            err.ends_with("1.1.0: a symbolic link to nothing: restore its target or remove it"),
            "{err}"
        );
    }
}
