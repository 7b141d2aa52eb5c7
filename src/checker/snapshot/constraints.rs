//! Table constraints and indexes.

use super::filters::{SCHEMAS, not_in_extension};

/// Table constraints.
///
/// As for indexes, the definitions of plain primary keys, unique constraints and foreign
/// keys (not deferrable, validated, no `INCLUDE`, `NULLS NOT DISTINCT`, `MATCH` nor
/// `SET NULL (…)` columns) are written here from the catalog in one pass, as
/// `pg_get_constraintdef` writes them, sparing PostgreSQL a lookup of each column, index
/// and referenced table by itself; every other constraint (checks, exclusions, and all of
/// them before PostgreSQL 11 or from 18 on, whose constraints say more) is left to it.
/// On PostgreSQL 15, valid inheritable check constraints come with their expression and
/// the names of the columns it mentions instead, for [`super::checks`] to write. Every
/// name comes from one join of the constraints' column numbers with `pg_attribute`
/// (keys, referenced columns, and a check's columns, told apart by `part`): a lookup per
/// check constraint cost a tenth of the query's time at 1,000 tables. A check that
/// mentions a system column (`tableoid`) finds no name for it and is left to PostgreSQL.
pub(super) fn constraints(version: i32) -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    let action = |column: &str, clause: &str| {
        format!(
            "CASE co.{column} WHEN 'r' THEN ' {clause} RESTRICT' WHEN 'c' THEN ' {clause} CASCADE'
                  WHEN 'n' THEN ' {clause} SET NULL' WHEN 'd' THEN ' {clause} SET DEFAULT' ELSE '' END"
        )
    };
    let plain = if (110000..180000).contains(&version) {
        format!(
            "NOT co.condeferrable AND co.convalidated AND names.keys IS NOT NULL AND CASE co.contype
               WHEN 'f' THEN co.confmatchtype = 's' AND names.refs IS NOT NULL {set_columns}
               WHEN 'p' THEN ix.indnatts = ix.indnkeyatts
               WHEN 'u' THEN ix.indnatts = ix.indnkeyatts {distinct} END",
            set_columns = if version >= 150000 {
                "AND co.confdelsetcols IS NULL"
            } else {
                ""
            },
            distinct = if version >= 150000 {
                "AND NOT ix.indnullsnotdistinct"
            } else {
                ""
            },
        )
    } else {
        "false".to_string()
    };
    let check = if (150000..160000).contains(&version) {
        "co.contype = 'c' AND co.convalidated AND NOT co.connoinherit"
    } else {
        "false"
    };
    format!(
        "SELECT n.nspname || '.' || c.relname || '.' || co.conname,
               CASE co.contype WHEN 'p' THEN 'primary key' WHEN 'f' THEN 'foreign key'
                         WHEN 'u' THEN 'unique' WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion'
                         WHEN 't' THEN 'trigger' ELSE co.contype::text END AS \"type\",
               CASE WHEN {check} THEN NULL WHEN {plain} THEN CASE co.contype
                   WHEN 'p' THEN 'PRIMARY KEY (' || names.keys || ')'
                   WHEN 'u' THEN 'UNIQUE (' || names.keys || ')'
                   ELSE 'FOREIGN KEY (' || names.keys || ') REFERENCES ' || quote_ident(fn.nspname) || '.'
                        || quote_ident(fc.relname) || '(' || names.refs || ')'
                        || {on_update} || {on_delete} END
                 ELSE pg_get_constraintdef(co.oid, true) END AS \"definition\",
               co.condeferrable AS \"deferrable\",
               co.condeferred AS \"deferred\",
               co.convalidated AS \"validated\",
               CASE WHEN co.coninhcount > 0 THEN co.conislocal END AS \"local\",
               CASE WHEN {check} THEN co.oid::int8 END AS \"{oid}\",
               CASE WHEN {check} THEN co.conbin::text END AS \"{expression}\",
               CASE WHEN {check} THEN names.checked END AS \"{columns}\"
             FROM pg_constraint co
             JOIN pg_class c ON c.oid = co.conrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_index ix ON ix.indexrelid = co.conindid
             LEFT JOIN pg_class fc ON fc.oid = co.confrelid
             LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
             LEFT JOIN (SELECT k.oid,
                          string_agg(quote_ident(a.attname), ', ' ORDER BY k.n) FILTER (WHERE k.part = 0) AS keys,
                          string_agg(quote_ident(a.attname), ', ' ORDER BY k.n) FILTER (WHERE k.part = 1) AS refs,
                          json_object_agg(a.attnum, quote_ident(a.attname)) FILTER (WHERE k.part = 2)::text AS checked
                        FROM (SELECT co.oid, 0 AS part, co.conrelid AS rel, u.attnum, u.n
                              FROM pg_constraint co, unnest(co.conkey) WITH ORDINALITY u(attnum, n)
                              WHERE co.contype IN ('p', 'u', 'f')
                              UNION ALL
                              SELECT co.oid, 1, co.confrelid, u.attnum, u.n
                              FROM pg_constraint co, unnest(co.confkey) WITH ORDINALITY u(attnum, n)
                              WHERE co.contype = 'f'
                              UNION ALL
                              SELECT co.oid, 2, co.conrelid, u.attnum, u.n
                              FROM pg_constraint co, unnest(co.conkey) WITH ORDINALITY u(attnum, n)
                              WHERE {check}) k
                        JOIN pg_attribute a ON a.attrelid = k.rel AND a.attnum = k.attnum AND a.attnum > 0
                        GROUP BY k.oid) names ON names.oid = co.oid
             WHERE {SCHEMAS} AND {rel_ext}",
        on_update = action("confupdtype", "ON UPDATE"),
        on_delete = action("confdeltype", "ON DELETE"),
        oid = super::checks::OID,
        expression = super::checks::EXPRESSION,
        columns = super::checks::COLUMNS,
    )
}

