//! `pum baseline|install|upgrade|info|validate`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use pum::internal::printable;
use pum::migrate::{Info, MigrationReport, Progress, VersionStatus};
use pum::{Config, ConnectionSpec, MigrateOptions, TransactionMode, Upgrader, Version};

use super::Output;

/// Where the project is: `-d DIR` and `-c FILE`.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub dir: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

impl Project {
    /// The configuration when there is one (`-c`, or `.pum.yaml` in the directory); a
    /// configuration that is there but broken is an error, not a reason to do without.
    pub(crate) fn load_if_any(&self) -> pum::Result<Option<Config>> {
        let dir = self.dir.clone().unwrap_or_else(|| PathBuf::from("."));
        if self.config.is_none() && !dir.join(pum::config::CONFIG_FILE).exists() {
            return Ok(None);
        }
        self.load().map(Some)
    }

    pub(crate) fn load(&self) -> pum::Result<Config> {
        let dir = self.dir.clone().unwrap_or_else(|| PathBuf::from("."));
        if dir.to_string_lossy().contains("://") {
            // Python pum 1.9 downloads a module given as a URL into its cache.
            return Err(pum::Error::Unsupported {
                message: format!(
                    "-d {}: this pum reads a module from a directory, not a URL; download or \
                     clone the module and give its directory",
                    printable(&dir.to_string_lossy())
                ),
            });
        }
        match &self.config {
            // Like Python pum: paths in the configuration stay relative to -d.
            Some(file) => Config::load_in(file, &dir),
            None => Config::from_dir(&dir),
        }
    }
}

/// Options shared by install and upgrade.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A parameter value (repeatable): -p SRID 2056.
    #[arg(short = 'p', long = "parameter", num_args = 2, allow_negative_numbers = true, value_names = ["NAME", "VALUE"])]
    pub parameters: Vec<String>,
    /// Apply versions up to this one (inclusive).
    #[arg(short = 'u', long, value_name = "VERSION", value_parser = parse_version)]
    pub max_version: Option<Version>,
    /// Record the versions as beta testing (later upgrades then need --force).
    #[arg(long)]
    pub beta_testing: bool,
    /// One transaction for the whole run, or one per version.
    #[arg(long, value_enum, default_value_t = Transaction::Whole)]
    pub transaction: Transaction,
    /// Seconds to wait for another pum working on the same database (pum's own lock;
    /// this was --lock-timeout before it meant PostgreSQL's).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub migration_lock_wait: u64,
    /// PostgreSQL's lock_timeout for the run (500ms, 5s, 2min): a statement that waits
    /// longer for a table's lock fails, the run rolls back and the error names the
    /// session holding the lock (default: pum.lock_timeout of .pum.yaml, else none).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, allow_hyphen_values = true)]
    pub lock_timeout: Option<Duration>,
    /// Try the whole run again this many times after a lock timeout, waiting 1 s, 2 s,
    /// 4 s… (with jitter) in between (default: pum.lock_retries, else 0).
    #[arg(long, value_name = "N")]
    pub lock_retries: Option<u32>,
    /// PostgreSQL's statement_timeout for the run (500ms, 5s, 2min): a statement that
    /// runs longer fails and the run rolls back (default: pum.statement_timeout, else none).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, allow_hyphen_values = true)]
    pub statement_timeout: Option<Duration>,
    /// Do not run the application's drop hooks.
    #[arg(long)]
    pub skip_drop_app: bool,
    /// Do not run the application's create hooks.
    #[arg(long)]
    pub skip_create_app: bool,
    /// Do not create the configuration's roles (grants then go to the roles that exist).
    #[arg(long)]
    pub skip_roles: bool,
    /// Do not grant the roles their permissions.
    #[arg(long)]
    pub skip_grant: bool,
}

/// `--transaction` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Transaction {
    /// Everything or nothing.
    Whole,
    /// Commit each version.
    PerVersion,
    /// Commit each file, as pum 0.x did (delta directories only).
    PerFile,
}

impl Transaction {
    /// The library's mode.
    pub fn mode(self) -> TransactionMode {
        match self {
            Transaction::Whole => TransactionMode::Whole,
            Transaction::PerVersion => TransactionMode::PerVersion,
            Transaction::PerFile => TransactionMode::PerFile,
        }
    }
}

