//! What the harness shares within a process: the server, its maintenance sessions, the
//! template cache, the clones and their spares, the background workers (dropping, making
//! spares) and the bound on parallel tests, set up on first use (the registry made,
//! orphans swept). Every session of the harness is on the registry's database
//! ([`registry::DATABASE`]), whatever database the server's settings name: the registry
//! and the advisory locks (template builds, the connection budget) are one per server.

use std::sync::OnceLock;
use std::time::Duration;

use super::budget::{Budget, Claim};
use super::cache;
use super::clones::Clones;
use super::pool::{BACKGROUND_SESSIONS, MAX_SESSIONS, MaintenancePool};
use super::registry::{self, Lease, Owner};
use super::roles;
use super::slots::{Slot, Slots};
use super::spec::{ReferenceSpec, TestSpec};
use super::templates::Templates;
use super::warnings;
use super::worker::Worker;
use crate::connect::ConnectionSpec;
use crate::database::{DropOptions, Maintenance};
use crate::error::{Error, Result};
use crate::settings;

/// How many test databases one process keeps alive at once by default.
const DEFAULT_MAX_PARALLEL: usize = 32;

/// PostgreSQL's SQLSTATE for a database that does not exist (a template dropped while its
/// spares were being made).
const UNDEFINED_DATABASE: &str = "3D000";

/// How many spare clones of each template are kept ready by default.
const DEFAULT_SPARES: i64 = 2;

/// Everything the harness shares within a process.
pub(crate) struct Context {
    /// The registry's database on the test server: the harness's sessions are there.
    pub server: ConnectionSpec,
    budget: Budget,
    /// Sessions for the tests' own work (taking and making their databases).
    pool: MaintenancePool,
    /// Sessions for background work (drops, spares), so that it never holds up a test.
    background: MaintenancePool,
    templates: Templates,
    clones: Clones,
    /// Spare clones kept ready per template (`PUM_TEST_SPARES`; 0: none).
    spares: i64,
    dropper: Worker,
    spare_maker: Worker,
    owner: Owner,
    /// How long this runner's databases outlive its last heartbeat.
    lease: Lease,
    slots: Slots,
}

static CONTEXT: OnceLock<Result<Context>> = OnceLock::new();

/// The context, set up on first use: the server chosen, the registry made, orphans swept.
/// A failure is remembered, and every test gets it.
pub(crate) fn context() -> Result<&'static Context> {
    let context = CONTEXT
        .get_or_init(Context::new)
        .as_ref()
        .map_err(Error::clone)?;
    static HEART: OnceLock<()> = OnceLock::new();
    HEART.get_or_init(|| {
        // Without a thread the lease would end while the tests run: said, not hidden.
        if let Err(e) = std::thread::Builder::new()
            .name("pum-heartbeat".into())
            .spawn(|| context.beat_forever())
        {
            warnings::warn(&format!("no heartbeat thread ({e}): this run's test databases may be swept by others after PUM_TEST_LEASE"));
        }
    });
    Ok(context)
}

impl Context {
    fn new() -> Result<Context> {
        let server = registry::open(&crate::server::test_server()?)?;
        let max = settings::bounded_number("PUM_TEST_MAX_PARALLEL", 1.., DEFAULT_MAX_PARALLEL)?;
        let spares = settings::bounded_number("PUM_TEST_SPARES", 0..=32, DEFAULT_SPARES)?;
        let templates = settings::bounded_number(
            "PUM_TEST_TEMPLATES",
            1..=1000,
            super::templates::DEFAULT_TEMPLATES,
        )?;
        // The budget first: until this process has its share of the server's connections,
        // it holds no other session.
        let lease = Lease::from_env()?;
        let budget = Budget::new(&server)?;
        let mut session = Maintenance::on(&server)?;
        let owner = Owner::this_process();
        registry::heartbeat(session.client(), &owner, lease)?;
        let version = session.server_version();
        let context = Context {
            budget,
            pool: MaintenancePool::new(server.clone(), vec![session], MAX_SESSIONS),
            background: MaintenancePool::new(server.clone(), Vec::new(), BACKGROUND_SESSIONS),
            templates: Templates::new(server.clone(), version, owner.runner.clone(), templates),
            server,
            clones: Clones::default(),
            spares,
            dropper: Worker::default(),
            spare_maker: Worker::default(),
            owner,
            lease,
            slots: Slots::new(max),
        };
        // A sweep that fails is said, and tried again at the next heartbeat: a database
        // that cannot be dropped must not stop every test of every run.
        if let Err(e) = context.sweep_orphans() {
            warnings::warn(&format!("could not sweep orphaned test databases: {e}"));
        }
        context.templates.sweep_unused();
        Ok(context)
    }

