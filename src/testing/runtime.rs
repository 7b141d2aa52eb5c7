//! The process-wide side of the harness: the server, maintenance connections, templates,
//! the registry of test databases, and their creation and removal.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use postgres::Client;

use super::spec::{Base, KeyHasher, ProjectSpec, ReferenceSpec, TestSpec};
use crate::connect::ConnectionSpec;
use crate::database::quote_identifier;
use crate::error::{Error, Result, one_line};
use crate::migrate::{MigrateOptions, NoProgress, Upgrader};

/// The first key of the harness's advisory locks (`'pumt'`).
const LOCK_CLASS: i32 = 0x7075_6d74;

/// Templates of one spec kept besides the newest.
const TEMPLATES_KEPT: i64 = 2;

/// How long a failed template build is remembered (so tests of the spec fail at once
/// instead of each rebuilding), before it is tried again.
const FAILURE_MEMORY: &str = "10 minutes";

/// How long to wait for another process building the same template.
const BUILD_WAIT: Duration = Duration::from_secs(15 * 60);

/// Templates no test used for this long are dropped.
const UNUSED_TEMPLATE: &str = "6 hours";

/// A built template or reference database.
#[derive(Debug, Clone)]
pub(crate) struct Built {
    pub name: String,
}

/// Which of two clone strategies is faster for a template, learnt from the first clones.
#[derive(Debug, Default)]
struct StrategyStats {
    file_copy: (Duration, u32),
    wal_log: (Duration, u32),
}

impl StrategyStats {
    fn choose(&self) -> &'static str {
        let (fc, wl) = (self.file_copy, self.wal_log);
        if fc.1 < 2 && fc.1 <= wl.1 {
            "FILE_COPY"
        } else if wl.1 < 2 {
            "WAL_LOG"
        } else if fc.0 / fc.1 <= wl.0 / wl.1 {
            "FILE_COPY"
        } else {
            "WAL_LOG"
        }
    }

    fn record(&mut self, strategy: &str, took: Duration) {
        let slot = if strategy == "FILE_COPY" {
            &mut self.file_copy
        } else {
            &mut self.wal_log
        };
        slot.0 += took;
        slot.1 += 1;
    }
}

/// Who owns a test database: this process on this machine since this boot.
#[derive(Debug, Clone)]
struct Owner {
    host: String,
    boot_id: String,
    pid: i32,
    started: i64,
}

impl Owner {
    fn this_process() -> Owner {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let pid = std::process::id();
        Owner {
            host: read("/proc/sys/kernel/hostname"),
            boot_id: read("/proc/sys/kernel/random/boot_id"),
            pid: pid as i32,
            started: start_time(pid).unwrap_or(0),
        }
    }
}

/// A process's start time (clock ticks since boot), which tells a live process from a
/// later one that reused its pid.
fn start_time(pid: u32) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    // Field 22 of stat; `rest` starts at field 3.
    fields.get(19)?.parse().ok()
}

/// A counting semaphore bounding the test databases alive at once in this process.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

pub(crate) struct Slot<'a>(&'a Slots);

