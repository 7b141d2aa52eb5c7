//! Applying changelogs and recording them: baseline, install, upgrade, info, validate.
//!
//! - **Transactions.** By default a run is one transaction, as in Python pum: if any file
//!   fails, the database is exactly as before. [`TransactionMode::PerVersion`] commits each
//!   version with its row instead. A file marked `-- pum:no-transaction` runs alone outside
//!   any transaction: what came before it is committed first, and the run is atomic only
//!   between such files.
//! - **Concurrency.** A session advisory lock per migrations table, polled until
//!   [`MigrateOptions::lock_timeout`], so two upgrades at once apply every file once: the
//!   second waits, then finds nothing left to do.
//! - **Versions** compare numerically everywhere, including the current version (the
//!   highest recorded; Python pum sorts the text, which puts 9.0 above 10.0).
//! - **Checksums.** Every applied file's BLAKE3 checksum (line endings normalised) is
//!   recorded. `upgrade` warns about applied files changed since (`strict` makes it an
//!   error); [`Upgrader::info`] and [`Upgrader::validate`] list them. Rows recorded by Python
//!   pum have no checksums and show as unknown.
//! - **Hooks.** The application's drop hooks run before the changelogs and its create hooks
//!   after, in the same transaction, only when there is something to apply. SQL hooks
//!   (files or code) run; Python hooks are refused with the file's name.
//! - **Not yet:** roles and grants, demo data and uninstall hooks are validated in the
//!   configuration but not carried out; a configuration declaring roles needs
//!   `skip_roles` so that nobody believes they were created.

mod apply;
pub mod table;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use postgres::Client;
use serde::Serialize;

use crate::changelog::params::Parameters;
use crate::changelog::{Changelog, SqlText};
use crate::config::{Config, Hook};
use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::version::Version;
use table::{Migration, MigrationsTable, NewMigration};

/// How a run is split into transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransactionMode {
    /// One transaction for the whole run (the default).
    #[default]
    Whole,
    /// One transaction per version.
    PerVersion,
}

/// Options of [`Upgrader::install`] and [`Upgrader::upgrade`].
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// Apply versions up to this one (inclusive); all when `None`.
    pub max_version: Option<Version>,
    /// Parameter values given by name, as text (overriding the defaults).
    pub parameters: Vec<(String, String)>,
    /// Record the versions as beta testing: later upgrades then need `force`.
    pub beta_testing: bool,
    /// Upgrade a database installed in beta-testing mode.
    pub force: bool,
    /// Do not require every version at or below the current one to be recorded.
    pub skip_baseline_check: bool,
    /// Fail (instead of warn) when an applied file changed since.
    pub strict: bool,
    /// Transactions.
    pub transaction: TransactionMode,
    /// How long to wait for another pum working on the same migrations table.
    pub lock_timeout: Duration,
    /// Do not run the application's drop hooks.
    pub skip_drop_app: bool,
    /// Do not run the application's create hooks.
    pub skip_create_app: bool,
    /// Proceed although the configuration declares roles (which are not created yet).
    pub skip_roles: bool,
    /// Install although another schema holds a migrations table.
    pub allow_multiple_modules: bool,
}

impl Default for MigrateOptions {
    fn default() -> MigrateOptions {
        MigrateOptions {
            max_version: None,
            parameters: Vec::new(),
            beta_testing: false,
            force: false,
            skip_baseline_check: false,
            strict: false,
            transaction: TransactionMode::Whole,
            lock_timeout: Duration::from_secs(60),
            skip_drop_app: false,
            skip_create_app: false,
            skip_roles: false,
            allow_multiple_modules: false,
        }
    }
}

/// Told about each file as it is applied (the CLI draws a progress bar with it).
pub trait Progress {
    /// The run is about to apply `files` files.
    fn begin(&mut self, files: usize) {
        let _ = files;
    }
    /// `name` (of `version`) is about to run.
    fn file(&mut self, version: &Version, name: &str) {
        let _ = (version, name);
    }
    /// The run is over.
    fn end(&mut self) {}
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;

impl Progress for NoProgress {}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The version before the run (`None` for an install).
    pub from: Option<String>,
    /// The versions applied, in order.
    pub applied: Vec<String>,
    /// How many files ran.
    pub files: usize,
    /// Things the user should know (changed applied files).
    pub warnings: Vec<String>,
}

