//! A data file at psql's pace: one changelog of N `INSERT` statements installed by
//! `pum install` beside the same file fed to `psql -1 -f` (one transaction), each round on
//! a fresh database, for N = 100,000 and 1,000,000 (or `PUM_BENCH_ROWS=N,M`).
//!
//! ```text
//! cargo bench -p pum-cli --bench datafile
//! ```
//!
//! Uses `PUM_TEST_DATABASE_URL` when set, else pum's ephemeral server. The cost must grow
//! linearly with N (statements are split in one pass) and stay near psql's.

#[path = "../../benches/common/mod.rs"]
mod common;
use common::{median, server};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pum::DropOptions;

const ROUNDS: usize = 3;

/// A project whose one version is `rows` INSERTs.
fn project(rows: usize) -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join(".pum.yaml"), "pum: {module: bench}\n")?;
    let version = dir.path().join("changelogs/1.0.0");
    std::fs::create_dir_all(&version)?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(version.join("01_data.sql"))?);
    writeln!(file, "CREATE TABLE item (id integer, label text);")?;
    for i in 0..rows {
        writeln!(
            file,
            "INSERT INTO item VALUES ({i}, 'row {i}; not the end');"
        )?;
    }
    file.flush()?;
    Ok(dir)
}

fn timed(command: &mut Command) -> Result<Duration, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let out = command.output()?;
    let took = started.elapsed();
    if !out.status.success() {
        return Err(format!("{command:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(took)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = server()?;
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_pum"));
    let counts: Vec<usize> = std::env::var("PUM_BENCH_ROWS")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .map(|n| n.trim().parse())
        .collect::<Result<_, _>>()?;
    let db = "pum_bench_datafile";
    let fresh = || -> pum::Result<()> {
        pum::drop_database(&server, db, &DropOptions::if_exists())?;
        pum::create_database(&server, db, &Default::default())
    };
    let url = server.with_dbname(db).url();
    println!("rows       pum install   psql -1 -f   pum/psql   (median of {ROUNDS})");
    for rows in counts {
        let dir = project(rows)?;
        let file: &Path = &dir.path().join("changelogs/1.0.0/01_data.sql");
        let (mut pum, mut psql) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            fresh()?;
            pum.push(timed(
                Command::new(&ours)
                    .current_dir(dir.path())
                    .args(["-q", "-p", &url, "install"]),
            )?);
            fresh()?;
            psql.push(timed(
                Command::new("psql")
                    .args([
                        "-X",
                        "-q",
                        "-1",
                        "-v",
                        "ON_ERROR_STOP=1",
                        "-o",
                        "/dev/null",
                        "-f",
                    ])
                    .arg(file)
                    .arg(&url),
            )?);
        }
        let (a, b) = (median(pum), median(psql));
        println!(
            "{rows:<10} {:>9.2} s   {:>8.2} s   {:>8.2}",
            a.as_secs_f64(),
            b.as_secs_f64(),
            a.as_secs_f64() / b.as_secs_f64()
        );
    }
    pum::drop_database(&server, db, &DropOptions::if_exists())?;
    Ok(())
}
