//! Which test databases are kept after the test (`PUM_TEST_KEEP`), and how many kept ones
//! may stay (`PUM_TEST_KEEP_MAX`).

use crate::error::{Error, Result};

/// When a test's database is kept instead of dropped (`PUM_TEST_KEEP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepPolicy {
    /// Keep the databases of failed tests (the default).
    Failed,
    /// Never keep.
    Never,
    /// Always keep.
    Always,
}

impl KeepPolicy {
    /// The policy `PUM_TEST_KEEP` asks for.
    ///
    /// # Errors
    /// [`Error::Setting`] for a value other than `failed`, `never` or `always`.
    pub fn from_env() -> Result<KeepPolicy> {
        KeepPolicy::parse(std::env::var("PUM_TEST_KEEP").ok().as_deref())
    }

    fn parse(value: Option<&str>) -> Result<KeepPolicy> {
        match value {
            None | Some("") | Some("failed") => Ok(KeepPolicy::Failed),
            Some("never") => Ok(KeepPolicy::Never),
            Some("always") => Ok(KeepPolicy::Always),
            Some(other) => Err(Error::Setting {
                variable: "PUM_TEST_KEEP".into(),
                message: format!("invalid value \"{other}\" (failed, never or always)"),
            }),
        }
    }

    /// Whether a test that failed (or not) keeps its database.
    pub fn keeps(self, failed: bool) -> bool {
        match self {
            KeepPolicy::Never => false,
            KeepPolicy::Always => true,
            KeepPolicy::Failed => failed,
        }
    }
}

/// How many kept databases may stay (`PUM_TEST_KEEP_MAX`, default 10); the oldest beyond
/// are dropped.
pub(crate) fn keep_max() -> Result<i64> {
    parse_keep_max(std::env::var("PUM_TEST_KEEP_MAX").ok().as_deref())
}

fn parse_keep_max(value: Option<&str>) -> Result<i64> {
    match value {
        None => Ok(10),
        Some(text) => text
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| Error::Setting {
                variable: "PUM_TEST_KEEP_MAX".into(),
                message: format!("invalid value \"{text}\": expected a whole number"),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_and_their_names() {
        assert_eq!(KeepPolicy::parse(None).unwrap(), KeepPolicy::Failed);
        assert_eq!(KeepPolicy::parse(Some("")).unwrap(), KeepPolicy::Failed);
        assert_eq!(KeepPolicy::parse(Some("never")).unwrap(), KeepPolicy::Never);
        assert_eq!(
            KeepPolicy::parse(Some("always")).unwrap(),
            KeepPolicy::Always
        );
        assert_eq!(
            KeepPolicy::parse(Some("sometimes"))
                .unwrap_err()
                .to_string(),
            "PUM_TEST_KEEP: invalid value \"sometimes\" (failed, never or always)"
        );
        assert!(KeepPolicy::Failed.keeps(true) && !KeepPolicy::Failed.keeps(false));
        assert!(KeepPolicy::Always.keeps(false) && !KeepPolicy::Never.keeps(true));
    }

    #[test]
    fn keep_max_is_a_whole_number() {
        assert_eq!(parse_keep_max(None).unwrap(), 10);
        assert_eq!(parse_keep_max(Some(" 3 ")).unwrap(), 3);
        assert_eq!(
            parse_keep_max(Some("-1")).unwrap_err().to_string(),
            "PUM_TEST_KEEP_MAX: invalid value \"-1\": expected a whole number"
        );
    }
}
