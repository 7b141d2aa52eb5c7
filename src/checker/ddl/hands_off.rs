//! Tables autogenerate leaves as they are: a table whose partitioning or inheritance
//! changes (attached, detached, another parent or key) or a foreign table that changes.
//! Each gets a `-- pum: WARNING:` and nothing else is written about it: the target model
//! is given the table as it was (columns, constraints, indexes, triggers, rules), so that
//! the statements after the warning still run on what the database really holds.

use std::borrow::Cow;

use super::super::model::{Model, TableDef};

/// Why `old` cannot become `new` by statements autogenerate writes, if so.
fn refusal(name: &str, old: &TableDef, new: &TableDef) -> Option<String> {
    if old.partition_key != new.partition_key
        || old.partition_of != new.partition_of
        || old.partition_bound != new.partition_bound
        || old.inherits != new.inherits
        || old.kind != new.kind
    {
        let hint = match (&old.partition_of, &new.partition_of) {
            (Some(parent), None) => format!(" (ALTER TABLE {parent} DETACH PARTITION {name})"),
            (None, Some(parent)) => format!(
                " (ALTER TABLE {parent} ATTACH PARTITION {name} {})",
                new.partition_bound.as_deref().unwrap_or("DEFAULT")
            ),
            _ => String::new(),
        };
        return Some(format!(
            "the partitioning or inheritance of {name} differs: change it by hand{hint}; \
             nothing else about the table is written"
        ));
    }
    if new.kind == "f"
        && (old.columns != new.columns
            || old.foreign_server != new.foreign_server
            || old.foreign_options != new.foreign_options)
    {
        return Some(format!(
            "foreign table {name} differs: change it by hand (ALTER FOREIGN TABLE); nothing \
             else about it is written"
        ));
    }
    None
}

/// `to` with the tables autogenerate leaves alone as they are in `from`, and a warning
/// for each.
pub(super) fn leave_alone<'m>(from: &Model, to: &'m Model) -> (Cow<'m, Model>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut names = Vec::new();
    for (name, new) in &to.tables {
        if let Some(old) = from.tables.get(name)
            && let Some(warning) = refusal(name, old, new)
        {
            warnings.push(warning);
            names.push(name.clone());
        }
    }
    if names.is_empty() {
        return (Cow::Borrowed(to), warnings);
    }
    let mut kept = to.clone();
    for name in &names {
        if let Some(old) = from.tables.get(name) {
            kept.tables.insert(name.clone(), old.clone());
        }
        kept.constraints.retain(|(table, _), _| table != name);
        kept.constraints.extend(
            from.constraints
                .iter()
                .filter(|((table, _), _)| table == name)
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        kept.indexes.retain(|_, index| &index.table != name);
        kept.indexes.extend(
            from.indexes
                .iter()
                .filter(|(_, index)| &index.table == name)
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        kept.triggers.retain(|(table, _), _| table != name);
        kept.triggers.extend(
            from.triggers
                .iter()
                .filter(|((table, _), _)| table == name)
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        kept.rules.retain(|(table, _), _| table != name);
        kept.rules.extend(
            from.rules
                .iter()
                .filter(|((table, _), _)| table == name)
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    }
    (Cow::Owned(kept), warnings)
}
