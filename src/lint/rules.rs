//! The rules of `pum lint` (pure): from what PostgreSQL did while one statement ran (the
//! changes [`super::observe`] saw to objects that existed before the version, the locks
//! held after it) and what the statement's text says, the hazards it is.

use std::collections::BTreeMap;

/// A rule of `pum lint`, by its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// `rewrite`: an existing table is rewritten (its relfilenode changed) under ACCESS
    /// EXCLUSIVE: a type change that is not binary-coercible, a volatile default, `USING`.
    Rewrite,
    /// `blocking-index`: an index built on an existing table without `CONCURRENTLY`
    /// (writes wait for the whole build), including a `UNIQUE`/`PRIMARY KEY` constraint
    /// added without `USING INDEX`.
    BlockingIndex,
    /// `validating-constraint`: a foreign key or check constraint added to an existing
    /// table without `NOT VALID`: the table is scanned under the lock.
    ValidatingConstraint,
    /// `not-null-scan`: `SET NOT NULL` on an existing column with no validated
    /// `CHECK (col IS NOT NULL)` to prove it: the table is scanned under ACCESS EXCLUSIVE.
    NotNullScan,
    /// `data-loss`: an existing table, column or schema that holds data is dropped, or a
    /// table truncated.
    DataLoss,
    /// `breaking-rename`: an existing table, view, column or schema is renamed (running
    /// applications use the old name).
    BreakingRename,
    /// `concurrently-in-transaction`: `CONCURRENTLY` in a file that runs inside the
    /// transaction (PostgreSQL refuses it there).
    ConcurrentlyInTransaction,
    /// `not-rerunnable`: in a `-- pum:no-transaction` file, which runs again from its first
    /// statement after a failure or an interruption, a statement that fails the second
    /// time: `CREATE INDEX CONCURRENTLY` without `IF NOT EXISTS`, `DROP INDEX
    /// CONCURRENTLY` without `IF EXISTS`.
    NotRerunnable,
}

