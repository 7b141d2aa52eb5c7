//! The `pum` binary run as users run it, against a real PostgreSQL server: a throwaway
//! one, or the one named by `PUM_TEST_DATABASE_URL`.

mod app;
mod cli;
mod daily;
mod fleet;
mod matrix;
mod server;
#[path = "../../../tests/support/mod.rs"]
mod support;
mod zero_x;
