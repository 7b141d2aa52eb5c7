//! `pum db create|drop|access|truncate-all|drop-all-schemas`.

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
        /// A database of that name already there is not an error (said so, exit 0).
        #[arg(long)]
        if_not_exists: bool,
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
    /// Empty every table of the database (-p) but pum's migrations table, restarting
    /// identities, in one TRUNCATE.
    TruncateAll {
        /// Only the tables of this schema (repeatable; default: the schemas the module's
        /// roles name and its migrations table's, else every schema).
        #[arg(long = "schema", value_name = "SCHEMA")]
        schemas: Vec<String>,
        /// Do not ask for confirmation (required when standard input is not a terminal).
        #[arg(short, long)]
        force: bool,
    },
    /// Drop every schema of the database (-p) and what is in them, leaving an empty public.
    DropAllSchemas {
        /// Do not ask for confirmation (required when standard input is not a terminal).
        #[arg(short, long)]
        force: bool,
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

pub fn run(
    spec: &ConnectionSpec,
    project: &super::migrate::Project,
    command: DbCommand,
    out: Output,
) -> pum::Result<ExitCode> {
    match command {
        DbCommand::Create {
            name,
            template,
            strategy,
            owner,
            if_not_exists,
        } => {
            if if_not_exists && pum::database_exists(spec, &name)? {
                out.info(format!(
                    "database \"{name}\" exists already; nothing created"
                ));
                return Ok(ExitCode::SUCCESS);
            }
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
        DbCommand::TruncateAll { schemas, force } => {
            let config = project.load_if_any()?;
            let named = !schemas.is_empty();
            let (schemas, keep) = module_schemas(config.as_ref(), schemas);
            let which = if schemas.is_empty() {
                "every table".to_string()
            } else {
                format!("every table of {}", schemas.join(", "))
            };
            if !force
                && !crate::prompt::confirm(
                    &format!("truncate {which}"),
                    &format!(
                        "Empty {which} in database \"{}\" on {} (pum's migrations table \
                         stays)?",
                        spec.dbname(),
                        spec.host()
                    ),
                )?
            {
                out.info("nothing truncated");
                return Ok(ExitCode::from(1));
            }
            let tables = pum::database::truncate_all(spec, &schemas, &keep, !named)?;
            out.info(format!("truncated {} table(s)", tables.len()));
            for table in tables {
                out.detail(format!("  {table}"));
            }
        }
        DbCommand::DropAllSchemas { force } => {
            if !force
                && !crate::prompt::confirm(
                    "drop every schema",
                    &format!(
                        "Drop every schema of database \"{}\" on {} and everything in them?",
                        spec.dbname(),
                        spec.host()
                    ),
                )?
            {
                out.info("nothing dropped");
                return Ok(ExitCode::from(1));
            }
            let schemas = pum::database::drop_all_schemas(spec)?;
            out.info(format!(
                "dropped {} schema(s){}; public is empty",
                schemas.len(),
                if schemas.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", schemas.join(", "))
                }
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The schemas `truncate-all` empties when none is named (those the module's roles name,
/// and its migrations table's; none: every schema), and the table it keeps.
fn module_schemas(config: Option<&pum::Config>, given: Vec<String>) -> (Vec<String>, Vec<String>) {
    let Some(config) = config else {
        return (given, Vec::new());
    };
    let keep = vec![format!("{}.pum_migrations", config.migration_table_schema)];
    if !given.is_empty() {
        return (given, keep);
    }
    let mut schemas: Vec<String> = config
        .roles
        .iter()
        .flat_map(|r| r.permissions.iter())
        .flat_map(|p| p.schemas.iter().cloned())
        .collect();
    if schemas.is_empty() {
        return (schemas, keep);
    }
    schemas.push(config.migration_table_schema.clone());
    schemas.sort();
    schemas.dedup();
    (schemas, keep)
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
