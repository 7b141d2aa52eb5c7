//! `pum --databases PATTERN [--jobs N] upgrade|install|info|validate|current|check
//! --changelogs`: one command on every matching database of the server, N at a time, a
//! progress bar on a terminal, then a table (or JSON) of what each did.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use pum::fleet::{Outcome, Selection};
use pum::migrate::NoProgress;
use pum::text::printable;
use pum::{ConnectionSpec, MigrateOptions, Upgrader};
use serde_json::{Value, json};

use super::Output;
use super::migrate::{Format, Project};
use crate::Command;

/// Which databases, and how many at once: the command line's `--databases`,
/// `--databases-from` and `--jobs`.
#[derive(Debug)]
pub struct Fleet {
    pub selection: Selection,
    pub jobs: usize,
}

/// What a command did on one database.
struct Done {
    /// `1.2.0 → 1.4.0`, `3 pending`, …
    detail: String,
    /// `ok`, or what makes the database count as failed (`2 changed files`).
    problem: Option<String>,
    json: Value,
    warnings: Vec<String>,
}

impl Done {
    fn ok(detail: String, json: Value) -> Done {
        Done {
            detail,
            problem: None,
            json,
            warnings: Vec::new(),
        }
    }
}

type Job = Box<dyn Fn(&ConnectionSpec) -> pum::Result<Done> + Send + Sync>;

/// Runs `command` on the databases of `fleet` on the server of `server`.
pub fn run(
    server: &ConnectionSpec,
    project: &Project,
    command: Command,
    fleet: Fleet,
    out: Output,
) -> pum::Result<ExitCode> {
    let (job, format) = job(project, command)?;
    let names = pum::fleet::databases(server, &fleet.selection)?;
    let bar = (!out.is_quiet() && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(names.len() as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ({eta})") {
            bar.set_style(style);
        }
        bar
    });
    let mut outcomes: Vec<Outcome<Done>> = Vec::with_capacity(names.len());
    for outcome in pum::fleet::run(server, names, fleet.jobs, job) {
        if let Some(bar) = &bar {
            bar.set_message(printable(&outcome.database).into_owned());
            bar.inc(1);
        }
        outcomes.push(outcome);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    outcomes.sort_by(|a, b| a.database.cmp(&b.database));
    for outcome in &outcomes {
        if let Ok(done) = &outcome.result {
            for warning in &done.warnings {
                out.warn(format!("{}: {warning}", outcome.database));
            }
        }
    }
    let failed = outcomes
        .iter()
        .filter(|o| o.result.as_ref().map_or(true, |d| d.problem.is_some()))
        .count();
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&Value::Array(outcomes.iter().map(to_json).collect()))
                .unwrap_or_default()
        ),
        Format::Text => print!("{}", table(&outcomes)),
    }
    out.info(format!(
        "{} database(s): {} ok, {failed} failed",
        outcomes.len(),
        outcomes.len() - failed
    ));
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn status(outcome: &Outcome<Done>) -> String {
    match &outcome.result {
        Ok(Done { problem: None, .. }) => "ok".into(),
        Ok(Done {
            problem: Some(problem),
            ..
        }) => problem.clone(),
        Err(e) => format!("failed: {e}"),
    }
}

fn to_json(outcome: &Outcome<Done>) -> Value {
    let (ok, detail, result, error) = match &outcome.result {
        Ok(done) => (
            done.problem.is_none(),
            done.detail.clone(),
            done.json.clone(),
            done.problem.clone(),
        ),
        Err(e) => (false, String::new(), Value::Null, Some(e.to_string())),
    };
    json!({
        "database": outcome.database,
        "ok": ok,
        "detail": detail,
        "seconds": outcome.elapsed.as_secs_f64(),
        "error": error,
        "result": result,
    })
}

