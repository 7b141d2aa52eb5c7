//! `pum test prune --all` on a server holding 200 cached databases: 20 templates, 80
//! spares of them and 100 kept test databases, each a copy of a small migrated template
//! and registered as the harness registers them.
//!
//! ```text
//! cargo bench -p pum-cli --bench prune
//! ```
//!
//! On a server of its own (an ephemeral server in a temporary directory, purged at the
//! end), never the shared one: pruning everything would drop the templates other test
//! runs use. Before each measured run the 200 databases are made again (not timed).

use std::process::Command;
use std::time::{Duration, Instant};

use pum::server::{Server, ServerOptions};
use pum::testing::{TestDb, TestSpec};

const TEMPLATES: usize = 20;
const SPARES_PER_TEMPLATE: usize = 4;
const KEPT: usize = 100;
const ROUNDS: usize = 3;

fn main() {
    // On a thread of its own, as a test runs: the harness's exit handler (its runner
    // leaving the registry) runs on the main thread after its thread-locals are gone,
    // and must find none of the postgres client's there.
    std::thread::spawn(bench).join().unwrap();
}

fn bench() {
    let root = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Reachable by the server's account when the bench runs as root.
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let options = ServerOptions {
        dir: Some(root.path().join("srv")),
        ..ServerOptions::default()
    };
    let server = Server::attach(&options).unwrap();
    let spec = server.spec().clone();
    let url = spec.url();
    // SAFETY: no other thread reads the environment yet; the harness reads it on first use.
    unsafe { std::env::set_var("PUM_TEST_DATABASE_URL", &url) };
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join(".pum.yaml"),
        "pum: {module: bench, migration_table_schema: bench}\n",
    )
    .unwrap();
    let changelog = project.path().join("changelogs/1.0.0");
    std::fs::create_dir_all(&changelog).unwrap();
    std::fs::write(
        changelog.join("01.sql"),
        "CREATE SCHEMA IF NOT EXISTS bench; CREATE TABLE bench.t (id int PRIMARY KEY);\n",
    )
    .unwrap();
    // One real test: the registry and a small migrated template to copy.
    let spec_of_test = TestSpec::new("prune_bench").config(project.path().join(".pum.yaml"));
    pum::testing::run(spec_of_test.clone(), |_db: TestDb| {});
    let source = pum::testing::template_name(&spec_of_test).unwrap();

    let mut samples = Vec::new();
    for round in 0..ROUNDS {
        let made = Instant::now();
        make_cache(&spec, &source);
        let made = made.elapsed();
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_pum"))
            .args(["-p", &url, "test", "prune", "--all"])
            .output()
            .unwrap();
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dropped = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("dropped ") && !l.starts_with("dropped role"))
            .count();
        assert!(
            dropped >= TEMPLATES * (1 + SPARES_PER_TEMPLATE) + KEPT,
            "{dropped}"
        );
        println!(
            "round {}: made {} databases in {:.1} s; pum test prune --all dropped {dropped} in \
             {:.2} s",
            round + 1,
            TEMPLATES * (1 + SPARES_PER_TEMPLATE) + KEPT,
            made.as_secs_f64(),
            took.as_secs_f64()
        );
        samples.push(took);
    }
    samples.sort();
    let median: Duration = samples[samples.len() / 2];
    println!(
        "pum test prune --all, 200 cached databases: median {:.2} s of {ROUNDS} ({:.1} ms per \
         database)",
        median.as_secs_f64(),
        median.as_secs_f64() * 1000.0 / 200.0
    );
    drop(server);
    let _ = pum::server::purge(&options);
}

/// 20 templates, 4 spares of each and 100 kept databases, copies of `source`,
/// registered as the harness registers them.
fn make_cache(spec: &pum::ConnectionSpec, source: &str) {
    let mut admin = pum::Maintenance::on(spec).unwrap();
    let mut registry = spec.with_dbname("pum_registry").connect().unwrap();
    let mut copy = |name: &str| {
        admin
            .create(
                name,
                &pum::CreateOptions {
                    template: Some(source.to_string()),
                    ..pum::CreateOptions::default()
                },
            )
            .unwrap();
    };
    for t in 0..TEMPLATES {
        let template = format!("pum_tpl_bench{t:02}");
        copy(&template);
        registry
            .execute(
                "INSERT INTO pum_registry.templates (name, family, project, status, source) \
                 VALUES ($1, 'bench', 'bench', 'ready', 'benches/prune.rs')",
                &[&template],
            )
            .unwrap();
        for s in 0..SPARES_PER_TEMPLATE {
            let spare = format!("pum_t_spare_bench{t:02}_{s}");
            copy(&spare);
            registry
                .execute(
                    "INSERT INTO pum_registry.databases (name, host, boot_id, pid, started, \
                     lease_until, spare_of, ready) \
                     VALUES ($1, '', '', 0, 0, now() + interval '1 hour', $2, true)",
                    &[&spare, &template],
                )
                .unwrap();
        }
    }
    for k in 0..KEPT {
        let kept = format!("pum_t_kept_bench_{k:03}");
        copy(&kept);
        registry
            .execute(
                "INSERT INTO pum_registry.databases (name, runner, host, boot_id, pid, started, \
                 kept, test) VALUES ($1, 'gone', 'elsewhere', 'b', 1, 1, true, 'bench::kept')",
                &[&kept],
            )
            .unwrap();
    }
}
