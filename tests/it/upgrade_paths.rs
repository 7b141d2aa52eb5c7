//! `pum::upgrade_paths!`: one test per version of a project's changelogs but the newest
//! (here tests/data/shop: `upgrade_from_1_0_0`), and files as released at git tags.

use crate::support::Bounded;
use std::path::Path;
use std::process::Command;

use pum::testing::TestSpec;

pum::upgrade_paths!(config = "tests/data/shop/.pum.yaml");

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=pum", "-c", "user.email=pum@example.org"])
        .args(args)
        .bounded_output();
    assert!(status.status.success(), "git {args:?}: {status:?}");
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_released_file_edited_since_is_caught_through_its_tag() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    let module = format!("released_{}", std::process::id());
    write(
        root,
        "db/.pum.yaml",
        &format!("pum: {{module: {module}, migration_table_schema: {module}}}\n"),
    );
    write(
        root,
        "db/changelogs/1.0.0/01_a.sql",
        &format!("CREATE TABLE {module}.a (x int);\n"),
    );
    write(
        root,
        "db/changelogs/1.1.0/01_b.sql",
        &format!("CREATE TABLE {module}.b (x int);\n"),
    );
    git(root, &["init", "-q"]);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "1.0.0 and 1.1.0"]);
    git(root, &["tag", "v1.0.0"]);
    // Someone edits the released 1.0.0 file afterwards.
    write(
        root,
        "db/changelogs/1.0.0/01_a.sql",
        &format!("CREATE TABLE {module}.a (x int, y int);\n"),
    );
    let config = root.join("db/.pum.yaml");
    let spec = || TestSpec::new("upgrade_paths::released").config(&config);

    // Today's files: the upgrade equals a fresh install, the edit unseen.
    pum::testing::upgrade_path(spec(), "1.0.0", None, pum::testing::Lint::Off);
    // As released: the database made from the tag lacks y, and the upgrade cannot add it.
    let failure = std::panic::catch_unwind(|| {
        pum::testing::upgrade_path(spec(), "1.0.0", Some("v{version}"), pum::testing::Lint::Off)
    })
    .unwrap_err();
    // The failed test kept its database (PUM_TEST_KEEP=failed): this test drops it.
    let server = crate::support::spec();
    let mut client = crate::support::registry_client();
    let kept: Vec<String> = client
        .query(
            "SELECT name FROM pum_registry.databases WHERE test = 'upgrade_paths::released' \
             AND kept AND pid = $1",
            &[&(std::process::id() as i32)],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    for name in kept {
        pum::drop_database(&server, &name, &pum::DropOptions::default()).unwrap();
        client
            .execute(
                "DELETE FROM pum_registry.databases WHERE name = $1",
                &[&name],
            )
            .unwrap();
    }
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("a database upgraded from 1.0.0 as released (")
            && message.contains(&format!("{module}.a.y (only right)")),
        "{message}"
    );
    // No tag of the pattern at all: the check would be lost, so the test fails.
    let failure = std::panic::catch_unwind(|| {
        pum::testing::upgrade_path(
            spec(),
            "1.0.0",
            Some("release-{version}"),
            pum::testing::Lint::Off,
        )
    })
    .unwrap_err();
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("tag release-1.0.0 is missing")
            && message.contains("has no tag matching the pattern"),
        "{message}"
    );

    // This project lives only as long as the test: its templates and copy go too.
    let v100 = pum::Version::parse("1.0.0").unwrap();
    let commit = String::from_utf8(
        Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["rev-parse", "v1.0.0^{commit}"])
            .bounded_output()
            .stdout,
    )
    .unwrap();
    let released = std::env::current_exe()
        .unwrap()
        .ancestors()
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .map(|target| target.join("pum/released").join(commit.trim()));
    let mut specs = vec![
        spec().max_version(v100.clone()),
        spec().reference(pum::testing::ReferenceSpec::FreshInstall(None)),
    ];
    if let Some(released) = &released {
        specs.push(
            TestSpec::new("upgrade_paths::released")
                .config(released.join("db/.pum.yaml"))
                .max_version(v100),
        );
    }
    for spec in specs {
        pum::testing::drop_template(&spec).unwrap();
    }
    if let Some(released) = released {
        let _ = std::fs::remove_dir_all(released);
    }
}

/// A repository of three versions, 1.1.0 tagged `v1.1.0` and 1.0.0 never tagged.
fn three_versions(root: &Path, module: &str) {
    write(
        root,
        "db/.pum.yaml",
        &format!("pum: {{module: {module}, migration_table_schema: {module}}}\n"),
    );
    for (version, table) in [("1.0.0", "a"), ("1.1.0", "b"), ("1.2.0", "c")] {
        write(
            root,
            &format!("db/changelogs/{version}/01_{table}.sql"),
            &format!("CREATE TABLE {module}.{table} (x int);\n"),
        );
    }
    git(root, &["init", "-q"]);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "three versions"]);
    git(root, &["tag", "v1.1.0"]);
}

fn missing_tag_failure(config: &Path, name: &str) -> String {
    let spec = TestSpec::new(name).config(config);
    let failure = std::panic::catch_unwind(|| {
        pum::testing::upgrade_path(spec, "1.0.0", Some("v{version}"), pum::testing::Lint::Off)
    })
    .unwrap_err();
    failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default()
}

