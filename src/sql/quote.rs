//! Quoting: the crate's only two ways of writing a name or a value into SQL text.
//!
//! Identifiers go through [`quote_identifier`] (a name PostgreSQL would silently truncate
//! is an error), values through [`quote_literal`] or bind parameters.

use crate::error::{Error, Result};

/// The longest identifier PostgreSQL keeps whole (NAMEDATALEN - 1), in bytes.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// Quotes `name` as an SQL identifier: `my "odd" db` becomes `"my ""odd"" db"`.
///
/// `kind` names what the identifier is for in the error message.
///
/// # Errors
/// [`Error::InvalidIdentifier`] when `name` is empty, longer than 63 bytes (PostgreSQL
/// would truncate it) or contains a NUL character.
///
/// ```
/// assert_eq!(pum::quote_identifier("database", "my \"odd\" db").unwrap(), "\"my \"\"odd\"\" db\"");
/// assert!(pum::quote_identifier("database", &"x".repeat(64)).is_err());
/// ```
pub fn quote_identifier(kind: &'static str, name: &str) -> Result<String> {
    let invalid = |reason: String| Error::InvalidIdentifier {
        kind,
        name: name.to_string(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("a name cannot be empty".into()));
    }
    if name.len() > MAX_IDENTIFIER_BYTES {
        return Err(invalid(format!(
            "{} bytes long, PostgreSQL keeps at most {MAX_IDENTIFIER_BYTES}",
            name.len()
        )));
    }
    if name.contains('\0') {
        return Err(invalid("contains a NUL character".into()));
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// Quotes `text` as an SQL string literal: `it's` becomes `'it''s'`. A backslash makes it
/// an `E''` string with the backslashes doubled, which reads the same whatever
/// `standard_conforming_strings` says.
///
/// ```
/// assert_eq!(pum::quote_literal("it's"), "'it''s'");
/// assert_eq!(pum::quote_literal(r"C:\x"), r"E'C:\\x'");
/// ```
pub fn quote_literal(text: &str) -> String {
    let doubled = text.replace('\'', "''");
    if text.contains('\\') {
        format!("E'{}'", doubled.replace('\\', "\\\\"))
    } else {
        format!("'{doubled}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(quote_identifier("database", "plain").unwrap(), "\"plain\"");
        assert_eq!(quote_identifier("database", "a\"b").unwrap(), "\"a\"\"b\"");
    }

    #[test]
    fn sixty_three_bytes_is_fine_sixty_four_is_not() {
        assert!(quote_identifier("database", &"a".repeat(63)).is_ok());
        let err = quote_identifier("database", &"a".repeat(64))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "invalid database name \"{}\": 64 bytes long, PostgreSQL keeps at most 63",
                "a".repeat(64)
            )
        );
        // Bytes, not characters: 32 two-byte characters are 64 bytes.
        assert!(quote_identifier("database", &"é".repeat(32)).is_err());
    }

    #[test]
    fn empty_and_nul_are_refused() {
        assert!(quote_identifier("role", "").is_err());
        assert!(quote_identifier("role", "a\0b").is_err());
    }
}
