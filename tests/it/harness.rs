//! #[pum_test] and the harness behind it, on pum's own server.

use crate::support::Bounded;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pum::testing::{Base, ReferenceSpec, TestDb, TestSpec};
use rstest::rstest;

use crate::support::{self, spec};

#[pum::pum_test(
    config = "tests/data/shop/.pum.yaml",
    fixtures("tests/data/customers.sql")
)]
fn migrated_database_with_fixtures(db: TestDb) {
    let mut client = db.client();
    let names: Vec<String> = client
        .query("SELECT name FROM shop.customer ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, ["Ada", "Grace"]);
    client
        .batch_execute("INSERT INTO shop.orders (customer_id) VALUES (1)")
        .unwrap();
    let srid: i32 = client
        .query_one("SELECT srid FROM shop.orders", &[])
        .unwrap()
        .get(0);
    assert_eq!(srid, 2056);
    assert!(
        db.name()
            .starts_with("pum_t_migrated_database_with_fixtures_")
    );
}

#[pum::pum_test(
    config = "tests/data/shop/.pum.yaml",
    parameters(SRID = 21781),
    max_version = "1.0.0"
)]
fn parameters_and_max_version(db: TestDb) -> Result<(), postgres::Error> {
    let mut client = db.client();
    let row = client.query_one(
        "SELECT column_default, (SELECT count(*) FROM shop.pum_migrations)::int \
         FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'srid'",
        &[],
    )?;
    assert_eq!(row.get::<_, String>(0), "21781");
    assert_eq!(row.get::<_, i32>(1), 1);
    Ok(())
}

#[pum::pum_test(
    config = "tests/data/shop/.pum.yaml",
    reference = "tests/data/shop_reference.sql"
)]
fn migrated_schema_equals_the_hand_written_reference(db: TestDb) {
    pum::assert_schema_eq!(db, db.reference());
}

#[pum::pum_test(
    config = "tests/data/shop/.pum.yaml",
    reference = "install:1.0.0",
    max_version = "1.0.0"
)]
fn reference_can_be_a_fresh_install(db: TestDb) {
    pum::assert_schema_eq!(db, db.reference());
    let report = db.check_against(&db.reference()).unwrap();
    // The migrations tables are the same too (both are installs at 1.0.0).
    assert!(report.is_empty(), "{report}");
}

#[pum::pum_test(
    config = "tests/data/shop/.pum.yaml",
    reference = "tests/data/shop_reference_wrong.sql"
)]
fn a_differing_reference_fails_naming_the_object(db: TestDb) {
    let reference = db.reference();
    let failure = std::panic::catch_unwind(|| pum::assert_schema_eq!(db, reference)).unwrap_err();
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message.starts_with("assert_schema_eq! failed: the schemas differ\n"),
        "{message}"
    );
    // Only on the left (the test's database): marked `-`, as the checker's report does.
    assert!(
        message.contains("\n  - shop.orders.note (only left)\n"),
        "{message}"
    );
    assert!(message.contains("~ shop.orders.qty"), "{message}");
    assert!(
        message.contains(&format!("dbname={}", db.name())),
        "{message}"
    );
    assert!(!message.contains("pum_migrations"), "{message}");
    // Ignoring columns leaves nothing to report.
    pum::assert_schema_eq!(db, db.reference(), ignore = ["columns"]);
}

// #[pum_test] goes above #[rstest], which then sees only the case parameters.
#[pum::pum_test(config = "tests/data/shop/.pum.yaml")]
#[rstest]
#[case(1)]
#[case(2)]
fn each_case_gets_its_own_database(#[case] orders: i64, db: TestDb) {
    let mut client = db.client();
    for _ in 0..orders {
        client
            .batch_execute(
                "INSERT INTO shop.customer (name) VALUES ('x');
                 INSERT INTO shop.orders (customer_id) SELECT max(id) FROM shop.customer",
            )
            .unwrap();
    }
    let count: i64 = client
        .query_one("SELECT count(*) FROM shop.orders", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, orders, "a fresh database per case");
}

#[pum::pum_test(config = "tests/data/shop/.pum.yaml")]
async fn async_bodies_run_on_a_tokio_runtime(db: TestDb) {
    assert!(tokio::runtime::Handle::try_current().is_ok());
    let name = db.name().to_string();
    let found = tokio::task::spawn_blocking(move || {
        pum::database_exists(&crate::support::spec(), &name).unwrap()
    })
    .await
    .unwrap();
    assert!(found);
}

#[pum::pum_test(base = "tests/data/shop_reference.sql")]
fn a_sql_base_without_changelogs(db: TestDb) {
    let tables: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'shop'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 2);
    assert!(!db.url().contains("password"));
}

