//! The SQL that turns one schema into another ([`generate`]): what `pum new
//! --autogenerate` writes, a pure function of two [`Model`]s and a little knowledge of
//! the data ([`Context`]).
//!
//! **Order.** First what goes away, dependents first: triggers, rules, views (those
//! changed and those reading a column that changes are dropped and made again), indexes,
//! foreign keys, other constraints, column defaults that change, functions, columns,
//! tables, sequences, types, extensions, schemas. Then what comes, dependencies first:
//! schemas, extensions, enums (new labels added in place), ranges, domains, composite
//! types, sequences, functions (bodies are checked when the script runs, not while it is
//! written: `check_function_bodies` is off while they are made), tables (parents first),
//! columns and their changes, constraints, foreign keys, indexes, views (in dependency
//! order, each with its indexes and column defaults), SQL-standard functions, triggers,
//! rules, sequence owners, comments, privileges.
//!
//! **Refused, as comments.** What cannot be written safely is written as a commented
//! statement after a `-- pum: WARNING:` line the user must resolve: a column type change
//! with no assignment cast (it needs a `USING`), dropping a column or a table that holds
//! data (in the database the script starts from), enum labels removed or reordered where
//! a function or type uses the enum, a domain's base type, a range's definition or a
//! generated column's expression changed, and the kinds of object this module does not
//! write (policies, aggregates, default privileges). A table whose partitioning or
//! inheritance changes, and a foreign table whose definition changes, are left exactly as
//! they are (`hands_off.rs`), so that the statements after the warning still run.
//!
//! Objects made again (a rebuilt view, a remade enum, a recreated function) get their
//! comments, rules, triggers and privileges again; an object the script makes starts from
//! `REVOKE ALL` when default privileges could have given it others. Owners are left as
//! they are. The text is plain SQL: a changelog file holds it with its braces escaped
//! (`crate::changelog::escape_braces`).

use std::collections::{BTreeMap, BTreeSet};

use super::model::{
    ColumnDef, ConstraintDef, FunctionDef, Grant, Model, SequenceDef, TableDef, TypeDef, ViewDef,
};
use crate::database::quote_literal;

mod hands_off;

/// What [`generate`] needs to know of the data and the server.
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

/// Generated SQL: statements (and commented warnings) in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// Each statement (without its `;`), or a comment block starting with `--`.
    pub statements: Vec<String>,
    /// The warnings, also written into the script.
    pub warnings: Vec<String>,
}

impl Script {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The script as a file's text.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for statement in &self.statements {
            text.push_str(statement);
            if !statement.starts_with("--") {
                text.push(';');
            }
            text.push('\n');
        }
        text
    }

    fn push(&mut self, statement: impl Into<String>) {
        self.statements.push(statement.into());
    }

    /// A statement that must not run as written: commented out after its warning.
    fn refuse(&mut self, warning: String, statement: &str) {
        let mut block = format!("-- pum: WARNING: {warning}");
        for line in statement.lines() {
            block.push_str("\n-- ");
            block.push_str(line);
        }
        if !statement.is_empty() {
            block.push(';');
        }
        self.statements.push(block);
        self.warnings.push(warning);
    }
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

/// The SQL turning `from` into `to` (see the module's docs).
pub fn generate(from: &Model, to: &Model, cx: &Context) -> Script {
    let (to, warnings) = hands_off::leave_alone(from, to);
    let mut generator = Generator::new(from, &to, cx);
    for warning in warnings {
        generator.script.refuse(warning, "");
    }
    generator.run()
}

/// Asks the database the script starts from (`client`, where `from` was read) what
/// [`generate`] needs to know: which type changes need no `USING`, which dropped columns
/// and tables hold data.
///
/// # Errors
/// [`crate::Error::Sql`] when a query fails.
pub fn context(client: &mut postgres::Client, from: &Model, to: &Model) -> crate::Result<Context> {
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
            .map_err(|e| crate::Error::sql("look for a cast", &e))?;
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
            .map_err(|e| crate::Error::sql(format!("look into {table}"), &e))?
            .get(0);
        if holds {
            cx.columns_with_data.insert((table, column));
        }
    }
    for table in tables {
        let holds: bool = client
            .query_one(&format!("SELECT EXISTS (SELECT FROM {table})"), &[])
            .map_err(|e| crate::Error::sql(format!("look into {table}"), &e))?
            .get(0);
        if holds {
            cx.tables_with_rows.insert(table);
        }
    }
    Ok(cx)
}

/// Reads both databases (at once) and writes the SQL turning the first into the second,
/// leaving out the schemas `exclude` names.
///
/// # Errors
/// Connection and catalog errors.
pub fn between(
    from: &crate::ConnectionSpec,
    to: &crate::ConnectionSpec,
    exclude: &[String],
) -> crate::Result<Script> {
    let (a, b) = read_both(from, to, exclude)?;
    let cx = context(&mut from.connect()?, &a, &b)?;
    Ok(generate(&a, &b, &cx))
}

/// The models of two databases, read at once.
///
/// # Errors
/// Connection and catalog errors.
pub fn read_both(
    a: &crate::ConnectionSpec,
    b: &crate::ConnectionSpec,
    exclude: &[String],
) -> crate::Result<(Model, Model)> {
    let (left, right) = std::thread::scope(|scope| {
        let right = scope.spawn(|| Model::read(&mut b.connect()?, exclude));
        let left = a.connect().and_then(|mut c| Model::read(&mut c, exclude));
        (
            left,
            right
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        )
    });
    Ok((left?, right?))
}

struct Generator<'a> {
    from: &'a Model,
    to: &'a Model,
    cx: &'a Context,
    script: Script,
    /// Views dropped and made again.
    rebuilt_views: BTreeSet<String>,
    /// Functions dropped and made again.
    recreated_functions: BTreeSet<String>,
    /// Triggers, constraints and indexes dropped and made again.
    rebuilt_triggers: BTreeSet<(String, String)>,
    rebuilt_constraints: BTreeSet<(String, String)>,
    rebuilt_indexes: BTreeSet<String>,
    /// Enums that lose or reorder labels: renamed, made anew, their columns converted.
    recreated_enums: BTreeSet<String>,
}

fn gone<'m, K: Ord + Clone, V>(
    from: &'m BTreeMap<K, V>,
    to: &BTreeMap<K, V>,
) -> impl Iterator<Item = (&'m K, &'m V)> {
    from.iter().filter(move |(k, _)| !to.contains_key(*k))
}

fn trimmed_view(definition: &str) -> &str {
    definition.trim().trim_end_matches(';').trim_end()
}

