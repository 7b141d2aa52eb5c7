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

use std::io::Read;
use std::ops::ControlFlow;

use crate::sql::split::is_word_byte;

/// The meta-commands pg_dump writes in plain dumps.
const ALLOWED: [&str; 2] = ["restrict", "unrestrict"];

/// The first line of a pg_dump plain dump, and the line that ends a complete one.
const HEADER: &str = "-- PostgreSQL database dump";
const FOOTER: &str = "-- PostgreSQL database dump complete";

/// How much of a plain dump is in memory at once while it is checked and restored.
pub(crate) const CHUNK: usize = 64 * 1024;

/// The longest meta-command name and dollar-quote tag kept: longer ones are no name
/// pg_dump writes, and no tag anyone writes.
const NAME_CAP: usize = 64;
const TAG_CAP: usize = 1024;

/// How many bytes of each line are kept to recognise pg_dump's header and footer.
const LINE_CAP: usize = 64;

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

/// Where the scanner is in the text.
#[derive(Debug, Default)]
enum State {
    /// SQL text, outside comments and quotes.
    #[default]
    Sql,
    /// After a `-` that may start a `--` comment.
    Dash,
    /// After a `/` that may start a `/*` comment.
    Slash,
    /// In a `--` comment, to the end of the line.
    LineComment,
    /// In a (nested) `/* */` comment; `pending` is an unpaired `/` or `*` just read.
    Block { depth: u32, pending: Option<u8> },
    /// In a quoted string or identifier; `escaped`: after a backslash of an E-string;
    /// `closing`: after a quote that ends it unless another one follows.
    Quote {
        quote: u8,
        escapes: bool,
        escaped: bool,
        closing: bool,
    },
    /// After a `$` that may open a dollar quote: the tag so far, `$` included.
    DollarOpen { tag: Vec<u8> },
    /// In a dollar-quoted string: its tag, and how much of it was just read.
    Dollar { tag: Vec<u8>, matched: usize },
    /// After a backslash: the meta-command's name so far, and its line.
    Meta { name: Vec<u8>, line: usize },
    /// The rest of the line of an allowed meta-command.
    MetaRest,
    /// The rest of the line of a `COPY … FROM stdin` statement.
    CopyLine,
    /// COPY data lines, to the `\.` line; `at`: where in the line (0 start, 1 after
    /// `\`, 2 after `\.` and only `\r` since, 3 elsewhere).
    CopyData { at: u8 },
}

/// The words of the current statement, as far as telling `COPY … FROM stdin` needs.
#[derive(Debug, Default)]
struct Words {
    /// The current word, lowercased, while it is short and plain.
    word: [u8; 8],
    len: usize,
    /// The current word is longer than `word`, or holds quoted text: no keyword.
    plain: bool,
    started: bool,
    count: usize,
    copy: bool,
    after_from: bool,
    from_stdin: bool,
}

impl Words {
    fn push(&mut self, b: u8) {
        if !self.started {
            self.started = true;
            self.plain = true;
            self.len = 0;
        }
        if self.len < self.word.len() {
            self.word[self.len] = b.to_ascii_lowercase();
            self.len += 1;
        } else {
            self.plain = false;
        }
    }

    /// Quoted text joins the current word (as in `"t"` or `E'x'`): it is no keyword.
    fn taint(&mut self) {
        self.push(b'"');
        self.plain = false;
    }

    fn end(&mut self) {
        if !self.started {
            return;
        }
        self.started = false;
        let word: &[u8] = if self.plain {
            &self.word[..self.len]
        } else {
            b""
        };
        if self.count == 0 {
            self.copy = word == b"copy";
        }
        if self.after_from && word == b"stdin" {
            self.from_stdin = true;
        }
        self.after_from = word == b"from";
        self.count += 1;
    }

    /// Ends the statement: whether it was `COPY … FROM stdin`.
    fn end_statement(&mut self) -> bool {
        self.end();
        let copies = self.copy && self.from_stdin;
        *self = Words::default();
        copies
    }
}

