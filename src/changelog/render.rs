//! Placeholders in SQL text: where `{name}` may stand, and what it becomes.
//!
//! A value must never become code. So a placeholder is replaced by its value's SQL
//! literal (`'it''s'`, `2056`, `true`) only where the SQL reads a value:
//!
//! - **in code** (outside quotes and comments): replaced;
//! - **inside a string literal** (`'{label}'`, `E'…'`) or a **quoted identifier**
//!   (`"{name}"`): refused, because the literal's own quotes would end the string around
//!   it; the message shows the right form (`{label}` alone, or `'text ' || {label}`);
//! - **inside a dollar-quoted body** (`$$ … $$`, `$fn$ … $fn$`): the body is read as the
//!   code it will become (a function body, a `DO` block), with the same rules inside it;
//!   a value is refused if its literal contains the closing tag of a body it stands in
//!   (`$$`), which would end the body early;
//! - **in comments**: left alone, braces and all.
//!
//! `{{` and `}}` stand for literal braces everywhere outside comments, in strings too (as in
//! Python pum: `'{{"a": 1}}'` is the JSON text `{"a": 1}`).

use crate::sql::split::{dollar_tag, is_word_byte, skip_block_comment};

/// A failure: byte offset in the text, and what is wrong.
pub(crate) type Failure = (usize, String);

