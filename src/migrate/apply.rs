//! Running one SQL text statement by statement, with errors located in the file.

use postgres::GenericClient;
use postgres::error::ErrorPosition;

use crate::changelog::SqlText;
use crate::changelog::params::Parameters;
use crate::changelog::sql::{self, Statement};
use crate::error::{Error, Result, one_line};

/// Runs `text` (named `name` in errors) on `client`: split, checked and its parameters
/// rendered statement by statement, so that any problem points at its line.
///
/// `changelog` is true for changelog files (no `app_only` parameters there). Inside a
/// transaction the statements go to the server in one round trip behind a savepoint; if
/// that fails, the savepoint is rolled back and the statements run one by one to find the
/// one that fails. Outside a transaction (`-- pum:no-transaction` files) they always run
/// one by one, as each must run on its own.
///
/// # Errors
/// [`Error::Migration`] with `name:line:column`.
pub(crate) fn run_sql(
    client: &mut impl GenericClient,
    text: &SqlText,
    name: &str,
    parameters: &Parameters,
    changelog: bool,
    in_transaction: bool,
) -> Result<()> {
    let (statements, rendered): (Vec<Statement>, Vec<String>) =
        render(text, name, parameters, changelog)?
            .into_iter()
            .unzip();
    let batched = in_transaction && rendered.len() > 1;
    if batched {
        // "\n;" ends a statement even when it ends in a -- comment.
        let mut batch = String::from("SAVEPOINT pum_file;\n");
        for sql in &rendered {
            batch.push_str(sql);
            batch.push_str("\n;\n");
        }
        batch.push_str("RELEASE SAVEPOINT pum_file;");
        if client.batch_execute(&batch).is_ok() {
            return Ok(());
        }
        client
            .batch_execute("ROLLBACK TO SAVEPOINT pum_file")
            .map_err(|e| Error::sql(format!("{name}: roll back to the file's start"), &e))?;
    }
    for (statement, sql) in statements.iter().zip(&rendered) {
        if let Err(err) = client.batch_execute(sql) {
            return Err(statement_error(name, statement, sql, &err));
        }
    }
    if batched {
        client
            .batch_execute("RELEASE SAVEPOINT pum_file")
            .map_err(|e| Error::sql(format!("{name}: release the file's savepoint"), &e))?;
    }
    Ok(())
}

/// The statements of `text`, each with its parameters rendered.
///
/// # Errors
/// [`Error::Migration`] at the unterminated quote, forbidden statement or bad placeholder.
pub(crate) fn render(
    text: &SqlText,
    name: &str,
    parameters: &Parameters,
    changelog: bool,
) -> Result<Vec<(Statement, String)>> {
    let statements = sql::split(&text.text).map_err(|e| Error::Migration {
        location: format!("{name}:{}:{}", e.line, e.column),
        message: e.message,
        code: None,
    })?;
    let mut rendered = Vec::with_capacity(statements.len());
    for statement in statements {
        if let Some(reason) = sql::forbidden(&statement.sql) {
            return Err(Error::Migration {
                location: format!("{name}:{}:{}", statement.line, statement.column),
                message: reason.to_string(),
                code: None,
            });
        }
        let sql = parameters
            .render(&statement.sql, changelog)
            .map_err(|(offset, message)| {
                let (line, column) = sql::line_column(&text.text, statement.offset + offset);
                Error::Migration {
                    location: format!("{name}:{line}:{column}"),
                    message,
                    code: None,
                }
            })?;
        rendered.push((statement, sql));
    }
    Ok(rendered)
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
