//! What PostgreSQL did (I/O): before a version runs, the objects of its database are
//! written down in temporary tables of the session (`pg_temp.pum_lint_*`: schemas,
//! relations with their relfilenode, columns with their NOT NULL, constraints). The
//! statements of a file go to the server at once, each followed by a prepared observation
//! that, only when the transaction's catalog-write counters moved since the one before,
//! compares the catalog with the snapshot (for the relations the transaction holds a
//! schema-changing lock on) and reads the locks the session holds (`pg_locks` for
//! `pg_backend_pid()`). What is new since the statement before is the statement's doing.

use std::collections::{BTreeMap, BTreeSet};

use super::rules::{Change, LockMode};
use crate::error::{Error, Result};

/// Writes down the objects of the database as they are before a version.
const SNAPSHOT: &str = "\
DROP TABLE IF EXISTS pg_temp.pum_lint_nsp, pg_temp.pum_lint_rel, pg_temp.pum_lint_att, \
  pg_temp.pum_lint_cols, pg_temp.pum_lint_con;
CREATE TEMP TABLE pum_lint_nsp AS
  SELECT oid AS nsp, nspname::text AS nspname FROM pg_catalog.pg_namespace
  WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema';
CREATE TEMP TABLE pum_lint_rel AS
  SELECT c.oid AS rel, c.relfilenode, c.relname::text AS relname, c.relnamespace,
         c.relkind::text AS relkind, format('%I.%I', n.nspname, c.relname) AS name
  FROM pg_catalog.pg_class c JOIN pg_temp.pum_lint_nsp n ON n.nsp = c.relnamespace;
CREATE TEMP TABLE pum_lint_att AS
  SELECT a.attrelid, a.attnum, a.attname::text AS attname, a.attnotnull
  FROM pg_catalog.pg_attribute a
  JOIN pg_temp.pum_lint_rel r ON r.rel = a.attrelid AND r.relkind IN ('r', 'p', 'm', 'f')
  WHERE a.attnum > 0 AND NOT a.attisdropped;
CREATE TEMP TABLE pum_lint_cols AS
  SELECT attrelid AS rel,
         string_agg(attnum::text || ':' || attname || ':' || attnotnull::text, ',' ORDER BY attnum)
           AS cols
  FROM pg_temp.pum_lint_att GROUP BY attrelid;
CREATE TEMP TABLE pum_lint_con AS
  SELECT k.oid AS con, k.conrelid, k.conname::text AS conname
  FROM pg_catalog.pg_constraint k JOIN pg_temp.pum_lint_rel r ON r.rel = k.conrelid;
CREATE INDEX ON pg_temp.pum_lint_rel (rel);
CREATE INDEX ON pg_temp.pum_lint_att (attrelid, attnum);
CREATE INDEX ON pg_temp.pum_lint_rel (relfilenode);
CREATE INDEX ON pg_temp.pum_lint_cols (rel);
CREATE INDEX ON pg_temp.pum_lint_con (con);
CREATE INDEX ON pg_temp.pum_lint_con (conrelid, conname);
ANALYZE pg_temp.pum_lint_nsp, pg_temp.pum_lint_rel, pg_temp.pum_lint_att, pg_temp.pum_lint_cols,
  pg_temp.pum_lint_con;
";

/// The catalog compared with the snapshot: `(kind, key, table, a, b)`. `{go}` says whether
/// to compare at all (see [`WRITES_MOVED`]), `{locks}` whether to read `pg_locks` (not
/// when nothing but schemas existed before the version: its cost grows with the locks the
/// version's transaction holds, one per object it made), and `{gate}` limits the
/// relations compared (see [`GATED`]).
const OBSERVE: &str = "\
WITH go AS MATERIALIZED ({go}),
held AS (
  SELECT l.relation AS rel, l.relation, l.mode FROM pg_catalog.pg_locks l
  WHERE (SELECT go FROM go) AND {locks}
    AND l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.granted),
gated AS (
  SELECT * FROM pg_temp.pum_lint_rel s WHERE (SELECT go FROM go) AND {gate}),
