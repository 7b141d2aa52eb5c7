//! [`Model`]: one database's schema read for writing SQL (autogenerate): every object with
//! its name quoted by the server, its definition as PostgreSQL renders it, and what
//! depends on what, read like a [`super::Snapshot`] in one `REPEATABLE READ READ ONLY`
//! transaction with an empty `search_path` and a fixed number of bulk queries.
//!
//! Names (`"s"."t"`) are keys: the same object in two databases has the same key.
//! `pg_*` schemas, `information_schema`, the schemas asked to be left out and objects that
//! belong to extensions are not read.

mod catalog;
mod constraints;
mod namespaces;
mod privileges;
mod routines;
mod sequences;
mod tables;
mod types;
mod unsupported;
mod views;

use std::collections::{BTreeMap, BTreeSet};

use postgres::Client;
use serde::Deserialize;

use crate::error::{Error, Result};

pub use constraints::{ConstraintDef, IndexDef};
pub use namespaces::{ExtensionDef, SchemaDef};
pub use routines::{FunctionDef, TriggerDef};
pub use sequences::SequenceDef;
pub use tables::{ColumnDef, TableDef};
pub use types::TypeDef;
pub use views::{RuleDef, ViewDef};

/// A privilege granted on an object: (grantee — `PUBLIC` or a quoted role —, privilege,
/// with grant option). The owner's own privileges are not listed.
pub type Grant = (String, String, bool);

/// One database's schema, for writing the SQL that turns it into another.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Schemas, by quoted name.
    pub schemas: BTreeMap<String, SchemaDef>,
    /// Extensions, by quoted name.
    pub extensions: BTreeMap<String, ExtensionDef>,
    /// Tables, by quoted qualified name.
    pub tables: BTreeMap<String, TableDef>,
    /// Constraints, by (table, name).
    pub constraints: BTreeMap<(String, String), ConstraintDef>,
    /// Indexes, by quoted qualified name.
    pub indexes: BTreeMap<String, IndexDef>,
    /// Views, by quoted qualified name.
    pub views: BTreeMap<String, ViewDef>,
    /// Sequences, by quoted qualified name.
    pub sequences: BTreeMap<String, SequenceDef>,
    /// Functions and procedures, by signature.
    pub functions: BTreeMap<String, FunctionDef>,
    /// Triggers, by (table, name).
    pub triggers: BTreeMap<(String, String), TriggerDef>,
    /// Enums, domains, composite and range types, by quoted qualified name.
    pub types: BTreeMap<String, TypeDef>,
    /// Rules, by (table, name).
    pub rules: BTreeMap<(String, String), RuleDef>,
    /// Who default privileges (`ALTER DEFAULT PRIVILEGES`) may give something to (and
    /// `PUBLIC`, which they may take from), by kind of object (`r` relations, `S`
    /// sequences, `f` routines, `T` types, `n` schemas): a new object of that kind does not
    /// start with the built-in privileges.
    pub default_grantees: BTreeMap<String, BTreeSet<String>>,
    /// Kinds of object present that SQL is not written for (policies, aggregates, default
    /// privileges): listed, so that a difference can be pointed out.
    pub unsupported: BTreeMap<String, BTreeSet<String>>,
    /// How many catalog queries reading it took.
    pub queries: usize,
}

/// The catalog queries, in the order they run: (what they read, SQL).
fn queries(version: i32) -> Vec<(&'static str, String)> {
    vec![
        ("schemas", namespaces::schemas()),
        ("extensions", namespaces::extensions()),
        ("tables", tables::tables()),
        ("constraints", constraints::constraints()),
        ("indexes", constraints::indexes()),
        ("views", views::views()),
        ("sequences", sequences::sequences()),
        ("functions", routines::functions(version)),
        ("triggers", routines::triggers()),
        ("types", types::types()),
        ("rules", views::rules()),
        ("default_grantees", privileges::default_grantees()),
        ("unsupported", unsupported::unsupported()),
    ]
}

