//! Many runners on one server: leases kept alive by a heartbeat, judged by the server's
//! clock; runners on other hosts simulated with UTS and PID namespaces (Linux).

use crate::support::Bounded;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pum::testing::{TestDb, TestSpec};

use crate::support::spec;

/// A project whose template takes `build_ms` to build (a sleep in its last changelog), in
/// a directory of its own.
pub(crate) fn slow_project(marker: &str, build_ms: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".pum.yaml"),
        "pum:\n  module: runners\n  migration_table_schema: runners\n",
    )
    .unwrap();
    let write = |path: &str, text: String| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "changelogs/1.0.0/01_tables.sql",
        format!("-- {marker}\nCREATE TABLE runners.t (id int PRIMARY KEY);\n"),
    );
    write(
        "changelogs/1.1.0/01_slow.sql",
        format!(
            "SELECT pg_sleep({}); -- the runners' build\n",
            build_ms as f64 / 1000.0
        ),
    );
    dir
}

/// Run alone: two short tests at once. The simulation runs it as each runner, with
/// `PUM_IT_TESTS` tests on `PUM_IT_PARALLEL` threads whose bodies hold their database
/// (an open session) for `PUM_IT_BODY_MS`, then check it is still theirs.
#[test]
fn child_runner_suite() {
    let own;
    let project = match std::env::var("PUM_IT_PROJECT") {
        Ok(dir) => std::path::PathBuf::from(dir),
        Err(_) => {
            own = slow_project("runner alone", 0);
            own.path().to_path_buf()
        }
    };
    let number = |name: &str, default: u64| -> u64 {
        std::env::var(name)
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let tests = number("PUM_IT_TESTS", 2);
    let threads = number("PUM_IT_PARALLEL", 2);
    let body = Duration::from_millis(number("PUM_IT_BODY_MS", 10));
    let next = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < tests {
                    pum::testing::run(
                        TestSpec::new("runners::child_runner_suite")
                            .config(project.join(".pum.yaml")),
                        |db: TestDb| {
                            let mut client = db.client();
                            client
                                .batch_execute("INSERT INTO runners.t VALUES (1)")
                                .unwrap();
                            std::thread::sleep(body);
                            // Still this test's database, and untouched by any sweep.
                            let (name, rows): (String, i64) = client
                                .query_one(
                                    "SELECT current_database()::text, \
                                     (SELECT count(*) FROM runners.t)",
                                    &[],
                                )
                                .map(|r| (r.get(0), r.get(1)))
                                .unwrap_or_else(|e| panic!("the test's session ended: {e}"));
                            assert_eq!((name.as_str(), rows), (db.name(), 1));
                        },
                    );
                }
            });
        }
    });
}

/// The registry's rows of databases owned on `host`.
fn databases_on(client: &mut postgres::Client, host: &str) -> Vec<String> {
    client
        .query(
            "SELECT name FROM pum_registry.databases WHERE host = $1",
            &[&host],
        )
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default()
}

#[test]
fn a_heartbeat_keeps_a_long_test_alive_past_its_lease() {
    let project = slow_project("heartbeat", 0);
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "runners::child_runner_suite", "--nocapture"])
        .env("PUM_IT_PROJECT", project.path())
        .env("PUM_IT_TESTS", "1")
        .env("PUM_IT_BODY_MS", "5000")
        .env("PUM_TEST_LEASE", "2")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut client = crate::support::registry_client();
    let lease_left = |client: &mut postgres::Client| -> Option<f64> {
        client
            .query_opt(
                "SELECT extract(epoch FROM d.lease_until - now())::float8 \
                 FROM pum_registry.databases d JOIN pum_registry.runners r ON r.id = d.runner \
                 WHERE d.pid = $1 AND r.pid = $1",
                &[&pid],
            )
            .ok()? // the child may not have made the registry yet
            .map(|r| r.get(0))
    };
    let started = Instant::now();
    while lease_left(&mut client).is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "no database");
        std::thread::sleep(Duration::from_millis(20));
    }
    let registered = Instant::now();
    // Well past the 2 s lease, the lease is still ahead: the heartbeat renews it.
    let mut seen = Vec::new();
    while registered.elapsed() < Duration::from_millis(4000) {
        if let Some(left) = lease_left(&mut client) {
            seen.push(left);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = crate::support::child::wait_output(child);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(seen.len() > 30, "{seen:?}");
    assert!(seen.iter().all(|left| *left > 0.0), "{seen:?}");
}

#[test]
fn a_bad_lease_setting_fails_the_test_with_one_line() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "runners::child_runner_suite"])
        .env("PUM_TEST_LEASE", "1m")
        .bounded_output();
    assert!(!out.status.success());
    let printed =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        printed
            .contains("PUM_TEST_LEASE=\"1m\": expected a whole number of seconds from 2 to 86400"),
        "{printed}"
    );
}

