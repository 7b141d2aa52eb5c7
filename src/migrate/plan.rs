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
//! - **both**: a configuration declaring roles needs `skip_roles` (roles are not created
//!   yet), and Python hooks are refused ([`Error::Unsupported`]).
//!
//! Transactions: the whole run is one transaction ([`TransactionMode::Whole`]), or each
//! version commits with its row ([`TransactionMode::PerVersion`]), the last one together
//! with the application's create hooks, so that a failing hook leaves a version to apply
//! and the next run recreates the application. A file marked `-- pum:no-transaction` runs
//! alone: what came before it is committed first.

use std::path::Path;

use super::state::{Applied, added_files, changed_files};
use super::table::Migration;
use super::{MigrateOptions, TransactionMode};
use crate::changelog::Changelog;
use crate::changelog::params::Parameters;
use crate::config::{Config, Hook};
use crate::error::{Conflict, Error, Result};
use crate::version::Version;

/// Which application hooks a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPhase {
    /// `application.drop`, before the changelogs.
    Drop,
    /// `application.create`, after them.
    Create,
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
/// [`Conflict::NothingToInstall`]), [`Error::Unsupported`] (roles, Python hooks).
pub fn install(
    config: &Config,
    changelogs: &[Changelog],
    applied: &Applied,
    options: &MigrateOptions,
) -> Result<Plan> {
    check_roles(config, options)?;
    if applied.exists {
        return Err(Error::AlreadyInstalled {
            table: applied.table.clone(),
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
    check_hooks(config, options)?;
    let mut steps = vec![Step::CreateTable];
    steps.extend(run_steps(config, changelogs, &versions, options));
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
/// [`Error::NotInstalled`], [`Error::VersionConflict`] (see the module docs),
/// [`Error::Unsupported`] (roles, Python hooks).
pub fn upgrade(
    config: &Config,
    changelogs: &[Changelog],
    applied: &Applied,
    parameters: &Parameters,
    options: &MigrateOptions,
) -> Result<Plan> {
    check_roles(config, options)?;
    if !applied.exists {
        return Err(Error::NotInstalled {
            table: applied.table.clone(),
            hint: "install the module, or record what is there with baseline".into(),
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
    } else {
        check_hooks(config, options)?;
        run_steps(config, changelogs, &versions, options)
    };
    Ok(Plan {
        from: Some(current),
        versions,
        steps,
        beta_testing: options.beta_testing || latest.beta_testing,
        warnings,
    })
}

/// Checks that `version` may be recorded as a baseline; returns whether the table must be
/// created first.
///
/// # Errors
/// [`Conflict::BaselineNotAbove`] when the table records `version` or a later one;
/// [`Error::NotInstalled`] when there is no table and `create_table` is not set.
pub fn baseline(version: &Version, applied: &Applied, create_table: bool) -> Result<bool> {
    if !applied.exists {
        if create_table {
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
/// with commits where the transaction mode and no-transaction files put them.
fn run_steps(
    config: &Config,
    changelogs: &[Changelog],
    versions: &[usize],
    options: &MigrateOptions,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let commit = |steps: &mut Vec<Step>| {
        if !matches!(steps.last(), Some(Step::Commit) | None) {
            steps.push(Step::Commit);
        }
    };
    if !options.skip_drop_app && !config.application.drop.is_empty() {
        steps.push(Step::Hooks(HookPhase::Drop));
    }
    for (n, &version) in versions.iter().enumerate() {
        for (file, f) in changelogs[version].files.iter().enumerate() {
            if f.sql.no_transaction {
                commit(&mut steps);
                steps.push(Step::FileAlone { version, file });
            } else {
                steps.push(Step::File { version, file });
            }
        }
        steps.push(Step::Record { version });
        // The last version commits with the create hooks: if they fail, it stays pending,
        // so the next run applies it and recreates the application (which the drop hooks,
        // committed with the first version, have dropped).
        let last = n + 1 == versions.len();
        if options.transaction == TransactionMode::PerVersion && !last {
            commit(&mut steps);
        }
    }
    if !options.skip_create_app && !config.application.create.is_empty() {
        steps.push(Step::Hooks(HookPhase::Create));
    }
    commit(&mut steps);
    steps
}

fn check_roles(config: &Config, options: &MigrateOptions) -> Result<()> {
    if !config.roles.is_empty() && !options.skip_roles {
        return Err(Error::Unsupported {
            message: format!(
                "{} declares roles, which this pum does not create yet; skip roles to install \
                 or upgrade without them",
                config.path.display()
            ),
        });
    }
    Ok(())
}

/// Refuses Python hooks among those the run would run.
fn check_hooks(config: &Config, options: &MigrateOptions) -> Result<()> {
    let phases = [
        (!options.skip_drop_app, &config.application.drop),
        (!options.skip_create_app, &config.application.create),
    ];
    let python = phases
        .into_iter()
        .filter(|(runs, _)| *runs)
        .flat_map(|(_, hooks)| hooks.iter())
        .find_map(|hook: &Hook| {
            hook.file
                .as_deref()
                .filter(|f| Path::new(f).extension().is_some_and(|e| e == "py"))
        });
    match python {
        Some(file) => Err(Error::Unsupported {
            message: format!(
                "{}: Python hooks are not supported; write the hook in SQL",
                config.base_dir.join(file).display()
            ),
        }),
        None => Ok(()),
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
