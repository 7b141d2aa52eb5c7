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

use postgres::GenericClient;

use crate::connect::ConnectionSpec;
use crate::database::{CreateOptions, Maintenance, quote_identifier};
use crate::error::{Error, Result};
use crate::lock::{AdvisoryLock, HARNESS};

/// How long a finished spare waits to be taken before a sweep drops it.
const SPARE_LIFE: &str = "1 hour";

/// How long a runner's row stays in `pum_registry.runners` after its lease ended (for
/// whoever wants to know who ran there).
const RUNNER_MEMORY: &str = "1 day";

/// Who owns a test database: a runner (one test process, with an id of its own), on a
/// machine since a boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    /// Random per process: what the heartbeat renews leases by.
    pub runner: String,
    pub host: String,
    pub boot_id: String,
    pub pid: i32,
    /// The process's start time (clock ticks since boot), which tells a live process from
    /// a later one that reused its pid.
    pub started: i64,
}

impl Owner {
    /// This process.
    pub(crate) fn this_process() -> Owner {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let pid = std::process::id();
        let host = read("/proc/sys/kernel/hostname");
        // Pids mean something only within one PID namespace: a container (or `unshare`)
        // on this host and boot with the same host name is told apart by its namespace,
        // and so judged by its lease instead of by a pid that is not its own.
        let boot_id = match std::fs::read_link("/proc/self/ns/pid") {
            Ok(ns) => format!(
                "{}/{}",
                read("/proc/sys/kernel/random/boot_id"),
                ns.display()
            ),
            Err(_) => read("/proc/sys/kernel/random/boot_id"),
        };
        let started = start_time(pid).unwrap_or(0);
        let runner = blake3::hash(
            format!(
                "{host}/{boot_id}/{pid}/{started}/{:?}/{:?}",
                std::time::SystemTime::now(),
                std::thread::current().id()
            )
            .as_bytes(),
        )
        .to_hex()[..16]
            .to_string();
        Owner {
            runner,
            host,
            boot_id,
            pid: pid as i32,
            started,
        }
    }
}

/// How long a runner's test databases outlive its last heartbeat (`PUM_TEST_LEASE`
/// seconds, default 60), judged by the server's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lease {
    seconds: u32,
}

impl Lease {
    /// The default lease.
    pub(crate) const DEFAULT: Lease = Lease { seconds: 60 };

    /// The lease `PUM_TEST_LEASE` asks for.
    ///
    /// # Errors
    /// [`Error::Setting`] for anything but a whole number of seconds from 2 to 86400.
    pub(crate) fn from_env() -> Result<Lease> {
        match std::env::var("PUM_TEST_LEASE") {
            Ok(text) => text
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (2..=86_400).contains(n))
                .map(|seconds| Lease { seconds })
                .ok_or_else(|| Error::Setting {
                    variable: "PUM_TEST_LEASE".into(),
                    message: format!(
                        "invalid value \"{text}\": expected a whole number of seconds, 2 to 86400"
                    ),
                }),
            Err(_) => Ok(Lease::DEFAULT),
        }
    }

    /// How often the heartbeat renews it: three times per lease, so that two missed
    /// beats still leave it alive.
    pub(crate) fn beat(self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.seconds) * 1000 / 3)
    }

    /// The SQL for "the lease's end, from now" (server clock); a number, never user text.
    fn until(self) -> String {
        format!("now() + make_interval(secs => {})", self.seconds)
    }
}

/// A process's start time (clock ticks since boot), `None` when it is gone (or a zombie).
pub(crate) fn start_time(pid: u32) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    // Field 22 of stat; `rest` starts at field 3.
    fields.get(19)?.parse().ok()
}

/// A registered test database, as the registry has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Registered {
    pub name: String,
    pub owner: Owner,
    /// Whether its lease has expired; `None` for a kept database (no lease).
    pub lease_expired: Option<bool>,
    /// A finished spare: it belongs to no process, and goes when its lease ends.
    pub spare_ready: bool,
    /// The role owning the database when it exists and this session's role may not drop
    /// it (runners of several roles share the server): left for a runner of that role.
    pub foreign_owner: Option<String>,
}