/// Indexes.
///
/// `pg_get_indexdef` costs more than the rest of the query together (it opens the table
/// and looks up each part by itself), so the definitions of plain indexes (columns only,
/// each with its default operator class, collation and order, no predicate, options nor
/// `NULLS NOT DISTINCT`, not on a partitioned table) are written here from the catalog in
/// one pass, as `pg_get_indexdef` writes them; every other index is left to it. An index's
/// statistics targets are looked up only for the indexes that have one (a hashed
/// sub-plan says which), not for each index (7 % of the query's time at 1,000 tables).
pub(super) fn indexes(version: i32) -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "WITH keys AS MATERIALIZED (
               SELECT i.indexrelid, i.indrelid, i.indnkeyatts, k.attnum, k.n, i.indclass[k.n - 1] AS opclass,
                      i.indcollation[k.n - 1] AS collation, i.indoption[k.n - 1] AS option
               FROM pg_index i JOIN pg_class kc ON kc.oid = i.indexrelid
               JOIN pg_namespace n ON n.oid = kc.relnamespace,
               unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n)
               WHERE i.indexprs IS NULL AND i.indpred IS NULL AND {SCHEMAS}),
             plain AS (
               SELECT k.indexrelid,
                      string_agg(CASE WHEN k.n = k.indnkeyatts + 1 THEN ') INCLUDE (' WHEN k.n > 1 THEN ', ' ELSE '' END
                                 || quote_ident(a.attname), '' ORDER BY k.n) AS columns
               FROM keys k
               JOIN pg_attribute a ON a.attrelid = k.indrelid AND a.attnum = k.attnum AND a.attnum > 0
               LEFT JOIN pg_opclass oc ON oc.oid = k.opclass
               GROUP BY k.indexrelid
               HAVING bool_and(k.n > k.indnkeyatts OR (oc.opcdefault AND oc.opcintype = a.atttypid
                               AND k.collation = a.attcollation AND k.option = 0)))
             SELECT n.nspname || '.' || ic.relname,
               quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS \"table\",
               CASE WHEN ic.relkind = 'i' AND ic.reloptions IS NULL AND plain.columns IS NOT NULL {distinct}
                 THEN 'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX '
                      || quote_ident(ic.relname) || ' ON ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                      || ' USING ' || quote_ident(am.amname) || ' (' || plain.columns || ')'
                 ELSE pg_get_indexdef(i.indexrelid) END AS \"definition\",
               co.conname AS \"constraint\",
               i.indisvalid AS \"valid\",
               ih.inhparent::regclass::text AS \"parent\",
               CASE WHEN i.indexrelid IN (SELECT sa.attrelid FROM pg_attribute sa WHERE sa.attstattarget >= 0)
                 THEN (SELECT string_agg(ia.attnum || ' ' || ia.attstattarget, ', ' ORDER BY ia.attnum)
                       FROM pg_attribute ia WHERE ia.attrelid = i.indexrelid AND ia.attstattarget >= 0)
                 END AS \"statistics\"
             FROM pg_index i
             JOIN pg_class ic ON ic.oid = i.indexrelid
             JOIN pg_class c ON c.oid = i.indrelid
             JOIN pg_namespace n ON n.oid = ic.relnamespace
             LEFT JOIN pg_constraint co ON co.conindid = i.indexrelid AND co.conrelid = i.indrelid
                                       AND co.contype IN ('p', 'u', 'x')
             JOIN pg_am am ON am.oid = ic.relam
             LEFT JOIN plain ON plain.indexrelid = i.indexrelid
             LEFT JOIN pg_inherits ih ON ih.inhrelid = i.indexrelid
             WHERE {SCHEMAS} AND {rel_ext}",
        distinct = if version >= 150000 {
            "AND NOT i.indnullsnotdistinct"
        } else {
            ""
        },
    )
}
