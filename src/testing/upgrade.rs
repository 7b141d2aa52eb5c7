//! Upgrade paths: a database at an older version of the changelogs, upgraded with
//! today's, must equal a fresh install of today's (what `pum::upgrade_paths!` runs for
//! every version).
//!
//! With a git tag pattern (`v{version}`), a version that has such a tag starts from the
//! files as they were released at that tag (read with `git archive` from the repository
//! around the configuration), so an edit to an already released changelog shows as a
//! difference; a version without a tag starts from today's files. The released copies
//! are kept, one per commit, under pum's directory in the cargo target directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::spec::{ProjectSpec, ReferenceSpec, TestSpec};
use super::{TestDb, context, run};
use crate::error::{Error, Result};
use crate::version::Version;

/// Runs the upgrade test of `spec`'s changelogs from version `from` (see the module's
/// docs): a database at `from` (from the files released at tag `git_tag` with
/// `{version}` replaced, when that tag exists), upgraded with today's changelogs and
/// parameters, compared with a fresh install of every version.
///
/// A missing tag is a version never released under the pattern when other tags of the
/// pattern are in the repository; when none are, or the clone is shallow, or there is no
/// repository, the check would be lost, and the test fails saying how to fetch the tags
/// (`git fetch --tags --unshallow`, `fetch-depth: 0`), unless
/// `PUM_TEST_ALLOW_MISSING_TAGS=1`, which warns and starts from today's files.
///
/// With `lint` other than [`Lint::Off`], the files this upgrade applies (today's, above
/// `from`) are linted first ([`crate::lint::lint`], on a scratch database of the same
/// server): [`Lint::Deny`] fails the test when a finding has error severity, printing
/// the findings; [`Lint::Warn`] prints them on standard error and goes on.
///
/// # Panics
/// When the upgrade fails or the schemas differ (naming `from` and the differences), when
/// `lint` is [`Lint::Deny`] and a hazard is found, and when the test cannot be set up (a
/// missing tag as above). The panic is reported at the caller's line.
#[track_caller]
pub fn upgrade_path(spec: TestSpec, from: &str, git_tag: Option<&str>, lint: Lint) {
    let fail = |e: Error| -> ! { panic!("pum: upgrade from {from}: {e}") };
    let version = Version::parse(from).unwrap_or_else(|e| fail(e));
    let Some(today) = spec.project.clone() else {
        fail(Error::TestSpec {
            test: spec.name.clone(),
            message: "upgrade paths need changelogs (config = \"…\")".into(),
        })
    };
    if lint != Lint::Off {
        let findings = lint_upgrade(&today, &version).unwrap_or_else(|e| fail(e));
        if findings.errors() > 0 && lint == Lint::Deny {
            panic!(
                "pum: upgrade from {from}: pum lint found {} hazard(s) of error severity in the \
                 files this upgrade applies (lint = \"deny\"; allow one with `-- pum:allow \
                 RULE` where it is meant):\n{}",
                findings.errors(),
                findings.text()
            );
        }
        if !findings.findings.is_empty() {
            super::warnings::warn(&format!(
                "upgrade from {from}: pum lint:\n{}",
                findings.text()
            ));
        }
    }
    let released = match git_tag {
        Some(pattern) => {
            { released_config(&today.config, pattern, &pattern.replace("{version}", from)) }
                .unwrap_or_else(|e| fail(e))
        }
        None => None,
    };
    let from_spec = TestSpec {
        name: spec.name.clone(),
        project: Some(ProjectSpec {
            config: released.clone().unwrap_or_else(|| today.config.clone()),
            max_version: Some(version),
            ..today.clone()
        }),
        reference: None,
        ..spec.clone()
    };
    let today_spec = TestSpec {
        project: Some(ProjectSpec {
            max_version: None,
            ..today
        }),
        reference: Some(ReferenceSpec::FreshInstall(None)),
        ..spec
    };
    let origin = match &released {
        Some(config) => format!("{from} as released ({})", config.display()),
        None => from.to_string(),
    };
    run(from_spec, |db: TestDb| {
        let db = TestDb {
            test: std::sync::Arc::new(today_spec.clone()),
            ..db
        };
        if let Err(e) = db.upgrade() {
            panic!("pum: upgrading from {origin} with today's changelogs failed: {e}");
        }
        let context = context::context().unwrap_or_else(|e| fail(e));
        let reference = context
            .reference(&today_spec, &ReferenceSpec::FreshInstall(None))
            .unwrap_or_else(|e| fail(e));
        let mut report = crate::checker::check(
            &db.spec,
            &context.server.with_dbname(&reference),
            &today_spec.check,
        )
        .unwrap_or_else(|e| fail(e));
        report.retain(|key, attributes| !super::schema_eq::is_migrations_table(key, attributes));
        if !report.is_empty() {
            panic!(
                "pum: a database upgraded from {origin} differs from a fresh install of every \
                 version:\n{report}"
            );
        }
    });
}

