//! How a test's run ends: what the test expects of its body ([`Expect`]), the harness's
//! own failures to set it up told apart from the body's panics ([`setup_failure`]), and
//! the outcome raised at the test's line ([`conclude`]). Shared by both isolations
//! (`run.rs`, `shared.rs`) and what a body calls (`test_db.rs`, `runtime.rs`).

use std::panic::resume_unwind;

use super::TestResult;

/// What the test expects of its body.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    Success,
    /// `#[should_panic]`: setup failures must not panic.
    Panic,
}

thread_local! {
    /// The message of a setup failure raised on this thread by the running body (see
    /// [`setup_failure`]), so that a `#[should_panic]` test does not take it for its own.
    static SETUP_FAILURE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The setup failure raised on this thread since the last call, if any.
pub(super) fn take_setup_failure() -> Option<String> {
    SETUP_FAILURE.with(|f| f.borrow_mut().take())
}

/// Panics with `message`, marking the panic as the harness failing to set the test up
/// (not the body's own panic).
#[track_caller]
pub(super) fn setup_failure(message: String) -> ! {
    SETUP_FAILURE.with(|f| *f.borrow_mut() = Some(message.clone()));
    panic!("{message}")
}

/// For a `#[should_panic]` test: says what failed and returns normally, so the test
/// fails; otherwise panics at the test's line.
#[track_caller]
pub(super) fn fail_setup(expect: Expect, message: String) {
    match expect {
        Expect::Success => panic!("{message}"),
        Expect::Panic => eprintln!(
            "{message}\npum: the test could not be set up, so its #[should_panic] is not \
             satisfied: this failure is not the panic it expects"
        ),
    }
}

/// Ends test `name` as its body's `outcome` says: the body's panic raised again (unless
/// it was the harness's, `setup_failed`, under `#[should_panic]`), its `Err` a panic.
#[track_caller]
pub(super) fn conclude<R: TestResult>(
    name: &str,
    outcome: std::thread::Result<R>,
    setup_failed: Option<String>,
    expect: Expect,
) {
    match outcome {
        // The panic message was printed when it happened; saying why it does not count
        // is enough.
        Err(_) if expect == Expect::Panic && setup_failed.is_some() => fail_setup(
            expect,
            format!("pum: test {name}: the panic above is pum's, not the test's"),
        ),
        Err(payload) => resume_unwind(payload),
        Ok(result) => {
            if let Some(message) = result.failure() {
                panic!("{message}");
            }
        }
    }
}
