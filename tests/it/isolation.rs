//! `#[pum_test(isolation = "transaction")]`: the body in one session inside a transaction
//! on a shared database, rolled back at the end; what it cannot do fails loudly and
//! leaks into no later test.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pum::testing::{Isolation, TestDb, TestSpec};
use rstest::rstest;

use crate::support;

const PROJECT: &str = "tests/data/isolation/.pum.yaml";

/// A transaction-isolated test of the isolation tests' project, as `#[pum_test]` writes it.
fn spec(name: &str) -> TestSpec {
    TestSpec::new(name)
        .config(format!("{}/{PROJECT}", env!("CARGO_MANIFEST_DIR")))
        .isolation(Isolation::Transaction)
}

/// How many customers named `name` the test sees.
fn customers(db: &TestDb, name: &str) -> i64 {
    db.session()
        .query_one(
            "SELECT count(*) FROM shop.customer WHERE name = $1",
            &[&name],
        )
        .unwrap()
        .get(0)
}

/// The panic message of running `body` as a transaction-isolated test.
fn failure_of(name: &str, body: impl FnOnce(TestDb)) -> String {
    let caught = catch_unwind(AssertUnwindSafe(|| pum::testing::run(spec(name), body)));
    let payload = caught.expect_err("the test should fail");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[pum::pum_test(config = "tests/data/isolation/.pum.yaml", isolation = "transaction")]
fn the_body_runs_inside_a_transaction_on_a_shared_database(db: TestDb) {
    assert!(db.name().starts_with("pum_shared_"), "{}", db.name());
    let mut session = db.session();
    let in_block: String = session
        .query_one("SELECT current_setting('transaction_isolation')", &[])
        .unwrap()
        .get(0);
    assert_eq!(in_block, "read committed");
    // BEGIN again only warns: the session is in a transaction block.
    session
        .batch_execute("INSERT INTO shop.customer (name) VALUES ('macro')")
        .unwrap();
    drop(session);
    assert_eq!(customers(&db, "macro"), 1);
}

#[pum::pum_test(config = "tests/data/isolation/.pum.yaml", isolation = "transaction")]
async fn async_bodies_use_the_session_too(db: TestDb) -> Result<(), postgres::Error> {
    tokio::task::yield_now().await;
    db.session()
        .batch_execute("INSERT INTO shop.customer (name) VALUES ('async')")?;
    assert_eq!(customers(&db, "async"), 1);
    Ok(())
}

#[pum::pum_test(config = "tests/data/isolation/.pum.yaml", isolation = "transaction")]
#[rstest]
#[case("first case")]
#[case("second case")]
fn rstest_cases_each_get_a_transaction(#[case] name: &str, db: TestDb) {
    db.session()
        .execute("INSERT INTO shop.customer (name) VALUES ($1)", &[&name])
        .unwrap();
    assert_eq!(customers(&db, name), 1);
}

#[test]
fn writes_are_rolled_back_before_the_next_test() {
    let mut names = Vec::new();
    for round in 0..3 {
        pum::testing::run(spec("rolled_back"), |db: TestDb| {
            assert_eq!(customers(&db, "rolled back"), 0, "round {round}");
            let mut session = db.session();
            session
                .batch_execute(
                    "INSERT INTO shop.customer (name) VALUES ('rolled back'); \
                     SET search_path = shop; PREPARE left_behind AS SELECT 1; \
                     SELECT pg_advisory_lock(42); SELECT nextval('customer_id_seq')",
                )
                .unwrap();
            names.push(db.name().to_string());
        });
    }
    // What a rollback leaves in a session (a prepared statement, an advisory lock) was
    // undone, and SET was rolled back with the rest.
    pum::testing::run(spec("rolled_back"), |db: TestDb| {
        let mut session = db.session();
        let row = session
            .query_one(
                "SELECT current_setting('search_path'), \
                 (SELECT count(*) FROM pg_prepared_statements WHERE from_sql), \
                 (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
                  AND pid = pg_backend_pid() AND objid = 42)",
                &[],
            )
            .unwrap();
        assert_ne!(row.get::<_, String>(0), "shop");
        assert_eq!((row.get::<_, i64>(1), row.get::<_, i64>(2)), (0, 0));
    });
    assert!(
        names.iter().all(|n| n.starts_with("pum_shared_")),
        "{names:?}"
    );
}

#[test]
fn parallel_tests_get_different_shared_databases_without_waiting() {
    let inside = AtomicUsize::new(0);
    let seen = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                pum::testing::run(spec("parallel"), |db: TestDb| {
                    let pid: i32 = db
                        .session()
                        .query_one("SELECT pg_backend_pid()", &[])
                        .unwrap()
                        .get(0);
                    seen.lock().unwrap().push((db.name().to_string(), pid));
                    inside.fetch_add(1, Ordering::SeqCst);
                    // All three bodies run at once: none waits for another's database.
                    let deadline = Instant::now() + Duration::from_secs(60);
                    while inside.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    assert_eq!(
                        inside.load(Ordering::SeqCst),
                        3,
                        "a test waited for another"
                    );
                });
            });
        }
    });
    let mut seen = seen.into_inner().unwrap();
    seen.sort();
    seen.dedup_by(|a, b| a.0 == b.0);
    assert_eq!(
        seen.len(),
        3,
        "three databases for three tests at once: {seen:?}"
    );
}

