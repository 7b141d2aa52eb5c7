//! Functions, procedures and the triggers that run them.

use super::super::model::FunctionDef;
use super::Generator;

impl Generator<'_> {
    /// Functions new, recreated or replaced: those with SQL-standard bodies
    /// (`standard`, made after the views) or the others. Returns whether any was made.
    pub(super) fn functions(&mut self, standard: bool) -> bool {
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

    pub(super) fn triggers(&mut self) {
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
}

/// `FUNCTION` or `PROCEDURE`.
pub(super) fn routine(function: &FunctionDef) -> &'static str {
    if function.kind == "p" {
        "PROCEDURE"
    } else {
        "FUNCTION"
    }
}
