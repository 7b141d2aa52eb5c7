//! Tables and their columns.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::Grant;
use super::catalog::{SCHEMAS, acl, comment, not_in_extension};

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ColumnDef {
    /// Quoted name.
    pub name: String,
    /// `format_type` of its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its collation (quoted), when not its type's.
    pub collation: Option<String>,
    /// NOT NULL.
    pub not_null: bool,
    /// Its default expression.
    pub default: Option<String>,
    /// `a` (always) or `d` (by default) for identity columns.
    pub identity: Option<String>,
    /// The identity sequence's options (`START WITH 1 INCREMENT BY 1 …`).
    pub identity_options: Option<String>,
    /// Its generation expression (stored generated columns).
    pub generated: Option<String>,
    /// Its comment.
    pub comment: Option<String>,
}

/// A table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TableDef {
    /// Quoted, qualified name.
    pub name: String,
    /// `r` (table) or `p` (partitioned), `f` (foreign).
    pub kind: String,
    /// UNLOGGED.
    pub unlogged: bool,
    /// The partitioned table's key (`RANGE (x)`).
    pub partition_key: Option<String>,
    /// For a partition: its parent and bound (`FOR VALUES …`).
    pub partition_of: Option<String>,
    /// The partition bound.
    pub partition_bound: Option<String>,
    /// The tables it inherits from (quoted, qualified), in order.
    #[serde(default)]
    pub inherits: Vec<String>,
    /// Its own columns (not inherited ones), in order.
    pub columns: Vec<ColumnDef>,
    /// Row level security enabled.
    pub row_security: bool,
    /// Row level security forced on the owner too.
    #[serde(default)]
    pub force_row_security: bool,
    /// Storage parameters (`fillfactor=70, autovacuum_enabled=false`).
    pub options: Option<String>,
    /// A foreign table's server (quoted).
    pub foreign_server: Option<String>,
    /// A foreign table's options (`table_name 'x'`).
    pub foreign_options: Option<String>,
    /// Its comment.
    pub comment: Option<String>,
    /// Its privileges.
    #[serde(default)]
    pub acl: BTreeSet<Grant>,
}

/// The query reading the tables.
pub(super) fn tables() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT jsonb_build_object(
                   'name', format('%I.%I', n.nspname, c.relname),
                   'kind', c.relkind::text,
                   'unlogged', c.relpersistence = 'u',
                   'partition_key', CASE c.relkind WHEN 'p' THEN pg_get_partkeydef(c.oid) END,
                   'partition_of', (SELECT i.inhparent::regclass::text FROM pg_inherits i
                                    WHERE i.inhrelid = c.oid AND c.relispartition),
                   'partition_bound', pg_get_expr(c.relpartbound, c.oid),
                   'inherits', (SELECT coalesce(jsonb_agg(i.inhparent::regclass::text ORDER BY i.inhseqno), '[]')
                                FROM pg_inherits i WHERE i.inhrelid = c.oid AND NOT c.relispartition),
                   'row_security', c.relrowsecurity,
                   'force_row_security', c.relforcerowsecurity,
                   'options', array_to_string(c.reloptions, ', '),
                   'foreign_server', (SELECT quote_ident(fs.srvname) FROM pg_foreign_table ft
                                      JOIN pg_foreign_server fs ON fs.oid = ft.ftserver WHERE ft.ftrelid = c.oid),
                   'foreign_options', (SELECT string_agg(format('%I %L', o.option_name, o.option_value), ', ')
                                       FROM pg_foreign_table ft, pg_options_to_table(ft.ftoptions) o
                                       WHERE ft.ftrelid = c.oid),
                   'comment', {table_comment},
                   'acl', {table_acl},
                   'columns', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'name', quote_ident(a.attname),
                       'type', format_type(a.atttypid, a.atttypmod),
                       'collation', CASE WHEN a.attcollation <> t.typcollation
                         THEN (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co
                               JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END,
                       'not_null', a.attnotnull,
                       'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
                       'generated', CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
                       'identity', nullif(a.attidentity::text, ''),
                       'identity_options', (SELECT format('START WITH %s INCREMENT BY %s MINVALUE %s MAXVALUE %s CACHE %s %s',
                              s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache,
                              CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END)
                            FROM pg_depend d JOIN pg_sequence s ON s.seqrelid = d.objid
                            WHERE a.attidentity <> '' AND d.classid = 'pg_class'::regclass
                              AND d.refobjid = c.oid AND d.refobjsubid = a.attnum AND d.deptype = 'i'),
                       'comment', {column_comment}) ORDER BY a.attnum), '[]')
                     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                     LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attislocal))
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'p', 'f') AND {SCHEMAS} AND {rel_ext}",
        table_comment = comment("pg_class", "c.oid", "0"),
        table_acl = acl("c.relacl", "r", "c.relowner"),
        column_comment = comment("pg_class", "c.oid", "a.attnum"),
    )
}