/// `pum install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Install although another schema holds a migrations table.
    #[arg(long)]
    pub allow_multiple_modules: bool,
    /// Load this demo data set after the install, in the same transaction.
    #[arg(short = 'd', long, value_name = "NAME")]
    pub demo_data: Option<String>,
    /// The final table's format, with --databases (text or json).
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `pum upgrade`.
#[derive(Debug, Args)]
pub struct UpgradeArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Upgrade a database installed in beta-testing mode.
    #[arg(long)]
    pub force: bool,
    /// Do not require every version up to the current one to be recorded.
    #[arg(long)]
    pub skip_baseline_check: bool,
    /// Fail when an applied file changed since it was applied (default: warn).
    #[arg(long)]
    pub strict: bool,
    /// Record the pending versions without running them (the database holds them
    /// already, as after `pum new --autogenerate`; Alembic's stamp).
    #[arg(long)]
    pub record_only: bool,
    /// The final table's format, with --databases (text or json).
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `pum validate` and `pum current`.
#[derive(Debug, Args)]
pub struct FormatArgs {
    /// Output format: text, or json (one object; with --databases, the table as an
    /// array).
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `pum baseline`.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// The version the database is at.
    #[arg(short = 'b', long = "baseline", value_name = "VERSION", value_parser = parse_version)]
    pub version: Version,
    /// Create the migrations table if it does not exist.
    #[arg(long)]
    pub create_table: bool,
    /// Create it although another schema holds a migrations table.
    #[arg(long)]
    pub allow_multiple_modules: bool,
}

/// `pum downgrade`.
#[derive(Debug, Args)]
pub struct DowngradeArgs {
    /// The version to go back to (it must be recorded).
    #[arg(long = "to", value_name = "VERSION", value_parser = parse_version)]
    pub to: Version,
    /// Downgrade although the database holds beta-testing versions.
    #[arg(long)]
    pub force: bool,
    /// Do not run the application's drop hooks first.
    #[arg(long)]
    pub skip_drop_app: bool,
    /// Do not run the application's create hooks at the end.
    #[arg(long)]
    pub skip_create_app: bool,
    /// Do not grant the roles their permissions at the end.
    #[arg(long)]
    pub skip_grant: bool,
    /// Seconds to wait for another pum working on the same database.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub migration_lock_wait: u64,
}

/// `pum info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Text,
    /// JSON for programs.
    Json,
}

pub(crate) fn parse_version(text: &str) -> Result<Version, String> {
    Version::parse(text).map_err(|e| e.to_string())
}

/// A duration as `--lock-timeout` takes it; a bare number, which meant seconds of the
/// migration lock before, points at `--migration-lock-wait`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    pum::config::parse_duration(text).map_err(|message| {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            format!(
                "{message}; to wait for another pum working on the database, give \
                 --migration-lock-wait SECONDS"
            )
        } else {
            message
        }
    })
}

pub(crate) fn options(run: RunArgs) -> MigrateOptions {
    MigrateOptions {
        max_version: run.max_version,
        parameters: run
            .parameters
            .chunks(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect(),
        beta_testing: run.beta_testing,
        transaction: run.transaction.mode(),
        lock_timeout: Duration::from_secs(run.migration_lock_wait),
        statement_lock_timeout: run.lock_timeout,
        statement_timeout: run.statement_timeout,
        lock_retries: run.lock_retries,
        skip_drop_app: run.skip_drop_app,
        skip_create_app: run.skip_create_app,
        skip_roles: run.skip_roles,
        skip_grant: run.skip_grant,
        ..MigrateOptions::default()
    }
}

/// A progress bar per file on a terminal, a line per file otherwise.
pub(crate) struct Shown {
    out: Output,
    bar: Option<ProgressBar>,
}

impl Shown {
    pub(crate) fn new(out: Output) -> Shown {
        Shown { out, bar: None }
    }
}

impl Progress for Shown {
    fn begin(&mut self, files: usize) {
        if self.out.is_quiet() || !crate::style::escapes(crate::style::Stream::Stderr) {
            return;
        }
        let bar = ProgressBar::new(files as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
            bar.set_style(style);
        }
        self.bar = Some(bar);
    }

    fn file(&mut self, version: &Version, name: &str) {
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!("{version}: {name}"));
                bar.inc(1);
            }
            None => self.out.info(format!("applying {version}: {name}")),
        }
    }

    fn undo(&mut self, version: &Version, name: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(format!("undoing {version}: {name}")),
            None => self.out.info(format!("undoing {version}: {name}")),
        }
    }

    fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn message(&mut self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(printable(text)),
            None => self.out.info(text),
        }
    }
}

