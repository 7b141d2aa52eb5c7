//! A full install of a pum 1.x datamodel (examples/trees: four versions, three roles, an
//! application made by SQL and a Python hook, demo data) by this pum and by Python pum
//! 1.9.2, side by side, both run as commands (`pum -p DB -d . install -d full`), each
//! round on a fresh database with the roles dropped first.
//!
//! ```text
//! cargo bench -p pum-cli --bench datamodel
//! ```
//!
//! Python pum comes from the virtual environment `.ci/python-pum19` makes (in pum's cache,
//! when missing). Uses `PUM_TEST_DATABASE_URL` when set, else pum's
//! ephemeral server.

#[path = "../../benches/common/mod.rs"]
mod common;
use common::{median, python_pum19, server};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pum::{CreateOptions, DropOptions};

const ROUNDS: usize = 7;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let venv = python_pum19(&workspace);
    let trees = workspace.join("examples/trees");
    let server = server()?;
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_pum"));
    let theirs = venv.join("bin/pum");
    let names = ["pum_bench_trees_rs", "pum_bench_trees_py"];
    let gone = DropOptions {
        if_exists: true,
        ..DropOptions::default()
    };
    let reset = || -> Result<(), Box<dyn std::error::Error>> {
        for name in names {
            pum::drop_database(&server, name, &gone)?;
        }
        let mut client = server.connect()?;
        for row in client.query(
            "SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'trees\\_%'",
            &[],
        )? {
            let role: String = row.get(0);
            client.batch_execute(&format!("DROP ROLE \"{role}\""))?;
        }
        Ok(())
    };
    let run = |program: &Path, db: &str| -> Result<Duration, Box<dyn std::error::Error>> {
        let url = server.with_dbname(db).url();
        let mut command = Command::new(program);
        command
            .current_dir(&trees)
            .env("PUM_PYTHON", venv.join("bin/python"))
            .args(["-p", &url, "-d", ".", "install", "-d", "full"]);
        let started = Instant::now();
        let out = command.output()?;
        let took = started.elapsed();
        if !out.status.success() {
            return Err(format!(
                "{}: {}{}",
                program.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(took)
    };
    let (mut rs, mut py) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        for (name, program, samples) in [(names[0], &ours, &mut rs), (names[1], &theirs, &mut py)] {
            reset()?;
            pum::create_database(&server, name, &CreateOptions::default())?;
            samples.push(run(program, name)?);
        }
    }
    // Both made the same trees (the last round of each is there).
    pum::create_database(&server, names[0], &CreateOptions::default())?;
    run(&ours, names[0])?;
    let count = |db: &str| -> Result<i64, Box<dyn std::error::Error>> {
        Ok(server
            .with_dbname(db)
            .connect()?
            .query_one("SELECT count(*) FROM trees_app.vw_tree", &[])?
            .get(0))
    };
    assert_eq!(count(names[0])?, count(names[1])?, "the same demo data");
    reset()?;
    let (rs, py) = (median(rs), median(py));
    println!(
        "pum 1.x datamodel (examples/trees): install with 3 roles, SQL and Python application \
         hooks and demo data (median of {ROUNDS})"
    );
    println!(
        "  Python pum 1.9.2 install -d full   {:>8.1} ms",
        py.as_secs_f64() * 1e3
    );
    println!(
        "  pum install -d full                {:>8.1} ms",
        rs.as_secs_f64() * 1e3
    );
    println!(
        "  speed-up                           {:>8.1} ×",
        py.as_secs_f64() / rs.as_secs_f64()
    );
    Ok(())
}
