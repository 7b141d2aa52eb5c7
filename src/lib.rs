//! # pum — PostgreSQL Upgrades Manager
//!
//! pum manages a PostgreSQL datamodel over its life: it applies versioned SQL changelogs
//! (compatible with Python pum's files and migrations table), compares database schemas,
//! and gives every test its own freshly migrated database. Around those jobs it creates,
//! copies and drops databases, and dumps and restores them with `pg_dump`/`pg_restore`.
//!
//! Connections are named the way `psql` users name them: a service from
//! `pg_service.conf`, a URL or a keyword string, with the `PG*` environment variables and
//! `.pgpass` applied as libpq applies them (see [`connect`]).
//!
//! ```no_run
//! use pum::{ConnectionSpec, CreateOptions, DropOptions, create_database, drop_database};
//!
//! # fn main() -> pum::Result<()> {
//! // Any libpq-style target: a service name, a URL or "host=… dbname=…".
//! let server = ConnectionSpec::resolve("postgresql://postgres@localhost/postgres")?;
//! create_database(&server, "scratch", &CreateOptions::default())?;
//! let mut client = server.with_dbname("scratch").connect()?;
//! client.batch_execute("CREATE TABLE note (id int PRIMARY KEY, body text)")
//!     .expect("a valid statement");
//! drop_database(&server, "scratch", &DropOptions::default())?;
//! # Ok(())
//! # }
//! ```
//!
//! With no server at hand, [`server::Server::shared`] starts (or attaches to) pum's own
//! ephemeral server, which stops by itself when nobody uses it any more.
//!
//! Tests get a fresh, migrated database each with [`pum_test`] (see [`testing`]):
//!
//! ```no_run
//! #[pum::pum_test(config = "tests/data/shop/.pum.yaml", reference = "install")]
//! fn migrations_equal_a_fresh_install(db: pum::testing::TestDb) {
//!     db.client().batch_execute("SELECT 1").unwrap();
//!     pum::assert_schema_eq!(db, db.reference());
//! }
//! ```
//! `examples/quickstart.rs` runs a session on it with nothing to configure:
//! `cargo run --example quickstart`.

#![warn(missing_docs)]

pub mod changelog;
pub mod checker;
pub mod config;
pub mod connect;
pub mod database;
pub mod dump;
mod error;
mod lock;
pub mod migrate;
mod os_user;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "testing")]
pub mod testing;
pub mod version;

pub use checker::{CheckOptions, Report, check};
pub use config::Config;
pub use connect::{ConnectionSpec, Environment};
pub use database::{
    AccessOptions, CreateOptions, CreateStrategy, DropOptions, Maintenance, create_database,
    database_exists, drop_database, quote_identifier, quote_literal, set_access,
};
pub use dump::{DumpFormat, DumpOptions, RestoreOptions, RestoreSummary, dump, restore};
pub use error::{Conflict, Error, Result};
pub use migrate::{MigrateOptions, TransactionMode, Upgrader};
pub use version::Version;

#[cfg(feature = "testing")]
pub use pum_macros::pum_test;

/// The README's Rust examples, compiled as doc tests so that they stay true.
#[cfg(all(doctest, feature = "testing"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
