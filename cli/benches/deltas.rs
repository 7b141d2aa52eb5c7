//! A pum 0.x project upgraded from 1.0.0 to its latest version, by this pum and by Python
//! pum 0.9.14, side by side: the same delta directory (60 versions, 180 SQL deltas with
//! variables, 3 Python deltas, pre-all and post-all), a fresh database baselined at 1.0.0
//! each round, both tools run as commands (`pum upgrade -p SERVICE -t TABLE -d DIR -v …`).
//!
//! ```text
//! cargo bench -p pum-cli --bench deltas
//! ```
//!
//! Python pum comes from the virtual environment target/python-pum09 (made by
//! `.ci/python-interop-0x`, or by this benchmark when missing). Uses
//! `PUM_TEST_DATABASE_URL` when set, else pum's ephemeral server.

#[path = "../../benches/common/mod.rs"]
mod common;
use common::{median, server};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pum::{CreateOptions, DropOptions};

const VERSIONS: usize = 60;
const DELTAS_PER_VERSION: usize = 3;
const ROUNDS: usize = 5;

/// Writes the delta directory.
fn write_deltas(dir: &Path) {
    std::fs::write(
        dir.join("pre-all.sql"),
        "DROP VIEW IF EXISTS public.summary;\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("post-all.sql"),
        "CREATE VIEW public.summary AS SELECT count(*) AS tables FROM pg_tables WHERE schemaname = 'public';\n",
    )
    .unwrap();
    for v in 1..=VERSIONS {
        for d in 1..=DELTAS_PER_VERSION {
            let t = format!("t_{v}_{d}");
            std::fs::write(
                dir.join(format!("delta_1.{v}.0_{t}.sql")),
                format!(
                    "CREATE TABLE public.{t} (id int PRIMARY KEY, name text NOT NULL, srid int DEFAULT %(srid)s);\n\
                     CREATE INDEX {t}_name ON public.{t} (name);\n\
                     COMMENT ON TABLE public.{t} IS 'delta 1.{v}.0 {d}, 100%% generated';\n\
                     INSERT INTO public.{t} (id, name) SELECT g, %(prefix)s || g FROM generate_series(1, 20) g;\n"
                ),
            )
            .unwrap();
        }
        if v % 20 == 0 {
            std::fs::write(
                dir.join(format!("delta_1.{v}.0_py.post.py")),
                format!(
                    "import psycopg2\nfrom pum.core.deltapy import DeltaPy\n\n\nclass Fill(DeltaPy):\n    \
                     def run(self):\n        conn = psycopg2.connect('service=' + self.pg_service)\n        \
                     cur = conn.cursor()\n        cur.execute('UPDATE public.t_{v}_1 SET name = name || %s', ('!',))\n        \
                     conn.commit()\n        conn.close()\n"
                ),
            )
            .unwrap();
        }
    }
}

/// The virtual environment with Python pum 0.9.14 that `.ci/python-pum09` makes (or
/// finds) in pum's cache.
fn python_venv(workspace: &Path) -> PathBuf {
    let made = Command::new(workspace.join(".ci/python-pum09"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect(".ci/python-pum09 runs");
    assert!(
        made.status.success(),
        "Python pum 0.9.14 could not be installed (.ci/python-pum09)"
    );
    PathBuf::from(String::from_utf8_lossy(&made.stdout).trim())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let venv = python_venv(&workspace);
    let server = server()?;
    let work = tempfile::tempdir()?;
    let deltas = work.path().join("delta");
    std::fs::create_dir(&deltas)?;
    write_deltas(&deltas);
    let services = work.path().join("pg_service.conf");
    let names = ["pum_bench_0x_rs", "pum_bench_0x_py"];
    let mut text = String::new();
    for name in names {
        text.push_str(&format!(
            "[{name}]\nhost={}\nport={}\nuser={}\ndbname={name}\n",
            server.host(),
            server.port(),
            server.user()
        ));
    }
    std::fs::write(&services, text)?;
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_pum"));
    let theirs = venv.join("bin/pum");
    let run = |program: &Path, args: &[&str]| -> Result<Duration, Box<dyn std::error::Error>> {
        let mut command = Command::new(program);
        command
            .current_dir(work.path())
            .env("PGSERVICEFILE", &services)
            .env("PUM_PYTHON", venv.join("bin/python"))
            .args(args);
        let started = Instant::now();
        let out = command.output()?;
        let took = started.elapsed();
        if !out.status.success() {
            return Err(format!(
                "{} {args:?}: {}{}",
                program.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(took)
    };
    let upgrade = |db: &str| {
        vec![
            "upgrade".to_string(),
            "-p".into(),
            db.to_string(),
            "-t".into(),
            "bench_sys.upgrades".into(),
            "-d".into(),
            "delta".into(),
            "-v".into(),
            "int".into(),
            "srid".into(),
            "2056".into(),
            "-v".into(),
            "string".into(),
            "prefix".into(),
            "n".into(),
        ]
    };
    let (mut rs, mut py) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        for (name, program, samples) in [(names[0], &ours, &mut rs), (names[1], &theirs, &mut py)] {
            let gone = DropOptions {
                if_exists: true,
                ..DropOptions::default()
            };
            pum::drop_database(&server, name, &gone)?;
            pum::create_database(&server, name, &CreateOptions::default())?;
            server
                .with_dbname(name)
                .connect()?
                .batch_execute("CREATE SCHEMA bench_sys")?;
            run(
                &ours,
                &[
                    "baseline",
                    "-p",
                    name,
                    "-t",
                    "bench_sys.upgrades",
                    "-d",
                    "delta",
                    "-b",
                    "1.0.0",
                ],
            )?;
            let args = upgrade(name);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            samples.push(run(program, &args)?);
        }
    }
    let rows = |db: &str| -> Result<i64, Box<dyn std::error::Error>> {
        let mut client = server.with_dbname(db).connect()?;
        Ok(client
            .query_one("SELECT count(*) FROM bench_sys.upgrades", &[])?
            .get(0))
    };
    let (rows_rs, rows_py) = (rows(names[0])?, rows(names[1])?);
    assert_eq!(rows_rs, rows_py, "both record the same rows");
    for name in names {
        pum::drop_database(&server, name, &DropOptions::default())?;
    }
    let (rs, py) = (median(rs), median(py));
    println!(
        "pum 0.x project, 1.0.0 → 1.{VERSIONS}.0: {} SQL deltas, {} Python deltas (median of {ROUNDS})",
        VERSIONS * DELTAS_PER_VERSION,
        VERSIONS / 20
    );
    println!(
        "  Python pum 0.9.14 upgrade   {:>8.1} ms   (a transaction per file)",
        py.as_secs_f64() * 1e3
    );
    println!(
        "  pum upgrade                 {:>8.1} ms   (one transaction)",
        rs.as_secs_f64() * 1e3
    );
    println!(
        "  speed-up                    {:>8.1} ×",
        py.as_secs_f64() / rs.as_secs_f64()
    );
    Ok(())
}
