//! What the test harness leaves on a server, seen ([`list`]) and cleaned ([`prune`]):
//! the templates and references it builds (`pum_tpl_…`, `pum_ref_…`), the spare clones
//! made ahead of tests, the databases of failed tests it keeps, and the databases of
//! tests running (or of runners that died, until a sweep drops them). All of it is read
//! from the server's registry (database `pum_registry`); a database the registry does
//! not know is never listed nor dropped, and a server without a registry has nothing of
//! pum's ([`list`] and [`prune`] say `None`, and make none).
//!
//! [`prune`] never drops what a live runner may use: a test database of a runner that is
//! alive, a spare a live runner is making, a template or reference a live runner has
//! used (or is building): it names the runner instead. Which entries go is decided by
//! [`choose`], a pure function of the listing.
//!
//! This module is there with the feature `server` alone (the command line's), without
//! the rest of the harness.

use std::time::Duration;

use super::registry::{self, DatabaseRow, Owner, TemplateRow};
use super::roles;
use crate::connect::ConnectionSpec;
use crate::database::{DropOptions, Maintenance};
use crate::error::{Error, Result};
use crate::lock::{AdvisoryLock, HARNESS};
use crate::sql::quote_identifier;

/// What a cached database is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A template tests are cloned from (`pum_tpl_…`).
    Template,
    /// A reference database tests compare with (`pum_ref_…`).
    Reference,
    /// A clone of a template made ahead of a test that will want it.
    Spare,
    /// A clone of a template that tests with `isolation = "transaction"` share, one per
    /// parallel slot (`pum_shared_…`), kept between runs.
    Shared,
    /// The database of a test, kept after it (`PUM_TEST_KEEP`).
    Kept,
    /// The database of a test still running, or of a runner that died (a sweep drops it).
    Test,
}

impl Kind {
    /// Its name in `pum test list`: `template`, `reference`, `spare`, `shared`, `kept` or
    /// `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Template => "template",
            Kind::Reference => "reference",
            Kind::Spare => "spare",
            Kind::Shared => "shared",
            Kind::Kept => "kept",
            Kind::Test => "test",
        }
    }
}

/// A test process that registered with the harness (a runner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    /// The machine's host name.
    pub host: String,
    /// The process id on that machine.
    pub pid: i32,
    /// Whether it is alive: a running process of this machine (its pid and start time),
    /// or, elsewhere, a runner whose lease has not ended.
    pub alive: bool,
}

/// One database of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What it is.
    pub kind: Kind,
    /// The database's name.
    pub name: String,
    /// What it is for: the test (kept and test databases), the template (spares), what
    /// it is built from (templates and references: the project's `.pum.yaml`, the
    /// directory of its SQL files…; `None` when an older pum built it).
    pub of: Option<String>,
    /// Templates and references: `ready`, `failed` or `building`; spares: `ready` or
    /// `making`; shared databases: `ready` or `in use`; kept databases: `kept`; test
    /// databases: `running` or `orphaned`.
    pub status: String,
    /// Since it was made (for a template, since it was last built).
    pub age: Duration,
    /// Its size (`pg_database_size`); `None` when the database does not exist (it is
    /// registered before it is made) or may not be read.
    pub size: Option<u64>,
    /// The runner it belongs to (test databases, kept ones, spares being made) or, for a
    /// template, a live runner that uses it; `None` for a finished spare (nobody's) or a
    /// template no live runner uses.
    pub runner: Option<Runner>,
    /// Whether a live runner may use it: [`prune`] leaves it.
    pub in_use: bool,
}

impl Entry {
    /// Why [`prune`] leaves it (`in use by runner host:pid`), `None` when it is not in use.
    pub fn in_use_reason(&self) -> Option<String> {
        if !self.in_use {
            return None;
        }
        Some(match &self.runner {
            Some(runner) => format!("in use by runner {}:{}", runner.host, runner.pid),
            None => "in use by a live runner".to_string(),
        })
    }
}

/// The databases the harness cached on the server of `server` (any of its databases):
/// templates and references first, then spares, kept and test databases, each by name.
/// `None` when the server has no registry (nothing of pum's is there); nothing is made.
///
/// # Errors
/// Connection and SQL errors.
pub fn list(server: &ConnectionSpec) -> Result<Option<Vec<Entry>>> {
    let Some(registry) = registry::existing(server)? else {
        return Ok(None);
    };
    entries(&registry).map(Some)
}

