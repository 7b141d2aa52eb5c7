//! A test's own database ([`TestDb`]) and what it offers the body: sessions, pools, URLs,
//! SQL files, upgrades, its spec's reference ([`Reference`]) and comparisons with anything
//! whose schema can be read ([`SchemaSource`]).

use std::path::Path;
use std::sync::Arc;

use super::client::{SharedSession, TestClient};
use super::outcome::setup_failure;
use super::run::off_runtime;
use super::spec::TestSpec;
use super::{context, roles, sql_files};
use crate::checker::CheckReport;
use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};

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
/// (unless kept, see [`KeepPolicy`](super::KeepPolicy)).
///
/// Under `isolation = "transaction"` ([`Isolation::Transaction`](super::Isolation)) it is
/// the test's one session, inside a transaction on a database shared with the other tests
/// of its template and parallel slot: [`TestDb::session`] lends that session, and what
/// would need another session ([`TestDb::client`], [`TestDb::spec`], [`TestDb::url`], [`TestDb::config`],
/// [`TestDb::pool`], `async_client`, [`TestDb::upgrade`], [`TestDb::check_against`],
/// `assert_schema_eq!` on it) panics or fails saying so.
#[derive(Debug, Clone)]
pub struct TestDb {
    pub(super) name: String,
    pub(super) spec: ConnectionSpec,
    pub(super) test: Arc<TestSpec>,
    /// The test's one session (transaction isolation).
    pub(super) shared: Option<SharedSession>,
}

impl TestDb {
    /// The database's name (`pum_t_<test>_<unique>`; under transaction isolation the
    /// shared database's, `pum_shared_<key>_<slot>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connection settings for it.
    ///
    /// # Panics
    /// Under `isolation = "transaction"`: a session made with them would not see the
    /// test's writes.
    #[track_caller]
    pub fn spec(&self) -> &ConnectionSpec {
        self.refuse_other_sessions("spec()");
        &self.spec
    }

    /// A new session on it.
    ///
    /// # Panics
    /// When the server cannot be reached (the test cannot go on without it); under
    /// `isolation = "transaction"`, where the test has one session: [`TestDb::session`].
    #[track_caller]
    pub fn client(&self) -> postgres::Client {
        if self.shared.is_some() {
            panic!(
                "pum: test {}: client() opens a session of its own, which cannot see the \
                 test's writes under isolation = \"transaction\": use db.session(), the \
                 test's one session inside its transaction (`&mut *session` where a \
                 `&mut postgres::Client` or `impl GenericClient` is wanted)",
                self.test.name
            );
        }
        or_panic(self.spec.connect(), |e| {
            format!("pum: test database {}: {e}", self.name)
        })
    }

    /// The test's session: under `isolation = "transaction"` its one session, inside the
    /// transaction rolled back at the end, lent to the [`TestClient`] until it is dropped;
    /// otherwise a new session, as [`TestDb::client`]. Works the same in both isolations,
    /// so a test can switch with one word of its attribute.
    ///
    /// ```no_run
    /// # fn t(db: pum::testing::TestDb) {
    /// let mut session = db.session();
    /// session.batch_execute("INSERT INTO shop.orders DEFAULT VALUES").unwrap();
    /// # }
    /// ```
    ///
    /// # Panics
    /// When the server cannot be reached; under transaction isolation, while another
    /// `TestClient` of the test is alive.
    #[track_caller]
    pub fn session(&self) -> TestClient {
        let Some(shared) = &self.shared else {
            return TestClient::own(self.client());
        };
        TestClient::lent(shared).unwrap_or_else(|| {
            panic!(
                "pum: test {}: session() while another TestClient of the test is alive: under \
                 isolation = \"transaction\" a test has one session (a second one would not \
                 see its writes); use the first, or drop it before asking again",
                self.test.name
            )
        })
    }

    /// Panics, saying why, when the test runs under transaction isolation: `what` would
    /// open a session of its own, which cannot see the test's uncommitted writes.
    #[track_caller]
    fn refuse_other_sessions(&self, what: &str) {
        if self.shared.is_some() {
            panic!("{}", self.other_session_message(what));
        }
    }

