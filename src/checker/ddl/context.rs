//! [`Context`]: what autogenerate must know of the data and the server besides the two
//! models (assignment casts, columns and tables that hold data), and the queries that
//! find it out in the database the script starts from.

use std::collections::BTreeSet;

use super::super::model::Model;

/// What [`generate`](super::generate) needs to know of the data and the server.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// (old type, new type) pairs a column converts between without a `USING` (an
    /// assignment cast exists).
    pub assignable: BTreeSet<(String, String)>,
    /// Columns (table, column) of the database the script starts from that hold data.
    pub columns_with_data: BTreeSet<(String, String)>,
    /// Tables of the database the script starts from that hold rows.
    pub tables_with_rows: BTreeSet<String>,
}

/// The type changes of columns in both models, (old, new): what [`Context::assignable`]
/// must answer for.
pub fn type_changes(from: &Model, to: &Model) -> BTreeSet<(String, String)> {
    let mut changes = BTreeSet::new();
    for (name, table) in &to.tables {
        if let Some(old) = from.tables.get(name) {
            for column in &table.columns {
                if let Some(before) = old.columns.iter().find(|c| c.name == column.name)
                    && before.kind != column.kind
                {
                    changes.insert((before.kind.clone(), column.kind.clone()));
                }
            }
        }
    }
    changes
}

/// The columns dropped from tables in both models (table, column) and the tables
/// dropped: what [`Context::columns_with_data`] and [`Context::tables_with_rows`] must
/// answer for.
pub fn drops(from: &Model, to: &Model) -> (Vec<(String, String)>, Vec<String>) {
    let mut columns = Vec::new();
    let mut tables = Vec::new();
    // A foreign table's rows are elsewhere: dropping it loses nothing (and reading it may
    // well fail).
    for (name, table) in from.tables.iter().filter(|(_, t)| t.kind != "f") {
        match to.tables.get(name) {
            None => tables.push(name.clone()),
            Some(new) => {
                for column in &table.columns {
                    if !new.columns.iter().any(|c| c.name == column.name) {
                        columns.push((name.clone(), column.name.clone()));
                    }
                }
            }
        }
    }
    (columns, tables)
}

/// Asks the database the script starts from (`client`, where `from` was read) what
/// [`generate`](super::generate) needs to know: which type changes need no `USING`,
/// which dropped columns and tables hold data.
///
/// # Errors
/// [`crate::error::Error::Sql`] when a query fails.
pub fn context(
    client: &mut postgres::Client,
    from: &Model,
    to: &Model,
) -> crate::error::Result<Context> {
    let mut cx = Context::default();
    for (old, new) in type_changes(from, to) {
        let row = client
            .query_one(
                "SELECT to_regtype($1) = to_regtype($2)
                     OR EXISTS (SELECT FROM pg_cast WHERE castsource = to_regtype($1)
                                AND casttarget = to_regtype($2) AND castcontext IN ('a', 'i'))
                     OR EXISTS (SELECT FROM pg_type d WHERE d.oid = to_regtype($2)
                                AND d.typtype = 'd' AND d.typbasetype = to_regtype($1))
                     OR (SELECT t.typcategory FROM pg_type t WHERE t.oid = to_regtype($2)) = 'S'",
                &[&old, &new],
            )
            .map_err(|e| crate::error::Error::sql("look for a cast", &e))?;
        if row.get::<_, Option<bool>>(0) == Some(true) {
            cx.assignable.insert((old, new));
        }
    }
    let (columns, tables) = drops(from, to);
    // The names are the server's own quoted identifiers.
    for (table, column) in columns {
        let sql = format!("SELECT EXISTS (SELECT FROM {table} WHERE {column} IS NOT NULL)");
        let holds: bool = client
            .query_one(&sql, &[])
            .map_err(|e| crate::error::Error::sql(format!("look into {table}"), &e))?
            .get(0);
        if holds {
            cx.columns_with_data.insert((table, column));
        }
    }
    for table in tables {
        let holds: bool = client
            .query_one(&format!("SELECT EXISTS (SELECT FROM {table})"), &[])
            .map_err(|e| crate::error::Error::sql(format!("look into {table}"), &e))?
            .get(0);
        if holds {
            cx.tables_with_rows.insert(table);
        }
    }
    Ok(cx)
}
