//! The README's "First steps", run exactly as printed: its files (`<!-- file: PATH -->`
//! before a code block) are written to an empty directory and its commands (`<!-- run -->`
//! before a `sh` block) run there one line at a time, with this build's `pum` first on
//! `PATH` and the tests' server as `-p test`.

use crate::support::Bounded;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What the README holds: files to write and commands to run, in order.
#[derive(Default)]
pub(crate) struct Steps {
    pub(crate) files: Vec<(String, String)>,
    pub(crate) commands: Vec<String>,
}

pub(crate) fn readme_steps() -> Steps {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(readme).unwrap();
    let mut steps = Steps::default();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let target = if let Some(path) = line
            .strip_prefix("<!-- file: ")
            .and_then(|rest| rest.strip_suffix(" -->"))
        {
            Some(path.to_string())
        } else if line == "<!-- run -->" {
            None
        } else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(fence.starts_with("```"), "a code block after {line:?}");
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        match target {
            Some(path) => steps.files.push((path, format!("{}\n", block.join("\n")))),
            None => steps.commands.extend(block.iter().map(|l| l.to_string())),
        }
    }
    steps
}

/// The directory of this build's `pum`, and the target directory its server lives in.
pub(crate) fn build_dirs() -> (PathBuf, PathBuf) {
    let bin = Path::new(env!("CARGO_BIN_EXE_pum"))
        .parent()
        .unwrap()
        .to_path_buf();
    let target = bin.parent().unwrap().to_path_buf();
    (bin, target)
}

#[test]
fn first_steps_run_as_printed() {
    let steps = readme_steps();
    assert!(
        steps.files.len() >= 3 && steps.commands.len() >= 5,
        "the README's first steps"
    );
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in &steps.files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let (bin, target) = build_dirs();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let sh = |line: &str| {
        Command::new("sh")
            .args(["-c", line])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("CARGO_TARGET_DIR", &target)
            .stdin(Stdio::null())
            .bounded_output()
    };
    // A run killed half-way may have left the database.
    let _ = sh("pum -p test db drop shop_dev --if-exists --force");
    let mut printed = String::new();
    for line in &steps.commands {
        let out = sh(line);
        assert!(
            out.status.success(),
            "{line}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        printed.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    assert!(printed.contains("no difference"), "{printed}");
    assert!(
        printed.contains("changelogs/1.1.1/01_index_orders_by_srid.sql\n1.1.1\n"),
        "{printed}"
    );
}
