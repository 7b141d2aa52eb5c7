//! Runners (one per test process) in `pum_registry.runners`: who they are ([`Owner`]),
//! how long their databases outlive their last heartbeat ([`Lease`]), the heartbeat that
//! renews it, and a runner's leaving.

use postgres::GenericClient;

use super::registry_error;
use crate::error::Result;
use crate::settings;

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
    pub(super) seconds: u32,
}

impl Lease {
    /// The default lease.
    pub(crate) const DEFAULT: Lease = Lease { seconds: 60 };

    /// The lease `PUM_TEST_LEASE` asks for.
    ///
    /// # Errors
    /// [`crate::Error::Environment`] for anything but a whole number of seconds from 2 to 86400.
    pub(crate) fn from_env() -> Result<Lease> {
        let default = std::time::Duration::from_secs(u64::from(Lease::DEFAULT.seconds));
        let lease = settings::duration("PUM_TEST_LEASE", 2..=86_400, default)?;
        // At most 86400 seconds, so always a u32.
        let seconds = u32::try_from(lease.as_secs()).unwrap_or(Lease::DEFAULT.seconds);
        Ok(Lease { seconds })
    }

    /// How often the heartbeat renews it: three times per lease, so that two missed
    /// beats still leave it alive.
    pub(crate) fn beat(self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.seconds) * 1000 / 3)
    }

    /// The SQL for "the lease's end, from now" (server clock); a number, never user text.
    pub(super) fn until(self) -> String {
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
