//! Plain SQL dumps, which `psql` restores: what may be in one before pum hands it to psql.
//!
//! psql runs backslash meta-commands found anywhere in its input, `\!` (a shell command)
//! among them, so a plain file is read first, the way psql would read it (comments,
//! quotes, dollar quotes, `COPY … FROM stdin` data), and refused if it holds a meta-command
//! other than those pg_dump writes (`\restrict`, `\unrestrict`, and `\.` ending COPY data).
//! A file that starts as a pg_dump dump must end as one (`-- PostgreSQL database dump
//! complete`): a truncated dump is refused, not restored in part. It must be UTF-8 text.
//!
//! The reading is a [`Scanner`]: a state machine fed the file in pieces of any size, which
//! keeps a few bytes of state (an open dollar-quote tag, a meta-command's name, the first
//! bytes of the current line), never the file: a dump of any size is checked in
//! [`CHUNK`]-sized reads, and [`stream`] hands psql exactly the bytes it has checked.
//! The scanner is `scanner.rs`; here are what it allows and the reading around it.

use std::io::Read;
use std::ops::ControlFlow;

use scanner::Scanner;

mod scanner;
#[cfg(test)]
mod tests;

/// The meta-commands pg_dump writes in plain dumps.
pub(super) const ALLOWED: [&str; 2] = ["restrict", "unrestrict"];

/// The first line of a pg_dump plain dump, and the line that ends a complete one.
pub(super) const HEADER: &str = "-- PostgreSQL database dump";
pub(super) const FOOTER: &str = "-- PostgreSQL database dump complete";

/// How much of a plain dump is in memory at once while it is checked and restored.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Why `text` may not be handed to psql, if it may not (the whole text at once: the fuzz
/// target and the tests).
#[cfg(any(test, fuzzing))]
pub(crate) fn check(text: &str) -> Result<(), String> {
    let mut scanner = Scanner::new();
    scanner.feed(text.as_bytes())?;
    scanner.finish()
}

/// What [`stream`] read: how many bytes, and their hash, which tells a second reading
/// of a file from the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    pub bytes: u64,
    pub hash: blake3::Hash,
}

/// Why [`stream`] stopped.
#[derive(Debug)]
pub(crate) enum Stopped {
    /// The input could not be read, or `sink` failed.
    Io(std::io::Error),
    /// The text may not be handed to psql: why.
    Refused(String),
    /// `sink` wanted no more (psql stopped reading): what was read up to there.
    ByReceiver(Checked),
}

/// Reads `input` to its end in [`CHUNK`]s, checks each chunk before handing it to `sink`
/// (so `sink` never gets a byte that comes after a refused one), and checks the end.
///
/// # Errors
/// [`Stopped`]: a read or `sink` error, a refusal, or `sink` asking to stop.
pub(crate) fn stream(
    input: &mut impl Read,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<ControlFlow<()>>,
) -> Result<Checked, Stopped> {
    let mut scanner = Scanner::new();
    let mut hasher = blake3::Hasher::new();
    let mut bytes = 0u64;
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Stopped::Io(e)),
        };
        let chunk = &buffer[..n];
        scanner.feed(chunk).map_err(Stopped::Refused)?;
        hasher.update(chunk);
        bytes += n as u64;
        if sink(chunk).map_err(Stopped::Io)?.is_break() {
            return Err(Stopped::ByReceiver(Checked {
                bytes,
                hash: hasher.finalize(),
            }));
        }
    }
    scanner.finish().map_err(Stopped::Refused)?;
    Ok(Checked {
        bytes,
        hash: hasher.finalize(),
    })
}

/// What may follow a backslash in COPY data: the escapes COPY writes (`\\`, `\N`,
/// `\b`, `\f`, `\n`, `\r`, `\t`, `\v`) and those COPY reads (octal digits, `\x`), none of
/// which is a psql meta-command that reads or writes files or runs programs.
pub(super) const COPY_ESCAPES: &[u8] = b"\\Nbfnrtvx01234567";

/// A backslash in COPY data followed by what pg_dump never writes there.
pub(super) fn copy_escape(b: u8, line: usize) -> String {
    let what = if b == b'\n' {
        "a backslash ending the line".to_string()
    } else {
        format!("\\{}", String::from_utf8_lossy(&[b]))
    };
    format!(
        "line {line}: COPY data holds {what}, which pg_dump never writes there (psql would \
         read it as a meta-command if the COPY failed); pum restores plain files only without it"
    )
}

/// Whether the meta-command `name` (on `line`) is one pg_dump writes.
pub(super) fn meta_command(name: &[u8], line: usize) -> Result<(), String> {
    let name = String::from_utf8_lossy(name);
    if ALLOWED.contains(&name.as_ref()) {
        return Ok(());
    }
    Err(format!(
        "line {line}: the psql meta-command \\{name} is not one pg_dump writes; pum restores \
         plain files only without them"
    ))
}
