//! What the database records compared with what is on disk: the migrations table as read
//! ([`Applied`]), and the state of each applied file ([`FileStatus`]). Pure functions of
//! values, shared by the plan and by `info`.

use serde::Serialize;

use super::table::{Migration, same_file};
use crate::changelog::Changelog;
use crate::error::Conflict;
use crate::version::Version;

/// What the database records: the migrations table as read before the run.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// `schema.pum_migrations`, for messages.
    pub table: String,
    /// Whether the table exists.
    pub exists: bool,
    /// Schemas other than this one holding a `pum_migrations` table.
    pub other_tables: Vec<String>,
    /// Its rows, oldest first.
    pub rows: Vec<Migration>,
}

impl Applied {
    /// The row of the highest recorded version (numerically; on equal versions the later
    /// row), and that version.
    ///
    /// # Errors
    /// [`Conflict::UnreadableVersion`] when a row's version is not dotted numbers.
    pub fn latest(&self) -> Result<Option<(&Migration, Version)>, Conflict> {
        let mut best: Option<(&Migration, Version)> = None;
        for row in &self.rows {
            let version = row.parsed_version(&self.table)?;
            if best.as_ref().is_none_or(|(_, v)| &version >= v) {
                best = Some((row, version));
            }
        }
        Ok(best)
    }

    /// The (first) row recording `version`, if any.
    pub fn row_of(&self, version: &Version) -> Option<&Migration> {
        self.rows
            .iter()
            .find(|r| r.parsed_version(&self.table).ok().as_ref() == Some(version))
    }
}

/// The state of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Applied, and unchanged since.
    Unchanged,
    /// Applied, and changed since.
    Changed,
    /// Applied, and no longer on disk.
    Missing,
    /// Applied, but recorded without a checksum (by Python pum).
    Unknown,
    /// Not applied yet.
    Pending,
    /// In a version that is applied, but not among the files applied with it: added
    /// since, it would never run.
    Added,
}

/// The state of `recorded`, a file `row` lists, against the files on disk.
pub(crate) fn file_status(changelogs: &[Changelog], row: &Migration, recorded: &str) -> FileStatus {
    let Some(checksum) = row.file_checksums.get(recorded) else {
        return FileStatus::Unknown;
    };
    let on_disk = changelogs
        .iter()
        .flat_map(|c| &c.files)
        .find(|f| same_file(recorded, &f.name));
    match on_disk {
        None => FileStatus::Missing,
        Some(f) if &f.sql.checksum == checksum => FileStatus::Unchanged,
        Some(_) => FileStatus::Changed,
    }
}

/// Files in versions applied with their files whose rows do not list them.
pub(crate) fn added_files(changelogs: &[Changelog], applied: &Applied) -> Vec<String> {
    changelogs
        .iter()
        .filter_map(|c| Some((c, applied.row_of(&c.version)?)))
        .filter(|(_, row)| !row.is_baseline())
        .flat_map(|(c, row)| {
            c.files
                .iter()
                .filter(|f| row.recorded_name(&f.name).is_none())
                .map(|f| f.name.clone())
        })
        .collect()
}

/// Applied files that changed or disappeared since, as `name (changed|missing)`.
pub(crate) fn changed_files(changelogs: &[Changelog], applied: &Applied) -> Vec<String> {
    applied
        .rows
        .iter()
        .flat_map(|row| {
            row.changelog_files.iter().filter_map(move |recorded| {
                match file_status(changelogs, row, recorded) {
                    FileStatus::Changed => Some(format!("{recorded} (changed)")),
                    FileStatus::Missing => Some(format!("{recorded} (missing)")),
                    _ => None,
                }
            })
        })
        .collect()
}
