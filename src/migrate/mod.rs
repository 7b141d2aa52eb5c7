//! Applying changelogs and recording them: baseline, install, upgrade, info, validate.
//!
//! - **Transactions.** By default a run is one transaction, as in Python pum: if any file
//!   fails, the database is exactly as before. [`TransactionMode::PerVersion`] commits each
//!   version with its row instead. A file marked `-- pum:no-transaction` runs alone outside
//!   any transaction: what came before it is committed first, and the run is atomic only
//!   between such files. When one of its statements fails, an INVALID index it left (a
//!   failed `CREATE INDEX CONCURRENTLY`) is dropped and its version is not recorded, so
//!   that a rerun starts the file again (`alone`).
//! - **Live databases.** [`MigrateOptions::statement_lock_timeout`] and
//!   [`MigrateOptions::statement_timeout`] set PostgreSQL's timeouts for the run; a
//!   timeout names the sessions that held the lock, and
//!   [`MigrateOptions::lock_retries`] tries the run again after a backoff (`etiquette`).
//! - **Concurrency.** A session advisory lock per migrations table, polled until
//!   [`MigrateOptions::lock_timeout`], so two upgrades at once apply every file once: the
//!   second waits, then finds nothing left to do.
//! - **Versions** compare numerically everywhere, including the current version (the
//!   highest recorded; Python pum sorts the text, which puts 9.0 above 10.0).
//! - **Checksums.** Every applied file's BLAKE3 checksum (line endings normalised) is
//!   recorded. `upgrade` warns about applied files changed since (`strict` makes it an
//!   error); [`Upgrader::info`] and [`Upgrader::validate`] list them. Rows recorded by Python
//!   pum have no checksums and show as unknown.
//! - **Added files.** A file added to a version that is already applied would never run:
//!   `upgrade` refuses ([`crate::Conflict::AddedFiles`]) and `validate` lists it, until it
//!   moves to a new version.
//! - **Hooks.** The application's drop hooks run before the changelogs and its create hooks
//!   after, in the same transaction, only when there is something to apply: SQL (code or
//!   files), Python pum 1.x `HookBase` files (through the bridge of [`crate::hooks`], on
//!   the run's session), executables, and Rust code ([`Upgrader::hook`]).
//! - **Roles, demo data, uninstall** as Python pum 1.9 has them: roles created and granted
//!   ([`crate::roles`]) on install and upgrade, a demo data set after an install
//!   ([`MigrateOptions::demo_data`]), the application alone ([`Upgrader::application`]),
//!   and removal ([`Upgrader::uninstall`]); all in the run's transaction.
//!
//! # Refusals
//!
//! A run is planned before anything changes; a plan that cannot run is refused with a
//! typed error, checked in this order:
//!
//! - **install**: the migrations table must not exist ([`crate::Error::AlreadyInstalled`]),
//!   nor another module's unless allowed ([`crate::Conflict::OtherModuleTables`]); something
//!   must be at or below the maximum version ([`crate::Conflict::NothingToInstall`]); demo
//!   data must be a set the configuration declares ([`crate::Conflict::UnknownDemoData`]).
//! - **upgrade**: the table must exist ([`crate::Error::NotInstalled`]) and record a version
//!   ([`crate::Conflict::NoVersionRecorded`]) of this module ([`crate::Conflict::OtherModule`]),
//!   not in beta testing unless forced ([`crate::Conflict::BetaTesting`]); parameters other
//!   than `app_only` ones keep their values ([`crate::Conflict::ParameterChanged`]); every
//!   version at or below the current one is recorded unless the check is skipped
//!   ([`crate::Conflict::MissingVersions`]); no file was added to an applied version
//!   ([`crate::Conflict::AddedFiles`]); applied files that changed are a warning, or with
//!   `strict` a refusal ([`crate::Conflict::ChangedFiles`]).
//! - **baseline**: the table must not record the version or a later one
//!   ([`crate::Conflict::BaselineNotAbove`]); without a table, `create_table` must be set
//!   ([`crate::Error::NotInstalled`]), and not beside another module's table unless allowed
//!   ([`crate::Conflict::OtherModuleTables`]).
//! - **downgrade**: installed ([`crate::Error::NotInstalled`],
//!   [`crate::Conflict::NoVersionRecorded`], [`crate::Conflict::OtherModule`]); the target
//!   recorded ([`crate::Conflict::NotApplied`]); not in beta testing unless forced
//!   ([`crate::Conflict::BetaTestingDowngrade`]); every version in the range has down files
//!   ([`crate::Conflict::NoDownFiles`]; an application-only release needs none).
//! - **application, uninstall**: installed, of this module ([`crate::Error::NotInstalled`],
//!   [`crate::Conflict::NoVersionRecorded`], [`crate::Conflict::OtherModule`]), and (not for
//!   uninstall) the parameters that are not `app_only` keep their recorded values
//!   ([`crate::Conflict::ParameterChanged`]).
//!
//! The rooms: `options` holds what a caller asks for and `progress` what it is told
//! ([`Progress`], [`MigrationReport`]); `plan` decides what a run does (pure); `execute` carries a
//! plan out on a `run_session` (a run's session and its batches), `alone` runs a file
//! outside any transaction, `etiquette` sets the timeouts and retries; `app` runs hooks and
//! demo data; `prepared` makes one SQL text ready to send; [`info`] reports; `table` is
//! the migrations table; `state` compares the table with the files on disk; [`zero_x`]
//! runs pum 0.x projects (delta directories, the upgrades table).

