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
//!   the run (cargo nextest's process per test) and of the next run. A spare being made
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

mod budget;
mod clones;
mod context;
mod keep;
mod pool;
mod registry;
mod slots;
mod spec;
mod templates;
mod upgrade;
mod warnings;
mod worker;

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::Path;
use std::sync::Arc;

use crate::checker::{CheckOptions, Kind, Report};
use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
pub use keep::KeepPolicy;
pub use spec::{Base, ProjectSpec, ReferenceSpec, TestSpec};
pub use upgrade::upgrade_path;

/// What a test body returns: `()` or a `Result` whose error fails the test.
pub trait TestResult {
    /// Why the test failed, if it did.
    fn failure(&self) -> Option<String>;
}

impl TestResult for () {
    fn failure(&self) -> Option<String> {
        None
    }
}

/// Any error `#[test]` accepts (`Debug`), shown as people read it: a PostgreSQL error
/// with the server's SQLSTATE, message, detail and hint (its `Display` says only "db
/// error"), pum's and boxed errors with their causes, anything else as `#[test]` shows
/// it (`Debug`, which for `anyhow` errors lists their causes).
impl<E: std::fmt::Debug + 'static> TestResult for std::result::Result<(), E> {
    fn failure(&self) -> Option<String> {
        self.as_ref()
            .err()
            .map(|e| format!("the test returned an error: {}", describe(e)))
    }
}

/// How a test's error reads: see [`TestResult`].
fn describe<E: std::fmt::Debug + 'static>(error: &E) -> String {
    use std::any::Any;
    let any = error as &dyn Any;
    if let Some(e) = any.downcast_ref::<Error>() {
        return with_causes(e);
    }
    if let Some(e) = any.downcast_ref::<postgres::Error>() {
        return postgres_error(e);
    }
    if let Some(e) = any.downcast_ref::<Box<dyn std::error::Error + Send + Sync>>() {
        return with_causes(e.as_ref());
    }
    if let Some(e) = any.downcast_ref::<Box<dyn std::error::Error>>() {
        return with_causes(e.as_ref());
    }
    if let Some(e) = any.downcast_ref::<std::io::Error>() {
        return with_causes(e);
    }
    if let Some(text) = any.downcast_ref::<String>() {
        return text.clone();
    }
    if let Some(text) = any.downcast_ref::<&str>() {
        return (*text).to_string();
    }
    format!("{error:?}")
}

/// An error and its causes, one after the other; a PostgreSQL error anywhere in the chain
/// with the server's fields.
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = match error.downcast_ref::<postgres::Error>() {
        Some(e) => return postgres_error(e),
        None => error.to_string(),
    };
    let mut cause = error.source();
    while let Some(e) = cause {
        let more = match e.downcast_ref::<postgres::Error>() {
            Some(pg) => postgres_error(pg),
            None => e.to_string(),
        };
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = e.source();
    }
    text
}

/// A PostgreSQL error as psql shows it: `ERROR 42P01: relation "x" does not exist`, with
/// its detail and hint; a client-side error (connection, conversion) with its cause.
fn postgres_error(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" (detail: {detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!(" (hint: {hint})"));
            }
            if db.code().code() == templates::DUPLICATE_OBJECT {
                text.push_str(&format!(" ({})", templates::ROLES_OUTLIVE));
            }
            text
        }
        None => match std::error::Error::source(error) {
            Some(cause) => format!("{error}: {cause}"),
            None => error.to_string(),
        },
    }
}

/// The value, or a panic with `what` the error says, located at the test's own line
/// (every caller up to the test's is `#[track_caller]`).
#[track_caller]
fn or_panic<T>(result: Result<T>, what: impl FnOnce(Error) -> String) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{}", what(e)),
    }
}

/// A test's own database, made from its spec's template; dropped when the test ends
/// (unless kept, see [`KeepPolicy`]).
#[derive(Debug, Clone)]
pub struct TestDb {
    name: String,
    spec: ConnectionSpec,
    test: Arc<TestSpec>,
}

impl TestDb {
    /// The database's name (`pum_t_<test>_<unique>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connection settings for it.
    pub fn spec(&self) -> &ConnectionSpec {
        &self.spec
    }

