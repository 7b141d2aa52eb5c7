//! `pum server start|stop|status|url|attach`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use pum::server::{self, Server, ServerOptions};

use super::Output;

/// `pum server status`'s exit status when the server does not run (pg_ctl's).
const NOT_RUNNING: u8 = 3;

/// `pum server …` commands.
#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Start the ephemeral server (or find it running) and print its URL.
    Start(Place),
    /// Stop the server at once, whoever is using it.
    Stop(StopArgs),
    /// Say whether the server runs, where, as whom, and how to reach it (exit status 3 when
    /// it does not run, as pg_ctl status).
    Status(Dir),
    /// Print the server's URL, for other tools: psql "$(pum server url)".
    Url(Dir),
    /// Start or find the server and keep it alive until this command is interrupted.
    Attach(Place),
    /// Open psql on a database of the server (default: postgres), starting the server if
    /// needed and keeping it alive while psql runs: pum server psql pum_t_orders_1a2b.
    /// Arguments after -- go to psql: pum server psql mydb -- -c 'select 1'.
    Psql(PsqlArgs),
}

/// `pum server psql`.
#[derive(Debug, Args)]
pub struct PsqlArgs {
    #[command(flatten)]
    pub dir: Dir,
    /// The database (a kept test database, say); default: postgres.
    #[arg(value_name = "DATABASE")]
    pub database: Option<String>,
    /// Arguments for psql.
    #[arg(last = true, value_name = "PSQL ARGS")]
    pub psql_args: Vec<std::ffi::OsString>,
}

/// Which server.
#[derive(Debug, Args)]
pub struct Dir {
    /// The server directory (default: PUM_SERVER_DIR, else <cargo target dir>/pum/pg<major>).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `pum server stop`.
#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub dir: Dir,
    /// Delete the server's data too (templates and every database).
    #[arg(long)]
    pub purge: bool,
}

/// Which server, and how long it lives on unused.
#[derive(Debug, Args)]
pub struct Place {
    #[command(flatten)]
    pub dir: Dir,
    /// Seconds the server lives on once no process uses it and no session is connected
    /// (default: PUM_SERVER_IDLE, else 60); applies when this command starts it.
    #[arg(long, value_name = "SECONDS")]
    pub idle: Option<u64>,
}

fn options(dir: Dir, idle: Option<u64>) -> pum::Result<ServerOptions> {
    let mut options = ServerOptions::from_env()?;
    if let Some(dir) = dir.dir {
        options.dir = Some(dir);
    }
    if let Some(idle) = idle {
        options.idle = Duration::from_secs(idle);
    }
    Ok(options)
}

pub fn run(command: ServerCommand, out: Output) -> pum::Result<ExitCode> {
    match command {
        ServerCommand::Start(place) => {
            let options = options(place.dir, place.idle)?;
            let server = Server::attach(&options)?;
            out.info(format!(
                "server running (pid {}) in {}; it stops {} s after its last user",
                server.pid().unwrap_or_default(),
                server.dir().display(),
                options.idle.as_secs()
            ));
            println!("{}", server.url());
        }
        ServerCommand::Stop(args) => {
            let options = options(args.dir, None)?;
            let was_running = if args.purge {
                server::purge(&options)?
            } else {
                server::stop(&options)?
            };
            if was_running {
                out.info("server stopped");
            } else {
                out.info("server was not running");
            }
        }
        ServerCommand::Status(dir) => {
            let status = server::status(&options(dir, None)?)?;
            println!("{status}");
            if status.pid.is_none() {
                return Ok(ExitCode::from(NOT_RUNNING));
            }
        }
        ServerCommand::Url(dir) => {
            let status = server::status(&options(dir, None)?)?;
            if status.pid.is_none() {
                out.warn("the server is not running; start it with: pum server start");
            }
            println!("{}", status.url);
        }
        ServerCommand::Attach(place) => {
            let options = options(place.dir, place.idle)?;
            let server = Server::attach(&options)?;
            out.info(format!(
                "attached to the server (pid {}) in {}; interrupt to detach",
                server.pid().unwrap_or_default(),
                server.dir().display()
            ));
            println!("{}", server.url());
            loop {
                std::thread::park();
            }
        }
        ServerCommand::Psql(args) => return psql(args),
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs psql on the server, attached so that the server does not stop under it; its
/// exit status is psql's.
fn psql(args: PsqlArgs) -> pum::Result<ExitCode> {
    let psql = pum::dump::find_tool("psql", None)?;
    let server = Server::attach(&options(args.dir, None)?)?;
    let database = args.database.as_deref().unwrap_or("postgres");
    pum::quote_identifier("database", database)?;
    if !pum::database_exists(server.spec(), database)? {
        return Err(pum::Error::DatabaseNotFound {
            name: database.to_string(),
            server: server.dir().display().to_string(),
            hint: test_databases(server.spec())?,
        });
    }
    let mut command = std::process::Command::new(&psql);
    server.spec().with_dbname(database).apply_to(&mut command);
    let status = command
        .args(&args.psql_args)
        .status()
        .map_err(|e| pum::Error::io(&psql, e))?;
    drop(server);
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::from(1),
    })
}

/// What to say after a database that does not exist: the test databases there are.
fn test_databases(spec: &pum::ConnectionSpec) -> pum::Result<String> {
    let names = pum::database::database_names(spec, "pum_t_")?;
    Ok(if names.is_empty() {
        "no test database is kept there".into()
    } else {
        format!("its test databases: {}", names.join(", "))
    })
}