impl Model {
    /// Reads the schema of the database `client` is connected to, leaving out the
    /// schemas `exclude` names.
    ///
    /// # Errors
    /// [`Error::Sql`] when a catalog query fails.
    pub fn read(client: &mut Client, exclude: &[String]) -> Result<Model> {
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| Error::sql("start the model transaction", &e))?;
        tx.batch_execute("SELECT pg_catalog.set_config('search_path', '', true)")
            .map_err(|e| Error::sql("empty search_path", &e))?;
        let mut model = Model {
            queries: 1,
            ..Model::default()
        };
        let version = crate::database::server_version_num(&mut tx)?;
        for (what, sql) in queries(version) {
            let rows = tx
                .query(&format!("SELECT o::text FROM ({sql}) q(o)"), &[&exclude])
                .map_err(|e| Error::sql(format!("read the {what}"), &e))?;
            model.queries += 1;
            for row in rows {
                let text: String = row.get(0);
                model.add(what, &text)?;
            }
        }
        tx.commit()
            .map_err(|e| Error::sql("end the model transaction", &e))?;
        Ok(model)
    }

    fn add(&mut self, what: &str, json: &str) -> Result<()> {
        fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T> {
            serde_json::from_str(json).map_err(|e| Error::Sql {
                context: "read the catalog".into(),
                message: format!("unreadable row: {e}"),
                code: None,
            })
        }
        match what {
            "schemas" => {
                let s: SchemaDef = parse(json)?;
                self.schemas.insert(s.name.clone(), s);
            }
            "extensions" => {
                let e: ExtensionDef = parse(json)?;
                self.extensions.insert(e.name.clone(), e);
            }
            "tables" => {
                let t: TableDef = parse(json)?;
                self.tables.insert(t.name.clone(), t);
            }
            "constraints" => {
                let c: ConstraintDef = parse(json)?;
                self.constraints
                    .insert((c.table.clone(), c.name.clone()), c);
            }
            "indexes" => {
                let i: IndexDef = parse(json)?;
                self.indexes.insert(i.name.clone(), i);
            }
            "views" => {
                let v: ViewDef = parse(json)?;
                self.views.insert(v.name.clone(), v);
            }
            "sequences" => {
                let s: SequenceDef = parse(json)?;
                self.sequences.insert(s.name.clone(), s);
            }
            "functions" => {
                let f: FunctionDef = parse(json)?;
                self.functions.insert(f.signature.clone(), f);
            }
            "triggers" => {
                let t: TriggerDef = parse(json)?;
                self.triggers.insert((t.table.clone(), t.name.clone()), t);
            }
            "types" => {
                let t: TypeDef = parse(json)?;
                self.types.insert(t.name.clone(), t);
            }
            "rules" => {
                let r: RuleDef = parse(json)?;
                self.rules.insert((r.table.clone(), r.name.clone()), r);
            }
            "default_grantees" => {
                #[derive(Deserialize)]
                struct Grantee {
                    kind: String,
                    name: String,
                }
                let g: Grantee = parse(json)?;
                self.default_grantees
                    .entry(g.kind)
                    .or_default()
                    .insert(g.name);
            }
            _ => {
                #[derive(Deserialize)]
                struct Other {
                    kind: String,
                    name: String,
                }
                let o: Other = parse(json)?;
                self.unsupported.entry(o.kind).or_default().insert(o.name);
            }
        }
        Ok(())
    }

    /// Leaves table `name` out, with its constraints, indexes and triggers (pum's own
    /// migrations table, which autogenerate must not touch).
    pub fn forget_table(&mut self, name: &str) {
        self.tables.remove(name);
        self.constraints.retain(|(table, _), _| table != name);
        self.indexes.retain(|_, index| index.table != name);
        self.triggers.retain(|(table, _), _| table != name);
        self.rules.retain(|(table, _), _| table != name);
    }

    /// The schema part of a qualified quoted name (`"s"` of `"s"."t"`).
    pub fn schema_of(name: &str) -> &str {
        split_qualified(name).0
    }
}

/// `"s"."t"` → (`"s"`, `"t"`); a quoted part may hold dots and doubled quotes.
pub(crate) fn split_qualified(name: &str) -> (&str, &str) {
    let mut in_quotes = false;
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                if in_quotes && bytes.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                in_quotes = !in_quotes;
            }
            b'.' if !in_quotes => return (&name[..i], &name[i + 1..]),
            _ => {}
        }
        i += 1;
    }
    ("", name)
}

/// `"s"."t"."c"` → (`"s"."t"`, `"c"`): the column of a qualified column name.
pub(crate) fn split_qualified_column(name: &str) -> (&str, &str) {
    let (schema, rest) = split_qualified(name);
    let (table, column) = split_qualified(rest);
    if schema.is_empty() || table.is_empty() {
        return (schema, rest);
    }
    (&name[..schema.len() + 1 + table.len()], column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_split_outside_quotes() {
        assert_eq!(split_qualified("s.t"), ("s", "t"));
        assert_eq!(
            split_qualified("\"a.b\".\"c\"\"d\""),
            ("\"a.b\"", "\"c\"\"d\"")
        );
        assert_eq!(split_qualified("t"), ("", "t"));
        assert_eq!(
            split_qualified_column("\"s\".t.\"c.d\""),
            ("\"s\".t", "\"c.d\"")
        );
    }
}
