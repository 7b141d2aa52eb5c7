//! Code that runs during a migration: Rust [`Hook`] values, executables and Python files
//! (pum 0.x `DeltaPy` deltas), all given the same context and all running inside the
//! run's transaction.
//!
//! - **Rust**: a value implementing [`Hook`] gets a [`HookContext`]: the run's session
//!   ([`HookContext::execute`], [`HookContext::query`]), the versions, the directory, the
//!   table, the variables and a message sink.
//! - **Executables** (any file with the run bit) get the connection in `PG*` variables,
//!   plus `PUM_CURRENT_VERSION`, `PUM_TARGET_VERSION`, `PUM_DELTA_DIR`,
//!   `PUM_MIGRATIONS_TABLE` and `PUM_PARAM_<NAME>` for each variable; what they print is
//!   passed on as messages.
//! - **Python files** run in a child interpreter (`PUM_PYTHON`, default `python3`) through
//!   a bridge shipped in this crate, which provides the `pum.core.deltapy.DeltaPy` class
//!   whether or not Python pum is installed; the file needs psycopg2 (or psycopg) as it
//!   always did. A failure is reported as the file, the line and the exception.
//!
//! The `PG*` variables and the service a child is given lead to a private socket where
//! pum relays the run's own session (see `wire::relay`): the child's SQL runs in the
//! run's transaction, and a failure anywhere leaves the database as it was. The child's
//! own transactions become savepoints of the run's (a `ROLLBACK` undoes only its work
//! since its `BEGIN`); raise to fail the run.
//! Code that connects elsewhere by itself (a host and port of its own) escapes the
//! transaction and may wait forever for locks the run holds: connect through the service
//! or the environment pum gives.

#[cfg(unix)]
mod child;
#[cfg(unix)]
mod child_io;
mod code;
#[cfg(not(unix))]
mod elsewhere;
#[cfg(unix)]
mod interpreter;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::version::Version;
use crate::wire::Sql;

#[cfg(unix)]
pub(crate) use child::Runner;
pub(crate) use code::{Code, CodeKind};
#[cfg(not(unix))]
pub(crate) use elsewhere::Runner;

/// A value given to code: `-v int|float|string NAME VALUE` in pum 0.x.
#[derive(Debug, Clone, PartialEq)]
pub enum Variable {
    /// An integer (any size).
    Int(String),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Text(String),
}

impl Variable {
    /// Reads `-v TYPE NAME VALUE`'s TYPE and VALUE: `int` and `float` (exactly, as pum
    /// 0.x compares them) are numbers, any other type is text.
    ///
    /// # Errors
    /// [`Error::Setting`] naming the variable when an `int` or `float` value is not one.
    pub fn parse(kind: &str, name: &str, value: &str) -> Result<Variable> {
        let bad = |what: &str| Error::Setting {
            variable: format!("variable {name}"),
            message: format!("{value:?} is not {what}"),
        };
        match kind {
            "int" => {
                let digits = value.trim().replace('_', "");
                let (sign, rest) = match digits.strip_prefix('-') {
                    Some(rest) => ("-", rest),
                    None => ("", digits.strip_prefix('+').unwrap_or(&digits)),
                };
                if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("an integer"));
                }
                let trimmed = rest.trim_start_matches('0');
                let number = if trimmed.is_empty() { "0" } else { trimmed };
                let sign = if number == "0" { "" } else { sign };
                Ok(Variable::Int(format!("{sign}{number}")))
            }
            "float" => {
                let text = value.trim().to_ascii_lowercase();
                let number = match text.trim_start_matches(['+', '-']) {
                    "inf" | "infinity" | "nan" => text.replace("infinity", "inf").parse::<f64>(),
                    _ => text.replace('_', "").parse::<f64>(),
                };
                number.map(Variable::Float).map_err(|_| bad("a number"))
            }
            _ => Ok(Variable::Text(value.to_string())),
        }
    }

    /// The SQL literal: `42`, `1.5`, `'it''s'` (a negative number gets a space before its
    /// sign, so `x-%(n)s` never becomes a `--` comment).
    pub fn sql_literal(&self) -> String {
        match self {
            Variable::Int(digits) if digits.starts_with('-') => format!(" {digits}"),
            Variable::Int(digits) => digits.clone(),
            Variable::Float(f) if f.is_nan() => "'NaN'::float8".into(),
            Variable::Float(f) if f.is_infinite() && *f > 0.0 => "'Infinity'::float8".into(),
            Variable::Float(f) if f.is_infinite() => "'-Infinity'::float8".into(),
            Variable::Float(f) if *f < 0.0 => format!(" {f:?}"),
            Variable::Float(f) => format!("{f:?}"),
            Variable::Text(text) => crate::sql::quote_literal(text),
        }
    }

    /// As JSON for the Python bridge (ints stay ints, floats floats).
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn json(&self) -> String {
        match self {
            Variable::Int(digits) => digits.clone(),
            Variable::Float(f) if f.is_nan() => "NaN".into(),
            Variable::Float(f) if f.is_infinite() && *f > 0.0 => "Infinity".into(),
            Variable::Float(f) if f.is_infinite() => "-Infinity".into(),
            Variable::Float(f) => format!("{f:?}"),
            Variable::Text(text) => serde_json::Value::String(text.clone()).to_string(),
        }
    }

    /// As text for an executable's environment.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn text(&self) -> String {
        match self {
            Variable::Int(digits) => digits.clone(),
            Variable::Float(f) => format!("{f:?}"),
            Variable::Text(text) => text.clone(),
        }
    }
}