impl<'a> Generator<'a> {
    fn new(from: &'a Model, to: &'a Model, cx: &'a Context) -> Generator<'a> {
        Generator {
            from,
            to,
            cx,
            script: Script::default(),
            rebuilt_views: BTreeSet::new(),
            recreated_functions: BTreeSet::new(),
            rebuilt_triggers: BTreeSet::new(),
            rebuilt_constraints: BTreeSet::new(),
            rebuilt_indexes: BTreeSet::new(),
            recreated_enums: BTreeSet::new(),
        }
    }

    fn run(mut self) -> Script {
        self.plan_rebuilds();
        self.unsupported();
        self.drops();
        self.creates();
        self.script
    }

    // ----- what is made again ---------------------------------------------------------

    /// A function in both whose new definition cannot replace the old one in place.
    fn must_recreate(old: &FunctionDef, new: &FunctionDef) -> bool {
        old.kind != new.kind || old.result != new.result || old.arguments != new.arguments
    }

    /// Tables gone, and columns (`"s"."t"."c"`) that change in a way views reading them
    /// cannot survive (with their tables).
    fn tables_with_breaking_changes(&self) -> BTreeSet<String> {
        let mut tables = BTreeSet::new();
        for (name, old) in &self.from.tables {
            let Some(new) = self.to.tables.get(name) else {
                tables.insert(name.clone());
                continue;
            };
            for column in &old.columns {
                match new.columns.iter().find(|c| c.name == column.name) {
                    None => {
                        tables.insert(format!("{name}.{}", column.name));
                    }
                    Some(c)
                        if c.kind != column.kind
                            || c.collation != column.collation
                            || self
                                .recreated_enums
                                .iter()
                                .any(|e| Self::uses_enum(&c.kind, e)) =>
                    {
                        tables.insert(format!("{name}.{}", column.name));
                    }
                    Some(_) => {}
                }
            }
        }
        tables
    }

    /// Whether column type `kind` is enum `name` (or an array of it).
    fn uses_enum(kind: &str, name: &str) -> bool {
        kind == name || kind.strip_suffix("[]") == Some(name)
    }

    fn plan_rebuilds(&mut self) {
        for (name, old) in &self.from.types {
            let Some(new) = self.to.types.get(name) else {
                continue;
            };
            if old.kind != "e" || new.kind != "e" {
                continue;
            }
            // Made anew only when table columns alone use it.
            if loses_labels(old, new) && self.enum_users(name).is_none() {
                self.recreated_enums.insert(name.clone());
            }
        }
        for (signature, old) in &self.from.functions {
            match self.to.functions.get(signature) {
                Some(new) if Self::must_recreate(old, new) => {
                    self.recreated_functions.insert(signature.clone());
                }
                _ => {}
            }
        }
        let broken_tables = self.tables_with_breaking_changes();
        let gone_functions: BTreeSet<&String> = self
            .from
            .functions
            .keys()
            .filter(|f| !self.to.functions.contains_key(*f))
            .chain(self.recreated_functions.iter())
            .collect();
        // Views in both: changed, or reading what changes (to a fixed point).
        for (name, old) in &self.from.views {
            if let Some(new) = self.to.views.get(name)
                && (old.materialized != new.materialized
                    || trimmed_view(&old.definition) != trimmed_view(&new.definition)
                    || old.options != new.options
                    || old.columns != new.columns)
            {
                self.rebuilt_views.insert(name.clone());
            }
        }
        loop {
            let before = self.rebuilt_views.len();
            for (name, old) in &self.from.views {
                if !self.to.views.contains_key(name) || self.rebuilt_views.contains(name) {
                    continue;
                }
                // A column it reads changes, or a table or view it reads goes (or a table
                // whose row it returns changes).
                let reads_change = old.relations.iter().any(|r| {
                    broken_tables.contains(r)
                        || self.rebuilt_views.contains(r)
                        || (self.from.views.contains_key(r) && !self.to.views.contains_key(r))
                }) || old.columns_read.iter().any(|c| broken_tables.contains(c))
                    || old.columns.iter().any(|(_, kind)| {
                        broken_tables.iter().any(|b| {
                            b.strip_prefix(kind.as_str())
                                .is_some_and(|c| c.starts_with('.'))
                        })
                    })
                    || old.functions.iter().any(|f| gone_functions.contains(f));
                if reads_change {
                    self.rebuilt_views.insert(name.clone());
                }
            }
            if self.rebuilt_views.len() == before {
                break;
            }
        }
        let dropped_views: BTreeSet<&String> = self
            .from
            .views
            .keys()
            .filter(|v| !self.to.views.contains_key(*v) || self.rebuilt_views.contains(*v))
            .collect();
        // Triggers on rebuilt views, or running recreated functions.
        for (key, trigger) in &self.from.triggers {
            if self.to.triggers.contains_key(key)
                && (self.rebuilt_views.contains(&trigger.table)
                    || self.recreated_functions.contains(&trigger.function))
            {
                self.rebuilt_triggers.insert(key.clone());
            }
        }
        // Indexes on rebuilt materialized views.
        for (name, index) in &self.from.indexes {
            if self.to.indexes.contains_key(name) && dropped_views.contains(&index.table) {
                self.rebuilt_indexes.insert(name.clone());
            }
        }
        // Foreign keys to a table whose primary key or unique constraints change.
        let changed_keys: BTreeSet<&String> = self
            .from
            .constraints
            .iter()
            .filter(|(k, c)| {
                matches!(c.kind.as_str(), "p" | "u")
                    && self
                        .to
                        .constraints
                        .get(*k)
                        .is_none_or(|n| n.definition != c.definition)
            })
            .map(|(_, c)| &c.table)
            .collect();
        for (key, constraint) in &self.from.constraints {
            if constraint.kind == "f"
                && self.to.constraints.contains_key(key)
                && constraint
                    .references
                    .as_ref()
                    .is_some_and(|r| changed_keys.contains(r))
            {
                self.rebuilt_constraints.insert(key.clone());
            }
        }
    }

    fn unsupported(&mut self) {
        let kinds: BTreeSet<&String> = self
            .from
            .unsupported
            .keys()
            .chain(self.to.unsupported.keys())
            .collect();
        for kind in kinds {
            let old = self.from.unsupported.get(kind).cloned().unwrap_or_default();
            let new = self.to.unsupported.get(kind).cloned().unwrap_or_default();
            if old != new {
                let names: Vec<String> = old.symmetric_difference(&new).cloned().collect();
                self.script.refuse(
                    format!(
                        "{kind} differ and are not written: {}; write them by hand",
                        names.join(", ")
                    ),
                    "",
                );
            }
        }
    }

    // ----- what goes away ---------------------------------------------------------------

    fn drops(&mut self) {
        let (from, to) = (self.from, self.to);
        let gone_tables: BTreeSet<&String> =
            gone(&from.tables, &to.tables).map(|(k, _)| k).collect();
        let dropped_views = self.views_to_drop();
        // Triggers.
        for (key, trigger) in &from.triggers {
            let on_gone =
                gone_tables.contains(&trigger.table) || dropped_views.contains(&trigger.table);
            let changed = to
                .triggers
                .get(key)
                .is_none_or(|t| t.definition != trigger.definition);
            if !on_gone && (changed || self.rebuilt_triggers.contains(key)) {
                self.script.push(format!(
                    "DROP TRIGGER {} ON {}",
                    trigger.name, trigger.table
                ));
            }
        }
        // Rules.
        for (key, rule) in &from.rules {
            let on_gone = gone_tables.contains(&rule.table) || dropped_views.contains(&rule.table);
            if !on_gone
                && to
                    .rules
                    .get(key)
                    .is_none_or(|r| r.definition != rule.definition)
            {
                self.script
                    .push(format!("DROP RULE {} ON {}", rule.name, rule.table));
            }
        }
        // Views, dependents first.
        for name in order_views(from, &dropped_views).into_iter().rev() {
            let view = &from.views[&name];
            let kind = if view.materialized {
                "MATERIALIZED VIEW"
            } else {
                "VIEW"
            };
            self.script.push(format!("DROP {kind} {name}"));
        }
        // Enums made anew: the old one steps aside until its columns are converted.
        for name in self.recreated_enums.clone() {
            self.script.push(format!(
                "ALTER TYPE {name} RENAME TO {}",
                unqualified(&aside(&name))
            ));
        }
        // Indexes.
        for (name, index) in &from.indexes {
            if gone_tables.contains(&index.table) || dropped_views.contains(&index.table) {
                continue;
            }
            if to
                .indexes
                .get(name)
                .is_none_or(|i| i.definition != index.definition)
            {
                self.script.push(format!("DROP INDEX {name}"));
            }
        }
        // Constraints: foreign keys first.
        for foreign in [true, false] {
            for (key, constraint) in &from.constraints {
                if (constraint.kind == "f") != foreign || gone_tables.contains(&constraint.table) {
                    continue;
                }
                let changed = to
                    .constraints
                    .get(key)
                    .is_none_or(|c| c.definition != constraint.definition);
                if changed || self.rebuilt_constraints.contains(key) {
                    self.script.push(format!(
                        "ALTER TABLE {} DROP CONSTRAINT {}",
                        constraint.table, constraint.name
                    ));
                }
            }
        }
        // Defaults that change (so that what they call can go).
        for (name, table) in &to.tables {
            let Some(old) = from.tables.get(name) else {
                continue;
            };
            for column in &old.columns {
                if let Some(new) = table.columns.iter().find(|c| c.name == column.name)
                    && column.default.is_some()
                    && new.default != column.default
                {
                    self.script.push(format!(
                        "ALTER TABLE {name} ALTER COLUMN {} DROP DEFAULT",
                        column.name
                    ));
                }
            }
        }
        // Functions.
        for (signature, function) in &from.functions {
            if !to.functions.contains_key(signature) || self.recreated_functions.contains(signature)
            {
                self.script
                    .push(format!("DROP {} {signature}", routine(function)));
            }
        }
        // Columns.
        for (name, table) in &from.tables {
            let Some(new) = to.tables.get(name) else {
                continue;
            };
            for column in &table.columns {
                if new.columns.iter().any(|c| c.name == column.name) {
                    continue;
                }
                let statement = format!("ALTER TABLE {name} DROP COLUMN {}", column.name);
                if self
                    .cx
                    .columns_with_data
                    .contains(&(name.clone(), column.name.clone()))
                {
                    self.script.refuse(
                        format!(
                            "column {name}.{} holds data: dropping it loses it",
                            column.name
                        ),
                        &statement,
                    );
                } else {
                    self.script.push(statement);
                }
            }
        }
        // Tables, in one statement (foreign keys between them are no obstacle).
        let (foreign, gone_tables): (BTreeSet<&String>, BTreeSet<&String>) = gone_tables
            .iter()
            .partition(|t| from.tables.get(**t).is_some_and(|t| t.kind == "f"));
        if !foreign.is_empty() {
            let names: Vec<&str> = foreign.iter().map(|s| s.as_str()).collect();
            self.script
                .push(format!("DROP FOREIGN TABLE {}", names.join(", ")));
        }
        let (with_rows, empty): (Vec<&String>, Vec<&String>) = gone_tables
            .iter()
            .partition(|t| self.cx.tables_with_rows.contains(**t));
        if !empty.is_empty() {
            let names: Vec<&str> = empty.iter().map(|s| s.as_str()).collect();
            self.script.push(format!("DROP TABLE {}", names.join(", ")));
        }
        for table in with_rows {
            self.script.refuse(
                format!("table {table} holds rows: dropping it loses them"),
                &format!("DROP TABLE {table}"),
            );
        }
        // Sequences (not those owned by what was dropped).
        let gone_sequences: Vec<&String> = gone(&from.sequences, &to.sequences)
            .filter(|(_, s)| {
                s.owned_by.as_ref().is_none_or(|owner| {
                    let (table, column) = super::model::split_qualified_column(owner);
                    !gone_tables.contains(&table.to_string())
                        && !foreign.contains(&table.to_string())
                        && to
                            .tables
                            .get(table)
                            .is_some_and(|t| t.columns.iter().any(|c| c.name == column))
                })
            })
            .map(|(k, _)| k)
            .collect();
        if !gone_sequences.is_empty() {
            let names: Vec<&str> = gone_sequences.iter().map(|s| s.as_str()).collect();
            self.script
                .push(format!("DROP SEQUENCE {}", names.join(", ")));
        }
        // Types: composites, domains, ranges, enums.
        for kind in ["c", "d", "r", "e"] {
            let names: Vec<&str> = gone(&from.types, &to.types)
                .filter(|(_, t)| t.kind == kind)
                .map(|(k, _)| k.as_str())
                .collect();
            if !names.is_empty() {
                let what = if kind == "d" { "DOMAIN" } else { "TYPE" };
                self.script
                    .push(format!("DROP {what} {}", names.join(", ")));
            }
        }
        for (name, _) in gone(&from.extensions, &to.extensions) {
            self.script.push(format!("DROP EXTENSION {name}"));
        }
        let schemas: Vec<&str> = gone(&from.schemas, &to.schemas)
            .map(|(k, _)| k.as_str())
            .collect();
        if !schemas.is_empty() {
            self.script
                .push(format!("DROP SCHEMA {}", schemas.join(", ")));
        }
    }

    fn views_to_drop(&self) -> BTreeSet<String> {
        self.from
            .views
            .keys()
            .filter(|v| !self.to.views.contains_key(*v) || self.rebuilt_views.contains(*v))
            .cloned()
            .collect()
    }

    // ----- what comes -------------------------------------------------------------------

    fn creates(&mut self) {
        let (from, to) = (self.from, self.to);
        for (name, _) in gone(&to.schemas, &from.schemas) {
            self.script.push(format!("CREATE SCHEMA {name}"));
        }
        for (name, extension) in &to.extensions {
            match from.extensions.get(name) {
                None => self.script.push(format!(
                    "CREATE EXTENSION IF NOT EXISTS {name} WITH SCHEMA {} VERSION {}",
                    extension.schema,
                    quote_literal(&extension.version)
                )),
                Some(old) => {
                    if old.version != extension.version {
                        self.script.push(format!(
                            "ALTER EXTENSION {name} UPDATE TO {}",
                            quote_literal(&extension.version)
                        ));
                    }
                    if old.schema != extension.schema {
                        self.script.push(format!(
                            "ALTER EXTENSION {name} SET SCHEMA {}",
                            extension.schema
                        ));
                    }
                }
            }
        }
        self.types();
        self.sequences();
        let routines_made = self.functions(false);
        self.tables();
        self.columns();
        self.constraints(false);
        self.constraints(true);
        self.indexes();
        self.views();
        let standard_made = self.functions(true);
        if routines_made || standard_made {
            // Function bodies are checked when they run, as in pg_dump's scripts.
            self.script.statements.insert(
                self.first_routine_position(),
                "SET LOCAL check_function_bodies = off".into(),
            );
            self.script.push("SET LOCAL check_function_bodies = on");
        }
        self.triggers();
        self.rules();
        self.sequence_owners();
        self.comments();
        self.privileges();
    }

    /// Where the first function statement is, so that check_function_bodies goes off
    /// just before.
    fn first_routine_position(&self) -> usize {
        self.script
            .statements
            .iter()
            .position(|s| {
                s.starts_with("CREATE OR REPLACE FUNCTION")
                    || s.starts_with("CREATE OR REPLACE PROCEDURE")
            })
            .unwrap_or(self.script.statements.len())
    }

    fn types(&mut self) {
        let (from, to) = (self.from, self.to);
        // Enums first (ranges, domains and composites may use them), then ranges, domains,
        // composites.
        for kind in ["e", "r", "d", "c"] {
            for (name, new) in to.types.iter().filter(|(_, t)| t.kind == kind) {
                match from.types.get(name) {
                    None => self.script.push(create_type(new)),
                    Some(old) if old.kind != new.kind => self.script.refuse(
                        format!(
                            "{name} changes from one kind of type to another; recreate it by hand"
                        ),
                        &create_type(new),
                    ),
                    Some(old) => self.alter_type(old, new),
                }
            }
        }
    }

    fn alter_type(&mut self, old: &TypeDef, new: &TypeDef) {
        let name = &new.name;
        if self.recreated_enums.contains(name) {
            self.script.push(create_type(new));
            return;
        }
        match new.kind.as_str() {
            "r" => {
                if old.range != new.range {
                    self.script.refuse(
                        format!(
                            "range type {name} changes ({} → {}): recreate it by hand",
                            old.range.as_deref().unwrap_or("?"),
                            new.range.as_deref().unwrap_or("?")
                        ),
                        "",
                    );
                }
            }
            "e" => {
                if loses_labels(old, new) {
                    self.script.refuse(
                        format!(
                            "enum {name} loses or reorders labels ({} → {}) and a function or \
                             type uses it: recreate the type by hand",
                            old.labels.join(", "),
                            new.labels.join(", ")
                        ),
                        "",
                    );
                    return;
                }
                let mut present: Vec<&String> = old.labels.iter().collect();
                for (i, label) in new.labels.iter().enumerate() {
                    if present.contains(&label) {
                        continue;
                    }
                    let after = new.labels[..i].iter().rev().find(|l| present.contains(l));
                    let position = match after {
                        Some(a) => format!(" AFTER {}", quote_literal(a)),
                        None => match new.labels[i + 1..].iter().find(|l| present.contains(l)) {
                            Some(b) => format!(" BEFORE {}", quote_literal(b)),
                            None => String::new(),
                        },
                    };
                    self.script.push(format!(
                        "ALTER TYPE {name} ADD VALUE {}{position}",
                        quote_literal(label)
                    ));
                    present.push(label);
                }
            }
            "d" => {
                if old.base != new.base {
                    self.script.refuse(
                        format!(
                            "domain {name} changes its base type ({} → {}): recreate it by hand",
                            old.base.as_deref().unwrap_or("?"),
                            new.base.as_deref().unwrap_or("?")
                        ),
                        "",
                    );
                    return;
                }
                if old.default != new.default {
                    self.script.push(match &new.default {
                        Some(d) => format!("ALTER DOMAIN {name} SET DEFAULT {d}"),
                        None => format!("ALTER DOMAIN {name} DROP DEFAULT"),
                    });
                }
                if old.not_null != new.not_null {
                    let verb = if new.not_null { "SET" } else { "DROP" };
                    self.script
                        .push(format!("ALTER DOMAIN {name} {verb} NOT NULL"));
                }
                for (constraint, definition) in &old.constraints {
                    if !new
                        .constraints
                        .contains(&(constraint.clone(), definition.clone()))
                    {
                        self.script
                            .push(format!("ALTER DOMAIN {name} DROP CONSTRAINT {constraint}"));
                    }
                }
                for (constraint, definition) in &new.constraints {
                    if !old
                        .constraints
                        .contains(&(constraint.clone(), definition.clone()))
                    {
                        self.script.push(format!(
                            "ALTER DOMAIN {name} ADD CONSTRAINT {constraint} {definition}"
                        ));
                    }
                }
            }
            _ => {
                for (attribute, kind) in &old.attributes {
                    match new.attributes.iter().find(|(a, _)| a == attribute) {
                        None => self
                            .script
                            .push(format!("ALTER TYPE {name} DROP ATTRIBUTE {attribute}")),
                        Some((_, k)) if k != kind => self.script.push(format!(
                            "ALTER TYPE {name} ALTER ATTRIBUTE {attribute} TYPE {k}"
                        )),
                        Some(_) => {}
                    }
                }
                for (attribute, kind) in &new.attributes {
                    if !old.attributes.iter().any(|(a, _)| a == attribute) {
                        self.script.push(format!(
                            "ALTER TYPE {name} ADD ATTRIBUTE {attribute} {kind}"
                        ));
                    }
                }
            }
        }
    }

    fn sequences(&mut self) {
        for (name, new) in &self.to.sequences {
            match self.from.sequences.get(name) {
                None => self
                    .script
                    .push(format!("CREATE SEQUENCE {name} {}", sequence_options(new))),
                Some(old) if sequence_options(old) != sequence_options(new) => self
                    .script
                    .push(format!("ALTER SEQUENCE {name} {}", sequence_options(new))),
                Some(_) => {}
            }
        }
    }

    /// Functions new, recreated or replaced: those with SQL-standard bodies
    /// (`standard`, made after the views) or the others. Returns whether any was made.
    fn functions(&mut self, standard: bool) -> bool {
        let mut made = false;
        for (signature, new) in &self.to.functions {
            if new.sql_body != standard {
                continue;
            }
            let old = self.from.functions.get(signature);
            let needed = old.is_none()
                || self.recreated_functions.contains(signature)
                || old.is_some_and(|o| o.definition != new.definition);
            if needed {
                self.script
                    .push(new.definition.trim_end().trim_end_matches(';').to_string());
                made = true;
            }
        }
        made
    }

    fn tables(&mut self) {
        // Parents before their children.
        let mut made: BTreeSet<String> = self.from.tables.keys().cloned().collect();
        let mut waiting: Vec<&TableDef> = self
            .to
            .tables
            .values()
            .filter(|t| !self.from.tables.contains_key(&t.name))
            .collect();
        while !waiting.is_empty() {
            let (ready, later): (Vec<&TableDef>, Vec<&TableDef>) =
                waiting.into_iter().partition(|t| {
                    t.inherits.iter().all(|p| made.contains(p))
                        && t.partition_of.as_ref().is_none_or(|p| made.contains(p))
                });
            if ready.is_empty() {
                for table in later {
                    self.script.push(create_table(table));
                }
                break;
            }
            for table in ready {
                self.script.push(create_table(table));
                made.insert(table.name.clone());
            }
            waiting = later;
        }
        for (name, new) in &self.to.tables {
            let Some(old) = self.from.tables.get(name) else {
                if new.row_security {
                    self.script
                        .push(format!("ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"));
                }
                if new.force_row_security {
                    self.script
                        .push(format!("ALTER TABLE {name} FORCE ROW LEVEL SECURITY"));
                }
                continue;
            };
            if old.options != new.options {
                self.storage_options(name, old, new);
            }
            if old.force_row_security != new.force_row_security {
                let how = if new.force_row_security { "" } else { "NO " };
                self.script
                    .push(format!("ALTER TABLE {name} {how}FORCE ROW LEVEL SECURITY"));
            }
            if old.unlogged != new.unlogged {
                let how = if new.unlogged { "UNLOGGED" } else { "LOGGED" };
                self.script.push(format!("ALTER TABLE {name} SET {how}"));
            }
            if old.row_security != new.row_security {
                let how = if new.row_security {
                    "ENABLE"
                } else {
                    "DISABLE"
                };
                self.script
                    .push(format!("ALTER TABLE {name} {how} ROW LEVEL SECURITY"));
            }
        }
    }

    /// `ALTER TABLE … RESET (…)` and `SET (…)` for storage parameters that change: all
    /// of them, so that they end in the order wanted (as pg_dump shows them).
    fn storage_options(&mut self, name: &str, old: &TableDef, new: &TableDef) {
        let before = storage_names(old.options.as_ref());
        if !before.is_empty() {
            self.script
                .push(format!("ALTER TABLE {name} RESET ({})", before.join(", ")));
        }
        if let Some(options) = new.options.as_ref().filter(|o| !o.is_empty()) {
            self.script
                .push(format!("ALTER TABLE {name} SET ({options})"));
        }
    }

    fn columns(&mut self) {
        let (from, to) = (self.from, self.to);
        for (name, new_table) in &to.tables {
            let Some(old_table) = from.tables.get(name) else {
                continue;
            };
            for new in &new_table.columns {
                let Some(old) = old_table.columns.iter().find(|c| c.name == new.name) else {
                    self.add_column(name, new);
                    continue;
                };
                self.alter_column(name, old, new);
            }
        }
        for name in self.recreated_enums.clone() {
            for (table, new_table) in &to.tables {
                let Some(old_table) = from.tables.get(table) else {
                    continue;
                };
                for new in new_table
                    .columns
                    .iter()
                    .filter(|c| Self::uses_enum(&c.kind, &name))
                {
                    let Some(old) = old_table.columns.iter().find(|c| c.name == new.name) else {
                        continue;
                    };
                    if !Self::uses_enum(&old.kind, &name) {
                        continue;
                    }
                    let at = format!("ALTER TABLE {table} ALTER COLUMN {}", new.name);
                    if old.default.is_some() && old.default == new.default {
                        self.script.push(format!("{at} DROP DEFAULT"));
                    }
                    let via = if new.kind.ends_with("[]") {
                        "text[]"
                    } else {
                        "text"
                    };
                    self.script.push(format!(
                        "{at} TYPE {} USING {}::{via}::{}",
                        new.kind, new.name, new.kind
                    ));
                    if let Some(default) =
                        new.default.as_ref().filter(|_| old.default == new.default)
                    {
                        self.script.push(format!("{at} SET DEFAULT {default}"));
                    }
                }
            }
            self.script.push(format!("DROP TYPE {}", aside(&name)));
        }
    }

    /// `ALTER TABLE … ADD COLUMN`; an identity column of a table with children is added
    /// first without its identity (which children do not inherit, and which PostgreSQL
    /// will not add to them), then made one.
    fn add_column(&mut self, table: &str, column: &ColumnDef) {
        let has_children = self.to.tables.values().any(|t| {
            t.inherits.iter().any(|p| p == table) || t.partition_of.as_deref() == Some(table)
        });
        match &column.identity {
            Some(how) if has_children => {
                let plain = ColumnDef {
                    identity: None,
                    identity_options: None,
                    not_null: true,
                    ..column.clone()
                };
                self.script.push(format!(
                    "ALTER TABLE {table} ADD COLUMN {}",
                    column_definition(&plain)
                ));
                self.script.push(format!(
                    "ALTER TABLE {table} ALTER COLUMN {} ADD GENERATED {} AS IDENTITY ({})",
                    column.name,
                    identity_kind(how),
                    column.identity_options.as_deref().unwrap_or_default()
                ));
            }
            _ => self.script.push(format!(
                "ALTER TABLE {table} ADD COLUMN {}",
                column_definition(column)
            )),
        }
    }

    /// What besides table columns uses enum `name` (then it cannot simply be made anew).
    fn enum_users(&self, name: &str) -> Option<String> {
        for model in [self.from, self.to] {
            if let Some(f) = model.functions.values().find(|f| {
                f.arguments.contains(name) || f.result.as_deref().is_some_and(|r| r.contains(name))
            }) {
                return Some(format!("function {}", f.signature));
            }
            if let Some(t) = model.types.values().find(|t| {
                t.base.as_deref() == Some(name)
                    || t.attributes.iter().any(|(_, k)| Self::uses_enum(k, name))
            }) {
                return Some(format!("type {}", t.name));
            }
        }
        None
    }

    fn alter_column(&mut self, table: &str, old: &ColumnDef, new: &ColumnDef) {
        let column = &new.name;
        let at = format!("ALTER TABLE {table} ALTER COLUMN {column}");
        if old.generated != new.generated {
            self.script.refuse(
                format!(
                    "the generated column {table}.{column} changes its expression: drop and \
                     add it again by hand"
                ),
                "",
            );
        }
        if old.kind != new.kind || old.collation != new.collation {
            let collate = new
                .collation
                .as_ref()
                .map(|c| format!(" COLLATE {c}"))
                .unwrap_or_default();
            let statement = format!("{at} TYPE {}{collate}", new.kind);
            if old.kind == new.kind
                || self
                    .cx
                    .assignable
                    .contains(&(old.kind.clone(), new.kind.clone()))
            {
                self.script.push(statement);
            } else {
                self.script.refuse(
                    format!(
                        "{table}.{column} changes from {} to {}, which needs a USING \
                         expression: check the conversion below",
                        old.kind, new.kind
                    ),
                    &format!("{statement} USING {column}::{}", new.kind),
                );
            }
        }
        // An identity needs NOT NULL first; dropping NOT NULL waits until after it goes.
        if !old.not_null && new.not_null {
            self.script.push(format!("{at} SET NOT NULL"));
        }
        if old.identity != new.identity {
            match (&old.identity, &new.identity) {
                (None, Some(how)) => self.script.push(format!(
                    "{at} ADD GENERATED {} AS IDENTITY ({})",
                    identity_kind(how),
                    new.identity_options.as_deref().unwrap_or_default()
                )),
                (Some(_), None) => self.script.push(format!("{at} DROP IDENTITY")),
                (Some(_), Some(how)) => self
                    .script
                    .push(format!("{at} SET GENERATED {}", identity_kind(how))),
                (None, None) => {}
            }
        } else if new.identity.is_some() && old.identity_options != new.identity_options {
            self.script.push(format!(
                "{at} {}",
                identity_alterations(new.identity_options.as_deref().unwrap_or_default())
            ));
        }
        if new.default != old.default
            && let Some(default) = &new.default
        {
            self.script.push(format!("{at} SET DEFAULT {default}"));
        }
        if old.not_null && !new.not_null {
            self.script.push(format!("{at} DROP NOT NULL"));
        }
    }

    fn constraints(&mut self, foreign: bool) {
        for (key, new) in &self.to.constraints {
            if (new.kind == "f") != foreign {
                continue;
            }
            let needed = self
                .from
                .constraints
                .get(key)
                .is_none_or(|old| old.definition != new.definition)
                || self.rebuilt_constraints.contains(key);
            if needed {
                self.script.push(add_constraint(new));
            }
        }
    }

    fn indexes(&mut self) {
        let dropped_views = self.views_to_drop();
        for (name, new) in &self.to.indexes {
            // Indexes of new or rebuilt materialized views come with them (below).
            if dropped_views.contains(&new.table)
                || (self.to.views.contains_key(&new.table)
                    && !self.from.views.contains_key(&new.table))
            {
                continue;
            }
            let needed = self
                .from
                .indexes
                .get(name)
                .is_none_or(|old| old.definition != new.definition);
            if needed {
                self.script.push(create_index(self.to, new));
            }
        }
    }

    fn views(&mut self) {
        let dropped = self.views_to_drop();
        let wanted: BTreeSet<String> = self
            .to
            .views
            .keys()
            .filter(|v| !self.from.views.contains_key(*v) || dropped.contains(*v))
            .cloned()
            .collect();
        for name in order_views(self.to, &wanted) {
            let view = &self.to.views[&name];
            self.script.push(create_view(view));
            if view.materialized {
                for index in self.to.indexes.values().filter(|i| i.table == name) {
                    self.script.push(create_index(self.to, index));
                }
            }
            for (column, default) in &view.column_defaults {
                self.script.push(format!(
                    "ALTER VIEW {name} ALTER COLUMN {column} SET DEFAULT {default}"
                ));
            }
        }
        // Views kept: their columns' defaults.
        for (name, view) in &self.to.views {
            let Some(old) = self
                .from
                .views
                .get(name)
                .filter(|_| !dropped.contains(name))
            else {
                continue;
            };
            for column in old.column_defaults.keys() {
                if !view.column_defaults.contains_key(column) {
                    self.script.push(format!(
                        "ALTER VIEW {name} ALTER COLUMN {column} DROP DEFAULT"
                    ));
                }
            }
            for (column, default) in &view.column_defaults {
                if old.column_defaults.get(column) != Some(default) {
                    self.script.push(format!(
                        "ALTER VIEW {name} ALTER COLUMN {column} SET DEFAULT {default}"
                    ));
                }
            }
        }
    }

    /// Rules new, changed, or on a view made again.
    fn rules(&mut self) {
        let dropped_views = self.views_to_drop();
        for (key, new) in &self.to.rules {
            let needed = self
                .from
                .rules
                .get(key)
                .is_none_or(|old| old.definition != new.definition)
                || dropped_views.contains(&new.table);
            if needed {
                self.script
                    .push(new.definition.trim_end().trim_end_matches(';').to_string());
            }
        }
    }

    fn triggers(&mut self) {
        let dropped_views = self.views_to_drop();
        for (key, new) in &self.to.triggers {
            let old = self.from.triggers.get(key);
            let needed = old.is_none_or(|o| o.definition != new.definition)
                || self.rebuilt_triggers.contains(key)
                || dropped_views.contains(&new.table)
                || !self.from.tables.contains_key(&new.table)
                    && !self.from.views.contains_key(&new.table);
            if needed {
                self.script.push(new.definition.clone());
            }
            let was = if needed {
                "O"
            } else {
                old.map_or("O", |o| o.enabled.as_str())
            };
            if new.enabled != was {
                let how = match new.enabled.as_str() {
                    "D" => "DISABLE TRIGGER",
                    "R" => "ENABLE REPLICA TRIGGER",
                    "A" => "ENABLE ALWAYS TRIGGER",
                    _ => "ENABLE TRIGGER",
                };
                self.script
                    .push(format!("ALTER TABLE {} {how} {}", new.table, new.name));
            }
        }
    }

    fn sequence_owners(&mut self) {
        for (name, new) in &self.to.sequences {
            let old = self
                .from
                .sequences
                .get(name)
                .and_then(|s| s.owned_by.clone());
            if new.owned_by != old {
                let owner = new.owned_by.as_deref().unwrap_or("NONE");
                self.script
                    .push(format!("ALTER SEQUENCE {name} OWNED BY {owner}"));
            }
        }
    }

    // ----- comments and privileges -----------------------------------------------------

    fn comment(&mut self, what: String, old: Option<&Option<String>>, new: &Option<String>) {
        let old = old.cloned().flatten();
        if &old != new {
            let text = new
                .as_ref()
                .map_or_else(|| "NULL".to_string(), |t| quote_literal(t));
            self.script.push(format!("COMMENT ON {what} IS {text}"));
        }
    }

    fn comments(&mut self) {
        let (from, to) = (self.from, self.to);
        for (name, schema) in &to.schemas {
            self.comment(
                format!("SCHEMA {name}"),
                from.schemas.get(name).map(|s| &s.comment),
                &schema.comment,
            );
        }
        for (name, table) in &to.tables {
            let old = from.tables.get(name);
            let what = if table.kind == "f" {
                "FOREIGN TABLE"
            } else {
                "TABLE"
            };
            self.comment(
                format!("{what} {name}"),
                old.map(|t| &t.comment),
                &table.comment,
            );
            for column in &table.columns {
                let before = old.and_then(|t| t.columns.iter().find(|c| c.name == column.name));
                self.comment(
                    format!("COLUMN {name}.{}", column.name),
                    before.map(|c| &c.comment),
                    &column.comment,
                );
            }
        }
        for (name, view) in &to.views {
            let old = from
                .views
                .get(name)
                .filter(|_| !self.rebuilt_views.contains(name));
            let what = if view.materialized {
                "MATERIALIZED VIEW"
            } else {
                "VIEW"
            };
            self.comment(
                format!("{what} {name}"),
                old.map(|v| &v.comment),
                &view.comment,
            );
            for (column, _) in &view.columns {
                let before = old.map(|v| v.column_comments.get(column).cloned());
                self.comment(
                    format!("COLUMN {name}.{column}"),
                    before.as_ref(),
                    &view.column_comments.get(column).cloned(),
                );
            }
        }
        for (name, sequence) in &to.sequences {
            self.comment(
                format!("SEQUENCE {name}"),
                from.sequences.get(name).map(|s| &s.comment),
                &sequence.comment,
            );
        }
        for (signature, function) in &to.functions {
            let old = from
                .functions
                .get(signature)
                .filter(|_| !self.recreated_functions.contains(signature));
            self.comment(
                format!("{} {signature}", routine(function)),
                old.map(|f| &f.comment),
                &function.comment,
            );
        }
        for (name, kind) in &to.types {
            let what = if kind.kind == "d" { "DOMAIN" } else { "TYPE" };
            let old = from
                .types
                .get(name)
                .filter(|_| !self.recreated_enums.contains(name));
            self.comment(
                format!("{what} {name}"),
                old.map(|t| &t.comment),
                &kind.comment,
            );
        }
        for (key, rule) in &to.rules {
            let old = from.rules.get(key).filter(|r| {
                r.definition == rule.definition && !self.views_to_drop().contains(&r.table)
            });
            self.comment(
                format!("RULE {} ON {}", rule.name, rule.table),
                old.map(|r| &r.comment),
                &rule.comment,
            );
        }
        for (key, constraint) in &to.constraints {
            let old = from.constraints.get(key).filter(|c| {
                c.definition == constraint.definition && !self.rebuilt_constraints.contains(key)
            });
            self.comment(
                format!("CONSTRAINT {} ON {}", constraint.name, constraint.table),
                old.map(|c| &c.comment),
                &constraint.comment,
            );
        }
        let dropped_views = self.views_to_drop();
        for (name, index) in &to.indexes {
            let old = from
                .indexes
                .get(name)
                .filter(|i| i.definition == index.definition && !dropped_views.contains(&i.table));
            self.comment(
                format!("INDEX {name}"),
                old.map(|i| &i.comment),
                &index.comment,
            );
        }
        for (key, trigger) in &to.triggers {
            let old = from.triggers.get(key).filter(|t| {
                t.definition == trigger.definition
                    && !self.rebuilt_triggers.contains(key)
                    && !dropped_views.contains(&t.table)
            });
            self.comment(
                format!("TRIGGER {} ON {}", trigger.name, trigger.table),
                old.map(|t| &t.comment),
                &trigger.comment,
            );
        }
    }

    /// The GRANTs and REVOKEs turning `old` into `new` on `what`: one statement per
    /// grantee and kind of change, privileges listed together.
    fn grants(&mut self, what: &str, old: &BTreeSet<Grant>, new: &BTreeSet<Grant>) {
        // (statement prefix, grantee, suffix) → privileges.
        let mut changes: BTreeMap<(u8, String), Vec<String>> = BTreeMap::new();
        for (grantee, privilege, grantable) in old {
            match new.iter().find(|(g, p, _)| g == grantee && p == privilege) {
                None => changes
                    .entry((0, grantee.clone()))
                    .or_default()
                    .push(privilege.clone()),
                Some((_, _, now)) if *grantable && !now => changes
                    .entry((1, grantee.clone()))
                    .or_default()
                    .push(privilege.clone()),
                Some(_) => {}
            }
        }
        for (grantee, privilege, grantable) in new {
            let before = old.iter().find(|(g, p, _)| g == grantee && p == privilege);
            if before.is_none_or(|(_, _, was)| *grantable && !was) {
                let kind = if *grantable { 3 } else { 2 };
                changes
                    .entry((kind, grantee.clone()))
                    .or_default()
                    .push(privilege.clone());
            }
        }
        for ((kind, grantee), privileges) in changes {
            let privileges = privileges.join(", ");
            self.script.push(match kind {
                0 => format!("REVOKE {privileges} ON {what} FROM {grantee}"),
                1 => format!("REVOKE GRANT OPTION FOR {privileges} ON {what} FROM {grantee}"),
                2 => format!("GRANT {privileges} ON {what} TO {grantee}"),
                _ => format!("GRANT {privileges} ON {what} TO {grantee} WITH GRANT OPTION"),
            });
        }
    }

    /// The privileges an object made by the script starts with: the built-in ones
    /// (`builtin`), unless default privileges of the database may give or take some
    /// for its `kind`; then they are all revoked first, so that the object ends with
    /// exactly the privileges wanted.
    fn made<'g>(
        &mut self,
        kind: &str,
        what: &str,
        builtin: &'g BTreeSet<Grant>,
        none: &'g BTreeSet<Grant>,
    ) -> &'g BTreeSet<Grant> {
        match self.from.default_grantees.get(kind) {
            Some(grantees) if !grantees.is_empty() => {
                let list: Vec<&str> = grantees.iter().map(String::as_str).collect();
                self.script
                    .push(format!("REVOKE ALL ON {what} FROM {}", list.join(", ")));
                none
            }
            _ => builtin,
        }
    }

    fn privileges(&mut self) {
        let (from, to) = (self.from, self.to);
        let none = BTreeSet::new();
        let public = |privilege: &str| -> BTreeSet<Grant> {
            [("PUBLIC".to_string(), privilege.to_string(), false)]
                .into_iter()
                .collect()
        };
        for (name, schema) in &to.schemas {
            let what = format!("SCHEMA {name}");
            let old = match from.schemas.get(name) {
                Some(s) => &s.acl,
                None => self.made("n", &what, &none, &none),
            };
            self.grants(&what, old, &schema.acl);
        }
        for (name, table) in &to.tables {
            let what = format!("TABLE {name}");
            let old = match from.tables.get(name) {
                Some(t) => &t.acl,
                None => self.made("r", &what, &none, &none),
            };
            self.grants(&what, old, &table.acl);
        }
        for (name, view) in &to.views {
            let what = format!("TABLE {name}");
            let old = match from
                .views
                .get(name)
                .filter(|_| !self.rebuilt_views.contains(name))
            {
                Some(v) => &v.acl,
                None => self.made("r", &what, &none, &none),
            };
            self.grants(&what, old, &view.acl);
        }
        for (name, sequence) in &to.sequences {
            let what = format!("SEQUENCE {name}");
            let old = match from.sequences.get(name) {
                Some(s) => &s.acl,
                None => self.made("S", &what, &none, &none),
            };
            self.grants(&what, old, &sequence.acl);
        }
        let execute = public("EXECUTE");
        for (signature, function) in &to.functions {
            let what = format!("{} {signature}", routine(function));
            let old = match from
                .functions
                .get(signature)
                .filter(|_| !self.recreated_functions.contains(signature))
            {
                Some(f) => &f.acl,
                None => self.made("f", &what, &execute, &none),
            };
            self.grants(&what, old, &function.acl);
        }
        let usage = public("USAGE");
        for (name, kind) in &to.types {
            let what = format!(
                "{} {name}",
                if kind.kind == "d" { "DOMAIN" } else { "TYPE" }
            );
            let old = match from
                .types
                .get(name)
                .filter(|_| !self.recreated_enums.contains(name))
            {
                Some(t) => &t.acl,
                None => self.made("T", &what, &usage, &none),
            };
            self.grants(&what, old, &kind.acl);
        }
    }
}

