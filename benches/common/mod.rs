//! What the benchmarks share: the server they measure on, and medians.

#![allow(dead_code)]

use std::time::Duration;

use pum::ConnectionSpec;

/// The server named by `PUM_TEST_DATABASE_URL`, else pum's ephemeral server.
pub fn server() -> pum::Result<ConnectionSpec> {
    match std::env::var("PUM_TEST_DATABASE_URL") {
        Ok(url) => ConnectionSpec::resolve(&url),
        Err(_) => Ok(pum::server::Server::shared()?.spec().clone()),
    }
}

/// The median of some timings.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