/// A project of its own in a temporary directory, so its template is its own.
fn private_project(marker: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/shop");
    std::fs::write(
        dir.path().join(".pum.yaml"),
        std::fs::read_to_string(src.join(".pum.yaml")).unwrap(),
    )
    .unwrap();
    for version in ["1.0.0", "1.1.0"] {
        let to = dir.path().join("changelogs").join(version);
        std::fs::create_dir_all(&to).unwrap();
        for file in std::fs::read_dir(src.join("changelogs").join(version)).unwrap() {
            let file = file.unwrap();
            std::fs::copy(file.path(), to.join(file.file_name())).unwrap();
        }
    }
    std::fs::write(
        dir.path().join("changelogs/1.1.0/02_marker.sql"),
        format!("-- {marker}\nSELECT 1;\n"),
    )
    .unwrap();
    dir
}

fn builds(template: &str) -> i32 {
    support::registry_client()
        .query_opt(
            "SELECT builds FROM pum_registry.templates WHERE name = $1 AND status = 'ready'",
            &[&template],
        )
        .unwrap()
        .map_or(0, |r| r.get(0))
}

fn use_template(project: &std::path::Path) {
    pum::testing::run(
        TestSpec::new("harness::use_template").config(project.join(".pum.yaml")),
        |db: TestDb| {
            let n: i64 = db
                .client()
                .query_one("SELECT count(*) FROM shop.pum_migrations", &[])
                .unwrap()
                .get(0);
            assert_eq!(n, 2);
        },
    );
}

/// Run alone it checks a private project's template; the tests below also run it as a
/// child process (`PUM_IT_PROJECT` naming the project, `PUM_IT_MODE` what to do).
#[test]
fn child_uses_a_template() {
    let own;
    let project = match std::env::var("PUM_IT_PROJECT") {
        Ok(dir) => std::path::PathBuf::from(dir),
        Err(_) => {
            own = private_project("child alone");
            own.path().to_path_buf()
        }
    };
    let mode = std::env::var("PUM_IT_MODE").unwrap_or_default();
    pum::testing::run(
        TestSpec::new("harness::child_uses_a_template").config(project.join(".pum.yaml")),
        |db: TestDb| -> Result<(), String> {
            let n: i64 = db
                .client()
                .query_one("SELECT count(*) FROM shop.pum_migrations", &[])
                .unwrap()
                .get(0);
            assert_eq!(n, 2);
            match mode.as_str() {
                "panic" => panic!("failing on purpose"),
                "err" => Err("failing on purpose".to_string()),
                "sleep" => {
                    std::thread::sleep(Duration::from_secs(60));
                    Ok(())
                }
                "oid" => {
                    let oid: u32 = db
                        .client()
                        .query_one(
                            "SELECT oid FROM pg_database WHERE datname = current_database()",
                            &[],
                        )
                        .unwrap()
                        .get(0);
                    println!("pum-it-oid: {oid}");
                    Ok(())
                }
                _ => Ok(()),
            }
        },
    );
}

fn child(project: &std::path::Path, mode: &str, keep: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "harness::child_uses_a_template",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("PUM_IT_PROJECT", project)
        .env("PUM_IT_MODE", mode)
        .env("PUM_TEST_KEEP", keep)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn databases_of(pid: u32) -> Vec<String> {
    support::registry_client()
        .query(
            "SELECT r.name FROM pum_registry.databases r WHERE r.pid = $1 \
             UNION SELECT d.datname::text FROM pg_database d \
             WHERE d.datname LIKE 'pum\\_t\\_child\\_uses\\_a\\_template\\_%' \
               AND d.datname IN (SELECT name FROM pum_registry.databases WHERE pid = $1)",
            &[&(pid as i32)],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn a_template_is_built_once_across_threads_and_processes() {
    let project = private_project("built once");
    let spec = TestSpec::new("x").config(project.path().join(".pum.yaml"));
    let template = pum::testing::template_name(&spec).unwrap();
    assert_eq!(builds(&template), 0);
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let path = project.path().to_path_buf();
            std::thread::spawn(move || use_template(&path))
        })
        .collect();
    let children: Vec<_> = (0..3)
        .map(|_| child(project.path(), "", "failed").spawn().unwrap())
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for c in children {
        let pid = c.id();
        let out = crate::support::child::wait_output(c);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            databases_of(pid).is_empty(),
            "a green run leaves no database"
        );
    }
    assert_eq!(builds(&template), 1);

    // Untouched files: the same template, not rebuilt.
    assert_eq!(pum::testing::template_name(&spec).unwrap(), template);
    use_template(project.path());
    assert_eq!(builds(&template), 1);
    // One changed file: a new template.
    std::fs::write(
        project.path().join("changelogs/1.1.0/02_marker.sql"),
        "SELECT 2;\n",
    )
    .unwrap();
    let changed = pum::testing::template_name(&spec).unwrap();
    assert_ne!(changed, template);
    use_template(project.path());
    assert_eq!(builds(&changed), 1);
    pum::testing::drop_template(&spec).unwrap();
    assert!(!pum::database_exists(&support::spec(), &changed).unwrap());
    let old = TestSpec::new("x").config(project.path().join(".pum.yaml"));
    std::fs::write(
        project.path().join("changelogs/1.1.0/02_marker.sql"),
        "-- built once\nSELECT 1;\n",
    )
    .unwrap();
    pum::testing::drop_template(&old).unwrap();
}