/// How bad a finding is: an error fails `pum lint` (exit status 1), a warning does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Reported; `pum lint` still succeeds.
    Warning,
    /// `pum lint` fails unless the finding is allowed.
    Error,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl Rule {
    /// Every rule, in the order the README lists them.
    pub const ALL: [Rule; 8] = [
        Rule::Rewrite,
        Rule::BlockingIndex,
        Rule::ValidatingConstraint,
        Rule::NotNullScan,
        Rule::DataLoss,
        Rule::BreakingRename,
        Rule::ConcurrentlyInTransaction,
        Rule::NotRerunnable,
    ];

    /// Its id, as findings and `-- pum:allow` name it.
    pub fn id(self) -> &'static str {
        match self {
            Rule::Rewrite => "rewrite",
            Rule::BlockingIndex => "blocking-index",
            Rule::ValidatingConstraint => "validating-constraint",
            Rule::NotNullScan => "not-null-scan",
            Rule::DataLoss => "data-loss",
            Rule::BreakingRename => "breaking-rename",
            Rule::ConcurrentlyInTransaction => "concurrently-in-transaction",
            Rule::NotRerunnable => "not-rerunnable",
        }
    }

    /// The rule whose id is `id` (case-insensitive).
    pub fn parse(id: &str) -> Option<Rule> {
        Rule::ALL
            .into_iter()
            .find(|rule| rule.id().eq_ignore_ascii_case(id.trim()))
    }

    /// Every id, comma-separated, for error messages.
    pub fn names() -> String {
        Rule::ALL.map(Rule::id).join(", ")
    }

    /// Its severity. Everything that makes a live database wait on a scan or rewrite, loses
    /// data, or fails the upgrade is an error; a rename, which breaks only the clients
    /// still using the old name, and a statement that fails only when its file runs again
    /// after a failure, are warnings.
    pub fn severity(self) -> Severity {
        match self {
            Rule::BreakingRename | Rule::NotRerunnable => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// A table-level lock mode, weakest first (PostgreSQL's conflict table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    /// ACCESS SHARE (SELECT).
    AccessShare,
    /// ROW SHARE (SELECT FOR UPDATE).
    RowShare,
    /// ROW EXCLUSIVE (INSERT, UPDATE, DELETE).
    RowExclusive,
    /// SHARE UPDATE EXCLUSIVE (VALIDATE CONSTRAINT, CREATE INDEX CONCURRENTLY).
    ShareUpdateExclusive,
    /// SHARE (CREATE INDEX): blocks writes.
    Share,
    /// SHARE ROW EXCLUSIVE (foreign keys, triggers): blocks writes.
    ShareRowExclusive,
    /// EXCLUSIVE: blocks everything but reads.
    Exclusive,
    /// ACCESS EXCLUSIVE: blocks everything, reads too.
    AccessExclusive,
}

impl LockMode {
    /// The mode `pg_locks.mode` names (`AccessExclusiveLock`).
    pub fn from_pg_locks(mode: &str) -> Option<LockMode> {
        Some(match mode {
            "AccessShareLock" => LockMode::AccessShare,
            "RowShareLock" => LockMode::RowShare,
            "RowExclusiveLock" => LockMode::RowExclusive,
            "ShareUpdateExclusiveLock" => LockMode::ShareUpdateExclusive,
            "ShareLock" => LockMode::Share,
            "ShareRowExclusiveLock" => LockMode::ShareRowExclusive,
            "ExclusiveLock" => LockMode::Exclusive,
            "AccessExclusiveLock" => LockMode::AccessExclusive,
            _ => return None,
        })
    }

    /// As the documentation and `LOCK TABLE` name it: `ACCESS EXCLUSIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }
}

/// Something a statement did to an object that existed before its version, as the catalog
/// shows it. Tables are named `schema.table` (quoted where SQL needs it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Change {
    /// The table's storage was replaced (relfilenode changed): a rewrite, or a truncation.
    Rewritten { table: String },
    /// A table (or materialized view, foreign table) is gone.
    TableDropped { table: String },
    /// A column is gone.
    ColumnDropped { table: String, column: String },
    /// A schema is gone.
    SchemaDropped { schema: String },
    /// A table, view or materialized view has another name or schema.
    TableRenamed { table: String, to: String },
    /// A column has another name.
    ColumnRenamed {
        table: String,
        column: String,
        to: String,
    },
    /// A schema has another name.
    SchemaRenamed { schema: String, to: String },
    /// A column became NOT NULL; `proven`: a validated `CHECK (col IS NOT NULL)` let
    /// PostgreSQL (12+) skip the scan.
    NotNull {
        table: String,
        column: String,
        proven: bool,
    },
    /// An index was built on the table (`constraint`: the UNIQUE or PRIMARY KEY constraint
    /// it serves). An index PostgreSQL only re-created on the old storage (a
    /// binary-coercible type change) is not one.
    IndexBuilt {
        table: String,
        index: String,
        constraint: Option<String>,
    },
    /// A foreign key or check constraint was added, validated at once (a re-creation of an
    /// existing one, as a type change does, is not one).
    ConstraintValidated {
        table: String,
        constraint: String,
        foreign_key: bool,
    },
}

/// Everything known about one statement.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    /// What it changed in objects older than its version (new since the statement
    /// before).
    pub changes: Vec<Change>,
    /// The strongest lock the run holds on each table after it (empty for a statement that
    /// ran outside a transaction: its locks are gone when it ends).
    pub locks: BTreeMap<String, LockMode>,
    /// Its file runs inside the transaction (no `-- pum:no-transaction`).
    pub in_transaction: bool,
    /// Its text holds the word `CONCURRENTLY`.
    pub concurrently: bool,
    /// It is a `TRUNCATE`.
    pub truncate: bool,
    /// It fails when it runs a second time: `CREATE INDEX CONCURRENTLY` without `IF NOT
    /// EXISTS`, `DROP INDEX CONCURRENTLY` without `IF EXISTS`.
    pub once_only: bool,
}

