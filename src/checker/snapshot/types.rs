//! Enums, domains, composite and range types, collations, conversions and casts.

use super::super::Kind;
use super::filters::{FREE_COMPOSITE, SCHEMAS, not_in_extension, not_internal, proc_name};

/// Enums, domains or free-standing composite types (`kind` says which).
pub(super) fn enums_domains_composites(kind: Kind) -> String {
    let type_ext = not_in_extension("pg_type", "t.oid");
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
        format!("AND {FREE_COMPOSITE}")
    } else {
        String::new()
    };
    format!(
        "SELECT n.nspname || '.' || t.typname, jsonb_build_object({attributes})
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                 LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
                 WHERE t.typtype = '{typtype}' {composite} AND {SCHEMAS} AND {type_ext}"
    )
}

/// Range types.
pub(super) fn range_types(version: i32) -> String {
    let type_ext = not_in_extension("pg_type", "t.oid");
    format!(
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
    )
}

/// Collations.
pub(super) fn collations(version: i32) -> String {
    format!(
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
    )
}

/// Encoding conversions.
pub(super) fn conversions() -> String {
    format!(
        "SELECT n.nspname || '.' || co.conname, jsonb_build_object(
               'from', pg_encoding_to_char(co.conforencoding)::text,
               'to', pg_encoding_to_char(co.contoencoding)::text,
               'function', co.conproc::oid::regprocedure::text,
               'default', co.condefault)
             FROM pg_conversion co JOIN pg_namespace n ON n.oid = co.connamespace
             WHERE {SCHEMAS} AND {}",
        not_in_extension("pg_conversion", "co.oid"),
    )
}

/// Casts, which have no schema: those pg_dump dumps (made after initdb, not by an
/// extension), unless a type they cast is in a schema left out.
pub(super) fn casts() -> String {
    format!(
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
    )
}
