//! Sequences.

use super::filters::{SCHEMAS, not_in_extension};

/// Sequences.
pub(super) fn sequences() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT n.nspname || '.' || c.relname,
               format_type(s.seqtypid, NULL) AS \"type\",
               s.seqstart::text AS \"start\",
               s.seqmin::text AS \"minimum\",
               s.seqmax::text AS \"maximum\",
               s.seqincrement::text AS \"increment\",
               s.seqcycle AS \"cycle\",
               s.seqcache::text AS \"cache\",
               c.relpersistence = 'u' AS \"unlogged\",
               (SELECT d.refobjid::regclass::text || '.' || a.attname
                            FROM pg_depend d JOIN pg_attribute a
                              ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                              AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                            LIMIT 1) AS \"owned_by\"
             FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE {SCHEMAS} AND {rel_ext}"
    )
}
