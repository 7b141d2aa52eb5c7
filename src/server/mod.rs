//! Throwaway PostgreSQL servers, so examples and tests need no setup.
//!
//! [`TempServer::start`] runs `initdb` and `postgres` in a fresh temporary directory,
//! listening on a Unix socket only (no TCP port, so no port clashes), tuned for tests
//! (fsync, synchronous_commit and full_page_writes off), and removes everything when
//! dropped. A small watchdog shell owns the postmaster: if the process that started the
//! server dies or exits without dropping it (a `static`, a SIGKILL), the watchdog shuts
//! the server down within a second and deletes its directory.
//!
//! Running as root (CI containers), `initdb` and `postgres` run as the `postgres` user
//! (else `nobody`; `PUM_SERVER_USER` chooses another), by setting the child's uid/gid.
//!
//! The server programs are found through `PUM_PG_BINDIR`, then `initdb` on `PATH`, then
//! `pg_config --bindir`, then the newest `/usr/lib/postgresql/<version>/bin`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::os_user::{self, Account};

/// The programs a server needs, all looked for in one directory.
const PROGRAMS: &[&str] = &["initdb", "pg_ctl", "postgres"];

/// How long a starting server may take before it is given up on.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
///
/// # Errors
/// [`Error::ToolNotFound`] saying what to install or set.
pub fn find_bindir() -> Result<PathBuf> {
    let has_all = |dir: &Path| PROGRAMS.iter().all(|p| dir.join(p).is_file());
    if let Some(dir) = std::env::var_os("PUM_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        if has_all(&dir) {
            return Ok(dir);
        }
        return Err(Error::ToolNotFound {
            tool: "initdb".into(),
            hint: format!(
                "PUM_PG_BINDIR={} does not hold initdb, pg_ctl and postgres",
                dir.display()
            ),
        });
    }
    let candidates = [
        which::which("initdb")
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf)),
        Command::new("pg_config")
            .arg("--bindir")
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())),
        crate::dump::newest_packaged("initdb").and_then(|p| p.parent().map(Path::to_path_buf)),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|dir| has_all(dir))
        .ok_or_else(|| Error::ToolNotFound {
            tool: "initdb".into(),
            hint: "the PostgreSQL server programs (initdb, pg_ctl, postgres) are needed: \
                   install them (Debian and Ubuntu: apt-get install postgresql) or set \
                   PUM_PG_BINDIR to their directory"
                .into(),
        })
}

/// The account the server runs as: this process's own, or a non-root one when root.
fn server_account() -> Result<Option<Account>> {
    if os_user::effective_uid() != Some(0) {
        return Ok(None);
    }
    let wanted = std::env::var("PUM_SERVER_USER")
        .ok()
        .filter(|u| !u.is_empty());
    let names: Vec<String> = match wanted {
        Some(name) => vec![name],
        None => vec!["postgres".into(), "nobody".into()],
    };
    for name in &names {
        if let Some(account) = os_user::by_name(name) {
            return Ok(Some(account));
        }
    }
    Err(Error::Server(format!(
        "PostgreSQL refuses to run as root and no account to run it as was found (tried {}); \
         create one or set PUM_SERVER_USER",
        names.join(", ")
    )))
}

/// A PostgreSQL server living in a temporary directory, stopped and deleted on drop.
#[derive(Debug)]
pub struct TempServer {
    root: tempfile::TempDir,
    bindir: PathBuf,
    account: Option<Account>,
    watchdog: Option<Child>,
    spec: ConnectionSpec,
}

impl TempServer {
    /// Initialises and starts a server; returns once it accepts connections.
    ///
    /// # Errors
    /// [`Error::ToolNotFound`] without server programs; [`Error::Server`] with the end of
    /// the server's log when `initdb` or the server fails.
    pub fn start() -> Result<TempServer> {
        let bindir = find_bindir()?;
        let account = server_account()?;
        let root = tempfile::Builder::new()
            .prefix("pum-server-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        if let Some(account) = &account {
            std::os::unix::fs::chown(root.path(), Some(account.uid), Some(account.gid))
                .map_err(|e| Error::io(root.path(), e))?;
        }
        let spec = ConnectionSpec::unix_socket(root.path(), 5432, "postgres", "postgres");
        let mut server = TempServer {
            root,
            bindir,
            account,
            watchdog: None,
            spec,
        };
        server.initdb()?;
        server.launch()?;
        Ok(server)
    }

