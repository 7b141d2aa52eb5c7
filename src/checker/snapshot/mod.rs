//! [`Snapshot`]: one database's schema, read in one transaction with a fixed number of
//! bulk catalog queries (one per kind of object, and on PostgreSQL 15 up to two for check
//! constraints: see `checks`), whatever the schema's size.

mod attributes;
mod checks;
mod comments;
mod constraints;
mod filters;
mod foreign;
mod namespaces;
mod operators;
mod owners;
mod privileges;
mod routines;
mod sequences;
mod tables;
mod text_search;
mod types;
mod views;

use std::collections::BTreeMap;
use std::sync::{Arc, mpsc};

use postgres::Client;
use postgres::types::{ToSql, Type};

use super::{CheckOptions, Kind};
use crate::database::server_version_num;
use crate::error::{Error, Result};
use tables::Extras;

pub use attributes::Attributes;
use attributes::Values;

/// The objects of one kind, by key (`schema.table.column`, …).
pub type Objects = BTreeMap<String, Attributes>;

/// A database's schema, as far as the options ask.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// What reports call this database: its name, or the connection (password masked)
    /// when taken by [`crate::check`].
    pub name: String,
    /// The server's version number (`150004`).
    pub server_version_num: i32,
    /// The database's name.
    pub database: String,
    /// Objects per kind (only the kinds that were read).
    pub objects: BTreeMap<Kind, Objects>,
    /// How many queries reading it took (one per kind and one to start; on PostgreSQL 15,
    /// one more when a check constraint is to be written by pum and one when one is left
    /// to PostgreSQL).
    pub queries: usize,
}

/// The query reading one kind of object: rows of (key, attributes as JSON), given the
/// excluded schemas (`$1`), whether objects of extensions count (`$2`) and the column
/// name patterns left out (`$3`). `extras`: what the columns query brings for the
/// comments and privileges kinds (when columns are read, and those kinds too).
fn query(kind: Kind, column_order: bool, version: i32, extras: Extras) -> String {
    match kind {
        Kind::Schemas => namespaces::schemas(),
        Kind::Tables => tables::tables(),
        Kind::Columns => tables::columns(column_order, version, extras),
        Kind::Constraints => constraints::constraints(version),
        Kind::Views => views::views(),
        Kind::Sequences => sequences::sequences(),
        Kind::Indexes => constraints::indexes(version),
        Kind::Triggers => routines::triggers(),
        Kind::Functions => routines::functions(version),
        Kind::Rules => views::rules(),
        Kind::Extensions => namespaces::extensions(),
        Kind::Enums | Kind::Domains | Kind::CompositeTypes => types::enums_domains_composites(kind),
        Kind::RangeTypes => types::range_types(version),
        Kind::Collations => types::collations(version),
        Kind::Conversions => types::conversions(),
        Kind::TextSearch => text_search::text_search(),
        Kind::Operators => operators::operators(),
        Kind::Casts => types::casts(),
        Kind::AccessMethods => operators::access_methods(),
        Kind::Statistics => tables::statistics(),
        Kind::ForeignData => foreign::foreign_data(),
        Kind::Publications => foreign::publications(version),
        Kind::EventTriggers => routines::event_triggers(),
        Kind::Policies => privileges::policies(),
        Kind::DefaultPrivileges => privileges::default_privileges(),
        Kind::Privileges => privileges::privileges(extras.privileges),
        Kind::Comments => comments::comments(extras.comments),
        Kind::Owners => owners::owners(),
    }
}

impl Snapshot {
    /// Reads the schema of the database `client` is connected to.
    ///
    /// Runs in one `REPEATABLE READ READ ONLY` transaction, with `search_path` emptied so
    /// that every name in a definition is schema-qualified the same way in every database,
    /// JIT off: the catalog queries' estimated costs can pass `jit_above_cost`, and
    /// compiling them takes longer than running them (0.5 s for the comments of 1,000
    /// tables), and no parallel workers: both databases are read at once while a thread
    /// of pum builds what they sent, so the cores are taken; workers started for the
    /// largest catalogs' queries (5,000 tables) made the whole check 9 % slower on two
    /// cores, and saved 3 % of one query's time when it ran alone.
    ///
    /// # Errors
    /// [`Error::Sql`] when a catalog query fails.
    pub fn take(client: &mut Client, options: &CheckOptions) -> Result<Snapshot> {
        let (mut tx, database) = begin(client)?;
        let version = server_version_num(&mut tx)?;
        let kinds = read_order(options.kinds());
        let extras = Extras::of(&kinds);
        // The rows of each query are turned into objects and sorted by a second thread
        // while this one reads the next query's.
        let (objects, queries) = std::thread::scope(|scope| {
            let (sink, parts) = mpsc::channel();
            let builder = scope.spawn(move || build(parts, extras));
            let queries = read_kinds(&mut tx, &kinds, options, version, extras, &sink);
            drop(sink);
            let objects = builder
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (objects, queries)
        });
        let (objects, queries) = (objects?, queries?);
        tx.commit()
            .map_err(|e| Error::sql("end the snapshot transaction", &e))?;
        Ok(Snapshot {
            name: database.clone(),
            server_version_num: version,
            database,
            objects,
            queries: 1 + queries,
        })
    }