reshaped AS (
  SELECT g.* FROM gated g JOIN pg_temp.pum_lint_cols s ON s.rel = g.rel
  WHERE s.cols IS DISTINCT FROM (
    SELECT string_agg(x.attnum::text || ':' || x.attname::text || ':' || x.attnotnull::text, ','
                      ORDER BY x.attnum)
    FROM pg_catalog.pg_attribute x
    WHERE x.attrelid = g.rel AND x.attnum > 0 AND NOT x.attisdropped))
SELECT 'rewrite' AS pum_lint_kind, r.rel::text AS pum_lint_key, r.name AS pum_lint_table,
       c.relfilenode::text AS pum_lint_a, '' AS pum_lint_b
  FROM gated r JOIN pg_catalog.pg_class c ON c.oid = r.rel
  WHERE r.relkind IN ('r', 'm') AND c.relfilenode <> r.relfilenode
UNION ALL
SELECT 'table-dropped', r.rel::text, r.name, '', ''
  FROM gated r
  WHERE r.relkind IN ('r', 'p', 'm', 'f')
    AND NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = r.rel)
    AND EXISTS (SELECT FROM pg_catalog.pg_namespace n WHERE n.oid = r.relnamespace)
UNION ALL
SELECT 'table-renamed', r.rel::text, r.name, format('%I.%I', n.nspname, c.relname), ''
  FROM gated r JOIN pg_catalog.pg_class c ON c.oid = r.rel
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE r.relkind IN ('r', 'p', 'm', 'v', 'f')
    AND (c.relname::text <> r.relname OR c.relnamespace <> r.relnamespace)
UNION ALL
SELECT CASE WHEN x.attnum IS NULL THEN 'column-dropped'
            WHEN x.attname::text <> a.attname THEN 'column-renamed' ELSE 'not-null' END,
       a.attrelid::text || '.' || a.attnum || '.' || coalesce(x.attname::text, ''), r.name,
       format('%I', a.attname),
       CASE WHEN x.attnum IS NULL THEN ''
            WHEN x.attname::text <> a.attname THEN format('%I', x.attname)
            ELSE (EXISTS (SELECT FROM pg_catalog.pg_constraint k
                          WHERE k.conrelid = a.attrelid AND k.contype = 'c' AND k.convalidated
                            AND pg_catalog.pg_get_constraintdef(k.oid)
                                = format('CHECK ((%I IS NOT NULL))', x.attname)))::text END
  FROM pg_temp.pum_lint_att a JOIN reshaped r ON r.rel = a.attrelid
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_catalog.pg_attribute x
    ON x.attrelid = a.attrelid AND x.attnum = a.attnum AND NOT x.attisdropped
  WHERE x.attnum IS NULL OR x.attname::text <> a.attname OR (x.attnotnull AND NOT a.attnotnull)
UNION ALL
SELECT 'index', i.indexrelid::text, r.name, format('%I', ic.relname),
       coalesce((SELECT format('%I', k.conname) FROM pg_catalog.pg_constraint k
                 WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid
                   AND k.contype IN ('p', 'u', 'x') LIMIT 1), '')
  FROM pg_catalog.pg_index i
  JOIN gated r ON r.rel = i.indrelid AND r.relkind IN ('r', 'p', 'm')
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  WHERE NOT EXISTS (SELECT FROM pg_temp.pum_lint_rel o WHERE o.rel = i.indexrelid)
    AND NOT EXISTS (SELECT FROM pg_temp.pum_lint_rel o
                    WHERE o.relkind = 'i' AND ic.relfilenode <> 0
                      AND o.relfilenode = ic.relfilenode)
UNION ALL
SELECT 'constraint', k.oid::text || '.' || k.convalidated, r.name, format('%I', k.conname),
       k.contype::text || k.convalidated::text
  FROM pg_catalog.pg_constraint k
  JOIN gated r ON r.rel = k.conrelid AND r.relkind IN ('r', 'p')
  WHERE k.contype IN ('f', 'c')
    AND NOT EXISTS (SELECT FROM pg_temp.pum_lint_con o WHERE o.con = k.oid)
    AND NOT EXISTS (SELECT FROM pg_temp.pum_lint_con o
                    WHERE o.conrelid = k.conrelid AND o.conname = k.conname::text
                      AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint y WHERE y.oid = o.con))
