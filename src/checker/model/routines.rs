//! Functions, procedures and the triggers that run them.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::Grant;
use super::catalog::{SCHEMAS, acl, comment, not_in_extension};

/// A function or procedure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FunctionDef {
    /// `"s"."f"(integer, text)`: quoted name and identity arguments.
    pub signature: String,
    /// `f` function, `p` procedure.
    pub kind: String,
    /// Its language.
    pub language: String,
    /// Its result type (`pg_get_function_result`).
    pub result: Option<String>,
    /// Its arguments with names and defaults (`pg_get_function_arguments`).
    pub arguments: String,
    /// `pg_get_functiondef`: a whole `CREATE OR REPLACE`.
    pub definition: String,
    /// Its body is SQL-standard (`BEGIN ATOMIC`, `RETURN`): parsed, with dependencies, at
    /// creation.
    #[serde(default)]
    pub sql_body: bool,
    /// Its comment.
    pub comment: Option<String>,
    /// Its privileges.
    #[serde(default)]
    pub acl: BTreeSet<Grant>,
}

/// A trigger.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TriggerDef {
    /// The table or view.
    pub table: String,
    /// Quoted name.
    pub name: String,
    /// `pg_get_triggerdef`.
    pub definition: String,
    /// The function it runs (signature).
    pub function: String,
    /// `O`, `D`, `R`, `A`: enabled how.
    pub enabled: String,
    /// Its comment.
    pub comment: Option<String>,
}

/// The query reading the functions.
pub(super) fn functions(version: i32) -> String {
    let sql_body = if version >= 140000 {
        "p.prosqlbody IS NOT NULL"
    } else {
        "false"
    };
    format!(
                "SELECT jsonb_build_object(
                   'signature', format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
                   'kind', p.prokind::text,
                   'language', l.lanname,
                   'result', pg_get_function_result(p.oid),
                   'arguments', pg_get_function_arguments(p.oid),
                   'definition', pg_get_functiondef(p.oid),
                   'sql_body', {sql_body},
                   'comment', {}, 'acl', {})
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 JOIN pg_language l ON l.oid = p.prolang
                 WHERE p.prokind IN ('f', 'p') AND {SCHEMAS} AND {}
                   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                                   AND d.objid = p.oid AND d.deptype = 'i')",
                comment("pg_proc", "p.oid", "0"),
                acl("p.proacl", "f", "p.proowner"),
                not_in_extension("pg_proc", "p.oid")
            )
}

/// The query reading the triggers.
pub(super) fn triggers() -> String {
    let rel_ext = not_in_extension("pg_class", "c.oid");
    format!(
        "SELECT jsonb_build_object(
                   'table', format('%I.%I', n.nspname, c.relname),
                   'name', quote_ident(tg.tgname),
                   'definition', pg_get_triggerdef(tg.oid),
                   'function', format('%I.%I(%s)', pn.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
                   'enabled', tg.tgenabled::text,
                   'comment', {})
                 FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_proc p ON p.oid = tg.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace
                 WHERE NOT tg.tgisinternal AND tg.tgparentid = 0 AND {SCHEMAS} AND {rel_ext}",
        comment("pg_trigger", "tg.oid", "0")
    )
}
