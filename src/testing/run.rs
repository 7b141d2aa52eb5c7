//! Running one test: its database taken, the body run, the database dropped or kept,
//! and the outcome told (a setup failure never taken for a `#[should_panic]` test's
//! panic).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::outcome::{Expect, conclude, fail_setup, take_setup_failure};
use super::{Isolation, KeepPolicy, TestDb, TestResult, TestSpec, context, keep};
use crate::error::Error;

/// Runs a test: builds (or finds) its template, gives `body` a fresh copy, and drops or
/// keeps the copy afterwards, whatever happened.
///
/// # Panics
/// When the body fails (panics or returns `Err`), and when the database cannot be made.
#[track_caller]
pub fn run<R: TestResult>(spec: TestSpec, body: impl FnOnce(TestDb) -> R) {
    run_with(spec, body, Expect::Success);
}

/// [`run`] for a `#[should_panic]` test: the body's panic is the expected one, but a
/// failure to set the test up (the template, the database, the reference) is never taken
/// for it. Such a failure is printed on standard error and the function returns
/// normally, so the test fails with "test did not panic as expected" above pum's
/// message.
#[track_caller]
pub fn run_should_panic<R: TestResult>(spec: TestSpec, body: impl FnOnce(TestDb) -> R) {
    run_with(spec, body, Expect::Panic);
}

#[track_caller]
pub(super) fn run_with<R: TestResult>(
    spec: TestSpec,
    body: impl FnOnce(TestDb) -> R,
    expect: Expect,
) {
    if spec.isolation == Isolation::Transaction {
        return super::shared::run_with(spec, body, expect);
    }
    let fail = |e: Error| format!("pum: test {}: {e}", spec.name);
    let setup = (|| {
        let policy = KeepPolicy::from_env()?;
        let keep_max = keep::keep_max()?;
        let context = context::context()?;
        Ok::<_, Error>((policy, keep_max, context))
    })();
    let (policy, keep_max, context) = match setup {
        Ok(parts) => parts,
        Err(e) => return fail_setup(expect, fail(e)),
    };
    let _slot = context.slot();
    let made = (|| {
        let claim = context.claim_test()?;
        let template = context.template(&spec)?;
        let name = context.create_test_db(&template, &spec.name)?;
        Ok::<_, Error>((claim, template, name))
    })();
    let (claim, template, name) = match made {
        Ok(parts) => parts,
        Err(e) => return fail_setup(expect, fail(e)),
    };
    let db = TestDb {
        spec: context.server.with_dbname(&name),
        name: name.clone(),
        test: Arc::new(spec.clone()),
        shared: None,
    };
    let url = db.url();
    take_setup_failure();
    let started = std::time::Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| body(db)));
    context.body_ran(&template, started.elapsed());
    let setup_failed = take_setup_failure();
    // The body's sessions are closed now (it owned the TestDb).
    drop(claim);
    // Whether the test fails: a `#[should_panic]` test passes by its body's own panic
    // (so its database is not kept as a failure's, nor pushes a real one out of the
    // PUM_TEST_KEEP_MAX kept), and fails when its body returns.
    let failed = match (&outcome, expect) {
        (Err(_), Expect::Panic) => setup_failed.is_some(),
        (Err(_), Expect::Success) | (Ok(_), Expect::Panic) => true,
        (Ok(result), Expect::Success) => result.failure().is_some(),
    };
    let keep = policy.keeps(failed);
    let teardown = if keep {
        context.keep(&name, keep_max)
    } else {
        context.drop_later(name.clone());
        Ok(false)
    };
    match teardown {
        Ok(true) => eprintln!(
            "pum: kept the database of test {}: {name}\n     {}",
            spec.name,
            inspect_command(&name, &url)
        ),
        Ok(false) if keep => eprintln!(
            "pum: the database of test {} was not kept: PUM_TEST_KEEP_MAX is {keep_max}",
            spec.name
        ),
        Ok(false) => {}
        Err(e) => eprintln!("pum: test {}: could not clean up {name}: {e}", spec.name),
    }
    conclude(&spec.name, outcome, setup_failed, expect);
}

/// Runs `work` (blocking work with the `postgres` crate, which starts a runtime of its
/// own) where it may block: on a thread of its own when the caller is on a tokio runtime
/// (a task, or an `async fn` test's body), where blocking would panic with "Cannot start a
/// runtime from within a runtime"; here otherwise.
pub(super) fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    #[cfg(feature = "tokio")]
    if tokio::runtime::Handle::try_current().is_ok() {
        return std::thread::scope(|scope| match scope.spawn(work).join() {
            Ok(value) => value,
            Err(payload) => std::panic::resume_unwind(payload),
        });
    }
    work()
}

/// The command that opens a kept database: `pum server psql <name>` on the ephemeral
/// server (which also keeps the server from stopping while psql runs), `psql "<url>"`
/// on a server given by `PUM_TEST_DATABASE_URL`.
fn inspect_command(name: &str, url: &str) -> String {
    let given = crate::settings::text("PUM_TEST_DATABASE_URL")
        .is_ok_and(|url| url.is_some_and(|url| !url.trim().is_empty()));
    if given {
        format!("psql \"{url}\"   (or: pum -p test/{name} info)")
    } else {
        format!("pum server psql {name}   (or: psql \"{url}\", while the server runs)")
    }
}
