//! Upgrading databases people are using: a file outside the transaction that fails
//! leaves no INVALID index and no record, and a run waits for table locks only as long
//! as it is told, names the session in its way, and tries again when asked.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use pum::migrate::{NoProgress, Progress};
use pum::testing::TestDb;
use pum::{Error, MigrateOptions, Upgrader, Version};

use crate::support::project::Project;
use crate::support::strings;

const YAML: &str = "pum:\n  module: shop\n  migration_table_schema: shop\n";

/// 1.0.0 makes `shop.item` with two rows of the same code; 1.1.0 is `file`.
fn project(yaml: &str, file: &str) -> Project {
    Project::new(
        yaml,
        &[
            (
                "changelogs/1.0.0/01_item.sql",
                "CREATE SCHEMA IF NOT EXISTS shop;\n\
                 CREATE TABLE shop.item (id int PRIMARY KEY, code text);\n\
                 INSERT INTO shop.item VALUES (1, 'a'), (2, 'a'), (3, 'b');\n",
            ),
            ("changelogs/1.1.0/01_change.sql", file),
        ],
    )
}

fn up_to(version: &str) -> MigrateOptions {
    MigrateOptions {
        max_version: Some(Version::parse(version).unwrap()),
        ..MigrateOptions::default()
    }
}

fn recorded(db: &TestDb) -> Vec<String> {
    strings(
        db,
        "SELECT version::text FROM shop.pum_migrations ORDER BY date_installed",
    )
}

fn invalid_indexes(db: &TestDb) -> Vec<String> {
    strings(
        db,
        "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid",
    )
}

/// A second session holding `ACCESS EXCLUSIVE` on `shop.item` in an open transaction,
/// and its pid.
fn blocker(db: &TestDb, application_name: &str) -> (postgres::Client, i32) {
    let mut config = db.config();
    config.application_name(application_name);
    let mut client = config.connect(postgres::NoTls).unwrap();
    client
        .batch_execute("BEGIN; LOCK TABLE shop.item IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    (client, pid)
}

#[pum::pum_test]
fn a_failed_concurrent_index_is_dropped_and_nothing_recorded_and_a_rerun_succeeds(db: TestDb) {
    let project = project(
        YAML,
        "-- pum:no-transaction\n\
         CREATE UNIQUE INDEX CONCURRENTLY item_code ON shop.item (code);\n",
    );
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    upgrader.install(&up_to("1.0.0"), &mut NoProgress).unwrap();

    let err = upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err();
    match &err {
        Error::Statement {
            file, line, code, ..
        } => {
            assert!(file.ends_with("1.1.0/01_change.sql"), "{err}");
            assert_eq!(*line, 2, "{err}");
            assert_eq!(code.as_deref(), Some("23505"), "{err}");
        }
        other => panic!("not a statement error: {other}"),
    }
    assert!(err.to_string().contains("INVALID index"), "{err}");
    assert!(
        invalid_indexes(&db).is_empty(),
        "{:?}",
        invalid_indexes(&db)
    );
    assert_eq!(
        strings(
            &db,
            "SELECT count(*)::text FROM pg_class WHERE relname = 'item_code'"
        ),
        ["0"]
    );
    assert_eq!(recorded(&db), ["1.0.0"]);

    // The cause fixed, the same upgrade runs the file again and records it.
    db.client()
        .batch_execute("DELETE FROM shop.item WHERE id = 2")
        .unwrap();
    let report = upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(report.applied, ["1.1.0"]);
    assert_eq!(recorded(&db), ["1.0.0", "1.1.0"]);
    assert_eq!(
        strings(
            &db,
            "SELECT indisvalid::text FROM pg_index WHERE indexrelid = 'shop.item_code'::regclass"
        ),
        ["true"]
    );
}

#[pum::pum_test]
fn an_invalid_index_that_was_there_before_is_left_alone(db: TestDb) {
    let project = project(
        YAML,
        "-- pum:no-transaction\n\
         CREATE UNIQUE INDEX CONCURRENTLY item_code ON shop.item (code);\n",
    );
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    upgrader.install(&up_to("1.0.0"), &mut NoProgress).unwrap();
    // Someone else's failed build, before pum's: not pum's to drop.
    let _ = db
        .client()
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY theirs ON shop.item (code)");
    assert_eq!(invalid_indexes(&db), ["shop.theirs"]);
    upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert_eq!(invalid_indexes(&db), ["shop.theirs"]);
}

#[pum::pum_test]
fn a_lock_timeout_names_the_session_holding_the_lock_and_changes_nothing(db: TestDb) {
    let project = project(YAML, "ALTER TABLE shop.item ADD COLUMN note text;\n");
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    upgrader.install(&up_to("1.0.0"), &mut NoProgress).unwrap();
    let (blocker, pid) = blocker(&db, "report-blocker");

    let started = Instant::now();
    let err = upgrader
        .upgrade(
            &MigrateOptions {
                statement_lock_timeout: Some(Duration::from_millis(200)),
                ..MigrateOptions::default()
            },
            &mut NoProgress,
        )
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.sqlstate(), Some("55P03"), "{err}");
    let message = err.to_string();
    let user = strings(&db, "SELECT current_user::text").remove(0);
    for expected in [
        format!("pid {pid} "),
        format!("user {user}"),
        "application_name 'report-blocker'".to_string(),
        "idle in transaction".to_string(),
        "last query: SELECT pg_backend_pid()".to_string(),
        "1.1.0/01_change.sql".to_string(),
    ] {
        assert!(
            message.contains(&expected),
            "{expected:?} not in: {message}"
        );
    }
    drop(blocker);
    assert_eq!(recorded(&db), ["1.0.0"]);
    assert_eq!(
        strings(
            &db,
            "SELECT count(*)::text FROM information_schema.columns WHERE column_name = 'note'"
        ),
        ["0"]
    );
}

