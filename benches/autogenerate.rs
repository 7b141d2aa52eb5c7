//! Autogenerate on two large schemas: 1,000 tables (10,000 columns, 1,000 indexes), 500
//! functions, 300 views and 200 triggers each, B differing from A in 100 new columns, 50
//! changed indexes, 30 changed views, 20 changed functions, 10 dropped and 10 new tables:
//! both read, the data asked about, the SQL written (as `pum new --autogenerate` does after
//! its fresh install). Side by side, migra on the same pair when it is installed in
//! target/python-migra (`python3 -m venv target/python-migra && target/python-migra/bin/pip
//! install migra psycopg2-binary 'sqlalchemy<2'`).
//!
//! ```text
//! cargo bench --bench autogenerate
//! ```
//!
//! Target: a diff and its SQL in under 2 s. Uses `PUM_TEST_DATABASE_URL` when set, else
//! the ephemeral server.

mod common;
use common::median;

use std::path::Path;
use std::time::{Duration, Instant};

use pum::checker::ddl;
use pum::{CreateOptions, DropOptions};

use common::BIG_SCHEMA as SCHEMA;

const CHANGES: &str = r#"
DO $$
BEGIN
  FOR i IN 1..100 LOOP
    EXECUTE format('ALTER TABLE big.t%s ADD COLUMN c10 text DEFAULT %L', i * 9, 'new');
  END LOOP;
  FOR i IN 1..50 LOOP
    EXECUTE format('DROP INDEX big.t%s_c1; CREATE INDEX t%s_c1 ON big.t%s (c1, c2)', i * 3, i * 3, i * 3);
  END LOOP;
  FOR i IN 1..30 LOOP
    EXECUTE format('CREATE OR REPLACE VIEW big.v%s AS SELECT id, c1, c2, c3 FROM big.t%s WHERE c5', i, i);
  END LOOP;
  FOR i IN 1..20 LOOP
    EXECUTE format('CREATE OR REPLACE FUNCTION big.f%s(a int, b text) RETURNS text LANGUAGE sql
      IMMUTABLE AS $f$ SELECT b || (a + 1)::text $f$', i);
  END LOOP;
  FOR i IN 991..1000 LOOP
    EXECUTE format('DROP TABLE big.t%s', i);
  END LOOP;
  FOR i IN 1001..1010 LOOP
    EXECUTE format('CREATE TABLE big.t%s (id int PRIMARY KEY, c1 text)', i);
  END LOOP;
END $$;
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = common::server()?;
    let names = ["pum_bench_autogen_a", "pum_bench_autogen_b"];
    for name in names {
        pum::drop_database(&server, name, &DropOptions::if_exists())?;
        pum::create_database(&server, name, &CreateOptions::default())?;
        server.with_dbname(name).connect()?.batch_execute(SCHEMA)?;
    }
    let (a, b) = (server.with_dbname(names[0]), server.with_dbname(names[1]));
    b.connect()?.batch_execute(CHANGES)?;

    let mut samples: Vec<Duration> = Vec::new();
    let mut statements = 0;
    let mut queries = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let (from, to) = ddl::read_both(&a, &b, &[])?;
        let cx = ddl::context(&mut a.connect()?, &from, &to)?;
        let script = ddl::generate(&from, &to, &cx);
        samples.push(started.elapsed());
        statements = script.statements.len();
        queries = from.queries;
    }
    let ours = median(samples);

    let migra = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/python-migra/bin/migra");
    let theirs = migra.exists().then(|| {
        let mut samples = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let out = std::process::Command::new(&migra)
                .args(["--unsafe", &url(&a), &url(&b)])
                .output();
            samples.push(started.elapsed());
            if let Ok(out) = out
                && out.status.code().is_none_or(|c| c > 2)
            {
                eprintln!("migra failed: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        median(samples)
    });
    for name in names {
        pum::drop_database(&server, name, &DropOptions::default())?;
    }
    println!(
        "autogenerate, 1,000 tables a side (median of 5): {:.0} ms, {statements} statements, \
         {queries} catalog queries per database",
        ours.as_secs_f64() * 1e3
    );
    match theirs {
        Some(t) => println!(
            "migra on the same pair (median of 3, a process each): {:.0} ms ({:.1} × pum)",
            t.as_secs_f64() * 1e3,
            t.as_secs_f64() / ours.as_secs_f64()
        ),
        None => println!("migra: not installed in target/python-migra (see the file's docs)"),
    }
    Ok(())
}

/// A URL migra (SQLAlchemy) can use for `spec`.
fn url(spec: &pum::ConnectionSpec) -> String {
    format!(
        "postgresql://{}@/{}?host={}&port={}",
        spec.user(),
        spec.dbname(),
        spec.host(),
        spec.port()
    )
}
