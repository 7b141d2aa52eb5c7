//! Comparing two large schemas: 1,000 tables (10,000 columns, 2,000 indexes), 500
//! functions, 300 views and 200 triggers on each side.
//!
//! ```text
//! cargo bench --bench check
//! ```
//!
//! Target (DESIGN §11): a full compare in under a second, with a number of catalog queries
//! that does not depend on the schema's size. Uses `PUM_TEST_DATABASE_URL` when set, else
//! the ephemeral server.

mod common;
use common::median;

use std::time::{Duration, Instant};

use pum::checker::{CheckOptions, Snapshot};
use pum::{CreateOptions, DropOptions};

use common::BIG_SCHEMA as SCHEMA;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = common::server()?;
    let gone = DropOptions {
        if_exists: true,
        ..DropOptions::default()
    };
    for name in [
        "pum_bench_check_a",
        "pum_bench_check_b",
        "pum_bench_check_small",
    ] {
        pum::drop_database(&server, name, &gone)?;
    }
    let started = Instant::now();
    pum::create_database(&server, "pum_bench_check_a", &CreateOptions::default())?;
    let a = server.with_dbname("pum_bench_check_a");
    a.connect()?.batch_execute(SCHEMA)?;
    let copy = CreateOptions {
        template: Some("pum_bench_check_a".into()),
        ..CreateOptions::default()
    };
    pum::create_database(&server, "pum_bench_check_b", &copy)?;
    let b = server.with_dbname("pum_bench_check_b");
    b.connect()?
        .batch_execute("ALTER TABLE big.t500 ALTER COLUMN c2 SET DEFAULT 1")?;
    println!(
        "built two schemas in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let options = CheckOptions::default();
    let mut times = Vec::new();
    let mut report = None;
    for _ in 0..5 {
        let started = Instant::now();
        report = Some(pum::check(&a, &b, &options)?);
        times.push(started.elapsed());
    }
    let report = report.expect("five runs");
    assert_eq!(report.difference_count(), 1, "{report}");

    let snapshot = Snapshot::take(&mut a.connect()?, &options)?;
    pum::create_database(&server, "pum_bench_check_small", &CreateOptions::default())?;
    let small = server.with_dbname("pum_bench_check_small");
    let small_snapshot = Snapshot::take(&mut small.connect()?, &options)?;
    let count = |kind| snapshot.objects.get(&kind).map_or(0, |o| o.len());
    use pum::checker::Kind;
    println!(
        "objects per side: {} tables, {} columns, {} indexes, {} functions, {} views, {} triggers",
        count(Kind::Tables),
        count(Kind::Columns),
        count(Kind::Indexes),
        count(Kind::Functions),
        count(Kind::Views),
        count(Kind::Triggers)
    );
    let took = median(times);
    println!(
        "full compare (two snapshots + diff), median of 5: {:>7.1} ms   target < 1000 ms  {}",
        took.as_secs_f64() * 1e3,
        if took < Duration::from_secs(1) {
            "ok"
        } else {
            "MISSED"
        }
    );
    println!(
        "catalog queries per snapshot: {} for this schema, {} for an empty database",
        snapshot.queries, small_snapshot.queries
    );
    for name in [
        "pum_bench_check_a",
        "pum_bench_check_b",
        "pum_bench_check_small",
    ] {
        pum::drop_database(&server, name, &DropOptions::default())?;
    }
    Ok(())
}
