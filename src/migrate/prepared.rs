//! One SQL text (a changelog file, a hook) made ready to send: split into statements,
//! checked, its parameters rendered, each statement located in its file; and the errors
//! that name a statement's file, line and column.

use crate::changelog::SqlText;
use crate::changelog::params::Parameters;
use crate::error::{Error, Result};
use crate::sql::split::{self as sql, Statement};
use crate::wire::{ServerError, Sql};

/// The statements of one text, rendered, with the name errors give the text.
pub(crate) struct Prepared {
    /// `changelogs/1.0.0/01_schema.sql`, a hook's file, or `hook code`.
    pub name: String,
    /// Each statement as written, and as sent.
    pub statements: Vec<(Statement, String)>,
}

impl Prepared {
    /// Splits, checks and renders `text`. `changelog` is true for changelog files (no
    /// `app_only` parameters there, no transaction control).
    ///
    /// # Errors
    /// [`Error::Statement`] at the unterminated quote, forbidden statement or bad
    /// placeholder.
    pub(crate) fn new(
        text: &SqlText,
        name: &str,
        parameters: &Parameters,
        changelog: bool,
    ) -> Result<Prepared> {
        let at = |line, column, message: String| located(name, line, column, message);
        let statements = sql::split(&text.text).map_err(|e| at(e.line, e.column, e.message))?;
        let mut rendered = Vec::with_capacity(statements.len());
        for statement in statements {
            if let Some(reason) = sql::forbidden(&statement.sql) {
                return Err(at(statement.line, statement.column, reason.to_string()));
            }
            let sql =
                parameters
                    .render(&statement.sql, changelog)
                    .map_err(|(offset, message)| {
                        let (line, column) =
                            sql::line_column(&text.text, statement.offset + offset);
                        at(line, column, message)
                    })?;
            rendered.push((statement, sql));
        }
        Ok(Prepared {
            name: name.to_string(),
            statements: rendered,
        })
    }

    /// Splits, checks and renders a delta file (pum 0.x layout): `variables` (when `-v` was
    /// given) fill `%(name)s` placeholders, as pum 0.x does only then. A `BEGIN`, `START
    /// TRANSACTION`, `COMMIT` or `END` is left out, with a warning returned: the file runs in
    /// the run's transaction (pum 0.x ran each file in a transaction of its own);
    /// `ROLLBACK` and the other forbidden statements are refused.
    ///
    /// # Errors
    /// [`Error::Statement`] at the unterminated quote, forbidden statement or bad
    /// placeholder.
    pub(crate) fn delta(
        text: &SqlText,
        name: &str,
        variables: Option<&[(String, crate::hooks::Variable)]>,
    ) -> Result<(Prepared, Vec<String>)> {
        let at = |line, column, message: String| located(name, line, column, message);
        let statements = sql::split(&text.text).map_err(|e| at(e.line, e.column, e.message))?;
        let mut rendered = Vec::with_capacity(statements.len());
        let mut warnings = Vec::new();
        for statement in statements {
            if sql::is_begin_or_commit(&statement.sql) {
                warnings.push(format!(
                    "{name}:{}: {} left out: pum runs the file in the run's transaction",
                    statement.line,
                    statement
                        .sql
                        .split(|c: char| !c.is_ascii_alphabetic())
                        .find(|w| !w.is_empty())
                        .unwrap_or("")
                        .to_ascii_uppercase()
                ));
                continue;
            }
            if let Some(reason) = sql::forbidden(&statement.sql) {
                return Err(at(statement.line, statement.column, reason.to_string()));
            }
            let sql = match variables {
                None => statement.sql.clone(),
                Some(variables) => crate::changelog::render_percent(&statement.sql, &mut |n| {
                    variables
                        .iter()
                        .rev()
                        .find(|(name, _)| name == n)
                        .map(|(_, v)| v.sql_literal())
                        .ok_or_else(|| {
                            format!("unknown variable %({n})s: give it with -v TYPE {n} VALUE")
                        })
                })
                .map_err(|(offset, message)| {
                    let (line, column) = sql::line_column(&text.text, statement.offset + offset);
                    at(line, column, message)
                })?,
            };
            rendered.push((statement, sql));
        }
        Ok((
            Prepared {
                name: name.to_string(),
                statements: rendered,
            },
            warnings,
        ))
    }

    /// Appends the statements to `batch`, each ended so that it stays one statement even
    /// when it ends in a `--` comment.
    pub(crate) fn append_to(&self, batch: &mut String) {
        for (_, sql) in &self.statements {
            batch.push_str(sql);
            batch.push_str("\n;\n");
        }
    }

    /// Runs the statements one by one, so that a failure names its statement.
    ///
    /// # Errors
    /// [`Error::Statement`] with the file, line and column, the SQLSTATE, the server's
    /// message and the statement's first line.
    pub(crate) fn run_one_by_one(&self, client: &mut impl Sql) -> Result<()> {
        for (statement, sql) in &self.statements {
            if let Err(err) = client.batch(sql) {
                return Err(statement_error(&self.name, statement, sql, &err));
            }
        }
        Ok(())
    }
}

/// An error at `line`:`column` of the text called `name`, found before the server saw it.
fn located(name: &str, line: usize, column: usize, message: String) -> Error {
    Error::Statement {
        file: name.to_string(),
        line,
        column,
        message,
        code: None,
        statement: None,
    }
}

/// Locates a server error: the statement's position, moved to the error's own position
/// within it when the server gives one.
pub(super) fn statement_error(
    name: &str,
    statement: &Statement,
    rendered: &str,
    err: &ServerError,
) -> Error {
    let (mut line, mut column) = (statement.line, statement.column);
    if let Some(position) = err.position {
        let before: String = rendered
            .chars()
            .take((position as usize).saturating_sub(1))
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
    Error::Statement {
        file: name.to_string(),
        line,
        column,
        message: err.text(),
        code: err.code.clone(),
        statement: Some(
            statement
                .sql
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string(),
        ),
    }
}
