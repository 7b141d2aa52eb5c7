//! Work off the tests' critical path: a queue of names and one background thread. The
//! harness has two: one drops finished tests' databases (whatever is queued when the
//! process exits is dropped before it ends: the harness flushes it from an `atexit`
//! handler; a killed process leaves it to the next run's orphan sweep), the other makes
//! spare clones of templates ahead of the tests that will want them.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The queue of names to work on, and how many jobs are running.
#[derive(Default)]
pub(crate) struct Worker {
    state: Mutex<(VecDeque<String>, usize)>,
    changed: Condvar,
    started: OnceLock<bool>,
}

impl Worker {
    /// Queues `name` (unless `unique` and it is queued already); the first call starts the
    /// thread `thread`, which calls `job` for each name. Without a thread (the system
    /// refused one), `job` runs at once.
    pub(crate) fn push(&'static self, thread: &str, name: String, unique: bool, job: fn(&str)) {
        let threaded = *self.started.get_or_init(|| {
            std::thread::Builder::new()
                .name(thread.into())
                .spawn(move || self.run(job))
                .is_ok()
        });
        if !threaded {
            job(&name);
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if unique && state.0.contains(&name) {
            return;
        }
        state.0.push_back(name);
        self.changed.notify_all();
    }

    fn run(&self, job: fn(&str)) {
        loop {
            let name = {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if let Some(name) = state.0.pop_front() {
                        state.1 += 1;
                        break name;
                    }
                    state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
                }
            };
            job(&name);
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.1 -= 1;
            self.changed.notify_all();
        }
    }

    /// Forgets the queued jobs and waits (at most `limit`) for the running one.
    pub(crate) fn abandon(&self, limit: Duration) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clear();
        self.flush(limit);
    }

    /// Waits (at most `limit`) until no job is queued or running.
    pub(crate) fn flush(&self, limit: Duration) {
        let started = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while (!state.0.is_empty() || state.1 > 0) && started.elapsed() < limit {
            state = self
                .changed
                .wait_timeout(state, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}
