//! One registry per server (database `pum_registry`), whatever database
//! `PUM_TEST_DATABASE_URL` names and whatever role runs: runs never drop each other's live
//! databases, a database that cannot be dropped is a warning (never a failed setup), a
//! killed template build is swept, and a role with CREATEDB alone is enough.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use pum::ConnectionSpec;
use pum::testing::TestSpec;

use crate::runners::slow_project;
use crate::support::{self, Bounded, ScratchDb, spec};

/// A runner (a process of this binary running `runners::child_runner_suite`) on the server
/// `url` names, its output captured (as cargo test captures a test's output).
fn runner(project: &std::path::Path, url: &str, tests: u32, body_ms: u64) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "runners::child_runner_suite"])
        .env("PUM_IT_PROJECT", project)
        .env("PUM_IT_TESTS", tests.to_string())
        .env("PUM_IT_BODY_MS", body_ms.to_string())
        .env("PUM_TEST_DATABASE_URL", url)
        .env("PUM_TEST_KEEP", "never")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn printed(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Waits (at most 60 s) until process `pid` has a test database registered.
fn wait_for_database_of(pid: u32) -> String {
    let mut registry = support::registry_client();
    let started = Instant::now();
    loop {
        if let Some(row) = registry
            .query_opt(
                "SELECT r.name FROM pum_registry.databases r JOIN pg_database d \
                 ON d.datname = r.name WHERE r.pid = $1",
                &[&(pid as i32)],
            )
            .unwrap()
        {
            return row.get(0);
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "runner {pid} made no database"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 21.1, reproduced: run A on `…/maint_a` and run B on `…/maint_b` of one server.
/// Each kept a registry of its own in its maintenance database, so B's sweep dropped A's
/// live test database (unknown to B's registry) in the middle of A's test.
#[test]
fn runs_naming_different_maintenance_databases_share_one_registry() {
    let maint_a = ScratchDb::new("maint_a", "");
    let maint_b = ScratchDb::new("maint_b", "");
    let project = slow_project("two maintenance databases", 0);
    let a = runner(project.path(), &maint_a.spec().url(), 1, 4000)
        .spawn()
        .unwrap();
    let a_database = wait_for_database_of(a.id());
    // B starts (and sweeps) while A's test holds its database.
    let b = runner(project.path(), &maint_b.spec().url(), 2, 10).bounded_output();
    assert!(b.status.success(), "B: {}", printed(&b));
    let a = support::child::wait_output(a);
    assert!(
        a.status.success(),
        "A lost its database {a_database}: {}",
        printed(&a)
    );
    // Neither maintenance database holds a registry: the server's one is pum_registry.
    for db in [&maint_a, &maint_b] {
        assert!(
            db.strings("SELECT nspname::text FROM pg_namespace WHERE nspname = 'pum_registry'")
                .is_empty(),
            "{} has a registry of its own",
            db.name
        );
    }
}

/// An undroppable test database (a logical replication subscription keeps DROP DATABASE
/// from working), registered as an orphan, and cleaned up whatever the test does.
struct Undroppable {
    name: String,
}

impl Undroppable {
    fn new() -> Undroppable {
        let name = format!("pum_t_undroppable_{}", std::process::id());
        let undroppable = Undroppable { name };
        let name = &undroppable.name;
        pum::create_database(&spec(), name, &pum::CreateOptions::default()).unwrap();
        spec()
            .with_dbname(name)
            .connect()
            .unwrap()
            .batch_execute(
                "CREATE SUBSCRIPTION pum_it_sub CONNECTION 'dbname=pum_it_nowhere' \
                 PUBLICATION pum_it_pub WITH (connect = false)",
            )
            .unwrap();
        // Its owner died on another host long ago.
        support::registry_client()
            .execute(
                "INSERT INTO pum_registry.databases (name, runner, host, boot_id, pid, started, \
                 lease_until, test) VALUES ($1, 'gone', 'a-host-long-gone', 'boot', 1, 1, \
                 now() - interval '1 hour', 'registry::undroppable')",
                &[name],
            )
            .unwrap();
        undroppable
    }
}

impl Drop for Undroppable {
    fn drop(&mut self) {
        if let Ok(mut client) = spec().with_dbname(&self.name).connect() {
            let _ = client.batch_execute(
                "ALTER SUBSCRIPTION pum_it_sub DISABLE; \
                 ALTER SUBSCRIPTION pum_it_sub SET (slot_name = NONE); \
                 DROP SUBSCRIPTION pum_it_sub",
            );
        }
        let _ = pum::drop_database(&spec(), &self.name, &pum::DropOptions::if_exists());
        let _ = support::registry_client().execute(
            "DELETE FROM pum_registry.databases WHERE name = $1",
            &[&self.name],
        );
    }
}

/// Issue 21.2, reproduced: one orphan that cannot be dropped failed the sweep, and so the
/// setup of every test of every later run. Now the run's tests pass and the warning is
/// printed past cargo test's output capture (the child runs without --nocapture, and its
/// test passes: an `eprintln!` would be swallowed).
#[test]
fn an_undroppable_orphan_is_a_warning_and_later_tests_pass() {
    let undroppable = Undroppable::new();
    let project = slow_project("undroppable orphan", 0);
    let out = runner(project.path(), &spec().url(), 2, 10).bounded_output();
    let printed = printed(&out);
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("test result: ok. 1 passed"), "{printed}");
    assert!(
        printed.contains(&format!(
            "pum: warning: could not drop orphaned test database {}",
            undroppable.name
        )) && printed.contains("subscription"),
        "{printed}"
    );
    // Still registered: a later sweep tries again.
    let rows: i64 = support::registry_client()
        .query_one(
            "SELECT count(*) FROM pum_registry.databases WHERE name = $1",
            &[&undroppable.name],
        )
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
    assert!(support::exists(&undroppable.name));
}

/// Issue 21.4, reproduced: a process killed while it built a template left the
/// half-built `pum_tpl_…` database with no registry row, so no sweep ever saw it (and
/// once its files changed, no build reused its name either). Now it is registered before
/// it exists, and the next run drops it.
#[test]
fn a_template_build_killed_midway_is_dropped_by_the_next_run() {
    let project = slow_project("killed build", 60_000);
    let template =
        pum::testing::template_name(&TestSpec::new("x").config(project.path().join(".pum.yaml")))
            .unwrap();
    let mut builder = runner(project.path(), &spec().url(), 1, 10)
        .spawn()
        .unwrap();
    let mut client = spec().connect().unwrap();
    let started = Instant::now();
    // Killed in the middle of its migrations (the changelog's pg_sleep: the round trip
    // holding it is longer than pg_stat_activity shows of it).
    loop {
        let building: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 \
                 AND state = 'active' AND now() - query_start > interval '300 ms'",
                &[&template],
            )
            .unwrap()
            .get(0);
        if building > 0 {
            break;
        }
        assert!(
            builder.try_wait().unwrap().is_none(),
            "the builder ended before building"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{template} was never being built: {:?}",
            client
                .query(
                    "SELECT datname::text, query FROM pg_stat_activity WHERE datname IS NOT NULL",
                    &[]
                )
                .unwrap()
                .iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    builder.kill().unwrap();
    support::child::wait(&mut builder);

    // The next run is of other files (the killed build's name is never built again).
    let other = slow_project("after the killed build", 0);
    let out = runner(other.path(), &spec().url(), 1, 10).bounded_output();
    assert!(out.status.success(), "{}", printed(&out));
    assert!(
        !support::exists(&template),
        "the half-built {template} outlived the next run"
    );
    let rows: i64 = support::registry_client()
        .query_one(
            "SELECT count(*) FROM pum_registry.templates WHERE name = $1",
            &[&template],
        )
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
    pum::testing::drop_template(&TestSpec::new("x").config(other.path().join(".pum.yaml")))
        .unwrap();
}

/// Issue 21.14, reproduced: a `PUM_TEST_DATABASE_URL` role with CREATEDB only (what the
/// README asks for) failed with "permission denied for database postgres" (the registry
/// was a schema made in the maintenance database), and a second role on `pum_registry`.
/// On a server of its own (a fresh one, with password logins for the roles): the first
/// CREATEDB role makes the registry, a second one uses it (and leaves the first one's
/// spares alone), and a role without CREATEDB is told what it needs in one line.
#[cfg(unix)]
#[test]
fn roles_with_createdb_alone_share_the_registry() {
    let (_root, options) = support::server::server_dir();
    let _stop = support::server::StopOnDrop(options.clone());
    let server = pum::server::Server::attach(&options).unwrap();
    let mut admin = server.spec().connect().unwrap();
    admin
        .batch_execute(
            "SET password_encryption = 'scram-sha-256';
             CREATE ROLE pum_it_first LOGIN CREATEDB PASSWORD 'first';
             CREATE ROLE pum_it_second LOGIN CREATEDB PASSWORD 'second';
             CREATE ROLE pum_it_nocreate LOGIN PASSWORD 'nocreate';",
        )
        .unwrap();
    let hba = server.data_dir().join("pg_hba.conf");
    let old = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!("local all pum_it_first,pum_it_second,pum_it_nocreate scram-sha-256\n{old}"),
    )
    .unwrap();
    admin.batch_execute("SELECT pg_reload_conf()").unwrap();
    let as_role = |role: &str, password: &str| -> ConnectionSpec {
        server.spec().with_user(role, Some(password))
    };
    // The reload is asynchronous: wait (at most 10 s) until a password is asked for.
    let started = Instant::now();
    while server
        .spec()
        .with_user("pum_it_first", None)
        .connect()
        .is_ok()
    {
        assert!(started.elapsed() < Duration::from_secs(10), "no scram yet");
        std::thread::sleep(Duration::from_millis(20));
    }
    let project = slow_project("createdb roles", 0);
    let run = |role: &str, password: &str, tests: u32| -> Output {
        let url = as_role(role, password).with_dbname("postgres").url();
        runner(project.path(), &url, tests, 10)
            .env("PGPASSWORD", password)
            .env("PUM_TEST_SPARES", "2")
            .bounded_output()
    };

    let first = run("pum_it_first", "first", 3);
    assert!(first.status.success(), "first role: {}", printed(&first));
    let owner: String = admin
        .query_one(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = 'pum_registry'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(owner, "pum_it_first");

    let second = run("pum_it_second", "second", 3);
    assert!(second.status.success(), "second role: {}", printed(&second));
    assert!(
        !printed(&second).contains("must be owner"),
        "{}",
        printed(&second)
    );

    let refused = run("pum_it_nocreate", "nocreate", 1);
    assert!(!refused.status.success());
    assert!(
        printed(&refused).contains(
            "PUM_TEST_DATABASE_URL: role \"pum_it_nocreate\" may not create databases, and the \
             test harness makes one per test: a superuser grants it with ALTER ROLE \
             \"pum_it_nocreate\" CREATEDB"
        ),
        "{}",
        printed(&refused)
    );
}