/// The oids of the finished spares of `template`.
fn spare_oids(template: &str) -> Vec<u32> {
    support::registry_client()
        .query(
            "SELECT d.oid FROM pum_registry.databases r JOIN pg_database d ON d.datname = r.name \
             WHERE r.spare_of = $1 AND r.ready ORDER BY d.oid",
            &[&template],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Waits (up to 30 s) until `template` has `n` finished spares; their oids.
fn wait_for_spares(template: &str, n: usize) -> Vec<u32> {
    let started = std::time::Instant::now();
    loop {
        let oids = spare_oids(template);
        if oids.len() >= n || started.elapsed() > Duration::from_secs(30) {
            return oids;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_test_of_a_template_finds_a_spare_made_ahead_shared_across_processes() {
    let project = private_project("spares");
    let spec = TestSpec::new("x").config(project.path().join(".pum.yaml"));
    let template = pum::testing::template_name(&spec).unwrap();
    use_template(project.path());
    assert!(
        spare_oids(&template).is_empty(),
        "a template one test used gets no spare"
    );
    use_template(project.path());
    let spares = wait_for_spares(&template, 2);
    assert_eq!(spares.len(), 2, "two spares once a second test came");

    // Another process (as cargo nextest runs each test) takes one of them: its test's
    // database is a spare renamed, not a clone made while it waited.
    let out = child(project.path(), "oid", "failed").bounded_output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let oid: u32 = stdout
        .lines()
        .find_map(|l| l.split("pum-it-oid: ").nth(1))
        .unwrap_or_else(|| panic!("{stdout}"))
        .parse()
        .unwrap();
    assert!(
        spares.contains(&oid),
        "{oid} is not one of the spares {spares:?}"
    );
    assert!(
        !spare_oids(&template).contains(&oid),
        "taken spares are not spares"
    );

    // Dropping the template drops its spares.
    let left = wait_for_spares(&template, 2);
    pum::testing::drop_template(&spec).unwrap();
    assert!(spare_oids(&template).is_empty());
    let mut client = spec_client();
    for oid in left {
        let exists: bool = client
            .query_one(
                "SELECT EXISTS (SELECT FROM pg_database WHERE oid = $1)",
                &[&oid],
            )
            .unwrap()
            .get(0);
        assert!(!exists, "spare {oid} outlived its template");
    }
}

fn spec_client() -> postgres::Client {
    spec().connect().unwrap()
}

#[test]
fn a_bad_spares_setting_fails_the_test_with_one_line() {
    let project = private_project("bad spares");
    let out = child(project.path(), "", "failed")
        .env("PUM_TEST_SPARES", "many")
        .bounded_output();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("PUM_TEST_SPARES=\"many\": expected a whole number from 0 to 32"),
        "{stderr}"
    );
}

#[test]
fn failed_tests_keep_their_database_unless_told_not_to() {
    let project = private_project("kept");
    for (mode, keep, kept) in [
        ("panic", "failed", true),
        ("err", "failed", true),
        ("panic", "never", false),
        ("", "always", true),
    ] {
        let c = child(project.path(), mode, keep).spawn().unwrap();
        let pid = c.id();
        let out = crate::support::child::wait_output(c);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.success(), mode.is_empty(), "{mode}: {stderr}");
        let left = databases_of(pid);
        if kept {
            assert_eq!(left.len(), 1, "{mode}/{keep}: {stderr}");
            let command = if std::env::var("PUM_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
                "psql \"postgresql://".to_string()
            } else {
                format!("pum server psql {}   (or: psql \"postgresql://", left[0])
            };
            assert!(
                stderr.contains(&format!(
                    "pum: kept the database of test harness::child_uses_a_template: {}\n     {command}",
                    left[0]
                )),
                "{stderr}"
            );
            assert!(pum::database_exists(&spec(), &left[0]).unwrap());
            if mode == "err" {
                assert!(
                    stderr.contains("the test returned an error: failing on purpose\n"),
                    "{stderr}"
                );
            }
            pum::drop_database(&spec(), &left[0], &pum::DropOptions::default()).unwrap();
            support::registry_client()
                .execute(
                    "DELETE FROM pum_registry.databases WHERE name = $1",
                    &[&left[0]],
                )
                .unwrap();
        } else {
            assert!(left.is_empty(), "{mode}/{keep}: {left:?}");
        }
    }

    // Kept databases are capped: keeping one more beyond the cap drops the oldest.
    let first = child(project.path(), "", "always").spawn().unwrap();
    let first_pid = first.id();
    assert!(crate::support::child::wait_output(first).status.success());
    let first_db = databases_of(first_pid);
    assert_eq!(first_db.len(), 1);
    let second = child(project.path(), "", "always")
        .env("PUM_TEST_KEEP_MAX", "1")
        .spawn()
        .unwrap();
    let second_pid = second.id();
    assert!(crate::support::child::wait_output(second).status.success());
    assert!(
        !pum::database_exists(&spec(), &first_db[0]).unwrap(),
        "the oldest went"
    );
    let second_db = databases_of(second_pid);
    assert_eq!(second_db.len(), 1);
    pum::drop_database(&spec(), &second_db[0], &pum::DropOptions::default()).unwrap();
    support::registry_client()
        .execute(
            "DELETE FROM pum_registry.databases WHERE name = $1",
            &[&second_db[0]],
        )
        .unwrap();
    // A cap of 0 keeps nothing, and says so rather than "kept".
    let third = child(project.path(), "err", "failed")
        .env("PUM_TEST_KEEP_MAX", "0")
        .spawn()
        .unwrap();
    let third_pid = third.id();
    let out = crate::support::child::wait_output(third);
    let printed =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(!printed.contains("pum: kept the database"), "{printed}");
    assert!(
        printed.contains(
            "pum: the database of test harness::child_uses_a_template was not kept: \
             PUM_TEST_KEEP_MAX is 0"
        ),
        "{printed}"
    );
    assert!(databases_of(third_pid).is_empty());
    pum::testing::drop_template(&TestSpec::new("x").config(project.path().join(".pum.yaml")))
        .unwrap();
}

#[test]
fn a_killed_run_leaves_nothing_once_the_next_starts() {
    let project = private_project("killed");
    let mut sleeper = child(project.path(), "sleep", "failed").spawn().unwrap();
    let pid = sleeper.id();
    let started = Instant::now();
    let name = loop {
        let names = databases_of(pid);
        if let Some(name) = names.first() {
            break name.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the child made no database"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    sleeper.kill().unwrap(); // SIGKILL: no teardown runs
    crate::support::child::wait(&mut sleeper);
    // Left behind now (unless a process started by another test meanwhile swept it).

    // The next run (a new process) sweeps it at start.
    let out = child(project.path(), "", "failed").bounded_output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!pum::database_exists(&spec(), &name).unwrap());
    assert!(databases_of(pid).is_empty());
    pum::testing::drop_template(&TestSpec::new("x").config(project.path().join(".pum.yaml")))
        .unwrap();
}

#[test]
fn a_failing_template_build_fails_each_test_with_the_file_and_line() {
    let project = private_project("broken");
    std::fs::write(
        project.path().join("changelogs/1.1.0/02_marker.sql"),
        "SELECT 1;\nSELECT * FROM shop.nowhere;\n",
    )
    .unwrap();
    for _ in 0..2 {
        let failure = std::panic::catch_unwind(|| use_template(project.path())).unwrap_err();
        let message = failure.downcast_ref::<String>().unwrap();
        assert!(
            message.contains("changelogs/1.1.0/02_marker.sql:2:15: 42P01: relation \"shop.nowhere\" does not exist"),
            "{message}"
        );
    }
    let spec = TestSpec::new("x").config(project.path().join(".pum.yaml"));
    let template = pum::testing::template_name(&spec).unwrap();
    assert!(!pum::database_exists(&support::spec(), &template).unwrap());
    pum::testing::drop_template(&spec).unwrap();
}

#[test]
fn a_syntax_error_in_a_template_build_names_file_line_and_the_servers_message() {
    let project = private_project("typo");
    std::fs::write(
        project.path().join("changelogs/1.1.0/02_marker.sql"),
        "SELECT 1;\nCREATE tabel shop.x (id int);\n",
    )
    .unwrap();
    // Every test of the spec, in this process and in another, gets the same message.
    for _ in 0..2 {
        let failure = std::panic::catch_unwind(|| use_template(project.path())).unwrap_err();
        let message = failure.downcast_ref::<String>().unwrap();
        assert!(
            message.contains(
                "changelogs/1.1.0/02_marker.sql:2:8: 42601: syntax error at or near \"tabel\" \
                 (in: CREATE tabel shop.x (id int);)"
            ),
            "{message}"
        );
        assert!(!message.contains("savepoint"), "{message}");
    }
    let out = child(project.path(), "", "never").bounded_output();
    assert!(!out.status.success());
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        printed.contains("02_marker.sql:2:8: 42601: syntax error"),
        "{printed}"
    );
    // Another process is told the failure is remembered, and when it is tried again.
    assert!(
        printed.contains("(remembered: this build failed ")
            && printed.contains("the same files are built again 10 minutes after it failed"),
        "{printed}"
    );
    let spec = TestSpec::new("x").config(project.path().join(".pum.yaml"));
    pum::testing::drop_template(&spec).unwrap();
}

#[test]
fn base_and_reference_from_a_dump() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("shop.dump");
    let source = crate::support::ScratchDb::new(
        "harness_dump",
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/shop_reference.sql"
        ))
        .unwrap(),
    );
    pum::dump(&source.spec(), &dump, &pum::DumpOptions::default()).unwrap();
    let spec = TestSpec::new("harness::base_and_reference_from_a_dump")
        .base(Base::Dump(dump.clone()))
        .reference(ReferenceSpec::Dump(dump.clone()));
    pum::testing::run(spec, |db: TestDb| {
        pum::assert_schema_eq!(db, db.reference());
        pum::assert_schema_eq!(db, source.spec().clone());
    });
}

