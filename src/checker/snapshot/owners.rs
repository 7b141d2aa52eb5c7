//! Owners, of every kind of object that has one.

use super::filters::{FREE_COMPOSITE, SCHEMAS, not_in_extension};

/// Owners of every kind of object.
pub(super) fn owners() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    let type_ext = not_in_extension("pg_type", "t.oid");
    format!(
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
                      AND {FREE_COMPOSITE}))
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
    )
}