/// The entries of the registry at `registry`.
fn entries(registry: &ConnectionSpec) -> Result<Vec<Entry>> {
    let mut client = registry.connect()?;
    let me = Owner::this_process();
    let templates = registry::template_rows(&mut client)?;
    let databases = registry::database_rows(&mut client)?;
    let mut entries: Vec<Entry> = templates.into_iter().map(template_entry).collect();
    entries.extend(
        databases
            .into_iter()
            .map(|row| database_entry(row, &me, registry::start_time)),
    );
    entries.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    Ok(entries)
}

fn template_entry(row: TemplateRow) -> Entry {
    let runner = row.users.first().map(|user| {
        let (host, pid) = user.rsplit_once(':').unwrap_or((user, "0"));
        Runner {
            host: host.to_string(),
            pid: pid.parse().unwrap_or(0),
            alive: true,
        }
    });
    Entry {
        kind: if row.name.starts_with("pum_ref_") {
            Kind::Reference
        } else {
            Kind::Template
        },
        in_use: runner.is_some(),
        name: row.name,
        of: row.source,
        status: row.status,
        age: seconds(row.age),
        size: row.size.and_then(|s| u64::try_from(s).ok()),
        runner,
    }
}

fn database_entry(row: DatabaseRow, me: &Owner, start_time: impl Fn(u32) -> Option<i64>) -> Entry {
    if let Some(template) = &row.shared_of {
        // Nobody's: in use while a session holds its slot.
        return Entry {
            kind: Kind::Shared,
            of: Some(template.clone()),
            status: if row.held { "in use" } else { "ready" }.to_string(),
            age: seconds(row.age),
            size: row.size.and_then(|s| u64::try_from(s).ok()),
            runner: None,
            in_use: row.held,
            name: row.name,
        };
    }
    let finished_spare = row.spare_of.is_some() && row.ready;
    let alive = !finished_spare && alive(&row.owner, row.lease_live, me, start_time);
    let (kind, of, status) = match (&row.spare_of, row.kept) {
        (Some(template), _) => (
            Kind::Spare,
            Some(template.clone()),
            if row.ready { "ready" } else { "making" },
        ),
        (None, true) => (Kind::Kept, row.test.clone(), "kept"),
        (None, false) => (
            Kind::Test,
            row.test.clone(),
            if alive { "running" } else { "orphaned" },
        ),
    };
    Entry {
        kind,
        name: row.name,
        of,
        status: status.to_string(),
        age: seconds(row.age),
        size: row.size.and_then(|s| u64::try_from(s).ok()),
        runner: (!finished_spare).then(|| Runner {
            host: row.owner.host.clone(),
            pid: row.owner.pid,
            alive,
        }),
        // A kept database is nobody's any more; a finished spare is nobody's yet.
        in_use: alive && kind != Kind::Kept,
    }
}

/// Whether `owner` is alive: on this machine (same host, boot and PID namespace) a
/// running process with its start time, elsewhere a runner whose lease (its database's
/// or its own) runs. The same judgement as the sweeps' ([`registry::orphans`]).
fn alive(
    owner: &Owner,
    lease_live: bool,
    me: &Owner,
    start_time: impl Fn(u32) -> Option<i64>,
) -> bool {
    if owner.host.is_empty() {
        return false;
    }
    if owner.host == me.host && owner.boot_id == me.boot_id {
        owner.pid == me.pid || start_time(owner.pid as u32) == Some(owner.started)
    } else {
        lease_live
    }
}

fn seconds(age: i64) -> Duration {
    Duration::from_secs(u64::try_from(age).unwrap_or(0))
}

/// What [`prune`] drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneOptions {
    /// Only the databases of failed tests that were kept (else every kind).
    pub kept_only: bool,
    /// Only what is older than this (its [`Entry::age`]); `None`: whatever its age.
    pub older_than: Option<Duration>,
}

/// What [`prune`] did.
#[derive(Debug, Default)]
pub struct Pruned {
    /// The databases dropped (a template's spares go with it).
    pub dropped: Vec<Entry>,
    /// Those chosen but left, with why (`in use by runner host:pid`).
    pub skipped: Vec<(Entry, String)>,
    /// Those that could not be dropped, with why (another role's, say).
    pub failed: Vec<(Entry, Error)>,
    /// The roles made for one test (`TestDb::role`) dropped because their database is
    /// gone (those dropped with a database are not counted apart).
    pub roles: Vec<String>,
    /// The roles that could not be dropped, with why (a later sweep tries again).
    pub roles_failed: Vec<(String, Error)>,
}