/// Whether enum `new` drops or reorders labels of `old` (adding is done in place).
fn loses_labels(old: &TypeDef, new: &TypeDef) -> bool {
    let kept: Vec<&String> = old
        .labels
        .iter()
        .filter(|l| new.labels.contains(l))
        .collect();
    let in_order: Vec<&String> = new
        .labels
        .iter()
        .filter(|l| old.labels.contains(l))
        .collect();
    kept.len() != old.labels.len() || kept != in_order
}

/// The name an enum made anew has while its columns move over: `"s"."e__pum_old"`.
fn aside(name: &str) -> String {
    let (schema, object) = super::model::split_qualified(name);
    let renamed = match object.strip_suffix('"') {
        Some(quoted) => format!("{quoted}__pum_old\""),
        None => format!("{object}__pum_old"),
    };
    if schema.is_empty() {
        renamed
    } else {
        format!("{schema}.{renamed}")
    }
}

/// The object part of a qualified name.
fn unqualified(name: &str) -> &str {
    super::model::split_qualified(name).1
}

/// `FUNCTION` or `PROCEDURE`.
fn routine(function: &FunctionDef) -> &'static str {
    if function.kind == "p" {
        "PROCEDURE"
    } else {
        "FUNCTION"
    }
}

fn identity_kind(how: &str) -> &'static str {
    if how == "a" { "ALWAYS" } else { "BY DEFAULT" }
}

