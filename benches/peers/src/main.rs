//! pum's per-test database beside its peers, in one run, as `cargo test` runs tests (one
//! process per kind, as many threads as cores): 100 and 400 trivial tests on a
//! 50-version × 4-file changelog, with
//!
//! - pum (`pum::testing::run`, what `#[pum_test]` expands to), with its spare clones made
//!   ahead (the default) and without (`PUM_TEST_SPARES=0`);
//! - a bare `CREATE DATABASE … TEMPLATE` + `DROP DATABASE` per test (from a template
//!   migrated once, the faster strategy, maintenance sessions shared);
//! - one transaction rolled back per test, on one migrated database;
//! - pum with `isolation = "transaction"` (the test's body in a transaction on a shared
//!   database per parallel slot, rolled back);
//! - `#[sqlx::test]` (sqlx 0.8) with the same SQL as its migrations;
//! - the server's own cost of a database per test: one clone and drop of the template, one
//!   at a time, shared by the cores (what a harness doing nothing else would take);
//!
//! the cost of `pum::upgrade_paths!` on the same changelog (49 upgrade tests), cold
//! (no template yet) and warm, and 4 runners × 100 tests at once beside 1 × 400.
//!
//! ```text
//! cd benches/peers && cargo run --release
//! ```
//!
//! On pum's ephemeral server (this crate's own, in its target directory), or on the server
//! `PUM_TEST_DATABASE_URL` names.

use std::collections::HashMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The generated project's .pum.yaml (build.rs).
const CONFIG: &str = include_str!(concat!(env!("OUT_DIR"), "/config_path"));

/// Runs per measurement (the median counts); sqlx::test's are long, so fewer.
const RUNS: usize = 3;

