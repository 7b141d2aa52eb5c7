//! Creating, dropping and guarding whole databases.
//!
//! Every function takes the [`ConnectionSpec`] of any database on the server and does its
//! work from a maintenance database, as `createdb`/`dropdb` do: `postgres`, or `template1`
//! where `postgres` does not exist or is the database being created or dropped.
//!
//! Names are always quoted with [`crate::quote_identifier`]: `my "odd" db` is a fine database
//! name, and a name PostgreSQL would silently truncate (over 63 bytes) is an error. Values
//! written into SQL text go through [`crate::quote_literal`]. Both live in `sql/quote.rs`, the
//! crate's only quoting functions.

use std::time::Duration;

use postgres::GenericClient;

use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::sql::quote_identifier;

/// The databases every server needs, which pum never drops (`force` or not).
pub const MAINTENANCE_DATABASES: [&str; 3] = ["postgres", "template0", "template1"];

/// Refuses to drop `name` when it is a maintenance database or the database `spec` names
/// (the one the user pointed pum at), before anything is asked or sent.
///
/// # Errors
/// [`Error::Refused`] saying why; [`Error::InvalidIdentifier`] for a bad name.
pub fn check_drop(spec: &ConnectionSpec, name: &str) -> Result<()> {
    quote_identifier("database", name)?;
    if MAINTENANCE_DATABASES.contains(&name) {
        return Err(refuse_drop(name, MAINTENANCE_REASON));
    }
    if name == spec.dbname() {
        return Err(refuse_drop(
            name,
            "it is the database the connection names; connect to another database of the \
             server (-p …dbname=postgres) to drop it",
        ));
    }
    Ok(())
}

const MAINTENANCE_REASON: &str =
    "it is one of the databases every server needs (postgres, template0, template1)";

fn refuse_drop(name: &str, reason: &str) -> Error {
    Error::Refused {
        operation: format!("drop database \"{name}\""),
        reason: reason.to_string(),
    }
}

/// Quotes a role name for GRANT/REVOKE; `PUBLIC` (any case) stays the keyword.
fn quote_grantee(role: &str) -> Result<String> {
    if role.eq_ignore_ascii_case("public") {
        Ok("PUBLIC".to_string())
    } else {
        quote_identifier("role", role)
    }
}

/// How `CREATE DATABASE` copies the template (PostgreSQL 15 and later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateStrategy {
    /// Copy block by block through the write-ahead log (the default since PostgreSQL 15);
    /// fast for small templates.
    WalLog,
    /// Copy the files and checkpoint; faster for large templates.
    FileCopy,
}

impl CreateStrategy {
    fn sql(self) -> &'static str {
        match self {
            CreateStrategy::WalLog => "WAL_LOG",
            CreateStrategy::FileCopy => "FILE_COPY",
        }
    }
}

/// Options of [`create_database`].
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Copy this database instead of `template1`. It must have no other session open.
    pub template: Option<String>,
    /// How to copy the template; `None` leaves the server's default.
    pub strategy: Option<CreateStrategy>,
    /// The new database's owner; `None` makes it the connecting user.
    pub owner: Option<String>,
}

/// Options of [`drop_database`].
#[derive(Debug, Clone)]
pub struct DropOptions {
    /// End the other sessions on the database first (as Python pum always does).
    /// When false, a database in use is an error. Default: true.
    pub force: bool,
    /// A missing database is not an error. Default: false.
    pub if_exists: bool,
}

impl Default for DropOptions {
    fn default() -> DropOptions {
        DropOptions {
            force: true,
            if_exists: false,
        }
    }
}

impl DropOptions {
    /// Forced, and a missing database is no error: what cleaning up wants.
    pub fn if_exists() -> DropOptions {
        DropOptions {
            if_exists: true,
            ..DropOptions::default()
        }
    }
}

/// Options of [`set_access`].
#[derive(Debug, Clone, Default)]
pub struct AccessOptions {
    /// Roles that get CONNECT (`PUBLIC` is accepted).
    pub grant_connect: Vec<String>,
    /// Roles that lose CONNECT.
    pub revoke_connect: Vec<String>,
    /// Leave PUBLIC's CONNECT alone. By default it is revoked, so that access becomes
    /// exactly what was granted.
    pub keep_public: bool,
}

