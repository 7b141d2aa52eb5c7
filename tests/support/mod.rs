//! The server the tests run against, and helpers to make uniquely named databases.
//! Shared by the library's integration tests (tests/it) and the command line's (cli/tests).

#![allow(dead_code)]

pub mod child;
pub mod output;
pub mod project;
pub mod server;

#[allow(unused_imports)]
pub use child::Bounded;

use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use pum::server::Server;
use pum::{ConnectionSpec, CreateOptions, DropOptions};

/// The server for this test binary.
pub struct Target {
    /// Superuser settings for the maintenance database.
    pub spec: ConnectionSpec,
    /// pum's ephemeral server, when `PUM_TEST_DATABASE_URL` is unset.
    pub own: Option<&'static Server>,
}

/// The server, started on first use.
pub fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| match std::env::var("PUM_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Target {
            spec: ConnectionSpec::resolve(&url).expect("PUM_TEST_DATABASE_URL is valid"),
            own: None,
        },
        _ => {
            let server = Server::shared().unwrap_or_else(|e| panic!("{e}"));
            Target {
                spec: server.spec().clone(),
                own: Some(server),
            }
        }
    })
}

/// Superuser settings for the maintenance database.
pub fn spec() -> ConnectionSpec {
    target().spec.clone()
}

/// A session on the test harness's registry (database `pum_registry` of the server),
/// waiting (at most 60 s) for a runner to make it.
pub fn registry_client() -> postgres::Client {
    registry_client_on(&spec())
}