/// A runner on a host of its own: `unshare` gives it a host name (UTS namespace) and pids
/// (PID namespace) no other runner shares, as a CI machine would, on this one server.
#[cfg(target_os = "linux")]
fn runner(host: &str, project: &std::path::Path, url: &str, tests: u32) -> std::process::Child {
    Command::new("unshare")
        .args([
            "--uts",
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "sh",
            "-c",
            "hostname \"$0\" && exec \"$@\"",
            host,
        ])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "runners::child_runner_suite", "--nocapture"])
        .env("PUM_IT_PROJECT", project)
        .env("PUM_IT_TESTS", tests.to_string())
        .env("PUM_IT_PARALLEL", "4")
        .env("PUM_IT_BODY_MS", "700")
        .env("PUM_TEST_DATABASE_URL", url)
        .env("PUM_TEST_LEASE", "3")
        .env("PUM_TEST_KEEP", "never")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Four runners on four simulated hosts share one small server: one is killed while it
/// builds the template, one in the middle of its tests. The template is built once, the
/// others' tests all pass (no sweep touches a live runner's database), the dead runners'
/// databases go within lease + heartbeat, and no one is refused a connection.
#[cfg(target_os = "linux")]
#[test]
fn runners_on_other_hosts_share_a_server_and_the_dead_ones_are_swept() {
    let (_root, mut options) = crate::support::server::server_dir();
    // 3 reserved, 5 left for people: 42 units, so three runners (10 each) and three tests
    // at once; the fourth runner waits for a place.
    options.max_connections = 50;
    let _stop = crate::support::server::StopOnDrop(options.clone());
    let server = pum::server::Server::attach(&options).unwrap();
    let url = server.spec().url();
    let mut client = server.spec().connect().unwrap();
    let project = slow_project("simulated hosts", 2000);
    let lease = Duration::from_secs(3);
    let beat = Duration::from_secs(1);

    // Runner A dies while it builds the template.
    let mut a = runner("runner-a", project.path(), &url, 4);
    let started = Instant::now();
    loop {
        let building: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'pum\\_tpl\\_%' \
                 AND state = 'active'",
                &[],
            )
            .unwrap()
            .get(0);
        if building > 0 {
            break;
        }
        if let Some(status) = a.try_wait().unwrap() {
            let mut printed = String::new();
            use std::io::Read;
            a.stdout
                .take()
                .unwrap()
                .read_to_string(&mut printed)
                .unwrap();
            a.stderr
                .take()
                .unwrap()
                .read_to_string(&mut printed)
                .unwrap();
            panic!("runner A ended ({status}) before its build was seen: {printed}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "runner A never built"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    a.kill().unwrap();
    crate::support::child::wait(&mut a);
    // A made the registry before it built.
    let mut registry = crate::support::registry_client_on(server.spec());

    // B, C and D start; C is killed once it has databases of its own.
    let b = runner("runner-b", project.path(), &url, 40);
    let mut c = runner("runner-c", project.path(), &url, 30);
    let d = runner("runner-d", project.path(), &url, 40);
    let started = Instant::now();
    let c_databases = loop {
        let mine = databases_on(&mut registry, "runner-c");
        if !mine.is_empty() {
            break mine;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "runner C never got a database"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    c.kill().unwrap();
    crate::support::child::wait(&mut c);
    let killed = Instant::now();

    // The live runners sweep C's databases once its lease ends.
    let gone = |registry: &mut postgres::Client| {
        let rows: i64 = registry
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname = ANY($1)",
                &[&c_databases],
            )
            .unwrap()
            .get(0);
        rows == 0 && databases_on(registry, "runner-c").is_empty()
    };
    let limit = lease + beat * 2 + Duration::from_secs(2);
    while !gone(&mut registry) && killed.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(50));
    }
    let swept_after = killed.elapsed();
    let left = databases_on(&mut registry, "runner-c");
    let outputs: Vec<(&str, std::process::Output)> = [("runner-b", b), ("runner-d", d)]
        .into_iter()
        .map(|(host, child)| (host, crate::support::child::wait_output(child)))
        .collect();
    let printed = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    assert!(
        swept_after < limit,
        "runner C's databases outlived its lease: {left:?}; {}",
        outputs
            .iter()
            .map(|(h, o)| format!("{h}: {}", printed(o)))
            .collect::<String>()
    );
    for (host, out) in outputs {
        let printed = printed(&out);
        assert!(out.status.success(), "{host}: {printed}");
        assert!(
            printed.contains("test result: ok. 1 passed"),
            "{host}: {printed}"
        );
        assert!(!printed.contains("too many clients"), "{host}: {printed}");
    }
    let builds: Vec<i32> = registry
        .query("SELECT builds FROM pum_registry.templates", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(builds, [1], "one build of the template");
    let log = crate::support::server::log(&options);
    assert!(!log.contains("too many clients"), "{log}");
    println!("runner C's databases were swept {swept_after:?} after it died");
}

/// A runner in a PID namespace of its own on this host, with this host's name (a
/// container sharing the host name): another runner's sweep must not judge it by a pid
/// that means another process here. Reproduced: its database was dropped mid-test.
#[cfg(target_os = "linux")]
#[test]
fn a_runner_in_another_pid_namespace_of_this_host_is_not_swept() {
    let project = slow_project("pid namespace", 0);
    let url = spec().url();
    let inside = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "runners::child_runner_suite", "--nocapture"])
        .env("PUM_IT_PROJECT", project.path())
        .env("PUM_IT_TESTS", "1")
        .env("PUM_IT_BODY_MS", "3000")
        .env("PUM_TEST_DATABASE_URL", &url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut client = crate::support::registry_client();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let started = Instant::now();
    // Its database registered: a pid that, here, is some other process or none.
    loop {
        let registered: i64 = client
            .query_one(
                "SELECT count(*) FROM pum_registry.databases \
                 WHERE host = $1 AND test = 'runners::child_runner_suite' AND pid < 10",
                &[&host.trim()],
            )
            .unwrap()
            .get(0);
        if registered > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no database");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Another runner here starts (and sweeps) while that test runs.
    let outside = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "runners::child_runner_suite"])
        .env("PUM_IT_PROJECT", project.path())
        .env("PUM_IT_TESTS", "1")
        .env("PUM_TEST_DATABASE_URL", &url)
        .bounded_output();
    assert!(
        outside.status.success(),
        "{}",
        String::from_utf8_lossy(&outside.stderr)
    );
    let out = crate::support::child::wait_output(inside);
    assert!(
        out.status.success(),
        "the namespaced runner's test lost its database: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(not(target_os = "linux"))]
#[test]
fn runners_on_other_hosts_share_a_server_and_the_dead_ones_are_swept() {
    eprintln!("skipped: simulating other hosts needs Linux namespaces (unshare)");
}

#[cfg(not(target_os = "linux"))]
#[test]
fn a_runner_in_another_pid_namespace_of_this_host_is_not_swept() {
    eprintln!("skipped: a runner in another PID namespace needs Linux namespaces (unshare)");
}
