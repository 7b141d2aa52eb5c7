//! What a test's database costs: (a) a bare `CREATE DATABASE … TEMPLATE` + `DROP DATABASE`,
//! (b) pum's per-test cost (TestDb ready + dropped, registry included), (c) the
//! sqlx::test way: an empty database and the whole changelog applied for every test, and
//! (d) a test under `isolation = "transaction"` (a trivial body in a transaction on the
//! shared database, rolled back).
//!
//! ```text
//! cargo bench --bench testdb
//! ```
//!
//! Targets (DESIGN §11): (b)/(a) ≤ 1.3 and (c)/(b) ≥ 5 for a 50-file changelog; (d) ≤ 5 ms
//! and (c)/(d) ≥ 50. Uses
//! `PUM_TEST_DATABASE_URL` when set, else the ephemeral server.

mod common;
use common::median;

use std::path::Path;
use std::time::{Duration, Instant};

use pum::migrate::NoProgress;
use pum::testing::{Isolation, TestDb, TestSpec};
use pum::{Config, CreateOptions, DropOptions, MigrateOptions, Upgrader};

const VERSIONS: usize = 10;
const FILES_PER_VERSION: usize = 5;
const ROUNDS: usize = 30;

fn write_project(dir: &Path) {
    std::fs::write(dir.join(".pum.yaml"), "pum: {module: bench}\n").expect("write .pum.yaml");
    for v in 1..=VERSIONS {
        let version_dir = dir.join("changelogs").join(format!("1.{v}.0"));
        std::fs::create_dir_all(&version_dir).expect("create a version directory");
        for f in 1..=FILES_PER_VERSION {
            let t = format!("t_{v}_{f}");
            std::fs::write(
                version_dir.join(format!("{f:02}.sql")),
                format!(
                    "CREATE TABLE public.{t} (id int PRIMARY KEY, name text NOT NULL, qty int DEFAULT 0);\n\
                     CREATE INDEX {t}_name ON public.{t} (name);\n\
                     CREATE VIEW public.{t}_v AS SELECT id, upper(name) AS name FROM public.{t};\n\
                     INSERT INTO public.{t} SELECT g, 'n' || g FROM generate_series(1, 10) g;\n"
                ),
            )
            .expect("write a file");
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = common::server()?;
    let project = tempfile::tempdir()?;
    write_project(project.path());
    let config_path = project.path().join(".pum.yaml");
    let spec = TestSpec::new("bench::testdb").config(&config_path);

    // Build the template once (not measured).
    pum::testing::run(spec.clone(), |_db: TestDb| {});
    let template = pum::testing::template_name(&spec)?;

    // (a) bare clone + drop, with each strategy; the faster one counts.
    let mut admin = server.connect()?;
    let mut bare = Vec::new();
    for strategy in ["FILE_COPY", "WAL_LOG"] {
        let mut samples = Vec::new();
        for i in 0..ROUNDS {
            let name = format!("pum_bench_bare_{i}");
            let started = Instant::now();
            admin.batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE {template} STRATEGY {strategy}"
            ))?;
            admin.batch_execute(&format!("DROP DATABASE {name}"))?;
            samples.push(started.elapsed());
        }
        bare.push((strategy, median(samples)));
    }
    let (strategy, a) = *bare.iter().min_by_key(|(_, d)| *d).expect("two strategies");

    // (b) pum's TestDb, ready and dropped.
    let mut ours = Vec::new();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        pum::testing::run(spec.clone(), |_db: TestDb| {});
        ours.push(started.elapsed());
    }
    let b = median(ours);

    // (d) the same test under transaction isolation (its shared database made first).
    let transaction = spec.clone().isolation(Isolation::Transaction);
    pum::testing::run(transaction.clone(), |_db: TestDb| {});
    let mut rolled_back = Vec::new();
    for _ in 0..ROUNDS * 10 {
        let started = Instant::now();
        pum::testing::run(transaction.clone(), |db: TestDb| {
            db.session().simple_query("SELECT 1").unwrap();
        });
        rolled_back.push(started.elapsed());
    }
    let d = median(rolled_back);

    // (c) an empty database and the whole changelog, every time.
    let config = Config::load(&config_path)?;
    let mut fresh = Vec::new();
    for _ in 0..ROUNDS / 3 {
        let started = Instant::now();
        pum::create_database(&server, "pum_bench_fresh", &CreateOptions::default())?;
        let db = server.with_dbname("pum_bench_fresh");
        Upgrader::new(&config, &db)?.install(&MigrateOptions::default(), &mut NoProgress)?;
        pum::drop_database(&server, "pum_bench_fresh", &DropOptions::default())?;
        fresh.push(started.elapsed());
    }
    let c = median(fresh);
    pum::testing::drop_template(&spec)?;

    println!(
        "per-test database, {}-file changelog (median of {ROUNDS}; (c) of {})",
        VERSIONS * FILES_PER_VERSION,
        ROUNDS / 3
    );
    for (s, d) in &bare {
        println!(
            "  bare CREATE … TEMPLATE + DROP, {s:<9}        {:>7.1} ms",
            ms(*d)
        );
    }
    println!(
        "  (a) bare, faster strategy ({strategy})          {:>7.1} ms",
        ms(a)
    );
    println!(
        "  (b) pum TestDb ready + dropped               {:>7.1} ms",
        ms(b)
    );
    println!(
        "  (c) empty database + changelog each test     {:>7.1} ms",
        ms(c)
    );
    println!(
        "  (d) isolation = \"transaction\" (median of {})  {:>7.2} ms",
        ROUNDS * 10,
        ms(d)
    );
    let ba = b.as_secs_f64() / a.as_secs_f64();
    let cb = c.as_secs_f64() / b.as_secs_f64();
    println!(
        "  (b)/(a) = {ba:.2}  target ≤ 1.3  {}",
        if ba <= 1.3 { "ok" } else { "MISSED" }
    );
    println!(
        "  (c)/(b) = {cb:.1}  target ≥ 5    {}",
        if cb >= 5.0 { "ok" } else { "MISSED" }
    );
    let cd = c.as_secs_f64() / d.as_secs_f64();
    println!(
        "  (d) = {:.2} ms  target ≤ 5 ms  {}",
        ms(d),
        if ms(d) <= 5.0 { "ok" } else { "MISSED" }
    );
    println!(
        "  (c)/(d) = {cd:.0}  target ≥ 50   {}",
        if cd >= 50.0 { "ok" } else { "MISSED" }
    );
    Ok(())
}