    /// A new session on it.
    ///
    /// # Panics
    /// When the server cannot be reached (the test cannot go on without it).
    #[track_caller]
    pub fn client(&self) -> postgres::Client {
        or_panic(self.spec.connect(), |e| {
            format!("pum: test database {}: {e}", self.name)
        })
    }

    /// A new tokio-postgres session on it, its connection driven by a task on the current
    /// runtime (an `async fn` test's), as [`ConnectionSpec::connect_async`].
    ///
    /// ```no_run
    /// # async fn t(db: pum::testing::TestDb) {
    /// let client = db.async_client().await;
    /// client.batch_execute("CREATE TABLE t (id int)").await.unwrap();
    /// # }
    /// ```
    ///
    /// # Panics
    /// When the server cannot be reached, or outside a tokio runtime.
    #[cfg(feature = "tokio")]
    pub async fn async_client(&self) -> tokio_postgres::Client {
        self.spec
            .connect_async()
            .await
            .unwrap_or_else(|e| panic!("pum: test database {}: {e}", self.name))
    }

    /// An r2d2 pool of at most 4 sessions on it.
    ///
    /// # Panics
    /// When the settings cannot make a pool.
    #[track_caller]
    pub fn pool(&self) -> r2d2::Pool<r2d2_postgres::PostgresConnectionManager<postgres::NoTls>> {
        let config = self.config();
        let pool = r2d2::Pool::builder()
            .max_size(4)
            .connection_timeout(self.spec.connect_timeout())
            .build(r2d2_postgres::PostgresConnectionManager::new(
                config,
                postgres::NoTls,
            ));
        match pool {
            Ok(pool) => pool,
            Err(e) => panic!("pum: pool for test database {}: {e}", self.name),
        }
    }

    /// A URL for sqlx, diesel, tokio-postgres or `psql` (no password in it).
    pub fn url(&self) -> String {
        self.spec.url()
    }

    /// A `postgres::Config` (which tokio-postgres users can rebuild from [`TestDb::url`]).
    ///
    /// # Panics
    /// When the settings need TLS, which pum does not include.
    #[track_caller]
    pub fn config(&self) -> postgres::Config {
        or_panic(self.spec.config(), |e| {
            format!("pum: test database {}: {e}", self.name)
        })
    }

    /// Runs a SQL file (relative paths from `CARGO_MANIFEST_DIR` when set).
    ///
    /// # Panics
    /// When the file cannot be read or a statement fails, naming file:line:column.
    #[track_caller]
    pub fn execute_file(&self, file: impl AsRef<Path>) {
        let path = manifest_path(file.as_ref());
        or_panic(
            off_runtime(|| templates::run_files(&self.spec, &[path])),
            |e| format!("pum: {e}"),
        );
    }

    /// The reference database of the test's spec, built once and shared.
    ///
    /// # Panics
    /// When the spec names no reference, or it cannot be built.
    #[track_caller]
    pub fn reference(&self) -> Reference {
        let Some(reference) = self.test.reference.as_ref() else {
            setup_failure(format!(
                "pum: test {} has no reference (give one with reference = \"…\")",
                self.test.name
            ))
        };
        let built: Result<ConnectionSpec> = off_runtime(|| {
            let context = context::context()?;
            let name = context.reference(&self.test, reference)?;
            Ok(context.server.with_dbname(&name))
        });
        match built {
            Ok(spec) => Reference { spec },
            Err(e) => setup_failure(format!("pum: reference of test {}: {e}", self.test.name)),
        }
    }

