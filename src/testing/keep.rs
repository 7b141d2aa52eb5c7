//! Which test databases are kept after the test (`PUM_TEST_KEEP`), and how many kept ones
//! may stay (`PUM_TEST_KEEP_MAX`).

use crate::error::Result;
use crate::settings;

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
    /// [`crate::Error::Environment`] for a value other than `failed`, `never` or `always`.
    pub fn from_env() -> Result<KeepPolicy> {
        settings::choice(
            "PUM_TEST_KEEP",
            &[
                ("failed", KeepPolicy::Failed),
                ("never", KeepPolicy::Never),
                ("always", KeepPolicy::Always),
            ],
            KeepPolicy::Failed,
        )
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
    settings::bounded_number("PUM_TEST_KEEP_MAX", 0.., 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_test_keeps_its_database_by_default() {
        assert!(KeepPolicy::Failed.keeps(true) && !KeepPolicy::Failed.keeps(false));
        assert!(KeepPolicy::Always.keeps(false) && !KeepPolicy::Never.keeps(true));
    }
}
