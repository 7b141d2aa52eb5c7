//! Plain SQL dumps, which `psql` restores: what may be in one before pum hands it to psql.
//!
//! psql runs backslash meta-commands found anywhere in its input, `\!` (a shell command)
//! among them, so a plain file is read first, the way psql would read it (comments,
//! quotes, dollar quotes, `COPY … FROM stdin` data), and refused if it holds a meta-command
//! other than those pg_dump writes (`\restrict`, `\unrestrict`, and `\.` ending COPY data).
//! A file that starts as a pg_dump dump must end as one (`-- PostgreSQL database dump
//! complete`): a truncated dump is refused, not restored in part.

use crate::changelog::sql::{dollar_tag, first_significant, is_word_byte, skip_block_comment};

/// The meta-commands pg_dump writes in plain dumps.
const ALLOWED: [&str; 2] = ["restrict", "unrestrict"];

/// The first line of a pg_dump plain dump, and the line that ends a complete one.
const HEADER: &str = "-- PostgreSQL database dump";
const FOOTER: &str = "-- PostgreSQL database dump complete";

/// Why `text` (named `file`) may not be handed to psql, if it may not.
pub(crate) fn check(text: &str) -> Result<(), String> {
    let head: Vec<&str> = text.lines().take(5).collect();
    if head.iter().any(|l| l.trim_end() == HEADER) && !text.lines().any(|l| l.trim_end() == FOOTER)
    {
        return Err(format!(
            "an incomplete dump: it starts as pg_dump output but has no \"{FOOTER}\" line \
             (truncated?)"
        ));
    }
    scan(text)
}

/// Finds meta-commands outside comments, quotes and COPY data.
fn scan(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut statement_start = 0;
    while i < bytes.len() {
        let next = bytes.get(i + 1).copied();
        match bytes[i] {
            b'-' if next == Some(b'-') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
            }
            b'/' if next == Some(b'*') => i = skip_block_comment(text, i).unwrap_or(bytes.len()),
            b'\'' => {
                let escapes = i > 0
                    && matches!(bytes[i - 1], b'E' | b'e')
                    && !(i > 1 && is_word_byte(bytes[i - 2]));
                i = skip_quoted(bytes, i, b'\'', escapes);
            }
            b'"' => i = skip_quoted(bytes, i, b'"', false),
            b'$' if !(i > 0 && is_word_byte(bytes[i - 1])) => match dollar_tag(text, i) {
                Some(tag) => {
                    let body = i + tag.len();
                    i = text[body..]
                        .find(tag)
                        .map_or(bytes.len(), |n| body + n + tag.len());
                }
                None => i += 1,
            },
            b';' => {
                i += 1;
                if copies_from_stdin(&text[statement_start..i]) {
                    i = after_copy_data(text, i)?;
                }
                statement_start = i;
            }
            b'\\' => {
                let name: String = text[i + 1..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                if !ALLOWED.contains(&name.as_str()) {
                    let line = text[..i].matches('\n').count() + 1;
                    return Err(format!(
                        "line {line}: the psql meta-command \\{name} is not one pg_dump writes; \
                         pum restores plain files only without them"
                    ));
                }
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
                statement_start = i;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Skips a quoted string or identifier starting at `at`; unterminated, to the end.
fn skip_quoted(bytes: &[u8], at: usize, quote: u8, escapes: bool) -> usize {
    let mut i = at + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if escapes => i += 2,
            c if c == quote && bytes.get(i + 1) == Some(&quote) => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Whether a statement (comments before it allowed) is `COPY … FROM stdin`, whose data
/// lines follow it.
fn copies_from_stdin(statement: &str) -> bool {
    let start = first_significant(statement).unwrap_or(statement.len());
    let words: Vec<String> = statement[start..]
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    words.first().is_some_and(|w| w == "copy")
        && words.windows(2).any(|w| w[0] == "from" && w[1] == "stdin")
}

/// The offset after the COPY data that starts on the line after `at`: up to and
/// including its `\.` line.
fn after_copy_data(text: &str, at: usize) -> Result<usize, String> {
    let mut i = text[at..].find('\n').map_or(text.len(), |n| at + n + 1);
    while i < text.len() {
        let end = text[i..].find('\n').map_or(text.len(), |n| i + n + 1);
        if text[i..end].trim_end_matches(['\n', '\r']) == "\\." {
            return Ok(end);
        }
        i = end;
    }
    Err("COPY data without its end marker (\\.): an incomplete dump".into())
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
}
