//! Where the harness meets the rest of a test: `#[should_panic]` (a setup failure is never
//! the expected panic), `async fn` bodies calling the harness's blocking methods, errors
//! that are only `Debug`, roles made by test bodies (`db.role()`). The `child_*` tests are
//! also run by the others as processes of this binary, told so by `PUM_IT_CHILD` (a
//! failing child is the point there); run as ordinary tests they pass.

use std::process::{Command, Output, Stdio};

use pum::testing::{ReferenceSpec, TestDb, TestSpec};

use crate::support::{self, Bounded, spec};

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

/// Whether this process runs `name` as another test's child (`PUM_IT_CHILD`).
fn as_child(name: &str) -> bool {
    std::env::var("PUM_IT_CHILD").is_ok_and(|child| child == name)
}

/// A server nothing listens on: a test whose setup needs it fails there.
const NO_SERVER: &str = "postgresql://pum@127.0.0.1:9/none?connect_timeout=2";

/// Runs test `name` of this module in a child process of this binary, as a child, with a
/// server nothing listens on (so pum cannot set the test up).
fn child(name: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &format!("harness_edges::{name}")])
        .env("PUM_IT_CHILD", name)
        .env("PUM_TEST_KEEP", "never")
        .env("PUM_TEST_DATABASE_URL", NO_SERVER)
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
async fn child_async_panics_holding_a_client(db: TestDb) {
    let mut client = db.client();
    client.batch_execute("SELECT 1").unwrap();
    let _task =
        tokio::spawn(async { tokio::time::sleep(std::time::Duration::from_secs(60)).await });
    if as_child("child_async_") {
        panic!("failing on purpose, a client and a task alive");
    }
}

#[pum::pum_test(config = "tests/data/shop/.pum.yaml")]
async fn child_async_passes(db: TestDb) {
    db.client().batch_execute("SELECT 1").unwrap();
}

#[test]
fn async_panics_fail_one_test_not_the_binary() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--test-threads", "1", "harness_edges::child_async_"])
        .env("PUM_IT_CHILD", "child_async_")
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

// #[should_panic] tests: run as ordinary tests their body panics and they pass; run as
// children on a server nothing listens on, pum cannot set them up, and that failure must
// not count as their panic (with `run` instead of `run_should_panic` they would pass).

#[should_panic(expected = "the body's own panic")]
#[pum::pum_test(config = "tests/data/shop/.pum.yaml")]
fn child_should_panic_above(db: TestDb) {
    db.client().batch_execute("SELECT 1").unwrap();
    panic!("the body's own panic");
}

#[pum::pum_test(config = "tests/data/shop/.pum.yaml")]
#[should_panic(expected = "the body's own panic")]
fn child_should_panic_below(db: TestDb) {
    db.client().batch_execute("SELECT 1").unwrap();
    panic!("the body's own panic");
}

#[pum::pum_test(config = "tests/data/shop/.pum.yaml")]
#[should_panic(expected = "the body's own panic")]
async fn child_should_panic_async(db: TestDb) {
    db.client().batch_execute("SELECT 1").unwrap();
    panic!("the body's own panic");
}

#[test]
fn should_panic_tests_fail_when_pum_cannot_set_them_up() {
    for name in [
        "child_should_panic_above",
        "child_should_panic_below",
        "child_should_panic_async",
    ] {
        let out = child(name);
        let text = text(&out);
        assert!(!out.status.success(), "{name} passed:\n{text}");
        assert!(
            text.contains("test did not panic as expected")
                && text.contains("127.0.0.1")
                && text.contains("is not the panic it expects"),
            "{name}:\n{text}"
        );
    }
    // In-process, the same for a broken fixture, and for a reference that fails inside
    // the body: run_should_panic returns instead of panicking, so the test would fail.
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/broken_fixture.sql");
    let shop =
        || TestSpec::new("x").config(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SHOP));
    pum::testing::run_should_panic(shop().fixture(&fixture), |_db: TestDb| -> () {
        panic!("the body's own panic")
    });
    let reference = shop().reference(ReferenceSpec::SqlFiles(vec![fixture.clone()]));
    let kept = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let name = std::sync::Arc::clone(&kept);
    pum::testing::run_should_panic(reference.clone(), move |db: TestDb| -> () {
        *name.lock().unwrap() = db.name().to_string();
        pum::assert_schema_eq!(db, db.reference());
        panic!("the body's own panic")
    });
    // That test failed, so its database was kept (PUM_TEST_KEEP=failed): this one's own.
    let kept = kept.lock().unwrap().clone();
    pum::drop_database(&support::spec(), &kept, &pum::DropOptions::if_exists()).unwrap();
    support::registry_client()
        .execute(
            "DELETE FROM pum_registry.databases WHERE name = $1",
            &[&kept],
        )
        .unwrap();
    // A sound setup and the body's panic: the expected panic.
    let sound = std::panic::catch_unwind(|| {
        pum::testing::run_should_panic(shop(), |_db: TestDb| -> () {
            panic!("the body's own panic")
        })
    });
    assert!(sound.is_err(), "the body's own panic goes through");

    // The failed builds are this test's: forgotten (the next run builds and fails again).
    pum::testing::drop_template(&shop().fixture(&fixture)).unwrap();
    pum::testing::drop_template(&reference).unwrap();
}

