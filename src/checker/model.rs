//! [`Model`]: one database's schema read for writing SQL (autogenerate): every object with
//! its name quoted by the server, its definition as PostgreSQL renders it, and what
//! depends on what, read like a [`super::Snapshot`] in one `REPEATABLE READ READ ONLY`
//! transaction with an empty `search_path` and a fixed number of bulk queries.
//!
//! Names (`"s"."t"`) are keys: the same object in two databases has the same key.
//! `pg_*` schemas, `information_schema`, the schemas asked to be left out and objects that
//! belong to extensions are not read.

use std::collections::{BTreeMap, BTreeSet};

use postgres::Client;
use serde::Deserialize;

use crate::error::{Error, Result};

/// A privilege granted on an object: (grantee — `PUBLIC` or a quoted role —, privilege,
/// with grant option). The owner's own privileges are not listed.
pub type Grant = (String, String, bool);

/// A schema.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SchemaDef {
    /// Quoted name.
    pub name: String,
    /// Its comment.
    pub comment: Option<String>,
    /// Its privileges.
    #[serde(default)]
    pub acl: BTreeSet<Grant>,
}

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

/// A table constraint (not NOT NULL).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConstraintDef {
    /// The table (quoted, qualified).
    pub table: String,
    /// Quoted name.
    pub name: String,
    /// `p`, `u`, `c`, `f`, `x`.
    pub kind: String,
    /// `pg_get_constraintdef`.
    pub definition: String,
    /// For a foreign key: the table it references.
    pub references: Option<String>,
    /// Its comment.
    pub comment: Option<String>,
}

/// An index that backs no constraint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IndexDef {
    /// Quoted, qualified name.
    pub name: String,
    /// The table or materialized view.
    pub table: String,
    /// `pg_get_indexdef`: a whole `CREATE INDEX`.
    pub definition: String,
    /// Its comment.
    pub comment: Option<String>,
}

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

/// A function or procedure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FunctionDef {
    /// `"s"."f"(integer, text)`: quoted name and identity arguments.
    pub signature: String,
    /// `f` function, `p` procedure.
    pub kind: String,
    /// Its language.
    pub language: String,
    /// Its result type (`pg_get_function_result`).
    pub result: Option<String>,
    /// Its arguments with names and defaults (`pg_get_function_arguments`).
    pub arguments: String,
    /// `pg_get_functiondef`: a whole `CREATE OR REPLACE`.
    pub definition: String,
    /// Its body is SQL-standard (`BEGIN ATOMIC`, `RETURN`): parsed, with dependencies, at
    /// creation.
    #[serde(default)]
    pub sql_body: bool,
    /// Its comment.
    pub comment: Option<String>,
    /// Its privileges.
    #[serde(default)]
    pub acl: BTreeSet<Grant>,
}

/// A trigger.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TriggerDef {
    /// The table or view.
    pub table: String,
    /// Quoted name.
    pub name: String,
    /// `pg_get_triggerdef`.
    pub definition: String,
    /// The function it runs (signature).
    pub function: String,
    /// `O`, `D`, `R`, `A`: enabled how.
    pub enabled: String,
    /// Its comment.
    pub comment: Option<String>,
}

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

/// An extension.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExtensionDef {
    /// Quoted name.
    pub name: String,
    /// The schema of its objects (quoted).
    pub schema: String,
    /// Its version.
    pub version: String,
}

