//! Waiting for locks politely: PostgreSQL's `lock_timeout` and `statement_timeout` for a
//! run's session, the sessions that held the lock named when a wait times out, and the
//! run tried again after an exponential backoff with jitter.
//!
//! The blockers are read while pum waits, from a second session (a [`Watcher`]): once
//! the statement has timed out, `pg_blocking_pids` of pum's session is empty. The watcher
//! connects only when the run has lasted half the shortest timeout, so a run that nothing
//! blocks costs no round trip beyond the one that sets the timeouts (and that one is the
//! statement pum sends its own sessions anyway, with the settings added).

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::MigrateOptions;
use super::run_session::RunSession;
use crate::config::Config;
use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::wire::{RawSession, Sql};

/// SQLSTATE of `lock_timeout`.
const LOCK_NOT_AVAILABLE: &str = "55P03";
/// SQLSTATE of `statement_timeout` (and of a cancelled query).
const QUERY_CANCELED: &str = "57014";

/// The timeouts and retries of one run.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Etiquette {
    /// PostgreSQL's `lock_timeout`.
    pub lock_timeout: Option<Duration>,
    /// PostgreSQL's `statement_timeout`.
    pub statement_timeout: Option<Duration>,
    /// How many times the run is tried again after a lock timeout.
    pub retries: u32,
}

impl Etiquette {
    /// The options' settings, else the configuration's.
    pub(crate) fn of(options: &MigrateOptions, config: &Config) -> Etiquette {
        Etiquette {
            lock_timeout: options.statement_lock_timeout.or(config.lock_timeout),
            statement_timeout: options.statement_timeout.or(config.statement_timeout),
            retries: options.lock_retries.or(config.lock_retries).unwrap_or(0),
        }
    }

