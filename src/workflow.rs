//! `test-and-upgrade`: try an upgrade on a copy of production, compare the result with a
//! reference database, and only then upgrade production.
//!
//! The steps, as pum 0.x runs them, each reported: dump prod; restore the dump into the
//! test database; upgrade the test database; compare it with the comparison database;
//! ask; upgrade prod. Better than pum 0.x:
//!
//! - **prod is upgraded in one transaction**: a failure leaves it unchanged;
//! - **any difference refuses**: when the upgraded test database and the comparison
//!   database differ (after the ignores), prod is not touched and the differences are
//!   returned ([`Outcome::differences`]); pum 0.x did the same, but only for the kinds it
//!   compared;
//! - **the test database is made fresh**: an empty one is restored into as it is; one
//!   holding anything is dropped and created again first (never when it is prod's or the
//!   comparison's database, or a database every server needs);
//! - **temporary files are removed**: the dump is deleted at the end (also after a
//!   failure) unless [`TestAndUpgrade::keep_dump`] is set.

use std::path::{Path, PathBuf};

use crate::checker::{CheckOptions, CheckReport};
use crate::config::Config;
use crate::connect::ConnectionSpec;
use crate::database::{CreateOptions, DropOptions, Maintenance};
use crate::dump::{DumpOptions, RestoreOptions};
use crate::error::{Error, Result};
use crate::lock::{AdvisoryLock, SCRATCH};
use crate::migrate::zero_x::{DeltaOptions, DeltaUpgrader};
use crate::migrate::{MigrateOptions, NoProgress, TransactionMode, Upgrader};
use crate::wire::{RawSession, Sql};

/// A database made for a while on a server, dropped (with its sessions) when the value
/// goes: the fresh installs that checks and autogeneration compare with.
///
/// A process killed while it has one (`kill -9`, a power cut of the client, a closed
/// terminal) cannot drop it, so each is owned by a session-level advisory lock (class
/// `SCRATCH` in `lock.rs`, key its name) that the process takes before creating the database and
/// holds, on a session of its own, until after dropping it. The server ends that session
/// when the process dies, so a scratch database whose lock nobody holds is an orphan, on
/// whatever machine its process ran, and the next [`ScratchDatabase::create`] on the
/// server drops it ([`sweep_scratch_databases`]); one whose lock is held belongs to a
/// live process (another `pum check --changelogs`) and is never touched. Locks are seen
/// in `pg_locks`, whichever database the sessions are on.
pub struct ScratchDatabase {
    server: ConnectionSpec,
    name: String,
    /// The session holding the database's lock (and dropping it at the end).
    keeper: Option<Maintenance>,
    swept: Vec<String>,
}

/// The purposes of scratch databases, the second word of their names.
const SCRATCH_PURPOSES: [&str; 4] = ["check", "autogenerate", "module", "lint"];

