//! The password file (`~/.pgpass` or `PGPASSFILE`).
//!
//! Each line is `hostname:port:database:username:password`; `*` in the first four
//! fields matches anything, `\:` and `\\` stand for a colon and a backslash, and the first
//! matching line wins. As in libpq the file is ignored, with a warning, unless only its
//! owner can read it (mode 0600 or stricter). A line that does not have five fields is
//! skipped with a warning naming the file and line (libpq skips it silently).

use std::path::{Path, PathBuf};

/// One usable line of a password file.
#[derive(Clone, PartialEq, Eq)]
struct Entry {
    host: String,
    port: String,
    database: String,
    user: String,
    password: String,
}

/// A loaded password file.
#[derive(Clone, Default)]
pub(crate) struct PassFile {
    path: Option<PathBuf>,
    entries: Vec<Entry>,
}

impl std::fmt::Debug for PassFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassFile")
            .field("path", &self.path)
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl PassFile {
    /// Loads `path`; a missing file is an empty one. Problems become `warnings`.
    pub(crate) fn load(path: &Path, warnings: &mut Vec<String>) -> PassFile {
        let empty = PassFile {
            path: Some(path.to_path_buf()),
            entries: Vec::new(),
        };
        let Ok(meta) = std::fs::metadata(path) else {
            return empty;
        };
        if !meta.is_file() {
            warnings.push(format!(
                "password file \"{}\" is not a plain file; ignored",
                path.display()
            ));
            return empty;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                warnings.push(format!(
                    "password file \"{}\" has group or world access; permissions should be \
                     u=rw (0600) or less; ignored",
                    path.display()
                ));
                return empty;
            }
        }
        match crate::files::read_text(path, crate::files::SMALL_FILE) {
            Ok(text) => PassFile {
                entries: parse(&text, path, warnings),
                ..empty
            },
            Err(e) => {
                warnings.push(format!("{e}; password file ignored"));
                empty
            }
        }
    }

    /// The path this file was loaded from.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The password of the first line matching all four values.
    pub(crate) fn lookup(
        &self,
        host: &str,
        port: &str,
        database: &str,
        user: &str,
    ) -> Option<&str> {
        let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        self.entries
            .iter()
            .find(|e| {
                matches(&e.host, host)
                    && matches(&e.port, port)
                    && matches(&e.database, database)
                    && matches(&e.user, user)
            })
            .map(|e| e.password.as_str())
    }
}

/// Parses a password file's text (for the fuzz target).
#[cfg(fuzzing)]
pub(crate) fn fuzz(text: &str) {
    let _ = parse(text, Path::new("fuzz"), &mut Vec::new());
}

fn parse(text: &str, path: &Path, warnings: &mut Vec<String>) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        match split_line(line) {
            Some([host, port, database, user, password]) => entries.push(Entry {
                host,
                port,
                database,
                user,
                password,
            }),
            None => warnings.push(format!(
                "password file {}:{}: expected hostname:port:database:username:password; \
                 line skipped",
                path.display(),
                index + 1
            )),
        }
    }
    entries
}

/// Splits a line into its five fields; the password is the rest of the line.
fn split_line(line: &str) -> Option<[String; 5]> {
    let mut fields: Vec<String> = Vec::with_capacity(5);
    let mut current = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.push(chars.next().unwrap_or('\\')),
            ':' if fields.len() < 4 => fields.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    if fields.len() < 4 {
        return None;
    }
    fields.push(current);
    fields.try_into().ok()
}

/// Escapes a value for a password file field (the inverse of the parser).
#[cfg(test)]
pub(crate) fn escape_field(value: &str) -> String {
    value.replace('\\', "\\\\").replace(':', "\\:")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn loaded(text: &str) -> (PassFile, Vec<String>) {
        let mut warnings = Vec::new();
        let entries = parse(text, Path::new("/home/me/.pgpass"), &mut warnings);
        (
            PassFile {
                path: None,
                entries,
            },
            warnings,
        )
    }

    #[test]
    fn first_matching_line_wins_and_wildcards_match() {
        let (file, warnings) = loaded(
            "# comment\n\
             db.example.org:5432:tww:alice:first\n\
             *:*:tww:alice:second\n\
             *:*:*:*:fallback\n",
        );
        assert!(warnings.is_empty());
        assert_eq!(
            file.lookup("db.example.org", "5432", "tww", "alice"),
            Some("first")
        );
        assert_eq!(file.lookup("other", "5433", "tww", "alice"), Some("second"));
        assert_eq!(file.lookup("other", "5433", "x", "bob"), Some("fallback"));
    }

    #[test]
    fn escapes_and_colons_in_the_password() {
        let (file, _) = loaded(r"h\:1:5432:d\\b:u:pa:ss\:word");
        assert_eq!(file.lookup("h:1", "5432", r"d\b", "u"), Some("pa:ss:word"));
    }

    #[test]
    fn short_line_is_skipped_with_a_warning_naming_the_line() {
        let (file, warnings) = loaded("h:5432:db\n*:*:*:u:pw\n");
        assert_eq!(
            warnings,
            vec![
                "password file /home/me/.pgpass:1: expected hostname:port:database:username:\
                 password; line skipped"
                    .to_string()
            ]
        );
        assert_eq!(file.lookup("h", "5432", "db", "u"), Some("pw"));
    }

    #[test]
    fn no_match_is_none() {
        let (file, _) = loaded("h:5432:db:u:pw\n");
        assert_eq!(file.lookup("h", "5432", "db", "other"), None);
    }

    #[cfg(unix)]
    #[test]
    fn group_readable_file_is_ignored_with_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:pw\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut warnings = Vec::new();
        let file = PassFile::load(&path, &mut warnings);
        assert_eq!(file.lookup("h", "1", "d", "u"), None);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("has group or world access"),
            "{warnings:?}"
        );

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut warnings = Vec::new();
        let file = PassFile::load(&path, &mut warnings);
        assert_eq!(file.lookup("h", "1", "d", "u"), Some("pw"));
        assert!(warnings.is_empty());
    }

    proptest! {
        #[test]
        fn escaped_fields_round_trip(
            host in "[^\n\r]{0,12}", db in "[^\n\r]{0,12}", user in "[^\n\r]{0,12}",
            password in "[^\n\r]{0,12}",
        ) {
            prop_assume!(!host.starts_with('#') && host != "*" && db != "*" && user != "*");
            let line = format!(
                "{}:5432:{}:{}:{}",
                escape_field(&host), escape_field(&db), escape_field(&user), escape_field(&password)
            );
            prop_assume!(!line.trim().is_empty());
            let (file, warnings) = loaded(&line);
            prop_assert!(warnings.is_empty());
            prop_assert_eq!(file.lookup(&host, "5432", &db, &user), Some(password.as_str()));
        }
    }
}