    /// Renews this runner's lease every [`Lease::beat`] and drops the databases of runners
    /// whose lease ended (or of dead processes of this machine) while this one runs, so a
    /// killed runner's databases go within a lease and a beat of its death.
    fn beat_forever(&self) {
        let mut failing = false;
        loop {
            std::thread::sleep(self.lease.beat());
            let beat = self
                .budget
                .with_session(|client| registry::heartbeat(client, &self.owner, self.lease));
            match beat {
                Ok(()) => failing = false,
                Err(e) if !failing => {
                    // Said once per outage: the databases stay registered, and the lease
                    // is renewed again once the server answers.
                    warnings::warn(&format!("could not renew the test databases' lease: {e}"));
                    failing = true;
                }
                Err(_) => {}
            }
            if let Err(e) = self.sweep_orphans()
                && !failing
            {
                warnings::warn(&format!("could not sweep orphaned test databases: {e}"));
            }
        }
    }

    /// A place among the test databases alive at once; held for the test's duration.
    pub(crate) fn slot(&self) -> Slot<'_> {
        self.slots.acquire()
    }

    /// A test's share of the server's connections (waiting for it when other tests, in
    /// any process, hold the budget); held while the test runs.
    pub(crate) fn claim_test(&self) -> Result<Claim<'_>> {
        self.budget.claim_test()
    }

    /// One unit of the server's connections, for a session kept between tests.
    pub(crate) fn claim_session(&'static self) -> Result<Claim<'static>> {
        self.budget.claim_session()
    }

    /// Registers shared database `name` of `template` (or renews its life), and makes it
    /// when `create` (a concurrent creation of the same name is no error).
    pub(crate) fn make_shared(&self, name: &str, template: &str, create: bool) -> Result<()> {
        self.pool.with(|session| {
            registry::register_shared(session.client(), name, template)?;
            if !create {
                return Ok(());
            }
            match self.clones.create(session, name, template) {
                Ok(()) | Err(Error::AlreadyExists { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        })
    }

    /// The databases named as `first` but for its last `_<n>` (the shared databases of
    /// one template) in which a session holds advisory lock `lock`.
    pub(crate) fn held_slots(&self, first: &str, lock: (i32, i32)) -> Result<Vec<String>> {
        let prefix = first.trim_end_matches(|c: char| c.is_ascii_digit());
        self.pool.with(|session| {
            Ok(session
                .client()
                .query(
                    "SELECT d.datname::text FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
                     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
                     AND l.classid = $1::int8::oid AND l.objid = $2::int8::oid \
                     AND left(d.datname, length($3)) = $3",
                    &[&i64::from(lock.0), &i64::from(lock.1), &prefix],
                )
                .map_err(|e| Error::sql("find the shared databases in use", &e))?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    /// Drops shared database `name`, first closed to new sessions while `held` (the
    /// session holding its slot, if any) still keeps others out, so no test takes it
    /// meanwhile; and forgets it.
    pub(crate) fn drop_shared(&self, name: &str, held: Option<postgres::Client>) -> Result<()> {
        let quoted = crate::sql::quote_identifier("database", name)?;
        self.pool.with(|session| {
            match session
                .client()
                .batch_execute(&format!("ALTER DATABASE {quoted} ALLOW_CONNECTIONS false"))
            {
                Err(e) if e.code().map(|c| c.code()) != Some(UNDEFINED_DATABASE) => {
                    Err(Error::sql(format!("close {name} to new sessions"), &e))
                }
                _ => Ok(()),
            }
        })?;
        drop(held);
        self.drop_test_database(name, false)
    }

    /// The template of `spec`, built once per content key across processes.
    pub(crate) fn template(&self, spec: &TestSpec) -> Result<String> {
        self.templates.template(&self.pool, spec)
    }

    /// The name of `spec`'s template.
    pub(crate) fn template_name(&self, spec: &TestSpec) -> Result<String> {
        self.templates.template_name(spec)
    }

    /// Drops `spec`'s template and reference.
    pub(crate) fn drop_templates(&self, spec: &TestSpec) -> Result<()> {
        self.templates.drop_for(spec)
    }

    /// The reference database of `spec`, built once per content key like templates.
    pub(crate) fn reference(&self, spec: &TestSpec, reference: &ReferenceSpec) -> Result<String> {
        self.templates.reference(&self.pool, spec, reference)
    }

    /// A test database copied from `template`, registered to this process: a spare taken
    /// when there is one (one round trip in all), else a clone made now. Once a template
    /// has had a second test (in any process), spares of it are made in the background
    /// for the next ones while they pay ([`SparePolicy`](super::clones::SparePolicy): a
    /// core is free, or the tests' bodies last as long as a clone); a template only one
    /// test uses gets none.
    pub(crate) fn create_test_db(&'static self, template: &str, test: &str) -> Result<String> {
        let name = self.clones.name(&self.owner, test);
        let taken = self.pool.with(|session| {
            let taken = registry::take_database(
                session.client(),
                template,
                &name,
                &self.owner,
                test,
                self.lease,
            )?;
            if !taken.claimed {
                self.clones.create(session, &name, template)?;
            }
            Ok(taken)
        })?;
        if self.spares > 0
            && (taken.claimed || taken.clones >= 2)
            && self.clones.spares_pay(template, self.slots.peak())
        {
            finish_at_exit();
            self.spare_maker
                .push("pum-spares", template.to_string(), true, |template| {
                    if let Ok(context) = context()
                        && let Err(e) = context.make_spares(template)
                        && e.sqlstate() != Some(UNDEFINED_DATABASE)
                    {
                        warnings::warn(&format!("could not make a spare clone of {template}: {e}"));
                    }
                });
        }
        Ok(name)
    }

    /// A test's body on a clone of `template` took `took` (whether spares pay).
    pub(crate) fn body_ran(&self, template: &str, took: Duration) {
        self.clones.body_ran(template, took);
    }

    /// Makes spare clones of `template` until the registry holds [`Context::spares`] of
    /// them (counting those other processes are making). Each is registered to this process
    /// before it is created and handed to nobody once made, so a process killed meanwhile
    /// leaves an orphan the next sweep drops, never a spare that is not whole.
    fn make_spares(&self, template: &str) -> Result<()> {
        for _ in 0..self.spares {
            let name = self.clones.name(&self.owner, "spare");
            let registered = self.background.with(|session| {
                registry::register_spare(
                    session.client(),
                    &name,
                    &self.owner,
                    template,
                    self.spares,
                    self.lease,
                )
            })?;
            if !registered {
                break;
            }
            if let Err(e) = self
                .background
                .with(|session| self.clones.create(session, &name, template))
            {
                // Forgotten only once it surely does not exist (a creation that failed on
                // this side may have finished on the server); otherwise the row stays
                // for a sweep.
                let _ = self.pool.with(|session| {
                    session.drop(&name, &DropOptions::if_exists())?;
                    registry::unregister(session.client(), &name)
                });
                return Err(e);
            }
            let ready = self
                .background
                .with(|session| registry::spare_ready(session.client(), &name))?;
            if !ready {
                // Its template was evicted meanwhile and its row with it: nobody else
                // knows of this database, so it goes now (a failure stays for a human:
                // it is said, not hidden).
                // On the maker's own sessions: the tests' may all be busy.
                if let Err(e) = self
                    .background
                    .with(|session| session.drop(&name, &DropOptions::if_exists()))
                {
                    super::warnings::warn(&format!(
                        "could not drop {name}, a spare of the evicted template {template}: {e}"
                    ));
                }
                break;
            }
        }
        Ok(())
    }

    /// Drops the test databases whose owner is gone (see [`registry::orphans`]), the
    /// templates whose build was killed, and the orphaned scratch databases
    /// ([`crate::workflow::sweep_scratch_databases`]). One that cannot be dropped (in use
    /// by a subscription, a session that cannot be ended, another role's) is said, once
    /// per process, and stays registered: the next sweep (every heartbeat) tries again.
    /// Fails only when the registry cannot be read.
    fn sweep_orphans(&self) -> Result<()> {
        // On a background session: the heartbeat sweeps while tests run.
        let registered = self
            .background
            .with(|session| registry::survey(session.client()))?;
        let foreign: std::collections::HashMap<&str, &str> = registered
            .iter()
            .filter_map(|r| Some((r.name.as_str(), r.foreign_owner.as_deref()?)))
            .collect();
        for name in registry::orphans(&registered, &self.owner, registry::start_time) {
            if let Some(role) = foreign.get(name.as_str()) {
                warnings::warn_once(
                    &name,
                    &format!(
                        "orphaned test database {name} belongs to role {role}: left for a \
                         runner of that role (or DROP DATABASE as {role})"
                    ),
                );
                continue;
            }
            if let Err(e) = self.drop_test_database(&name, true) {
                warnings::warn_once(
                    &name,
                    &format!(
                        "could not drop orphaned test database {name} (tried again at every \
                         heartbeat; every other test goes on): {e}"
                    ),
                );
            }
        }
        self.templates.sweep_killed_builds();
        self.sweep_roles();
        // And the scratch databases of killed `check --changelogs` and autogenerate runs
        // (tests run those too), which carry their owner's liveness in a lock.
        // Best effort: tests go on when it fails.
        if let Err(e) = self.background.with(crate::workflow::sweep) {
            warnings::warn_once(
                "scratch databases",
                &format!("could not sweep orphaned scratch databases: {e}"),
            );
        }
        Ok(())
    }

    /// Drops the roles tests made ([`roles`]) for databases that are gone (a killed run's,
    /// or one whose roles could not be dropped with it); one that cannot be dropped is
    /// said, once per process.
    fn sweep_roles(&self) {
        let failed = self
            .background
            .with(|session| roles::sweep(session.client()))
            .unwrap_or_else(|e| vec![("test roles".into(), Err(e))]);
        for (role, e) in failed
            .into_iter()
            .filter_map(|(role, result)| Some((role, result.err()?)))
        {
            warnings::warn_once(
                &role,
                &format!(
                    "could not drop role {role}, made for a test database that is gone \
                     (tried again at every heartbeat): {e}"
                ),
            );
        }
    }

    /// Drops a test database and forgets it. For an orphan, a `CREATE DATABASE` of it still
    /// running for a client that died is ended first, so it cannot finish after the drop;
    /// while one may still run, the row stays (the next sweep drops what it made).
    /// The roles a test made for it ([`roles`]) go with it; one that cannot be dropped
    /// is said, and a later sweep tries again.
    fn drop_test_database(&self, name: &str, orphan: bool) -> Result<()> {
        self.background.with(|session| {
            if let Some(e) = cache::drop_test_database(session, name, orphan)? {
                warnings::warn_once(
                    &format!("roles of {name}"),
                    &format!(
                        "could not drop a role of test database {name} (a later sweep \
                         tries again): {e}"
                    ),
                );
            }
            Ok(())
        })
    }

    /// Drops a finished test's database in the background, off the test's critical path;
    /// whatever is still queued when the process exits is dropped before it ends.
    pub(crate) fn drop_later(&'static self, name: String) {
        finish_at_exit();
        self.dropper.push("pum-dropper", name, false, |name| {
            let dropped = context().and_then(|c| c.drop_test_database(name, false));
            if let Err(e) = dropped {
                warnings::warn(&format!(
                    "could not drop test database {name} (it stays registered: a later sweep \
                     tries again): {e}"
                ));
            }
        });
    }

    /// Keeps a failed test's database, then drops the oldest kept ones beyond `max`.
    /// Keeps test database `name`, dropping the oldest kept ones beyond `max`; whether
    /// `name` itself stayed (not with `max` 0).
    pub(crate) fn keep(&self, name: &str, max: i64) -> Result<bool> {
        let extra = self
            .pool
            .with(|session| registry::keep(session.client(), name, max))?;
        let stayed = !extra.iter().any(|e| e == name);
        for name in extra {
            if let Err(e) = self.drop_test_database(&name, false) {
                warnings::warn(&format!(
                    "could not drop kept test database {name} beyond PUM_TEST_KEEP_MAX: {e}"
                ));
            }
        }
        Ok(stayed)
    }
}

/// Has the background work finished before the process ends (once per process): a spare
/// being made is made whole, the queued drops are done.
fn finish_at_exit() {
    static AT_EXIT: OnceLock<()> = OnceLock::new();
    AT_EXIT.get_or_init(|| {
        // The test harness ends the process with exit(), which runs atexit handlers:
        // the only hook at process end that needs nothing more than libc.
        unsafe extern "C" {
            fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
        }
        // SAFETY: `flush_at_exit` is a plain function that never unwinds.
        unsafe {
            atexit(flush_at_exit);
        }
    });
}

/// Drops what is still queued before the process ends.
extern "C" fn flush_at_exit() {
    let flush = std::panic::catch_unwind(|| {
        if let Some(Ok(context)) = CONTEXT.get() {
            // A spare being made is finished (so that none is left half made); the
            // others are not started.
            context.spare_maker.abandon(Duration::from_secs(30));
            context.dropper.flush(Duration::from_secs(30));
            let _ = context
                .budget
                .with_session(|client| registry::leave(client, &context.owner));
        }
    });
    let _ = flush;
}
