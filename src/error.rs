//! [`Error`], the one error type of the crate, and its [`Result`] alias.
//!
//! Every variant renders as one line that names what was wrong (a file and line, an
//! environment variable, an identifier, a command) so the CLI can print it as is.
//! Passwords never appear in an error: connection targets are shown through
//! [`ConnectionSpec`](crate::connect::ConnectionSpec)'s masked `Display`.

use std::path::PathBuf;
use std::time::Duration;

/// Shorthand for `std::result::Result<T, pum::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in pum, one variant per family of failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A connection setting is malformed: a URL, a keyword string, a service file line,
    /// an environment variable. `origin` names where the setting came from
    /// (`"service file /home/me/.pg_service.conf:3"`, `"PGPORT"`, `"connection URL"`).
    #[error("{origin}: {message}")]
    ConnectionSetting {
        /// Where the bad setting was found.
        origin: String,
        /// What is wrong with it.
        message: String,
    },

    /// A service named by `-p NAME`, `service=NAME` or `PGSERVICE` is in none of the
    /// service files that were searched.
    #[error("service \"{service}\" not found (searched: {searched})")]
    ServiceNotFound {
        /// The service name.
        service: String,
        /// The files that were looked at, in search order.
        searched: String,
    },

    /// The server could not be reached or refused the session (unreachable host,
    /// wrong password, missing database…).
    #[error("could not connect to {target}: {message}")]
    Connect {
        /// The connection target, password masked.
        target: String,
        /// The reason, as reported by the server or the network.
        message: String,
        /// The SQLSTATE, when the server refused the session (e.g. `28P01`, `3D000`).
        code: Option<String>,
    },

    /// Connecting took longer than the connect timeout.
    #[error("could not connect to {target}: no answer within {} s (connect_timeout)", timeout.as_secs())]
    ConnectTimeout {
        /// The connection target, password masked.
        target: String,
        /// The timeout that expired.
        timeout: Duration,
    },

    /// A statement failed on the server.
    #[error("{context}: {message}")]
    Sql {
        /// What pum was doing (`"create database \"x\""`).
        context: String,
        /// SQLSTATE and server message, e.g. `42P04: database "x" already exists`.
        message: String,
        /// The SQLSTATE code, when the server sent one.
        code: Option<String>,
    },

    /// A name cannot be used as a PostgreSQL identifier (empty, too long, contains NUL).
    #[error("invalid {kind} name {name:?}: {reason}")]
    InvalidIdentifier {
        /// What the name is for (`"database"`, `"role"`).
        kind: &'static str,
        /// The name as given.
        name: String,
        /// Why it cannot be used.
        reason: String,
    },

    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// An external program pum needs (pg_dump, pg_restore, psql, initdb…) was not found.
    #[error("{tool} not found: {hint}")]
    ToolNotFound {
        /// The program's name.
        tool: String,
        /// What to install or set so that it can be found.
        hint: String,
    },

    /// `pg_dump` failed; `stderr` is what it printed.
    #[error("pg_dump failed ({status}): {stderr}")]
    PgDump {
        /// The exit status, as text.
        status: String,
        /// The tool's standard error, trimmed.
        stderr: String,
    },

    /// `pg_restore` (or `psql` for plain-format dumps) failed; `stderr` is what it printed.
    #[error("{tool} failed ({status}): {stderr}")]
    PgRestore {
        /// `pg_restore` or `psql`.
        tool: String,
        /// The exit status, as text.
        status: String,
        /// The tool's standard error, trimmed.
        stderr: String,
    },

    /// A version that is not dotted numbers (`1.2`, `1.2.3`).
    #[error("invalid version \"{text}\": {reason}")]
    InvalidVersion {
        /// The text as given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A configuration file is invalid; `location` is `file` or `file:line:column`.
    #[error("{location}: {message}")]
    Config {
        /// The file, with line and column when known.
        location: String,
        /// What is wrong.
        message: String,
    },

    /// A parameter value is unknown, of the wrong type, or not allowed.
    #[error("parameter {name}: {message}")]
    Parameter {
        /// The parameter's name.
        name: String,
        /// What is wrong.
        message: String,
    },

    /// A changelog directory is malformed.
    #[error("{path}: {message}")]
    Changelog {
        /// The directory (or file) concerned.
        path: String,
        /// What is wrong.
        message: String,
    },

    /// A SQL file cannot be applied: it does not parse, uses an unknown parameter,
    /// contains a forbidden statement, or a statement failed on the server.
    #[error("{location}: {message}")]
    Migration {
        /// `file:line:column` of the statement (or of the problem in it).
        location: String,
        /// What went wrong, with the SQLSTATE and the statement's first line when the
        /// server refused it.
        message: String,
        /// The SQLSTATE, when the server refused a statement.
        code: Option<String>,
    },

    /// The database's migration state forbids the operation (wrong module, already
    /// installed, not installed, a changed parameter, a missing baseline…).
    #[error("{0}")]
    State(String),

    /// A request that cannot be carried out as asked (an option the server does not
    /// support, a combination of options that contradict each other…).
    #[error("{0}")]
    Invalid(String),

    /// The PostgreSQL server binaries could not be run or the server did not start.
    #[error("{0}")]
    Server(String),
}

impl Error {
    /// Builds [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Builds [`Error::Sql`] from a failed statement, keeping the SQLSTATE.
    pub(crate) fn sql(context: impl Into<String>, err: &postgres::Error) -> Error {
        Error::Sql {
            context: context.into(),
            message: describe_pg_error(err),
            code: err.code().map(|c| c.code().to_string()),
        }
    }

    /// The SQLSTATE of a failed statement or a refused connection, if the server sent one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Sql { code, .. }
            | Error::Connect { code, .. }
            | Error::Migration { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// One line describing a `postgres::Error`: `SQLSTATE: message (detail)` for server errors,
/// the chain of causes otherwise.
pub(crate) fn describe_pg_error(err: &postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let mut line = format!("{}: {}", db.code().code(), db.message());
        if let Some(detail) = db.detail() {
            line.push_str(&format!(" ({detail})"));
        }
        return one_line(&line);
    }
    let mut line = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    one_line(&line)
}

/// Joins the lines of a multi-line message so that every error prints as one line.
pub(crate) fn one_line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}
