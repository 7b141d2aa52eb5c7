//! Dumping and restoring databases with `pg_dump`, `pg_restore` and `psql`.
//!
//! Dumps are made with `--no-owner --no-privileges`, so they restore anywhere; ownership
//! and grants are pum's role management's job. The connection reaches the tools through
//! `PG*` environment variables ([`ConnectionSpec::apply_to`]): a password never appears on a
//! command line.
//!
//! A restore that is not told to ignore errors runs in one transaction and stops at the
//! first error, so a failed restore leaves the target database as it was. A restore that
//! ignores errors (`-x`) goes on past them and reports how many it ignored.
//!
//! Custom-format (and directory or tar) dumps are restored with `pg_restore`; a plain SQL
//! dump with `psql`, which cannot leave schemas out, so `exclude_schemas` needs a
//! custom-format dump. A plain file is checked before psql sees it: no meta-command other
//! than those pg_dump writes (so no `\!` shell command), and a pg_dump dump must be
//! complete (`plain/`). A plain dump is never held in memory: it is checked in
//! `plain::CHUNK` pieces, then streamed to psql's standard input, checked again on the
//! way, and psql's input is closed (its cue to commit) only when both readings match.

use std::io::{Read, Seek};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod plain;

#[cfg(fuzzing)]
pub(crate) fn fuzz_plain(text: &str) -> std::result::Result<(), String> {
    plain::check(text)
}

use crate::connect::{ConnectionSpec, quote_keyword_value};
use crate::error::{Error, Result};

/// The file format of a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DumpFormat {
    /// pg_dump's compressed archive (`-Fc`), restorable selectively. The default.
    #[default]
    Custom,
    /// A plain SQL script (`-Fp`), restored with `psql`.
    Plain,
}

/// Options of [`dump`].
#[derive(Debug, Clone, Default)]
pub struct DumpOptions {
    /// The file format.
    pub format: DumpFormat,
    /// Schemas to leave out, as `pg_dump --exclude-schema` patterns.
    pub exclude_schemas: Vec<String>,
    /// The `pg_dump` program to run; found on `PATH` (or in `/usr/lib/postgresql`) when unset.
    pub pg_dump: Option<PathBuf>,
}

/// Options of [`restore`].
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Go on past errors instead of stopping and rolling back (`-x`).
    pub ignore_errors: bool,
    /// Schemas to leave out (custom-format dumps only).
    pub exclude_schemas: Vec<String>,
    /// The `pg_restore` program; found like `pg_dump` when unset.
    pub pg_restore: Option<PathBuf>,
    /// The `psql` program, for plain SQL dumps; found like `pg_dump` when unset.
    pub psql: Option<PathBuf>,
}

/// What a restore that ignored errors went past.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreSummary {
    /// How many errors were ignored (0 when everything went in).
    pub ignored_errors: usize,
    /// The first lines the tool printed about them, joined into one line.
    pub messages: String,
}

/// Finds a PostgreSQL client program: `configured` (a path, or a name looked up on `PATH`),
/// else `name` on `PATH`, else in the newest `/usr/lib/postgresql/<version>/bin`.
///
/// # Errors
/// [`Error::ToolNotFound`] saying what to install.
pub fn find_tool(name: &str, configured: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = configured {
        return which::which(path).map_err(|_| Error::ToolNotFound {
            tool: path.display().to_string(),
            hint: format!("the configured {name} does not exist or cannot be run"),
        });
    }
    if let Ok(path) = which::which(name) {
        return Ok(path);
    }
    if let Some(path) = newest_packaged(name) {
        return Ok(path);
    }
    Err(Error::ToolNotFound {
        tool: name.to_string(),
        hint: "install the PostgreSQL client programs (Debian and Ubuntu: \
               apt-get install postgresql-client) or give the program's path"
            .to_string(),
    })
}

/// `/usr/lib/postgresql/<newest>/bin/<name>`, if there is one.
pub(crate) fn newest_packaged(name: &str) -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let path = entry.path().join("bin").join(name);
            path.is_file().then_some((major, path))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, path)| path)
}

