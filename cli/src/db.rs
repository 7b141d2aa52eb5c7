//! `pum db create|drop|access`.

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use pum::{AccessOptions, ConnectionSpec, CreateOptions, CreateStrategy, DropOptions};

use super::Output;

/// `pum db …` commands.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create a database, optionally as a copy of another (which must have no sessions).
    Create {
        /// The new database's name.
        name: String,
        /// Copy this database instead of template1.
        #[arg(short, long, value_name = "DATABASE")]
        template: Option<String>,
        /// How to copy the template (PostgreSQL 15+): wal-log suits small ones, file-copy big ones.
        #[arg(long, value_enum)]
        strategy: Option<Strategy>,
        /// The role that will own the database.
        #[arg(long, value_name = "ROLE")]
        owner: Option<String>,
    },
    /// Drop a database, ending its other sessions first.
    Drop {
        /// The database to drop.
        name: String,
        /// Do not ask for confirmation (required when standard input is not a terminal).
        #[arg(short, long)]
        force: bool,
        /// A missing database is not an error.
        #[arg(long)]
        if_exists: bool,
    },
    /// Grant or revoke CONNECT on a database; CONNECT is revoked from PUBLIC unless kept.
    Access {
        /// The database.
        name: String,
        /// Roles that may connect.
        #[arg(long, value_name = "ROLE", num_args = 1..)]
        grant_connect: Vec<String>,
        /// Roles that may no longer connect.
        #[arg(long, value_name = "ROLE", num_args = 1..)]
        revoke_connect: Vec<String>,
        /// Leave PUBLIC's CONNECT privilege as it is.
        #[arg(long)]
        keep_public: bool,
    },
}

/// `--strategy` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Strategy {
    /// Copy through the write-ahead log.
    WalLog,
    /// Copy the files, then checkpoint.
    FileCopy,
}

pub fn run(spec: &ConnectionSpec, command: DbCommand, out: Output) -> pum::Result<ExitCode> {
    match command {
        DbCommand::Create {
            name,
            template,
            strategy,
            owner,
        } => {
            let options = CreateOptions {
                template: template.clone(),
                strategy: strategy.map(|s| match s {
                    Strategy::WalLog => CreateStrategy::WalLog,
                    Strategy::FileCopy => CreateStrategy::FileCopy,
                }),
                owner,
            };
            pum::create_database(spec, &name, &options)?;
            match template {
                Some(t) => out.info(format!("created database \"{name}\" from \"{t}\"")),
                None => out.info(format!("created database \"{name}\"")),
            }
        }
        DbCommand::Drop {
            name,
            force,
            if_exists,
        } => {
            // Refused before anyone is asked: --force only skips the question.
            pum::database::check_drop(spec, &name)?;
            if !force && !confirm_drop(spec, &name)? {
                out.info("not dropped");
                return Ok(ExitCode::from(1));
            }
            let options = DropOptions {
                force: true,
                if_exists,
            };
            if pum::drop_database(spec, &name, &options)? {
                out.info(format!("dropped database \"{name}\""));
            } else {
                out.info(format!(
                    "database \"{name}\" does not exist; nothing dropped"
                ));
            }
        }
        DbCommand::Access {
            name,
            grant_connect,
            revoke_connect,
            keep_public,
        } => {
            let options = AccessOptions {
                grant_connect,
                revoke_connect,
                keep_public,
            };
            pum::set_access(spec, &name, &options)?;
            out.info(format!("access to database \"{name}\" updated"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks on the terminal; refuses outright when there is nobody to ask.
fn confirm_drop(spec: &ConnectionSpec, name: &str) -> pum::Result<bool> {
    crate::prompt::confirm(
        &format!("drop database \"{name}\""),
        &format!(
            "Drop database \"{name}\" on {} and everything in it?",
            spec.host()
        ),
    )
}
