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
//!   or `pum server stop --purge`; deleting the server directory (`cargo clean`) deletes
//!   it at the next start.
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

mod programs;

use std::fmt;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::connect::ConnectionSpec;
use crate::error::{Error, Result, one_line};
use crate::os_user::{self, Account};

pub use programs::find_bindir;
use programs::{can_traverse, command_as, major_version, server_account};

/// How long an unused server lives on by default.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(60);

/// How long to wait for another process that is starting or stopping the server.
const LOCK_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a starting server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The marker pum leaves in data directories it created, and only deletes those.
const MARKER: &str = "pum-server";

/// The port number in the socket's name; there is no TCP port.
const PORT: u16 = 5432;

/// Longest socket path kept inside the server directory (the system limit is 107 bytes).
const MAX_SOCKET_PATH: usize = 100;

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
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            dir: None,
            idle: DEFAULT_IDLE,
            bindir: None,
            user: None,
            memory: true,
        }
    }
}

impl ServerOptions {
    /// Options from `PUM_SERVER_DIR`, `PUM_SERVER_IDLE` (seconds), `PUM_PG_BINDIR` and
    /// `PUM_SERVER_USER`.
    ///
    /// # Errors
    /// [`Error::ConnectionSetting`] naming `PUM_SERVER_IDLE` when it is not whole seconds.
    pub fn from_env() -> Result<ServerOptions> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let idle = match var("PUM_SERVER_IDLE") {
            None => DEFAULT_IDLE,
            Some(text) => {
                Duration::from_secs(text.trim().parse().map_err(|_| Error::ConnectionSetting {
                    origin: "PUM_SERVER_IDLE".into(),
                    message: format!("invalid value \"{text}\": expected whole seconds"),
                })?)
            }
        };
        Ok(ServerOptions {
            dir: var("PUM_SERVER_DIR").map(PathBuf::from),
            idle,
            bindir: var("PUM_PG_BINDIR").map(PathBuf::from),
            user: var("PUM_SERVER_USER"),
            memory: var("PUM_SERVER_MEMORY").is_none_or(|v| v != "0"),
        })
    }
}

/// Where a server lives and what runs it.
#[derive(Debug, Clone)]
struct Layout {
    requested: PathBuf,
    dir: PathBuf,
    relocated: Option<String>,
    data: PathBuf,
    /// The directory in memory holding `data`, when the data lives in memory.
    memory_home: Option<PathBuf>,
    socket_dir: PathBuf,
    bindir: PathBuf,
    major: u32,
    account: Option<Account>,
    idle: Duration,
}

impl Layout {
    fn resolve(options: &ServerOptions) -> Result<Layout> {
        let bindir = find_bindir(options.bindir.as_deref())?;
        let major = cached_major_version(&bindir)?;
        let account = server_account(options.user.as_deref())?;
        let requested = match &options.dir {
            Some(dir) => absolute(dir),
            None => default_parent().join(format!("pg{major}")),
        };
        let (dir, relocated) = match &account {
            Some(account) if !can_traverse(account, &requested) => (
                std::env::temp_dir()
                    .join(format!("pum-{}", short_hash(&requested)))
                    .join(format!("pg{major}")),
                Some(format!(
                    "user {} cannot reach {}",
                    account.name,
                    requested.display()
                )),
            ),
            _ => (requested.clone(), None),
        };
        let socket_in_dir = dir.join(format!(".s.PGSQL.{PORT}"));
        let socket_dir = if socket_in_dir.as_os_str().len() <= MAX_SOCKET_PATH {
            dir.clone()
        } else {
            std::env::temp_dir().join(format!("pum-sock-{}", short_hash(&dir)))
        };
        let memory_home = Path::new("/dev/shm")
            .is_dir()
            .then(|| Path::new("/dev/shm").join(format!("pum-{}", short_hash(&dir))))
            .filter(|_| options.memory);
        Ok(Layout {
            requested,
            data: memory_home
                .as_ref()
                .map_or_else(|| dir.join("data"), |home| home.join("data")),
            memory_home,
            dir,
            relocated,
            socket_dir,
            bindir,
            major,
            account,
            idle: options.idle,
        })
    }

    /// Creates the directories, owned by the server's account.
    fn prepare(&self) -> Result<()> {
        for dir in [
            Some(&self.dir),
            Some(&self.socket_dir),
            self.memory_home.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        if let Some(home) = &self.memory_home {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(home, e))?;
        }
        if let Some(account) = &self.account {
            let mut owned = vec![self.dir.clone(), self.socket_dir.clone()];
            owned.extend(self.memory_home.clone());
            if self.relocated.is_some()
                && let Some(parent) = self.dir.parent()
            {
                owned.push(parent.to_path_buf());
            }
            for dir in owned {
                std::os::unix::fs::chown(&dir, Some(account.uid), Some(account.gid))
                    .map_err(|e| Error::io(&dir, e))?;
            }
        }
        Ok(())
    }

