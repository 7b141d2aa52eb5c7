//! What the macros read of a pum project when the crate compiles: its `.pum.yaml` (the
//! keys that name directories and files) and its version directories.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The keys of a `.pum.yaml` that name files; everything else is the library's to read.
#[derive(Debug, Default, Deserialize)]
pub struct Project {
    #[serde(default)]
    pub changelogs_directory: Option<String>,
    #[serde(default)]
    pub application: Application,
    #[serde(default)]
    pub uninstall: Vec<HookEntry>,
    #[serde(default)]
    pub demo_data: Vec<DemoData>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Application {
    #[serde(default)]
    pub create: Vec<HookEntry>,
    #[serde(default)]
    pub drop: Vec<HookEntry>,
}

#[derive(Debug, Default, Deserialize)]
pub struct HookEntry {
    #[serde(default)]
    pub file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DemoData {
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub files: Option<Vec<String>>,
}

impl Project {
    /// Reads `config`; a file that is not valid YAML says why (the library reports it in
    /// full when it loads the file).
    pub fn read(config: &Path) -> Result<Project, String> {
        let text = std::fs::read_to_string(config)
            .map_err(|e| format!("cannot read {}: {e}", config.display()))?;
        serde_saphyr::from_str(&text).map_err(|e| {
            let text = e.to_string();
            format!(
                "{}: {}",
                config.display(),
                text.lines().next().unwrap_or_default()
            )
        })
    }

    /// The changelogs directory (`changelogs_directory:`, default `changelogs`), as
    /// written, relative to the project directory.
    pub fn changelogs(&self) -> &str {
        self.changelogs_directory.as_deref().unwrap_or("changelogs")
    }

    /// The files the hooks and demo data name, with where they are named
    /// (`application.create[0]`).
    pub fn named_files(&self) -> Vec<(String, &str)> {
        let mut named = Vec::new();
        for (key, hooks) in [
            ("application.create", &self.application.create),
            ("application.drop", &self.application.drop),
            ("uninstall", &self.uninstall),
        ] {
            for (i, hook) in hooks.iter().enumerate() {
                if let Some(file) = &hook.file {
                    named.push((format!("{key}[{i}]"), file.as_str()));
                }
            }
        }
        for (i, demo) in self.demo_data.iter().enumerate() {
            for file in demo.file.iter().chain(demo.files.iter().flatten()) {
                named.push((format!("demo_data[{i}]"), file.as_str()));
            }
        }
        named
    }
}

/// Whether `text` is a version directory's name (`1`, `1.2`, `1.2.3`).
pub fn is_version(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn version_key(text: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = text.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    while parts.last() == Some(&0) {
        parts.pop();
    }
    parts
}

/// The version directories of `dir`, in version order.
pub fn versions(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut versions: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| is_version(name))
        .collect();
    versions.sort_by_key(|v| version_key(v));
    Ok(versions)
}

/// The regular files directly in `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}
