//! Views, materialized views and rules.

use super::filters::{SCHEMAS, not_in_extension};

/// Views and materialized views.
pub(super) fn views() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT n.nspname || '.' || c.relname,
               CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END AS \"kind\",
               pg_get_viewdef(c.oid, true) AS \"definition\",
               array_to_string(c.reloptions, ', ') AS \"options\",
               am.amname AS \"access_method\",
               xc.relname::text AS \"cluster_on\"
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_am am ON am.oid = c.relam
             LEFT JOIN pg_index x ON x.indrelid = c.oid AND x.indisclustered
             LEFT JOIN pg_class xc ON xc.oid = x.indexrelid
             WHERE c.relkind IN ('v', 'm') AND {SCHEMAS} AND {rel_ext}"
    )
}

/// Rules (not views' own).
pub(super) fn rules() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT n.nspname || '.' || c.relname || '.' || r.rulename,
               pg_get_ruledef(r.oid, true) AS \"definition\",
               r.ev_enabled::text AS \"enabled\"
             FROM pg_rewrite r
             JOIN pg_class c ON c.oid = r.ev_class
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE r.rulename <> '_RETURN' AND {SCHEMAS} AND {rel_ext}"
    )
}
