//! [`Snapshot`]: one database's schema, read in one transaction with a fixed number of
//! bulk catalog queries (one per kind of object), whatever the schema's size.

use std::collections::BTreeMap;

use postgres::Client;

use super::{CheckOptions, Kind};
use crate::database::server_version_num;
use crate::error::{Error, Result};

/// One object's attributes: name → value (`None` for SQL NULL).
pub type Attributes = BTreeMap<String, Option<String>>;

/// The objects of one kind, by key (`schema.table.column`, …).
pub type Objects = BTreeMap<String, Attributes>;

/// A database's schema, as far as the options ask.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// What reports call this database: its name, or the connection (password masked)
    /// when taken by [`crate::check`].
    pub name: String,
    /// The server's version number (`150004`).
    pub server_version_num: i32,
    /// The database's name.
    pub database: String,
    /// Objects per kind (only the kinds that were read).
    pub objects: BTreeMap<Kind, Objects>,
    /// How many queries reading it took.
    pub queries: usize,
}

/// The schema filter every query applies to `n.nspname`: never `pg_*` nor
/// `information_schema`, never an excluded schema (`$1`).
const SCHEMAS: &str = "n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' \
                       AND n.nspname <> ALL($1::text[])";

/// Leaves out objects that belong to an extension, unless `$2` asks for them.
fn not_in_extension(catalog: &str, oid: &str) -> String {
    format!(
        "($2 OR NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = '{catalog}'::regclass \
         AND d.objid = {oid} AND d.deptype = 'e'))"
    )
}

