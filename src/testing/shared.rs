//! Transaction isolation (`#[pum_test(isolation = "transaction")]`): the body runs in one
//! session, inside a transaction on a database shared by the tests of its template, which
//! is rolled back at the end (Rails' and Django's transactional tests).
//!
//! - **Shared databases.** `pum_shared_<key>_<n>`: a clone of template `pum_tpl_<key>` per
//!   parallel slot `n`, made when first wanted, registered in the registry (kind `shared`
//!   of `pum test list`), kept between runs, and dropped with its template or a day after
//!   its last use.
//! - **Slots.** A session using shared database `n` holds the advisory lock [`SLOT`] in it
//!   (session level): another thread or process finds it taken and tries `n + 1`, so
//!   parallel tests never share a database nor wait for one. A process keeps its sessions
//!   (and their slots) for its next tests of the same template; each holds one unit of
//!   the connection budget.
//! - **Per test.** `BEGIN`, `txid_current()` and a savepoint (one round trip), the body,
//!   then a check that the session is still in that transaction (its id; after an error,
//!   its savepoint), `ROLLBACK` and the undoing of what a rollback leaves (SQL prepared
//!   statements, session advisory locks, sequences' `currval`): two round trips more.
//! - **A test that left its transaction** (COMMIT, ROLLBACK, a `client.transaction()`
//!   committed) may have written to the shared database: it is closed to connections at
//!   once, dropped, and made again for the next test; the test fails saying why. A lost
//!   session (ended by the body) is treated so too.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use super::budget::Claim;
use super::client::SharedSession;
use super::context::{self, Context};
use super::outcome::{Expect, conclude, fail_setup, take_setup_failure};
use super::{TestDb, TestResult, TestSpec};
use crate::error::{Error, Result};

/// The advisory lock (class `'pums'`, 0) held in a shared database by the session using it.
const SLOT: (i32, i32) = (0x7075_6d73, 0);

/// The savepoint the body runs under: an error aborts its subtransaction, not the
/// transaction, which the harness so still recognizes as its own afterwards.
const SAVEPOINT: &str = "pum_test_body";

/// The most shared databases per template (parallel slots).
const MAX_SLOTS: usize = 512;

/// SQLSTATE in_failed_sql_transaction: the session is in a transaction that failed.
const IN_FAILED_TRANSACTION: &str = "25P02";

/// SQLSTATE invalid_catalog_name: no such database.
const UNDEFINED_DATABASE: &str = "3D000";

/// SQLSTATE object_not_in_prerequisite_state: here, a database that refuses connections
/// (a dirty shared database being dropped).
const NOT_ACCEPTING: &str = "55000";

/// The name of shared database `slot` of `template`.
pub(crate) fn shared_name(template: &str, slot: usize) -> String {
    let key = template.strip_prefix("pum_tpl_").unwrap_or(template);
    format!("pum_shared_{key}_{slot}")
}

/// A session on a shared database, holding its slot.
pub(crate) struct Session {
    name: String,
    client: postgres::Client,
    /// Its unit of the connection budget.
    _claim: Claim<'static>,
}

/// The sessions of this process not in use, by template.
static IDLE: Mutex<Option<HashMap<String, Vec<Session>>>> = Mutex::new(None);

/// An idle session of this process on a shared database of `template`.
fn pop_idle(template: &str) -> Option<Session> {
    let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
    idle.as_mut()?.get_mut(template)?.pop()
}

/// Keeps `session` for this process's next test of `template`.
fn push_idle(template: &str, session: Session) {
    let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
    idle.get_or_insert_with(HashMap::new)
        .entry(template.to_string())
        .or_default()
        .push(session);
}

/// A session on a shared database of `template` inside a transaction begun for a test,
/// and the transaction's id: one of this process's idle sessions, else the first free
/// slot's (its database made when missing). An idle session that no longer answers (its
/// database dropped with its template, say) is left for the next.
fn begin(context: &'static Context, template: &str) -> Result<(Session, String)> {
    let begin = |session: &mut Session| {
        last_value(session.client.simple_query(&format!(
            "BEGIN; SELECT pg_catalog.txid_current(); SAVEPOINT {SAVEPOINT}"
        )))
        .map(Option::unwrap_or_default)
    };
    while let Some(mut session) = pop_idle(template) {
        if let Ok(txid) = begin(&mut session) {
            return Ok((session, txid));
        }
    }
    // Slots other sessions hold are not tried (each try is a connection): the catalog
    // says which, at one round trip. A slot taken meanwhile is found so when tried.
    let held = context.held_slots(&shared_name(template, 0), SLOT)?;
    for slot in 0..MAX_SLOTS {
        let name = shared_name(template, slot);
        if held.contains(&name) {
            continue;
        }
        if let Some(mut session) = open(context, template, &name)? {
            let txid =
                begin(&mut session).map_err(|e| Error::sql("begin the test's transaction", &e))?;
            return Ok((session, txid));
        }
    }
    Err(Error::Unsupported {
        message: format!(
            "every one of the {MAX_SLOTS} shared databases of template {template} is in use"
        ),
    })
}