/// `START WITH 1 INCREMENT BY 1 …` as `SET START WITH 1 SET INCREMENT BY 1 …`.
fn identity_alterations(options: &str) -> String {
    let mut out = Vec::new();
    let words: Vec<&str> = options.split_whitespace().collect();
    let mut i = 0;
    while i < words.len() {
        let two = words.get(i + 1).map(|w| format!("{} {w}", words[i]));
        match (words[i], two.as_deref()) {
            (_, Some("START WITH")) | (_, Some("INCREMENT BY")) => {
                out.push(format!(
                    "SET {} {}",
                    two.unwrap_or_default(),
                    words.get(i + 2).unwrap_or(&"")
                ));
                i += 3;
            }
            (_, Some("NO CYCLE")) => {
                out.push("SET NO CYCLE".to_string());
                i += 2;
            }
            ("CYCLE", _) => {
                out.push("SET CYCLE".to_string());
                i += 1;
            }
            (word, _) => {
                out.push(format!("SET {word} {}", words.get(i + 1).unwrap_or(&"")));
                i += 2;
            }
        }
    }
    out.join(" ")
}

fn sequence_options(sequence: &SequenceDef) -> String {
    format!(
        "AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}",
        sequence.kind,
        sequence.increment,
        sequence.minimum,
        sequence.maximum,
        sequence.start,
        sequence.cache,
        if sequence.cycle { "CYCLE" } else { "NO CYCLE" }
    )
}