impl Slots {
    fn acquire(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

type Cell = Arc<OnceLock<std::result::Result<Built, String>>>;

/// Test databases waiting to be dropped by the background dropper, and how many it is
/// dropping now.
#[derive(Default)]
struct Drops {
    state: Mutex<(std::collections::VecDeque<String>, usize)>,
    changed: Condvar,
}

/// Everything the harness shares within a process.
pub(crate) struct Context {
    /// The maintenance database (where the registry lives).
    pub server: ConnectionSpec,
    server_version: i32,
    idle: Mutex<Vec<Client>>,
    cells: Mutex<HashMap<String, Cell>>,
    strategies: Mutex<HashMap<String, StrategyStats>>,
    owner: Owner,
    slots: Slots,
    counter: std::sync::atomic::AtomicU64,
    drops: Drops,
    dropper: OnceLock<()>,
}

static CONTEXT: OnceLock<std::result::Result<Context, String>> = OnceLock::new();

/// The context, set up on first use: the server chosen, the registry made, orphans swept.
pub(crate) fn context() -> Result<&'static Context> {
    CONTEXT
        .get_or_init(|| Context::new().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|message| Error::State(message.clone()))
}

impl Context {
    fn new() -> Result<Context> {
        let server = match std::env::var("PUM_TEST_DATABASE_URL") {
            Ok(target) if !target.is_empty() => ConnectionSpec::resolve(&target)?,
            _ => crate::server::Server::shared()?.spec().clone(),
        };
        let max = match std::env::var("PUM_TEST_MAX_PARALLEL") {
            Ok(text) => text.trim().parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                Error::Invalid(format!(
                    "PUM_TEST_MAX_PARALLEL: invalid value \"{text}\": expected a whole number above 0"
                ))
            })?,
            Err(_) => 32,
        };
        let mut client = server.connect()?;
        let version: i32 = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .map_err(|e| Error::sql("read the server version", &e))?
            .get(0);
        make_registry(&mut client)?;
        let context = Context {
            server,
            server_version: version,
            idle: Mutex::new(vec![client]),
            cells: Mutex::new(HashMap::new()),
            strategies: Mutex::new(HashMap::new()),
            owner: Owner::this_process(),
            slots: Slots {
                free: Mutex::new(max),
                freed: Condvar::new(),
            },
            counter: std::sync::atomic::AtomicU64::new(0),
            drops: Drops::default(),
            dropper: OnceLock::new(),
        };
        context.sweep_orphans()?;
        context.sweep_unused_templates();
        Ok(context)
    }

    pub(crate) fn slot(&self) -> Slot<'_> {
        self.slots.acquire()
    }

    /// Runs `work` on an idle maintenance connection (made if none is idle).
    fn maintenance<T>(&self, work: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut client = match idle {
            Some(client) if !client.is_closed() => client,
            _ => self.server.connect()?,
        };
        let result = work(&mut client);
        if result.is_ok() {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(client);
        }
        result
    }

    /// Drops test databases whose owner is gone: a dead process of this machine, or an
    /// expired lease for other machines.
    fn sweep_orphans(&self) -> Result<()> {
        // Test databases first, rows second: every database is registered before it is
        // made, so one without a row lost it to a sweep racing with its creation.
        let (databases, rows) = self.maintenance(|c| {
            let databases = c
                .query(
                    "SELECT datname::text FROM pg_database WHERE datname LIKE 'pum\\_t\\_%'",
                    &[],
                )
                .map_err(|e| Error::sql("list test databases", &e))?;
            let rows = c
                .query(
                    "SELECT name, host, boot_id, pid, started, lease_until < now() FROM pum_registry.databases",
                    &[],
                )
                .map_err(|e| Error::sql("read the test database registry", &e))?;
            Ok((databases, rows))
        })?;
        let registered: std::collections::HashSet<String> =
            rows.iter().map(|r| r.get::<_, String>(0)).collect();
        for database in databases {
            let name: String = database.get(0);
            if !registered.contains(&name) {
                self.drop_test_database(&name, true)?;
            }
        }
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|r| {
                // Kept databases have no lease: they stay until dropped by the cap.
                r.get::<_, Option<bool>>(5).is_some()
            })
            .collect();
        for row in rows {
            let (name, host, boot_id, pid, started, expired): (
                String,
                String,
                String,
                i32,
                i64,
                Option<bool>,
            ) = (
                row.get(0),
                row.get(1),
                row.get(2),
                row.get(3),
                row.get(4),
                row.get(5),
            );
            let dead = if host == self.owner.host && boot_id == self.owner.boot_id {
                pid != self.owner.pid && start_time(pid as u32) != Some(started)
            } else {
                expired.unwrap_or(true)
            };
            if dead {
                self.drop_test_database(&name, true)?;
            }
        }
        Ok(())
    }

    /// Drops templates and references no test used for a day (those of temporary
    /// projects, of deleted tests…). Best effort: one in use stays until next time.
    fn sweep_unused_templates(&self) {
        let Ok(mut client) = self.server.connect() else {
            return;
        };
        let Ok(rows) = client.query(
            &format!(
                "SELECT name FROM pum_registry.templates WHERE used_at < now() - interval '{UNUSED_TEMPLATE}'"
            ),
            &[],
        ) else {
            return;
        };
        for row in rows {
            let name: String = row.get(0);
            forget_template(&mut client, &name);
        }
    }

    /// The template of `spec`, built once per content key across processes.
    pub(crate) fn template(&self, spec: &TestSpec) -> Result<Built> {
        let (key, family) = self.key(spec, None)?;
        self.built(&format!("pum_tpl_{key}"), &family, |name| {
            self.build(name, spec, true)
        })
    }

    /// The name of `spec`'s template.
    pub(crate) fn template_name(&self, spec: &TestSpec) -> Result<String> {
        Ok(format!("pum_tpl_{}", self.key(spec, None)?.0))
    }

    /// Drops `spec`'s template and reference.
    pub(crate) fn drop_templates(&self, spec: &TestSpec) -> Result<()> {
        let mut names = vec![self.template_name(spec)?];
        if let Some(reference) = &spec.reference
            && !matches!(reference, ReferenceSpec::Database(_))
        {
            names.push(format!("pum_ref_{}", self.key(spec, Some(reference))?.0));
        }
        let mut client = self.server.connect()?;
        for name in &names {
            forget_template(&mut client, name);
            self.cells
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(name);
        }
        Ok(())
    }

    /// The reference database of `spec`, built once per content key like templates.
    pub(crate) fn reference(&self, spec: &TestSpec, reference: &ReferenceSpec) -> Result<Built> {
        if let ReferenceSpec::Database(name) = reference {
            return Ok(Built { name: name.clone() });
        }
        let (key, family) = self.key(spec, Some(reference))?;
        self.built(&format!("pum_ref_{key}"), &family, |name| {
            self.build_reference(name, spec, reference)
        })
    }

    fn key(&self, spec: &TestSpec, reference: Option<&ReferenceSpec>) -> Result<(String, String)> {
        let mut h = KeyHasher::new(self.server_version);
        let base = reference.map_or(spec.base.clone(), |r| match r {
            ReferenceSpec::SqlFiles(files) => Base::SqlFiles(files.clone()),
            ReferenceSpec::Dump(file) => Base::Dump(file.clone()),
            _ => Base::Empty,
        });
        match &base {
            Base::Empty => h.shape("base", "empty"),
            Base::Database(name) => h.shape("base database", name),
            Base::SqlFiles(files) => {
                for file in files {
                    h.file(file)?;
                }
            }
            Base::Dump(file) => h.file(file)?,
        }
        let with_project = match reference {
            None => true,
            Some(ReferenceSpec::FreshInstall(version)) => {
                h.shape("fresh install", &format!("{version:?}"));
                true
            }
            Some(_) => false,
        };
        if with_project && let Some((config, project)) = spec.project_config()? {
            hash_project(&mut h, &config, project)?;
        }
        if reference.is_none() {
            for fixture in &spec.fixtures {
                h.file(fixture)?;
            }
        }
        Ok(h.finish())
    }

    /// Returns the database `name`, building it with `build` unless a ready one exists.
    fn built(
        &self,
        name: &str,
        family: &str,
        build: impl FnOnce(&str) -> Result<()>,
    ) -> Result<Built> {
        let cell = self
            .cells
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_default()
            .clone();
        cell.get_or_init(|| {
            self.build_once(name, family, build)
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(Error::State)
    }

    /// Builds under the template's advisory lock, so processes sharing the server build it
    /// once; records the outcome in the registry.
    fn build_once(
        &self,
        name: &str,
        family: &str,
        build: impl FnOnce(&str) -> Result<()>,
    ) -> Result<Built> {
        // A connection of its own: the lock is held for the whole build.
        let mut client = self.server.connect()?;
        let registry_error = |e: postgres::Error| Error::sql("use the template registry", &e);
        let waiting = Instant::now();
        loop {
            let locked: bool = client
                .query_one(
                    "SELECT pg_try_advisory_lock($1, hashtext($2))",
                    &[&LOCK_CLASS, &name],
                )
                .map_err(registry_error)?
                .get(0);
            if locked {
                break;
            }
            if waiting.elapsed() > BUILD_WAIT {
                return Err(Error::State(format!(
                    "another process has been building {name} for over {} minutes",
                    BUILD_WAIT.as_secs() / 60
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let previous = client
            .query_opt(
                &format!(
                    "SELECT t.status, t.message, EXISTS (SELECT FROM pg_database d WHERE d.datname = t.name), \
                     t.built_at > now() - interval '{FAILURE_MEMORY}' \
                     FROM pum_registry.templates t WHERE t.name = $1"
                ),
                &[&name],
            )
            .map_err(registry_error)?;
        if let Some(row) = previous {
            let (status, message, exists, recent): (String, Option<String>, bool, bool) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            if status == "ready" && exists {
                // Closing the connection releases the lock.
                let _ = client.execute(
                    "UPDATE pum_registry.templates SET used_at = now() WHERE name = $1",
                    &[&name],
                );
                return Ok(Built {
                    name: name.to_string(),
                });
            }
            if status == "failed" && recent {
                return Err(Error::State(message.unwrap_or_default()));
            }
        }
        let outcome = build(name);
        let (status, message) = match &outcome {
            Ok(()) => ("ready", None),
            Err(e) => ("failed", Some(e.to_string())),
        };
        if outcome.is_err() {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_identifier("database", name)?
            ));
        }
        client
            .execute(
                "INSERT INTO pum_registry.templates (name, family, status, message) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET status = excluded.status, message = excluded.message, \
                 built_at = now(), builds = pum_registry.templates.builds + 1",
                &[&name, &family, &status, &message],
            )
            .map_err(registry_error)?;
        if outcome.is_ok() {
            self.collect_old(&mut client, name, family);
        }
        let _ = client.execute(
            "SELECT pg_advisory_unlock($1, hashtext($2))",
            &[&LOCK_CLASS, &name],
        );
        outcome.map(|()| Built {
            name: name.to_string(),
        })
    }

    /// Drops the templates of `family` older than the newest few (best effort: one in use
    /// stays until the next time).
    fn collect_old(&self, client: &mut Client, current: &str, family: &str) {
        let Ok(rows) = client.query(
            "SELECT name FROM pum_registry.templates WHERE family = $1 AND name <> $2 \
             ORDER BY built_at DESC OFFSET $3",
            &[&family, &current, &(TEMPLATES_KEPT - 1)],
        ) else {
            return;
        };
        for row in rows {
            let name: String = row.get(0);
            forget_template(client, &name);
        }
    }

    fn build(&self, name: &str, spec: &TestSpec, template: bool) -> Result<()> {
        let quoted = quote_identifier("database", name)?;
        let target = self.server.with_dbname(name);
        self.maintenance(|c| {
            // A leftover of a build that was interrupted.
            let _ = c.batch_execute(&format!("ALTER DATABASE {quoted} IS_TEMPLATE false"));
            c.batch_execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
                .map_err(|e| Error::sql(format!("drop the old {name}"), &e))?;
            let from = match &spec.base {
                Base::Database(base) => quote_identifier("database", base)?,
                _ => "template0".to_string(),
            };
            c.batch_execute(&format!("CREATE DATABASE {quoted} TEMPLATE {from}"))
                .map_err(|e| Error::sql(format!("create {name}"), &e))
        })?;
        match &spec.base {
            Base::SqlFiles(files) => run_files(&target, files)?,
            Base::Dump(file) => {
                crate::dump::restore(&target, file, &crate::dump::RestoreOptions::default())?;
            }
            Base::Empty | Base::Database(_) => {}
        }
        if let Some((config, project)) = spec.project_config()? {
            migrate(&target, &config, project, project.max_version.clone())?;
        }
        run_files(&target, &spec.fixtures)?;
        if template {
            self.maintenance(|c| {
                c.batch_execute(&format!(
                    "ALTER DATABASE {quoted} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"
                ))
                .map_err(|e| Error::sql(format!("make {name} a template"), &e))
            })?;
        }
        Ok(())
    }

    fn build_reference(
        &self,
        name: &str,
        spec: &TestSpec,
        reference: &ReferenceSpec,
    ) -> Result<()> {
        let base = match reference {
            ReferenceSpec::SqlFiles(files) => Base::SqlFiles(files.clone()),
            ReferenceSpec::Dump(file) => Base::Dump(file.clone()),
            _ => Base::Empty,
        };
        let mut reference_spec = TestSpec::new(&spec.name).base(base);
        if let ReferenceSpec::FreshInstall(version) = reference {
            reference_spec.project = spec.project.clone().map(|p| ProjectSpec {
                max_version: version.clone().or(p.max_version.clone()),
                ..p
            });
        }
        self.build(name, &reference_spec, false)
    }

    /// Creates a test database from `template`, registered to this process first.
    pub(crate) fn create_test_db(&self, template: &Built, test: &str) -> Result<String> {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let unique = blake3::hash(
            format!(
                "{}/{}/{}/{}/{n}/{:?}",
                self.owner.host,
                self.owner.boot_id,
                self.owner.pid,
                self.owner.started,
                std::time::SystemTime::now()
            )
            .as_bytes(),
        )
        .to_hex()[..10]
            .to_string();
        let short: String = test
            .rsplit("::")
            .next()
            .unwrap_or(test)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(32)
            .collect();
        let name = format!("pum_t_{short}_{unique}");
        let strategy = self
            .strategies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(template.name.clone())
            .or_default()
            .choose();
        let started = Instant::now();
        self.maintenance(|c| {
            c.execute(
                "INSERT INTO pum_registry.databases (name, host, boot_id, pid, started, lease_until, test) \
                 VALUES ($1, $2, $3, $4, $5, now() + interval '6 hours', $6)",
                &[&name, &self.owner.host, &self.owner.boot_id, &self.owner.pid, &self.owner.started, &test],
            )
            .map_err(|e| Error::sql("register a test database", &e))?;
            c.batch_execute(&format!(
                "CREATE DATABASE {} TEMPLATE {} STRATEGY {strategy}",
                quote_identifier("database", &name)?,
                quote_identifier("database", &template.name)?
            ))
            .map_err(|e| Error::sql(format!("create test database {name}"), &e))
        })?;
        self.strategies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(template.name.clone())
            .or_default()
            .record(strategy, started.elapsed());
        Ok(name)
    }

    /// Drops a test database and forgets it. A `CREATE DATABASE` of it still running for a
    /// client that died is cancelled first, so it cannot finish after the drop.
    pub(crate) fn drop_database(&self, name: &str) -> Result<()> {
        self.drop_test_database(name, false)
    }

    fn drop_test_database(&self, name: &str, orphan: bool) -> Result<()> {
        let quoted = quote_identifier("database", name)?;
        self.maintenance(|c| {
            if orphan {
                end_unfinished_creation(c, &quoted)?;
            }
            c.batch_execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
                .map_err(|e| Error::sql(format!("drop test database {name}"), &e))?;
            c.execute(
                "DELETE FROM pum_registry.databases WHERE name = $1",
                &[&name],
            )
            .map_err(|e| Error::sql("unregister a test database", &e))?;
            Ok(())
        })
    }

    /// Drops a finished test's database in the background, off the test's critical path.
    /// Whatever is still queued when the process exits is dropped before it ends (an
    /// `atexit` handler); a killed process leaves it to the next run's sweep.
    pub(crate) fn drop_later(&'static self, name: String) {
        self.dropper.get_or_init(|| {
            // The test harness ends the process with exit(), which runs atexit handlers:
            // the only hook at process end that needs nothing more than libc.
            unsafe extern "C" {
                fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
            }
            // SAFETY: `flush_at_exit` is a plain function that never unwinds.
            unsafe {
                atexit(flush_at_exit);
            }
            let spawned = std::thread::Builder::new()
                .name("pum-dropper".into())
                .spawn(move || self.dropper_loop());
            if spawned.is_err() {
                eprintln!("pum: no background dropper; test databases are dropped at once");
            }
        });
        let mut state = self.drops.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0.push_back(name);
        self.drops.changed.notify_all();
    }

    fn dropper_loop(&self) {
        loop {
            let name = {
                let mut state = self.drops.state.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if let Some(name) = state.0.pop_front() {
                        state.1 += 1;
                        break name;
                    }
                    state = self
                        .drops
                        .changed
                        .wait(state)
                        .unwrap_or_else(|e| e.into_inner());
                }
            };
            if let Err(e) = self.drop_database(&name) {
                eprintln!("pum: could not drop test database {name}: {e}");
            }
            let mut state = self.drops.state.lock().unwrap_or_else(|e| e.into_inner());
            state.1 -= 1;
            self.drops.changed.notify_all();
        }
    }

    /// Waits (at most `limit`) until no drop is queued or running.
    pub(crate) fn flush_drops(&self, limit: Duration) {
        let started = Instant::now();
        let mut state = self.drops.state.lock().unwrap_or_else(|e| e.into_inner());
        while (!state.0.is_empty() || state.1 > 0) && started.elapsed() < limit {
            state = self
                .drops
                .changed
                .wait_timeout(state, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Keeps a failed test's database (no lease), then drops the oldest kept ones beyond
    /// `max`.
    pub(crate) fn keep(&self, name: &str, max: i64) -> Result<()> {
        let extra = self.maintenance(|c| {
            c.execute(
                "UPDATE pum_registry.databases SET kept = true, lease_until = NULL WHERE name = $1",
                &[&name],
            )
            .map_err(|e| Error::sql("keep a test database", &e))?;
            c.query(
                "SELECT name FROM pum_registry.databases WHERE kept ORDER BY created_at DESC, name OFFSET $1",
                &[&max],
            )
            .map_err(|e| Error::sql("read kept test databases", &e))
        })?;
        for row in extra {
            self.drop_database(row.get(0))?;
        }
        Ok(())
    }
}

/// Ends a `CREATE DATABASE` of `quoted` still running for a client that died, and waits
/// (at most 10 s) for it to be gone.
fn end_unfinished_creation(client: &mut Client, quoted: &str) -> Result<()> {
    let creating = format!("CREATE DATABASE {quoted} %");
    let started = Instant::now();
    loop {
        let running: i64 = client
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE $1",
                &[&creating],
            )
            .map_err(|e| Error::sql("end unfinished creations", &e))?
            .get(0);
        if running == 0 || started.elapsed() > Duration::from_secs(10) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Drops a template (or reference) and its registry entry; best effort.
pub(crate) fn forget_template(client: &mut Client, name: &str) {
    let Ok(quoted) = quote_identifier("database", name) else {
        return;
    };
    // A template database cannot be dropped until it stops being one.
    let _ = client.batch_execute(&format!("ALTER DATABASE {quoted} IS_TEMPLATE false"));
    if client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        .is_ok()
    {
        let _ = client.execute(
            "DELETE FROM pum_registry.templates WHERE name = $1",
            &[&name],
        );
    }
}

/// Drops what is still queued before the process ends.
extern "C" fn flush_at_exit() {
    let flush = std::panic::catch_unwind(|| {
        if let Some(Ok(context)) = CONTEXT.get() {
            context.flush_drops(Duration::from_secs(30));
        }
    });
    let _ = flush;
}

/// Makes the registry in the maintenance database (once, whoever comes first).
fn make_registry(client: &mut Client) -> Result<()> {
    let mut tx = client
        .transaction()
        .map_err(|e| Error::sql("make the test registry", &e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1, 0)", &[&LOCK_CLASS])
        .map_err(|e| Error::sql("lock the test registry", &e))?;
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
           created_at timestamptz NOT NULL DEFAULT now());",
    )
    .map_err(|e| Error::sql("make the test registry", &e))?;
    tx.commit()
        .map_err(|e| Error::sql("make the test registry", &e))
}

fn hash_project(
    h: &mut KeyHasher,
    config: &crate::config::Config,
    project: &ProjectSpec,
) -> Result<()> {
    h.file(&project.config)?;
    h.tree(&config.changelogs_dir)?;
    for hook in config
        .application
        .drop
        .iter()
        .chain(&config.application.create)
    {
        if let Some(file) = &hook.file {
            h.file(&config.base_dir.join(file))?;
        }
    }
    for (name, value) in &project.parameters {
        h.shape("parameter", &format!("{name}={value}"));
    }
    h.shape("max version", &format!("{:?}", project.max_version));
    Ok(())
}

/// Installs (or, on a base that has a migrations table, upgrades) the changelogs.
fn migrate(
    target: &ConnectionSpec,
    config: &crate::config::Config,
    project: &ProjectSpec,
    max_version: Option<crate::version::Version>,
) -> Result<()> {
    let upgrader = Upgrader::new(config, target)?;
    let options = MigrateOptions {
        parameters: project.parameters.clone(),
        max_version,
        skip_roles: true,
        ..MigrateOptions::default()
    };
    let installed = upgrader.table().exists(&mut target.connect()?)?;
    if installed {
        upgrader.upgrade(&options, &mut NoProgress)?;
    } else {
        upgrader.install(&options, &mut NoProgress)?;
    }
    Ok(())
}

/// Runs whole SQL files (fixtures, base files) as they are; an error names file:line:column.
pub(crate) fn run_files(target: &ConnectionSpec, files: &[impl AsRef<Path>]) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let mut client = target.connect()?;
    for file in files {
        let file = file.as_ref();
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
        if let Err(e) = client.batch_execute(&text) {
            let (line, column) = match e.as_db_error().and_then(|d| d.position()) {
                Some(postgres::error::ErrorPosition::Original(p)) => {
                    let offset: usize = text
                        .chars()
                        .take((*p as usize).saturating_sub(1))
                        .map(char::len_utf8)
                        .sum();
                    crate::changelog::sql::line_column(&text, offset)
                }
                _ => (1, 1),
            };
            return Err(Error::Migration {
                location: format!("{}:{line}:{column}", file.display()),
                message: one_line(&crate::error::describe_pg_error(&e)),
                code: e.code().map(|c| c.code().to_string()),
            });
        }
    }
    Ok(())
}