/// Splits the listing into what to drop (databases before the templates they were
/// cloned from) and what is chosen but in use, with why. Pure.
pub fn choose(entries: Vec<Entry>, options: &PruneOptions) -> (Vec<Entry>, Vec<(Entry, String)>) {
    let mut drop = Vec::new();
    let mut skipped = Vec::new();
    for entry in entries {
        let chosen = (!options.kept_only || entry.kind == Kind::Kept)
            && options.older_than.is_none_or(|limit| entry.age > limit);
        if !chosen {
            continue;
        }
        match entry.in_use_reason() {
            Some(reason) => skipped.push((entry, reason)),
            None => drop.push(entry),
        }
    }
    drop.sort_by_key(|e| matches!(e.kind, Kind::Template | Kind::Reference));
    (drop, skipped)
}

/// Drops what the harness cached on the server of `server` that `options` choose, and
/// the registry's rows with them: never what a live runner may use (listed in
/// [`Pruned::skipped`], naming the runner). A template is dropped under its build lock,
/// after asking again whether a live runner uses it, so a runner starting meanwhile
/// waits and builds it again. The roles made for one test go with its database (and any
/// whose database is gone). `None` when the server has no registry: nothing is dropped.
///
/// # Errors
/// Connection and SQL errors reading the registry; a database that cannot be dropped
/// is in [`Pruned::failed`] instead.
pub fn prune(server: &ConnectionSpec, options: &PruneOptions) -> Result<Option<Pruned>> {
    let Some(registry) = registry::existing(server)? else {
        return Ok(None);
    };
    let (chosen, skipped) = choose(entries(&registry)?, options);
    let mut pruned = Pruned {
        skipped,
        ..Pruned::default()
    };
    let mut session = Maintenance::on(&registry)?;
    for entry in chosen {
        let outcome = match entry.kind {
            Kind::Template | Kind::Reference => drop_unused_template(&mut session, &entry.name),
            Kind::Spare | Kind::Shared | Kind::Kept | Kind::Test => {
                // A dead runner's database may still be being created for it.
                let orphan = entry.status == "orphaned" || entry.status == "making";
                drop_test_database(&mut session, &entry.name, orphan).map(|roles| {
                    if let Some(e) = roles {
                        pruned
                            .roles_failed
                            .push((format!("roles of {}", entry.name), e));
                    }
                    None
                })
            }
        };
        if session.is_closed() {
            session = Maintenance::on(&registry)?;
        }
        match outcome {
            Ok(None) => pruned.dropped.push(entry),
            Ok(Some(reason)) => pruned.skipped.push((entry, reason)),
            Err(e) => pruned.failed.push((entry, e)),
        }
    }
    for (role, result) in roles::sweep(session.client())? {
        match result {
            Ok(()) => pruned.roles.push(role),
            Err(e) => pruned.roles_failed.push((role, e)),
        }
    }
    Ok(Some(pruned))
}

/// Drops template (or reference) `name` unless a runner builds or opens it (it holds
/// the template's advisory lock) or a live runner has used it; why not when it stays.
fn drop_unused_template(session: &mut Maintenance, name: &str) -> Result<Option<String>> {
    let lock = AdvisoryLock::new(HARNESS, name);
    if !lock.try_acquire(session.client())? {
        return Ok(Some("in use by a runner building or opening it".into()));
    }
    let outcome = match registry::live_users(session.client(), name) {
        Ok(users) if !users.is_empty() => Ok(Some(format!("in use by runner {}", users[0]))),
        Ok(_) => drop_template(session, name).map(|()| None),
        Err(e) => Err(e),
    };
    let _ = lock.release(session.client());
    outcome
}

