//! [`Snapshot`]: one database's schema, read in one transaction with a fixed number of
//! bulk catalog queries (one per kind of object), whatever the schema's size.

use std::collections::BTreeMap;

use postgres::Client;
use postgres::types::Type;

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
        "($2 OR NOT EXISTS (SELECT FROM pg_depend ext WHERE ext.classid = '{catalog}'::regclass \
         AND ext.objid = {oid} AND ext.deptype = 'e'))"
    )
}

/// Leaves out objects PostgreSQL made as part of another (the constructors of range and
/// multirange types, their casts), which pg_dump does not dump either.
fn not_internal(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT FROM pg_depend int WHERE int.classid = '{catalog}'::regclass \
         AND int.objid = {oid} AND int.deptype = 'i')"
    )
}

/// A role's name, `public` for 0 (`expr` is a role oid).
fn role_name(expr: &str) -> String {
    format!("CASE WHEN {expr} = 0 THEN 'public' ELSE pg_get_userbyid({expr})::text END")
}

/// A function oid column (`regproc`, possibly 0) as its qualified name, NULL for none.
fn proc_name(expr: &str) -> String {
    format!("NULLIF({expr}::oid, 0)::regproc::text")
}

fn query(kind: Kind, column_order: bool, version: i32) -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    let type_ext = not_in_extension("pg_type", "t.oid");
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
               'options', array_to_string(c.reloptions, ', '),
               'toast_options', array_to_string(tc.reloptions, ', '),
               'access_method', am.amname,
               'of', CASE WHEN c.reloftype <> 0 THEN c.reloftype::regtype::text END,
               'replica_identity', CASE c.relreplident WHEN 'n' THEN 'nothing' WHEN 'f' THEN 'full'
                                     WHEN 'i' THEN 'index ' || ix.replica_identity END,
               'cluster_on', ix.cluster_on,
               'server', fs.srvname,
               'foreign_options', array_to_string(ft.ftoptions, ', '))
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
             LEFT JOIN pg_am am ON am.oid = c.relam
             LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
             LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
             LEFT JOIN LATERAL (
               SELECT min(xc.relname::text) FILTER (WHERE x.indisreplident) AS replica_identity,
                      min(xc.relname::text) FILTER (WHERE x.indisclustered) AS cluster_on
               FROM pg_index x JOIN pg_class xc ON xc.oid = x.indexrelid
               WHERE x.indrelid = c.oid AND (x.indisreplident OR x.indisclustered)) ix ON true
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
                                 THEN (SELECT co.collname::text FROM pg_collation co WHERE co.oid = a.attcollation) END,
               'storage', CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END,
               'statistics', CASE WHEN a.attstattarget >= 0 THEN a.attstattarget::text END,
               'options', array_to_string(a.attoptions, ', '),
               'fdw_options', array_to_string(a.attfdwoptions, ', '),
               'local', CASE WHEN a.attinhcount > 0 THEN a.attislocal END
               {compression}
               {position})
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_type t ON t.oid = a.atttypid
             LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
             WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
               AND {SCHEMAS} AND {rel_ext} AND NOT (a.attname::text LIKE ANY($3::text[]))",
            compression = if version >= 140000 {
                ", 'compression', NULLIF(a.attcompression::text, '')"
            } else {
                ""
            },
            // The logical position among the columns compared: dropped columns (and
            // columns left out by pattern) leave no gap.
            position = if column_order {
                ", 'position', row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum)"
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
               'validated', co.convalidated,
               'local', CASE WHEN co.coninhcount > 0 THEN co.conislocal END)
             FROM pg_constraint co
             JOIN pg_class c ON c.oid = co.conrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE {SCHEMAS} AND {rel_ext}"
        ),
        Kind::Views => format!(
            "SELECT n.nspname || '.' || c.relname, jsonb_build_object(
               'kind', CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END,
               'definition', pg_get_viewdef(c.oid, true),
               'options', array_to_string(c.reloptions, ', '),
               'access_method', am.amname,
               'cluster_on', (SELECT xc.relname::text FROM pg_index x JOIN pg_class xc ON xc.oid = x.indexrelid
                              WHERE x.indrelid = c.oid AND x.indisclustered))
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_am am ON am.oid = c.relam
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
        ),
        Kind::Indexes => format!(
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
               'cost', p.procost::text,
               'rows', p.prorows::text,
               'support', {support},
               'aggregate', CASE WHEN ag.aggfnoid IS NOT NULL THEN concat_ws(', ',
                  'kind = ' || ag.aggkind::text,
                  'direct arguments = ' || NULLIF(ag.aggnumdirectargs, 0)::text,
                  'sfunc = ' || {sfunc},
                  'stype = ' || format_type(ag.aggtranstype, NULL),
                  'sspace = ' || NULLIF(ag.aggtransspace, 0)::text,
                  'finalfunc = ' || {finalfunc},
                  CASE WHEN ag.aggfinalextra THEN 'finalfunc_extra' END,
                  'finalfunc_modify = ' || ag.aggfinalmodify::text,
                  'combinefunc = ' || {combinefunc},
                  'serialfunc = ' || {serialfunc},
                  'deserialfunc = ' || {deserialfunc},
                  'initcond = ' || quote_literal(ag.agginitval),
                  'msfunc = ' || {msfunc},
                  'minvfunc = ' || {minvfunc},
                  'mstype = ' || CASE WHEN ag.aggmtranstype <> 0 THEN format_type(ag.aggmtranstype, NULL) END,
                  'msspace = ' || NULLIF(ag.aggmtransspace, 0)::text,
                  'mfinalfunc = ' || {mfinalfunc},
                  CASE WHEN ag.aggmfinalextra THEN 'mfinalfunc_extra' END,
                  'mfinalfunc_modify = ' || CASE WHEN ag.aggmtranstype <> 0 THEN ag.aggmfinalmodify::text END,
                  'minitcond = ' || quote_literal(ag.aggminitval),
                  'sortop = ' || NULLIF(ag.aggsortop, 0)::regoperator::text) END,
               'body', {body})
             FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             JOIN pg_language l ON l.oid = p.prolang
             LEFT JOIN pg_aggregate ag ON ag.aggfnoid = p.oid
             WHERE {SCHEMAS} AND {} AND {}",
            not_in_extension("pg_proc", "p.oid"),
            not_internal("pg_proc", "p.oid"),
            support = proc_name("p.prosupport"),
            sfunc = proc_name("ag.aggtransfn"),
            finalfunc = proc_name("ag.aggfinalfn"),
            combinefunc = proc_name("ag.aggcombinefn"),
            serialfunc = proc_name("ag.aggserialfn"),
            deserialfunc = proc_name("ag.aggdeserialfn"),
            msfunc = proc_name("ag.aggmtransfn"),
            minvfunc = proc_name("ag.aggminvtransfn"),
            mfinalfunc = proc_name("ag.aggmfinalfn"),
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
                    "'attributes', (SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                                      || CASE WHEN a.attcollation <> at.typcollation
                                         THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END,
                                    ', ' ORDER BY a.attnum) FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
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
                 WHERE t.typtype = '{typtype}' {composite} AND {SCHEMAS} AND {type_ext}"
            )
        }
        Kind::RangeTypes => format!(
            "SELECT n.nspname || '.' || t.typname, jsonb_build_object(
               'subtype', format_type(r.rngsubtype, NULL),
               'subtype_opclass', (SELECT quote_ident(ocn.nspname) || '.' || quote_ident(oc.opcname)
                                   FROM pg_opclass oc JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace
                                   WHERE oc.oid = r.rngsubopc),
               'collation', CASE WHEN r.rngcollation <> 0 THEN r.rngcollation::regcollation::text END,
               'canonical', {canonical},
               'subtype_diff', {diff}
               {multirange})
             FROM pg_range r JOIN pg_type t ON t.oid = r.rngtypid
             JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE {SCHEMAS} AND {type_ext}",
            canonical = proc_name("r.rngcanonical"),
            diff = proc_name("r.rngsubdiff"),
            multirange = if version >= 140000 {
                ", 'multirange', r.rngmultitypid::regtype::text"
            } else {
                ""
            }
        ),
        Kind::Collations => format!(
            "SELECT n.nspname || '.' || co.collname, jsonb_build_object(
               'provider', co.collprovider::text,
               'deterministic', co.collisdeterministic,
               'collate', co.collcollate,
               'ctype', co.collctype
               {icu})
             FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
             WHERE {SCHEMAS} AND {}",
            not_in_extension("pg_collation", "co.oid"),
            icu = match version {
                v if v >= 170000 => ", 'locale', co.colllocale, 'icu_rules', co.collicurules",
                v if v >= 160000 => ", 'locale', co.colliculocale, 'icu_rules', co.collicurules",
                v if v >= 150000 => ", 'locale', co.colliculocale",
                _ => "",
            }
        ),
        Kind::Conversions => format!(
            "SELECT n.nspname || '.' || co.conname, jsonb_build_object(
               'from', pg_encoding_to_char(co.conforencoding)::text,
               'to', pg_encoding_to_char(co.contoencoding)::text,
               'function', co.conproc::oid::regprocedure::text,
               'default', co.condefault)
             FROM pg_conversion co JOIN pg_namespace n ON n.oid = co.connamespace
             WHERE {SCHEMAS} AND {}",
            not_in_extension("pg_conversion", "co.oid"),
        ),
        Kind::TextSearch => format!(
            "SELECT 'configuration ' || n.nspname || '.' || cf.cfgname, jsonb_build_object(
               'parser', pn.nspname || '.' || pr.prsname,
               'mappings', (SELECT string_agg(COALESCE(tt.alias, m.maptokentype::text) || ' ' || m.mapdict::regdictionary::text,
                                              ', ' ORDER BY m.maptokentype, m.mapseqno)
                            FROM pg_ts_config_map m
                            LEFT JOIN ts_token_type(cf.cfgparser) tt ON tt.tokid = m.maptokentype
                            WHERE m.mapcfg = cf.oid))
             FROM pg_ts_config cf JOIN pg_namespace n ON n.oid = cf.cfgnamespace
             JOIN pg_ts_parser pr ON pr.oid = cf.cfgparser JOIN pg_namespace pn ON pn.oid = pr.prsnamespace
             WHERE {SCHEMAS} AND {cfg_ext}
             UNION ALL
             SELECT 'dictionary ' || n.nspname || '.' || d.dictname, jsonb_build_object(
               'template', tn.nspname || '.' || tm.tmplname,
               'options', d.dictinitoption)
             FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace
             JOIN pg_ts_template tm ON tm.oid = d.dicttemplate JOIN pg_namespace tn ON tn.oid = tm.tmplnamespace
             WHERE {SCHEMAS} AND {dict_ext}
             UNION ALL
             SELECT 'parser ' || n.nspname || '.' || pr.prsname, jsonb_build_object(
               'start', {start}, 'gettoken', {gettoken}, 'end', {end},
               'headline', {headline}, 'lextypes', {lextypes})
             FROM pg_ts_parser pr JOIN pg_namespace n ON n.oid = pr.prsnamespace
             WHERE {SCHEMAS} AND {prs_ext}
             UNION ALL
             SELECT 'template ' || n.nspname || '.' || tm.tmplname, jsonb_build_object(
               'init', {init}, 'lexize', {lexize})
             FROM pg_ts_template tm JOIN pg_namespace n ON n.oid = tm.tmplnamespace
             WHERE {SCHEMAS} AND {tmpl_ext}",
            cfg_ext = not_in_extension("pg_ts_config", "cf.oid"),
            dict_ext = not_in_extension("pg_ts_dict", "d.oid"),
            prs_ext = not_in_extension("pg_ts_parser", "pr.oid"),
            tmpl_ext = not_in_extension("pg_ts_template", "tm.oid"),
            start = proc_name("pr.prsstart"),
            gettoken = proc_name("pr.prstoken"),
            end = proc_name("pr.prsend"),
            headline = proc_name("pr.prsheadline"),
            lextypes = proc_name("pr.prslextype"),
            init = proc_name("tm.tmplinit"),
            lexize = proc_name("tm.tmpllexize"),
        ),
        Kind::Operators => format!(
            "SELECT 'operator ' || o.oid::regoperator::text, jsonb_build_object(
               'function', o.oprcode::oid::regprocedure::text,
               'result', format_type(o.oprresult, NULL),
               'commutator', NULLIF(o.oprcom, 0)::regoperator::text,
               'negator', NULLIF(o.oprnegate, 0)::regoperator::text,
               'restrict', {restrict},
               'join', {join},
               'hashes', o.oprcanhash,
               'merges', o.oprcanmerge)
             FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
             WHERE {SCHEMAS} AND {opr_ext}
             UNION ALL
             SELECT 'operator class ' || n.nspname || '.' || oc.opcname || ' using ' || am.amname,
               jsonb_build_object(
               'type', format_type(oc.opcintype, NULL),
               'default', oc.opcdefault,
               'family', fn.nspname || '.' || f.opfname,
               'storage', CASE WHEN oc.opckeytype <> 0 THEN format_type(oc.opckeytype, NULL) END)
             FROM pg_opclass oc JOIN pg_namespace n ON n.oid = oc.opcnamespace
             JOIN pg_am am ON am.oid = oc.opcmethod
             JOIN pg_opfamily f ON f.oid = oc.opcfamily JOIN pg_namespace fn ON fn.oid = f.opfnamespace
             WHERE {SCHEMAS} AND {opc_ext}
             UNION ALL
             SELECT 'operator family ' || n.nspname || '.' || f.opfname || ' using ' || am.amname,
               jsonb_build_object(
               'operators', (SELECT string_agg(ao.amopstrategy || ' ' || ao.amopopr::regoperator::text
                                 || CASE WHEN ao.amoppurpose = 'o'
                                    THEN ' FOR ORDER BY ' || (SELECT sn.nspname || '.' || sf.opfname
                                         FROM pg_opfamily sf JOIN pg_namespace sn ON sn.oid = sf.opfnamespace
                                         WHERE sf.oid = ao.amopsortfamily) ELSE '' END,
                                 ', ' ORDER BY ao.amopstrategy, ao.amopopr::regoperator::text)
                             FROM pg_amop ao WHERE ao.amopfamily = f.oid),
               'functions', (SELECT string_agg(ap.amprocnum || ' (' || format_type(ap.amproclefttype, NULL) || ', '
                                 || format_type(ap.amprocrighttype, NULL) || ') ' || ap.amproc::oid::regprocedure::text,
                                 ', ' ORDER BY ap.amprocnum, format_type(ap.amproclefttype, NULL),
                                 format_type(ap.amprocrighttype, NULL))
                             FROM pg_amproc ap WHERE ap.amprocfamily = f.oid))
             FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace
             JOIN pg_am am ON am.oid = f.opfmethod
             WHERE {SCHEMAS} AND {opf_ext}",
            restrict = proc_name("o.oprrest"),
            join = proc_name("o.oprjoin"),
            opr_ext = not_in_extension("pg_operator", "o.oid"),
            opc_ext = not_in_extension("pg_opclass", "oc.oid"),
            opf_ext = not_in_extension("pg_opfamily", "f.oid"),
        ),
        // Casts have no schema: those pg_dump dumps (made after initdb, not by an
        // extension), unless a type they cast is in a schema left out.
        Kind::Casts => format!(
            "SELECT format_type(ca.castsource, NULL) || ' AS ' || format_type(ca.casttarget, NULL),
               jsonb_build_object(
               'function', NULLIF(ca.castfunc, 0)::regprocedure::text,
               'context', CASE ca.castcontext WHEN 'e' THEN 'explicit' WHEN 'a' THEN 'assignment' ELSE 'implicit' END,
               'method', CASE ca.castmethod WHEN 'f' THEN 'function' WHEN 'i' THEN 'inout' ELSE 'binary' END)
             FROM pg_cast ca
             JOIN pg_type st ON st.oid = ca.castsource JOIN pg_namespace sn ON sn.oid = st.typnamespace
             JOIN pg_type tt ON tt.oid = ca.casttarget JOIN pg_namespace tn ON tn.oid = tt.typnamespace
             WHERE ca.oid >= 16384 AND sn.nspname <> ALL($1::text[]) AND tn.nspname <> ALL($1::text[])
               AND {} AND {}",
            not_in_extension("pg_cast", "ca.oid"),
            not_internal("pg_cast", "ca.oid"),
        ),
        Kind::AccessMethods => format!(
            "SELECT am.amname::text, jsonb_build_object(
               'type', CASE am.amtype WHEN 't' THEN 'table' WHEN 'i' THEN 'index' ELSE am.amtype::text END,
               'handler', am.amhandler::regproc::text)
             FROM pg_am am WHERE am.oid >= 16384 AND {}",
            not_in_extension("pg_am", "am.oid"),
        ),
        Kind::Statistics => format!(
            "SELECT n.nspname || '.' || s.stxname, jsonb_build_object(
               'definition', pg_get_statisticsobjdef(s.oid),
               'statistics', CASE WHEN s.stxstattarget >= 0 THEN s.stxstattarget::text END)
             FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
             WHERE {SCHEMAS} AND {}",
            not_in_extension("pg_statistic_ext", "s.oid"),
        ),
        // Database-wide: wrappers and servers by name, user mappings by role and server.
        Kind::ForeignData => format!(
            "SELECT 'foreign data wrapper ' || w.fdwname, jsonb_build_object(
               'handler', {handler}, 'validator', {validator},
               'options', array_to_string(w.fdwoptions, ', '))
             FROM pg_foreign_data_wrapper w WHERE {fdw_ext}
             UNION ALL
             SELECT 'server ' || s.srvname, jsonb_build_object(
               'wrapper', w.fdwname, 'type', s.srvtype, 'version', s.srvversion,
               'options', array_to_string(s.srvoptions, ', '))
             FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
             WHERE {srv_ext}
             UNION ALL
             SELECT 'user mapping for ' || u.usename || ' server ' || u.srvname, jsonb_build_object(
               'options', array_to_string(u.umoptions, ', '))
             FROM pg_user_mappings u",
            handler = proc_name("w.fdwhandler"),
            validator = proc_name("w.fdwvalidator"),
            fdw_ext = not_in_extension("pg_foreign_data_wrapper", "w.oid"),
            srv_ext = not_in_extension("pg_foreign_server", "s.oid"),
        ),
        Kind::Publications => format!(
            "SELECT p.pubname::text, jsonb_build_object(
               'all_tables', p.puballtables,
               'publish', concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END,
                            CASE WHEN p.pubupdate THEN 'update' END, CASE WHEN p.pubdelete THEN 'delete' END,
                            CASE WHEN p.pubtruncate THEN 'truncate' END),
               'via_root', p.pubviaroot,
               'tables', (SELECT string_agg(pr.prrelid::regclass::text {table_details}, ', '
                                            ORDER BY pr.prrelid::regclass::text)
                          FROM pg_publication_rel pr WHERE pr.prpubid = p.oid)
               {schemas})
             FROM pg_publication p",
            table_details = if version >= 150000 {
                "|| COALESCE(' (' || (SELECT string_agg(quote_ident(pa.attname), ', ' ORDER BY pa.attnum)
                                      FROM pg_attribute pa
                                      WHERE pa.attrelid = pr.prrelid AND pa.attnum = ANY(pr.prattrs)) || ')', '')
                 || COALESCE(' WHERE ' || pg_get_expr(pr.prqual, pr.prrelid), '')"
            } else {
                ""
            },
            schemas = if version >= 150000 {
                ", 'schemas', (SELECT string_agg(quote_ident(pn.nspname), ', ' ORDER BY pn.nspname)
                               FROM pg_publication_namespace pnn JOIN pg_namespace pn ON pn.oid = pnn.pnnspid
                               WHERE pnn.pnpubid = p.oid)"
            } else {
                ""
            },
        ),
        Kind::EventTriggers => format!(
            "SELECT e.evtname::text, jsonb_build_object(
               'event', e.evtevent,
               'function', e.evtfoid::regprocedure::text,
               'enabled', e.evtenabled::text,
               'tags', array_to_string(e.evttags, ', '))
             FROM pg_event_trigger e WHERE {}",
            not_in_extension("pg_event_trigger", "e.oid"),
        ),
        Kind::Policies => format!(
            "SELECT n.nspname || '.' || c.relname || '.' || p.polname, jsonb_build_object(
               'command', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                            WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
               'permissive', p.polpermissive,
               'roles', (SELECT string_agg(rn, ', ' ORDER BY rn)
                         FROM (SELECT {role} AS rn FROM unnest(p.polroles) r) roles),
               'using', pg_get_expr(p.polqual, p.polrelid),
               'with_check', pg_get_expr(p.polwithcheck, p.polrelid))
             FROM pg_policy p
             JOIN pg_class c ON c.oid = p.polrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE {SCHEMAS} AND {rel_ext}",
            role = role_name("r"),
        ),
        // Its own kind (not a dependent one): default privileges describe no object, so
        // those set on one side only are differences.
        Kind::DefaultPrivileges => format!(
            "SELECT 'on ' || CASE d.defaclobjtype WHEN 'r' THEN 'tables'
                        WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types'
                        WHEN 'n' THEN 'schemas' ELSE d.defaclobjtype::text END
                      || coalesce(' in schema ' || quote_ident(n.nspname), '')
                      || ' for ' || pg_get_userbyid(d.defaclrole)::text,
                    COALESCE((SELECT jsonb_object_agg(g.grantee, g.privileges) FROM (
                        SELECT {grantee} AS grantee,
                               string_agg(x.privilege_type || CASE WHEN x.is_grantable THEN ' (grantable)' ELSE '' END,
                                          ', ' ORDER BY x.privilege_type) AS privileges
                        FROM aclexplode(d.defaclacl) x GROUP BY x.grantee) g), '{{}}'::jsonb)
             FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
             WHERE d.defaclnamespace = 0 OR {SCHEMAS}",
            grantee = role_name("x.grantee"),
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
               SELECT 'column', c.oid::regclass::text || '.' || quote_ident(a.attname),
                      a.attacl, c.relowner
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                 AND {SCHEMAS} AND {rel_ext} AND NOT (a.attname::text LIKE ANY($3::text[]))
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
               SELECT 'foreign data wrapper', quote_ident(w.fdwname),
                      COALESCE(w.fdwacl, acldefault('F'::\"char\", w.fdwowner)), w.fdwowner
               FROM pg_foreign_data_wrapper w WHERE {fdw_ext}
               UNION ALL
               SELECT 'server', quote_ident(s.srvname),
                      COALESCE(s.srvacl, acldefault('S'::\"char\", s.srvowner)), s.srvowner
               FROM pg_foreign_server s WHERE {srv_ext}),
             grants AS (
               SELECT o.kind, o.name, x.grantee,
                      string_agg(x.privilege_type || CASE WHEN x.is_grantable THEN ' (grantable)' ELSE '' END,
                                 ', ' ORDER BY x.privilege_type) AS privileges
               FROM objects o, aclexplode(o.acl) x
               WHERE x.grantee <> o.owner
               GROUP BY o.kind, o.name, x.grantee)
             SELECT o.kind || ' ' || o.name, COALESCE(g.privileges, '{{}}'::jsonb)
             FROM objects o
             LEFT JOIN (SELECT kind, name, jsonb_object_agg({grantee}, privileges) AS privileges
                        FROM grants GROUP BY kind, name) g
               ON g.kind = o.kind AND g.name = o.name",
            proc_ext = not_in_extension("pg_proc", "p.oid"),
            nsp_ext = not_in_extension("pg_namespace", "n.oid"),
            fdw_ext = not_in_extension("pg_foreign_data_wrapper", "w.oid"),
            srv_ext = not_in_extension("pg_foreign_server", "s.oid"),
            grantee = role_name("grantee"),
        ),
        Kind::Comments => format!(
            "WITH objects AS (
               SELECT 'pg_class'::regclass AS classid, c.oid AS objid, 0 AS objsubid,
                      CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                        WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' ELSE 'table' END
                      || ' ' || n.nspname || '.' || c.relname AS key
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S', 'i', 'I') AND {SCHEMAS} AND {rel_ext}
               UNION ALL
               SELECT 'pg_class'::regclass, a.attrelid, a.attnum,
                      CASE c.relkind WHEN 'c' THEN 'attribute ' ELSE 'column ' END
                      || n.nspname || '.' || c.relname || '.' || a.attname
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'c')
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
               WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c'
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
               WHERE r.rulename <> '_RETURN' AND {SCHEMAS} AND {rel_ext}
               UNION ALL
               SELECT 'pg_extension'::regclass, e.oid, 0, 'extension ' || e.extname
               FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
               WHERE e.extname <> 'plpgsql' AND n.nspname <> ALL($1::text[])
               UNION ALL
               SELECT 'pg_collation'::regclass, co.oid, 0, 'collation ' || n.nspname || '.' || co.collname
               FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
               WHERE {SCHEMAS} AND {coll_ext}
               UNION ALL
               SELECT 'pg_conversion'::regclass, co.oid, 0, 'conversion ' || n.nspname || '.' || co.conname
               FROM pg_conversion co JOIN pg_namespace n ON n.oid = co.connamespace
               WHERE {SCHEMAS} AND {conv_ext}
               UNION ALL
               SELECT 'pg_ts_config'::regclass, cf.oid, 0, 'text search configuration ' || n.nspname || '.' || cf.cfgname
               FROM pg_ts_config cf JOIN pg_namespace n ON n.oid = cf.cfgnamespace
               WHERE {SCHEMAS} AND {cfg_ext}
               UNION ALL
               SELECT 'pg_ts_dict'::regclass, d.oid, 0, 'text search dictionary ' || n.nspname || '.' || d.dictname
               FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace
               WHERE {SCHEMAS} AND {dict_ext}
               UNION ALL
               SELECT 'pg_ts_parser'::regclass, pr.oid, 0, 'text search parser ' || n.nspname || '.' || pr.prsname
               FROM pg_ts_parser pr JOIN pg_namespace n ON n.oid = pr.prsnamespace
               WHERE {SCHEMAS} AND {prs_ext}
               UNION ALL
               SELECT 'pg_ts_template'::regclass, tm.oid, 0, 'text search template ' || n.nspname || '.' || tm.tmplname
               FROM pg_ts_template tm JOIN pg_namespace n ON n.oid = tm.tmplnamespace
               WHERE {SCHEMAS} AND {tmpl_ext}
               UNION ALL
               SELECT 'pg_operator'::regclass, o.oid, 0, 'operator ' || o.oid::regoperator::text
               FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
               WHERE {SCHEMAS} AND {opr_ext}
               UNION ALL
               SELECT 'pg_opclass'::regclass, oc.oid, 0,
                      'operator class ' || n.nspname || '.' || oc.opcname || ' using ' || am.amname
               FROM pg_opclass oc JOIN pg_namespace n ON n.oid = oc.opcnamespace JOIN pg_am am ON am.oid = oc.opcmethod
               WHERE {SCHEMAS} AND {opc_ext}
               UNION ALL
               SELECT 'pg_opfamily'::regclass, f.oid, 0,
                      'operator family ' || n.nspname || '.' || f.opfname || ' using ' || am.amname
               FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace JOIN pg_am am ON am.oid = f.opfmethod
               WHERE {SCHEMAS} AND {opf_ext}
               UNION ALL
               SELECT 'pg_cast'::regclass, ca.oid, 0,
                      'cast ' || format_type(ca.castsource, NULL) || ' AS ' || format_type(ca.casttarget, NULL)
               FROM pg_cast ca WHERE ca.oid >= 16384 AND {cast_ext}
               UNION ALL
               SELECT 'pg_am'::regclass, am.oid, 0, 'access method ' || am.amname
               FROM pg_am am WHERE am.oid >= 16384 AND {am_ext}
               UNION ALL
               SELECT 'pg_statistic_ext'::regclass, s.oid, 0, 'statistics ' || n.nspname || '.' || s.stxname
               FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
               WHERE {SCHEMAS} AND {stx_ext}
               UNION ALL
               SELECT 'pg_foreign_data_wrapper'::regclass, w.oid, 0, 'foreign data wrapper ' || w.fdwname
               FROM pg_foreign_data_wrapper w WHERE {fdw_ext}
               UNION ALL
               SELECT 'pg_foreign_server'::regclass, s.oid, 0, 'server ' || s.srvname
               FROM pg_foreign_server s WHERE {srv_ext}
               UNION ALL
               SELECT 'pg_publication'::regclass, p.oid, 0, 'publication ' || p.pubname FROM pg_publication p
               UNION ALL
               SELECT 'pg_event_trigger'::regclass, e.oid, 0, 'event trigger ' || e.evtname
               FROM pg_event_trigger e WHERE {evt_ext})
             SELECT o.key, jsonb_build_object('comment', d.description)
             FROM objects o
             LEFT JOIN pg_description d
               ON d.classoid = o.classid AND d.objoid = o.objid AND d.objsubid = o.objsubid",
            proc_ext = not_in_extension("pg_proc", "p.oid"),
            nsp_ext = not_in_extension("pg_namespace", "n.oid"),
            coll_ext = not_in_extension("pg_collation", "co.oid"),
            conv_ext = not_in_extension("pg_conversion", "co.oid"),
            cfg_ext = not_in_extension("pg_ts_config", "cf.oid"),
            dict_ext = not_in_extension("pg_ts_dict", "d.oid"),
            prs_ext = not_in_extension("pg_ts_parser", "pr.oid"),
            tmpl_ext = not_in_extension("pg_ts_template", "tm.oid"),
            opr_ext = not_in_extension("pg_operator", "o.oid"),
            opc_ext = not_in_extension("pg_opclass", "oc.oid"),
            opf_ext = not_in_extension("pg_opfamily", "f.oid"),
            cast_ext = not_in_extension("pg_cast", "ca.oid"),
            am_ext = not_in_extension("pg_am", "am.oid"),
            stx_ext = not_in_extension("pg_statistic_ext", "s.oid"),
            fdw_ext = not_in_extension("pg_foreign_data_wrapper", "w.oid"),
            srv_ext = not_in_extension("pg_foreign_server", "s.oid"),
            evt_ext = not_in_extension("pg_event_trigger", "e.oid"),
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
               WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c'
                      AND (SELECT rc.relkind FROM pg_class rc WHERE rc.oid = t.typrelid) = 'c'))
                 AND {SCHEMAS} AND {type_ext}
               UNION ALL
               SELECT 'schema', quote_ident(n.nspname), n.nspowner FROM pg_namespace n
               WHERE {SCHEMAS} AND {nsp_ext}
               UNION ALL
               SELECT 'collation', n.nspname || '.' || co.collname, co.collowner
               FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
               WHERE {SCHEMAS} AND {coll_ext}
               UNION ALL
               SELECT 'conversion', n.nspname || '.' || co.conname, co.conowner
               FROM pg_conversion co JOIN pg_namespace n ON n.oid = co.connamespace
               WHERE {SCHEMAS} AND {conv_ext}
               UNION ALL
               SELECT 'text search configuration', n.nspname || '.' || cf.cfgname, cf.cfgowner
               FROM pg_ts_config cf JOIN pg_namespace n ON n.oid = cf.cfgnamespace
               WHERE {SCHEMAS} AND {cfg_ext}
               UNION ALL
               SELECT 'text search dictionary', n.nspname || '.' || d.dictname, d.dictowner
               FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace
               WHERE {SCHEMAS} AND {dict_ext}
               UNION ALL
               SELECT 'operator', o.oid::regoperator::text, o.oprowner
               FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
               WHERE {SCHEMAS} AND {opr_ext}
               UNION ALL
               SELECT 'operator class', n.nspname || '.' || oc.opcname || ' using ' || am.amname, oc.opcowner
               FROM pg_opclass oc JOIN pg_namespace n ON n.oid = oc.opcnamespace JOIN pg_am am ON am.oid = oc.opcmethod
               WHERE {SCHEMAS} AND {opc_ext}
               UNION ALL
               SELECT 'operator family', n.nspname || '.' || f.opfname || ' using ' || am.amname, f.opfowner
               FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace JOIN pg_am am ON am.oid = f.opfmethod
               WHERE {SCHEMAS} AND {opf_ext}
               UNION ALL
               SELECT 'statistics', n.nspname || '.' || s.stxname, s.stxowner
               FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
               WHERE {SCHEMAS} AND {stx_ext}
               UNION ALL
               SELECT 'foreign data wrapper', w.fdwname::text, w.fdwowner
               FROM pg_foreign_data_wrapper w WHERE {fdw_ext}
               UNION ALL
               SELECT 'server', s.srvname::text, s.srvowner FROM pg_foreign_server s WHERE {srv_ext}
               UNION ALL
               SELECT 'publication', p.pubname::text, p.pubowner FROM pg_publication p
               UNION ALL
               SELECT 'event trigger', e.evtname::text, e.evtowner FROM pg_event_trigger e WHERE {evt_ext}) owned",
            proc_ext = not_in_extension("pg_proc", "p.oid"),
            nsp_ext = not_in_extension("pg_namespace", "n.oid"),
            coll_ext = not_in_extension("pg_collation", "co.oid"),
            conv_ext = not_in_extension("pg_conversion", "co.oid"),
            cfg_ext = not_in_extension("pg_ts_config", "cf.oid"),
            dict_ext = not_in_extension("pg_ts_dict", "d.oid"),
            opr_ext = not_in_extension("pg_operator", "o.oid"),
            opc_ext = not_in_extension("pg_opclass", "oc.oid"),
            opf_ext = not_in_extension("pg_opfamily", "f.oid"),
            stx_ext = not_in_extension("pg_statistic_ext", "s.oid"),
            fdw_ext = not_in_extension("pg_foreign_data_wrapper", "w.oid"),
            srv_ext = not_in_extension("pg_foreign_server", "s.oid"),
            evt_ext = not_in_extension("pg_event_trigger", "e.oid"),
        ),
    }
}

impl Snapshot {
    /// Reads the schema of the database `client` is connected to.
    ///
    /// Runs in one `REPEATABLE READ READ ONLY` transaction, with `search_path` emptied so
    /// that every name in a definition is schema-qualified the same way in every database,
    /// and JIT off: the catalog queries' estimated costs can pass `jit_above_cost`, and
    /// compiling them takes longer than running them (0.5 s for the comments of 1,000
    /// tables).
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
                "SELECT current_database()::text, pg_catalog.set_config('search_path', '', true), \
                 pg_catalog.set_config('jit', 'off', true)",
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
            // Every query is given the three parameters, typed, whichever it mentions.
            let statement = tx
                .prepare_typed(&sql, &[Type::TEXT_ARRAY, Type::BOOL, Type::TEXT_ARRAY])
                .map_err(|e| Error::sql(format!("read the {}", kind.name()), &e))?;
            let rows = tx
                .query(
                    &statement,
                    &[&excluded, &options.include_extension_objects, &patterns],
                )
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
