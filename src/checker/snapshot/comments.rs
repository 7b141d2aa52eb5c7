//! Comments, on every kind of object the checker reads.

use super::filters::{SCHEMAS, not_in_extension};

/// Comments on every kind of object; those on columns of tables and views only when the
/// columns query did not bring them (`columns_read`), attributes of composite types always.
pub(super) fn comments(columns_read: bool) -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    let type_ext = not_in_extension("pg_type", "t.oid");
    format!(
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
               WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ({relkinds})
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
             SELECT o.key, d.description AS \"comment\"
             FROM objects o
             LEFT JOIN pg_description d
               ON d.classoid = o.classid AND d.objoid = o.objid AND d.objsubid = o.objsubid",
        relkinds = if columns_read {
            "'c'"
        } else {
            "'r', 'p', 'f', 'v', 'm', 'c'"
        },
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
    )
}