    /// Applies the test's changelogs above the database's version (all of them), with the
    /// test's parameters and hooks: what production's upgrade does.
    ///
    /// ```no_run
    /// # use pum::testing::TestDb;
    /// # fn t(db: TestDb) -> pum::Result<()> {
    /// db.upgrade()?;
    /// pum::assert_schema_eq!(db, db.reference()); // reference = "install"
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::TestSpec`] when the test has no changelogs; the refusals and SQL errors of
    /// [`crate::Upgrader::upgrade`].
    pub fn upgrade(&self) -> Result<()> {
        off_runtime(|| self.upgrade_until(None))
    }

    /// As [`TestDb::upgrade`], up to `version` (inclusive): afterwards the database is at
    /// `version`.
    ///
    /// # Errors
    /// [`Error::InvalidVersion`]; [`Error::TestSpec`] when the changelogs have no such
    /// version, or the database is above it; as [`TestDb::upgrade`].
    pub fn upgrade_to(&self, version: &str) -> Result<()> {
        let version = crate::Version::parse(version)?;
        off_runtime(|| self.upgrade_until(Some(version)))
    }

    fn upgrade_until(&self, max: Option<crate::Version>) -> Result<()> {
        let Some((config, project)) = self.test.project_config()? else {
            return Err(Error::TestSpec {
                test: self.test.name.clone(),
                message: "it has no changelogs to upgrade with (give config = \"…\")".into(),
            });
        };
        let refuse = |message: String| Error::TestSpec {
            test: self.test.name.clone(),
            message,
        };
        if let Some(version) = &max {
            let versions: Vec<String> = config
                .changelogs()?
                .iter()
                .map(|c| c.version.to_string())
                .collect();
            if !versions.contains(&version.to_string()) {
                return Err(refuse(format!(
                    "upgrade_to(\"{version}\"): there is no version {version} in the changelogs \
                     (versions: {})",
                    versions.join(", ")
                )));
            }
        }
        let upgrader = crate::Upgrader::new(&config, &self.spec)?;
        let options = crate::MigrateOptions {
            parameters: project.parameters.clone(),
            max_version: max.clone(),
            skip_roles: true,
            ..crate::MigrateOptions::default()
        };
        upgrader.upgrade(&options, &mut crate::migrate::NoProgress)?;
        if let Some(version) = max {
            let current = upgrader.current()?;
            if current != version {
                return Err(refuse(format!(
                    "upgrade_to(\"{version}\"): the database is at {current}, above it; an \
                     upgrade never goes down"
                )));
            }
        }
        Ok(())
    }

    /// Compares this database's schema with `other`'s, with the spec's check options.
    ///
    /// # Errors
    /// Connection and catalog errors.
    pub fn check_against(&self, other: &impl SchemaSource) -> Result<Report> {
        let other = other.schema_spec();
        off_runtime(|| crate::checker::check(&self.spec, &other, &self.test.check))
    }
}

/// A reference database (see [`TestDb::reference`]).
#[derive(Debug, Clone)]
pub struct Reference {
    spec: ConnectionSpec,
}

impl Reference {
    /// Connection settings for it.
    pub fn spec(&self) -> &ConnectionSpec {
        &self.spec
    }
}

/// Something whose schema can be compared: a [`TestDb`], a [`Reference`], a
/// [`ConnectionSpec`].
pub trait SchemaSource {
    /// Where to read the schema.
    fn schema_spec(&self) -> ConnectionSpec;
}

impl SchemaSource for TestDb {
    fn schema_spec(&self) -> ConnectionSpec {
        self.spec.clone()
    }
}

impl SchemaSource for Reference {
    fn schema_spec(&self) -> ConnectionSpec {
        self.spec.clone()
    }
}

impl SchemaSource for ConnectionSpec {
    fn schema_spec(&self) -> ConnectionSpec {
        self.clone()
    }
}

impl<T: SchemaSource> SchemaSource for &T {
    fn schema_spec(&self) -> ConnectionSpec {
        (*self).schema_spec()
    }
}

/// The comparison behind [`crate::assert_schema_eq!`]: panics with the differences.
///
/// `ignore` names kinds (`"privileges"`); `exclude_schemas` schemas. Tables named
/// `pum_migrations` are left out, so a database migrated by pum equals one built from
/// plain SQL.
///
/// # Panics
/// When the schemas differ (the message is the checker's report, naming both databases),
/// a kind is unknown, or a database cannot be read; the panic points at the caller.
#[track_caller]
pub fn assert_schema_eq(
    left: &impl SchemaSource,
    right: &impl SchemaSource,
    ignore: &[&str],
    exclude_schemas: &[&str],
) {
    let kinds: Result<_> = ignore.iter().map(|name| Kind::parse(name)).collect();
    let options = CheckOptions {
        ignore: match kinds {
            Ok(kinds) => kinds,
            Err(e) => panic!("assert_schema_eq!: {e}"),
        },
        exclude_schemas: exclude_schemas.iter().map(|s| s.to_string()).collect(),
        ..CheckOptions::default()
    };
    let (left, right) = (left.schema_spec(), right.schema_spec());
    let mut report = match off_runtime(|| crate::checker::check(&left, &right, &options)) {
        Ok(report) => report,
        Err(e) => panic!("assert_schema_eq!: {e}"),
    };
    report.retain(|key, attributes| !is_migrations_table(key, attributes));
    if !report.is_empty() {
        panic!("assert_schema_eq! failed: the schemas differ\n{report}");
    }
}

/// Whether an object belongs to a `pum_migrations` table.
fn is_migrations_table(key: &str, attributes: &crate::checker::Attributes) -> bool {
    let mentions = |text: &str| {
        text.split([' ', '.'])
            .any(|part| part == "pum_migrations" || part == "pum_migrations_pkey")
    };
    mentions(key)
        || attributes
            .get("table")
            .and_then(|t| t.as_deref())
            .is_some_and(mentions)
}

/// `path` from `CARGO_MANIFEST_DIR` when relative and that is set.
fn manifest_path(path: &Path) -> std::path::PathBuf {
    match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(root) if path.is_relative() => Path::new(&root).join(path),
        _ => path.to_path_buf(),
    }
}

/// The name of the template `spec`'s tests are cloned from (`pum_tpl_<key>`), whether or
/// not it is built yet. It changes whenever an input file changes.
///
/// # Errors
/// Unreadable input files; no server.
pub fn template_name(spec: &TestSpec) -> Result<String> {
    context::context()?.template_name(spec)
}

/// Drops `spec`'s current template and reference (they are rebuilt when next needed);
/// for tests of temporary projects that clean up after themselves.
///
/// # Errors
/// Unreadable input files; no server.
pub fn drop_template(spec: &TestSpec) -> Result<()> {
    context::context()?.drop_templates(spec)
}

/// Runs a test: builds (or finds) its template, gives `body` a fresh copy, and drops or
/// keeps the copy afterwards, whatever happened.
///
/// # Panics
/// When the body fails (panics or returns `Err`), and when the database cannot be made.
#[track_caller]
pub fn run<R: TestResult>(spec: TestSpec, body: impl FnOnce(TestDb) -> R) {
    run_with(spec, body, Expect::Success);
}

/// [`run`] for a `#[should_panic]` test: the body's panic is the expected one, but a
/// failure to set the test up (the template, the database, the reference) is never taken
/// for it. Such a failure is printed on standard error and the function returns
/// normally, so the test fails with "test did not panic as expected" above pum's
/// message.
#[track_caller]
pub fn run_should_panic<R: TestResult>(spec: TestSpec, body: impl FnOnce(TestDb) -> R) {
    run_with(spec, body, Expect::Panic);
}

/// What the test expects of its body.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Success,
    /// `#[should_panic]`: setup failures must not panic.
    Panic,
}

