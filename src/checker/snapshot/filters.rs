//! SQL fragments every catalog query of the snapshot shares: the schema filter, objects
//! of extensions or made internally left out, role and function names.

/// The schema filter every query applies to `n.nspname`: never `pg_*` nor
/// `information_schema`, never an excluded schema (`$1`).
pub(super) const SCHEMAS: &str = "n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' \
                       AND n.nspname <> ALL($1::text[])";

/// Leaves out the columns (`a`, rows of `pg_attribute`) whose names match a pattern of
/// `$3`. With no pattern, PostgreSQL folds the test away when it plans the query (it
/// knows the parameters' values then), sparing every row of `pg_attribute` a cast and a
/// test (1 ms of the columns query's 33 at 1,000 tables).
pub(super) const COLUMN_PATTERNS: &str =
    "($3::text[] = '{}' OR NOT (a.attname::text LIKE ANY($3::text[])))";

/// A composite type `t` that stands by itself (`CREATE TYPE … AS (…)`), not the row type
/// of a table: its class is of kind `c`. Tested against the set of those classes (one
/// hashed sub-plan), not by a lookup per type: every table has a row type (2 ms of the
/// comments query's 17 at 1,000 tables).
pub(super) const FREE_COMPOSITE: &str =
    "t.typrelid IN (SELECT rc.oid FROM pg_class rc WHERE rc.relkind = 'c')";

/// Leaves out objects that belong to an extension, unless `$2` asks for them.
///
/// `$2` is inside the `NOT EXISTS`, not beside it (`$2 OR NOT EXISTS …`): PostgreSQL
/// then plans the test as an anti-join, with row estimates, rather than a sub-plan run
/// per row with a guessed selectivity, which misled the plans of the largest queries
/// (the columns of 5,000 tables: 420 ms against 85 ms). A membership (`deptype` `e`)
/// always refers to an extension: saying so (`refclassid`) lets PostgreSQL read only the
/// extensions' dependencies, by index, instead of every dependency of the catalog's
/// objects (8,000 rows and 1–2 ms a query for 1,000 tables).
pub(super) fn not_in_extension(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT FROM pg_depend ext WHERE NOT $2 \
         AND ext.refclassid = 'pg_extension'::regclass AND ext.classid = '{catalog}'::regclass \
         AND ext.objid = {oid} AND ext.deptype = 'e')"
    )
}

/// Leaves out objects PostgreSQL made as part of another (the constructors of range and
/// multirange types, their casts), which pg_dump does not dump either.
pub(super) fn not_internal(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT FROM pg_depend int WHERE int.classid = '{catalog}'::regclass \
         AND int.objid = {oid} AND int.deptype = 'i')"
    )
}

/// A role's name, `public` for 0 (`expr` is a role oid).
pub(super) fn role_name(expr: &str) -> String {
    format!("CASE WHEN {expr} = 0 THEN 'public' ELSE pg_get_userbyid({expr})::text END")
}

/// A function oid column (`regproc`, possibly 0) as its qualified name, NULL for none.
pub(super) fn proc_name(expr: &str) -> String {
    format!("NULLIF({expr}::oid, 0)::regproc::text")
}