/// Sends every message to a channel.
struct Told(mpsc::Sender<String>);

impl Progress for Told {
    fn message(&mut self, text: &str) {
        let _ = self.0.send(text.to_string());
    }
}

#[pum::pum_test]
fn with_retries_the_run_succeeds_once_the_blocker_lets_go(db: TestDb) {
    let project = project(YAML, "ALTER TABLE shop.item ADD COLUMN note text;\n");
    let config = project.config();
    let spec = db.spec().clone();
    Upgrader::new(&config, &spec)
        .unwrap()
        .install(&up_to("1.0.0"), &mut NoProgress)
        .unwrap();
    let (mut blocker, _) = blocker(&db, "report-blocker");

    let (sender, messages) = mpsc::channel();
    let run = std::thread::spawn(move || {
        Upgrader::new(&config, &spec).unwrap().upgrade(
            &MigrateOptions {
                statement_lock_timeout: Some(Duration::from_millis(200)),
                lock_retries: Some(3),
                ..MigrateOptions::default()
            },
            &mut Told(sender),
        )
    });
    let first = messages.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(first.contains("retry 1 of 3"), "{first}");
    assert!(first.contains("report-blocker"), "{first}");
    blocker.batch_execute("COMMIT").unwrap();
    let report = run.join().unwrap().unwrap();
    assert_eq!(report.applied, ["1.1.0"]);
    assert_eq!(recorded(&db), ["1.0.0", "1.1.0"]);
}

#[pum::pum_test]
fn the_statement_timeout_of_the_configuration_ends_a_long_statement(db: TestDb) {
    let project = project(
        &format!("{YAML}  statement_timeout: 300ms\n"),
        "SELECT pg_sleep(5);\n",
    );
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    upgrader.install(&up_to("1.0.0"), &mut NoProgress).unwrap();
    let started = Instant::now();
    let err = upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.sqlstate(), Some("57014"), "{err}");
    assert!(
        err.to_string().contains("statement_timeout is 300ms"),
        "{err}"
    );
    assert_eq!(recorded(&db), ["1.0.0"]);
}

#[pum::pum_test]
fn nothing_blocking_the_timeouts_change_nothing(db: TestDb) {
    let project = project(YAML, "ALTER TABLE shop.item ADD COLUMN note text;\n");
    let config = project.config();
    let spec = db.spec().clone();
    let report = Upgrader::new(&config, &spec)
        .unwrap()
        .install(
            &MigrateOptions {
                statement_lock_timeout: Some(Duration::from_secs(5)),
                statement_timeout: Some(Duration::from_secs(30)),
                lock_retries: Some(3),
                ..MigrateOptions::default()
            },
            &mut NoProgress,
        )
        .unwrap();
    assert_eq!(report.applied, ["1.0.0", "1.1.0"]);
}
