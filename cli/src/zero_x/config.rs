//! pum 0.x's configuration file (`-c db_manager_config.yaml`): its keys read, unknown
//! keys warned of, and what the command line leaves unsaid taken from it.

use std::path::{Path, PathBuf};

use super::cli::Deltas;
use crate::Output;

/// The keys of pum 0.x's configuration file.
pub(super) const CONFIG_KEYS: [&str; 7] = [
    "upgrades_table",
    "delta_dir",
    "delta_dirs",
    "backup_file",
    "ignore_elements",
    "pg_dump_exe",
    "pg_restore_exe",
];

/// Whether `file` is a pum 0.x configuration (its keys, no `pum:` section).
pub(super) fn is_zero_x_config(file: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    let Ok(value) = serde_saphyr_value(&text) else {
        return false;
    };
    !value.contains_key("pum") && CONFIG_KEYS.iter().any(|k| value.contains_key(*k))
}

fn serde_saphyr_value(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    serde_saphyr::from_str::<serde_json::Map<String, serde_json::Value>>(text)
        .map_err(|e| e.to_string())
}

/// pum 0.x's configuration file.
#[derive(Debug, Default)]
pub(super) struct ZeroXConfig {
    pub(super) upgrades_table: Option<String>,
    pub(super) delta_dirs: Vec<PathBuf>,
    pub(super) backup_file: Option<PathBuf>,
    pub(super) ignore_elements: Vec<String>,
    pub(super) pg_dump_exe: Option<PathBuf>,
    pub(super) pg_restore_exe: Option<PathBuf>,
}

impl ZeroXConfig {
    /// Reads `file`; without one, `PG_DUMP_EXE` and `PG_RESTORE_EXE` name the tools, as
    /// in pum 0.x.
    pub(super) fn load(file: Option<&Path>, out: Output) -> pum::Result<ZeroXConfig> {
        let Some(file) = file else {
            let env = |name| {
                std::env::var_os(name)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            };
            return Ok(ZeroXConfig {
                pg_dump_exe: env("PG_DUMP_EXE"),
                pg_restore_exe: env("PG_RESTORE_EXE"),
                ..ZeroXConfig::default()
            });
        };
        let bad = |message: String| pum::Error::Config {
            location: file.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(file).map_err(|e| pum::Error::io(file, e))?;
        let map = serde_saphyr_value(&text).map_err(bad)?;
        let text_of = |key: &str| -> pum::Result<Option<String>> {
            match map.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(bad(format!("{key}: a text is expected, not {other}"))),
            }
        };
        let list_of = |key: &str| -> pum::Result<Vec<String>> {
            match map.get(key) {
                None | Some(serde_json::Value::Null) => Ok(Vec::new()),
                Some(serde_json::Value::String(s)) => Ok(vec![s.clone()]),
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .map(|item| match item {
                        serde_json::Value::String(s) => Ok(s.clone()),
                        other => Err(bad(format!(
                            "{key}: a list of texts is expected, not {other}"
                        ))),
                    })
                    .collect(),
                Some(other) => Err(bad(format!(
                    "{key}: a text or a list is expected, not {other}"
                ))),
            }
        };
        for key in map.keys() {
            if !CONFIG_KEYS.contains(&key.as_str()) {
                out.warn(format!(
                    "{}: key {key} is not one pum 0.x reads (ignored)",
                    file.display()
                ));
            }
        }
        let mut delta_dirs = list_of("delta_dirs")?;
        delta_dirs.extend(list_of("delta_dir")?);
        Ok(ZeroXConfig {
            upgrades_table: text_of("upgrades_table")?,
            delta_dirs: delta_dirs.into_iter().map(PathBuf::from).collect(),
            backup_file: text_of("backup_file")?.map(PathBuf::from),
            ignore_elements: list_of("ignore_elements")?,
            pg_dump_exe: text_of("pg_dump_exe")?.map(PathBuf::from),
            pg_restore_exe: text_of("pg_restore_exe")?.map(PathBuf::from),
        })
    }

    /// The table and directories: the command line's, else the configuration's.
    pub(super) fn deltas(&self, deltas: Deltas) -> pum::Result<(String, Vec<PathBuf>)> {
        let table = deltas
            .table
            .or_else(|| self.upgrades_table.clone())
            .ok_or_else(|| pum::Error::Setting {
                variable: "-t TABLE".into(),
                message: "the upgrades table is needed (-t schema.table, or upgrades_table in the \
                          -c configuration file)"
                    .into(),
            })?;
        let dirs = if deltas.dir.is_empty() {
            self.delta_dirs.clone()
        } else {
            deltas.dir
        };
        if dirs.is_empty() {
            return Err(pum::Error::Setting {
                variable: "-d DIR".into(),
                message: "a delta directory is needed (-d DIR, or delta_dir in the -c \
                          configuration file)"
                    .into(),
            });
        }
        Ok((table, dirs))
    }
}