impl ScratchDatabase {
    /// Drops the orphaned scratch databases on the server of `spec` (see the type's docs),
    /// then creates an empty database `pum_<purpose>_<pid>_<time>` there, owned by this
    /// process until the value goes.
    ///
    /// # Errors
    /// As [`crate::create_database`] (the role needs CREATEDB). A failure to drop an
    /// orphan is no error: it stays for the next sweep.
    pub fn create(spec: &ConnectionSpec, purpose: &str) -> Result<ScratchDatabase> {
        let mut keeper = Maintenance::connect(spec, "")?;
        // A server that ends idle sessions would free the lock of a database in use.
        if keeper.server_version() >= 140000 {
            keeper
                .client()
                .batch_execute("SET idle_session_timeout = 0")
                .map_err(|e| Error::sql("keep the scratch database's session open", &e))?;
        }
        let swept = sweep(&mut keeper).unwrap_or_default();
        let name = loop {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() % 1_000_000_000_000)
                .unwrap_or(0);
            let name = format!("pum_{purpose}_{}_{stamp}", std::process::id());
            // Taken only when free: another name's key may hash alike.
            if AdvisoryLock::new(SCRATCH, &name).try_acquire(keeper.client())? {
                break name;
            }
        };
        keeper.create(&name, &CreateOptions::default())?;
        Ok(ScratchDatabase {
            server: spec.clone(),
            name,
            keeper: Some(keeper),
            swept,
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Settings reaching it.
    pub fn spec(&self) -> ConnectionSpec {
        self.server.with_dbname(&self.name)
    }

    /// The orphaned scratch databases [`ScratchDatabase::create`] dropped.
    pub fn swept(&self) -> &[String] {
        &self.swept
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // Dropped first, then the lock goes with the session: never a database without it.
        let dropped = self
            .keeper
            .as_mut()
            .filter(|keeper| !keeper.is_closed())
            .map(|keeper| {
                // The caller's sessions have just closed: their processes end in a moment.
                let _ = keeper.wait_for_sessions(&self.name, std::time::Duration::from_millis(200));
                keeper.drop(&self.name, &DropOptions::if_exists())
            });
        if !matches!(dropped, Some(Ok(_))) {
            let _ =
                crate::database::drop_database(&self.server, &self.name, &DropOptions::if_exists());
        }
        self.keeper = None;
    }
}

/// Drops the scratch databases on the server of `spec` whose process is gone (see
/// [`ScratchDatabase`]): those named as scratch databases, whose lock no session holds,
/// and which this role may drop. Returns their names. [`ScratchDatabase::create`] does
/// this first; the test harness does it when it sweeps its own orphans.
///
/// # Errors
/// Connection failures; [`Error::Sql`] when the catalog cannot be read. A database that
/// cannot be dropped is left for the next sweep.
pub fn sweep_scratch_databases(spec: &ConnectionSpec) -> Result<Vec<String>> {
    sweep(&mut Maintenance::connect(spec, "")?)
}

/// [`sweep_scratch_databases`] on a maintenance session.
pub(crate) fn sweep(session: &mut Maintenance) -> Result<Vec<String>> {
    let rows = session
        .client()
        .query(
            "SELECT d.datname::text, \
                    EXISTS (SELECT 1 FROM pg_locks l \
                            WHERE l.locktype = 'advisory' AND l.objsubid = 2 \
                              AND l.classid = $1::int4::oid \
                              AND l.objid = hashtext(d.datname::text)::oid), \
                    pg_has_role(d.datdba, 'MEMBER') \
             FROM pg_database d WHERE starts_with(d.datname::text, 'pum_') ORDER BY d.oid",
            &[&SCRATCH],
        )
        .map_err(|e| Error::sql("look for orphaned scratch databases", &e))?;
    let found: Vec<Scratch> = rows
        .iter()
        .map(|row| Scratch {
            name: row.get(0),
            locked: row.get(1),
            droppable: row.get(2),
        })
        .collect();
    let mut dropped = Vec::new();
    for name in scratch_orphans(&found) {
        if matches!(session.drop(&name, &DropOptions::if_exists()), Ok(true)) {
            dropped.push(name);
        }
    }
    Ok(dropped)
}

/// A database that may be a scratch database, as the catalog shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scratch {
    pub name: String,
    /// Some session holds its lock.
    pub locked: bool,
    /// This role may drop it (owns it, is a member of its owner, or is a superuser).
    pub droppable: bool,
}

/// Which of `found` are orphaned scratch databases to drop: named
/// `pum_<check|autogenerate|module|lint>_<pid>_<number>` (every purpose `ScratchDatabase::create`
/// is given), unlocked, droppable.
pub(crate) fn scratch_orphans(found: &[Scratch]) -> Vec<String> {
    let scratch_name = |name: &str| {
        let Some(rest) = name.strip_prefix("pum_") else {
            return false;
        };
        SCRATCH_PURPOSES.iter().any(|purpose| {
            rest.strip_prefix(purpose)
                .and_then(|rest| rest.strip_prefix('_'))
                .and_then(|rest| rest.split_once('_'))
                .is_some_and(|(pid, stamp)| {
                    [pid, stamp]
                        .iter()
                        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                })
        })
    };
    found
        .iter()
        .filter(|f| !f.locked && f.droppable && scratch_name(&f.name))
        .map(|f| f.name.clone())
        .collect()
}

/// Whether the database `spec` names is what the changelogs produce (`alembic check`):
/// compares it with a fresh install of `config` at the database's current version with
/// the parameters recorded there (application included, roles left as they are), made in
/// a scratch database on the same server and dropped afterwards. An empty report: it is.
///
/// # Errors
/// [`Error::NotInstalled`] and the other refusals of [`Upgrader::current`]; errors of the
/// fresh install (a changelog that no longer applies) and of the comparison.
pub fn check_changelogs(
    config: &Config,
    spec: &ConnectionSpec,
    options: &CheckOptions,
) -> Result<CheckReport> {
    let (version, parameters) = Upgrader::new(config, spec)?.recorded()?;
    let scratch = ScratchDatabase::create(spec, "check")?;
    let fresh = scratch.spec();
    install_fresh(config, &fresh, Some(version.clone()), parameters)?;
    let mut report = crate::checker::check(spec, &fresh, options)?;
    report.right = format!(
        "a fresh install of {} {version} from the changelogs ({})",
        config.module,
        scratch.name()
    );
    Ok(report)
}

/// Installs `config`'s changelogs (up to `max_version`, with `parameters`) in the scratch
/// database `fresh`, leaving roles as they are: what check, truncate-all and
/// autogenerate compare with.
fn install_fresh(
    config: &Config,
    fresh: &ConnectionSpec,
    max_version: Option<crate::version::Version>,
    parameters: Vec<(String, String)>,
) -> Result<()> {
    let install = MigrateOptions {
        max_version,
        parameters,
        skip_roles: true,
        ..MigrateOptions::default()
    };
    Upgrader::new(config, fresh)?.install(&install, &mut NoProgress)?;
    Ok(())
}

/// What a module's changelogs make in a database, as a fresh install shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleObjects {
    /// The schemas the install creates, sorted.
    pub schemas: Vec<String>,
    /// The tables `(schema, table)` it creates in schemas that exist without it (`public`),
    /// sorted; pum's migrations table is not one of them.
    pub tables: Vec<(String, String)>,
}

