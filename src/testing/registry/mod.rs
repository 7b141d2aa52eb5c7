//! The registry of a server: schema `pum_registry` of database `pum_registry` ([`DATABASE`]),
//! one per server whatever database `PUM_TEST_DATABASE_URL` names, made on first use by
//! whichever runner comes first and open to every role: every test database with its
//! owner and lease, the spare clones made ahead of the tests that will want them, every
//! template with its build status. Every database the harness makes is registered here
//! before it exists. Processes and machines sharing a server learn from it what the others
//! made, and which of those are orphans to drop; a database it does not know is never
//! dropped.
//!
//! Which databases are orphans is decided by [`orphans`], a pure function of what the
//! registry and the catalog say; the SQL around it only reads and writes rows.
//!
//! This module makes and opens the registry; its rows are read and written by
//! [`runners`] (who runs, and their leases), [`databases`] (test databases and spares) and
//! [`templates`] (templates and references, their builds and eviction).

mod databases;
mod runners;
mod templates;

pub(crate) use databases::*;
pub(crate) use runners::*;
pub(crate) use templates::*;

use postgres::GenericClient;

use crate::connect::ConnectionSpec;
use crate::database::{CreateOptions, Maintenance};
use crate::error::{Error, Result};
use crate::lock::{AdvisoryLock, HARNESS};
use crate::sql::quote_identifier;

/// The database that holds the registry on every server: one place per server, whatever
/// database `PUM_TEST_DATABASE_URL` names, so that every runner sees every other's
/// databases (and advisory locks, which are per database, are shared too).
pub(crate) const DATABASE: &str = "pum_registry";

/// The registry's layout; a registry of an older layout is brought up to it (every
/// statement of [`make_schema`] may run again: columns are only ever added).
/// 3: `templates.source`, what a template is built from (`pum test list` shows it).
/// 4: `databases.shared_of`, the template of a shared database (`isolation = "transaction"`).
const FORMAT: i32 = 4;

/// SQLSTATE insufficient_privilege.
const INSUFFICIENT_PRIVILEGE: &str = "42501";

/// SQLSTATE invalid_catalog_name: no such database.
const UNDEFINED_DATABASE: &str = "3D000";

