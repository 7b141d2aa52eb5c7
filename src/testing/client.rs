//! The session [`TestDb::session`](super::TestDb::session) hands out ([`TestClient`]): a
//! new one per call on a test's own database, or, under `isolation = "transaction"`, the
//! test's one session, lent while the `TestClient` lives and given back when it is dropped.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

/// The one session of a test under `isolation = "transaction"`, inside its transaction:
/// in the cell while no [`TestClient`] holds it.
#[derive(Clone)]
pub(crate) struct SharedSession(Arc<Mutex<Option<postgres::Client>>>);

impl std::fmt::Debug for SharedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSession")
    }
}

impl SharedSession {
    /// A cell holding `client`.
    pub(crate) fn new(client: postgres::Client) -> SharedSession {
        SharedSession(Arc::new(Mutex::new(Some(client))))
    }

    /// The session, taken out of the cell (`None` while a [`TestClient`] holds it).
    pub(crate) fn take(&self) -> Option<postgres::Client> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// A session on a test's database: a `postgres::Client` (it dereferences to one, so
/// `session.execute(…)` works as on a `postgres::Client`, and `&mut *session` is a
/// `&mut postgres::Client`, for a function taking one or an `impl GenericClient`).
///
/// With the default isolation each [`TestDb::session`](super::TestDb::session) call opens
/// a new session, and [`TestClient::into_inner`] gives the `postgres::Client` itself.
/// Under `isolation = "transaction"` it is the test's one session, inside the transaction
/// the harness rolls back at the end: lent to this `TestClient` and given back when it is
/// dropped, so a second `session()` while this one lives panics (a second session could not
/// see the test's writes), and one after it gets the same session again.
pub struct TestClient {
    client: Option<postgres::Client>,
    /// Where the client goes back when dropped (transaction isolation).
    home: Option<SharedSession>,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient")
            .field("shared", &self.home.is_some())
            .finish_non_exhaustive()
    }
}

impl TestClient {
    /// A session of its own.
    pub(crate) fn own(client: postgres::Client) -> TestClient {
        TestClient {
            client: Some(client),
            home: None,
        }
    }

    /// The test's one session, lent from `home`; `None` while another `TestClient`
    /// holds it.
    pub(crate) fn lent(home: &SharedSession) -> Option<TestClient> {
        Some(TestClient {
            client: Some(home.take()?),
            home: Some(home.clone()),
        })
    }

    /// The `postgres::Client` itself (default isolation).
    ///
    /// # Panics
    /// Under `isolation = "transaction"`: the session is the harness's, which rolls its
    /// transaction back when the test ends.
    #[track_caller]
    pub fn into_inner(mut self) -> postgres::Client {
        if self.home.is_some() {
            panic!(
                "pum: TestClient::into_inner: under isolation = \"transaction\" the test's \
                 session is lent, not given (the harness rolls its transaction back at the \
                 end): use the TestClient as a postgres::Client (it dereferences to one)"
            );
        }
        self.client
            .take()
            .expect("a TestClient holds its client until dropped")
    }
}

impl Deref for TestClient {
    type Target = postgres::Client;

    fn deref(&self) -> &postgres::Client {
        self.client
            .as_ref()
            .expect("a TestClient holds its client until dropped")
    }
}

impl DerefMut for TestClient {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        self.client
            .as_mut()
            .expect("a TestClient holds its client until dropped")
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        if let (Some(home), Some(client)) = (&self.home, self.client.take()) {
            *home.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(client);
        }
    }
}
