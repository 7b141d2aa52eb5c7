//! What the children of a run share: their output (lines printed, the end of what they
//! wrote on standard error), the service file leading their connections to the relay,
//! and the errors a child's failure becomes.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use super::code::Code;
use crate::connect::ConnectionSpec;
use crate::error::Error;
use crate::version::Version;
use crate::wire::{RawSession, ServerError};

/// The most of a child's standard error kept for its error message.
const STDERR_KEPT: usize = 64 * 1024;

/// The lines `stdout` prints, as they come.
pub(super) fn read_lines(stdout: Option<std::process::ChildStdout>) -> mpsc::Receiver<String> {
    let (lines, printed) = mpsc::channel();
    if let Some(stdout) = stdout {
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
    }
    printed
}

/// The end of what `stderr` writes, kept as it comes.
pub(super) fn keep_tail(stderr: Option<std::process::ChildStderr>) -> Arc<Mutex<Vec<u8>>> {
    let kept = Arc::new(Mutex::new(Vec::new()));
    if let Some(mut stderr) = stderr {
        let kept = Arc::clone(&kept);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let Ok(mut kept) = kept.lock() else { break };
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > 2 * STDERR_KEPT {
                    let excess = kept.len() - STDERR_KEPT;
                    kept.drain(..excess);
                }
            }
        });
    }
    kept
}

pub(super) fn text_of(kept: &Arc<Mutex<Vec<u8>>>) -> String {
    kept.lock()
        .map(|k| String::from_utf8_lossy(&k).into_owned())
        .unwrap_or_default()
}

/// The error for `code`'s file failing (at `line`, when known), `message` on one line.
pub(super) fn file_failed(code: &Code<'_>, line: Option<usize>, message: String) -> Error {
    Error::Code {
        file: code.shown.to_string(),
        line,
        message: crate::error::one_line(&message),
    }
}

/// A child whose statement failed and went on as if it had not: the run's transaction
/// cannot go on.
pub(super) fn went_on(
    session: &RawSession,
    last_error: Option<ServerError>,
) -> std::result::Result<(), String> {
    if session.transaction_status() == b'E' {
        let why = last_error.map(|e| e.describe()).unwrap_or_default();
        return Err(format!(
            "a statement it sent failed and it went on as if not: {why}"
        ));
    }
    Ok(())
}

/// The service file the child reads: the service it is told to use, leading to the
/// relay, then the other services of the user's own service file.
pub(super) fn service_text(service: &str, socket_dir: &Path, spec: &ConnectionSpec) -> String {
    let mut text = format!(
        "[{service}]\nhost={}\nport={}\nuser={}\ndbname={}\nsslmode=disable\n",
        socket_dir.display(),
        crate::wire::relay::PORT,
        spec.user(),
        spec.dbname()
    );
    if let Some(own) = crate::connect::personal_service_file()
        .and_then(|path| crate::files::read_text(&path, crate::files::SMALL_FILE).ok())
    {
        let mut keep = true;
        for line in own.lines() {
            let trimmed = line.trim();
            if let Some(name) = trimmed.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
                keep = name != service;
            }
            if keep {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text
}

pub(super) fn version_text(version: Option<&Version>) -> String {
    version.map(ToString::to_string).unwrap_or_default()
}

/// The last `n` non-empty lines, joined with " | ".
pub(super) fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

pub(super) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