    fn spec(&self) -> ConnectionSpec {
        ConnectionSpec::unix_socket(&self.socket_dir, PORT, "postgres", "postgres")
    }

    fn url(&self) -> String {
        self.spec().url()
    }

    fn command(&self, program: &str) -> Command {
        command_as(&self.bindir.join(program), self.account.as_ref())
    }

    fn lock_path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `<target dir>/pum`, or a per-user directory under the temp dir outside cargo.
fn default_parent() -> PathBuf {
    let is_target = |dir: &Path| dir.join("CACHEDIR.TAG").is_file();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return absolute(Path::new(&dir)).join("pum");
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.ancestors().skip(1).find(|d| is_target(d))
    {
        return dir.join("pum");
    }
    if let Ok(cwd) = std::env::current_dir()
        && let Some(dir) = cwd
            .ancestors()
            .map(|d| d.join("target"))
            .find(|d| is_target(d))
    {
        return dir.join("pum");
    }
    let user = os_user::current_name().unwrap_or_else(|| "user".into());
    std::env::temp_dir().join(format!("pum-{user}"))
}

fn short_hash(path: &Path) -> String {
    blake3::hash(path.as_os_str().as_encoded_bytes()).to_hex()[..12].to_string()
}

fn cached_major_version(bindir: &Path) -> Result<u32> {
    static CACHE: Mutex<Vec<(PathBuf, u32)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, major)) = cache.iter().find(|(dir, _)| dir == bindir) {
        return Ok(*major);
    }
    let major = major_version(bindir)?;
    cache.push((bindir.to_path_buf(), major));
    Ok(major)
}

fn open_lock(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Takes a shared or exclusive lock on `file`, waiting at most [`LOCK_TIMEOUT`].
fn lock(file: &File, path: &Path, shared: bool) -> Result<()> {
    let started = Instant::now();
    loop {
        let attempt = if shared {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        match attempt {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Server(format!(
                    "{}: still locked after {} s by another process starting or stopping \
                     the server",
                    path.display(),
                    LOCK_TIMEOUT.as_secs()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, e)),
        }
    }
}

/// What `postmaster.pid` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No postmaster.pid.
    Down,
    /// A postmaster.pid whose process is gone.
    Stale,
    /// A live postmaster, with its status line.
    Up { pid: u32, ready: bool },
}

fn state(layout: &Layout) -> State {
    let Ok(text) = std::fs::read_to_string(layout.data.join("postmaster.pid")) else {
        return State::Down;
    };
    let lines: Vec<&str> = text.lines().collect();
    let Some(pid) = lines.first().and_then(|l| l.trim().parse::<u32>().ok()) else {
        return State::Stale;
    };
    if !is_postgres_process(pid) {
        return State::Stale;
    }
    State::Up {
        pid,
        ready: lines.get(7).map(|l| l.trim()) == Some("ready"),
    }
}

fn is_postgres_process(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmd| String::from_utf8_lossy(&cmd).contains("postgres"))
        .unwrap_or(false)
}

