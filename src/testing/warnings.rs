//! What the harness has to say outside any test: a drop that failed, a sweep that could
//! not finish, a lease not renewed. Written straight to the process's standard error:
//! `eprintln!` from a test's thread, or from a thread that thread started (the heartbeat,
//! the dropper), goes to that test's captured output, which cargo test shows only if the
//! test fails, and drops once the test is over.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Mutex;

/// Writes `pum: warning: <message>` to standard error, past the test harness's capture.
pub(crate) fn warn(message: &str) {
    let mut stderr = std::io::stderr().lock();
    // Nothing to do if standard error is gone.
    let _ = writeln!(stderr, "pum: warning: {message}");
}

/// As [`warn`], once per process for `key` (a sweep retried every heartbeat says it once).
/// Returns whether it was said.
pub(crate) fn warn_once(key: &str, message: &str) -> bool {
    static SAID: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let fresh = SAID
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashSet::new)
        .insert(key.to_string());
    if fresh {
        warn(message);
    }
    fresh
}
