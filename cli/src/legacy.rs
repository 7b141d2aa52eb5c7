//! pum 0.x's command line, run unchanged: `pum upgrade -p SERVICE -t TABLE -d DIR`,
//! `pum check -p1 A -p2 B`, `pum test-and-upgrade -pp P -pt T -pc C …`, `-c
//! db_manager_config.yaml`.
//!
//! A command line is read as pum 0.x's when an option only pum 0.x has follows the
//! command (`-t`, `-p1`, `-pp`, `--pg_service`, `-d` after it, `-p` after `dump`,
//! `restore`, `check`, `baseline` or `info`), or when `-c`
//! names a file with pum 0.x's keys. Everything else is the 1.x command line. Both run the
//! same library calls.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use pum::checker::{CheckOptions, Kind};
use pum::hooks::Variable;
use pum::migrate::Progress;
use pum::migrate::deltas::{DeltaOptions, DeltaState, DeltaUpgrader, DeltasInfo};
use pum::text::printable;
use pum::workflow::{Project, Steps, TestAndUpgrade};
use pum::{ConnectionSpec, DumpOptions, RestoreOptions, Version};

use super::Output;
use super::migrate::{Transaction, parse_version};

/// The commands pum 0.x had.
const COMMANDS: [&str; 7] = [
    "check",
    "dump",
    "restore",
    "baseline",
    "info",
    "upgrade",
    "test-and-upgrade",
];

/// The keys of pum 0.x's configuration file.
const CONFIG_KEYS: [&str; 7] = [
    "upgrades_table",
    "delta_dir",
    "delta_dirs",
    "backup_file",
    "ignore_elements",
    "pg_dump_exe",
    "pg_restore_exe",
];

/// Whether `args` (the whole command line) is pum 0.x's.
pub fn detect(args: &[OsString]) -> bool {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut i = 1;
    let mut config = None;
    while let Some(arg) = args.get(i) {
        let name = arg.split('=').next().unwrap_or(arg);
        let with_value = matches!(
            name,
            "-p" | "-s" | "--pg-connection" | "-d" | "--dir" | "-c" | "--config" | "--config_file"
        );
        if matches!(name, "-c" | "--config" | "--config_file") {
            config = match arg.split_once('=') {
                Some((_, value)) => Some(value.to_string()),
                None => args.get(i + 1).cloned(),
            };
        }
        if with_value && !arg.contains('=') {
            i += 2;
        } else if arg.starts_with('-') {
            i += 1;
        } else {
            break;
        }
    }
    let Some(command) = args.get(i).filter(|c| COMMANDS.contains(&c.as_str())) else {
        return false;
    };
    let rest = &args[i + 1..];
    let has = |options: &[&str]| {
        rest.iter()
            .any(|a| options.contains(&a.split('=').next().unwrap_or(a)))
    };
    let zero_x_only = has(&[
        "-t",
        "--table",
        "-p1",
        "-p2",
        "-pp",
        "-pt",
        "-pc",
        "--pg_service",
        "--pg_service1",
        "--pg_service2",
        "--pg_service_prod",
        "--pg_service_test",
        "--pg_service_comp",
        "-d",
        "--dir",
    ]) || (matches!(
        command.as_str(),
        "dump" | "restore" | "check" | "baseline" | "info"
    ) && has(&["-p"]));
    zero_x_only || config.is_some_and(|file| is_zero_x_config(Path::new(&file)))
}

/// Whether `file` is a pum 0.x configuration (its keys, no `pum:` section).
fn is_zero_x_config(file: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    let Ok(value) = serde_saphyr_value(&text) else {
        return false;
    };
    !value.contains_key("pum") && CONFIG_KEYS.iter().any(|k| value.contains_key(*k))
}

fn serde_saphyr_value(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    serde_saphyr::from_str::<serde_json::Map<String, serde_json::Value>>(text)
        .map_err(|e| e.to_string())
}

/// pum 0.x's multi-letter short options, in the long forms clap reads.
fn rewrite(args: Vec<OsString>) -> Vec<OsString> {
    args.into_iter()
        .map(|arg| {
            let long = match arg.to_str() {
                Some("-p1") => "--pg_service1",
                Some("-p2") => "--pg_service2",
                Some("-pp") => "--pg_service_prod",
                Some("-pt") => "--pg_service_test",
                Some("-pc") => "--pg_service_comp",
                Some("-vv") => "--verbose",
                _ => return arg,
            };
            OsString::from(long)
        })
        .collect()
}

