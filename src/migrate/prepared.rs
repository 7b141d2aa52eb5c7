//! One SQL text (a changelog file, a hook) made ready to send: split into statements,
//! checked, its parameters rendered, each statement located in its file; and the errors
//! that name a statement's file, line and column.
//!
//! A text is checked whole before anything of it is sent (an unterminated quote at its
//! end is reported before the server sees its first statement), and then gone through
//! again, statement by statement, as it is sent: nothing holds its statements or their
//! rendered copies all at once. A large changelog file is not even held: it is read
//! again, a block at a time, each time (`changelog::stream`), so that a file of a million
//! `INSERT`s costs the memory of one statement.

use std::borrow::Cow;
use std::path::Path;

use crate::changelog::ChangelogFile;
use crate::changelog::params::Parameters;
use crate::error::{Error, Result};
use crate::hooks::Variable;
use crate::sql::split::{self as sql, StatementRef};
use crate::wire::{ServerError, Sql};

/// The statements of one text, checked, with the name errors give the text.
pub(crate) struct Prepared<'a> {
    /// `changelogs/1.0.0/01_schema.sql`, a hook's file, or `hook code`.
    pub name: String,
    /// The text, as written.
    source: Source<'a>,
    /// What its statements become when sent.
    render: Render<'a>,
}

/// Where the text is.
enum Source<'a> {
    /// In memory.
    Text(Cow<'a, str>),
    /// In a large file read as it runs, whose checksum was `checksum` when the run read
    /// it first.
    File { path: &'a Path, checksum: &'a str },
}

/// How a text's statements become what is sent.
enum Render<'a> {
    /// `{name}` placeholders filled from the parameters; `changelog`: no `app_only`
    /// parameter may stand there, and no transaction control.
    Parameters {
        parameters: &'a Parameters,
        changelog: bool,
    },
    /// A delta file of pum 0.x: its `BEGIN`/`COMMIT` left out; `%(name)s` placeholders
    /// filled from the `-v` variables when some were given (pum 0.x reads them only then).
    Delta(Option<&'a [(String, Variable)]>),
}

