//! Text search configurations, dictionaries, parsers and templates.

use super::filters::{SCHEMAS, not_in_extension, proc_name};

/// Text search configurations (with their mappings), dictionaries, parsers and templates.
pub(super) fn text_search() -> String {
    format!(
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
    )
}
