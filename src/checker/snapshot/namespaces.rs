//! Schemas and extensions.

use super::filters::{SCHEMAS, not_in_extension};

/// The schemas.
pub(super) fn schemas() -> String {
    format!(
        "SELECT n.nspname, jsonb_build_object() FROM pg_namespace n WHERE {SCHEMAS} \
             AND {}",
        not_in_extension("pg_namespace", "n.oid")
    )
}

/// The extensions and their versions.
pub(super) fn extensions() -> String {
    "SELECT e.extname::text, jsonb_build_object(
               'version', e.extversion,
               'schema', n.nspname)
             FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
             WHERE e.extname <> 'plpgsql' AND n.nspname <> ALL($1::text[])"
        .to_string()
}
