//! A few open sessions on the registry's database of the test server (`pum_registry`, where
//! the harness does all its work), shared by the harness's threads: creating and
//! dropping test databases needs no new connection each time, and a process never holds
//! more than [`MAX_SESSIONS`] of them for its tests (threads beyond wait for one), nor more
//! than [`BACKGROUND_SESSIONS`] for its background work (drops, spares), which so never
//! keeps a test waiting for a session.

use std::sync::{Condvar, Mutex};

use crate::connect::ConnectionSpec;
use crate::database::Maintenance;
use crate::error::Result;

/// The most maintenance sessions one process holds.
pub(crate) const MAX_SESSIONS: usize = 4;

/// The maintenance sessions of a process's background work: one per worker.
pub(crate) const BACKGROUND_SESSIONS: usize = 2;

/// Idle maintenance sessions, and how many exist.
pub(crate) struct MaintenancePool {
    spec: ConnectionSpec,
    max: usize,
    state: Mutex<(Vec<Maintenance>, usize)>,
    returned: Condvar,
}

impl MaintenancePool {
    /// A pool of at most `max` sessions on the server of `spec`, starting with those in
    /// `open`.
    pub(crate) fn new(spec: ConnectionSpec, open: Vec<Maintenance>, max: usize) -> MaintenancePool {
        let count = open.len();
        MaintenancePool {
            spec,
            max,
            state: Mutex::new((open, count)),
            returned: Condvar::new(),
        }
    }

    /// Runs `work` on an idle session (a new one while there are fewer than the pool's
    /// most, else the next one returned). A session that saw an error is not
    /// reused: it may be in an aborted transaction.
    pub(crate) fn with<T>(&self, work: impl FnOnce(&mut Maintenance) -> Result<T>) -> Result<T> {
        let idle = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(session) = state.0.pop() {
                    break Some(session);
                }
                if state.1 < self.max {
                    state.1 += 1;
                    break None;
                }
                state = self.returned.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        };
        let session = match idle {
            Some(session) if !session.is_closed() => Ok(session),
            _ => Maintenance::on(&self.spec),
        };
        let mut session = match session {
            Ok(session) => session,
            Err(e) => {
                self.forget_one();
                return Err(e);
            }
        };
        let result = work(&mut session);
        if result.is_ok() {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.0.push(session);
            self.returned.notify_one();
        } else {
            drop(session);
            self.forget_one();
        }
        result
    }

    /// A session is gone: another may be made in its place.
    fn forget_one(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1 -= 1;
        self.returned.notify_one();
    }
}
