//! The migration plan: what a run applies, in which order and which transactions, or why
//! it refuses to run. A pure function of values (the changelogs as read, the migrations
//! table as read, the parameters and the options): no I/O, so every rule is tested
//! without a server, and execution (`migrate/execute.rs`) only carries a plan out.
//!
//! The rules, in the order they are checked:
//!
//! - **install**: the migrations table must not exist ([`Error::AlreadyInstalled`]), nor
//!   another module's unless allowed ([`Conflict::OtherModuleTables`]); something must be
//!   at or below the maximum version ([`Conflict::NothingToInstall`]).
//! - **upgrade**: the table must exist ([`Error::NotInstalled`]) and record a version
//!   ([`Conflict::NoVersionRecorded`]) of this module ([`Conflict::OtherModule`]), not in
//!   beta testing unless forced ([`Conflict::BetaTesting`]); parameters other than
//!   `app_only` ones keep their values ([`Conflict::ParameterChanged`]); every version at or
//!   below the current one is recorded unless the check is skipped
//!   ([`Conflict::MissingVersions`]); no file was added to an applied version
//!   ([`Conflict::AddedFiles`]: it would never run); applied files that changed are a
//!   warning, or with `strict` a refusal ([`Conflict::ChangedFiles`]). Then every version
//!   above the current one and at or below the maximum is applied.
//! - **demo data** (install): the set must be one the configuration declares
//!   ([`Conflict::UnknownDemoData`]).
//!
//! What a run does, in Python pum 1.9's order: install creates the table and the roles,
//! runs the drop hooks, the changelogs, the create hooks and grants the roles their
//! permissions; with demo data it then runs the drop hooks, the demo data files, the
//! create hooks and grants again (as Python pum does, but without its commits in
//! between). Upgrade runs the drop hooks, the changelogs above the current version, the
//! create hooks, then creates the roles and grants. `skip_roles` leaves the roles as they
//! are (grants then go to the roles that exist); `skip_grant` grants nothing.
//!
//! Transactions: the whole run is one transaction ([`TransactionMode::Whole`]), or each
//! version commits with its row ([`TransactionMode::PerVersion`]), the last one together
//! with the application's create hooks, the grants and the demo data, so that a failing
//! hook leaves a version to apply and the next run recreates the application. A file
//! marked `-- pum:no-transaction` runs alone: what came before it is committed first.

use super::state::{Applied, added_files, changed_files};
use super::table::Migration;
use super::{MigrateOptions, TransactionMode};
use crate::changelog::Changelog;
use crate::changelog::params::Parameters;
use crate::config::Config;
use crate::error::{Conflict, Error, Result};
use crate::version::Version;

/// Which application hooks a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPhase {
    /// `application.drop`, before the changelogs.
    Drop,
    /// `application.create`, after them.
    Create,
    /// `uninstall`.
    Uninstall,
}

/// One step of a run. Indexes point into the changelogs the plan was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Create the migrations table (install).
    CreateTable,
    /// Run the application's hooks of a phase.
    Hooks(HookPhase),
    /// Run file `file` of changelog `version` in the open transaction.
    File {
        /// The changelog.
        version: usize,
        /// The file within it.
        file: usize,
    },
    /// Run file `file` of changelog `version` alone, outside any transaction (the step
    /// before it is a commit).
    FileAlone {
        /// The changelog.
        version: usize,
        /// The file within it.
        file: usize,
    },
    /// Create the configuration's roles (those that do not exist).
    Roles,
    /// Grant the roles their permissions.
    Grant,
    /// Load the demo data set.
    DemoData,
    /// Check what a commit would check, inside the transaction (deferred constraints fire
    /// now), where Python pum commits between the steps of loading demo data: without
    /// it, a hook altering a table the demo data filled fails with "pending trigger
    /// events".
    Settle,
    /// Run down file `file` of changelog `version` (a downgrade).
    DownFile {
        /// The changelog.
        version: usize,
        /// The down file within it.
        file: usize,
    },
    /// Remove the rows of changelog `version` from the migrations table (a downgrade).
    Unrecord {
        /// The changelog.
        version: usize,
    },
    /// Record changelog `version` in the migrations table.
    Record {
        /// The changelog.
        version: usize,
    },
    /// Commit what the open transaction holds.
    Commit,
}