/// One database's schema, for writing the SQL that turns it into another.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Schemas, by quoted name.
    pub schemas: BTreeMap<String, SchemaDef>,
    /// Extensions, by quoted name.
    pub extensions: BTreeMap<String, ExtensionDef>,
    /// Tables, by quoted qualified name.
    pub tables: BTreeMap<String, TableDef>,
    /// Constraints, by (table, name).
    pub constraints: BTreeMap<(String, String), ConstraintDef>,
    /// Indexes, by quoted qualified name.
    pub indexes: BTreeMap<String, IndexDef>,
    /// Views, by quoted qualified name.
    pub views: BTreeMap<String, ViewDef>,
    /// Sequences, by quoted qualified name.
    pub sequences: BTreeMap<String, SequenceDef>,
    /// Functions and procedures, by signature.
    pub functions: BTreeMap<String, FunctionDef>,
    /// Triggers, by (table, name).
    pub triggers: BTreeMap<(String, String), TriggerDef>,
    /// Enums, domains, composite and range types, by quoted qualified name.
    pub types: BTreeMap<String, TypeDef>,
    /// Rules, by (table, name).
    pub rules: BTreeMap<(String, String), RuleDef>,
    /// Who default privileges (`ALTER DEFAULT PRIVILEGES`) may give something to (and
    /// `PUBLIC`, which they may take from), by kind of object (`r` relations, `S`
    /// sequences, `f` routines, `T` types, `n` schemas): a new object of that kind does not
    /// start with the built-in privileges.
    pub default_grantees: BTreeMap<String, BTreeSet<String>>,
    /// Kinds of object present that SQL is not written for (policies, aggregates, default
    /// privileges): listed, so that a difference can be pointed out.
    pub unsupported: BTreeMap<String, BTreeSet<String>>,
    /// How many catalog queries reading it took.
    pub queries: usize,
}

const SCHEMAS: &str = "n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' \
                       AND n.nspname <> ALL($1::text[])";

fn not_in_extension(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = '{catalog}'::regclass \
         AND d.objid = {oid} AND d.deptype = 'e')"
    )
}

/// `aclexplode` of an object's privileges as a JSON array of [grantee, privilege,
/// grantable], without the owner's own.
fn acl(acl: &str, kind: &str, owner: &str) -> String {
    format!(
        "(SELECT coalesce(jsonb_agg(jsonb_build_array(
            CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END,
            x.privilege_type, x.is_grantable) ORDER BY 1), '[]'::jsonb)
          FROM aclexplode(coalesce({acl}, acldefault('{kind}'::\"char\", {owner}))) x
          WHERE x.grantee <> {owner})"
    )
}

fn comment(catalog: &str, oid: &str, sub: &str) -> String {
    format!(
        "(SELECT d.description FROM pg_description d WHERE d.classoid = '{catalog}'::regclass \
         AND d.objoid = {oid} AND d.objsubid = {sub})"
    )
}

