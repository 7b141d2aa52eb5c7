//! `pum new MESSAGE [--version X.Y.Z] [--autogenerate [--stamp]]`: a new changelog file
//! (Alembic's `revision -m`), written from the difference between the changelogs and the
//! database with `--autogenerate` (Alembic's `revision --autogenerate`), and recorded in
//! that database without running it with `--stamp` (Alembic's `stamp`).

use std::process::ExitCode;

use clap::Args;
use pum::Version;
use pum::internal::scaffold;

use super::Output;
use super::migrate::{Project, parse_version};

/// `pum new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// What the change does; it names the file (`add orders` → `01_add_orders.sql`).
    #[arg(value_name = "MESSAGE")]
    pub message: String,
    /// The version to put it in (new or existing; default: the next patch after the
    /// highest version directory).
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub version: Option<Version>,
    /// Write the SQL turning a fresh install of the changelogs into the database -p names
    /// (and its down file, turning it back); statements that cannot be written safely are
    /// commented out under a warning.
    #[arg(long)]
    pub autogenerate: bool,
    /// A schema autogenerate leaves alone (repeatable).
    #[arg(
        short = 'N',
        long = "exclude-schema",
        value_name = "SCHEMA",
        requires = "autogenerate"
    )]
    pub exclude_schemas: Vec<String>,
    /// Then record the new version in the database -p names, without running it: the
    /// database holds the change already (Alembic's `stamp`), so its next `upgrade` does
    /// not try to apply it again.
    #[arg(long, requires = "autogenerate")]
    pub stamp: bool,
}

pub fn run(
    spec: Option<&pum::ConnectionSpec>,
    project: &Project,
    args: NewArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    let config = project.load()?;
    // A project with no version yet gets its first one.
    let changelogs = match config.changelogs() {
        Ok(changelogs) => changelogs,
        Err(pum::Error::Changelog { .. }) if !has_versions(&config.changelogs_dir) => Vec::new(),
        Err(e) => return Err(e),
    };
    let file = scaffold::plan(
        &config.changelogs_dir,
        &changelogs,
        &args.message,
        args.version.as_ref(),
    )?;
    if !args.autogenerate {
        scaffold::write(&file, &args.message, "", None)?;
        println!("{}", file.path().display());
        out.detail(format!("version {}", file.version));
        return Ok(ExitCode::SUCCESS);
    }
    let Some(spec) = spec else {
        return Err(pum::Error::Refused {
            operation: "autogenerate".into(),
            reason: "it needs the database to compare with the changelogs (-p)".into(),
        });
    };
    out.detail("installing the changelogs in a scratch database to compare with");
    let generated = pum::workflow::autogenerate(&config, spec, &args.exclude_schemas)?;
    if generated.up.is_empty() {
        out.info("the database is what the changelogs make: nothing to write");
        return Ok(ExitCode::SUCCESS);
    }
    scaffold::write(
        &file,
        &args.message,
        &generated.up_file(),
        Some(&generated.down_file()),
    )?;
    println!("{}", file.path().display());
    println!("{}", file.down_path().display());
    let warnings = generated.up.warnings.len() + generated.down.warnings.len();
    if warnings > 0 {
        out.warn(format!(
            "{warnings} statement(s) are commented out under \"-- pum: WARNING\": resolve them \
             before applying"
        ));
    }
    if args.stamp {
        // Read again: the new file is one of the changelogs now.
        let config = project.load()?;
        let upgrader = pum::Upgrader::new(&config, spec)?;
        let (_, parameters) = upgrader.recorded()?;
        let options = pum::MigrateOptions {
            record_only: true,
            max_version: Some(file.version.clone()),
            parameters,
            ..pum::MigrateOptions::default()
        };
        let report = upgrader.upgrade(&options, &mut pum::migrate::NoProgress)?;
        out.info(format!(
            "recorded {} in {} without running it: the database holds it already",
            report.applied.join(", "),
            upgrader.table().name()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether `dir` holds any directory (a changelogs directory that is missing or empty
/// is where a first version goes).
fn has_versions(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir)
        .is_ok_and(|entries| entries.filter_map(Result::ok).any(|e| e.path().is_dir()))
}