/// Drops template (or reference) `name` with its spares (nobody will take them once it
/// is gone), and forgets it; a spare that cannot be dropped stays registered for a
/// sweep.
///
/// # Errors
/// The template's drop, or its registry row's removal.
pub(crate) fn drop_template(session: &mut Maintenance, name: &str) -> Result<()> {
    // A spare whose database is not there may be being made (its CREATE DATABASE not yet
    // committed): its row stays until the template is gone, or its maker, finding it,
    // would keep a database that nobody forgets.
    for spare in registry::spares_of(session.client(), name)? {
        if matches!(session.drop(&spare, &DropOptions::if_exists()), Ok(true)) {
            let _ = registry::unregister(session.client(), &spare);
        }
    }
    // A template database cannot be dropped until it stops being one.
    let _ = session.set_template(name, false);
    session.drop(name, &DropOptions::if_exists())?;
    // Its drop waited for every CREATE DATABASE copying it: the spares made meanwhile
    // exist now (and their makers, finding no row, drop what they made after this).
    for spare in registry::spares_of(session.client(), name)? {
        if session.drop(&spare, &DropOptions::if_exists()).is_ok() {
            let _ = registry::unregister(session.client(), &spare);
        }
    }
    registry::forget_template(session.client(), name)
}

/// Drops test database (or spare) `name`, the roles made for it, and forgets it. For an
/// `orphan`, a `CREATE DATABASE` of it still running for a client that died is ended
/// first, so it cannot finish after the drop; while one may still run, the row stays
/// (the next sweep drops what it made). Returns why a role made for it could not be
/// dropped (a later sweep tries again).
///
/// # Errors
/// The drop, or the registry row's removal.
pub(crate) fn drop_test_database(
    session: &mut Maintenance,
    name: &str,
    orphan: bool,
) -> Result<Option<Error>> {
    let unfinished = orphan && !end_unfinished_creation(session, name)?;
    session.drop(name, &DropOptions::if_exists())?;
    let roles = roles::drop_of(session.client(), name).err();
    if !unfinished {
        registry::unregister(session.client(), name)?;
    }
    Ok(roles)
}