/// pum 0.x's command line.
#[derive(Debug, Parser)]
#[command(
    name = "pum",
    version,
    about = "PostgreSQL Upgrades Manager (the pum 0.x command line)",
    max_term_width = 100
)]
struct Legacy {
    /// A pum 0.x configuration file (upgrades_table, delta_dir(s), backup_file,
    /// ignore_elements, pg_dump_exe, pg_restore_exe); options given on the command line win.
    #[arg(
        short = 'c',
        long = "config_file",
        alias = "config",
        value_name = "CONFIG_FILE"
    )]
    config_file: Option<PathBuf>,
    #[command(subcommand)]
    command: LegacyCommand,
}

#[derive(Debug, Subcommand)]
enum LegacyCommand {
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
struct CheckArgs {
    /// The first database's service.
    #[arg(long = "pg_service1", required = true, value_name = "PG_SERVICE1")]
    pg_service1: String,
    /// The second database's service.
    #[arg(long = "pg_service2", required = true, value_name = "PG_SERVICE2")]
    pg_service2: String,
    #[command(flatten)]
    ignores: Ignores,
    /// Do not print the differences, only whether there are some (exit status 1).
    #[arg(short = 's', long = "silent", num_args = 0..=1, value_name = "SILENT")]
    silent: Option<Option<String>>,
    /// Verbose level (0, 1 or 2): accepted; the report is always complete.
    #[arg(short = 'v', long = "verbose_level", value_name = "VERBOSE_LEVEL")]
    verbose_level: Option<u8>,
    /// Write the report to this file.
    #[arg(short = 'o', long = "output_file", value_name = "OUTPUT_FILE")]
    output_file: Option<PathBuf>,
}

/// What comparisons leave out.
#[derive(Debug, Args)]
struct Ignores {
    /// Elements to be ignored (tables columns constraints views sequences indexes triggers
    /// functions rules, and pum's other kinds).
    #[arg(short = 'i', long = "ignore", num_args = 1.., value_name = "KIND")]
    ignore: Vec<String>,
    /// A schema to be ignored (repeatable).
    #[arg(short = 'N', long = "exclude-schema", value_name = "EXCLUDE_SCHEMA")]
    exclude_schema: Vec<String>,
    /// Columns to be ignored, by SQL LIKE pattern (repeatable).
    #[arg(short = 'P', long = "exclude-field-pattern", value_name = "PATTERN")]
    exclude_field_pattern: Vec<String>,
}

#[derive(Debug, Args)]
struct DumpArgs {
    /// The service of the database.
    #[arg(short = 'p', long = "pg_service", required = true)]
    pg_service: String,
    /// A schema to leave out (repeatable).
    #[arg(short = 'N', long = "exclude-schema")]
    exclude_schema: Vec<String>,
    /// The dump file.
    file: PathBuf,
}

#[derive(Debug, Args)]
struct RestoreArgs {
    /// The service of the database.
    #[arg(short = 'p', long = "pg_service", required = true)]
    pg_service: String,
    /// Go on past pg_restore errors.
    #[arg(short = 'x')]
    ignore_errors: bool,
    /// A schema to leave out (repeatable).
    #[arg(short = 'N', long = "exclude-schema")]
    exclude_schema: Vec<String>,
    /// The dump file.
    file: PathBuf,
}

/// `-t TABLE -d DIR…`, from the command line or the configuration file.
#[derive(Debug, Args)]
struct Deltas {
    /// The upgrades table (schema.table).
    #[arg(short = 't', long = "table")]
    table: Option<String>,
    /// Delta directories (several after one -d, or -d repeated).
    #[arg(short = 'd', long = "dir", num_args = 1.., action = clap::ArgAction::Append)]
    dir: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct BaselineArgs {
    /// The service of the database.
    #[arg(short = 'p', long = "pg_service", required = true)]
    pg_service: String,
    #[command(flatten)]
    deltas: Deltas,
    /// The version the database is at (x.y.z).
    #[arg(short = 'b', long = "baseline", required = true)]
    baseline: String,
}

#[derive(Debug, Args)]
struct InfoArgs {
    /// The service of the database.
    #[arg(short = 'p', long = "pg_service", required = true)]
    pg_service: String,
    #[command(flatten)]
    deltas: Deltas,
}

/// What an upgrade applies.
#[derive(Debug, Args)]
struct Run {
    /// Apply deltas up to this version (inclusive).
    #[arg(short = 'u', long = "max-version", value_parser = parse_version)]
    max_version: Option<Version>,
    /// A variable for the deltas: int|float|string NAME VALUE (repeatable).
    #[arg(short = 'v', long = "var", num_args = 3, allow_negative_numbers = true, value_names = ["TYPE", "NAME", "VALUE"], action = clap::ArgAction::Append)]
    var: Vec<String>,
    /// Say what is decided for each delta.
    #[arg(long = "verbose")]
    verbose: bool,
    /// Seconds to wait for another pum upgrading the same database.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    lock_timeout: u64,
}

#[derive(Debug, Args)]
struct UpgradeArgs {
    /// The service of the database.
    #[arg(short = 'p', long = "pg_service", required = true)]
    pg_service: String,
    #[command(flatten)]
    deltas: Deltas,
    #[command(flatten)]
    run: Run,
    /// One transaction for the whole run (default), per version, or per file (as pum 0.x).
    #[arg(long, value_enum, default_value_t = Transaction::Whole)]
    transaction: Transaction,
}

#[derive(Debug, Args)]
struct TestAndUpgradeArgs {
    /// The production database's service.
    #[arg(long = "pg_service_prod", required = true)]
    pg_service_prod: String,
    /// The test database's service (prod's copy is upgraded there).
    #[arg(long = "pg_service_test", required = true)]
    pg_service_test: String,
    /// The comparison database's service (what test must equal after the upgrade).
    #[arg(long = "pg_service_comp", required = true)]
    pg_service_comp: String,
    #[command(flatten)]
    deltas: Deltas,
    /// The dump file (removed at the end unless --keep-dump).
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    /// Go on past pg_restore errors.
    #[arg(short = 'x')]
    ignore_errors: bool,
    #[command(flatten)]
    ignores: Ignores,
    #[command(flatten)]
    run: Run,
    /// Upgrade prod without asking.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Keep the dump file.
    #[arg(long)]
    keep_dump: bool,
}

/// pum 0.x's configuration file.
#[derive(Debug, Default)]
struct ZeroXConfig {
    upgrades_table: Option<String>,
    delta_dirs: Vec<PathBuf>,
    backup_file: Option<PathBuf>,
    ignore_elements: Vec<String>,
    pg_dump_exe: Option<PathBuf>,
    pg_restore_exe: Option<PathBuf>,
}

impl ZeroXConfig {
    /// Reads `file`; without one, `PG_DUMP_EXE` and `PG_RESTORE_EXE` name the tools, as
    /// in pum 0.x.
    fn load(file: Option<&Path>, out: Output) -> pum::Result<ZeroXConfig> {
        let Some(file) = file else {
            let env = |name| {
                std::env::var_os(name)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            };
            return Ok(ZeroXConfig {
                pg_dump_exe: env("PG_DUMP_EXE"),
                pg_restore_exe: env("PG_RESTORE_EXE"),
                ..ZeroXConfig::default()
            });
        };
        let bad = |message: String| pum::Error::Config {
            location: file.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(file).map_err(|e| pum::Error::io(file, e))?;
        let map = serde_saphyr_value(&text).map_err(bad)?;
        let text_of = |key: &str| -> pum::Result<Option<String>> {
            match map.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(bad(format!("{key}: a text is expected, not {other}"))),
            }
        };
        let list_of = |key: &str| -> pum::Result<Vec<String>> {
            match map.get(key) {
                None | Some(serde_json::Value::Null) => Ok(Vec::new()),
                Some(serde_json::Value::String(s)) => Ok(vec![s.clone()]),
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .map(|item| match item {
                        serde_json::Value::String(s) => Ok(s.clone()),
                        other => Err(bad(format!(
                            "{key}: a list of texts is expected, not {other}"
                        ))),
                    })
                    .collect(),
                Some(other) => Err(bad(format!(
                    "{key}: a text or a list is expected, not {other}"
                ))),
            }
        };
        for key in map.keys() {
            if !CONFIG_KEYS.contains(&key.as_str()) {
                out.warn(format!(
                    "{}: key {key} is not one pum 0.x reads (ignored)",
                    file.display()
                ));
            }
        }
        let mut delta_dirs = list_of("delta_dirs")?;
        delta_dirs.extend(list_of("delta_dir")?);
        Ok(ZeroXConfig {
            upgrades_table: text_of("upgrades_table")?,
            delta_dirs: delta_dirs.into_iter().map(PathBuf::from).collect(),
            backup_file: text_of("backup_file")?.map(PathBuf::from),
            ignore_elements: list_of("ignore_elements")?,
            pg_dump_exe: text_of("pg_dump_exe")?.map(PathBuf::from),
            pg_restore_exe: text_of("pg_restore_exe")?.map(PathBuf::from),
        })
    }