/// The state of one file in [`Info`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Applied, and unchanged since.
    Unchanged,
    /// Applied, and changed since.
    Changed,
    /// Applied, and no longer on disk.
    Missing,
    /// Applied, but recorded without a checksum (by Python pum).
    Unknown,
    /// Not applied yet.
    Pending,
}

/// One file in [`Info`].
#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    /// The recorded name (`changelogs/<version>/<file>`).
    pub name: String,
    /// Its state.
    pub status: FileStatus,
    /// Whether it runs outside a transaction.
    pub no_transaction: bool,
}

/// The state of one version in [`Info`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    /// Recorded with its files.
    Applied,
    /// Recorded by `baseline` (no files).
    Baseline,
    /// Not recorded, and below the current version (skipped by a baseline).
    Skipped,
    /// Not recorded yet.
    Pending,
    /// Recorded, but there is no changelog for it.
    NoChangelog,
}

/// One version in [`Info`].
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    /// The version.
    pub version: String,
    /// Its state.
    pub status: VersionStatus,
    /// When it was recorded.
    pub date_installed: Option<String>,
    /// Recorded in beta-testing mode.
    pub beta_testing: bool,
    /// Its files.
    pub files: Vec<FileInfo>,
}

/// What [`Upgrader::info`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    /// `schema.pum_migrations`.
    pub table: String,
    /// Whether the table exists.
    pub installed: bool,
    /// The module recorded with the current version.
    pub module: Option<String>,
    /// The highest recorded version.
    pub current_version: Option<String>,
    /// Every version, from the changelogs and the table, in order.
    pub versions: Vec<VersionInfo>,
}

impl Info {
    /// Applied files that changed or disappeared since, as `name (changed|missing)`.
    pub fn changed_files(&self) -> Vec<String> {
        self.versions
            .iter()
            .flat_map(|v| &v.files)
            .filter_map(|f| match f.status {
                FileStatus::Changed => Some(format!("{} (changed)", f.name)),
                FileStatus::Missing => Some(format!("{} (missing)", f.name)),
                _ => None,
            })
            .collect()
    }

    /// Versions not recorded yet.
    pub fn pending(&self) -> Vec<&str> {
        self.versions
            .iter()
            .filter(|v| v.status == VersionStatus::Pending)
            .map(|v| v.version.as_str())
            .collect()
    }
}

/// Applies a project's changelogs to one database.
pub struct Upgrader<'a> {
    config: &'a Config,
    spec: &'a ConnectionSpec,
    table: MigrationsTable,
}

/// The session of one run: its client, and whether a transaction is open.
struct Session {
    client: Client,
    in_transaction: bool,
}

impl Session {
    fn begin(&mut self) -> Result<()> {
        if !self.in_transaction {
            self.client
                .batch_execute("BEGIN")
                .map_err(|e| Error::sql("begin a transaction", &e))?;
            self.in_transaction = true;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        if self.in_transaction {
            self.client
                .batch_execute("COMMIT")
                .map_err(|e| Error::sql("commit", &e))?;
            self.in_transaction = false;
        }
        Ok(())
    }

    fn rollback(&mut self) {
        if self.in_transaction {
            let _ = self.client.batch_execute("ROLLBACK");
            self.in_transaction = false;
        }
    }
}

impl<'a> Upgrader<'a> {
    /// An upgrader for `config`'s project on the database of `spec`.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`] for a migration table schema PostgreSQL cannot hold.
    pub fn new(config: &'a Config, spec: &'a ConnectionSpec) -> Result<Upgrader<'a>> {
        Ok(Upgrader {
            config,
            spec,
            table: MigrationsTable::new(&config.migration_table_schema)?,
        })
    }

    /// The migrations table.
    pub fn table(&self) -> &MigrationsTable {
        &self.table
    }

    /// Connects and takes the table's advisory lock; runs `work`; releases the lock.
    fn locked<T>(
        &self,
        timeout: Duration,
        work: impl FnOnce(&mut Session) -> Result<T>,
    ) -> Result<T> {
        let client = self.spec.connect()?;
        let mut session = Session {
            client,
            in_transaction: false,
        };
        self.table.lock(&mut session.client, timeout)?;
        let result = work(&mut session);
        if result.is_err() {
            session.rollback();
        }
        let _ = self.table.unlock(&mut session.client);
        result
    }

