//! Sequences (not identity columns').

use std::collections::BTreeSet;

use serde::Deserialize;

use super::Grant;
use super::catalog::{SCHEMAS, acl, comment, not_in_extension};

/// A sequence (not an identity column's).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SequenceDef {
    /// Quoted, qualified name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// START WITH.
    pub start: String,
    /// MINVALUE.
    pub minimum: String,
    /// MAXVALUE.
    pub maximum: String,
    /// INCREMENT BY.
    pub increment: String,
    /// CYCLE.
    pub cycle: bool,
    /// CACHE.
    pub cache: String,
    /// The column owning it (`"s"."t"."c"`).
    pub owned_by: Option<String>,
    /// Its comment.
    pub comment: Option<String>,
    /// Its privileges.
    #[serde(default)]
    pub acl: BTreeSet<Grant>,
}

/// The query reading the sequences.
pub(super) fn sequences() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT jsonb_build_object(
                   'name', format('%I.%I', n.nspname, c.relname),
                   'type', format_type(s.seqtypid, NULL),
                   'start', s.seqstart::text, 'minimum', s.seqmin::text, 'maximum', s.seqmax::text,
                   'increment', s.seqincrement::text, 'cycle', s.seqcycle, 'cache', s.seqcache::text,
                   'owned_by', (SELECT format('%I.%I.%I', tn.nspname, tc.relname, a.attname)
                                FROM pg_depend d JOIN pg_class tc ON tc.oid = d.refobjid
                                JOIN pg_namespace tn ON tn.oid = tc.relnamespace
                                JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                  AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' LIMIT 1),
                   'comment', {}, 'acl', {})
                 FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE {SCHEMAS} AND {rel_ext}
                   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                   AND d.objid = c.oid AND d.deptype = 'i')",
        comment("pg_class", "c.oid", "0"),
        acl("c.relacl", "s", "c.relowner")
    )
}
