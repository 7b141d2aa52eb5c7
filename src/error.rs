//! [`Error`], the one error type of the crate, its [`Result`] alias, and [`Conflict`], the
//! typed reasons a migration is refused.
//!
//! Every variant is a kind a caller can match, with the context a human needs in its
//! fields, and renders as one line that names what was wrong (a file and line, an
//! environment variable, an identifier, a command) so the CLI can print it as is. No code
//! in pum decides anything by reading an error's text: it matches variants and SQLSTATE
//! codes. Passwords never appear in an error: connection targets are shown through
//! [`ConnectionSpec`](crate::connect::ConnectionSpec)'s masked `Display`.
//!
//! Errors are `Clone` (I/O errors are shared behind an `Arc`), so a failure remembered for
//! later callers (a template build, the shared server) is handed out as the same kind.
//!
//! This file depends on nothing else in the crate, so every module can use it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Shorthand for `std::result::Result<T, pum::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in pum, one variant per kind of failure.
#[derive(Debug, Clone, thiserror::Error)]
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

    /// A statement pum sent on its own behalf failed on the server (creating a database,
    /// reading the catalog, recording a version).
    #[error("{context}: {message}")]
    Sql {
        /// What pum was doing (`"create database \"x\""`).
        context: String,
        /// SQLSTATE and server message, e.g. `42P04: database "x" already exists`.
        message: String,
        /// The SQLSTATE code, when the server sent one.
        code: Option<String>,
    },

    /// Something to create exists already (a database, also when another session created
    /// it at the same moment).
    #[error("{kind} \"{name}\" already exists")]
    AlreadyExists {
        /// What it is (`"database"`).
        kind: &'static str,
        /// Its name.
        name: String,
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

    /// One of pum's environment variables (`PUM_SERVER_IDLE`, `PUM_TEST_KEEP`…) has a
    /// value it cannot use.
    #[error("{variable}={value:?}: expected {expected}")]
    Environment {
        /// The variable.
        variable: String,
        /// Its value.
        value: String,
        /// What pum accepts there.
        expected: String,
    },

    /// A setting given elsewhere (a command-line option, a list file, a `-v` variable,
    /// the variable `--password-env` names, what `PUM_TEST_DATABASE_URL`'s role may do) is
    /// missing or cannot be used.
    #[error("{variable}: {message}")]
    Setting {
        /// The setting: an option, a variable, a file and line.
        variable: String,
        /// What is wrong with it.
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

    /// A kind of object the checker does not know (`-i colums`).
    #[error("unknown kind of object \"{name}\" (known: {known})")]
    UnknownKind {
        /// The name as given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },

    /// A changelog directory is malformed.
    #[error("{path}: {message}")]
    Changelog {
        /// The directory (or file) concerned.
        path: String,
        /// What is wrong.
        message: String,
    },

    /// A statement of a SQL file (changelog, hook, fixture) cannot be applied: it does not
    /// split, uses a bad parameter, is forbidden in changelogs, or the server refused it.
    #[error("{file}:{line}:{column}: {}", statement_message(code.as_deref(), message, statement.as_deref()))]
    Statement {
        /// The file, as recorded (`changelogs/1.0.0/01_schema.sql`) or as given.
        file: String,
        /// The line (1-based) of the problem.
        line: usize,
        /// The column (1-based, in characters).
        column: usize,
        /// What is wrong: the server's message, or pum's.
        message: String,
        /// The SQLSTATE, when the server refused the statement.
        code: Option<String>,
        /// The statement's first line, when the server refused it.
        statement: Option<String>,
    },

    /// The database has no migrations table: the module is not installed.
    #[error("{table} does not exist: not installed; {hint}")]
    NotInstalled {
        /// `schema.pum_migrations`.
        table: String,
        /// What to do instead.
        hint: String,
    },

    /// The database already has the module's migrations table.
    #[error("{table} already exists: the module is installed; use upgrade")]
    AlreadyInstalled {
        /// `schema.pum_migrations`.
        table: String,
    },

    /// The database's recorded versions and the changelogs disagree, so the migration
    /// plan refuses the run (see [`Conflict`]).
    #[error(transparent)]
    VersionConflict(#[from] Conflict),

    /// A lock another process holds was not released in time.
    #[error("{lock}: still locked after {} s by {holder}", waited.as_secs())]
    LockTimeout {
        /// What is locked (`shop.pum_migrations`, a lock file, a template).
        lock: String,
        /// Who holds it, as far as pum can tell (`another pum migrating`).
        holder: String,
        /// How long pum waited.
        waited: Duration,
    },

    /// A role named on the command line is not one the configuration declares.
    #[error("unknown role(s): {names} (configured roles: {known})")]
    UnknownRole {
        /// The unknown names, comma-separated.
        names: String,
        /// The configured role names, comma-separated (`none` without roles).
        known: String,
    },

    /// A database asked for by name does not exist on the server.
    #[error("database \"{name}\" does not exist on the server in {server}: {hint}")]
    DatabaseNotFound {
        /// The database's name.
        name: String,
        /// Which server (its directory, or its connection target with the password masked).
        server: String,
        /// What exists instead, or what to do.
        hint: String,
    },

    /// A dangerous operation was refused (dropping a database without confirmation…).
    #[error("refusing to {operation}: {reason}")]
    Refused {
        /// What was asked (`drop database "x" without --force`).
        operation: String,
        /// Why it is refused.
        reason: String,
    },

    /// Something asked for that this server, this file or this build of pum cannot do
    /// (a create strategy on PostgreSQL 14, leaving schemas out of a plain dump…).
    #[error("{message}")]
    Unsupported {
        /// What cannot be done, and what would make it possible.
        message: String,
    },

    /// Two databases to compare run different PostgreSQL major versions.
    #[error(
        "{left} runs PostgreSQL {left_major} and {right} runs PostgreSQL {right_major}: \
         definitions may be written differently; allow the version mismatch to compare anyway"
    )]
    VersionMismatch {
        /// The left database (password masked).
        left: String,
        /// Its major version.
        left_major: i32,
        /// The right database.
        right: String,
        /// Its major version.
        right_major: i32,
    },

    /// A file or directory could not be read, written or created.
    ///
    /// The message holds the I/O error's own (`/x: permission denied`), so it is not also
    /// given as [`source`](std::error::Error::source): a chain printer says it once.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying I/O error (in the message, not a `source()`).
        error: Arc<std::io::Error>,
    },

    /// An external program pum needs (pg_dump, pg_restore, psql, initdb…) was not found.
    #[error("{tool} not found: {hint}")]
    ToolNotFound {
        /// The program's name.
        tool: String,
        /// What to install or set so that it can be found.
        hint: String,
    },

    /// Code run during a migration (a Python delta, an executable, a Rust hook) failed:
    /// the file, the line when known, and what went wrong (the exception, the exit status
    /// and the end of what it printed).
    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Code {
        /// The file (as the delta directory names it), or the hook's name.
        file: String,
        /// The line of the file where it failed, when known.
        line: Option<usize>,
        /// What went wrong, on one line.
        message: String,
    },

    /// An external program (initdb, pg_ctl…) failed; `stderr` is the end of what it printed.
    #[error("{program} failed ({status}): {stderr}")]
    Program {
        /// The program, with its sub-command (`pg_ctl stop`).
        program: String,
        /// The exit status, as text.
        status: String,
        /// The tool's standard error, trimmed to its last lines.
        stderr: String,
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

    /// The ephemeral server could not be started (or stopped).
    #[error("{message}")]
    ServerStart {
        /// What happened, with the end of the server log when there is one.
        message: String,
        /// The SQLSTATE of the server's fatal error, when its log gives one (`F0001`: its
        /// lock file or shared memory is still held by a server that is going away).
        code: Option<String>,
    },

    /// A directory pum would use for its server holds something pum did not make.
    #[error("{} {reason}", path.display())]
    ServerDirectory {
        /// The directory.
        path: PathBuf,
        /// Why it is not used.
        reason: String,
    },

    /// A test template (or reference) database failed to build; every test of its spec
    /// gets this error, also in other processes (the message is kept in the registry).
    #[error("{message}")]
    TemplateBuild {
        /// The template's name (`pum_tpl_<key>`).
        template: String,
        /// Why it failed, as first reported.
        message: String,
    },

    /// A test's specification cannot be carried out (parameters without a configuration…).
    #[error("test {test}: {message}")]
    TestSpec {
        /// The test's name.
        test: String,
        /// What is wrong.
        message: String,
    },
}

/// Why a migration plan refuses to run: what the database records and what the changelogs
/// and options say do not fit together. Nothing has been changed when one is reported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Conflict {
    /// Installing beside another module's migrations table (allow multiple modules).
    #[error(
        "another module's migrations table exists in schema {}; allow multiple modules to \
         install beside it",
        schemas.join(", ")
    )]
    OtherModuleTables {
        /// The schemas holding one.
        schemas: Vec<String>,
    },

    /// Nothing at or below the maximum version to install.
    #[error("nothing to install: the first changelog is {first}, above the maximum version {max}")]
    NothingToInstall {
        /// The first changelog's version.
        first: String,
        /// The maximum version asked for.
        max: String,
    },

    /// The migrations table exists but records no version.
    #[error("{table} records no version: record one with baseline")]
    NoVersionRecorded {
        /// `schema.pum_migrations`.
        table: String,
    },

    /// The migrations table belongs to another module.
    #[error("{table} belongs to module \"{recorded}\", not \"{configured}\"")]
    OtherModule {
        /// `schema.pum_migrations`.
        table: String,
        /// The module recorded with the current version.
        recorded: String,
        /// The module of the configuration.
        configured: String,
    },

    /// The current version was installed in beta-testing mode (upgrading needs force).
    #[error("version {version} was installed in beta-testing mode: upgrading needs force")]
    BetaTesting {
        /// The current version.
        version: String,
    },

    /// A parameter that is not `app_only` has another value than when the current version
    /// was installed.
    #[error(
        "parameter {name}: was {before} when version {version} was installed and is {now} \
         now; only app_only parameters may change between upgrades"
    )]
    ParameterChanged {
        /// The parameter.
        name: String,
        /// The current version.
        version: String,
        /// Its recorded value, as JSON.
        before: String,
        /// Its value now, as JSON.
        now: String,
    },

    /// Versions at or below the current one are not recorded (skip the baseline check to
    /// go on).
    #[error(
        "version(s) {} are at or below the current version {current} but not recorded in \
         {table}; if the database holds them already (a baseline records only the version \
         it names), skip this check (--skip-baseline-check, MigrateOptions::skip_baseline_check)",
        versions.join(", ")
    )]
    MissingVersions {
        /// The versions missing from the table.
        versions: Vec<String>,
        /// The current version.
        current: String,
        /// `schema.pum_migrations`.
        table: String,
    },

    /// Applied files changed (or disappeared) since they were applied, and the run is
    /// strict.
    #[error("applied file(s) changed since they were applied: {}", files.join(", "))]
    ChangedFiles {
        /// `name (changed)` or `name (missing)`, in version order.
        files: Vec<String>,
    },

    /// Files were added to versions that are already applied: they would never run.
    #[error(
        "file(s) added to version(s) already applied, which would never run: {}; move them \
         to a new version",
        files.join(", ")
    )]
    AddedFiles {
        /// The files' recorded names (`changelogs/1.0.0/03_new.sql`).
        files: Vec<String>,
    },

    /// Delta files (pum 0.x layout) recorded as applied were edited since: pum 0.x would
    /// run them again.
    #[error(
        "delta file(s) changed since they were applied: {}; pum 0.x would run them again. \
         Restore them as applied and put the change in a new delta",
        files.join(", ")
    )]
    EditedDeltas {
        /// The files, as the delta directories name them.
        files: Vec<String>,
    },

    /// A downgrade to a version the database does not record.
    #[error("cannot downgrade to {version}: {table} does not record it (recorded: {recorded})")]
    NotApplied {
        /// The version asked for.
        version: String,
        /// `schema.pum_migrations`.
        table: String,
        /// The recorded versions, comma-separated.
        recorded: String,
    },

    /// A downgrade through versions that have no down files.
    #[error(
        "cannot downgrade: version(s) {} have no down files (changelogs/<version>/down/*.sql); \
         nothing was changed",
        versions.join(", ")
    )]
    NoDownFiles {
        /// The versions.
        versions: Vec<String>,
    },

    /// A downgrade of a database holding beta-testing versions.
    #[error("version {version} was installed in beta-testing mode: downgrading needs force")]
    BetaTestingDowngrade {
        /// The beta-testing version.
        version: String,
    },

    /// A demo data set the configuration does not declare.
    #[error("demo data \"{name}\" is not in the configuration (declared: {known})")]
    UnknownDemoData {
        /// The name asked for.
        name: String,
        /// The declared names, comma-separated (`none`).
        known: String,
    },

    /// A baseline at or below the current version.
    #[error("cannot record baseline {version}: {table} already records {current}")]
    BaselineNotAbove {
        /// The baseline asked for.
        version: String,
        /// The current version.
        current: String,
        /// `schema.pum_migrations`.
        table: String,
    },

    /// The migrations table records a version that is not dotted numbers.
    #[error("{table} records a version pum cannot read: {reason}")]
    UnreadableVersion {
        /// `schema.pum_migrations`.
        table: String,
        /// Why (the version parser's message).
        reason: String,
    },
}

