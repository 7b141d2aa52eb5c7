//! Operators, operator classes and families, access methods.

use super::filters::{SCHEMAS, not_in_extension, proc_name};

/// Operators, operator classes and operator families.
pub(super) fn operators() -> String {
    format!(
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
    )
}

/// Access methods.
pub(super) fn access_methods() -> String {
    format!(
        "SELECT am.amname::text, jsonb_build_object(
               'type', CASE am.amtype WHEN 't' THEN 'table' WHEN 'i' THEN 'index' ELSE am.amtype::text END,
               'handler', am.amhandler::regproc::text)
             FROM pg_am am WHERE am.oid >= 16384 AND {}",
        not_in_extension("pg_am", "am.oid"),
    )
}