fn column_definition(column: &ColumnDef) -> String {
    let mut text = format!("{} {}", column.name, column.kind);
    if let Some(collation) = &column.collation {
        text.push_str(&format!(" COLLATE {collation}"));
    }
    if let Some(how) = &column.identity {
        text.push_str(&format!(
            " GENERATED {} AS IDENTITY ({})",
            identity_kind(how),
            column.identity_options.as_deref().unwrap_or_default()
        ));
    }
    if let Some(expression) = &column.generated {
        text.push_str(&format!(" GENERATED ALWAYS AS ({expression}) STORED"));
    }
    if let Some(default) = &column.default {
        text.push_str(&format!(" DEFAULT {default}"));
    }
    if column.not_null && column.identity.is_none() {
        text.push_str(" NOT NULL");
    }
    text
}

fn create_table(table: &TableDef) -> String {
    let kind = match (table.kind.as_str(), table.unlogged) {
        ("f", _) => "FOREIGN TABLE",
        (_, true) => "UNLOGGED TABLE",
        _ => "TABLE",
    };
    let mut text = match &table.partition_of {
        Some(parent) => format!(
            "CREATE {kind} {} PARTITION OF {parent} {}",
            table.name,
            table.partition_bound.as_deref().unwrap_or("DEFAULT")
        ),
        None => {
            let columns: Vec<String> = table
                .columns
                .iter()
                .map(|c| format!("    {}", column_definition(c)))
                .collect();
            let mut text = format!("CREATE {kind} {} (\n{}\n)", table.name, columns.join(",\n"));
            if !table.inherits.is_empty() {
                text.push_str(&format!(" INHERITS ({})", table.inherits.join(", ")));
            }
            text
        }
    };
    if let Some(key) = &table.partition_key {
        text.push_str(&format!(" PARTITION BY {key}"));
    }
    if let Some(options) = table.options.as_ref().filter(|o| !o.is_empty()) {
        text.push_str(&format!(" WITH ({options})"));
    }
    if let Some(server) = &table.foreign_server {
        text.push_str(&format!(" SERVER {server}"));
        if let Some(options) = table.foreign_options.as_ref().filter(|o| !o.is_empty()) {
            text.push_str(&format!(" OPTIONS ({options})"));
        }
    }
    text
}

