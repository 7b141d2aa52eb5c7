//! Enums, domains, ranges and composite types.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::Grant;
use super::catalog::{SCHEMAS, acl, comment, not_in_extension};

/// An enum, domain or composite type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TypeDef {
    /// Quoted, qualified name.
    pub name: String,
    /// `e` enum, `d` domain, `c` composite, `r` range.
    pub kind: String,
    /// Range: its options (`SUBTYPE = integer, …`), as `CREATE TYPE … AS RANGE` takes them.
    pub range: Option<String>,
    /// Enum labels, in order.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Domain: its base type.
    pub base: Option<String>,
    /// Domain: NOT NULL.
    #[serde(default)]
    pub not_null: bool,
    /// Domain: its default.
    pub default: Option<String>,
    /// Domain: its constraints (quoted name, definition).
    #[serde(default)]
    pub constraints: Vec<(String, String)>,
    /// Composite: its attributes (quoted name, type).
    #[serde(default)]
    pub attributes: Vec<(String, String)>,
    /// Its comment.
    pub comment: Option<String>,
    /// Its privileges.
    #[serde(default)]
    pub acl: BTreeSet<Grant>,
}

/// The query reading the types.
pub(super) fn types() -> String {
    format!(
        "SELECT jsonb_build_object(
                   'name', format('%I.%I', n.nspname, t.typname),
                   'kind', t.typtype::text,
                   'range', (SELECT concat_ws(', ',
                               format('SUBTYPE = %s', format_type(r.rngsubtype, NULL)),
                               CASE WHEN NOT oc.opcdefault THEN format('SUBTYPE_OPCLASS = %I.%I',
                                 ocn.nspname, oc.opcname) END,
                               CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation
                                 THEN format('COLLATION = %s', (SELECT format('%I.%I', cn.nspname, co.collname)
                                   FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                                   WHERE co.oid = r.rngcollation)) END,
                               CASE WHEN r.rngcanonical <> 0 THEN format('CANONICAL = %s', r.rngcanonical::regproc) END,
                               CASE WHEN r.rngsubdiff <> 0 THEN format('SUBTYPE_DIFF = %s', r.rngsubdiff::regproc) END,
                               format('MULTIRANGE_TYPE_NAME = %s', format_type(r.rngmultitypid, NULL)))
                             FROM pg_range r JOIN pg_type st ON st.oid = r.rngsubtype
                             JOIN pg_opclass oc ON oc.oid = r.rngsubopc
                             JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace
                             WHERE r.rngtypid = t.oid),
                   'labels', (SELECT coalesce(jsonb_agg(e.enumlabel ORDER BY e.enumsortorder), '[]')
                              FROM pg_enum e WHERE e.enumtypid = t.oid),
                   'base', CASE t.typtype WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
                   'not_null', t.typnotnull,
                   'default', t.typdefault,
                   'constraints', (SELECT coalesce(jsonb_agg(jsonb_build_array(quote_ident(co.conname),
                                     pg_get_constraintdef(co.oid)) ORDER BY co.conname), '[]')
                                   FROM pg_constraint co WHERE co.contypid = t.oid AND co.contype = 'c'),
                   'attributes', (SELECT coalesce(jsonb_agg(jsonb_build_array(quote_ident(a.attname),
                                    format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum), '[]')
                                  FROM pg_attribute a WHERE t.typtype = 'c' AND a.attrelid = t.typrelid
                                    AND a.attnum > 0 AND NOT a.attisdropped),
                   'comment', {}, 'acl', {})
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                 WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c'
                        AND (SELECT rc.relkind FROM pg_class rc WHERE rc.oid = t.typrelid) = 'c'))
                   AND {SCHEMAS} AND {}",
        comment("pg_type", "t.oid", "0"),
        acl("t.typacl", "T", "t.typowner"),
        not_in_extension("pg_type", "t.oid")
    )
}