fn main() -> Result<()> {
    let given = std::env::var("PUM_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let _attached;
    let server = match &given {
        Some(url) => pum::ConnectionSpec::resolve(url)?,
        None => {
            _attached = pum::server::Server::attach(&pum::server::ServerOptions::from_env()?)?;
            _attached.spec().clone()
        }
    };
    let url = server.url();
    println!(
        "server: {}",
        given
            .as_deref()
            .map(|_| "PUM_TEST_DATABASE_URL".to_string())
            .unwrap_or_else(|| format!("pum's ephemeral server ({url})"))
    );

    let binaries = build_tests()?;
    let config = pum::Config::load(Path::new(CONFIG))?;
    let template = "peers_template";
    let shared = "peers_shared";
    for name in [template, shared] {
        pum::drop_database(&server, name, &pum::DropOptions::if_exists())?;
        pum::create_database(&server, name, &Default::default())?;
        pum::Upgrader::new(&config, &server.with_dbname(name))?
            .install(&Default::default(), &mut pum::migrate::NoProgress)?;
    }
    let (strategy, clone_and_drop) = faster_strategy(&server, template)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let env: Vec<(&str, String)> = vec![
        ("PEERS_SERVER", url.clone()),
        ("PEERS_TEMPLATE", template.into()),
        ("PEERS_SHARED", shared.into()),
        ("PEERS_STRATEGY", strategy.into()),
        ("DATABASE_URL", url.clone()),
    ];
    let waits_file = std::env::temp_dir().join(format!("pum-peers-waits-{}", std::process::id()));

    // Warm up each kind once (pum builds its template, sqlx makes its bookkeeping).
    for kind in [
        "pum_tests",
        "transaction_tests",
        "sqlx_tests",
        "bare_tests",
        "rollback_tests",
    ] {
        run(&binaries[kind], "t_000", &env, &[])?;
    }
    // `cargo run --release -- waits` (or `shards`, or `table`: the per-test table): only
    // that section.
    let section = std::env::args().nth(1);
    let only_waits = section.as_deref() == Some("waits");
    let only_table = section.as_deref() == Some("table");
    let only_shards = section.as_deref() == Some("shards");
    if only_shards {
        return shards(&binaries["pum_tests"], &env);
    }

    let mut rows = Vec::new();
    let sizes: &[(usize, &str)] = if only_waits {
        &[]
    } else {
        &[(100, "t_0"), (400, "t_")]
    };
    for &(tests, filter) in sizes {
        let kinds = [
            ("pum", "pum_tests", vec![], RUNS),
            (
                "pum, no spares",
                "pum_tests",
                vec![("PUM_TEST_SPARES", "0")],
                RUNS,
            ),
            ("pum, transaction", "transaction_tests", vec![], RUNS),
            ("bare clone", "bare_tests", vec![], RUNS),
            ("rollback", "rollback_tests", vec![], RUNS),
            ("sqlx::test", "sqlx_tests", vec![], 1),
        ];
        // Round by round, each kind once per round: a slow minute of the machine (or the
        // server's work left by the previous kind) falls on every kind alike, not on
        // whichever ran then.
        let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); kinds.len()];
        let mut waits: HashMap<&str, Vec<u64>> = HashMap::new();
        for round in 0..RUNS {
            for (k, (label, kind, extra, runs)) in kinds.iter().enumerate() {
                if round >= *runs {
                    continue;
                }
                let _ = std::fs::remove_file(&waits_file);
                // Each run starts with no spare: none left by an earlier run with spares
                // for a run without (a gift), nor for the next run with (its own cost).
                drop_spares(&server)?;
                let mut extra: Vec<(&str, String)> =
                    extra.iter().map(|(k, v)| (*k, v.to_string())).collect();
                extra.push(("PUM_BENCH_WAITS", waits_file.display().to_string()));
                samples[k].push(run(&binaries[*kind], filter, &env, &extra)?);
                if *kind == "pum_tests" {
                    waits
                        .entry(label)
                        .or_default()
                        .extend(read_waits(&waits_file));
                }
            }
        }
        let row: Vec<(String, Duration)> = kinds
            .iter()
            .zip(samples)
            .map(|((label, ..), mut samples)| {
                samples.sort();
                (label.to_string(), samples[samples.len() / 2] / tests as u32)
            })
            .collect();
        rows.push((tests, row, waits));
    }

    if !rows.is_empty() {
        println!(
            "\nper-test wall time (whole test binary / tests; {threads} threads, as cargo test), \
         50 versions × 4 files"
        );
        let labels: Vec<String> = rows[0].1.iter().map(|(l, _)| l.clone()).collect();
        print!("{:>6}", "tests");
        for label in &labels {
            print!("  {label:>15}");
        }
        println!();
        for (tests, row, _) in &rows {
            print!("{tests:>6}");
            for (_, d) in row {
                print!("  {:>12.2} ms", ms(*d));
            }
            println!();
        }
        for (tests, row, waits) in &rows {
            let get = |l: &str| row.iter().find(|(x, _)| x == l).map(|(_, d)| *d).unwrap();
            let pum = get("pum");
            println!(
                "{tests} tests: pum / bare clone = {:.2} (target ≤ 1), sqlx::test / pum = {:.1} \
             (target ≥ 10)",
                ratio(pum, get("bare clone")),
                ratio(get("sqlx::test"), pum)
            );
            // The server's own cost: each test of a database-per-test harness has a clone
            // and a drop made, which keep a core busy while they run.
            let floor = clone_and_drop / threads as u32;
            println!(
                "{tests} tests: the server's clone + drop of the template, one at a time: \
                 {:.2} ms ({strategy}); shared by {threads} cores {:.2} ms per test, where a \
                 harness paying nothing else would reach sqlx::test / it = {:.1}",
                ms(clone_and_drop),
                ms(floor),
                ratio(get("sqlx::test"), floor)
            );
            let transaction = get("pum, transaction");
            println!(
                "{tests} tests: pum, transaction {:.2} ms per test (target ≤ 5 ms), \
                 sqlx::test / pum, transaction = {:.0} (target ≥ 50), / rollback = {:.2}",
                ms(transaction),
                ratio(get("sqlx::test"), transaction),
                ratio(transaction, get("rollback"))
            );
            for (label, samples) in waits {
                println!(
                    "  wait for the database, {label}: p50 {:.2} ms, p95 {:.2} ms",
                    percentile(samples, 50),
                    percentile(samples, 95),
                );
            }
        }
    }

    if only_table {
        for name in [template, shared] {
            pum::drop_database(&server, name, &pum::DropOptions::if_exists())?;
        }
        return Ok(());
    }

    // Tests that take a while (bodies of 300 ms that leave the cores free): spares are
    // made while they run, so the next test's database is ready when it starts.
    println!("\n100 tests whose body takes 300 ms (so that the machine has spare cores):");
    for (label, extra) in [
        ("pum", vec![("PUM_BENCH_BODY_MS", "300")]),
        (
            "pum, no spares",
            vec![("PUM_BENCH_BODY_MS", "300"), ("PUM_TEST_SPARES", "0")],
        ),
    ] {
        let _ = std::fs::remove_file(&waits_file);
        drop_spares(&server)?;
        let mut extra: Vec<(&str, String)> =
            extra.iter().map(|(k, v)| (*k, v.to_string())).collect();
        extra.push(("PUM_BENCH_WAITS", waits_file.display().to_string()));
        let took = run(&binaries["pum_tests"], "t_0", &env, &extra)?;
        let waits = read_waits(&waits_file);
        println!(
            "  {label:<15} wait for the database: p50 {:.2} ms, p95 {:.2} ms; per test {:.1} ms{}",
            percentile(&waits, 50),
            percentile(&waits, 95),
            ms(took / 100),
            if label == "pum" {
                " (target p50 ≤ 2 ms)"
            } else {
                ""
            }
        );
    }
    let _ = std::fs::remove_file(&waits_file);

    // upgrade_paths!: cold on a server of our own (every template dropped first), warm.
    if given.is_none() && !only_waits {
        drop_templates(&server)?;
        let cold = run(&binaries["upgrade_paths"], "upgrade_from", &env, &[])?;
        let warm = run(&binaries["upgrade_paths"], "upgrade_from", &env, &[])?;
        println!(
            "\npum::upgrade_paths! on 50 versions (49 tests): cold {:.1} s (every template \
             built), warm {:.2} s",
            cold.as_secs_f64(),
            warm.as_secs_f64()
        );
    }
    if !only_waits {
        shards(&binaries["pum_tests"], &env)?;
    }
    for name in [template, shared] {
        pum::drop_database(&server, name, &pum::DropOptions::if_exists())?;
    }
    Ok(())
}

