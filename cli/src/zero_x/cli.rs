//! pum 0.x's command line as clap structs: its commands, their options, its option
//! names (`--pg_service`, `-t`, `-d`), what it accepts and ignores.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use pum::Version;

use crate::migrate::{Transaction, parse_version};

/// pum 0.x's command line.
#[derive(Debug, Parser)]
#[command(
    name = "pum",
    version,
    about = "PostgreSQL Upgrades Manager (the pum 0.x command line)",
    max_term_width = 100
)]
pub(super) struct ZeroXCli {
    /// A pum 0.x configuration file (upgrades_table, delta_dir(s), backup_file,
    /// ignore_elements, pg_dump_exe, pg_restore_exe); options given on the command line win.
    #[arg(
        short = 'c',
        long = "config_file",
        alias = "config",
        value_name = "CONFIG_FILE"
    )]
    pub(super) config_file: Option<PathBuf>,
    #[command(subcommand)]
    pub(super) command: ZeroXCommand,
}

/// The commands pum 0.x had.
#[derive(Debug, Subcommand)]
pub(super) enum ZeroXCommand {
    /// Check the differences between two databases.
    Check(CheckArgs),
    /// Dump a database (pg_dump, custom format).
    Dump(DumpArgs),
    /// Restore a database from a dump file.
    Restore(RestoreArgs),
    /// Create the upgrades table and record a baseline.
    Baseline(BaselineArgs),
    /// Show the delta files and the applied upgrades.
    Info(InfoArgs),
    /// Upgrade the database.
    Upgrade(UpgradeArgs),
    /// Try the upgrade on a test database and, if all is well, upgrade prod.
    TestAndUpgrade(TestAndUpgradeArgs),
}

#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    /// The first database's service.
    #[arg(long = "pg_service1", required = true, value_name = "PG_SERVICE1")]
    pub(super) pg_service1: String,
    /// The second database's service.
    #[arg(long = "pg_service2", required = true, value_name = "PG_SERVICE2")]
    pub(super) pg_service2: String,
    #[command(flatten)]
    pub(super) ignores: Ignores,
    /// Do not print the differences, only whether there are some (exit status 1).
    #[arg(short = 's', long = "silent", num_args = 0..=1, value_name = "SILENT")]
    pub(super) silent: Option<Option<String>>,
    /// Verbose level (0, 1 or 2): accepted; the report is always complete.
    #[arg(short = 'v', long = "verbose_level", value_name = "VERBOSE_LEVEL")]
    pub(super) verbose_level: Option<u8>,
    /// Write the report to this file.
    #[arg(short = 'o', long = "output_file", value_name = "OUTPUT_FILE")]
    pub(super) output_file: Option<PathBuf>,
}

/// What comparisons leave out.
#[derive(Debug, Args)]
pub(super) struct Ignores {
    /// Elements to be ignored (tables columns constraints views sequences indexes triggers
    /// functions rules, and pum's other kinds).
    #[arg(short = 'i', long = "ignore", num_args = 1.., value_name = "KIND")]
    pub(super) ignore: Vec<String>,
    /// A schema to be ignored (repeatable).
    #[arg(short = 'N', long = "exclude-schema", value_name = "EXCLUDE_SCHEMA")]
    pub(super) exclude_schema: Vec<String>,
    /// Columns to be ignored, by SQL LIKE pattern (repeatable).
    #[arg(short = 'P', long = "exclude-field-pattern", value_name = "PATTERN")]
    pub(super) exclude_field_pattern: Vec<String>,
}

#[derive(Debug, Args)]
pub(super) struct DumpArgs {
    /// The service of the database.
    #[arg(short = 'p', long = "pg_service", required = true)]
    pub(super) pg_service: String,
    /// A schema to leave out (repeatable).
    #[arg(short = 'N', long = "exclude-schema")]
    pub(super) exclude_schema: Vec<String>,
    /// The dump file.
    pub(super) file: PathBuf,
}

