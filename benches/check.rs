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

const SCHEMA: &str = r#"
CREATE SCHEMA big;
CREATE FUNCTION big.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
DO $$
BEGIN
  FOR i IN 1..1000 LOOP
    EXECUTE format('CREATE TABLE big.t%s (id int PRIMARY KEY, c1 text, c2 int DEFAULT 0,
      c3 numeric(10, 2), c4 timestamptz DEFAULT now(), c5 boolean NOT NULL DEFAULT false,
      c6 text COLLATE "C", c7 bigint, c8 jsonb, c9 date)', i);
    EXECUTE format('CREATE INDEX t%s_c1 ON big.t%s (c1)', i, i);
  END LOOP;
  FOR i IN 1..499 LOOP
    EXECUTE format('CREATE FUNCTION big.f%s(a int, b text) RETURNS text LANGUAGE sql IMMUTABLE
      AS $f$ SELECT b || a::text $f$', i);
  END LOOP;
  FOR i IN 1..300 LOOP
    EXECUTE format('CREATE VIEW big.v%s AS SELECT id, c1, c2 FROM big.t%s WHERE c5', i, i);
  END LOOP;
  FOR i IN 1..200 LOOP
    EXECUTE format('CREATE TRIGGER t%s_touch BEFORE UPDATE ON big.t%s
      FOR EACH ROW EXECUTE FUNCTION big.touch()', i, i);
  END LOOP;
END $$;
"#;

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