/// As [`registry_client`], on the server of `server`.
pub fn registry_client_on(server: &ConnectionSpec) -> postgres::Client {
    let started = std::time::Instant::now();
    loop {
        match server.with_dbname("pum_registry").connect() {
            Ok(client) => return client,
            Err(e) if started.elapsed() > std::time::Duration::from_secs(60) => {
                panic!("no registry: {e}")
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
}

/// A database name no other test uses: `pum_it_<what>_<pid>_<n>`.
pub fn unique_name(what: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "pum_it_{what}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A database that is dropped when the value goes out of scope.
pub struct ScratchDb {
    pub name: String,
}

impl ScratchDb {
    /// Creates a fresh, empty database, running `sql` in it.
    pub fn new(what: &str, sql: &str) -> ScratchDb {
        let db = ScratchDb::named(unique_name(what));
        pum::create_database(&spec(), &db.name, &CreateOptions::default()).unwrap();
        if !sql.is_empty() {
            db.client().batch_execute(sql).unwrap();
        }
        db
    }

    /// Takes charge of dropping `name` (which the test creates itself).
    pub fn named(name: String) -> ScratchDb {
        ScratchDb { name }
    }

    pub fn spec(&self) -> ConnectionSpec {
        spec().with_dbname(&self.name)
    }

    pub fn client(&self) -> postgres::Client {
        self.spec().connect().unwrap()
    }

    /// The rows of a one-column text query.
    pub fn strings(&self, sql: &str) -> Vec<String> {
        self.client()
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let options = DropOptions {
            if_exists: true,
            ..DropOptions::default()
        };
        let _ = pum::drop_database(&spec(), &self.name, &options);
    }
}

/// Whether a database exists, by asking the catalog directly.
pub fn exists(name: &str) -> bool {
    let mut client = spec().connect().unwrap();
    client
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .unwrap()
        .get::<_, i64>(0)
        == 1
}

/// Writes a service file with one service, `[name]`, pointing at `dbname` on the server.
pub fn service_file(dir: &Path, name: &str, dbname: &str) -> std::path::PathBuf {
    let s = spec();
    let path = dir.join("pg_service.conf");
    std::fs::write(
        &path,
        format!(
            "# written by the pum tests\n[{name}]\nhost={}\nport={}\nuser={}\ndbname={dbname}\n",
            s.host(),
            s.port(),
            s.user()
        ),
    )
    .unwrap();
    path
}

/// A login role that must give a password, and its password.
///
/// On our own server the role is put first in pg_hba.conf with scram-sha-256, so a wrong
/// or missing password is refused; on an external server its pg_hba.conf decides.
pub fn password_role() -> (&'static str, &'static str) {
    static ROLE: OnceLock<()> = OnceLock::new();
    const NAME: &str = "pum_it_password_user";
    const PASSWORD: &str = "s3cret:with\\odd chars";
    ROLE.get_or_init(|| {
        let mut client = spec().connect().unwrap();
        // Other test processes may be doing the same at the same moment: one at a time
        // (concurrent ALTER ROLE fails with "tuple concurrently updated").
        client
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock(hashtext('pum_it_password_user')); \
                 DO $$ BEGIN CREATE ROLE {NAME} LOGIN; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$; \
                 SET LOCAL password_encryption = 'scram-sha-256'; \
                 ALTER ROLE {NAME} PASSWORD '{}'; COMMIT",
                PASSWORD.replace('\'', "''")
            ))
            .unwrap();
        if let Some(server) = target().own {
            let hba = server.data_dir().join("pg_hba.conf");
            let rule = format!("local all {NAME} scram-sha-256\n");
            let old = std::fs::read_to_string(&hba).unwrap();
            if !old.starts_with(&rule) {
                // The server is shared: replace the file atomically.
                let fresh = hba.with_extension(format!("new{}", std::process::id()));
                std::fs::write(&fresh, format!("{rule}{old}")).unwrap();
                std::fs::rename(&fresh, &hba).unwrap();
            }
            client.batch_execute("SELECT pg_reload_conf()").unwrap();
            // The reload is asynchronous; wait until a password-less login is refused.
            let spec = spec().with_user(NAME, None);
            for _ in 0..200 {
                if spec.connect().is_err() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    });
    (NAME, PASSWORD)
}

/// True on our own server. On an external one (whose pg_hba.conf may trust every login,
/// so a wrong password cannot be refused) prints why `test` has nothing to check.
pub fn own_server_or_note(test: &str) -> bool {
    let own = target().own.is_some();
    if !own {
        eprintln!(
            "skipped: {test}: needs password authentication, which only pum's own test server \
             guarantees"
        );
    }
    own
}

/// A Python interpreter with psycopg2 and psycopg 3 (and pum 0.9.14, for the
/// interoperability checks): `PUM_TEST_PYTHON` when set, else the virtual environment
/// `.ci/python-pum09` makes once from PyPI in pum's cache (outside target/, so that once
/// made it serves offline, after cargo clean too). Panics, naming what is missing, when it
/// cannot be had: the Python delta and hook tests need it.
pub fn python() -> std::path::PathBuf {
    static PYTHON: OnceLock<std::path::PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Ok(python) = std::env::var("PUM_TEST_PYTHON")
                && !python.is_empty()
            {
                return python.into();
            }
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            // The CLI's tests run from cli/: the script and the venv are the workspace's.
            let workspace = if root.join(".ci").is_dir() {
                root
            } else {
                root.parent().unwrap()
            };
            // Making the environment downloads from PyPI: a generous deadline, not none.
            let out = std::process::Command::new(workspace.join(".ci/python-pum09"))
                .output_within(std::time::Duration::from_secs(1800));
            assert!(
                out.status.success(),
                "the Python delta and hook tests need, once, python3 with venv and pip and \
                 PyPI (pum 0.9.14, psycopg2-binary, psycopg), or PUM_TEST_PYTHON naming a \
                 Python with psycopg2 and psycopg: .ci/python-pum09 failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("bin/python")
        })
        .clone()
}

/// Runs `command` (standard input closed) and returns its output, killing it and failing
/// the test if it has not ended after `limit`: a test never hangs on a child.
pub fn output_within(
    command: &mut std::process::Command,
    limit: std::time::Duration,
) -> std::process::Output {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not end within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// The first column of every row `sql` returns on `db`, as text.
pub fn strings(db: &pum::testing::TestDb, sql: &str) -> Vec<String> {
    db.client()
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}
