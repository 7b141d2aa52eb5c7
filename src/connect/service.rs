//! `pg_service.conf`: named groups of connection settings.
//!
//! The format is libpq's: `[name]` starts a service, `key=value` lines follow, `#` starts
//! a comment line. As in libpq, only the lines of the service being read are checked, so
//! a typo in another service never blocks this one; a bad line in this one is an error
//! naming the file and line.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The settings of one service, each with the file and line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceEntry {
    /// `(keyword, value, origin)`, origin being `service file PATH:LINE`.
    pub settings: Vec<(String, String, String)>,
}

/// Looks for `service` in `files`, in order; the first file holding it wins.
///
/// Files that do not exist are skipped, as libpq does. `Ok(None)` means no file has it.
pub(crate) fn find_service(service: &str, files: &[PathBuf]) -> Result<Option<ServiceEntry>> {
    for file in files {
        // Missing files (and directories) are skipped, as libpq does; a FIFO or a device
        // is refused rather than read forever.
        match std::fs::metadata(file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Ok(meta) if meta.is_dir() => continue,
            _ => {}
        }
        let text = crate::files::read_text(file, crate::files::SMALL_FILE)?;
        if let Some(entry) = parse_service(&text, service, file)? {
            return Ok(Some(entry));
        }
    }
    Ok(None)
}

/// Reads the group `[service]` out of a service file's text.
pub(crate) fn parse_service(
    text: &str,
    service: &str,
    file: &Path,
) -> Result<Option<ServiceEntry>> {
    let mut found: Option<ServiceEntry> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            if found.is_some() {
                break;
            }
            let name = name
                .strip_suffix(']')
                .ok_or_else(|| Error::ConnectionSetting {
                    origin: origin(file, index),
                    message: format!("missing \"]\" in group header \"{line}\""),
                })?;
            if name.trim() == service {
                found = Some(ServiceEntry {
                    settings: Vec::new(),
                });
            }
            continue;
        }
        let Some(entry) = found.as_mut() else {
            continue;
        };
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| Error::ConnectionSetting {
                origin: origin(file, index),
                // The line is not shown: it may hold a password.
                message: "syntax error: expected key=value".into(),
            })?;
        let key = key.trim();
        if key == "service" {
            return Err(Error::ConnectionSetting {
                origin: origin(file, index),
                message: "nested service specifications are not supported".into(),
            });
        }
        entry.settings.push((
            key.to_string(),
            value.trim().to_string(),
            origin(file, index),
        ));
    }
    Ok(found)
}

fn origin(file: &Path, index: usize) -> String {
    format!("service file {}:{}", file.display(), index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# shared services
[other]
this line is broken but belongs to another service

[prod]
host = db.example.org
port=5433
  dbname=tww
user=
[next]
host=elsewhere
";

    fn path() -> PathBuf {
        PathBuf::from("/etc/pg_service.conf")
    }

    #[test]
    fn reads_the_named_group_with_origins() {
        let entry = parse_service(FILE, "prod", &path()).unwrap().unwrap();
        let got: Vec<(&str, &str, &str)> = entry
            .settings
            .iter()
            .map(|(k, v, o)| (k.as_str(), v.as_str(), o.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "host",
                    "db.example.org",
                    "service file /etc/pg_service.conf:6"
                ),
                ("port", "5433", "service file /etc/pg_service.conf:7"),
                ("dbname", "tww", "service file /etc/pg_service.conf:8"),
                ("user", "", "service file /etc/pg_service.conf:9"),
            ]
        );
    }

    #[test]
    fn unknown_service_is_none() {
        assert_eq!(parse_service(FILE, "nope", &path()).unwrap(), None);
    }

    #[test]
    fn broken_line_in_the_service_names_file_and_line() {
        let err = parse_service(FILE, "other", &path())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "service file /etc/pg_service.conf:3: syntax error: expected key=value"
        );
    }

    #[test]
    fn nested_service_is_refused() {
        let err = parse_service("[a]\nservice=b\n", "a", &path())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "service file /etc/pg_service.conf:2: nested service specifications are not supported"
        );
    }

    #[test]
    fn unclosed_group_header_is_an_error() {
        let err = parse_service("[a\nhost=x\n", "a", &path())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "service file /etc/pg_service.conf:1: missing \"]\" in group header \"[a\""
        );
    }

    #[test]
    fn first_file_holding_the_service_wins_and_missing_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first.conf");
        let second = dir.path().join("second.conf");
        std::fs::write(&first, "[a]\nhost=one\n").unwrap();
        std::fs::write(&second, "[a]\nhost=two\n[b]\nhost=three\n").unwrap();
        let files = vec![dir.path().join("missing.conf"), first, second];
        let a = find_service("a", &files).unwrap().unwrap();
        assert_eq!(a.settings[0].1, "one");
        let b = find_service("b", &files).unwrap().unwrap();
        assert_eq!(b.settings[0].1, "three");
        assert_eq!(find_service("c", &files).unwrap(), None);
    }
}