/// The test databases to drop: those whose owner is gone: a dead process of this machine
/// (`start_time` tells), or an expired lease elsewhere. Kept databases stay; finished
/// spares go when their lease ends, whoever made them. A database the registry does not
/// know is never dropped: every database pum makes is registered before it exists, so it
/// is not pum's (or a pum of another registry made it, whose runner may be alive).
pub(crate) fn orphans(
    registered: &[Registered],
    me: &Owner,
    start_time: impl Fn(u32) -> Option<i64>,
) -> Vec<String> {
    registered
        .iter()
        .filter(|r| {
            let Some(expired) = r.lease_expired else {
                return false;
            };
            if r.spare_ready {
                return expired;
            }
            if r.owner.host == me.host && r.owner.boot_id == me.boot_id {
                r.owner.pid != me.pid && start_time(r.owner.pid as u32) != Some(r.owner.started)
            } else {
                expired
            }
        })
        .map(|r| r.name.clone())
        .collect()
}

/// The database that holds the registry on every server: one place per server, whatever
/// database `PUM_TEST_DATABASE_URL` names, so that every runner sees every other's
/// databases (and advisory locks, which are per database, are shared too).
pub(crate) const DATABASE: &str = "pum_registry";

/// The registry's layout; a registry of another layout is made again.
const FORMAT: i32 = 2;

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
    if layout(client)? != FORMAT {
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
    if layout(&mut tx)? == FORMAT {
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

/// What [`take_database`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Taken {
    /// A spare was renamed `name`: the database exists.
    pub claimed: bool,
    /// How many test databases have been made from the template, by every process.
    pub clones: i64,
}

/// Registers test database `name` of `test` for `owner` and, when `template` has a spare,
/// renames the spare `name`, in one round trip (a simple query, its values quoted
/// literals: an extended-protocol query would take two); counts the clone of `template`.
pub(crate) fn take_database(
    client: &mut postgres::Client,
    template: &str,
    name: &str,
    owner: &Owner,
    test: &str,
    lease: Lease,
) -> Result<Taken> {
    use crate::database::quote_literal as q;
    let sql = format!(
        "SELECT claimed, coalesce(clones, 0) FROM \
         pum_registry.take_database({}, {}, {}, {}, {}, {}, {}, {}, {})",
        q(template),
        q(name),
        q(&owner.runner),
        q(&owner.host),
        q(&owner.boot_id),
        owner.pid,
        owner.started,
        q(test),
        lease.seconds
    );
    let row = client
        .simple_query(&sql)
        .map_err(registry_error)?
        .into_iter()
        .find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .ok_or_else(|| Error::Sql {
            context: "use the test registry".into(),
            message: "pum_registry.take_database returned no row".into(),
            code: None,
        })?;
    Ok(Taken {
        claimed: row.get(0) == Some("t"),
        clones: row.get(1).and_then(|n| n.parse().ok()).unwrap_or(0),
    })
}

/// Registers spare `name` of `template` for `owner` (before it is created), unless
/// `template` has `wanted` spares (finished or being made) already; whether it did.
pub(crate) fn register_spare(
    client: &mut impl GenericClient,
    name: &str,
    owner: &Owner,
    template: &str,
    wanted: i64,
    lease: Lease,
) -> Result<bool> {
    let inserted = client
        .execute(
            &format!(
                "INSERT INTO pum_registry.databases \
                 (name, runner, host, boot_id, pid, started, lease_until, spare_of) \
                 SELECT $1, $8, $2, $3, $4, $5, {}, $6 \
                 WHERE (SELECT count(*) FROM pum_registry.databases WHERE spare_of = $6) < $7",
                lease.until()
            ),
            &[
                &name,
                &owner.host,
                &owner.boot_id,
                &owner.pid,
                &owner.started,
                &template,
                &wanted,
                &owner.runner,
            ],
        )
        .map_err(registry_error)?;
    Ok(inserted == 1)
}

/// Spare `name` is made: it belongs to no process now, and any may take it.
pub(crate) fn spare_ready(client: &mut impl GenericClient, name: &str) -> Result<()> {
    client
        .execute(
            &format!(
                "UPDATE pum_registry.databases SET ready = true, runner = NULL, host = '', \
                 boot_id = '', pid = 0, started = 0, lease_until = now() + interval '{SPARE_LIFE}' \
                 WHERE name = $1"
            ),
            &[&name],
        )
        .map_err(registry_error)?;
    Ok(())
}

/// Renews the lease of runner `owner` and of the test databases it owns (kept ones have
/// none, finished spares belong to nobody), recording the runner the first time; forgets
/// runners long gone. One statement, on the server's clock.
pub(crate) fn heartbeat(
    client: &mut impl GenericClient,
    owner: &Owner,
    lease: Lease,
) -> Result<()> {
    let until = lease.until();
    client
        .execute(
            &format!(
                "WITH runner AS (
                   INSERT INTO pum_registry.runners (id, host, boot_id, pid, lease_until)
                   VALUES ($1, $2, $3, $4, {until})
                   ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until),
                 forgotten AS (
                   DELETE FROM pum_registry.runners
                   WHERE lease_until < now() - interval '{RUNNER_MEMORY}')
                 UPDATE pum_registry.databases SET lease_until = {until}
                 WHERE runner = $1 AND lease_until IS NOT NULL AND NOT ready"
            ),
            &[&owner.runner, &owner.host, &owner.boot_id, &owner.pid],
        )
        .map_err(registry_error)?;
    Ok(())
}