/// A session on a maintenance database (`postgres`, or `template1`), from which databases
/// are created, dropped and guarded, as `createdb` and `dropdb` work. It knows the server's
/// version, read once when it connects.
///
/// The free functions ([`create_database`], [`drop_database`]…) open one per call; code
/// that manages many databases (the test harness) keeps a few open.
pub struct Maintenance {
    client: postgres::Client,
    version: i32,
}

impl Maintenance {
    /// Connects to `postgres` on the server of `spec` (to `template1` where `postgres` does
    /// not exist or is `avoid`, the database about to be created or dropped).
    ///
    /// # Errors
    /// Connection errors.
    pub fn connect(spec: &ConnectionSpec, avoid: &str) -> Result<Maintenance> {
        let first = if avoid == "postgres" {
            "template1"
        } else {
            "postgres"
        };
        let client = match spec.with_dbname(first).connect() {
            // 3D000: no such database.
            Err(e) if first == "postgres" && e.sqlstate() == Some("3D000") => {
                spec.with_dbname("template1").connect()
            }
            other => other,
        }?;
        Maintenance::from_client(client)
    }

    /// A maintenance session on the very database `spec` names (the test harness works
    /// from its registry's database, `pum_registry`).
    ///
    /// # Errors
    /// Connection errors.
    pub fn on(spec: &ConnectionSpec) -> Result<Maintenance> {
        Maintenance::from_client(spec.connect()?)
    }

    fn from_client(mut client: postgres::Client) -> Result<Maintenance> {
        let version = server_version_num(&mut client)?;
        Ok(Maintenance { client, version })
    }

    /// The server's version number (`150004`).
    pub fn server_version(&self) -> i32 {
        self.version
    }

    /// The session, for statements of the caller's own.
    pub fn client(&mut self) -> &mut postgres::Client {
        &mut self.client
    }

    /// Whether the session is still usable.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Creates database `name`; see [`create_database`].
    ///
    /// # Errors
    /// As [`create_database`].
    pub fn create(&mut self, name: &str, options: &CreateOptions) -> Result<()> {
        let mut sql = format!("CREATE DATABASE {}", quote_identifier("database", name)?);
        if let Some(template) = &options.template {
            sql.push_str(&format!(
                " TEMPLATE {}",
                quote_identifier("template database", template)?
            ));
        }
        if let Some(owner) = &options.owner {
            sql.push_str(&format!(" OWNER {}", quote_identifier("role", owner)?));
        }
        if let Some(strategy) = options.strategy {
            if self.version < 150000 {
                return Err(Error::Unsupported {
                    message: format!(
                        "a create strategy needs PostgreSQL 15 or later; the server is version \
                         {}",
                        self.version
                    ),
                });
            }
            sql.push_str(&format!(" STRATEGY = {}", strategy.sql()));
        }
        self.client.batch_execute(&sql).map_err(|e| {
            // 42P04 duplicate_database; 23505 when another session created it meanwhile
            // (the catalog's unique index caught it).
            match e.code().map(|c| c.code()) {
                Some("42P04" | "23505") => Error::AlreadyExists {
                    kind: "database",
                    name: name.to_string(),
                },
                _ => Error::sql(format!("create database \"{name}\""), &e),
            }
        })
    }

