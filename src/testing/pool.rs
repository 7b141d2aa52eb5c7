//! A few open sessions on the harness's maintenance database (the one the test server's
//! settings name, where the registry lives), shared by the harness's threads: creating and
//! dropping test databases needs no new connection each time.

use std::sync::Mutex;

use crate::connect::ConnectionSpec;
use crate::database::Maintenance;
use crate::error::Result;

/// Idle maintenance sessions, made on demand.
pub(crate) struct MaintenancePool {
    spec: ConnectionSpec,
    idle: Mutex<Vec<Maintenance>>,
}

impl MaintenancePool {
    /// A pool for the server of `spec`, starting with `first` (already open).
    pub(crate) fn new(spec: ConnectionSpec, first: Maintenance) -> MaintenancePool {
        MaintenancePool {
            spec,
            idle: Mutex::new(vec![first]),
        }
    }

    /// Runs `work` on an idle session (a new one if none is idle). A session that saw an
    /// error is not reused: it may be in an aborted transaction.
    pub(crate) fn with<T>(&self, work: impl FnOnce(&mut Maintenance) -> Result<T>) -> Result<T> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut session = match idle {
            Some(session) if !session.is_closed() => session,
            _ => Maintenance::on(&self.spec)?,
        };
        let result = work(&mut session);
        if result.is_ok() {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(session);
        }
        result
    }
}