/// The settings of the registry's database on the server of `server` (the harness's
/// server, any of its databases), the database and the registry made on first use. A role
/// that may not do what the harness needs gets one message naming the privilege.
///
/// # Errors
/// [`Error::Setting`] (of `PUM_TEST_DATABASE_URL`) naming the privilege the role lacks;
/// connection and SQL errors.
pub(crate) fn open(server: &ConnectionSpec) -> Result<ConnectionSpec> {
    let registry = server.with_dbname(DATABASE);
    let mut client = match registry.connect() {
        Ok(client) => client,
        Err(e) if e.sqlstate() == Some(UNDEFINED_DATABASE) => {
            create_database(server)?;
            registry.connect().map_err(|e| refused_connect(server, e))?
        }
        Err(e) => return Err(refused_connect(server, e)),
    };
    let (may_create, user): (bool, String) = client
        .query_one(
            "SELECT rolsuper OR rolcreatedb, current_user::text FROM pg_roles \
             WHERE rolname = current_user",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .map_err(|e| Error::sql("read the role's privileges", &e))?;
    if !may_create {
        return Err(lacking(format!(
            "role \"{user}\" may not create databases, and the test harness makes one per \
             test: a superuser grants it with ALTER ROLE {} CREATEDB",
            quote_identifier("role", &user)?
        )));
    }
    make(&mut client, &user)?;
    Ok(registry)
}

/// The settings of the registry's database on the server of `server` when there is a
/// registry there, `None` when there is none (no database `pum_registry`, or one without
/// the registry's tables). Makes nothing: what reads or cleans the caches of a server
/// (`pum test list`, `pum test prune`) must not leave a registry where there was none.
///
/// # Errors
/// Connection errors other than a missing database; SQL errors.
pub(crate) fn existing(server: &ConnectionSpec) -> Result<Option<ConnectionSpec>> {
    let registry = server.with_dbname(DATABASE);
    let mut client = match registry.connect() {
        Ok(client) => client,
        Err(e) if e.sqlstate() == Some(UNDEFINED_DATABASE) => return Ok(None),
        Err(e) => return Err(refused_connect(server, e)),
    };
    let made: bool = client
        .query_one(
            "SELECT to_regclass('pum_registry.databases') IS NOT NULL \
             AND to_regclass('pum_registry.templates') IS NOT NULL \
             AND to_regclass('pum_registry.runners') IS NOT NULL \
             AND to_regclass('pum_registry.template_users') IS NOT NULL",
            &[],
        )
        .map_err(registry_error)?
        .get(0);
    Ok(made.then_some(registry))
}

/// An error naming what the role of `PUM_TEST_DATABASE_URL` (or of the server) lacks.
fn lacking(message: String) -> Error {
    Error::Setting {
        variable: "PUM_TEST_DATABASE_URL".into(),
        message,
    }
}

/// A refused connection to the registry's database, saying which grant is missing when
/// that is why.
fn refused_connect(server: &ConnectionSpec, e: Error) -> Error {
    if e.sqlstate() != Some(INSUFFICIENT_PRIVILEGE) {
        return e;
    }
    let user = server.user();
    lacking(format!(
        "role \"{user}\" may not connect to database {DATABASE}, where the test harness keeps \
         its registry of every database it makes on the server: its owner (or a superuser) \
         grants it with GRANT CONNECT ON DATABASE {DATABASE} TO {}",
        quote_identifier("role", user).unwrap_or_else(|_| user.to_string())
    ))
}

/// Creates the registry's database (whoever comes first), from the database `server`
/// names (else `postgres` or `template1`), open to every role: each runner, whatever its
/// role, registers there.
fn create_database(server: &ConnectionSpec) -> Result<()> {
    let mut session = match Maintenance::on(server) {
        Ok(session) => session,
        Err(_) => Maintenance::connect(server, DATABASE)?,
    };
    match session.create(DATABASE, &CreateOptions::default()) {
        Ok(()) => {}
        Err(Error::AlreadyExists { .. }) => return Ok(()),
        Err(e) if e.sqlstate() == Some(INSUFFICIENT_PRIVILEGE) => {
            let user = server.user();
            return Err(lacking(format!(
                "role \"{user}\" may not create databases, and the test harness makes one per \
                 test (and, once per server, database {DATABASE} for its registry): a \
                 superuser grants it with ALTER ROLE {} CREATEDB",
                quote_identifier("role", user)?
            )));
        }
        Err(e) => return Err(e),
    }
    // Any role may make the registry's schema, should its creator die before it does.
    session
        .client()
        .batch_execute(&format!(
            "GRANT CONNECT, TEMPORARY, CREATE ON DATABASE {DATABASE} TO PUBLIC"
        ))
        .map_err(|e| Error::sql(format!("open database {DATABASE} to every role"), &e))
}

/// The registry's format, 0 when it has none.
fn layout(client: &mut impl GenericClient) -> Result<i32> {
    let made: bool = client
        .query_one("SELECT to_regclass('pum_registry.format') IS NOT NULL", &[])
        .map_err(registry_error)?
        .get(0);
    if !made {
        return Ok(0);
    }
    Ok(client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM pum_registry.format",
            &[],
        )
        .map_err(registry_error)?
        .get(0))
}

/// Makes the registry (once, whoever comes first), usable by every role: runners of
/// different roles share a server. Checks that `user` may use it.
pub(crate) fn make(client: &mut postgres::Client, user: &str) -> Result<()> {
    if layout(client)? < FORMAT {
        make_schema(client).map_err(|e| {
            if e.sqlstate() == Some(INSUFFICIENT_PRIVILEGE) {
                lacking(format!(
                    "role \"{user}\" may not make the test registry (schema pum_registry of \
                     database {DATABASE}): {e}; its owner (or a superuser) runs the tests once, \
                     or grants CREATE ON DATABASE {DATABASE} TO PUBLIC"
                ))
            } else {
                e
            }
        })?;
    }
    let usable: bool = client
        .query_one(
            "SELECT has_schema_privilege('pum_registry', 'USAGE') \
             AND has_table_privilege('pum_registry.databases', 'SELECT, INSERT, UPDATE, DELETE') \
             AND has_table_privilege('pum_registry.templates', 'SELECT, INSERT, UPDATE, DELETE') \
             AND has_table_privilege('pum_registry.runners', 'SELECT, INSERT, UPDATE, DELETE') \
             AND has_table_privilege('pum_registry.template_users', 'SELECT, INSERT, UPDATE, DELETE')",
            &[],
        )
        .map_err(registry_error)?
        .get(0);
    if !usable {
        return Err(lacking(format!(
            "role \"{user}\" may not use the test registry (schema pum_registry of database \
             {DATABASE}): its owner (or a superuser) grants it with GRANT USAGE ON SCHEMA \
             pum_registry TO PUBLIC; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN \
             SCHEMA pum_registry TO PUBLIC"
        )));
    }
    Ok(())
}

