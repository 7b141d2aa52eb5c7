//! The ephemeral PostgreSQL server: what pum uses when no server is given.
//!
//! [`Server::attach`] returns a running server, starting it if needed. One server runs per
//! server directory, shared by every process that uses that directory — the test binaries
//! `cargo test` runs one after another, the process per test of `cargo nextest`, the `pum`
//! command line — and it stops by itself once nobody has used it for a while.
//!
//! - **Where.** `PUM_SERVER_DIR`, else `<cargo target dir>/pum/pg<major>` (the target
//!   directory is `CARGO_TARGET_DIR`, else the one holding the running executable, else
//!   `target/` above the current directory), else `<temp dir>/pum-<user>/pg<major>`. The
//!   data directory is `data/` inside it, with the server log in `data/postgres.log`.
//!   Templates built there survive from one `cargo test` to the next. The data directory
//!   itself lives in memory, in `/dev/shm/pum-<hash of the server directory>/data`, where
//!   there is a `/dev/shm` (`PUM_SERVER_MEMORY=0` keeps it in the server directory): on
//!   disk, every `CREATE DATABASE` and `DROP DATABASE` waits for the disk (100–300 ms a
//!   clone measured here), in memory they take 4–8 ms. It lasts until the machine restarts
//!   or `pum server stop --purge`. Deleting the server directory (`cargo clean`) deletes
//!   it too: at once when the server runs (its watchdog stops the server and deletes the
//!   data), else at the next attach of any pum server on the machine (each data home
//!   names its server directory in an `owner` file). [`status`] says where the data is
//!   and how big.
//! - **How.** `initdb` with trust authentication for the local socket, UTF8, no locale, no
//!   sync; `postgres` listening on a Unix socket only (no TCP port, so no port races), with
//!   fsync, synchronous_commit and full_page_writes off and 300 connections.
//! - **As whom.** When pum runs as root, the server runs as `PUM_SERVER_USER`, else
//!   `postgres`, else `nobody`, by setting the child's uid/gid. If that account cannot reach
//!   the server directory (a checkout under `/root`), the server lives in
//!   `<temp dir>/pum-<hash of the directory>/pg<major>` instead, and
//!   [`status`] says so.
//! - **Sharing.** Every attached process holds a shared lock on `clients.lock` for as
//!   long as its [`Server`] value lives (for [`Server::shared`], the whole process). A lock
//!   on `start.lock` decides who initialises and starts the server; the others wait and
//!   attach. PostgreSQL's own `postmaster.pid` keeps a second postmaster off the directory;
//!   a stale one left by a killed server is removed.
//! - **Lifetime.** A watchdog shell owns the postmaster. Once no process holds
//!   `clients.lock` — the kernel releases the lock of a process that exits or is killed —
//!   and no session is connected (so `psql` keeps it alive), it waits `PUM_SERVER_IDLE`
//!   seconds (default 60) and shuts the server down. [`stop`] stops it at once. A data
//!   directory deleted under a running server (`cargo clean`) makes the watchdog shut the
//!   server down; the next attach starts a new one.
//!
//! The server programs are found through `PUM_PG_BINDIR`, then `initdb` on `PATH`, then
//! `pg_config --bindir`, then the newest `/usr/lib/postgresql/<version>/bin`; the watchdog
//! needs `sh` and util-linux's `flock`.
//!
//! The server is Unix only (sockets, process groups, accounts, `/proc`). Elsewhere every
//! function here returns [`Error::Unsupported`] saying to set `PUM_TEST_DATABASE_URL` to a
//! server instead; the rest of the crate (connections, migrating, checking, the harness
//! against a given server) works everywhere.
//!
//! The rooms: [`ServerOptions`], [`Server`] and the public functions here; where a server
//! lives and whose it is in `layout`; the postmaster's life in `process`; the file locks
//! in `locks`; the programs and the account they run as in `programs`; `unix` joins them
//! into what this file exposes (`elsewhere` says no on other systems).

#[cfg(not(unix))]
mod elsewhere;
#[cfg(unix)]
mod layout;
#[cfg(unix)]
mod locks;
#[cfg(unix)]
mod process;
#[cfg(unix)]
mod programs;
#[cfg(unix)]
mod unix;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::settings;

