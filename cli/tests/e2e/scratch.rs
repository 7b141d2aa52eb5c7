//! Scratch databases of `pum check --changelogs` (and `pum new --autogenerate`): a killed
//! run leaves its scratch database behind; the next run drops it, never one of a live run.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::eventually;
use crate::support::{self, ScratchDb};

/// A project whose one file sleeps `seconds` while role `slow` exists (roles are seen
/// from every database, so the test decides from outside when an install is slow).
fn slow_project(slow: &str, seconds: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".pum.yaml"),
        "pum: {module: slow, migration_table_schema: slow_sys}\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("changelogs/1.0.0")).unwrap();
    std::fs::write(
        dir.path().join("changelogs/1.0.0/01_table.sql"),
        format!(
            "CREATE SCHEMA slow;\nCREATE TABLE slow.t (id int);\n\
             SELECT pg_sleep({seconds}) FROM pg_roles WHERE rolname = '{slow}';\n"
        ),
    )
    .unwrap();
    dir
}

fn pum(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pum"));
    command.current_dir(dir).args(args);
    command
}

fn superuser(sql: &str) {
    support::spec()
        .connect()
        .unwrap()
        .batch_execute(sql)
        .unwrap();
}

/// The scratch databases of process `pid`.
fn scratch_of(pid: u32) -> Vec<String> {
    let mut client = support::spec().connect().unwrap();
    client
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE $1",
            &[&format!("pum\\_check\\_{pid}\\_%")],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Starts `pum check --changelogs` and waits until its install sleeps in its scratch
/// database; returns the child and the database's name.
fn start_slow_check(dir: &Path, url: &str) -> (Child, String) {
    let child = pum(dir, &["-p", url, "check", "--changelogs"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let name = eventually(Duration::from_secs(60), "the scratch database", || {
        scratch_of(pid).pop()
    });
    let mut client = support::spec().connect().unwrap();
    eventually(Duration::from_secs(60), "the install to sleep", || {
        let sleeping: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = $1 AND query LIKE '%pg_sleep%' AND state = 'active'",
                &[&name],
            )
            .unwrap()
            .get(0);
        (sleeping > 0).then_some(())
    });
    (child, name)
}

fn wait_within(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    eventually(limit, "pum to end", || child.try_wait().unwrap())
}

#[test]
fn a_killed_check_leaves_a_scratch_database_that_the_next_check_drops() {
    let slow = support::unique_name("slow");
    let dir = slow_project(&slow, 60);
    let db = ScratchDb::new("scratch_killed", "");
    let url = db.spec().url();
    let out = support::output_within(
        &mut pum(dir.path(), &["-p", &url, "install"]),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    superuser(&format!("CREATE ROLE {slow}"));
    let (mut child, orphan) = start_slow_check(dir.path(), &url);
    child.kill().unwrap();
    wait_within(&mut child, Duration::from_secs(30));
    superuser(&format!("DROP ROLE {slow}"));
    assert!(support::exists(&orphan), "the killed run left {orphan}");

    // Its session still sleeps in the orphan: the sweep does not wait for it to go.
    let out = support::output_within(
        &mut pum(dir.path(), &["-p", &url, "check", "--changelogs"]),
        Duration::from_secs(120),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!support::exists(&orphan), "{orphan} was swept");
}

#[test]
fn a_running_check_keeps_its_scratch_database_while_another_one_runs() {
    let slow = support::unique_name("slow");
    // Long enough for the second check to run whole while the first one sleeps.
    let dir = slow_project(&slow, 10);
    let db = ScratchDb::new("scratch_live", "");
    let url = db.spec().url();
    let out = support::output_within(
        &mut pum(dir.path(), &["-p", &url, "install"]),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    superuser(&format!("CREATE ROLE {slow}"));
    let (mut running, live) = start_slow_check(dir.path(), &url);
    superuser(&format!("DROP ROLE {slow}"));
    // A second check (which sweeps first) while the first one sleeps in its install.
    let out = support::output_within(
        &mut pum(dir.path(), &["-p", &url, "check", "--changelogs"]),
        Duration::from_secs(120),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(support::exists(&live), "{live} of a live run is kept");
    assert!(
        running.try_wait().unwrap().is_none(),
        "the first run goes on"
    );
    let status = wait_within(&mut running, Duration::from_secs(120));
    assert_eq!(status.code(), Some(0), "the first run ends as if alone");
    assert!(
        !support::exists(&live),
        "and drops its own scratch database"
    );
}
