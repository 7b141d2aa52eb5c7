//! Comments: set, changed or removed on every object of the target model, and set again
//! on objects the script makes again.

use super::Generator;
use super::routines::routine;
use crate::sql::quote_literal;

impl Generator<'_> {
    fn comment(&mut self, what: String, old: Option<&Option<String>>, new: &Option<String>) {
        let old = old.cloned().flatten();
        if &old != new {
            let text = new
                .as_ref()
                .map_or_else(|| "NULL".to_string(), |t| quote_literal(t));
            self.script.push(format!("COMMENT ON {what} IS {text}"));
        }
    }

    pub(super) fn comments(&mut self) {
        self.comments_on_relations();
        self.comments_on_routines_and_types();
        self.comments_on_dependents();
    }

    /// Schemas, tables and their columns, views and their columns, sequences.
    fn comments_on_relations(&mut self) {
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
    }

    /// Functions and types (not as they were when made again).
    fn comments_on_routines_and_types(&mut self) {
        let (from, to) = (self.from, self.to);
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
    }

    /// Rules, constraints, indexes and triggers (not as they were when made again).
    fn comments_on_dependents(&mut self) {
        let (from, to) = (self.from, self.to);
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
}
