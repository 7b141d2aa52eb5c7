//! pum's own PostgreSQL session, speaking the protocol itself: what rust-postgres does not
//! expose, pum needs for migrations.
//!
//! A run's session must be lent to a child process (a Python delta or hook) so that the
//! child's SQL runs inside the run's transaction, and a failure anywhere leaves the
//! database as it was. [`RawSession`] is that session: it connects and authenticates as
//! libpq would (trust, password, md5, SCRAM-SHA-256; no TLS, as everywhere in pum), sends
//! simple queries and reads their results as text. [`relay::Relay`] lends it: the child
//! connects to a private Unix socket, pum answers its start-up itself and forwards what it
//! sends to the session (refusing transaction control), then takes the session back.
//!
//! Everything pum itself sends on a session goes through [`Sql`], which both this session
//! and rust-postgres's clients implement: simple queries, text rows, and [`ServerError`]s
//! that keep the SQLSTATE and the error's position.

#[cfg(feature = "tokio")]
pub(crate) mod proxy;
mod raw_session;
#[cfg(unix)]
pub(crate) mod relay;

pub(crate) use raw_session::RawSession;

use postgres::error::ErrorPosition;

/// An error the server sent (or, for a connection that broke, one pum made up: no code).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ServerError {
    /// The SQLSTATE.
    pub code: Option<String>,
    /// The primary message.
    pub message: String,
    /// The detail, if any.
    pub detail: Option<String>,
    /// The 1-based character position of the error in the statement sent, if the server
    /// gave one.
    pub position: Option<u32>,
}

impl ServerError {
    /// The server's message and detail (`message (detail)`), on one line.
    pub(crate) fn text(&self) -> String {
        let mut text = self.message.clone();
        if let Some(detail) = &self.detail {
            text.push_str(&format!(" ({detail})"));
        }
        crate::error::one_line(&text)
    }

    /// `SQLSTATE: message (detail)`.
    pub(crate) fn describe(&self) -> String {
        match &self.code {
            Some(code) => format!("{code}: {}", self.text()),
            None => self.text(),
        }
    }

    /// The error of a connection that no longer works.
    pub(crate) fn lost(why: impl std::fmt::Display) -> ServerError {
        ServerError {
            message: format!("the connection to the server was lost: {why}"),
            ..ServerError::default()
        }
    }
}

impl crate::error::Error {
    /// Builds [`crate::Error::Sql`] from an error the server sent pum's own statement,
    /// keeping the SQLSTATE.
    pub(crate) fn server(context: impl Into<String>, err: &ServerError) -> crate::error::Error {
        crate::error::Error::Sql {
            context: context.into(),
            message: err.describe(),
            code: err.code.clone(),
        }
    }
}

impl From<&postgres::Error> for ServerError {
    fn from(err: &postgres::Error) -> ServerError {
        match err.as_db_error() {
            Some(db) => ServerError {
                code: Some(db.code().code().to_string()),
                message: db.message().to_string(),
                detail: db.detail().map(str::to_string),
                position: match db.position() {
                    Some(ErrorPosition::Original(p)) => Some(*p),
                    _ => None,
                },
            },
            None => ServerError {
                message: crate::error::server_message(err),
                ..ServerError::default()
            },
        }
    }
}

/// A row of text values (`None` for NULL).
pub(crate) type TextRow = Vec<Option<String>>;

/// What pum's own SQL needs of a session: statements, and rows as text, in the simple
/// query protocol (values are written into the SQL as quoted literals).
pub(crate) trait Sql {
    /// Runs `sql` (one statement or several), discarding rows.
    fn batch(&mut self, sql: &str) -> Result<(), ServerError>;

    /// Runs one query and returns its rows.
    fn rows(&mut self, sql: &str) -> Result<Vec<TextRow>, ServerError>;

    /// The first column of the first row, if any.
    fn value(&mut self, sql: &str) -> Result<Option<String>, ServerError> {
        Ok(self
            .rows(sql)?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next().flatten()))
    }
}

fn simple_rows(
    client: &mut impl postgres::GenericClient,
    sql: &str,
) -> Result<Vec<TextRow>, ServerError> {
    let messages = client
        .simple_query(sql)
        .map_err(|e| ServerError::from(&e))?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}

impl Sql for postgres::Client {
    fn batch(&mut self, sql: &str) -> Result<(), ServerError> {
        self.batch_execute(sql).map_err(|e| ServerError::from(&e))
    }

    fn rows(&mut self, sql: &str) -> Result<Vec<TextRow>, ServerError> {
        simple_rows(self, sql)
    }
}

impl Sql for postgres::Transaction<'_> {
    fn batch(&mut self, sql: &str) -> Result<(), ServerError> {
        self.batch_execute(sql).map_err(|e| ServerError::from(&e))
    }

    fn rows(&mut self, sql: &str) -> Result<Vec<TextRow>, ServerError> {
        simple_rows(self, sql)
    }
}

