//! `pum dump` and `pum restore`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use pum::{ConnectionSpec, DumpFormat, DumpOptions, RestoreOptions};

use super::Output;

/// `pum dump FILE`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The file to write (replaced only if the dump succeeds).
    pub file: PathBuf,
    /// The file format.
    #[arg(short, long, value_enum, default_value_t = Format::Custom)]
    pub format: Format,
    /// Leave out this schema (a pg_dump pattern); repeatable.
    #[arg(short = 'N', long = "exclude-schema", value_name = "SCHEMA")]
    pub exclude_schemas: Vec<String>,
    /// The pg_dump program to run.
    #[arg(long, value_name = "PATH")]
    pub pg_dump: Option<PathBuf>,
}

/// `pum restore FILE`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The dump to restore (custom, directory, tar or plain SQL).
    pub file: PathBuf,
    /// Go on past errors instead of stopping and rolling everything back.
    #[arg(short = 'x', long)]
    pub ignore_errors: bool,
    /// Leave out this schema (custom-format dumps only); repeatable.
    #[arg(short = 'N', long = "exclude-schema", value_name = "SCHEMA")]
    pub exclude_schemas: Vec<String>,
    /// The pg_restore program to run.
    #[arg(long, value_name = "PATH")]
    pub pg_restore: Option<PathBuf>,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// pg_dump's compressed custom format.
    Custom,
    /// A plain SQL script.
    Plain,
}

pub fn run_dump(spec: &ConnectionSpec, args: DumpArgs, out: Output) -> pum::Result<ExitCode> {
    let options = DumpOptions {
        format: match args.format {
            Format::Custom => DumpFormat::Custom,
            Format::Plain => DumpFormat::Plain,
        },
        exclude_schemas: args.exclude_schemas,
        pg_dump: args.pg_dump,
    };
    pum::dump(spec, &args.file, &options)?;
    out.info(format!(
        "dumped database \"{}\" to {}",
        spec.dbname(),
        args.file.display()
    ));
    Ok(ExitCode::SUCCESS)
}

pub fn run_restore(spec: &ConnectionSpec, args: RestoreArgs, out: Output) -> pum::Result<ExitCode> {
    let options = RestoreOptions {
        ignore_errors: args.ignore_errors,
        exclude_schemas: args.exclude_schemas,
        pg_restore: args.pg_restore,
        psql: None,
    };
    let summary = pum::restore(spec, &args.file, &options)?;
    if summary.ignored_errors > 0 {
        out.warn(format!(
            "{} error(s) ignored while restoring: {}",
            summary.ignored_errors, summary.messages
        ));
    }
    out.info(format!(
        "restored {} into database \"{}\"",
        args.file.display(),
        spec.dbname()
    ));
    Ok(ExitCode::SUCCESS)
}
