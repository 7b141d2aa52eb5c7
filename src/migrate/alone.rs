//! A file marked `-- pum:no-transaction`, run alone outside any transaction: statement
//! by statement, as PostgreSQL requires for `CREATE INDEX CONCURRENTLY`. When such a
//! statement fails it leaves an INVALID index behind (PostgreSQL cannot roll a concurrent
//! build back), which would make a rerun fail with "already exists", or worse, succeed
//! with `IF NOT EXISTS` and keep an index that is never used. pum drops what the failed
//! statement left, so that the database is as before the statement and a rerun starts
//! the file again.

use super::etiquette::with_note;
use super::prepared::{Prepared, statement_error};
use crate::error::{Error, Result};
use crate::sql::quote_identifier;
use crate::sql::split::first_significant;
use crate::wire::Sql;

/// Whether `sql` builds an index concurrently (`CREATE [UNIQUE] INDEX CONCURRENTLY`,
/// `REINDEX … CONCURRENTLY`), and may leave an INVALID one when it fails.
fn builds_concurrently(sql: &str) -> bool {
    let words: Vec<String> = sql[first_significant(sql).unwrap_or(0)..]
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .take(6)
        .map(str::to_ascii_uppercase)
        .collect();
    matches!(
        words.first().map(String::as_str),
        Some("CREATE" | "REINDEX")
    ) && words.iter().any(|w| w == "CONCURRENTLY")
}

/// The INVALID indexes of the database: oid, schema, name.
const INVALID_INDEXES: &str = "SELECT i.indexrelid::bigint, n.nspname, c.relname \
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid";

/// The INVALID indexes' oids and qualified names.
fn invalid_indexes(client: &mut impl Sql) -> Result<Vec<(String, String)>> {
    let rows = client
        .rows(INVALID_INDEXES)
        .map_err(|e| Error::server("list the INVALID indexes", &e))?;
    rows.into_iter()
        .map(|row| {
            let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            Ok((
                field(0),
                format!(
                    "{}.{}",
                    quote_identifier("schema", &field(1))?,
                    quote_identifier("index", &field(2))?
                ),
            ))
        })
        .collect()
}

/// Runs `file`'s statements one by one, outside any transaction. A failed statement that
/// built an index concurrently has the INVALID indexes it left dropped (those that were
/// not INVALID before it ran), and the error says which.
///
/// # Errors
/// [`Error::Statement`] naming the file, line, column and SQLSTATE of the statement that
/// failed; the note of what was dropped, or what could not be, is part of its message.
pub(crate) fn run_alone(file: &Prepared, client: &mut impl Sql) -> Result<()> {
    file.each(&mut |statement, sql| {
        let concurrent = builds_concurrently(sql);
        let before = if concurrent {
            invalid_indexes(client)?
        } else {
            Vec::new()
        };
        let Err(err) = client.batch(sql) else {
            return Ok(());
        };
        let error = statement_error(&file.name, statement, sql, &err);
        if !concurrent {
            return Err(error);
        }
        Err(match drop_left_behind(client, &before) {
            Ok(dropped) if dropped.is_empty() => error,
            Ok(dropped) => with_note(
                error,
                &format!(
                    "; the INVALID index it left was dropped ({}); nothing of this file's \
                     version was recorded",
                    dropped.join(", ")
                ),
            ),
            Err(failed) => with_note(
                error,
                &format!("; dropping the INVALID index it left failed too: {failed}"),
            ),
        })
    })
}

/// Drops the INVALID indexes that are not in `before`; their names.
fn drop_left_behind(client: &mut impl Sql, before: &[(String, String)]) -> Result<Vec<String>> {
    let mut dropped = Vec::new();
    for (oid, name) in invalid_indexes(client)? {
        if before.iter().any(|(old, _)| *old == oid) {
            continue;
        }
        client
            .batch(&format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"))
            .map_err(|e| Error::server(format!("drop the INVALID index {name}"), &e))?;
        dropped.push(name);
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::builds_concurrently;

    #[test]
    fn concurrent_builds_are_recognised() {
        assert!(builds_concurrently(
            "-- the index\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)"
        ));
        assert!(builds_concurrently("reindex index concurrently i"));
        assert!(!builds_concurrently("CREATE INDEX i ON t (a)"));
        assert!(!builds_concurrently(
            "UPDATE t SET note = 'CREATE INDEX CONCURRENTLY'"
        ));
    }
}