    /// The table and directories: the command line's, else the configuration's.
    fn deltas(&self, deltas: Deltas) -> pum::Result<(String, Vec<PathBuf>)> {
        let table = deltas
            .table
            .or_else(|| self.upgrades_table.clone())
            .ok_or_else(|| pum::Error::Setting {
                variable: "-t TABLE".into(),
                message: "the upgrades table is needed (-t schema.table, or upgrades_table in the \
                          -c configuration file)"
                    .into(),
            })?;
        let dirs = if deltas.dir.is_empty() {
            self.delta_dirs.clone()
        } else {
            deltas.dir
        };
        if dirs.is_empty() {
            return Err(pum::Error::Setting {
                variable: "-d DIR".into(),
                message: "a delta directory is needed (-d DIR, or delta_dir in the -c \
                          configuration file)"
                    .into(),
            });
        }
        Ok((table, dirs))
    }
}

/// Runs a pum 0.x command line.
pub fn run(args: Vec<OsString>, out: Output) -> pum::Result<ExitCode> {
    let cli = match Legacy::try_parse_from(rewrite(args)) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("pum: error: {}", printable(&super::usage_error(&e)));
            return Ok(ExitCode::from(2));
        }
    };
    let config = ZeroXConfig::load(cli.config_file.as_deref(), out)?;
    match cli.command {
        LegacyCommand::Check(args) => check(&config, args, out),
        LegacyCommand::Dump(args) => {
            let spec = service(&args.pg_service, out)?;
            let options = DumpOptions {
                exclude_schemas: args.exclude_schema,
                pg_dump: config.pg_dump_exe.clone(),
                ..DumpOptions::default()
            };
            pum::dump(&spec, &args.file, &options)?;
            out.info(format!(
                "dumped {} to {}",
                args.pg_service,
                args.file.display()
            ));
            Ok(ExitCode::SUCCESS)
        }
        LegacyCommand::Restore(args) => {
            let spec = service(&args.pg_service, out)?;
            let options = RestoreOptions {
                ignore_errors: args.ignore_errors,
                exclude_schemas: args.exclude_schema,
                pg_restore: config.pg_restore_exe.clone(),
                psql: None,
            };
            let summary = pum::restore(&spec, &args.file, &options)?;
            if summary.ignored_errors > 0 {
                out.warn(format!(
                    "{} error(s) ignored while restoring: {}",
                    summary.ignored_errors, summary.messages
                ));
            }
            out.info(format!(
                "restored {} into {}",
                args.file.display(),
                args.pg_service
            ));
            Ok(ExitCode::SUCCESS)
        }
        LegacyCommand::Baseline(args) => {
            let spec = service(&args.pg_service, out)?;
            let (table, dirs) = config.deltas(args.deltas)?;
            let upgrader = DeltaUpgrader::new(&spec, &table, &dirs)?;
            upgrader.baseline(&args.baseline)?;
            out.info(format!(
                "recorded baseline {} in {}",
                args.baseline,
                upgrader.table().name()
            ));
            Ok(ExitCode::SUCCESS)
        }
        LegacyCommand::Info(args) => {
            let spec = service(&args.pg_service, out)?;
            let (table, dirs) = config.deltas(args.deltas)?;
            let info = DeltaUpgrader::new(&spec, &table, &dirs)?.info()?;
            print_info(&info);
            Ok(ExitCode::SUCCESS)
        }
        LegacyCommand::Upgrade(args) => {
            let spec = service(&args.pg_service, out)?;
            let (table, dirs) = config.deltas(args.deltas)?;
            let upgrader = DeltaUpgrader::new(&spec, &table, &dirs)?;
            let options = DeltaOptions {
                transaction: args.transaction.mode(),
                ..delta_options(&args.run)?
            };
            if args.run.verbose {
                let plan = upgrader.plan(&options)?;
                for delta in plan.pending(upgrader.deltas()) {
                    out.info(format!("will apply {}", delta.script));
                }
            }
            let mut shown = Shown { out };
            let report = upgrader.upgrade(&options, &mut shown)?;
            for warning in &report.warnings {
                out.warn(warning);
            }
            let deltas = report
                .files
                .len()
                .saturating_sub(upgrader.deltas().pre_all.len() + upgrader.deltas().post_all.len());
            out.info(format!(
                "upgraded {} from {} to {} ({deltas} delta(s))",
                args.pg_service, report.from, report.to
            ));
            Ok(ExitCode::SUCCESS)
        }
        LegacyCommand::TestAndUpgrade(args) => test_and_upgrade(&config, args, out),
    }
}