#[cfg(not(unix))]
use elsewhere as sys;
#[cfg(unix)]
pub use programs::find_bindir;
#[cfg(unix)]
use unix as sys;

/// Where pum keeps copies of projects as released at git tags (upgrade tests):
/// `<cargo target dir>/pum/released`, or a per-user directory under the temp dir.
#[cfg(feature = "testing")]
pub(crate) fn released_dir() -> PathBuf {
    #[cfg(unix)]
    {
        layout::default_parent().join("released")
    }
    #[cfg(not(unix))]
    {
        std::env::temp_dir().join("pum-released")
    }
}

/// How long an unused server lives on by default.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(60);

/// The server's `max_connections` by default: room for parallel tests.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 300;

/// Where and how to run the server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The server directory; `None` for the default location (see the module docs).
    pub dir: Option<PathBuf>,
    /// How long the server lives on with no client and no session (applies when this
    /// attach starts the server).
    pub idle: Duration,
    /// The directory of `initdb`, `pg_ctl` and `postgres`; `None` to search.
    pub bindir: Option<PathBuf>,
    /// The account to run the server as when running as root; `None` for the default.
    pub user: Option<String>,
    /// Keep the data directory in memory (`/dev/shm`) rather than in `dir` (see the module
    /// docs; `PUM_SERVER_MEMORY=0` turns it off).
    pub memory: bool,
    /// The server's `max_connections` (applies when this attach starts the server).
    pub max_connections: u32,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            dir: None,
            idle: DEFAULT_IDLE,
            bindir: None,
            user: None,
            memory: true,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl ServerOptions {
    /// Options from `PUM_SERVER_DIR`, `PUM_SERVER_IDLE` (seconds), `PUM_PG_BINDIR`,
    /// `PUM_SERVER_USER`, `PUM_SERVER_MEMORY` and `PUM_SERVER_MAX_CONNECTIONS`.
    ///
    /// # Errors
    /// [`Error::Environment`] naming the variable whose value pum cannot use (a number
    /// that is not one, `PUM_SERVER_MEMORY` other than 1 or 0).
    pub fn from_env() -> Result<ServerOptions> {
        let idle = settings::duration("PUM_SERVER_IDLE", 0.., DEFAULT_IDLE)?;
        let max_connections =
            settings::bounded_number("PUM_SERVER_MAX_CONNECTIONS", 10.., DEFAULT_MAX_CONNECTIONS)?;
        Ok(ServerOptions {
            max_connections,
            dir: settings::path("PUM_SERVER_DIR"),
            idle,
            bindir: settings::path("PUM_PG_BINDIR"),
            user: settings::text("PUM_SERVER_USER")?,
            memory: settings::flag("PUM_SERVER_MEMORY", true)?,
        })
    }
}

/// A running server this process is attached to: while this value lives, the server
/// does not stop for being idle.
#[derive(Debug)]
pub struct Server {
    spec: ConnectionSpec,
    attachment: sys::Attachment,
}

impl Server {
    /// Attaches to the server in the directory `options` name, starting it if needed.
    ///
    /// # Errors
    /// [`Error::ToolNotFound`] without server programs, [`Error::Io`] or
    /// [`Error::ServerDirectory`] for an unusable directory, [`Error::LockTimeout`] when
    /// another process keeps starting or stopping it, [`Error::ServerStart`] with the end of
    /// the server log when it fails to start; [`Error::Unsupported`] on systems other than
    /// Unix.
    pub fn attach(options: &ServerOptions) -> Result<Server> {
        let attachment = sys::attach(options)?;
        Ok(Server {
            spec: attachment.spec(),
            attachment,
        })
    }