    /// The shortest timeout, if any is set.
    fn shortest(&self) -> Option<Duration> {
        match (self.lock_timeout, self.statement_timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The one statement that prepares pum's own session: the server ends the session when
    /// pum goes away (`client_connection_check_interval`, as
    /// [`RunSession::end_with_client`]), the timeouts, and the session's pid back.
    fn session_sql(&self) -> String {
        let setting = |name: &str, value: Option<Duration>| {
            value
                .map(|d| format!(", set_config('{name}', '{}ms', false)", d.as_millis()))
                .unwrap_or_default()
        };
        format!(
            "SELECT pg_backend_pid(), (SELECT set_config('client_connection_check_interval', \
             '1000', false) WHERE current_setting('server_version_num')::int >= 140000){}{}",
            setting("lock_timeout", self.lock_timeout),
            setting("statement_timeout", self.statement_timeout)
        )
    }

    /// Prepares pum's own `session`: with no timeout set, exactly as
    /// [`RunSession::end_with_client`]; else the timeouts set in the same round trip, and
    /// a [`Watcher`] started. The application's session is left as it is.
    ///
    /// # Errors
    /// The server's, naming the settings.
    pub(crate) fn prepare(&self, session: &mut RunSession) -> Result<Option<Watcher>> {
        if !session.client.is_own() {
            return Ok(None);
        }
        let Some(shortest) = self.shortest() else {
            session.end_with_client()?;
            return Ok(None);
        };
        let pid = session
            .client
            .value(&self.session_sql())
            .map_err(|e| Error::server("set lock_timeout and statement_timeout", &e))?
            .and_then(|pid| pid.parse::<i32>().ok());
        let spec = match &session.client {
            crate::wire::Conn::Own(raw) => Some(raw.spec().clone()),
            _ => None,
        };
        Ok(pid
            .zip(spec)
            .map(|(pid, spec)| Watcher::start(spec, pid, shortest)))
    }

    /// Whether a run that failed with `err` is worth trying again: a lock timeout, or a
    /// statement timeout while another session held a lock pum waited for.
    pub(crate) fn retries_after(&self, err: &Error, blocked: bool) -> bool {
        match err.sqlstate() {
            Some(LOCK_NOT_AVAILABLE) => true,
            Some(QUERY_CANCELED) => blocked && self.statement_timeout.is_some(),
            _ => false,
        }
    }

    /// `err` with the sessions that held the lock (as the watcher saw them) added to its
    /// message, for a lock or statement timeout; and whether any was seen.
    pub(crate) fn explain(&self, err: Error, seen: Option<Seen>) -> (Error, bool) {
        let code = err.sqlstate().map(str::to_string);
        let blockers = seen
            .filter(|s| {
                let recent = self.shortest().unwrap_or_default() + poll_every(self) * 2;
                s.at.elapsed() <= recent
            })
            .map(|s| s.blockers)
            .unwrap_or_default();
        let note = match code.as_deref() {
            Some(LOCK_NOT_AVAILABLE | QUERY_CANCELED) if !blockers.is_empty() => format!(
                "; waiting for a lock held by {}; the run was rolled back",
                blockers.join(", and by ")
            ),
            Some(LOCK_NOT_AVAILABLE) => format!(
                "; lock_timeout is {}; the session that held the lock was not seen (it let go \
                 before pum looked); the run was rolled back",
                shown(self.lock_timeout)
            ),
            Some(QUERY_CANCELED) if self.statement_timeout.is_some() => format!(
                "; statement_timeout is {}; the run was rolled back",
                shown(self.statement_timeout)
            ),
            _ => return (err, false),
        };
        (with_note(err, &note), !blockers.is_empty())
    }
}

/// A duration as the options take it (`200ms`, `5s`).
fn shown(duration: Option<Duration>) -> String {
    match duration {
        Some(d) if d.subsec_millis() == 0 => format!("{}s", d.as_secs()),
        Some(d) => format!("{}ms", d.as_millis()),
        None => "not set".into(),
    }
}

/// `err` with `note` added to its message (a statement's or the server's error; any
/// other is returned as it is).
pub(super) fn with_note(err: Error, note: &str) -> Error {
    match err {
        Error::Statement {
            file,
            line,
            column,
            message,
            code,
            statement,
        } => Error::Statement {
            file,
            line,
            column,
            message: format!("{message}{note}"),
            code,
            statement,
        },
        Error::Sql {
            context,
            message,
            code,
        } => Error::Sql {
            context,
            message: format!("{message}{note}"),
            code,
        },
        other => other,
    }
}

/// How long to wait before retry `attempt` (1, 2, …): one second doubled each time, at
/// most 30 s, times a factor between 0.5 and 1.5 (`jitter` in 0..1) so that several pums
/// blocked by one session do not all come back at once.
pub(crate) fn backoff(attempt: u32, jitter: f64) -> Duration {
    let base = Duration::from_secs(1)
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(5))
        .min(Duration::from_secs(30));
    base.mul_f64(0.5 + jitter.clamp(0.0, 1.0))
}

/// A number in 0..1 that differs from process to process and call to call.
pub(crate) fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// How often the watcher looks: four times per shortest timeout, between 20 ms and 1 s.
fn poll_every(etiquette: &Etiquette) -> Duration {
    (etiquette.shortest().unwrap_or_default() / 4)
        .clamp(Duration::from_millis(20), Duration::from_secs(1))
}

/// What the watcher last saw: when, and the sessions that blocked pum's.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    at: Instant,
    blockers: Vec<String>,
}

/// What the watcher's thread and the run share.
#[derive(Default)]
struct Shared {
    stop: Mutex<bool>,
    wake: Condvar,
    seen: Mutex<Option<Seen>>,
}

/// A thread that, once the run has lasted half the shortest timeout, opens a second
/// session and looks four times per timeout for the sessions blocking the run's.
pub(crate) struct Watcher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Who blocks session `pid`: pid, user, application_name, state, since when, and the
/// start of the query.
fn blockers_sql(pid: i32) -> String {
    format!(
        "SELECT a.pid, a.usename, a.application_name, a.state, \
         to_char(coalesce(a.xact_start, a.query_start), 'YYYY-MM-DD HH24:MI:SS'), \
         round(extract(epoch FROM now() - coalesce(a.xact_start, a.query_start)))::bigint, \
         a.query FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids({pid})) \
         ORDER BY a.pid"
    )
}

/// One blocking session, in words.
fn describe(row: &[Option<String>]) -> String {
    let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    let query: String = field(6).split_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = query.chars().take(60).collect();
    let ellipsis = if short.len() < query.len() { "…" } else { "" };
    // An idle session shows the last statement it ran, not one that runs.
    let state = field(3);
    let which = if state.starts_with("idle") {
        "last query"
    } else {
        "query"
    };
    format!(
        "pid {} (user {}, application_name '{}', {state}, transaction open since {} ({} s), \
         {which}: {short}{ellipsis})",
        field(0),
        field(1),
        field(2),
        field(4),
        field(5)
    )
}

