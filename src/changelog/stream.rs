//! Large changelog files, which a run reads as they are sent rather than holds: a file of
//! a million `INSERT`s costs the memory of a block and of one statement, as with psql.
//!
//! A run reads such a file through once when it discovers the changelogs (checksum,
//! `-- pum:no-transaction`, and that it is UTF-8 without NUL), and again each time it
//! goes through its statements (to check them, then to send them). Each time the
//! checksum is computed again: a file changed meanwhile is refused before the run commits,
//! so that what is recorded is what ran.

use std::io::Read;
use std::path::Path;

use super::{NO_TRANSACTION_DIRECTIVE, SqlText};
use crate::error::{Error, Result};
use crate::sql::feed::StatementFeed;
use crate::sql::split::{SplitError, StatementRef};

/// Files up to this size are held in memory, as every file of other commands is; larger
/// ones (and only files on disk, not compiled in, that run in a transaction) are read as
/// they run.
pub(crate) const HELD_UP_TO: u64 = 8 << 20;

/// The smallest block read at a time; a block is as large as the statement waiting for
/// its end, so that a long statement is scanned a bounded number of times.
const BLOCK: usize = 1 << 16;

/// `blake3:<hex>` of a text given in parts, with `\r\n` and `\r` line endings read as
/// `\n`, without a normalised copy.
#[derive(Default)]
pub(crate) struct Checksum {
    hasher: blake3::Hasher,
    /// The last part ended in `\r`: a `\n` starting the next belongs to it.
    after_cr: bool,
}

impl Checksum {
    /// Adds a part of the text.
    pub(crate) fn update(&mut self, part: &str) {
        let mut rest = part.as_bytes();
        if rest.is_empty() {
            return;
        }
        if std::mem::take(&mut self.after_cr)
            && let Some(after) = rest.strip_prefix(b"\n")
        {
            rest = after;
        }
        while let Some(cr) = rest.iter().position(|&b| b == b'\r') {
            self.hasher.update(&rest[..cr]);
            self.hasher.update(b"\n");
            rest = &rest[cr + 1..];
            if rest.is_empty() {
                self.after_cr = true;
            } else if let Some(after) = rest.strip_prefix(b"\n") {
                rest = after;
            }
        }
        self.hasher.update(rest);
    }

    /// The checksum of the text so far.
    pub(crate) fn finish(&self) -> String {
        format!("blake3:{}", self.hasher.finalize().to_hex())
    }
}

/// Whether a text given in parts has a line that is the no-transaction directive (as
/// [`SqlText::new`] reads it), keeping no more of a line than the directive could be.
#[derive(Default)]
struct Directive {
    /// The line so far, when it may still be the directive.
    line: String,
    /// The line so far is too long to be the directive.
    too_long: bool,
    found: bool,
}

impl Directive {
    fn update(&mut self, part: &str) {
        let mut lines = part.split('\n').peekable();
        while let Some(piece) = lines.next() {
            if !self.too_long {
                self.line.push_str(piece);
                // Only whitespace may stand around the directive: a line whose text
                // without it is longer cannot be one.
                self.too_long = self.line.trim().len() > NO_TRANSACTION_DIRECTIVE.len();
            }
            if lines.peek().is_some() {
                self.end_line();
            }
        }
    }

    fn end_line(&mut self) {
        if !self.too_long
            && self
                .line
                .trim()
                .eq_ignore_ascii_case(NO_TRANSACTION_DIRECTIVE)
        {
            self.found = true;
        }
        self.line.clear();
        self.too_long = false;
    }

    fn finish(mut self) -> bool {
        self.end_line();
        self.found
    }
}

/// What reading a file through tells.
struct Scan {
    checksum: String,
    no_transaction: bool,
}

/// Reads the file at `path` a block at a time, its text given to `each` (the UTF-8 byte
/// order mark at its start left out), which says how many bytes to read next (at least
/// [`BLOCK`]). `None` when the file is not UTF-8, holds a NUL or is larger than pum reads:
/// the caller reads it whole, which names the place.
///
/// # Errors
/// [`Error::Io`]; `each`'s.
fn through(path: &Path, each: &mut dyn FnMut(&str) -> Result<usize>) -> Result<Option<Scan>> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let (mut checksum, mut directive) = (Checksum::default(), Directive::default());
    // The bytes of a character a block cut in two, then the next block.
    let mut bytes: Vec<u8> = Vec::new();
    let (mut wanted, mut total, mut first) = (BLOCK, 0u64, true);
    loop {
        let kept = bytes.len();
        bytes.resize(kept + wanted, 0);
        let read = file
            .read(&mut bytes[kept..])
            .map_err(|e| Error::io(path, e))?;
        bytes.truncate(kept + read);
        total += read as u64;
        if read == 0 || total > crate::files::SQL_FILE {
            break;
        }
        let mut start = 0;
        if std::mem::take(&mut first) && bytes.starts_with(super::BOM) {
            start = super::BOM.len();
        }
        let (text, rest) = match std::str::from_utf8(&bytes[start..]) {
            Ok(text) => (text, bytes.len()),
            Err(e) if e.error_len().is_none() => {
                let valid = start + e.valid_up_to();
                // A character cut at the end of the block: its bytes wait for the rest.
                (
                    std::str::from_utf8(&bytes[start..valid]).unwrap_or(""),
                    valid,
                )
            }
            Err(_) => return Ok(None),
        };
        if text.contains('\0') {
            return Ok(None);
        }
        checksum.update(text);
        directive.update(text);
        wanted = each(text)?.max(BLOCK);
        bytes.drain(..rest);
    }
    if !bytes.is_empty() || total > crate::files::SQL_FILE {
        return Ok(None);
    }
    Ok(Some(Scan {
        checksum: checksum.finish(),
        no_transaction: directive.finish(),
    }))
}