fn report(out: Output, report: &MigrationReport, verb: &str) {
    for warning in &report.warnings {
        out.warn(warning);
    }
    match report.applied.last() {
        Some(last) => out.info(format!(
            "{verb} {} version(s) ({} file(s)); now at {last}",
            report.applied.len(),
            report.files
        )),
        None => out.info(format!(
            "nothing to apply; at {}",
            report.from.as_deref().unwrap_or("-")
        )),
    }
}

pub fn install(
    spec: &ConnectionSpec,
    project: &Project,
    args: InstallArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    let config = project.load()?;
    let upgrader = Upgrader::new(&config, spec)?;
    let options = MigrateOptions {
        allow_multiple_modules: args.allow_multiple_modules,
        demo_data: args.demo_data,
        ..options(args.run)
    };
    let mut shown = Shown::new(out);
    let done = upgrader.install(&options, &mut shown);
    shown.end();
    report(out, &done?, "installed");
    Ok(ExitCode::SUCCESS)
}

pub fn upgrade(
    spec: &ConnectionSpec,
    project: &Project,
    args: UpgradeArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    let config = project.load()?;
    let upgrader = Upgrader::new(&config, spec)?;
    let options = MigrateOptions {
        force: args.force,
        skip_baseline_check: args.skip_baseline_check,
        strict: args.strict,
        record_only: args.record_only,
        ..options(args.run)
    };
    let mut shown = Shown::new(out);
    let done = upgrader.upgrade(&options, &mut shown);
    shown.end();
    let verb = if args.record_only {
        "recorded without running"
    } else {
        "applied"
    };
    report(out, &done?, verb);
    Ok(ExitCode::SUCCESS)
}

pub fn baseline(
    spec: &ConnectionSpec,
    project: &Project,
    args: BaselineArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    let config = project.load()?;
    let upgrader = Upgrader::new(&config, spec)?;
    upgrader.baseline(
        &args.version,
        &pum::BaselineOptions {
            create_table: args.create_table,
            allow_multiple_modules: args.allow_multiple_modules,
        },
    )?;
    out.info(format!(
        "recorded baseline {} in {}",
        args.version,
        upgrader.table().name()
    ));
    Ok(ExitCode::SUCCESS)
}

pub fn info(spec: &ConnectionSpec, project: &Project, args: InfoArgs) -> pum::Result<ExitCode> {
    let config = project.load()?;
    let info = Upgrader::new(&config, spec)?.info()?;
    match args.format {
        Format::Json => print_json(&serde_json::to_value(&info).unwrap_or_default()),
        Format::Text => print!("{}", render_info(&info, &config.base_dir)),
    }
    Ok(ExitCode::SUCCESS)
}

