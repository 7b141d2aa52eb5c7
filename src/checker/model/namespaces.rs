//! Schemas and extensions.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::Grant;
use super::catalog::{SCHEMAS, acl, comment, not_in_extension};

/// A schema.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SchemaDef {
    /// Quoted name.
    pub name: String,
    /// Its comment.
    pub comment: Option<String>,
    /// Its privileges.
    #[serde(default)]
    pub acl: BTreeSet<Grant>,
}

/// An extension.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExtensionDef {
    /// Quoted name.
    pub name: String,
    /// The schema of its objects (quoted).
    pub schema: String,
    /// Its version.
    pub version: String,
}

/// The query reading the schemas.
pub(super) fn schemas() -> String {
    format!(
        "SELECT jsonb_build_object('name', quote_ident(n.nspname),
                   'comment', {}, 'acl', {})
                 FROM pg_namespace n WHERE {SCHEMAS} AND {}",
        comment("pg_namespace", "n.oid", "0"),
        acl("n.nspacl", "n", "n.nspowner"),
        not_in_extension("pg_namespace", "n.oid")
    )
}

/// The query reading the extensions.
pub(super) fn extensions() -> String {
    "SELECT jsonb_build_object('name', quote_ident(e.extname), 'schema', quote_ident(n.nspname),
               'version', e.extversion)
             FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
             WHERE e.extname <> 'plpgsql' AND n.nspname <> ALL($1::text[])"
        .to_string()
}
