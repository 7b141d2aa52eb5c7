//! Comparing two databases' schemas: every difference, per kind of object.
//!
//! ```no_run
//! use pum::ConnectionSpec;
//! use pum::checker::CheckOptions;
//!
//! # fn main() -> pum::Result<()> {
//! let prod = ConnectionSpec::resolve("tww_prod")?;
//! let fresh = ConnectionSpec::resolve("tww_fresh")?;
//! let report = pum::check(&prod, &fresh, &CheckOptions::default())?;
//! if !report.is_empty() {
//!     print!("{report}");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Each database is read by [`Snapshot::take`]: one read-only `REPEATABLE READ`
//! transaction, one bulk catalog query per kind of object (so the number of queries does
//! not grow with the schema; on PostgreSQL 15, up to two more for check constraints),
//! definitions rendered by PostgreSQL's own `pg_get_*def` functions with an empty
//! `search_path`, so every name is schema-qualified alike (the plain indexes, keys,
//! defaults and simple check constraints that make up most of a large schema are written
//! from the catalog in the same words, which spares a lookup per object, and tests compare
//! both on the server). The columns query also brings each column's comment and
//! privileges when those kinds are compared. [`check`] reads both databases at once, one
//! thread and one session each.
//! `pg_*` schemas and `information_schema` are never compared, nor (unless asked) objects
//! that belong to an extension. Column order is ignored unless asked for, and owners are
//! compared only when asked. Privileges, comments and owners are compared on objects
//! present in both databases: a missing object is reported once, under its own kind.

pub mod ddl;
pub mod model;
mod report;
mod snapshot;

use std::cmp::Ordering;
use std::collections::BTreeSet;

use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
pub use report::{Change, CheckReport, KindReport};
pub use snapshot::{Attributes, Objects, Snapshot};

/// A kind of object the checker compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Schemas.
    Schemas,
    /// Tables (regular, partitioned, foreign).
    Tables,
    /// Columns of tables and views: type, default, nullability, collation, identity,
    /// generation (and position, when column order counts).
    Columns,
    /// Table constraints: primary and foreign keys, unique, check, exclusion.
    Constraints,
    /// Views and materialized views.
    Views,
    /// Sequences.
    Sequences,
    /// Indexes.
    Indexes,
    /// Triggers, on tables and views.
    Triggers,
    /// Functions, procedures and aggregates, keyed by their identity arguments.
    Functions,
    /// Rules (other than views' own).
    Rules,
    /// Extensions and their versions.
    Extensions,
    /// Enum types and their labels, in order.
    Enums,
    /// Domains.
    Domains,
    /// Free-standing composite types.
    CompositeTypes,
    /// Row-level security policies.
    Policies,
    /// Range types: subtype, its operator class, collation, canonical and subtype_diff
    /// functions, multirange type.
    RangeTypes,
    /// Collations.
    Collations,
    /// Encoding conversions.
    Conversions,
    /// Text search configurations (with their mappings), dictionaries, parsers and
    /// templates.
    TextSearch,
    /// Operators, operator classes and operator families (with their members).
    Operators,
    /// Casts made after initdb (database-wide, keyed by source and target types).
    Casts,
    /// Access methods made after initdb.
    AccessMethods,
    /// Extended statistics objects.
    Statistics,
    /// Foreign data wrappers, foreign servers and user mappings (database-wide; user
    /// mappings keyed by role and server name).
    ForeignData,
    /// Publications: what they publish, their tables (columns, row filters) and schemas.
    Publications,
    /// Event triggers.
    EventTriggers,
    /// Default privileges (`ALTER DEFAULT PRIVILEGES`), per role, object type and schema.
    DefaultPrivileges,
    /// Privileges granted on tables, columns, views, sequences, functions, types,
    /// schemas, foreign data wrappers and servers.
    Privileges,
    /// Comments.
    Comments,
    /// Owners (only when asked for).
    Owners,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 30] = [
        Kind::Schemas,
        Kind::Tables,
        Kind::Columns,
        Kind::Constraints,
        Kind::Views,
        Kind::Sequences,
        Kind::Indexes,
        Kind::Triggers,
        Kind::Functions,
        Kind::Rules,
        Kind::Extensions,
        Kind::Enums,
        Kind::Domains,
        Kind::CompositeTypes,
        Kind::Policies,
        Kind::RangeTypes,
        Kind::Collations,
        Kind::Conversions,
        Kind::TextSearch,
        Kind::Operators,
        Kind::Casts,
        Kind::AccessMethods,
        Kind::Statistics,
        Kind::ForeignData,
        Kind::Publications,
        Kind::EventTriggers,
        Kind::DefaultPrivileges,
        Kind::Privileges,
        Kind::Comments,
        Kind::Owners,
    ];

    /// The name used by `-i` and in reports (Python pum's for the kinds it has).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Schemas => "schemas",
            Kind::Tables => "tables",
            Kind::Columns => "columns",
            Kind::Constraints => "constraints",
            Kind::Views => "views",
            Kind::Sequences => "sequences",
            Kind::Indexes => "indexes",
            Kind::Triggers => "triggers",
            Kind::Functions => "functions",
            Kind::Rules => "rules",
            Kind::Extensions => "extensions",
            Kind::Enums => "enums",
            Kind::Domains => "domains",
            Kind::CompositeTypes => "composite_types",
            Kind::Policies => "policies",
            Kind::RangeTypes => "range_types",
            Kind::Collations => "collations",
            Kind::Conversions => "conversions",
            Kind::TextSearch => "text_search",
            Kind::Operators => "operators",
            Kind::Casts => "casts",
            Kind::AccessMethods => "access_methods",
            Kind::Statistics => "statistics",
            Kind::ForeignData => "foreign_data",
            Kind::Publications => "publications",
            Kind::EventTriggers => "event_triggers",
            Kind::DefaultPrivileges => "default_privileges",
            Kind::Privileges => "privileges",
            Kind::Comments => "comments",
            Kind::Owners => "owners",
        }
    }

    /// Kinds that describe other objects (their grants, comments, owners): they are
    /// compared on objects present in both databases, so that a missing object is
    /// reported once, under its own kind.
    pub fn is_dependent(self) -> bool {
        matches!(self, Kind::Privileges | Kind::Comments | Kind::Owners)
    }

    /// The kind called `name`.
    ///
    /// # Errors
    /// [`Error::UnknownKind`] listing the known names.
    pub fn parse(name: &str) -> Result<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| Error::UnknownKind {
                name: name.to_string(),
                known: Kind::ALL.map(Kind::name).join(", "),
            })
    }
}

