//! Tables, their columns and extended statistics.

use super::filters::{COLUMN_PATTERNS, SCHEMAS, not_in_extension};
use crate::checker::Kind;

/// Tables (regular, partitioned, foreign) and how they are stored.
pub(super) fn tables() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT n.nspname || '.' || c.relname,
               CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table' ELSE 'table' END AS \"kind\",
               c.relpersistence = 'u' AS \"unlogged\",
               c.relrowsecurity AS \"row_security\",
               c.relforcerowsecurity AS \"force_row_security\",
               CASE c.relkind WHEN 'p' THEN pg_get_partkeydef(c.oid) END AS \"partition_key\",
               pg_get_expr(c.relpartbound, c.oid) AS \"partition_bound\",
               inh.parents AS \"inherits\",
               array_to_string(c.reloptions, ', ') AS \"options\",
               array_to_string(tc.reloptions, ', ') AS \"toast_options\",
               am.amname AS \"access_method\",
               CASE WHEN c.reloftype <> 0 THEN c.reloftype::regtype::text END AS \"of\",
               CASE c.relreplident WHEN 'n' THEN 'nothing' WHEN 'f' THEN 'full'
                                     WHEN 'i' THEN 'index ' || ix.replica_identity END AS \"replica_identity\",
               ix.cluster_on AS \"cluster_on\",
               fs.srvname AS \"server\",
               array_to_string(ft.ftoptions, ', ') AS \"foreign_options\"
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
             LEFT JOIN pg_am am ON am.oid = c.relam
             LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
             LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
             LEFT JOIN (SELECT i.inhrelid, string_agg(i.inhparent::regclass::text, ', ' ORDER BY i.inhseqno) AS parents
                        FROM pg_inherits i GROUP BY i.inhrelid) inh ON inh.inhrelid = c.oid
             LEFT JOIN (
               SELECT x.indrelid,
                      min(xc.relname::text) FILTER (WHERE x.indisreplident) AS replica_identity,
                      min(xc.relname::text) FILTER (WHERE x.indisclustered) AS cluster_on
               FROM pg_index x JOIN pg_class xc ON xc.oid = x.indexrelid
               WHERE x.indisreplident OR x.indisclustered GROUP BY x.indrelid) ix ON ix.indrelid = c.oid
             WHERE c.relkind IN ('r', 'p', 'f') AND {SCHEMAS} AND {rel_ext}"
    )
}

/// Columns of tables and views (with their position when column order counts), and,
/// when those kinds are read too, each column's comment and privileges, which would
/// otherwise take the comments and privileges queries another pass over every column:
/// not attributes, taken out by [`super::column_extras`].
///
/// A default cannot refer to a column, so it is written without its table
/// (`pg_get_expr(…, 0)`, the same text), which spares PostgreSQL opening the table;
/// generation expressions refer to columns and need it.
pub(super) fn columns(column_order: bool, version: i32, extras: Extras) -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    let mut extra_columns = String::new();
    let mut extra_joins = "";
    if extras.comments {
        extra_columns.push_str(&format!(", d.description AS \"{COMMENT}\""));
        extra_joins = "LEFT JOIN pg_description d ON d.classoid = 'pg_class'::regclass
               AND d.objoid = a.attrelid AND d.objsubid = a.attnum";
    }
    if extras.privileges {
        extra_columns.push_str(&format!(
            ", quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(a.attname)
               AS \"{QUOTED}\", {} AS \"{PRIVILEGES}\"",
            super::privileges::column_privileges()
        ));
    }
    format!(
        "SELECT n.nspname || '.' || c.relname || '.' || a.attname,
               format_type(a.atttypid, a.atttypmod) AS \"type\",
               a.attnotnull AS \"not_null\",
               CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, 0) END AS \"default\",
               CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS \"generated\",
               CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END AS \"identity\",
               CASE WHEN a.attcollation <> t.typcollation THEN co.collname::text END AS \"collation\",
               CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END AS \"storage\",
               CASE WHEN a.attstattarget >= 0 THEN a.attstattarget::text END AS \"statistics\",
               array_to_string(a.attoptions, ', ') AS \"options\",
               array_to_string(a.attfdwoptions, ', ') AS \"fdw_options\",
               CASE WHEN a.attinhcount > 0 THEN a.attislocal END AS \"local\"
               {compression}
               {position}
               {extra_columns}
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_type t ON t.oid = a.atttypid
             LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
             LEFT JOIN pg_collation co ON co.oid = a.attcollation
             {extra_joins}
             WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
               AND {SCHEMAS} AND {rel_ext} AND {COLUMN_PATTERNS}",
        compression = if version >= 140000 {
            ", NULLIF(a.attcompression::text, '') AS \"compression\""
        } else {
            ""
        },
        // The logical position among the columns compared: dropped columns (and
        // columns left out by pattern) leave no gap.
        position = if column_order {
            ", row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS \"position\""
        } else {
            ""
        }
    )
}

/// What the columns query brings besides the columns.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Extras {
    /// Each column's comment ([`COMMENT`]).
    pub comments: bool,
    /// Each column's privileges ([`PRIVILEGES`], JSON) and quoted name ([`QUOTED`]).
    pub privileges: bool,
}

impl Extras {
    /// What the columns query brings when `kinds` are read: the comments and privileges
    /// of columns when those kinds are read along with the columns.
    pub(super) fn of(kinds: &[Kind]) -> Extras {
        let columns = kinds.contains(&Kind::Columns);
        Extras {
            comments: columns && kinds.contains(&Kind::Comments),
            privileges: columns && kinds.contains(&Kind::Privileges),
        }
    }
}

/// The columns query's extra columns.
pub(super) const COMMENT: &str = "_comment";
pub(super) const QUOTED: &str = "_quoted";
pub(super) const PRIVILEGES: &str = "_privileges";

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