UNION ALL
SELECT 'schema-dropped', n.nsp::text, format('%I', n.nspname), '', ''
  FROM pg_temp.pum_lint_nsp n
  WHERE (SELECT go FROM go)
    AND NOT EXISTS (SELECT FROM pg_catalog.pg_namespace x WHERE x.oid = n.nsp)
UNION ALL
SELECT 'schema-renamed', n.nsp::text || '.' || x.nspname, format('%I', n.nspname),
       format('%I', x.nspname), ''
  FROM pg_temp.pum_lint_nsp n JOIN pg_catalog.pg_namespace x ON x.oid = n.nsp
  WHERE (SELECT go FROM go) AND x.nspname::text <> n.nspname
UNION ALL
SELECT 'moved', '', '', '', '' WHERE (SELECT go FROM go)
UNION ALL
SELECT 'lock', '', r.name, l.mode::text, ''
  FROM held l JOIN pg_temp.pum_lint_rel r ON r.rel = l.relation
  WHERE r.relkind IN ('r', 'p', 'm', 'v', 'f')";

/// Inside a transaction, only the relations the transaction holds a lock on that
/// conflicts with writes or schema changes (SHARE UPDATE EXCLUSIVE or stronger) can have
/// changed: every ALTER, CREATE INDEX, DROP, TRUNCATE and RENAME of a relation takes one
/// and keeps it until the end of the transaction, so comparing only those is exact and
/// keeps the comparison cheap on large schemas. Schemas are always compared (renaming
/// one locks no relation); statements that ran outside a transaction compare every
/// relation (their locks are gone).
const GATED: &str = "s.rel IN (SELECT held.rel FROM held \
                     WHERE held.mode NOT IN ('AccessShareLock', 'RowShareLock', 'RowExclusiveLock'))";

/// How many rows of the catalogs the observation reads the transaction has written so far
/// (`pg_stat_xact_sys_tables`' counters, kept in the session): a statement after which it
/// is unchanged changed none of them, and is not observed further (`INSERT`, `UPDATE`…).
const CATALOG_WRITES: &str = "SELECT sum(pg_catalog.pg_stat_get_xact_tuples_inserted(c) \
    + pg_catalog.pg_stat_get_xact_tuples_updated(c) \
    + pg_catalog.pg_stat_get_xact_tuples_deleted(c)) \
    FROM unnest('{pg_catalog.pg_class, pg_catalog.pg_attribute, pg_catalog.pg_constraint, \
    pg_catalog.pg_index, pg_catalog.pg_namespace}'::pg_catalog.regclass[]) c";

/// The names of the columns of [`OBSERVE`].
const OBSERVATION_COLUMNS: [&str; 5] = [
    "pum_lint_kind",
    "pum_lint_key",
    "pum_lint_table",
    "pum_lint_a",
    "pum_lint_b",
];

/// The five text fields of an observation row.
fn fields(row: &postgres::SimpleQueryRow) -> Vec<String> {
    (0..5)
        .map(|i| {
            row.try_get(i)
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The rows of the last statement of a simple query: those after the statement before it
/// completed (a statement that returns nothing, or rows of its own, changes nothing here).
fn rows_of_last_statement(
    messages: &[postgres::SimpleQueryMessage],
) -> impl Iterator<Item = Vec<String>> + '_ {
    let completed: Vec<usize> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| matches!(m, postgres::SimpleQueryMessage::CommandComplete(_)))
        .map(|(at, _)| at)
        .collect();
    let start = match completed.len() {
        0 | 1 => 0,
        n => completed[n - 2] + 1,
    };
    messages[start..].iter().filter_map(|m| match m {
        postgres::SimpleQueryMessage::Row(row) => Some(fields(row)),
        _ => None,
    })
}

/// The rows of each observation among the messages of a simple query. Each observation
/// starts with the description of its five columns (sent even when it returns no row); a
/// statement's own rows come with a description of their own.
fn observations(messages: &[postgres::SimpleQueryMessage]) -> Vec<Vec<Vec<String>>> {
    let mut observed: Vec<Vec<Vec<String>>> = Vec::new();
    let mut in_observation = false;
    for message in messages {
        match message {
            postgres::SimpleQueryMessage::RowDescription(columns) => {
                in_observation = columns.iter().map(|c| c.name()).eq(OBSERVATION_COLUMNS);
                if in_observation {
                    observed.push(Vec::new());
                }
            }
            postgres::SimpleQueryMessage::Row(row) if in_observation => {
                if let Some(rows) = observed.last_mut() {
                    rows.push(fields(row));
                }
            }
            _ => {}
        }
    }
    observed
}

/// What the catalog showed after one statement.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Changes not seen after an earlier statement of the version.
    pub changes: Vec<Change>,
    /// The strongest lock held on each table.
    pub locks: BTreeMap<String, LockMode>,
    /// Constraints (by key) added NOT VALID by this statement.
    pub added_not_valid: Vec<String>,
    /// Constraints (by key) seen validated for the first time, with their change: whether
    /// they are a hazard depends on where they were added (decided by the caller).
    pub validated: Vec<(String, Change)>,
}

