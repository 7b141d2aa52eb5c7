//! One connection budget for everything the harness does on a server, across threads,
//! processes and machines: so that many test processes at once queue instead of failing
//! with "too many clients".
//!
//! The budget is the server's `max_connections` less its reserved ones and a margin for
//! people (`PUM_TEST_CONNECTIONS` sets it instead), counted in units of one connection.
//! Units are PostgreSQL advisory locks held by a session of each process: a process takes
//! [`PER_PROCESS`] units for its own sessions before anything else, and every test takes
//! [`PER_TEST`] while it runs. A claim takes all its units or none, and waits while the
//! server has too few. The first [`PER_TEST`] units are for tests only: however many
//! processes hold their own units, one test can always run, so a process holding its units
//! while waiting for a test's never waits forever. A process that dies releases its units
//! with its session: nothing to clean up.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use postgres::Client;

use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::settings;

/// The class of the budget's advisory locks (`'pumb'`).
const BUDGET: i32 = 0x7075_6d62;

/// Connections a process uses for itself: this session, the maintenance sessions (at most
/// [`super::pool::MAX_SESSIONS`] for tests and [`super::pool::BACKGROUND_SESSIONS`] for
/// drops and spares), a template build's lock session and the sessions of a build
/// (migrations, fixtures, a restore).
pub(crate) const PER_PROCESS: i32 = 10;

/// Connections a test may use: its clients and its r2d2 pool.
pub(crate) const PER_TEST: i32 = 4;

/// Connections left for people and other programs.
const MARGIN: i32 = 5;

/// How long a claim waits for units before giving up.
const WAIT: Duration = Duration::from_secs(15 * 60);

/// The budget of one process: its session (which holds the units) and the number of
/// units on the server.
pub(crate) struct Budget {
    session: Mutex<Client>,
    units: i32,
}

/// Units taken; given back when dropped.
pub(crate) struct Claim<'a> {
    budget: &'a Budget,
    units: Vec<i32>,
}

impl Budget {
    /// Connects to the server of `server`, sizes the budget, and takes this process's own
    /// units (waiting for them when other processes hold the budget).
    ///
    /// # Errors
    /// Connection errors; [`Error::Environment`] for a malformed `PUM_TEST_CONNECTIONS`;
    /// [`Error::Unsupported`] when the server allows too few connections for one process
    /// and one test; [`Error::LockTimeout`] after waiting too long.
    pub(crate) fn new(server: &ConnectionSpec) -> Result<Budget> {
        let mut client = server.connect()?;
        let units = match settings::number("PUM_TEST_CONNECTIONS", 1_i32..)? {
            Some(units) => units,
            None => {
                let allowed: i32 = client
                    .query_one(
                        "SELECT current_setting('max_connections')::int \
                         - current_setting('superuser_reserved_connections')::int",
                        &[],
                    )
                    .map_err(|e| Error::sql("read max_connections", &e))?
                    .get(0);
                allowed - MARGIN
            }
        };
        if units < PER_PROCESS + PER_TEST {
            return Err(Error::Unsupported {
                message: format!(
                    "the server leaves {units} connections for tests; pum's harness needs at \
                     least {} ({PER_PROCESS} per process, {PER_TEST} per test): raise \
                     max_connections or PUM_TEST_CONNECTIONS",
                    PER_PROCESS + PER_TEST
                ),
            });
        }
        let budget = Budget {
            session: Mutex::new(client),
            units,
        };
        // This process's own units, never among the first PER_TEST, are held for as long
        // as it lives.
        std::mem::forget(budget.claim_from(PER_PROCESS, PER_TEST)?);
        Ok(budget)
    }

    /// Takes a test's units, waiting until the server has them.
    ///
    /// # Errors
    /// [`Error::Sql`] when the budget's session fails; [`Error::LockTimeout`] after
    /// [`WAIT`].
    pub(crate) fn claim_test(&self) -> Result<Claim<'_>> {
        self.claim_from(PER_TEST, 0)
    }

    /// Takes one unit, for a session a process keeps between tests (a shared database's
    /// under transaction isolation), waiting until the server has it.
    ///
    /// # Errors
    /// As [`Budget::claim_test`].
    pub(crate) fn claim_session(&self) -> Result<Claim<'_>> {
        self.claim_from(1, 0)
    }

    /// Takes `n` units numbered `from` or more, waiting until the server has them.
    fn claim_from(&self, n: i32, from: i32) -> Result<Claim<'_>> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            if let Some(units) = self.try_claim(n, from)? {
                return Ok(Claim {
                    budget: self,
                    units,
                });
            }
            if started.elapsed() > WAIT {
                return Err(Error::LockTimeout {
                    lock: "the test connection budget".into(),
                    holder: "other tests on the same server".into(),
                    waited: WAIT,
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Runs `f` on the budget's session (the one this process always holds), for short
    /// bookkeeping such as the registry's heartbeat: it costs no connection of its own.
    pub(crate) fn with_session<T>(&self, f: impl FnOnce(&mut Client) -> T) -> T {
        f(&mut self.session.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// All `n` units numbered `from` or more, or none.
    fn try_claim(&self, n: i32, from: i32) -> Result<Option<Vec<i32>>> {
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        // The scan stops at the n-th lock taken: no more are tried. A simple query (numbers
        // only): one round trip, where a prepared one takes two.
        let taken: Vec<i32> = session
            .simple_query(&format!(
                "SELECT u FROM generate_series({from}, {} - 1) u \
                 WHERE pg_try_advisory_lock({BUDGET}, u) LIMIT {n}",
                self.units
            ))
            .map_err(|e| Error::sql("claim test connections", &e))?
            .into_iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(row) => row.get(0)?.parse().ok(),
                _ => None,
            })
            .collect();
        if taken.len() as i32 == n {
            return Ok(Some(taken));
        }
        release(&mut session, &taken)?;
        Ok(None)
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut session = self
            .budget
            .session
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Best effort: a failed session has released everything anyway.
        let _ = release(&mut session, &self.units);
    }
}

fn release(session: &mut Client, units: &[i32]) -> Result<()> {
    if units.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = units.iter().map(i32::to_string).collect();
    session
        .simple_query(&format!(
            "SELECT pg_advisory_unlock({BUDGET}, u) FROM unnest(ARRAY[{}]::int[]) u",
            list.join(",")
        ))
        .map_err(|e| Error::sql("release test connections", &e))?;
    Ok(())
}
