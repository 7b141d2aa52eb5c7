//! `pum new MESSAGE [--version X.Y.Z]`: a new changelog file (Alembic's `revision -m`).

use std::process::ExitCode;

use clap::Args;
use pum::Version;
use pum::changelog::scaffold;

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
}

pub fn run(project: &Project, args: NewArgs, out: Output) -> pum::Result<ExitCode> {
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
    scaffold::write(&file, &args.message, "", None)?;
    println!("{}", file.path().display());
    out.detail(format!("version {}", file.version));
    Ok(ExitCode::SUCCESS)
}

/// Whether `dir` holds any directory (a changelogs directory that is missing or empty
/// is where a first version goes).
fn has_versions(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir)
        .is_ok_and(|entries| entries.filter_map(Result::ok).any(|e| e.path().is_dir()))
}
