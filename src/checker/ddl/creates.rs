//! What comes, dependencies first: schemas, extensions, types, sequences, functions,
//! tables, columns, constraints, indexes, views, SQL-standard functions, triggers,
//! rules, sequence owners, comments, privileges.

use super::{Generator, gone};
use crate::sql::quote_literal;

impl Generator<'_> {
    pub(super) fn creates(&mut self) {
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
}
