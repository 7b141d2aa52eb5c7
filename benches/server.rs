//! How fast the ephemeral server is ready: a cold start (initdb + start) in a fresh
//! directory, and attaching to a server that already runs, in this process and as a new
//! process (this benchmark's own binary run again, attaching and exiting as
//! `pum server start` does: the command line is a package of its own).
//!
//! ```text
//! cargo bench --bench server
//! ```
//!
//! Targets (DESIGN §11): cold start under 2 s, attach under 50 ms.

mod common;
use common::median;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pum::server::{self, Server, ServerOptions};

fn options(root: &tempfile::TempDir) -> ServerOptions {
    ServerOptions {
        dir: Some(root.path().join("srv")),
        idle: Duration::from_secs(5),
        ..ServerOptions::default()
    }
}

fn fresh_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("a temporary directory");
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod the temporary directory");
    root
}

/// Set in the child processes: attach to the server in this directory, then exit.
const ATTACH_ONLY: &str = "PUM_BENCH_ATTACH_ONLY";

fn main() -> pum::Result<()> {
    if let Some(dir) = std::env::var_os(ATTACH_ONLY) {
        let options = ServerOptions {
            dir: Some(dir.into()),
            ..ServerOptions::default()
        };
        Server::attach(&options)?;
        return Ok(());
    }
    const COLD: usize = 5;
    const WARM: usize = 50;

    let mut cold = Vec::new();
    for _ in 0..COLD {
        let root = fresh_root();
        let started = Instant::now();
        let attached = Server::attach(&options(&root))?;
        cold.push(started.elapsed());
        drop(attached);
        server::purge(&options(&root))?;
    }

    let root = fresh_root();
    let opts = options(&root);
    let keep = Server::attach(&opts)?;
    let mut warm = Vec::new();
    for _ in 0..WARM {
        let started = Instant::now();
        let attached = Server::attach(&opts)?;
        warm.push(started.elapsed());
        drop(attached);
    }
    let dir = opts.dir.clone().unwrap_or_default();
    let mut process = Vec::new();
    for _ in 0..WARM / 5 {
        let started = Instant::now();
        let myself = std::env::current_exe().map_err(|e| pum::Error::io("current_exe", e))?;
        let status = Command::new(&myself)
            .env(ATTACH_ONLY, &dir)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| pum::Error::io(&myself, e))?;
        process.push(started.elapsed());
        assert!(status.success(), "attaching from a new process failed");
    }
    drop(keep);
    server::purge(&opts)?;

    let cold = median(cold);
    let warm = median(warm);
    let process = median(process);
    println!("ephemeral server (median)                      measured   target");
    println!(
        "cold start: initdb + start ({COLD} runs)           {:>8.1} ms  < 2000 ms  {}",
        cold.as_secs_f64() * 1e3,
        verdict(cold < Duration::from_secs(2))
    );
    println!(
        "attach to a running server, in process ({WARM})  {:>8.2} ms  < 50 ms    {}",
        warm.as_secs_f64() * 1e3,
        verdict(warm < Duration::from_millis(50))
    );
    println!(
        "attach as a new process ({})                    {:>8.2} ms  < 50 ms    {}",
        WARM / 5,
        process.as_secs_f64() * 1e3,
        verdict(process < Duration::from_millis(50))
    );
    Ok(())
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}