thread_local! {
    /// The message of a setup failure raised on this thread by the running body (see
    /// [`setup_failure`]), so that a `#[should_panic]` test does not take it for its own.
    static SETUP_FAILURE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Panics with `message`, marking the panic as the harness failing to set the test up
/// (not the body's own panic).
#[track_caller]
fn setup_failure(message: String) -> ! {
    SETUP_FAILURE.with(|f| *f.borrow_mut() = Some(message.clone()));
    panic!("{message}")
}

/// For a `#[should_panic]` test: says what failed and returns normally, so the test
/// fails; otherwise panics at the test's line.
#[track_caller]
fn fail_setup(expect: Expect, message: String) {
    match expect {
        Expect::Success => panic!("{message}"),
        Expect::Panic => eprintln!(
            "{message}\npum: the test could not be set up, so its #[should_panic] is not \
             satisfied: this failure is not the panic it expects"
        ),
    }
}

#[track_caller]
fn run_with<R: TestResult>(spec: TestSpec, body: impl FnOnce(TestDb) -> R, expect: Expect) {
    let fail = |e: Error| format!("pum: test {}: {e}", spec.name);
    let setup = (|| {
        let policy = KeepPolicy::from_env()?;
        let keep_max = keep::keep_max()?;
        let context = context::context()?;
        Ok::<_, Error>((policy, keep_max, context))
    })();
    let (policy, keep_max, context) = match setup {
        Ok(parts) => parts,
        Err(e) => return fail_setup(expect, fail(e)),
    };
    let _slot = context.slot();
    let made = (|| {
        let claim = context.claim_test()?;
        let template = context.template(&spec)?;
        let name = context.create_test_db(&template, &spec.name)?;
        Ok::<_, Error>((claim, name))
    })();
    let (claim, name) = match made {
        Ok(parts) => parts,
        Err(e) => return fail_setup(expect, fail(e)),
    };
    let db = TestDb {
        spec: context.server.with_dbname(&name),
        name: name.clone(),
        test: Arc::new(spec.clone()),
    };
    let url = db.url();
    SETUP_FAILURE.with(|f| f.borrow_mut().take());
    let outcome = catch_unwind(AssertUnwindSafe(|| body(db)));
    let setup_failed = SETUP_FAILURE.with(|f| f.borrow_mut().take());
    // The body's sessions are closed now (it owned the TestDb).
    drop(claim);
    // Whether the test fails: a `#[should_panic]` test passes by its body's own panic
    // (so its database is not kept as a failure's, nor pushes a real one out of the
    // PUM_TEST_KEEP_MAX kept), and fails when its body returns.
    let failed = match (&outcome, expect) {
        (Err(_), Expect::Panic) => setup_failed.is_some(),
        (Err(_), Expect::Success) | (Ok(_), Expect::Panic) => true,
        (Ok(result), Expect::Success) => result.failure().is_some(),
    };
    let keep = policy.keeps(failed);
    let teardown = if keep {
        context.keep(&name, keep_max)
    } else {
        context.drop_later(name.clone());
        Ok(false)
    };
    match teardown {
        Ok(true) => eprintln!(
            "pum: kept the database of test {}: {name}\n     {}",
            spec.name,
            inspect_command(&name, &url)
        ),
        Ok(false) if keep => eprintln!(
            "pum: the database of test {} was not kept: PUM_TEST_KEEP_MAX is {keep_max}",
            spec.name
        ),
        Ok(false) => {}
        Err(e) => eprintln!("pum: test {}: could not clean up {name}: {e}", spec.name),
    }
    match outcome {
        // The panic message was printed when it happened; saying why it does not count
        // is enough.
        Err(_) if expect == Expect::Panic && setup_failed.is_some() => fail_setup(
            expect,
            format!(
                "pum: test {}: the panic above is pum's, not the test's",
                spec.name
            ),
        ),
        Err(payload) => resume_unwind(payload),
        Ok(result) => {
            if let Some(message) = result.failure() {
                panic!("{message}");
            }
        }
    }
}

/// Runs `work` (blocking work with the `postgres` crate, which starts a runtime of its
/// own) where it may block: on a thread of its own when the caller is on a tokio runtime
/// (a task, or an `async fn` test's body), where blocking would panic with "Cannot start a
/// runtime from within a runtime"; here otherwise.
fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    #[cfg(feature = "tokio")]
    if tokio::runtime::Handle::try_current().is_ok() {
        return std::thread::scope(|scope| match scope.spawn(work).join() {
            Ok(value) => value,
            Err(payload) => resume_unwind(payload),
        });
    }
    work()
}

