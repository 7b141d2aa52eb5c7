//! [`crate::assert_schema_eq!`]: two databases' schemas compared, the differences (and
//! only those) in the panic.

use super::SchemaSource;
use super::run::off_runtime;
use crate::checker::{CheckOptions, Kind};
use crate::error::Result;

/// The comparison behind [`crate::assert_schema_eq!`]: panics with the differences.
///
/// `ignore` names kinds (`"privileges"`); `exclude_schemas` schemas. Tables named
/// `pum_migrations` are left out, so a database migrated by pum equals one built from
/// plain SQL.
///
/// # Panics
/// When the schemas differ (the message is the checker's report, naming both databases),
/// a kind is unknown, or a database cannot be read; the panic points at the caller.
#[track_caller]
pub fn assert_schema_eq(
    left: &impl SchemaSource,
    right: &impl SchemaSource,
    ignore: &[&str],
    exclude_schemas: &[&str],
) {
    let kinds: Result<_> = ignore.iter().map(|name| Kind::parse(name)).collect();
    let options = CheckOptions {
        ignore: match kinds {
            Ok(kinds) => kinds,
            Err(e) => panic!("assert_schema_eq!: {e}"),
        },
        exclude_schemas: exclude_schemas.iter().map(|s| s.to_string()).collect(),
        ..CheckOptions::default()
    };
    let (left, right) = (left.schema_spec(), right.schema_spec());
    let mut report = match off_runtime(|| crate::checker::check(&left, &right, &options)) {
        Ok(report) => report,
        Err(e) => panic!("assert_schema_eq!: {e}"),
    };
    report.retain(|key, attributes| !is_migrations_table(key, attributes));
    if !report.is_empty() {
        panic!("assert_schema_eq! failed: the schemas differ\n{report}");
    }
}

/// Whether an object belongs to a `pum_migrations` table.
pub(super) fn is_migrations_table(key: &str, attributes: &crate::checker::Attributes) -> bool {
    let mentions = |text: &str| {
        text.split([' ', '.'])
            .any(|part| part == "pum_migrations" || part == "pum_migrations_pkey")
    };
    mentions(key) || attributes.get("table").flatten().is_some_and(mentions)
}

/// Asserts that two databases have the same schema; on failure, panics with the checker's
/// report of only the differences, naming both databases.
///
/// ```no_run
/// # use pum::testing::TestDb;
/// # fn t(db: TestDb) {
/// pum::assert_schema_eq!(db, db.reference());
/// pum::assert_schema_eq!(db, db.reference(), ignore = ["privileges", "comments"]);
/// pum::assert_schema_eq!(db, db.reference(), exclude_schemas = ["audit"]);
/// # }
/// ```
///
/// Tables named `pum_migrations` are left out of the comparison.
#[macro_export]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
macro_rules! assert_schema_eq {
    ($left:expr, $right:expr $(,)?) => {
        $crate::testing::assert_schema_eq(&$left, &$right, &[], &[])
    };
    ($left:expr, $right:expr, ignore = [$($kind:expr),* $(,)?] $(,)?) => {
        $crate::testing::assert_schema_eq(&$left, &$right, &[$($kind),*], &[])
    };
    ($left:expr, $right:expr, exclude_schemas = [$($schema:expr),* $(,)?] $(,)?) => {
        $crate::testing::assert_schema_eq(&$left, &$right, &[], &[$($schema),*])
    };
    ($left:expr, $right:expr, ignore = [$($kind:expr),* $(,)?], exclude_schemas = [$($schema:expr),* $(,)?] $(,)?) => {
        $crate::testing::assert_schema_eq(&$left, &$right, &[$($kind),*], &[$($schema),*])
    };
}