/// Renders the placeholders of `sql`, asking `value` for the literal of each name.
pub(crate) fn render(
    sql: &str,
    value: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<String, Failure> {
    render_with(sql, value, false)
}

/// Renders pum 0.x's placeholders, `%(name)s`, with the same rules as `{name}`: a literal
/// in code, refused inside quotes. `%%` stands for `%` (outside comments, in strings
/// too), and a lone `%` is an error, as pum 0.x has it when variables are given. Braces
/// are plain text.
pub(crate) fn render_percent(
    sql: &str,
    value: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<String, Failure> {
    render_with(sql, value, true)
}

/// The text that [`render`] turns back into `sql` exactly: every brace `render` would read
/// (in code, strings, quoted identifiers and dollar-quoted bodies) doubled, comments and
/// an `E'…'` string's backslash escapes left as they are. What autogenerate writes goes
/// through it, so that `DEFAULT '{}'` or a JSON literal is not read as a placeholder.
pub(crate) fn escape(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut tags = Vec::new();
    let mut none = |_: &str| -> Result<String, String> { Err(String::new()) };
    let mut renderer = Renderer {
        sql,
        value: &mut none,
        percent: false,
        escape: true,
    };
    // Escaping reads no placeholder, so it cannot fail.
    if renderer.code(0, sql.len(), &mut tags, &mut out).is_err() {
        return sql.replace('{', "{{").replace('}', "}}");
    }
    out
}

fn render_with(
    sql: &str,
    value: &mut dyn FnMut(&str) -> Result<String, String>,
    percent: bool,
) -> Result<String, Failure> {
    let mut out = String::with_capacity(sql.len());
    let mut tags = Vec::new();
    Renderer {
        sql,
        value,
        percent,
        escape: false,
    }
    .code(0, sql.len(), &mut tags, &mut out)?;
    Ok(out)
}

struct Renderer<'a, 'v> {
    sql: &'a str,
    value: &'v mut dyn FnMut(&str) -> Result<String, String>,
    /// `%(name)s` placeholders (pum 0.x) rather than `{name}`.
    percent: bool,
    /// Writing the escaped text rather than reading it ([`escape`]).
    escape: bool,
}

/// Where a placeholder was found, for the message refusing it.
#[derive(Clone, Copy)]
enum Quoted {
    String,
    Identifier,
}

impl<'a> Renderer<'a, '_> {
    /// Renders `sql[start..end]` as code, inside the dollar quotes `tags`.
    fn code(
        &mut self,
        start: usize,
        end: usize,
        tags: &mut Vec<&'a str>,
        out: &mut String,
    ) -> Result<(), Failure> {
        let text = &self.sql[..end];
        let bytes = text.as_bytes();
        let mut i = start;
        while i < end {
            let next = bytes.get(i + 1).copied();
            match bytes[i] {
                b'-' if next == Some(b'-') => {
                    let stop = text[i..].find('\n').map_or(end, |n| i + n + 1);
                    out.push_str(&text[i..stop]);
                    i = stop;
                }
                b'/' if next == Some(b'*') => {
                    // An unterminated comment runs to the end (the splitter reports it).
                    let stop = skip_block_comment(text, i).unwrap_or(end);
                    out.push_str(&text[i..stop]);
                    i = stop;
                }
                b'\'' => {
                    let escapes = i > 0
                        && matches!(bytes[i - 1], b'E' | b'e')
                        && !(i > 1 && is_word_byte(bytes[i - 2]));
                    i = self.quoted(i, end, b'\'', escapes, Quoted::String, out)?;
                }
                b'"' => i = self.quoted(i, end, b'"', false, Quoted::Identifier, out)?,
                b'$' if !(i > 0 && is_word_byte(bytes[i - 1])) => {
                    i = self.dollar(i, end, tags, out)?;
                }
                b'%' if self.percent && next == Some(b'%') => {
                    out.push('%');
                    i += 2;
                }
                b'%' if self.percent => {
                    let (name, stop) = percent_placeholder(text, i)?;
                    let shown = format!("%({name})s");
                    out.push_str(&self.value_at(i, name, &shown, tags)?);
                    i = stop;
                }
                b'{' | b'}' if self.escape => {
                    out.push(bytes[i] as char);
                    out.push(bytes[i] as char);
                    i += 1;
                }
                b'{' | b'}' if self.percent => {
                    out.push(bytes[i] as char);
                    i += 1;
                }
                b'{' | b'}' if next == Some(bytes[i]) => {
                    out.push(bytes[i] as char);
                    i += 2;
                }
                b'}' => return Err((i, "single \"}\": write }} for a literal brace".into())),
                b'{' => {
                    let (name, stop) = placeholder(text, i)?;
                    let shown = format!("{{{name}}}");
                    out.push_str(&self.value_at(i, name, &shown, tags)?);
                    i = stop;
                }
                _ => {
                    let len = utf8_len(bytes[i]);
                    out.push_str(&text[i..i + len]);
                    i += len;
                }
            }
        }
        Ok(())
    }

    /// Copies the dollar quote opening at `i` (a `$` not inside a word), rendering its
    /// body as code; returns where it ends.
    fn dollar(
        &mut self,
        i: usize,
        end: usize,
        tags: &mut Vec<&'a str>,
        out: &mut String,
    ) -> Result<usize, Failure> {
        let text = &self.sql[..end];
        let Some(tag) = dollar_tag(text, i) else {
            out.push('$');
            return Ok(i + 1);
        };
        let body = i + tag.len();
        out.push_str(tag);
        match text[body..].find(tag).map(|n| body + n) {
            Some(close) => {
                tags.push(tag);
                self.code(body, close, tags, out)?;
                tags.pop();
                out.push_str(tag);
                Ok(close + tag.len())
            }
            // Unterminated (the splitter reports it): copy the rest.
            None => {
                out.push_str(&text[body..end]);
                Ok(end)
            }
        }
    }

    /// The literal for placeholder `name` (written `shown`) at `i`, refused when it would
    /// end one of the dollar-quoted bodies `tags` it stands in.
    fn value_at(
        &mut self,
        i: usize,
        name: &str,
        shown: &str,
        tags: &[&str],
    ) -> Result<String, Failure> {
        let literal = (self.value)(name).map_err(|m| (i, m))?;
        if let Some(tag) = tags.iter().find(|tag| literal.contains(*tag)) {
            return Err((
                i,
                format!(
                    "the value of {shown} contains {tag}, which would end the dollar-quoted \
                     body it stands in: use another tag for the body ($body$ … $body$)"
                ),
            ));
        }
        Ok(literal)
    }

    /// Copies a quoted string or identifier starting at `at`, turning `{{`/`}}` into braces
    /// and refusing placeholders; returns the offset after it.
    fn quoted(
        &mut self,
        at: usize,
        end: usize,
        quote: u8,
        escapes: bool,
        kind: Quoted,
        out: &mut String,
    ) -> Result<usize, Failure> {
        let text = &self.sql[..end];
        let bytes = text.as_bytes();
        out.push(quote as char);
        let mut i = at + 1;
        while i < end {
            let next = bytes.get(i + 1).copied();
            match bytes[i] {
                b'\\' if escapes => {
                    let stop = (i + 1 + next.map_or(0, utf8_len)).min(end);
                    out.push_str(&text[i..stop]);
                    i = stop;
                }
                c if c == quote && next == Some(quote) => {
                    out.push(quote as char);
                    out.push(quote as char);
                    i += 2;
                }
                c if c == quote => {
                    out.push(quote as char);
                    return Ok(i + 1);
                }
                b'%' if self.percent && next == Some(b'%') => {
                    out.push('%');
                    i += 2;
                }
                b'%' if self.percent => {
                    let (name, _) = percent_placeholder(text, i)?;
                    return Err((i, refused_in(kind, &format!("%({name})s"))));
                }
                b'{' | b'}' if self.escape => {
                    out.push(bytes[i] as char);
                    out.push(bytes[i] as char);
                    i += 1;
                }
                b'{' | b'}' if self.percent => {
                    out.push(bytes[i] as char);
                    i += 1;
                }
                b'{' | b'}' if next == Some(bytes[i]) => {
                    out.push(bytes[i] as char);
                    i += 2;
                }
                b'}' => return Err((i, "single \"}\": write }} for a literal brace".into())),
                b'{' => {
                    let (name, _) = placeholder(text, i)?;
                    return Err((i, refused_in(kind, &format!("{{{name}}}"))));
                }
                _ => {
                    let len = utf8_len(bytes[i]);
                    out.push_str(&text[i..i + len]);
                    i += len;
                }
            }
        }
        // Unterminated (the splitter reports it).
        Ok(end)
    }
}

/// The name of the placeholder opening at `at`, and the offset after its `}`.
fn placeholder(text: &str, at: usize) -> Result<(&str, usize), Failure> {
    let close = text[at..].find('}').map(|n| at + n).ok_or((
        at,
        "unclosed \"{\": write {{ for a literal brace".to_string(),
    ))?;
    let name = &text[at + 1..close];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err((
            at,
            format!("\"{{{name}}}\" is not a parameter: write {{{{ and }}}} for literal braces"),
        ));
    }
    Ok((name, close + 1))
}

