//! Splitting SQL files into statements, and the checks pum makes on each statement.
//!
//! The splitter knows what PostgreSQL's own lexer knows about where a `;` does *not* end a
//! statement: inside `--` and (nested) `/* */` comments, `'…'` strings (with `''`),
//! `E'…'` strings (with backslash escapes), `"…"` identifiers, `$tag$…$tag$` dollar quotes,
//! and the `BEGIN ATOMIC … END` body of a SQL-standard function. The pieces it returns
//! cover the text exactly, so nothing is lost or reordered.

use std::ops::Range;

/// One statement of a file, located in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement's text, from its first significant character (comments before it
    /// left out) to its terminating `;` (or the end of the file).
    pub sql: String,
    /// Byte offset of the statement's first character in the file.
    pub offset: usize,
    /// Line (1-based) of the statement's first character.
    pub line: usize,
    /// Column (1-based, in characters) of the statement's first character.
    pub column: usize,
}

/// A place in a file where the text cannot be split (an unterminated quote or comment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    /// Line (1-based) where the unterminated construct starts.
    pub line: usize,
    /// Column (1-based).
    pub column: usize,
    /// What is unterminated.
    pub message: String,
}

/// Line and column (both 1-based, column in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The byte ranges of the pieces of `text`: each ends just after a terminating `;` (the
/// last one at the end of the text), and together they are exactly `text`.
///
/// # Errors
/// An unterminated string, identifier, comment or dollar quote.
pub fn split_ranges(text: &str) -> Result<Vec<Range<usize>>, SplitError> {
    Pieces::new(text).collect()
}

/// The pieces of a text one after the other, as [`split_ranges`] gives them all: a
/// piece is known as soon as its `;` is read, so a caller may work on it before the rest
/// of the text is read. After an error, nothing more.
pub(super) struct Pieces<'t> {
    text: &'t str,
    /// Where the next piece starts.
    start: usize,
    /// Whether an error ended the pieces.
    failed: bool,
}

impl<'t> Pieces<'t> {
    pub(super) fn new(text: &'t str) -> Pieces<'t> {
        Pieces {
            text,
            start: 0,
            failed: false,
        }
    }

    /// The end of the piece starting at `self.start`: just after its `;` (and `true`), or
    /// the end of the text (and `false`).
    fn end_of_piece(&self) -> Result<(usize, bool), SplitError> {
        let (text, bytes) = (self.text, self.text.as_bytes());
        let mut i = self.start;
        let mut words = WordTracker::default();
        while i < bytes.len() {
            let b = bytes[i];
            let next = bytes.get(i + 1).copied();
            match b {
                b'-' if next == Some(b'-') => {
                    i = text[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
                }
                b'/' if next == Some(b'*') => {
                    i = skip_block_comment(text, i)?;
                }
                b'\'' => {
                    let escapes = i > 0
                        && matches!(bytes[i - 1], b'E' | b'e')
                        && !(i > 1 && is_word_byte(bytes[i - 2]));
                    i = skip_quoted(text, i, b'\'', escapes)?;
                }
                b'"' => i = skip_quoted(text, i, b'"', false)?,
                b'$' if !(i > 0 && is_word_byte(bytes[i - 1])) => match dollar_tag(text, i) {
                    Some(tag) => i = skip_dollar_quoted(text, i, tag)?,
                    None => i += 1,
                },
                b';' if !words.in_atomic_body() => return Ok((i + 1, true)),
                b if is_word_start(b) => {
                    let end = i + bytes[i..].iter().take_while(|c| is_word_byte(**c)).count();
                    words.word(&text[i..end]);
                    i = end;
                }
                _ => i += 1,
            }
        }
        Ok((bytes.len(), false))
    }

    /// The next piece, and whether its `;` ended it (rather than the end of the text).
    pub(super) fn next_piece(&mut self) -> Option<Result<(Range<usize>, bool), SplitError>> {
        if self.failed || self.start >= self.text.len() {
            return None;
        }
        match self.end_of_piece() {
            Ok((end, terminated)) => {
                let piece = self.start..end;
                self.start = end;
                Some(Ok((piece, terminated)))
            }
            Err(err) => {
                self.failed = true;
                Some(Err(err))
            }
        }
    }
}

impl Iterator for Pieces<'_> {
    type Item = Result<Range<usize>, SplitError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_piece()?.map(|(piece, _)| piece))
    }
}

