//! `pum check` of two large databases, as a user runs it: the whole process (start,
//! both connections, both catalogs read, the diff, the report), on pairs of 1,000 and
//! 5,000 tables, each table with 10 columns, a primary key, a unique and a check
//! constraint, a foreign key, an index, a grant and two comments; besides, per 1,000
//! tables, 500 functions, 300 views and 200 triggers. The two databases differ in one
//! column default. Side by side, migra on the same pairs when it is installed in
//! target/python-migra (`python3 -m venv target/python-migra && target/python-migra/bin/pip
//! install migra psycopg2-binary 'sqlalchemy<2'`), its runs alternating with pum's.
//!
//! ```text
//! cargo build --release -p pum-cli && cargo bench --bench check
//! ```
//!
//! Targets (issue 25): the 1,000-table pair in at most 0.5 s and at least 8 times faster
//! than migra, in the same run; the 5,000-table pair in at most 5 times the 1,000-table
//! time. Also the library's compare alone, and the number of catalog queries, which does
//! not depend on the schema's size. Uses `PUM_TEST_DATABASE_URL` when set, else the
//! ephemeral server. The `pum` binary is target/release/pum (built by the first command),
//! or `PUM_BENCH_BINARY`.

mod common;
use common::median;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pum::checker::{CheckOptions, Kind, Snapshot};
use pum::{ConnectionSpec, CreateOptions, DropOptions};

