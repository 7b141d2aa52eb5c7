//! Showing text that comes from outside (object names, definitions, file names) on a
//! terminal: control characters are escaped, so a name holding ESC or a newline cannot
//! forge lines of a report or drive the terminal.

use std::borrow::Cow;

/// `text` with every control character written as an escape (`\u{1b}`, `\n`, `\r`).
pub fn printable(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// As [`printable`], but keeps newlines and tabs (for multi-line definitions).
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

fn escape(text: &str, keep_lines: bool) -> Cow<'_, str> {
    let escaped = |c: char| c.is_control() && !(keep_lines && (c == '\n' || c == '\t'));
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escaped(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A path as text for a message: its bytes that are not UTF-8 (a name made on a system
/// with another encoding) as `\xNN`, control characters escaped as [`printable`] does.
pub fn path(path: &std::path::Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut out = String::new();
        for chunk in path.as_os_str().as_bytes().utf8_chunks() {
            out.push_str(&printable(chunk.valid()));
            for b in chunk.invalid() {
                out.push_str(&format!("\\x{b:02X}"));
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        printable(&path.to_string_lossy()).into_owned()
    }
}

/// Reads a whole number and a unit (`500ms`, `7d`), the units given in milliseconds; the
/// error says what is wrong with `text` in one line, with `examples` of what to write. A
/// bare number is refused rather than guessed.
pub(crate) fn duration(
    text: &str,
    units: &[(&str, u64)],
    examples: &str,
) -> std::result::Result<std::time::Duration, String> {
    let trimmed = text.trim();
    let digits = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits);
    let wrong = |why: &str| {
        format!(
            "{text:?} is not a duration ({why}): write a whole number and a unit, as {examples}"
        )
    };
    if number.is_empty() {
        return Err(wrong(if trimmed.starts_with('-') {
            "it is negative"
        } else {
            "no number"
        }));
    }
    let number: u64 = number.parse().map_err(|_| wrong("too large"))?;
    let unit = unit.trim();
    if unit.is_empty() {
        return Err(wrong("no unit"));
    }
    let Some((_, millis)) = units.iter().find(|(name, _)| *name == unit) else {
        let names: Vec<&str> = units.iter().map(|(name, _)| *name).collect();
        return Err(wrong(&format!("unknown unit: {}", names.join(", "))));
    };
    number
        .checked_mul(*millis)
        .map(std::time::Duration::from_millis)
        .ok_or_else(|| wrong("too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_lines_keep_newlines_and_tabs() {
        assert_eq!(printable_lines("a\n\tb\u{1b}c\r"), "a\n\tb\\u{1b}c\\r");
        assert!(matches!(printable("nothing to do"), Cow::Borrowed(_)));
        assert_eq!(printable("evil\u{1b}[2Jname\n"), "evil\\u{1b}[2Jname\\n");
        assert_eq!(printable("plain é"), "plain é");
    }

    #[cfg(unix)]
    #[test]
    fn a_path_shows_its_bytes_that_are_not_utf8() {
        use std::os::unix::ffi::OsStrExt;
        let name = std::path::Path::new(std::ffi::OsStr::from_bytes(b"dir/caf\xe9.sql"));
        assert_eq!(path(name), "dir/caf\\xE9.sql");
    }
}