/// What to compare.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Kinds not to compare.
    pub ignore: BTreeSet<Kind>,
    /// Schemas not to compare (besides `pg_*` and `information_schema`).
    pub exclude_schemas: Vec<String>,
    /// Columns not to compare, by SQL LIKE pattern on their name.
    pub exclude_column_patterns: Vec<String>,
    /// Compare the position of columns.
    pub column_order: bool,
    /// Compare owners.
    pub owners: bool,
    /// Compare objects that belong to extensions too.
    pub include_extension_objects: bool,
    /// Compare servers of different major versions (whose definitions may be written
    /// differently).
    pub allow_version_mismatch: bool,
}

impl CheckOptions {
    /// The kinds compared, in report order.
    pub fn kinds(&self) -> Vec<Kind> {
        Kind::ALL
            .into_iter()
            .filter(|k| !self.ignore.contains(k))
            .filter(|k| *k != Kind::Owners || self.owners)
            .collect()
    }
}

/// Compares two snapshots, kind by kind (the kinds both were taken with).
///
/// Each kind's objects, and each object's attributes, are walked in key order on both
/// sides at once: linear in the size of the schemas, and nothing is copied but what
/// differs.
pub fn compare(left: &Snapshot, right: &Snapshot) -> CheckReport {
    let kinds = Kind::ALL
        .into_iter()
        .filter_map(|kind| {
            let (a, b) = (left.objects.get(&kind)?, right.objects.get(&kind)?);
            let dependent = kind.is_dependent();
            let mut report = KindReport {
                kind,
                only_left: Vec::new(),
                only_right: Vec::new(),
                changed: Vec::new(),
            };
            for pair in merge(a.iter(), b.iter()) {
                match pair {
                    (Some((key, attrs)), None) if !dependent => {
                        report.only_left.push((key.clone(), attrs.clone()));
                    }
                    (None, Some((key, attrs))) if !dependent => {
                        report.only_right.push((key.clone(), attrs.clone()));
                    }
                    (Some((key, l)), Some((_, r))) => {
                        let changes = changes(l, r);
                        if !changes.is_empty() {
                            report.changed.push((key.clone(), changes));
                        }
                    }
                    _ => {}
                }
            }
            Some(report)
        })
        .collect();
    CheckReport {
        left: left.name.clone(),
        right: right.name.clone(),
        kinds,
    }
}

