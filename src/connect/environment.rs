//! [`Environment`]: the variables and home directory a connection is resolved in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The environment a connection is resolved in: variables and the home directory.
///
/// [`Environment::from_process`] reads the real one; tests build their own with
/// [`Environment::empty`] and [`Environment::set`] so they never depend on, or change,
/// the process environment.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    /// The variables of the current process.
    ///
    /// When `HOME` is unset, the home directory of the account this process runs as
    /// stands in for it (where `~/.pg_service.conf` and `~/.pgpass` are looked for).
    pub fn from_process() -> Environment {
        let mut vars: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        if !vars.contains_key("HOME")
            && let Some(account) =
                crate::os_user::current_name().and_then(|n| crate::os_user::by_name(&n))
        {
            vars.insert("HOME".into(), account.home.display().to_string());
        }
        Environment { vars }
    }

    /// No variables at all: only explicit settings and built-in defaults apply.
    pub fn empty() -> Environment {
        Environment::default()
    }

    /// Returns the environment with `name` set to `value`.
    pub fn set(mut self, name: impl Into<String>, value: impl Into<String>) -> Environment {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// A variable's value; empty values count as unset, as in libpq.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub(super) fn home(&self) -> Option<PathBuf> {
        self.get("HOME").map(PathBuf::from)
    }

    /// The service files searched, in order.
    pub(super) fn service_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        match self.get("PGSERVICEFILE") {
            Some(file) => files.push(PathBuf::from(file)),
            None => files.extend(self.home().map(|h| h.join(".pg_service.conf"))),
        }
        let sysconf = self.get("PGSYSCONFDIR").unwrap_or("/etc/postgresql-common");
        files.push(Path::new(sysconf).join("pg_service.conf"));
        files
    }
}
