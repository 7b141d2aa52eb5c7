//! A data file at psql's pace: one changelog of N `INSERT` statements installed by
//! `pum install` beside the same file fed to `psql -1 -f` (one transaction), each round on
//! a fresh database, for N = 100,000 and 1,000,000 (or `PUM_BENCH_ROWS=N,M`).
//!
//! ```text
//! cargo bench -p pum-cli --bench datafile
//! ```
//!
//! Uses `PUM_TEST_DATABASE_URL` when set, else pum's ephemeral server. The cost must grow
//! linearly with N (statements are split in one pass) and stay near psql's; so must the
//! client's memory: each side's peak resident set (the largest of the rounds, read by
//! `/usr/bin/time`, shown as `n/a` without it) is printed beside its time.

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

/// What one run of a program took: its time and, when `/usr/bin/time` is there, its peak
/// resident set in kB.
struct Measured {
    took: Duration,
    peak_kb: Option<u64>,
}

/// Runs `program` with `args`, timed; through `/usr/bin/time -f %M` when it exists, which
/// writes the child's peak resident set (`ru_maxrss`, kB) to a file of its own.
fn measured(
    program: &Path,
    args: &[&std::ffi::OsStr],
) -> Result<Measured, Box<dyn std::error::Error>> {
    const TIME: &str = "/usr/bin/time";
    let peak_file = tempfile::NamedTempFile::new()?;
    let mut command = if Path::new(TIME).exists() {
        let mut command = Command::new(TIME);
        command
            .args(["-f", "%M", "-o"])
            .arg(peak_file.path())
            .arg(program);
        command
    } else {
        Command::new(program)
    };
    command.args(args);
    let started = Instant::now();
    let out = command.output()?;
    let took = started.elapsed();
    if !out.status.success() {
        return Err(format!("{command:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let peak_kb = std::fs::read_to_string(peak_file.path())
        .ok()
        .and_then(|text| text.lines().last()?.trim().parse().ok());
    Ok(Measured { took, peak_kb })
}

/// The median time and the largest peak of some runs.
fn summary(runs: Vec<Measured>) -> (Duration, String) {
    let peak = runs.iter().filter_map(|m| m.peak_kb).max();
    let peak = match peak {
        Some(kb) => format!("{:.0} MB", kb as f64 / 1024.0),
        None => "n/a".into(),
    };
    (median(runs.into_iter().map(|m| m.took).collect()), peak)
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
    println!(
        "rows       file      pum install (peak)      psql -1 -f (peak)      pum/psql   \
         (median time, largest peak of {ROUNDS})"
    );
    let psql = PathBuf::from("psql");
    for rows in counts {
        let dir = project(rows)?;
        let file: &Path = &dir.path().join("changelogs/1.0.0/01_data.sql");
        let size = std::fs::metadata(file)?.len() as f64 / 1024.0 / 1024.0;
        let (mut ours_runs, mut psql_runs) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            fresh()?;
            let (dir_arg, url_arg) = (dir.path().as_os_str(), std::ffi::OsStr::new(&url));
            ours_runs.push(measured(
                &ours,
                &[
                    "-q".as_ref(),
                    "-d".as_ref(),
                    dir_arg,
                    "-p".as_ref(),
                    url_arg,
                    "install".as_ref(),
                ],
            )?);
            fresh()?;
            let mut args: Vec<&std::ffi::OsStr> = [
                "-X",
                "-q",
                "-1",
                "-v",
                "ON_ERROR_STOP=1",
                "-o",
                "/dev/null",
                "-f",
            ]
            .iter()
            .map(|a| a.as_ref())
            .collect();
            args.extend([file.as_os_str(), url_arg]);
            psql_runs.push(measured(&psql, &args)?);
        }
        let ((a, a_peak), (b, b_peak)) = (summary(ours_runs), summary(psql_runs));
        println!(
            "{rows:<10} {size:>5.0} MB {:>9.2} s ({a_peak:>7})   {:>8.2} s ({b_peak:>7})   {:>8.2}",
            a.as_secs_f64(),
            b.as_secs_f64(),
            a.as_secs_f64() / b.as_secs_f64()
        );
    }
    pum::drop_database(&server, db, &DropOptions::if_exists())?;
    Ok(())
}
