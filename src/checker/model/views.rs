//! Views, materialized views and rules, with what each view reads.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::Grant;
use super::catalog::{SCHEMAS, acl, comment, not_in_extension};

/// A view or materialized view.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ViewDef {
    /// Quoted, qualified name.
    pub name: String,
    /// Materialized.
    pub materialized: bool,
    /// `pg_get_viewdef`.
    pub definition: String,
    /// `WITH (…)` options.
    pub options: Option<String>,
    /// Its columns' names and types, in order.
    pub columns: Vec<(String, String)>,
    /// Its columns' comments.
    #[serde(default)]
    pub column_comments: BTreeMap<String, String>,
    /// The relations (tables, views) it reads.
    #[serde(default)]
    pub relations: BTreeSet<String>,
    /// The columns it reads (`"s"."t"."c"`).
    #[serde(default)]
    pub columns_read: BTreeSet<String>,
    /// Its columns' defaults (`ALTER VIEW … ALTER COLUMN … SET DEFAULT`).
    #[serde(default)]
    pub column_defaults: BTreeMap<String, String>,
    /// The functions it calls (signatures).
    #[serde(default)]
    pub functions: BTreeSet<String>,
    /// Its comment.
    pub comment: Option<String>,
    /// Its privileges.
    #[serde(default)]
    pub acl: BTreeSet<Grant>,
}

/// A rule (not a view's `_RETURN`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RuleDef {
    /// The table or view (quoted, qualified).
    pub table: String,
    /// Quoted name.
    pub name: String,
    /// `pg_get_ruledef`: a whole `CREATE RULE`.
    pub definition: String,
    /// Its comment.
    pub comment: Option<String>,
}

/// The query reading the views.
pub(super) fn views() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT jsonb_build_object(
                   'name', format('%I.%I', n.nspname, c.relname),
                   'materialized', c.relkind = 'm',
                   'definition', pg_get_viewdef(c.oid),
                   'options', array_to_string(c.reloptions, ', '),
                   'columns', (SELECT coalesce(jsonb_agg(jsonb_build_array(quote_ident(a.attname),
                                 format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum), '[]')
                               FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
                   'column_comments', (SELECT coalesce(jsonb_object_agg(quote_ident(a.attname), d.description), '{{}}')
                               FROM pg_attribute a JOIN pg_description d ON d.classoid = 'pg_class'::regclass
                                 AND d.objoid = c.oid AND d.objsubid = a.attnum
                               WHERE a.attrelid = c.oid AND a.attnum > 0),
                   'relations', (SELECT coalesce(jsonb_agg(DISTINCT format('%I.%I', rn.nspname, rc.relname)), '[]')
                               FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                               JOIN pg_class rc ON rc.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass
                               JOIN pg_namespace rn ON rn.oid = rc.relnamespace
                               WHERE r.ev_class = c.oid AND rc.oid <> c.oid),
                   'columns_read', (SELECT coalesce(jsonb_agg(DISTINCT format('%I.%I.%I', rn.nspname, rc.relname,
                                   (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = rc.oid
                                    AND a.attnum = d.refobjsubid))), '[]')
                               FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                               JOIN pg_class rc ON rc.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass
                               JOIN pg_namespace rn ON rn.oid = rc.relnamespace
                               WHERE r.ev_class = c.oid AND rc.oid <> c.oid AND d.refobjsubid <> 0),
                   'column_defaults', (SELECT coalesce(jsonb_object_agg(quote_ident(a.attname),
                                 pg_get_expr(ad.adbin, ad.adrelid)), '{{}}')
                               FROM pg_attribute a JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                               WHERE a.attrelid = c.oid AND a.attnum > 0),
                   'functions', (SELECT coalesce(jsonb_agg(DISTINCT format('%I.%I(%s)', pn.nspname, p.proname,
                                   pg_get_function_identity_arguments(p.oid))), '[]')
                               FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                               JOIN pg_proc p ON p.oid = d.refobjid AND d.refclassid = 'pg_proc'::regclass
                               JOIN pg_namespace pn ON pn.oid = p.pronamespace
                               WHERE r.ev_class = c.oid AND pn.nspname NOT LIKE 'pg\\_%' AND pn.nspname <> 'information_schema'),
                   'comment', {},
                   'acl', {})
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('v', 'm') AND {SCHEMAS} AND {rel_ext}",
        comment("pg_class", "c.oid", "0"),
        acl("c.relacl", "r", "c.relowner")
    )
}

/// The query reading the rules.
pub(super) fn rules() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT jsonb_build_object(
                   'table', format('%I.%I', n.nspname, c.relname),
                   'name', quote_ident(r.rulename),
                   'definition', pg_get_ruledef(r.oid),
                   'comment', {})
                 FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE r.rulename <> '_RETURN' AND {SCHEMAS} AND {rel_ext}",
        comment("pg_rewrite", "r.oid", "0")
    )
}