#[test]
fn a_half_built_template_is_never_trusted() {
    let project = private_project("half built");
    let spec = TestSpec::new("x").config(project.path().join(".pum.yaml"));
    let template = pum::testing::template_name(&spec).unwrap();
    let out = child(project.path(), "", "never").bounded_output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(builds(&template), 1);

    // Dropped by hand, then a rebuild killed right after CREATE DATABASE: an empty
    // database of the template's name, and the registry still saying "ready".
    let mut client = support::spec().connect().unwrap();
    for statement in [
        format!("ALTER DATABASE {template} IS_TEMPLATE false"),
        format!("DROP DATABASE {template}"),
        format!("CREATE DATABASE {template}"),
    ] {
        client.batch_execute(&statement).unwrap();
    }
    let out = child(project.path(), "", "never").bounded_output();
    assert!(
        out.status.success(),
        "the next run rebuilds instead of cloning the empty leftover: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(builds(&template), 2);
    pum::testing::drop_template(&spec).unwrap();
}

/// Run alone it runs two tests at once on the test server; the budget test below runs it
/// as a child process with `PUM_IT_PARALLEL` tests at once on a server of its own.
#[test]
fn child_runs_tests_in_parallel() {
    let own;
    let project = match std::env::var("PUM_IT_PROJECT") {
        Ok(dir) => std::path::PathBuf::from(dir),
        Err(_) => {
            own = private_project("parallel alone");
            own.path().to_path_buf()
        }
    };
    let threads: usize = std::env::var("PUM_IT_PARALLEL")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                pum::testing::run(
                    TestSpec::new("harness::child_runs_tests_in_parallel")
                        .config(project.join(".pum.yaml")),
                    |db: TestDb| {
                        // Two sessions at once, as a test with a client and a pool might.
                        let mut a = db.client();
                        let mut b = db.client();
                        a.batch_execute("SELECT pg_sleep(0.05)").unwrap();
                        b.batch_execute("SELECT 1").unwrap();
                    },
                );
            });
        }
    });
}

