//! Table constraints (foreign keys after the others) and indexes.

use super::super::model::{ConstraintDef, IndexDef, Model};
use super::Generator;

impl Generator<'_> {
    pub(super) fn constraints(&mut self, foreign: bool) {
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

    pub(super) fn indexes(&mut self) {
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
}

/// `CREATE INDEX`: an index on a partitioned table made for its partitions too
/// (`pg_get_indexdef` writes it `ON ONLY`, as pg_dump attaches partitions' own).
pub(super) fn create_index(model: &Model, index: &IndexDef) -> String {
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

fn add_constraint(constraint: &ConstraintDef) -> String {
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} {}",
        constraint.table, constraint.name, constraint.definition
    )
}
