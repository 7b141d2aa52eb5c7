//! `pum lint` over every version of a datamodel beside installing the same versions
//! (target: lint ≤ 2× install), on two projects: examples/trees (four versions) and a
//! generated one (twelve versions of a growing schema whose tables hold rows, with the
//! safe forms lint must not report: constant defaults, concurrent indexes in
//! no-transaction files, foreign keys added NOT VALID and validated later). The
//! generated project lives in a temporary directory and is never committed.
//!
//! ```text
//! cargo bench -p pum-cli --bench lint
//! ```
//!
//! A real datamodel is measured too when `PUM_BENCH_DATAMODEL` names its directory (the
//! one holding `.pum.yaml`; never committed here), in three rounds: TEKSI wastewater, say,
//! whose first changelog creates PostGIS (`apt-get install postgresql-15-postgis-3` for
//! the ephemeral server):
//!
//! ```text
//! git clone --depth 1 https://github.com/teksi/wastewater /tmp/wastewater
//! PUM_BENCH_DATAMODEL=/tmp/wastewater/datamodel cargo bench -p pum-cli --bench lint
//! ```
//!
//! Both run in this process through the library: lint makes and drops its scratch
//! database; the install makes a database, installs the changelogs (roles and the
//! application left out: lint does not run them either) and drops it. Uses
//! `PUM_TEST_DATABASE_URL` when set, else pum's ephemeral server.

#[path = "../../benches/common/mod.rs"]
mod common;
use common::{median, server};

use std::path::Path;
use std::time::{Duration, Instant};

use pum::lint::{LintOptions, lint};
use pum::migrate::NoProgress;
use pum::{Config, CreateOptions, DropOptions, MigrateOptions, Upgrader};

const ROUNDS: usize = 5;
const VERSIONS: usize = 12;
const TABLES_PER_VERSION: usize = 8;
const ROWS: usize = 2_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no workspace")?
        .to_path_buf();
    let server = server()?;
    let generated = tempfile::tempdir()?;
    generate(generated.path())?;
    println!(
        "pum lint beside pum install of the same versions (median of {ROUNDS} rounds, 3 for a datamodel)"
    );
    let mut projects = vec![
        (
            "examples/trees".to_string(),
            workspace.join("examples/trees"),
            ROUNDS,
        ),
        (
            "generated".to_string(),
            generated.path().to_path_buf(),
            ROUNDS,
        ),
    ];
    if let Some(dir) = std::env::var_os("PUM_BENCH_DATAMODEL") {
        let dir = std::path::PathBuf::from(dir);
        let name = dir
            .components()
            .rev()
            .take(2)
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("/");
        projects.push((name, dir, 3));
    }
    for (name, dir, rounds) in projects {
        let config = Config::from_dir(&dir)?;
        let versions = config.changelogs()?.len();
        let mut lints = Vec::new();
        let mut installs = Vec::new();
        let mut statements = 0;
        for _ in 0..rounds {
            let started = Instant::now();
            let report = lint(&config, &server, &LintOptions::default())?;
            lints.push(started.elapsed());
            statements = report.statements;
            installs.push(install(&config, &server)?);
        }
        let (lint, install) = (median(lints), median(installs));
        println!(
            "{name:>15}: {versions} versions, {statements} statements: lint {:>7.1} ms, \
             install {:>7.1} ms, ratio {:.2}",
            ms(lint),
            ms(install),
            lint.as_secs_f64() / install.as_secs_f64()
        );
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Creates a database, installs every version (no roles, no application), drops it.
fn install(config: &Config, server: &pum::ConnectionSpec) -> pum::Result<Duration> {
    let name = format!("pum_bench_lint_{}", std::process::id());
    let gone = DropOptions {
        if_exists: true,
        ..DropOptions::default()
    };
    pum::drop_database(server, &name, &gone)?;
    let started = Instant::now();
    pum::create_database(server, &name, &CreateOptions::default())?;
    let options = MigrateOptions {
        skip_roles: true,
        skip_create_app: true,
        skip_drop_app: true,
        ..MigrateOptions::default()
    };
    Upgrader::new(config, &server.with_dbname(&name))?.install(&options, &mut NoProgress)?;
    pum::drop_database(server, &name, &gone)?;
    Ok(started.elapsed())
}

/// Writes a project of [`VERSIONS`] versions into `dir`.
fn generate(dir: &Path) -> std::io::Result<()> {
    std::fs::write(
        dir.join(".pum.yaml"),
        "pum: {module: benchlint, migration_table_schema: benchlint_sys}\n",
    )?;
    for v in 1..=VERSIONS {
        let version_dir = dir.join(format!("changelogs/1.{v}.0"));
        std::fs::create_dir_all(&version_dir)?;
        let mut tables = String::new();
        if v == 1 {
            tables.push_str("CREATE SCHEMA net;\n");
        }
        for t in 0..TABLES_PER_VERSION {
            let table = format!("net.t{v}_{t}");
            tables.push_str(&format!(
                "CREATE TABLE {table} (id integer PRIMARY KEY, label text, size integer, \
                 seen date DEFAULT CURRENT_DATE, parent integer);\n\
                 INSERT INTO {table} SELECT g, 'row ' || g, g % 100, NULL, g \
                 FROM generate_series(1, {ROWS}) g;\n\
                 COMMENT ON TABLE {table} IS 'version 1.{v}.0, table {t}';\n"
            ));
        }
        std::fs::write(version_dir.join("01_tables.sql"), tables)?;
        if v == 1 {
            continue;
        }
        let previous = v - 1;
        let mut changes = String::new();
        let mut indexes = String::from("-- pum:no-transaction\n");
        let mut validations = String::new();
        for t in 0..TABLES_PER_VERSION {
            let table = format!("net.t{previous}_{t}");
            changes.push_str(&format!(
                "ALTER TABLE {table} ADD COLUMN state smallint NOT NULL DEFAULT 0;\n\
                 ALTER TABLE {table} ALTER COLUMN label SET DEFAULT 'new';\n\
                 ALTER TABLE {table} ADD CONSTRAINT t{previous}_{t}_parent \
                 FOREIGN KEY (parent) REFERENCES {table} (id) NOT VALID;\n\
                 UPDATE {table} SET size = size + 1 WHERE id <= 10;\n"
            ));
            indexes.push_str(&format!(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS t{previous}_{t}_size ON {table} (size);\n"
            ));
            validations.push_str(&format!(
                "ALTER TABLE {table} VALIDATE CONSTRAINT t{previous}_{t}_parent;\n"
            ));
        }
        std::fs::write(version_dir.join("02_changes.sql"), changes)?;
        std::fs::write(version_dir.join("03_indexes.sql"), indexes)?;
        std::fs::write(version_dir.join("04_validate.sql"), validations)?;
    }
    Ok(())
}