/// What belongs to the module installed in the database `spec` names: the schemas and
/// tables a fresh install of `config` at the database's recorded version and parameters
/// makes (in a scratch database on the same server, dropped afterwards; roles left as
/// they are). `db truncate-all` empties exactly these, so a schema or table of another
/// application in the same database is never touched.
///
/// # Errors
/// [`Error::NotInstalled`] and the other refusals of [`Upgrader::recorded`]; errors of the
/// fresh install (a changelog that no longer applies).
pub fn module_objects(config: &Config, spec: &ConnectionSpec) -> Result<ModuleObjects> {
    let (version, parameters) = Upgrader::new(config, spec)?.recorded()?;
    let scratch = ScratchDatabase::create(spec, "module")?;
    let fresh = scratch.spec();
    let schemas_sql = "SELECT nspname::text FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' \
                       AND nspname <> 'information_schema' ORDER BY 1";
    let before: Vec<String> = fresh
        .connect()?
        .query(schemas_sql, &[])
        .map_err(|e| Error::sql("list the schemas of a new database", &e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    install_fresh(config, &fresh, Some(version), parameters)?;
    let mut client = fresh.connect()?;
    let schemas: Vec<String> = client
        .query(schemas_sql, &[])
        .map_err(|e| Error::sql("list the schemas of the fresh install", &e))?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|schema| !before.contains(schema))
        .collect();
    let tables = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
               AND n.nspname = ANY($1) AND c.relname <> 'pum_migrations' ORDER BY 1, 2",
            &[&before],
        )
        .map_err(|e| Error::sql("list the tables of the fresh install", &e))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(ModuleObjects { schemas, tables })
}

/// What [`autogenerate`] wrote.
#[derive(Debug, Clone)]
pub struct Autogenerated {
    /// The SQL turning a fresh install of the changelogs into the database.
    pub up: crate::checker::ddl::Script,
    /// The SQL turning the database back into the fresh install (the down file).
    pub down: crate::checker::ddl::Script,
}

impl Autogenerated {
    /// The up file's SQL as a changelog file holds it: braces escaped (`{{`, `}}`) so
    /// that rendering the file's parameters gives [`Autogenerated::up`] back exactly.
    pub fn up_file(&self) -> String {
        crate::changelog::escape_braces(&self.up.text())
    }

    /// The down file's SQL, escaped as [`Autogenerated::up_file`].
    pub fn down_file(&self) -> String {
        crate::changelog::escape_braces(&self.down.text())
    }
}

