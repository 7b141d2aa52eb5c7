//! Table constraints and indexes.

use super::filters::{SCHEMAS, not_in_extension};

/// Table constraints.
pub(super) fn constraints() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT n.nspname || '.' || c.relname || '.' || co.conname,
               CASE co.contype WHEN 'p' THEN 'primary key' WHEN 'f' THEN 'foreign key'
                         WHEN 'u' THEN 'unique' WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion'
                         WHEN 't' THEN 'trigger' ELSE co.contype::text END AS \"type\",
               pg_get_constraintdef(co.oid, true) AS \"definition\",
               co.condeferrable AS \"deferrable\",
               co.condeferred AS \"deferred\",
               co.convalidated AS \"validated\",
               CASE WHEN co.coninhcount > 0 THEN co.conislocal END AS \"local\"
             FROM pg_constraint co
             JOIN pg_class c ON c.oid = co.conrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE {SCHEMAS} AND {rel_ext}"
    )
}

/// Indexes.
pub(super) fn indexes() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT n.nspname || '.' || ic.relname,
               c.oid::regclass::text AS \"table\",
               pg_get_indexdef(i.indexrelid) AS \"definition\",
               co.conname AS \"constraint\",
               i.indisvalid AS \"valid\",
               ih.inhparent::regclass::text AS \"parent\",
               st.targets AS \"statistics\"
             FROM pg_index i
             JOIN pg_class ic ON ic.oid = i.indexrelid
             JOIN pg_class c ON c.oid = i.indrelid
             JOIN pg_namespace n ON n.oid = ic.relnamespace
             LEFT JOIN pg_constraint co ON co.conindid = i.indexrelid AND co.conrelid = i.indrelid
                                       AND co.contype IN ('p', 'u', 'x')
             LEFT JOIN pg_inherits ih ON ih.inhrelid = i.indexrelid
             LEFT JOIN (SELECT ia.attrelid, string_agg(ia.attnum || ' ' || ia.attstattarget, ', ' ORDER BY ia.attnum) AS targets
                        FROM pg_attribute ia WHERE ia.attstattarget >= 0 GROUP BY ia.attrelid) st
               ON st.attrelid = i.indexrelid
             WHERE {SCHEMAS} AND {rel_ext}"
    )
}