/// One hazard of one statement, before it is placed in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hazard {
    pub rule: Rule,
    pub table: Option<String>,
    pub lock: Option<LockMode>,
    pub message: String,
    pub fix: String,
}

/// The hazards of a statement. `holds_data` says whether a table (`schema.table`), or
/// some table of a schema, may hold rows; `proof_skips_scan`: the server (PostgreSQL 12+)
/// skips the scan of `SET NOT NULL` when a validated check proves it.
pub(crate) fn hazards(
    facts: &Facts,
    holds_data: &dyn Fn(&str) -> bool,
    proof_skips_scan: bool,
) -> Vec<Hazard> {
    if facts.concurrently && facts.in_transaction {
        // PostgreSQL refuses the statement: nothing else about it matters.
        return vec![hazard(
            facts,
            Rule::ConcurrentlyInTransaction,
            None,
            "CONCURRENTLY cannot run inside a transaction block: the upgrade fails here".into(),
            "move the statement to a file of its own that starts with -- pum:no-transaction",
        )];
    }
    let rewritten = tables_where(facts, |c| match c {
        Change::Rewritten { table } => Some(table),
        _ => None,
    });
    let indexed = tables_where(facts, |c| match c {
        Change::IndexBuilt { table, .. } => Some(table),
        _ => None,
    });
    // A rewrite re-creates the table's indexes and constraints, an index build a
    // primary key's NOT NULL: the bigger hazard is the one reported.
    let covered = |table: &str, by_index: bool| {
        rewritten.contains(&table) || (by_index && indexed.contains(&table))
    };
    let mut found = Vec::new();
    let mut reported_index: Vec<&str> = Vec::new();
    for change in &facts.changes {
        let judged = match change {
            Change::Rewritten { table } => rewrite_hazard(facts, table, holds_data),
            Change::IndexBuilt {
                table,
                index,
                constraint,
            } => {
                if covered(table, false) || facts.concurrently || reported_index.contains(&&**index)
                {
                    continue;
                }
                reported_index.push(index);
                Some(index_hazard(facts, table, index, constraint.as_deref()))
            }
            Change::ConstraintValidated {
                table,
                constraint,
                foreign_key,
            } => (!covered(table, false))
                .then(|| validation_hazard(facts, table, constraint, *foreign_key)),
            Change::NotNull {
                table,
                column,
                proven,
            } => (!(covered(table, true) || (*proven && proof_skips_scan)))
                .then(|| not_null_hazard(facts, table, column)),
            Change::TableDropped { .. }
            | Change::ColumnDropped { .. }
            | Change::SchemaDropped { .. } => drop_hazard(facts, change, holds_data),
            Change::TableRenamed { .. }
            | Change::ColumnRenamed { .. }
            | Change::SchemaRenamed { .. } => rename_hazard(facts, change),
        };
        found.extend(judged);
    }
    if facts.once_only && !facts.in_transaction {
        let table = tables_where(facts, |c| match c {
            Change::IndexBuilt { table, .. } => Some(table),
            _ => None,
        });
        found.push(hazard(
            facts,
            Rule::NotRerunnable,
            table.first().copied(),
            "the file runs again from its first statement after a failure or an interruption, \
             and this statement then fails: the index exists (or is gone) already"
                .into(),
            "write CREATE INDEX CONCURRENTLY IF NOT EXISTS (DROP INDEX CONCURRENTLY IF EXISTS)",
        ));
    }
    found
}

/// A hazard of `rule` on `table` (with the lock the run holds on it).
fn hazard(facts: &Facts, rule: Rule, table: Option<&str>, message: String, fix: &str) -> Hazard {
    Hazard {
        rule,
        table: table.map(str::to_string),
        lock: table.and_then(|table| facts.locks.get(table).copied()),
        message,
        fix: fix.to_string(),
    }
}

