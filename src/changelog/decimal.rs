//! [`Decimal`]: an exact decimal number, for `decimal` parameters. A value such as
//! `2600000.123456789012345` goes into SQL and into the migrations table digit for digit,
//! where a floating-point number would round it.

use std::fmt;

/// An exact decimal number, kept in a canonical form: no leading zeros, no trailing
/// fractional zeros, no exponent, `-` for negatives (`"-0.5"`, `"1000"`, `"0"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decimal {
    canonical: String,
}

/// The largest exponent accepted (`1e1000`): more digits than any value a parameter needs.
const MAX_EXPONENT: i64 = 1000;

impl Decimal {
    /// Parses `12`, `-1.50`, `.5`, `5.`, `2.6e6`, `+1E-3`.
    ///
    /// # Errors
    /// A message saying why the text is not a decimal number (also for `inf` and `nan`).
    pub fn parse(text: &str) -> Result<Decimal, String> {
        let bad = || format!("\"{text}\" is not a decimal number");
        let trimmed = text.trim();
        let (negative, unsigned) = match trimmed.as_bytes().first() {
            Some(b'-') => (true, &trimmed[1..]),
            Some(b'+') => (false, &trimmed[1..]),
            _ => (false, trimmed),
        };
        let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
            Some(at) => {
                let exponent: i64 = unsigned[at + 1..].parse().map_err(|_| bad())?;
                if exponent.abs() > MAX_EXPONENT {
                    return Err(format!("\"{text}\" has an exponent beyond ±{MAX_EXPONENT}"));
                }
                (&unsigned[..at], exponent)
            }
            None => (unsigned, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && fraction.is_empty() || !digits_only(whole) || !digits_only(fraction)
        {
            return Err(bad());
        }
        // All the digits, and where the decimal point goes among them.
        let digits = format!("{whole}{fraction}");
        let point = whole.len() as i64 + exponent;
        Ok(Decimal {
            canonical: canonical(negative, &digits, point),
        })
    }

    /// The number as an SQL literal: its digits, with a space before a minus sign (so
    /// `a-{x}` never becomes the comment `a--1`).
    pub fn sql_literal(&self) -> String {
        if self.canonical.starts_with('-') {
            format!(" {}", self.canonical)
        } else {
            self.canonical.clone()
        }
    }

    /// The number as JSON number text, digit for digit.
    pub fn json_text(&self) -> &str {
        &self.canonical
    }
}

/// `digits` with the decimal point `point` digits from the left (may be outside them).
fn canonical(negative: bool, digits: &str, point: i64) -> String {
    let first = digits.bytes().position(|b| b != b'0');
    let Some(first) = first else {
        return "0".to_string();
    };
    let last = digits.bytes().rposition(|b| b != b'0').unwrap_or(first);
    // Keep the significant digits and move the point with them.
    let significant = &digits[first..=last];
    let point = point - first as i64;
    let len = significant.len() as i64;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(significant);
    } else if point >= len {
        out.push_str(significant);
        out.extend(std::iter::repeat_n('0', (point - len) as usize));
    } else {
        out.push_str(&significant[..point as usize]);
        out.push('.');
        out.push_str(&significant[point as usize..]);
    }
    out
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn canon(text: &str) -> String {
        Decimal::parse(text).unwrap().to_string()
    }

    #[test]
    fn canonical_forms() {
        for (text, expected) in [
            ("12", "12"),
            ("012.500", "12.5"),
            ("-1.50", "-1.5"),
            (".5", "0.5"),
            ("5.", "5"),
            ("+2.6e6", "2600000"),
            ("1E-3", "0.001"),
            ("-0.000", "0"),
            ("0", "0"),
            ("123.456e1", "1234.56"),
            (
                "2600000.123456789012345678901",
                "2600000.123456789012345678901",
            ),
        ] {
            assert_eq!(canon(text), expected, "{text}");
        }
        assert_eq!(Decimal::parse("2.50"), Decimal::parse("2.5"));
    }

    #[test]
    fn what_is_not_a_decimal() {
        for text in [
            "", "-", ".", "inf", "NaN", "1,5", "1.2.3", "1e", "e5", "0x10", "1 2",
        ] {
            assert!(Decimal::parse(text).is_err(), "{text}");
        }
        assert!(Decimal::parse("1e100000").unwrap_err().contains("exponent"));
    }

    #[test]
    fn negative_literals_cannot_start_a_comment() {
        assert_eq!(Decimal::parse("-1.5").unwrap().sql_literal(), " -1.5");
        assert_eq!(Decimal::parse("1.5").unwrap().sql_literal(), "1.5");
    }

    proptest! {
        #[test]
        fn parsing_the_canonical_form_gives_it_back(whole in "[0-9]{1,30}", fraction in "[0-9]{0,30}", negative in any::<bool>()) {
            let text = format!("{}{whole}.{fraction}", if negative { "-" } else { "" });
            let once = canon(&text);
            prop_assert_eq!(canon(&once), once.clone());
            // Exact: the significant digits are all there.
            let significant: String = format!("{whole}{fraction}").trim_matches('0').to_string();
            prop_assert!(once.replace(['.', '-'], "").contains(&significant));
        }
    }
}
