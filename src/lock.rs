//! PostgreSQL advisory locks: the one way pum waits for other processes (and machines)
//! working on the same server.
//!
//! A lock is a class (one per part of pum, so their keys never collide) and a text key
//! hashed on the server with `hashtext`. Session locks are taken by polling
//! `pg_try_advisory_lock` until a timeout, so a wait always ends with the lock or with
//! [`Error::LockTimeout`], never a hang; transaction locks (`pg_advisory_xact_lock`) are
//! for short critical sections and end with the transaction.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::sql::quote_literal;
use crate::wire::Sql;

/// The class of the migration locks (`'pum'` in ASCII): one per migrations table.
pub(crate) const MIGRATIONS: i32 = 0x0070_756d;

/// The class of the scratch databases' locks (`'pums'`): one per scratch database, held by
/// the process using it (`workflow::ScratchDatabase`).
pub(crate) const SCRATCH: i32 = 0x7075_6d73;

/// The class of the test harness's locks (`'pumt'`): the registry and each template.
#[cfg(feature = "server")]
pub(crate) const HARNESS: i32 = 0x7075_6d74;

/// How often a waiting process tries again.
const POLL: Duration = Duration::from_millis(50);

/// One advisory lock: a class and a key.
#[derive(Debug, Clone)]
pub(crate) struct AdvisoryLock {
    class: i32,
    key: String,
}

impl AdvisoryLock {
    /// The lock of `key` in `class`.
    pub(crate) fn new(class: i32, key: impl Into<String>) -> AdvisoryLock {
        AdvisoryLock {
            class,
            key: key.into(),
        }
    }

    /// Takes the lock for the session if it is free; returns whether it was taken.
    pub(crate) fn try_acquire(&self, client: &mut impl Sql) -> Result<bool> {
        let taken = client
            .value(&format!(
                "SELECT pg_try_advisory_lock({})",
                self.arguments()
            ))
            .map_err(|e| Error::server(format!("lock {}", self.key), &e))?;
        Ok(taken.as_deref() == Some("t"))
    }

    /// The lock's two keys as SQL: the class, and the key's hash.
    fn arguments(&self) -> String {
        format!("{}, hashtext({})", self.class, quote_literal(&self.key))
    }

    /// Takes the lock for the session, waiting at most `timeout` for its holder, described
    /// as `holder` in the error.
    ///
    /// # Errors
    /// [`Error::LockTimeout`] when it is still held after `timeout`.
    pub(crate) fn acquire(
        &self,
        client: &mut impl Sql,
        timeout: Duration,
        holder: &str,
    ) -> Result<()> {
        let started = Instant::now();
        while !self.try_acquire(client)? {
            if started.elapsed() >= timeout {
                return Err(Error::LockTimeout {
                    lock: self.key.clone(),
                    holder: holder.to_string(),
                    waited: timeout,
                });
            }
            std::thread::sleep(POLL);
        }
        Ok(())
    }

    /// Releases a lock taken with [`AdvisoryLock::acquire`] (closing the session does too).
    pub(crate) fn release(&self, client: &mut impl Sql) -> Result<()> {
        client
            .batch(&format!("SELECT pg_advisory_unlock({})", self.arguments()))
            .map_err(|e| Error::server(format!("unlock {}", self.key), &e))
    }

    /// Takes the lock until the end of the transaction `client` is in, waiting as long as
    /// it takes (for short critical sections only).
    #[cfg(feature = "server")]
    pub(crate) fn acquire_for_transaction(&self, client: &mut impl Sql) -> Result<()> {
        client
            .batch(&format!(
                "SELECT pg_advisory_xact_lock({})",
                self.arguments()
            ))
            .map_err(|e| Error::server(format!("lock {}", self.key), &e))
    }
}