/// Whether an upgrade path lints the files it applies (`upgrade_paths!(lint = "…")`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lint {
    /// Not linted (the default).
    #[default]
    Off,
    /// Linted; findings printed on standard error, the test goes on.
    Warn,
    /// Linted; a finding of error severity fails the test.
    Deny,
}

/// `pum lint` of today's changelogs above `from`, with the test's parameters, on a
/// scratch database of the harness's server.
fn lint_upgrade(today: &ProjectSpec, from: &Version) -> Result<crate::lint::LintReport> {
    let config = crate::config::Config::load(&today.config)?;
    let server = context::context()?.server.clone();
    crate::lint::lint(
        &config,
        &server,
        &crate::lint::LintOptions {
            from: Some(from.clone()),
            pending_on: None,
            parameters: today.parameters.clone(),
        },
    )
}

/// Why a missing tag means the check is lost rather than a version never tagged: the
/// clone is shallow (CI's default checkout), or no tag of the pattern is there at all
/// (tags not fetched). `None`: other tags of the pattern are here, so this version was
/// never released under it.
fn missing_reason(shallow: bool, tagged: bool) -> Option<&'static str> {
    if shallow {
        Some("is a shallow clone")
    } else if !tagged {
        Some("has no tag matching the pattern (were tags fetched?)")
    } else {
        None
    }
}

/// The environment variable that lets upgrade paths run from today's files when the
/// release tags are missing.
pub(crate) const ALLOW_MISSING_TAGS: &str = "PUM_TEST_ALLOW_MISSING_TAGS";

/// A tag the check needs is missing from the repository at `root` (`reason`): an error
/// saying how to fetch it, or — with `PUM_TEST_ALLOW_MISSING_TAGS=1` — a warning past the
/// test capture and today's files.
fn missing_tag(tag: &str, pattern: &str, reason: &str, root: &Path) -> Result<Option<PathBuf>> {
    let what = format!(
        "git_tag = \"{pattern}\": tag {tag} is missing ({} {reason}), so the files as \
         released cannot be compared with today's",
        root.display()
    );
    let allowed = crate::settings::flag(ALLOW_MISSING_TAGS, false)?;
    if allowed {
        super::warnings::warn_once(
            &format!("missing-tag {}", root.display()),
            &format!(
                "{what}; upgrade paths start from today's files instead ({ALLOW_MISSING_TAGS}=1)"
            ),
        );
        return Ok(None);
    }
    Err(Error::TestSpec {
        test: tag.to_string(),
        message: format!(
            "{what}. Fetch the tags and history: `git fetch --tags --unshallow` (GitHub \
             Actions: actions/checkout with `fetch-depth: 0`); or set {ALLOW_MISSING_TAGS}=1 \
             to start from today's files"
        ),
    })
}

/// The configuration of the project as released at `tag`, or `None` when the repository
/// has no such tag but other tags of `pattern` (a version never released under it).
fn released_config(config: &Path, pattern: &str, tag: &str) -> Result<Option<PathBuf>> {
    let project = config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(commit) = git(
        project,
        &[
            "rev-parse",
            "-q",
            "--verify",
            &format!("refs/tags/{tag}^{{commit}}"),
        ],
    )?
    else {
        return untagged(project, pattern, tag);
    };
    let root = git(project, &["rev-parse", "--show-toplevel"])?.ok_or_else(|| Error::TestSpec {
        test: tag.to_string(),
        message: format!("{} is not in a git repository", project.display()),
    })?;
    let relative = std::path::absolute(project)
        .map_err(|e| Error::io(project, e))?
        .strip_prefix(&root)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let file_name = config.file_name().unwrap_or_default();
    let store = crate::server::released_dir().join(&commit);
    let released = store.join(&relative).join(file_name);
    if released.is_file() {
        return Ok(Some(released));
    }
    let tree = Tree {
        root: Path::new(&root),
        commit: &commit,
        relative: &relative,
    };
    extract_once(&tree, &store, tag, project)?;
    if !released.is_file() {
        return Err(Error::TestSpec {
            test: tag.to_string(),
            message: format!(
                "tag {tag} has no {} in {}",
                file_name.to_string_lossy(),
                relative.display()
            ),
        });
    }
    Ok(Some(released))
}

