//! What goes away, dependents first: triggers, rules, views, indexes, foreign keys,
//! other constraints, column defaults that change, functions, columns, tables,
//! sequences, types, extensions, schemas.

use std::collections::BTreeSet;

use super::super::model::split_qualified_column;
use super::routines::routine;
use super::types::{aside, unqualified};
use super::views::order_views;
use super::{Generator, gone};

impl<'a> Generator<'a> {
    pub(super) fn drops(&mut self) {
        let (from, to) = (self.from, self.to);
        let gone_tables: BTreeSet<&'a String> =
            gone(&from.tables, &to.tables).map(|(k, _)| k).collect();
        let dropped_views = self.views_to_drop();
        self.drop_triggers_and_rules(&gone_tables, &dropped_views);
        self.drop_views(&dropped_views);
        self.set_enums_aside();
        self.drop_indexes_and_constraints(&gone_tables, &dropped_views);
        self.drop_changed_defaults();
        self.drop_functions();
        self.drop_columns();
        self.drop_tables(&gone_tables);
        self.drop_sequences(&gone_tables);
        self.drop_types_extensions_schemas();
    }

    /// Triggers and rules, unless their table or view goes anyway.
    fn drop_triggers_and_rules(
        &mut self,
        gone_tables: &BTreeSet<&String>,
        dropped_views: &BTreeSet<String>,
    ) {
        let (from, to) = (self.from, self.to);
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
    }

    /// Views, dependents first.
    fn drop_views(&mut self, dropped_views: &BTreeSet<String>) {
        let from = self.from;
        for name in order_views(from, dropped_views).into_iter().rev() {
            let view = &from.views[&name];
            let kind = if view.materialized {
                "MATERIALIZED VIEW"
            } else {
                "VIEW"
            };
            self.script.push(format!("DROP {kind} {name}"));
        }
    }

    /// Enums made anew: the old one steps aside until its columns are converted.
    fn set_enums_aside(&mut self) {
        for name in self.recreated_enums.clone() {
            self.script.push(format!(
                "ALTER TYPE {name} RENAME TO {}",
                unqualified(&aside(&name))
            ));
        }
    }

    /// Indexes, then constraints (foreign keys first), unless their table goes anyway.
    fn drop_indexes_and_constraints(
        &mut self,
        gone_tables: &BTreeSet<&String>,
        dropped_views: &BTreeSet<String>,
    ) {
        let (from, to) = (self.from, self.to);
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
    }

    /// Defaults that change (so that what they call can go).
    fn drop_changed_defaults(&mut self) {
        let (from, to) = (self.from, self.to);
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
    }

    /// Functions gone or made again.
    fn drop_functions(&mut self) {
        let (from, to) = (self.from, self.to);
        for (signature, function) in &from.functions {
            if !to.functions.contains_key(signature) || self.recreated_functions.contains(signature)
            {
                self.script
                    .push(format!("DROP {} {signature}", routine(function)));
            }
        }
    }

    /// Columns gone from tables that stay; refused when they hold data.
    fn drop_columns(&mut self) {
        let (from, to) = (self.from, self.to);
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
    }

    /// Tables, in one statement (foreign keys between them are no obstacle); refused
    /// when they hold rows.
    fn drop_tables(&mut self, gone_tables: &BTreeSet<&String>) {
        let from = self.from;
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
    }

    /// Sequences (not those owned by what was dropped).
    fn drop_sequences(&mut self, gone_tables: &BTreeSet<&String>) {
        let (from, to) = (self.from, self.to);
        let gone_sequences: Vec<&String> = gone(&from.sequences, &to.sequences)
            .filter(|(_, s)| {
                s.owned_by.as_ref().is_none_or(|owner| {
                    let (table, column) = split_qualified_column(owner);
                    // A sequence owned by a table that goes (foreign or not) goes with it.
                    !gone_tables.contains(&table.to_string())
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
    }

    /// Types (composites, domains, ranges, enums), extensions, schemas.
    fn drop_types_extensions_schemas(&mut self) {
        let (from, to) = (self.from, self.to);
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
}
