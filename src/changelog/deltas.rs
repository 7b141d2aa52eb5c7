//! Delta directories: the layout of pum 0.x projects.
//!
//! A delta directory holds `delta_<x.y.z>_<name>.{pre.sql,sql,post.sql}` and
//! `delta_<x.y.z>_<name>.{pre.py,py,post.py}` files, and the `pre-all` and `post-all`
//! files that run around every upgrade. The names follow pum 0.x's pattern exactly:
//! `delta_`, three dot-separated numbers, any underscores, a name of letters, digits and
//! underscores (possibly empty), then the extension.
//!
//! - **Order.** Deltas run by version (numerically: 0.10.0 after 0.9.0), then pre before
//!   the main file before post, then by name, as pum 0.9.14 sorts them, then code (`.py`,
//!   executables) before SQL of the same name, as pum 0.x's README describes (0.9.14 left
//!   that to the file system's order). Several directories are
//!   merged into that one order (pum 0.9.14 runs them directory by directory, so a lower
//!   version in a later directory ran after a higher one). `pre-all` files run first, the
//!   directories in reverse order; `post-all` files last, the directories in order; code
//!   before SQL in each.
//! - **Code deltas.** Besides `.py` files (run through the Python bridge), a file named
//!   like a delta whose extension is neither `.sql` nor `.py` (`delta_1.2.0_data.sh`, or no
//!   extension) and that has its run bit set is an executable delta.
//! - **Nothing skipped silently.** A file whose name starts like a delta (`delta_`, any
//!   case) or like `pre-all`/`post-all` but does not match the pattern (`delta_1.0_x.sql`,
//!   `delta_1.0.0_a-b.sql`, `delta_1.0.0_x.SQL`, an editor's `delta_1.0.0_x.sql~`) is an
//!   error naming it: pum 0.x ignored such files, and their changes never ran.
//! - **Checksums** are the MD5 of the file's bytes, as pum 0.x records them; of an SQL
//!   file's bytes after a UTF-8 byte order mark at its start, which is not part of its
//!   text (psql drops it; pum 0.x sent it to the server, which refused the file, so no
//!   recorded checksum is of a file with one).
//! - **Only regular files.** A directory, FIFO or device named like a delta, and a name
//!   like a delta's that is not UTF-8, are refused naming them.

use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use crate::error::{Error, Result};
use crate::version::Version;

/// When a delta runs relative to the others of its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeltaKind {
    /// `.pre.*`: before the version's main files.
    Pre,
    /// The main files.
    Main,
    /// `.post.*`: after the version's main files.
    Post,
}

/// What a delta is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeltaLanguage {
    /// A Python file with `DeltaPy` subclasses.
    Python,
    /// An executable file.
    Executable,
    /// A Rust [`crate::hooks::Hook`] given through the library.
    Rust,
    /// An SQL file.
    Sql,
}

impl DeltaLanguage {
    /// Whether this is code (anything but SQL).
    pub fn is_code(self) -> bool {
        self != DeltaLanguage::Sql
    }

    /// The rank in the order: code before SQL.
    fn rank(self) -> u8 {
        match self {
            DeltaLanguage::Sql => 1,
            _ => 0,
        }
    }
}

/// One delta file.
#[derive(Debug, Clone)]
pub struct Delta {
    /// Its version (`None` for `pre-all` and `post-all`).
    pub version: Option<Version>,
    /// Pre, main or post.
    pub kind: DeltaKind,
    /// What it is written in.
    pub language: DeltaLanguage,
    /// The name part (`b` in `delta_0.0.2_b.sql`; `pre-all`, `post-all`), pum 0.x's
    /// `description`.
    pub name: String,
    /// Where it is.
    pub path: PathBuf,
    /// The directory as given, joined with the file's name: the `script` pum 0.x records.
    pub script: String,
    /// The index of its directory in the list given.
    pub dir: usize,
    /// MD5 of the file's bytes, in lower-case hex (empty for Rust hooks).
    pub checksum: String,
}

impl Delta {
    /// pum 0.x's `type` column: 8 SQL, 9 pre SQL, 10 post SQL, 4 code, 5 pre code, 6 post
    /// code (Python files, executables and Rust hooks are all recorded as code).
    pub fn type_code(&self) -> i32 {
        let base = if self.language.is_code() { 4 } else { 8 };
        base + match self.kind {
            DeltaKind::Pre => 1,
            DeltaKind::Main => 0,
            DeltaKind::Post => 2,
        }
    }

    /// `pre sql`, `delta py`, `post code`…: the type as `info` shows it.
    pub fn type_label(&self) -> String {
        type_label(self.type_code(), self.language)
    }

