//! The `pum` command line: argument parsing and printing around one library call each
//! (the library is the `pum` crate; this package only adds clap and indicatif).
//!
//! Exit status: 0 success; 1 when the answer is "no" (a declined confirmation);
//! 2 for any error, printed as one line on standard error.

mod app;
mod check;
mod db;
mod dump;
mod fleet;
mod lint;
mod migrate;
mod new;
mod prompt;
mod role;
mod server;
mod shell;
mod style;
mod test_cache;
mod workflow;
mod zero_x;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pum::ConnectionSpec;
use pum::internal::printable;

/// PostgreSQL Upgrades Manager.
#[derive(Debug, Parser)]
#[command(name = "pum", version, about, max_term_width = 100)]
pub struct Cli {
    /// The database to work on: a service name from pg_service.conf, a URL
    /// (postgresql://user@host/db) or a keyword string ("host=… dbname=…").
    /// Unset: the PG* environment variables (PGSERVICE, PGHOST, …) decide.
    #[arg(
        short = 'p',
        long = "pg-connection",
        visible_short_alias = 's',
        value_name = "CONNECTION"
    )]
    pub pg_connection: Option<String>,

    /// The project directory: .pum.yaml and the changelogs (default: the current directory).
    #[arg(short = 'd', long = "dir", value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,

    /// The configuration file (default: DIR/.pum.yaml); its paths stay relative to DIR.
    #[arg(
        short = 'c',
        long = "config",
        alias = "config_file",
        value_name = "FILE"
    )]
    pub config: Option<std::path::PathBuf>,

    /// Say more (the connection used).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Say only warnings and errors.
    #[arg(short, long, conflicts_with = "verbose", global = true)]
    pub quiet: bool,

    /// Run the command on every database of the server whose name matches this SQL LIKE
    /// pattern (tenant\_%), -p naming the server (install, upgrade, info, validate,
    /// current, check --changelogs).
    #[arg(
        long,
        value_name = "PATTERN",
        global = true,
        conflicts_with = "databases_from"
    )]
    pub databases: Option<String>,

    /// Like --databases, for the databases listed in FILE, one per line.
    #[arg(long, value_name = "FILE", global = true)]
    pub databases_from: Option<std::path::PathBuf>,

    /// With --databases: how many databases at once (each has its own session,
    /// transaction and lock).
    #[arg(long, value_name = "N", global = true, default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, drop and guard databases.
    Db {
        #[command(subcommand)]
        command: db::DbCommand,
    },
    /// Dump the database to a file with pg_dump (no owners, no privileges).
    Dump(dump::DumpArgs),
    /// Restore a dump into the database (pg_restore; psql for plain SQL dumps).
    Restore(dump::RestoreArgs),
    /// Record the version a database is at, without applying anything.
    Baseline(migrate::BaselineArgs),
    /// Install the module on a database: create the migrations table, apply the changelogs.
    Install(migrate::InstallArgs),
    /// Apply the changelogs above the database's current version.
    Upgrade(migrate::UpgradeArgs),
    /// Show every version: applied when, pending, files and whether they changed.
    Info(migrate::InfoArgs),
    /// Check that no applied file changed since it was applied (exit status 1 if one did).
    Validate(migrate::FormatArgs),
    /// Print the database's version, alone on one line (exit status 2 when nothing is
    /// installed).
    Current(migrate::FormatArgs),
    /// Write a new changelog file: changelogs/<version>/<NN>_<message>.sql (and with
    /// --autogenerate its SQL, from the difference between the changelogs and -p).
    New(new::NewArgs),
    /// Undo every version above --to with their down files (changelogs/<version>/down),
    /// newest first, in one transaction, and remove their rows.
    Downgrade(migrate::DowngradeArgs),
    /// Compare the schema of the database with another's; exit status 1 if they differ.
    Check(check::CheckArgs),
    /// Run each changelog file on the schema of the version before it (in a scratch
    /// database on the ephemeral server, never on -p) and report what would hurt a live
    /// database: rewrites, blocking index builds, validations, NOT NULL scans, data loss,
    /// renames; exit status 1 with an error-severity finding. With -p, only the versions
    /// it has not applied.
    Lint(lint::LintArgs),
    /// Dump prod (-p), restore it into --test, upgrade test, compare it with --comp, then
    /// (confirmed, or --yes) upgrade prod in one transaction; exit status 1 when test and
    /// comp differ or prod is not upgraded.
    TestAndUpgrade(workflow::TestAndUpgradeArgs),
    /// Manage the roles .pum.yaml declares, and login roles.
    Role(role::RoleArgs),
    /// Run the application's hooks on an installed module: create, drop or recreate.
    App(app::AppArgs),
    /// Uninstall the module: run its uninstall hooks and drop the migrations table.
    Uninstall(app::UninstallArgs),
    /// Python pum's cache of Python dependencies: this pum installs none (see the README).
    #[command(hide = true)]
    Cache {
        /// path, list or clear.
        action: String,
        /// Skip the confirmation.
        #[arg(long)]
        force: bool,
    },
    /// Run pum's ephemeral PostgreSQL server, for tests and interactive work.
    Server {
        #[command(subcommand)]
        command: server::ServerCommand,
    },
    /// Print the completion script for a shell (bash, zsh, fish, powershell, elvish).
    Completions(shell::CompletionsArgs),
    /// Print a command's manual page (roff: pum man | man -l -), or write them all.
    Man(shell::ManArgs),
    /// See and clean what the test harness keeps on a server: pum test list, pum test prune.
    Test {
        #[command(subcommand)]
        command: test_cache::TestCommand,
    },
}

