//! What an upgrade of a delta-directory project does, decided without a database: from
//! the deltas on disk, the rows of the upgrades table and the options.
//!
//! As pum 0.x: a delta runs when its version is at or above the current version (the
//! deltas of the baseline version itself run), at or below the maximum version, and it
//! is not recorded as applied, applied meaning a successful row with the same version
//! and checksum. Better than 0.x: the current version is the highest recorded one
//! compared numerically, and a delta recorded under its version, type and name with
//! another checksum (edited since it was applied) is refused instead of run again.

use super::table::UpgradeRow;
use crate::changelog::deltas::{Delta, DeltaSet};
use crate::error::{Conflict, Result};
use crate::version::Version;

/// One step of a delta upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaStep {
    /// A `pre-all` file (index into [`DeltaSet::pre_all`]).
    PreAll(usize),
    /// A delta (index into [`DeltaSet::deltas`]), then its row.
    Delta(usize),
    /// A `post-all` file (index into [`DeltaSet::post_all`]).
    PostAll(usize),
}

/// What an upgrade will do.
#[derive(Debug, Clone)]
pub struct DeltaPlan {
    /// The version before the run.
    pub current: Version,
    /// The highest version the run records (the current one when nothing is pending).
    pub target: Version,
    /// The steps, in order: pre-all, deltas, post-all.
    pub steps: Vec<DeltaStep>,
    /// Deltas skipped although never applied (below the current version), and edited
    /// deltas that will not run again: things to know.
    pub warnings: Vec<String>,
}

impl DeltaPlan {
    /// The deltas the run applies, in order.
    pub fn pending<'s>(&self, set: &'s DeltaSet) -> Vec<&'s Delta> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                DeltaStep::Delta(i) => Some(&set.deltas[*i]),
                _ => None,
            })
            .collect()
    }
}

/// The state of a delta against the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeltaState {
    /// Recorded with its checksum.
    Applied,
    /// Will run on the next upgrade.
    Pending,
    /// Below the current version and not recorded: pum 0.x never runs it.
    Skipped,
    /// Recorded under its version, type and name with another checksum: edited since.
    Edited,
}

/// Whether `delta` is recorded as applied (version and checksum, as pum 0.x has it).
pub(crate) fn applied(delta: &Delta, rows: &[UpgradeRow]) -> bool {
    let Some(version) = &delta.version else {
        return false;
    };
    rows.iter().any(|r| {
        r.success
            && r.kind != 0
            && r.checksum == delta.checksum
            && Version::parse(&r.version).is_ok_and(|v| v == *version)
    })
}

/// Whether `delta` was recorded with another checksum under its version, type, name and
/// file name.
pub(crate) fn edited(delta: &Delta, rows: &[UpgradeRow]) -> bool {
    let Some(version) = &delta.version else {
        return false;
    };
    let file = delta.file_name();
    !applied(delta, rows)
        && rows.iter().any(|r| {
            r.success
                && r.kind == delta.type_code()
                && r.description == delta.name
                && std::path::Path::new(&r.script)
                    .file_name()
                    .is_some_and(|f| f.to_string_lossy() == file)
                && r.checksum != delta.checksum
                && Version::parse(&r.version).is_ok_and(|v| v == *version)
        })
}

/// The state of `delta` given the current version.
pub(crate) fn state(delta: &Delta, rows: &[UpgradeRow], current: Option<&Version>) -> DeltaState {
    if applied(delta, rows) {
        DeltaState::Applied
    } else if edited(delta, rows) {
        DeltaState::Edited
    } else if current.is_some_and(|c| delta.version.as_ref().is_some_and(|v| v < c)) {
        DeltaState::Skipped
    } else {
        DeltaState::Pending
    }
}

