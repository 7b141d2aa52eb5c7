//! Real pum 1.x datamodels installed by this pum and by Python pum 1.9.2, side by side,
//! split into their two phases: the **changelog phase** (`install --skip-create-app`:
//! roles, the changelogs, grants) and the **hook phase** (the application's create hooks,
//! whose Python code pirogue-style view generators run through pum's bridge here and
//! in-process in Python pum), the hook phase being the whole install's time less the
//! changelog phase's, each tool on fresh databases in the same round; beside them, how long
//! the server itself was busy running each tool's statements (`pg_stat_database.active_time`,
//! PostgreSQL 14 and later), which no client can go below: the best ratio a pum paying
//! nothing but the server could reach on this machine. Then the **relay's
//! cost per statement**: the same psycopg loop run as a hook through the bridge and as a
//! plain Python script connected to the server.
//!
//! The datamodels are not committed here: `PUM_BENCH_DATAMODELS` names their directories
//! (those holding `.pum.yaml`), separated by `:`. For signalo and TEKSI wastewater (whose
//! first changelogs create PostGIS: `apt-get install postgresql-15-postgis-3` for the
//! ephemeral server):
//!
//! ```text
//! git clone --depth 1 https://github.com/opengisch/signalo /tmp/signalo
//! git clone --depth 1 https://github.com/teksi/wastewater /tmp/wastewater
//! PUM_BENCH_DATAMODELS=/tmp/signalo/datamodel:/tmp/wastewater/datamodel \
//!   cargo bench -p pum-cli --bench datamodels
//! ```
//!
//! Without it only the relay is measured. Python pum and pirogue come from the virtual
//! environment `.ci/python-pum19` makes; pum runs hooks with that environment's Python
//! too. Both tools run as commands (`-p URL -d DIR install`); before each install the
//! project's roles (named `<module>_…`) are dropped, as a fresh server would not have
//! them. Uses `PUM_TEST_DATABASE_URL` when set, else pum's ephemeral server.

#[path = "../../benches/common/mod.rs"]
mod common;
use common::{median, python_pum19, server};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pum::{Config, ConnectionSpec, CreateOptions, DropOptions};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Rounds per project (a large one's hook phase moved by 10-25 % between runs of three).
const ROUNDS: usize = 5;
const DB: &str = "pum_bench_datamodel";

/// The two tools, as run here.
struct Tools {
    ours: PathBuf,
    theirs: PathBuf,
    python: PathBuf,
}

fn main() -> Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let venv = python_pum19(&workspace);
    let tools = Tools {
        ours: PathBuf::from(env!("CARGO_BIN_EXE_pum")),
        theirs: venv.join("bin/pum"),
        python: venv.join("bin/python"),
    };
    let server = server()?;
    let projects = std::env::var("PUM_BENCH_DATAMODELS").unwrap_or_default();
    for dir in projects.split(':').filter(|d| !d.is_empty()) {
        phases(&server, &tools, Path::new(dir))?;
    }
    if projects.is_empty() {
        println!("(PUM_BENCH_DATAMODELS unset: no datamodel measured; see the bench's docs)");
    }
    relay(&server, &tools)
}

