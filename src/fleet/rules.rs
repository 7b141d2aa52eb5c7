//! The fleet's outcome rules: what one database's result says in the run's table, and
//! whether it counts as done or failed. Pure functions of the library's reports.
//!
//! - A job that returned an error failed.
//! - `install` on a database that has the module installed already is done (a rerun
//!   continues with what is not done), with its current version.
//! - `validate` that finds changed applied files, and `check --changelogs` that finds
//!   differences, ran but failed: the database is not as it should be.
//! - Everything else that ran is done.

use crate::error::{Error, Result};
use crate::migrate::{Info, MigrationReport, VersionStatus};
use crate::version::Version;

use super::Outcome;

/// What a job made of one database, as the run's table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// One line: `1.2.0 → 1.4.0`, `1.4.0, 3 pending`, `same as its changelogs`, …
    pub detail: String,
    /// What makes the database count as failed although its job ran
    /// (`2 applied file(s) changed`); `None` when it is done.
    pub problem: Option<String>,
}

impl AsRef<Summary> for Summary {
    fn as_ref(&self) -> &Summary {
        self
    }
}

impl Summary {
    /// A database that is done, with `detail`.
    fn done(detail: String) -> Summary {
        Summary {
            detail,
            problem: None,
        }
    }

    /// Whether the database counts as done.
    pub fn is_done(&self) -> bool {
        self.problem.is_none()
    }

    /// An upgrade: `from → to` (`-` for no version; `to` is `from` when nothing was
    /// applied).
    pub fn upgrade(report: &MigrationReport) -> Summary {
        let from = report.from.clone().unwrap_or_else(|| "-".into());
        let to = report
            .applied
            .last()
            .cloned()
            .unwrap_or_else(|| from.clone());
        Summary::done(format!("{from} → {to}"))
    }

    /// An install: `- → to`, or the current version of a database installed already.
    pub fn install(installed: &Installed) -> Summary {
        match installed {
            Installed::Now(report) => {
                let to = report.applied.last().cloned().unwrap_or_else(|| "-".into());
                Summary::done(format!("- → {to}"))
            }
            Installed::Already { current } => {
                Summary::done(format!("{current} (installed already)"))
            }
        }
    }

    /// `info`: the current version (or `not installed`) and how many versions are
    /// pending.
    pub fn info(info: &Info) -> Summary {
        let pending = info
            .versions
            .iter()
            .filter(|v| v.status == VersionStatus::Pending)
            .count();
        info_summary(info.current_version.as_deref(), pending)
    }

    /// `validate`: the changed applied files; any makes the database fail.
    pub fn validate(changed: &[String]) -> Summary {
        Summary {
            detail: changed.join(", "),
            problem: (!changed.is_empty())
                .then(|| format!("{} applied file(s) changed", changed.len())),
        }
    }

    /// `current`: the version.
    pub fn current(version: &Version) -> Summary {
        Summary::done(version.to_string())
    }

    /// `check --changelogs`: the number of differences; any makes the database fail.
    pub fn check(differences: usize) -> Summary {
        if differences == 0 {
            Summary::done("same as its changelogs".into())
        } else {
            Summary {
                detail: format!("{differences} difference(s)"),
                problem: Some(format!("differs: {differences} difference(s)")),
            }
        }
    }
}

fn info_summary(current: Option<&str>, pending: usize) -> Summary {
    Summary::done(match current {
        Some(v) => format!("{v}, {pending} pending"),
        None => format!("not installed, {pending} pending"),
    })
}

/// What `install` did on one database of a fleet.
#[derive(Debug, Clone)]
pub enum Installed {
    /// Installed by this run.
    Now(MigrationReport),
    /// The module was installed already: the database counts as done.
    Already {
        /// Its current version.
        current: Version,
    },
}

/// The fleet's reading of an install's `result`: the module installed already is no
/// failure ([`Installed::Already`], with the version `current` reads); other errors
/// stay errors.
///
/// # Errors
/// `result`'s error other than [`Error::AlreadyInstalled`]; `current`'s error.
pub fn installed(
    result: Result<MigrationReport>,
    current: impl FnOnce() -> Result<Version>,
) -> Result<Installed> {
    match result {
        Ok(report) => Ok(Installed::Now(report)),
        Err(Error::AlreadyInstalled { .. }) => Ok(Installed::Already {
            current: current()?,
        }),
        Err(e) => Err(e),
    }
}