/// How much to print, from `-q`/`-v`.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    verbosity: i8,
}

impl Output {
    /// A progress or result message (hidden by `-q`).
    pub fn info(&self, message: impl AsRef<str>) {
        if self.verbosity >= 0 {
            eprintln!("{}", printable(message.as_ref()));
        }
    }

    /// A detail (shown with `-v`).
    pub fn detail(&self, message: impl AsRef<str>) {
        if self.verbosity > 0 {
            eprintln!("{}", printable(message.as_ref()));
        }
    }

    /// Whether `-q` was given.
    pub fn is_quiet(&self) -> bool {
        self.verbosity < 0
    }

    /// A warning (always shown).
    pub fn warn(&self, message: impl AsRef<str>) {
        eprintln!("pum: warning: {}", printable(message.as_ref()));
    }
}

/// clap's error in one line, like every other error: its first line without the prefix,
/// what it lists under it (the missing arguments, the possible values), and the help of
/// the command it was reading, taken from its usage line (`see pum server psql --help`).
pub(crate) fn usage_error(error: &clap::Error) -> String {
    let text = error.render().to_string();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let mut message = first.strip_prefix("error: ").unwrap_or(first).to_string();
    let listed: Vec<&str> = lines
        .take_while(|line| line.starts_with("  ") && !line.trim_start().starts_with("tip:"))
        .map(str::trim)
        .collect();
    if !listed.is_empty() {
        message = format!("{} {}", message.trim_end(), listed.join(", "));
    }
    for tip in text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("tip: "))
    {
        message = format!("{message}; {tip}");
    }
    let command = text
        .lines()
        .find_map(|line| line.strip_prefix("Usage: "))
        .map(|usage| {
            usage
                .split_whitespace()
                .take_while(|word| !word.starts_with(['[', '<', '-']))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|command| command.starts_with("pum"))
        .unwrap_or_else(|| "pum".to_string());
    format!("{message} (see {command} --help)")
}

/// Runs the command line and turns the outcome into an exit status.
fn main() -> ExitCode {
    die_quietly_on_closed_pipe();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // pum 0.x printed its version with -v alone (here -v is --verbose).
    if args.len() == 2 && args[1] == "-v" {
        println!("pum {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if zero_x::detect(&args) {
        let out = Output { verbosity: 0 };
        return match zero_x::run(args, out) {
            Ok(code) => code,
            Err(err) => {
                eprintln!("pum: error: {}", printable(&err.to_string()));
                ExitCode::from(failure_status(&err))
            }
        };
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            eprintln!("pum: error: {}", printable(&usage_error(&e)));
            return ExitCode::from(2);
        }
    };
    let out = Output {
        verbosity: if cli.quiet { -1 } else { cli.verbose as i8 },
    };
    match run(cli, out) {
        Ok(code) => code,
        Err(err) => {
            // Names and messages may hold control characters: shown escaped.
            eprintln!("pum: error: {}", printable(&err.to_string()));
            ExitCode::from(failure_status(&err))
        }
    }
}

/// The exit status of a failed command: 1 when the changelogs are fine but what the
/// database held or was doing stopped the run, so that a rerun can succeed once that
/// changes: rows that break a constraint or a unique index (SQLSTATE class 23, as in a
/// `CREATE UNIQUE INDEX CONCURRENTLY` over duplicates), a lock not granted in time
/// (55P03), a statement timeout (57014), a serialization failure or deadlock (class 40).
/// The run was rolled back (or, for a file outside the transaction, left no invalid
/// index) and nothing was recorded. Everything else is 2: bad input (options, a changelog
/// the server refuses as written), or nothing could be done.
fn failure_status(err: &pum::Error) -> u8 {
    match err {
        pum::Error::Statement {
            code: Some(code), ..
        } if code.starts_with("23")
            || code.starts_with("40")
            || code == "55P03"
            || code == "57014" =>
        {
            1
        }
        _ => 2,
    }
}