/// The attributes that differ between two versions of an object (an attribute missing on
/// one side counts as NULL there).
fn changes(left: &Attributes, right: &Attributes) -> Vec<Change> {
    // Most objects are the same on both sides: one comparison of their values says so.
    if left == right {
        return Vec::new();
    }
    merge(left.iter(), right.iter())
        .filter_map(|pair| {
            let (name, l, r) = match pair {
                (Some((name, l)), Some((_, r))) => (name, l, r),
                (Some((name, l)), None) => (name, l, None),
                (None, Some((name, r))) => (name, None, r),
                (None, None) => return None,
            };
            (l != r).then(|| Change {
                attribute: name.to_string(),
                left: l.map(str::to_string),
                right: r.map(str::to_string),
            })
        })
        .collect()
}

/// One entry of a sorted sequence, on one side (`None`: the key is not on that side).
type Side<K, V> = Option<(K, V)>;

/// The entries of two sequences sorted by key side by side, in key order: `(Some, Some)`
/// for a key in both, `(Some, None)` for one only on the left, `(None, Some)` only on the
/// right.
fn merge<K: Ord, V>(
    left: impl Iterator<Item = (K, V)>,
    right: impl Iterator<Item = (K, V)>,
) -> impl Iterator<Item = (Side<K, V>, Side<K, V>)> {
    let (mut l, mut r) = (left.peekable(), right.peekable());
    std::iter::from_fn(move || {
        let order = match (l.peek(), r.peek()) {
            (None, None) => return None,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((a, _)), Some((b, _))) => a.cmp(b),
        };
        Some(match order {
            Ordering::Less => (l.next(), None),
            Ordering::Greater => (None, r.next()),
            Ordering::Equal => (l.next(), r.next()),
        })
    })
}

/// Reads both databases and compares them.
///
/// # Errors
/// Connection and catalog errors; [`Error::VersionMismatch`] when the servers' major versions
/// differ and `allow_version_mismatch` is not set.
pub fn check(
    left: &ConnectionSpec,
    right: &ConnectionSpec,
    options: &CheckOptions,
) -> Result<CheckReport> {
    // Both databases are read at once: the work is the servers'.
    let (a, b) = std::thread::scope(|scope| {
        let right_side = scope.spawn(|| Snapshot::take(&mut right.connect()?, options));
        let a = left
            .connect()
            .and_then(|mut client| Snapshot::take(&mut client, options));
        let b = right_side
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (a, b)
    });
    let (mut a, mut b) = (a?, b?);
    a.name = left.to_string();
    b.name = right.to_string();
    same_major_version(&a, &b, options)?;
    let report = compare(&a, &b);
    // Freeing a large catalog's millions of strings takes as long as comparing them: done
    // aside, the report is at hand at once (and a process that exits just after does not
    // wait for it).
    std::thread::spawn(move || drop((a, b)));
    Ok(report)
}

/// Refuses snapshots of different major versions unless the options allow it.
fn same_major_version(a: &Snapshot, b: &Snapshot, options: &CheckOptions) -> Result<()> {
    if a.major_version() != b.major_version() && !options.allow_version_mismatch {
        return Err(Error::VersionMismatch {
            left: a.name.clone(),
            left_major: a.major_version(),
            right: b.name.clone(),
            right_major: b.major_version(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(name: &str, version: i32) -> Snapshot {
        Snapshot {
            name: name.to_string(),
            server_version_num: version,
            database: name.to_string(),
            objects: Default::default(),
            queries: 0,
        }
    }

    #[test]
    fn different_major_versions_are_refused_unless_allowed() {
        let (a, b) = (snapshot("a", 150004), snapshot("b", 160001));
        let err = same_major_version(&a, &b, &CheckOptions::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "a runs PostgreSQL 15 and b runs PostgreSQL 16: definitions may be written \
             differently; allow the version mismatch to compare anyway"
        );
        let allowed = CheckOptions {
            allow_version_mismatch: true,
            ..CheckOptions::default()
        };
        assert!(same_major_version(&a, &b, &allowed).is_ok());
        assert!(same_major_version(&a, &snapshot("c", 150010), &CheckOptions::default()).is_ok());
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.name()).unwrap(), kind);
        }
        assert!(Kind::parse("colums").is_err());
    }
}