/// Compares a fresh install of `config`'s changelogs (made in a scratch database on the
/// server of `spec`, with the parameters the database records, or the defaults; roles
/// left as they are) with the database `spec` names (a developer's hand-changed one), and
/// writes the SQL that turns the first into the second, and back (Alembic's
/// `revision --autogenerate`, migra's diff). pum's migrations table and its schema are
/// left alone; `exclude` schemas are not compared.
///
/// # Errors
/// Errors of the fresh install (a changelog that does not apply) and of reading the
/// databases.
pub fn autogenerate(
    config: &Config,
    spec: &ConnectionSpec,
    exclude: &[String],
) -> Result<Autogenerated> {
    use crate::checker::ddl;
    let parameters = Upgrader::new(config, spec)?
        .recorded()
        .map(|(_, parameters)| parameters)
        .unwrap_or_default();
    let scratch = ScratchDatabase::create(spec, "autogenerate")?;
    let fresh = scratch.spec();
    install_fresh(config, &fresh, None, parameters)?;
    let (mut installed, mut developed) = ddl::read_both(&fresh, spec, exclude)?;
    // Quoted as the server quotes the names of the models.
    let table_name: String = fresh
        .connect()?
        .query_one(
            "SELECT format('%I.pum_migrations', $1::text)",
            &[&config.migration_table_schema],
        )
        .map_err(|e| Error::sql("quote the migrations table's name", &e))?
        .get(0);
    installed.forget_table(&table_name);
    developed.forget_table(&table_name);
    // The migrations table's schema stays where it is, in both directions.
    let schema = crate::checker::model::Model::schema_of(&table_name).to_string();
    if let Some(s) = installed.schemas.get(&schema).cloned() {
        developed.schemas.entry(schema.clone()).or_insert(s);
    }
    if let Some(s) = developed.schemas.get(&schema).cloned() {
        installed.schemas.entry(schema.clone()).or_insert(s);
    }
    let up_context = ddl::context(&mut fresh.connect()?, &installed, &developed)?;
    let down_context = ddl::context(&mut spec.connect()?, &developed, &installed)?;
    Ok(Autogenerated {
        up: ddl::generate(&installed, &developed, &up_context),
        down: ddl::generate(&developed, &installed, &down_context),
    })
}

/// What is upgraded.
pub enum Project<'a> {
    /// A pum 0.x project: delta directories and an upgrades table.
    Deltas {
        /// `schema.table`.
        table: &'a str,
        /// The delta directories.
        dirs: &'a [PathBuf],
        /// Variables and the maximum version (the transaction mode is the workflow's).
        options: DeltaOptions,
        /// The Python interpreter for Python deltas, when not the default.
        python: Option<PathBuf>,
    },
    /// A pum 1.x project: `.pum.yaml` and changelogs.
    Changelogs {
        /// The configuration.
        config: &'a Config,
        /// Parameters and the maximum version (the transaction mode is the workflow's).
        options: MigrateOptions,
    },
}

/// The databases and settings of one test-and-upgrade.
pub struct TestAndUpgrade<'a> {
    /// Production.
    pub prod: &'a ConnectionSpec,
    /// The database prod's copy is restored into and upgraded.
    pub test: &'a ConnectionSpec,
    /// The reference the upgraded copy must equal.
    pub comp: &'a ConnectionSpec,
    /// What is upgraded.
    pub project: Project<'a>,
    /// Where the dump goes (a temporary file when `None`).
    pub dump_file: Option<PathBuf>,
    /// Keep the dump file at the end.
    pub keep_dump: bool,
    /// pg_dump's settings (schemas left out, the program).
    pub dump: DumpOptions,
    /// pg_restore's settings (go on past errors, the program).
    pub restore: RestoreOptions,
    /// What the comparison ignores.
    pub check: CheckOptions,
}

/// Told about each step.
pub trait Steps {
    /// A step begins: `Dump prod`, `Restore into test`…
    fn step(&mut self, what: &str);
    /// A step ended well, with what it did.
    fn done(&mut self, what: &str);
    /// Something said while a step runs: a retry after a lock timeout
    /// ([`MigrateOptions::lock_retries`]).
    fn message(&mut self, text: &str) {
        let _ = text;
    }
}

/// What an upgrade's [`Progress`](crate::migrate::Progress) says, passed on to the
/// [`Steps`].
struct Said<'s>(&'s mut dyn Steps);