/// A service name (or any connection string) resolved.
fn service(name: &str, out: Output) -> pum::Result<ConnectionSpec> {
    let spec = ConnectionSpec::resolve(name)?;
    for warning in spec.warnings() {
        out.warn(warning);
    }
    out.detail(format!("connection: {spec}"));
    Ok(spec)
}

fn delta_options(run: &Run) -> pum::Result<DeltaOptions> {
    Ok(DeltaOptions {
        max_version: run.max_version.clone(),
        variables: run
            .var
            .chunks(3)
            .map(|v| Ok((v[1].clone(), Variable::parse(&v[0], &v[1], &v[2])?)))
            .collect::<pum::Result<_>>()?,
        lock_timeout: Duration::from_secs(run.lock_timeout),
        ..DeltaOptions::default()
    })
}

fn check_options(config: &ZeroXConfig, ignores: Ignores) -> pum::Result<CheckOptions> {
    let ignore = if ignores.ignore.is_empty() {
        config.ignore_elements.clone()
    } else {
        ignores.ignore
    };
    Ok(CheckOptions {
        ignore: ignore
            .iter()
            .map(|k| Kind::parse(k))
            .collect::<pum::Result<_>>()?,
        exclude_schemas: ignores.exclude_schema,
        exclude_column_patterns: ignores.exclude_field_pattern,
        ..CheckOptions::default()
    })
}