#[test]
fn many_test_processes_queue_for_a_small_server_instead_of_failing() {
    let (_root, options) = crate::support::server::server_dir();
    let _stop = crate::support::server::StopOnDrop(options.clone());
    let dir = options.dir.clone().unwrap();
    let project = private_project("small server");
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "harness::child_runs_tests_in_parallel",
                    "--nocapture",
                ])
                .env("PUM_IT_PROJECT", project.path())
                .env("PUM_IT_PARALLEL", "6")
                .env("PUM_SERVER_DIR", &dir)
                .env("PUM_SERVER_MAX_CONNECTIONS", "24")
                .env("PUM_SERVER_IDLE", "2")
                .env_remove("PUM_TEST_DATABASE_URL")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = crate::support::child::wait_output(child);
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{printed}");
        assert!(!printed.contains("too many clients"), "{printed}");
    }
    let log = crate::support::server::log(&options);
    assert!(!log.contains("too many clients"), "{log}");
}

#[pum::pum_test(
    config = "tests/data/shop/.pum.yaml",
    max_version = "1.0.0",
    reference = "install"
)]
fn an_upgrade_is_compared_with_a_fresh_install_of_every_version(db: TestDb) {
    // The reference is every version, whatever the test's own maximum: before the upgrade
    // the database lacks 1.1.0 (the bug this reproduces compared it with 1.0.0 and passed).
    let before = db.check_against(&db.reference()).unwrap();
    assert!(!before.is_empty(), "the reference must hold 1.1.0");
    db.upgrade_to("1.0.0").unwrap();
    assert!(!db.check_against(&db.reference()).unwrap().is_empty());
    // Versions the changelogs do not have are errors, not silent successes.
    for missing in ["9.9.9", "1.0.5"] {
        let err = db.upgrade_to(missing).unwrap_err().to_string();
        assert!(
            err.ends_with(&format!(
                "upgrade_to(\"{missing}\"): there is no version {missing} in the changelogs \
                 (versions: 1.0.0, 1.1.0)"
            )),
            "{err}"
        );
    }
    db.upgrade().unwrap();
    pum::assert_schema_eq!(db, db.reference());
    let err = db.upgrade_to("1.0.0").unwrap_err().to_string();
    assert!(
        err.ends_with("the database is at 1.1.0, above it; an upgrade never goes down"),
        "{err}"
    );
    let recorded: Vec<String> = db
        .client()
        .query(
            "SELECT version FROM shop.pum_migrations ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(recorded, ["1.0.0", "1.1.0"]);
}

#[pum::pum_test]
fn upgrading_a_test_without_changelogs_says_so(db: TestDb) {
    let err = db.upgrade().unwrap_err().to_string();
    assert!(
        err.ends_with("it has no changelogs to upgrade with (give config = \"…\")"),
        "{err}"
    );
    assert!(
        db.upgrade_to("x")
            .unwrap_err()
            .to_string()
            .contains("invalid version")
    );
}

#[pum::pum_test(
    config = "tests/data/shop/.pum.yaml",
    reference = "tests/data/shop_reference_wrong.sql"
)]
fn a_failed_schema_assertion_points_at_the_test(db: TestDb) {
    let reference = db.reference();
    let line = line!() + 1;
    let at = panic_location(|| pum::assert_schema_eq!(db, reference));
    assert_eq!(
        at,
        Some(("tests/it/harness.rs".to_string(), line)),
        "the failure is reported at line {line} of the test, not inside pum"
    );
}

