//! `pum upgrade` on a database people are using: `--lock-timeout`, `--lock-retries`,
//! `--statement-timeout`, also with `--databases`, and a no-transaction file that fails.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::output::{ok, stderr};
use crate::support::{Bounded, ScratchDb, spec, unique_name};

/// 1.0.0 makes `live.item` with two rows of one code; 1.1.0 is `file`.
fn project(file: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(".pum.yaml", "pum: {module: live}\n");
    write(
        "changelogs/1.0.0/01_item.sql",
        "CREATE SCHEMA live;\nCREATE TABLE live.item (id int PRIMARY KEY, code text);\n\
         INSERT INTO live.item VALUES (1, 'a'), (2, 'a');\n",
    );
    write("changelogs/1.1.0/01_change.sql", file);
    dir
}

fn pum(dir: &Path, db: &ScratchDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pum"))
        .current_dir(dir)
        .args(["-p", &db.spec().url(), "-d", &dir.display().to_string()])
        .args(args)
        .bounded_output()
}

/// A database at 1.0.0 of `project`.
fn installed(dir: &Path, what: &str) -> ScratchDb {
    let db = ScratchDb::new(what, "");
    ok(&pum(dir, &db, &["install", "-u", "1.0.0"]));
    db
}

fn versions(db: &ScratchDb) -> Vec<String> {
    db.strings("SELECT version::text FROM public.pum_migrations ORDER BY date_installed")
}

/// A session of `application_name` holding ACCESS EXCLUSIVE on `live.item`; its pid.
fn blocker(db: &ScratchDb, application_name: &str) -> (postgres::Client, i32) {
    let mut client = db.client();
    client
        .batch_execute(&format!(
            "SET application_name = '{application_name}'; BEGIN; \
             LOCK TABLE live.item IN ACCESS EXCLUSIVE MODE"
        ))
        .unwrap();
    let pid = client
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    (client, pid)
}

#[test]
fn a_lock_timeout_fails_fast_naming_the_blocker_and_records_nothing() {
    let dir = project("ALTER TABLE live.item ADD COLUMN note text;\n");
    let db = installed(dir.path(), "live_lock");
    let (blocker, pid) = blocker(&db, "nightly-report");
    let started = Instant::now();
    let out = pum(dir.path(), &db, &["upgrade", "--lock-timeout", "200ms"]);
    let elapsed = started.elapsed();
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}: {text}");
    for expected in [
        format!("pid {pid} "),
        "user ".to_string(),
        "application_name 'nightly-report'".to_string(),
        "idle in transaction".to_string(),
        "55P03".to_string(),
        "changelogs/1.1.0/01_change.sql:1".to_string(),
    ] {
        assert!(text.contains(&expected), "{expected:?} not in: {text}");
    }
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    drop(blocker);
    assert_eq!(versions(&db), ["1.0.0"]);
}

