//! [`RunSession`]: the session of one run, and the batches it sends.
//!
//! The steps between two commits go to the server behind a savepoint set in a round trip
//! of its own (so that even a syntax error, which makes the server refuse the whole string
//! before running any of it, leaves the savepoint to return to), in chunks of about
//! [`CHUNK_BYTES`], each in one round trip. When the server refuses a chunk, the
//! transaction goes back to the savepoint, the chunks before it are sent again, and its
//! statements run one by one until the failing one, which is then reported with its file,
//! line and column.

use super::prepared::Prepared;
use crate::error::{Error, Result};
use crate::sql::split::StatementRef;
use crate::wire::{Conn, RawSession, Sql};

/// How many bytes of statements go to the server in one round trip, about (a statement
/// larger than that goes alone). The server parses a whole query string before it runs
/// any of it, taking some fifteen times the string's size: a file of a million `INSERT`s
/// (58 MB) sent in one would cost the server 900 MB, and pum as much again to assemble.
/// A round trip per MiB costs nothing that can be measured beside the statements'.
const CHUNK_BYTES: usize = 1 << 20;

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

    /// Sends the batch in the transaction, a chunk per round trip; if the server refuses
    /// a chunk, returns to the savepoint and sends it again, the refused chunk piece by
    /// piece to name what failed.
    pub(crate) fn flush(&mut self, batch: &mut Vec<Item>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.begin()?;
        let client = &mut self.client;
        client
            .batch("SAVEPOINT pum_batch")
            .map_err(|e| Error::server("set a savepoint", &e))?;
        // A chunk the server took before and refuses when sent again (which only a
        // change made elsewhere meanwhile could cause) goes piece by piece in its turn:
        // the chunk sent piece by piece comes earlier each time, so this ends.
        let mut careful = usize::MAX;
        while let Some(refused) = send(client, batch, careful)? {
            client
                .batch("ROLLBACK TO SAVEPOINT pum_batch")
                .map_err(|e| Error::server("return to the start of the batch", &e))?;
            careful = refused;
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
pub(crate) enum Item<'a> {
    Text(Prepared<'a>),
    Sql { sql: String, doing: String },
}

/// One statement of a batch: located in its text, or pum's own.
enum Unit<'u> {
    Located {
        prepared: &'u Prepared<'u>,
        statement: &'u StatementRef<'u>,
        sql: &'u str,
    },
    Own {
        sql: &'u str,
        doing: &'u str,
    },
}

impl Unit<'_> {
    /// Appends the statement to `chunk`, ended so that it stays one statement even when
    /// it ends in a `--` comment; how many bytes that is.
    fn append_to(&self, chunk: &mut String) -> usize {
        let before = chunk.len();
        match self {
            Unit::Located { sql, .. } => {
                chunk.push_str(sql);
                chunk.push_str("\n;\n");
            }
            Unit::Own { sql, .. } => {
                chunk.push_str(sql);
                chunk.push_str(";\n");
            }
        }
        chunk.len() - before
    }

    /// The bytes [`Unit::append_to`] appends.
    fn len(&self) -> usize {
        match self {
            Unit::Located { sql, .. } => sql.len() + 3,
            Unit::Own { sql, .. } => sql.len() + 2,
        }
    }

    /// Runs the statement alone; its error names it.
    fn run(&self, client: &mut impl Sql) -> Result<()> {
        match *self {
            Unit::Located {
                prepared,
                statement,
                sql,
            } => prepared.run_one(client, statement, sql),
            Unit::Own { sql, doing } => client.batch(sql).map_err(|e| Error::server(doing, &e)),
        }
    }
}

/// Calls `each` with the statements of `batch`, in order, until it fails.
fn walk(batch: &[Item], each: &mut dyn FnMut(Unit) -> Result<()>) -> Result<()> {
    for item in batch {
        match item {
            Item::Text(prepared) => prepared.each(&mut |statement, sql| {
                each(Unit::Located {
                    prepared,
                    statement,
                    sql,
                })
            })?,
            Item::Sql { sql, doing } => each(Unit::Own { sql, doing })?,
        }
    }
    Ok(())
}

/// Sends the statements of `batch` in chunks of about [`CHUNK_BYTES`], each in one round
/// trip, except the chunks from number `careful` on, whose statements run one by one. The
/// number of the chunk the server refused, if it refused one (the transaction is then
/// aborted, and nothing more is sent).
///
/// # Errors
/// The located error of a statement that failed alone; connection errors.
fn send(client: &mut impl Sql, batch: &[Item], careful: usize) -> Result<Option<usize>> {
    let mut chunk = String::new();
    // Where chunks end depends on the statements' sizes only, so that chunk `n` is the
    // same statements every time the batch is sent.
    let (mut index, mut size) = (0, 0);
    let mut refused = None;
    walk(batch, &mut |unit| {
        if refused.is_some() {
            return Ok(());
        }
        if index >= careful {
            unit.run(client)?;
            size += unit.len();
        } else {
            size += unit.append_to(&mut chunk);
        }
        if size >= CHUNK_BYTES {
            if !chunk.is_empty() && client.batch(&chunk).is_err() {
                refused = Some(index);
            }
            chunk.clear();
            (index, size) = (index + 1, 0);
        }
        Ok(())
    })?;
    if refused.is_none() && !chunk.is_empty() && client.batch(&chunk).is_err() {
        refused = Some(index);
    }
    Ok(refused)
}
