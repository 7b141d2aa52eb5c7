//! # pum — PostgreSQL Upgrades Manager
//!
//! pum manages a PostgreSQL datamodel over its life. Three jobs belong together:
//!
//! 1. **Migrate**: apply versioned changelog SQL files and record them in a migrations
//!    table compatible with Python pum's files and tables ([`Upgrader`], [`migrate`]);
//!    pum 0.x projects (delta directories, Python deltas) too ([`migrate::zero_x`]).
//! 2. **Check**: compare two databases' schemas and report every difference ([`fn@check`]).
//! 3. **Test**: give every test its own freshly migrated database, cloned from a cached
//!    template (`#[pum_test]`, `pum::testing`; feature `testing`, on by default).
//!
//! The datamodel around the changelogs runs as Python pum 1.9 runs it: roles
//! ([`roles`]), application hooks in SQL, Python, Rust or executables ([`hooks`],
//! [`Upgrader::hook`]), demo data ([`MigrateOptions::demo_data`]), the application alone
//! ([`Upgrader::application`]) and uninstall ([`Upgrader::uninstall`]).
//!
//! Around them: create, copy and drop databases ([`database`]), dump and restore them
//! ([`mod@dump`]), try an upgrade on a copy of production first ([`workflow`]), upgrade
//! or inspect many databases of a server at once ([`fleet`]), and an ephemeral
//! PostgreSQL server so that all of it works with nothing to set up (`pum::server`; feature `server`, Unix). Connections are named the way `psql`
//! users name them: a service from `pg_service.conf`, a URL or a keyword string, with the
//! `PG*` environment variables and `.pgpass` applied as libpq applies them ([`connect`]).
//!
//! The public surface, one line per job (what to call to migrate, check, test, do the
//! chores and run the server), is the table "The library's API" in the README
//! (section "Library"). `pum::internal` is hidden and not API: it serves `pum-cli`, the
//! tests and fuzzing, and may change in any release.
//!
//! The examples below run as they are (they are doc tests): their hidden lines write a
//! small project into a temporary directory and take a database on pum's ephemeral
//! server.
//!
//! ## Migrate
//!
//! ```
//! use pum::migrate::NoProgress;
//! use pum::{Config, ConnectionSpec, MigrateOptions, Upgrader};
//!
//! # fn main() -> pum::Result<()> {
//! # let project = tempfile::tempdir().expect("a temporary directory");
//! # let write = |path: &str, text: &str| {
//! #     let path = project.path().join(path);
//! #     std::fs::create_dir_all(path.parent().unwrap()).unwrap();
//! #     std::fs::write(path, text).unwrap();
//! # };
//! # write(".pum.yaml", "pum: {module: shop}\n");
//! # write("changelogs/1.0.0/01_orders.sql", "CREATE TABLE orders (id int PRIMARY KEY);\n");
//! # write("changelogs/1.1.0/01_note.sql", "ALTER TABLE orders ADD COLUMN note text;\n");
//! # let server = pum::server::Server::shared()?.spec().clone();
//! # pum::drop_database(&server, "pum_doc_migrate", &pum::DropOptions::if_exists())?;
//! # pum::create_database(&server, "pum_doc_migrate", &Default::default())?;
//! # let url = server.with_dbname("pum_doc_migrate").url();
//! // .pum.yaml and changelogs/<version>/*.sql, as Python pum has them.
//! let config = Config::from_dir(project.path())?;
//! // A service name, a URL or "host=… dbname=…", resolved as libpq would.
//! let target = ConnectionSpec::resolve(&url)?;
//! let upgrader = Upgrader::new(&config, &target)?;
//!
//! let report = upgrader.install(&MigrateOptions::default(), &mut NoProgress)?;
//! assert_eq!(report.applied, ["1.0.0", "1.1.0"]);
//! assert_eq!(upgrader.info()?.current_version.as_deref(), Some("1.1.0"));
//! // Refusals are typed: a second install is told the module is already there.
//! let again = upgrader.install(&MigrateOptions::default(), &mut NoProgress);
//! assert!(matches!(again, Err(pum::Error::AlreadyInstalled { .. })));
//! # pum::drop_database(&server, "pum_doc_migrate", &Default::default())?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Migrate a pum 0.x project
//!
//! Delta directories (`delta_<x.y.z>_<name>[.pre|.post].{sql,py}`, `pre-all`, `post-all`)
//! and pum 0.x's upgrades table, run as pum 0.9.14 runs them, in one transaction
//! ([`migrate::zero_x`]):
//!
//! ```
//! use pum::hooks::Variable;
//! use pum::migrate::NoProgress;
//! use pum::migrate::zero_x::{DeltaOptions, DeltaUpgrader};
//! use pum::ConnectionSpec;
//!
//! # fn main() -> pum::Result<()> {
//! # let dir = tempfile::tempdir().expect("a temporary directory");
//! # std::fs::write(dir.path().join("delta_1.0.1_srid.sql"), "ALTER TABLE pipe ADD COLUMN srid int DEFAULT %(srid)s;").unwrap();
//! # std::fs::write(dir.path().join("post-all.sql"), "CREATE OR REPLACE VIEW v AS SELECT * FROM pipe;").unwrap();
//! # let server = pum::server::Server::shared()?.spec().clone();
//! # pum::drop_database(&server, "pum_doc_deltas", &pum::DropOptions::if_exists())?;
//! # pum::create_database(&server, "pum_doc_deltas", &Default::default())?;
//! # let url = server.with_dbname("pum_doc_deltas").url();
//! # ConnectionSpec::resolve(&url)?.connect()?.batch_execute("CREATE TABLE pipe (id int); CREATE SCHEMA app_sys").unwrap();
//! let target = ConnectionSpec::resolve(&url)?;
//! let upgrader = DeltaUpgrader::new(&target, "app_sys.upgrades", &[dir.path().into()])?;
//! upgrader.baseline("1.0.0")?; // what the database was before pum managed it
//! let options = DeltaOptions {
//!     variables: vec![("srid".into(), Variable::parse("int", "srid", "2056")?)],
//!     ..DeltaOptions::default()
//! };
//! let report = upgrader.upgrade(&options, &mut NoProgress)?;
//! assert_eq!((report.from.as_str(), report.to.as_str()), ("1.0.0", "1.0.1"));
//! # pum::drop_database(&server, "pum_doc_deltas", &Default::default())?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Check
//!
//! ```
//! use pum::{CheckOptions, ConnectionSpec};
//!
//! # fn main() -> pum::Result<()> {
//! # let server = pum::server::Server::shared()?.spec().clone();
//! # for name in ["pum_doc_prod", "pum_doc_fresh"] {
//! #     pum::drop_database(&server, name, &pum::DropOptions::if_exists())?;
//! #     pum::create_database(&server, name, &Default::default())?;
//! # }
//! # let prod_url = server.with_dbname("pum_doc_prod").url();
//! # let fresh_url = server.with_dbname("pum_doc_fresh").url();
//! let prod = ConnectionSpec::resolve(&prod_url)?;
//! let fresh = ConnectionSpec::resolve(&fresh_url)?;
//! # prod.connect()?.batch_execute("CREATE TABLE item (id int PRIMARY KEY, note text)").unwrap();
//! # fresh.connect()?.batch_execute("CREATE TABLE item (id int PRIMARY KEY)").unwrap();
//! let report = pum::check(&prod, &fresh, &CheckOptions::default())?;
//! assert!(!report.is_empty());
//! print!("{report}"); // per kind: only in prod, only in fresh, what differs
//! assert!(report.to_string().contains("public.item.note"));
//! # for name in ["pum_doc_prod", "pum_doc_fresh"] {
//! #     pum::drop_database(&server, name, &Default::default())?;
//! # }
//! # Ok(())
//! # }
//! ```
//!
//! ## Test
//!
//! In a test file, `#[pum::pum_test]` gives the test a database migrated with the crate's
//! changelogs, cloned in milliseconds from a template built once:
//!
//! ```no_run
//! #[pum::pum_test(config = "tests/data/shop/.pum.yaml", reference = "install")]
//! fn migrations_equal_a_fresh_install(db: pum::testing::TestDb) {
//!     db.client().batch_execute("INSERT INTO shop.customer (name) VALUES ('Ada')").unwrap();
//!     pum::assert_schema_eq!(db, db.reference());
//! }
//! ```
//!
//! The attribute is a thin layer over `pum::testing::run`, which works anywhere:
//!
//! ```
//! use pum::testing::{TestDb, TestSpec};
//!
//! # let project = tempfile::tempdir().expect("a temporary directory");
//! # std::fs::write(project.path().join(".pum.yaml"), "pum: {module: shop}\n").unwrap();
//! # std::fs::create_dir_all(project.path().join("changelogs/1.0.0")).unwrap();
//! # std::fs::write(project.path().join("changelogs/1.0.0/01.sql"), "CREATE TABLE orders (id int PRIMARY KEY);").unwrap();
//! let spec = TestSpec::new("orders_start_empty").config(project.path().join(".pum.yaml"));
//! pum::testing::run(spec, |db: TestDb| {
//!     let mut client = db.client(); // this test's own database, dropped afterwards
//!     let rows = client.query("SELECT * FROM orders", &[]).unwrap();
//!     assert!(rows.is_empty());
//! });
//! # pum::testing::drop_template(&TestSpec::new("x").config(project.path().join(".pum.yaml"))).unwrap();
//! ```
//!
//! ## Features
//!
//! - `testing` (default): the harness (`#[pum_test]`, `assert_schema_eq!`,
//!   `pum::testing`) and what it needs: the ephemeral server, `pum-macros`, r2d2.
//! - `server`: the ephemeral server alone (`pum::server`), for tools such as the `pum`
//!   command line. Unix only: elsewhere it says to set `PUM_TEST_DATABASE_URL`.
//! - `embed` (with `testing`): `embed_changelogs!`, a project's changelogs compiled into
//!   an application (`pum::embed` itself is always there).
//! - `tokio`: `async fn` bodies for `#[pum_test]` and `TestDb::async_client`,
//!   `Embedded::migrate_async` and its kin, `ConnectionSpec::connect_async`.
//!
//! An application that only migrates depends on `pum` with `default-features = false`
//! (and `features = ["embed"]` for `embed_changelogs!`). The command line is the separate
//! package `pum-cli` (`cargo install pum-cli`).