fn check(config: &ZeroXConfig, args: CheckArgs, out: Output) -> pum::Result<ExitCode> {
    let left = service(&args.pg_service1, out)?;
    let right = service(&args.pg_service2, out)?;
    let report = pum::check(&left, &right, &check_options(config, args.ignores)?)?;
    // pum 0.x's levels cut lines at 79 characters or not; the report is always whole.
    let _ = args.verbose_level;
    if args.silent.is_some() {
        println!(
            "{}",
            if report.is_empty() {
                "no difference"
            } else {
                "differences found"
            }
        );
        return Ok(if report.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    super::check::write(
        &report,
        args.output_file.as_deref(),
        super::check::Format::Text,
    )
}

/// Prints `info` as pum 0.x lays it out: the deltas, then the table's rows.
fn print_info(info: &DeltasInfo) {
    for dir in &info.dirs {
        println!("delta files in dir:  {}", printable(dir));
    }
    let mut deltas = vec![vec![
        "Version".to_string(),
        "Name".into(),
        "Type".into(),
        "Status".into(),
    ]];
    for delta in &info.deltas {
        deltas.push(vec![
            delta.version.clone(),
            delta.name.clone(),
            delta.kind.clone(),
            match delta.state {
                DeltaState::Applied => "Applied",
                DeltaState::Pending => "Pending",
                DeltaState::Skipped => "Skipped (below the current version)",
                DeltaState::Edited => "Edited since applied",
            }
            .into(),
        ]);
    }
    print_table(&deltas);
    println!();
    println!("Applied upgrades in database");
    let mut rows = vec![vec![
        "Version".to_string(),
        "Name".into(),
        "Type".into(),
        "Installed by".into(),
        "Installed on".into(),
        "Status".into(),
    ]];
    for row in &info.rows {
        rows.push(vec![
            row.version.clone(),
            row.description.clone(),
            pum::changelog::deltas::type_label(
                row.kind,
                pum::changelog::deltas::DeltaLanguage::Python,
            ),
            row.installed_by.clone(),
            row.installed_on.clone(),
            if row.success { "Success" } else { "Failed" }.into(),
        ]);
    }
    print_table(&rows);
    if !info.installed {
        println!("({} does not exist: record a baseline first)", info.table);
    }
}

fn print_table(rows: &[Vec<String>]) {
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        println!("| {} |", printable(&padded.join(" | ")));
    };
    line(rows[0].clone());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for row in &rows[1..] {
        line(row.clone());
    }
}

/// Deltas as they run, on standard error; what code prints, on standard output.
struct Shown {
    out: Output,
}

impl Progress for Shown {
    fn delta(&mut self, what: &str) {
        self.out.info(format!("applying {what}"));
    }

    fn message(&mut self, text: &str) {
        println!("{}", printable(text));
    }
}

fn test_and_upgrade(
    config: &ZeroXConfig,
    args: TestAndUpgradeArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    let prod = service(&args.pg_service_prod, out)?;
    let test = service(&args.pg_service_test, out)?;
    let comp = service(&args.pg_service_comp, out)?;
    let (table, dirs) = config.deltas(args.deltas)?;
    let options = delta_options(&args.run)?;
    let workflow = TestAndUpgrade {
        prod: &prod,
        test: &test,
        comp: &comp,
        project: Project::Deltas {
            table: &table,
            dirs: &dirs,
            options,
            python: None,
        },
        dump_file: args.file.or_else(|| config.backup_file.clone()),
        keep_dump: args.keep_dump,
        dump: DumpOptions {
            exclude_schemas: args.ignores.exclude_schema.clone(),
            pg_dump: config.pg_dump_exe.clone(),
            ..DumpOptions::default()
        },
        restore: RestoreOptions {
            ignore_errors: args.ignore_errors,
            exclude_schemas: Vec::new(),
            pg_restore: config.pg_restore_exe.clone(),
            psql: None,
        },
        check: check_options(config, args.ignores)?,
    };
    run_workflow(&workflow, &args.pg_service_prod, args.yes, out)
}

/// Runs a test-and-upgrade, asking before prod is upgraded unless `yes`.
pub fn run_workflow(
    workflow: &TestAndUpgrade<'_>,
    prod: &str,
    yes: bool,
    out: Output,
) -> pum::Result<ExitCode> {
    let mut confirm = || yes || ask(&format!("Apply deltas to {prod}? [n]|y: "));
    let mut steps = StepLines { out };
    let outcome = workflow.run(&mut confirm, &mut steps)?;
    if let Some(report) = &outcome.differences {
        print!("{}", report.render_text(false));
        eprintln!(
            "pum: error: the upgraded test database differs from the comparison database: prod \
             ({prod}) was not upgraded"
        );
        return Ok(ExitCode::from(1));
    }
    if !outcome.upgraded {
        out.info(format!("prod ({prod}) was not upgraded: not confirmed"));
        return Ok(ExitCode::from(1));
    }
    out.info(format!(
        "prod ({prod}) upgraded from {} to {}",
        outcome.versions.0, outcome.versions.1
    ));
    Ok(ExitCode::SUCCESS)
}

/// Each step on its own line.
struct StepLines {
    out: Output,
}

impl Steps for StepLines {
    fn step(&mut self, what: &str) {
        self.out.info(format!("{what}..."));
    }

    fn done(&mut self, what: &str) {
        self.out.info(format!("  {what}"));
    }
}

/// Asks on standard error and reads the answer from standard input (a terminal, or `yes`
/// piped in as pum 0.x scripts do): `y` confirms, `n` or an empty line or the end of the
/// input declines; anything else asks again.
fn ask(prompt: &str) -> bool {
    let stdin = std::io::stdin();
    for _ in 0..10 {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => {
                eprintln!();
                return false;
            }
            Ok(_) => {}
        }
        match line.trim() {
            "y" | "Y" => return true,
            "" | "n" | "N" => return false,
            _ => eprintln!("please enter y or n."),
        }
    }
    false
}