/// One project's changelog and hook phases, both tools.
fn phases(server: &ConnectionSpec, tools: &Tools, dir: &Path) -> Result<()> {
    let module = Config::from_dir(dir)?.module;
    let busy_known = server_reports_busy_time(server)?;
    // How long the install took, and how long the server was busy running its statements.
    let install = |program: &Path, whole: bool| -> Result<(Duration, Duration)> {
        fresh(server, &module)?;
        let mut args = vec!["install"];
        if !whole {
            args.push("--skip-create-app");
        }
        let took = run(server, tools, program, dir, &args)?;
        let busy = if busy_known {
            server_busy(server)?
        } else {
            Duration::ZERO
        };
        Ok((took, busy))
    };
    let mut samples: [Vec<Duration>; 4] = Default::default();
    let mut busy: [Vec<Duration>; 4] = Default::default();
    // A small project's hook phase (a difference of two installs) needs more rounds.
    let (first, _) = install(&tools.theirs, true)?;
    let rounds = if first < Duration::from_secs(3) {
        3 * ROUNDS
    } else {
        ROUNDS
    };
    for _ in 0..rounds {
        for (i, (program, whole)) in [
            (&tools.ours, false),
            (&tools.theirs, false),
            (&tools.ours, true),
            (&tools.theirs, true),
        ]
        .into_iter()
        .enumerate()
        {
            let (took, server_busy) = install(program, whole)?;
            samples[i].push(took);
            busy[i].push(server_busy);
        }
    }
    fresh(server, &module)?;
    pum::drop_database(server, DB, &gone())?;
    let [rs_log, py_log, rs_all, py_all] = samples.map(|s| median(s).as_secs_f64());
    let [rs_log_busy, py_log_busy, rs_all_busy, py_all_busy] =
        busy.map(|s| median(s).as_secs_f64());
    let (rs_hook, py_hook) = (rs_all - rs_log, py_all - py_log);
    println!(
        "{} ({module}): install, median of {rounds} rounds",
        dir.display()
    );
    println!("                     Python pum 1.9.2        pum     ratio");
    let row = |what: &str, py: f64, rs: f64, ratio: f64, target: &str| {
        println!(
            "  {what:<17} {:>10.0} ms {:>10.0} ms {ratio:>8.2}   {target}",
            py * 1e3,
            rs * 1e3
        );
    };
    row(
        "changelog phase",
        py_log,
        rs_log,
        py_log / rs_log,
        "(Python/pum; target >= 3)",
    );
    row(
        "hook phase",
        py_hook,
        rs_hook,
        rs_hook / py_hook,
        "(pum/Python; target <= 1.10)",
    );
    row(
        "whole install",
        py_all,
        rs_all,
        rs_all / py_all,
        "(pum/Python; target <= 0.5)",
    );
    if !busy_known {
        println!("  (the server does not report its busy time: PostgreSQL 14 or later does)");
        return Ok(());
    }
    // What no client can go below: the time the server itself spends on the statements.
    println!("  server busy (pg_stat_database.active_time), the floor of any client:");
    row(
        "changelog phase",
        py_log_busy,
        rs_log_busy,
        py_log / rs_log_busy,
        "(Python/pum's server busy: the best changelog ratio here)",
    );
    let (rs_hook_busy, py_hook_busy) = (rs_all_busy - rs_log_busy, py_all_busy - py_log_busy);
    row(
        "hook phase",
        py_hook_busy,
        rs_hook_busy,
        rs_hook_busy / py_hook,
        "(pum's server busy/Python: the best hook ratio here)",
    );
    row(
        "whole install",
        py_all_busy,
        rs_all_busy,
        rs_all_busy / py_all,
        "(pum's server busy/Python: the best whole ratio here)",
    );
    Ok(())
}

/// Whether the server reports how long it ran each database's statements
/// (`pg_stat_database.active_time`, PostgreSQL 14 and later).
fn server_reports_busy_time(server: &ConnectionSpec) -> Result<bool> {
    let version: i32 = server
        .connect()?
        .query_one("SELECT current_setting('server_version_num')::int", &[])?
        .get(0);
    Ok(version >= 140_000)
}