/// `CREATE INDEX`: an index on a partitioned table made for its partitions too
/// (`pg_get_indexdef` writes it `ON ONLY`, as pg_dump attaches partitions' own).
fn create_index(model: &Model, index: &super::model::IndexDef) -> String {
    let partitioned = model
        .tables
        .get(&index.table)
        .is_some_and(|t| t.partition_key.is_some());
    let only = format!(" ON ONLY {} ", index.table);
    match index.definition.find(&only) {
        Some(at) if partitioned => format!(
            "{} ON {} {}",
            &index.definition[..at],
            index.table,
            &index.definition[at + only.len()..]
        ),
        _ => index.definition.clone(),
    }
}

/// The names of `fillfactor=70, autovacuum_enabled=false`.
fn storage_names(options: Option<&String>) -> Vec<&str> {
    options
        .map(|o| {
            o.split(", ")
                .filter_map(|pair| pair.split_once('=').map(|(name, _)| name))
                .collect()
        })
        .unwrap_or_default()
}

fn add_constraint(constraint: &ConstraintDef) -> String {
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} {}",
        constraint.table, constraint.name, constraint.definition
    )
}

fn create_type(kind: &TypeDef) -> String {
    match kind.kind.as_str() {
        "r" => format!(
            "CREATE TYPE {} AS RANGE ({})",
            kind.name,
            kind.range.as_deref().unwrap_or_default()
        ),
        "e" => {
            let labels: Vec<String> = kind.labels.iter().map(|l| quote_literal(l)).collect();
            format!("CREATE TYPE {} AS ENUM ({})", kind.name, labels.join(", "))
        }
        "d" => {
            let mut text = format!(
                "CREATE DOMAIN {} AS {}",
                kind.name,
                kind.base.as_deref().unwrap_or("text")
            );
            if let Some(default) = &kind.default {
                text.push_str(&format!(" DEFAULT {default}"));
            }
            if kind.not_null {
                text.push_str(" NOT NULL");
            }
            for (name, definition) in &kind.constraints {
                text.push_str(&format!(" CONSTRAINT {name} {definition}"));
            }
            text
        }
        _ => {
            let attributes: Vec<String> = kind
                .attributes
                .iter()
                .map(|(a, t)| format!("{a} {t}"))
                .collect();
            format!("CREATE TYPE {} AS ({})", kind.name, attributes.join(", "))
        }
    }
}