    /// Settings for the superuser `postgres` on database `postgres`.
    pub fn spec(&self) -> &ConnectionSpec {
        &self.spec
    }

    /// The server's data directory (holding `postgresql.conf`, `pg_hba.conf`, `postgres.log`).
    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// The directory holding the server's Unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.root.path()
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bindir.join(program));
        if let Some(account) = &self.account {
            use std::os::unix::process::CommandExt;
            command.uid(account.uid).gid(account.gid);
        }
        command.stdin(Stdio::null());
        command
    }

    fn initdb(&self) -> Result<()> {
        let output = self
            .command("initdb")
            .arg("--pgdata")
            .arg(self.data_dir())
            .args([
                "--username=postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            ])
            .output()
            .map_err(|e| Error::io(self.bindir.join("initdb"), e))?;
        if !output.status.success() {
            return Err(Error::Server(format!(
                "initdb failed ({}): {}",
                output.status,
                crate::error::one_line(&String::from_utf8_lossy(&output.stderr))
            )));
        }
        Ok(())
    }

    fn launch(&mut self) -> Result<()> {
        // The watchdog runs the postmaster and a monitor that sends it SIGINT (fast
        // shutdown) as soon as the owning process is gone, however it died.
        const WATCHDOG: &str = r#"
postgres="$1"; data="$2"; sock="$3"; owner="$4"; root="$5"
"$postgres" -D "$data" -k "$sock" -c listen_addresses= -c port=5432 \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
  -c max_connections=300 >>"$data/postgres.log" 2>&1 &
pg=$!
( while [ -e "/proc/$owner" ] && kill -0 "$pg" 2>/dev/null; do sleep 1; done
  kill -INT "$pg" 2>/dev/null ) &
wait "$pg"
# An owner that died could not delete the directory itself.
[ -e "/proc/$owner" ] || rm -rf "$root"
"#;
        let postgres = self.bindir.join("postgres");
        let mut watchdog = Command::new("sh");
        if let Some(account) = &self.account {
            use std::os::unix::process::CommandExt;
            watchdog.uid(account.uid).gid(account.gid);
        }
        let child = watchdog
            .arg("-c")
            .arg(WATCHDOG)
            .arg("pum-server-watchdog")
            .arg(&postgres)
            .arg(self.data_dir())
            .arg(self.socket_dir())
            .arg(std::process::id().to_string())
            .arg(self.root.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::io("sh", e))?;
        self.watchdog = Some(child);
        self.wait_until_ready()
    }

    fn wait_until_ready(&mut self) -> Result<()> {
        let started = Instant::now();
        let probe = self.spec.with_connect_timeout(Duration::from_secs(2));
        loop {
            if let Some(child) = self.watchdog.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(Error::Server(format!(
                    "postgres exited during start-up ({status}): {}",
                    self.log_tail()
                )));
            }
            if self.socket_dir().join(".s.PGSQL.5432").exists() && probe.connect().is_ok() {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(Error::Server(format!(
                    "postgres did not accept connections within {} s: {}",
                    START_TIMEOUT.as_secs(),
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The last lines of the server log, as one line.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.data_dir().join("postgres.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        crate::error::one_line(&lines[lines.len().saturating_sub(5)..].join("\n"))
    }

    /// Stops the server (fast shutdown) and deletes its directory.
    ///
    /// # Errors
    /// [`Error::Server`] when `pg_ctl stop` fails; the directory is deleted anyway.
    pub fn stop(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        let Some(mut watchdog) = self.watchdog.take() else {
            return Ok(());
        };
        let pg_ctl_stop = |mode: &str| {
            self.command("pg_ctl")
                .arg("stop")
                .arg("--pgdata")
                .arg(self.data_dir())
                .args([mode, "--wait", "--timeout=30"])
                .output()
        };
        let result = match pg_ctl_stop("--mode=fast") {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(Error::Server(format!(
                "pg_ctl stop failed ({}): {}",
                o.status,
                crate::error::one_line(&String::from_utf8_lossy(&o.stderr))
            ))),
            Err(e) => Err(Error::io(self.bindir.join("pg_ctl"), e)),
        };
        if result.is_err() {
            let _ = pg_ctl_stop("--mode=immediate");
        }
        let _ = watchdog.wait();
        result
    }
}

impl Drop for TempServer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
