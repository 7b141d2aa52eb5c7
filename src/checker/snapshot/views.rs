//! Views, materialized views and rules.

use super::filters::{SCHEMAS, not_in_extension};

/// Views and materialized views.
pub(super) fn views() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT n.nspname || '.' || c.relname, jsonb_build_object(
               'kind', CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END,
               'definition', pg_get_viewdef(c.oid, true),
               'options', array_to_string(c.reloptions, ', '),
               'access_method', am.amname,
               'cluster_on', (SELECT xc.relname::text FROM pg_index x JOIN pg_class xc ON xc.oid = x.indexrelid
                              WHERE x.indrelid = c.oid AND x.indisclustered))
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_am am ON am.oid = c.relam
             WHERE c.relkind IN ('v', 'm') AND {SCHEMAS} AND {rel_ext}"
    )
}

/// Rules (not views' own).
pub(super) fn rules() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT n.nspname || '.' || c.relname || '.' || r.rulename, jsonb_build_object(
               'definition', pg_get_ruledef(r.oid, true),
               'enabled', r.ev_enabled::text)
             FROM pg_rewrite r
             JOIN pg_class c ON c.oid = r.ev_class
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE r.rulename <> '_RETURN' AND {SCHEMAS} AND {rel_ext}"
    )
}