fn process_alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; its state letter is Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn watchdog_pid(layout: &Layout) -> Option<u32> {
    std::fs::read_to_string(layout.dir.join("watchdog.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A running server this process is attached to: while this value lives, the server
/// does not stop for being idle.
#[derive(Debug)]
pub struct Server {
    layout: Layout,
    spec: ConnectionSpec,
    _clients: File,
}

impl Server {
    /// Attaches to the server in the directory `options` name, starting it if needed.
    ///
    /// # Errors
    /// [`Error::ToolNotFound`] without server programs, [`Error::Io`] for an unusable
    /// directory, [`Error::Server`] with the end of the server log when it fails to start.
    pub fn attach(options: &ServerOptions) -> Result<Server> {
        let layout = Layout::resolve(options)?;
        layout.prepare()?;
        let clients_path = layout.lock_path("clients.lock");
        let clients = open_lock(&clients_path)?;
        lock(&clients, &clients_path, true)?;
        let start_path = layout.lock_path("start.lock");
        let start = open_lock(&start_path)?;
        lock(&start, &start_path, false)?;
        let running = ensure_running(&layout);
        drop(start);
        running?;
        Ok(Server {
            spec: layout.spec(),
            layout,
            _clients: clients,
        })
    }

    /// The server for this process, configured by the environment
    /// ([`ServerOptions::from_env`]), attached on first use and kept until the process
    /// exits. A failure is remembered: every later call returns the same error at once.
    pub fn shared() -> Result<&'static Server> {
        static SHARED: OnceLock<std::result::Result<Server, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                ServerOptions::from_env()
                    .and_then(|options| Server::attach(&options))
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|message| Error::Server(message.clone()))
    }

    /// Settings for the superuser `postgres` on the database `postgres`.
    pub fn spec(&self) -> &ConnectionSpec {
        &self.spec
    }

    /// A URL other tools accept: `psql "$(pum server url)"`.
    pub fn url(&self) -> String {
        self.layout.url()
    }

    /// The server directory (after any relocation).
    pub fn dir(&self) -> &Path {
        &self.layout.dir
    }

    /// The data directory (`postgresql.conf`, `pg_hba.conf`, `postgres.log`).
    pub fn data_dir(&self) -> &Path {
        &self.layout.data
    }

    /// The directory holding the Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.layout.socket_dir
    }

    /// The postmaster's process id, if it is running.
    pub fn pid(&self) -> Option<u32> {
        match state(&self.layout) {
            State::Up { pid, .. } => Some(pid),
            _ => None,
        }
    }
}

/// Makes sure a ready server with a live watchdog runs; called under the start lock.
fn ensure_running(layout: &Layout) -> Result<()> {
    forget_orphaned_memory_data(layout)?;
    let started = Instant::now();
    loop {
        match state(layout) {
            State::Up { ready: true, .. } if watchdog_pid(layout).is_some_and(process_alive) => {
                return Ok(());
            }
            // A server nobody watches would never stop: restart it under a watchdog.
            State::Up { ready: true, .. } => stop_postmaster(layout)?,
            State::Up { ready: false, .. } if started.elapsed() < START_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            State::Up { pid, .. } => {
                return Err(Error::Server(format!(
                    "the server in {} (pid {pid}) neither became ready nor stopped within {} s",
                    layout.dir.display(),
                    START_TIMEOUT.as_secs()
                )));
            }
            State::Stale => {
                let pid_file = layout.data.join("postmaster.pid");
                std::fs::remove_file(&pid_file).map_err(|e| Error::io(&pid_file, e))?;
            }
            State::Down => return start(layout),
        }
    }
}

fn start(layout: &Layout) -> Result<()> {
    if !initialized(layout)? {
        initdb(layout)?;
    }
    // A postmaster just killed, or one whose directory was deleted, may hold the socket
    // or shared memory for a moment: retry a start that fails for that reason.
    let started = Instant::now();
    loop {
        match launch(layout) {
            Err(Error::Server(message))
                if (message.contains("already") || message.contains("still in use"))
                    && started.elapsed() < Duration::from_secs(15) =>
            {
                std::thread::sleep(Duration::from_millis(250));
            }
            other => return other,
        }
    }
}

/// The file in the server directory naming its data directory in memory. A data
/// directory in memory without it belongs to a server directory that was deleted (`cargo
/// clean`): it is stopped and removed, as it would have been with the data on disk.
const DATA_LINK: &str = "data.link";

fn forget_orphaned_memory_data(layout: &Layout) -> Result<()> {
    if layout.memory_home.is_none() {
        return Ok(());
    }
    if layout.dir.join(DATA_LINK).is_file() || !layout.data.join(MARKER).is_file() {
        return Ok(());
    }
    if matches!(state(layout), State::Up { .. }) {
        let _ = pg_ctl_stop(layout, "immediate");
    }
    std::fs::remove_dir_all(&layout.data).map_err(|e| Error::io(&layout.data, e))
}

/// Whether `data` holds a cluster of the right version made by pum. A directory that
/// pum did not make is never deleted.
fn initialized(layout: &Layout) -> Result<bool> {
    let data = &layout.data;
    if !data.exists() {
        return Ok(false);
    }
    if !data.join(MARKER).is_file() {
        return Err(Error::Server(format!(
            "{} exists but was not made by pum (no {MARKER} file in it); delete it or set \
             PUM_SERVER_DIR to another directory",
            data.display()
        )));
    }
    let version = std::fs::read_to_string(data.join("PG_VERSION")).unwrap_or_default();
    if version.trim() == layout.major.to_string() {
        return Ok(true);
    }
    std::fs::remove_dir_all(data).map_err(|e| Error::io(data, e))?;
    Ok(false)
}

