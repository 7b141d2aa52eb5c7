//! `pum --databases PATTERN [--jobs N] upgrade|install|info|validate|current|check
//! --changelogs`: one command on every matching database of the server, N at a time, a
//! progress bar on a terminal, then a table (or JSON) of what each did.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use pum::fleet::{DatabaseSelection, Installed, Outcome, Summary};
use pum::internal::printable;
use pum::migrate::Progress;
use pum::{Config, ConnectionSpec, MigrateOptions, Upgrader};
use serde_json::{Value, json};

use super::Output;
use super::check::CheckArgs;
use super::migrate::{Format, InstallArgs, Project, UpgradeArgs};
use crate::Command;

/// Which databases, and how many at once: the command line's `--databases`,
/// `--databases-from` and `--jobs`.
#[derive(Debug)]
pub struct Fleet {
    pub selection: DatabaseSelection,
    pub jobs: usize,
}

/// What a command did on one database: the library's [`Summary`] (what the table shows,
/// whether it counts as done), its report as JSON, and what it warned of.
struct Done {
    summary: Summary,
    json: Value,
    warnings: Vec<String>,
}

impl Done {
    fn new(summary: Summary, json: Value) -> Done {
        Done {
            summary,
            json,
            warnings: Vec::new(),
        }
    }
}

