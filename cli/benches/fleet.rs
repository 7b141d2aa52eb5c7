//! Fleet upgrades: 200 databases at the middle of a 50-version changelog brought to its
//! latest version by one `pum --databases PATTERN --jobs N upgrade` (N = 1, 2, 4), side
//! by side with a shell loop calling `pum upgrade` once per database, in one run; then
//! the same with the databases one version behind (where the per-database work is small
//! and what a loop pays per process shows).
//!
//! ```text
//! cargo bench -p pum-cli --bench fleet
//! ```
//!
//! Uses `PUM_TEST_DATABASE_URL` when set, else pum's ephemeral server. Before each
//! measured run the 200 databases are made again (not timed) as copies of one database
//! installed up to the starting version.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use pum::{ConnectionSpec, CreateOptions, DropOptions};

const VERSIONS: usize = 50;
const DATABASES: usize = 200;
const ROUNDS: usize = 3;
const PREFIX: &str = "pum_bench_fleet_";

fn server() -> pum::Result<ConnectionSpec> {
    match std::env::var("PUM_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => ConnectionSpec::resolve(&url),
        _ => Ok(pum::server::Server::shared()?.spec().clone()),
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// 50 versions of two files each: a table with an index and a comment, then a view.
fn write_project(dir: &Path) {
    std::fs::write(
        dir.join(".pum.yaml"),
        "pum: {module: tenants, migration_table_schema: tenants}\n",
    )
    .unwrap();
    for v in 0..VERSIONS {
        let version = dir.join(format!("changelogs/1.{v}.0"));
        std::fs::create_dir_all(&version).unwrap();
        std::fs::write(
            version.join("01_table.sql"),
            format!(
                "CREATE TABLE tenants.t{v} (id int PRIMARY KEY, name text NOT NULL, \
                 created timestamptz DEFAULT now());\n\
                 CREATE INDEX t{v}_name ON tenants.t{v} (name);\n\
                 COMMENT ON TABLE tenants.t{v} IS 'version 1.{v}.0';\n"
            ),
        )
        .unwrap();
        std::fs::write(
            version.join("02_view.sql"),
            format!("CREATE VIEW tenants.v{v} AS SELECT id, name FROM tenants.t{v};\n"),
        )
        .unwrap();
    }
}

fn names() -> Vec<String> {
    (0..DATABASES).map(|n| format!("{PREFIX}{n:03}")).collect()
}

/// The 200 databases, made again at 1.24.0.
fn reset(server: &ConnectionSpec, template: &str) {
    for name in names() {
        pum::drop_database(server, &name, &DropOptions::if_exists()).unwrap();
        let options = CreateOptions {
            template: Some(template.into()),
            ..CreateOptions::default()
        };
        pum::create_database(server, &name, &options).unwrap();
    }
}

fn timed(server: &ConnectionSpec, template: &str, mut command: Command) -> Duration {
    reset(server, template);
    let started = Instant::now();
    let out = command.output().unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every database upgraded.
    let mut client = server
        .with_dbname(&format!("{PREFIX}{:03}", DATABASES - 1))
        .connect()
        .unwrap();
    let recorded: i64 = client
        .query_one("SELECT count(*) FROM tenants.pum_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(recorded, VERSIONS as i64);
    took
}

fn main() {
    let server = server().unwrap();
    let pum_bin = env!("CARGO_BIN_EXE_pum");
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path());
    let config = pum::Config::from_dir(dir.path()).unwrap();
    let url = server.url();
    let script = dir.path().join("loop.sh");
    let mut text = String::from("set -e\n");
    for name in names() {
        text.push_str(&format!(
            "'{pum_bin}' -q -p '{}' -d '{}' upgrade\n",
            server.with_dbname(&name).url(),
            dir.path().display()
        ));
    }
    std::fs::write(&script, text).unwrap();
    let rate = |d: Duration| DATABASES as f64 / d.as_secs_f64();

    for start in [VERSIONS / 2 - 1, VERSIONS - 2] {
        let template = format!("pum_bench_fleettpl_{start}");
        pum::drop_database(&server, &template, &DropOptions::if_exists()).unwrap();
        pum::create_database(&server, &template, &CreateOptions::default()).unwrap();
        let from = pum::Version::parse(&format!("1.{start}.0")).unwrap();
        pum::Upgrader::new(&config, &server.with_dbname(&template))
            .unwrap()
            .install(
                &pum::MigrateOptions {
                    max_version: Some(from.clone()),
                    ..Default::default()
                },
                &mut pum::migrate::NoProgress,
            )
            .unwrap();
        println!(
            "{DATABASES} databases upgraded from {from} to 1.{}.0 ({} files each), median of {ROUNDS}",
            VERSIONS - 1,
            (VERSIONS - 1 - start) * 2
        );
        let shell = median(
            (0..ROUNDS)
                .map(|_| {
                    let mut command = Command::new("sh");
                    command.arg(&script);
                    timed(&server, &template, command)
                })
                .collect(),
        );
        println!(
            " {:<34} {:>8.2} s  {:>7.1} databases/s",
            "shell loop of pum upgrade",
            shell.as_secs_f64(),
            rate(shell)
        );
        let mut one = None;
        for jobs in [1, 2, 4] {
            let took = median(
                (0..ROUNDS)
                    .map(|_| {
                        let mut command = Command::new(pum_bin);
                        command
                            .args(["-q", "-p", &url, "-d"])
                            .arg(dir.path())
                            .args(["--databases", &format!("{}%", PREFIX.replace('_', "\\_"))])
                            .args(["--jobs", &jobs.to_string(), "upgrade"]);
                        timed(&server, &template, command)
                    })
                    .collect(),
            );
            let base = *one.get_or_insert(took);
            println!(
                " {:<34} {:>8.2} s  {:>7.1} databases/s  {:.2}× --jobs 1, {:.1}× the loop",
                format!("pum --databases --jobs {jobs} upgrade"),
                took.as_secs_f64(),
                rate(took),
                base.as_secs_f64() / took.as_secs_f64(),
                shell.as_secs_f64() / took.as_secs_f64()
            );
        }
        pum::drop_database(&server, &template, &DropOptions::if_exists()).unwrap();
    }
    for name in names() {
        pum::drop_database(&server, &name, &DropOptions::if_exists()).unwrap();
    }
}
