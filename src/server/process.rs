//! The postmaster's life: reading its state from `postmaster.pid`, `initdb`, starting it
//! under a watchdog that stops it once idle, waiting until it accepts connections, and
//! stopping it.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::layout::{DATA_LINK, Layout, MARKER, initialized};
use super::programs::command_as;
use crate::error::{Error, Result, one_line};

/// How long a starting server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// PostgreSQL's SQLSTATE for "lock file already exists" (also a shared memory block still
/// in use by a dying server).
const LOCK_FILE_EXISTS: &str = "F0001";

/// What `postmaster.pid` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// No postmaster.pid.
    Down,
    /// A postmaster.pid whose process is gone.
    Stale,
    /// A live postmaster, with its status line.
    Up { pid: u32, ready: bool },
}

pub(super) fn state(layout: &Layout) -> State {
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

pub(super) fn process_alive(pid: u32) -> bool {
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

/// Makes sure a ready server with a live watchdog runs; called under the start lock.
pub(super) fn ensure_running(layout: &Layout) -> Result<()> {
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
                return Err(Error::ServerStart {
                    message: format!(
                        "the server in {} (pid {pid}) neither became ready nor stopped within {} s",
                        layout.dir.display(),
                        START_TIMEOUT.as_secs()
                    ),
                    code: None,
                });
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
    write_authentication(layout)?;
    // A postmaster just killed, or one whose directory was deleted, may hold the socket's
    // lock file or the shared memory for a moment: the new one then exits with SQLSTATE
    // F0001 (lock file exists), and starting again shortly after succeeds.
    let started = Instant::now();
    loop {
        match launch(layout) {
            Err(e)
                if e.sqlstate() == Some(LOCK_FILE_EXISTS)
                    && started.elapsed() < Duration::from_secs(15) =>
            {
                std::thread::sleep(Duration::from_millis(250));
            }
            other => return other,
        }
    }
}

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
    // The old server's watchdog may be stopping it at the same moment (it saw the
    // directory go), so files vanish under the deletion: tried again until it is gone.
    let started = Instant::now();
    loop {
        match std::fs::remove_dir_all(&layout.data) {
            Ok(()) => return Ok(()),
            Err(_) if !layout.data.exists() => return Ok(()),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && started.elapsed() < Duration::from_secs(5) =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(Error::io(&layout.data, e)),
        }
    }
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
            "--auth-local=peer",
            "--auth-host=reject",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions",
        ])
        .output()
        .map_err(|e| Error::io(layout.bindir.join("initdb"), e))?;
    if !output.status.success() {
        return Err(Error::Program {
            program: "initdb".into(),
            status: output.status.to_string(),
            stderr: one_line(&String::from_utf8_lossy(&output.stderr)),
        });
    }
    let marker = fresh.join(MARKER);
    std::fs::write(&marker, "made by pum; deleted and remade when needed\n")
        .map_err(|e| Error::io(&marker, e))?;
    // The link first: a complete cluster in memory without it would look orphaned to the
    // sweep of another server's attach.
    let link = layout.dir.join(DATA_LINK);
    std::fs::write(&link, format!("{}\n", layout.data.display()))
        .map_err(|e| Error::io(&link, e))?;
    // Only a complete cluster gets the real name.
    std::fs::rename(&fresh, &layout.data).map_err(|e| Error::io(&layout.data, e))
}