impl<'a> Prepared<'a> {
    /// Splits, checks and renders `text`. `changelog` is true for changelog files (no
    /// `app_only` parameters there, no transaction control).
    ///
    /// # Errors
    /// [`Error::Statement`] at the unterminated quote, forbidden statement or bad
    /// placeholder.
    pub(crate) fn new(
        text: impl Into<Cow<'a, str>>,
        name: &str,
        parameters: &'a Parameters,
        changelog: bool,
    ) -> Result<Prepared<'a>> {
        Prepared::checked(Source::Text(text.into()), name, parameters, changelog)
    }

    /// Splits, checks and renders changelog file `file`, which is read again, a block at
    /// a time, when it is not held.
    ///
    /// # Errors
    /// As [`Prepared::new`]; [`Error::Changelog`] when the file changed since the run
    /// read it first.
    pub(crate) fn changelog_file(
        file: &'a ChangelogFile,
        parameters: &'a Parameters,
    ) -> Result<Prepared<'a>> {
        let source = if file.sql.is_held() {
            Source::Text(Cow::Borrowed(&file.sql.text))
        } else {
            Source::File {
                path: &file.path,
                checksum: &file.sql.checksum,
            }
        };
        Prepared::checked(source, &file.name, parameters, true)
    }

    fn checked(
        source: Source<'a>,
        name: &str,
        parameters: &'a Parameters,
        changelog: bool,
    ) -> Result<Prepared<'a>> {
        let prepared = Prepared {
            name: name.to_string(),
            source,
            render: Render::Parameters {
                parameters,
                changelog,
            },
        };
        prepared.check(&mut |_| {})?;
        Ok(prepared)
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
        text: impl Into<Cow<'a, str>>,
        name: &str,
        variables: Option<&'a [(String, Variable)]>,
    ) -> Result<(Prepared<'a>, Vec<String>)> {
        let prepared = Prepared {
            name: name.to_string(),
            source: Source::Text(text.into()),
            render: Render::Delta(variables),
        };
        let mut warnings = Vec::new();
        prepared.check(&mut |statement| {
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
        })?;
        Ok((prepared, warnings))
    }

    /// Goes through the whole text: an unterminated construct anywhere is the error, else
    /// the first statement that is refused or cannot be rendered. `left_out` is told of
    /// each statement a delta file leaves out.
    fn check(&self, left_out: &mut dyn FnMut(&StatementRef)) -> Result<()> {
        let mut refused = None;
        self.statements(&mut |statement| {
            if refused.is_none() {
                match self.rendered(&statement, true) {
                    Ok(Some(_)) => {}
                    Ok(None) => left_out(&statement),
                    Err(err) => refused = Some(err),
                }
            }
            Ok(())
        })?;
        refused.map_or(Ok(()), Err)
    }

    /// Calls `each` with the statements of the text, until it fails.
    ///
    /// # Errors
    /// An unterminated construct, located; a file changed since the run read it first;
    /// `each`'s.
    fn statements(&self, each: &mut dyn FnMut(StatementRef) -> Result<()>) -> Result<()> {
        let unterminated = |e: sql::SplitError| self.at(e.line, e.column, e.message);
        match &self.source {
            Source::Text(text) => {
                for statement in sql::statements(text) {
                    each(statement.map_err(unterminated)?)?;
                }
                Ok(())
            }
            Source::File { path, checksum } => {
                crate::changelog::stream::each_statement(path, checksum, each, unterminated)
            }
        }
    }

    /// What `statement` becomes when sent, or `None` when it is left out; `checking` also
    /// refuses forbidden statements (the text was checked whole before it is sent).
    fn rendered<'s>(
        &self,
        statement: &StatementRef<'s>,
        checking: bool,
    ) -> Result<Option<Cow<'s, str>>> {
        let text = statement.sql;
        if let Render::Delta(_) = self.render
            && sql::is_begin_or_commit(text)
        {
            return Ok(None);
        }
        if checking && let Some(reason) = sql::forbidden(text) {
            return Err(self.at(statement.line, statement.column, reason.to_string()));
        }
        let rendering = match self.render {
            Render::Parameters {
                parameters,
                changelog,
            } if text.contains(['{', '}']) => parameters.render(text, changelog),
            Render::Delta(Some(variables)) if text.contains('%') => {
                crate::changelog::render_percent(text, &mut |n| {
                    variables
                        .iter()
                        .rev()
                        .find(|(name, _)| name == n)
                        .map(|(_, v)| v.sql_literal())
                        .ok_or_else(|| {
                            format!("unknown variable %({n})s: give it with -v TYPE {n} VALUE")
                        })
                })
            }
            // Without a brace (or a `%` for a delta file) rendering changes nothing.
            _ => return Ok(Some(Cow::Borrowed(text))),
        };
        let rendered = rendering.map_err(|(offset, message)| {
            // Counted from the statement's own place: the text may not be held.
            let (line, column) = match sql::line_column(text, offset) {
                (1, column) => (statement.line, statement.column + column - 1),
                (line, column) => (statement.line + line - 1, column),
            };
            self.at(line, column, message)
        })?;
        Ok(Some(Cow::Owned(rendered)))
    }

    /// Calls `each` with every statement to send, as written and as sent, in order, until
    /// it fails.
    ///
    /// # Errors
    /// `each`'s.
    pub(crate) fn each(
        &self,
        each: &mut dyn FnMut(&StatementRef, &str) -> Result<()>,
    ) -> Result<()> {
        self.statements(&mut |statement| {
            if let Some(sql) = self.rendered(&statement, false)? {
                each(&statement, &sql)?;
            }
            Ok(())
        })
    }

    /// Runs the statements one by one, so that a failure names its statement.
    ///
    /// # Errors
    /// [`Error::Statement`] with the file, line and column, the SQLSTATE, the server's
    /// message and the statement's first line.
    pub(crate) fn run_one_by_one(&self, client: &mut impl Sql) -> Result<()> {
        self.each(&mut |statement, sql| self.run_one(client, statement, sql))
    }

    /// Runs one of the statements.
    ///
    /// # Errors
    /// As [`Prepared::run_one_by_one`].
    pub(crate) fn run_one(
        &self,
        client: &mut impl Sql,
        statement: &StatementRef,
        sql: &str,
    ) -> Result<()> {
        client
            .batch(sql)
            .map_err(|err| statement_error(&self.name, statement, sql, &err))
    }

    /// An error at `line`:`column` of this text, found before the server saw it.
    fn at(&self, line: usize, column: usize, message: String) -> Error {
        located(&self.name, line, column, message)
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
    statement: &StatementRef,
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