mod alone;
mod app;
mod etiquette;
mod execute;
pub mod info;
mod options;
pub(crate) mod plan;
mod prepared;
mod progress;
mod run_session;
mod state;
pub(crate) mod table;
pub mod zero_x;

use std::time::Duration;

use crate::changelog::params::Parameters;
use crate::config::Config;
use crate::connect::ConnectionSpec;
use crate::error::Result;
use crate::version::Version;
use crate::wire::{RawSession, Sql};
use etiquette::Etiquette;
use execute::Run;
pub use info::{FileInfo, Info, VersionInfo, VersionStatus};
pub use options::{
    AppAction, AppOptions, BaselineOptions, DowngradeOptions, MigrateOptions, TransactionMode,
};
pub use plan::HookPhase;
use plan::Plan;
pub use progress::{MigrationReport, NoProgress, Progress};
use run_session::RunSession;
pub use state::{Applied, FileStatus};
use table::NewMigration;
pub use table::{Migration, MigrationsTable};

/// Changelog versions are recorded whole: a file cannot commit without its version.
fn per_file_refused(options: &MigrateOptions) -> Result<()> {
    if options.transaction == TransactionMode::PerFile {
        return Err(crate::error::Error::Unsupported {
            message: "one transaction per file is for delta directories (pum 0.x); changelog \
                      versions commit whole: use per-version"
                .into(),
        });
    }
    Ok(())
}

/// Where an [`Upgrader`] works: a database it connects to, or the application's session.
enum Target<'a> {
    Spec(&'a ConnectionSpec),
    Lent(std::cell::RefCell<&'a mut dyn Sql>),
}

/// Applies a project's changelogs to one database.
pub struct Upgrader<'a> {
    config: &'a Config,
    target: Target<'a>,
    table: MigrationsTable,
    rust: Vec<app::RustHook>,
    python: Option<std::path::PathBuf>,
}