/// The statements of `text`, pieces holding only whitespace and comments left out.
///
/// # Errors
/// See [`split_ranges`].
pub fn split(text: &str) -> Result<Vec<Statement>, SplitError> {
    statements(text)
        .map(|s| s.map(|s| s.to_statement()))
        .collect()
}

/// One statement of a text, borrowed from it: what [`statements`] gives, one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementRef<'t> {
    /// The statement's text, as [`Statement::sql`].
    pub sql: &'t str,
    /// Byte offset of the statement's first character in the text.
    pub offset: usize,
    /// Line (1-based) of the statement's first character.
    pub line: usize,
    /// Column (1-based, in characters) of the statement's first character.
    pub column: usize,
}

impl StatementRef<'_> {
    /// The statement with a text of its own.
    pub fn to_statement(&self) -> Statement {
        Statement {
            sql: self.sql.to_string(),
            offset: self.offset,
            line: self.line,
            column: self.column,
        }
    }
}

/// The statements of `text` one after the other, as [`split`] gives them all, without
/// copying any: a text of a million statements is gone through holding one. An
/// unterminated construct is an error where the text reaches it, after the statements
/// before it, and ends the statements.
pub fn statements(text: &str) -> Statements<'_> {
    Statements {
        text,
        pieces: Pieces::new(text),
        lines: Lines::default(),
    }
}

/// The iterator of [`statements`].
pub struct Statements<'t> {
    text: &'t str,
    pieces: Pieces<'t>,
    /// Lines and columns are counted on from the last statement, never from the start of
    /// the text again: going through the text stays linear in its size.
    lines: Lines,
}

impl<'t> Iterator for Statements<'t> {
    type Item = Result<StatementRef<'t>, SplitError>;

    fn next(&mut self) -> Option<Self::Item> {
        let text = self.text;
        loop {
            let range = match self.pieces.next()? {
                Ok(range) => range,
                Err(err) => return Some(Err(err)),
            };
            if let Some(statement) = statement_in(text, range, &mut self.lines, 0) {
                return Some(Ok(statement));
            }
        }
    }
}

/// The statement of the piece `range` of `text`, unless it holds only whitespace,
/// comments and a `;`; `lines` counts up to it; `base` is the byte offset of `text` in
/// its file.
pub(super) fn statement_in<'t>(
    text: &'t str,
    range: Range<usize>,
    lines: &mut Lines,
    base: usize,
) -> Option<StatementRef<'t>> {
    let piece = &text[range.clone()];
    let lead = first_significant(piece)?;
    if piece[lead..].trim_end() == ";" {
        return None;
    }
    let offset = range.start + lead;
    let (line, column) = lines.at(text, offset);
    Some(StatementRef {
        sql: text[offset..range.end].trim_end(),
        offset: base + offset,
        line,
        column,
    })
}

/// Line and column of offsets asked for in increasing order, each counted from the last.
#[derive(Default)]
pub(super) struct Lines {
    /// The offset counted up to.
    offset: usize,
    /// Newlines before it.
    newlines: usize,
    /// Characters between the start of its line and it.
    column: usize,
}

impl Lines {
    /// As [`line_column`], for an `offset` at or after the previous one.
    pub(super) fn at(&mut self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.clamp(self.offset, text.len());
        let between = &text[self.offset..offset];
        match between.rfind('\n') {
            Some(last) => {
                self.newlines += between.bytes().filter(|&b| b == b'\n').count();
                self.column = between[last + 1..].chars().count();
            }
            None => self.column += between.chars().count(),
        }
        self.offset = offset;
        (self.newlines + 1, self.column + 1)
    }

    /// Forgets the text before the offset counted to: offsets count from there on.
    pub(super) fn drop_counted(&mut self) {
        self.offset = 0;
    }

