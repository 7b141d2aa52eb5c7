//! Tables: made (parents before their children), and their storage parameters,
//! logging and row-level security altered.

use std::collections::BTreeSet;

use super::super::model::TableDef;
use super::Generator;
use super::columns::column_definition;

impl Generator<'_> {
    pub(super) fn tables(&mut self) {
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