impl crate::migrate::Progress for Said<'_> {
    fn message(&mut self, text: &str) {
        self.0.message(text);
    }
}

/// What a test-and-upgrade ended with.
#[derive(Debug)]
pub struct Outcome {
    /// The differences between the upgraded test database and the comparison database
    /// (`None` when they are equal).
    pub differences: Option<CheckReport>,
    /// Whether prod was upgraded.
    pub upgraded: bool,
    /// prod's version before, and after (the same when not upgraded).
    pub versions: (String, String),
}

impl TestAndUpgrade<'_> {
    /// Runs the steps; `confirm` is asked before prod is upgraded (and not when the test
    /// already refused it).
    ///
    /// # Errors
    /// [`Error::Refused`] when test is prod or comp; any step's error (then prod is as it
    /// was).
    pub fn run(&self, confirm: &mut dyn FnMut() -> bool, steps: &mut dyn Steps) -> Result<Outcome> {
        self.refuse_same_databases()?;
        let temporary;
        let dump_file: &Path = match &self.dump_file {
            Some(file) => file,
            None => {
                temporary = tempfile::Builder::new()
                    .prefix("pum-test-and-upgrade-")
                    .suffix(".dump")
                    .tempfile()
                    .map_err(|e| Error::io(std::env::temp_dir(), e))?
                    .into_temp_path();
                &temporary
            }
        };
        let result = self.steps(dump_file, confirm, steps);
        if !self.keep_dump {
            let _ = std::fs::remove_file(dump_file);
        }
        result
    }

    fn steps(
        &self,
        dump_file: &Path,
        confirm: &mut dyn FnMut() -> bool,
        steps: &mut dyn Steps,
    ) -> Result<Outcome> {
        steps.step(&format!("Dump prod ({})", self.prod.dbname()));
        crate::dump::dump(self.prod, dump_file, &self.dump)?;
        steps.done(&format!("dumped to {}", dump_file.display()));

        steps.step(&format!("Restore into test ({})", self.test.dbname()));
        let recreated = self.fresh_test_database()?;
        let summary = crate::dump::restore(self.test, dump_file, &self.restore)?;
        steps.done(&match (recreated, summary.ignored_errors) {
            (true, 0) => "restored into a new database".to_string(),
            (false, 0) => "restored".to_string(),
            (_, n) => format!("restored, {n} error(s) ignored: {}", summary.messages),
        });

        steps.step(&format!("Upgrade test ({})", self.test.dbname()));
        let (from, to) = self.upgrade(self.test, steps)?;
        steps.done(&format!("{from} → {to}"));

        steps.step(&format!(
            "Compare test ({}) with comp ({})",
            self.test.dbname(),
            self.comp.dbname()
        ));
        let report = crate::checker::check(self.test, self.comp, &self.check)?;
        if !report.is_empty() {
            return Ok(Outcome {
                differences: Some(report),
                upgraded: false,
                versions: (from.clone(), from),
            });
        }
        steps.done("no difference");

        if !confirm() {
            return Ok(Outcome {
                differences: None,
                upgraded: false,
                versions: (from.clone(), from),
            });
        }
        steps.step(&format!("Upgrade prod ({})", self.prod.dbname()));
        let versions = self.upgrade(self.prod, steps)?;
        steps.done(&format!("{} → {}", versions.0, versions.1));
        Ok(Outcome {
            differences: None,
            upgraded: true,
            versions,
        })
    }

    /// Upgrades `spec` in one transaction; returns the versions before and after. What
    /// the upgrade says as it goes (retries) goes to `steps`.
    fn upgrade(&self, spec: &ConnectionSpec, steps: &mut dyn Steps) -> Result<(String, String)> {
        match &self.project {
            Project::Deltas {
                table,
                dirs,
                options,
                python,
            } => {
                let mut upgrader = DeltaUpgrader::new(spec, table, dirs)?;
                if let Some(python) = python {
                    upgrader = upgrader.python(python);
                }
                let options = DeltaOptions {
                    transaction: TransactionMode::Whole,
                    ..options.clone()
                };
                let report = upgrader.upgrade(&options, &mut NoProgress)?;
                Ok((report.from, report.to))
            }
            Project::Changelogs { config, options } => {
                let upgrader = Upgrader::new(config, spec)?;
                let options = MigrateOptions {
                    transaction: TransactionMode::Whole,
                    ..options.clone()
                };
                let report = upgrader.upgrade(&options, &mut Said(steps))?;
                let from = report.from.unwrap_or_default();
                let to = report
                    .applied
                    .last()
                    .cloned()
                    .unwrap_or_else(|| from.clone());
                Ok((from, to))
            }
        }
    }

    /// Refuses a test database that is prod's or comp's: the same settings, or the same
    /// database reached another way (another host name, another service): a marked
    /// session of the other shows up in the test server's `pg_stat_activity`.
    fn refuse_same_databases(&self) -> Result<()> {
        let key = |s: &ConnectionSpec| {
            (
                s.host().to_string(),
                s.port().to_string(),
                s.dbname().to_string(),
            )
        };
        for (other, role) in [(self.prod, "prod"), (self.comp, "comp")] {
            if key(self.test) == key(other) || same_database(other, self.test)? {
                return Err(Error::Refused {
                    operation: format!(
                        "test-and-upgrade with test database \"{}\"",
                        self.test.dbname()
                    ),
                    reason: format!(
                        "it is {role}'s database: test-and-upgrade restores prod into test, which \
                         must be a database of its own"
                    ),
                });
            }
        }
        Ok(())
    }

    /// Empties the test database: left as it is when it holds nothing, else dropped and
    /// created again. Returns whether it was made again.
    fn fresh_test_database(&self) -> Result<bool> {
        let mut session = RawSession::connect(self.test)?;
        let objects = session
            .value(
                "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('public', \
                 'information_schema') AND nspname NOT LIKE 'pg\\_%') + (SELECT count(*) FROM \
                 pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = \
                 'public') + (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql')",
            )
            .map_err(|e| Error::server("look into the test database", &e))?;
        drop(session);
        if objects.as_deref() == Some("0") {
            return Ok(false);
        }
        // Made again from the maintenance database; never postgres, template0 or
        // template1 (Maintenance::drop refuses them).
        let name = self.test.dbname();
        let mut maintenance = Maintenance::connect(self.test, name)?;
        maintenance.drop(
            name,
            &DropOptions {
                force: true,
                if_exists: true,
            },
        )?;
        maintenance.create(name, &CreateOptions::default())?;
        Ok(true)
    }
}