    /// The file name.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The key deltas are ordered by.
    fn order(&self) -> (Option<&Version>, DeltaKind, &str, u8, usize) {
        (
            self.version.as_ref(),
            self.kind,
            &self.name,
            self.language.rank(),
            self.dir,
        )
    }
}

/// The label of a recorded `type` (`baseline`, `pre sql`, `delta py`…); `language` tells
/// code deltas apart when known.
pub fn type_label(code: i32, language: DeltaLanguage) -> String {
    let code_word = match language {
        DeltaLanguage::Executable => "exe",
        DeltaLanguage::Rust => "rust",
        _ => "py",
    };
    match code {
        0 => "baseline".into(),
        5 => format!("pre {code_word}"),
        9 => "pre sql".into(),
        4 => format!("delta {code_word}"),
        8 => "delta sql".into(),
        6 => format!("post {code_word}"),
        10 => "post sql".into(),
        other => format!("type {other}"),
    }
}

/// The delta files of one or more directories, in the order they run.
#[derive(Debug, Clone, Default)]
pub struct DeltaSet {
    /// The directories, as given.
    pub dirs: Vec<PathBuf>,
    /// The versioned deltas, in order.
    pub deltas: Vec<Delta>,
    /// The `pre-all` files, in order.
    pub pre_all: Vec<Delta>,
    /// The `post-all` files, in order.
    pub post_all: Vec<Delta>,
}

impl DeltaSet {
    /// Reads the delta directories `dirs`.
    ///
    /// # Errors
    /// [`Error::Changelog`] naming a missing directory, a file that looks like a delta but
    /// does not match the pattern, or a file of another user that anyone may write;
    /// [`Error::Io`] for an unreadable file.
    pub fn load(dirs: &[PathBuf]) -> Result<DeltaSet> {
        if dirs.is_empty() {
            return Err(Error::Changelog {
                path: String::new(),
                message: "no delta directory given (-d DIR)".into(),
            });
        }
        let mut set = DeltaSet {
            dirs: dirs.to_vec(),
            ..DeltaSet::default()
        };
        let mut pre_all: Vec<Vec<Delta>> = Vec::new();
        let mut post_all: Vec<Vec<Delta>> = Vec::new();
        for (index, dir) in dirs.iter().enumerate() {
            let (deltas, pre, post) = read_dir(dir, index)?;
            set.deltas.extend(deltas);
            pre_all.push(pre);
            post_all.push(post);
        }
        set.deltas.sort_by(|a, b| a.order().cmp(&b.order()));
        set.pre_all = pre_all.into_iter().rev().flatten().collect();
        set.post_all = post_all.into_iter().flatten().collect();
        Ok(set)
    }

    /// Adds a Rust hook as a delta (see [`crate::deltas::DeltaUpgrader::hook`]).
    pub(crate) fn add(&mut self, delta: Delta) {
        match (&delta.version, delta.kind) {
            (Some(_), _) => {
                self.deltas.push(delta);
                self.deltas.sort_by(|a, b| a.order().cmp(&b.order()));
            }
            (None, DeltaKind::Pre) => self.pre_all.push(delta),
            (None, _) => self.post_all.push(delta),
        }
    }

    /// The highest version among the deltas.
    pub fn latest(&self) -> Option<&Version> {
        self.deltas.iter().filter_map(|d| d.version.as_ref()).max()
    }
}

/// What a file name is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Name {
    /// A versioned delta: version (normalised), name, kind, extension (`sql`, `py`, other
    /// or empty).
    Delta {
        version: String,
        name: String,
        kind: DeltaKind,
        extension: String,
    },
    /// `pre-all.*` or `post-all.*`, with the extension.
    All { kind: DeltaKind, extension: String },
    /// Looks like a delta but is not one: why.
    Bad(String),
    /// Not a delta at all (a README).
    Other,
}

