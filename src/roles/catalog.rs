//! What the server says about roles and schemas: which exist, their types, memberships,
//! and every role's access to the configured schemas. One query each.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::sql::quote_literal;
use crate::wire::Sql;

/// `ARRAY['a','b']::text[]` of quoted literals.
fn text_array<'s>(items: impl IntoIterator<Item = &'s str>) -> String {
    let items: Vec<String> = items.into_iter().map(quote_literal).collect();
    format!("ARRAY[{}]::text[]", items.join(","))
}

pub(super) fn existing_schemas<'s>(
    sql: &mut dyn Sql,
    schemas: &[&'s str],
) -> Result<BTreeSet<&'s str>> {
    if schemas.is_empty() {
        return Ok(BTreeSet::new());
    }
    let rows = sql
        .rows(&format!(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY({})",
            text_array(schemas.iter().copied())
        ))
        .map_err(|e| Error::server("read the schemas", &e))?;
    let found: BTreeSet<String> = rows.into_iter().filter_map(|r| r[0].clone()).collect();
    Ok(schemas
        .iter()
        .copied()
        .filter(|s| found.contains(*s))
        .collect())
}

/// The types of `schemas` that default privileges would cover: not arrays, not the row
/// types of tables, views and sequences (but standalone composite types).
pub(super) fn grantable_types(
    sql: &mut dyn Sql,
    schemas: &BTreeSet<&str>,
) -> Result<Vec<(String, String)>> {
    if schemas.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sql
        .rows(&format!(
            "SELECT n.nspname, t.typname FROM pg_type t \
             JOIN pg_namespace n ON n.oid = t.typnamespace \
             LEFT JOIN pg_class c ON c.oid = t.typrelid \
             WHERE n.nspname = ANY({}) AND t.typtype IN ('b', 'c', 'd', 'e', 'r', 'm') \
             AND NOT (t.typelem <> 0 AND t.typlen = -1) \
             AND (t.typrelid = 0 OR c.relkind = 'c') ORDER BY 1, 2",
            text_array(schemas.iter().copied())
        ))
        .map_err(|e| Error::server("read the schemas' types", &e))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r[0].clone()?, r[1].clone()?)))
        .collect())
}

pub(super) fn existing_roles(sql: &mut dyn Sql, names: &[String]) -> Result<BTreeSet<String>> {
    if names.is_empty() {
        return Ok(BTreeSet::new());
    }
    let rows = sql
        .rows(&format!(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY({})",
            text_array(names.iter().map(String::as_str))
        ))
        .map_err(|e| Error::server("read the roles", &e))?;
    Ok(rows.into_iter().filter_map(|r| r[0].clone()).collect())
}

/// The roles `name` is a member of, sorted.
pub(super) fn memberships(sql: &mut dyn Sql, name: &str) -> Result<Vec<String>> {
    let rows = sql
        .rows(&format!(
            "SELECT r.rolname FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid \
             JOIN pg_roles m ON m.oid = am.member WHERE m.rolname = {} ORDER BY 1",
            quote_literal(name)
        ))
        .map_err(|e| Error::server("read the role's memberships", &e))?;
    Ok(rows.into_iter().filter_map(|r| r[0].clone()).collect())
}

/// (member, role) for every membership.
pub(super) fn all_memberships(sql: &mut dyn Sql) -> Result<Vec<(String, String)>> {
    let rows = sql
        .rows(
            "SELECT m.rolname, r.rolname FROM pg_auth_members am \
             JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member \
             ORDER BY 1, 2",
        )
        .map_err(|e| Error::server("read the memberships", &e))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r[0].clone()?, r[1].clone()?)))
        .collect())
}

pub(super) struct DbRole {
    pub(super) name: String,
    pub(super) login: bool,
    pub(super) superuser: bool,
}

pub(super) fn all_roles(sql: &mut dyn Sql) -> Result<Vec<DbRole>> {
    let rows = sql
        .rows("SELECT rolname, rolcanlogin::text, rolsuper::text FROM pg_roles ORDER BY 1")
        .map_err(|e| Error::server("read the roles", &e))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(DbRole {
                name: r[0].clone()?,
                login: r[1].as_deref() == Some("true"),
                superuser: r[2].as_deref() == Some("true"),
            })
        })
        .collect())
}

/// What one role may do in one schema.
pub(super) struct Access {
    pub(super) role: String,
    pub(super) schema: String,
    pub(super) read: bool,
    pub(super) write: bool,
    pub(super) usage: bool,
}

/// The access of every role to every existing schema of `schemas`, in one query.
pub(super) fn access(sql: &mut dyn Sql, schemas: &[String]) -> Result<Vec<Access>> {
    if schemas.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sql
        .rows(&format!(
            "SELECT r.rolname, n.nspname, \
             (has_schema_privilege(r.oid, n.oid, 'USAGE') AND coalesce((SELECT \
               bool_and(has_table_privilege(r.oid, c.oid, 'SELECT')) FROM pg_class c \
               WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'v', 'm', 'p')), true))::text, \
             (has_schema_privilege(r.oid, n.oid, 'CREATE') AND coalesce((SELECT \
               bool_and(has_table_privilege(r.oid, c.oid, 'INSERT') AND \
               has_table_privilege(r.oid, c.oid, 'UPDATE') AND \
               has_table_privilege(r.oid, c.oid, 'DELETE')) FROM pg_class c \
               WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p')), true))::text, \
             has_schema_privilege(r.oid, n.oid, 'USAGE')::text \
             FROM pg_roles r CROSS JOIN pg_namespace n WHERE n.nspname = ANY({}) ORDER BY 1, 2",
            text_array(schemas.iter().map(String::as_str))
        ))
        .map_err(|e| Error::server("read the roles' access", &e))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(Access {
                role: r[0].clone()?,
                schema: r[1].clone()?,
                read: r[2].as_deref() == Some("true"),
                write: r[3].as_deref() == Some("true"),
                usage: r[4].as_deref() == Some("true"),
            })
        })
        .collect())
}