/// The command that opens a kept database: `pum server psql <name>` on the ephemeral
/// server (which also keeps the server from stopping while psql runs), `psql "<url>"`
/// on a server given by `PUM_TEST_DATABASE_URL`.
fn inspect_command(name: &str, url: &str) -> String {
    let given = std::env::var("PUM_TEST_DATABASE_URL").is_ok_and(|v| !v.trim().is_empty());
    if given {
        format!("psql \"{url}\"   (or: pum -p test/{name} info)")
    } else {
        format!("pum server psql {name}   (or: psql \"{url}\", while the server runs)")
    }
}

/// Runs an `async` test body (see [`run`]) on a fresh tokio runtime.
///
/// The runtime (current-thread) is driven by a thread of its own: it runs the body's
/// spawned tasks, its timers and its I/O, while the body itself is polled on the test's
/// thread inside the runtime's context (`tokio::spawn`, `Handle::current`, tokio-postgres
/// work) but not *on* the runtime. So the blocking calls of the harness and of the
/// `postgres` crate (`db.client()` and its queries, `execute_file`, `upgrade`,
/// `reference`, `assert_schema_eq!`) work in the body as in a sync test: they block the
/// test's thread, never the runtime, and cannot panic with "Cannot start a runtime from
/// within a runtime" (which, raised while a runtime was being dropped, aborted the whole
/// test binary).
#[cfg(feature = "tokio")]
#[track_caller]
pub fn run_async<R: TestResult, F: std::future::Future<Output = R>>(
    spec: TestSpec,
    body: impl FnOnce(TestDb) -> F,
) {
    run_with(spec, |db| block_on_runtime(body(db)), Expect::Success);
}

