//! [`RunSession`]: the session of one run, and the batches it sends.
//!
//! The steps between two commits go to the server in one round trip, behind a savepoint
//! set in a round trip of its own (so that even a syntax error, which makes the server
//! refuse the whole string before running any of it, leaves the savepoint to return to).
//! When the server refuses the batch, the transaction goes back to the savepoint and the
//! same statements run one by one until the failing one, which is then reported with its
//! file, line and column.

use super::prepared::Prepared;
use crate::error::{Error, Result};
use crate::wire::{Conn, RawSession, Sql};

/// The session of one run: its client, and whether a transaction is open.
pub(crate) struct RunSession<'c> {
    pub client: Conn<'c>,
    /// Runs the code (Python, executables) the run's session is lent to.
    pub code: crate::hooks::Runner,
    in_transaction: bool,
}

impl<'c> RunSession<'c> {
    /// A session with no transaction open.
    pub(crate) fn new(client: RawSession) -> RunSession<'c> {
        RunSession::on(Conn::Own(Box::new(client)))
    }

    /// A session on `client`, which has no transaction open.
    pub(crate) fn on(client: Conn<'c>) -> RunSession<'c> {
        RunSession {
            client,
            code: crate::hooks::Runner::default(),
            in_transaction: false,
        }
    }

    /// Connects to `spec` and takes `lock` (waiting at most `timeout` for `holder`); runs
    /// `work`; rolls back what `work` left open after an error; releases the lock.
    ///
    /// # Errors
    /// Connection errors, [`Error::LockTimeout`], and `work`'s.
    pub(crate) fn locked<T>(
        spec: &crate::connect::ConnectionSpec,
        lock: &crate::lock::AdvisoryLock,
        timeout: std::time::Duration,
        holder: &str,
        work: impl FnOnce(&mut RunSession) -> Result<T>,
    ) -> Result<T> {
        let mut session = RunSession::new(RawSession::connect(spec)?);
        session.end_with_client()?;
        session.locked_with(lock, timeout, holder, work)
    }

    /// Takes `lock` on this session (waiting at most `timeout` for `holder`); runs `work`;
    /// rolls back what `work` left open after an error; releases the lock.
    ///
    /// # Errors
    /// [`Error::LockTimeout`], and `work`'s.
    pub(crate) fn locked_with<T>(
        &mut self,
        lock: &crate::lock::AdvisoryLock,
        timeout: std::time::Duration,
        holder: &str,
        work: impl FnOnce(&mut RunSession) -> Result<T>,
    ) -> Result<T> {
        lock.acquire(&mut self.client, timeout, holder)?;
        let result = work(self);
        if result.is_err() {
            self.rollback();
        }
        let _ = lock.release(&mut self.client);
        result
    }

    /// Makes the server end this session's statement when pum goes away (Ctrl-C, a kill):
    /// without it, a statement waiting for a lock held elsewhere would wait on, and then
    /// run, for a client that is gone. PostgreSQL 14 and later check the client's socket
    /// every second while a statement runs; older servers notice when they next write.
    pub(crate) fn end_with_client(&mut self) -> Result<()> {
        self.client
            .batch(
                "SELECT set_config('client_connection_check_interval', '1000', false) \
                 WHERE current_setting('server_version_num')::int >= 140000",
            )
            .map_err(|e| Error::server("set client_connection_check_interval", &e))
    }

    /// Opens a transaction unless one is open.
    pub(crate) fn begin(&mut self) -> Result<()> {
        if !self.in_transaction {
            self.client
                .batch("BEGIN")
                .map_err(|e| Error::server("begin a transaction", &e))?;
            self.in_transaction = true;
        }
        Ok(())
    }

    /// Commits the open transaction, if any.
    pub(crate) fn commit(&mut self) -> Result<()> {
        if self.in_transaction {
            self.client
                .batch("COMMIT")
                .map_err(|e| Error::server("commit", &e))?;
            self.in_transaction = false;
        }
        Ok(())
    }

    /// Sends the batch in one round trip in the transaction; if the server refuses it,
    /// returns to the savepoint and runs it piece by piece to name what failed.
    pub(crate) fn flush(&mut self, batch: &mut Vec<Item>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.begin()?;
        let client = &mut self.client;
        client
            .batch("SAVEPOINT pum_batch")
            .map_err(|e| Error::server("set a savepoint", &e))?;
        let mut sql = String::new();
        for item in batch.iter() {
            match item {
                Item::Text(prepared) => prepared.append_to(&mut sql),
                Item::Sql { sql: statement, .. } => {
                    sql.push_str(statement);
                    sql.push_str(";\n");
                }
            }
        }
        if client.batch(&sql).is_err() {
            client
                .batch("ROLLBACK TO SAVEPOINT pum_batch")
                .map_err(|e| Error::server("return to the start of the batch", &e))?;
            for item in batch.iter() {
                match item {
                    Item::Text(prepared) => prepared.run_one_by_one(client)?,
                    Item::Sql { sql, doing } => {
                        client.batch(sql).map_err(|e| Error::server(doing, &e))?
                    }
                }
            }
        }
        client
            .batch("RELEASE SAVEPOINT pum_batch")
            .map_err(|e| Error::server("release the savepoint", &e))?;
        batch.clear();
        Ok(())
    }

    /// Rolls the open transaction back, if any (best effort: the run has already failed).
    pub(crate) fn rollback(&mut self) {
        if self.in_transaction {
            let _ = self.client.batch("ROLLBACK");
            self.in_transaction = false;
        }
    }
}

/// One piece of a batch: statements located in their text, or a statement of pum's own
/// (with what it does, for its error).
pub(crate) enum Item {
    Text(Prepared),
    Sql { sql: String, doing: String },
}