    /// Waits up to `limit` for the sessions on database `name` to end, checking every
    /// millisecond; returns whether none is left. A client that has just closed its
    /// connection leaves a server process that ends a moment later, and `DROP DATABASE`
    /// that finds one waits a tenth of a second before it looks again: a caller that closed
    /// the last session of its own database waits here instead.
    ///
    /// # Errors
    /// [`Error::Sql`] when `pg_stat_activity` cannot be read.
    pub fn wait_for_sessions(&mut self, name: &str, limit: std::time::Duration) -> Result<bool> {
        let started = std::time::Instant::now();
        loop {
            let left: i64 = self
                .client
                .query_one(
                    "SELECT count(*) FROM pg_catalog.pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()",
                    &[&name],
                )
                .map_err(|e| Error::sql(format!("list the sessions on \"{name}\""), &e))?
                .get(0);
            if left == 0 {
                return Ok(true);
            }
            if started.elapsed() >= limit {
                return Ok(false);
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Drops database `name`; see [`drop_database`].
    ///
    /// # Errors
    /// As [`drop_database`].
    pub fn drop(&mut self, name: &str, options: &DropOptions) -> Result<bool> {
        let quoted = quote_identifier("database", name)?;
        if MAINTENANCE_DATABASES.contains(&name) {
            return Err(refuse_drop(
                name,
                "it is one of the databases every server needs (postgres, template0, template1)",
            ));
        }
        let context = format!("drop database \"{name}\"");
        if options.if_exists && !self.exists(name)? {
            return Ok(false);
        }
        // IF EXISTS still: another session may drop it between the look and the drop.
        let if_exists = if options.if_exists { "IF EXISTS " } else { "" };
        if options.force && self.version >= 130000 {
            self.client
                .batch_execute(&format!("DROP DATABASE {if_exists}{quoted} WITH (FORCE)"))
                .map_err(|e| Error::sql(&context, &e))?;
            return Ok(true);
        }
        let drop = format!("DROP DATABASE {if_exists}{quoted}");
        let mut attempts = 0;
        loop {
            if options.force {
                self.client
                    .execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = $1 AND pid <> pg_backend_pid()",
                        &[&name],
                    )
                    .map_err(|e| Error::sql(format!("end the sessions on \"{name}\""), &e))?;
            }
            match self.client.batch_execute(&drop) {
                Ok(()) => return Ok(true),
                // 55006: still in use; a terminated session may take a moment to go.
                Err(e)
                    if options.force
                        && attempts < 20
                        && e.code().map(|c| c.code()) == Some("55006") =>
                {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(Error::sql(&context, &e)),
            }
        }
    }

    /// Whether database `name` exists.
    ///
    /// # Errors
    /// [`Error::Sql`] when the catalog cannot be read.
    pub fn exists(&mut self, name: &str) -> Result<bool> {
        let row = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)",
                &[&name],
            )
            .map_err(|e| Error::sql("look up databases", &e))?;
        Ok(row.get(0))
    }

    /// Makes database `name` a template that refuses connections, or an ordinary database
    /// again (a template cannot be dropped).
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`] for a bad name; [`Error::Sql`] for a missing database.
    pub fn set_template(&mut self, name: &str, template: bool) -> Result<()> {
        let quoted = quote_identifier("database", name)?;
        self.client
            .batch_execute(&format!(
                "ALTER DATABASE {quoted} WITH ALLOW_CONNECTIONS {} IS_TEMPLATE {template}",
                !template
            ))
            .map_err(|e| {
                let what = if template {
                    "a template"
                } else {
                    "an ordinary database"
                };
                Error::sql(format!("make {name} {what}"), &e)
            })
    }

    /// Grants and revokes CONNECT on `name`; see [`set_access`].
    ///
    /// # Errors
    /// As [`set_access`].
    pub fn set_access(&mut self, name: &str, options: &AccessOptions) -> Result<()> {
        let database = quote_identifier("database", name)?;
        let mut statements = Vec::new();
        if !options.keep_public {
            statements.push(format!("REVOKE CONNECT ON DATABASE {database} FROM PUBLIC"));
        }
        for role in &options.grant_connect {
            statements.push(format!(
                "GRANT CONNECT ON DATABASE {database} TO {}",
                quote_grantee(role)?
            ));
        }
        for role in &options.revoke_connect {
            statements.push(format!(
                "REVOKE CONNECT ON DATABASE {database} FROM {}",
                quote_grantee(role)?
            ));
        }
        let context = format!("set access to database \"{name}\"");
        let mut tx = self
            .client
            .transaction()
            .map_err(|e| Error::sql(&context, &e))?;
        for statement in &statements {
            tx.batch_execute(statement)
                .map_err(|e| Error::sql(&context, &e))?;
        }
        tx.commit().map_err(|e| Error::sql(&context, &e))
    }
}

/// The server's version number (`150004` for 15.4), the one way pum asks for it.
///
/// # Errors
/// [`Error::Sql`] when the setting cannot be read.
pub fn server_version_num(client: &mut impl GenericClient) -> Result<i32> {
    let row = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .map_err(|e| Error::sql("read the server version", &e))?;
    Ok(row.get(0))
}

/// Creates database `name`, optionally as a copy of a template.
///
/// # Errors
/// [`Error::InvalidIdentifier`] for a bad name (nothing is sent to the server);
/// [`Error::AlreadyExists`] when the name is taken (also by a concurrent creation);
/// [`Error::Unsupported`] for a strategy on a server older than 15; [`Error::Sql`] when the
/// server refuses (template missing or in use, no CREATEDB privilege).
pub fn create_database(spec: &ConnectionSpec, name: &str, options: &CreateOptions) -> Result<()> {
    quote_identifier("database", name)?;
    Maintenance::connect(spec, name)?.create(name, options)
}

/// Drops database `name`, ending its other sessions first unless told not to. Returns
/// whether there was a database to drop (false only with `if_exists`, for a missing one;
/// with `if_exists`, one that another session drops at the same moment is no error).
///
/// On PostgreSQL 13 and later this is `DROP DATABASE … WITH (FORCE)`; on older servers the
/// sessions are terminated with `pg_terminate_backend` and the drop retried briefly.
///
/// # Errors
/// [`Error::Refused`] for `postgres`, `template0`, `template1` and the database `spec`
/// names ([`check_drop`]); [`Error::InvalidIdentifier`] for a bad name; [`Error::Sql`] when
/// the database does not exist (unless `if_exists`), is in use (unless `force`) or may not
/// be dropped.
pub fn drop_database(spec: &ConnectionSpec, name: &str, options: &DropOptions) -> Result<bool> {
    check_drop(spec, name)?;
    Maintenance::connect(spec, name)?.drop(name, options)
}

/// Whether database `name` exists.
///
/// # Errors
/// Only connection failures: any name, even an invalid one, has an answer.
pub fn database_exists(spec: &ConnectionSpec, name: &str) -> Result<bool> {
    Maintenance::connect(spec, name)?.exists(name)
}

/// The names of the databases whose name starts with `prefix`, oldest first (`pum_t_`
/// for the test databases of the harness, `""` for all).
///
/// # Errors
/// Connection failures; [`Error::Sql`] when the catalog cannot be read.
pub fn database_names(spec: &ConnectionSpec, prefix: &str) -> Result<Vec<String>> {
    let mut session = Maintenance::on(spec)?;
    let rows = session
        .client()
        .query(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY oid",
            &[&prefix],
        )
        .map_err(|e| Error::sql("list databases", &e))?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Grants and revokes CONNECT on database `name`, in one transaction.
///
/// Unless `keep_public` is set, CONNECT is first revoked from PUBLIC, so that only the
/// owner, superusers and the roles granted here can connect.
///
/// # Errors
/// [`Error::InvalidIdentifier`] for a bad name; [`Error::Sql`] for a missing database or
/// role (and then nothing has changed).
pub fn set_access(spec: &ConnectionSpec, name: &str, options: &AccessOptions) -> Result<()> {
    quote_identifier("database", name)?;
    Maintenance::connect(spec, name)?.set_access(name, options)
}

/// Refuses to empty or wipe the database `spec` names when it is one every server needs.
fn check_wipe(spec: &ConnectionSpec, operation: &str) -> Result<()> {
    if MAINTENANCE_DATABASES.contains(&spec.dbname()) {
        return Err(Error::Refused {
            operation: format!("{operation} in database \"{}\"", spec.dbname()),
            reason: format!("{MAINTENANCE_REASON}; name the database to work on (-p …dbname=mydb)"),
        });
    }
    Ok(())
}

/// Empties every table of `schemas` and the tables `tables` (`(schema, table)`, those that
/// do not exist skipped) in the database `spec` names, except migrations tables
/// (`pum_migrations`, and `keep`, written `schema.table`), restarting their identities and
/// sequences, in one `TRUNCATE` (so foreign keys between them are no obstacle). A schema
/// that does not exist is an error unless `missing_ok`. Nothing named: refused, never
/// "every schema" (another application's tables may share the database). Returns the
/// tables emptied, sorted.
///
/// # Errors
/// [`Error::Refused`] when neither schemas nor tables are named, or in `postgres`,
/// `template0` or `template1`; [`Error::Sql`] when a table outside the set references one
/// inside it (nothing is emptied then: the server names it), or a schema does not exist
/// (unless `missing_ok`).
pub fn truncate_all(
    spec: &ConnectionSpec,
    schemas: &[String],
    tables: &[(String, String)],
    keep: &[String],
    missing_ok: bool,
) -> Result<Vec<String>> {
    check_wipe(spec, "truncate every table")?;
    if schemas.is_empty() && tables.is_empty() {
        return Err(Error::Refused {
            operation: "truncate every table".into(),
            reason: "no schema or table named: name the schemas to empty (--schema)".into(),
        });
    }
    let mut client = spec.connect()?;
    for schema in schemas.iter().filter(|_| !missing_ok) {
        let found: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_namespace WHERE nspname = $1",
                &[schema],
            )
            .map_err(|e| Error::sql("look for the schema", &e))?
            .get(0);
        if found == 0 {
            return Err(Error::Refused {
                operation: format!("truncate the tables of schema {schema}"),
                reason: "there is no such schema".into(),
            });
        }
    }
    let (table_schemas, table_names): (Vec<&str>, Vec<&str>) = tables
        .iter()
        .map(|(schema, table)| (schema.as_str(), table.as_str()))
        .unzip();
    let tables: Vec<String> = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
               AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' \
               AND (n.nspname = ANY($1) \
                    OR (n.nspname, c.relname) IN (SELECT * FROM unnest($3::text[], $4::text[]))) \
               AND c.relname <> 'pum_migrations' \
               AND format('%s.%s', n.nspname, c.relname) <> ALL($2::text[]) \
               AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid \
                               AND d.classid = 'pg_class'::regclass AND d.deptype = 'e') \
             ORDER BY 1",
            &[&schemas, &keep, &table_schemas, &table_names],
        )
        .map_err(|e| Error::sql("list the tables", &e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if tables.is_empty() {
        return Ok(tables);
    }
    client
        .batch_execute(&format!("TRUNCATE {} RESTART IDENTITY", tables.join(", ")))
        .map_err(|e| Error::sql("truncate the tables", &e))?;
    Ok(tables)
}

/// Drops every schema but PostgreSQL's own (and what is in them) in the database `spec`
/// names, and empties `public`, in one transaction: what is left is an empty `public`
/// as a new database has it (owned by `pg_database_owner`, USAGE for everyone, its
/// standard comment). Returns the schemas dropped, sorted.
///
/// # Errors
/// [`Error::Refused`] in `postgres`, `template0` or `template1`; [`Error::Sql`] (a schema
/// the user may not drop; nothing is dropped then).
pub fn drop_all_schemas(spec: &ConnectionSpec) -> Result<Vec<String>> {
    check_wipe(spec, "drop every schema")?;
    let mut client = spec.connect()?;
    let mut transaction = client
        .transaction()
        .map_err(|e| Error::sql("begin a transaction", &e))?;
    let schemas: Vec<String> = transaction
        .query(
            "SELECT nspname::text FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' \
             AND nspname <> 'information_schema' ORDER BY 1",
            &[],
        )
        .map_err(|e| Error::sql("list the schemas", &e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut sql = String::new();
    for schema in &schemas {
        sql.push_str(&format!(
            "DROP SCHEMA {} CASCADE;\n",
            quote_identifier("schema", schema)?
        ));
    }
    let owner = if server_version_num(&mut transaction)? >= 150_000 {
        "pg_database_owner"
    } else {
        "CURRENT_USER"
    };
    sql.push_str(&format!(
        "CREATE SCHEMA public AUTHORIZATION {owner};\n\
         GRANT USAGE ON SCHEMA public TO PUBLIC;\n\
         COMMENT ON SCHEMA public IS 'standard public schema';\n"
    ));
    if server_version_num(&mut transaction)? < 150_000 {
        sql.push_str("GRANT CREATE ON SCHEMA public TO PUBLIC;\n");
    }
    transaction
        .batch_execute(&sql)
        .map_err(|e| Error::sql("drop the schemas", &e))?;
    transaction.commit().map_err(|e| Error::sql("commit", &e))?;
    Ok(schemas.into_iter().filter(|s| s != "public").collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_is_the_keyword_for_grants() {
        assert_eq!(quote_grantee("Public").unwrap(), "PUBLIC");
        assert_eq!(quote_grantee("bob").unwrap(), "\"bob\"");
    }
}
