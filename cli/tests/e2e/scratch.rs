//! Scratch databases of `pum check --changelogs` (and `pum new --autogenerate`): a killed
//! run leaves its scratch database behind; the next run drops it, never one of a live run.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::eventually;
use crate::support::{self, ScratchDb};

/// Holds installs of [`gated_project`] from outside, on a lock rather than a clock (a
/// busy machine can make any sleep too short): while role `gate` exists an install
/// updates role `hold`, whose row an open transaction of the gate updated first, so the
/// install waits until the gate rolls back. Roles are seen from every database, so the
/// gate reaches an install in whatever scratch database it runs.
struct Gate {
    gate: String,
    hold: String,
    holder: Option<postgres::Client>,
}

impl Gate {
    /// Open until [`Gate::close`]: its roles do not exist yet.
    fn new() -> Gate {
        Gate {
            gate: support::unique_name("gate"),
            hold: support::unique_name("hold"),
            holder: None,
        }
    }

    /// Installs starting from now wait.
    fn close(&mut self) {
        superuser(&format!(
            "CREATE ROLE {}; CREATE ROLE {}",
            self.gate, self.hold
        ));
        let mut holder = support::spec().connect().unwrap();
        holder
            .batch_execute(&format!(
                "BEGIN; ALTER ROLE {} CONNECTION LIMIT 2",
                self.hold
            ))
            .unwrap();
        self.holder = Some(holder);
    }

    /// Installs starting from now pass; one already waiting still waits.
    fn let_new_installs_pass(&self) {
        superuser(&format!("DROP ROLE {}", self.gate));
    }

    /// The waiting installs go on.
    fn open(&mut self) {
        if let Some(mut holder) = self.holder.take() {
            holder.batch_execute("ROLLBACK").unwrap();
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        // Dropping the holder ends its transaction, so no install stays waiting.
        self.holder = None;
        if let Ok(mut client) = support::spec().connect() {
            let _ = client.batch_execute(&format!(
                "DROP ROLE IF EXISTS {}; DROP ROLE IF EXISTS {}",
                self.gate, self.hold
            ));
        }
    }
}

/// A project whose one file waits at `gate` (see [`Gate`]).
fn gated_project(gate: &Gate) -> tempfile::TempDir {
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
             DO $$ BEGIN\n\
               IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{}') THEN\n\
                 ALTER ROLE {} CONNECTION LIMIT 1;\n\
               END IF;\n\
             END $$;\n",
            gate.gate, gate.hold
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

/// Starts `pum check --changelogs` and waits until its install waits at the gate in its
/// scratch database; returns the child and the database's name.
fn start_held_check(dir: &Path, url: &str) -> (Child, String) {
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
    eventually(
        Duration::from_secs(60),
        "the install to wait at the gate",
        || {
            let waiting: i64 = client
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = $1 AND wait_event_type = 'Lock'",
                    &[&name],
                )
                .unwrap()
                .get(0);
            (waiting > 0).then_some(())
        },
    );
    (child, name)
}

fn wait_within(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    eventually(limit, "pum to end", || child.try_wait().unwrap())
}

#[test]
fn a_killed_check_leaves_a_scratch_database_that_the_next_check_drops() {
    let mut gate = Gate::new();
    let dir = gated_project(&gate);
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

    gate.close();
    let (mut child, orphan) = start_held_check(dir.path(), &url);
    child.kill().unwrap();
    wait_within(&mut child, Duration::from_secs(30));
    gate.let_new_installs_pass();
    assert!(support::exists(&orphan), "the killed run left {orphan}");

    // Its session still waits in the orphan: the sweep does not wait for it to go.
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
    let mut gate = Gate::new();
    let dir = gated_project(&gate);
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

    gate.close();
    let (mut running, live) = start_held_check(dir.path(), &url);
    gate.let_new_installs_pass();
    // A second check (which sweeps first) while the first one waits in its install, for
    // as long as the second one takes.
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
    gate.open();
    let status = wait_within(&mut running, Duration::from_secs(120));
    assert_eq!(status.code(), Some(0), "the first run ends as if alone");
    assert!(
        !support::exists(&live),
        "and drops its own scratch database"
    );
}
