//! A project's files compiled into the program (by `embed_changelogs!`), read as a
//! changelog [`Tree`]: the table of files a [`crate::config::Config`] of an embedded
//! project reads its changelogs and hook files from. The runtime entry that migrates with
//! it is [`crate::embed::Embedded`], on a higher floor.

use std::path::{Path, PathBuf};

use super::{EntryKind, SqlText, Tree};
use crate::error::{Error, Result};

/// The files of a project compiled into the program: the project directory as written in
/// the macro (it names the files in messages) and its files, by path relative to it.
/// Paths ending in `/` are directories (listed so that an empty one is seen).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmbeddedFiles {
    dir: &'static str,
    files: &'static [(&'static str, &'static [u8])],
}

impl EmbeddedFiles {
    /// The table the macro builds.
    pub(crate) const fn new(
        dir: &'static str,
        files: &'static [(&'static str, &'static [u8])],
    ) -> Self {
        EmbeddedFiles { dir, files }
    }

    /// The project directory as written in the macro.
    pub(crate) fn dir(&self) -> &'static str {
        self.dir
    }

    /// The paths of the files (not directories), relative to the project directory.
    pub(crate) fn paths(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.files
            .iter()
            .map(|(path, _)| *path)
            .filter(|path| !path.ends_with('/'))
    }

    /// The files as a [`Tree`] under the project directory.
    pub(crate) fn tree(&self) -> EmbeddedTree {
        EmbeddedTree {
            base: PathBuf::from(self.dir),
            files: self.files,
        }
    }
}

/// The compiled-in files, seen as directories and files under the project directory.
pub(crate) struct EmbeddedTree {
    base: PathBuf,
    files: &'static [(&'static str, &'static [u8])],
}

impl EmbeddedTree {
    fn bytes(&self, path: &Path) -> Option<&'static [u8]> {
        self.files
            .iter()
            .find(|(name, _)| !name.ends_with('/') && self.base.join(name) == path)
            .map(|(_, bytes)| *bytes)
    }
}

impl Tree for EmbeddedTree {
    fn entries(&self, dir: &Path) -> Result<Option<Vec<(String, PathBuf, EntryKind)>>> {
        let mut found: Vec<(String, PathBuf, EntryKind)> = Vec::new();
        for (name, _) in self.files {
            let full = self.base.join(name);
            let Ok(rest) = full.strip_prefix(dir) else {
                continue;
            };
            let mut parts = rest.components();
            let Some(first) = parts.next() else {
                continue;
            };
            let first = first.as_os_str().to_string_lossy().into_owned();
            // Directories are listed too (as `changelogs/1.2.0/`), so that an empty one is
            // seen as it would be on disk.
            let kind = if parts.next().is_some() || name.ends_with('/') {
                EntryKind::Dir
            } else {
                EntryKind::File
            };
            if !found.iter().any(|(seen, _, _)| *seen == first) {
                found.push((first.clone(), dir.join(&first), kind));
            }
        }
        Ok((!found.is_empty()).then_some(found))
    }

    fn read(&self, path: &Path) -> Result<SqlText> {
        let bytes = self.bytes(path).ok_or_else(|| {
            Error::io(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "not among the files compiled into the program (embed_changelogs!)",
                ),
            )
        })?;
        let text = super::sql_source(&path.display().to_string(), bytes.to_vec())?;
        Ok(SqlText::new(text))
    }
}