    /// The server for this process, configured by the environment
    /// ([`ServerOptions::from_env`]), attached on first use and kept until the process
    /// exits. A failure is remembered: every later call returns the same error at once.
    ///
    /// # Errors
    /// As [`Server::attach`], and [`Error::Environment`] for a malformed `PUM_SERVER_*` variable.
    pub fn shared() -> Result<&'static Server> {
        static SHARED: OnceLock<Result<Server>> = OnceLock::new();
        SHARED
            .get_or_init(|| ServerOptions::from_env().and_then(|options| Server::attach(&options)))
            .as_ref()
            .map_err(Error::clone)
    }

    /// Settings for the superuser `postgres` on the database `postgres`.
    pub fn spec(&self) -> &ConnectionSpec {
        &self.spec
    }

    /// A URL other tools accept: `psql "$(pum server url)"`.
    pub fn url(&self) -> String {
        self.spec.url()
    }

    /// The server directory (after any relocation).
    pub fn dir(&self) -> &Path {
        self.attachment.dir()
    }

    /// The data directory (`postgresql.conf`, `pg_hba.conf`, `postgres.log`).
    pub fn data_dir(&self) -> &Path {
        self.attachment.data_dir()
    }

    /// The directory holding the Unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.attachment.socket_dir()
    }

    /// The postmaster's process id, if it is running.
    pub fn pid(&self) -> Option<u32> {
        self.attachment.pid()
    }
}

/// The server the test harness uses: `PUM_TEST_DATABASE_URL` when set (a URL, keyword
/// string or service name), else the ephemeral server of this cargo project, attached
/// for the rest of the process ([`Server::shared`]). The database is the maintenance
/// database; `pum -p test/<name>` and `pum server psql <name>` reach a test's database.
///
/// # Errors
/// As [`ConnectionSpec::resolve`] for `PUM_TEST_DATABASE_URL`, as [`Server::shared`]
/// otherwise.
pub fn test_server() -> Result<ConnectionSpec> {
    match settings::text("PUM_TEST_DATABASE_URL")? {
        Some(target) if !target.trim().is_empty() => ConnectionSpec::resolve(&target),
        _ => Ok(Server::shared()?.spec().clone()),
    }
}

/// Stops the server in the directory `options` name, at once, whoever uses it.
/// Returns whether it was running.
///
/// # Errors
/// [`Error::Program`] when `pg_ctl stop` fails; [`Error::LockTimeout`] when another
/// process keeps starting or stopping it.
pub fn stop(options: &ServerOptions) -> Result<bool> {
    sys::stop(options)
}

/// Stops the server (as [`stop`]) and deletes its data: templates and every database.
/// Returns whether it was running.
///
/// # Errors
/// As [`stop`]; [`Error::Io`] when the data cannot be deleted.
pub fn purge(options: &ServerOptions) -> Result<bool> {
    sys::purge(options)
}

/// What [`status`] reports.
#[derive(Debug, Clone)]
pub struct ServerStatus {
    /// The server directory in use.
    pub dir: PathBuf,
    /// Why the server lives elsewhere than asked (`user postgres cannot reach …`).
    pub relocated: Option<String>,
    /// The directory that was asked for.
    pub requested_dir: PathBuf,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Whether the data directory is in memory (`/dev/shm`).
    pub in_memory: bool,
    /// The bytes the data directory takes (0 when there is none yet).
    pub data_size: u64,
    /// The URL other tools can use.
    pub url: String,
    /// The major version of the server programs.
    pub major_version: u32,
    /// The postmaster's pid when running.
    pub pid: Option<u32>,
    /// How many processes are attached (hold the clients lock).
    pub clients: usize,
    /// The account the server runs as.
    pub user: String,
}

/// `1.5 MB`, `312 MB`, `2.1 GB`: sizes as people read them (powers of 1,000, as `df -H`).
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// Reports on the server in the directory `options` name, without starting it.
///
/// # Errors
/// [`Error::ToolNotFound`] without server programs.
pub fn status(options: &ServerOptions) -> Result<ServerStatus> {
    sys::status(options)
}

impl fmt::Display for ServerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(pid) => writeln!(
                f,
                "running: PostgreSQL {} (pid {pid}, as {}), {} attached process(es)",
                self.major_version, self.user, self.clients
            )?,
            None => writeln!(f, "not running (PostgreSQL {})", self.major_version)?,
        }
        writeln!(f, "directory: {}", self.dir.display())?;
        if let Some(reason) = &self.relocated {
            writeln!(
                f,
                "relocated: {reason}, so the server lives in the directory above instead of {}",
                self.requested_dir.display()
            )?;
        }
        writeln!(
            f,
            "data: {} ({}{})",
            self.data_dir.display(),
            if self.in_memory { "in memory, " } else { "" },
            human_size(self.data_size)
        )?;
        writeln!(f, "log: {}", self.data_dir.join("postgres.log").display())?;
        write!(f, "url: {}", self.url)
    }
}
