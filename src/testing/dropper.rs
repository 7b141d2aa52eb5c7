//! Dropping finished tests' databases off the critical path: a queue and one background
//! thread. Whatever is queued when the process exits is dropped before it ends (the
//! harness flushes the queue from an `atexit` handler); a killed process leaves it to the
//! next run's orphan sweep.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The queue of names to drop, and how many drops are running.
#[derive(Default)]
pub(crate) struct Dropper {
    state: Mutex<(VecDeque<String>, usize)>,
    changed: Condvar,
    started: OnceLock<bool>,
}

impl Dropper {
    /// Queues `name`; the first call starts the thread, which calls `drop` for each name.
    /// Without a thread (the system refused one), `drop` runs at once.
    pub(crate) fn push(&'static self, name: String, drop: fn(&str)) {
        let threaded = *self.started.get_or_init(|| {
            std::thread::Builder::new()
                .name("pum-dropper".into())
                .spawn(move || self.run(drop))
                .is_ok()
        });
        if !threaded {
            drop(&name);
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0.push_back(name);
        self.changed.notify_all();
    }

    fn run(&self, drop: fn(&str)) {
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
            drop(&name);
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.1 -= 1;
            self.changed.notify_all();
        }
    }

    /// Waits (at most `limit`) until no drop is queued or running.
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
