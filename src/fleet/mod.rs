//! Many databases of one server at once: the databases whose names match a pattern (or a
//! list), a job run on each, `jobs` at a time, and an iterator of per-database outcomes
//! in the order they finish. A failure in one database does not stop the others.
//!
//! ```no_run
//! use pum::fleet::{self, DatabaseSelection};
//! use pum::migrate::NoProgress;
//! use pum::{Config, ConnectionSpec, MigrateOptions, Upgrader};
//!
//! # fn main() -> pum::Result<()> {
//! let server = ConnectionSpec::resolve("postgresql://postgres@localhost/postgres")?;
//! let config = Config::from_dir(std::path::Path::new("db"))?;
//! let names = fleet::databases(&server, &DatabaseSelection::Like("tenant\\_%".into()))?;
//! let upgrades = fleet::run(&server, names, 4, move |target| {
//!     Upgrader::new(&config, target)?.upgrade(&MigrateOptions::default(), &mut NoProgress)
//! });
//! for outcome in upgrades {
//!     match &outcome.result {
//!         Ok(report) => println!("{}: {} version(s)", outcome.database, report.applied.len()),
//!         Err(e) => eprintln!("{}: {e}", outcome.database),
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Each job connects on its own (one session per running job), so `jobs` bounds the
//! connections the fleet uses on the server, and each database is migrated in its own
//! transaction under its own lock, as one `pum upgrade` would.
//!
//! What counts as done on one database (an install that finds the module installed
//! already does; changed applied files or schema differences do not) is the fleet's
//! rule, in [`Summary`] and [`installed`].

mod rules;
mod run;

use std::path::Path;

use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};

pub use rules::{Installed, Summary, failed_count, installed};
pub use run::{Fleet, Outcome, run};

/// Which databases of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseSelection {
    /// Those whose name matches a SQL `LIKE` pattern (`tenant\_%`; `_` and `%` are
    /// wildcards, `\` escapes them). Template databases and those that refuse
    /// connections are left out.
    Like(String),
    /// These, in this order (each must exist).
    Names(Vec<String>),
}

impl DatabaseSelection {
    /// The names listed in `file`, one per line; blank lines and lines starting with `#`
    /// are skipped, surrounding spaces trimmed.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Setting`] naming the file and
    /// line of a name PostgreSQL would not accept (over 63 bytes, or a NUL), or when the
    /// file lists no database.
    pub fn from_file(file: &Path) -> Result<DatabaseSelection> {
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
        let shown = file.display().to_string();
        let mut names: Vec<String> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let name = line.trim();
            if name.is_empty() || name.starts_with('#') {
                continue;
            }
            if name.len() > 63 || name.contains('\0') {
                return Err(Error::Setting {
                    variable: format!("{shown}:{}", n + 1),
                    message: format!(
                        "\"{}\" is not a database name (at most 63 bytes, no NUL)",
                        crate::text::printable(name)
                    ),
                });
            }
            if !names.iter().any(|known| known == name) {
                names.push(name.to_string());
            }
        }
        if names.is_empty() {
            return Err(Error::Setting {
                variable: shown,
                message: "lists no database (one name per line)".into(),
            });
        }
        Ok(DatabaseSelection::Names(names))
    }
}

/// The databases of `server` that `selection` names, sorted by name for a pattern, as
/// listed for a list.
///
/// # Errors
/// Connection errors; [`Error::DatabaseNotFound`] for a listed database the server does
/// not have; [`Error::Setting`] when a pattern matches no database (a typo should not
/// look like success).
pub fn databases(server: &ConnectionSpec, selection: &DatabaseSelection) -> Result<Vec<String>> {
    let mut client = server.connect()?;
    let mut names =
        |sql: &str, param: &(dyn postgres::types::ToSql + Sync)| -> Result<Vec<String>> {
            Ok(client
                .query(sql, &[param])
                .map_err(|e| Error::sql("list the databases", &e))?
                .iter()
                .map(|r| r.get(0))
                .collect())
        };
    const USABLE: &str = "datallowconn AND NOT datistemplate";
    match selection {
        DatabaseSelection::Like(pattern) => {
            let matching = names(
                &format!(
                    "SELECT datname::text FROM pg_database WHERE datname LIKE $1 AND {USABLE} \
                     ORDER BY datname COLLATE \"C\""
                ),
                pattern,
            )?;
            if matching.is_empty() {
                let all = names(
                    &format!(
                        "SELECT datname::text FROM pg_database WHERE {USABLE} AND $1::text \
                         IS NOT NULL ORDER BY datname COLLATE \"C\""
                    ),
                    pattern,
                )?;
                return Err(Error::Setting {
                    variable: "--databases".into(),
                    message: format!(
                        "no database on the server matches LIKE '{}' (it has {})",
                        crate::text::printable(pattern),
                        shown_names(&all)
                    ),
                });
            }
            Ok(matching)
        }
        DatabaseSelection::Names(wanted) => {
            let found = names(
                &format!(
                    "SELECT datname::text FROM pg_database WHERE datname = ANY($1) AND {USABLE}"
                ),
                wanted,
            )?;
            if let Some(missing) = wanted.iter().find(|name| !found.contains(name)) {
                return Err(Error::DatabaseNotFound {
                    name: missing.clone(),
                    server: server.to_string(),
                    hint: "it is listed but the server has no such database (or it refuses \
                           connections, or is a template)"
                        .into(),
                });
            }
            Ok(wanted.clone())
        }
    }
}

fn shown_names(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut text: Vec<String> = names
        .iter()
        .take(SHOWN)
        .map(|n| crate::text::printable(n).into_owned())
        .collect();
    if names.len() > SHOWN {
        text.push(format!("… {} more", names.len() - SHOWN));
    }
    if text.is_empty() {
        "no database".into()
    } else {
        text.join(", ")
    }
}