/// The name of the `%(name)s` placeholder opening at `at`, and the offset after it.
fn percent_placeholder(text: &str, at: usize) -> Result<(&str, usize), Failure> {
    let lone = || {
        (
            at,
            "a lone %: write %% for a percent sign (variables are given, so every % is read \
             as in pum 0.x: %(name)s or %%)"
                .to_string(),
        )
    };
    let rest = text[at + 1..].strip_prefix('(').ok_or_else(lone)?;
    let close = rest.find(')').ok_or_else(lone)?;
    let name = &rest[..close];
    if name.is_empty() || !rest[close + 1..].starts_with('s') {
        return Err(lone());
    }
    Ok((name, at + 2 + close + 2))
}

/// Why a placeholder (`{name}`, `%(name)s`) is refused inside quotes.
fn refused_in(kind: Quoted, placeholder: &str) -> String {
    match kind {
        Quoted::String => format!(
            "parameter {placeholder} inside a string literal: write {placeholder} without quotes \
             (it becomes a quoted literal), or join it: 'text ' || {placeholder}"
        ),
        Quoted::Identifier => format!(
            "parameter {placeholder} inside a quoted identifier: parameters are values, never \
             names"
        ),
    }
}

/// The length of the UTF-8 character starting with byte `first`.
fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::quote_literal;
    use proptest::prelude::*;

    /// Renders with `label` = `value` (as a text literal) and `n` = 2056.
    fn with(sql: &str, value: &str) -> Result<String, Failure> {
        render(sql, &mut |name| match name {
            "label" => Ok(quote_literal(value)),
            "n" => Ok("2056".into()),
            other => Err(format!("unknown parameter {{{other}}}")),
        })
    }

    #[test]
    fn escaped_text_renders_back_to_itself() {
        for sql in [
            "CREATE TABLE t (a jsonb DEFAULT '{}', b int[] DEFAULT '{1,2}')",
            "COMMENT ON TABLE \"{x}\" IS 'a {brace}' -- {kept}\n/* {kept} */",
            "CREATE FUNCTION f() RETURNS text AS $b$ BEGIN RETURN '{}'; -- }\nEND $b$",
            "SELECT E'\\{', $$ unterminated {",
        ] {
            let escaped = escape(sql);
            assert_eq!(with(&escaped, "").unwrap(), sql, "{escaped}");
        }
        assert_eq!(
            escape("SELECT '{}' -- {}"),
            "SELECT '{{}}' -- {}",
            "comments are not read, so not escaped"
        );
    }

    proptest! {
        #[test]
        fn any_text_escaped_renders_back(sql in "[{}'\"$a-cE\\\\ \n/*-]{0,40}") {
            prop_assert_eq!(with(&escape(&sql), "").unwrap(), sql);
        }
    }

    #[test]
    fn code_gets_literals_comments_stay_as_written() {
        assert_eq!(
            with("SELECT {n}, {label} -- {label}\n/* {x} */;", "a").unwrap(),
            "SELECT 2056, 'a' -- {label}\n/* {x} */;"
        );
        assert_eq!(
            with("SELECT '{{\"a\": 1}}', {{}}", "").unwrap(),
            "SELECT '{\"a\": 1}', {}"
        );
        assert_eq!(
            with("SELECT 'é{{', {label}", "ü").unwrap(),
            "SELECT 'é{', 'ü'"
        );
    }

    #[test]
    fn placeholders_inside_quotes_are_refused_with_the_right_form() {
        let (at, message) = with("SELECT 'x {label} y'", "v").unwrap_err();
        assert_eq!(at, 10);
        assert_eq!(
            message,
            "parameter {label} inside a string literal: write {label} without quotes (it \
             becomes a quoted literal), or join it: 'text ' || {label}"
        );
        assert!(with("SELECT E'it\\'s {label}'", "v").is_err());
        assert!(with("SELECT 'it''s {label}'", "v").is_err());
        let (_, message) = with("CREATE TABLE \"{label}\" ()", "v").unwrap_err();
        assert!(message.contains("inside a quoted identifier"), "{message}");
        // A quote inside an E-string is escaped: what follows is still the string.
        assert!(with("SELECT E'\\' {label}'", "v").is_err());
    }

    #[test]
    fn dollar_bodies_are_read_as_code() {
        let sql = "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT {label} $$";
        assert_eq!(
            with(sql, "it's").unwrap(),
            "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'it''s' $$"
        );
        // Inside the body's own strings: refused, as anywhere.
        assert!(with("DO $$ BEGIN RAISE NOTICE '{label}'; END $$", "v").is_err());
        // Nested bodies, and a tag that is not a quote ($1).
        assert_eq!(
            with("DO $a$ BEGIN EXECUTE $b$ SELECT {n}, $1 $b$; END $a$", "").unwrap(),
            "DO $a$ BEGIN EXECUTE $b$ SELECT 2056, $1 $b$; END $a$"
        );
    }

    #[test]
    fn a_value_that_would_end_its_body_is_refused() {
        for hostile in ["x$$; DROP TABLE t; --", "$$", "a $$ b"] {
            let (_, message) = with("DO $$ BEGIN PERFORM {label}; END $$", hostile).unwrap_err();
            assert!(message.contains("contains $$"), "{hostile}: {message}");
        }
        let (_, message) = with(
            "DO $a$ BEGIN EXECUTE $b$ SELECT {label} $b$; END $a$",
            "x$a$y",
        )
        .unwrap_err();
        assert!(message.contains("contains $a$"), "{message}");
        // Outside any body, the same value is just text.
        assert_eq!(with("SELECT {label}", "x$$y").unwrap(), "SELECT 'x$$y'");
        assert_eq!(
            with("DO $f$ BEGIN PERFORM {label}; END $f$", "x$$y").unwrap(),
            "DO $f$ BEGIN PERFORM 'x$$y'; END $f$"
        );
    }

    fn percent(sql: &str, value: &str) -> Result<String, Failure> {
        render_percent(sql, &mut |name| match name {
            "label" => Ok(quote_literal(value)),
            "n" => Ok("42".into()),
            other => Err(format!("unknown variable %({other})s")),
        })
    }

    #[test]
    fn percent_placeholders_as_pum_0x_writes_them() {
        assert_eq!(
            percent(
                "SELECT %(n)s, %(label)s, '100%%', 5 %% 2, '{x}' -- %(x)s 50%\n",
                "it's"
            )
            .unwrap(),
            "SELECT 42, 'it''s', '100%', 5 % 2, '{x}' -- %(x)s 50%\n"
        );
        let (at, message) = percent("SELECT 'a %(label)s'", "v").unwrap_err();
        assert_eq!(at, 10);
        assert!(
            message.starts_with("parameter %(label)s inside a string literal"),
            "{message}"
        );
        let (at, message) = percent("SELECT 5 % 2", "").unwrap_err();
        assert_eq!(at, 9);
        assert!(message.starts_with("a lone %"), "{message}");
        assert!(percent("SELECT %(label)d", "").is_err());
        let (_, message) = percent("SELECT %(nope)s", "").unwrap_err();
        assert_eq!(message, "unknown variable %(nope)s");
        assert_eq!(
            percent("DO $$ BEGIN PERFORM %(label)s; END $$", "x").unwrap(),
            "DO $$ BEGIN PERFORM 'x'; END $$"
        );
        assert!(percent("DO $$ BEGIN PERFORM %(label)s; END $$", "a$$b").is_err());
    }

    proptest! {
        /// Whatever the value, in code or in a body, it stays one literal: the rendered
        /// text splits into the same statements as the text with a harmless value.
        #[test]
        fn a_value_never_becomes_code(value in "\\PC*") {
            for sql in [
                "SELECT {label}; SELECT 2",
                "DO $$ BEGIN PERFORM {label}; END $$; SELECT 2",
                "DO $f$ BEGIN EXECUTE $g$ SELECT {label} $g$; END $f$; SELECT 2",
            ] {
                let Ok(rendered) = with(sql, &value) else {
                    // Refused (it contained a closing tag): nothing ran.
                    continue;
                };
                let statements = crate::sql::split::split(&rendered).unwrap();
                prop_assert_eq!(statements.len(), 2, "{}", rendered);
                prop_assert_eq!(&statements[1].sql, "SELECT 2");
            }
        }
    }
}
