//! `embed_changelogs!`: a project's files as `include_bytes!` in an `Embedded` value.

use std::path::{Component, Path, PathBuf};

use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::LitStr;

use crate::project::{self, Project};

/// The config file the library reads in a project directory.
const CONFIG_FILE: &str = ".pum.yaml";

pub fn expand(dir: &LitStr, manifest_dir: &Path) -> syn::Result<Tokens> {
    let fail = |message: String| syn::Error::new(dir.span(), message);
    let written = dir.value();
    let root = manifest_dir.join(&written);
    if !root.is_dir() {
        return Err(fail(format!(
            "{written} is not a directory (paths are relative to CARGO_MANIFEST_DIR)"
        )));
    }
    let config = root.join(CONFIG_FILE);
    if !config.is_file() {
        return Err(fail(format!("{written}/{CONFIG_FILE} does not exist")));
    }
    let project = Project::read(&config).map_err(fail)?;
    // (path relative to the project directory, absolute path); directories end in "/".
    let mut files: Vec<(String, Option<PathBuf>)> = vec![(CONFIG_FILE.into(), Some(config))];
    let changelogs = project.changelogs();
    let changelogs_dir = root.join(changelogs);
    if !changelogs_dir.is_dir() {
        return Err(fail(format!(
            "{written}/{changelogs}: the changelogs directory does not exist"
        )));
    }
    files.push((format!("{changelogs}/"), None));
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(&changelogs_dir)
        .map_err(|e| fail(format!("cannot read {}: {e}", changelogs_dir.display())))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    for version_dir in subdirs {
        let version = version_dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let written_dir = format!("{changelogs}/{version}");
        files.push((format!("{written_dir}/"), None));
        for file in project::files_in(&version_dir) {
            let name = file
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if name.ends_with(".sql") || name == "APP_ONLY_RELEASE" {
                files.push((format!("{written_dir}/{name}"), Some(file)));
            }
        }
        let down = version_dir.join("down");
        if down.is_dir() {
            files.push((format!("{written_dir}/down/"), None));
            for file in project::files_in(&down) {
                let name = file
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                if name.ends_with(".sql") {
                    files.push((format!("{written_dir}/down/{name}"), Some(file)));
                }
            }
        }
    }
    for (key, file) in project.named_files() {
        if !file.ends_with(".sql") {
            return Err(fail(format!(
                "{written}/{CONFIG_FILE}: {key}: {file} cannot be compiled into a program (only \
                 SQL files can: Python and executable hooks run as files, with a session pum \
                 lends them); run this project with the pum command line"
            )));
        }
        let path = root.join(file);
        if !path.is_file() {
            return Err(fail(format!(
                "{written}/{CONFIG_FILE}: {key}: {file} does not exist"
            )));
        }
        let relative = normalised(Path::new(file));
        if !files.iter().any(|(seen, _)| *seen == relative) {
            files.push((relative, Some(path)));
        }
    }
    let entries = files.iter().map(|(relative, path)| match path {
        Some(path) => {
            let path = path.display().to_string();
            quote! { (#relative, ::core::include_bytes!(#path) as &[u8]) }
        }
        None => quote! { (#relative, b"" as &[u8]) },
    });
    Ok(quote! {
        ::pum::embed::Embedded::new(#written, &[ #(#entries),* ])
    })
}

/// `./app/views.sql` as `app/views.sql` (the library compares paths by their parts).
fn normalised(path: &Path) -> String {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    /// The repository's test projects (tests/data), from this crate's directory.
    fn data() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data")
    }

    fn error(dir: &str) -> String {
        expand(&LitStr::new(dir, Span::call_site()), &data())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn every_file_the_library_reads_is_included_and_directories_are_listed() {
        let tokens = expand(&LitStr::new("library", Span::call_site()), &data())
            .unwrap()
            .to_string();
        for path in [
            "\".pum.yaml\"",
            "\"changelogs/\"",
            "\"changelogs/1.0.0/\"",
            "\"changelogs/1.0.0/01_books.sql\"",
            "\"changelogs/1.1.0/down/\"",
            "\"changelogs/1.1.0/down/01_loans.sql\"",
            "\"changelogs/1.2.0/APP_ONLY_RELEASE\"",
            "\"app/views.sql\"",
            "\"demo/sample.sql\"",
        ] {
            assert!(tokens.contains(path), "{path} missing from {tokens}");
        }
        assert_eq!(tokens.matches("include_bytes").count(), 7, "{tokens}");
    }

    #[test]
    fn what_cannot_be_compiled_in_is_a_compile_error() {
        assert_eq!(
            error("python_hook"),
            "python_hook/.pum.yaml: application.create[0]: app/create.py cannot be compiled \
             into a program (only SQL files can: Python and executable hooks run as files, \
             with a session pum lends them); run this project with the pum command line"
        );
        assert_eq!(
            error("no_such_project"),
            "no_such_project is not a directory (paths are relative to CARGO_MANIFEST_DIR)"
        );
        assert_eq!(
            error("shop/changelogs"),
            "shop/changelogs/.pum.yaml does not exist"
        );
        assert_eq!(
            error("missing_hook"),
            "missing_hook/.pum.yaml: uninstall[0]: sql/uninstall.sql does not exist"
        );
    }
}