fn run(cli: Cli, out: Output) -> pum::Result<ExitCode> {
    let pg_connection = cli.pg_connection.as_deref();
    let project = migrate::Project {
        dir: cli.dir,
        config: cli.config,
    };
    if let Some(selection) = fleet::selection(cli.databases, cli.databases_from)? {
        let fleet = fleet::Fleet {
            selection,
            jobs: usize::from(cli.jobs),
        };
        return fleet::run(
            &connection(pg_connection, out)?,
            &project,
            cli.command,
            fleet,
            out,
        );
    }
    let table_format = match &cli.command {
        Command::Install(args) => Some(args.format),
        Command::Upgrade(args) => Some(args.format),
        _ => None,
    };
    if table_format == Some(migrate::Format::Json) {
        return Err(pum::Error::Unsupported {
            message: "--format json is the format of the table --databases prints; without \
                      --databases, use pum info --format json"
                .into(),
        });
    }
    match cli.command {
        Command::Db { command } => {
            db::run(&connection(pg_connection, out)?, &project, command, out)
        }
        Command::Dump(args) => dump::run_dump(&connection(pg_connection, out)?, args, out),
        Command::Restore(args) => dump::run_restore(&connection(pg_connection, out)?, args, out),
        Command::Server { command } => server::run(command, out),
        Command::Completions(args) => shell::completions(args),
        Command::Man(args) => shell::man(args, out),
        Command::Test { command } => test_cache::run(pg_connection, command, out),
        Command::Baseline(args) => {
            migrate::baseline(&connection(pg_connection, out)?, &project, args, out)
        }
        Command::Install(args) => {
            migrate::install(&connection(pg_connection, out)?, &project, args, out)
        }
        Command::Upgrade(args) => {
            migrate::upgrade(&connection(pg_connection, out)?, &project, args, out)
        }
        Command::Info(args) => migrate::info(&connection(pg_connection, out)?, &project, args),
        Command::Check(args) => check::run(&connection(pg_connection, out)?, &project, args, out),
        Command::Lint(args) => lint::run(pg_connection, &project, args, out),
        Command::New(args) => {
            let spec = if args.autogenerate {
                Some(connection(pg_connection, out)?)
            } else {
                None
            };
            new::run(spec.as_ref(), &project, args, out)
        }
        Command::Current(args) => {
            migrate::current(&connection(pg_connection, out)?, &project, args.format)
        }
        Command::Downgrade(args) => {
            migrate::downgrade(&connection(pg_connection, out)?, &project, args, out)
        }
        Command::TestAndUpgrade(args) => {
            workflow::run(&connection(pg_connection, out)?, &project, args, out)
        }
        Command::Validate(args) => {
            migrate::validate(&connection(pg_connection, out)?, &project, args.format, out)
        }
        Command::Role(args) => role::run(&connection(pg_connection, out)?, &project, args, out),
        Command::App(args) => app::app(&connection(pg_connection, out)?, &project, args, out),
        Command::Uninstall(args) => {
            app::uninstall(&connection(pg_connection, out)?, &project, args, out)
        }
        Command::Cache { .. } => Err(pum::Error::Unsupported {
            message: "pum cache: this pum installs no Python dependencies, so it keeps no \
                      cache; install what the project's Python hooks need (dependencies: in \
                      .pum.yaml) in the Python it runs them with (PUM_PYTHON, default python3)"
                .into(),
        }),
    }
}

/// Resolves `-p` (or the environment) and prints what resolving noticed.
fn connection(pg_connection: Option<&str>, out: Output) -> pum::Result<ConnectionSpec> {
    let spec = resolve(pg_connection.unwrap_or(""), out)?;
    for warning in spec.warnings() {
        out.warn(warning);
    }
    out.detail(format!("connection: {spec}"));
    Ok(spec)
}

/// Resolves a connection given on the command line (`-p`, `--pg-compare`, `--test`…):
/// a service name, URL or keyword string, or `test` / `test/<database>` for the server
/// the test harness uses (`PUM_TEST_DATABASE_URL`, else this cargo project's ephemeral
/// server, kept running while the command runs). A service of the same name in a
/// pg_service.conf wins, with a warning.
pub fn resolve(input: &str, out: Output) -> pum::Result<ConnectionSpec> {
    let test_database = match input.trim() {
        "test" => Some(None),
        text => text.strip_prefix("test/").map(Some),
    };
    match (ConnectionSpec::resolve(input), test_database) {
        (Err(pum::Error::ServiceNotFound { .. }), Some(database)) => {
            let server = pum::server::test_server()?;
            Ok(match database {
                Some(name) => {
                    pum::quote_identifier("database", name)?;
                    server.with_dbname(name)
                }
                None => server,
            })
        }
        (Ok(spec), Some(_)) => {
            out.warn(format!(
                "\"{input}\" is the service of that name in pg_service.conf, not the test \
                 server (reach that with -p \"$(pum server url)\")"
            ));
            Ok(spec)
        }
        (result, _) => result,
    }
}

/// `pum info | head -1`: once the reader is gone, end quietly as other Unix tools do
/// (killed by SIGPIPE) instead of panicking on the failed write. Rust ignores SIGPIPE by
/// default; this restores the system's default action.
fn die_quietly_on_closed_pipe() {
    #[cfg(unix)]
    {
        unsafe extern "C" {
            fn signal(signum: std::ffi::c_int, handler: usize) -> usize;
        }
        const SIGPIPE: std::ffi::c_int = 13;
        const SIG_DFL: usize = 0;
        // SAFETY: setting a signal's action to the default is async-signal-safe and
        // touches no Rust state.
        unsafe {
            signal(SIGPIPE, SIG_DFL);
        }
    }
}