    /// The server's major version (`15`).
    pub fn major_version(&self) -> i32 {
        self.server_version_num / 10000
    }
}

/// The kinds whose queries bring the most rows, read first (`Columns` before `Comments`
/// and `Privileges`, which take what the columns query brought for them), so that the
/// builder makes and sorts their objects while the small kinds' queries run, rather than
/// after the last one; the rest in their usual order.
const READ_FIRST: [Kind; 9] = [
    Kind::Columns,
    Kind::Constraints,
    Kind::Indexes,
    Kind::Comments,
    Kind::Privileges,
    Kind::Views,
    Kind::Tables,
    Kind::Functions,
    Kind::Triggers,
];

/// `kinds` in the order they are read (see [`READ_FIRST`]).
fn read_order(mut kinds: Vec<Kind>) -> Vec<Kind> {
    kinds.sort_by_key(|kind| {
        READ_FIRST
            .iter()
            .position(|k| k == kind)
            .unwrap_or(READ_FIRST.len())
    });
    kinds
}

/// The rows of one query, for the builder: as they came, or already made objects (the
/// constraints, whose definitions take more queries in the transaction).
enum Part {
    Rows(Kind, Vec<postgres::Row>),
    Objects(Kind, Vec<(String, Attributes)>),
}

/// Makes each kind's objects from its rows (with what the columns query brought for the
/// comments and privileges) and sorts them, as the parts come.
fn build(parts: mpsc::Receiver<Part>, extras: Extras) -> Result<BTreeMap<Kind, Objects>> {
    let mut brought: BTreeMap<Kind, Vec<(String, Attributes)>> = BTreeMap::new();
    let mut built = BTreeMap::new();
    for part in parts {
        let (kind, mut objects) = match part {
            Part::Objects(kind, objects) => (kind, objects),
            Part::Rows(Kind::Columns, rows) => {
                (Kind::Columns, columns_of(&rows, extras, &mut brought)?)
            }
            Part::Rows(kind, rows) => (kind, objects_of(kind, &rows)?),
        };
        objects.extend(brought.remove(&kind).unwrap_or_default());
        // Sorted once and built in one pass.
        built.insert(kind, objects.into_iter().collect());
    }
    Ok(built)
}

/// The objects of one query's rows.
fn objects_of(kind: Kind, rows: &[postgres::Row]) -> Result<Vec<(String, Attributes)>> {
    let mut names = Names::default();
    rows.iter()
        .map(|row| {
            if in_columns(kind) {
                read_columns(row, kind, &mut names)
            } else {
                let attributes: &str = row.get(1);
                Ok((row.get(0), parse_attributes(attributes, &mut names)?))
            }
        })
        .collect()
}

/// Starts the snapshot transaction on `client` (`REPEATABLE READ READ ONLY`,
/// `search_path` emptied, JIT and parallel workers off) and gives the database's name.
fn begin(client: &mut Client) -> Result<(postgres::Transaction<'_>, String)> {
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(|e| Error::sql("start the snapshot transaction", &e))?;
    let database: String = tx
        .query_one(
            "SELECT current_database()::text, pg_catalog.set_config('search_path', '', true), \
             pg_catalog.set_config('jit', 'off', true), \
             pg_catalog.set_config('max_parallel_workers_per_gather', '0', true)",
            &[],
        )
        .map_err(|e| Error::sql("empty search_path", &e))?
        .get(0);
    Ok((tx, database))
}