/// Reads a file name the way pum 0.x's pattern does.
pub(crate) fn parse_name(file: &str) -> Name {
    let lower = file.to_ascii_lowercase();
    for (prefix, kind) in [("pre-all", DeltaKind::Pre), ("post-all", DeltaKind::Post)] {
        if lower.starts_with(prefix) {
            return match file.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
                Some(extension) if file.starts_with(prefix) && !extension.contains('.') => {
                    Name::All {
                        kind,
                        extension: extension.to_string(),
                    }
                }
                Some(_) | None if file == prefix => Name::All {
                    kind,
                    extension: String::new(),
                },
                _ => Name::Bad(format!("{prefix} files are {prefix}.sql or {prefix}.py")),
            };
        }
    }
    if !lower.starts_with("delta_") {
        return Name::Other;
    }
    let bad = |why: &str| Name::Bad(why.to_string());
    let Some(rest) = file.strip_prefix("delta_") else {
        return bad("delta files start with \"delta_\" in lower case");
    };
    // Three numbers.
    let mut numbers = Vec::new();
    let mut rest = rest;
    for i in 0..3 {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return bad("the version must be three numbers (delta_1.2.3_name.sql)");
        }
        let Ok(number) = rest[..digits].parse::<u64>() else {
            return bad("a version number is too large");
        };
        numbers.push(number.to_string());
        rest = &rest[digits..];
        if i < 2 {
            match rest.strip_prefix('.') {
                Some(r) => rest = r,
                None => return bad("the version must be three numbers (delta_1.2.3_name.sql)"),
            }
        }
    }
    let rest = rest.trim_start_matches('_');
    let name_len: usize = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    let name = &rest[..name_len];
    let suffix = &rest[name_len..];
    let (kind, extension) = match suffix {
        "" => (DeltaKind::Main, ""),
        _ => match suffix.strip_prefix('.') {
            None => {
                return bad(
                    "the name may hold only letters, digits and underscores, then the extension",
                );
            }
            Some(ext) => match ext.split_once('.') {
                Some(("pre", ext)) => (DeltaKind::Pre, ext),
                Some(("post", ext)) => (DeltaKind::Post, ext),
                Some(_) => {
                    return bad(
                        "the name may hold only letters, digits and underscores; the end is \
                         .sql, .py, .pre.sql, .pre.py, .post.sql or .post.py",
                    );
                }
                None if ext == "pre" => (DeltaKind::Pre, ""),
                None if ext == "post" => (DeltaKind::Post, ""),
                None => (DeltaKind::Main, ext),
            },
        },
    };
    if extension.contains('.') {
        return bad("the end is .sql, .py, .pre.sql, .pre.py, .post.sql or .post.py");
    }
    Name::Delta {
        version: numbers.join("."),
        name: name.to_string(),
        kind,
        extension: extension.to_string(),
    }
}

/// The names in a delta directory, sorted, hidden files left out; a name that is not
/// UTF-8 is refused when it would be a delta's.
fn delta_names(dir: &Path) -> Result<Vec<String>> {
    let problem = |path: &Path, message: String| Error::Changelog {
        path: path.display().to_string(),
        message,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => problem(dir, "the delta directory does not exist".into()),
        std::io::ErrorKind::NotADirectory => problem(dir, "not a directory".into()),
        _ => Error::io(dir, e),
    })?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let os_name = entry.file_name();
        let file = os_name.to_string_lossy().into_owned();
        if file.starts_with('.') {
            continue;
        }
        if os_name.to_str().is_none() && parse_name(&file) != Name::Other {
            return Err(super::not_utf8(&entry.path()));
        }
        names.push(file);
    }
    names.sort();
    Ok(names)
}

/// How a delta file runs, from its extension (and run bit).
fn language_of(path: &Path, extension: &str, meta: &std::fs::Metadata) -> Result<DeltaLanguage> {
    Ok(match extension {
        "sql" => DeltaLanguage::Sql,
        "py" => DeltaLanguage::Python,
        _ if executable(meta) => DeltaLanguage::Executable,
        other => {
            let shown = if other.is_empty() {
                "no extension".to_string()
            } else {
                format!("the extension .{other}")
            };
            return Err(Error::Changelog {
                path: path.display().to_string(),
                message: format!(
                    "looks like a delta file but has {shown}: deltas end in .sql or .py, or \
                     are executables (set the run bit)"
                ),
            });
        }
    })
}

