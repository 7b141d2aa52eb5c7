//! Integration tests against a real PostgreSQL server: a throwaway one started for this
//! test binary, or the one named by `PUM_TEST_DATABASE_URL`.

mod app;
mod autogenerate;
mod big_files;
mod check;
mod check_catalog;
mod connect;
mod daily;
mod database;
mod deltas;
mod dump;
mod embed;
mod fleet;
mod harness;
mod harness_edges;
mod isolation;
mod lint;
mod live;
mod migrate;
mod python_hooks;
mod registry;
mod runners;
mod server;
mod splitter;
#[path = "../support/mod.rs"]
mod support;
mod templates;
mod upgrade_paths;
