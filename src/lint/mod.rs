//! `pum lint`: the hazards an upgrade holds for a live database, found by running each
//! changelog file on the schema of the version before it and watching what PostgreSQL
//! really does.
//!
//! For each version checked, the versions below it are installed in a scratch database
//! (on the server given: pum's ephemeral server or `PUM_TEST_DATABASE_URL`'s, never the
//! database being upgraded; the scratch database is dropped afterwards, and swept by the
//! next run if this one is killed, as [`crate::workflow::ScratchDatabase`] does). Then its
//! files run statement by statement inside the version's transaction (a
//! `-- pum:no-transaction` file: each statement on its own), and after each statement one
//! catalog query compares objects that existed before the version with what they are now
//! (`observe`): a new relfilenode (rewrite, truncation), a new index or validated
//! constraint on an old table, a column turned NOT NULL, an old table, column or schema
//! gone or renamed, and the locks the session holds. Objects made earlier in the same
//! version are never hazards. The rules ([`Rule`]) decide from these facts alone (pure,
//! in `rules.rs`); only `CONCURRENTLY` inside the transaction is read from the text, since
//! PostgreSQL refuses it there (the statement then runs without the word, so that the files
//! after it still see its index).
//!
//! A finding is allowed by `-- pum:allow RULE[, RULE…]` on one of the statement's lines or
//! on a line between it and the statement before, or for a whole file in `.pum.yaml`:
//!
//! ```yaml
//! lint:
//!   allow:
//!     changelogs/2.0.0/03_drop_legacy.sql: [data-loss]
//! ```
//!
//! With [`LintOptions::pending_on`], only the versions that database has not applied are
//! checked, with the parameters it recorded, and its `pg_class` statistics
//! (`reltuples`, `relpages`: never the tables themselves) tell which tables hold rows, so
//! that dropping an empty one is no data loss. That database is only read.
//!
//! Constraints added `NOT VALID` and validated in a later file are not reported; validated
//! in the same file they are (that file holds the lock its `ADD` took while the table is
//! scanned).

mod observe;
mod render;
mod rules;
mod text;

use std::collections::BTreeMap;

pub use rules::{LockMode, Rule, Severity};

use crate::changelog::ChangelogFile;
use crate::changelog::params::Parameters;
use crate::config::Config;
use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::migrate::{MigrateOptions, NoProgress, Upgrader};
use crate::sql::split as sql;
use crate::version::Version;
use crate::workflow::ScratchDatabase;

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// Only the versions above this one (which must be a version of the changelogs).
    pub from: Option<Version>,
    /// Only the versions this database has not applied, with the parameters it recorded;
    /// the database is only read.
    pub pending_on: Option<ConnectionSpec>,
    /// Parameter values by name, as text (over the recorded ones and the defaults).
    pub parameters: Vec<(String, String)>,
}

/// One hazard of one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule.
    pub rule: Rule,
    /// Its severity.
    pub severity: Severity,
    /// The file as the project names it (`changelogs/1.2.0/01_index.sql`).
    pub file: String,
    /// The statement's first line (1-based).
    pub line: usize,
    /// The statement's first line of text.
    pub statement: String,
    /// The table (`schema.table`) or schema concerned.
    pub table: Option<String>,
    /// The strongest lock the run holds on it after the statement (`ACCESS EXCLUSIVE`);
    /// none for a statement outside a transaction.
    pub lock: Option<String>,
    /// What happens.
    pub message: String,
    /// The safe way.
    pub fix: String,
}

/// What [`lint`] found.
#[derive(Debug, Clone, Default)]
pub struct LintReport {
    /// The findings not allowed, in the order the upgrade meets them.
    pub findings: Vec<Finding>,
    /// How many findings `-- pum:allow` or `.pum.yaml` allowed.
    pub allowed: usize,
    /// The versions checked.
    pub versions: Vec<Version>,
    /// How many statements ran.
    pub statements: usize,
}

impl LintReport {
    /// How many findings are errors (`pum lint` then exits with status 1).
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }

    /// How many findings are warnings.
    pub fn warnings(&self) -> usize {
        self.findings.len() - self.errors()
    }
}