/// Sharded CI on one machine: 4 runners (test processes started at once, as
/// `cargo nextest run --partition hash:k/4` on four machines would be) × 100 tests against
/// one server, beside 1 runner × 400. The runners here share this machine's cores, so
/// the figure is the coordination's cost (one template build, one connection budget,
/// spares shared), not the speed-up of four machines.
fn shards(binary: &Path, env: &[(&str, String)]) -> Result<()> {
    let mut one = Vec::new();
    let mut four = Vec::new();
    for _ in 0..RUNS {
        one.push(run(binary, "t_", env, &[])?);
        let started = Instant::now();
        let children: Vec<_> = ["t_0", "t_1", "t_2", "t_3"]
            .iter()
            .map(|filter| {
                Command::new(binary)
                    .arg(filter)
                    .arg("-q")
                    .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
            })
            .collect::<std::io::Result<_>>()?;
        for child in children {
            let out = child.wait_with_output()?;
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
            }
        }
        four.push(started.elapsed());
    }
    one.sort();
    four.sort();
    let (one, four) = (one[RUNS / 2], four[RUNS / 2]);
    println!(
        "
sharded: 1 runner × 400 tests {:.2} s; 4 runners × 100 tests at once {:.2} s (ratio {:.2}; one machine's cores shared by all runners)",
        one.as_secs_f64(),
        four.as_secs_f64(),
        ratio(four, one)
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn percentile(samples: &[u64], p: usize) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[((sorted.len() - 1) * p) / 100] as f64 / 1e3
}

fn read_waits(path: &Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Builds the test binaries (release) and finds them.
fn build_tests() -> Result<HashMap<String, PathBuf>> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "test",
            "--release",
            "--no-run",
            "--message-format=json",
            "-q",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    let mut found = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let (Some(name), Some(exe)) = (
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) {
            found.insert(name.to_string(), PathBuf::from(exe));
        }
    }
    Ok(found)
}

/// Runs a test binary on the tests matching `filter`; its wall time.
fn run(
    binary: &Path,
    filter: &str,
    env: &[(&str, String)],
    extra: &[(&str, String)],
) -> Result<Duration> {
    let started = Instant::now();
    let out = Command::new(binary)
        .arg(filter)
        .arg("-q")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .output()?;
    let took = started.elapsed();
    if !out.status.success() {
        return Err(format!(
            "{} {filter}: {}{}",
            binary.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(took)
}

/// FILE_COPY or WAL_LOG, whichever clones `template` faster here, and what one clone and
/// its drop take with it, one at a time.
fn faster_strategy(
    server: &pum::ConnectionSpec,
    template: &str,
) -> Result<(&'static str, Duration)> {
    let mut client = server.connect()?;
    let mut best = ("FILE_COPY", Duration::MAX);
    for strategy in ["FILE_COPY", "WAL_LOG"] {
        let started = Instant::now();
        for i in 0..5 {
            client.batch_execute(&format!(
                "CREATE DATABASE peers_probe_{i} TEMPLATE {template} STRATEGY {strategy}"
            ))?;
            client.batch_execute(&format!("DROP DATABASE peers_probe_{i}"))?;
        }
        let took = started.elapsed() / 5;
        if took < best.1 {
            best = (strategy, took);
        }
    }
    Ok(best)
}

/// Drops the spare clones the harness's runs left ready (no run is going on meanwhile).
fn drop_spares(server: &pum::ConnectionSpec) -> Result<()> {
    let Ok(mut registry) = server.with_dbname("pum_registry").connect() else {
        return Ok(()); // no registry yet: no spare
    };
    let spares: Vec<String> = registry
        .query(
            "SELECT name FROM pum_registry.databases WHERE spare_of IS NOT NULL AND ready",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for name in spares {
        pum::drop_database(server, &name, &pum::DropOptions::if_exists())?;
        registry.execute(
            "DELETE FROM pum_registry.databases WHERE name = $1",
            &[&name],
        )?;
    }
    Ok(())
}

/// Drops every template and reference of the harness on this (private) server.
fn drop_templates(server: &pum::ConnectionSpec) -> Result<()> {
    let mut client = server.connect()?;
    let names: Vec<String> = client
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'pum\\_tpl\\_%' \
             OR datname LIKE 'pum\\_ref\\_%' OR datname LIKE 'pum\\_t\\_%' \
             OR datname LIKE 'pum\\_shared\\_%'",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for name in names {
        client.batch_execute(&format!("ALTER DATABASE \"{name}\" IS_TEMPLATE false"))?;
        client.batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))?;
    }
    // The harness's registry is database pum_registry of the server.
    if let Ok(mut registry) = server.with_dbname("pum_registry").connect() {
        registry.batch_execute(
            "DELETE FROM pum_registry.templates; DELETE FROM pum_registry.databases",
        )?;
    }
    Ok(())
}