/// What a run will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The version before the run (`None` for an install).
    pub from: Option<Version>,
    /// The changelogs applied, by index, in order.
    pub versions: Vec<usize>,
    /// The steps, in order; empty when there is nothing to apply.
    pub steps: Vec<Step>,
    /// Record the versions as beta testing.
    pub beta_testing: bool,
    /// What the user should know (applied files changed since).
    pub warnings: Vec<String>,
}

/// Plans an install of `changelogs` on a database where `applied` was read.
///
/// # Errors
/// [`Error::AlreadyInstalled`], [`Error::VersionConflict`] ([`Conflict::OtherModuleTables`],
/// [`Conflict::NothingToInstall`], [`Conflict::UnknownDemoData`]).
#[cfg(test)]
pub fn install(
    config: &Config,
    changelogs: &[Changelog],
    applied: &Applied,
    options: &MigrateOptions,
) -> Result<Plan> {
    install_hooked(config, changelogs, applied, options, &[])
}

/// Plans an install of `changelogs` on a database where `applied` was read, with Rust
/// hooks added to the phases `hooked` (run even when the configuration has no hook there).
///
/// # Errors
/// [`Error::AlreadyInstalled`], [`Error::VersionConflict`] ([`Conflict::OtherModuleTables`],
/// [`Conflict::NothingToInstall`], [`Conflict::UnknownDemoData`]).
pub fn install_hooked(
    config: &Config,
    changelogs: &[Changelog],
    applied: &Applied,
    options: &MigrateOptions,
    hooked: &[HookPhase],
) -> Result<Plan> {
    if applied.exists {
        return Err(Error::AlreadyInstalled {
            table: applied.table.clone(),
        });
    }
    if options.record_only {
        return Err(Error::Unsupported {
            message: "an install runs the changelogs; to record what a database holds \
                      without running anything, use baseline (and record_only on upgrades)"
                .into(),
        });
    }
    if !applied.other_tables.is_empty() && !options.allow_multiple_modules {
        return Err(Conflict::OtherModuleTables {
            schemas: applied.other_tables.clone(),
        }
        .into());
    }
    let versions = selected(changelogs, None, options.max_version.as_ref());
    if versions.is_empty() {
        return Err(Conflict::NothingToInstall {
            first: changelogs
                .first()
                .map_or_else(|| "none".to_string(), |c| c.version.to_string()),
            max: options
                .max_version
                .as_ref()
                .map_or_else(|| "-".to_string(), Version::to_string),
        }
        .into());
    }
    if let Some(name) = &options.demo_data
        && !config.demo_data.iter().any(|d| &d.name == name)
    {
        return Err(Conflict::UnknownDemoData {
            name: name.clone(),
            known: config.demo_data_names(),
        }
        .into());
    }
    let mut steps = vec![Step::CreateTable];
    if !options.skip_roles && !config.roles.is_empty() {
        steps.push(Step::Roles);
    }
    steps.extend(run_steps(
        config, changelogs, &versions, options, true, hooked,
    ));
    Ok(Plan {
        from: None,
        versions,
        steps,
        beta_testing: options.beta_testing,
        warnings: Vec::new(),
    })
}

/// Plans an upgrade of a database where `applied` was read to `changelogs`.
///
/// # Errors
/// [`Error::NotInstalled`], [`Error::VersionConflict`] (see the module docs).
#[cfg(test)]
pub fn upgrade(
    config: &Config,
    changelogs: &[Changelog],
    applied: &Applied,
    parameters: &Parameters,
    options: &MigrateOptions,
) -> Result<Plan> {
    upgrade_hooked(config, changelogs, applied, parameters, options, &[])
}