#[derive(Debug, Args)]
pub(super) struct RestoreArgs {
    /// The service of the database.
    #[arg(short = 'p', long = "pg_service", required = true)]
    pub(super) pg_service: String,
    /// Go on past pg_restore errors.
    #[arg(short = 'x')]
    pub(super) ignore_errors: bool,
    /// A schema to leave out (repeatable).
    #[arg(short = 'N', long = "exclude-schema")]
    pub(super) exclude_schema: Vec<String>,
    /// The dump file.
    pub(super) file: PathBuf,
}

/// `-t TABLE -d DIR…`, from the command line or the configuration file.
#[derive(Debug, Args)]
pub(super) struct Deltas {
    /// The upgrades table (schema.table).
    #[arg(short = 't', long = "table")]
    pub(super) table: Option<String>,
    /// Delta directories (several after one -d, or -d repeated).
    #[arg(short = 'd', long = "dir", num_args = 1.., action = clap::ArgAction::Append)]
    pub(super) dir: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub(super) struct BaselineArgs {
    /// The service of the database.
    #[arg(short = 'p', long = "pg_service", required = true)]
    pub(super) pg_service: String,
    #[command(flatten)]
    pub(super) deltas: Deltas,
    /// The version the database is at (x.y.z).
    #[arg(short = 'b', long = "baseline", required = true)]
    pub(super) baseline: String,
}

#[derive(Debug, Args)]
pub(super) struct InfoArgs {
    /// The service of the database.
    #[arg(short = 'p', long = "pg_service", required = true)]
    pub(super) pg_service: String,
    #[command(flatten)]
    pub(super) deltas: Deltas,
}

/// What an upgrade applies.
#[derive(Debug, Args)]
pub(super) struct Run {
    /// Apply deltas up to this version (inclusive).
    #[arg(short = 'u', long = "max-version", value_parser = parse_version)]
    pub(super) max_version: Option<Version>,
    /// A variable for the deltas: int|float|string NAME VALUE (repeatable).
    #[arg(short = 'v', long = "var", num_args = 3, allow_negative_numbers = true, value_names = ["TYPE", "NAME", "VALUE"], action = clap::ArgAction::Append)]
    pub(super) var: Vec<String>,
    /// Say what is decided for each delta.
    #[arg(long = "verbose")]
    pub(super) verbose: bool,
    /// Seconds to wait for another pum upgrading the same database.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub(super) lock_timeout: u64,
}

#[derive(Debug, Args)]
pub(super) struct UpgradeArgs {
    /// The service of the database.
    #[arg(short = 'p', long = "pg_service", required = true)]
    pub(super) pg_service: String,
    #[command(flatten)]
    pub(super) deltas: Deltas,
    #[command(flatten)]
    pub(super) run: Run,
    /// One transaction for the whole run (default), per version, or per file (as pum 0.x).
    #[arg(long, value_enum, default_value_t = Transaction::Whole)]
    pub(super) transaction: Transaction,
}

#[derive(Debug, Args)]
pub(super) struct TestAndUpgradeArgs {
    /// The production database's service.
    #[arg(long = "pg_service_prod", required = true)]
    pub(super) pg_service_prod: String,
    /// The test database's service (prod's copy is upgraded there).
    #[arg(long = "pg_service_test", required = true)]
    pub(super) pg_service_test: String,
    /// The comparison database's service (what test must equal after the upgrade).
    #[arg(long = "pg_service_comp", required = true)]
    pub(super) pg_service_comp: String,
    #[command(flatten)]
    pub(super) deltas: Deltas,
    /// The dump file (removed at the end unless --keep-dump).
    #[arg(short = 'f', long = "file")]
    pub(super) file: Option<PathBuf>,
    /// Go on past pg_restore errors.
    #[arg(short = 'x')]
    pub(super) ignore_errors: bool,
    #[command(flatten)]
    pub(super) ignores: Ignores,
    #[command(flatten)]
    pub(super) run: Run,
    /// Upgrade prod without asking.
    #[arg(long, short = 'y')]
    pub(super) yes: bool,
    /// Keep the dump file.
    #[arg(long)]
    pub(super) keep_dump: bool,
}
