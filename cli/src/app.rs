//! `pum app create|drop|recreate` and `pum uninstall`: the application's hooks of an
//! installed module, and its removal.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use pum::internal::printable;
use pum::{AppAction, AppOptions, ConnectionSpec, Upgrader};

use super::Output;
use super::migrate::{Project, Shown};

/// `pum app`.
#[derive(Debug, Args)]
pub struct AppArgs {
    /// create: run the create hooks (then grant); drop: run the drop hooks; recreate: both.
    #[arg(value_enum)]
    pub action: AppCommand,
    /// A parameter value (repeatable): -p lang fr. Only `app_only` parameters may differ
    /// from those recorded at install.
    #[arg(short = 'p', long = "parameter", num_args = 2, allow_negative_numbers = true, value_names = ["NAME", "VALUE"])]
    pub parameters: Vec<String>,
    /// Do not grant the roles their permissions after the create hooks.
    #[arg(long)]
    pub skip_grant: bool,
    /// Grant the database-specific roles with this suffix instead of the generic ones.
    #[arg(long, value_name = "SUFFIX")]
    pub suffix: Option<String>,
    /// Seconds to wait for another pum working on the same database.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub migration_lock_wait: u64,
}

/// The actions of `pum app`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AppCommand {
    /// Run the create hooks, then grant the roles their permissions.
    Create,
    /// Run the drop hooks.
    Drop,
    /// Run the drop hooks, then the create hooks, then grant.
    Recreate,
}

/// `pum uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// A parameter value for the uninstall hooks (repeatable): -p NAME VALUE.
    #[arg(short = 'p', long = "parameter", num_args = 2, allow_negative_numbers = true, value_names = ["NAME", "VALUE"])]
    pub parameters: Vec<String>,
    /// Do not ask (needed when standard input is not a terminal).
    #[arg(long)]
    pub force: bool,
    /// Seconds to wait for another pum working on the same database.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub migration_lock_wait: u64,
}

fn pairs(values: Vec<String>) -> Vec<(String, String)> {
    values
        .chunks(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect()
}

pub fn app(
    spec: &ConnectionSpec,
    project: &Project,
    args: AppArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    let config = project.load()?;
    let upgrader = Upgrader::new(&config, spec)?;
    let action = match args.action {
        AppCommand::Create => AppAction::Create,
        AppCommand::Drop => AppAction::Drop,
        AppCommand::Recreate => AppAction::Recreate,
    };
    let options = AppOptions {
        parameters: pairs(args.parameters),
        skip_grant: args.skip_grant,
        suffix: args.suffix,
        lock_timeout: Duration::from_secs(args.migration_lock_wait),
    };
    let mut shown = Shown::new(out);
    let warnings = upgrader.application(action, &options, &mut shown)?;
    for warning in warnings {
        out.warn(warning);
    }
    out.info(match action {
        AppAction::Create => "application created",
        AppAction::Drop => "application dropped",
        AppAction::Recreate => "application recreated",
    });
    Ok(ExitCode::SUCCESS)
}

pub fn uninstall(
    spec: &ConnectionSpec,
    project: &Project,
    args: UninstallArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    let config = project.load()?;
    let upgrader = Upgrader::new(&config, spec)?;
    if !args.force
        && !crate::prompt::confirm(
            &format!("uninstall module {}", printable(&config.module)),
            &format!(
                "Uninstall module {} from database \"{}\" on {}: run its uninstall hooks (they \
                 may drop schemas and data) and drop {}?",
                printable(&config.module),
                printable(spec.dbname()),
                spec.host(),
                upgrader.table().name()
            ),
        )?
    {
        out.info("uninstall cancelled");
        return Ok(ExitCode::from(1));
    }
    let options = AppOptions {
        parameters: pairs(args.parameters),
        lock_timeout: Duration::from_secs(args.migration_lock_wait),
        ..AppOptions::default()
    };
    let mut shown = Shown::new(out);
    upgrader.uninstall(&options, &mut shown)?;
    out.info(format!(
        "module {} uninstalled; {} dropped",
        printable(&config.module),
        upgrader.table().name()
    ));
    Ok(ExitCode::SUCCESS)
}
