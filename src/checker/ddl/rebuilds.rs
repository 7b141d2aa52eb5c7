//! What the script makes again although it is in both models: views that change or
//! read what changes, functions whose signature's result changes, enums that lose
//! labels, and the triggers, indexes and foreign keys that hang on them. Decided once,
//! before any statement is written (`plan_rebuilds`), so that drops and creates agree.

use std::collections::BTreeSet;

use super::super::model::FunctionDef;
use super::Generator;
use super::types::loses_labels;
use super::views::trimmed_view;

impl Generator<'_> {
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
    pub(super) fn uses_enum(kind: &str, name: &str) -> bool {
        kind == name || kind.strip_suffix("[]") == Some(name)
    }

    pub(super) fn plan_rebuilds(&mut self) {
        self.plan_enums_and_functions();
        self.plan_views();
        self.plan_dependents();
    }

    /// Enums made anew (they lose or reorder labels and only table columns use them) and
    /// functions recreated.
    fn plan_enums_and_functions(&mut self) {
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
    }

    /// Views in both that are made again.
    fn plan_views(&mut self) {
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
    }

    /// Triggers, indexes and foreign keys made again with what they hang on.
    fn plan_dependents(&mut self) {
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

    pub(super) fn views_to_drop(&self) -> BTreeSet<String> {
        self.from
            .views
            .keys()
            .filter(|v| !self.to.views.contains_key(*v) || self.rebuilt_views.contains(*v))
            .cloned()
            .collect()
    }
}
