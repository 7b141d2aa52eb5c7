//! Projects in pum 0.x's layout: delta directories and an upgrades table such as
//! `qwat_sys.info`, run as pum 0.9.14 runs them, and better where it was wrong.
//!
//! ```no_run
//! use pum::migrate::zero_x::{DeltaOptions, DeltaUpgrader};
//! use pum::ConnectionSpec;
//!
//! let spec = ConnectionSpec::resolve("service=qwat_prod")?;
//! let upgrader = DeltaUpgrader::new(&spec, "qwat_sys.info", &["update/delta".into()])?;
//! upgrader.baseline("1.0.0")?;
//! let report = upgrader.upgrade(&DeltaOptions::default(), &mut pum::migrate::NoProgress)?;
//! println!("now at {}", report.to);
//! # Ok::<(), pum::Error>(())
//! ```
//!
//! - **What runs**: as pum 0.x, `pre-all` files, then every delta whose version is at or
//!   above the current version (and at or below [`DeltaOptions::max_version`]) and that
//!   is not recorded with its checksum, each followed by its row, then `post-all` files
//!   (see [`plan`]).
//! - **Transactions**: the whole run is one transaction by default, so a failure leaves
//!   the database as it was (pum 0.x committed each file, leaving half-upgraded
//!   databases); [`TransactionMode::PerFile`] commits each file with its row, as pum 0.x
//!   did, and [`TransactionMode::PerVersion`] each version. Python deltas run inside the
//!   same transaction (see [`crate::hooks`]).
//! - **Variables** (`-v int|float|string NAME VALUE`) fill `%(name)s` in SQL files as
//!   quoted literals, only when some are given, as pum 0.x does (then `%%` is a percent
//!   sign); Python deltas read them as `self.variables`.
//! - **Concurrency**: an advisory lock per upgrades table; two upgrades at once apply
//!   each delta once.

pub mod plan;
pub mod table;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::prepared::Prepared;
use super::run_session::{Item, RunSession};
use super::{Progress, TransactionMode};
use crate::changelog::SqlText;
use crate::changelog::deltas::{Delta, DeltaKind, DeltaLanguage, DeltaSet};
use crate::connect::ConnectionSpec;
use crate::error::{Conflict, Error, Result};
use crate::hooks::{Code, CodeKind, Hook, HookContext, Variable};
use crate::version::Version;
use crate::wire::{RawSession, Sql};
pub use plan::{DeltaPlan, DeltaState, DeltaStep};
use table::NewUpgrade;
pub use table::{UpgradeRow, UpgradesTable};

/// Options of [`DeltaUpgrader::upgrade`].
#[derive(Debug, Clone)]
pub struct DeltaOptions {
    /// Apply deltas up to this version (inclusive); all when `None`.
    pub max_version: Option<Version>,
    /// Variables (`-v TYPE NAME VALUE`); `%(name)s` is substituted only when some are
    /// given.
    pub variables: Vec<(String, Variable)>,
    /// Transactions: whole run (default), per version, or per file as pum 0.x.
    pub transaction: TransactionMode,
    /// How long to wait for another pum upgrading the same table.
    pub lock_timeout: Duration,
}

impl Default for DeltaOptions {
    fn default() -> DeltaOptions {
        DeltaOptions {
            max_version: None,
            variables: Vec::new(),
            transaction: TransactionMode::Whole,
            lock_timeout: Duration::from_secs(60),
        }
    }
}

/// What an upgrade did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeltaReport {
    /// The version before the run.
    pub from: String,
    /// The version after it.
    pub to: String,
    /// The files that ran (pre-all, deltas, post-all), as the directories name them.
    pub files: Vec<String>,
    /// Things to know: skipped or edited deltas, left-out BEGIN/COMMIT.
    pub warnings: Vec<String>,
}

/// One delta as `info` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeltaInfo {
    /// The version.
    pub version: String,
    /// The name.
    pub name: String,
    /// `pre sql`, `delta py`…
    pub kind: String,
    /// The file, as the directories name it.
    pub script: String,
    /// Applied, pending, skipped or edited.
    pub state: DeltaState,
}

/// What `info` reports.
#[derive(Debug, Clone, Serialize)]
pub struct DeltasInfo {
    /// The upgrades table.
    pub table: String,
    /// Whether it exists.
    pub installed: bool,
    /// The current version (highest recorded, numerically).
    pub current: Option<String>,
    /// The delta directories.
    pub dirs: Vec<String>,
    /// Every delta, in the order they run.
    pub deltas: Vec<DeltaInfo>,
    /// The table's rows, in id order.
    pub rows: Vec<UpgradeRow>,
}

