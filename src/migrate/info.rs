//! What `info` and `validate` report: every version of the changelogs and the table, with
//! its state and its files' — a pure function of the changelogs and the table as read.

use serde::Serialize;

use super::state::{Applied, FileStatus, file_status};
use crate::changelog::Changelog;
use crate::error::Result;
use crate::version::Version;

/// One file in [`Info`].
#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    /// The recorded name (`changelogs/<version>/<file>`).
    pub name: String,
    /// Its state.
    pub status: FileStatus,
    /// Whether it runs outside a transaction.
    pub no_transaction: bool,
}

/// The state of one version in [`Info`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    /// Recorded with its files.
    Applied,
    /// Recorded by `baseline` (no files).
    Baseline,
    /// Not recorded, and below the current version (skipped by a baseline).
    Skipped,
    /// Not recorded yet.
    Pending,
    /// Recorded, but there is no changelog for it.
    NoChangelog,
}

/// One version in [`Info`].
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    /// The version.
    pub version: String,
    /// Its state.
    pub status: VersionStatus,
    /// When it was recorded.
    pub date_installed: Option<String>,
    /// Recorded in beta-testing mode.
    pub beta_testing: bool,
    /// Its files.
    pub files: Vec<FileInfo>,
}

/// What [`Upgrader::info`](super::Upgrader::info) reports.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    /// `schema.pum_migrations`.
    pub table: String,
    /// Whether the table exists.
    pub installed: bool,
    /// The module recorded with the current version.
    pub module: Option<String>,
    /// The highest recorded version.
    pub current_version: Option<String>,
    /// Every version, from the changelogs and the table, in order.
    pub versions: Vec<VersionInfo>,
}

impl Info {
    /// Applied files that changed or disappeared since, and files added to applied
    /// versions, as `name (changed|missing|added)`: what `validate` reports.
    pub fn changed_files(&self) -> Vec<String> {
        self.versions
            .iter()
            .flat_map(|v| &v.files)
            .filter_map(|f| match f.status {
                FileStatus::Changed => Some(format!("{} (changed)", f.name)),
                FileStatus::Missing => Some(format!("{} (missing)", f.name)),
                FileStatus::Added => Some(format!("{} (added)", f.name)),
                _ => None,
            })
            .collect()
    }

    /// Versions not recorded yet.
    pub fn pending(&self) -> Vec<&str> {
        self.versions
            .iter()
            .filter(|v| v.status == VersionStatus::Pending)
            .map(|v| v.version.as_str())
            .collect()
    }
}

/// The report on `changelogs` against what `applied` records.
///
/// # Errors
/// [`crate::Conflict::UnreadableVersion`] when the table records a version that is not
/// dotted numbers.
pub fn info(changelogs: &[Changelog], applied: &Applied) -> Result<Info> {
    let current = applied.latest()?;
    let mut versions = Vec::new();
    for changelog in changelogs {
        let row = applied.row_of(&changelog.version);
        let status = match (row, &current) {
            (Some(r), _) if r.is_baseline() && !changelog.app_only() => VersionStatus::Baseline,
            (Some(_), _) => VersionStatus::Applied,
            (None, Some((_, cur))) if &changelog.version <= cur => VersionStatus::Skipped,
            (None, _) => VersionStatus::Pending,
        };
        let mut files: Vec<FileInfo> = changelog
            .files
            .iter()
            .map(|f| FileInfo {
                name: f.name.clone(),
                status: match row {
                    Some(r) => match r.recorded_name(&f.name) {
                        Some(recorded) => file_status(changelogs, r, recorded),
                        None if r.is_baseline() => FileStatus::Pending,
                        None => FileStatus::Added,
                    },
                    None => FileStatus::Pending,
                },
                no_transaction: f.sql.no_transaction,
            })
            .collect();
        // Applied files that are gone from the changelog.
        if let Some(r) = row {
            for recorded in &r.changelog_files {
                if !changelog
                    .files
                    .iter()
                    .any(|f| r.recorded_name(&f.name) == Some(recorded))
                {
                    files.push(FileInfo {
                        name: recorded.clone(),
                        status: file_status(changelogs, r, recorded),
                        no_transaction: false,
                    });
                }
            }
        }
        versions.push(VersionInfo {
            version: changelog.version.to_string(),
            status,
            date_installed: row.map(|r| r.date_installed.clone()),
            beta_testing: row.is_some_and(|r| r.beta_testing),
            files,
        });
    }
    for row in &applied.rows {
        let known =
            Version::parse(&row.version).is_ok_and(|v| changelogs.iter().any(|c| c.version == v));
        if !known {
            versions.push(VersionInfo {
                version: row.version.clone(),
                status: if row.is_baseline() {
                    VersionStatus::Baseline
                } else {
                    VersionStatus::NoChangelog
                },
                date_installed: Some(row.date_installed.clone()),
                beta_testing: row.beta_testing,
                files: row
                    .changelog_files
                    .iter()
                    .map(|name| FileInfo {
                        name: name.clone(),
                        status: file_status(changelogs, row, name),
                        no_transaction: false,
                    })
                    .collect(),
            });
        }
    }
    versions.sort_by(
        |a, b| match (Version::parse(&a.version), Version::parse(&b.version)) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.version.cmp(&b.version),
        },
    );
    Ok(Info {
        table: applied.table.clone(),
        installed: applied.exists,
        module: current.as_ref().and_then(|(r, _)| r.module.clone()),
        current_version: current.map(|(_, v)| v.to_string()),
        versions,
    })
}