/// Runs git in `dir`: its trimmed output, or `None` when it fails.
fn git(dir: &Path, args: &[&str]) -> Result<Option<String>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| Error::io("git", e))?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()))
}

/// When `tag` is not in the repository: `None` for a version never released under
/// `pattern` (other tags of it are here), else [`missing_tag`] says why the check is lost.
fn untagged(project: &Path, pattern: &str, tag: &str) -> Result<Option<PathBuf>> {
    let Some(root) = git(project, &["rev-parse", "--show-toplevel"])? else {
        return missing_tag(tag, pattern, "is not in a git repository", project);
    };
    let shallow =
        git(project, &["rev-parse", "--is-shallow-repository"])?.as_deref() == Some("true");
    let glob = pattern.replace("{version}", "*");
    let tagged = git(project, &["tag", "--list", &glob])?.is_some_and(|t| !t.is_empty());
    match missing_reason(shallow, tagged) {
        Some(reason) => missing_tag(tag, pattern, reason, Path::new(&root)),
        // Tags of the pattern are here, not this one: a version never released so.
        None => Ok(None),
    }
}

/// The project's directory at a released commit: what `git archive` extracts.
struct Tree<'a> {
    /// The repository's top-level directory.
    root: &'a Path,
    /// The commit the tag names.
    commit: &'a str,
    /// The project's directory inside the repository (empty at its top).
    relative: &'a Path,
}

/// Extracts `tree` into `store`, beside it first and then moved in whole, so a
/// half-written copy is never used (another test may have extracted it first).
fn extract_once(tree: &Tree, store: &Path, tag: &str, project: &Path) -> Result<()> {
    std::fs::create_dir_all(store.parent().unwrap_or(store)).map_err(|e| Error::io(store, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".pum-released-")
        .tempdir_in(store.parent().unwrap_or(store))
        .map_err(|e| Error::io(store, e))?;
    archive_into(tree, staging.path(), tag, project)?;
    let staged = staging.keep();
    if std::fs::rename(&staged, store).is_err() {
        // Another test extracted it first.
        let _ = std::fs::remove_dir_all(&staged);
    }
    Ok(())
}

/// `git archive | tar -x`: the files of `tree` written under `dir`.
fn archive_into(tree: &Tree, dir: &Path, tag: &str, project: &Path) -> Result<()> {
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(tree.root)
        .args(["archive", "--format=tar", tree.commit, "--"])
        .arg(if tree.relative.as_os_str().is_empty() {
            Path::new(".")
        } else {
            tree.relative
        })
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("git archive", e))?;
    let extracted = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(dir)
        .stdin(
            archive
                .stdout
                .take()
                .ok_or_else(|| Error::io("git archive", std::io::Error::other("no output")))?,
        )
        .status()
        .map_err(|e| Error::io("tar", e))?;
    let archived = archive.wait().map_err(|e| Error::io("git archive", e))?;
    if !archived.success() || !extracted.success() {
        return Err(Error::Program {
            program: "git archive | tar -x".into(),
            status: archived.to_string(),
            stderr: format!("could not extract tag {tag} of {}", project.display()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::missing_reason;

    #[test]
    fn a_missing_tag_loses_the_check_unless_other_tags_are_there() {
        assert_eq!(missing_reason(false, true), None);
        assert!(missing_reason(true, true).unwrap().contains("shallow"));
        assert!(missing_reason(true, false).unwrap().contains("shallow"));
        assert!(
            missing_reason(false, false)
                .unwrap()
                .contains("no tag matching")
        );
    }
}
