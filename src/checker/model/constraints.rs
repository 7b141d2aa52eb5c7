//! Table constraints and the indexes that back none.

use serde::Deserialize;

use super::catalog::{SCHEMAS, comment, not_in_extension};

/// A table constraint (not NOT NULL).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConstraintDef {
    /// The table (quoted, qualified).
    pub table: String,
    /// Quoted name.
    pub name: String,
    /// `p`, `u`, `c`, `f`, `x`.
    pub kind: String,
    /// `pg_get_constraintdef`.
    pub definition: String,
    /// For a foreign key: the table it references.
    pub references: Option<String>,
    /// Its comment.
    pub comment: Option<String>,
}

/// An index that backs no constraint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IndexDef {
    /// Quoted, qualified name.
    pub name: String,
    /// The table or materialized view.
    pub table: String,
    /// `pg_get_indexdef`: a whole `CREATE INDEX`.
    pub definition: String,
    /// Its comment.
    pub comment: Option<String>,
}

/// The query reading the constraints.
pub(super) fn constraints() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT jsonb_build_object(
                   'table', format('%I.%I', n.nspname, c.relname),
                   'name', quote_ident(co.conname),
                   'kind', co.contype::text,
                   'definition', pg_get_constraintdef(co.oid),
                   'references', CASE WHEN co.contype = 'f' THEN co.confrelid::regclass::text END,
                   'comment', {})
                 FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE co.contype IN ('p', 'u', 'c', 'f', 'x') AND co.conislocal
                   AND {SCHEMAS} AND {rel_ext}",
        comment("pg_constraint", "co.oid", "0")
    )
}

/// The query reading the indexes.
pub(super) fn indexes() -> String {
    format!(
        "SELECT jsonb_build_object(
                   'name', format('%I.%I', n.nspname, ic.relname),
                   'table', format('%I.%I', tn.nspname, c.relname),
                   'definition', pg_get_indexdef(i.indexrelid),
                   'comment', {})
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                 JOIN pg_namespace n ON n.oid = ic.relnamespace
                 JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = c.relnamespace
                 WHERE NOT EXISTS (SELECT FROM pg_constraint co WHERE co.conindid = i.indexrelid
                                   AND co.contype IN ('p', 'u', 'x'))
                   AND NOT EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
                   AND {SCHEMAS} AND {}",
        comment("pg_class", "ic.oid", "0"),
        not_in_extension("pg_class", "c.oid")
    )
}