/// Dumps the database of `spec` into `file`.
///
/// The dump is written to a temporary file next to `file` and renamed over it only when
/// `pg_dump` succeeds, so a failed dump leaves `file` as it was; a device or FIFO (such as
/// `/dev/null`) is written through, never replaced ([`crate::files::write`]'s rules).
/// `pg_dump` ends with pum, however pum ends.
///
/// # Errors
/// [`Error::ToolNotFound`], [`Error::Io`] for an unwritable directory, [`Error::PgDump`]
/// with pg_dump's message.
pub fn dump(spec: &ConnectionSpec, file: &Path, options: &DumpOptions) -> Result<()> {
    let pg_dump = find_tool("pg_dump", options.pg_dump.as_deref())?;
    crate::files::replace_file(file, |output| {
        let mut command = Command::new(&pg_dump);
        command
            .arg("--no-owner")
            .arg("--no-privileges")
            .arg(match options.format {
                DumpFormat::Custom => "--format=custom",
                DumpFormat::Plain => "--format=plain",
            })
            .arg("--file")
            .arg(output);
        for schema in &options.exclude_schemas {
            command.arg("--exclude-schema").arg(schema);
        }
        // A device or FIFO written through cannot be synced (pg_dump would fail on it).
        if std::fs::metadata(output).is_ok_and(|m| !m.is_file()) {
            command.arg("--no-sync");
        }
        spec.apply_to(&mut command);
        let (status, messages) = run(&mut command, &pg_dump)?;
        if !status.success() {
            return Err(Error::PgDump {
                status: status.to_string(),
                stderr: messages.summary(),
            });
        }
        Ok(())
    })
}

/// Restores `file` (any pg_dump format) into the database of `spec`.
///
/// # Errors
/// [`Error::Io`] for an unreadable file, [`Error::Unsupported`] for `exclude_schemas` with a
/// plain SQL dump, [`Error::PgRestore`] with the tool's message (unless errors are ignored;
/// a failure to connect is never ignored).
pub fn restore(
    spec: &ConnectionSpec,
    file: &Path,
    options: &RestoreOptions,
) -> Result<RestoreSummary> {
    if is_plain_sql(file)? {
        restore_plain(spec, file, options)
    } else {
        restore_archive(spec, file, options)
    }
}

/// A plain dump is any regular file that is neither a custom-format nor a tar archive.
fn is_plain_sql(file: &Path) -> Result<bool> {
    let meta = std::fs::metadata(file).map_err(|e| Error::io(file, e))?;
    if meta.is_dir() {
        return Ok(false);
    }
    // Refuses a FIFO or device without opening it (opening a FIFO waits for a writer).
    let mut head = Vec::with_capacity(512);
    crate::files::open_regular(file)?
        .take(512)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(file, e))?;
    let custom = head.starts_with(b"PGDMP");
    let tar = head.get(257..262) == Some(b"ustar".as_slice());
    Ok(!custom && !tar)
}

fn restore_archive(
    spec: &ConnectionSpec,
    file: &Path,
    options: &RestoreOptions,
) -> Result<RestoreSummary> {
    let pg_restore = find_tool("pg_restore", options.pg_restore.as_deref())?;
    let mut command = Command::new(&pg_restore);
    // Without --dbname pg_restore would print a script instead of restoring. The name goes
    // as a keyword string so that a database name containing "=" is not read as one.
    command
        .arg("--no-owner")
        .arg("--no-privileges")
        .arg(format!(
            "--dbname=dbname={}",
            quote_keyword_value(spec.dbname())
        ));
    if !options.ignore_errors {
        command.arg("--single-transaction").arg("--exit-on-error");
    }
    for schema in &options.exclude_schemas {
        command.arg("--exclude-schema").arg(schema);
    }
    // pg_restore -N leaves out the objects in a schema but still creates the schema
    // itself; a filtered table of contents leaves out the schema too.
    let _list = if options.exclude_schemas.is_empty() {
        None
    } else {
        let list = table_of_contents_without(&pg_restore, file, &options.exclude_schemas)?;
        command.arg("--use-list").arg(list.path());
        Some(list)
    };
    command.arg(file);
    spec.apply_to(&mut command);
    let (status, messages) = run(&mut command, &pg_restore)?;
    if status.success() {
        return Ok(RestoreSummary::default());
    }
    if options.ignore_errors
        && let Some(count) = messages.ignored
    {
        return Ok(RestoreSummary {
            ignored_errors: count,
            messages: messages.summary(),
        });
    }
    Err(Error::PgRestore {
        tool: "pg_restore".into(),
        status: status.to_string(),
        stderr: messages.summary(),
    })
}