/// The deltas, pre-all and post-all files of one directory.
fn read_dir(dir: &Path, index: usize) -> Result<(Vec<Delta>, Vec<Delta>, Vec<Delta>)> {
    let problem = |path: &Path, message: String| Error::Changelog {
        path: path.display().to_string(),
        message,
    };
    let names = delta_names(dir)?;
    let (mut deltas, mut pre, mut post) = (Vec::new(), Vec::new(), Vec::new());
    for file in names {
        let path = dir.join(&file);
        let parsed = parse_name(&file);
        if parsed == Name::Other {
            continue;
        }
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        if !meta.is_file() {
            return Err(super::not_a_file(&path));
        }
        let (version, name, kind, extension) = match parsed {
            Name::Other => continue,
            Name::Bad(why) => {
                return Err(problem(
                    &path,
                    format!("looks like a delta file but is not one: {why}"),
                ));
            }
            Name::Delta {
                version,
                name,
                kind,
                extension,
            } => (Some(version), name, kind, extension),
            Name::All { kind, extension } => (
                None,
                match kind {
                    DeltaKind::Pre => "pre-all".to_string(),
                    _ => "post-all".to_string(),
                },
                kind,
                extension,
            ),
        };
        let language = language_of(&path, &extension, &meta)?;
        if language.is_code() {
            crate::files::refuse_foreign_writable(&path, &meta)?;
        }
        let bytes = crate::files::read_bytes(&path, crate::files::SQL_FILE)?;
        let checksum = if language == DeltaLanguage::Sql {
            // Read as it will run: a NUL or bad UTF-8 is refused now, before anything ran;
            // a byte order mark is not part of the text, nor of the checksum.
            let text = super::sql_source(&path.display().to_string(), bytes)?;
            hex(&Md5::digest(text.as_bytes()))
        } else {
            hex(&Md5::digest(&bytes))
        };
        let version = match version {
            Some(text) => Some(Version::parse(&text).map_err(|e| problem(&path, e.to_string()))?),
            None => None,
        };
        let delta = Delta {
            version,
            kind,
            language,
            name,
            script: script(dir, &file),
            path,
            dir: index,
            checksum,
        };
        match (&delta.version, kind) {
            (Some(_), _) => deltas.push(delta),
            (None, DeltaKind::Pre) => pre.push(delta),
            (None, _) => post.push(delta),
        }
    }
    // Code before SQL.
    pre.sort_by_key(|d| d.language.rank());
    post.sort_by_key(|d| d.language.rank());
    Ok((deltas, pre, post))
}

/// The directory as given joined with the file name, as pum 0.x writes `script`.
fn script(dir: &Path, file: &str) -> String {
    let dir = dir.to_string_lossy();
    if dir.is_empty() {
        file.to_string()
    } else if dir.ends_with(std::path::MAIN_SEPARATOR) || dir.ends_with('/') {
        format!("{dir}{file}")
    } else {
        format!("{dir}{}{file}", std::path::MAIN_SEPARATOR)
    }
}

#[cfg(unix)]
fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_: &std::fs::Metadata) -> bool {
    false
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(file: &str) -> (String, String, DeltaKind, String) {
        match parse_name(file) {
            Name::Delta {
                version,
                name,
                kind,
                extension,
            } => (version, name, kind, extension),
            other => panic!("{file}: {other:?}"),
        }
    }

    #[test]
    fn names_parse_as_pum_0x_reads_them() {
        assert_eq!(
            delta("delta_0.0.2_b.pre.sql"),
            ("0.0.2".into(), "b".into(), DeltaKind::Pre, "sql".into())
        );
        assert_eq!(delta("delta_1.0.0.sql").1, "");
        assert_eq!(delta("delta_1.0.0x.sql").1, "x");
        assert_eq!(delta("delta_1.0.0__under.sql").1, "under");
        assert_eq!(delta("delta_1.0.0_a_b.post.py").1, "a_b");
        assert_eq!(delta("delta_1.0.0_pre.sql").1, "pre");
        assert_eq!(delta("delta_1.0.0_pre.sql").2, DeltaKind::Main);
        assert_eq!(delta("delta_01.0.0_lead.sql").0, "1.0.0");
        assert_eq!(delta("delta_1.0.0_é.sql").1, "é");
        assert_eq!(delta("delta_1.2.3_load.sh").3, "sh");
        assert_eq!(delta("delta_1.2.3_load").3, "");
        assert_eq!(delta("delta_1.2.3_load.pre").2, DeltaKind::Pre);
    }

    #[test]
    fn near_misses_are_told_apart_from_other_files() {
        for bad in [
            "delta_1.0_x.sql",
            "delta_1.0.0_a-b.sql",
            "delta_1.0.0_dots.a.sql",
            "Delta_1.0.0_cap.sql",
            "delta_1.0.0_x.sql.bak",
            "delta_x.y.z_a.sql",
            "pre-all.sql.orig",
            "post-all-old.sql",
        ] {
            assert!(matches!(parse_name(bad), Name::Bad(_)), "{bad}");
        }
        for other in ["README.txt", "changes.sql", "deltas.md"] {
            assert_eq!(parse_name(other), Name::Other, "{other}");
        }
        assert_eq!(
            parse_name("pre-all.py"),
            Name::All {
                kind: DeltaKind::Pre,
                extension: "py".into()
            }
        );
    }
}