/// Runner `owner` ends: its row goes (its databases are dropped by then).
pub(crate) fn leave(client: &mut impl GenericClient, owner: &Owner) -> Result<()> {
    client
        .execute(
            "WITH uses AS (DELETE FROM pum_registry.template_users WHERE runner = $1) \
             DELETE FROM pum_registry.runners WHERE id = $1",
            &[&owner.runner],
        )
        .map_err(registry_error)?;
    Ok(())
}

/// The spares of `template` (finished or being made).
pub(crate) fn spares_of(client: &mut impl GenericClient, template: &str) -> Result<Vec<String>> {
    Ok(client
        .query(
            "SELECT name FROM pum_registry.databases WHERE spare_of = $1",
            &[&template],
        )
        .map_err(registry_error)?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

fn registry_error(e: postgres::Error) -> Error {
    Error::sql("use the test registry", &e)
}

/// Forgets test database `name` (after it is dropped).
pub(crate) fn unregister(client: &mut impl GenericClient, name: &str) -> Result<()> {
    client
        .execute(
            "DELETE FROM pum_registry.databases WHERE name = $1",
            &[&name],
        )
        .map_err(registry_error)?;
    Ok(())
}

/// The registry's test databases, with who may drop them.
pub(crate) fn survey(client: &mut impl GenericClient) -> Result<Vec<Registered>> {
    Ok(client
        .query(
            "SELECT r.name, r.host, r.boot_id, r.pid, r.started, r.lease_until < now(), \
             r.spare_of IS NOT NULL AND r.ready, r.runner, \
             CASE WHEN NOT pg_has_role(p.datdba, 'MEMBER') THEN pg_get_userbyid(p.datdba)::text END \
             FROM pum_registry.databases r LEFT JOIN pg_database p ON p.datname = r.name",
            &[],
        )
        .map_err(registry_error)?
        .iter()
        .map(|r| Registered {
            name: r.get(0),
            owner: Owner {
                runner: r.get::<_, Option<String>>(7).unwrap_or_default(),
                host: r.get(1),
                boot_id: r.get(2),
                pid: r.get(3),
                started: r.get(4),
            },
            lease_expired: r.get(5),
            spare_ready: r.get(6),
            foreign_owner: r.get(8),
        })
        .collect())
}

/// Marks `name` kept (no lease: it stays until dropped by the cap); returns the kept
/// databases beyond the newest `max`, which are to be dropped.
pub(crate) fn keep(client: &mut impl GenericClient, name: &str, max: i64) -> Result<Vec<String>> {
    client
        .execute(
            "UPDATE pum_registry.databases SET kept = true, lease_until = NULL WHERE name = $1",
            &[&name],
        )
        .map_err(registry_error)?;
    Ok(client
        .query(
            "SELECT name FROM pum_registry.databases WHERE kept \
             ORDER BY created_at DESC, name OFFSET $1",
            &[&max],
        )
        .map_err(registry_error)?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// What the registry says of a template.
#[derive(Debug, Clone)]
pub(crate) struct TemplateRecord {
    /// `ready` or `failed`.
    pub status: String,
    /// Why it failed.
    pub message: Option<String>,
    /// Whether the database exists and carries the mark only a finished build leaves
    /// ([`completion_mark`]): a database left by a build that was killed never has it.
    pub complete: bool,
    /// Whether it was built (or failed) within `recent`.
    pub recent: bool,
    /// Seconds since it was built (or failed).
    pub age: i64,
}

/// The comment a finished build leaves on database `name`. It is in the database itself,
/// so it cannot say "ready" of a database that was dropped and half remade since the
/// registry row was written.
pub(crate) fn completion_mark(name: &str) -> String {
    format!("pum: {name} built completely")
}

/// The record of template `name`; `recent` is an SQL interval (`10 minutes`).
pub(crate) fn template(
    client: &mut impl GenericClient,
    name: &str,
    recent: &str,
) -> Result<Option<TemplateRecord>> {
    let row = client
        .query_opt(
            &format!(
                "SELECT t.status, t.message, \
                 EXISTS (SELECT FROM pg_database d WHERE d.datname = t.name \
                         AND shobj_description(d.oid, 'pg_database') = $2), \
                 t.built_at > now() - interval '{recent}', \
                 COALESCE(extract(epoch FROM now() - t.built_at)::bigint, 0) \
                 FROM pum_registry.templates t WHERE t.name = $1"
            ),
            &[&name, &completion_mark(name)],
        )
        .map_err(registry_error)?;
    Ok(row.map(|row| TemplateRecord {
        status: row.get(0),
        message: row.get(1),
        complete: row.get(2),
        recent: row.get(3),
        age: row.get(4),
    }))
}

/// Records that template `name` was used now by `runner` of `project` (so it is not
/// swept as unused, and not evicted while the runner lives). A template whose contents
/// two checkouts share counts in the project that used it last.
pub(crate) fn touch_template(
    client: &mut impl GenericClient,
    name: &str,
    runner: &str,
    project: &str,
) -> Result<()> {
    client
        .execute(
            "WITH used AS (
               INSERT INTO pum_registry.template_users (template, runner) VALUES ($1, $2)
               ON CONFLICT DO NOTHING)
             UPDATE pum_registry.templates SET used_at = now(), project = $3 WHERE name = $1",
            &[&name, &runner, &project],
        )
        .map_err(registry_error)?;
    Ok(())
}

/// Registers template (or reference) `name` of `family` as being built, before its
/// database is made: a build killed midway leaves a row the sweep finds
/// ([`unfinished_builds`]), never a database nobody knows of. The builder holds the
/// template's advisory lock meanwhile.
pub(crate) fn begin_build(
    client: &mut impl GenericClient,
    name: &str,
    family: &str,
    project: &str,
) -> Result<()> {
    client
        .execute(
            "INSERT INTO pum_registry.templates (name, family, project, status, builds) \
             VALUES ($1, $2, $3, 'building', 0) \
             ON CONFLICT (name) DO UPDATE SET status = 'building', family = excluded.family, \
             project = excluded.project",
            &[&name, &family, &project],
        )
        .map_err(registry_error)?;
    Ok(())
}

/// The templates and references whose build started and never ended (their builder may
/// still be at it: it holds the template's advisory lock).
pub(crate) fn unfinished_builds(client: &mut impl GenericClient) -> Result<Vec<String>> {
    Ok(client
        .query(
            "SELECT name FROM pum_registry.templates WHERE status = 'building'",
            &[],
        )
        .map_err(registry_error)?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Whether template `name` is still recorded as being built.
pub(crate) fn is_building(client: &mut impl GenericClient, name: &str) -> Result<bool> {
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT FROM pum_registry.templates \
             WHERE name = $1 AND status = 'building')",
            &[&name],
        )
        .map_err(registry_error)?
        .get(0))
}

/// Records the outcome of a build of template `name`.
pub(crate) fn record_build(
    client: &mut impl GenericClient,
    name: &str,
    family: &str,
    failure: Option<&str>,
) -> Result<()> {
    let status = if failure.is_some() { "failed" } else { "ready" };
    client
        .execute(
            "INSERT INTO pum_registry.templates (name, family, status, message) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET status = excluded.status, message = excluded.message, \
             built_at = now(), used_at = now(), builds = pum_registry.templates.builds + 1",
            &[&name, &family, &status, &failure],
        )
        .map_err(registry_error)?;
    Ok(())
}

/// The ready templates of `project` to drop so that at most `cap` remain: first those a
/// newer template of their family replaced, then the least recently used; never
/// `current`, nor one used by a runner whose lease runs (a live runner may clone it).
pub(crate) fn evictable(
    client: &mut impl GenericClient,
    project: &str,
    current: &str,
    cap: i64,
) -> Result<Vec<String>> {
    Ok(client
        .query(
            "WITH mine AS (
               SELECT t.name, t.used_at,
                 EXISTS (SELECT FROM pum_registry.templates n WHERE n.family = t.family
                         AND n.status = 'ready' AND n.built_at > t.built_at) AS replaced
               FROM pum_registry.templates t WHERE t.project = $1 AND t.status = 'ready')
             SELECT name FROM mine
             WHERE name <> $2
               AND NOT EXISTS (
                 SELECT FROM pum_registry.template_users u
                 JOIN pum_registry.runners r ON r.id = u.runner
                 WHERE u.template = mine.name AND r.lease_until > now())
             ORDER BY replaced DESC, used_at, name
             LIMIT greatest(0, (SELECT count(*) FROM mine) - $3)",
            &[&project, &current, &cap],
        )
        .map_err(registry_error)?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The templates no test used for `age` (an SQL interval).
pub(crate) fn unused(client: &mut impl GenericClient, age: &str) -> Result<Vec<String>> {
    Ok(client
        .query(
            &format!(
                "SELECT name FROM pum_registry.templates WHERE used_at < now() - interval '{age}' \
                 AND status <> 'building'"
            ),
            &[],
        )
        .map_err(registry_error)?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Forgets template `name` (after it is dropped).
pub(crate) fn forget_template(client: &mut impl GenericClient, name: &str) -> Result<()> {
    client
        .execute(
            "WITH users AS (DELETE FROM pum_registry.template_users WHERE template = $1) \
             DELETE FROM pum_registry.templates WHERE name = $1",
            &[&name],
        )
        .map_err(registry_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(host: &str, pid: i32, started: i64) -> Owner {
        Owner {
            runner: format!("{host}-{pid}"),
            host: host.into(),
            boot_id: "boot".into(),
            pid,
            started,
        }
    }

    fn row(name: &str, owner: Owner, lease_expired: Option<bool>) -> Registered {
        Registered {
            name: name.into(),
            owner,
            lease_expired,
            spare_ready: false,
            foreign_owner: None,
        }
    }

    #[test]
    fn orphans_are_the_databases_of_gone_owners() {
        let me = owner("here", 10, 100);
        // pid 20 runs since 200; pid 30 is gone; pid 40 was reused by a later process.
        let start_time = |pid: u32| match pid {
            10 => Some(100),
            20 => Some(200),
            40 => Some(999),
            _ => None,
        };
        let registered = vec![
            row("pum_t_mine", me.clone(), Some(false)),
            row("pum_t_live", owner("here", 20, 200), Some(true)),
            row("pum_t_dead", owner("here", 30, 300), Some(false)),
            row("pum_t_reused", owner("here", 40, 400), Some(false)),
            row("pum_t_kept", owner("here", 30, 300), None),
            row("pum_t_far_fresh", owner("there", 30, 300), Some(false)),
            row("pum_t_far_expired", owner("there", 20, 200), Some(true)),
            Registered {
                spare_ready: true,
                ..row(
                    "pum_t_spare_of_the_dead",
                    owner("here", 30, 300),
                    Some(false),
                )
            },
            Registered {
                spare_ready: true,
                ..row("pum_t_spare_expired", owner("here", 10, 100), Some(true))
            },
            row(
                "pum_t_spare_unfinished",
                owner("here", 30, 300),
                Some(false),
            ),
        ];
        let mut got = orphans(&registered, &me, start_time);
        got.sort();
        assert_eq!(
            got,
            [
                "pum_t_dead",
                "pum_t_far_expired",
                "pum_t_reused",
                "pum_t_spare_expired",
                "pum_t_spare_unfinished",
            ]
        );
    }

    #[test]
    fn another_boot_of_this_host_is_judged_by_the_lease() {
        let me = owner("here", 10, 100);
        let mut old_boot = owner("here", 10, 100);
        old_boot.boot_id = "earlier".into();
        let registered = vec![
            row("a", old_boot.clone(), Some(true)),
            row("b", old_boot, Some(false)),
        ];
        let got = orphans(&registered, &me, |_| Some(100));
        assert_eq!(got, ["a"]);
    }
}
