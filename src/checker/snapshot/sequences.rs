//! Sequences.

use super::filters::{SCHEMAS, not_in_extension};

/// Sequences.
pub(super) fn sequences() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT n.nspname || '.' || c.relname, jsonb_build_object(
               'type', format_type(s.seqtypid, NULL),
               'start', s.seqstart::text,
               'minimum', s.seqmin::text,
               'maximum', s.seqmax::text,
               'increment', s.seqincrement::text,
               'cycle', s.seqcycle,
               'cache', s.seqcache::text,
               'unlogged', c.relpersistence = 'u',
               'owned_by', (SELECT d.refobjid::regclass::text || '.' || a.attname
                            FROM pg_depend d JOIN pg_attribute a
                              ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                              AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                            LIMIT 1))
             FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE {SCHEMAS} AND {rel_ext}"
    )
}
