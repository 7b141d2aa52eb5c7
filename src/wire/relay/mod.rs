//! Lending a run's session to a child process: the child connects to a private Unix
//! socket as to a server; pum answers its start-up itself (no password: only this user
//! can reach the socket), then passes what it sends to the run's session and the
//! session's answers back, so the child's SQL runs inside the run's transaction.
//!
//! - **Both ways at once.** A thread reads the server's answers as they come, so a child
//!   that sends a long pipeline (psycopg 3's `executemany`, Flush requests, COPY) never
//!   waits on a server waiting on pum.
//! - **The child's transactions are savepoints.** pum 0.x gave each Python delta its own
//!   connection: what it committed stayed, what it did not commit (or rolled back) went
//!   away. Here its `BEGIN` becomes a savepoint of the run's transaction, `COMMIT` releases
//!   it, `ROLLBACK` (or closing the connection without committing) returns to it; the
//!   transaction status the child sees is the one it expects (`T` after its `BEGIN`, `I`
//!   after its `COMMIT`). The run commits everything at its end, or nothing. Prepared
//!   transactions, and transaction control inside a string of several statements, are
//!   refused with an error from the server.
//! - **Turns.** A child may hold several connections; each query (or extended-protocol
//!   sequence up to its Sync) has the session to itself.
//! - **Left as found.** The session's settings are put back as they were before the child
//!   (prepared statements, cursors and LISTENs are dropped), as if it had had its own.
//!
//! Here: the [`Relay`] (its private directory and socket, `serve`, putting the session
//! back); `traffic.rs` the loop passing messages both ways; `messages.rs` what the relay
//! writes itself.

use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{RawSession, ServerError, Sql, TextRow};
use crate::error::{Error, Result};
use crate::sql::quote_literal;
use traffic::{ServerReader, State};

mod messages;
mod traffic;

/// The port in the socket's name (`.s.PGSQL.5432`).
pub(crate) const PORT: u16 = 5432;

/// A private socket lending a session.
pub(crate) struct Relay {
    dir: tempfile::TempDir,
    listener: UnixListener,
}

impl Relay {
    /// A socket in a new directory only this user can enter.
    ///
    /// # Errors
    /// [`Error::Io`] when the directory or the socket cannot be made.
    pub(crate) fn new() -> Result<Relay> {
        sweep_abandoned(&std::env::temp_dir());
        let dir = tempfile::Builder::new()
            .prefix(&format!("{RELAY_PREFIX}{}-", std::process::id()))
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(dir.path(), e))?;
        }
        let path = dir.path().join(format!(".s.PGSQL.{PORT}"));
        let listener = UnixListener::bind(&path).map_err(|e| Error::io(&path, e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io(&path, e))?;
        Ok(Relay { dir, listener })
    }

    /// The directory holding the socket (libpq's `host`), private to this user.
    pub(crate) fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Serves the child's connections with `session` (in a transaction) until `done`
    /// says the child's work is over and every connection is settled, calling `tick`
    /// every few milliseconds; returns the last error the server sent the child, if any.
    ///
    /// `done` is asked until it answers true: the child exited, or (a child that stays)
    /// it said it finished. With `close_at_done`, the connections it left open are then
    /// closed as if it had closed them (what they did not commit goes away).
    ///
    /// # Errors
    /// `done`'s errors; [`Error::Io`] when the socket fails; [`Error::Sql`] when the
    /// session broke or could not be put back.
    pub(crate) fn serve(
        &self,
        session: &mut RawSession,
        done: &mut dyn FnMut() -> Result<bool>,
        close_at_done: bool,
        tick: &mut dyn FnMut(),
    ) -> Result<Option<ServerError>> {
        let settings = session
            .rows("SELECT name, setting FROM pg_settings WHERE source = 'session'")
            .map_err(|e| Error::server("read the session's settings", &e))?;
        let (sender, events) = mpsc::channel();
        let reader = ServerReader::start(&session.stream, sender.clone())
            .map_err(|e| Error::io("the session's socket", e))?;
        let mut state = State {
            session,
            to_server: bytes::BytesMut::new(),
            clients: Vec::new(),
            events,
            last_error: None,
        };
        let served = (|| {
            let mut over = false;
            // New connections, the child's end and `tick` are looked at when nothing
            // arrived or a millisecond passed, not after every message.
            let mut polled = Instant::now();
            let mut poll = true;
            let mut wait = QUICK;
            loop {
                if poll {
                    loop {
                        match self.listener.accept() {
                            Ok((stream, _)) => state.add(stream, &sender),
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                            Err(e) => return Err(Error::io(self.dir.path(), e)),
                        }
                    }
                }
                let got = state.receive(if over { SETTLING } else { wait })?;
                state.work()?;
                if poll {
                    polled = Instant::now();
                    tick();
                    if !over {
                        over = done()?;
                        if over && close_at_done {
                            state.close_all();
                        }
                    }
                }
                if over && state.finished() {
                    return Ok(());
                }
                poll = !got || polled.elapsed() >= Duration::from_millis(1);
                // With no connection open the child is starting, between connections or
                // ending its file: its next connection or its end is looked for soon,
                // then less and less often. A connection's messages wake the loop.
                wait = if state.connected() {
                    IDLE
                } else if got {
                    QUICK
                } else {
                    (wait * 2).min(IDLE)
                };
            }
        })();
        let stopped = reader.stop(&mut state.session.stream, served.is_ok());
        served?;
        stopped.map_err(|e| lost(e.to_string()))?;
        restore(state.session, &settings)?;
        Ok(state.last_error)
    }
}