fn query(kind: Kind, column_order: bool, version: i32) -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    match kind {
        Kind::Schemas => format!(
            "SELECT n.nspname, jsonb_build_object() FROM pg_namespace n WHERE {SCHEMAS} \
             AND {}",
            not_in_extension("pg_namespace", "n.oid")
        ),
        Kind::Tables => format!(
            "SELECT n.nspname || '.' || c.relname, jsonb_build_object(
               'kind', CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table' ELSE 'table' END,
               'unlogged', c.relpersistence = 'u',
               'row_security', c.relrowsecurity,
               'force_row_security', c.relforcerowsecurity,
               'partition_key', CASE c.relkind WHEN 'p' THEN pg_get_partkeydef(c.oid) END,
               'partition_bound', pg_get_expr(c.relpartbound, c.oid),
               'inherits', (SELECT string_agg(i.inhparent::regclass::text, ', ' ORDER BY i.inhseqno)
                            FROM pg_inherits i WHERE i.inhrelid = c.oid),
               'options', array_to_string(c.reloptions, ', '))
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p', 'f') AND {SCHEMAS} AND {rel_ext}"
        ),
        Kind::Columns => format!(
            "SELECT n.nspname || '.' || c.relname || '.' || a.attname, jsonb_build_object(
               'type', format_type(a.atttypid, a.atttypmod),
               'not_null', a.attnotnull,
               'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
               'generated', CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
               'identity', CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END,
               'collation', CASE WHEN a.attcollation <> t.typcollation
                                 THEN (SELECT co.collname::text FROM pg_collation co WHERE co.oid = a.attcollation) END
               {position})
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_type t ON t.oid = a.atttypid
             LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
             WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
               AND {SCHEMAS} AND {rel_ext} AND NOT (a.attname::text LIKE ANY($3::text[]))",
            position = if column_order {
                ", 'position', a.attnum"
            } else {
                ""
            }
        ),
        Kind::Constraints => format!(
            "SELECT n.nspname || '.' || c.relname || '.' || co.conname, jsonb_build_object(
               'type', CASE co.contype WHEN 'p' THEN 'primary key' WHEN 'f' THEN 'foreign key'
                         WHEN 'u' THEN 'unique' WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion'
                         WHEN 't' THEN 'trigger' ELSE co.contype::text END,
               'definition', pg_get_constraintdef(co.oid, true),
               'deferrable', co.condeferrable,
               'deferred', co.condeferred,
               'validated', co.convalidated)
             FROM pg_constraint co
             JOIN pg_class c ON c.oid = co.conrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE {SCHEMAS} AND {rel_ext}"
        ),
        Kind::Views => format!(
            "SELECT n.nspname || '.' || c.relname, jsonb_build_object(
               'kind', CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END,
               'definition', pg_get_viewdef(c.oid, true),
               'options', array_to_string(c.reloptions, ', '))
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('v', 'm') AND {SCHEMAS} AND {rel_ext}"
        ),
        Kind::Sequences => format!(
            "SELECT n.nspname || '.' || c.relname, jsonb_build_object(
               'type', format_type(s.seqtypid, NULL),
               'start', s.seqstart::text,
               'minimum', s.seqmin::text,
               'maximum', s.seqmax::text,
               'increment', s.seqincrement::text,
               'cycle', s.seqcycle,
               'cache', s.seqcache::text,
               'owned_by', (SELECT d.refobjid::regclass::text || '.' || a.attname
                            FROM pg_depend d JOIN pg_attribute a
                              ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                              AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                            LIMIT 1))
             FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE {SCHEMAS} AND {rel_ext}"
        ),
        Kind::Indexes => format!(
            "SELECT n.nspname || '.' || ic.relname, jsonb_build_object(
               'table', c.oid::regclass::text,
               'definition', pg_get_indexdef(i.indexrelid),
               'constraint', co.conname)
             FROM pg_index i
             JOIN pg_class ic ON ic.oid = i.indexrelid
             JOIN pg_class c ON c.oid = i.indrelid
             JOIN pg_namespace n ON n.oid = ic.relnamespace
             LEFT JOIN pg_constraint co ON co.conindid = i.indexrelid AND co.conrelid = i.indrelid
                                       AND co.contype IN ('p', 'u', 'x')
             WHERE {SCHEMAS} AND {rel_ext}"
        ),
        Kind::Triggers => format!(
            "SELECT n.nspname || '.' || c.relname || '.' || tg.tgname, jsonb_build_object(
               'definition', pg_get_triggerdef(tg.oid, true),
               'enabled', tg.tgenabled::text)
             FROM pg_trigger tg
             JOIN pg_class c ON c.oid = tg.tgrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT tg.tgisinternal AND {SCHEMAS} AND {rel_ext}"
        ),
        Kind::Functions => format!(
            "SELECT p.oid::regprocedure::text, jsonb_build_object(
               'kind', CASE p.prokind WHEN 'f' THEN 'function' WHEN 'p' THEN 'procedure'
                         WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window function' END,
               'result', pg_get_function_result(p.oid),
               'arguments', pg_get_function_arguments(p.oid),
               'language', l.lanname,
               'volatility', CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END,
               'strict', p.proisstrict,
               'security_definer', p.prosecdef,
               'parallel', p.proparallel::text,
               'leakproof', p.proleakproof,
               'settings', array_to_string(p.proconfig, ', '),
               'body', {body})
             FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             JOIN pg_language l ON l.oid = p.prolang
             WHERE {SCHEMAS} AND {}",
            not_in_extension("pg_proc", "p.oid"),
            body = if version >= 140000 {
                "CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid) \
                 WHEN l.lanname = 'c' THEN NULL ELSE p.prosrc END"
            } else {
                "CASE WHEN l.lanname = 'c' THEN NULL ELSE p.prosrc END"
            }
        ),
        Kind::Rules => format!(
            "SELECT n.nspname || '.' || c.relname || '.' || r.rulename, jsonb_build_object(
               'definition', pg_get_ruledef(r.oid, true),
               'enabled', r.ev_enabled::text)
             FROM pg_rewrite r
             JOIN pg_class c ON c.oid = r.ev_class
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE r.rulename <> '_RETURN' AND {SCHEMAS} AND {rel_ext}"
        ),
        Kind::Extensions => "SELECT e.extname::text, jsonb_build_object(
               'version', e.extversion,
               'schema', n.nspname)
             FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
             WHERE e.extname <> 'plpgsql' AND n.nspname <> ALL($1::text[])"
            .to_string(),
        Kind::Enums | Kind::Domains | Kind::CompositeTypes => {
            let (typtype, attributes) = match kind {
                Kind::Enums => (
                    "e",
                    "'labels', (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                FROM pg_enum e WHERE e.enumtypid = t.oid)",
                ),
                Kind::Domains => (
                    "d",
                    "'base_type', format_type(t.typbasetype, t.typtypmod),
                     'not_null', t.typnotnull,
                     'default', t.typdefault,
                     'collation', CASE WHEN t.typcollation <> bt.typcollation
                                  THEN (SELECT co.collname::text FROM pg_collation co WHERE co.oid = t.typcollation) END,
                     'constraints', (SELECT string_agg(co.conname || ' ' || pg_get_constraintdef(co.oid, true), '; '
                                     ORDER BY co.conname) FROM pg_constraint co WHERE co.contypid = t.oid)",
                ),
                _ => (
                    "c",
                    "'attributes', (SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod),
                                    ', ' ORDER BY a.attnum) FROM pg_attribute a
                                    WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)",
                ),
            };
            let composite = if typtype == "c" {
                // Only free-standing composite types, not the row types of tables.
                "AND (SELECT rc.relkind FROM pg_class rc WHERE rc.oid = t.typrelid) = 'c'"
            } else {
                ""
            };
            format!(
                "SELECT n.nspname || '.' || t.typname, jsonb_build_object({attributes})
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                 LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
                 WHERE t.typtype = '{typtype}' {composite} AND {SCHEMAS} AND {}",
                not_in_extension("pg_type", "t.oid")
            )
        }
        Kind::Policies => format!(
            "SELECT n.nspname || '.' || c.relname || '.' || p.polname, jsonb_build_object(
               'command', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                            WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
               'permissive', p.polpermissive,
               'roles', (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END, ', '
                         ORDER BY 1) FROM unnest(p.polroles) r),
               'using', pg_get_expr(p.polqual, p.polrelid),
               'with_check', pg_get_expr(p.polwithcheck, p.polrelid))
             FROM pg_policy p
             JOIN pg_class c ON c.oid = p.polrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE {SCHEMAS} AND {rel_ext}"
        ),
        Kind::Privileges => format!(
            "WITH objects AS (
               SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view'
                        WHEN 'm' THEN 'materialized view' ELSE 'table' END AS kind,
                      c.oid::regclass::text AS name,
                      COALESCE(c.relacl, acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::\"char\", c.relowner)) AS acl,
                      c.relowner AS owner
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {SCHEMAS} AND {rel_ext}
               UNION ALL
               SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
                      p.oid::regprocedure::text, COALESCE(p.proacl, acldefault('f'::\"char\", p.proowner)), p.proowner
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE {SCHEMAS} AND {proc_ext}
               UNION ALL
               SELECT 'schema', quote_ident(n.nspname), COALESCE(n.nspacl, acldefault('n'::\"char\", n.nspowner)), n.nspowner
               FROM pg_namespace n WHERE {SCHEMAS} AND {nsp_ext}
               UNION ALL
               SELECT 'type', t.oid::regtype::text, COALESCE(t.typacl, acldefault('T'::\"char\", t.typowner)), t.typowner
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
               LEFT JOIN pg_class tc ON tc.oid = t.typrelid
               WHERE {SCHEMAS} AND {type_ext} AND t.typtype IN ('b', 'c', 'd', 'e', 'r', 'm')
                 AND NOT (t.typelem <> 0 AND t.typlen = -1) AND (t.typrelid = 0 OR tc.relkind = 'c')
               UNION ALL
               SELECT 'default privileges', 'on ' || CASE d.defaclobjtype WHEN 'r' THEN 'tables'
                        WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types'
                        WHEN 'n' THEN 'schemas' ELSE d.defaclobjtype::text END
                      || coalesce(' in schema ' || quote_ident(n.nspname), '')
                      || ' for ' || pg_get_userbyid(d.defaclrole)::text,
                      d.defaclacl, d.defaclrole
               FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
               WHERE d.defaclnamespace = 0 OR {SCHEMAS}),
             grants AS (
               SELECT o.kind, o.name, x.grantee,
                      string_agg(x.privilege_type || CASE WHEN x.is_grantable THEN ' (grantable)' ELSE '' END,
                                 ', ' ORDER BY x.privilege_type) AS privileges
               FROM objects o, aclexplode(o.acl) x
               WHERE x.grantee <> o.owner
               GROUP BY o.kind, o.name, x.grantee)
             SELECT o.kind || ' ' || o.name, COALESCE(g.privileges, '{{}}'::jsonb)
             FROM objects o
             LEFT JOIN (SELECT kind, name,
                               jsonb_object_agg(CASE WHEN grantee = 0 THEN 'public'
                                                ELSE pg_get_userbyid(grantee)::text END, privileges) AS privileges
                        FROM grants GROUP BY kind, name) g
               ON g.kind = o.kind AND g.name = o.name",
            proc_ext = not_in_extension("pg_proc", "p.oid"),
            nsp_ext = not_in_extension("pg_namespace", "n.oid"),
            type_ext = not_in_extension("pg_type", "t.oid"),
        ),
        Kind::Comments => format!(
            "WITH objects AS (
               SELECT 'pg_class'::regclass AS classid, c.oid AS objid, 0 AS objsubid,
                      CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                        WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' ELSE 'table' END
                      || ' ' || n.nspname || '.' || c.relname AS key
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S', 'i') AND {SCHEMAS} AND {rel_ext}
               UNION ALL
               SELECT 'pg_class'::regclass, a.attrelid, a.attnum,
                      'column ' || n.nspname || '.' || c.relname || '.' || a.attname
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
                 AND {SCHEMAS} AND {rel_ext} AND NOT (a.attname::text LIKE ANY($3::text[]))
               UNION ALL
               SELECT 'pg_proc'::regclass, p.oid, 0, 'function ' || p.oid::regprocedure::text
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE {SCHEMAS} AND {proc_ext}
               UNION ALL
               SELECT 'pg_namespace'::regclass, n.oid, 0, 'schema ' || n.nspname
               FROM pg_namespace n WHERE {SCHEMAS} AND {nsp_ext}
               UNION ALL
               SELECT 'pg_type'::regclass, t.oid, 0, 'type ' || n.nspname || '.' || t.typname
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
               WHERE (t.typtype IN ('e', 'd') OR (t.typtype = 'c'
                      AND (SELECT rc.relkind FROM pg_class rc WHERE rc.oid = t.typrelid) = 'c'))
                 AND {SCHEMAS} AND {type_ext}
               UNION ALL
               SELECT 'pg_constraint'::regclass, co.oid, 0,
                      'constraint ' || n.nspname || '.' || COALESCE(c.relname, t.typname) || '.' || co.conname
               FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
               LEFT JOIN pg_class c ON c.oid = co.conrelid LEFT JOIN pg_type t ON t.oid = co.contypid
               WHERE {SCHEMAS}
               UNION ALL
               SELECT 'pg_trigger'::regclass, tg.oid, 0, 'trigger ' || n.nspname || '.' || c.relname || '.' || tg.tgname
               FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE NOT tg.tgisinternal AND {SCHEMAS} AND {rel_ext}
               UNION ALL
               SELECT 'pg_policy'::regclass, po.oid, 0, 'policy ' || n.nspname || '.' || c.relname || '.' || po.polname
               FROM pg_policy po JOIN pg_class c ON c.oid = po.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE {SCHEMAS} AND {rel_ext}
               UNION ALL
               SELECT 'pg_rewrite'::regclass, r.oid, 0, 'rule ' || n.nspname || '.' || c.relname || '.' || r.rulename
               FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE r.rulename <> '_RETURN' AND {SCHEMAS} AND {rel_ext})
             SELECT o.key, jsonb_build_object('comment', d.description)
             FROM objects o
             LEFT JOIN pg_description d
               ON d.classoid = o.classid AND d.objoid = o.objid AND d.objsubid = o.objsubid",
            proc_ext = not_in_extension("pg_proc", "p.oid"),
            type_ext = not_in_extension("pg_type", "t.oid"),
            nsp_ext = not_in_extension("pg_namespace", "n.oid"),
        ),
        Kind::Owners => format!(
            "SELECT kind || ' ' || name, jsonb_build_object('owner', pg_get_userbyid(owner)::text) FROM (
               SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                        ELSE 'table' END AS kind, c.oid::regclass::text AS name, c.relowner AS owner
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {SCHEMAS} AND {rel_ext}
               UNION ALL
               SELECT 'function', p.oid::regprocedure::text, p.proowner
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE {SCHEMAS} AND {proc_ext}
               UNION ALL
               SELECT 'type', t.oid::regtype::text, t.typowner
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
               WHERE t.typtype IN ('e', 'd') AND {SCHEMAS} AND {type_ext}
               UNION ALL
               SELECT 'schema', quote_ident(n.nspname), n.nspowner FROM pg_namespace n
               WHERE {SCHEMAS} AND {nsp_ext}) owned",
            proc_ext = not_in_extension("pg_proc", "p.oid"),
            type_ext = not_in_extension("pg_type", "t.oid"),
            nsp_ext = not_in_extension("pg_namespace", "n.oid"),
        ),
    }
}

impl Snapshot {
    /// Reads the schema of the database `client` is connected to.
    ///
    /// Runs in one `REPEATABLE READ READ ONLY` transaction, with `search_path` emptied so
    /// that every name in a definition is schema-qualified the same way in every database.
    ///
    /// # Errors
    /// [`Error::Sql`] when a catalog query fails.
    pub fn take(client: &mut Client, options: &CheckOptions) -> Result<Snapshot> {
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| Error::sql("start the snapshot transaction", &e))?;
        let database: String = tx
            .query_one(
                "SELECT current_database()::text, pg_catalog.set_config('search_path', '', true)",
                &[],
            )
            .map_err(|e| Error::sql("empty search_path", &e))?
            .get(0);
        let mut snapshot = Snapshot {
            name: database.clone(),
            server_version_num: server_version_num(&mut tx)?,
            database,
            objects: BTreeMap::new(),
            queries: 1,
        };
        let excluded: Vec<&str> = options.exclude_schemas.iter().map(String::as_str).collect();
        let patterns: Vec<&str> = options
            .exclude_column_patterns
            .iter()
            .map(String::as_str)
            .collect();
        for kind in options.kinds() {
            let inner = query(kind, options.column_order, snapshot.server_version_num);
            let sql = format!("SELECT k::text, a::text FROM ({inner}) q(k, a)");
            let uses = |n: &str| sql.contains(n);
            let include_extension_objects = options.include_extension_objects;
            // Every query takes the parameters it mentions, in order.
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> = match (uses("$2"), uses("$3")) {
                (_, true) => vec![&excluded, &include_extension_objects, &patterns],
                (true, false) => vec![&excluded, &include_extension_objects],
                (false, false) => vec![&excluded],
            };
            let rows = tx
                .query(&sql, &params)
                .map_err(|e| Error::sql(format!("read the {}", kind.name()), &e))?;
            snapshot.queries += 1;
            let mut objects = Objects::new();
            for row in rows {
                let key: String = row.get(0);
                let attributes: String = row.get(1);
                objects.insert(key, parse_attributes(&attributes)?);
            }
            snapshot.objects.insert(kind, objects);
        }
        tx.commit()
            .map_err(|e| Error::sql("end the snapshot transaction", &e))?;
        Ok(snapshot)
    }

    /// The server's major version (`15`).
    pub fn major_version(&self) -> i32 {
        self.server_version_num / 10000
    }
}

fn parse_attributes(text: &str) -> Result<Attributes> {
    let value: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| Error::Sql {
            context: "read the catalog".into(),
            message: format!("unreadable row: {e}"),
            code: None,
        })?;
    Ok(value
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s),
                other => Some(other.to_string()),
            };
            (k, v)
        })
        .collect())
}