/// The observations of one version, statement after statement.
pub(crate) struct Observer {
    /// `(kind, key, value)` of every change already seen in this version.
    seen: BTreeSet<(String, String, String)>,
    /// [`OBSERVE`] over every relation.
    everything: postgres::Statement,
    /// The name of the prepared observation after a statement in a transaction.
    observe: &'static str,
}

/// `{go}` of [`OBSERVE`] after a statement in a transaction: whether the counters of
/// catalog writes moved since the observation before (kept in `pum.lint_writes`, for the
/// transaction only: at the first statement of a transaction it is unset, and the
/// statement is observed). A statement after which they did not move (`INSERT`,
/// `UPDATE`…) changed nothing older than the version, and the comparison reads nothing.
const WRITES_MOVED: &str = "SELECT n.now IS DISTINCT FROM \
    pg_catalog.current_setting('pum.lint_writes', true) AS go, \
    pg_catalog.set_config('pum.lint_writes', n.now, true) AS noted \
    FROM (SELECT ({CATALOG_WRITES})::text AS now) n";

/// The name of [`OBSERVE`] over the relations locked in the transaction, after a statement
/// in a transaction, prepared in SQL (`PREPARE`) so that statements and their observations
/// go to the server at once; its plan follows the snapshot tables when they are made
/// again. [`NEW_NAME`]: the same where nothing but schemas existed before the version.
const GATED_NAME: &str = "pum_lint_observe";

/// See [`GATED_NAME`].
const NEW_NAME: &str = "pum_lint_observe_new";

impl Observer {
    /// Writes down the database's objects: what "existed before the version" means.
    ///
    /// # Errors
    /// [`Error::Sql`].
    pub(crate) fn start(client: &mut postgres::Client) -> Result<Observer> {
        let started = client
            .simple_query(&format!(
                "{SNAPSHOT};\nSELECT EXISTS (SELECT FROM pg_temp.pum_lint_rel)"
            ))
            .map_err(|e| Error::sql("write down the objects before the version", &e))?;
        let relations_before = rows_of_last_statement(&started)
            .next()
            .is_some_and(|row| row[0] == "t");
        let everything = client
            .prepare(
                &OBSERVE
                    .replace("{go}", "SELECT true AS go")
                    .replace("{locks}", "true")
                    .replace("{gate}", "true"),
            )
            .map_err(|e| Error::sql("prepare the observation of statements", &e))?;
        let prepared = client
            .query_opt(
                "SELECT 1 FROM pg_catalog.pg_prepared_statements WHERE name = $1",
                &[&GATED_NAME],
            )
            .map_err(|e| Error::sql("look for the observation of statements", &e))?;
        if prepared.is_none() {
            let track_counts: bool = client
                .query_one("SELECT current_setting('track_counts')::bool", &[])
                .map_err(|e| Error::sql("read track_counts", &e))?
                .get(0);
            // Without the counters, every statement is observed.
            let go = if track_counts {
                WRITES_MOVED.replace("{CATALOG_WRITES}", CATALOG_WRITES)
            } else {
                "SELECT true AS go".to_string()
            };
            let observe = |locks: &str| {
                OBSERVE
                    .replace("{go}", &go)
                    .replace("{locks}", locks)
                    .replace("{gate}", GATED)
            };
            client
                .batch_execute(&format!(
                    "PREPARE {GATED_NAME} AS {};\nPREPARE {NEW_NAME} AS {}",
                    observe("true"),
                    observe("false")
                ))
                .map_err(|e| Error::sql("prepare the observation of statements", &e))?;
        }
        Ok(Observer {
            seen: BTreeSet::new(),
            everything,
            observe: if relations_before {
                GATED_NAME
            } else {
                NEW_NAME
            },
        })
    }

