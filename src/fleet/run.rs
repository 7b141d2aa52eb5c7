//! A job run on many databases, N at a time, on threads of its own: the outcomes come
//! back in the order the jobs finish.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};

/// What a job did on one database.
#[derive(Debug)]
pub struct Outcome<T> {
    /// The database.
    pub database: String,
    /// The job's result.
    pub result: Result<T>,
    /// How long the job took.
    pub elapsed: Duration,
}

/// The outcomes of a job run on many databases, in the order they finish (an
/// [`Iterator`]). Dropping it early lets the running jobs finish and starts no more.
pub struct Fleet<T> {
    outcomes: Receiver<Outcome<T>>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    total: usize,
}

impl<T> Fleet<T> {
    /// How many databases the run covers.
    pub fn total(&self) -> usize {
        self.total
    }
}

impl<T> Iterator for Fleet<T> {
    type Item = Outcome<T>;

    fn next(&mut self) -> Option<Outcome<T>> {
        self.outcomes.recv().ok()
    }
}

impl<T> Drop for Fleet<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// Runs `job` on each of `databases` (each given `server` with that database), `jobs` at
/// a time (at least one, at most one per database), on threads of its own. A job that
/// panics is reported as that database's error.
pub fn run<T, F>(server: &ConnectionSpec, databases: Vec<String>, jobs: usize, job: F) -> Fleet<T>
where
    T: Send + 'static,
    F: Fn(&ConnectionSpec) -> Result<T> + Send + Sync + 'static,
{
    let total = databases.len();
    let stop = Arc::new(AtomicBool::new(false));
    let work = Arc::new(Work {
        queue: Mutex::new(VecDeque::from(databases)),
        stop: Arc::clone(&stop),
        job,
        server: server.clone(),
    });
    let (send, outcomes) = channel();
    let workers: Vec<JoinHandle<()>> = (0..jobs.clamp(1, total.max(1)))
        .filter_map(|n| {
            let work = Arc::clone(&work);
            let send = send.clone();
            std::thread::Builder::new()
                .name(format!("pum-fleet-{n}"))
                .spawn(move || work.run(&send))
                .ok()
        })
        .collect();
    if workers.is_empty() {
        // No thread could be started: the jobs run here, one at a time.
        work.run(&send);
    }
    Fleet {
        outcomes,
        stop,
        workers,
        total,
    }
}

/// What the workers share: the databases left, the job, and whether to stop early.
struct Work<F> {
    queue: Mutex<VecDeque<String>>,
    stop: Arc<AtomicBool>,
    job: F,
    server: ConnectionSpec,
}

impl<F> Work<F> {
    /// Runs the job on databases from the queue until it is empty, told to stop, or
    /// nobody listens for outcomes any more. A panicking job is its database's error.
    fn run<T>(&self, send: &Sender<Outcome<T>>)
    where
        F: Fn(&ConnectionSpec) -> Result<T>,
    {
        while !self.stop.load(Ordering::SeqCst) {
            let next = self
                .queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front();
            let Some(database) = next else {
                break;
            };
            let started = Instant::now();
            let target = self.server.with_dbname(&database);
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.job)(&target)))
                    .unwrap_or_else(|panic| {
                        let message = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "the job panicked".into());
                        Err(Error::Unsupported { message })
                    });
            let outcome = Outcome {
                database,
                result,
                elapsed: started.elapsed(),
            };
            if send.send(outcome).is_err() {
                break;
            }
        }
    }
}
