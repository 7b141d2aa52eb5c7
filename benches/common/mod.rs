//! What the benchmarks share: the server they measure on, and medians.

#![allow(dead_code)]

use std::time::Duration;

use pum::ConnectionSpec;

/// The server named by `PUM_TEST_DATABASE_URL`, else pum's ephemeral server.
pub fn server() -> pum::Result<ConnectionSpec> {
    match std::env::var("PUM_TEST_DATABASE_URL") {
        Ok(url) => ConnectionSpec::resolve(&url),
        Err(_) => Ok(pum::server::Server::shared()?.spec().clone()),
    }
}

/// The virtual environment holding Python pum 1.9.2 (and pirogue), made by
/// `.ci/python-pum19` in pum's cache when missing; `workspace` is the repository's root.
pub fn python_pum19(workspace: &std::path::Path) -> std::path::PathBuf {
    let made = std::process::Command::new(workspace.join(".ci/python-pum19"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run .ci/python-pum19");
    assert!(
        made.status.success(),
        "Python pum 1.9.2 could not be installed (.ci/python-pum19)"
    );
    std::path::PathBuf::from(String::from_utf8_lossy(&made.stdout).trim())
}

/// The median of some timings.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Two benchmarks' large schema: 1,000 tables (10,000 columns, 1,000 indexes), 500
/// functions, 300 views and 200 triggers.
pub const BIG_SCHEMA: &str = r#"
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