/// The archive's table of contents without the entries creating (or commenting on) the
/// excluded schemas, written to a temporary file for `pg_restore --use-list`.
fn table_of_contents_without(
    pg_restore: &Path,
    file: &Path,
    schemas: &[String],
) -> Result<tempfile::NamedTempFile> {
    let mut command = Command::new(pg_restore);
    command.arg("--list").arg(file);
    for schema in schemas {
        command.arg("--exclude-schema").arg(schema);
    }
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(pg_restore, e))?;
    if !output.status.success() {
        return Err(Error::PgRestore {
            tool: "pg_restore".into(),
            status: output.status.to_string(),
            stderr: summarize(&String::from_utf8_lossy(&output.stderr)),
        });
    }
    let toc = String::from_utf8_lossy(&output.stdout);
    let excluded = |line: &str| {
        schemas.iter().any(|schema| {
            line.contains(&format!(" SCHEMA - {schema} "))
                || line.contains(&format!(" COMMENT - SCHEMA {schema} "))
        })
    };
    let kept: String = toc
        .lines()
        .filter(|line| !excluded(line))
        .map(|line| format!("{line}\n"))
        .collect();
    let mut list =
        tempfile::NamedTempFile::new().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    std::io::Write::write_all(&mut list, kept.as_bytes()).map_err(|e| Error::io(list.path(), e))?;
    Ok(list)
}

/// pg_restore ends a run that went past errors with "errors ignored on restore: N".
fn ignored_error_count(stderr: &str) -> Option<usize> {
    stderr.lines().find_map(|line| {
        line.split("errors ignored on restore:")
            .nth(1)
            .and_then(|n| n.trim().parse().ok())
    })
}

/// psql reading a plain dump on its standard input: quiet, no psqlrc, stopping at the
/// first error in one transaction unless `ignore_errors`.
fn psql_reading_stdin(spec: &ConnectionSpec, psql: &Path, ignore_errors: bool) -> Command {
    let mut command = Command::new(psql);
    command
        .arg("--no-psqlrc")
        .arg("--quiet")
        .arg("--set")
        .arg(if ignore_errors {
            "ON_ERROR_STOP=0"
        } else {
            "ON_ERROR_STOP=1"
        });
    if !ignore_errors {
        command.arg("--single-transaction");
    }
    command.arg("--file").arg("-");
    command.stdout(Stdio::null());
    spec.apply_to(&mut command);
    crate::process::die_with_pum(&mut command);
    command.stdin(Stdio::piped()).stderr(Stdio::piped());
    command
}

fn restore_plain(
    spec: &ConnectionSpec,
    file: &Path,
    options: &RestoreOptions,
) -> Result<RestoreSummary> {
    if !options.exclude_schemas.is_empty() {
        return Err(Error::Unsupported {
            message: format!(
                "{} is a plain SQL dump: leaving schemas out (-N) needs a custom-format dump",
                file.display()
            ),
        });
    }
    let refused = |reason: String| Error::Refused {
        operation: format!("restore {}", file.display()),
        reason,
    };
    // A first reading checks the whole file before psql sees any of it; the second hands
    // psql what it reads, checking it again on the way (so that a file changed in between
    // is stopped before psql gets the change), and closes psql's input (psql's cue to
    // commit) only when the file read the same both times. Both in plain::CHUNK pieces.
    let mut input = crate::files::open_regular(file)?;
    let first = match plain::stream(&mut input, |_| Ok(ControlFlow::Continue(()))) {
        Ok(checked) => checked,
        Err(plain::Stopped::Refused(reason)) => return Err(refused(reason)),
        Err(plain::Stopped::Io(e)) => return Err(Error::io(file, e)),
        // This sink never asks to stop.
        Err(plain::Stopped::ByReceiver(checked)) => checked,
    };
    input
        .seek(std::io::SeekFrom::Start(0))
        .map_err(|e| Error::io(file, e))?;
    let psql = find_tool("psql", options.psql.as_deref())?;
    let mut child = psql_reading_stdin(spec, &psql, options.ignore_errors)
        .spawn()
        .map_err(|e| Error::io(&psql, e))?;
    let (Some(mut stdin), Some(stderr)) = (child.stdin.take(), child.stderr.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Error::io(
            &psql,
            std::io::Error::other("psql was started without its pipes"),
        ));
    };
    let (second, messages) = std::thread::scope(|scope| {
        let messages = scope.spawn(move || Messages::read(stderr));
        let second = plain::stream(&mut input, |chunk| {
            match std::io::Write::write_all(&mut stdin, chunk) {
                Ok(()) => Ok(ControlFlow::Continue(())),
                // psql stopped reading (ON_ERROR_STOP): its status says why.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ControlFlow::Break(())),
                Err(e) => Err(e),
            }
        });
        let whole = matches!(&second, Ok(c) if *c == first)
            || matches!(second, Err(plain::Stopped::ByReceiver(_)));
        if whole {
            drop(stdin);
        } else {
            // Killed with its input open, psql never commits: with a single transaction
            // nothing of the file stays.
            let _ = child.kill();
        }
        (second, messages.join())
    });
    let status = child.wait().map_err(|e| Error::io(&psql, e))?;
    let messages = messages.unwrap_or_default();
    match second {
        Ok(checked) if checked != first => {
            return Err(refused(
                "the file changed while it was being restored; psql was stopped".into(),
            ));
        }
        Ok(_) | Err(plain::Stopped::ByReceiver(_)) => {}
        Err(plain::Stopped::Refused(reason)) => {
            return Err(refused(format!(
                "{reason} (the file changed while it was being restored; psql was stopped)"
            )));
        }
        Err(plain::Stopped::Io(e)) => return Err(Error::io(file, e)),
    }
    if !status.success() {
        return Err(Error::PgRestore {
            tool: "psql".into(),
            status: status.to_string(),
            stderr: messages.summary(),
        });
    }
    Ok(RestoreSummary {
        ignored_errors: messages.errors,
        messages: if messages.errors > 0 {
            messages.summary()
        } else {
            String::new()
        },
    })
}