    /// Runs `sql` (one statement, in the open transaction) and compares the catalog with
    /// the snapshot after it, in one round trip.
    ///
    /// # Errors
    /// The statement's error, as the server gave it.
    pub(crate) fn run_in_transaction(
        &mut self,
        client: &mut postgres::Client,
        sql: &str,
    ) -> std::result::Result<Seen, postgres::Error> {
        // The statement may end in a `--` comment: the `;` goes on a line of its own.
        let messages = client.simple_query(&format!("{sql}\n;\nEXECUTE {}", self.observe))?;
        Ok(self.digest(rows_of_last_statement(&messages)))
    }

    /// Runs the statements of a file (in the open transaction), observed as
    /// [`Observer::run_in_transaction`] does, all in one round trip. A run of statements
    /// that only change rows (`quiet`: `INSERT`, `UPDATE`, `DELETE`) is observed once,
    /// after its last; when the catalog-write counters moved during such a run (a trigger
    /// that runs DDL), the file is run again one statement at a time. `None` when a
    /// statement failed or the file must run again: nothing of the file is left then (it
    /// ran after a savepoint, rolled back to), and the caller runs its statements one by
    /// one (naming the statement that failed).
    ///
    /// # Errors
    /// Only when the savepoint cannot be rolled back to or released.
    pub(crate) fn run_file(
        &mut self,
        client: &mut postgres::Client,
        statements: &[(String, bool)],
    ) -> std::result::Result<Option<Vec<Seen>>, postgres::Error> {
        // The observation first notes the counters as they are before the file.
        let mut batch = format!("SAVEPOINT pum_lint_file;\nEXECUTE {};\n", self.observe);
        // Where nothing but schemas existed before the version, the whole file is one run,
        // observed at its end: what a schema goes through inside the transaction, no other
        // session sees, and only what it is at the end (gone, renamed) is a hazard.
        let schemas_only = self.observe == NEW_NAME;
        let quiet = |i: usize| {
            statements
                .get(i)
                .is_some_and(|(_, quiet)| schemas_only || *quiet)
        };
        // Per observation: how many statements it covers.
        let mut covers = Vec::new();
        let mut since = 0;
        for (i, (sql, _)) in statements.iter().enumerate() {
            batch.push_str(sql);
            batch.push_str("\n;\n");
            since += 1;
            if !(quiet(i) && quiet(i + 1)) {
                batch.push_str(&format!("EXECUTE {};\n", self.observe));
                covers.push(since);
                since = 0;
            }
        }
        let messages = match client.simple_query(&batch) {
            Ok(messages) => messages,
            Err(_) => {
                client.batch_execute("ROLLBACK TO SAVEPOINT pum_lint_file")?;
                return Ok(None);
            }
        };
        let observed = observations(&messages);
        // A run that changed the catalog (rows only: a trigger's DDL; schemas only: a
        // schema dropped or renamed) is run again one statement at a time, to say which.
        let moved_in_a_run = || {
            observed.iter().skip(1).zip(&covers).any(|(rows, covered)| {
                *covered > 1
                    && rows.iter().any(|row| match row[0].as_str() {
                        "moved" => !schemas_only,
                        "lock" => false,
                        _ => schemas_only,
                    })
            })
        };
        if observed.len() != covers.len() + 1 || moved_in_a_run() {
            // Not what was sent, or DDL inside a run: the caller runs them one by one.
            client.batch_execute("ROLLBACK TO SAVEPOINT pum_lint_file")?;
            return Ok(None);
        }
        client.batch_execute("RELEASE SAVEPOINT pum_lint_file")?;
        let mut seen = Vec::with_capacity(statements.len());
        for (rows, covered) in observed.into_iter().skip(1).zip(covers) {
            seen.extend((1..covered).map(|_| Seen::default()));
            seen.push(self.digest(rows.into_iter()));
        }
        Ok(Some(seen))
    }