impl AsRef<Summary> for Done {
    fn as_ref(&self) -> &Summary {
        &self.summary
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
    let (format, job) = job(project, command, out)?;
    let names = pum::fleet::databases(server, &fleet.selection)?;
    let mut outcomes = collect(pum::fleet::run(server, names, fleet.jobs, job), out);
    outcomes.sort_by(|a, b| a.database.cmp(&b.database));
    for outcome in &outcomes {
        if let Ok(done) = &outcome.result {
            for warning in &done.warnings {
                out.warn(format!("{}: {warning}", outcome.database));
            }
        }
    }
    let failed = pum::fleet::failed_count(&outcomes);
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

/// The outcomes as they finish, with a progress bar on a terminal.
fn collect(fleet: pum::fleet::Fleet<Done>, out: Output) -> Vec<Outcome<Done>> {
    let bar = (!out.is_quiet() && crate::style::escapes(crate::style::Stream::Stderr)).then(|| {
        let bar = ProgressBar::new(fleet.total() as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ({eta})") {
            bar.set_style(style);
        }
        bar
    });
    let mut outcomes = Vec::with_capacity(fleet.total());
    for outcome in fleet {
        if let Some(bar) = &bar {
            bar.set_message(printable(&outcome.database).into_owned());
            bar.inc(1);
        }
        outcomes.push(outcome);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    outcomes
}

fn status(outcome: &Outcome<Done>) -> String {
    match &outcome.result {
        Ok(done) => done.summary.problem.clone().unwrap_or_else(|| "ok".into()),
        Err(e) => format!("failed: {e}"),
    }
}

fn to_json(outcome: &Outcome<Done>) -> Value {
    let (ok, detail, result, error) = match &outcome.result {
        Ok(done) => (
            done.summary.is_done(),
            done.summary.detail.clone(),
            done.json.clone(),
            done.summary.problem.clone(),
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
                    .map(|d| printable(&d.summary.detail).into_owned())
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

/// The output format asked for, and the job `command` is on one database.
fn job(project: &Project, command: Command, out: Output) -> pum::Result<(Format, Job)> {
    match command {
        Command::Upgrade(args) => Ok((args.format, upgrade_job(project.load()?, args, out))),
        Command::Install(args) => Ok((args.format, install_job(project.load()?, args, out))),
        Command::Info(args) => Ok((args.format, info_job(project.load()?))),
        Command::Validate(args) => Ok((args.format, validate_job(project.load()?))),
        Command::Current(args) => Ok((args.format, current_job(project.load()?))),
        Command::Check(args) => check_job(project, &args),
        other => Err(pum::Error::Unsupported {
            message: format!(
                "--databases and --databases-from work with install, upgrade, info, \
                 validate, current and check --changelogs, not {}",
                command_name(&other)
            ),
        }),
    }
}

/// What a run on one database says as it goes (a retry after a lock timeout), one line
/// naming the database.
struct SaidOn<'a> {
    database: &'a str,
    out: Output,
}

impl Progress for SaidOn<'_> {
    fn message(&mut self, text: &str) {
        self.out.info(format!("{}: {text}", self.database));
    }
}

fn upgrade_job(config: Config, args: UpgradeArgs, out: Output) -> Job {
    let options = MigrateOptions {
        force: args.force,
        skip_baseline_check: args.skip_baseline_check,
        strict: args.strict,
        ..super::migrate::options(args.run)
    };
    Box::new(move |target| {
        let mut said = SaidOn {
            database: target.dbname(),
            out,
        };
        let report = Upgrader::new(&config, target)?.upgrade(&options, &mut said)?;
        Ok(Done {
            warnings: report.warnings.clone(),
            ..Done::new(
                Summary::upgrade(&report),
                serde_json::to_value(&report).unwrap_or_default(),
            )
        })
    })
}

fn install_job(config: Config, args: InstallArgs, out: Output) -> Job {
    let options = MigrateOptions {
        allow_multiple_modules: args.allow_multiple_modules,
        demo_data: args.demo_data,
        ..super::migrate::options(args.run)
    };
    Box::new(move |target| {
        let upgrader = Upgrader::new(&config, target)?;
        let mut said = SaidOn {
            database: target.dbname(),
            out,
        };
        let installed =
            pum::fleet::installed(upgrader.install(&options, &mut said), || upgrader.current())?;
        let summary = Summary::install(&installed);
        Ok(match installed {
            Installed::Now(report) => Done {
                warnings: report.warnings.clone(),
                ..Done::new(summary, serde_json::to_value(&report).unwrap_or_default())
            },
            Installed::Already { current } => Done::new(
                summary,
                json!({ "installed_already": true, "current_version": current.to_string() }),
            ),
        })
    })
}

fn info_job(config: Config) -> Job {
    Box::new(move |target| {
        let info = Upgrader::new(&config, target)?.info()?;
        Ok(Done::new(
            Summary::info(&info),
            serde_json::to_value(&info).unwrap_or_default(),
        ))
    })
}

fn validate_job(config: Config) -> Job {
    Box::new(move |target| {
        let changed = Upgrader::new(&config, target)?.validate()?;
        Ok(Done::new(Summary::validate(&changed), json!(changed)))
    })
}

fn current_job(config: Config) -> Job {
    Box::new(move |target| {
        let current = Upgrader::new(&config, target)?.current()?;
        Ok(Done::new(
            Summary::current(&current),
            json!(current.to_string()),
        ))
    })
}

/// `check --changelogs` on each database: one report each, so neither `--output-file`
/// nor `--format html`.
fn check_job(project: &Project, args: &CheckArgs) -> pum::Result<(Format, Job)> {
    let refuse = |message: &str| {
        Err(pum::Error::Unsupported {
            message: message.into(),
        })
    };
    if !args.changelogs {
        return refuse(
            "check with --databases compares each database with its changelogs: give \
             --changelogs",
        );
    }
    if args.output.is_some() {
        return refuse(
            "check --output-file writes one report: with --databases the reports go to \
             standard output (--format json)",
        );
    }
    let format = match args.format {
        super::check::Format::Text => Format::Text,
        super::check::Format::Json => Format::Json,
        super::check::Format::Html => {
            return refuse(
                "check --format html writes one page: with --databases use text or json",
            );
        }
    };
    let options = super::check::options(args)?;
    let config = project.load()?;
    let job: Job = Box::new(move |target| {
        let report = pum::workflow::check_changelogs(&config, target, &options)?;
        Ok(Done::new(
            Summary::check(report.difference_count()),
            report.to_json(),
        ))
    });
    Ok((format, job))
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
pub fn selection(
    pattern: Option<String>,
    from: Option<PathBuf>,
) -> pum::Result<Option<DatabaseSelection>> {
    Ok(match (pattern, from) {
        (Some(pattern), _) => Some(DatabaseSelection::Like(pattern)),
        (None, Some(file)) => Some(DatabaseSelection::from_file(&file)?),
        (None, None) => None,
    })
}