/// How many of `outcomes` failed: their job returned an error, or its [`Summary`] names
/// a problem.
pub fn failed_count<T: AsRef<Summary>>(outcomes: &[Outcome<T>]) -> usize {
    outcomes
        .iter()
        .filter(|o| o.result.as_ref().map_or(true, |t| !t.as_ref().is_done()))
        .count()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn report(from: Option<&str>, applied: &[&str]) -> MigrationReport {
        MigrationReport {
            from: from.map(str::to_string),
            applied: applied.iter().map(|v| v.to_string()).collect(),
            ..MigrationReport::default()
        }
    }

    fn version(text: &str) -> Version {
        text.parse().unwrap()
    }

    #[test]
    fn an_upgrade_shows_where_it_went_and_is_done() {
        let s = Summary::upgrade(&report(Some("1.2.0"), &["1.3.0", "1.4.0"]));
        assert_eq!(s.detail, "1.2.0 → 1.4.0");
        assert!(s.is_done());
        assert_eq!(
            Summary::upgrade(&report(Some("1.4.0"), &[])).detail,
            "1.4.0 → 1.4.0"
        );
        assert_eq!(Summary::upgrade(&report(None, &[])).detail, "- → -");
    }

    #[test]
    fn installed_already_counts_as_done_and_other_errors_stay_errors() {
        let already = installed(
            Err(Error::AlreadyInstalled {
                table: "public.pum_migrations".into(),
            }),
            || Ok(version("1.4.0")),
        )
        .unwrap();
        let summary = Summary::install(&already);
        assert_eq!(summary.detail, "1.4.0 (installed already)");
        assert!(summary.is_done());

        let now = installed(Ok(report(None, &["1.0.0", "1.1.0"])), || {
            panic!("the current version is read only for an installed database")
        })
        .unwrap();
        assert_eq!(Summary::install(&now).detail, "- → 1.1.0");

        let other = installed(
            Err(Error::Unsupported {
                message: "no".into(),
            }),
            || Ok(version("1.0.0")),
        );
        assert!(matches!(other, Err(Error::Unsupported { .. })), "{other:?}");
    }

    #[test]
    fn changed_files_and_differences_make_a_database_fail() {
        let clean = Summary::validate(&[]);
        assert!(clean.is_done());
        assert_eq!(clean.detail, "");
        let changed = Summary::validate(&["1.0.0/01.sql (changed)".into(), "x (missing)".into()]);
        assert_eq!(
            changed.problem.as_deref(),
            Some("2 applied file(s) changed")
        );
        assert_eq!(changed.detail, "1.0.0/01.sql (changed), x (missing)");

        assert_eq!(
            Summary::check(0),
            Summary {
                detail: "same as its changelogs".into(),
                problem: None
            }
        );
        assert_eq!(
            Summary::check(3),
            Summary {
                detail: "3 difference(s)".into(),
                problem: Some("differs: 3 difference(s)".into())
            }
        );
    }

    #[test]
    fn info_and_current_say_the_version() {
        assert_eq!(info_summary(Some("1.2.0"), 2).detail, "1.2.0, 2 pending");
        assert_eq!(info_summary(None, 3).detail, "not installed, 3 pending");
        assert_eq!(Summary::current(&version("1.2.0")).detail, "1.2.0");
    }

    #[test]
    fn errors_and_problems_are_failures() {
        let outcome = |result: Result<Summary>| Outcome {
            database: "d".into(),
            result,
            elapsed: Duration::ZERO,
        };
        let outcomes = [
            outcome(Ok(Summary::check(0))),
            outcome(Ok(Summary::check(1))),
            outcome(Err(Error::Unsupported {
                message: "broken".into(),
            })),
            outcome(Ok(Summary::validate(&[]))),
        ];
        assert_eq!(failed_count(&outcomes), 2);
        assert_eq!(failed_count::<Summary>(&[]), 0);
    }
}