/// Reads `kinds` in `tx`, one query each, and hands their rows to the builder; gives
/// how many queries it took.
fn read_kinds(
    tx: &mut postgres::Transaction,
    kinds: &[Kind],
    options: &CheckOptions,
    version: i32,
    extras: Extras,
    sink: &mpsc::Sender<Part>,
) -> Result<usize> {
    let excluded: Vec<&str> = options.exclude_schemas.iter().map(String::as_str).collect();
    let patterns: Vec<&str> = options
        .exclude_column_patterns
        .iter()
        .map(String::as_str)
        .collect();
    let mut queries = 0;
    for &kind in kinds {
        let inner = query(kind, options.column_order, version, extras);
        let sql = if in_columns(kind) {
            inner
        } else {
            format!("SELECT k::text, a::text FROM ({inner}) q(k, a)")
        };
        // Every query is given the three parameters, typed, whichever it mentions, in
        // one round trip (an unnamed statement).
        let failed = |e: postgres::Error| Error::sql(format!("read the {}", kind.name()), &e);
        let params: [(&(dyn ToSql + Sync), Type); 3] = [
            (&excluded, Type::TEXT_ARRAY),
            (&options.include_extension_objects, Type::BOOL),
            (&patterns, Type::TEXT_ARRAY),
        ];
        let rows = tx.query_typed(&sql, &params).map_err(failed)?;
        queries += 1;
        let part = if kind == Kind::Constraints {
            let mut objects = objects_of(kind, &rows)?;
            checks::write_definitions(tx, &mut objects, &mut queries)?;
            Part::Objects(kind, objects)
        } else {
            Part::Rows(kind, rows)
        };
        // A builder gone has failed: its error is the one to report.
        if sink.send(part).is_err() {
            break;
        }
    }
    Ok(queries)
}

/// Whether the query of `kind` gives its attributes as columns (the key first, then one
/// column per attribute, named after it) rather than as one JSON object: PostgreSQL
/// builds no JSON and pum parses none, which halves the cost of the largest kinds.
fn in_columns(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Tables
            | Kind::Columns
            | Kind::Constraints
            | Kind::Views
            | Kind::Sequences
            | Kind::Indexes
            | Kind::Triggers
            | Kind::Functions
            | Kind::Rules
            | Kind::Comments
    )
}

/// The columns, and what their query brought besides (see [`tables::Extras`]): each
/// column's comment and privileges, as the objects of the comments and privileges kinds
/// (keyed as those queries key them, with the attributes they give), which are no
/// attributes of the column.
fn columns_of(
    rows: &[postgres::Row],
    extras: Extras,
    brought: &mut BTreeMap<Kind, Vec<(String, Attributes)>>,
) -> Result<Vec<(String, Attributes)>> {
    let mut names = Names {
        aside: vec![tables::COMMENT, tables::QUOTED, tables::PRIVILEGES],
        ..Names::default()
    };
    let mut grant_names = Names::default();
    let comment: Arc<[Arc<str>]> = Arc::from([Arc::from("comment")]);
    let unreadable = |e: postgres::Error| Error::sql("read the columns", &e);
    let place = |name: &str| {
        rows.first()
            .and_then(|row| row.columns().iter().position(|c| c.name() == name))
            .unwrap_or(usize::MAX)
    };
    let (comment_at, quoted_at, grants_at) = (
        place(tables::COMMENT),
        place(tables::QUOTED),
        place(tables::PRIVILEGES),
    );
    let mut comments = Vec::new();
    let mut privileges = Vec::new();
    let mut columns = Vec::with_capacity(rows.len());
    for row in rows {
        let (key, attributes) = read_columns(row, Kind::Columns, &mut names)?;
        if extras.comments {
            let text: Option<&str> = row.try_get(comment_at).map_err(unreadable)?;
            let mut value = Values::with_capacity(1);
            value.push(text);
            comments.push((format!("column {key}"), value.named(comment.clone())));
        }
        if extras.privileges {
            let quoted: Option<&str> = row.try_get(quoted_at).map_err(unreadable)?;
            let grants: Option<&str> = row.try_get(grants_at).map_err(unreadable)?;
            privileges.push((
                format!("column {}", quoted.unwrap_or_default()),
                parse_attributes(grants.unwrap_or("{}"), &mut grant_names)?,
            ));
        }
        columns.push((key, attributes));
    }
    if extras.comments {
        brought.entry(Kind::Comments).or_default().extend(comments);
    }
    if extras.privileges {
        brought
            .entry(Kind::Privileges)
            .or_default()
            .extend(privileges);
    }
    Ok(columns)
}

/// The attribute names of one query, shared by its rows: for a query that gives its
/// attributes as columns, the columns' places in name order with their names (but those
/// set `aside`); the lists of names made so far, each shared by the objects that have
/// those names.
#[derive(Default)]
struct Names {
    columns: Vec<(usize, Arc<str>)>,
    aside: Vec<&'static str>,
    /// For a query that gives its attributes as columns: the lists by which of the
    /// columns are left out (bit `i`: `columns[i]`).
    by_mask: Vec<(u64, Arc<[Arc<str>]>)>,
    /// For a query that gives JSON: the first lists seen.
    lists: Vec<Arc<[Arc<str>]>>,
}