#![warn(missing_docs)]
// docs.rs (nightly) marks what a feature brings: `[package.metadata.docs.rs]` in Cargo.toml.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod changelog;
pub mod checker;
pub mod config;
pub mod connect;
pub mod database;
pub mod dump;
pub mod embed;
mod error;
mod files;
pub mod fleet;
pub mod hooks;
#[doc(hidden)]
pub mod internal;
pub mod lint;
mod lock;
pub mod migrate;
mod os_user;
mod process;
pub mod roles;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;
#[cfg(any(unix, feature = "server"))]
mod settings;
mod sql;
// With `server` alone: `testing::cache` (what `pum test list|prune` need), not the harness.
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod testing;
mod text;
pub mod version;
mod wire;
pub mod workflow;

pub use checker::{CheckOptions, CheckReport, check};
pub use config::Config;
pub use connect::{ConnectionSpec, Environment};
pub use database::{
    AccessOptions, CreateOptions, CreateStrategy, DropOptions, Maintenance, create_database,
    database_exists, drop_database, set_access,
};
pub use dump::{DumpFormat, DumpOptions, RestoreOptions, RestoreSummary, dump, restore};
pub use error::{Conflict, Error, Result};
pub use migrate::{
    AppAction, AppOptions, BaselineOptions, DowngradeOptions, MigrateOptions, TransactionMode,
    Upgrader,
};
pub use sql::{quote_identifier, quote_literal};
pub use version::Version;

#[cfg(feature = "embed")]
#[cfg_attr(docsrs, doc(cfg(feature = "embed")))]
pub use pum_macros::embed_changelogs;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub use pum_macros::{pum_test, upgrade_paths};

/// The README's Rust examples, compiled as doc tests so that they stay true.
#[cfg(all(doctest, feature = "testing"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
