//! What a run tells its caller: [`Progress`] as it goes, a [`MigrationReport`] when it is done.

use serde::Serialize;

use crate::version::Version;

/// Told about each file as it is applied (the CLI draws a progress bar with it).
pub trait Progress {
    /// The run is about to apply `files` files.
    fn begin(&mut self, files: usize) {
        let _ = files;
    }
    /// `name` (of `version`) is about to run.
    fn file(&mut self, version: &Version, name: &str) {
        let _ = (version, name);
    }
    /// Down file `name` (of `version`) is about to run (a downgrade).
    fn undo(&mut self, version: &Version, name: &str) {
        let _ = (version, name);
    }
    /// The run is over.
    fn end(&mut self) {}
    /// A delta (pum 0.x layout) is about to run: `what` is `delta 1.2.0 name` or
    /// `pre-all.sql`.
    fn delta(&mut self, what: &str) {
        let _ = what;
    }
    /// Code that runs (a Python delta, an executable, a Rust hook) said something.
    fn message(&mut self, text: &str) {
        let _ = text;
    }
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;

impl Progress for NoProgress {}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MigrationReport {
    /// The version before the run (`None` for an install).
    pub from: Option<String>,
    /// The versions applied, in order.
    pub applied: Vec<String>,
    /// How many files ran.
    pub files: usize,
    /// Things the user should know (changed applied files).
    pub warnings: Vec<String>,
}
