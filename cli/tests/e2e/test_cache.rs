//! `pum test list` and `pum test prune` (issue 24.3), each test on a server of its own:
//! pruning everything pum cached must never touch the shared test server, whose
//! templates the rest of the suite uses at the same moment.

use std::path::Path;
use std::process::{Command, Output};

use pum::ConnectionSpec;
use pum::server::Server;
use pum::testing::{TestDb, TestSpec};
use serde_json::Value;

use crate::pum_in;
use crate::support::project::Project;
use crate::support::server::{StopOnDrop, server_dir};
use crate::support::{Bounded, registry_client_on};

/// A server of this test's own, purged at the end whatever happens.
struct OwnServer {
    _root: tempfile::TempDir,
    _stop: StopOnDrop,
    server: Server,
}

impl OwnServer {
    fn start() -> OwnServer {
        let (root, options) = server_dir();
        let stop = StopOnDrop(options.clone());
        let server = Server::attach(&options).unwrap();
        OwnServer {
            _root: root,
            _stop: stop,
            server,
        }
    }

    fn spec(&self) -> &ConnectionSpec {
        self.server.spec()
    }

    fn url(&self) -> String {
        self.spec().url()
    }

    /// `pum -p <this server> args…`.
    fn pum(&self, args: &[&str]) -> Output {
        let url = self.url();
        let mut all = vec!["-p", url.as_str()];
        all.extend_from_slice(args);
        pum_in(Path::new("."), &all)
    }

    /// `pum test list --format json`, parsed.
    fn listed(&self) -> Vec<Value> {
        let out = self.pum(&["test", "list", "--format", "json"]);
        assert!(out.status.success(), "{}", printed(&out));
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        json.as_array().unwrap().clone()
    }

    fn databases(&self) -> Vec<String> {
        self.spec()
            .connect()
            .unwrap()
            .query("SELECT datname::text FROM pg_database ORDER BY 1", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// Runs [`child_test_run`] as a test process of its own on this server: `tests`
    /// tests of `project`, with the harness settings `env`.
    fn run_tests(&self, project: &Project, tests: u32, env: &[(&str, &str)]) {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "test_cache::child_test_run",
                "--test-threads",
                "1",
            ])
            .env("PUM_E2E_CACHE_PROJECT", project.path())
            .env("PUM_E2E_CACHE_TESTS", tests.to_string())
            .env("PUM_TEST_DATABASE_URL", self.url());
        for (name, value) in env {
            command.env(name, value);
        }
        let out = command.bounded_output();
        assert!(out.status.success(), "the child run: {}", printed(&out));
    }
}

fn printed(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn project() -> Project {
    Project::new(
        "pum:\n  module: cached\n  migration_table_schema: cached\n",
        &[(
            "changelogs/1.0.0/01_t.sql",
            "CREATE SCHEMA IF NOT EXISTS cached;\nCREATE TABLE cached.t (id int);\n",
        )],
    )
}

/// Run by the tests above as a child process on their own server
/// (`PUM_E2E_CACHE_PROJECT`, `PUM_E2E_CACHE_TESTS`); alone, one test of a project of its
/// own on the shared server. Each test's database holds the project's table.
#[test]
fn child_test_run() {
    let own;
    let dir = match std::env::var("PUM_E2E_CACHE_PROJECT") {
        Ok(dir) => std::path::PathBuf::from(dir),
        Err(_) => {
            own = project();
            own.path().to_path_buf()
        }
    };
    let tests: u32 = std::env::var("PUM_E2E_CACHE_TESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    for _ in 0..tests {
        pum::testing::run(
            TestSpec::new("test_cache::child_test_run").config(dir.join(".pum.yaml")),
            |db: TestDb| {
                let rows: i64 = db
                    .client()
                    .query_one("SELECT count(*) FROM cached.t", &[])
                    .unwrap()
                    .get(0);
                assert_eq!(rows, 0);
            },
        );
    }
}

fn of_kind<'a>(listed: &'a [Value], kind: &str) -> Vec<&'a Value> {
    listed.iter().filter(|e| e["kind"] == kind).collect()
}

fn names(listed: &[Value]) -> Vec<String> {
    listed
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

/// A database registered as `kept` made `age` ago (an SQL interval), with a role made
/// for it as `TestDb::role` makes one.
fn kept_database(server: &OwnServer, name: &str, age: &str, role: &str) {
    let mut admin = server.spec().connect().unwrap();
    // CREATE DATABASE alone: with more, it would be one (refused) transaction.
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} NOLOGIN; \
             COMMENT ON ROLE {role} IS 'pum test role of database {name}'"
        ))
        .unwrap();
    registry_client_on(server.spec())
        .execute(
            &format!(
                "INSERT INTO pum_registry.databases (name, runner, host, boot_id, pid, started, \
                 kept, test, created_at) VALUES ($1, 'gone', 'e2e-gone-host', 'b', 1, 1, true, \
                 'suite::by_hand', now() - interval '{age}')"
            ),
            &[&name],
        )
        .unwrap();
}

/// A runner alive on another host (its lease runs for an hour) that uses `template` and
/// runs a test on database `name`.
fn live_runner(server: &OwnServer, template: &str, name: &str) {
    server
        .spec()
        .connect()
        .unwrap()
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    registry_client_on(server.spec())
        .batch_execute(&format!(
            "INSERT INTO pum_registry.runners (id, host, boot_id, pid, lease_until) \
             VALUES ('e2e-live', 'e2e-other-host', 'b', 4242, now() + interval '1 hour');
             INSERT INTO pum_registry.template_users (template, runner) \
             VALUES ('{template}', 'e2e-live');
             INSERT INTO pum_registry.databases (name, runner, host, boot_id, pid, started, \
             lease_until, test) VALUES ('{name}', 'e2e-live', 'e2e-other-host', 'b', 4242, 1, \
             now() + interval '1 hour', 'suite::still_running')"
        ))
        .unwrap();
}