/// `pum current`: the version alone, or with `--format json`
/// `{"table", "installed", "version"}`; nothing installed is still exit status 2 (the
/// error on standard error), with `installed: false` and `version: null` in JSON.
pub fn current(spec: &ConnectionSpec, project: &Project, format: Format) -> pum::Result<ExitCode> {
    let config = project.load()?;
    let upgrader = Upgrader::new(&config, spec)?;
    let current = upgrader.current();
    if format == Format::Json {
        let installed = match &current {
            Ok(_) | Err(pum::Error::VersionConflict(_)) => Some(true),
            Err(pum::Error::NotInstalled { .. }) => Some(false),
            Err(_) => None,
        };
        if let Some(installed) = installed {
            print_json(&serde_json::json!({
                "table": upgrader.table().name(),
                "installed": installed,
                "version": current.as_ref().ok().map(Version::to_string),
            }));
        }
    }
    let current = current?;
    if format == Format::Text {
        println!("{current}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `value` on standard output, indented, with a final newline.
fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

pub fn downgrade(
    spec: &ConnectionSpec,
    project: &Project,
    args: DowngradeArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    let config = project.load()?;
    let upgrader = Upgrader::new(&config, spec)?;
    let options = pum::DowngradeOptions {
        force: args.force,
        skip_drop_app: args.skip_drop_app,
        skip_create_app: args.skip_create_app,
        skip_grant: args.skip_grant,
        lock_timeout: Duration::from_secs(args.migration_lock_wait),
    };
    let mut shown = Shown::new(out);
    let done = upgrader.downgrade(&args.to, &options, &mut shown);
    shown.end();
    let done = done?;
    for warning in &done.warnings {
        out.warn(warning);
    }
    if done.applied.is_empty() {
        out.info(format!("nothing to undo; at {}", args.to));
    } else {
        out.info(format!(
            "undid {} ({} down file(s)); now at {}",
            done.applied.join(", "),
            done.files,
            args.to
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// `pum validate`: the files that changed, one a line, or with `--format json`
/// `{"table", "installed", "valid", "files": [{"file", "status"}]}` (status: changed,
/// missing or added); exit status 1 when one did, 2 when nothing is installed.
pub fn validate(
    spec: &ConnectionSpec,
    project: &Project,
    format: Format,
    out: Output,
) -> pum::Result<ExitCode> {
    let config = project.load()?;
    let upgrader = Upgrader::new(&config, spec)?;
    let changed = upgrader.validate();
    if format == Format::Json {
        let files: Vec<_> = changed
            .iter()
            .flatten()
            .map(|line| {
                // The library's `name (status)`.
                let (file, status) = line.rsplit_once(" (").unwrap_or((line, "changed)"));
                serde_json::json!({"file": file, "status": status.trim_end_matches(')')})
            })
            .collect();
        if matches!(&changed, Ok(_) | Err(pum::Error::NotInstalled { .. })) {
            print_json(&serde_json::json!({
                "table": upgrader.table().name(),
                "installed": changed.is_ok(),
                "valid": changed.as_ref().is_ok_and(Vec::is_empty),
                "files": files,
            }));
        }
    }
    let changed = changed?;
    if changed.is_empty() {
        out.info("every applied file is unchanged");
        return Ok(ExitCode::SUCCESS);
    }
    if format == Format::Text {
        for file in &changed {
            println!("{}", printable(file));
        }
    }
    out.info(format!("{} applied file(s) changed since", changed.len()));
    Ok(ExitCode::from(1))
}

/// The `info` table.
fn render_info(info: &Info, _base: &Path) -> String {
    let mut text = String::new();
    let module = info.module.as_deref().map(printable);
    if !info.installed {
        text.push_str(&format!("{} does not exist: not installed\n", info.table));
    } else {
        text.push_str(&format!(
            "module {} at version {} ({})\n",
            module.as_deref().unwrap_or("-"),
            info.current_version.as_deref().unwrap_or("-"),
            info.table
        ));
    }
    let width = info
        .versions
        .iter()
        .map(|v| v.version.len())
        .max()
        .unwrap_or(7)
        .max(7);
    text.push_str(&format!(
        "{:<width$}  {:<12}  {:<19}  files\n",
        "version", "status", "installed"
    ));
    for version in &info.versions {
        let status = match version.status {
            VersionStatus::Applied => "applied",
            VersionStatus::Baseline => "baseline",
            VersionStatus::Skipped => "skipped",
            VersionStatus::Pending => "pending",
            VersionStatus::NoChangelog => "no changelog",
        };
        let status = if version.beta_testing {
            format!("{status} beta")
        } else {
            status.to_string()
        };
        let date = version
            .date_installed
            .as_deref()
            .map(|d| d.get(..19).unwrap_or(d))
            .unwrap_or("-");
        let files: Vec<String> = version
            .files
            .iter()
            .map(|f| {
                let mut notes = Vec::new();
                match f.status {
                    pum::migrate::FileStatus::Changed => notes.push("CHANGED"),
                    pum::migrate::FileStatus::Missing => notes.push("MISSING"),
                    pum::migrate::FileStatus::Unknown => notes.push("no checksum"),
                    _ => {}
                }
                if f.no_transaction {
                    notes.push("no transaction");
                }
                let short = printable(f.name.rsplit('/').next().unwrap_or(&f.name));
                if notes.is_empty() {
                    short.to_string()
                } else {
                    format!("{short} ({})", notes.join(", "))
                }
            })
            .collect();
        text.push_str(&format!(
            "{:<width$}  {:<12}  {:<19}  {}\n",
            version.version,
            status,
            date,
            if files.is_empty() {
                "-".to_string()
            } else {
                files.join(", ")
            }
        ));
    }
    text
}
