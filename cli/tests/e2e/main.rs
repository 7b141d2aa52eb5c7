//! The `pum` binary run as users run it, against a real PostgreSQL server: a throwaway
//! one, or the one named by `PUM_TEST_DATABASE_URL`.

mod app;
mod big_dump;
mod ci_recipes;
mod cli;
mod code;
mod daily;
mod fleet;
mod json;
mod lint;
mod live;
mod matrix;
mod readme;
mod scratch;
mod server;
mod shell;
mod sql_files;
#[path = "../../../tests/support/mod.rs"]
mod support;
mod test_cache;
mod zero_x;

/// Runs the `pum` binary in `dir` with `args`, standard input closed.
pub fn pum_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    use support::Bounded;
    std::process::Command::new(env!("CARGO_BIN_EXE_pum"))
        .current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .bounded_output()
}

/// Waits (at most `limit`) until `probe` gives something, polling every 20 ms; returns
/// it. Panics naming `what` at the deadline.
pub fn eventually<T>(
    limit: std::time::Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let started = std::time::Instant::now();
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(started.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