/// The tables `pick` finds among the statement's changes.
fn tables_where<'a>(facts: &'a Facts, pick: fn(&'a Change) -> Option<&'a String>) -> Vec<&'a str> {
    facts
        .changes
        .iter()
        .filter_map(pick)
        .map(String::as_str)
        .collect()
}

/// A table's new storage: data lost to a `TRUNCATE`, else a rewrite under the lock.
fn rewrite_hazard(facts: &Facts, table: &str, holds_data: &dyn Fn(&str) -> bool) -> Option<Hazard> {
    if facts.truncate {
        return holds_data(table).then(|| {
            hazard(
                facts,
                Rule::DataLoss,
                Some(table),
                format!("TRUNCATE empties {table}, which holds data"),
                "delete only what must go (DELETE … WHERE), or allow it: -- pum:allow data-loss",
            )
        });
    }
    Some(hazard(
        facts,
        Rule::Rewrite,
        Some(table),
        format!("{table} is rewritten (new storage) while the lock blocks every read and write"),
        "add a new column, fill it in batches, then swap; a varchar can grow, and a constant \
         default (PostgreSQL 11+) needs no rewrite",
    ))
}

/// An index built while writes wait, for a constraint or on its own.
fn index_hazard(facts: &Facts, table: &str, index: &str, constraint: Option<&str>) -> Hazard {
    match constraint {
        Some(constraint) => hazard(
            facts,
            Rule::BlockingIndex,
            Some(table),
            format!("constraint {constraint} builds index {index} on {table} while writes wait"),
            "CREATE UNIQUE INDEX CONCURRENTLY in a -- pum:no-transaction file, then ADD \
             CONSTRAINT … USING INDEX in a later file",
        ),
        None => hazard(
            facts,
            Rule::BlockingIndex,
            Some(table),
            format!("index {index} is built on {table} while writes wait"),
            "CREATE INDEX CONCURRENTLY in a file that starts with -- pum:no-transaction",
        ),
    }
}

/// A foreign key or check constraint validated by a scan under the lock.
fn validation_hazard(facts: &Facts, table: &str, constraint: &str, foreign_key: bool) -> Hazard {
    let kind = if foreign_key { "foreign key" } else { "check" };
    hazard(
        facts,
        Rule::ValidatingConstraint,
        Some(table),
        format!("{kind} constraint {constraint} scans {table} under the lock"),
        "add it NOT VALID, then VALIDATE CONSTRAINT in a later file (a weaker lock)",
    )
}

/// A `SET NOT NULL` that scans the table under ACCESS EXCLUSIVE.
fn not_null_hazard(facts: &Facts, table: &str, column: &str) -> Hazard {
    hazard(
        facts,
        Rule::NotNullScan,
        Some(table),
        format!("SET NOT NULL on {table}.{column} scans the table under ACCESS EXCLUSIVE"),
        "first ADD CONSTRAINT … CHECK (column IS NOT NULL) NOT VALID and VALIDATE it in a later \
         file; then SET NOT NULL skips the scan",
    )
}

/// A dropped table, column or schema, when it may hold data.
fn drop_hazard(
    facts: &Facts,
    change: &Change,
    holds_data: &dyn Fn(&str) -> bool,
) -> Option<Hazard> {
    let (table, message, fix) = match change {
        Change::TableDropped { table } => (
            table,
            format!("{table} is dropped with its data"),
            "stop using it in one release, drop it in a later one, and allow it: -- pum:allow \
             data-loss",
        ),
        Change::ColumnDropped { table, column } => (
            table,
            format!("column {table}.{column} is dropped with its data"),
            "stop using it in one release, drop it in a later one, and allow it: -- pum:allow \
             data-loss",
        ),
        Change::SchemaDropped { schema } => (
            schema,
            format!("schema {schema} is dropped with the data of its tables"),
            "drop only what is no longer used, and allow it: -- pum:allow data-loss",
        ),
        _ => return None,
    };
    holds_data(table).then(|| hazard(facts, Rule::DataLoss, Some(table), message, fix))
}

