//! `pum test list` and `pum test prune`: what the test harness cached on a server
//! (`pum::testing::cache`), printed, and dropped on request.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use pum::internal::printable;
use pum::testing::cache::{self, Entry, PruneOptions};

use crate::Output;
use crate::migrate::Format;

/// `pum test …`.
#[derive(Debug, Subcommand)]
pub enum TestCommand {
    /// List what the test harness keeps on the server (-p; default: the server the tests
    /// use): templates, references, spares, kept and running test databases, each with
    /// its test or project, age, size and runner.
    List(ListArgs),
    /// Drop what the test harness keeps on the server: --kept, --older-than or --all;
    /// never a database a live runner uses (it is named and left).
    Prune(PruneArgs),
}

/// `pum test list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// A table for people, or a JSON array (fields: kind, name, of, status, age_seconds,
    /// size_bytes, runner {host, pid, alive}, in_use).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `pum test prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// The kept databases of failed tests (PUM_TEST_KEEP).
    #[arg(long, conflicts_with = "all")]
    pub kept: bool,
    /// What is older than DURATION (a number and s, m, h, d or w: 30m, 12h, 7d); with
    /// --kept, kept databases that old.
    #[arg(long, value_name = "DURATION", value_parser = cache::parse_age, allow_hyphen_values = true)]
    pub older_than: Option<Duration>,
    /// Everything: templates, references, spares, kept and orphaned test databases, and
    /// the roles made for their tests.
    #[arg(long)]
    pub all: bool,
}

/// Runs `pum test …` on the server of `pg_connection`, else the test harness's server
/// (`PUM_TEST_DATABASE_URL`, else the ephemeral server).
pub fn run(
    pg_connection: Option<&str>,
    command: TestCommand,
    out: Output,
) -> pum::Result<ExitCode> {
    let server = || match pg_connection {
        Some(input) => crate::connection(Some(input), out),
        None => pum::server::test_server(),
    };
    match command {
        TestCommand::List(args) => list(&server()?, args.format, out),
        TestCommand::Prune(args) => {
            if !args.kept && !args.all && args.older_than.is_none() {
                return Err(pum::Error::Unsupported {
                    message: "pum test prune: say what to drop: --kept, --older-than DURATION \
                              or --all"
                        .into(),
                });
            }
            let options = PruneOptions {
                kept_only: args.kept,
                older_than: args.older_than,
            };
            prune(&server()?, &options, out)
        }
    }
}

const NOTHING: &str = "nothing of pum's on this server (it has no test registry)";

fn list(server: &pum::ConnectionSpec, format: Format, out: Output) -> pum::Result<ExitCode> {
    let entries = cache::list(server)?;
    if format == Format::Json {
        let array: Vec<serde_json::Value> = entries.iter().flatten().map(json).collect();
        println!("{}", serde_json::Value::Array(array));
        if entries.is_none() {
            out.info(NOTHING);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(entries) = entries else {
        println!("{NOTHING}");
        return Ok(ExitCode::SUCCESS);
    };
    let rows: Vec<[String; 7]> = entries.iter().map(row).collect();
    let header = ["KIND", "NAME", "OF", "STATUS", "AGE", "SIZE", "RUNNER"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
    let total: u64 = entries.iter().filter_map(|e| e.size).sum();
    out.info(format!("{} databases, {}", entries.len(), size(total)));
    Ok(ExitCode::SUCCESS)
}

/// A table row; names and paths from the server are shown escaped.
fn row(entry: &Entry) -> [String; 7] {
    [
        entry.kind.as_str().to_string(),
        printable(&entry.name).to_string(),
        entry
            .of
            .as_deref()
            .map_or("-".to_string(), |of| printable(of).to_string()),
        printable(&entry.status).to_string(),
        age(entry.age),
        entry.size.map_or("-".to_string(), size),
        entry.runner.as_ref().map_or("-".to_string(), |r| {
            let state = if r.alive { "alive" } else { "gone" };
            format!("{}:{} ({state})", printable(&r.host), r.pid)
        }),
    ]
}

/// An entry as `pum test list --format json` prints it: the README documents the fields.
fn json(entry: &Entry) -> serde_json::Value {
    serde_json::json!({
        "kind": entry.kind.as_str(),
        "name": entry.name,
        "of": entry.of,
        "status": entry.status,
        "age_seconds": entry.age.as_secs(),
        "size_bytes": entry.size,
        "runner": entry.runner.as_ref().map(|r| serde_json::json!({
            "host": r.host,
            "pid": r.pid,
            "alive": r.alive,
        })),
        "in_use": entry.in_use,
    })
}

fn prune(
    server: &pum::ConnectionSpec,
    options: &PruneOptions,
    out: Output,
) -> pum::Result<ExitCode> {
    let Some(pruned) = cache::prune(server, options)? else {
        println!("{NOTHING}");
        return Ok(ExitCode::SUCCESS);
    };
    for entry in &pruned.dropped {
        println!(
            "dropped {} {} ({})",
            entry.kind.as_str(),
            printable(&entry.name),
            entry.size.map_or("-".to_string(), size)
        );
    }
    for role in &pruned.roles {
        println!("dropped role {}", printable(role));
    }
    for (entry, why) in &pruned.skipped {
        println!("kept {}: {}", printable(&entry.name), printable(why));
    }
    for (entry, e) in &pruned.failed {
        out.warn(format!("could not drop {}: {e}", entry.name));
    }
    for (role, e) in &pruned.roles_failed {
        out.warn(format!("could not drop {role}: {e}"));
    }
    let freed: u64 = pruned.dropped.iter().filter_map(|e| e.size).sum();
    out.info(format!(
        "dropped {} databases ({}); {} in use, left",
        pruned.dropped.len(),
        size(freed),
        pruned.skipped.len()
    ));
    let failures = pruned.failed.len() + pruned.roles_failed.len();
    if failures > 0 {
        return Err(pum::Error::Unsupported {
            message: format!("pum test prune: {failures} could not be dropped (said above)"),
        });
    }
    Ok(ExitCode::SUCCESS)
}

/// `3d 4h`, `12m`, `40s`: the two largest units.
fn age(age: Duration) -> String {
    let s = age.as_secs();
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// `7.6 MB`, in powers of 1000 as `pg_size_pretty` does not (it uses 1024 with MB).
fn size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}