// CI's default checkout is shallow and without tags: upgrade_paths!(git_tag = …) used
// to pass there, from today's files, without a word.
#[test]
fn a_clone_without_tags_fails_saying_how_to_fetch_them() {
    let repo = tempfile::tempdir().unwrap();
    let module = format!("tagless_{}", std::process::id());
    three_versions(repo.path(), &module);
    let config = repo.path().join("db/.pum.yaml");
    let spec = || TestSpec::new("upgrade_paths::tagless").config(&config);
    // Tags of the pattern are there, not v1.0.0: a version never released so, today's files.
    pum::testing::upgrade_path(spec(), "1.0.0", Some("v{version}"), pum::testing::Lint::Off);

    // A shallow clone without tags, as actions/checkout makes by default.
    let clone = tempfile::tempdir().unwrap();
    let url = format!("file://{}", repo.path().display());
    git(
        clone.path(),
        &["clone", "-q", "--depth", "1", "--no-tags", &url, "."],
    );
    let message = missing_tag_failure(&clone.path().join("db/.pum.yaml"), "upgrade_paths::tagless");
    assert!(
        message.contains("tag v1.0.0 is missing")
            && message.contains("is a shallow clone")
            && message.contains("git fetch --tags --unshallow")
            && message.contains("fetch-depth: 0")
            && message.contains("PUM_TEST_ALLOW_MISSING_TAGS=1"),
        "{message}"
    );
    // A full clone whose tags were not fetched.
    git(repo.path(), &["tag", "-d", "v1.1.0"]);
    let message = missing_tag_failure(&config, "upgrade_paths::tagless");
    assert!(
        message.contains("has no tag matching the pattern")
            && message.contains("git fetch --tags --unshallow"),
        "{message}"
    );

    // PUM_TEST_ALLOW_MISSING_TAGS=1: today's files, and a warning past the capture.
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "upgrade_paths::child_upgrade_path",
            "--nocapture",
        ])
        .env("PUM_IT_CONFIG", clone.path().join("db/.pum.yaml"))
        .env("PUM_TEST_ALLOW_MISSING_TAGS", "1")
        .env("PUM_TEST_KEEP", "never")
        .bounded_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{stderr}{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains("pum: warning: git_tag = \"v{version}\": tag v1.0.0 is missing")
            && stderr.contains("start from today's files instead"),
        "{stderr}"
    );

    // These projects live only as long as the test: their templates go too.
    let v100 = pum::Version::parse("1.0.0").unwrap();
    for config in [config.clone(), clone.path().join("db/.pum.yaml")] {
        let spec = TestSpec::new("upgrade_paths::tagless").config(config);
        pum::testing::drop_template(&spec.clone().max_version(v100.clone())).unwrap();
        pum::testing::drop_template(
            &spec.reference(pum::testing::ReferenceSpec::FreshInstall(None)),
        )
        .unwrap();
    }
}

/// A child of `a_clone_without_tags_fails_saying_how_to_fetch_them`, which names its
/// project in `PUM_IT_CONFIG`; alone it has nothing to do.
#[test]
fn child_upgrade_path() {
    let Ok(config) = std::env::var("PUM_IT_CONFIG") else {
        println!(
            "skipped: a child of a_clone_without_tags_fails_saying_how_to_fetch_them, run by it"
        );
        return;
    };
    let spec = TestSpec::new("upgrade_paths::tagless").config(config);
    pum::testing::upgrade_path(spec, "1.0.0", Some("v{version}"), pum::testing::Lint::Off);
}

/// `lint = "warn"`: the same upgrade path, its hazards said on standard error.
mod linted {
    pum::upgrade_paths!(config = "tests/data/shop/.pum.yaml", lint = "warn");
}

/// Issue 23, item 4: `lint = "deny"` fails an upgrade path whose files hold a hazard
/// (tests/data/shop 1.1.0 builds an index without CONCURRENTLY), printing the finding at
/// the caller's line; `warn` and `off` let it pass; a `-- pum:allow` lets deny pass.
#[test]
fn lint_deny_fails_an_upgrade_path_with_a_hazard_at_the_callers_line() {
    let shop = || TestSpec::new("upgrade_paths::lint").config("tests/data/shop/.pum.yaml");
    let message = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let said = std::sync::Arc::clone(&message);
    let line = line!() + 3;
    let at = crate::harness::panic_location(move || {
        let failed = std::panic::catch_unwind(|| {
            pum::testing::upgrade_path(shop(), "1.0.0", None, pum::testing::Lint::Deny)
        });
        let failure = failed.unwrap_err();
        *said.lock().unwrap() = failure
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        std::panic::resume_unwind(failure)
    });
    let message = message.lock().unwrap().clone();
    assert!(
        message.contains("pum lint found 1 hazard(s) of error severity")
            && message.contains(
                "changelogs/1.1.0/01_note.sql:2: error[blocking-index]: CREATE INDEX \
                 orders_customer ON shop.orders (customer_id);"
            ),
        "{message}"
    );
    assert_eq!(
        at,
        Some(("tests/it/upgrade_paths.rs".to_string(), line)),
        "{message}"
    );
    pum::testing::upgrade_path(shop(), "1.0.0", None, pum::testing::Lint::Warn);
    pum::testing::upgrade_path(shop(), "1.0.0", None, pum::testing::Lint::Off);

    // The same hazard, allowed where it is meant: deny passes.
    let dir = tempfile::tempdir().unwrap();
    for file in [".pum.yaml", "changelogs/1.0.0/01_schema.sql"] {
        let text = std::fs::read_to_string(Path::new("tests/data/shop").join(file)).unwrap();
        write(dir.path(), file, &text);
    }
    let note = std::fs::read_to_string("tests/data/shop/changelogs/1.1.0/01_note.sql").unwrap();
    write(
        dir.path(),
        "changelogs/1.1.0/01_note.sql",
        &note.replace("CREATE INDEX", "-- pum:allow blocking-index\nCREATE INDEX"),
    );
    let allowed = TestSpec::new("upgrade_paths::lint_allowed").config(dir.path().join(".pum.yaml"));
    pum::testing::upgrade_path(allowed, "1.0.0", None, pum::testing::Lint::Deny);
}