#[test]
fn lock_retries_try_again_and_succeed_once_the_blocker_lets_go() {
    let dir = project("ALTER TABLE live.item ADD COLUMN note text;\n");
    let db = installed(dir.path(), "live_retry");
    let (mut blocker, _) = blocker(&db, "nightly-report");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pum"))
        .current_dir(dir.path())
        .args([
            "-p",
            &db.spec().url(),
            "-d",
            &dir.path().display().to_string(),
        ])
        .args(["upgrade", "--lock-timeout", "200ms", "--lock-retries", "3"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (sender, lines) = mpsc::channel();
    let pipe = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    // Released once pum says it will try again, not after a guessed delay.
    let first = lines.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(first.contains("trying again"), "{first}");
    assert!(first.contains("retry 1 of 3"), "{first}");
    assert!(first.contains("nightly-report"), "{first}");
    blocker.batch_execute("COMMIT").unwrap();
    let status = crate::support::child::wait(&mut child);
    let rest: Vec<String> = lines.try_iter().collect();
    assert!(status.success(), "{first}\n{}", rest.join("\n"));
    assert_eq!(versions(&db), ["1.0.0", "1.1.0"]);
}

#[test]
fn a_statement_timeout_ends_a_long_statement_and_records_nothing() {
    let dir = project("SELECT pg_sleep(5);\n");
    let db = installed(dir.path(), "live_stmt");
    let started = Instant::now();
    let out = pum(
        dir.path(),
        &db,
        &["upgrade", "--statement-timeout", "300ms"],
    );
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(started.elapsed() < Duration::from_secs(4), "{text}");
    assert!(text.contains("57014"), "{text}");
    assert!(text.contains("statement_timeout is 300ms"), "{text}");
    assert_eq!(versions(&db), ["1.0.0"]);
}

#[test]
fn bad_durations_are_one_line_and_exit_2_with_nothing_changed() {
    let dir = project("ALTER TABLE live.item ADD COLUMN note text;\n");
    let db = installed(dir.path(), "live_bad");
    for args in [
        ["upgrade", "--lock-timeout", "abc"],
        ["upgrade", "--lock-timeout", "-5s"],
        ["upgrade", "--statement-timeout", "5"],
        ["upgrade", "--lock-retries", "x"],
    ] {
        let out = pum(dir.path(), &db, &args);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert_eq!(text.trim().lines().count(), 1, "{args:?}: {text}");
        assert!(text.contains(args[1]), "{args:?}: {text}");
    }
    let bare = stderr(&pum(dir.path(), &db, &["upgrade", "--lock-timeout", "60"]));
    assert!(bare.contains("--migration-lock-wait"), "{bare}");
    assert_eq!(versions(&db), ["1.0.0"]);
}

#[test]
fn a_fleet_upgrade_takes_the_lock_timeout_and_names_the_blocker() {
    let dir = project("ALTER TABLE live.item ADD COLUMN note text;\n");
    let prefix = unique_name("live_fleet");
    let dbs: Vec<ScratchDb> = (0..2)
        .map(|n| {
            let db = ScratchDb::named(format!("{prefix}{n}"));
            pum::create_database(&spec(), &db.name, &Default::default()).unwrap();
            ok(&pum(dir.path(), &db, &["install", "-u", "1.0.0"]));
            db
        })
        .collect();
    let (blocker, pid) = blocker(&dbs[1], "nightly-report");
    let pattern = format!("{}%", prefix.replace('_', "\\_"));
    let out = Command::new(env!("CARGO_BIN_EXE_pum"))
        .current_dir(dir.path())
        .args(["-p", &spec().url(), "-d", &dir.path().display().to_string()])
        .args([
            "--databases",
            &pattern,
            "upgrade",
            "--lock-timeout",
            "200ms",
        ])
        .bounded_output();
    let text = format!("{}{}", crate::support::output::stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("pid {pid} ")), "{text}");
    drop(blocker);
    assert_eq!(versions(&dbs[0]), ["1.0.0", "1.1.0"]);
    assert_eq!(versions(&dbs[1]), ["1.0.0"]);
}

#[test]
fn a_failed_no_transaction_file_leaves_no_invalid_index_and_a_rerun_continues() {
    let dir = project(
        "-- pum:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY item_code ON live.item (code);\n",
    );
    let db = installed(dir.path(), "live_cic");
    let out = pum(dir.path(), &db, &["upgrade"]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("changelogs/1.1.0/01_change.sql:2"), "{text}");
    assert!(text.contains("23505"), "{text}");
    assert_eq!(
        db.strings("SELECT count(*)::text FROM pg_index WHERE NOT indisvalid"),
        ["0"]
    );
    assert_eq!(versions(&db), ["1.0.0"]);
    db.client()
        .batch_execute("DELETE FROM live.item WHERE id = 2")
        .unwrap();
    ok(&pum(dir.path(), &db, &["upgrade"]));
    assert_eq!(versions(&db), ["1.0.0", "1.1.0"]);
}

#[test]
fn test_and_upgrade_takes_the_lock_timeout_for_prod() {
    let dir = project("ALTER TABLE live.item ADD COLUMN note text;\n");
    let prod = installed(dir.path(), "live_tau");
    let test = ScratchDb::new("live_taut", "");
    // A reader in an open transaction: pg_dump may read alongside it, ALTER TABLE may not.
    let mut reader = prod.client();
    reader
        .batch_execute(
            "SET application_name = 'long-reader'; BEGIN; SELECT count(*) FROM live.item",
        )
        .unwrap();
    let out = pum(
        dir.path(),
        &prod,
        &[
            "test-and-upgrade",
            "--test",
            &test.spec().url(),
            "--yes",
            "--lock-timeout",
            "300ms",
        ],
    );
    let text = stderr(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("Upgrade prod"), "{text}");
    assert!(text.contains("application_name 'long-reader'"), "{text}");
    reader.batch_execute("COMMIT").unwrap();
    assert_eq!(versions(&test), ["1.0.0", "1.1.0"]);
    assert_eq!(versions(&prod), ["1.0.0"]);
}
