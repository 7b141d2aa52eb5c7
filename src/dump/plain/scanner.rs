//! The [`Scanner`]: psql's reading of a plain dump as a state machine fed in pieces of
//! any size, keeping a few bytes of state (never the file).

use super::{COPY_ESCAPES, FOOTER, HEADER, copy_escape, meta_command};
use crate::sql::split::is_word_byte;

/// The longest meta-command name and dollar-quote tag kept: longer ones are no name
/// pg_dump writes, and no tag anyone writes.
pub(super) const NAME_CAP: usize = 64;
pub(super) const TAG_CAP: usize = 1024;

/// How many bytes of each line are kept to recognise pg_dump's header and footer.
const LINE_CAP: usize = 64;

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
        match self.state {
            State::Sql => self.sql(b),
            State::Dash | State::Slash | State::LineComment | State::Block { .. } => {
                self.comment(b)
            }
            State::Quote { .. } | State::DollarOpen { .. } | State::Dollar { .. } => self.quoted(b),
            State::Meta { .. } | State::MetaRest | State::CopyLine | State::CopyData { .. } => {
                self.psql_line(b)
            }
        }
    }

    /// A byte where a comment may start, or in one.
    fn comment(&mut self, b: u8) -> Result<(), String> {
        match &mut self.state {
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
            State::LineComment if b == b'\n' => self.state = State::Sql,
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
            _ => {}
        }
        Ok(())
    }

    /// A byte in a quoted string or identifier, or a dollar quote (or what may open one).
    fn quoted(&mut self, b: u8) -> Result<(), String> {
        match &mut self.state {
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
            _ => {}
        }
        Ok(())
    }

    /// A byte of what psql reads itself: a meta-command and its line, COPY data.
    fn psql_line(&mut self, b: u8) -> Result<(), String> {
        match &mut self.state {
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
            State::MetaRest if b == b'\n' => self.state = State::Sql,
            State::CopyLine if b == b'\n' => self.state = State::CopyData { at: 0 },
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
            _ => {}
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
