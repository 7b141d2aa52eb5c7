//! The runtime behind `#[pum_test]`: a fresh, migrated database for every test.
//!
//! ```no_run
//! use pum::testing::{TestDb, TestSpec};
//!
//! // What #[pum::pum_test(config = ".pum.yaml")] expands to, more or less:
//! pum::testing::run(TestSpec::new("orders_have_defaults").config(".pum.yaml"), |db: TestDb| {
//!     let mut client = db.client();
//!     client.batch_execute("INSERT INTO shop.orders DEFAULT VALUES").unwrap();
//! });
//! ```
//!
//! - **Server.** `PUM_TEST_DATABASE_URL` (URL, keyword string or `service=NAME`), else pum's
//!   ephemeral server ([`crate::server`]).
//! - **Templates.** A spec's database is built once, as a template named
//!   `pum_tpl_<key>`: the key is a BLAKE3 hash of the harness format, the server version,
//!   the base, the configuration, every changelog and hook file, the parameters and every
//!   fixture (paths and contents). A PostgreSQL advisory lock makes processes (and machines)
//!   sharing the server build it once; it is marked ready in the registry only after
//!   success and refuses connections. A failed build fails every test of the spec with the
//!   same message (remembered for ten minutes, then tried again). Changing a file makes a
//!   new key; the newest three templates of a spec are kept, older ones dropped.
//! - **Per test.** `CREATE DATABASE pum_t_<test>_<unique> TEMPLATE pum_tpl_<key>` with the
//!   strategy (FILE_COPY or WAL_LOG) measured faster for that template in this process —
//!   or, when one is ready, a spare clone renamed to that name, taken and registered in one
//!   round trip. Once a template has had a second test (in any process: the count is in
//!   the registry), a background thread keeps `PUM_TEST_SPARES` (default 2, 0 for none)
//!   spares of it ready, for the next tests of this process, of the other processes of
//!   the run (cargo nextest's process per test) and of the next run — while they pay:
//!   once a process has timed four tests of a template, it makes them only while fewer
//!   of its tests run at once than the machine has cores, or while the tests' bodies
//!   last, on average, at least as long as a clone (as many tests as cores, each running
//!   a query, keep the server busy with their own clones, and a spare would only compete
//!   with them). A spare being made
//!   is registered to its maker (a killed maker's is an orphan, swept as any); a finished
//!   one belongs to no process and lives an hour unless taken; dropping a template
//!   drops its spares.
//! - **Teardown.** Dropped (`WITH (FORCE)`) when the test ends, by a background thread so
//!   the next test need not wait; whatever is queued when the process exits is dropped
//!   before it ends (a killed process leaves it to the next run). `PUM_TEST_KEEP=failed`
//!   (default) keeps a failed test's database and prints the command that opens it
//!   (`pum server psql <name>`, and its URL for `psql`);
//!   `never` and `always` do as named. At most `PUM_TEST_KEEP_MAX` (default 10) kept
//!   databases stay; the oldest go first.
//! - **Runners and leases.** Each test process is a *runner*: a random id, registered
//!   in `pum_registry.runners` with its host name, boot id and pid. The registry is one per
//!   server: database `pum_registry`, made on first use (by any role with CREATEDB) and
//!   open to every role, whatever database the server's settings name. Every test database
//!   is registered to its runner (with the process's start time) in
//!   `pum_registry.databases` before it is created, every template before its build
//!   starts, with a lease of
//!   `PUM_TEST_LEASE` seconds (default 60) that a heartbeat thread renews three times per
//!   lease; leases are judged by the server's clock, so runners' clocks may disagree. A
//!   database's owner is alive if it is a running process of this machine, boot and PID
//!   namespace (its pid and start time tell: no lease needed), or, for any other host, if its lease has
//!   not ended. Each runner, when it starts and at every heartbeat, drops the databases
//!   of dead owners: a killed runner's databases are gone within a lease and a beat (CI
//!   shards on many machines sharing a server included), and a live runner's never are;
//!   a template whose build was killed (recorded as building, its lock free) goes too.
//!   Kept databases have no lease; finished spares go after an hour untaken.
//! - **Roles.** The roles `.pum.yaml` declares are created (if missing) before a template
//!   is built, as `pum install` does, and stay. A role for one test comes from
//!   [`TestDb::role`]: named for its test database, marked by its comment, and dropped
//!   with that database (or by a later sweep once the database is gone); roles without
//!   the mark are never dropped.
//! - **Bounded.** At most `PUM_TEST_MAX_PARALLEL` (default 32) test databases are alive at
//!   once per process; [`TestDb::pool`] holds at most 4 connections. All processes on a
//!   server share one connection budget (its `max_connections`, or
//!   `PUM_TEST_CONNECTIONS`): a process takes 10 for itself, a running test 4, and the rest
//!   wait, so many test processes at once — on one machine or many — queue instead of
//!   failing with "too many clients". The budget's units are advisory locks in the
//!   registry's database, held by one session per runner: a dead runner's are released
//!   with its session.
//! - **Warnings.** A database a sweep cannot drop (a subscription in it, a session that
//!   cannot be ended, another role's) never fails a test: it stays registered, is tried
//!   again at every heartbeat, and is said once per process on standard error, written
//!   past cargo test's output capture (as every warning of the background threads).
//! - **Caches.** [`cache`] sees and cleans what the harness leaves on a server
//!   (`pum test list`, `pum test prune`). With the feature `server` alone (the command
//!   line's), this module holds [`cache`] only; the harness needs the feature `testing`.
#[cfg(feature = "testing")]
mod budget;
pub mod cache;
#[cfg(feature = "testing")]
mod client;
#[cfg(feature = "testing")]
mod clones;
#[cfg(feature = "testing")]
mod context;
#[cfg(feature = "testing")]
mod failure;
#[cfg(feature = "testing")]
mod keep;
#[cfg(feature = "testing")]
mod key;
#[cfg(feature = "testing")]
mod outcome;
#[cfg(feature = "testing")]
mod pool;
// Without the harness, only what the cache needs of the registry and roles is used.
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
mod registry;
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
mod roles;
#[cfg(feature = "testing")]
mod run;
#[cfg(all(feature = "testing", feature = "tokio"))]
mod runtime;
#[cfg(feature = "testing")]
mod schema_eq;
#[cfg(feature = "testing")]
mod shared;
#[cfg(feature = "testing")]
mod slots;
#[cfg(feature = "testing")]
mod spec;
#[cfg(feature = "testing")]
mod sql_files;
#[cfg(feature = "testing")]
mod templates;
#[cfg(feature = "testing")]
mod test_db;
#[cfg(feature = "testing")]
mod upgrade;
#[cfg(feature = "testing")]
mod warnings;
#[cfg(feature = "testing")]
mod worker;

