//! Table constraints and indexes.

use super::filters::{SCHEMAS, not_in_extension};

/// Table constraints.
pub(super) fn constraints() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT n.nspname || '.' || c.relname || '.' || co.conname, jsonb_build_object(
               'type', CASE co.contype WHEN 'p' THEN 'primary key' WHEN 'f' THEN 'foreign key'
                         WHEN 'u' THEN 'unique' WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion'
                         WHEN 't' THEN 'trigger' ELSE co.contype::text END,
               'definition', pg_get_constraintdef(co.oid, true),
               'deferrable', co.condeferrable,
               'deferred', co.condeferred,
               'validated', co.convalidated,
               'local', CASE WHEN co.coninhcount > 0 THEN co.conislocal END)
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
        "SELECT n.nspname || '.' || ic.relname, jsonb_build_object(
               'table', c.oid::regclass::text,
               'definition', pg_get_indexdef(i.indexrelid),
               'constraint', co.conname,
               'valid', i.indisvalid,
               'parent', (SELECT ih.inhparent::regclass::text FROM pg_inherits ih WHERE ih.inhrelid = i.indexrelid),
               'statistics', (SELECT string_agg(ia.attnum || ' ' || ia.attstattarget, ', ' ORDER BY ia.attnum)
                              FROM pg_attribute ia WHERE ia.attrelid = i.indexrelid AND ia.attstattarget >= 0))
             FROM pg_index i
             JOIN pg_class ic ON ic.oid = i.indexrelid
             JOIN pg_class c ON c.oid = i.indrelid
             JOIN pg_namespace n ON n.oid = ic.relnamespace
             LEFT JOIN pg_constraint co ON co.conindid = i.indexrelid AND co.conrelid = i.indrelid
                                       AND co.contype IN ('p', 'u', 'x')
             WHERE {SCHEMAS} AND {rel_ext}"
    )
}