/// A session on shared database `name` holding its slot; `None` when another session
/// holds it.
fn open(context: &'static Context, template: &str, name: &str) -> Result<Option<Session>> {
    let claim = context.claim_session()?;
    let spec = context.server.with_dbname(name);
    let mut client = match spec.connect() {
        Ok(client) => {
            // Known to the registry, its life renewed.
            context.make_shared(name, template, false)?;
            client
        }
        Err(e) if e.sqlstate() == Some(UNDEFINED_DATABASE) => {
            context.make_shared(name, template, true)?;
            spec.connect()?
        }
        // Left dirty by a process killed before it could drop it, or being dropped now.
        Err(e) if e.sqlstate() == Some(NOT_ACCEPTING) => {
            context.drop_shared(name, None)?;
            context.make_shared(name, template, true)?;
            spec.connect()?
        }
        Err(e) => return Err(e),
    };
    // A session ended meanwhile (the database being dropped, dirty) is no slot either.
    let held = last_value(client.simple_query(&format!(
        "SELECT pg_try_advisory_lock({}, {})",
        SLOT.0, SLOT.1
    )));
    Ok(
        (held.ok().flatten().as_deref() == Some("t")).then(|| Session {
            name: name.to_string(),
            client,
            _claim: claim,
        }),
    )
}

/// The first column of the last row of a simple query's answer (its last statement's).
fn last_value(
    answer: std::result::Result<Vec<postgres::SimpleQueryMessage>, postgres::Error>,
) -> std::result::Result<Option<String>, postgres::Error> {
    Ok(answer?
        .into_iter()
        .rev()
        .find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_string)),
            _ => None,
        })
        .flatten())
}

/// Whether the session is still in the transaction `txid` the harness began, else why not.
enum Verdict {
    /// In it (maybe failed): rolled back and the session ready for the next test.
    Clean(postgres::Client),
    /// In it, rolled back, but the session cannot serve again (it could not be reset, or
    /// lost its slot): closed, the database untouched.
    Discard,
    /// Out of it, or the session lost: the shared database may hold the test's writes.
    /// The session, if any, still holds the slot.
    Dirty(&'static str, Option<postgres::Client>),
}

/// Rolls the test's transaction back, checking first that the session is still in it.
fn finish(client: Option<postgres::Client>, txid: &str) -> Verdict {
    let Some(mut client) = client else {
        return Verdict::Dirty("a TestClient of the test outlived it", None);
    };
    let current = last_value(client.simple_query("SELECT pg_catalog.txid_current_if_assigned()"));
    let ours = match current {
        Ok(current) => current.as_deref() == Some(txid),
        // A failed transaction: ours if it holds the harness's savepoint (an error
        // aborted the savepoint's subtransaction only).
        Err(e) if e.code().map(|c| c.code()) == Some(IN_FAILED_TRANSACTION) => {
            let back = client.simple_query(&format!(
                "ROLLBACK TO SAVEPOINT {SAVEPOINT}; SELECT pg_catalog.txid_current_if_assigned()"
            ));
            last_value(back).ok().flatten().as_deref() == Some(txid)
        }
        Err(_) => return Verdict::Dirty("its session was lost", None),
    };
    if !ours {
        return Verdict::Dirty(
            "it ended the transaction the harness began (COMMIT, ROLLBACK, or a \
             client.transaction() committed)",
            Some(client),
        );
    }
    // What a rollback leaves in a session: SQL prepared statements, session advisory
    // locks (the slot's taken again), sequences' currval.
    let reset = client.simple_query(&format!(
        "ROLLBACK; DISCARD SEQUENCES; \
         SELECT (SELECT count(*) FROM pg_prepared_statements WHERE from_sql) \
         + (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() \
            AND NOT (classid = {} AND objid = {} AND objsubid = 2))",
        SLOT.0 as u32, SLOT.1
    ));
    // The transaction was the harness's: whatever fails now, the server rolls it back.
    match last_value(reset) {
        Ok(Some(left)) if left == "0" => Verdict::Clean(client),
        Ok(_) => match undo_session_state(&mut client) {
            Ok(true) => Verdict::Clean(client),
            // The slot was taken by another session meanwhile: this one goes.
            Ok(false) | Err(_) => Verdict::Discard,
        },
        Err(_) => Verdict::Discard,
    }
}

/// Deallocates SQL prepared statements and releases session advisory locks (the slot's
/// taken again); whether the slot is held.
fn undo_session_state(client: &mut postgres::Client) -> std::result::Result<bool, postgres::Error> {
    let prepared: Vec<String> = client
        .query(
            "SELECT name FROM pg_prepared_statements WHERE from_sql",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for name in prepared {
        // A name the server gave back: a quoting failure (over 63 bytes) cannot happen.
        if let Ok(quoted) = crate::sql::quote_identifier("prepared statement", &name) {
            client.batch_execute(&format!("DEALLOCATE {quoted}"))?;
        }
    }
    let held = last_value(client.simple_query(&format!(
        "SELECT pg_advisory_unlock_all(); SELECT pg_try_advisory_lock({}, {})",
        SLOT.0, SLOT.1
    )))?;
    Ok(held.as_deref() == Some("t"))
}

/// What the harness adds to a failure whose message is PostgreSQL refusing a statement
/// inside a transaction block.
fn hint(message: &str) -> Option<&'static str> {
    message
        .contains("cannot run inside a transaction block")
        .then_some(
            "pum: the test runs inside a transaction (isolation = \"transaction\"): CREATE \
             DATABASE, VACUUM, CREATE INDEX CONCURRENTLY and the like cannot run there; give \
             the test the default isolation (a database per test)",
        )
}

/// The message of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("")
}