    /// Line and column in the whole text of `line`:`column` of the text that starts at
    /// the offset counted to.
    pub(super) fn beyond_counted(&self, line: usize, column: usize) -> (usize, usize) {
        if line == 1 {
            (self.newlines + 1, self.column + column)
        } else {
            (self.newlines + line, column)
        }
    }
}

/// Byte offset of the first character of `piece` that is neither whitespace nor comment.
pub(crate) fn first_significant(piece: &str) -> Option<usize> {
    let bytes = piece.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b if b.is_ascii_whitespace() => i += 1,
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = piece[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(piece, i).ok()?;
            }
            _ => return Some(i),
        }
    }
    None
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

pub(crate) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

fn unterminated(text: &str, at: usize, what: &str) -> SplitError {
    let (line, column) = line_column(text, at);
    SplitError {
        line,
        column,
        message: format!("unterminated {what}"),
    }
}

/// A piece of SQL text that stands outside strings and block comments.
pub(crate) enum Token {
    /// A word (keyword or unquoted identifier).
    Word(Range<usize>),
    /// A `--` comment, from its dashes to the end of its line (the newline left out).
    LineComment(Range<usize>),
}

/// The words and `--` comments of `text`, in order, passing over `/* */` (nested),
/// `'…'`, `E'…'`, `"…"` and `$tag$…$tag$` as the splitter does. An unterminated
/// construct runs to the end of the text (the splitter refuses such a text; this only
/// reads).
pub(crate) fn tokens(text: &str, each: &mut dyn FnMut(Token)) {
    let bytes = text.as_bytes();
    let end = bytes.len();
    let mut i = 0;
    while i < end {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        i = match b {
            b'-' if next == Some(b'-') => {
                let stop = text[i..].find('\n').map_or(end, |n| i + n);
                each(Token::LineComment(i..stop));
                stop
            }
            b'/' if next == Some(b'*') => skip_block_comment(text, i).unwrap_or(end),
            b'\'' => {
                let escapes = i > 0
                    && matches!(bytes[i - 1], b'E' | b'e')
                    && !(i > 1 && is_word_byte(bytes[i - 2]));
                skip_quoted(text, i, b'\'', escapes).unwrap_or(end)
            }
            b'"' => skip_quoted(text, i, b'"', false).unwrap_or(end),
            b'$' if !(i > 0 && is_word_byte(bytes[i - 1])) => match dollar_tag(text, i) {
                Some(tag) => skip_dollar_quoted(text, i, tag).unwrap_or(end),
                None => i + 1,
            },
            b if is_word_start(b) => {
                let stop = i + bytes[i..].iter().take_while(|c| is_word_byte(**c)).count();
                each(Token::Word(i..stop));
                stop
            }
            _ => i + 1,
        };
    }
}

/// Skips a (possibly nested) `/* */` comment starting at `at`; returns the offset after it.
pub(crate) fn skip_block_comment(text: &str, at: usize) -> Result<usize, SplitError> {
    let bytes = text.as_bytes();
    let mut depth = 0;
    let mut i = at;
    while i < bytes.len() {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Ok(i);
            }
        } else {
            i += 1;
        }
    }
    Err(unterminated(text, at, "/* comment"))
}

/// Skips a quoted string or identifier starting at `at` (the quote); a doubled quote
/// stands for itself, and with `escapes` a backslash escapes the next character.
fn skip_quoted(text: &str, at: usize, quote: u8, escapes: bool) -> Result<usize, SplitError> {
    let bytes = text.as_bytes();
    let mut i = at + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if escapes => i += 2,
            c if c == quote => {
                if bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return Ok(i + 1);
                }
            }
            _ => i += 1,
        }
    }
    let what = if quote == b'"' {
        "quoted identifier"
    } else {
        "quoted string"
    };
    Err(unterminated(text, at, what))
}

/// The `$tag$` opening at `at`, if it is one (`$1` is a parameter, not a quote).
pub(crate) fn dollar_tag(text: &str, at: usize) -> Option<&str> {
    let rest = &text.as_bytes()[at + 1..];
    if rest.first().is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    let len = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b >= 0x80)
        .count();
    (rest.get(len) == Some(&b'$')).then(|| &text[at..at + len + 2])
}

