//! Comments, on every kind of object the checker reads.

use super::filters::{COLUMN_PATTERNS, FREE_COMPOSITE, SCHEMAS};

/// Comments on every kind of object; those on columns of tables and views only when the
/// columns query did not bring them (`columns_read`), attributes of composite types always.
pub(super) fn comments(columns_read: bool) -> String {
    format!(
        "WITH objects AS (
               SELECT 'pg_class'::regclass AS owner_class, c.oid AS owner, 'pg_class'::regclass AS classid, c.oid AS objid, 0 AS objsubid,
                      CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                        WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' ELSE 'table' END
                      || ' ' || n.nspname || '.' || c.relname AS key
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S', 'i', 'I') AND {SCHEMAS}
               UNION ALL
               SELECT 'pg_class'::regclass, c.oid, 'pg_class'::regclass, a.attrelid, a.attnum,
                      CASE c.relkind WHEN 'c' THEN 'attribute ' ELSE 'column ' END
                      || n.nspname || '.' || c.relname || '.' || a.attname
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ({relkinds})
                 AND {SCHEMAS} AND {COLUMN_PATTERNS}
               UNION ALL
               SELECT 'pg_proc'::regclass, p.oid, 'pg_proc'::regclass, p.oid, 0, 'function ' || p.oid::regprocedure::text
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE {SCHEMAS}
               UNION ALL
               SELECT 'pg_namespace'::regclass, n.oid, 'pg_namespace'::regclass, n.oid, 0, 'schema ' || n.nspname
               FROM pg_namespace n WHERE {SCHEMAS}
               UNION ALL
               SELECT 'pg_type'::regclass, t.oid, 'pg_type'::regclass, t.oid, 0, 'type ' || n.nspname || '.' || t.typname
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
               WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c'
                      AND {FREE_COMPOSITE}))
                 AND {SCHEMAS}
               UNION ALL
               SELECT 0::oid::regclass, 0::oid, 'pg_constraint'::regclass, co.oid, 0,
                      'constraint ' || n.nspname || '.' || COALESCE(c.relname, t.typname) || '.' || co.conname
               FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
               LEFT JOIN pg_class c ON c.oid = co.conrelid LEFT JOIN pg_type t ON t.oid = co.contypid
               WHERE {SCHEMAS}
               UNION ALL
               SELECT 'pg_class'::regclass, c.oid, 'pg_trigger'::regclass, tg.oid, 0, 'trigger ' || n.nspname || '.' || c.relname || '.' || tg.tgname
               FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE NOT tg.tgisinternal AND {SCHEMAS}
               UNION ALL
               SELECT 'pg_class'::regclass, c.oid, 'pg_policy'::regclass, po.oid, 0, 'policy ' || n.nspname || '.' || c.relname || '.' || po.polname
               FROM pg_policy po JOIN pg_class c ON c.oid = po.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE {SCHEMAS}
               UNION ALL
               SELECT 'pg_class'::regclass, c.oid, 'pg_rewrite'::regclass, r.oid, 0, 'rule ' || n.nspname || '.' || c.relname || '.' || r.rulename
               FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE r.rulename <> '_RETURN' AND {SCHEMAS}
               UNION ALL
               SELECT 0::oid::regclass, 0::oid, 'pg_extension'::regclass, e.oid, 0, 'extension ' || e.extname
               FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
               WHERE e.extname <> 'plpgsql' AND n.nspname <> ALL($1::text[])
               UNION ALL
               SELECT 'pg_collation'::regclass, co.oid, 'pg_collation'::regclass, co.oid, 0, 'collation ' || n.nspname || '.' || co.collname
               FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
               WHERE {SCHEMAS}
               UNION ALL
               SELECT 'pg_conversion'::regclass, co.oid, 'pg_conversion'::regclass, co.oid, 0, 'conversion ' || n.nspname || '.' || co.conname
               FROM pg_conversion co JOIN pg_namespace n ON n.oid = co.connamespace
               WHERE {SCHEMAS}
               UNION ALL
               SELECT 'pg_ts_config'::regclass, cf.oid, 'pg_ts_config'::regclass, cf.oid, 0, 'text search configuration ' || n.nspname || '.' || cf.cfgname
               FROM pg_ts_config cf JOIN pg_namespace n ON n.oid = cf.cfgnamespace
               WHERE {SCHEMAS}
               UNION ALL
               SELECT 'pg_ts_dict'::regclass, d.oid, 'pg_ts_dict'::regclass, d.oid, 0, 'text search dictionary ' || n.nspname || '.' || d.dictname
               FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace
               WHERE {SCHEMAS}
               UNION ALL
               SELECT 'pg_ts_parser'::regclass, pr.oid, 'pg_ts_parser'::regclass, pr.oid, 0, 'text search parser ' || n.nspname || '.' || pr.prsname
               FROM pg_ts_parser pr JOIN pg_namespace n ON n.oid = pr.prsnamespace
               WHERE {SCHEMAS}
               UNION ALL
               SELECT 'pg_ts_template'::regclass, tm.oid, 'pg_ts_template'::regclass, tm.oid, 0, 'text search template ' || n.nspname || '.' || tm.tmplname
               FROM pg_ts_template tm JOIN pg_namespace n ON n.oid = tm.tmplnamespace
               WHERE {SCHEMAS}
               UNION ALL
               SELECT 'pg_operator'::regclass, o.oid, 'pg_operator'::regclass, o.oid, 0, 'operator ' || o.oid::regoperator::text
               FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
               WHERE {SCHEMAS}
               UNION ALL
               SELECT 'pg_opclass'::regclass, oc.oid, 'pg_opclass'::regclass, oc.oid, 0,
                      'operator class ' || n.nspname || '.' || oc.opcname || ' using ' || am.amname
               FROM pg_opclass oc JOIN pg_namespace n ON n.oid = oc.opcnamespace JOIN pg_am am ON am.oid = oc.opcmethod
               WHERE {SCHEMAS}
               UNION ALL
               SELECT 'pg_opfamily'::regclass, f.oid, 'pg_opfamily'::regclass, f.oid, 0,
                      'operator family ' || n.nspname || '.' || f.opfname || ' using ' || am.amname
               FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace JOIN pg_am am ON am.oid = f.opfmethod
               WHERE {SCHEMAS}
               UNION ALL
               SELECT 'pg_cast'::regclass, ca.oid, 'pg_cast'::regclass, ca.oid, 0,
                      'cast ' || format_type(ca.castsource, NULL) || ' AS ' || format_type(ca.casttarget, NULL)
               FROM pg_cast ca WHERE ca.oid >= 16384
               UNION ALL
               SELECT 'pg_am'::regclass, am.oid, 'pg_am'::regclass, am.oid, 0, 'access method ' || am.amname
               FROM pg_am am WHERE am.oid >= 16384
               UNION ALL
               SELECT 'pg_statistic_ext'::regclass, s.oid, 'pg_statistic_ext'::regclass, s.oid, 0, 'statistics ' || n.nspname || '.' || s.stxname
               FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
               WHERE {SCHEMAS}
               UNION ALL
               SELECT 'pg_foreign_data_wrapper'::regclass, w.oid, 'pg_foreign_data_wrapper'::regclass, w.oid, 0, 'foreign data wrapper ' || w.fdwname
               FROM pg_foreign_data_wrapper w
               UNION ALL
               SELECT 'pg_foreign_server'::regclass, s.oid, 'pg_foreign_server'::regclass, s.oid, 0, 'server ' || s.srvname
               FROM pg_foreign_server s
               UNION ALL
               SELECT 0::oid::regclass, 0::oid, 'pg_publication'::regclass, p.oid, 0, 'publication ' || p.pubname FROM pg_publication p
               UNION ALL
               SELECT 'pg_event_trigger'::regclass, e.oid, 'pg_event_trigger'::regclass, e.oid, 0, 'event trigger ' || e.evtname
               FROM pg_event_trigger e)
             SELECT o.key, d.description AS \"comment\"
             FROM objects o
             LEFT JOIN pg_description d
               ON d.classoid = o.classid AND d.objoid = o.objid AND d.objsubid = o.objsubid
             WHERE NOT EXISTS (SELECT FROM pg_depend ext WHERE NOT $2
                               AND ext.refclassid = 'pg_extension'::regclass AND ext.classid = o.owner_class
                               AND ext.objid = o.owner AND ext.deptype = 'e')",
        relkinds = if columns_read {
            "'c'"
        } else {
            "'r', 'p', 'f', 'v', 'm', 'c'"
        },
    )
}
