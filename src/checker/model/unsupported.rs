//! What autogenerate does not write (policies, aggregates, default privileges), read
//! only to warn when it differs.

use super::catalog::{SCHEMAS, not_in_extension};

/// The query reading the unsupported.
pub(super) fn unsupported() -> String {
    format!(
        "SELECT jsonb_build_object('kind', kind, 'name', name) FROM (
                   SELECT 'policies' AS kind, format('%I.%I.%I %s %s %s %s', n.nspname, c.relname, p.polname,
                          p.polcmd, p.polpermissive, pg_get_expr(p.polqual, p.polrelid),
                          pg_get_expr(p.polwithcheck, p.polrelid)) AS name
                   FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {SCHEMAS}
                   UNION ALL
                   SELECT 'aggregates', format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
                   FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE p.prokind IN ('a', 'w') AND {SCHEMAS} AND {proc_ext}
                   UNION ALL
                   SELECT 'default privileges', format('%s %s %s', d.defaclrole::regrole, coalesce(n.nspname, ''),
                          d.defaclacl)
                   FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
                   WHERE d.defaclnamespace = 0 OR {SCHEMAS}) u",
        proc_ext = not_in_extension("pg_proc", "p.oid")
    )
}
