//! How a failed test's error reads: what a body returns ([`TestResult`]), and its error
//! shown as people read it (a PostgreSQL error with the server's fields, errors with their
//! causes).

use super::templates;
use crate::error::Error;

/// What a test body returns: `()` or a `Result` whose error fails the test.
pub trait TestResult {
    /// Why the test failed, if it did.
    fn failure(&self) -> Option<String>;
}

impl TestResult for () {
    fn failure(&self) -> Option<String> {
        None
    }
}

/// Any error `#[test]` accepts (`Debug`), shown as people read it: a PostgreSQL error
/// with the server's SQLSTATE, message, detail and hint (its `Display` says only "db
/// error"), pum's and boxed errors with their causes, anything else as `#[test]` shows
/// it (`Debug`, which for `anyhow` errors lists their causes).
impl<E: std::fmt::Debug + 'static> TestResult for std::result::Result<(), E> {
    fn failure(&self) -> Option<String> {
        self.as_ref()
            .err()
            .map(|e| format!("the test returned an error: {}", describe(e)))
    }
}

/// How a test's error reads: see [`TestResult`].
fn describe<E: std::fmt::Debug + 'static>(error: &E) -> String {
    use std::any::Any;
    let any = error as &dyn Any;
    if let Some(e) = any.downcast_ref::<Error>() {
        return with_causes(e);
    }
    if let Some(e) = any.downcast_ref::<postgres::Error>() {
        return postgres_error(e);
    }
    if let Some(e) = any.downcast_ref::<Box<dyn std::error::Error + Send + Sync>>() {
        return with_causes(e.as_ref());
    }
    if let Some(e) = any.downcast_ref::<Box<dyn std::error::Error>>() {
        return with_causes(e.as_ref());
    }
    if let Some(e) = any.downcast_ref::<std::io::Error>() {
        return with_causes(e);
    }
    if let Some(text) = any.downcast_ref::<String>() {
        return text.clone();
    }
    if let Some(text) = any.downcast_ref::<&str>() {
        return (*text).to_string();
    }
    format!("{error:?}")
}

/// An error and its causes, one after the other; a PostgreSQL error anywhere in the chain
/// with the server's fields.
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = match error.downcast_ref::<postgres::Error>() {
        Some(e) => return postgres_error(e),
        None => error.to_string(),
    };
    let mut cause = error.source();
    while let Some(e) = cause {
        let more = match e.downcast_ref::<postgres::Error>() {
            Some(pg) => postgres_error(pg),
            None => e.to_string(),
        };
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = e.source();
    }
    text
}

/// A PostgreSQL error as psql shows it: `ERROR 42P01: relation "x" does not exist`, with
/// its detail and hint; a client-side error (connection, conversion) with its cause.
fn postgres_error(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" (detail: {detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!(" (hint: {hint})"));
            }
            if db.code().code() == templates::DUPLICATE_OBJECT {
                text.push_str(&format!(" ({})", templates::ROLES_OUTLIVE));
            }
            text
        }
        None => match std::error::Error::source(error) {
            Some(cause) => format!("{error}: {cause}"),
            None => error.to_string(),
        },
    }
}
