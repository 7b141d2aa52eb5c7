//! The SQL that turns one schema into another ([`generate`]): what `pum new
//! --autogenerate` writes, a pure function of two [`Model`]s and a little knowledge of
//! the data ([`Context`]).
//!
//! **Order.** First what goes away, dependents first: triggers, rules, views (those
//! changed and those reading a column that changes are dropped and made again), indexes,
//! foreign keys, other constraints, column defaults that change, functions, columns,
//! tables, sequences, types, extensions, schemas. Then what comes, dependencies first:
//! schemas, extensions, enums (new labels added in place), ranges, domains, composite
//! types, sequences, functions (bodies are checked when the script runs, not while it is
//! written: `check_function_bodies` is off while they are made), tables (parents first),
//! columns and their changes, constraints, foreign keys, indexes, views (in dependency
//! order, each with its indexes and column defaults), SQL-standard functions, triggers,
//! rules, sequence owners, comments, privileges.
//!
//! **Refused, as comments.** What cannot be written safely is written as a commented
//! statement after a `-- pum: WARNING:` line the user must resolve: a column type change
//! with no assignment cast (it needs a `USING`), dropping a column or a table that holds
//! data (in the database the script starts from), enum labels removed or reordered where
//! a function or type uses the enum, a domain's base type, a range's definition or a
//! generated column's expression changed, and the kinds of object this module does not
//! write (policies, aggregates, default privileges). A table whose partitioning or
//! inheritance changes, and a foreign table whose definition changes, are left exactly as
//! they are (`hands_off.rs`), so that the statements after the warning still run.
//!
//! Objects made again (a rebuilt view, a remade enum, a recreated function) get their
//! comments, rules, triggers and privileges again; an object the script makes starts from
//! `REVOKE ALL` when default privileges could have given it others. Owners are left as
//! they are. The text is plain SQL: a changelog file holds it with its braces escaped
//! (`crate::changelog::escape_braces`).
//!
//! **Rooms.** [`generate`] runs a `Generator`: `rebuilds.rs` first decides what is made
//! again, then `drops.rs` and `creates.rs` write the two halves in the order above, each
//! noun in its own file: `types.rs`, `sequences.rs`, `routines.rs` (functions and
//! triggers), `tables.rs`, `columns.rs`, `constraints.rs` (and indexes), `views.rs` (and
//! rules), `comments.rs`, `privileges.rs`. `hands_off.rs` picks the tables left alone,
//! `context.rs` asks the database what the data allows, `script.rs` holds the result.

use std::collections::{BTreeMap, BTreeSet};

use super::model::Model;

mod columns;
mod comments;
mod constraints;
mod context;
mod creates;
mod drops;
mod hands_off;
mod privileges;
mod rebuilds;
mod routines;
mod script;
mod sequences;
mod tables;
mod types;
mod views;

pub use context::{Context, context, drops, type_changes};
pub use script::Script;

/// The SQL turning `from` into `to` (see the module's docs).
pub fn generate(from: &Model, to: &Model, cx: &Context) -> Script {
    let (to, warnings) = hands_off::leave_alone(from, to);
    let mut generator = Generator::new(from, &to, cx);
    for warning in warnings {
        generator.script.refuse(warning, "");
    }
    generator.run()
}
/// Reads both databases (at once) and writes the SQL turning the first into the second,
/// leaving out the schemas `exclude` names.
///
/// # Errors
/// Connection and catalog errors.
pub fn between(
    from: &crate::connect::ConnectionSpec,
    to: &crate::connect::ConnectionSpec,
    exclude: &[String],
) -> crate::error::Result<Script> {
    let (a, b) = read_both(from, to, exclude)?;
    let cx = context(&mut from.connect()?, &a, &b)?;
    Ok(generate(&a, &b, &cx))
}

/// The models of two databases, read at once.
///
/// # Errors
/// Connection and catalog errors.
pub fn read_both(
    a: &crate::connect::ConnectionSpec,
    b: &crate::connect::ConnectionSpec,
    exclude: &[String],
) -> crate::error::Result<(Model, Model)> {
    let (left, right) = std::thread::scope(|scope| {
        let right = scope.spawn(|| Model::read(&mut b.connect()?, exclude));
        let left = a.connect().and_then(|mut c| Model::read(&mut c, exclude));
        (
            left,
            right
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        )
    });
    Ok((left?, right?))
}

/// The state of one [`generate`]: both models, what is made again (decided before any
/// statement is written) and the script so far.
struct Generator<'a> {
    from: &'a Model,
    to: &'a Model,
    cx: &'a Context,
    script: Script,
    /// Views dropped and made again.
    rebuilt_views: BTreeSet<String>,
    /// Functions dropped and made again.
    recreated_functions: BTreeSet<String>,
    /// Triggers, constraints and indexes dropped and made again.
    rebuilt_triggers: BTreeSet<(String, String)>,
    rebuilt_constraints: BTreeSet<(String, String)>,
    rebuilt_indexes: BTreeSet<String>,
    /// Enums that lose or reorder labels: renamed, made anew, their columns converted.
    recreated_enums: BTreeSet<String>,
}

/// The entries of `from` that `to` lacks.
fn gone<'m, K: Ord + Clone, V>(
    from: &'m BTreeMap<K, V>,
    to: &BTreeMap<K, V>,
) -> impl Iterator<Item = (&'m K, &'m V)> {
    from.iter().filter(move |(k, _)| !to.contains_key(*k))
}

impl<'a> Generator<'a> {
    fn new(from: &'a Model, to: &'a Model, cx: &'a Context) -> Generator<'a> {
        Generator {
            from,
            to,
            cx,
            script: Script::default(),
            rebuilt_views: BTreeSet::new(),
            recreated_functions: BTreeSet::new(),
            rebuilt_triggers: BTreeSet::new(),
            rebuilt_constraints: BTreeSet::new(),
            rebuilt_indexes: BTreeSet::new(),
            recreated_enums: BTreeSet::new(),
        }
    }

    fn run(mut self) -> Script {
        self.plan_rebuilds();
        self.unsupported();
        self.drops();
        self.creates();
        self.script
    }

    /// Kinds of object this module does not write (policies, aggregates, default
    /// privileges) that differ: one warning each.
    fn unsupported(&mut self) {
        let kinds: BTreeSet<&String> = self
            .from
            .unsupported
            .keys()
            .chain(self.to.unsupported.keys())
            .collect();
        for kind in kinds {
            let old = self.from.unsupported.get(kind).cloned().unwrap_or_default();
            let new = self.to.unsupported.get(kind).cloned().unwrap_or_default();
            if old != new {
                let names: Vec<String> = old.symmetric_difference(&new).cloned().collect();
                self.script.refuse(
                    format!(
                        "{kind} differ and are not written: {}; write them by hand",
                        names.join(", ")
                    ),
                    "",
                );
            }
        }
    }
}
