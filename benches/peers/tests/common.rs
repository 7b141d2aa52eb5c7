//! What the generated tests call: each kind's one trivial test.

#![allow(dead_code)]

use std::io::Write as _;
use std::sync::Mutex;
use std::time::Instant;

/// A pum test, as `#[pum_test]` expands (`pum::testing::run`), with its wait for the
/// database (from the call to the body's start) appended to `PUM_BENCH_WAITS`; its body
/// takes `PUM_BENCH_BODY_MS` more when set (a test doing work while the machine's cores
/// make the next databases).
pub fn pum_test(name: &str, config: &str) {
    let started = Instant::now();
    pum::testing::run(
        pum::testing::TestSpec::new(name).config(config),
        |db: pum::testing::TestDb| {
            let waited = started.elapsed();
            if let Ok(path) = std::env::var("PUM_BENCH_WAITS") {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap();
                // One write per line: tests running at once append to the same file, and
                // a number and its newline written apart can interleave with another
                // test's (two waits read as one of hours).
                file.write_all(format!("{}\n", waited.as_micros()).as_bytes())
                    .unwrap();
            }
            db.client().simple_query("SELECT 1").unwrap();
            if let Some(ms) = std::env::var("PUM_BENCH_BODY_MS")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
        },
    );
}

/// A pum test under `isolation = "transaction"`, as `#[pum_test(isolation =
/// "transaction")]` expands: the same trivial body in the test's session, inside a
/// transaction on the shared database, rolled back.
pub fn pum_transaction_test(name: &str, config: &str) {
    pum::testing::run(
        pum::testing::TestSpec::new(name)
            .config(config)
            .isolation(pum::testing::Isolation::Transaction),
        |db: pum::testing::TestDb| {
            db.session().simple_query("SELECT 1").unwrap();
        },
    );
}

/// Maintenance sessions shared by the bare tests (as pum shares its own).
static SESSIONS: Mutex<Vec<postgres::Client>> = Mutex::new(Vec::new());

fn server() -> pum::ConnectionSpec {
    pum::ConnectionSpec::resolve(&std::env::var("PEERS_SERVER").unwrap()).unwrap()
}

fn session() -> postgres::Client {
    SESSIONS
        .lock()
        .unwrap()
        .pop()
        .unwrap_or_else(|| server().connect().unwrap())
}

/// CREATE DATABASE … TEMPLATE, a session and a query on it, DROP DATABASE.
pub fn bare_test(name: &str) {
    let template = std::env::var("PEERS_TEMPLATE").unwrap();
    let strategy = std::env::var("PEERS_STRATEGY").unwrap();
    let db = format!("peers_bare_{name}_{}", std::process::id());
    let mut admin = session();
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {db} TEMPLATE {template} STRATEGY {strategy}"
        ))
        .unwrap();
    server()
        .with_dbname(&db)
        .connect()
        .unwrap()
        .simple_query("SELECT 1")
        .unwrap();
    admin.batch_execute(&format!("DROP DATABASE {db}")).unwrap();
    SESSIONS.lock().unwrap().push(admin);
}

/// A session on the shared migrated database, and the test in a transaction rolled back.
pub fn rollback_test() {
    let shared = std::env::var("PEERS_SHARED").unwrap();
    let mut client = server().with_dbname(&shared).connect().unwrap();
    let mut tx = client.transaction().unwrap();
    tx.simple_query("SELECT 1").unwrap();
    tx.rollback().unwrap();
}