fn skip_dollar_quoted(text: &str, at: usize, tag: &str) -> Result<usize, SplitError> {
    let body = at + tag.len();
    text[body..]
        .find(tag)
        .map(|n| body + n + tag.len())
        .ok_or_else(|| unterminated(text, at, &format!("dollar-quoted string {tag}")))
}

/// Follows the words of one statement to know when a `;` is inside the `BEGIN ATOMIC …
/// END` body of `CREATE [OR REPLACE] FUNCTION|PROCEDURE`, as psql does.
#[derive(Default)]
struct WordTracker {
    count: usize,
    creates_routine: bool,
    depth: usize,
}

impl WordTracker {
    fn word(&mut self, word: &str) {
        let upper = word.to_ascii_uppercase();
        match self.count {
            0 => self.creates_routine = upper == "CREATE",
            1..=3 if self.creates_routine => {
                let routine = upper == "FUNCTION" || upper == "PROCEDURE";
                let filler = upper == "OR" || upper == "REPLACE";
                if !routine && !filler {
                    self.creates_routine = false;
                } else if routine {
                    // Keep the flag and stop looking: the routine's name follows.
                    self.count = 4;
                }
            }
            _ if self.creates_routine => match upper.as_str() {
                "BEGIN" => self.depth += 1,
                "CASE" if self.depth > 0 => self.depth += 1,
                "END" if self.depth > 0 => self.depth -= 1,
                _ => {}
            },
            _ => {}
        }
        self.count += 1;
    }

    fn in_atomic_body(&self) -> bool {
        self.depth > 0
    }
}

/// Whether a statement opens or commits a transaction (`BEGIN`, `START TRANSACTION`,
/// `COMMIT`, `END`), which delta files of pum 0.x projects often hold.
pub fn is_begin_or_commit(statement: &str) -> bool {
    let first = first_word(statement).to_ascii_uppercase();
    let second = statement[first_significant(statement).unwrap_or(0)..]
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .nth(1)
        .map(str::to_ascii_uppercase);
    match first.as_str() {
        "BEGIN" | "START" => true,
        "COMMIT" | "END" => second.as_deref() != Some("PREPARED"),
        _ => false,
    }
}

/// Why a statement may not be in a changelog file, if it may not.
pub fn forbidden(statement: &str) -> Option<&'static str> {
    let first = first_word(statement).to_ascii_uppercase();
    let transaction_control = matches!(
        first.as_str(),
        "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT"
    );
    if transaction_control {
        return Some(
            "transaction control (BEGIN, COMMIT, ROLLBACK…) is not allowed in changelog \
             files: pum runs them in its own transaction (mark a file that must run outside \
             one with -- pum:no-transaction)",
        );
    }
    let words: Vec<String> = statement[first_significant(statement).unwrap_or(0)..]
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    let follows = |a: &str, b: &str| words.windows(2).any(|w| w[0] == a && w[1] == b);
    if first == "PREPARE" && words.get(1).is_some_and(|w| w == "TRANSACTION") {
        return Some(
            "PREPARE TRANSACTION is not allowed in changelog files: it would take the run's \
             transaction away from pum",
        );
    }
    if first == "COPY" && (follows("FROM", "STDIN") || follows("TO", "STDOUT")) {
        return Some(
            "COPY … FROM STDIN and TO STDOUT need a client that sends or reads the data, \
             which pum is not: write INSERT statements, or COPY from a file the server reads",
        );
    }
    let squeezed: String = statement
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if squeezed.contains("set_config('search_path'") {
        return Some(
            "changing search_path with set_config is not allowed in changelog files: it \
             would change it for every file that runs after this one",
        );
    }
    None
}

fn first_word(statement: &str) -> &str {
    let start = first_significant(statement).unwrap_or(statement.len());
    let rest = &statement[start..];
    let len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    &rest[..len]
}

#[cfg(test)]
pub(super) mod tests;
