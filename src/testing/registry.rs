//! The registry in the harness's maintenance database (schema `pum_registry`): every test
//! database with its owner and lease, the spare clones made ahead of the tests that will
//! want them, every template with its build status. Processes and
//! machines sharing a server learn from it what the others made, and which of those are
//! orphans to drop.
//!
//! Which databases are orphans is decided by [`orphans`], a pure function of what the
//! registry and the catalog say; the SQL around it only reads and writes rows.

use std::collections::HashSet;

use postgres::GenericClient;

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
}

/// The test databases to drop: those that exist without a registry row (their creation lost
/// a race with a sweep), and those whose owner is gone: a dead process of this machine
/// (`start_time` tells), or an expired lease elsewhere. Kept databases stay; finished
/// spares go when their lease ends, whoever made them.
pub(crate) fn orphans(
    existing: &[String],
    registered: &[Registered],
    me: &Owner,
    start_time: impl Fn(u32) -> Option<i64>,
) -> Vec<String> {
    let known: HashSet<&str> = registered.iter().map(|r| r.name.as_str()).collect();
    let unregistered = existing
        .iter()
        .filter(|name| !known.contains(name.as_str()))
        .cloned();
    let dead = registered
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
        .map(|r| r.name.clone());
    unregistered.chain(dead).collect()
}

/// Makes the registry (once, whoever comes first).
pub(crate) fn make(client: &mut postgres::Client) -> Result<()> {
    let failed = |e: postgres::Error| Error::sql("make the test registry", &e);
    let mut tx = client.transaction().map_err(failed)?;
    AdvisoryLock::new(HARNESS, "pum_registry").acquire_for_transaction(&mut tx)?;
    tx.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS pum_registry;
         CREATE TABLE IF NOT EXISTS pum_registry.templates (
           name text PRIMARY KEY,
           family text NOT NULL,
           status text NOT NULL,
           message text,
           built_at timestamptz NOT NULL DEFAULT now(),
           used_at timestamptz NOT NULL DEFAULT now(),
           builds integer NOT NULL DEFAULT 1);
         ALTER TABLE pum_registry.templates ADD COLUMN IF NOT EXISTS used_at timestamptz NOT NULL DEFAULT now();
         CREATE TABLE IF NOT EXISTS pum_registry.databases (
           name text PRIMARY KEY,
           host text NOT NULL,
           boot_id text NOT NULL,
           pid integer NOT NULL,
           started bigint NOT NULL,
           lease_until timestamptz,
           kept boolean NOT NULL DEFAULT false,
           test text,
           created_at timestamptz NOT NULL DEFAULT now());
         ALTER TABLE pum_registry.databases ADD COLUMN IF NOT EXISTS spare_of text;
         ALTER TABLE pum_registry.databases ADD COLUMN IF NOT EXISTS ready boolean NOT NULL DEFAULT false;
         ALTER TABLE pum_registry.databases ADD COLUMN IF NOT EXISTS runner text;
         CREATE INDEX IF NOT EXISTS databases_runner ON pum_registry.databases (runner);
         CREATE TABLE IF NOT EXISTS pum_registry.runners (
           id text PRIMARY KEY,
           host text NOT NULL,
           boot_id text NOT NULL,
           pid integer NOT NULL,
           started_at timestamptz NOT NULL DEFAULT now(),
           lease_until timestamptz NOT NULL);",
    )
    .map_err(failed)?;
    tx.batch_execute(
        "ALTER TABLE pum_registry.templates ADD COLUMN IF NOT EXISTS clones bigint NOT NULL DEFAULT 0;
         DROP FUNCTION IF EXISTS pum_registry.take_database(text, text, text, text, integer, bigint, text);
         CREATE OR REPLACE FUNCTION pum_registry.take_database(
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
             SELECT d.name INTO spare FROM pum_registry.databases d
               WHERE d.spare_of = template AND d.ready
               ORDER BY d.created_at LIMIT 1 FOR UPDATE SKIP LOCKED;
             EXIT WHEN spare IS NULL;
             BEGIN
               EXECUTE format('ALTER DATABASE %I RENAME TO %I', spare, new_name);
               DELETE FROM pum_registry.databases d WHERE d.name = spare;
               claimed := true;
               EXIT;
             EXCEPTION WHEN invalid_catalog_name OR object_in_use THEN
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
         $take$;",
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
            "DELETE FROM pum_registry.runners WHERE id = $1",
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

/// The test databases that exist (`pum_t_…`) and the registry's rows.
pub(crate) fn survey(client: &mut impl GenericClient) -> Result<(Vec<String>, Vec<Registered>)> {
    let existing = client
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'pum\\_t\\_%'",
            &[],
        )
        .map_err(|e| Error::sql("list test databases", &e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let registered = client
        .query(
            "SELECT name, host, boot_id, pid, started, lease_until < now(), \
             spare_of IS NOT NULL AND ready, runner FROM pum_registry.databases",
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
        })
        .collect();
    Ok((existing, registered))
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
                 t.built_at > now() - interval '{recent}' \
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
    }))
}

/// Records that template `name` was used now (so it is not swept as unused).
pub(crate) fn touch_template(client: &mut impl GenericClient, name: &str) -> Result<()> {
    client
        .execute(
            "UPDATE pum_registry.templates SET used_at = now() WHERE name = $1",
            &[&name],
        )
        .map_err(registry_error)?;
    Ok(())
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
             built_at = now(), builds = pum_registry.templates.builds + 1",
            &[&name, &family, &status, &failure],
        )
        .map_err(registry_error)?;
    Ok(())
}

/// The templates of `family` other than `current`, beyond the newest `keep` of them.
pub(crate) fn superseded(
    client: &mut impl GenericClient,
    family: &str,
    current: &str,
    keep: i64,
) -> Result<Vec<String>> {
    Ok(client
        .query(
            "SELECT name FROM pum_registry.templates WHERE family = $1 AND name <> $2 \
             ORDER BY built_at DESC OFFSET $3",
            &[&family, &current, &keep],
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
                "SELECT name FROM pum_registry.templates WHERE used_at < now() - interval '{age}'"
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
            "DELETE FROM pum_registry.templates WHERE name = $1",
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
        }
    }

    #[test]
    fn orphans_are_unregistered_databases_and_those_of_gone_owners() {
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
        let existing: Vec<String> = registered
            .iter()
            .map(|r| r.name.clone())
            .chain(["pum_t_unregistered".to_string()])
            .collect();
        let mut got = orphans(&existing, &registered, &me, start_time);
        got.sort();
        assert_eq!(
            got,
            [
                "pum_t_dead",
                "pum_t_far_expired",
                "pum_t_reused",
                "pum_t_spare_expired",
                "pum_t_spare_unfinished",
                "pum_t_unregistered"
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
        let got = orphans(&["a".into(), "b".into()], &registered, &me, |_| Some(100));
        assert_eq!(got, ["a"]);
    }
}
