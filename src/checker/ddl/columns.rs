//! Columns of tables in both models: added, altered (type, collation, nullability,
//! identity, default), and converted to an enum made anew.

use super::super::model::ColumnDef;
use super::Generator;
use super::types::aside;

impl Generator<'_> {
    pub(super) fn columns(&mut self) {
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

pub(super) fn column_definition(column: &ColumnDef) -> String {
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
}