impl Error {
    /// Builds [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            error: Arc::new(source),
        }
    }

    /// Builds [`Error::Sql`] from a failed statement, keeping the SQLSTATE: `context` says
    /// what was being done (`count the orders`), shown before PostgreSQL's message.
    /// For jobs of [`crate::fleet::run`] and other code that mixes its own queries with
    /// pum's calls.
    pub fn sql(context: impl Into<String>, err: &postgres::Error) -> Error {
        Error::Sql {
            context: context.into(),
            message: describe_pg_error(err),
            code: err.code().map(|c| c.code().to_string()),
        }
    }

    /// The SQLSTATE of a failed statement, a refused connection or a server that would
    /// not start, if one is known.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Sql { code, .. }
            | Error::Connect { code, .. }
            | Error::Statement { code, .. }
            | Error::ServerStart { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// `SQLSTATE: message (in: statement)`, or the message alone.
fn statement_message(code: Option<&str>, message: &str, statement: Option<&str>) -> String {
    let mut text = match code {
        Some(code) => format!("{code}: {message}"),
        None => message.to_string(),
    };
    if let Some(statement) = statement {
        text.push_str(&format!(" (in: {statement})"));
    }
    text
}

/// One line describing a `postgres::Error`: `SQLSTATE: message (detail)` for server errors,
/// the chain of causes otherwise.
pub(crate) fn describe_pg_error(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), server_message(err)),
        None => server_message(err),
    }
}

