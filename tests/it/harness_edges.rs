//! Where the harness meets the rest of a test: `#[should_panic]` (a setup failure is never
//! the expected panic), `async fn` bodies calling the harness's blocking methods, errors
//! that are only `Debug`. The `#[ignore]`d tests here are children the others run as
//! processes of this binary (a failing child is the point).

use std::process::{Command, Output, Stdio};

use pum::testing::{ReferenceSpec, TestDb, TestSpec};

use crate::support::Bounded;

const SHOP: &str = "tests/data/shop/.pum.yaml";

// Every call of the harness that blocks, from an async body: each one used to panic with
// "Cannot start a runtime from within a runtime" (the postgres crate's own runtime), and
// the panic, raised again while the test's runtime was dropped, aborted the binary.
#[pum::pum_test(
    config = "tests/data/shop/.pum.yaml",
    max_version = "1.0.0",
    reference = "install"
)]
async fn async_bodies_may_call_every_blocking_method(db: TestDb) {
    let mut client = db.client();
    let n: i64 = client
        .query_one("SELECT count(*) FROM shop.customer", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    db.execute_file("tests/data/customers.sql");
    let n: i64 = client
        .query_one("SELECT count(*) FROM shop.customer", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 2, "execute_file ran the fixture");
    // At 1.0.0 the schema differs from a fresh install of every version (1.1.0)…
    let before = db.check_against(&db.reference()).unwrap();
    assert!(!before.is_empty(), "1.0.0 differs from the fresh install");
    // …and the upgrade makes it equal.
    db.upgrade().unwrap();
    pum::assert_schema_eq!(db, db.reference());
    // The runtime is there and runs tasks, timers and tokio-postgres meanwhile.
    let async_client = db.async_client().await;
    let task = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        async_client
            .query_one("SELECT count(*) FROM shop.customer", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    });
    assert_eq!(task.await.unwrap(), 2);
    // A client dropped in the body (its runtime dropped) is fine too.
    drop(client);
}

// The same calls inside a task of the body's runtime, where blocking is not allowed.
#[pum::pum_test(config = "tests/data/shop/.pum.yaml", reference = "install")]
async fn blocking_methods_work_inside_tasks(db: TestDb) {
    let task = tokio::spawn(async move {
        db.execute_file("tests/data/customers.sql");
        db.upgrade().unwrap();
        pum::assert_schema_eq!(db, db.reference());
        db.check_against(&db.reference()).unwrap().is_empty()
    });
    assert!(task.await.unwrap());
}

/// Runs the `#[ignore]`d test `name` of this module in a child process of this binary.
fn child(name: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", &format!("harness_edges::{name}")])
        .env("PUM_TEST_KEEP", "never")
        .stdin(Stdio::null())
        .bounded_output()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[pum::pum_test(config = "tests/data/shop/.pum.yaml")]
#[ignore = "a child of async_panics_fail_one_test_not_the_binary"]
async fn child_async_panics_holding_a_client(db: TestDb) {
    let mut client = db.client();
    client.batch_execute("SELECT 1").unwrap();
    let _task =
        tokio::spawn(async { tokio::time::sleep(std::time::Duration::from_secs(60)).await });
    panic!("failing on purpose, a client and a task alive");
}

#[pum::pum_test(config = "tests/data/shop/.pum.yaml")]
#[ignore = "a child of async_panics_fail_one_test_not_the_binary"]
async fn child_async_passes(db: TestDb) {
    db.client().batch_execute("SELECT 1").unwrap();
}

#[test]
fn async_panics_fail_one_test_not_the_binary() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--test-threads",
            "1",
            "harness_edges::child_async_",
        ])
        .env("PUM_TEST_KEEP", "never")
        .stdin(Stdio::null())
        .bounded_output();
    let text = text(&out);
    // 101 is a failed test run; an abort is a signal (no code).
    assert_eq!(out.status.code(), Some(101), "{text}");
    assert!(
        text.contains("failing on purpose, a client and a task alive")
            && text.contains("test result: FAILED. 1 passed; 1 failed"),
        "{text}"
    );
}