/// The schema of `n` tables (`n` a multiple of 10).
fn schema(n: usize) -> String {
    format!(
        r#"
CREATE SCHEMA big;
CREATE FUNCTION big.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
DO $$
BEGIN
  FOR i IN 1..{n} LOOP
    EXECUTE format('CREATE TABLE big.t%s (id int PRIMARY KEY, c1 text NOT NULL,
      c2 int DEFAULT 0 CHECK (c2 >= 0), c3 numeric(10, 2), c4 timestamptz DEFAULT now(),
      c5 boolean NOT NULL DEFAULT false, c6 text COLLATE "C", c7 bigint, c8 jsonb, c9 date,
      parent int %s, UNIQUE (c1, c9))', i,
      CASE WHEN i > 1 THEN format('REFERENCES big.t%s (id)', i - 1) ELSE '' END);
    EXECUTE format('CREATE INDEX t%s_c1 ON big.t%s (c1)', i, i);
    EXECUTE format('COMMENT ON TABLE big.t%s IS %L', i, 'table ' || i);
    EXECUTE format('COMMENT ON COLUMN big.t%s.c1 IS %L', i, 'the first column');
    EXECUTE format('GRANT SELECT ON big.t%s TO PUBLIC', i);
  END LOOP;
  FOR i IN 1..{functions} LOOP
    EXECUTE format('CREATE FUNCTION big.f%s(a int, b text) RETURNS text LANGUAGE sql IMMUTABLE
      AS $f$ SELECT b || a::text $f$', i);
  END LOOP;
  FOR i IN 1..{views} LOOP
    EXECUTE format('CREATE VIEW big.v%s AS SELECT id, c1, c2 FROM big.t%s WHERE c5', i, i);
  END LOOP;
  FOR i IN 1..{triggers} LOOP
    EXECUTE format('CREATE TRIGGER t%s_touch BEFORE UPDATE ON big.t%s
      FOR EACH ROW EXECUTE FUNCTION big.touch()', i, i);
  END LOOP;
END $$;
"#,
        functions = n / 2 - 1,
        views = n * 3 / 10,
        triggers = n / 5,
    )
}

/// A pair of databases of `n` tables each, one column default apart.
fn pair(
    server: &ConnectionSpec,
    n: usize,
) -> Result<(ConnectionSpec, ConnectionSpec), Box<dyn std::error::Error>> {
    let (a, b) = (
        format!("pum_bench_check_{n}_a"),
        format!("pum_bench_check_{n}_b"),
    );
    for name in [&a, &b] {
        pum::drop_database(server, name, &DropOptions::if_exists())?;
    }
    pum::create_database(server, &a, &CreateOptions::default())?;
    let left = server.with_dbname(&a);
    left.connect()?.batch_execute(&schema(n))?;
    let copy = CreateOptions {
        template: Some(a.clone()),
        ..CreateOptions::default()
    };
    pum::create_database(server, &b, &copy)?;
    let right = server.with_dbname(&b);
    right
        .connect()?
        .batch_execute("ALTER TABLE big.t500 ALTER COLUMN c2 SET DEFAULT 1")?;
    // As a database in use has them: statistics on its catalog (the planner's input), and
    // the catalog vacuumed (else autovacuum does it while the runs are timed).
    for spec in [&left, &right] {
        spec.connect()?.batch_execute("VACUUM ANALYZE")?;
    }
    Ok((left, right))
}

/// The time one run of `command` took; it must exit with one of `ok`.
fn time_once(ok: &[i32], mut command: Command) -> Duration {
    let started = Instant::now();
    let out = command.output().expect("the command runs");
    let took = started.elapsed();
    if !out.status.code().is_some_and(|c| ok.contains(&c)) {
        panic!(
            "{command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    took
}

/// The `pum` binary timed: `PUM_BENCH_BINARY` when set (to compare two builds in one
/// run), else target/release/pum (built by `cargo build --release -p pum-cli`), when it
/// is there.
fn pum_binary() -> Option<PathBuf> {
    if let Some(binary) = std::env::var_os("PUM_BENCH_BINARY") {
        return Some(PathBuf::from(binary));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    Some(target.join("release/pum")).filter(|pum| pum.exists())
}

/// A URL migra (SQLAlchemy) can use for `spec`.
fn migra_url(spec: &ConnectionSpec) -> String {
    format!(
        "postgresql://{}@/{}?host={}&port={}",
        spec.user(),
        spec.dbname(),
        spec.host(),
        spec.port()
    )
}

/// Runs of `pum check` per pair.
const PUM_RUNS: usize = 7;

/// How many of `runs` runs go before each of `others` runs of the peer, and after the
/// last: as even as they divide, the first groups the larger.
fn spread(runs: usize, others: usize) -> Vec<usize> {
    let groups = others + 1;
    (0..groups)
        .map(|g| runs / groups + usize::from(g < runs % groups))
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = common::server()?;
    let pum = pum_binary();
    let migra = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/python-migra/bin/migra");
    let migra = migra.exists().then_some(migra);
    let options = CheckOptions::default();
    let mut rows = Vec::new();
    for (n, migra_runs) in [(1000, 3), (5000, 1)] {
        let started = Instant::now();
        let (a, b) = pair(&server, n)?;
        println!(
            "built two databases of {n} tables in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let snapshot = Snapshot::take(&mut a.connect()?, &options)?;
        let count = |kind| snapshot.objects.get(&kind).map_or(0, |o| o.len());
        println!(
            "  per side: {} tables, {} columns, {} constraints, {} indexes, {} functions, \
             {} views, {} triggers, {} privileges, {} comments; {} catalog queries",
            count(Kind::Tables),
            count(Kind::Columns),
            count(Kind::Constraints),
            count(Kind::Indexes),
            count(Kind::Functions),
            count(Kind::Views),
            count(Kind::Triggers),
            count(Kind::Privileges),
            count(Kind::Comments),
            snapshot.queries
        );
        let report = pum::check(&a, &b, &options)?;
        assert_eq!(report.difference_count(), 1, "{report}");
        let library = median(
            (0..5)
                .map(|_| {
                    let started = Instant::now();
                    pum::check(&a, &b, &options).expect("check");
                    started.elapsed()
                })
                .collect(),
        );
        // pum's runs are spread before, between and after migra's, so that both see the
        // machine alike (its speed drifts over a minute, and one of migra's runs lasts as
        // long as all of pum's). `pum check` exits with 1 when the databases differ;
        // migra exits with 2 when it writes statements.
        let (mut pum_samples, mut migra_samples) = (Vec::new(), Vec::new());
        for runs_of_pum in spread(PUM_RUNS, migra_runs) {
            if let Some(pum) = pum.as_ref() {
                for _ in 0..runs_of_pum {
                    let mut command = Command::new(pum);
                    command.args(["-p", &a.url(), "check", &b.url()]);
                    pum_samples.push(time_once(&[1], command));
                }
            }
            if let Some(migra) = migra.as_ref().filter(|_| migra_samples.len() < migra_runs) {
                let mut command = Command::new(migra);
                command.args(["--unsafe", &migra_url(&a), &migra_url(&b)]);
                migra_samples.push(time_once(&[2], command));
            }
        }
        let process = pum.as_ref().map(|_| median(pum_samples));
        let peer = migra.as_ref().map(|_| median(migra_samples));
        rows.push((n, library, process, peer, migra_runs));
        for name in [a.dbname(), b.dbname()] {
            pum::drop_database(&server, name, &DropOptions::default())?;
        }
    }
    print_table(&rows, pum.is_some());
    Ok(())
}

type Row = (usize, Duration, Option<Duration>, Option<Duration>, usize);

/// The figures, and the targets met or missed.
fn print_table(rows: &[Row], have_pum: bool) {
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1e3);
    println!();
    println!("tables  pum check (process, median of 7)  compare in-process  migra  migra / pum");
    for (n, library, process, peer, migra_runs) in rows {
        println!(
            "{n:>6}  {:>33}  {:>18}  {:>5}  {}",
            process.map_or("-".into(), ms),
            ms(*library),
            peer.map_or("-".into(), |p| format!(
                "{} ({migra_runs} run{})",
                ms(p),
                if *migra_runs == 1 { "" } else { "s" }
            )),
            match (process, peer) {
                (Some(p), Some(m)) => format!("{:.1} ×", m.as_secs_f64() / p.as_secs_f64()),
                _ => "-".into(),
            }
        );
    }
    if !have_pum {
        println!("no target/release/pum: cargo build --release -p pum-cli, then run again");
    }
    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
    let whole = |r: &Row| r.2.unwrap_or(r.1);
    if let [small, large] = rows {
        let t = whole(small);
        println!(
            "1,000 tables: {} (target ≤ 500 ms) {}",
            ms(t),
            verdict(t <= Duration::from_millis(500))
        );
        if let Some(m) = small.3 {
            let ratio = m.as_secs_f64() / t.as_secs_f64();
            println!(
                "migra / pum: {ratio:.1} × (target ≥ 8 ×) {}",
                verdict(ratio >= 8.0)
            );
        }
        let growth = whole(large).as_secs_f64() / t.as_secs_f64();
        println!(
            "5,000 tables / 1,000 tables: {growth:.2} × (target ≤ 5 ×) {}",
            verdict(growth <= 5.0)
        );
    }
}