/// Ends a `CREATE DATABASE` of `name` still running for a client that died (one of this
/// role's: others' sessions cannot be ended), and waits (at most 10 s) for it to be gone.
/// Returns whether none runs any more.
fn end_unfinished_creation(session: &mut Maintenance, name: &str) -> Result<bool> {
    let creating = format!("CREATE DATABASE {} %", quote_identifier("database", name)?);
    let started = std::time::Instant::now();
    loop {
        let running: i64 = session
            .client()
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE $1 \
                 AND pg_has_role(usesysid, 'MEMBER')",
                &[&creating],
            )
            .map_err(|e| Error::sql("end unfinished creations", &e))?
            .get(0);
        if running == 0 {
            return Ok(true);
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads an age as `pum test prune --older-than` takes it: a whole number and a unit,
/// `s`, `m` or `min`, `h`, `d` or `w` (`30m`, `12h`, `7d`).
///
/// # Errors
/// What is wrong with `text`, as one line.
pub fn parse_age(text: &str) -> std::result::Result<Duration, String> {
    let units = [
        ("s", 1000),
        ("m", 60_000),
        ("min", 60_000),
        ("h", 3_600_000),
        ("d", 86_400_000),
        ("w", 7 * 86_400_000),
    ];
    crate::text::duration(text, &units, "30m, 12h or 7d")
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

    fn row(name: &str, owner: Owner, lease_live: bool) -> DatabaseRow {
        DatabaseRow {
            name: name.into(),
            kept: false,
            spare_of: None,
            shared_of: None,
            held: false,
            ready: false,
            test: Some("suite::a_test".into()),
            owner,
            lease_live,
            age: 90,
            size: Some(8_000_000),
        }
    }

    #[test]
    fn databases_are_told_apart_and_their_runners_judged_as_the_sweeps_do() {
        let me = owner("here", 10, 100);
        // pid 20 runs since 200; pid 30 is gone.
        let start_time = |pid: u32| match pid {
            20 => Some(200),
            _ => None,
        };
        let entry = |row: DatabaseRow| database_entry(row, &me, start_time);
        let running = entry(row("pum_t_a", owner("here", 20, 200), false));
        assert_eq!(
            (running.kind, running.status.as_str()),
            (Kind::Test, "running")
        );
        assert_eq!(running.in_use_reason().unwrap(), "in use by runner here:20");
        let dead = entry(row("pum_t_b", owner("here", 30, 300), true));
        assert_eq!((dead.status.as_str(), dead.in_use), ("orphaned", false));
        let far = entry(row("pum_t_c", owner("there", 30, 300), true));
        assert!(far.in_use, "another host's runner lives by its lease");
        let kept = entry(DatabaseRow {
            kept: true,
            ..row("pum_t_d", owner("here", 20, 200), false)
        });
        assert_eq!((kept.kind, kept.in_use), (Kind::Kept, false));
        assert!(kept.runner.unwrap().alive);
        let spare = entry(DatabaseRow {
            spare_of: Some("pum_tpl_x".into()),
            ready: true,
            ..row("pum_t_spare_e", owner("", 0, 0), true)
        });
        assert_eq!(
            (spare.kind, spare.of.as_deref(), spare.runner, spare.in_use),
            (Kind::Spare, Some("pum_tpl_x"), None, false)
        );
        let making = entry(DatabaseRow {
            spare_of: Some("pum_tpl_x".into()),
            ..row("pum_t_spare_f", owner("here", 20, 200), false)
        });
        assert_eq!((making.status.as_str(), making.in_use), ("making", true));
        let shared = |held| {
            entry(DatabaseRow {
                shared_of: Some("pum_tpl_x".into()),
                held,
                ready: true,
                ..row("pum_shared_x_0", owner("", 0, 0), true)
            })
        };
        let (idle, busy) = (shared(false), shared(true));
        assert_eq!(
            (
                idle.kind,
                idle.of.as_deref(),
                idle.status.as_str(),
                idle.in_use
            ),
            (Kind::Shared, Some("pum_tpl_x"), "ready", false)
        );
        assert_eq!((busy.status.as_str(), busy.in_use), ("in use", true));
    }

    fn entry(kind: Kind, name: &str, age: u64, in_use: bool) -> Entry {
        Entry {
            kind,
            name: name.into(),
            of: None,
            status: String::new(),
            age: Duration::from_secs(age),
            size: None,
            runner: in_use.then(|| Runner {
                host: "ci".into(),
                pid: 7,
                alive: true,
            }),
            in_use,
        }
    }

    fn names(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn prune_chooses_by_kind_and_age_never_what_a_live_runner_uses() {
        let entries = vec![
            entry(Kind::Template, "pum_tpl_old", 1000, false),
            entry(Kind::Template, "pum_tpl_used", 1000, true),
            entry(Kind::Spare, "pum_t_spare_new", 10, false),
            entry(Kind::Kept, "pum_t_kept_old", 1000, false),
            entry(Kind::Kept, "pum_t_kept_new", 10, false),
            entry(Kind::Test, "pum_t_running", 1000, true),
        ];
        let all = PruneOptions::default();
        let (drop, skipped) = choose(entries.clone(), &all);
        // Databases before the templates they were cloned from.
        assert_eq!(
            names(&drop),
            [
                "pum_t_spare_new",
                "pum_t_kept_old",
                "pum_t_kept_new",
                "pum_tpl_old"
            ]
        );
        let skipped: Vec<(&str, &str)> = skipped
            .iter()
            .map(|(e, why)| (e.name.as_str(), why.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [
                ("pum_tpl_used", "in use by runner ci:7"),
                ("pum_t_running", "in use by runner ci:7")
            ]
        );
        let kept = PruneOptions {
            kept_only: true,
            ..all
        };
        assert_eq!(
            names(&choose(entries.clone(), &kept).0),
            ["pum_t_kept_old", "pum_t_kept_new"]
        );
        let old = PruneOptions {
            older_than: Some(Duration::from_secs(100)),
            ..all
        };
        let (drop, skipped) = choose(entries.clone(), &old);
        assert_eq!(names(&drop), ["pum_t_kept_old", "pum_tpl_old"]);
        assert_eq!(skipped.len(), 2);
        let old_kept = PruneOptions {
            kept_only: true,
            ..old
        };
        assert_eq!(names(&choose(entries, &old_kept).0), ["pum_t_kept_old"]);
    }

    #[test]
    fn ages_take_a_number_and_a_unit() {
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_age("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_age("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_age("30min"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_age("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_age("2w"), Ok(Duration::from_secs(14 * 86_400)));
        for (bad, why) in [
            ("7", "no unit"),
            ("7x", "unknown unit"),
            ("-1d", "negative"),
            ("d", "no number"),
            ("99999999999999999999d", "too large"),
            ("999999999999999w", "too large"),
        ] {
            let e = parse_age(bad).unwrap_err();
            assert!(e.contains(why) && !e.contains('\n'), "{bad}: {e}");
        }
    }
}
