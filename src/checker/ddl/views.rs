//! Views and materialized views (in dependency order, each with its indexes and column
//! defaults) and rules.

use std::collections::BTreeSet;

use super::super::model::{Model, ViewDef};
use super::Generator;
use super::constraints::create_index;

impl Generator<'_> {
    pub(super) fn views(&mut self) {
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
    pub(super) fn rules(&mut self) {
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
}

pub(super) fn trimmed_view(definition: &str) -> &str {
    definition.trim().trim_end_matches(';').trim_end()
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
pub(super) fn order_views(model: &Model, wanted: &BTreeSet<String>) -> Vec<String> {
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
