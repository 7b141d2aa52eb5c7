//! A Python file or an executable to run as a child process on the run's session: what
//! it is told ([`Code`]). The runner is in `child.rs` (Unix) and `elsewhere.rs` (which
//! refuses).

use std::path::Path;

use super::Variable;
use crate::version::Version;

/// What kind of child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeKind {
    /// A Python file with pum 0.x `DeltaPy` subclasses.
    DeltaPy,
    /// A Python file with a pum 1.x application hook: a class `Hook` deriving from
    /// `HookBase`, whose `run_hook(connection, **parameters)` is called.
    HookBase,
    /// An executable file.
    Executable,
}

/// One piece of code to run, and what it is told.
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) struct Code<'a> {
    pub kind: CodeKind,
    /// The file.
    pub file: &'a Path,
    /// How errors name it (`delta/delta_1.0.0_x.py`).
    pub shown: &'a str,
    /// The Python module name (the delta's name; `pre-all`).
    pub module: &'a str,
    pub current_version: Option<&'a Version>,
    pub target_version: Option<&'a Version>,
    /// The file's directory as given, with a trailing separator (pum 0.x's `delta_dir`).
    pub delta_dir: String,
    /// Every delta directory as given.
    pub delta_dirs: Vec<String>,
    /// The service name the code connects with.
    pub service: &'a str,
    /// `schema.table`.
    pub table: &'a str,
    pub variables: &'a [(String, Variable)],
    /// The Python interpreter, when not `PUM_PYTHON` or `python3`.
    pub python: Option<&'a Path>,
    /// The parameters as a JSON object (`{"SRID": 2056}`), for a `HookBase` hook.
    pub parameters: String,
    /// The project directory, put on a `HookBase` hook's `sys.path` after the file's own.
    pub base_dir: Option<&'a Path>,
    /// The Python packages the project needs, checked before the file runs: a JSON list
    /// of `[name, minimum or null, maximum or null]`.
    pub dependencies: String,
}
