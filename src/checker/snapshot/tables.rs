//! Tables, their columns and extended statistics.

use super::filters::{SCHEMAS, not_in_extension};

/// Tables (regular, partitioned, foreign) and how they are stored.
pub(super) fn tables() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
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
    )
}

/// Columns of tables and views (with their position when column order counts).
pub(super) fn columns(column_order: bool, version: i32) -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
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
    )
}

/// Extended statistics objects.
pub(super) fn statistics() -> String {
    format!(
        "SELECT n.nspname || '.' || s.stxname, jsonb_build_object(
               'definition', pg_get_statisticsobjdef(s.oid),
               'statistics', CASE WHEN s.stxstattarget >= 0 THEN s.stxstattarget::text END)
             FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
             WHERE {SCHEMAS} AND {}",
        not_in_extension("pg_statistic_ext", "s.oid"),
    )
}