/// Whether `a` and `b` reach the same database: a marked session of `a` is seen by `b`
/// on its own database.
fn same_database(a: &ConnectionSpec, b: &ConnectionSpec) -> Result<bool> {
    let probe = |e: crate::wire::ServerError| {
        Error::server("compare the databases of test-and-upgrade", &e)
    };
    let mut first = RawSession::connect(a)?;
    let marker = format!("pum-probe-{}", std::process::id());
    let pid = first
        .value(&format!(
            "SELECT pg_backend_pid()::text FROM set_config('application_name', {}, false)",
            crate::sql::quote_literal(&marker)
        ))
        .map_err(probe)?
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(-1);
    let mut second = RawSession::connect(b)?;
    let seen = second
        .value(&format!(
            "SELECT count(*)::text FROM pg_stat_activity WHERE pid = {pid} AND \
             application_name = {} AND datname = current_database()",
            crate::sql::quote_literal(&marker)
        ))
        .map_err(probe)?;
    Ok(seen.as_deref().is_some_and(|n| n != "0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(name: &str, locked: bool, droppable: bool) -> Scratch {
        Scratch {
            name: name.into(),
            locked,
            droppable,
        }
    }

    #[test]
    fn orphans_are_unlocked_droppable_scratch_databases() {
        let found = [
            found("pum_check_123_456", false, true),
            found("pum_autogenerate_9_1", false, true),
            found("pum_lint_7_8", false, true),
            found("pum_check_124_456", true, true),
            found("pum_check_125_456", false, false),
            found("pum_check_x_456", false, true),
            found("pum_check_1_", false, true),
            found("pum_check_1_2_3", false, true),
            found("pum_t_abc", false, true),
            found("pum_tpl_123_456", false, true),
            found("pum_checker_1_2", false, true),
            found("shop", false, true),
        ];
        assert_eq!(
            scratch_orphans(&found),
            ["pum_check_123_456", "pum_autogenerate_9_1", "pum_lint_7_8"]
        );
    }
}