    /// Compares the catalog with the snapshot after a statement that ran outside a
    /// transaction.
    ///
    /// # Errors
    /// [`Error::Sql`].
    pub(crate) fn after_statement(&mut self, client: &mut postgres::Client) -> Result<Seen> {
        let rows = client
            .query(&self.everything, &[])
            .map_err(|e| Error::sql("observe what the statement did", &e))?;
        let rows = rows
            .iter()
            .map(|row| (0..5).map(|i| row.get::<_, String>(i)).collect::<Vec<_>>())
            .collect::<Vec<_>>();
        Ok(self.digest(rows.into_iter()))
    }

    /// The changes among `rows` (`kind, key, table, a, b`) not seen before, and the locks.
    fn digest(&mut self, rows: impl Iterator<Item = Vec<String>>) -> Seen {
        let mut seen = Seen::default();
        for row in rows {
            let [kind, key, table, a, b]: [String; 5] = match row.try_into() {
                Ok(fields) => fields,
                Err(_) => continue,
            };
            if kind == "lock" {
                if let Some(mode) = LockMode::from_pg_locks(&a) {
                    let strongest = seen.locks.entry(table).or_insert(mode);
                    *strongest = (*strongest).max(mode);
                }
                continue;
            }
            if !self.seen.insert((kind.clone(), key.clone(), a.clone())) {
                continue;
            }
            let change = match kind.as_str() {
                "rewrite" => Change::Rewritten { table },
                "table-dropped" => Change::TableDropped { table },
                "table-renamed" => Change::TableRenamed { table, to: a },
                "column-dropped" => Change::ColumnDropped { table, column: a },
                "column-renamed" => Change::ColumnRenamed {
                    table,
                    column: a,
                    to: b,
                },
                "not-null" => Change::NotNull {
                    table,
                    column: a,
                    proven: b == "true",
                },
                "index" => Change::IndexBuilt {
                    table,
                    index: a,
                    constraint: Some(b).filter(|b| !b.is_empty()),
                },
                "constraint" => {
                    let oid = key.split('.').next().unwrap_or_default().to_string();
                    if b.ends_with("false") {
                        seen.added_not_valid.push(oid);
                        continue;
                    }
                    let change = Change::ConstraintValidated {
                        table,
                        constraint: a,
                        foreign_key: b.starts_with('f'),
                    };
                    seen.validated.push((oid, change));
                    continue;
                }
                "schema-dropped" => Change::SchemaDropped { schema: table },
                "schema-renamed" => Change::SchemaRenamed {
                    schema: table,
                    to: a,
                },
                _ => continue,
            };
            seen.changes.push(change);
        }
        seen
    }
}

/// Which tables of the database `client` is on may hold rows, by `schema.table`, and
/// which schemas hold such a table: read from `pg_class` (`reltuples`, `relpages`), never
/// a table itself. A table never analysed may hold rows.
///
/// # Errors
/// [`Error::Sql`].
pub(crate) fn tables_with_rows(
    client: &mut postgres::Client,
) -> Result<(BTreeMap<String, bool>, BTreeMap<String, bool>)> {
    let rows = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname), format('%I', n.nspname), \
                    c.relkind NOT IN ('r', 'm') OR c.reltuples <> 0 OR c.relpages > 0 \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'm', 'f') AND n.nspname NOT LIKE 'pg\\_%' \
               AND n.nspname <> 'information_schema'",
            &[],
        )
        .map_err(|e| Error::sql("read which tables hold rows", &e))?;
    let schemas_sql = "SELECT format('%I', nspname) FROM pg_catalog.pg_namespace \
                       WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'";
    let mut schemas: BTreeMap<String, bool> = client
        .query(schemas_sql, &[])
        .map_err(|e| Error::sql("read the schemas", &e))?
        .iter()
        .map(|row| (row.get(0), false))
        .collect();
    let mut tables = BTreeMap::new();
    for row in rows {
        let holds: bool = row.get(2);
        tables.insert(row.get(0), holds);
        if holds {
            schemas.insert(row.get(1), true);
        }
    }
    Ok((tables, schemas))
}