impl<'a> Upgrader<'a> {
    /// An upgrader for `config`'s project on the database of `spec`.
    ///
    /// # Errors
    /// [`crate::Error::InvalidIdentifier`] for a migration table schema PostgreSQL cannot
    /// hold.
    pub fn new(config: &'a Config, spec: &'a ConnectionSpec) -> Result<Upgrader<'a>> {
        Upgrader::with_target(config, Target::Spec(spec))
    }

    /// An upgrader for `config`'s project working on the application's own session
    /// (`client`), which must not be inside a transaction: each run opens and commits
    /// its own, under the same migration lock, with the same table and checks as
    /// [`Upgrader::new`]. Python hooks and executables cannot run this way (they are lent
    /// a session pum opened itself), and pum leaves the session's settings as they are.
    ///
    /// ```no_run
    /// # fn f(config: &pum::Config) -> pum::Result<()> {
    /// let mut client = postgres::Client::connect("host=/run/postgresql dbname=app", postgres::NoTls)
    ///     .expect("connect");
    /// let report = pum::Upgrader::on_client(config, &mut client)?
    ///     .upgrade(&pum::MigrateOptions::default(), &mut pum::migrate::NoProgress)?;
    /// # let _ = report; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Upgrader::new`].
    pub fn on_client(config: &'a Config, client: &'a mut postgres::Client) -> Result<Upgrader<'a>> {
        Upgrader::with_target(config, Target::Lent(std::cell::RefCell::new(client)))
    }

    /// An upgrader working on a session that implements pum's SQL (the async proxy).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn on_sql(config: &'a Config, client: &'a mut dyn Sql) -> Result<Upgrader<'a>> {
        Upgrader::with_target(config, Target::Lent(std::cell::RefCell::new(client)))
    }

    fn with_target(config: &'a Config, target: Target<'a>) -> Result<Upgrader<'a>> {
        Ok(Upgrader {
            config,
            target,
            table: MigrationsTable::new(&config.migration_table_schema)?,
            rust: Vec::new(),
            python: None,
        })
    }

    /// Adds Rust code to the application's hooks of `phase`, run after the configured
    /// ones, in the run's transaction (`name` names it in errors).
    ///
    /// ```
    /// # fn f(config: &pum::Config, spec: &pum::ConnectionSpec) -> pum::Result<()> {
    /// use pum::migrate::HookPhase;
    /// let upgrader = pum::Upgrader::new(config, spec)?.hook(
    ///     HookPhase::Create,
    ///     "refresh_views",
    ///     |cx: &mut pum::hooks::HookContext<'_>| cx.execute("SELECT 1"),
    /// );
    /// # let _ = upgrader; Ok(()) }
    /// ```
    pub fn hook(
        mut self,
        phase: HookPhase,
        name: &str,
        hook: impl crate::hooks::Hook + 'static,
    ) -> Upgrader<'a> {
        self.rust.push(app::RustHook {
            phase,
            name: name.to_string(),
            hook: Box::new(hook),
        });
        self
    }

    /// The Python interpreter for Python hooks (default: `PUM_PYTHON`, else `python3`).
    pub fn python(mut self, interpreter: impl Into<std::path::PathBuf>) -> Upgrader<'a> {
        self.python = Some(interpreter.into());
        self
    }

    /// The migrations table.
    pub fn table(&self) -> &MigrationsTable {
        &self.table
    }

    /// Connects and takes the table's advisory lock; runs `work`; releases the lock. A
    /// transaction `work` leaves open after an error is rolled back.
    fn locked<T>(
        &self,
        timeout: Duration,
        mut work: impl FnMut(&mut RunSession) -> Result<T>,
    ) -> Result<T> {
        self.polite(
            timeout,
            &Etiquette::default(),
            &mut NoProgress,
            |session, _| work(session),
        )
    }

    /// As [`Upgrader::locked`], with the run's timeouts set on pum's own session (a lock
    /// or statement timeout then names the sessions that held the lock) and the whole run
    /// tried again after a lock timeout, `etiquette.retries` times at most, each retry
    /// told to `progress`.
    fn polite<T>(
        &self,
        timeout: Duration,
        etiquette: &Etiquette,
        progress: &mut dyn Progress,
        mut work: impl FnMut(&mut RunSession, &mut dyn Progress) -> Result<T>,
    ) -> Result<T> {
        let mut retry = 0;
        loop {
            let mut blocked = false;
            let result = self.with_session(|session| {
                let watcher = etiquette.prepare(session)?;
                let result = session.locked_with(
                    &self.table.lock(),
                    timeout,
                    "another pum migrating with it",
                    |session| work(session, &mut *progress),
                );
                match (result, watcher) {
                    (Err(err), Some(watcher)) => {
                        let (err, seen) = etiquette.explain(err, watcher.finish());
                        blocked = seen;
                        Err(err)
                    }
                    (Err(err), None) => Err(etiquette.explain(err, None).0),
                    (ok, _) => ok,
                }
            });
            match result {
                Err(err) if retry < etiquette.retries && etiquette.retries_after(&err, blocked) => {
                    retry += 1;
                    let wait = etiquette::backoff(retry, etiquette::jitter());
                    progress.end();
                    progress.message(&format!(
                        "{err}; trying again in {:.1} s (retry {retry} of {})",
                        wait.as_secs_f64(),
                        etiquette.retries
                    ));
                    std::thread::sleep(wait);
                }
                other => return other,
            }
        }
    }

    /// Runs `work` on a session: a new one of pum's, or the application's (rolled back to
    /// where it was after an error).
    fn with_session<T>(&self, work: impl FnOnce(&mut RunSession) -> Result<T>) -> Result<T> {
        match &self.target {
            Target::Spec(spec) => work(&mut RunSession::new(RawSession::connect(spec)?)),
            Target::Lent(client) => {
                let mut client =
                    client
                        .try_borrow_mut()
                        .map_err(|_| crate::error::Error::Refused {
                            operation: "use the application's client twice at once".into(),
                            reason: "a hook of this run called its own upgrader".into(),
                        })?;
                let mut session = RunSession::on(crate::wire::Conn::Lent(&mut **client));
                let result = work(&mut session);
                if result.is_err() {
                    session.rollback();
                }
                result
            }
        }
    }

    /// What the migrations table records now (in the session's transaction, if open).
    fn applied(&self, session: &mut RunSession, others: bool) -> Result<Applied> {
        let exists = self.table.exists(&mut session.client)?;
        Ok(Applied {
            table: self.table.name(),
            exists,
            other_tables: if others {
                self.table.other_schemas(&mut session.client)?
            } else {
                Vec::new()
            },
            rows: if exists {
                self.table.rows(&mut session.client)?
            } else {
                Vec::new()
            },
        })
    }

    /// Installs the project on a database that has no migrations table: creates it and
    /// applies every changelog up to `max_version`.
    ///
    /// # Errors
    /// The [install refusals](self#refusals); any changelog or SQL error (and then nothing has
    /// changed, in whole-run mode).
    pub fn install(
        &self,
        options: &MigrateOptions,
        progress: &mut dyn Progress,
    ) -> Result<MigrationReport> {
        per_file_refused(options)?;
        let changelogs = self.config.changelogs_for_run()?;
        let parameters = Parameters::resolve(&self.config.parameters, &options.parameters)?;
        let etiquette = Etiquette::of(options, self.config);
        self.polite(
            options.lock_timeout,
            &etiquette,
            progress,
            |session, progress| {
                let applied = self.applied(session, true)?;
                let plan = plan::install_hooked(
                    self.config,
                    &changelogs,
                    &applied,
                    options,
                    &self.hooked(),
                )?;
                self.run(&changelogs, &parameters, options)
                    .execute(session, &plan, progress)
            },
        )
    }

    /// What an application wants at start-up: [`Upgrader::install`] where the migrations
    /// table does not exist, else [`Upgrader::upgrade`]. Two processes starting at once
    /// both find no table: the one that waited for the other's install upgrades instead.
    ///
    /// # Errors
    /// As [`Upgrader::install`] and [`Upgrader::upgrade`].
    pub fn migrate(
        &self,
        options: &MigrateOptions,
        progress: &mut dyn Progress,
    ) -> Result<MigrationReport> {
        let installed = self.with_session(|session| self.table.exists(&mut session.client))?;
        if installed {
            return self.upgrade(options, progress);
        }
        match self.install(options, progress) {
            Err(crate::error::Error::AlreadyInstalled { .. }) => self.upgrade(options, progress),
            other => other,
        }
    }

    /// Applies the changelogs above the current version (up to `max_version`).
    ///
    /// # Errors
    /// The [upgrade refusals](self#refusals); any changelog or SQL error (and then nothing has
    /// changed, in whole-run mode).
    pub fn upgrade(
        &self,
        options: &MigrateOptions,
        progress: &mut dyn Progress,
    ) -> Result<MigrationReport> {
        per_file_refused(options)?;
        let changelogs = self.config.changelogs_for_run()?;
        let parameters = Parameters::resolve(&self.config.parameters, &options.parameters)?;
        let etiquette = Etiquette::of(options, self.config);
        self.polite(
            options.lock_timeout,
            &etiquette,
            progress,
            |session, progress| {
                session.begin()?;
                if self.table.exists(&mut session.client)? {
                    // Tables written by older Python pum releases get today's layout first.
                    self.table
                        .upgrade_layout(&mut session.client, &self.config.module)?;
                }
                let applied = self.applied(session, false)?;
                let plan = plan::upgrade_hooked(
                    self.config,
                    &changelogs,
                    &applied,
                    &parameters,
                    options,
                    &self.hooked(),
                )?;
                let report = self
                    .run(&changelogs, &parameters, options)
                    .execute(session, &plan, progress)?;
                session.commit()?;
                Ok(report)
            },
        )
    }

    fn run<'r>(
        &'r self,
        changelogs: &'r [crate::changelog::Changelog],
        parameters: &'r Parameters,
        options: &'r MigrateOptions,
    ) -> Run<'r> {
        Run {
            config: self.config,
            changelogs,
            parameters,
            table: &self.table,
            app: self.app(parameters),
            options,
            recorded: Vec::new(),
        }
    }

    /// The phases that have Rust hooks.
    fn hooked(&self) -> Vec<plan::HookPhase> {
        self.rust.iter().map(|h| h.phase).collect()
    }

    fn app<'r>(&'r self, parameters: &'r Parameters) -> app::App<'r> {
        app::App {
            config: self.config,
            parameters,
            rust: &self.rust,
            python: self.python.as_deref(),
            table: self.table.name(),
        }
    }

    /// Records `version` as installed without applying anything (for a database made
    /// before pum managed it). Creates the table when `options.create_table` is set.
    ///
    /// # Errors
    /// The [baseline refusals](self#refusals).
    pub fn baseline(&self, version: &Version, options: &BaselineOptions) -> Result<()> {
        self.locked(MigrateOptions::default().lock_timeout, |session| {
            session.begin()?;
            if self.table.exists(&mut session.client)? {
                self.table
                    .upgrade_layout(&mut session.client, &self.config.module)?;
            }
            let applied = self.applied(session, true)?;
            if plan::baseline(version, &applied, options)? {
                self.table.create(&mut session.client)?;
            }
            self.table.insert(
                &mut session.client,
                &NewMigration {
                    module: &self.config.module,
                    version,
                    beta_testing: false,
                    changelog_files: Vec::new(),
                    parameters: "{}".into(),
                    file_checksums: Default::default(),
                },
            )?;
            session.commit()
        })
    }

    /// The parameter values recorded with the current version, for the parameters the
    /// configuration still defines (name, text).
    fn recorded_parameters(&self, applied: &Applied) -> Result<Vec<(String, String)>> {
        Ok(applied
            .latest()?
            .map(|(row, _)| {
                row.parameter_texts
                    .iter()
                    .filter(|(name, _)| self.config.parameter(name).is_some())
                    .filter_map(|(name, value)| Some((name.clone(), value.clone()?)))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The current version and the parameter values recorded with it (as text), to build
    /// the same database elsewhere.
    ///
    /// # Errors
    /// As [`Upgrader::current`].
    pub fn recorded(&self) -> Result<(Version, Vec<(String, String)>)> {
        let current = self.current()?;
        let applied = self.with_session(|session| self.applied(session, false))?;
        Ok((current, self.recorded_parameters(&applied)?))
    }

    /// The version the database is at: the highest recorded, compared numerically.
    ///
    /// # Errors
    /// [`crate::Error::NotInstalled`] without a migrations table;
    /// [`crate::Conflict::NoVersionRecorded`] when it records nothing.
    pub fn current(&self) -> Result<Version> {
        let applied = self.with_session(|session| self.applied(session, false))?;
        if !applied.exists {
            return Err(crate::error::Error::NotInstalled {
                table: applied.table.clone(),
                hint: "nothing is installed".into(),
            });
        }
        let (_, current) =
            applied
                .latest()?
                .ok_or_else(|| crate::error::Conflict::NoVersionRecorded {
                    table: applied.table.clone(),
                })?;
        Ok(current)
    }

    /// Undoes every applied version above `target`, newest first, with their down files
    /// (`changelogs/<version>/down/*.sql`, in reverse name order) and removes their rows,
    /// so that the table (and Python pum) says `target`; in one transaction under the
    /// migration lock. The down files get the parameters
    /// recorded with the current version. Returns the versions undone (in
    /// [`MigrationReport::applied`]).
    ///
    /// # Errors
    /// The [downgrade refusals](self#refusals), before anything changes; SQL errors in the down
    /// files (then nothing has changed).
    pub fn downgrade(
        &self,
        target: &Version,
        options: &DowngradeOptions,
        progress: &mut dyn Progress,
    ) -> Result<MigrationReport> {
        let changelogs = self.config.changelogs_for_run()?;
        self.locked(options.lock_timeout, |session| {
            session.begin()?;
            if self.table.exists(&mut session.client)? {
                self.table
                    .upgrade_layout(&mut session.client, &self.config.module)?;
            }
            let applied = self.applied(session, false)?;
            let plan = plan::downgrade(self.config, &changelogs, &applied, target, options)?;
            let recorded_values = self.recorded_parameters(&applied)?;
            let parameters = Parameters::resolve(&self.config.parameters, &recorded_values)?;
            let run_options = MigrateOptions {
                skip_grant: options.skip_grant,
                ..MigrateOptions::default()
            };
            let mut run = self.run(&changelogs, &parameters, &run_options);
            run.recorded = applied.rows.iter().map(|r| r.version.clone()).collect();
            let mut report = run.execute(session, &plan, progress)?;
            session.commit()?;
            report.from = plan.from.as_ref().map(ToString::to_string);
            Ok(report)
        })
    }

    /// Every version of the changelogs and the table, with its state and its files'.
    ///
    /// # Errors
    /// Connection, changelog and table errors.
    pub fn info(&self) -> Result<Info> {
        let changelogs = self.config.changelogs()?;
        let applied = self.with_session(|session| self.applied(session, false))?;
        info::info(&changelogs, &applied)
    }

    /// Applied files that changed or disappeared since they were applied, and files added
    /// to applied versions (empty: valid).
    ///
    /// # Errors
    /// [`crate::Error::NotInstalled`] when there is no migrations table; as
    /// [`Upgrader::info`].
    pub fn validate(&self) -> Result<Vec<String>> {
        let info = self.info()?;
        if !info.installed {
            return Err(crate::error::Error::NotInstalled {
                table: info.table,
                hint: "nothing to validate".into(),
            });
        }
        Ok(info.changed_files())
    }

    /// Plans an upgrade without changing anything: what [`Upgrader::upgrade`] would do.
    ///
    /// # Errors
    /// As [`Upgrader::upgrade`], before anything would be applied.
    pub(crate) fn plan_upgrade(&self, options: &MigrateOptions) -> Result<Plan> {
        let changelogs = self.config.changelogs()?;
        let parameters = Parameters::resolve(&self.config.parameters, &options.parameters)?;
        let applied = self.with_session(|session| self.applied(session, false))?;
        plan::upgrade_hooked(
            self.config,
            &changelogs,
            &applied,
            &parameters,
            options,
            &self.hooked(),
        )
    }
}
