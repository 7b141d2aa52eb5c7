//! `pum check`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use pum::checker::{CheckOptions, Kind};
use pum::{CheckReport, ConnectionSpec};

use super::Output;

/// `pum -p LEFT check RIGHT`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The database to compare with (service name, URL or keyword string).
    /// Given after `-i KIND…`, the database is told from the kinds by its name.
    #[arg(value_name = "CONNECTION")]
    pub other: Option<String>,
    /// Compare the database with what the changelogs (-d) produce: a fresh install at its
    /// recorded version and parameters, in a scratch database on the same server.
    #[arg(long, conflicts_with = "other")]
    pub changelogs: bool,
    /// Kinds of object not to compare (schemas tables columns constraints views sequences
    /// indexes triggers functions rules extensions enums domains composite_types policies
    /// range_types collations conversions text_search operators casts access_methods
    /// statistics foreign_data publications event_triggers default_privileges privileges
    /// comments).
    #[arg(short = 'i', long = "ignore", value_name = "KIND", num_args = 1..)]
    pub ignore: Vec<String>,
    /// A schema not to compare (repeatable).
    #[arg(short = 'N', long = "exclude-schema", value_name = "SCHEMA")]
    pub exclude_schemas: Vec<String>,
    /// Columns not to compare, by SQL LIKE pattern on their name (repeatable).
    #[arg(short = 'P', long = "exclude-field-pattern", value_name = "PATTERN")]
    pub exclude_patterns: Vec<String>,
    /// Write the report to this file instead of standard output.
    #[arg(
        short = 'o',
        long = "output-file",
        alias = "output_file",
        value_name = "FILE"
    )]
    pub output: Option<PathBuf>,
    /// Report format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Compare the order of columns too.
    #[arg(long)]
    pub column_order: bool,
    /// Compare owners too.
    #[arg(long)]
    pub owners: bool,
    /// Compare objects that belong to extensions too.
    #[arg(long)]
    pub include_extension_objects: bool,
    /// Compare servers of different major versions.
    #[arg(long)]
    pub allow_version_mismatch: bool,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Differences for people.
    Text,
    /// Python pum's JSON report.
    Json,
    /// A web page, as Python pum's html report.
    Html,
}

pub fn run(
    left: &ConnectionSpec,
    project: &super::migrate::Project,
    mut args: CheckArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    take_other(&mut args)?;
    let options = options(&args)?;
    let report = match &args.other {
        Some(other) => {
            let right = crate::resolve(other, out)?;
            for warning in right.warnings() {
                out.warn(warning);
            }
            pum::check(left, &right, &options)?
        }
        None => {
            let config = project.load()?;
            out.detail("installing the changelogs in a scratch database to compare with");
            pum::workflow::check_changelogs(&config, left, &options)?
        }
    };
    write(&report, args.output.as_deref(), args.format)
}

/// Finds the database to compare with: `-i` takes one or more kinds, so in
/// `check -i views OTHER` clap gives `OTHER` to `-i`; a last "kind" that is no kind is
/// the database. Without one (and without `--changelogs`), a usage error naming it.
fn take_other(args: &mut CheckArgs) -> pum::Result<()> {
    if args.other.is_some() || args.changelogs {
        return Ok(());
    }
    match args.ignore.last() {
        Some(last) if Kind::parse(last).is_err() => args.other = args.ignore.pop(),
        _ => {
            return Err(pum::Error::Unsupported {
                message:
                    "check needs the database to compare with (pum -p LEFT check CONNECTION), \
                          or --changelogs to compare with a fresh install (see pum check \
                          --help)"
                        .into(),
            });
        }
    }
    Ok(())
}

/// The comparison options the arguments ask for.
pub(crate) fn options(args: &CheckArgs) -> pum::Result<CheckOptions> {
    Ok(CheckOptions {
        ignore: args
            .ignore
            .iter()
            .map(|name| Kind::parse(name))
            .collect::<pum::Result<_>>()?,
        exclude_schemas: args.exclude_schemas.clone(),
        exclude_column_patterns: args.exclude_patterns.clone(),
        column_order: args.column_order,
        owners: args.owners,
        include_extension_objects: args.include_extension_objects,
        allow_version_mismatch: args.allow_version_mismatch,
    })
}

/// Prints `report` (or writes it to `output`) and says 1 when it holds differences.
pub fn write(report: &CheckReport, output: Option<&Path>, format: Format) -> pum::Result<ExitCode> {
    let color = output.is_none() && crate::style::escapes(crate::style::Stream::Stdout);
    let text = match format {
        Format::Text => report.render_text(color),
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&report.to_json()).unwrap_or_default()
        ),
        Format::Html => report.render_html(),
    };
    match output {
        // Replaced only by a complete report.
        Some(file) => pum::internal::write(file, text.as_bytes())?,
        None => print!("{text}"),
    }
    Ok(if report.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