fn queries(version: i32) -> Vec<(&'static str, String)> {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    let sql_body = if version >= 140000 {
        "p.prosqlbody IS NOT NULL"
    } else {
        "false"
    };
    vec![
        (
            "schemas",
            format!(
                "SELECT jsonb_build_object('name', quote_ident(n.nspname),
                   'comment', {}, 'acl', {})
                 FROM pg_namespace n WHERE {SCHEMAS} AND {}",
                comment("pg_namespace", "n.oid", "0"),
                acl("n.nspacl", "n", "n.nspowner"),
                not_in_extension("pg_namespace", "n.oid")
            ),
        ),
        (
            "extensions",
            "SELECT jsonb_build_object('name', quote_ident(e.extname), 'schema', quote_ident(n.nspname),
               'version', e.extversion)
             FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
             WHERE e.extname <> 'plpgsql' AND n.nspname <> ALL($1::text[])"
                .to_string(),
        ),
        (
            "tables",
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
            ),
        ),
        (
            "constraints",
            format!(
                "SELECT jsonb_build_object(
                   'table', format('%I.%I', n.nspname, c.relname),
                   'name', quote_ident(co.conname),
                   'kind', co.contype::text,
                   'definition', pg_get_constraintdef(co.oid),
                   'references', CASE WHEN co.contype = 'f' THEN co.confrelid::regclass::text END,
                   'comment', {})
                 FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE co.contype IN ('p', 'u', 'c', 'f', 'x') AND co.conislocal
                   AND {SCHEMAS} AND {rel_ext}",
                comment("pg_constraint", "co.oid", "0")
            ),
        ),
        (
            "indexes",
            format!(
                "SELECT jsonb_build_object(
                   'name', format('%I.%I', n.nspname, ic.relname),
                   'table', format('%I.%I', tn.nspname, c.relname),
                   'definition', pg_get_indexdef(i.indexrelid),
                   'comment', {})
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                 JOIN pg_namespace n ON n.oid = ic.relnamespace
                 JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = c.relnamespace
                 WHERE NOT EXISTS (SELECT FROM pg_constraint co WHERE co.conindid = i.indexrelid
                                   AND co.contype IN ('p', 'u', 'x'))
                   AND NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
                   AND {SCHEMAS} AND {}",
                comment("pg_class", "ic.oid", "0"),
                not_in_extension("pg_class", "c.oid")
            ),
        ),
        (
            "views",
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
            ),
        ),
        (
            "sequences",
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
            ),
        ),
        (
            "functions",
            format!(
                "SELECT jsonb_build_object(
                   'signature', format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
                   'kind', p.prokind::text,
                   'language', l.lanname,
                   'result', pg_get_function_result(p.oid),
                   'arguments', pg_get_function_arguments(p.oid),
                   'definition', pg_get_functiondef(p.oid),
                   'sql_body', {sql_body},
                   'comment', {}, 'acl', {})
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 JOIN pg_language l ON l.oid = p.prolang
                 WHERE p.prokind IN ('f', 'p') AND {SCHEMAS} AND {}
                   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                                   AND d.objid = p.oid AND d.deptype = 'i')",
                comment("pg_proc", "p.oid", "0"),
                acl("p.proacl", "f", "p.proowner"),
                not_in_extension("pg_proc", "p.oid")
            ),
        ),
        (
            "triggers",
            format!(
                "SELECT jsonb_build_object(
                   'table', format('%I.%I', n.nspname, c.relname),
                   'name', quote_ident(tg.tgname),
                   'definition', pg_get_triggerdef(tg.oid),
                   'function', format('%I.%I(%s)', pn.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
                   'enabled', tg.tgenabled::text,
                   'comment', {})
                 FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_proc p ON p.oid = tg.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace
                 WHERE NOT tg.tgisinternal AND tg.tgparentid = 0 AND {SCHEMAS} AND {rel_ext}",
                comment("pg_trigger", "tg.oid", "0")
            ),
        ),
        (
            "types",
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
            ),
        ),
        (
            "rules",
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
            ),
        ),
        (
            "default_grantees",
            format!(
                "SELECT DISTINCT jsonb_build_object('kind', d.defaclobjtype::text,
                   'name', CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END)
                 FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace,
                 LATERAL (SELECT e.grantee FROM aclexplode(d.defaclacl) e WHERE e.grantee <> d.defaclrole
                          UNION SELECT 0) x
                 WHERE d.defaclnamespace = 0 OR {SCHEMAS}"
            ),
        ),
        (
            "unsupported",
            format!(
                "SELECT jsonb_build_object('kind', kind, 'name', name) FROM (
                   SELECT 'policies' AS kind, format('%I.%I.%I %s %s %s %s', n.nspname, c.relname, p.polname,
                          p.polcmd, p.polpermissive, pg_get_expr(p.polqual, p.polrelid),
                          pg_get_expr(p.polwithcheck, p.polrelid)) AS name
                   FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {SCHEMAS}
                   UNION ALL
                   SELECT 'aggregates', format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
                   FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE p.prokind IN ('a', 'w') AND {SCHEMAS} AND {proc_ext}
                   UNION ALL
                   SELECT 'default privileges', format('%s %s %s', d.defaclrole::regrole, coalesce(n.nspname, ''),
                          d.defaclacl)
                   FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
                   WHERE d.defaclnamespace = 0 OR {SCHEMAS}) u",
                proc_ext = not_in_extension("pg_proc", "p.oid")
            ),
        ),
    ]
}