/// What a tool printed on its standard error, kept to a bounded size however much it
/// prints (psql going past the errors of a large dump prints one line per COPY row).
#[derive(Debug, Default)]
struct Messages {
    /// The first [`Messages::KEEP`] non-blank lines, trimmed, each cut at
    /// [`Messages::LINE`] bytes.
    first: Vec<String>,
    /// How many non-blank lines there were.
    lines: usize,
    /// How many of them hold `ERROR:`.
    errors: usize,
    /// pg_restore's "errors ignored on restore: N".
    ignored: Option<usize>,
}

impl Messages {
    const KEEP: usize = 6;
    const LINE: usize = 2000;

    /// Reads `stream` to its end (a read error ends it too).
    fn read(stream: impl Read) -> Messages {
        let mut messages = Messages::default();
        let mut line: Vec<u8> = Vec::new();
        let mut buffer = [0u8; 8192];
        let mut stream = stream;
        loop {
            let n = match stream.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            for &b in &buffer[..n] {
                if b == b'\n' {
                    messages.line(&line);
                    line.clear();
                } else if line.len() < Self::LINE {
                    line.push(b);
                }
            }
        }
        messages.line(&line);
        messages
    }

    fn line(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        self.lines += 1;
        if text.contains("ERROR:") {
            self.errors += 1;
        }
        if let Some(count) = ignored_error_count(text) {
            self.ignored = Some(count);
        }
        if self.first.len() < Self::KEEP {
            self.first.push(text.to_string());
        }
    }

    /// The first lines joined into one, as [`summarize`] does.
    fn summary(&self) -> String {
        let mut text = self.first.join(" | ");
        if self.lines > self.first.len() {
            text.push_str(&format!(
                " | … ({} more lines)",
                self.lines - self.first.len()
            ));
        }
        text
    }
}

/// Runs `command` with no input and returns its status and what it printed on standard
/// error. The program dies with pum: a killed `pum dump` leaves no `pg_dump` running.
fn run(command: &mut Command, program: &Path) -> Result<(std::process::ExitStatus, Messages)> {
    crate::process::die_with_pum(command);
    let mut child = command
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(program, e))?;
    let messages = child.stderr.take().map(Messages::read).unwrap_or_default();
    let status = child.wait().map_err(|e| Error::io(program, e))?;
    Ok((status, messages))
}

/// The first lines of a tool's message, joined into one line.
fn summarize(stderr: &str) -> String {
    Messages::read(stderr.as_bytes()).summary()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_ignored_errors() {
        let stderr = "pg_restore: error: could not execute query\n\
                      pg_restore: warning: errors ignored on restore: 3\n";
        assert_eq!(ignored_error_count(stderr), Some(3));
        assert_eq!(
            ignored_error_count("pg_restore: error: connection failed"),
            None
        );
    }

    #[test]
    fn summary_keeps_six_lines() {
        let text = (1..=9).map(|i| format!("line {i}\n")).collect::<String>();
        assert_eq!(
            summarize(&text),
            "line 1 | line 2 | line 3 | line 4 | line 5 | line 6 | … (3 more lines)"
        );
    }

    #[test]
    fn configured_tool_that_does_not_exist_is_named() {
        let err = find_tool("pg_dump", Some(Path::new("/nonexistent/pg_dump")))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "/nonexistent/pg_dump not found: the configured pg_dump does not exist or cannot be run"
        );
    }

    #[test]
    fn plain_and_custom_files_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.sql");
        std::fs::write(&plain, "CREATE TABLE t();\n").unwrap();
        let custom = dir.path().join("a.dump");
        std::fs::write(&custom, b"PGDMP\x01\x0e\x00").unwrap();
        assert!(is_plain_sql(&plain).unwrap());
        assert!(!is_plain_sql(&custom).unwrap());
        assert!(!is_plain_sql(dir.path()).unwrap());
        let err = is_plain_sql(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&dir.path().join("missing").display().to_string()),
            "{err}"
        );
    }
}