fn initdb(layout: &Layout) -> Result<()> {
    let fresh = layout.data.with_file_name("data.new");
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh).map_err(|e| Error::io(&fresh, e))?;
    }
    let output = layout
        .command("initdb")
        .arg("--pgdata")
        .arg(&fresh)
        .args([
            "--username=postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions",
        ])
        .output()
        .map_err(|e| Error::io(layout.bindir.join("initdb"), e))?;
    if !output.status.success() {
        return Err(Error::Server(format!(
            "initdb failed ({}): {}",
            output.status,
            one_line(&String::from_utf8_lossy(&output.stderr))
        )));
    }
    let marker = fresh.join(MARKER);
    std::fs::write(&marker, "made by pum; deleted and remade when needed\n")
        .map_err(|e| Error::io(&marker, e))?;
    // Only a complete cluster gets the real name.
    std::fs::rename(&fresh, &layout.data).map_err(|e| Error::io(&layout.data, e))?;
    let link = layout.dir.join(DATA_LINK);
    std::fs::write(&link, format!("{}\n", layout.data.display())).map_err(|e| Error::io(&link, e))
}

/// The watchdog: runs the postmaster and stops it once the server has been idle (no
/// process holding the clients lock, no session) for the idle period, or at once when the
/// data directory disappears. It stops the server while holding the clients lock
/// exclusively, so that no process attaches to a server that is shutting down.
const WATCHDOG: &str = r#"
postgres="$1"; data="$2"; sock="$3"; lock="$4"; idle_limit="$5"; dir="$6"
"$postgres" -D "$data" -k "$sock" -c listen_addresses= -c port=5432 \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
  -c max_connections=300 >"$data/postgres.log" 2>&1 &
pg=$!
inode=$(stat -c %i "$dir")
sessions() {
  for c in $(cat "/proc/$pg/task/$pg/children" 2>/dev/null); do
    case "$(tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null)" in *"[local]"*) return 0 ;; esac
  done
  return 1
}
(
  idle=0
  while kill -0 "$pg" 2>/dev/null; do
    sleep 1
    # The server directory deleted (cargo clean), perhaps already made anew: stop now.
    if [ "$(stat -c %i "$dir" 2>/dev/null)" != "$inode" ]; then
      kill -QUIT "$pg" 2>/dev/null; break
    fi
    if sessions || ! flock --nonblock --exclusive "$lock" true; then idle=0; continue; fi
    idle=$((idle + 1))
    [ "$idle" -ge "$idle_limit" ] || continue
    if flock --nonblock --exclusive "$lock" sh -c \
        'kill -INT "$1"; while kill -0 "$1" 2>/dev/null; do sleep 0.1; done' stop "$pg"; then
      break
    fi
    idle=0
  done
) &
wait "$pg"
"#;

fn launch(layout: &Layout) -> Result<()> {
    let mut watchdog = command_as(Path::new("sh"), layout.account.as_ref());
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: a Ctrl-C meant for a test run does not kill a server
        // other processes may be using.
        watchdog.process_group(0);
    }
    let child = watchdog
        .arg("-c")
        .arg(WATCHDOG)
        .arg("pum-server-watchdog")
        .arg(layout.bindir.join("postgres"))
        .arg(&layout.data)
        .arg(&layout.socket_dir)
        .arg(layout.lock_path("clients.lock"))
        .arg(layout.idle.as_secs().max(1).to_string())
        .arg(&layout.dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::io("sh", e))?;
    let pid_file = layout.dir.join("watchdog.pid");
    std::fs::write(&pid_file, format!("{}\n", child.id())).map_err(|e| Error::io(&pid_file, e))?;
    wait_until_ready(layout, child)
}