/// Reads the file at `path` for a run: a large file that runs in a transaction is read
/// through and not held ([`SqlText::held`] false), any other as [`SqlText::read`] does.
///
/// # Errors
/// As [`SqlText::read`].
pub(crate) fn read_for_run(path: &Path) -> Result<SqlText> {
    let large = std::fs::metadata(path)
        .is_ok_and(|m| m.is_file() && m.len() > HELD_UP_TO && m.len() <= crate::files::SQL_FILE);
    if large
        && let Some(scan) = through(path, &mut |_| Ok(BLOCK))?
        && !scan.no_transaction
    {
        return Ok(SqlText {
            text: String::new(),
            checksum: scan.checksum,
            no_transaction: false,
            held: false,
        });
    }
    SqlText::read(path)
}

/// Calls `each` with the statements of the file at `path`, read as they come; `checksum`
/// is the one the run read first.
///
/// # Errors
/// [`Error::Changelog`] when the file changed since (before the last statement is given),
/// `unterminated` of an unterminated construct, [`Error::Io`]; `each`'s.
pub(crate) fn each_statement(
    path: &Path,
    checksum: &str,
    each: &mut dyn FnMut(StatementRef) -> Result<()>,
    unterminated: impl FnOnce(SplitError) -> Error,
) -> Result<()> {
    let mut feed = StatementFeed::default();
    let scan = through(path, &mut |text| {
        feed.push(text, each)?;
        Ok(feed.pending_len())
    })?;
    if scan.is_none_or(|scan| scan.checksum != checksum) {
        return Err(Error::Changelog {
            path: crate::text::path(path),
            message: "changed while pum ran (its checksum is not the one read at the start): \
                      nothing was committed; run pum again"
                .into(),
        });
    }
    feed.finish(each, unterminated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(e: SplitError) -> Error {
        Error::Changelog {
            path: format!("{}:{}", e.line, e.column),
            message: e.message,
        }
    }

    #[test]
    fn a_checksum_in_parts_is_the_checksum_of_the_whole() {
        let text = "a\r\nb\rc\r\r\nd\n\re";
        for cut in 0..=text.len() {
            let mut parts = Checksum::default();
            parts.update(&text[..cut]);
            parts.update(&text[cut..]);
            assert_eq!(parts.finish(), super::super::checksum(text), "cut at {cut}");
        }
    }

    #[test]
    fn the_directive_is_found_across_parts_and_only_alone_on_its_line() {
        let text = "SELECT 1;\n  -- pum:no-transaction \r\nSELECT 2;";
        for cut in 0..=text.len() {
            let mut directive = Directive::default();
            directive.update(&text[..cut]);
            directive.update(&text[cut..]);
            assert!(directive.finish(), "cut at {cut}");
        }
        let mut directive = Directive::default();
        directive.update("-- pum:no-transaction here\n-- pum:no-");
        directive.update("transaction;");
        assert!(!directive.finish());
    }

    #[test]
    fn a_large_file_is_not_held_and_its_statements_come_as_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.sql");
        let mut text = String::from("\u{feff}CREATE TABLE t (x text);\r\n");
        let row = format!("INSERT INTO t VALUES ('é{}');\r\n", "x".repeat(200));
        while text.len() as u64 <= HELD_UP_TO {
            text.push_str(&row);
        }
        text.push_str("SELECT 'last'");
        std::fs::write(&path, &text).unwrap();
        let read = read_for_run(&path).unwrap();
        let held = SqlText::read(&path).unwrap();
        assert!(!read.held && read.text.is_empty() && held.held);
        assert_eq!(read.checksum, held.checksum);
        let mut streamed = Vec::new();
        each_statement(
            &path,
            &read.checksum,
            &mut |s| {
                streamed.push(s.to_statement());
                Ok(())
            },
            located,
        )
        .unwrap();
        assert_eq!(streamed, crate::sql::split::split(&held.text).unwrap());
        let err = each_statement(&path, "blake3:other", &mut |_| Ok(()), located)
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with(
                "changed while pum ran (its checksum is not the one read at the start): \
                 nothing was committed; run pum again"
            ),
            "{err}"
        );
    }
}
