//! Test databases and spare clones in `pum_registry.databases`: registered before they
//! exist, taken (a spare renamed) in one round trip, kept, forgotten, and judged orphans
//! by [`orphans`], a pure function of what the registry and the catalog say.

use postgres::GenericClient;

use super::registry_error;
use super::runners::{Lease, Owner};
use crate::error::{Error, Result};

/// How long a finished spare waits to be taken before a sweep drops it.
const SPARE_LIFE: &str = "1 hour";

/// How long a shared database (`isolation = "transaction"`) outlives its last use.
const SHARED_LIFE: &str = "1 day";

/// SQL: whether a session holds an advisory lock in database `r.name`: a shared
/// database's slot is taken (see `testing/shared.rs`).
const HELD: &str = "EXISTS (SELECT FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
                    WHERE l.locktype = 'advisory' AND l.granted AND d.datname = r.name)";

/// A registered test database, as the registry has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Registered {
    pub name: String,
    pub owner: Owner,
    /// Whether its lease has expired; `None` for a kept database (no lease).
    pub lease_expired: Option<bool>,
    /// A finished spare, or a shared database: it belongs to no process, and goes when
    /// its lease ends (a shared database in use never does).
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
    use crate::sql::quote_literal as q;
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

/// Marks spare `name` ready (handed to nobody, free for any runner to take). False when
/// its row is gone: its template was forgotten (evicted) while the spare was being made,
/// and the caller drops the database it made, which nobody else knows of.
pub(crate) fn spare_ready(client: &mut impl GenericClient, name: &str) -> Result<bool> {
    let updated = client
        .execute(
            &format!(
                "UPDATE pum_registry.databases SET ready = true, runner = NULL, host = '', \
                 boot_id = '', pid = 0, started = 0, lease_until = now() + interval '{SPARE_LIFE}' \
                 WHERE name = $1"
            ),
            &[&name],
        )
        .map_err(registry_error)?;
    Ok(updated == 1)
}

/// The spares (finished or being made) and shared databases of `template`: they go
/// with it.
pub(crate) fn spares_of(client: &mut impl GenericClient, template: &str) -> Result<Vec<String>> {
    Ok(client
        .query(
            "SELECT name FROM pum_registry.databases WHERE spare_of = $1 OR shared_of = $1",
            &[&template],
        )
        .map_err(registry_error)?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Registers shared database `name` of `template` (before it is made), or renews its
/// life when it is registered: it belongs to no process, and a sweep drops it
/// [`SHARED_LIFE`] after its last registration, unless a session uses it then.
pub(crate) fn register_shared(
    client: &mut impl GenericClient,
    name: &str,
    template: &str,
) -> Result<()> {
    client
        .execute(
            &format!(
                "INSERT INTO pum_registry.databases \
                 (name, runner, host, boot_id, pid, started, lease_until, shared_of, ready) \
                 VALUES ($1, NULL, '', '', 0, 0, now() + interval '{SHARED_LIFE}', $2, true) \
                 ON CONFLICT (name) DO UPDATE SET lease_until = EXCLUDED.lease_until"
            ),
            &[&name, &template],
        )
        .map_err(registry_error)?;
    Ok(())
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
            &format!(
                "SELECT r.name, r.host, r.boot_id, r.pid, r.started, \
                 r.lease_until < now() AND NOT (r.shared_of IS NOT NULL AND {HELD}), \
                 (r.spare_of IS NOT NULL OR r.shared_of IS NOT NULL) AND r.ready, r.runner, \
                 CASE WHEN NOT pg_has_role(p.datdba, 'MEMBER') THEN pg_get_userbyid(p.datdba)::text END \
                 FROM pum_registry.databases r LEFT JOIN pg_database p ON p.datname = r.name"
            ),
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

/// A test database, spare or kept database as `pum test list` shows it.
#[derive(Debug, Clone)]
pub(crate) struct DatabaseRow {
    pub name: String,
    pub kept: bool,
    /// The template of a spare.
    pub spare_of: Option<String>,
    /// The template of a shared database (`isolation = "transaction"`).
    pub shared_of: Option<String>,
    /// Whether a session holds its slot (shared databases).
    pub held: bool,
    /// A finished spare (it belongs to no runner).
    pub ready: bool,
    /// The test it was made for.
    pub test: Option<String>,
    pub owner: Owner,
    /// Whether its lease, or its runner's, runs (how a runner of another host is judged).
    pub lease_live: bool,
    /// Seconds since it was registered.
    pub age: i64,
    /// Its size in bytes; `None` when the database does not exist (or may not be read).
    pub size: Option<i64>,
}

/// Every test database, spare and kept database of the registry, by name.
pub(crate) fn database_rows(client: &mut impl GenericClient) -> Result<Vec<DatabaseRow>> {
    Ok(client
        .query(
            &format!(
                "SELECT r.name, r.kept, r.spare_of, r.ready, r.test, r.runner, r.host, \
                 r.boot_id, r.pid, r.started, \
                 coalesce(r.lease_until > now(), false) OR coalesce(u.lease_until > now(), false), \
                 extract(epoch FROM now() - r.created_at)::bigint, \
                 CASE WHEN has_database_privilege(p.oid, 'CONNECT') \
                      THEN pg_database_size(p.oid) END, \
                 r.shared_of, {HELD} \
                 FROM pum_registry.databases r \
                 LEFT JOIN pg_database p ON p.datname = r.name \
                 LEFT JOIN pum_registry.runners u ON u.id = r.runner \
                 ORDER BY r.name"
            ),
            &[],
        )
        .map_err(registry_error)?
        .iter()
        .map(|r| DatabaseRow {
            name: r.get(0),
            kept: r.get(1),
            spare_of: r.get(2),
            ready: r.get(3),
            test: r.get(4),
            owner: Owner {
                runner: r.get::<_, Option<String>>(5).unwrap_or_default(),
                host: r.get(6),
                boot_id: r.get(7),
                pid: r.get(8),
                started: r.get(9),
            },
            lease_live: r.get(10),
            age: r.get(11),
            size: r.get(12),
            shared_of: r.get(13),
            held: r.get(14),
        })
        .collect())
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
