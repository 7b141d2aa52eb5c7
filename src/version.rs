//! [`Version`]: a dotted numeric version such as `1.2` or `2024.1.10`.
//!
//! Versions compare number by number, so `1.10.0` comes after `1.9.0` (a text sort would
//! put it first), and missing trailing numbers count as zero: `1.2` equals `1.2.0`, as
//! Python's `packaging.version` has it. The text as written is kept for display.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use crate::error::Error;

/// A dotted numeric version: one or more non-negative whole numbers separated by dots.
#[derive(Debug, Clone)]
pub struct Version {
    parts: Vec<u64>,
    text: String,
}

impl Version {
    /// Parses `text`; see [`FromStr`].
    ///
    /// # Errors
    /// [`Error::InvalidVersion`] saying what is wrong with the text.
    pub fn parse(text: &str) -> Result<Version, Error> {
        let invalid = |reason: &str| Error::InvalidVersion {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        if text.is_empty() {
            return Err(invalid("a version cannot be empty"));
        }
        let parts = text
            .split('.')
            .map(|part| {
                if part.is_empty() {
                    Err(invalid("empty number between dots"))
                } else if !part.bytes().all(|b| b.is_ascii_digit()) {
                    Err(invalid(
                        "only numbers separated by dots are versions (like 1.2 or 1.2.3)",
                    ))
                } else {
                    part.parse::<u64>()
                        .map_err(|_| invalid("a number is too large"))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Version {
            parts,
            text: text.to_string(),
        })
    }

    /// The numbers, as written.
    pub fn parts(&self) -> &[u64] {
        &self.parts
    }

    /// The numbers without trailing zeros: what equality and hashing look at.
    fn significant(&self) -> &[u64] {
        let end = self
            .parts
            .iter()
            .rposition(|n| *n != 0)
            .map_or(0, |i| i + 1);
        &self.parts[..end]
    }
}

impl FromStr for Version {
    type Err = Error;

    fn from_str(text: &str) -> Result<Version, Error> {
        Version::parse(text)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.significant() == other.significant()
    }
}

impl Eq for Version {}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.significant().hash(state);
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        let len = self.parts.len().max(other.parts.len());
        (0..len)
            .map(|i| {
                let a = self.parts.get(i).copied().unwrap_or(0);
                let b = other.parts.get(i).copied().unwrap_or(0);
                a.cmp(&b)
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn numeric_not_textual_order() {
        assert!(v("1.10.0") > v("1.9.0"));
        assert!(v("1.9") < v("1.10"));
        assert!(v("2.0") > v("1.99.99"));
        assert!(v("1.2.3.4") > v("1.2.3"));
    }

    #[test]
    fn trailing_zeros_do_not_count() {
        assert_eq!(v("1.2"), v("1.2.0"));
        assert_eq!(v("1.2").cmp(&v("1.2.0.0")), Ordering::Equal);
        assert_eq!(v("1.2.0").to_string(), "1.2.0");
    }

    #[test]
    fn bad_versions_say_why() {
        let err = |t: &str| Version::parse(t).unwrap_err().to_string();
        assert_eq!(err(""), "invalid version \"\": a version cannot be empty");
        assert_eq!(
            err("1..2"),
            "invalid version \"1..2\": empty number between dots"
        );
        assert_eq!(
            err("1.2-beta"),
            "invalid version \"1.2-beta\": only numbers separated by dots are versions \
             (like 1.2 or 1.2.3)"
        );
        assert_eq!(
            err("v1.2"),
            "invalid version \"v1.2\": only numbers separated by dots are versions \
             (like 1.2 or 1.2.3)"
        );
        assert_eq!(
            err("1.99999999999999999999"),
            "invalid version \"1.99999999999999999999\": a number is too large"
        );
    }

    proptest! {
        #[test]
        fn order_matches_the_numbers(a in prop::collection::vec(0u64..1000, 1..5),
                                     b in prop::collection::vec(0u64..1000, 1..5)) {
            let text = |p: &[u64]| p.iter().map(u64::to_string).collect::<Vec<_>>().join(".");
            let (va, vb) = (v(&text(&a)), v(&text(&b)));
            let pad = |p: &[u64]| { let mut p = p.to_vec(); p.resize(5, 0); p };
            prop_assert_eq!(va.cmp(&vb), pad(&a).cmp(&pad(&b)));
            prop_assert_eq!(va == vb, pad(&a) == pad(&b));
        }
    }
}