    fn other_session_message(&self, what: &str) -> String {
        format!(
            "pum: test {}: {what} cannot be used under isolation = \"transaction\": the test \
             runs in one session inside a transaction that is rolled back, and another session \
             would not see its writes; use db.session(), or the default isolation (a database \
             per test)",
            self.test.name
        )
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
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn async_client(&self) -> tokio_postgres::Client {
        self.refuse_other_sessions("async_client()");
        self.spec
            .connect_async()
            .await
            .unwrap_or_else(|e| panic!("pum: test database {}: {e}", self.name))
    }

    /// A role of this test's own, made now (`NOLOGIN`), to grant to and check: named
    /// `<name>_<this database's unique suffix>` (the name returned, to write into SQL as
    /// an identifier), so parallel tests and later runs never collide, and dropped with
    /// this database (at teardown; a kept database keeps its roles until it is dropped;
    /// a killed run's are dropped by a later run's sweep). Its comment,
    /// `pum test role of database <name>`, marks it as the harness's: a role without it
    /// is never dropped. The server's role must have `CREATEROLE`.
    ///
    /// ```no_run
    /// # fn t(db: pum::testing::TestDb) {
    /// let reader = db.role("reader");
    /// let mut c = db.client();
    /// c.batch_execute(&format!("GRANT SELECT ON shop.orders TO \"{reader}\"")).unwrap();
    /// # }
    /// ```
    ///
    /// # Panics
    /// When the name is empty or the role's name would be over 63 bytes, or the server
    /// refuses (no `CREATEROLE`, the role exists).
    #[track_caller]
    pub fn role(&self, name: &str) -> String {
        if self.shared.is_some() {
            // In the test's transaction: rolled back with it.
            let mut client = self.session();
            return or_panic(roles::create_in(&mut *client, &self.name, name), |e| {
                format!("pum: test database {}: role(\"{name}\"): {e}", self.name)
            });
        }
        let made = off_runtime(|| {
            let mut client = self.spec.connect()?;
            roles::create(&mut client, &self.name, name)
        });
        or_panic(made, |e| {
            format!("pum: test database {}: role(\"{name}\"): {e}", self.name)
        })
    }

    /// An r2d2 pool of at most 4 sessions on it.
    ///
    /// # Panics
    /// When the settings cannot make a pool.
    #[track_caller]
    pub fn pool(&self) -> r2d2::Pool<r2d2_postgres::PostgresConnectionManager<postgres::NoTls>> {
        self.refuse_other_sessions("pool()");
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
    ///
    /// # Panics
    /// Under `isolation = "transaction"` (see [`TestDb::spec`]).
    #[track_caller]
    pub fn url(&self) -> String {
        self.refuse_other_sessions("url()");
        self.spec.url()
    }

    /// A `postgres::Config` (which tokio-postgres users can rebuild from [`TestDb::url`]).
    ///
    /// # Panics
    /// When the settings need TLS, which pum does not include.
    #[track_caller]
    pub fn config(&self) -> postgres::Config {
        self.refuse_other_sessions("config()");
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
        if self.shared.is_some() {
            let mut client = self.session();
            let ran = off_runtime(|| sql_files::run_files_in(&mut client, &[path]));
            return or_panic(ran, |e| format!("pum: {e}"));
        }
        or_panic(
            off_runtime(|| sql_files::run_files(&self.spec, &[path])),
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
        self.other_sessions_allowed("upgrade")?;
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
    pub fn check_against(&self, other: &impl SchemaSource) -> Result<CheckReport> {
        self.other_sessions_allowed("check_against()")?;
        let other = other.schema_spec();
        off_runtime(|| crate::checker::check(&self.spec, &other, &self.test.check))
    }
}

impl TestDb {
    /// [`Error::Unsupported`] under transaction isolation: `what` works in sessions of
    /// its own.
    fn other_sessions_allowed(&self, what: &str) -> Result<()> {
        match &self.shared {
            Some(_) => Err(Error::Unsupported {
                message: self
                    .other_session_message(what)
                    .trim_start_matches("pum: ")
                    .to_string(),
            }),
            None => Ok(()),
        }
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
    /// # Panics
    /// Under `isolation = "transaction"` (see [`TestDb::spec`]).
    #[track_caller]
    fn schema_spec(&self) -> ConnectionSpec {
        self.refuse_other_sessions("comparing its schema");
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

/// `path` from `CARGO_MANIFEST_DIR` when relative and that is set.
fn manifest_path(path: &Path) -> std::path::PathBuf {
    match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(root) if path.is_relative() => Path::new(&root).join(path),
        _ => path.to_path_buf(),
    }
}