/// Runs a test under transaction isolation (see the module's documentation).
#[track_caller]
pub(super) fn run_with<R: TestResult>(
    spec: TestSpec,
    body: impl FnOnce(TestDb) -> R,
    expect: Expect,
) {
    let fail = |e: Error| format!("pum: test {}: {e}", spec.name);
    let context = match context::context() {
        Ok(context) => context,
        Err(e) => return fail_setup(expect, fail(e)),
    };
    let _slot = context.slot();
    let opened = (|| {
        let template = context.template(&spec)?;
        let (session, txid) = begin(context, &template)?;
        Ok::<_, Error>((template, session, txid))
    })();
    let (template, session, txid) = match opened {
        Ok(parts) => parts,
        Err(e) => return fail_setup(expect, fail(e)),
    };
    let Session {
        name,
        client,
        _claim: claim,
    } = session;
    let shared = SharedSession::new(client);
    let db = TestDb {
        spec: context.server.with_dbname(&name),
        name: name.clone(),
        test: Arc::new(spec.clone()),
        shared: Some(shared.clone()),
    };
    take_setup_failure();
    let outcome = catch_unwind(AssertUnwindSafe(|| body(db)));
    let setup_failed = take_setup_failure();
    match finish(shared.take(), &txid) {
        Verdict::Clean(client) => push_idle(
            &template,
            Session {
                name,
                client,
                _claim: claim,
            },
        ),
        Verdict::Discard => drop(claim),
        Verdict::Dirty(why, client) => {
            let dropped = context.drop_shared(&name, client).err();
            drop(claim);
            let message = format!(
                "pum: test {} runs under isolation = \"transaction\", and {why}: its writes \
                 could reach the next tests, so its shared database {name} was dropped{} (the \
                 next test gets a fresh copy); a test that commits needs the default isolation \
                 (a database per test)",
                spec.name,
                dropped
                    .map(|e| format!(" (or tried to be: {e})"))
                    .unwrap_or_default()
            );
            // The body's own panic, if any, was printed when it happened.
            return fail_setup(expect, message);
        }
    }
    let failure = match &outcome {
        Err(payload) => Some(panic_message(payload.as_ref()).to_string()),
        Ok(result) => result.failure(),
    };
    if let Some(hint) = failure.as_deref().and_then(hint) {
        eprintln!("{hint}");
    }
    conclude(&spec.name, outcome, setup_failed, expect);
}
