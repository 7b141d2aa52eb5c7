//! Functions, procedures, aggregates, triggers and event triggers.

use super::filters::{SCHEMAS, not_in_extension, not_internal, proc_name};

/// Triggers.
pub(super) fn triggers() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT n.nspname || '.' || c.relname || '.' || tg.tgname,
               pg_get_triggerdef(tg.oid, true) AS \"definition\",
               tg.tgenabled::text AS \"enabled\"
             FROM pg_trigger tg
             JOIN pg_class c ON c.oid = tg.tgrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT tg.tgisinternal AND {SCHEMAS} AND {rel_ext}"
    )
}

/// Functions, procedures and aggregates, keyed by their identity arguments.
pub(super) fn functions(version: i32) -> String {
    format!(
        "SELECT p.oid::regprocedure::text,
               CASE p.prokind WHEN 'f' THEN 'function' WHEN 'p' THEN 'procedure'
                         WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window function' END AS \"kind\",
               pg_get_function_result(p.oid) AS \"result\",
               pg_get_function_arguments(p.oid) AS \"arguments\",
               l.lanname AS \"language\",
               CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END AS \"volatility\",
               p.proisstrict AS \"strict\",
               p.prosecdef AS \"security_definer\",
               p.proparallel::text AS \"parallel\",
               p.proleakproof AS \"leakproof\",
               array_to_string(p.proconfig, ', ') AS \"settings\",
               p.procost::text AS \"cost\",
               p.prorows::text AS \"rows\",
               {support} AS \"support\",
               CASE WHEN ag.aggfnoid IS NOT NULL THEN concat_ws(', ',
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
                  'sortop = ' || NULLIF(ag.aggsortop, 0)::regoperator::text) END AS \"aggregate\",
               {body} AS \"body\"
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
    )
}

/// Event triggers.
pub(super) fn event_triggers() -> String {
    format!(
        "SELECT e.evtname::text, jsonb_build_object(
               'event', e.evtevent,
               'function', e.evtfoid::regprocedure::text,
               'enabled', e.evtenabled::text,
               'tags', array_to_string(e.evttags, ', '))
             FROM pg_event_trigger e WHERE {}",
        not_in_extension("pg_event_trigger", "e.oid"),
    )
}