/// One statement ready to run.
struct Prepared {
    line: usize,
    last_line: usize,
    first_line: String,
    sql: String,
    concurrently: bool,
    /// `CREATE`, `DROP` or `REINDEX` … `CONCURRENTLY`: PostgreSQL runs it only outside a
    /// transaction block.
    alone_only: bool,
    truncate: bool,
    once_only: bool,
    /// `INSERT`, `UPDATE` or `DELETE`: changes rows only (unless a trigger runs DDL, which
    /// the observation after it sees).
    rows_only: bool,
}

/// One file ready to run.
struct File {
    name: String,
    in_transaction: bool,
    statements: Vec<Prepared>,
    allowances: text::Allowances,
    allowed_everywhere: Vec<Rule>,
}

/// Checks the changelogs of `config` (see the module docs), running them in a scratch
/// database on the server of `server`.
///
/// # Errors
/// Before anything is created: [`Error::Changelog`] for a `--from` version that is not
/// one of the changelogs, [`Error::Statement`] for a file that does not split, a bad
/// parameter or an unknown `-- pum:` directive or rule (naming file and line),
/// [`Error::Config`] for an unknown rule in `.pum.yaml` (naming its line), and the errors
/// of reading `pending_on`. Afterwards: errors of the scratch database, of installing the
/// versions below, and [`Error::Statement`] for a statement the server refuses.
pub fn lint(config: &Config, server: &ConnectionSpec, options: &LintOptions) -> Result<LintReport> {
    let changelogs = config.changelogs()?;
    let mut above = options.from.clone();
    if let Some(from) = &options.from
        && !changelogs.iter().any(|c| &c.version == from)
    {
        return Err(Error::Changelog {
            path: crate::text::path(&config.changelogs_dir),
            message: format!(
                "--from {from}: no such version (versions: {})",
                changelogs
                    .iter()
                    .map(|c| c.version.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    let mut given = Vec::new();
    let mut rows = None;
    if let Some(target) = &options.pending_on {
        let (current, recorded) = Upgrader::new(config, target)?.recorded()?;
        given = recorded;
        if above.as_ref().is_none_or(|from| *from < current) {
            above = Some(current);
        }
        let mut client = target.connect()?;
        client
            .batch_execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            .map_err(|e| Error::sql("make the session read-only", &e))?;
        rows = Some(observe::tables_with_rows(&mut client)?);
    }
    given.extend(options.parameters.iter().cloned());
    let parameters = Parameters::resolve(&config.parameters, &given)?;
    let config_allows = config_allowances(config)?;
    let checked: Vec<_> = changelogs
        .iter()
        .filter(|c| above.as_ref().is_none_or(|from| c.version > *from))
        .collect();
    let mut versions = Vec::new();
    for changelog in &checked {
        let files = changelog
            .files
            .iter()
            .map(|file| prepare(file, &parameters, &config_allows))
            .collect::<Result<Vec<_>>>()?;
        versions.push((changelog.version.clone(), files));
    }
    let mut report = LintReport {
        versions: versions.iter().map(|(v, _)| v.clone()).collect(),
        ..LintReport::default()
    };
    let Some(first) = checked.first() else {
        return Ok(report);
    };
    let before = changelogs
        .iter()
        .take_while(|c| c.version < first.version)
        .last()
        .map(|c| c.version.clone());

    let scratch = ScratchDatabase::create(server, "lint")?;
    let spec = scratch.spec();
    if let Some(before) = before {
        let install = MigrateOptions {
            max_version: Some(before),
            parameters: given.clone(),
            skip_roles: true,
            skip_drop_app: true,
            skip_create_app: true,
            ..MigrateOptions::default()
        };
        Upgrader::new(config, &spec)?.install(&install, &mut NoProgress)?;
    }
    let mut client = spec.connect()?;
    let version_num: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .map_err(|e| Error::sql("read the server's version", &e))?
        .get(0);
    let holds_data = |name: &str| match &rows {
        None => true,
        Some((tables, schemas)) => tables
            .get(name)
            .or_else(|| schemas.get(name))
            .copied()
            .unwrap_or(true),
    };
    for (_, files) in &versions {
        run_version(
            &mut client,
            files,
            &holds_data,
            version_num >= 120000,
            &mut report,
        )?;
    }
    drop(client);
    drop(scratch);
    Ok(report)
}

/// Runs one version's files, in its transaction, collecting the findings.
fn run_version(
    client: &mut postgres::Client,
    files: &[File],
    holds_data: &dyn Fn(&str) -> bool,
    proof_skips_scan: bool,
    report: &mut LintReport,
) -> Result<()> {
    let mut observer = observe::Observer::start(client)?;
    let control = |client: &mut postgres::Client, sql: &str| {
        client
            .batch_execute(sql)
            .map_err(|e| Error::sql("run the version's transaction", &e))
    };
    control(client, "BEGIN")?;
    // Constraint (oid) → the file that added it NOT VALID.
    let mut not_valid: BTreeMap<String, usize> = BTreeMap::new();
    for (index, file) in files.iter().enumerate() {
        if !file.in_transaction {
            control(client, "COMMIT")?;
        }
        let mut previous_end = 0;
        for (statement, seen) in file
            .statements
            .iter()
            .zip(run_file(client, &mut observer, file)?)
        {
            report.statements += 1;
            let mut facts = rules::Facts {
                changes: seen.changes,
                locks: seen.locks,
                in_transaction: file.in_transaction,
                concurrently: statement.concurrently,
                truncate: statement.truncate,
                once_only: statement.once_only,
            };
            for oid in seen.added_not_valid {
                not_valid.insert(oid, index);
            }
            for (oid, change) in seen.validated {
                // Validated in a later file than it was added: the fix, not a hazard.
                if not_valid.get(&oid).is_none_or(|added| *added == index) {
                    facts.changes.push(change);
                }
            }
            for hazard in rules::hazards(&facts, holds_data, proof_skips_scan) {
                let allowed = file.allowed_everywhere.contains(&hazard.rule)
                    || file
                        .allowances
                        .allows(hazard.rule, previous_end, statement.last_line);
                if allowed {
                    report.allowed += 1;
                    continue;
                }
                report.findings.push(Finding {
                    rule: hazard.rule,
                    severity: hazard.rule.severity(),
                    file: file.name.clone(),
                    line: statement.line,
                    statement: statement.first_line.clone(),
                    table: hazard.table,
                    lock: hazard.lock.map(|l| l.as_str().to_string()),
                    message: hazard.message,
                    fix: hazard.fix,
                });
            }
            previous_end = statement.last_line;
        }
        if !file.in_transaction {
            control(client, "BEGIN")?;
        }
    }
    control(client, "COMMIT")
}

/// Runs the statements of a file and observes each: those of a file that runs in the
/// version's transaction all at once (one by one when one fails, to name it), those of a
/// `-- pum:no-transaction` file one by one, each on its own.
fn run_file(
    client: &mut postgres::Client,
    observer: &mut observe::Observer,
    file: &File,
) -> Result<Vec<observe::Seen>> {
    let texts = file.statements.iter().map(|statement| {
        if statement.concurrently && file.in_transaction {
            text::without_word(&statement.sql, "CONCURRENTLY")
        } else {
            statement.sql.clone()
        }
    });
    if !file.in_transaction {
        return file
            .statements
            .iter()
            .zip(texts)
            .map(|(statement, sql)| run_alone(client, observer, &sql, file, statement))
            .collect();
    }
    let texts: Vec<(String, bool)> = texts
        .zip(&file.statements)
        .map(|(sql, statement)| (sql, statement.rows_only))
        .collect();
    let batch = observer
        .run_file(client, &texts)
        .map_err(|e| Error::sql("roll back a file's statements", &e))?;
    if let Some(seen) = batch {
        return Ok(seen);
    }
    file.statements
        .iter()
        .zip(&texts)
        .map(|(statement, (sql, _))| {
            observer
                .run_in_transaction(client, sql)
                .map_err(|e| refused(file, statement, &e))
        })
        .collect()
}

/// Runs a statement of a `-- pum:no-transaction` file in a transaction of its own (so that
/// its locks are seen), or alone when PostgreSQL refuses it in a transaction block
/// (`CREATE INDEX CONCURRENTLY`), and observes it.
fn run_alone(
    client: &mut postgres::Client,
    observer: &mut observe::Observer,
    sql: &str,
    file: &File,
    statement: &Prepared,
) -> Result<observe::Seen> {
    let control = |client: &mut postgres::Client, sql: &str| {
        client
            .batch_execute(sql)
            .map_err(|e| Error::sql("run a statement's transaction", &e))
    };
    if statement.alone_only {
        client
            .batch_execute(sql)
            .map_err(|e| refused(file, statement, &e))?;
        return observer.after_statement(client);
    }
    control(client, "BEGIN")?;
    match observer.run_in_transaction(client, sql) {
        Ok(seen) => {
            control(client, "COMMIT")?;
            Ok(seen)
        }
        Err(e) if e.code() == Some(&postgres::error::SqlState::ACTIVE_SQL_TRANSACTION) => {
            control(client, "ROLLBACK")?;
            client
                .batch_execute(sql)
                .map_err(|e| refused(file, statement, &e))?;
            observer.after_statement(client)
        }
        Err(e) => Err(refused(file, statement, &e)),
    }
}

/// A statement the server refused, located in its file.
fn refused(file: &File, statement: &Prepared, e: &postgres::Error) -> Error {
    Error::Statement {
        file: file.name.clone(),
        line: statement.line,
        column: 1,
        message: e
            .as_db_error()
            .map_or_else(|| e.to_string(), |db| db.message().to_string()),
        code: e.code().map(|c| c.code().to_string()),
        statement: Some(statement.first_line.clone()),
    }
}

/// Splits, checks and renders a file, and reads its directives.
fn prepare(
    file: &ChangelogFile,
    parameters: &Parameters,
    config_allows: &BTreeMap<String, Vec<Rule>>,
) -> Result<File> {
    let text = &file.sql.text;
    let at = |line: usize, column: usize, message: String| Error::Statement {
        file: file.name.clone(),
        line,
        column,
        message,
        code: None,
        statement: None,
    };
    let allowances = text::directives(text).map_err(|bad| at(bad.line, 1, bad.message))?;
    let split = sql::split(text).map_err(|e| at(e.line, e.column, e.message))?;
    let mut statements = Vec::with_capacity(split.len());
    for statement in split {
        if let Some(reason) = sql::forbidden(&statement.sql) {
            return Err(at(statement.line, statement.column, reason.to_string()));
        }
        let rendered = parameters
            .render(&statement.sql, true)
            .map_err(|(offset, message)| {
                let (line, column) = sql::line_column(text, statement.offset + offset);
                at(line, column, message)
            })?;
        let words = text::words(&statement.sql);
        let concurrently = words.iter().any(|(w, _)| w == "CONCURRENTLY");
        statements.push(Prepared {
            line: statement.line,
            last_line: statement.line + statement.sql.matches('\n').count(),
            first_line: first_line(&statement.sql),
            concurrently,
            alone_only: concurrently
                && words
                    .first()
                    .is_some_and(|(w, _)| matches!(w.as_str(), "CREATE" | "DROP" | "REINDEX")),
            truncate: words.first().is_some_and(|(w, _)| w == "TRUNCATE"),
            once_only: concurrently && text::fails_when_run_again(&words),
            rows_only: words
                .first()
                .is_some_and(|(w, _)| matches!(w.as_str(), "INSERT" | "UPDATE" | "DELETE")),
            sql: rendered,
        });
    }
    Ok(File {
        name: file.name.clone(),
        in_transaction: !file.sql.no_transaction,
        statements,
        allowances,
        allowed_everywhere: config_allows.get(&file.name).cloned().unwrap_or_default(),
    })
}

/// A statement's first line, at most 120 characters.
fn first_line(sql: &str) -> String {
    let line = sql.lines().next().unwrap_or_default().trim_end();
    match line.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

/// `.pum.yaml`'s `lint.allow`, rules parsed: an unknown one is an error naming its line.
fn config_allowances(config: &Config) -> Result<BTreeMap<String, Vec<Rule>>> {
    let mut allows = BTreeMap::new();
    for (file, rules) in &config.lint.allow {
        let mut parsed = Vec::new();
        for rule in rules {
            let at = rule.referenced;
            parsed.push(Rule::parse(&rule.value).ok_or_else(|| Error::Config {
                location: format!(
                    "{}:{}:{}",
                    crate::text::path(&config.path),
                    at.line(),
                    at.column()
                ),
                message: format!(
                    "lint.allow {file}: unknown rule {} (rules: {})",
                    rule.value,
                    Rule::names()
                ),
            })?);
        }
        allows.insert(file.clone(), parsed);
    }
    Ok(allows)
}