impl Watcher {
    /// Starts watching session `pid` of the server of `spec`.
    fn start(spec: ConnectionSpec, pid: i32, shortest: Duration) -> Watcher {
        let shared = Arc::new(Shared::default());
        let every = poll_every(&Etiquette {
            lock_timeout: Some(shortest),
            ..Etiquette::default()
        });
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("pum-lock-watcher".into())
            .spawn(move || watch(&theirs, &spec, pid, shortest / 2, every))
            .ok();
        Watcher { shared, thread }
    }

    /// Stops the thread; what it saw last.
    pub(crate) fn finish(mut self) -> Option<Seen> {
        self.stop();
        self.shared.seen.lock().ok().and_then(|mut s| s.take())
    }

    fn stop(&mut self) {
        if let Ok(mut stop) = self.shared.stop.lock() {
            *stop = true;
        }
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The watcher's thread: waits `delay`, connects, then looks every `every` until told to
/// stop. A failure to connect or read only means nothing is seen.
fn watch(shared: &Shared, spec: &ConnectionSpec, pid: i32, delay: Duration, every: Duration) {
    let wait = |pause: Duration| -> bool {
        let Ok(stop) = shared.stop.lock() else {
            return true;
        };
        match shared.wake.wait_timeout_while(stop, pause, |stop| !*stop) {
            Ok((stop, _)) => *stop,
            Err(_) => true,
        }
    };
    if wait(delay) {
        return;
    }
    let Ok(mut session) = RawSession::connect(spec) else {
        return;
    };
    let _ = session.batch("SET application_name = 'pum lock watcher'");
    let sql = blockers_sql(pid);
    loop {
        if let Ok(rows) = session.rows(&sql)
            && !rows.is_empty()
            && let Ok(mut seen) = shared.seen.lock()
        {
            *seen = Some(Seen {
                at: Instant::now(),
                blockers: rows.iter().map(|r| describe(r)).collect(),
            });
        }
        if wait(every) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds_with_jitter() {
        assert_eq!(backoff(1, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(2, 0.5), Duration::from_secs(2));
        assert_eq!(backoff(3, 0.5), Duration::from_secs(4));
        assert_eq!(backoff(40, 0.5), Duration::from_secs(30));
        assert_eq!(backoff(1, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(1, 1.0), Duration::from_millis(1500));
        let j = jitter();
        assert!((0.0..1.0).contains(&j));
    }

    #[test]
    fn the_session_statement_sets_only_what_is_asked() {
        let none = Etiquette::default();
        assert!(none.shortest().is_none());
        let both = Etiquette {
            lock_timeout: Some(Duration::from_millis(200)),
            statement_timeout: Some(Duration::from_secs(5)),
            retries: 0,
        };
        let sql = both.session_sql();
        assert!(
            sql.contains("set_config('lock_timeout', '200ms', false)"),
            "{sql}"
        );
        assert!(sql.contains("set_config('statement_timeout', '5000ms', false)"));
        assert_eq!(both.shortest(), Some(Duration::from_millis(200)));
        let lock_only = Etiquette {
            statement_timeout: None,
            ..both
        };
        assert!(!lock_only.session_sql().contains("statement_timeout"));
    }

    #[test]
    fn a_blocker_is_described_by_pid_user_application_state_and_query() {
        let row: Vec<Option<String>> = [
            "4242",
            "alice",
            "report",
            "idle in transaction",
            "2026-12-04 22:10:01",
            "3",
            "LOCK TABLE shop.orders\n   IN ACCESS EXCLUSIVE MODE",
        ]
        .iter()
        .map(|s| Some(s.to_string()))
        .collect();
        assert_eq!(
            describe(&row),
            "pid 4242 (user alice, application_name 'report', idle in transaction, \
             transaction open since 2026-12-04 22:10:01 (3 s), last query: LOCK TABLE shop.orders \
             IN ACCESS EXCLUSIVE MODE)"
        );
    }

    #[test]
    fn only_timeouts_are_retried() {
        let etiquette = Etiquette {
            lock_timeout: Some(Duration::from_millis(200)),
            statement_timeout: None,
            retries: 3,
        };
        let sql = |code: &str| Error::Sql {
            context: "x".into(),
            message: "m".into(),
            code: Some(code.into()),
        };
        assert!(etiquette.retries_after(&sql("55P03"), false));
        assert!(!etiquette.retries_after(&sql("57014"), true));
        assert!(!etiquette.retries_after(&sql("23505"), true));
        let (explained, blocked) = etiquette.explain(sql("55P03"), None);
        assert!(!blocked);
        assert!(explained.to_string().contains("lock_timeout is 200ms"));
    }
}