/// Plans an upgrade from `current`.
///
/// # Errors
/// [`Conflict::EditedDeltas`] when a delta that would run was applied before with other
/// contents.
pub fn upgrade(
    set: &DeltaSet,
    rows: &[UpgradeRow],
    current: &Version,
    max_version: Option<&Version>,
) -> Result<DeltaPlan> {
    let mut steps: Vec<DeltaStep> = (0..set.pre_all.len()).map(DeltaStep::PreAll).collect();
    let mut warnings = Vec::new();
    let mut edited_files = Vec::new();
    let mut target = current.clone();
    // Deltas of the same version with the same contents: the first one's row makes the
    // others applied (as pum 0.x, which reads the table before each delta).
    let mut planned: Vec<(&Version, &str)> = Vec::new();
    for (index, delta) in set.deltas.iter().enumerate() {
        let Some(version) = &delta.version else {
            continue;
        };
        if max_version.is_some_and(|max| version > max) {
            continue;
        }
        if applied(delta, rows) {
            continue;
        }
        if edited(delta, rows) {
            if version >= current {
                edited_files.push(delta.script.clone());
            } else {
                warnings.push(format!(
                    "{} changed since it was applied (it is below the current version {current} \
                     and does not run again)",
                    delta.script
                ));
            }
            continue;
        }
        if version < current {
            warnings.push(format!(
                "{} was never applied and does not run: its version is below the current \
                 version {current}",
                delta.script
            ));
            continue;
        }
        if planned
            .iter()
            .any(|(v, checksum)| *v == version && *checksum == delta.checksum)
        {
            continue;
        }
        planned.push((version, &delta.checksum));
        if *version > target {
            target = version.clone();
        }
        steps.push(DeltaStep::Delta(index));
    }
    if !edited_files.is_empty() {
        return Err(Conflict::EditedDeltas {
            files: edited_files,
        }
        .into());
    }
    steps.extend((0..set.post_all.len()).map(DeltaStep::PostAll));
    Ok(DeltaPlan {
        current: current.clone(),
        target,
        steps,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changelog::deltas::{DeltaKind, DeltaLanguage};
    use std::path::PathBuf;

    fn delta(version: &str, name: &str, checksum: &str) -> Delta {
        Delta {
            version: Some(Version::parse(version).unwrap()),
            kind: DeltaKind::Main,
            language: DeltaLanguage::Sql,
            name: name.into(),
            path: PathBuf::from(format!("d/delta_{version}_{name}.sql")),
            script: format!("d/delta_{version}_{name}.sql"),
            dir: 0,
            checksum: checksum.into(),
        }
    }

    fn row(version: &str, name: &str, kind: i32, checksum: &str) -> UpgradeRow {
        UpgradeRow {
            id: 1,
            version: version.into(),
            description: name.into(),
            kind,
            // Recorded from another directory: the file's name is what counts.
            script: format!("elsewhere/delta_{version}_{name}.sql"),
            checksum: checksum.into(),
            installed_by: "u".into(),
            installed_on: String::new(),
            success: true,
        }
    }

    fn set(deltas: Vec<Delta>) -> DeltaSet {
        DeltaSet {
            deltas,
            ..DeltaSet::default()
        }
    }

    fn names(plan: &DeltaPlan, set: &DeltaSet) -> Vec<String> {
        plan.pending(set).iter().map(|d| d.name.clone()).collect()
    }

    #[test]
    fn deltas_at_or_above_the_current_version_run_unless_applied() {
        let s = set(vec![
            delta("0.0.1", "a", "1"),
            delta("0.0.2", "b", "2"),
            delta("0.10.0", "ten", "3"),
            delta("0.9.0", "nine", "4"),
        ]);
        let rows = vec![row("0.0.1", "baseline", 0, ""), row("0.0.2", "b", 8, "2")];
        let current = Version::parse("0.0.2").unwrap();
        let plan = upgrade(&s, &rows, &current, None).unwrap();
        // a is below the current version: never run, said so.
        assert_eq!(names(&plan, &s), ["ten", "nine"]);
        assert_eq!(plan.target.to_string(), "0.10.0");
        assert!(plan.warnings[0].contains("delta_0.0.1_a.sql was never applied"));
        let max = Version::parse("0.9.5").unwrap();
        let plan = upgrade(&s, &rows, &current, Some(&max)).unwrap();
        assert_eq!(names(&plan, &s), ["nine"]);
    }

    #[test]
    fn the_baseline_versions_deltas_run() {
        let s = set(vec![delta("0.0.1", "a", "1")]);
        let rows = vec![row("0.0.1", "baseline", 0, "")];
        let plan = upgrade(&s, &rows, &Version::parse("0.0.1").unwrap(), None).unwrap();
        assert_eq!(names(&plan, &s), ["a"]);
    }

    #[test]
    fn an_edited_applied_delta_is_refused_not_run_again() {
        let s = set(vec![delta("1.0.0", "a", "new")]);
        let rows = vec![row("1.0.0", "a", 8, "old")];
        let err = upgrade(&s, &rows, &Version::parse("1.0.0").unwrap(), None).unwrap_err();
        assert!(err.to_string().contains("d/delta_1.0.0_a.sql"), "{err}");
        // Below the current version it would not run anyway: a warning.
        let plan = upgrade(&s, &rows, &Version::parse("2.0.0").unwrap(), None).unwrap();
        assert!(plan.steps.is_empty());
        assert!(plan.warnings[0].contains("changed since it was applied"));
    }

    #[test]
    fn identical_contents_in_one_version_run_once() {
        let s = set(vec![
            delta("2.0.0", "dup", "x"),
            delta("2.0.0", "dup2", "x"),
        ]);
        let plan = upgrade(&s, &[], &Version::parse("1.0.0").unwrap(), None).unwrap();
        assert_eq!(names(&plan, &s), ["dup"]);
    }
}