#[test]
fn templates_are_built_with_the_roles_the_project_declares() {
    // A role nobody made yet: the harness creates it as pum install does, so the
    // changelog that grants to it works.
    let prefix = support::unique_name("r");
    let viewer = format!("{prefix}_viewer");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".pum.yaml"),
        format!(
            "pum: {{module: roleshop}}\n\
             roles: [{{name: {viewer}, permissions: [{{type: read, schemas: [roleshop]}}]}}]\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("changelogs/1.0.0")).unwrap();
    std::fs::write(
        dir.path().join("changelogs/1.0.0/01.sql"),
        format!(
            "CREATE SCHEMA roleshop;\nCREATE TABLE roleshop.t (id int);\n\
             CREATE TABLE roleshop.private (id int);\n\
             GRANT INSERT ON roleshop.private TO {viewer};\n"
        ),
    )
    .unwrap();
    let test = TestSpec::new("harness::roles").config(dir.path().join(".pum.yaml"));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&seen);
    let check = viewer.clone();
    pum::testing::run(test.clone(), move |db: TestDb| {
        let row = db
            .client()
            .query_one(
                "SELECT has_table_privilege($1, 'roleshop.t', 'SELECT'), \
                 has_table_privilege($1, 'roleshop.private', 'INSERT')",
                &[&check],
            )
            .unwrap();
        sink.lock()
            .unwrap()
            .push((row.get::<_, bool>(0), row.get::<_, bool>(1)));
    });
    assert_eq!(*seen.lock().unwrap(), [(true, true)]);
    let template = pum::testing::template_name(&test).unwrap();
    pum::testing::drop_template(&test).unwrap();
    assert!(!pum::database_exists(&spec(), &template).unwrap());
    let _cleanup = support::project::RolesCleanup {
        prefix,
        dbs: Vec::new(),
    };
}