/// Rust code run at a place in a migration (a delta of a delta directory).
///
/// ```
/// use pum::hooks::{Hook, HookContext};
///
/// struct Fill;
///
/// impl Hook for Fill {
///     fn run(&self, cx: &mut HookContext<'_>) -> pum::Result<()> {
///         let rows = cx.query("SELECT count(*) FROM pg_class")?;
///         cx.message(&format!("{} relations", rows[0][0].as_deref().unwrap_or("?")));
///         cx.execute("CREATE TABLE IF NOT EXISTS filled (n int)")
///     }
/// }
/// ```
pub trait Hook: Send + Sync {
    /// Runs in the run's transaction; an error fails the run (and, in a whole-run
    /// transaction, leaves the database as it was).
    ///
    /// # Errors
    /// Whatever the hook decides; [`Error::Sql`] from its statements.
    fn run(&self, cx: &mut HookContext<'_>) -> Result<()>;
}

impl<F> Hook for F
where
    F: Fn(&mut HookContext<'_>) -> Result<()> + Send + Sync,
{
    fn run(&self, cx: &mut HookContext<'_>) -> Result<()> {
        self(cx)
    }
}

/// What a [`Hook`] is given.
pub struct HookContext<'a> {
    pub(crate) session: &'a mut dyn Sql,
    pub(crate) name: String,
    pub(crate) current_version: Option<Version>,
    pub(crate) target_version: Option<Version>,
    pub(crate) dir: PathBuf,
    pub(crate) table: String,
    pub(crate) variables: &'a [(String, Variable)],
    pub(crate) messages: &'a mut dyn FnMut(&str),
}

impl HookContext<'_> {
    /// Runs `sql` (one statement or several) in the run's transaction.
    ///
    /// # Errors
    /// [`Error::Sql`] naming the hook, with the SQLSTATE and the server's message;
    /// [`Error::Refused`] for transaction control (`BEGIN`, `COMMIT`, `ROLLBACK`…), which
    /// is the run's: return an error to fail it.
    pub fn execute(&mut self, sql: &str) -> Result<()> {
        if crate::wire::classify(sql) != crate::wire::Control::None {
            return Err(Error::Refused {
                operation: format!("transaction control in hook {}", self.name),
                reason: "the hook runs inside the run's transaction, which commits when the \
                         run ends; return an error to fail the run"
                    .into(),
            });
        }
        self.session
            .batch(sql)
            .map_err(|e| Error::server(format!("run hook {}", self.name), &e))
    }

    /// Runs one query and returns its rows, every value as text (`None` for NULL). Values
    /// go into the SQL as literals ([`crate::quote_literal`]), never pasted raw.
    ///
    /// # Errors
    /// [`Error::Sql`] naming the hook.
    pub fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        self.session
            .rows(sql)
            .map_err(|e| Error::server(format!("run hook {}", self.name), &e))
    }

    /// Passes a message on (the command line prints it).
    pub fn message(&mut self, text: &str) {
        (self.messages)(text);
    }

    /// The database's version when the hook runs (including what this run recorded so
    /// far), if it has one.
    pub fn current_version(&self) -> Option<&Version> {
        self.current_version.as_ref()
    }

    /// The version the run goes to, if known.
    pub fn target_version(&self) -> Option<&Version> {
        self.target_version.as_ref()
    }

    /// The directory the hook belongs to (the delta directory).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The migrations (upgrades) table, `schema.table`.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The variables (`-v`), by name.
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_read_as_pum_0x_reads_them() {
        assert_eq!(
            Variable::parse("int", "n", "0042").unwrap(),
            Variable::Int("42".into())
        );
        assert_eq!(
            Variable::parse("int", "n", "-7").unwrap().sql_literal(),
            " -7"
        );
        assert_eq!(
            Variable::parse("int", "n", "123456789012345678901234567890")
                .unwrap()
                .sql_literal(),
            "123456789012345678901234567890"
        );
        assert!(Variable::parse("int", "n", "4.2").is_err());
        assert!(Variable::parse("int", "n", "x").is_err());
        assert_eq!(
            Variable::parse("float", "f", "1.5").unwrap().sql_literal(),
            "1.5"
        );
        assert_eq!(Variable::parse("float", "f", "2").unwrap().json(), "2.0");
        assert_eq!(
            Variable::parse("float", "f", "nan").unwrap().sql_literal(),
            "'NaN'::float8"
        );
        assert!(Variable::parse("float", "f", "1,5").is_err());
        // Any other type is text, as in pum 0.x.
        assert_eq!(
            Variable::parse("Int", "s", "O'Reilly")
                .unwrap()
                .sql_literal(),
            "'O''Reilly'"
        );
        let err = Variable::parse("int", "srid", "abc")
            .unwrap_err()
            .to_string();
        assert!(err.contains("variable srid"), "{err}");
    }
}