/// Writes pg_hba.conf and pg_ident.conf anew (at every start, so that a data directory
/// made by an older pum gets them too): local connections only, authenticated by `peer`,
/// with the operating-system users [`Layout::allowed_users`] mapped to the role
/// `postgres`. No `trust`, no TCP.
fn write_authentication(layout: &Layout) -> Result<()> {
    let hba = "# Written by pum at every start of this server: only the users in \
               pg_ident.conf may connect,\n# through the Unix socket, as postgres.\n\
               local all all peer map=pum\n";
    let mut ident = String::from("# Written by pum at every start of this server.\n");
    for user in layout.allowed_users() {
        ident.push_str(&format!("pum {user} postgres\n"));
    }
    for (name, text) in [("pg_hba.conf", hba.to_string()), ("pg_ident.conf", ident)] {
        let path = layout.data.join(name);
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// The watchdog: runs the postmaster and stops it once the server has been idle (no
/// process holding the clients lock, no session) for the idle period, or at once when the
/// data directory disappears (deleting the data in memory then). It stops the server while holding the clients lock
/// exclusively, so that no process attaches to a server that is shutting down.
const WATCHDOG: &str = r#"
postgres="$1"; data="$2"; sock="$3"; lock="$4"; idle_limit="$5"; dir="$6"; connections="$7"
home="$8"
"$postgres" -D "$data" -k "$sock" -c listen_addresses= -c port=5432 \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
  -c max_connections="$connections" -c unix_socket_permissions=0700 \
  -c "log_line_prefix=%m [%p] %e " >"$data/postgres.log" 2>&1 &
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
# The server directory deleted and not made anew (cargo clean): its data in memory goes
# too. Renamed first, so that a server starting meanwhile makes a new home of its own.
if [ -n "$home" ] && [ ! -e "$dir" ] && mv "$home" "$home.gone.$$" 2>/dev/null; then
  rm -rf "$home.gone.$$"
fi
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
        .arg(layout.max_connections.to_string())
        .arg(layout.memory_home.as_deref().unwrap_or(Path::new("")))
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
            let log = read_log(layout);
            return Err(Error::ServerStart {
                message: format!("postgres exited during start-up ({status}): {}", tail(&log)),
                code: fatal_sqlstate(&log),
            });
        }
        if matches!(state(layout), State::Up { ready: true, .. }) && probe.connect().is_ok() {
            // Reap the watchdog when it ends, so it leaves no zombie behind.
            std::thread::spawn(move || watchdog.wait());
            return Ok(());
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(Error::ServerStart {
                message: format!(
                    "postgres did not accept connections within {} s: {}",
                    START_TIMEOUT.as_secs(),
                    tail(&read_log(layout))
                ),
                code: None,
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read_log(layout: &Layout) -> String {
    std::fs::read_to_string(layout.data.join("postgres.log")).unwrap_or_default()
}

/// The last lines of the server log, as one line.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    one_line(&lines[lines.len().saturating_sub(4)..].join("\n"))
}

/// The SQLSTATE of the last FATAL line of a server log written with our
/// `log_line_prefix` (`<time> [<pid>] <sqlstate> FATAL:  …`).
fn fatal_sqlstate(log: &str) -> Option<String> {
    log.lines().rev().find_map(|line| {
        let (before, _) = line.split_once(" FATAL: ")?;
        let code = before.rsplit(' ').next()?;
        (code.len() == 5 && code.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| code.to_string())
    })
}

/// Runs `pg_ctl stop` in `mode` (`fast`, `immediate`) and waits for the server to go.
pub(super) fn pg_ctl_stop(layout: &Layout, mode: &str) -> Result<std::process::Output> {
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
pub(super) fn stop_postmaster(layout: &Layout) -> Result<()> {
    let output = pg_ctl_stop(layout, "fast")?;
    if !output.status.success() && !matches!(state(layout), State::Down | State::Stale) {
        return Err(Error::Program {
            program: "pg_ctl stop".into(),
            status: output.status.to_string(),
            stderr: one_line(&String::from_utf8_lossy(&output.stderr)),
        });
    }
    if let Some(pid) = watchdog_pid(layout) {
        let started = Instant::now();
        while process_alive(pid) && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlstate_of_the_last_fatal_line_is_found() {
        let log = "2026-11-29 10:00:00.000 UTC [12] 00000 LOG:  starting PostgreSQL 15\n\
                   2026-11-29 10:00:00.001 UTC [12] F0001 FATAL:  lock file \"x\" already exists\n\
                   2026-11-29 10:00:00.002 UTC [12] 00000 LOG:  database system is shut down\n";
        assert_eq!(fatal_sqlstate(log).as_deref(), Some("F0001"));
        assert_eq!(fatal_sqlstate("LOG:  ready\n"), None);
        assert_eq!(fatal_sqlstate("FATAL:  no prefix\n"), None);
    }
}