/// Item 6: a template built while a declared role is missing and one built once it exists
/// hold the same schema and privileges, so a reference comparison passes whatever roles
/// the server had before (it used to depend on the order tests ran in).
#[test]
fn a_reference_comparison_does_not_depend_on_which_roles_exist() {
    let prefix = support::unique_name("r");
    let viewer = format!("{prefix}_viewer");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".pum.yaml"),
        format!(
            "pum: {{module: roleref}}\n\
             roles: [{{name: {viewer}, permissions: [{{type: read, schemas: [roleref]}}]}}]\n"
        ),
    )
    .unwrap();
    let changelog = dir.path().join("changelogs/1.0.0/01.sql");
    std::fs::create_dir_all(changelog.parent().unwrap()).unwrap();
    let schema = |comment: &str| {
        format!(
            "-- {comment}\nCREATE SCHEMA roleref;\nCREATE TABLE roleref.t (id int);\n\
             CREATE TABLE roleref.private (id int);\n\
             GRANT INSERT ON roleref.private TO {viewer};\n"
        )
    };
    std::fs::write(&changelog, schema("first")).unwrap();
    let _cleanup = support::project::RolesCleanup {
        prefix,
        dbs: Vec::new(),
    };
    let role_exists = |client: &mut postgres::Client| -> bool {
        client
            .query_one(
                "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)",
                &[&viewer],
            )
            .unwrap()
            .get(0)
    };
    let privileges = |db: &TestDb| -> (bool, bool, bool) {
        let row = db
            .client()
            .query_one(
                "SELECT has_table_privilege($1, 'roleref.t', 'SELECT'), \
                 has_table_privilege($1, 'roleref.private', 'INSERT'), \
                 has_table_privilege($1, 'roleref.private', 'SELECT')",
                &[&viewer],
            )
            .unwrap();
        (row.get(0), row.get(1), row.get(2))
    };
    assert!(
        !role_exists(&mut spec().connect().unwrap()),
        "{viewer} is new"
    );
    let test = TestSpec::new("harness::roles_and_references")
        .config(dir.path().join(".pum.yaml"))
        .reference(ReferenceSpec::FreshInstall(None));
    let first_template = pum::testing::template_name(&test).unwrap();
    let mut compared = false;
    pum::testing::run(test.clone(), |first: TestDb| {
        // Built when the role did not exist; it does now.
        assert!(role_exists(&mut first.client()));
        pum::assert_schema_eq!(first, first.reference());
        // Same schema, another key (a changed comment): built with the role already there.
        std::fs::write(&changelog, schema("second")).unwrap();
        let second_template = pum::testing::template_name(&test).unwrap();
        assert_ne!(second_template, first_template);
        pum::testing::run(test.clone(), |second: TestDb| {
            pum::assert_schema_eq!(second, second.reference());
            // Privileges compared too (nothing ignored), both ways.
            pum::assert_schema_eq!(second, first.spec().clone());
            pum::assert_schema_eq!(first.spec().clone(), second);
            assert_eq!(
                privileges(&first),
                (true, true, true),
                "read on the schema, and the grant"
            );
            assert_eq!(privileges(&second), privileges(&first));
            compared = true;
        });
        pum::testing::drop_template(&test).unwrap();
    });
    assert!(compared);
    std::fs::write(&changelog, schema("first")).unwrap();
    pum::testing::drop_template(&test).unwrap();
}

#[test]
fn a_role_created_twice_is_said_to_be_the_servers() {
    // A changelog's CREATE ROLE: the first build makes the role; the next build (a file
    // changed) finds it and says why, and what to write instead.
    let prefix = support::unique_name("r");
    let role = format!("{prefix}_made");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".pum.yaml"), "pum: {module: rolemade}\n").unwrap();
    std::fs::create_dir_all(dir.path().join("changelogs/1.0.0")).unwrap();
    let changelog = dir.path().join("changelogs/1.0.0/01.sql");
    std::fs::write(&changelog, format!("CREATE ROLE {role};\n")).unwrap();
    let _cleanup = support::project::RolesCleanup {
        prefix,
        dbs: Vec::new(),
    };
    let test = TestSpec::new("harness::role_made").config(dir.path().join(".pum.yaml"));
    pum::testing::run(test.clone(), |_db: TestDb| {});
    pum::testing::drop_template(&test).unwrap();
    std::fs::write(&changelog, format!("-- changed\nCREATE ROLE {role};\n")).unwrap();
    let failure =
        std::panic::catch_unwind(|| pum::testing::run(test.clone(), |_db: TestDb| {})).unwrap_err();
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message.contains(&format!("42710: role \"{role}\" already exists"))
            && message.contains("roles are the server's and outlive templates and test databases")
            && message.contains("declare it in .pum.yaml"),
        "{message}"
    );
    pum::testing::drop_template(&test).unwrap();

    // The same from a test body that returns the error.
    use pum::testing::TestResult;
    let mut client = spec().connect().unwrap();
    let again: Result<(), postgres::Error> = Err(client
        .batch_execute(&format!("CREATE ROLE {role}"))
        .unwrap_err());
    let text = again.failure().unwrap();
    assert!(
        text.contains("ERROR 42710") && text.contains("roles are the server's"),
        "{text}"
    );
}

/// Where `f`'s panic is reported (file and line), when it panics on this thread.
pub(crate) fn panic_location(f: impl FnOnce()) -> Option<(String, u32)> {
    let location = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = std::sync::Arc::clone(&location);
    let me = std::thread::current().id();
    let previous = std::sync::Arc::new(std::panic::take_hook());
    let others = std::sync::Arc::clone(&previous);
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == me {
            *seen.lock().unwrap() = info.location().map(|l| (l.file().to_string(), l.line()));
        } else {
            others(info);
        }
    }));
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let _ = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| previous(info)));
    assert!(failed.is_err(), "it was meant to panic");
    location.lock().unwrap().clone()
}