/// The check of a plain dump, fed its bytes in pieces of any size.
#[derive(Debug)]
pub(crate) struct Scanner {
    state: State,
    words: Words,
    /// The line being read (1-based).
    line: usize,
    /// The last two bytes read, whatever the state (`E'…'` and `$` depend on them).
    previous: [Option<u8>; 2],
    /// The first bytes of the current line, and whether more than blanks followed them.
    line_start: Vec<u8>,
    line_long: bool,
    lines_done: usize,
    header: bool,
    footer: bool,
    /// An incomplete UTF-8 sequence at the end of the last piece, and bytes read before.
    utf8_carry: Vec<u8>,
    offset: u64,
}

impl Scanner {
    pub(crate) fn new() -> Scanner {
        Scanner {
            state: State::Sql,
            words: Words::default(),
            line: 1,
            previous: [None, None],
            line_start: Vec::with_capacity(LINE_CAP),
            line_long: false,
            lines_done: 0,
            header: false,
            footer: false,
            utf8_carry: Vec::new(),
            offset: 0,
        }
    }

    /// Reads `piece`, the next bytes of the text.
    ///
    /// # Errors
    /// Why the text may not be handed to psql; the scanner is then of no further use.
    pub(crate) fn feed(&mut self, piece: &[u8]) -> Result<(), String> {
        self.validate_utf8(piece)?;
        self.offset += piece.len() as u64;
        let mut i = 0;
        while i < piece.len() {
            // Within a long line that only its end ends (a comment, COPY data), the
            // bytes up to the end of the line change nothing: skipped in one search.
            if self.line_long
                && matches!(
                    self.state,
                    State::LineComment
                        | State::MetaRest
                        | State::CopyLine
                        | State::CopyData { at: 3 }
                )
            {
                let end = piece[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(piece.len(), |n| i + n);
                if end > i {
                    self.note_skipped(&piece[i..end]);
                    i = end;
                    continue;
                }
            }
            let b = piece[i];
            self.track_line(b);
            self.step(b)?;
            if b == b'\n' {
                self.line += 1;
            }
            self.previous = [self.previous[1], Some(b)];
            i += 1;
        }
        Ok(())
    }

    /// The last two bytes read, after a stretch skipped unread.
    fn note_skipped(&mut self, stretch: &[u8]) {
        match stretch {
            [] => {}
            [b] => self.previous = [self.previous[1], Some(*b)],
            [.., a, b] => self.previous = [Some(*a), Some(*b)],
        }
    }

    /// The text has ended.
    ///
    /// # Errors
    /// Why the text may not be handed to psql.
    pub(crate) fn finish(mut self) -> Result<(), String> {
        if !self.utf8_carry.is_empty() {
            return Err(format!(
                "not UTF-8 text (byte {})",
                self.offset - self.utf8_carry.len() as u64 + 1
            ));
        }
        if !self.line_start.is_empty() || self.line_long {
            self.end_line();
        }
        if self.header && !self.footer {
            return Err(format!(
                "an incomplete dump: it starts as pg_dump output but has no \"{FOOTER}\" line \
                 (truncated?)"
            ));
        }
        match std::mem::take(&mut self.state) {
            State::Meta { name, line } => meta_command(&name, line),
            State::CopyLine | State::CopyData { at: 0 | 1 | 3 } => {
                Err("COPY data without its end marker (\\.): an incomplete dump".into())
            }
            _ => Ok(()),
        }
    }

    fn validate_utf8(&mut self, piece: &[u8]) -> Result<(), String> {
        let invalid = |at: u64| format!("not UTF-8 text (byte {})", at + 1);
        let mut rest = piece;
        if !self.utf8_carry.is_empty() {
            let start = self.offset - self.utf8_carry.len() as u64;
            while let Some((&b, more)) = rest.split_first() {
                self.utf8_carry.push(b);
                rest = more;
                match std::str::from_utf8(&self.utf8_carry) {
                    Ok(_) => break,
                    Err(e) if e.error_len().is_some() => return Err(invalid(start)),
                    Err(_) => {}
                }
            }
            if std::str::from_utf8(&self.utf8_carry).is_err() {
                // Still incomplete: the piece was too short to finish it.
                return Ok(());
            }
            self.utf8_carry.clear();
        }
        if let Err(e) = std::str::from_utf8(rest) {
            let at = e.valid_up_to();
            if e.error_len().is_some() {
                let before = self.offset + (piece.len() - rest.len()) as u64;
                return Err(invalid(before + at as u64));
            }
            self.utf8_carry.extend_from_slice(&rest[at..]);
        }
        Ok(())
    }

    /// Keeps the first bytes of each line, to recognise pg_dump's header and footer.
    fn track_line(&mut self, b: u8) {
        if b == b'\n' {
            self.end_line();
        } else if self.line_start.len() < LINE_CAP {
            self.line_start.push(b);
        } else if !b.is_ascii_whitespace() {
            self.line_long = true;
        }
    }

    fn end_line(&mut self) {
        if !self.line_long {
            let line = self.line_start.trim_ascii_end();
            if self.lines_done < 5 && line == HEADER.as_bytes() {
                self.header = true;
            }
            if line == FOOTER.as_bytes() {
                self.footer = true;
            }
        }
        self.lines_done += 1;
        self.line_start.clear();
        self.line_long = false;
    }

    fn step(&mut self, b: u8) -> Result<(), String> {
        match &mut self.state {
            State::Sql => self.sql(b)?,
            State::Dash => {
                if b == b'-' {
                    self.words.end();
                    self.state = State::LineComment;
                } else {
                    self.words.push(b'-');
                    self.state = State::Sql;
                    self.sql(b)?;
                }
            }
            State::Slash => {
                if b == b'*' {
                    self.words.end();
                    self.state = State::Block {
                        depth: 1,
                        pending: None,
                    };
                } else {
                    self.words.push(b'/');
                    self.state = State::Sql;
                    self.sql(b)?;
                }
            }
            State::LineComment => {
                if b == b'\n' {
                    self.state = State::Sql;
                }
            }
            State::Block { depth, pending } => match (*pending, b) {
                (Some(b'/'), b'*') => {
                    *depth += 1;
                    *pending = None;
                }
                (Some(b'*'), b'/') => {
                    *depth -= 1;
                    *pending = None;
                    if *depth == 0 {
                        self.state = State::Sql;
                    }
                }
                _ => *pending = matches!(b, b'/' | b'*').then_some(b),
            },
            State::Quote {
                quote,
                escapes,
                escaped,
                closing,
            } => {
                if *closing {
                    if b == *quote {
                        *closing = false;
                    } else {
                        self.state = State::Sql;
                        self.sql(b)?;
                    }
                } else if *escaped {
                    *escaped = false;
                } else if b == b'\\' && *escapes {
                    *escaped = true;
                } else if b == *quote {
                    *closing = true;
                }
            }
            State::DollarOpen { tag } => {
                let first = tag.len() == 1;
                if b == b'$' {
                    tag.push(b);
                    let tag = std::mem::take(tag);
                    self.words.taint();
                    self.state = State::Dollar { tag, matched: 0 };
                } else if (b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80)
                    && !(first && b.is_ascii_digit())
                {
                    if tag.len() >= TAG_CAP {
                        return Err(format!(
                            "line {}: a dollar-quote tag longer than {TAG_CAP} bytes",
                            self.line
                        ));
                    }
                    tag.push(b);
                    self.words.push(b);
                } else {
                    self.state = State::Sql;
                    self.sql(b)?;
                }
            }
            State::Dollar { tag, matched } => {
                if b == tag[*matched] {
                    *matched += 1;
                    if *matched == tag.len() {
                        self.state = State::Sql;
                    }
                } else {
                    *matched = usize::from(b == b'$');
                }
            }
            State::Meta { name, line } => {
                if b.is_ascii_whitespace() {
                    meta_command(name, *line)?;
                    self.words = Words::default();
                    self.state = if b == b'\n' {
                        State::Sql
                    } else {
                        State::MetaRest
                    };
                } else if name.len() >= NAME_CAP {
                    return meta_command(name, *line);
                } else {
                    name.push(b);
                }
            }
            State::MetaRest => {
                if b == b'\n' {
                    self.state = State::Sql;
                }
            }
            State::CopyLine => {
                if b == b'\n' {
                    self.state = State::CopyData { at: 0 };
                }
            }
            State::CopyData { at } => {
                *at = match (b, *at) {
                    (b'\n', 2) => {
                        self.state = State::Sql;
                        return Ok(());
                    }
                    (b'\n', 1 | 4) => return Err(copy_escape(b, self.line)),
                    (b'\n', _) => 0,
                    (b'\\', 0) => 1,
                    (b'.', 1) | (b'\r', 2) => 2,
                    (b'\\', 3) => 4,
                    // pg_dump's COPY data escapes only these; anything else after a
                    // backslash is a psql meta-command should the COPY fail (`-x` goes on
                    // past that failure, and psql reads the data as commands).
                    (escape, 1 | 4) if COPY_ESCAPES.contains(&escape) => 3,
                    (other, 1 | 4) => return Err(copy_escape(other, self.line)),
                    _ => 3,
                };
            }
        }
        Ok(())
    }

    /// A byte of SQL text.
    fn sql(&mut self, b: u8) -> Result<(), String> {
        let [before, last] = self.previous;
        match b {
            b'-' => self.state = State::Dash,
            b'/' => self.state = State::Slash,
            b'\'' | b'"' => {
                let escapes = b == b'\''
                    && matches!(last, Some(b'E' | b'e'))
                    && !before.is_some_and(is_word_byte);
                self.words.taint();
                self.state = State::Quote {
                    quote: b,
                    escapes,
                    escaped: false,
                    closing: false,
                };
            }
            b'$' if !last.is_some_and(is_word_byte) => {
                self.words.push(b);
                self.state = State::DollarOpen { tag: vec![b'$'] };
            }
            b';' => {
                if self.words.end_statement() {
                    self.state = State::CopyLine;
                }
            }
            b'\\' => {
                self.words.end();
                self.state = State::Meta {
                    name: Vec::new(),
                    line: self.line,
                };
            }
            b'(' | b')' => self.words.end(),
            b if b.is_ascii_whitespace() => self.words.end(),
            b => self.words.push(b),
        }
        Ok(())
    }
}

/// What may follow a backslash in COPY data: the escapes COPY writes (`\\`, `\N`,
/// `\b`, `\f`, `\n`, `\r`, `\t`, `\v`) and those COPY reads (octal digits, `\x`), none of
/// which is a psql meta-command that reads or writes files or runs programs.
const COPY_ESCAPES: &[u8] = b"\\Nbfnrtvx01234567";

/// A backslash in COPY data followed by what pg_dump never writes there.
fn copy_escape(b: u8, line: usize) -> String {
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
fn meta_command(name: &[u8], line: usize) -> Result<(), String> {
    let name = String::from_utf8_lossy(name);
    if ALLOWED.contains(&name.as_ref()) {
        return Ok(());
    }
    Err(format!(
        "line {line}: the psql meta-command \\{name} is not one pg_dump writes; pum restores \
         plain files only without them"
    ))
}
#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc123\n\
        SET standard_conforming_strings = on;\n\
        CREATE TABLE public.t (id integer, note text);\n\
        --\n-- Data for Name: t; Type: TABLE DATA\n--\n\n\
        COPY public.t (id, note) FROM stdin;\n1\t\\\\! not a command\n2\t\\N\n\\.\n\n\
        CREATE FUNCTION public.f() RETURNS text LANGUAGE sql AS $$ SELECT '\\! in a body' $$;\n\
        COMMENT ON TABLE public.t IS 'back\\slash';\n\
        --\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc123\n";

    #[test]
    fn what_pg_dump_writes_passes() {
        assert_eq!(check(DUMP), Ok(()));
        assert_eq!(check("SELECT 1;\n"), Ok(()), "not a dump: no marker needed");
    }

    #[test]
    fn shell_and_other_meta_commands_are_refused_with_their_line() {
        let hostile = DUMP.replace("CREATE TABLE", "\\! touch /tmp/owned\nCREATE TABLE");
        assert_eq!(
            check(&hostile).unwrap_err(),
            "line 7: the psql meta-command \\! is not one pg_dump writes; pum restores plain \
             files only without them"
        );
        assert!(check("SELECT 1; \\! id\n").is_err(), "mid-line too");
        assert!(check("SELECT 1 \\g\n").is_err());
        assert!(check("\\connect other\n").is_err());
        assert!(check("\\i /etc/passwd\n").is_err());
    }

    #[test]
    fn a_truncated_dump_is_refused() {
        let cut = &DUMP[..DUMP.find("CREATE FUNCTION").unwrap()];
        assert!(
            check(cut).unwrap_err().starts_with("an incomplete dump"),
            "{cut}"
        );
        let cut = &DUMP[..DUMP.find("2\t").unwrap()];
        assert!(check(&format!("{cut}\n-- PostgreSQL database dump complete\n")).is_err());
    }

    /// `text` fed in pieces of the sizes `sizes` gives, cycled.
    fn check_in_pieces(text: &[u8], sizes: &[usize]) -> Result<(), String> {
        let mut scanner = Scanner::new();
        let mut rest = text;
        let mut sizes = sizes.iter().cycle();
        while !rest.is_empty() {
            let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
            scanner.feed(&rest[..n])?;
            rest = &rest[n..];
        }
        scanner.finish()
    }

    #[test]
    fn pieces_of_any_size_give_the_same_answer() {
        let hostile = DUMP.replace("CREATE TABLE", "\\! touch /tmp/owned\nCREATE TABLE");
        let cut = &DUMP[..DUMP.find("CREATE FUNCTION").unwrap()];
        for text in [DUMP, hostile.as_str(), cut, "SELECT E'\\'' ; \\! id\n"] {
            let whole = check(text);
            for size in 1..=9 {
                assert_eq!(
                    check_in_pieces(text.as_bytes(), &[size]),
                    whole,
                    "{size}: {text}"
                );
            }
        }
    }

    #[test]
    fn lines_longer_than_a_chunk_are_read_through() {
        let long = "x".repeat(3 * CHUNK);
        let text = DUMP.replace("1\t\\\\! not", &format!("1\t{long} \\! not"));
        assert!(text.len() > 3 * CHUNK);
        assert_eq!(check_in_pieces(text.as_bytes(), &[CHUNK]), Ok(()));
        let comment = format!("-- {long}\n\\! id\n");
        assert_eq!(
            check_in_pieces(comment.as_bytes(), &[CHUNK, 7]).unwrap_err(),
            "line 2: the psql meta-command \\! is not one pg_dump writes; pum restores plain \
             files only without them"
        );
        let quoted = format!("SELECT '{long}\n\\! not a command';\n\\! id\n");
        assert!(
            check_in_pieces(quoted.as_bytes(), &[CHUNK - 1])
                .unwrap_err()
                .starts_with("line 3:")
        );
    }

    #[test]
    fn what_the_scanner_keeps_is_bounded() {
        let tag = format!("${}$", "t".repeat(TAG_CAP + 1));
        assert!(check(&format!("SELECT {tag} x {tag};")).is_err());
        let name = "x".repeat(10 * NAME_CAP);
        let err = check(&format!("\\{name}\n")).unwrap_err();
        assert!(err.len() < 200, "{err}");
    }

    #[test]
    fn text_must_be_utf8_also_across_pieces() {
        let text = "SELECT 'é';\n".as_bytes();
        assert_eq!(check_in_pieces(text, &[9, 1]), Ok(()));
        let mut bad = text.to_vec();
        bad[9] = 0xff;
        assert_eq!(
            check_in_pieces(&bad, &[3]).unwrap_err(),
            "not UTF-8 text (byte 9)"
        );
        assert_eq!(
            check_in_pieces(&text[..9], &[4]).unwrap_err(),
            "not UTF-8 text (byte 9)",
            "cut inside a character"
        );
    }

    #[test]
    fn copy_data_holds_only_the_escapes_pg_dump_writes() {
        // What COPY writes: accepted.
        let written = "COPY t FROM stdin;\n1\t\\N\ta\\tb\\\\c\\n\\r\\b\\f\\v\\011\n\\.\n";
        assert_eq!(check(written), Ok(()));
        // A line psql would run as a meta-command if the COPY failed (restore -x goes on
        // past that): refused, at the start of a line and within one.
        for data in [
            "\\! touch /tmp/x",
            "1\tx \\! touch /tmp/x",
            "\\o /tmp/x",
            "1\\",
        ] {
            let err = check(&format!("COPY t FROM stdin;\n{data}\n\\.\n")).unwrap_err();
            assert!(err.starts_with("line 2: COPY data holds "), "{data}: {err}");
        }
    }

    #[test]
    fn copy_is_told_by_its_words() {
        let data = "\\\\! data, not a command\n\\.\n";
        assert_eq!(check(&format!("COPY t FROM stdin;\n{data}")), Ok(()));
        assert_eq!(check(&format!("copy t (a) from/**/STDIN;\n{data}")), Ok(()));
        assert_eq!(
            check(&format!(
                "/* x */ COPY \"t\" FROM stdin WITH (FORMAT text);\n{data}"
            )),
            Ok(())
        );
        for not_copy in [
            "COPY t FROM '/tmp/stdin';",
            "COPY t TO stdout;",
            "SELECT 'COPY t FROM stdin';",
            "COPY t /* FROM stdin */ FROM '/x';",
            "SELECT copy FROM stdin;",
        ] {
            assert!(check(&format!("{not_copy}\n{data}")).is_err(), "{not_copy}");
        }
    }

    #[test]
    fn the_sink_never_gets_a_byte_of_a_refused_chunk() {
        let mut text = DUMP.as_bytes().to_vec();
        let filler = format!("-- {}\n", "y".repeat(CHUNK));
        text.splice(0..0, filler.bytes());
        let at = text.len();
        text.extend_from_slice(b"\\! touch /tmp/owned\n");
        let mut received = 0usize;
        let stopped = stream(&mut text.as_slice(), |chunk| {
            received += chunk.len();
            Ok(ControlFlow::Continue(()))
        });
        assert!(matches!(stopped, Err(Stopped::Refused(_))), "{stopped:?}");
        assert!(received < at, "{received} of {at}");
        let whole = stream(&mut DUMP.as_bytes(), |_| Ok(ControlFlow::Continue(())));
        assert_eq!(whole.unwrap().bytes, DUMP.len() as u64);
    }

    proptest::proptest! {
        #[test]
        fn any_text_in_any_pieces_gives_the_answer_of_the_whole(
            tokens in proptest::collection::vec(proptest::sample::select(vec![
                "COPY t FROM stdin;", "copy", "from", "stdin", "\n", "\\.", "\\!", "\\restrict x",
                "'", "\"", "E'", "\\", "$$", "$a$", "$1", "--", "/*", "*/", ";", " ", "x", "é",
                "\r", "-- PostgreSQL database dump\n", "-- PostgreSQL database dump complete\n",
                "a line of COPY data or a comment longer than the first bytes kept of each line",
            ]), 0..60),
            sizes in proptest::collection::vec(1usize..20, 1..8),
        ) {
            let text: String = tokens.concat();
            proptest::prop_assert_eq!(check_in_pieces(text.as_bytes(), &sizes), check(&text));
        }
    }
}