/// A renamed table, column or schema that running applications still use by its old name.
fn rename_hazard(facts: &Facts, change: &Change) -> Option<Hazard> {
    let (table, message, fix) = match change {
        Change::TableRenamed { table, to } => (
            table,
            format!("{table} becomes {to}: running applications still use the old name"),
            "keep the old name working for a release (a view of the new table), then drop it",
        ),
        Change::ColumnRenamed { table, column, to } => (
            table,
            format!(
                "column {table}.{column} becomes {to}: running applications still use the old \
                 name"
            ),
            "add the new column beside the old one, move the applications, drop the old one in \
             a later release",
        ),
        Change::SchemaRenamed { schema, to } => (
            schema,
            format!("schema {schema} becomes {to}: running applications still use the old name"),
            "keep the old schema (views of the new one) for a release",
        ),
        _ => return None,
    };
    Some(hazard(
        facts,
        Rule::BreakingRename,
        Some(table),
        message,
        fix,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(changes: Vec<Change>) -> Facts {
        Facts {
            changes,
            locks: [("s.t".to_string(), LockMode::AccessExclusive)].into(),
            in_transaction: true,
            ..Facts::default()
        }
    }

    fn rules(facts: &Facts) -> Vec<Rule> {
        hazards(facts, &|_| true, true)
            .into_iter()
            .map(|h| h.rule)
            .collect()
    }

    #[test]
    fn ids_round_trip() {
        for rule in Rule::ALL {
            assert_eq!(Rule::parse(rule.id()), Some(rule));
        }
        assert_eq!(Rule::parse("Data-Loss"), Some(Rule::DataLoss));
        assert_eq!(Rule::parse("rewrites"), None);
    }

    #[test]
    fn a_rewrite_hides_the_indexes_and_constraints_it_recreates() {
        let t = || "s.t".to_string();
        let found = hazards(
            &facts(vec![
                Change::Rewritten { table: t() },
                Change::IndexBuilt {
                    table: t(),
                    index: "i".into(),
                    constraint: None,
                },
                Change::ConstraintValidated {
                    table: t(),
                    constraint: "c".into(),
                    foreign_key: true,
                },
            ]),
            &|_| true,
            true,
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule, Rule::Rewrite);
        assert_eq!(found[0].lock, Some(LockMode::AccessExclusive));
    }

    #[test]
    fn truncate_is_data_loss_not_a_rewrite_and_empty_tables_lose_nothing() {
        let mut f = facts(vec![Change::Rewritten {
            table: "s.t".into(),
        }]);
        f.truncate = true;
        assert_eq!(rules(&f), [Rule::DataLoss]);
        assert!(hazards(&f, &|_| false, true).is_empty());
    }

    #[test]
    fn a_proven_not_null_is_no_scan_on_servers_that_skip_it() {
        let f = facts(vec![Change::NotNull {
            table: "s.t".into(),
            column: "c".into(),
            proven: true,
        }]);
        assert!(hazards(&f, &|_| true, true).is_empty());
        assert_eq!(hazards(&f, &|_| true, false)[0].rule, Rule::NotNullScan);
    }

    #[test]
    fn concurrently_in_the_transaction_is_the_only_finding() {
        let mut f = facts(vec![Change::IndexBuilt {
            table: "s.t".into(),
            index: "i".into(),
            constraint: None,
        }]);
        f.concurrently = true;
        assert_eq!(rules(&f), [Rule::ConcurrentlyInTransaction]);
        f.in_transaction = false;
        assert!(rules(&f).is_empty());
    }

    #[test]
    fn severities() {
        assert_eq!(Rule::BreakingRename.severity(), Severity::Warning);
        assert_eq!(Rule::Rewrite.severity(), Severity::Error);
    }
}
