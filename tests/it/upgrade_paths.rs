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
    pum::testing::upgrade_path(spec(), "1.0.0", None);
    // As released: the database made from the tag lacks y, and the upgrade cannot add it.
    let failure = std::panic::catch_unwind(|| {
        pum::testing::upgrade_path(spec(), "1.0.0", Some("v{version}"))
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
    // A version without a tag starts from today's files.
    pum::testing::upgrade_path(spec(), "1.0.0", Some("release-{version}"));

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
