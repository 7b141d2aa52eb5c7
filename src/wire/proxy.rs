//! pum's SQL on a `tokio_postgres::Client`: the run (synchronous, like every run of pum)
//! goes on a thread of its own and sends each statement here; the caller's task runs it
//! on the client and sends back the result. So a run needs no second connection and no
//! blocking of the caller's runtime, even a single-threaded one.

use std::sync::mpsc;

use super::{ServerError, Sql, TextRow};

/// A statement for the client, and whether its rows are wanted.
pub(crate) struct Request {
    sql: String,
    rows: bool,
}

/// The run's side: [`Sql`] that asks the caller's task.
pub(crate) struct Proxy {
    requests: tokio::sync::mpsc::UnboundedSender<Request>,
    replies: mpsc::Receiver<Result<Vec<TextRow>, ServerError>>,
}

impl Proxy {
    fn ask(&mut self, sql: &str, rows: bool) -> Result<Vec<TextRow>, ServerError> {
        let gone = || ServerError::lost("the task driving the client stopped");
        self.requests
            .send(Request {
                sql: sql.to_string(),
                rows,
            })
            .map_err(|_| gone())?;
        self.replies.recv().map_err(|_| gone())?
    }
}

impl Sql for Proxy {
    fn batch(&mut self, sql: &str) -> Result<(), ServerError> {
        self.ask(sql, false).map(|_| ())
    }

    fn rows(&mut self, sql: &str) -> Result<Vec<TextRow>, ServerError> {
        self.ask(sql, true)
    }
}

/// Runs `work` on a thread of its own with a [`Proxy`] to `client`, serving its
/// statements until it ends; returns what it returned.
pub(crate) async fn serve<T: Send + 'static>(
    client: &tokio_postgres::Client,
    work: impl FnOnce(&mut Proxy) -> crate::error::Result<T> + Send + 'static,
) -> crate::error::Result<T> {
    let (requests, mut incoming) = tokio::sync::mpsc::unbounded_channel();
    let (reply, replies) = mpsc::channel();
    let (done, outcome) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("pum-run".into())
        .spawn(move || {
            let mut proxy = Proxy { requests, replies };
            let _ = done.send(work(&mut proxy));
        })
        .map_err(|e| crate::error::Error::io("a thread for the run", e))?;
    while let Some(request) = incoming.recv().await {
        let result = if request.rows {
            client
                .simple_query(&request.sql)
                .await
                .map(|messages| {
                    messages
                        .into_iter()
                        .filter_map(|m| match m {
                            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                                (0..row.len())
                                    .map(|i| row.get(i).map(str::to_string))
                                    .collect(),
                            ),
                            _ => None,
                        })
                        .collect()
                })
                .map_err(|e| ServerError::from(&e))
        } else {
            client
                .batch_execute(&request.sql)
                .await
                .map(|()| Vec::new())
                .map_err(|e| ServerError::from(&e))
        };
        if reply.send(result).is_err() {
            break;
        }
    }
    outcome.await.unwrap_or_else(|_| {
        Err(crate::error::Error::Unsupported {
            message: "the migration run ended without an outcome (its thread panicked)".into(),
        })
    })
}