impl Model {
    /// Reads the schema of the database `client` is connected to, leaving out the
    /// schemas `exclude` names.
    ///
    /// # Errors
    /// [`Error::Sql`] when a catalog query fails.
    pub fn read(client: &mut Client, exclude: &[String]) -> Result<Model> {
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| Error::sql("start the model transaction", &e))?;
        tx.batch_execute("SELECT pg_catalog.set_config('search_path', '', true)")
            .map_err(|e| Error::sql("empty search_path", &e))?;
        let mut model = Model {
            queries: 1,
            ..Model::default()
        };
        let version = crate::database::server_version_num(&mut tx)?;
        for (what, sql) in queries(version) {
            let rows = tx
                .query(&format!("SELECT o::text FROM ({sql}) q(o)"), &[&exclude])
                .map_err(|e| Error::sql(format!("read the {what}"), &e))?;
            model.queries += 1;
            for row in rows {
                let text: String = row.get(0);
                model.add(what, &text)?;
            }
        }
        tx.commit()
            .map_err(|e| Error::sql("end the model transaction", &e))?;
        Ok(model)
    }

    fn add(&mut self, what: &str, json: &str) -> Result<()> {
        fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T> {
            serde_json::from_str(json).map_err(|e| Error::Sql {
                context: "read the catalog".into(),
                message: format!("unreadable row: {e}"),
                code: None,
            })
        }
        match what {
            "schemas" => {
                let s: SchemaDef = parse(json)?;
                self.schemas.insert(s.name.clone(), s);
            }
            "extensions" => {
                let e: ExtensionDef = parse(json)?;
                self.extensions.insert(e.name.clone(), e);
            }
            "tables" => {
                let t: TableDef = parse(json)?;
                self.tables.insert(t.name.clone(), t);
            }
            "constraints" => {
                let c: ConstraintDef = parse(json)?;
                self.constraints
                    .insert((c.table.clone(), c.name.clone()), c);
            }
            "indexes" => {
                let i: IndexDef = parse(json)?;
                self.indexes.insert(i.name.clone(), i);
            }
            "views" => {
                let v: ViewDef = parse(json)?;
                self.views.insert(v.name.clone(), v);
            }
            "sequences" => {
                let s: SequenceDef = parse(json)?;
                self.sequences.insert(s.name.clone(), s);
            }
            "functions" => {
                let f: FunctionDef = parse(json)?;
                self.functions.insert(f.signature.clone(), f);
            }
            "triggers" => {
                let t: TriggerDef = parse(json)?;
                self.triggers.insert((t.table.clone(), t.name.clone()), t);
            }
            "types" => {
                let t: TypeDef = parse(json)?;
                self.types.insert(t.name.clone(), t);
            }
            "rules" => {
                let r: RuleDef = parse(json)?;
                self.rules.insert((r.table.clone(), r.name.clone()), r);
            }
            "default_grantees" => {
                #[derive(Deserialize)]
                struct Grantee {
                    kind: String,
                    name: String,
                }
                let g: Grantee = parse(json)?;
                self.default_grantees
                    .entry(g.kind)
                    .or_default()
                    .insert(g.name);
            }
            _ => {
                #[derive(Deserialize)]
                struct Other {
                    kind: String,
                    name: String,
                }
                let o: Other = parse(json)?;
                self.unsupported.entry(o.kind).or_default().insert(o.name);
            }
        }
        Ok(())
    }

    /// Leaves table `name` out, with its constraints, indexes and triggers (pum's own
    /// migrations table, which autogenerate must not touch).
    pub fn forget_table(&mut self, name: &str) {
        self.tables.remove(name);
        self.constraints.retain(|(table, _), _| table != name);
        self.indexes.retain(|_, index| index.table != name);
        self.triggers.retain(|(table, _), _| table != name);
        self.rules.retain(|(table, _), _| table != name);
    }

    /// The schema part of a qualified quoted name (`"s"` of `"s"."t"`).
    pub fn schema_of(name: &str) -> &str {
        split_qualified(name).0
    }
}

/// `"s"."t"` → (`"s"`, `"t"`); a quoted part may hold dots and doubled quotes.
pub(crate) fn split_qualified(name: &str) -> (&str, &str) {
    let mut in_quotes = false;
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                if in_quotes && bytes.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                in_quotes = !in_quotes;
            }
            b'.' if !in_quotes => return (&name[..i], &name[i + 1..]),
            _ => {}
        }
        i += 1;
    }
    ("", name)
}

/// `"s"."t"."c"` → (`"s"."t"`, `"c"`): the column of a qualified column name.
pub(crate) fn split_qualified_column(name: &str) -> (&str, &str) {
    let (schema, rest) = split_qualified(name);
    let (table, column) = split_qualified(rest);
    if schema.is_empty() || table.is_empty() {
        return (schema, rest);
    }
    (&name[..schema.len() + 1 + table.len()], column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_split_outside_quotes() {
        assert_eq!(split_qualified("s.t"), ("s", "t"));
        assert_eq!(
            split_qualified("\"a.b\".\"c\"\"d\""),
            ("\"a.b\"", "\"c\"\"d\"")
        );
        assert_eq!(split_qualified("t"), ("", "t"));
        assert_eq!(
            split_qualified_column("\"s\".t.\"c.d\""),
            ("\"s\".t", "\"c.d\"")
        );
    }
}