/// The connection a run works on: pum's own session, or one the application lends
/// ([`crate::embed::Embedded`] on a `postgres::Client`, or on a `tokio_postgres::Client`
/// through a proxy). Only pum's own session can be lent on to child processes.
pub(crate) enum Conn<'c> {
    /// pum's session, connected by pum.
    Own(Box<RawSession>),
    /// The application's.
    Lent(&'c mut dyn Sql),
}

impl Conn<'_> {
    /// pum's own session, for lending to a child process (Python, executables) running
    /// `what`.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] on a lent connection.
    pub(crate) fn raw(&mut self, what: &str) -> crate::error::Result<&mut RawSession> {
        match self {
            Conn::Own(session) => Ok(&mut **session),
            Conn::Lent(_) => Err(crate::error::Error::Unsupported {
                message: format!(
                    "{what}: Python and executable code needs a session pum opened itself                      (it is lent to the child through a socket), not the application's                      client; run this project with the pum command line or Upgrader"
                ),
            }),
        }
    }

    /// Whether pum opened this session (and may change its settings).
    pub(crate) fn is_own(&self) -> bool {
        matches!(self, Conn::Own(_))
    }
}

impl Sql for Conn<'_> {
    fn batch(&mut self, sql: &str) -> Result<(), ServerError> {
        match self {
            Conn::Own(session) => session.batch(sql),
            Conn::Lent(client) => client.batch(sql),
        }
    }

    fn rows(&mut self, sql: &str) -> Result<Vec<TextRow>, ServerError> {
        match self {
            Conn::Own(session) => session.rows(sql),
            Conn::Lent(client) => client.rows(sql),
        }
    }
}

/// What a child's statement is, for the relay: transaction control is pum's.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Control {
    /// Not transaction control.
    None,
    /// `BEGIN`, `START TRANSACTION`.
    Begin,
    /// `COMMIT`, `END`.
    Commit,
    /// `ROLLBACK`, `ABORT`.
    Rollback,
    /// Refused, with why: prepared transactions, or control among other statements.
    Refused(&'static str),
}

/// What `sql` (one statement or several) is.
pub(crate) fn classify(sql: &str) -> Control {
    let Ok(statements) = crate::sql::split::split(sql) else {
        return Control::None;
    };
    let mut controls: Vec<Control> = statements.iter().map(|s| control(&s.sql)).collect();
    match controls.len() {
        1 => controls.remove(0),
        _ if controls.iter().all(|c| *c == Control::None) => Control::None,
        _ => Control::Refused(
            "transaction control inside a string of several statements: send it alone",
        ),
    }
}

fn control(statement: &str) -> Control {
    let start = crate::sql::split::first_significant(statement).unwrap_or(statement.len());
    let words: Vec<String> = statement[start..]
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .take(2)
        .map(str::to_ascii_uppercase)
        .collect();
    let second = words.get(1).map(String::as_str);
    match words.first().map(String::as_str) {
        Some("BEGIN") | Some("START") => Control::Begin,
        Some("COMMIT") | Some("END") if second == Some("PREPARED") => Control::Refused(PREPARED),
        Some("COMMIT") | Some("END") => Control::Commit,
        Some("ROLLBACK") if second == Some("PREPARED") => Control::Refused(PREPARED),
        Some("ROLLBACK") if second == Some("TO") => Control::None,
        Some("ROLLBACK") | Some("ABORT") => Control::Rollback,
        Some("PREPARE") if second == Some("TRANSACTION") => Control::Refused(PREPARED),
        _ => Control::None,
    }
}

const PREPARED: &str = "prepared transactions would take the run's transaction away from pum";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control_is_told_apart() {
        assert_eq!(classify("BEGIN"), Control::Begin);
        assert_eq!(
            classify("  begin transaction isolation level serializable"),
            Control::Begin
        );
        assert_eq!(classify("COMMIT"), Control::Commit);
        assert_eq!(classify("end;"), Control::Commit);
        assert_eq!(classify("ROLLBACK"), Control::Rollback);
        assert_eq!(classify("abort"), Control::Rollback);
        assert!(matches!(
            classify("PREPARE TRANSACTION 'x'"),
            Control::Refused(_)
        ));
        assert!(matches!(
            classify("COMMIT PREPARED 'x'"),
            Control::Refused(_)
        ));
        assert!(matches!(
            classify("INSERT INTO t VALUES (1); COMMIT"),
            Control::Refused(_)
        ));
        assert_eq!(classify("ROLLBACK TO SAVEPOINT a"), Control::None);
        assert_eq!(
            classify("SAVEPOINT a; INSERT INTO t VALUES (1)"),
            Control::None
        );
        assert_eq!(classify("-- begin\nSELECT 'COMMIT'"), Control::None);
        assert_eq!(classify(""), Control::None);
    }
}