/// Plans an upgrade of a database where `applied` was read to `changelogs`, with Rust
/// hooks added to the phases `hooked`.
///
/// # Errors
/// [`Error::NotInstalled`], [`Error::VersionConflict`] (see the module docs).
pub fn upgrade_hooked(
    config: &Config,
    changelogs: &[Changelog],
    applied: &Applied,
    parameters: &Parameters,
    options: &MigrateOptions,
    hooked: &[HookPhase],
) -> Result<Plan> {
    let (latest, current) = installed(
        config,
        applied,
        "install the module, or record what is there with baseline",
    )?;
    if latest.beta_testing && !options.force {
        return Err(Conflict::BetaTesting {
            version: latest.version.clone(),
        }
        .into());
    }
    check_parameters(latest, parameters)?;
    if !options.skip_baseline_check {
        let missing: Vec<String> = changelogs
            .iter()
            .filter(|c| c.version <= current && applied.row_of(&c.version).is_none())
            .map(|c| c.version.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(Conflict::MissingVersions {
                versions: missing,
                current: current.to_string(),
                table: applied.table.clone(),
            }
            .into());
        }
    }
    let added = added_files(changelogs, applied);
    if !added.is_empty() {
        return Err(Conflict::AddedFiles { files: added }.into());
    }
    let mut warnings = Vec::new();
    let changed = changed_files(changelogs, applied);
    if !changed.is_empty() {
        let conflict = Conflict::ChangedFiles { files: changed };
        if options.strict {
            return Err(conflict.into());
        }
        warnings.push(conflict.to_string());
    }
    let versions = selected(changelogs, Some(&current), options.max_version.as_ref());
    let steps = if versions.is_empty() {
        Vec::new()
    } else if options.record_only {
        // The database holds them already: their rows, nothing run.
        versions
            .iter()
            .map(|&version| Step::Record { version })
            .chain([Step::Commit])
            .collect()
    } else {
        run_steps(config, changelogs, &versions, options, false, hooked)
    };
    Ok(Plan {
        from: Some(current),
        versions,
        steps,
        beta_testing: options.beta_testing || latest.beta_testing,
        warnings,
    })
}