#[cfg(feature = "testing")]
use crate::error::Result;
#[cfg(feature = "testing")]
pub use client::TestClient;
#[cfg(feature = "testing")]
pub use failure::TestResult;
#[cfg(feature = "testing")]
pub use keep::KeepPolicy;
#[cfg(feature = "testing")]
pub use run::{run, run_should_panic};
#[cfg(all(feature = "testing", feature = "tokio"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "testing", feature = "tokio"))))]
pub use runtime::{run_async, run_async_should_panic};
#[cfg(feature = "testing")]
pub use schema_eq::assert_schema_eq;
#[cfg(feature = "testing")]
pub use spec::{Base, Isolation, ProjectSpec, ReferenceSpec, TestSpec};
#[cfg(feature = "testing")]
pub use test_db::{Reference, SchemaSource, TestDb};
#[cfg(feature = "testing")]
pub use upgrade::{Lint, upgrade_path};

#[cfg(feature = "testing")]
/// The name of the template `spec`'s tests are cloned from (`pum_tpl_<key>`), whether or
/// not it is built yet. It changes whenever an input file changes.
///
/// # Errors
/// Unreadable input files; no server.
pub fn template_name(spec: &TestSpec) -> Result<String> {
    context::context()?.template_name(spec)
}

#[cfg(feature = "testing")]
/// Drops `spec`'s current template and reference (they are rebuilt when next needed);
/// for tests of temporary projects that clean up after themselves.
///
/// # Errors
/// Unreadable input files; no server.
pub fn drop_template(spec: &TestSpec) -> Result<()> {
    context::context()?.drop_templates(spec)
}