// #[should_panic] tests whose setup fails: pum's failure must not count as their panic.

#[should_panic]
#[pum::pum_test(
    config = "tests/data/shop/.pum.yaml",
    fixtures("tests/data/broken_fixture.sql")
)]
#[ignore = "a child of should_panic_tests_fail_when_pum_cannot_set_them_up"]
fn child_should_panic_above_broken_fixture(db: TestDb) {
    let _ = db;
    panic!("the body's own panic");
}

#[pum::pum_test(
    config = "tests/data/shop/.pum.yaml",
    fixtures("tests/data/broken_fixture.sql")
)]
#[should_panic(expected = "the body's own panic")]
#[ignore = "a child of should_panic_tests_fail_when_pum_cannot_set_them_up"]
fn child_should_panic_below_broken_fixture(db: TestDb) {
    let _ = db;
    panic!("the body's own panic");
}

#[pum::pum_test(
    config = "tests/data/shop/.pum.yaml",
    fixtures("tests/data/broken_fixture.sql")
)]
#[should_panic]
#[ignore = "a child of should_panic_tests_fail_when_pum_cannot_set_them_up"]
async fn child_should_panic_async_broken_fixture(db: TestDb) {
    let _ = db;
    panic!("the body's own panic");
}

#[pum::pum_test(
    config = "tests/data/shop/.pum.yaml",
    reference = "tests/data/broken_fixture.sql"
)]
#[should_panic]
#[ignore = "a child of should_panic_tests_fail_when_pum_cannot_set_them_up"]
fn child_should_panic_broken_reference(db: TestDb) {
    pum::assert_schema_eq!(db, db.reference());
}

#[pum::pum_test(config = "tests/data/shop/.pum.yaml")]
#[should_panic(expected = "the body's own panic")]
#[ignore = "a child of should_panic_tests_fail_when_pum_cannot_set_them_up"]
fn child_should_panic_sound_setup(db: TestDb) {
    db.client().batch_execute("SELECT 1").unwrap();
    panic!("the body's own panic");
}

#[test]
fn should_panic_tests_fail_when_pum_cannot_set_them_up() {
    for name in [
        "child_should_panic_above_broken_fixture",
        "child_should_panic_below_broken_fixture",
        "child_should_panic_async_broken_fixture",
    ] {
        let out = child(name);
        let text = text(&out);
        assert!(!out.status.success(), "{name} passed:\n{text}");
        assert!(
            text.contains("test did not panic as expected")
                && text.contains("broken_fixture.sql:2")
                && text.contains("no_such_table")
                && text.contains("is not the panic it expects")
                && !text.contains("the body's own panic\n"),
            "{name}:\n{text}"
        );
    }
    let out = child("child_should_panic_broken_reference");
    let text = text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("test did not panic as expected")
            && text.contains("pum: reference of test")
            && text.contains("no_such_table")
            && text.contains("the panic above is pum's, not the test's"),
        "{text}"
    );
    // A sound setup and the body's panic: the test passes.
    let out = child("child_should_panic_sound_setup");
    assert!(out.status.success(), "{}", self::text(&out));

    // The failed builds are this test's: forgotten (the next run builds and fails again).
    let shop =
        || TestSpec::new("x").config(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SHOP));
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/broken_fixture.sql");
    pum::testing::drop_template(&shop().fixture(&fixture)).unwrap();
    pum::testing::drop_template(&shop().reference(ReferenceSpec::SqlFiles(vec![fixture]))).unwrap();
}

/// An error that is only `Debug`, as `#[test]` accepts it (no `Display` bound).
#[derive(Debug)]
struct OnlyDebug;

#[pum::pum_test(config = "tests/data/shop/.pum.yaml")]
fn errors_need_only_be_debug(db: TestDb) -> Result<(), OnlyDebug> {
    db.client().batch_execute("SELECT 1").map_err(|_| OnlyDebug)
}