#[test]
fn prune_drops_what_is_chosen_and_never_what_a_live_runner_uses() {
    let server = OwnServer::start();
    // No registry: nothing of pum's, nothing made.
    for args in [&["test", "list"][..], &["test", "prune", "--all"]] {
        let out = server.pum(args);
        assert!(out.status.success(), "{}", printed(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("nothing of pum's on this server"),
            "{}",
            printed(&out)
        );
    }
    assert!(!server.databases().contains(&"pum_registry".to_string()));

    // A test run that keeps its database: a template and a kept database, both listed.
    let project = project();
    server.run_tests(&project, 1, &[("PUM_TEST_KEEP", "always")]);
    let listed = server.listed();
    let templates = of_kind(&listed, "template");
    assert_eq!(templates.len(), 1, "{listed:?}");
    let template = templates[0]["name"].as_str().unwrap().to_string();
    let config = std::fs::canonicalize(project.path().join(".pum.yaml")).unwrap();
    assert_eq!(templates[0]["of"], config.display().to_string());
    assert_eq!(templates[0]["status"], "ready");
    assert!(templates[0]["size_bytes"].as_u64().unwrap() > 1_000_000);
    let kept = of_kind(&listed, "kept");
    assert_eq!(kept.len(), 1, "{listed:?}");
    let kept_name = kept[0]["name"].as_str().unwrap().to_string();
    assert_eq!(kept[0]["of"], "test_cache::child_test_run");
    assert_eq!(kept[0]["runner"]["alive"], false);
    assert_eq!(kept[0]["in_use"], false);
    let text = server.pum(&["test", "list"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.starts_with("KIND") && text.contains(&template) && text.contains(&kept_name),
        "{text}"
    );

    // --older-than: only the kept database made two days ago goes, with its role.
    kept_database(&server, "pum_t_by_hand_old", "2 days", "reader_e2eold");
    let out = server.pum(&["test", "prune", "--older-than", "1d"]);
    assert!(out.status.success(), "{}", printed(&out));
    let databases = server.databases();
    assert!(!databases.contains(&"pum_t_by_hand_old".to_string()));
    assert!(databases.contains(&kept_name) && databases.contains(&template));
    let roles: i64 = server
        .spec()
        .connect()
        .unwrap()
        .query_one(
            "SELECT count(*) FROM pg_roles WHERE rolname = 'reader_e2eold'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(roles, 0, "the kept database's role stayed");

    // --kept: the kept database only; a live runner's test database stays.
    live_runner(&server, &template, "pum_t_still_running");
    let out = server.pum(&["test", "prune", "--kept"]);
    assert!(out.status.success(), "{}", printed(&out));
    assert_eq!(
        names(&server.listed()),
        [template.clone(), "pum_t_still_running".to_string()]
    );

    // --all: what the live runner uses stays, named with its runner.
    let out = server.pum(&["test", "prune", "--all"]);
    assert!(out.status.success(), "{}", printed(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!(
            "kept {template}: in use by runner e2e-other-host:4242"
        )) && said.contains("kept pum_t_still_running: in use by runner e2e-other-host:4242"),
        "{said}"
    );
    assert!(server.databases().contains(&template));

    // Once its lease has ended, everything goes; the registry stays, empty.
    registry_client_on(server.spec())
        .batch_execute(
            "UPDATE pum_registry.runners SET lease_until = now() - interval '1 second';
             UPDATE pum_registry.databases SET lease_until = now() - interval '1 second'",
        )
        .unwrap();
    let out = server.pum(&["test", "prune", "--all"]);
    assert!(out.status.success(), "{}", printed(&out));
    assert!(server.listed().is_empty());
    let left: Vec<String> = server
        .databases()
        .into_iter()
        .filter(|d| d.starts_with("pum_"))
        .collect();
    assert_eq!(left, ["pum_registry"]);
}

/// README: with `PUM_TEST_SPARES=0` and `PUM_TEST_KEEP=never`, a run leaves nothing on
/// the server but its template (and `pum test prune --all` removes that too).
#[test]
fn a_run_told_to_keep_nothing_leaves_only_its_template() {
    let server = OwnServer::start();
    let project = project();
    server.run_tests(
        &project,
        4,
        &[("PUM_TEST_SPARES", "0"), ("PUM_TEST_KEEP", "never")],
    );
    let listed = server.listed();
    let kinds: Vec<&str> = listed.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["template"], "{listed:?}");
    let out = server.pum(&["test", "prune", "--all"]);
    assert!(out.status.success(), "{}", printed(&out));
    assert!(server.listed().is_empty());
}

#[test]
fn prune_refuses_bad_durations_and_no_selector_in_one_line() {
    for args in [
        &["test", "prune", "--older-than", "7x"][..],
        &["test", "prune", "--older-than", "-1d"],
        &["test", "prune", "--older-than", "7"],
        &["test", "prune"],
        &["test", "prune", "--kept", "--all"],
    ] {
        // No server is asked: an unreachable one would fail differently.
        let out = pum_in(
            Path::new("."),
            &[&["-p", "host=/nonexistent"][..], args].concat(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = pum_in(Path::new("."), &["test", "prune", "--older-than", "7x"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"7x\" is not a duration"), "{stderr}");
}
