//! Running one SQL text statement by statement, with errors located in the file.

use postgres::GenericClient;
use postgres::error::ErrorPosition;

use crate::changelog::sql::{self, Statement};
use crate::changelog::{Parameters, SqlText};
use crate::error::{Error, Result, one_line};

/// Runs `text` (named `name` in errors) on `client`: split, checked, parameters rendered,
/// each statement sent on its own so that a failure points at its line.
///
/// `changelog` is true for changelog files (no `app_only` parameters there).
///
/// # Errors
/// [`Error::Migration`] with `name:line:column`.
pub(crate) fn run_sql(
    client: &mut impl GenericClient,
    text: &SqlText,
    name: &str,
    parameters: &Parameters,
    changelog: bool,
) -> Result<()> {
    let statements = sql::split(&text.text).map_err(|e| Error::Migration {
        location: format!("{name}:{}:{}", e.line, e.column),
        message: e.message,
        code: None,
    })?;
    for statement in &statements {
        if let Some(reason) = sql::forbidden(&statement.sql) {
            return Err(Error::Migration {
                location: format!("{name}:{}:{}", statement.line, statement.column),
                message: reason.to_string(),
                code: None,
            });
        }
        let rendered =
            parameters
                .render(&statement.sql, changelog)
                .map_err(|(offset, message)| {
                    let (line, column) = sql::line_column(&text.text, statement.offset + offset);
                    Error::Migration {
                        location: format!("{name}:{line}:{column}"),
                        message,
                        code: None,
                    }
                })?;
        if let Err(err) = client.batch_execute(&rendered) {
            return Err(statement_error(name, statement, &rendered, &err));
        }
    }
    Ok(())
}

/// Locates a server error: the statement's position, moved to the error's own position
/// within it when the server gives one.
fn statement_error(
    name: &str,
    statement: &Statement,
    rendered: &str,
    err: &postgres::Error,
) -> Error {
    let (mut line, mut column) = (statement.line, statement.column);
    let db = err.as_db_error();
    if let Some(ErrorPosition::Original(position)) = db.and_then(|d| d.position()) {
        let before: String = rendered
            .chars()
            .take((*position as usize).saturating_sub(1))
            .collect();
        let newlines = before.matches('\n').count();
        let tail = before.rsplit('\n').next().unwrap_or("").chars().count();
        if newlines == 0 {
            column += tail;
        } else {
            line += newlines;
            column = tail + 1;
        }
    }
    let first_line = statement.sql.lines().next().unwrap_or("").trim();
    let reason = match db {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => crate::error::describe_pg_error(err),
    };
    Error::Migration {
        location: format!("{name}:{line}:{column}"),
        message: one_line(&format!("{reason} (in: {first_line})")),
        code: err.code().map(|c| c.code().to_string()),
    }
}
