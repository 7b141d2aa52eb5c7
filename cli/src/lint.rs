//! `pum lint`: the hazards of the changelogs for a live database (`pum::lint`), printed as
//! text, JSON or GitHub annotations. Exit status 0 without error-severity findings, 1 with
//! one, 2 on bad input.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use pum::Version;
use pum::lint::{LintOptions, lint};

use super::Output;
use super::migrate::{Project, parse_version};

/// `pum lint`'s arguments.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Check only the versions above this one (a version of the changelogs). With -p,
    /// only the versions that database has not applied are checked; it is only read.
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub from: Option<Version>,

    /// A parameter value (repeatable): --parameter SRID 2056 (default: what -p recorded,
    /// else the defaults of .pum.yaml).
    #[arg(long = "parameter", num_args = 2, value_names = ["NAME", "VALUE"])]
    pub parameter: Vec<String>,

    /// How findings are printed: text, json (an array of objects), github (workflow
    /// annotations).
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
}

/// The output formats of `pum lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// For people: file:line: severity[rule]: statement, then table, lock, message, fix.
    Text,
    /// An array of objects: rule, severity, file, line, statement, table, lock, message, fix.
    Json,
    /// GitHub workflow commands (::error file=…,line=…::…).
    Github,
}

/// Runs `pum lint` on the ephemeral server (or `PUM_TEST_DATABASE_URL`'s); `pending_on` is
/// the `-p` database, when given.
pub fn run(
    pending_on: Option<&str>,
    project: &Project,
    args: LintArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    let config = project.load()?;
    let pending_on = match pending_on {
        Some(target) => Some(super::connection(Some(target), out)?),
        None => None,
    };
    let options = LintOptions {
        from: args.from,
        pending_on,
        parameters: args
            .parameter
            .chunks(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect(),
    };
    let server = pum::server::test_server()?;
    out.detail(format!("scratch databases on: {server}"));
    let report = lint(&config, &server, &options)?;
    let printed = match args.format {
        LintFormat::Text => report.text(),
        LintFormat::Json => format!("{}\n", report.json()),
        LintFormat::Github => report.github(),
    };
    print!("{printed}");
    let versions = match (report.versions.first(), report.versions.last()) {
        (Some(first), Some(last)) if first == last => format!("version {first}"),
        (Some(first), Some(last)) => {
            format!("{} versions ({first} to {last})", report.versions.len())
        }
        _ => "no version".to_string(),
    };
    out.info(format!(
        "pum lint: {versions}, {} statements: {} error(s), {} warning(s), {} allowed",
        report.statements,
        report.errors(),
        report.warnings(),
        report.allowed
    ));
    Ok(if report.errors() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