fn make_schema(client: &mut postgres::Client) -> Result<()> {
    let failed = |e: postgres::Error| Error::sql("make the test registry", &e);
    let mut tx = client.transaction().map_err(failed)?;
    AdvisoryLock::new(HARNESS, "pum_registry").acquire_for_transaction(&mut tx)?;
    if layout(&mut tx)? >= FORMAT {
        return Ok(());
    }
    tx.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS pum_registry;
         CREATE TABLE IF NOT EXISTS pum_registry.format (version integer NOT NULL);
         CREATE TABLE IF NOT EXISTS pum_registry.templates (
           name text PRIMARY KEY,
           family text NOT NULL,
           status text NOT NULL,
           message text,
           built_at timestamptz NOT NULL DEFAULT now(),
           used_at timestamptz NOT NULL DEFAULT now(),
           builds integer NOT NULL DEFAULT 1,
           clones bigint NOT NULL DEFAULT 0);
         CREATE TABLE IF NOT EXISTS pum_registry.databases (
           name text PRIMARY KEY,
           runner text,
           host text NOT NULL,
           boot_id text NOT NULL,
           pid integer NOT NULL,
           started bigint NOT NULL,
           lease_until timestamptz,
           kept boolean NOT NULL DEFAULT false,
           test text,
           spare_of text,
           ready boolean NOT NULL DEFAULT false,
           created_at timestamptz NOT NULL DEFAULT now());
         CREATE INDEX IF NOT EXISTS databases_runner ON pum_registry.databases (runner);
         CREATE TABLE IF NOT EXISTS pum_registry.runners (
           id text PRIMARY KEY,
           host text NOT NULL,
           boot_id text NOT NULL,
           pid integer NOT NULL,
           started_at timestamptz NOT NULL DEFAULT now(),
           lease_until timestamptz NOT NULL);
         ALTER TABLE pum_registry.templates ADD COLUMN IF NOT EXISTS project text;
         ALTER TABLE pum_registry.templates ADD COLUMN IF NOT EXISTS source text;
         ALTER TABLE pum_registry.databases ADD COLUMN IF NOT EXISTS shared_of text;
         CREATE TABLE IF NOT EXISTS pum_registry.template_users (
           template text NOT NULL,
           runner text NOT NULL,
           PRIMARY KEY (template, runner));",
    )
    .map_err(failed)?;
    tx.batch_execute(
        "CREATE OR REPLACE FUNCTION pum_registry.take_database(
           template text, new_name text, runner text, host text, boot_id text, pid integer,
           started bigint, test text, lease_seconds integer,
           OUT claimed boolean, OUT clones bigint)
         LANGUAGE plpgsql AS $take$
         DECLARE
           spare text;
         BEGIN
           UPDATE pum_registry.templates t SET clones = t.clones + 1 WHERE t.name = template
             RETURNING t.clones INTO clones;
           claimed := false;
           LOOP
             -- Only a spare this role may rename: runners of other roles share the server.
             SELECT d.name INTO spare FROM pum_registry.databases d
               WHERE d.spare_of = template AND d.ready
                 AND EXISTS (SELECT FROM pg_database p WHERE p.datname = d.name
                             AND pg_has_role(p.datdba, 'MEMBER'))
               ORDER BY d.created_at LIMIT 1 FOR UPDATE SKIP LOCKED;
             EXIT WHEN spare IS NULL;
             BEGIN
               EXECUTE format('ALTER DATABASE %I RENAME TO %I', spare, new_name);
               DELETE FROM pum_registry.databases d WHERE d.name = spare;
               claimed := true;
               EXIT;
             EXCEPTION WHEN invalid_catalog_name OR object_in_use OR insufficient_privilege THEN
               -- Dropped by a sweep meanwhile, or someone is connected to it: no spare.
               UPDATE pum_registry.databases d SET ready = false WHERE d.name = spare;
             END;
           END LOOP;
           INSERT INTO pum_registry.databases
               (name, runner, host, boot_id, pid, started, lease_until, test)
             VALUES (new_name, take_database.runner, take_database.host, take_database.boot_id,
                     take_database.pid, take_database.started,
                     now() + make_interval(secs => lease_seconds), take_database.test);
         END
         $take$;
         GRANT USAGE ON SCHEMA pum_registry TO PUBLIC;
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA pum_registry TO PUBLIC;
         GRANT EXECUTE ON FUNCTION pum_registry.take_database(text, text, text, text, text,
           integer, bigint, text, integer) TO PUBLIC;",
    )
    .map_err(failed)?;
    tx.execute(
        "INSERT INTO pum_registry.format (version) VALUES ($1)",
        &[&FORMAT],
    )
    .map_err(failed)?;
    tx.commit().map_err(failed)
}

fn registry_error(e: postgres::Error) -> Error {
    Error::sql("use the test registry", &e)
}
