//! Waiting for child processes with a deadline. A test that waits on a child with no
//! limit hangs forever when the child blocks and the runner ignores Ctrl-C (nohup, some
//! CI runners); here a child that outlives its deadline is killed and the test fails,
//! saying what the child had printed so far.
//!
//! The deadline is [`LIMIT`] (300 s, `PUM_TEST_CHILD_TIMEOUT` seconds when set), or
//! whatever a test gives.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a child may run unless a test says otherwise.
pub fn limit() -> Duration {
    std::env::var("PUM_TEST_CHILD_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(LIMIT)
}

/// The default deadline.
pub const LIMIT: Duration = Duration::from_secs(300);

/// `Command::output` and `Command::status` with a deadline.
pub trait Bounded {
    /// Runs the command (standard input closed, as `Command::output` does) and collects
    /// its output; kills it and panics when it runs longer than [`limit`].
    fn bounded_output(&mut self) -> Output;
    /// As [`Bounded::bounded_output`], with a deadline of `limit`.
    fn output_within(&mut self, limit: Duration) -> Output;
    /// Runs the command (standard streams inherited unless set) to its end; kills it and
    /// panics when it runs longer than [`limit`].
    fn bounded_status(&mut self) -> ExitStatus;
}

impl Bounded for Command {
    fn bounded_output(&mut self) -> Output {
        self.output_within(limit())
    }

    fn output_within(&mut self, limit: Duration) -> Output {
        let child = self
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", self.get_program()));
        wait_output_within(child, limit)
    }

    fn bounded_status(&mut self) -> ExitStatus {
        let mut child = self
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", self.get_program()));
        wait_within(&mut child, limit())
    }
}

/// `Child::wait_with_output` with the default deadline.
pub fn wait_output(child: Child) -> Output {
    wait_output_within(child, limit())
}

/// `Child::wait_with_output` with a deadline: reads its output as it comes, kills it
/// and panics (showing what it printed) when it runs longer than `limit`.
pub fn wait_output_within(mut child: Child, limit: Duration) -> Output {
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = poll(&mut child, deadline);
    // A grandchild may hold the pipes open after the child ended: wait a little only.
    let collect =
        |r: mpsc::Receiver<Vec<u8>>| r.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    let (out, err) = (collect(stdout), collect(stderr));
    match status {
        Some(status) => Output {
            status,
            stdout: out,
            stderr: err,
        },
        None => panic!(
            "child process {} still running after {limit:?}: killed. Its output: {}{}",
            child.id(),
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&err)
        ),
    }
}

/// `Child::wait` with the default deadline.
pub fn wait(child: &mut Child) -> ExitStatus {
    wait_within(child, limit())
}

/// `Child::wait` with a deadline: kills the child and panics when it runs longer.
pub fn wait_within(child: &mut Child, limit: Duration) -> ExitStatus {
    poll(child, Instant::now() + limit).unwrap_or_else(|| {
        panic!(
            "child process {} still running after {limit:?}: killed",
            child.id()
        )
    })
}

/// The child's status once it ends, or `None` (the child killed and reaped) at the
/// deadline.
fn poll(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Everything `pipe` gives until it closes, read on a thread of its own.
fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    match pipe {
        Some(mut pipe) => {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                let _ = sender.send(bytes);
            });
        }
        None => {
            let _ = sender.send(Vec::new());
        }
    }
    receiver
}

/// The first line `pipe` gives (a child announcing itself), or a panic after `limit`
/// (the caller then kills the child, which ends the reading thread).
pub fn read_line_within(pipe: impl Read + Send + 'static, limit: Duration) -> String {
    use std::io::BufRead;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(pipe).read_line(&mut line);
        let _ = sender.send(line);
    });
    receiver
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("no line from the child within {limit:?}"))
}