/// The final table: database, what happened, time, status; columns as wide as their
/// widest cell.
fn table(outcomes: &[Outcome<Done>]) -> String {
    let rows: Vec<[String; 4]> = outcomes
        .iter()
        .map(|o| {
            [
                printable(&o.database).into_owned(),
                o.result
                    .as_ref()
                    .map(|d| printable(&d.detail).into_owned())
                    .unwrap_or_default(),
                seconds(o.elapsed),
                printable(&status(o)).into_owned(),
            ]
        })
        .collect();
    let header = ["database", "result", "time", "status"].map(String::from);
    let width = |i: usize| {
        rows.iter()
            .chain([&header])
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    let mut text = String::new();
    for row in [&header].into_iter().chain(&rows) {
        text.push_str(&format!(
            "{:w0$}  {:w1$}  {:>w2$}  {}\n",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        ));
    }
    text
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The job `command` is on one database, and the output format asked for.
fn job(project: &Project, command: Command) -> pum::Result<(Job, Format)> {
    let refuse = |what: &str| {
        Err(pum::Error::Unsupported {
            message: format!(
                "--databases and --databases-from work with install, upgrade, info, \
                 validate, current and check --changelogs, not {what}"
            ),
        })
    };
    Ok(match command {
        Command::Upgrade(args) => {
            let config = project.load()?;
            let format = args.format;
            let options = MigrateOptions {
                force: args.force,
                skip_baseline_check: args.skip_baseline_check,
                strict: args.strict,
                ..super::migrate::options(args.run)
            };
            let job: Job = Box::new(move |target| {
                let report = Upgrader::new(&config, target)?.upgrade(&options, &mut NoProgress)?;
                let from = report.from.clone().unwrap_or_else(|| "-".into());
                let to = report
                    .applied
                    .last()
                    .cloned()
                    .unwrap_or_else(|| from.clone());
                Ok(Done {
                    warnings: report.warnings.clone(),
                    ..Done::ok(
                        format!("{from} → {to}"),
                        serde_json::to_value(&report).unwrap_or_default(),
                    )
                })
            });
            (job, format)
        }
        Command::Install(args) => {
            let config = project.load()?;
            let format = args.format;
            let options = MigrateOptions {
                allow_multiple_modules: args.allow_multiple_modules,
                demo_data: args.demo_data,
                ..super::migrate::options(args.run)
            };
            let job: Job = Box::new(move |target| {
                let upgrader = Upgrader::new(&config, target)?;
                match upgrader.install(&options, &mut NoProgress) {
                    Ok(report) => {
                        let to = report.applied.last().cloned().unwrap_or_else(|| "-".into());
                        Ok(Done {
                            warnings: report.warnings.clone(),
                            ..Done::ok(
                                format!("- → {to}"),
                                serde_json::to_value(&report).unwrap_or_default(),
                            )
                        })
                    }
                    // A rerun continues with what is not done: an installed database is
                    // not a failure.
                    Err(pum::Error::AlreadyInstalled { .. }) => {
                        let current = upgrader.current()?.to_string();
                        Ok(Done::ok(
                            format!("{current} (installed already)"),
                            json!({ "installed_already": true, "current_version": current }),
                        ))
                    }
                    Err(e) => Err(e),
                }
            });
            (job, format)
        }
        Command::Info(args) => {
            let config = project.load()?;
            let job: Job = Box::new(move |target| {
                let info = Upgrader::new(&config, target)?.info()?;
                let pending = info
                    .versions
                    .iter()
                    .filter(|v| v.status == pum::migrate::VersionStatus::Pending)
                    .count();
                let detail = match &info.current_version {
                    Some(v) => format!("{v}, {pending} pending"),
                    None => format!("not installed, {pending} pending"),
                };
                Ok(Done::ok(
                    detail,
                    serde_json::to_value(&info).unwrap_or_default(),
                ))
            });
            (job, args.format)
        }
        Command::Validate(args) => {
            let config = project.load()?;
            let job: Job = Box::new(move |target| {
                let changed = Upgrader::new(&config, target)?.validate()?;
                Ok(Done {
                    problem: (!changed.is_empty())
                        .then(|| format!("{} applied file(s) changed", changed.len())),
                    ..Done::ok(changed.join(", "), json!(changed))
                })
            });
            (job, args.format)
        }
        Command::Current(args) => {
            let config = project.load()?;
            let job: Job = Box::new(move |target| {
                let current = Upgrader::new(&config, target)?.current()?.to_string();
                Ok(Done::ok(current.clone(), json!(current)))
            });
            (job, args.format)
        }
        Command::Check(args) => {
            if !args.changelogs {
                return Err(pum::Error::Unsupported {
                    message: "check with --databases compares each database with its \
                              changelogs: give --changelogs"
                        .into(),
                });
            }
            if args.output.is_some() {
                return Err(pum::Error::Unsupported {
                    message: "check --output-file writes one report: with --databases the \
                              reports go to standard output (--format json)"
                        .into(),
                });
            }
            let format = match args.format {
                super::check::Format::Text => Format::Text,
                super::check::Format::Json => Format::Json,
                super::check::Format::Html => {
                    return Err(pum::Error::Unsupported {
                        message: "check --format html writes one page: with --databases use \
                                  text or json"
                            .into(),
                    });
                }
            };
            let options = super::check::options(&args)?;
            let config = project.load()?;
            let job: Job = Box::new(move |target| {
                let report = pum::workflow::check_changelogs(&config, target, &options)?;
                let count = report.difference_count();
                Ok(Done {
                    problem: (count > 0).then(|| format!("differs: {count} difference(s)")),
                    ..Done::ok(
                        if count == 0 {
                            "same as its changelogs".into()
                        } else {
                            format!("{count} difference(s)")
                        },
                        report.to_json(),
                    )
                })
            });
            (job, format)
        }
        other => return refuse(command_name(&other)),
    })
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Db { .. } => "db",
        Command::Dump(_) => "dump",
        Command::Restore(_) => "restore",
        Command::Baseline(_) => "baseline",
        Command::New(_) => "new",
        Command::Downgrade(_) => "downgrade",
        Command::TestAndUpgrade(_) => "test-and-upgrade",
        Command::Role(_) => "role",
        Command::App(_) => "app",
        Command::Uninstall(_) => "uninstall",
        Command::Server { .. } => "server",
        _ => "this command",
    }
}

/// `--databases-from FILE`, read.
pub fn selection(pattern: Option<String>, from: Option<PathBuf>) -> pum::Result<Option<Selection>> {
    Ok(match (pattern, from) {
        (Some(pattern), _) => Some(Selection::Like(pattern)),
        (None, Some(file)) => Some(Selection::from_file(&file)?),
        (None, None) => None,
    })
}