#[test]
fn a_test_that_commits_fails_and_the_next_sees_a_clean_database() {
    let mut committed_in = String::new();
    let message = failure_of("commits", |db: TestDb| {
        committed_in = db.name().to_string();
        db.session()
            .batch_execute("COMMIT; INSERT INTO shop.customer (name) VALUES ('leaked')")
            .unwrap();
    });
    assert!(
        message.contains("runs under isolation = \"transaction\", and it ended the transaction")
            && message.contains(&format!("its shared database {committed_in} was dropped"))
            && message.contains("needs the default isolation"),
        "{message}"
    );
    // Dropped before the test failed: made again (by the next test that wants that
    // slot), it holds nothing of the committed test's.
    if let Ok(mut client) = support::spec().with_dbname(&committed_in).connect() {
        let leaked: i64 = client
            .query_one(
                "SELECT count(*) FROM shop.customer WHERE name = 'leaked'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(leaked, 0, "in {committed_in}");
    }
    for _ in 0..2 {
        pum::testing::run(spec("after_commit"), |db: TestDb| {
            assert_eq!(customers(&db, "leaked"), 0, "in {}", db.name());
        });
    }
    // A client.transaction() committed is the same.
    let message = failure_of("commits_a_transaction", |db: TestDb| {
        let mut session = db.session();
        let mut tx = session.transaction().unwrap();
        tx.batch_execute("INSERT INTO shop.customer (name) VALUES ('leaked')")
            .unwrap();
        tx.commit().unwrap();
    });
    assert!(message.contains("ended the transaction"), "{message}");
    pum::testing::run(spec("after_commit"), |db: TestDb| {
        assert_eq!(customers(&db, "leaked"), 0, "in {}", db.name());
    });
}

#[test]
fn what_needs_another_session_or_no_transaction_fails_clearly() {
    let message = failure_of("create_database", |db: TestDb| {
        db.session()
            .batch_execute("CREATE DATABASE pum_it_never_made")
            .unwrap();
    });
    assert!(
        message.contains("CREATE DATABASE cannot run inside a transaction block"),
        "{message}"
    );
    for (what, call) in [
        (
            "client()",
            Box::new(|db: &TestDb| drop(db.client())) as Box<dyn Fn(&TestDb)>,
        ),
        ("url()", Box::new(|db: &TestDb| drop(db.url()))),
        ("pool()", Box::new(|db: &TestDb| drop(db.pool()))),
    ] {
        let message = failure_of("other_sessions", |db: TestDb| call(&db));
        assert!(
            message.contains(what) && message.contains("isolation = \"transaction\""),
            "{what}: {message}"
        );
    }
    let message = failure_of("two_sessions", |db: TestDb| {
        let _first = db.session();
        let _second = db.session();
    });
    assert!(message.contains("a test has one session"), "{message}");
    let refused = std::sync::Mutex::new(String::new());
    pum::testing::run(spec("upgrade"), |db: TestDb| {
        *refused.lock().unwrap() = db.upgrade().unwrap_err().to_string();
    });
    assert!(
        refused
            .lock()
            .unwrap()
            .contains("upgrade cannot be used under isolation"),
        "{}",
        refused.lock().unwrap()
    );
    // None of it left the shared databases unusable.
    pum::testing::run(spec("after_failures"), |db: TestDb| {
        assert_eq!(customers(&db, "leaked"), 0);
    });
}

/// Run as a child process (`PUM_IT_CHILD`): prints its shared database, and waits (at
/// most a minute) until the other child's body runs too (a file each in
/// `PUM_IT_RENDEZVOUS`).
#[pum::pum_test(config = "tests/data/isolation/.pum.yaml", isolation = "transaction")]
fn child_process_per_test(db: TestDb) {
    db.session()
        .batch_execute("INSERT INTO shop.customer (name) VALUES ('child')")
        .unwrap();
    if let Ok(dir) = std::env::var("PUM_IT_RENDEZVOUS") {
        println!("shared database: {}", db.name());
        std::fs::write(format!("{dir}/{}", std::process::id()), "").unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::read_dir(&dir).unwrap().count() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    assert_eq!(customers(&db, "child"), 1);
}

#[test]
fn processes_at_once_take_different_shared_databases() {
    // As cargo nextest runs tests: a process each, at the same time.
    let rendezvous = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "isolation::child_process_per_test",
                    "--nocapture",
                ])
                .env("PUM_IT_RENDEZVOUS", rendezvous.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut names = Vec::new();
    for child in children {
        let out = support::child::wait_output(child);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("shared database: "))
            .unwrap_or_else(|| panic!("{text}"))
            .to_string();
        names.push(name);
    }
    assert_ne!(names[0], names[1]);
}

#[test]
fn shared_databases_go_with_their_template_and_come_back() {
    // A template of this run's own (its name in a comment): no other run shares it.
    let project = support::project::Project::new(
        "pum:\n  module: iso\n",
        &[(
            "changelogs/1.0.0/01.sql",
            &format!(
                "-- {}\nCREATE TABLE public.thing (id int PRIMARY KEY);",
                support::unique_name("iso")
            ),
        )],
    );
    let spec = TestSpec::new("comes_back")
        .config(project.path().join(".pum.yaml"))
        .isolation(Isolation::Transaction);
    let count = |db: &TestDb| -> i64 {
        db.session()
            .query_one("SELECT count(*) FROM public.thing", &[])
            .unwrap()
            .get(0)
    };
    let mut first = String::new();
    pum::testing::run(spec.clone(), |db: TestDb| {
        first = db.name().to_string();
        db.session()
            .batch_execute("INSERT INTO public.thing VALUES (1)")
            .unwrap();
    });
    assert!(support::exists(&first));
    // The template and its shared databases dropped (this process's idle session on it
    // ended with it): the next test gets both made again.
    pum::testing::drop_template(&spec).unwrap();
    assert!(!support::exists(&first), "{first} outlived its template");
    pum::testing::run(spec.clone(), |db: TestDb| assert_eq!(count(&db), 0));
    pum::testing::drop_template(&spec).unwrap();
}
