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
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sqls(text: &str) -> Vec<String> {
        split(text).unwrap().into_iter().map(|s| s.sql).collect()
    }

    #[test]
    fn copy_from_the_client_and_prepared_transactions_are_refused() {
        for statement in [
            "COPY t FROM stdin;",
            "copy t (a, b) from STDIN with (format csv);",
            "COPY (SELECT 1) TO STDOUT;",
            "PREPARE TRANSACTION 'x';",
            "COMMIT PREPARED 'x';",
        ] {
            assert!(forbidden(statement).is_some(), "{statement}");
        }
        for statement in [
            "COPY t FROM '/srv/data.csv';",
            "PREPARE q AS SELECT 1;",
            "SELECT 'copy from stdin';",
        ] {
            assert_eq!(forbidden(statement), None, "{statement}");
        }
    }

    #[test]
    fn splits_on_semicolons_and_locates_statements() {
        let text = "-- header\nCREATE TABLE a (x int);\n\n  INSERT INTO a VALUES (1);\nSELECT 2";
        let statements = split(text).unwrap();
        assert_eq!(
            statements
                .iter()
                .map(|s| (s.sql.as_str(), s.line, s.column))
                .collect::<Vec<_>>(),
            vec![
                ("CREATE TABLE a (x int);", 2, 1),
                ("INSERT INTO a VALUES (1);", 4, 3),
                ("SELECT 2", 5, 1),
            ]
        );
    }

    #[test]
    fn statements_come_one_at_a_time_up_to_an_unterminated_quote() {
        let text = "SELECT 1;\n  SELECT 2;\nSELECT 'open;\nSELECT 3;";
        let mut statements = statements(text);
        let first = statements.next().unwrap().unwrap();
        assert_eq!((first.sql, first.line, first.column), ("SELECT 1;", 1, 1));
        let second = statements.next().unwrap().unwrap();
        assert_eq!(
            (second.sql, second.line, second.column),
            ("SELECT 2;", 2, 3)
        );
        let err = statements.next().unwrap().unwrap_err();
        assert_eq!((err.line, err.column), (3, 8));
        assert!(statements.next().is_none());
        assert_eq!(split(text).unwrap_err(), err);
    }

    #[test]
    fn semicolons_inside_quotes_and_comments_do_not_split() {
        let text = r#"SELECT 'a;b', E'c\';d', "e;f" FROM t; -- g;h
/* i; /* nested; */ j; */ SELECT $$k;l$$, $fn$ m; $$ ; $fn$;
SELECT $1;"#;
        assert_eq!(
            sqls(text),
            vec![
                r#"SELECT 'a;b', E'c\';d', "e;f" FROM t;"#.to_string(),
                // Comments before a statement are not part of it.
                "SELECT $$k;l$$, $fn$ m; $$ ; $fn$;".to_string(),
                "SELECT $1;".to_string(),
            ]
        );
    }

    #[test]
    fn standard_strings_do_not_treat_backslash_as_escape() {
        assert_eq!(
            sqls(r"SELECT 'a\'; SELECT 2;"),
            vec![r"SELECT 'a\';", "SELECT 2;"]
        );
        // "name'…" is an identifier followed by a string, not an E-string.
        assert_eq!(
            sqls(r"SELECT some'x\'; SELECT 2;"),
            vec![r"SELECT some'x\';", "SELECT 2;"]
        );
    }

    #[test]
    fn begin_atomic_bodies_stay_whole() {
        let text = "CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql\n\
                    BEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;\n\
                    SELECT f(1);";
        let got = sqls(text);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].ends_with("END;"), "{got:?}");
        assert_eq!(got[1], "SELECT f(1);");
        // A DO block with BEGIN … END in dollar quotes, and a plain BEGIN.
        assert_eq!(sqls("DO $$ BEGIN NULL; END $$; BEGIN; COMMIT;").len(), 3);
    }

    #[test]
    fn unterminated_constructs_are_located() {
        let err = split("SELECT 1;\nSELECT 'oops;\n").unwrap_err();
        assert_eq!(
            (err.line, err.column, err.message.as_str()),
            (2, 8, "unterminated quoted string")
        );
        let err = split("SELECT $body$ x").unwrap_err();
        assert_eq!(err.message, "unterminated dollar-quoted string $body$");
        let err = split("/* /* */").unwrap_err();
        assert_eq!(err.message, "unterminated /* comment");
        let err = split("SELECT \"x").unwrap_err();
        assert_eq!(err.message, "unterminated quoted identifier");
    }

    #[test]
    fn comment_only_pieces_are_not_statements() {
        assert!(sqls("-- nothing\n/* here */\n;\n").is_empty());
    }

    #[test]
    fn transaction_control_and_search_path_are_forbidden() {
        for sql in [
            "BEGIN;",
            "begin transaction;",
            "START TRANSACTION",
            "COMMIT",
            "end;",
            "ROLLBACK;",
            "-- c\n  Commit;",
        ] {
            assert!(
                forbidden(sql).unwrap().starts_with("transaction control"),
                "{sql}"
            );
        }
        let pg_dump = "SELECT pg_catalog.set_config( 'search_path', '', false);";
        assert!(forbidden(pg_dump).unwrap().contains("search_path"));
        for sql in [
            "CREATE TABLE begin_x (x int)",
            "DO $$ BEGIN NULL; END $$;",
            "SELECT set_config('work_mem', '1MB', true)",
        ] {
            assert_eq!(forbidden(sql), None, "{sql}");
        }
    }

    /// Text made of SQL-ish fragments, including every kind of quote.
    pub(in crate::sql) fn sqlish() -> impl Strategy<Value = String> {
        let fragment = prop_oneof![
            Just("SELECT 1".to_string()),
            Just(";".to_string()),
            Just(" ".to_string()),
            Just("\n".to_string()),
            Just("é".to_string()),
            Just("-- c;\n".to_string()),
            Just("/* a; /* b; */ */".to_string()),
            "'[a-z; ]{0,5}'".prop_map(|s| s),
            "\"[a-z; ]{0,5}\"".prop_map(|s| s),
            "\\$q\\$[a-z; ]{0,5}\\$q\\$".prop_map(|s| s),
            "E'[a-z; ]{0,3}\\\\'[a-z; ]{0,3}'".prop_map(|s| s),
            Just("CREATE FUNCTION f() BEGIN ATOMIC SELECT 1; END".to_string()),
        ];
        // Joined by spaces, as tokens are: 1E'x' would lex differently.
        prop::collection::vec(fragment, 0..20).prop_map(|v| v.join(" "))
    }

    proptest! {
        #[test]
        fn statements_are_located_as_line_column_locates_them(text in sqlish()) {
            if let Ok(statements) = split(&text) {
                for s in statements {
                    prop_assert_eq!((s.line, s.column), line_column(&text, s.offset));
                }
            }
        }

        #[test]
        fn statements_one_at_a_time_are_those_split_gives(text in sqlish()) {
            let one_by_one: Vec<Statement> =
                statements(&text).map(|s| s.unwrap().to_statement()).collect();
            prop_assert_eq!(one_by_one, split(&text).unwrap());
        }

        #[test]
        fn pieces_join_back_to_the_text(text in sqlish()) {
            let ranges = split_ranges(&text).unwrap();
            let joined: String = ranges.iter().map(|r| &text[r.clone()]).collect();
            prop_assert_eq!(joined, text.clone());
            for r in &ranges[..ranges.len().saturating_sub(1)] {
                prop_assert!(text[r.clone()].ends_with(';'));
            }
        }

        #[test]
        fn no_split_inside_quotes(inner in "[a-z; ]{0,12}", before in "[a-z ]{0,5}") {
            for quoted in [format!("'{inner}'"), format!("\"{inner}\""), format!("$t${inner}$t$")] {
                // A space before: "a$t$" would be one identifier, as in PostgreSQL.
                let text = format!("SELECT {before} {quoted}; SELECT 2;");
                let got = sqls(&text);
                prop_assert_eq!(got.len(), 2);
                prop_assert_eq!(&got[0], &format!("SELECT {before} {quoted};"));
            }
        }

        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = split(&text);
        }
    }
}