/// An error that is only `Debug`, as `#[test]` accepts it (no `Display` bound).
#[derive(Debug)]
struct OnlyDebug;

#[pum::pum_test(config = "tests/data/shop/.pum.yaml")]
fn errors_need_only_be_debug(db: TestDb) -> Result<(), OnlyDebug> {
    db.client().batch_execute("SELECT 1").map_err(|_| OnlyDebug)
}

#[test]
fn a_passing_should_panic_test_keeps_no_database() {
    // Its body's panic is its success: nothing is kept as a failure's (kept ones push real
    // failures out of PUM_TEST_KEEP_MAX).
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "harness_edges::child_should_panic_below",
            "--nocapture",
        ])
        .env("PUM_TEST_KEEP", "failed")
        .stdin(Stdio::null())
        .bounded_output();
    let text = text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("test result: ok. 1 passed"), "{text}");
    assert!(!text.contains("pum: kept the database"), "{text}");
}

// Roles made by test bodies (issue 21, item 6): `db.role()` makes one per test database,
// dropped with it, so the same body passes every time it runs.

/// Whether role `name` exists, waiting (at most 30 s) for it to be gone when `gone` is
/// wanted (test databases, and their roles, are dropped in the background).
fn role_exists_after_waiting(name: &str, gone: bool) -> bool {
    let mut client = spec().connect().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let exists: bool = client
            .query_one(
                "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)",
                &[&name],
            )
            .unwrap()
            .get(0);
        if exists != gone || std::time::Instant::now() > deadline {
            return exists;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_role_made_by_a_test_body_goes_with_its_database_and_the_body_passes_again() {
    let mut made = Vec::new();
    for _ in 0..2 {
        let mut this_run = None;
        pum::testing::run(
            TestSpec::new("harness_edges::roles_of_a_body").config(SHOP),
            |db: TestDb| {
                let reader = db.role("reader");
                assert!(reader.starts_with("reader_"), "{reader}");
                let mut client = db.client();
                client
                    .batch_execute(&format!("GRANT SELECT ON shop.customer TO \"{reader}\""))
                    .unwrap();
                let granted: bool = client
                    .query_one(
                        "SELECT has_table_privilege($1, 'shop.customer', 'SELECT') \
                         AND NOT has_table_privilege($1, 'shop.customer', 'INSERT')",
                        &[&reader],
                    )
                    .unwrap()
                    .get(0);
                assert!(granted, "{reader} may read shop.customer, and only that");
                let mark: Option<String> = client
                    .query_one(
                        "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles \
                         WHERE rolname = $1",
                        &[&reader],
                    )
                    .unwrap()
                    .get(0);
                assert_eq!(
                    mark.as_deref(),
                    Some(format!("pum test role of database {}", db.name()).as_str())
                );
                this_run = Some((reader, db.name().to_string()));
            },
        );
        let (reader, database) = this_run.expect("the body ran");
        assert!(
            !role_exists_after_waiting(&reader, true),
            "role {reader} outlived test database {database}"
        );
        assert!(!support::exists(&database), "{database} was dropped");
        made.push(reader);
    }
    assert_ne!(made[0], made[1], "each run's role has a name of its own");
}

/// A failed test's database is kept (`PUM_TEST_KEEP=failed`, the default) with its
/// roles; once it is dropped, the next sweep drops them.
#[test]
fn a_kept_database_keeps_its_roles_until_it_is_dropped() {
    if std::env::var("PUM_TEST_KEEP").is_ok_and(|keep| keep != "failed") {
        eprintln!("PUM_TEST_KEEP is set: nothing is kept as this test expects");
        return;
    }
    let made = std::sync::Arc::new(std::sync::Mutex::new((String::new(), String::new())));
    let sink = std::sync::Arc::clone(&made);
    let failed = std::panic::catch_unwind(move || {
        pum::testing::run(
            TestSpec::new("harness_edges::kept_roles").config(SHOP),
            move |db: TestDb| -> () {
                *sink.lock().unwrap() = (db.role("kept"), db.name().to_string());
                panic!("failing on purpose, so that the database is kept");
            },
        )
    });
    assert!(failed.is_err());
    let (role, database) = made.lock().unwrap().clone();
    // Dropped in the background if it were not kept: give it time to (wrongly) go.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(support::exists(&database), "{database} is kept");
    assert!(
        role_exists_after_waiting(&role, false),
        "{role} stays with it"
    );
    pum::drop_database(&spec(), &database, &pum::DropOptions::if_exists()).unwrap();
    support::registry_client()
        .execute(
            "DELETE FROM pum_registry.databases WHERE name = $1",
            &[&database],
        )
        .unwrap();
    // A new runner sweeps when it starts: this binary, running one short test.
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "harness_edges::child_async_passes"])
        .env("PUM_TEST_KEEP", "never")
        .stdin(Stdio::null())
        .bounded_output();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !role_exists_after_waiting(&role, true),
        "{role} went once its database was gone"
    );
}