fn wait_until_ready(layout: &Layout, mut watchdog: Child) -> Result<()> {
    let started = Instant::now();
    let probe = layout.spec().with_connect_timeout(Duration::from_secs(2));
    loop {
        if let Ok(Some(status)) = watchdog.try_wait() {
            return Err(Error::Server(format!(
                "postgres exited during start-up ({status}): {}",
                log_tail(layout)
            )));
        }
        if matches!(state(layout), State::Up { ready: true, .. }) && probe.connect().is_ok() {
            // Reap the watchdog when it ends, so it leaves no zombie behind.
            std::thread::spawn(move || watchdog.wait());
            return Ok(());
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(Error::Server(format!(
                "postgres did not accept connections within {} s: {}",
                START_TIMEOUT.as_secs(),
                log_tail(layout)
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The last lines of the server log, as one line.
fn log_tail(layout: &Layout) -> String {
    let log = std::fs::read_to_string(layout.data.join("postgres.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    one_line(&lines[lines.len().saturating_sub(4)..].join("\n"))
}

/// Runs `pg_ctl stop` in `mode` (`fast`, `immediate`) and waits for the server to go.
fn pg_ctl_stop(layout: &Layout, mode: &str) -> Result<std::process::Output> {
    layout
        .command("pg_ctl")
        .arg("stop")
        .arg("--pgdata")
        .arg(&layout.data)
        .args([
            &format!("--mode={mode}"),
            "--wait",
            "--timeout=60",
            "--silent",
        ])
        .output()
        .map_err(|e| Error::io(layout.bindir.join("pg_ctl"), e))
}

/// `pg_ctl stop` (fast shutdown), then waits for the watchdog to go.
fn stop_postmaster(layout: &Layout) -> Result<()> {
    let output = pg_ctl_stop(layout, "fast")?;
    if !output.status.success() && !matches!(state(layout), State::Down | State::Stale) {
        return Err(Error::Server(format!(
            "pg_ctl stop failed ({}): {}",
            output.status,
            one_line(&String::from_utf8_lossy(&output.stderr))
        )));
    }
    if let Some(pid) = watchdog_pid(layout) {
        let started = Instant::now();
        while process_alive(pid) && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Ok(())
}

/// Stops the server in the directory `options` name, at once, whoever uses it.
/// Returns whether it was running.
///
/// # Errors
/// [`Error::Server`] when `pg_ctl stop` fails.
pub fn stop(options: &ServerOptions) -> Result<bool> {
    let layout = Layout::resolve(options)?;
    if !layout.dir.is_dir() {
        return Ok(false);
    }
    let start_path = layout.lock_path("start.lock");
    let start = open_lock(&start_path)?;
    lock(&start, &start_path, false)?;
    match state(&layout) {
        State::Up { .. } => {
            stop_postmaster(&layout)?;
            Ok(true)
        }
        State::Down | State::Stale => Ok(false),
    }
}

/// Stops the server (as [`stop`]) and deletes its data: templates and every database.
/// Returns whether it was running.
///
/// # Errors
/// As [`stop`]; [`Error::Io`] when the data cannot be deleted.
pub fn purge(options: &ServerOptions) -> Result<bool> {
    let was_running = stop(options)?;
    let layout = Layout::resolve(options)?;
    for path in [Some(&layout.data), layout.memory_home.as_ref()]
        .into_iter()
        .flatten()
    {
        if path.exists() {
            std::fs::remove_dir_all(path).map_err(|e| Error::io(path, e))?;
        }
    }
    let link = layout.dir.join(DATA_LINK);
    if link.exists() {
        std::fs::remove_file(&link).map_err(|e| Error::io(&link, e))?;
    }
    Ok(was_running)
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

/// Reports on the server in the directory `options` name, without starting it.
///
/// # Errors
/// [`Error::ToolNotFound`] without server programs.
pub fn status(options: &ServerOptions) -> Result<ServerStatus> {
    let layout = Layout::resolve(options)?;
    let pid = match state(&layout) {
        State::Up { pid, .. } => Some(pid),
        _ => None,
    };
    Ok(ServerStatus {
        clients: lock_holders(&layout.lock_path("clients.lock")),
        dir: layout.dir.clone(),
        relocated: layout.relocated.clone(),
        requested_dir: layout.requested.clone(),
        data_dir: layout.data.clone(),
        in_memory: layout.memory_home.is_some(),
        url: layout.url(),
        major_version: layout.major,
        pid,
        user: match &layout.account {
            Some(account) => account.name.clone(),
            None => os_user::current_name().unwrap_or_else(|| "(this user)".into()),
        },
    })
}

/// The number of processes holding a lock on `path`, from `/proc/locks`.
fn lock_holders(path: &Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    let inode = format!(":{}", meta.ino());
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return 0;
    };
    // "1: FLOCK  ADVISORY  READ  1234 08:01:5678 0 EOF"
    let mut pids: Vec<&str> = locks
        .lines()
        .filter(|l| l.contains("FLOCK") && !l.contains("->"))
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let device_inode = fields.get(5)?;
            device_inode.ends_with(&inode).then(|| fields[4])
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids.len()
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
            "data: {}{}",
            self.data_dir.display(),
            if self.in_memory { " (in memory)" } else { "" }
        )?;
        writeln!(f, "log: {}", self.data_dir.join("postgres.log").display())?;
        write!(f, "url: {}", self.url)
    }
}