/// Plans a downgrade to `target`: every applied version above it is undone, newest first,
/// by its down files in reverse name order, and its rows removed; the application is
/// dropped first and created again at the end (unless skipped), then the roles granted.
/// Nothing above `target`: no steps.
///
/// # Errors
/// [`Error::NotInstalled`]; [`Conflict::NoVersionRecorded`], [`Conflict::OtherModule`];
/// [`Conflict::NotApplied`] when `target` is not recorded; [`Conflict::BetaTestingDowngrade`]
/// unless `force`; [`Conflict::NoDownFiles`] naming every version in the range without
/// down files (or without a changelog); an application-only release needs none.
pub fn downgrade(
    config: &Config,
    changelogs: &[Changelog],
    applied: &Applied,
    target: &Version,
    options: &super::DowngradeOptions,
) -> Result<Plan> {
    let current = application(config, applied, &Parameters::default(), true)?;
    let recorded = |version: &Version| applied.row_of(version).is_some();
    if !recorded(target) {
        let mut versions: Vec<Version> = applied
            .rows
            .iter()
            .filter_map(|r| Version::parse(&r.version).ok())
            .collect();
        versions.sort();
        versions.dedup();
        return Err(Conflict::NotApplied {
            version: target.to_string(),
            table: applied.table.clone(),
            recorded: versions
                .iter()
                .map(Version::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into());
    }
    let mut above: Vec<Version> = applied
        .rows
        .iter()
        .filter_map(|r| Version::parse(&r.version).ok())
        .filter(|v| v > target)
        .collect();
    above.sort();
    above.dedup();
    above.reverse();
    if !options.force
        && let Some(row) = applied
            .rows
            .iter()
            .find(|r| r.beta_testing && Version::parse(&r.version).is_ok_and(|v| &v > target))
    {
        return Err(Conflict::BetaTestingDowngrade {
            version: row.version.clone(),
        }
        .into());
    }
    let mut versions = Vec::new();
    let mut missing = Vec::new();
    for version in &above {
        match changelogs.iter().position(|c| &c.version == version) {
            // An application-only release changed no SQL: undoing it is removing its row
            // (the application is made again on the older schema, as for every downgrade).
            Some(i) if !changelogs[i].down.is_empty() || changelogs[i].app_only() => {
                versions.push(i)
            }
            _ => missing.push(version.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(Conflict::NoDownFiles { versions: missing }.into());
    }
    let mut steps = Vec::new();
    if !versions.is_empty() {
        let drop = !options.skip_drop_app && !config.application.drop.is_empty();
        let create = !options.skip_create_app && !config.application.create.is_empty();
        if drop {
            steps.push(Step::Hooks(HookPhase::Drop));
        }
        for &version in &versions {
            for file in (0..changelogs[version].down.len()).rev() {
                steps.push(Step::DownFile { version, file });
            }
            steps.push(Step::Unrecord { version });
        }
        if create {
            steps.push(Step::Hooks(HookPhase::Create));
        }
        if !config.roles.is_empty() && !options.skip_grant {
            steps.push(Step::Grant);
        }
        steps.push(Step::Commit);
    }
    Ok(Plan {
        from: Some(current),
        versions,
        steps,
        beta_testing: false,
        warnings: Vec::new(),
    })
}

/// Checks that the application of an installed module may be dropped, created or
/// uninstalled with `parameters`: the migrations table exists and records a version of
/// this module, and (unless `uninstall`) the parameters that are not `app_only` keep their
/// recorded values. Returns the current version.
///
/// # Errors
/// [`Error::NotInstalled`], [`Conflict::NoVersionRecorded`], [`Conflict::OtherModule`],
/// [`Conflict::ParameterChanged`].
pub fn application(
    config: &Config,
    applied: &Applied,
    parameters: &Parameters,
    uninstall: bool,
) -> Result<Version> {
    let hint = if uninstall {
        "nothing to uninstall (is this the right database?)"
    } else {
        "install the module first"
    };
    let (latest, current) = installed(config, applied, hint)?;
    if !uninstall {
        check_parameters(latest, parameters)?;
    }
    Ok(current)
}

/// The row of the current version of an installed module, and that version.
///
/// # Errors
/// [`Error::NotInstalled`] (with `hint`) without the table; [`Conflict::NoVersionRecorded`];
/// [`Conflict::OtherModule`] when another module recorded it.
fn installed<'r>(
    config: &Config,
    applied: &'r Applied,
    hint: &str,
) -> Result<(&'r Migration, Version)> {
    if !applied.exists {
        return Err(Error::NotInstalled {
            table: applied.table.clone(),
            hint: hint.to_string(),
        });
    }
    let (latest, current) = applied
        .latest()?
        .ok_or_else(|| Conflict::NoVersionRecorded {
            table: applied.table.clone(),
        })?;
    if let Some(module) = &latest.module
        && module != &config.module
    {
        return Err(Conflict::OtherModule {
            table: applied.table.clone(),
            recorded: module.clone(),
            configured: config.module.clone(),
        }
        .into());
    }
    Ok((latest, current))
}

/// Checks that `version` may be recorded as a baseline; returns whether the table must be
/// created first.
///
/// # Errors
/// [`Conflict::BaselineNotAbove`] when the table records `version` or a later one;
/// [`Error::NotInstalled`] when there is no table and `create_table` is not set;
/// [`Conflict::OtherModuleTables`] when it would be created beside another module's
/// unless allowed.
pub fn baseline(
    version: &Version,
    applied: &Applied,
    options: &super::BaselineOptions,
) -> Result<bool> {
    if !applied.exists {
        if options.create_table {
            if !applied.other_tables.is_empty() && !options.allow_multiple_modules {
                return Err(Conflict::OtherModuleTables {
                    schemas: applied.other_tables.clone(),
                }
                .into());
            }
            return Ok(true);
        }
        return Err(Error::NotInstalled {
            table: applied.table.clone(),
            hint: "create it with the baseline (--create-table)".into(),
        });
    }
    if let Some((_, current)) = applied.latest()?
        && current >= *version
    {
        return Err(Conflict::BaselineNotAbove {
            version: version.to_string(),
            current: current.to_string(),
            table: applied.table.clone(),
        }
        .into());
    }
    Ok(false)
}

/// The indexes of the changelogs above `current` and at or below `max`.
fn selected(
    changelogs: &[Changelog],
    current: Option<&Version>,
    max: Option<&Version>,
) -> Vec<usize> {
    changelogs
        .iter()
        .enumerate()
        .filter(|(_, c)| current.is_none_or(|cur| &c.version > cur))
        .filter(|(_, c)| max.is_none_or(|m| &c.version <= m))
        .map(|(i, _)| i)
        .collect()
}

/// The steps applying `versions`: drop hooks, each version's files and row, create hooks,
/// roles and grants, demo data, with commits where the transaction mode and
/// no-transaction files put them.
fn run_steps(
    config: &Config,
    changelogs: &[Changelog],
    versions: &[usize],
    options: &MigrateOptions,
    install: bool,
    hooked: &[HookPhase],
) -> Vec<Step> {
    let drop = !options.skip_drop_app
        && (!config.application.drop.is_empty() || hooked.contains(&HookPhase::Drop));
    let create = !options.skip_create_app
        && (!config.application.create.is_empty() || hooked.contains(&HookPhase::Create));
    let roles = !config.roles.is_empty();
    let mut segments = Segments {
        steps: Vec::new(),
        drop,
        create,
        roles: !install && roles && !options.skip_roles,
        grant: roles && !options.skip_grant,
        dropped: false,
    };
    // The first transaction drops the application even when it holds no file (an
    // application-only release recreates it).
    segments.open();
    for (n, &version) in versions.iter().enumerate() {
        for (file, f) in changelogs[version].files.iter().enumerate() {
            if f.sql.no_transaction {
                segments.commit();
                segments.steps.push(Step::FileAlone { version, file });
            } else {
                segments.open();
                segments.steps.push(Step::File { version, file });
            }
        }
        segments.steps.push(Step::Record { version });
        let last = n + 1 == versions.len();
        if options.transaction == TransactionMode::PerVersion && !last {
            segments.commit();
        }
    }
    segments.open();
    segments.close();
    let mut steps = segments.steps;
    if install && options.demo_data.is_some() {
        steps.push(Step::Settle);
        if drop {
            steps.push(Step::Hooks(HookPhase::Drop));
            steps.push(Step::Settle);
        }
        steps.push(Step::DemoData);
        steps.push(Step::Settle);
        if create {
            steps.push(Step::Hooks(HookPhase::Create));
        }
        if roles && !options.skip_grant {
            steps.push(Step::Grant);
        }
    }
    if !matches!(steps.last(), Some(Step::Commit) | None) {
        steps.push(Step::Commit);
    }
    steps
}

/// The steps of a run cut into transactions, so that the application exists at every
/// commit: a transaction that drops it creates it again (and grants the roles on it)
/// before it commits. A failure, or a kill, between two commits leaves the database as
/// the last commit left it, application included.
struct Segments {
    steps: Vec<Step>,
    /// Whether there are drop hooks, create hooks, roles to create, grants to make.
    drop: bool,
    create: bool,
    roles: bool,
    grant: bool,
    /// Whether the open transaction has dropped the application.
    dropped: bool,
}

impl Segments {
    /// Drops the application in the open transaction, unless it did already.
    fn open(&mut self) {
        if !self.dropped && (self.drop || self.create) {
            if self.drop {
                self.steps.push(Step::Hooks(HookPhase::Drop));
            }
            self.dropped = true;
        }
    }

    /// Makes the application again if the open transaction dropped it, and grants the
    /// roles on what the transaction made; nothing when it holds no step.
    fn close(&mut self) {
        if matches!(self.steps.last(), Some(Step::Commit) | None) {
            return;
        }
        if self.dropped && self.create {
            self.steps.push(Step::Hooks(HookPhase::Create));
        }
        if self.roles {
            self.steps.push(Step::Roles);
        }
        if self.grant {
            self.steps.push(Step::Grant);
        }
        self.dropped = false;
    }

    /// Ends the open transaction, the application made again first.
    fn commit(&mut self) {
        self.close();
        if !matches!(self.steps.last(), Some(Step::Commit) | None) {
            self.steps.push(Step::Commit);
        }
    }
}

/// Refuses a parameter (not `app_only`) whose value differs from the one recorded with
/// the current version.
fn check_parameters(latest: &Migration, parameters: &Parameters) -> Result<(), Conflict> {
    for (name, value) in parameters.fixed() {
        // Only parameters recorded then can be compared (a new one has no past value).
        if let Some(before) = latest.parameter_texts.get(name)
            && !value.matches_stored(before.as_deref())
        {
            return Err(Conflict::ParameterChanged {
                name: name.to_string(),
                version: latest.version.clone(),
                before: before.clone().unwrap_or_else(|| "null".into()),
                now: value.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