#[test]
fn a_role_name_over_63_bytes_is_a_clear_panic() {
    let kept = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let name = std::sync::Arc::clone(&kept);
    let failure = std::panic::catch_unwind(|| {
        pum::testing::run(
            TestSpec::new("harness_edges::long_role").config(SHOP),
            move |db: TestDb| {
                *name.lock().unwrap() = db.name().to_string();
                db.role(&"r".repeat(60));
            },
        )
    })
    .unwrap_err();
    // The test failed as meant, so its database was kept (PUM_TEST_KEEP=failed): drop it.
    let kept = kept.lock().unwrap().clone();
    assert!(kept.starts_with("pum_t_long_role_"), "{kept}");
    pum::drop_database(&support::spec(), &kept, &pum::DropOptions::if_exists()).unwrap();
    support::registry_client()
        .execute(
            "DELETE FROM pum_registry.databases WHERE name = $1",
            &[&kept],
        )
        .unwrap();
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("role(\"rrrr") && message.contains("71 bytes long"),
        "{message}"
    );
}

#[test]
fn a_sweep_drops_marked_roles_whose_database_is_gone_and_nothing_else() {
    let unique = support::unique_name("roles");
    let gone = format!("pum_t_gone_{}", unique.trim_start_matches("pum_it_roles_"));
    let swept = format!("{unique}_swept");
    let live_db = support::ScratchDb::new("roles_live", "");
    let kept_alive = format!("{unique}_live");
    let unmarked = format!("{unique}_unmarked");
    let other_mark = format!("{unique}_other");
    let mut client = spec().connect().unwrap();
    client
        .batch_execute(&format!(
            "CREATE ROLE \"{swept}\" NOLOGIN;
             COMMENT ON ROLE \"{swept}\" IS 'pum test role of database {gone}';
             CREATE ROLE \"{kept_alive}\" NOLOGIN;
             COMMENT ON ROLE \"{kept_alive}\" IS 'pum test role of database {}';
             CREATE ROLE \"{unmarked}\" NOLOGIN;
             CREATE ROLE \"{other_mark}\" NOLOGIN;
             COMMENT ON ROLE \"{other_mark}\" IS 'a role of database {gone}';",
            live_db.spec().dbname()
        ))
        .unwrap();
    // A new runner sweeps when it starts: this binary, running one short test.
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "harness_edges::child_async_passes"])
        .env("PUM_TEST_KEEP", "never")
        .stdin(Stdio::null())
        .bounded_output();
    assert!(out.status.success(), "{}", text(&out));
    let survivors: Vec<String> = client
        .query(
            "SELECT rolname::text FROM pg_roles WHERE rolname LIKE $1 ORDER BY 1",
            &[&format!("{unique}\\_%")],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for role in &survivors {
        client
            .batch_execute(&format!("DROP ROLE \"{role}\""))
            .unwrap();
    }
    let mut expected = vec![kept_alive, other_mark, unmarked];
    expected.sort();
    assert_eq!(survivors, expected, "only {swept} goes");
}