/// The server's message and detail (`message (detail)`), without the SQLSTATE; for errors
/// that did not come from the server, the chain of causes.
pub(crate) fn server_message(err: &postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let mut line = db.message().to_string();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_errors_read_as_file_line_column() {
        let err = Error::Statement {
            file: "changelogs/1.0.0/01.sql".into(),
            line: 3,
            column: 8,
            message: "syntax error at or near \"tabel\"".into(),
            code: Some("42601".into()),
            statement: Some("CREATE tabel x (".into()),
        };
        assert_eq!(
            err.to_string(),
            "changelogs/1.0.0/01.sql:3:8: 42601: syntax error at or near \"tabel\" \
             (in: CREATE tabel x ()"
        );
        assert_eq!(err.sqlstate(), Some("42601"));
        let err = Error::Statement {
            file: "a.sql".into(),
            line: 1,
            column: 1,
            message: "unterminated quoted string".into(),
            code: None,
            statement: None,
        };
        assert_eq!(err.to_string(), "a.sql:1:1: unterminated quoted string");
        assert_eq!(err.sqlstate(), None);
    }

    #[test]
    fn errors_are_cloned_with_their_kind() {
        let err = Error::io(
            "/x",
            std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        );
        let copy = err.clone();
        assert!(matches!(copy, Error::Io { ref path, .. } if path == &PathBuf::from("/x")));
        assert_eq!(copy.to_string(), "/x: gone");
        let conflict: Error = Conflict::BetaTesting {
            version: "1.2".into(),
        }
        .into();
        assert!(matches!(
            conflict.clone(),
            Error::VersionConflict(Conflict::BetaTesting { .. })
        ));
    }

    #[test]
    fn an_io_error_is_said_once_in_a_cause_chain() {
        let err = Error::io(
            "/x",
            std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
        );
        assert!(std::error::Error::source(&err).is_none());
        // What a chain printer (message, then each source) prints.
        let mut chain = vec![err.to_string()];
        let mut cause = std::error::Error::source(&err);
        while let Some(c) = cause {
            chain.push(c.to_string());
            cause = c.source();
        }
        assert_eq!(chain.join(": "), "/x: denied");
    }
}
