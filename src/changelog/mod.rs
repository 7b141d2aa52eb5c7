//! What to apply: changelog directories, their SQL files, parameters and statements.
//!
//! The layout is Python pum 1.x's: `changelogs/<version>/*.sql`. Each sub-directory is a
//! version (`1.2`, `1.2.3`, …), applied in numeric order; its `.sql` files run in file-name
//! order. A version with no SQL file is an application-only release and must say so with an
//! empty `APP_ONLY_RELEASE` file. Other files (a README) are ignored, as in Python pum.
//!
//! SQL files may use parameters as `{name}` ([`params`]). A file containing the line
//! `-- pum:no-transaction` runs outside any transaction (for `CREATE INDEX CONCURRENTLY`
//! and the like).
//!
//! A version may undo itself: `changelogs/<version>/down/*.sql` are its down files, run
//! in reverse name order by a downgrade. They sit in a sub-directory, which Python pum
//! (reading only the version directory's own `.sql` files) passes over.
//! [`scaffold`] writes new changelog files (`pum new`).
//!
//! This module knows files, not configurations: [`discover`] takes the changelogs
//! directory, and [`crate::Config::changelogs`] hands it the configured one.

mod decimal;
pub mod deltas;
pub mod params;
mod render;
pub mod scaffold;
pub(crate) use render::render_percent;
pub mod sql;

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
    let problem = |path: &Path, message: &str| Error::Changelog {
        path: path.display().to_string(),
        message: message.to_string(),
    };
    let entries = std::fs::read_dir(root).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => problem(root, "the changelogs directory does not exist"),
        _ => Error::io(root, e),
    })?;
    let mut changelogs: Vec<Changelog> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(root, e))?;
        let dir = entry.path();
        if is_dangling_link(&dir) {
            return Err(problem(&dir, DANGLING_LINK));
        }
        if !dir.is_dir() {
            continue;
        }
        let dir_name = entry.file_name().to_string_lossy().into_owned();
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
        for file in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let file = file.map_err(|e| Error::io(&dir, e))?;
            let name = file.file_name().to_string_lossy().into_owned();
            let path = file.path();
            if is_dangling_link(&path) {
                return Err(problem(&path, DANGLING_LINK));
            }
            if !path.is_file() {
                continue;
            }
            if name == APP_ONLY_MARKER {
                marker = true;
            } else if name.ends_with(".sql") {
                names.push(name);
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
        let files = names
            .into_iter()
            .map(|name| {
                let path = dir.join(&name);
                Ok(ChangelogFile {
                    sql: SqlText::read(&path)?,
                    path,
                    name: format!("{recorded_as}/{dir_name}/{name}"),
                })
            })
            .collect::<Result<_>>()?;
        let down = down_files(&dir, &format!("{recorded_as}/{dir_name}/{DOWN_DIR}"))?;
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

/// The `.sql` files of `dir/down`, in name order (none when there is no such directory).
fn down_files(dir: &Path, recorded_as: &str) -> Result<Vec<ChangelogFile>> {
    let down = dir.join(DOWN_DIR);
    if !down.is_dir() {
        return Ok(Vec::new());
    }
    let mut names = Vec::new();
    for file in std::fs::read_dir(&down).map_err(|e| Error::io(&down, e))? {
        let file = file.map_err(|e| Error::io(&down, e))?;
        let path = file.path();
        if is_dangling_link(&path) {
            return Err(Error::Changelog {
                path: path.display().to_string(),
                message: DANGLING_LINK.into(),
            });
        }
        let name = file.file_name().to_string_lossy().into_owned();
        if path.is_file() && name.ends_with(".sql") {
            names.push(name);
        }
    }
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let path = down.join(&name);
            Ok(ChangelogFile {
                sql: SqlText::read(&path)?,
                path,
                name: format!("{recorded_as}/{name}"),
            })
        })
        .collect()
}

/// What a symbolic link to nothing is told.
const DANGLING_LINK: &str = "a symbolic link to nothing: restore its target or remove it";

/// Whether `path` is a symbolic link whose target does not exist (which `is_file` and
/// `is_dir` would silently pass over).
fn is_dangling_link(path: &Path) -> bool {
    !path.exists() && path.symlink_metadata().is_ok()
}

/// A file's text, read for applying.
#[derive(Debug, Clone)]
pub struct SqlText {
    /// The text.
    pub text: String,
    /// `blake3:<hex>` of the text with line endings normalised to `\n`.
    pub checksum: String,
    /// Whether the file asks to run outside a transaction.
    pub no_transaction: bool,
}

impl SqlText {
    /// Reads `path`.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn read(path: &Path) -> Result<SqlText> {
        let text = crate::files::read_text(path, crate::files::SQL_FILE)?;
        Ok(SqlText::new(text))
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
        }
    }
}

/// `blake3:<hex>` of `text` with `\r\n` and `\r` line endings read as `\n`.
pub fn checksum(text: &str) -> String {
    let normalised = text.replace("\r\n", "\n").replace('\r', "\n");
    format!("blake3:{}", blake3::hash(normalised.as_bytes()).to_hex())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn checksum_ignores_line_endings() {
        assert_eq!(checksum("a\r\nb\r\n"), checksum("a\nb\n"));
        assert_ne!(checksum("a\nb\n"), checksum("a\nc\n"));
        assert!(checksum("").starts_with("blake3:"));
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