/// Runs a delta-directory project on one database.
pub struct DeltaUpgrader<'a> {
    spec: &'a ConnectionSpec,
    table: UpgradesTable,
    set: DeltaSet,
    hooks: Vec<(String, Box<dyn Hook>)>,
    service: String,
    python: Option<PathBuf>,
}

impl<'a> DeltaUpgrader<'a> {
    /// An upgrader for the deltas of `dirs` on the database of `spec`, recording in
    /// `table` (`schema.table`).
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`] for a table name without schema;
    /// [`Error::Changelog`] for a missing directory or a file that looks like a delta but
    /// is not one.
    pub fn new(
        spec: &'a ConnectionSpec,
        table: &str,
        dirs: &[PathBuf],
    ) -> Result<DeltaUpgrader<'a>> {
        let service = spec
            .service()
            .filter(|s| !s.is_empty() && !s.contains([']', '\n', '\r']))
            .unwrap_or("pum")
            .to_string();
        Ok(DeltaUpgrader {
            spec,
            table: UpgradesTable::parse(table)?,
            set: DeltaSet::load(dirs)?,
            hooks: Vec::new(),
            service,
            python: None,
        })
    }

    /// The Python interpreter for Python deltas (default: `PUM_PYTHON`, else `python3`).
    pub fn python(mut self, interpreter: impl Into<PathBuf>) -> DeltaUpgrader<'a> {
        self.python = Some(interpreter.into());
        self
    }

    /// Adds Rust code as a delta: at `version` (`None`: with the `pre-all` or `post-all`
    /// files, as `kind` says), recorded as code under `name`.
    ///
    /// # Errors
    /// [`Error::InvalidVersion`] for a bad version; [`Error::Changelog`] when `name` is
    /// not letters, digits and underscores.
    pub fn hook(
        mut self,
        version: Option<&str>,
        kind: DeltaKind,
        name: &str,
        hook: impl Hook + 'static,
    ) -> Result<DeltaUpgrader<'a>> {
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(Error::Changelog {
                path: name.to_string(),
                message: "a hook's name is letters, digits and underscores".into(),
            });
        }
        let version = version.map(Version::parse).transpose()?;
        let label = match &version {
            Some(v) => format!("rust:delta_{v}_{name}"),
            None => format!("rust:{name}"),
        };
        let checksum = crate::changelog::deltas::hex(&{
            use md5::Digest;
            md5::Md5::digest(label.as_bytes())
        });
        self.set.add(Delta {
            version,
            kind,
            language: DeltaLanguage::Rust,
            name: name.to_string(),
            path: PathBuf::from(&label),
            script: label.clone(),
            dir: usize::MAX,
            checksum,
        });
        self.hooks.push((label, Box::new(hook)));
        Ok(self)
    }

    /// The upgrades table.
    pub fn table(&self) -> &UpgradesTable {
        &self.table
    }

    /// The deltas found.
    pub fn deltas(&self) -> &DeltaSet {
        &self.set
    }

    /// Connects and takes the table's lock; runs `work`; releases the lock, rolling back
    /// what `work` left open after an error.
    fn locked<T>(
        &self,
        timeout: Duration,
        work: impl FnOnce(&mut RunSession) -> Result<T>,
    ) -> Result<T> {
        RunSession::locked(
            self.spec,
            &self.table.lock(),
            timeout,
            "another pum upgrading this database",
            work,
        )
    }

    /// Creates the table (if missing, with pum 0.x's DDL) and records `version` as the
    /// baseline: the database holds what the deltas up to it make.
    ///
    /// # Errors
    /// [`Error::InvalidVersion`] unless `version` is three numbers (`1.2.3`), as pum 0.x
    /// requires; [`Conflict::BaselineNotAbove`] when the table already records it or a
    /// higher version.
    pub fn baseline(&self, version: &str) -> Result<()> {
        let parsed = three_numbers(version)?;
        self.locked(Duration::from_secs(60), |session| {
            session.begin()?;
            session
                .client
                .batch(&self.table.create_sql())
                .map_err(|e| Error::server(format!("create {}", self.table.name()), &e))?;
            let rows = self.table.rows(&mut session.client)?;
            if let Some(current) = table::current_version(&self.table, &rows)?
                && parsed <= current
            {
                return Err(Conflict::BaselineNotAbove {
                    version: version.to_string(),
                    current: current.to_string(),
                    table: self.table.name(),
                }
                .into());
            }
            let row = NewUpgrade {
                version,
                description: "baseline",
                kind: 0,
                script: "",
                checksum: "",
            };
            session
                .client
                .batch(&self.table.insert_sql(&row))
                .map_err(|e| {
                    Error::server(
                        format!("record baseline {version} in {}", self.table.name()),
                        &e,
                    )
                })?;
            session.commit()
        })
    }

    /// Every delta with its state, and the table's rows.
    ///
    /// # Errors
    /// Connection and table errors.
    pub fn info(&self) -> Result<DeltasInfo> {
        let mut session = RawSession::connect(self.spec)?;
        let installed = self.table.exists(&mut session)?;
        let rows = if installed {
            self.table.rows(&mut session)?
        } else {
            Vec::new()
        };
        let current = table::current_version(&self.table, &rows)?;
        Ok(DeltasInfo {
            table: self.table.name(),
            installed,
            current: current.as_ref().map(ToString::to_string),
            dirs: self
                .set
                .dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect(),
            deltas: self
                .set
                .deltas
                .iter()
                .map(|d| DeltaInfo {
                    version: d
                        .version
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    name: d.name.clone(),
                    kind: d.type_label(),
                    script: d.script.clone(),
                    state: plan::state(d, &rows, current.as_ref()),
                })
                .collect(),
            rows,
        })
    }

    /// Plans an upgrade without changing anything.
    ///
    /// # Errors
    /// As [`DeltaUpgrader::upgrade`], before anything would run.
    pub fn plan(&self, options: &DeltaOptions) -> Result<DeltaPlan> {
        let mut session = RawSession::connect(self.spec)?;
        let (rows, current) = self.state(&mut session)?;
        plan::upgrade(&self.set, &rows, &current, options.max_version.as_ref())
    }

    /// The rows and the current version; refuses a database without either.
    fn state(&self, session: &mut impl Sql) -> Result<(Vec<UpgradeRow>, Version)> {
        if !self.table.exists(session)? {
            return Err(Error::NotInstalled {
                table: self.table.name(),
                hint: "record the version the database is at first: pum baseline -p SERVICE -t \
                       TABLE -d DIR -b X.Y.Z"
                    .into(),
            });
        }
        let rows = self.table.rows(session)?;
        let current = table::current_version(&self.table, &rows)?.ok_or_else(|| {
            Error::from(Conflict::NoVersionRecorded {
                table: self.table.name(),
            })
        })?;
        Ok((rows, current))
    }

    /// Runs the pre-all files, the pending deltas (each recorded) and the post-all files.
    ///
    /// # Errors
    /// [`Error::NotInstalled`] without a table; the refusals of [`plan::upgrade`];
    /// [`Error::Statement`] naming the delta file, line and column with PostgreSQL's
    /// error; [`Error::Code`] for a failing Python delta. In a whole-run transaction the
    /// database is then as before.
    pub fn upgrade(
        &self,
        options: &DeltaOptions,
        progress: &mut dyn Progress,
    ) -> Result<DeltaReport> {
        self.locked(options.lock_timeout, |session| {
            if options.transaction == TransactionMode::Whole {
                session.begin()?;
            }
            let (rows, current) = self.state(&mut session.client)?;
            let plan = plan::upgrade(&self.set, &rows, &current, options.max_version.as_ref())?;
            let report = self.execute(session, &plan, options, progress)?;
            session.commit()?;
            Ok(report)
        })
    }

    fn execute(
        &self,
        session: &mut RunSession,
        plan: &DeltaPlan,
        options: &DeltaOptions,
        progress: &mut dyn Progress,
    ) -> Result<DeltaReport> {
        let mut report = DeltaReport {
            from: plan.current.to_string(),
            to: plan.current.to_string(),
            warnings: plan.warnings.clone(),
            ..DeltaReport::default()
        };
        let variables = (!options.variables.is_empty()).then_some(options.variables.as_slice());
        let mut batch: Vec<Item> = Vec::new();
        let mut current = plan.current.clone();
        let mut last_version: Option<&Version> = None;
        progress.begin(plan.steps.len());
        for step in &plan.steps {
            // A file that ran outside any transaction is recorded at once, in one of its
            // own, so that a later failure cannot leave it applied but unrecorded.
            let mut alone = false;
            let (delta, record) = match *step {
                DeltaStep::PreAll(i) => (&self.set.pre_all[i], false),
                DeltaStep::Delta(i) => (&self.set.deltas[i], true),
                DeltaStep::PostAll(i) => (&self.set.post_all[i], false),
            };
            if options.transaction == TransactionMode::PerVersion
                && last_version.is_some()
                && delta.version.as_ref() != last_version
            {
                session.flush(&mut batch)?;
                session.commit()?;
            }
            last_version = delta.version.as_ref();
            progress.delta(&match &delta.version {
                Some(v) => format!("delta {v} {}", delta.name),
                None => delta.file_name(),
            });
            match delta.language {
                DeltaLanguage::Sql => {
                    let SqlText {
                        text,
                        no_transaction,
                        ..
                    } = SqlText::read(&delta.path)?;
                    let (prepared, warnings) = Prepared::delta(text, &delta.script, variables)?;
                    report.warnings.extend(warnings);
                    if no_transaction {
                        session.flush(&mut batch)?;
                        session.commit()?;
                        prepared.run_one_by_one(&mut session.client)?;
                        alone = true;
                    } else {
                        batch.push(Item::Text(prepared));
                    }
                }
                DeltaLanguage::Python | DeltaLanguage::Executable => {
                    session.flush(&mut batch)?;
                    session.begin()?;
                    self.run_code(session, delta, &current, plan, options, progress)?;
                }
                DeltaLanguage::Rust => {
                    session.flush(&mut batch)?;
                    session.begin()?;
                    self.run_hook(session, delta, &current, plan, options, progress)?;
                }
            }
            report.files.push(delta.script.clone());
            if record && let Some(version) = &delta.version {
                let version_text = version.to_string();
                batch.push(Item::Sql {
                    sql: self.table.insert_sql(&NewUpgrade {
                        version: &version_text,
                        description: &delta.name,
                        kind: delta.type_code(),
                        script: &delta.script,
                        checksum: &delta.checksum,
                    }),
                    doing: format!("record {} in {}", delta.script, self.table.name()),
                });
                if *version > current {
                    current = version.clone();
                }
            }
            if options.transaction == TransactionMode::PerFile || alone {
                session.flush(&mut batch)?;
                session.commit()?;
            }
        }
        session.flush(&mut batch)?;
        progress.end();
        report.to = current.to_string();
        Ok(report)
    }

    /// Runs a Python or executable delta on the run's session.
    fn run_code(
        &self,
        session: &mut RunSession,
        delta: &Delta,
        current: &Version,
        plan: &DeltaPlan,
        options: &DeltaOptions,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let code = Code {
            kind: if delta.language == DeltaLanguage::Python {
                CodeKind::DeltaPy
            } else {
                CodeKind::Executable
            },
            file: &delta.path,
            shown: &delta.script,
            module: &delta.name,
            current_version: Some(current),
            target_version: Some(&plan.target),
            delta_dir: with_separator(delta.path.parent().unwrap_or(Path::new(""))),
            delta_dirs: self
                .set
                .dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect(),
            service: &self.service,
            table: &self.table.name(),
            variables: &options.variables,
            python: self.python.as_deref(),
            parameters: "{}".into(),
            base_dir: None,
            dependencies: "[]".into(),
        };
        session
            .code
            .run(session.client.raw(code.shown)?, &code, &mut |line| {
                progress.message(line)
            })?;
        Ok(())
    }

    /// Runs the Rust hook registered under a delta's name.
    fn run_hook(
        &self,
        session: &mut RunSession,
        delta: &Delta,
        current: &Version,
        plan: &DeltaPlan,
        options: &DeltaOptions,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let hook = self
            .hooks
            .iter()
            .find(|(label, _)| *label == delta.script)
            .map(|(_, h)| h)
            .ok_or_else(|| Error::Code {
                file: delta.script.clone(),
                line: None,
                message: "no hook registered under this name".into(),
            })?;
        let mut messages = |line: &str| progress.message(line);
        let mut cx = HookContext {
            session: &mut session.client,
            name: delta.script.clone(),
            current_version: Some(current.clone()),
            target_version: Some(plan.target.clone()),
            dir: PathBuf::new(),
            table: self.table.name(),
            variables: &options.variables,
            messages: &mut messages,
        };
        hook.run(&mut cx)
    }
}

/// A version of exactly three numbers, as pum 0.x requires of baselines.
fn three_numbers(version: &str) -> Result<Version> {
    let parsed = Version::parse(version)?;
    if parsed.parts().len() != 3 {
        return Err(Error::InvalidVersion {
            text: version.to_string(),
            reason: "a pum 0.x version is three numbers (1.2.3)".into(),
        });
    }
    Ok(parsed)
}

/// The directory with a trailing separator, as pum 0.x gives `delta_dir`.
fn with_separator(dir: &Path) -> String {
    let text = dir.display().to_string();
    if text.is_empty() || text.ends_with(std::path::MAIN_SEPARATOR) {
        text
    } else {
        format!("{text}{}", std::path::MAIN_SEPARATOR)
    }
}