#[pum::pum_test]
fn failures_point_at_the_test_and_errors_read_as_the_server_said(db: TestDb) {
    let here = |line: u32| Some(("tests/it/harness.rs".to_string(), line));
    let line = line!() + 1;
    let at = panic_location(|| db.execute_file("tests/data/no_such_file.sql"));
    assert_eq!(at, here(line));
    // A body that returns an error, and a spec that cannot be built, fail at the call.
    let line = line!() + 2;
    let at = panic_location(|| {
        pum::testing::run(TestSpec::new("harness::err_body"), |_db: TestDb| {
            Err::<(), _>("no")
        })
    });
    assert_eq!(at, here(line));
    let line = line!() + 2;
    let at = panic_location(|| {
        pum::testing::run(
            TestSpec::new("harness::bad_spec").fixture("tests/data/no_such_fixture.sql"),
            |_db: TestDb| {},
        )
    });
    assert_eq!(at, here(line));

    // What a returned error says: the server's SQLSTATE, message, detail and hint.
    use pum::testing::TestResult;
    let mut client = db.client();
    client
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
        .unwrap();
    let failed = client
        .batch_execute("INSERT INTO t VALUES (1)")
        .unwrap_err();
    let expected = "the test returned an error: ERROR 23505: duplicate key value violates \
                    unique constraint \"t_pkey\" (detail: Key (id)=(1) already exists.)";
    let again = client
        .batch_execute("INSERT INTO t VALUES (1)")
        .unwrap_err();
    let result: Result<(), postgres::Error> = Err(failed);
    assert_eq!(result.failure().as_deref(), Some(expected));
    let boxed: Result<(), Box<dyn std::error::Error>> = Err(Box::new(again));
    assert_eq!(boxed.failure().as_deref(), Some(expected));
    // An error that is only Debug, as #[test] accepts it.
    #[derive(Debug)]
    struct OnlyDebug(#[allow(dead_code)] u8);
    let odd: Result<(), OnlyDebug> = Err(OnlyDebug(7));
    assert_eq!(
        odd.failure().as_deref(),
        Some("the test returned an error: OnlyDebug(7)")
    );
}

#[test]
fn fixtures_are_read_as_changelogs_a_bom_dropped_a_nul_located() {
    let project = private_project("fixtures");
    let fixture = project.path().join("fixture.sql");
    let run = || {
        pum::testing::run(
            TestSpec::new("harness::fixtures")
                .config(project.path().join(".pum.yaml"))
                .fixture(&fixture),
            |db: TestDb| {
                let n: i64 = db
                    .client()
                    .query_one("SELECT count(*) FROM fixed", &[])
                    .unwrap()
                    .get(0);
                assert_eq!(n, 1);
            },
        )
    };
    std::fs::write(
        &fixture,
        "\u{feff}CREATE TABLE fixed (x int);\nINSERT INTO fixed VALUES (1);\n",
    )
    .unwrap();
    run();
    pum::testing::drop_template(
        &TestSpec::new("x")
            .config(project.path().join(".pum.yaml"))
            .fixture(&fixture),
    )
    .unwrap();
    std::fs::write(
        &fixture,
        "CREATE TABLE fixed (x int);\nINSERT INTO fixed VALUES (1);\nSELECT '\0';\n",
    )
    .unwrap();
    let failure = std::panic::catch_unwind(run).unwrap_err();
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(message.contains("fixture.sql:3:9: a NUL byte"), "{message}");
}

/// Item 11: a build error names the file as the attribute wrote it (relative to the
/// crate: `tests/data/…:3:1`), never the absolute path the macro hands the runtime, for a
/// fixture, a base file and a reference file alike.
#[test]
fn build_errors_name_files_as_the_attribute_wrote_them() {
    // What #[pum_test(fixtures("…"))] and the others hand the runtime: absolute paths.
    let crate_path = |path: &str| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    // Each failed build forgotten before and after (a remembered one is replayed).
    let failure_of = |spec: TestSpec, reference: bool| -> String {
        pum::testing::drop_template(&spec).unwrap();
        let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pum::testing::run(spec.clone(), |db: TestDb| {
                if reference {
                    db.reference();
                }
            })
        }))
        .unwrap_err();
        pum::testing::drop_template(&spec).unwrap();
        failure
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default()
    };
    let cases = [
        (
            failure_of(
                TestSpec::new("harness::bad_fixture")
                    .fixture(crate_path("tests/data/build_errors/fixture.sql")),
                false,
            ),
            "tests/data/build_errors/fixture.sql:3:13: 42P01",
        ),
        (
            failure_of(
                TestSpec::new("harness::bad_base").base(Base::SqlFiles(vec![crate_path(
                    "tests/data/build_errors/base.sql",
                )])),
                false,
            ),
            "tests/data/build_errors/base.sql:3:1: 42601",
        ),
        (
            failure_of(
                TestSpec::new("harness::bad_reference").reference(ReferenceSpec::SqlFiles(vec![
                    crate_path("tests/data/build_errors/reference.sql"),
                ])),
                true,
            ),
            "tests/data/build_errors/reference.sql:3:25: 42703",
        ),
    ];
    for (message, expected) in cases {
        assert!(message.contains(expected), "{expected} in: {message}");
        assert!(
            !message.contains(env!("CARGO_MANIFEST_DIR")),
            "no absolute path in: {message}"
        );
    }
}
