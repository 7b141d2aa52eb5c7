//! The upgrader's overhead: installing a 50-version, 200-file changelog with pum, against
//! feeding the very same SQL to the server in one transaction with one `batch_execute`.
//!
//! ```text
//! cargo bench --bench migrate
//! ```
//!
//! Then an upgrade (1.1.0 to the last version) with and without `--lock-timeout 5s
//! --lock-retries 3` when nothing blocks: the lock etiquette's cost (target: none
//! measurable; the timeouts ride on the statement pum sends its session anyway).
//!
//! Target (DESIGN §11): pum's overhead under 10 %. Uses `PUM_TEST_DATABASE_URL` when set,
//! else the ephemeral server.

mod common;
use common::median;

use std::path::Path;
use std::time::Instant;

use pum::migrate::NoProgress;
use pum::{Config, ConnectionSpec, CreateOptions, DropOptions, MigrateOptions, Upgrader};

const VERSIONS: usize = 50;
const FILES_PER_VERSION: usize = 4;
const ROUNDS: usize = 5;

/// Writes the project; returns every file's SQL in order.
fn write_project(dir: &Path) -> Vec<String> {
    std::fs::write(dir.join(".pum.yaml"), "pum: {module: bench}\n").expect("write .pum.yaml");
    let mut all = Vec::new();
    for v in 1..=VERSIONS {
        let version_dir = dir.join("changelogs").join(format!("1.{v}.0"));
        std::fs::create_dir_all(&version_dir).expect("create a version directory");
        for f in 1..=FILES_PER_VERSION {
            let t = format!("t_{v}_{f}");
            let sql = format!(
                "-- version 1.{v}.0, file {f}\n\
                 CREATE TABLE public.{t} (id int PRIMARY KEY, name text NOT NULL, qty int DEFAULT 0);\n\
                 CREATE INDEX {t}_name ON public.{t} (name);\n\
                 COMMENT ON TABLE public.{t} IS 'table {v}.{f}; made by the benchmark';\n\
                 INSERT INTO public.{t} (id, name) SELECT g, 'n' || g FROM generate_series(1, 20) g;\n\
                 CREATE VIEW public.{t}_v AS SELECT id, upper(name) AS name FROM public.{t};\n"
            );
            std::fs::write(version_dir.join(format!("{f:02}_{t}.sql")), &sql)
                .expect("write a file");
            all.push(sql);
        }
    }
    all
}

fn fresh(server: &ConnectionSpec, name: &str) -> pum::Result<ConnectionSpec> {
    let gone = DropOptions {
        if_exists: true,
        ..DropOptions::default()
    };
    pum::drop_database(server, name, &gone)?;
    pum::create_database(server, name, &CreateOptions::default())?;
    Ok(server.with_dbname(name))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = common::server()?;
    let project = tempfile::tempdir()?;
    let sql = write_project(project.path());
    let script = format!("BEGIN;\n{}\nCOMMIT;", sql.join("\n"));
    let config = Config::from_dir(project.path())?;

    let (mut plain, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let db = fresh(&server, "pum_bench_plain")?;
        let started = Instant::now();
        let mut client = db.connect()?;
        client.batch_execute(&script)?;
        drop(client);
        plain.push(started.elapsed());

        let db = fresh(&server, "pum_bench_pum")?;
        let started = Instant::now();
        let report =
            Upgrader::new(&config, &db)?.install(&MigrateOptions::default(), &mut NoProgress)?;
        ours.push(started.elapsed());
        assert_eq!(report.files, VERSIONS * FILES_PER_VERSION);
    }
    let (mut bare, mut polite) = (Vec::new(), Vec::new());
    let first = MigrateOptions {
        max_version: Some(pum::Version::parse("1.1.0")?),
        ..MigrateOptions::default()
    };
    let timed = MigrateOptions {
        statement_lock_timeout: Some(std::time::Duration::from_secs(5)),
        lock_retries: Some(3),
        ..MigrateOptions::default()
    };
    for round in 0..ROUNDS * 2 {
        // Alternated, so that neither always runs on a warmer server.
        let (options, times) = if round % 2 == 0 {
            (&MigrateOptions::default(), &mut bare)
        } else {
            (&timed, &mut polite)
        };
        let db = fresh(&server, "pum_bench_pum")?;
        let upgrader = Upgrader::new(&config, &db)?;
        upgrader.install(&first, &mut NoProgress)?;
        let started = Instant::now();
        let report = upgrader.upgrade(options, &mut NoProgress)?;
        times.push(started.elapsed());
        assert_eq!(report.applied.len(), VERSIONS - 1);
    }
    for name in ["pum_bench_plain", "pum_bench_pum"] {
        pum::drop_database(&server, name, &DropOptions::default())?;
    }
    let (plain, ours) = (median(plain), median(ours));
    let ratio = ours.as_secs_f64() / plain.as_secs_f64();
    println!(
        "install of {VERSIONS} versions, {} files (median of {ROUNDS})",
        VERSIONS * FILES_PER_VERSION
    );
    println!(
        "  same SQL, one batch_execute in one transaction  {:>8.1} ms",
        plain.as_secs_f64() * 1e3
    );
    println!(
        "  pum install                                     {:>8.1} ms",
        ours.as_secs_f64() * 1e3
    );
    println!(
        "  overhead                                        {:>8.1} %   target < 10 %  {}",
        (ratio - 1.0) * 100.0,
        if ratio < 1.10 { "ok" } else { "MISSED" }
    );
    let (bare, polite) = (median(bare), median(polite));
    println!(
        "upgrade of {} versions, nothing blocking (median of {ROUNDS})",
        VERSIONS - 1
    );
    println!(
        "  pum upgrade                                     {:>8.1} ms",
        bare.as_secs_f64() * 1e3
    );
    println!(
        "  pum upgrade --lock-timeout 5s --lock-retries 3  {:>8.1} ms   ({:+.1} %)",
        polite.as_secs_f64() * 1e3,
        (polite.as_secs_f64() / bare.as_secs_f64() - 1.0) * 100.0
    );
    Ok(())
}
