//! Roles made for one test ([`super::TestDb::role`]). Roles are the server's, not a
//! database's, so a role a test body creates with `CREATE ROLE` outlives its database and
//! fails the next run with "role already exists". A role made by `db.role("reader")` is
//! instead named for its test database (`reader_<the database's unique suffix>`), marked
//! as the harness's by its comment (`pum test role of database pum_t_…`), and dropped
//! with that database: at teardown, when a kept database is evicted, when a sweep drops
//! an orphan, and — for a killed run — by any later sweep, which drops every marked role
//! whose database no longer exists. A role without the mark is never dropped.

use postgres::GenericClient;

use crate::error::{Error, Result};
use crate::sql::{quote_identifier, quote_literal};

/// How the comment of a harness role starts; the rest is its test database's name.
const MARK: &str = "pum test role of database ";

/// The comment that marks a role as made for test database `database`.
fn mark(database: &str) -> String {
    format!("{MARK}{database}")
}

/// The name of role `name` of test database `database`: `<name>_<suffix>`, the suffix
/// being the unique hash that ends the database's name (`pum_t_<test>_<suffix>`).
///
/// # Errors
/// [`Error::InvalidIdentifier`] for an empty name or one over PostgreSQL's 63 bytes.
pub(crate) fn role_name(database: &str, name: &str) -> Result<String> {
    if name.is_empty() {
        quote_identifier("role", name)?;
    }
    let suffix = database.rsplit('_').next().unwrap_or(database);
    let full = format!("{name}_{suffix}");
    quote_identifier("role", &full)?;
    Ok(full)
}

/// Creates role `name` (NOLOGIN) for test database `database` and marks it the harness's,
/// in one transaction (a role is never left unmarked); returns its name.
///
/// # Errors
/// An invalid name; the server's refusal (no `CREATEROLE`, the role exists).
pub(crate) fn create(client: &mut postgres::Client, database: &str, name: &str) -> Result<String> {
    let role = role_name(database, name)?;
    let failed = |e: postgres::Error| Error::sql(format!("create role {role} for the test"), &e);
    let mut tx = client.transaction().map_err(failed)?;
    create_in(&mut tx, database, name)?;
    tx.commit().map_err(failed)?;
    Ok(role)
}

/// [`create`] inside the transaction `client` is in (`isolation = "transaction"`: the
/// role goes when the test's transaction is rolled back).
///
/// # Errors
/// As [`create`].
pub(crate) fn create_in(
    client: &mut impl GenericClient,
    database: &str,
    name: &str,
) -> Result<String> {
    let role = role_name(database, name)?;
    let quoted = quote_identifier("role", &role)?;
    client
        .batch_execute(&format!(
            "CREATE ROLE {quoted} NOLOGIN; COMMENT ON ROLE {quoted} IS {}",
            quote_literal(&mark(database))
        ))
        .map_err(|e| Error::sql(format!("create role {role} for the test"), &e))?;
    Ok(role)
}

/// Drops the roles made for test database `database` (once it is dropped: its grants go
/// with it).
///
/// # Errors
/// The first role that cannot be dropped (it owns objects elsewhere, say); the others
/// are dropped all the same, and a later sweep tries again.
pub(crate) fn drop_of(client: &mut impl GenericClient, database: &str) -> Result<()> {
    let roles: Vec<String> = client
        .query(
            "SELECT rolname::text FROM pg_roles WHERE shobj_description(oid, 'pg_authid') = $1",
            &[&mark(database)],
        )
        .map_err(|e| Error::sql("find the roles of a test database", &e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut first = None;
    for (_, result) in drop_all(client, roles) {
        if let Err(e) = result {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

/// Drops the harness's roles whose test database no longer exists (a killed run's, or
/// one whose drop failed at teardown) and which this session's role may drop; returns
/// each role tried, with whether it was dropped.
///
/// # Errors
/// When the catalog cannot be read.
pub(crate) fn sweep(client: &mut impl GenericClient) -> Result<Vec<(String, Result<()>)>> {
    let roles: Vec<String> = client
        .query(
            "SELECT r.rolname::text FROM pg_roles r,
               LATERAL (SELECT shobj_description(r.oid, 'pg_authid') AS mark) m
             WHERE starts_with(m.mark, $1)
               AND NOT EXISTS (SELECT FROM pg_database d
                               WHERE d.datname = substr(m.mark, length($1) + 1))
               AND (pg_has_role(r.oid, 'MEMBER WITH ADMIN OPTION')
                    OR (current_setting('server_version_num')::int < 160000
                        AND NOT r.rolsuper
                        AND (SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user)))",
            &[&MARK],
        )
        .map_err(|e| Error::sql("find the roles of dropped test databases", &e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(drop_all(client, roles))
}

/// Drops each of `roles` (`IF EXISTS`: another runner's sweep may be first).
fn drop_all(client: &mut impl GenericClient, roles: Vec<String>) -> Vec<(String, Result<()>)> {
    roles
        .into_iter()
        .map(|role| {
            let result = quote_identifier("role", &role).and_then(|quoted| {
                client
                    .batch_execute(&format!("DROP ROLE IF EXISTS {quoted}"))
                    .map_err(|e| Error::sql(format!("drop role {role}"), &e))
            });
            (role, result)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_is_named_for_its_test_database() {
        assert_eq!(
            role_name("pum_t_grants_work_0123456789", "reader").unwrap(),
            "reader_0123456789"
        );
        let long = "r".repeat(52);
        assert!(role_name("pum_t_x_0123456789", &long).is_ok());
        let too_long = "r".repeat(53);
        let e = role_name("pum_t_x_0123456789", &too_long).unwrap_err();
        assert!(e.to_string().contains("64 bytes long"), "{e}");
        assert!(role_name("pum_t_x_0123456789", "").is_err());
    }
}