/// How long the server ran statements in [`DB`] (made afresh for each install, so since
/// the install began), summed over its sessions: read once they have ended, when each
/// has reported its time (the figure then stops moving).
fn server_busy(server: &ConnectionSpec) -> Result<Duration> {
    let mut client = server.connect()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = None;
    loop {
        let row = client.query_one(
            "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = $1), \
             (SELECT active_time FROM pg_stat_database WHERE datname = $1)",
            &[&DB],
        )?;
        let (sessions, busy): (i64, Option<f64>) = (row.get(0), row.get(1));
        let busy = Duration::from_secs_f64(busy.unwrap_or(0.0) / 1e3);
        if sessions == 0 && last == Some(busy) || Instant::now() > deadline {
            return Ok(busy);
        }
        last = (sessions == 0).then_some(busy);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The relay's cost per statement: a hook running `statement` `n` times through pum's
/// bridge, against the same loop in a Python script connected straight to the server.
fn relay(server: &ConnectionSpec, tools: &Tools) -> Result<()> {
    let project = tempfile::tempdir()?;
    let out = project.path().join("timing");
    std::fs::create_dir_all(project.path().join("changelogs/1.0.0"))?;
    std::fs::create_dir_all(project.path().join("app"))?;
    std::fs::write(
        project.path().join(".pum.yaml"),
        "pum:\n  module: relaybench\napplication:\n  create:\n    - file: app/loop.py\n",
    )?;
    std::fs::write(
        project.path().join("changelogs/1.0.0/01.sql"),
        "CREATE SCHEMA relaybench;\n",
    )?;
    let looped = format!(
        "import os, time\n\n\ndef timed(connection):\n    \
         statement, n = os.environ['BENCH_SQL'], int(os.environ['BENCH_N'])\n    \
         with connection.cursor() as cursor:\n        started = time.perf_counter()\n        \
         for _ in range(n):\n            cursor.execute(statement)\n            \
         cursor.fetchall()\n        took = time.perf_counter() - started\n    \
         with open({out:?}, 'w') as f:\n        f.write(str(took / n))\n"
    );
    std::fs::write(
        project.path().join("app/loop.py"),
        format!(
            "{looped}\n\nfrom pum import HookBase\n\n\nclass Hook(HookBase):\n    \
             def run_hook(self, connection):\n        timed(connection)\n"
        ),
    )?;
    std::fs::write(
        project.path().join("direct.py"),
        format!(
            "{looped}\n\nimport psycopg, sys\n\nwith psycopg.connect(sys.argv[1]) as c:\n    \
             timed(c)\n"
        ),
    )?;
    pum::drop_database(server, DB, &gone())?;
    pum::create_database(server, DB, &CreateOptions::default())?;
    run(
        server,
        tools,
        &tools.ours,
        project.path(),
        &["install", "--skip-create-app"],
    )?;
    let url = server.with_dbname(DB).url();
    println!("relay: cost per statement (psycopg, median of {ROUNDS} runs)");
    println!("                                     direct      relayed   relay's cost");
    for (what, sql, n) in [
        ("SELECT 1", "SELECT 1", 5_000),
        (
            "500 catalog rows",
            "SELECT attname, attnum, attrelid FROM pg_attribute LIMIT 500",
            1_000,
        ),
    ] {
        let per = |relayed: bool| -> Result<Duration> {
            let mut samples = Vec::new();
            for _ in 0..ROUNDS {
                let mut command = if relayed {
                    let mut c = Command::new(&tools.ours);
                    c.env("PUM_PYTHON", &tools.python)
                        .args(["-p", &url, "-d"])
                        .arg(project.path())
                        .args(["app", "create"]);
                    c
                } else {
                    let mut c = Command::new(&tools.python);
                    c.arg(project.path().join("direct.py")).arg(&url);
                    c
                };
                let done = command
                    .env("BENCH_SQL", sql)
                    .env("BENCH_N", n.to_string())
                    .output()?;
                if !done.status.success() {
                    return Err(String::from_utf8_lossy(&done.stderr).into_owned().into());
                }
                let seconds: f64 = std::fs::read_to_string(&out)?.trim().parse()?;
                samples.push(Duration::from_secs_f64(seconds));
            }
            Ok(median(samples))
        };
        let (direct, relayed) = (per(false)?, per(true)?);
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "  {what:<30} {:>8.1} µs  {:>8.1} µs  {:>8.1} µs",
            us(direct),
            us(relayed),
            us(relayed) - us(direct)
        );
    }
    pum::drop_database(server, DB, &gone())?;
    Ok(())
}

/// An empty database named [`DB`], and none of `module`'s roles on the server.
fn fresh(server: &ConnectionSpec, module: &str) -> Result<()> {
    pum::drop_database(server, DB, &gone())?;
    let mut client = server.connect()?;
    let pattern = format!("{}\\_%", module.replace('_', "\\_"));
    for row in client.query(
        "SELECT quote_ident(rolname) FROM pg_roles WHERE rolname LIKE $1",
        &[&pattern],
    )? {
        let role: String = row.get(0);
        client
            .batch_execute(&format!("DROP ROLE {role}"))
            .map_err(|e| {
                format!(
                    "cannot drop role {role} before installing {module} afresh ({}): another \
                     database of this server holds its privileges; drop that database, or \
                     run the bench on a server of its own",
                    e.as_db_error().map_or(e.to_string(), |d| format!(
                        "{} {}",
                        d.message(),
                        d.detail().unwrap_or_default()
                    ))
                )
            })?;
    }
    pum::create_database(server, DB, &CreateOptions::default())?;
    Ok(())
}

/// Runs `program -p <DB> -d dir args…` (hooks with the environment's Python); how long it
/// took.
fn run(
    server: &ConnectionSpec,
    tools: &Tools,
    program: &Path,
    dir: &Path,
    args: &[&str],
) -> Result<Duration> {
    let url = server.with_dbname(DB).url();
    let started = Instant::now();
    let out = Command::new(program)
        .env("PUM_PYTHON", &tools.python)
        .args(["-p", &url, "-d"])
        .arg(dir)
        .args(args)
        .output()?;
    let took = started.elapsed();
    if !out.status.success() {
        return Err(format!(
            "{} {}: {}{}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(took)
}

fn gone() -> DropOptions {
    DropOptions {
        if_exists: true,
        force: true,
    }
}