    /// Installs the project on a database that has no migrations table: creates it and
    /// applies every changelog up to `max_version`.
    ///
    /// # Errors
    /// [`Error::State`] when the table exists (use upgrade), another schema has one (unless
    /// `allow_multiple_modules`), or there is nothing to install; any changelog or SQL error.
    pub fn install(&self, options: &MigrateOptions, progress: &mut dyn Progress) -> Result<Report> {
        self.check_roles(options)?;
        let changelogs = self.config.changelogs()?;
        let parameters = Parameters::resolve(&self.config.parameters, &options.parameters)?;
        let plan: Vec<&Changelog> = changelogs
            .iter()
            .filter(|c| options.max_version.as_ref().is_none_or(|m| &c.version <= m))
            .collect();
        if plan.is_empty() {
            return Err(Error::State(format!(
                "nothing to install: the first changelog is {}, above the maximum version",
                changelogs[0].version
            )));
        }
        self.locked(options.lock_timeout, |session| {
            if self.table.exists(&mut session.client)? {
                return Err(Error::State(format!(
                    "{} already exists: the module is installed; use upgrade",
                    self.table.name()
                )));
            }
            let others = self.table.other_schemas(&mut session.client)?;
            if !others.is_empty() && !options.allow_multiple_modules {
                return Err(Error::State(format!(
                    "another module's migrations table exists in schema {}; allow multiple \
                     modules to install beside it",
                    others.join(", ")
                )));
            }
            session.begin()?;
            self.table.create(&mut session.client)?;
            let mut report = Report::default();
            self.apply(session, &plan, &parameters, options, progress, &mut report)?;
            Ok(report)
        })
    }

    /// Applies the changelogs above the current version (up to `max_version`).
    ///
    /// # Errors
    /// [`Error::State`] when the module is not installed, is another module, is in beta
    /// testing (without `force`), a fixed parameter changed, a version at or below the
    /// current one is not recorded (without `skip_baseline_check`), or (with `strict`) an
    /// applied file changed; any changelog or SQL error.
    pub fn upgrade(&self, options: &MigrateOptions, progress: &mut dyn Progress) -> Result<Report> {
        self.check_roles(options)?;
        let changelogs = self.config.changelogs()?;
        let parameters = Parameters::resolve(&self.config.parameters, &options.parameters)?;
        self.locked(options.lock_timeout, |session| {
            if !self.table.exists(&mut session.client)? {
                return Err(Error::State(format!(
                    "{} does not exist: install the module, or record what is there with \
                     baseline",
                    self.table.name()
                )));
            }
            session.begin()?;
            self.table
                .upgrade_layout(&mut session.client, &self.config.module)?;
            let rows = self.table.rows(&mut session.client)?;
            let (latest, current) = latest(&rows)?.ok_or_else(|| {
                Error::State(format!(
                    "{} records no version: record one with baseline",
                    self.table.name()
                ))
            })?;
            self.check_upgradable(latest, &parameters, options)?;
            let recorded: Vec<Version> = rows
                .iter()
                .filter_map(|r| r.parsed_version().ok())
                .collect();
            if !options.skip_baseline_check {
                let missing: Vec<String> = changelogs
                    .iter()
                    .filter(|c| c.version <= current && !recorded.contains(&c.version))
                    .map(|c| c.version.to_string())
                    .collect();
                if !missing.is_empty() {
                    return Err(Error::State(format!(
                        "version(s) {} are at or below the current version {current} but not \
                         recorded in {}; record them, or skip this check",
                        missing.join(", "),
                        self.table.name()
                    )));
                }
            }
            let mut report = Report {
                from: Some(current.to_string()),
                ..Report::default()
            };
            let changed = changed_files(self.config, &rows);
            if !changed.is_empty() {
                let message = format!(
                    "applied file(s) changed since they were applied: {}",
                    changed.join(", ")
                );
                if options.strict {
                    return Err(Error::State(message));
                }
                report.warnings.push(message);
            }
            let plan: Vec<&Changelog> = changelogs
                .iter()
                .filter(|c| c.version > current)
                .filter(|c| options.max_version.as_ref().is_none_or(|m| &c.version <= m))
                .collect();
            if plan.is_empty() {
                session.commit()?;
                return Ok(report);
            }
            let options = MigrateOptions {
                beta_testing: options.beta_testing || latest.beta_testing,
                ..options.clone()
            };
            self.apply(session, &plan, &parameters, &options, progress, &mut report)?;
            Ok(report)
        })
    }

    fn check_roles(&self, options: &MigrateOptions) -> Result<()> {
        if !self.config.roles.is_empty() && !options.skip_roles {
            return Err(Error::State(format!(
                "{} declares roles, which this pum does not create yet; skip roles to \
                 install or upgrade without them",
                self.config.path.display()
            )));
        }
        Ok(())
    }

