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
    /// Empty the module's tables in the database (-p) but pum's migrations table,
    /// restarting identities, in one TRUNCATE.
    TruncateAll {
        /// The tables of this schema (repeatable; default: the schemas and tables a fresh
        /// install of the module's changelogs makes, nothing of another application).
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

/// Runs `pum db COMMAND`.
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
            let options = CreateOptions {
                template,
                strategy: strategy.map(|s| match s {
                    Strategy::WalLog => CreateStrategy::WalLog,
                    Strategy::FileCopy => CreateStrategy::FileCopy,
                }),
                owner,
            };
            create(spec, &name, options, if_not_exists, out)
        }
        DbCommand::Drop {
            name,
            force,
            if_exists,
        } => drop(spec, &name, force, if_exists, out),
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
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::TruncateAll { schemas, force } => {
            truncate_all(spec, project, schemas, force, out)
        }
        DbCommand::DropAllSchemas { force } => drop_all_schemas(spec, force, out),
    }
}

/// `db create NAME [--template T] [--if-not-exists]`.
fn create(
    spec: &ConnectionSpec,
    name: &str,
    options: CreateOptions,
    if_not_exists: bool,
    out: Output,
) -> pum::Result<ExitCode> {
    if if_not_exists && pum::database_exists(spec, name)? {
        out.info(format!(
            "database \"{name}\" exists already; nothing created"
        ));
        return Ok(ExitCode::SUCCESS);
    }
    pum::create_database(spec, name, &options)?;
    match &options.template {
        Some(t) => out.info(format!("created database \"{name}\" from \"{t}\"")),
        None => out.info(format!("created database \"{name}\"")),
    }
    Ok(ExitCode::SUCCESS)
}

/// `db drop NAME [--force] [--if-exists]`: asked for on a terminal unless `--force`.
fn drop(
    spec: &ConnectionSpec,
    name: &str,
    force: bool,
    if_exists: bool,
    out: Output,
) -> pum::Result<ExitCode> {
    // Refused before anyone is asked: --force only skips the question.
    pum::database::check_drop(spec, name)?;
    if !force && !confirm_drop(spec, name)? {
        out.info("not dropped");
        return Ok(ExitCode::from(1));
    }
    let options = DropOptions {
        force: true,
        if_exists,
    };
    if pum::drop_database(spec, name, &options)? {
        out.info(format!("dropped database \"{name}\""));
    } else {
        out.info(format!(
            "database \"{name}\" does not exist; nothing dropped"
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// `db truncate-all [--schema S…] [--force]`: the named schemas, or the module's tables
/// (what its changelogs make, found by a fresh install in a scratch database).
fn truncate_all(
    spec: &ConnectionSpec,
    project: &super::migrate::Project,
    schemas: Vec<String>,
    force: bool,
    out: Output,
) -> pum::Result<ExitCode> {
    let config = project.load_if_any()?;
    let keep: Vec<String> = config
        .iter()
        .map(|c| format!("{}.pum_migrations", c.migration_table_schema))
        .collect();
    let named = !schemas.is_empty();
    let module = match (named, &config) {
        (true, _) => pum::workflow::ModuleObjects {
            schemas,
            tables: Vec::new(),
        },
        (false, Some(config)) => {
            out.detail(
                "installing the changelogs in a scratch database to see what is the module's",
            );
            pum::workflow::module_objects(config, spec)?
        }
        (false, None) => {
            return Err(pum::Error::Refused {
                operation: "truncate every table".into(),
                reason: "no .pum.yaml says which tables are the module's: name the \
                         schemas to empty (--schema)"
                    .into(),
            });
        }
    };
    let mut parts: Vec<String> = module
        .schemas
        .iter()
        .map(|s| format!("schema {s}"))
        .collect();
    parts.extend(module.tables.iter().map(|(s, t)| format!("table {s}.{t}")));
    if parts.is_empty() {
        out.info("the module's changelogs make no table: nothing truncated");
        return Ok(ExitCode::SUCCESS);
    }
    let which = format!("the tables of {}", parts.join(", "));
    if !force
        && !crate::prompt::confirm(
            &format!("truncate {which}"),
            &format!(
                "Empty {which} in database \"{}\" on {} (pum's migrations table stays)?",
                spec.dbname(),
                spec.host()
            ),
        )?
    {
        out.info("nothing truncated");
        return Ok(ExitCode::from(1));
    }
    let tables = pum::database::truncate_all(spec, &module.schemas, &module.tables, &keep, !named)?;
    out.info(format!("truncated {} table(s)", tables.len()));
    for table in tables {
        out.detail(format!("  {table}"));
    }
    Ok(ExitCode::SUCCESS)
}

/// `db drop-all-schemas [--force]`.
fn drop_all_schemas(spec: &ConnectionSpec, force: bool, out: Output) -> pum::Result<ExitCode> {
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