fn create_view(view: &ViewDef) -> String {
    let kind = if view.materialized {
        "MATERIALIZED VIEW"
    } else {
        "VIEW"
    };
    let options = view
        .options
        .as_ref()
        .filter(|o| !o.is_empty())
        .map(|o| format!(" WITH ({o})"))
        .unwrap_or_default();
    format!(
        "CREATE {kind} {}{options} AS\n{}",
        view.name,
        trimmed_view(&view.definition)
    )
}

/// `wanted` views of `model` in dependency order (those they read first).
fn order_views(model: &Model, wanted: &BTreeSet<String>) -> Vec<String> {
    let mut ordered = Vec::new();
    let mut placed: BTreeSet<&String> = BTreeSet::new();
    let mut left: Vec<&String> = wanted.iter().collect();
    while !left.is_empty() {
        let (ready, later): (Vec<&String>, Vec<&String>) = left.into_iter().partition(|v| {
            model.views[*v]
                .relations
                .iter()
                .all(|r| !wanted.contains(r) || placed.contains(r) || r == *v)
        });
        if ready.is_empty() {
            // A cycle cannot be: take them as they come.
            ordered.extend(later.into_iter().cloned());
            break;
        }
        for view in ready {
            placed.insert(view);
            ordered.push(view.clone());
        }
        left = later;
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_options_become_alterations() {
        assert_eq!(
            identity_alterations(
                "START WITH 5 INCREMENT BY 2 MINVALUE 1 MAXVALUE 100 CACHE 1 NO CYCLE"
            ),
            "SET START WITH 5 SET INCREMENT BY 2 SET MINVALUE 1 SET MAXVALUE 100 SET CACHE 1 \
             SET NO CYCLE"
        );
        assert_eq!(
            identity_alterations("START WITH 1 INCREMENT BY 1 MINVALUE 1 MAXVALUE 9 CACHE 1 CYCLE"),
            "SET START WITH 1 SET INCREMENT BY 1 SET MINVALUE 1 SET MAXVALUE 9 SET CACHE 1 SET \
             CYCLE"
        );
    }

    #[test]
    fn warnings_are_comments() {
        let mut script = Script::default();
        script.push("ALTER TABLE a ADD COLUMN b int");
        script.refuse("it loses data".into(), "ALTER TABLE a\nDROP COLUMN c");
        assert_eq!(
            script.text(),
            "ALTER TABLE a ADD COLUMN b int;\n-- pum: WARNING: it loses data\n-- ALTER TABLE \
             a\n-- DROP COLUMN c;\n"
        );
        assert_eq!(script.warnings, ["it loses data"]);
    }
}