/// How long the relay waits for a message before looking at new connections, the
/// child's end and `tick`: at first after the child's last connection closed…
const QUICK: Duration = Duration::from_micros(100);
/// … and at most (while a connection is open, its messages wake the relay).
const IDLE: Duration = Duration::from_millis(2);
/// … once the child is over, while its connections settle.
const SETTLING: Duration = Duration::from_millis(20);

/// How relay directories start: `pum-relay-<pid>-`.
const RELAY_PREFIX: &str = "pum-relay-";

/// Removes the relay directories in `tmp` that a killed pum left: named for a process
/// that no longer runs, owned by this user, directories (not links). Best effort, and
/// only where `/proc` tells which processes run.
fn sweep_abandoned(tmp: &Path) {
    use std::os::unix::fs::MetadataExt;
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Some(me) = crate::os_user::effective_uid() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(RELAY_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let abandoned = !Path::new(&format!("/proc/{pid}")).exists()
            && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir() && m.uid() == me);
        if abandoned {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Puts the session back as it was before the child: settings, no prepared statements,
/// cursors or LISTENs of the child's (unless the transaction failed: then the run fails).
fn restore(session: &mut RawSession, settings: &[TextRow]) -> Result<()> {
    if session.transaction_status() == b'E' {
        return Ok(());
    }
    let mut sql = String::from(
        "CLOSE ALL; DEALLOCATE ALL; UNLISTEN *; SET SESSION AUTHORIZATION DEFAULT; RESET ALL;",
    );
    for row in settings {
        if let [Some(name), Some(value)] = row.as_slice() {
            sql.push_str(&format!(
                " SELECT set_config({}, {}, false);",
                quote_literal(name),
                quote_literal(value)
            ));
        }
    }
    session
        .batch(&sql)
        .map_err(|e| Error::server("put the session back after a child process", &e))
}

fn lost(why: String) -> Error {
    Error::Sql {
        context: "relay the session to a child process".into(),
        message: ServerError::lost(why).describe(),
        code: None,
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn relay_directories_of_dead_processes_are_removed_others_kept() {
        let tmp = tempfile::tempdir().unwrap();
        // pid 1 always runs; a pid above the kernel's maximum never does.
        let alive = tmp.path().join("pum-relay-1-abc");
        let dead = tmp.path().join("pum-relay-99999999-abc");
        let other = tmp.path().join("pum-relay-x");
        for dir in [&alive, &dead, &other] {
            std::fs::create_dir(dir).unwrap();
            std::fs::write(dir.join("pg_service.conf"), "").unwrap();
        }
        // A link named like a dead relay is not followed nor removed.
        let link = tmp.path().join("pum-relay-99999998-abc");
        std::os::unix::fs::symlink(&other, &link).unwrap();
        sweep_abandoned(tmp.path());
        assert!(alive.exists() && other.join("pg_service.conf").exists());
        assert!(!dead.exists());
        assert!(std::fs::symlink_metadata(&link).is_ok());
    }
}