impl Names {
    /// The attribute columns of `row`'s query (on its first row).
    fn columns_of(&mut self, row: &postgres::Row, kind: Kind) -> Result<()> {
        let mut columns: Vec<(usize, Arc<str>)> = (row.columns().iter().enumerate().skip(1))
            .filter(|(_, column)| !self.aside.contains(&column.name()))
            .map(|(i, column)| (i, Arc::from(column.name())))
            .collect();
        if columns.len() > 64 {
            return Err(Error::Sql {
                context: format!("read the {}", kind.name()),
                message: format!("{} attribute columns (64 at most)", columns.len()),
                code: None,
            });
        }
        columns.sort_by(|a, b| a.1.cmp(&b.1));
        self.columns = columns;
        Ok(())
    }

    /// The shared list of the columns' names but those in `left_out`.
    fn for_mask(&mut self, left_out: u64) -> Arc<[Arc<str>]> {
        if let Some((_, list)) = self.by_mask.iter().find(|(mask, _)| *mask == left_out) {
            return list.clone();
        }
        let list: Arc<[Arc<str>]> = (self.columns.iter().enumerate())
            .filter(|(i, _)| left_out & (1 << i) == 0)
            .map(|(_, (_, name))| name.clone())
            .collect();
        self.by_mask.push((left_out, list.clone()));
        list
    }

    /// The shared list equal to `names`.
    fn for_names(&mut self, names: &[&str]) -> Arc<[Arc<str>]> {
        let same = |list: &Arc<[Arc<str>]>| {
            list.len() == names.len() && list.iter().zip(names).all(|(a, b)| **a == **b)
        };
        if let Some(list) = self.lists.iter().find(|list| same(list)) {
            return list.clone();
        }
        let list: Arc<[Arc<str>]> = names.iter().map(|name| Arc::from(*name)).collect();
        // Few lists recur (the same grantees, the same keys): past a handful, a list is
        // not looked for, so that many different ones cost no quadratic search.
        if self.lists.len() < 32 {
            self.lists.push(list.clone());
        }
        list
    }
}

/// One row of a query that gives its attributes as columns: text as is, booleans and
/// integers written as JSON writes them (`true`, `42`), so that both forms read alike.
fn read_columns(
    row: &postgres::Row,
    kind: Kind,
    names: &mut Names,
) -> Result<(String, Attributes)> {
    let unreadable = |e: postgres::Error| Error::sql(format!("read the {}", kind.name()), &e);
    let key: String = row.try_get(0).map_err(unreadable)?;
    if names.columns.is_empty() {
        names.columns_of(row, kind)?;
    }
    let mut values = Values::with_capacity(names.columns.len());
    let mut left_out = 0u64;
    for (n, (i, name)) in names.columns.iter().enumerate() {
        let i = *i;
        let read = match *row.columns()[i].type_() {
            Type::BOOL => row
                .try_get::<_, Option<bool>>(i)
                .map(|v| v.map(|b| values.push_display(b)).is_some()),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)
                .map(|v| v.map(|n| values.push_display(n)).is_some()),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)
                .map(|v| v.map(|n| values.push_display(n)).is_some()),
            Type::INT8 => row
                .try_get::<_, Option<i64>>(i)
                .map(|v| v.map(|n| values.push_display(n)).is_some()),
            _ => row
                .try_get::<_, Option<&str>>(i)
                .map(|v| v.map(|text| values.push(Some(text))).is_some()),
        }
        .map_err(unreadable)?;
        if !read {
            // A column named `_…` is no attribute: a value for what reads the rows
            // after, left out when NULL.
            if name.starts_with('_') {
                left_out |= 1 << n;
            } else {
                values.push(None);
            }
        }
    }
    let list = names.for_mask(left_out);
    Ok((key, values.named(list)))
}

/// The attributes of a query that gives them as one JSON object.
fn parse_attributes(text: &str, names: &mut Names) -> Result<Attributes> {
    let value: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| Error::Sql {
            context: "read the catalog".into(),
            message: format!("unreadable row: {e}"),
            code: None,
        })?;
    let mut entries: Vec<(&String, &serde_json::Value)> = value.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut values = Values::with_capacity(entries.len());
    for (_, v) in &entries {
        match v {
            serde_json::Value::Null => values.push(None),
            serde_json::Value::String(s) => values.push(Some(s)),
            other => values.push_display(other),
        }
    }
    let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    Ok(values.named(names.for_names(&keys)))
}
