//! `async fn` tests: the body polled on the test's thread, in the context of a tokio
//! runtime driven by a thread of its own (see [`run_async`]).

use std::sync::Arc;

use super::outcome::{Expect, setup_failure};
use super::run::run_with;
use super::{TestDb, TestResult, TestSpec, warnings};

/// Runs an `async` test body (see [`run`](super::run)) on a fresh tokio runtime.
///
/// The runtime (current-thread) is driven by a thread of its own: it runs the body's
/// spawned tasks, its timers and its I/O, while the body itself is polled on the test's
/// thread inside the runtime's context (`tokio::spawn`, `Handle::current`, tokio-postgres
/// work) but not *on* the runtime. So the blocking calls of the harness and of the
/// `postgres` crate (`db.client()` and its queries, `execute_file`, `upgrade`,
/// `reference`, `assert_schema_eq!`) work in the body as in a sync test: they block the
/// test's thread, never the runtime, and cannot panic with "Cannot start a runtime from
/// within a runtime" (which, raised while a runtime was being dropped, aborted the whole
/// test binary).
#[track_caller]
pub fn run_async<R: TestResult, F: std::future::Future<Output = R>>(
    spec: TestSpec,
    body: impl FnOnce(TestDb) -> F,
) {
    run_with(spec, |db| block_on_runtime(body(db)), Expect::Success);
}

/// [`run_async`] for a `#[should_panic]` test (see [`run_should_panic`](super::run_should_panic)).
#[track_caller]
pub fn run_async_should_panic<R: TestResult, F: std::future::Future<Output = R>>(
    spec: TestSpec,
    body: impl FnOnce(TestDb) -> F,
) {
    run_with(spec, |db| block_on_runtime(body(db)), Expect::Panic);
}

/// Polls `future` to its end on this thread, in the context of a runtime driven by a
/// thread of its own (see [`run_async`]).
#[track_caller]
fn block_on_runtime<F: std::future::Future>(future: F) -> F::Output {
    let runtime = match Driven::start() {
        Ok(runtime) => runtime,
        Err(e) => setup_failure(format!("pum: cannot start a tokio runtime: {e}")),
    };
    let _context = runtime.handle.enter();
    block_on(future)
}

/// A current-thread tokio runtime running on a thread of its own until dropped.
struct Driven {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Driven {
    fn start() -> std::io::Result<Driven> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("pum-tokio".into())
            .spawn(move || {
                runtime.block_on(async {
                    // A sender dropped (the test unwinding) stops it too.
                    let _ = stopped.await;
                });
                // Dropped here, outside any runtime: the body's tasks still running
                // are cancelled.
            })?;
        Ok(Driven {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic there (a task's drop panicking) is not the test's: said, not raised.
            if thread.join().is_err() {
                warnings::warn("the tokio runtime of an async test panicked while stopping");
            }
        }
    }
}

/// `future`'s output, polled on this thread, which sleeps until woken.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}