    fn check_upgradable(
        &self,
        latest: &Migration,
        parameters: &Parameters,
        options: &MigrateOptions,
    ) -> Result<()> {
        if let Some(module) = &latest.module
            && module != &self.config.module
        {
            return Err(Error::State(format!(
                "{} belongs to module \"{module}\", not \"{}\"",
                self.table.name(),
                self.config.module
            )));
        }
        if latest.beta_testing && !options.force {
            return Err(Error::State(format!(
                "version {} was installed in beta-testing mode: upgrading needs force",
                latest.version
            )));
        }
        if let Some(stored) = latest.parameters.as_ref().and_then(|p| p.as_object()) {
            for (name, value) in parameters.fixed() {
                if let Some(before) = stored.get(name)
                    && before != &value.to_json()
                {
                    return Err(Error::Parameter {
                        name: name.to_string(),
                        message: format!(
                            "was {before} when version {} was installed and is {} now; only \
                             app_only parameters may change between upgrades",
                            latest.version,
                            value.to_json()
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Runs the hooks and the planned changelogs, recording each version; commits.
    fn apply(
        &self,
        session: &mut Session,
        plan: &[&Changelog],
        parameters: &Parameters,
        options: &MigrateOptions,
        progress: &mut dyn Progress,
        report: &mut Report,
    ) -> Result<()> {
        progress.begin(plan.iter().map(|c| c.files.len()).sum());
        session.begin()?;
        if !options.skip_drop_app {
            self.run_hooks(session, &self.config.application.drop, parameters)?;
        }
        // Whole runs go to the server in one round trip, per-version runs one per version;
        // a group that fails is rolled back to its start and replayed file by file,
        // statement by statement, to say exactly where it failed.
        let groups: Vec<&[&Changelog]> = match options.transaction {
            TransactionMode::Whole => vec![plan],
            TransactionMode::PerVersion => plan.chunks(1).collect(),
        };
        for group in groups {
            let texts = group
                .iter()
                .map(|c| c.files.iter().map(|f| SqlText::read(&f.path)).collect())
                .collect::<Result<Vec<Vec<SqlText>>>>()?;
            let batchable = texts.iter().flatten().all(|t| !t.no_transaction);
            if !(batchable && self.apply_batch(session, group, &texts, parameters, options)?) {
                for (changelog, files) in group.iter().zip(&texts) {
                    self.apply_version(session, changelog, files, parameters, options)?;
                }
            }
            for changelog in group {
                for file in &changelog.files {
                    progress.file(&changelog.version, &file.name);
                }
                report.files += changelog.files.len();
                report.applied.push(changelog.version.to_string());
            }
            if options.transaction == TransactionMode::PerVersion {
                session.commit()?;
            }
        }
        session.begin()?;
        if !options.skip_create_app {
            self.run_hooks(session, &self.config.application.create, parameters)?;
        }
        session.commit()?;
        progress.end();
        Ok(())
    }

    /// The row recording `changelog`, applied with `files`.
    fn row<'r>(
        &'r self,
        changelog: &'r Changelog,
        files: &[SqlText],
        parameters: &Parameters,
        options: &MigrateOptions,
    ) -> NewMigration<'r> {
        NewMigration {
            module: &self.config.module,
            version: &changelog.version,
            beta_testing: options.beta_testing,
            changelog_files: changelog.files.iter().map(|f| f.name.clone()).collect(),
            parameters: parameters.to_json(),
            file_checksums: changelog
                .files
                .iter()
                .zip(files)
                .map(|(f, t)| (f.name.clone(), t.checksum.clone()))
                .collect(),
        }
    }

    /// Sends every statement of `group` and its rows in one round trip, behind a
    /// savepoint. Returns false (and has rolled back to the savepoint) if the server
    /// refused something.
    fn apply_batch(
        &self,
        session: &mut Session,
        group: &[&Changelog],
        texts: &[Vec<SqlText>],
        parameters: &Parameters,
        options: &MigrateOptions,
    ) -> Result<bool> {
        session.begin()?;
        let mut batch = String::from("SAVEPOINT pum_batch;\n");
        for (changelog, files) in group.iter().zip(texts) {
            for (file, text) in changelog.files.iter().zip(files) {
                for (_, sql) in apply::render(text, &file.name, parameters, true)? {
                    // "\n;" ends a statement even when it ends in a -- comment.
                    batch.push_str(&sql);
                    batch.push_str("\n;\n");
                }
            }
            let row = self.row(changelog, files, parameters, options);
            batch.push_str(&self.table.insert_sql(&row));
            batch.push_str(";\n");
        }
        batch.push_str("RELEASE SAVEPOINT pum_batch;");
        if session.client.batch_execute(&batch).is_ok() {
            return Ok(true);
        }
        session
            .client
            .batch_execute("ROLLBACK TO SAVEPOINT pum_batch")
            .map_err(|e| Error::sql("roll back to the start of the run", &e))?;
        Ok(false)
    }

    /// Applies one version file by file (statement by statement on failure) and records it.
    fn apply_version(
        &self,
        session: &mut Session,
        changelog: &Changelog,
        files: &[SqlText],
        parameters: &Parameters,
        options: &MigrateOptions,
    ) -> Result<()> {
        for (file, text) in changelog.files.iter().zip(files) {
            if text.no_transaction {
                session.commit()?;
            } else {
                session.begin()?;
            }
            let in_transaction = session.in_transaction;
            apply::run_sql(
                &mut session.client,
                text,
                &file.name,
                parameters,
                true,
                in_transaction,
            )?;
        }
        session.begin()?;
        let row = self.row(changelog, files, parameters, options);
        self.table.insert(&mut session.client, &row)
    }

    fn run_hooks(
        &self,
        session: &mut Session,
        hooks: &[Hook],
        parameters: &Parameters,
    ) -> Result<()> {
        for hook in hooks {
            match (&hook.file, &hook.code) {
                (Some(file), _) => {
                    let path = self.config.base_dir.join(file);
                    if Path::new(file).extension().is_some_and(|e| e == "py") {
                        return Err(Error::State(format!(
                            "{}: Python hooks are not supported; write the hook in SQL",
                            path.display()
                        )));
                    }
                    let text = SqlText::read(&path)?;
                    apply::run_sql(&mut session.client, &text, file, parameters, false, true)?;
                }
                (None, Some(code)) => {
                    let text = SqlText::new(code.clone());
                    apply::run_sql(
                        &mut session.client,
                        &text,
                        "hook code",
                        parameters,
                        false,
                        true,
                    )?;
                }
                (None, None) => {}
            }
        }
        Ok(())
    }

    /// Records `version` as installed without applying anything (for a database made
    /// before pum managed it). Creates the table when `create_table` is set.
    ///
    /// # Errors
    /// [`Error::State`] when the table is missing (without `create_table`) or already
    /// records `version` or a later one.
    pub fn baseline(&self, version: &Version, create_table: bool) -> Result<()> {
        self.locked(MigrateOptions::default().lock_timeout, |session| {
            session.begin()?;
            if self.table.exists(&mut session.client)? {
                self.table
                    .upgrade_layout(&mut session.client, &self.config.module)?;
                if let Some((_, current)) = latest(&self.table.rows(&mut session.client)?)?
                    && current >= *version
                {
                    return Err(Error::State(format!(
                        "cannot record baseline {version}: {} already records {current}",
                        self.table.name()
                    )));
                }
            } else if create_table {
                self.table.create(&mut session.client)?;
            } else {
                return Err(Error::State(format!(
                    "{} does not exist; create it with the baseline",
                    self.table.name()
                )));
            }
            self.table.insert(
                &mut session.client,
                &NewMigration {
                    module: &self.config.module,
                    version,
                    beta_testing: false,
                    changelog_files: Vec::new(),
                    parameters: serde_json::json!({}),
                    file_checksums: BTreeMap::new(),
                },
            )?;
            session.commit()
        })
    }

    /// Every version of the changelogs and the table, with its state and its files'.
    ///
    /// # Errors
    /// Connection, changelog and table errors.
    pub fn info(&self) -> Result<Info> {
        let changelogs = self.config.changelogs()?;
        let mut client = self.spec.connect()?;
        let installed = self.table.exists(&mut client)?;
        let rows = if installed {
            self.table.rows(&mut client)?
        } else {
            Vec::new()
        };
        let current = latest(&rows)?;
        let mut versions = Vec::new();
        for changelog in &changelogs {
            let row = rows
                .iter()
                .find(|r| r.parsed_version().ok().as_ref() == Some(&changelog.version));
            let status = match (row, &current) {
                (Some(r), _) if r.changelog_files.is_empty() && !changelog.app_only() => {
                    VersionStatus::Baseline
                }
                (Some(_), _) => VersionStatus::Applied,
                (None, Some((_, cur))) if &changelog.version <= cur => VersionStatus::Skipped,
                (None, _) => VersionStatus::Pending,
            };
            let mut files: Vec<FileInfo> = changelog
                .files
                .iter()
                .map(|f| FileInfo {
                    name: f.name.clone(),
                    status: match row {
                        Some(r) => match r.changelog_files.iter().find(|n| same_file(n, &f.name)) {
                            Some(recorded) => file_status(self.config, r, recorded),
                            None => FileStatus::Pending,
                        },
                        None => FileStatus::Pending,
                    },
                    no_transaction: SqlText::read(&f.path)
                        .map(|t| t.no_transaction)
                        .unwrap_or(false),
                })
                .collect();
            // Applied files that are gone from the changelog.
            for name in row.iter().flat_map(|r| &r.changelog_files) {
                if !changelog.files.iter().any(|f| same_file(name, &f.name))
                    && let Some(r) = row
                {
                    files.push(FileInfo {
                        name: name.clone(),
                        status: file_status(self.config, r, name),
                        no_transaction: false,
                    });
                }
            }
            versions.push(VersionInfo {
                version: changelog.version.to_string(),
                status,
                date_installed: row.map(|r| r.date_installed.clone()),
                beta_testing: row.is_some_and(|r| r.beta_testing),
                files,
            });
        }
        for row in &rows {
            let known = row
                .parsed_version()
                .ok()
                .is_some_and(|v| changelogs.iter().any(|c| c.version == v));
            if !known {
                versions.push(VersionInfo {
                    version: row.version.clone(),
                    status: if row.changelog_files.is_empty() {
                        VersionStatus::Baseline
                    } else {
                        VersionStatus::NoChangelog
                    },
                    date_installed: Some(row.date_installed.clone()),
                    beta_testing: row.beta_testing,
                    files: row
                        .changelog_files
                        .iter()
                        .map(|name| FileInfo {
                            name: name.clone(),
                            status: file_status(self.config, row, name),
                            no_transaction: false,
                        })
                        .collect(),
                });
            }
        }
        versions.sort_by(
            |a, b| match (Version::parse(&a.version), Version::parse(&b.version)) {
                (Ok(x), Ok(y)) => x.cmp(&y),
                _ => a.version.cmp(&b.version),
            },
        );
        Ok(Info {
            table: self.table.name(),
            installed,
            module: current.as_ref().and_then(|(r, _)| r.module.clone()),
            current_version: current.map(|(_, v)| v.to_string()),
            versions,
        })
    }

    /// Applied files that changed or disappeared since they were applied (empty: valid).
    ///
    /// # Errors
    /// As [`Upgrader::info`].
    pub fn validate(&self) -> Result<Vec<String>> {
        Ok(self.info()?.changed_files())
    }
}

/// The row of the highest recorded version, and that version.
fn latest(rows: &[Migration]) -> Result<Option<(&Migration, Version)>> {
    let mut best: Option<(&Migration, Version)> = None;
    for row in rows {
        let version = row.parsed_version()?;
        // Rows come oldest first: on equal versions the later row wins.
        if best.as_ref().is_none_or(|(_, v)| &version >= v) {
            best = Some((row, version));
        }
    }
    Ok(best)
}

/// Whether a recorded file name is `name` (`changelogs/<version>/<file>`): Python pum
/// records the path as it built it, which starts with the project directory it was given
/// (`/srv/project/changelogs/1.0.0/a.sql` with `-d /srv/project`).
fn same_file(recorded: &str, name: &str) -> bool {
    recorded == name || Path::new(recorded).ends_with(name)
}

fn file_status(config: &Config, row: &Migration, name: &str) -> FileStatus {
    let Some(recorded) = row.file_checksums.get(name) else {
        return FileStatus::Unknown;
    };
    match SqlText::read(&config.base_dir.join(name)) {
        Err(_) => FileStatus::Missing,
        Ok(text) if &text.checksum == recorded => FileStatus::Unchanged,
        Ok(_) => FileStatus::Changed,
    }
}

fn changed_files(config: &Config, rows: &[Migration]) -> Vec<String> {
    rows.iter()
        .flat_map(|row| {
            row.changelog_files.iter().filter_map(move |name| {
                match file_status(config, row, name) {
                    FileStatus::Changed => Some(format!("{name} (changed)")),
                    FileStatus::Missing => Some(format!("{name} (missing)")),
                    _ => None,
                }
            })
        })
        .collect()
}