/// [`run_async`] for a `#[should_panic]` test (see [`run_should_panic`]).
#[cfg(feature = "tokio")]
#[track_caller]
pub fn run_async_should_panic<R: TestResult, F: std::future::Future<Output = R>>(
    spec: TestSpec,
    body: impl FnOnce(TestDb) -> F,
) {
    run_with(spec, |db| block_on_runtime(body(db)), Expect::Panic);
}

/// Polls `future` to its end on this thread, in the context of a runtime driven by a
/// thread of its own (see [`run_async`]).
#[cfg(feature = "tokio")]
#[track_caller]
fn block_on_runtime<F: std::future::Future>(future: F) -> F::Output {
    let runtime = match Driven::start() {
        Ok(runtime) => runtime,
        Err(e) => setup_failure(format!("pum: cannot start a tokio runtime: {e}")),
    };
    let _context = runtime.handle.enter();
    block_on(future)
}

/// A current-thread tokio runtime running on a thread of its own until dropped.
#[cfg(feature = "tokio")]
struct Driven {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[cfg(feature = "tokio")]
impl Driven {
    fn start() -> std::io::Result<Driven> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("pum-tokio".into())
            .spawn(move || {
                runtime.block_on(async {
                    // A sender dropped (the test unwinding) stops it too.
                    let _ = stopped.await;
                });
                // Dropped here, outside any runtime: the body's tasks still running
                // are cancelled.
            })?;
        Ok(Driven {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

#[cfg(feature = "tokio")]
impl Drop for Driven {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic there (a task's drop panicking) is not the test's: said, not raised.
            if thread.join().is_err() {
                warnings::warn("the tokio runtime of an async test panicked while stopping");
            }
        }
    }
}

/// `future`'s output, polled on this thread, which sleeps until woken.
#[cfg(feature = "tokio")]
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

/// Asserts that two databases have the same schema; on failure, panics with the checker's
/// report of only the differences, naming both databases.
///
/// ```no_run
/// # use pum::testing::TestDb;
/// # fn t(db: TestDb) {
/// pum::assert_schema_eq!(db, db.reference());
/// pum::assert_schema_eq!(db, db.reference(), ignore = ["privileges", "comments"]);
/// pum::assert_schema_eq!(db, db.reference(), exclude_schemas = ["audit"]);
/// # }
/// ```
///
/// Tables named `pum_migrations` are left out of the comparison.
#[macro_export]
macro_rules! assert_schema_eq {
    ($left:expr, $right:expr $(,)?) => {
        $crate::testing::assert_schema_eq(&$left, &$right, &[], &[])
    };
    ($left:expr, $right:expr, ignore = [$($kind:expr),* $(,)?] $(,)?) => {
        $crate::testing::assert_schema_eq(&$left, &$right, &[$($kind),*], &[])
    };
    ($left:expr, $right:expr, exclude_schemas = [$($schema:expr),* $(,)?] $(,)?) => {
        $crate::testing::assert_schema_eq(&$left, &$right, &[], &[$($schema),*])
    };
    ($left:expr, $right:expr, ignore = [$($kind:expr),* $(,)?], exclude_schemas = [$($schema:expr),* $(,)?] $(,)?) => {
        $crate::testing::assert_schema_eq(&$left, &$right, &[$($kind),*], &[$($schema),*])
    };
}
