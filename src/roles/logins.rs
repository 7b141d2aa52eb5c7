//! Login roles: create one (its password hashed here), drop one (or any role with what it
//! owns), list them, list the login members of a role.

use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::sql::{quote_identifier, quote_literal};

use super::catalog::{all_roles, existing_roles};
use super::{in_transaction, run};

/// Creates a LOGIN role; a password is hashed here (SCRAM-SHA-256) and only the hash is
/// sent.
///
/// # Errors
/// [`Error::InvalidIdentifier`]; [`Error::AlreadyExists`] when the role exists; server
/// errors.
pub fn create_login(spec: &ConnectionSpec, name: &str, password: Option<&str>) -> Result<()> {
    let role = quote_identifier("role", name)?;
    let mut sql = format!("CREATE ROLE {role} LOGIN");
    if let Some(password) = password {
        let hash = postgres_protocol::password::scram_sha_256(password.as_bytes());
        sql.push_str(&format!(" PASSWORD {}", quote_literal(&hash)));
    }
    in_transaction(spec, |s| {
        s.batch(&sql).map_err(|e| {
            if e.code.as_deref() == Some("42710") {
                Error::AlreadyExists {
                    kind: "role",
                    name: name.to_string(),
                }
            } else {
                Error::server(format!("create login role {name}"), &e)
            }
        })
    })
}

/// Drops `role`: what it owns in the database `spec` names is reassigned to
/// `reassign_to` (or dropped with it), its privileges there are dropped, then the role.
/// Returns whether it existed (a missing role is no error).
///
/// # Errors
/// [`Error::InvalidIdentifier`]; [`Error::Refused`] for the role `spec` connects as;
/// server errors (objects or privileges in other databases keep a role: the server names
/// them).
pub fn drop_role(spec: &ConnectionSpec, role: &str, reassign_to: Option<&str>) -> Result<bool> {
    let role_q = quote_identifier("role", role)?;
    let target = reassign_to
        .map(|r| quote_identifier("role", r))
        .transpose()?;
    if role == spec.user() {
        return Err(Error::Refused {
            operation: format!("drop role {role}"),
            reason: "it is the role this connection uses".into(),
        });
    }
    in_transaction(spec, |sql| {
        if existing_roles(sql, &[role.to_string()])?.is_empty() {
            return Ok(false);
        }
        let mut statements = String::new();
        if let Some(target) = &target {
            statements.push_str(&format!("REASSIGN OWNED BY {role_q} TO {target};\n"));
        }
        statements.push_str(&format!("DROP OWNED BY {role_q};\nDROP ROLE {role_q};\n"));
        run(sql, &statements, &format!("drop role {role}"))?;
        Ok(true)
    })
}

/// Drops a role (`DROP ROLE IF EXISTS`); returns whether it existed.
///
/// # Errors
/// [`Error::InvalidIdentifier`]; server errors (the role still owns something).
pub fn drop_login(spec: &ConnectionSpec, name: &str) -> Result<bool> {
    let role = quote_identifier("role", name)?;
    in_transaction(spec, |sql| {
        let existed = !existing_roles(sql, &[name.to_string()])?.is_empty();
        run(sql, &format!("DROP ROLE IF EXISTS {role}"), "drop the role")?;
        Ok(existed)
    })
}

/// The login roles that are not superusers (nor PostgreSQL's own `pg_*`), sorted.
///
/// # Errors
/// Connection and server errors.
pub fn login_roles(spec: &ConnectionSpec) -> Result<Vec<String>> {
    in_transaction(spec, |sql| {
        Ok(all_roles(sql)?
            .into_iter()
            .filter(|r| r.login && !r.superuser && !r.name.starts_with("pg_"))
            .map(|r| r.name)
            .collect())
    })
}

/// The login roles that are members of `role`, sorted.
///
/// # Errors
/// Connection and server errors.
pub fn members_of(spec: &ConnectionSpec, role: &str) -> Result<Vec<String>> {
    in_transaction(spec, |sql| {
        let rows = sql
            .rows(&format!(
                "SELECT m.rolname FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid \
                 JOIN pg_roles m ON m.oid = am.member WHERE r.rolname = {} AND m.rolcanlogin \
                 ORDER BY 1",
                quote_literal(role)
            ))
            .map_err(|e| Error::server("read the role's members", &e))?;
        Ok(rows.into_iter().filter_map(|r| r[0].clone()).collect())
    })
}
