//! Code a project runs (executable and Python hooks): who may have written it, and that it
//! never outlives pum.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::output::{error, ok};
use crate::support::{Bounded, ScratchDb};

/// A project whose application create hook `app/mark.sh` (an executable) inserts a row.
fn marking_project(dir: &Path) {
    std::fs::write(
        dir.join(".pum.yaml"),
        "pum: {module: m}\napplication:\n  create:\n    - file: app/mark.sh\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("changelogs/1.0.0")).unwrap();
    std::fs::write(
        dir.join("changelogs/1.0.0/01.sql"),
        "CREATE TABLE marks (x int);\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(
        dir.join("app/mark.sh"),
        "#!/bin/sh\nset -e\npsql -XAtq -v ON_ERROR_STOP=1 -c 'INSERT INTO marks VALUES (1)'\n",
    )
    .unwrap();
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn install(dir: &Path, db: &ScratchDb, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pum"));
    command.env_remove("PUM_TRUST_WRITABLE");
    command
        .envs(env.iter().copied())
        .args(["-p", &db.spec().url(), "-d"])
        .arg(dir)
        .arg("install");
    command.bounded_output()
}

fn root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[test]
fn writable_code_is_run_only_when_no_other_user_could_write_it() {
    if !root() {
        eprintln!("needs root, to give files to other users and groups");
        return;
    }
    // (file mode, file uid, file gid, directory mode, PUM_TRUST_WRITABLE, refusal)
    // gid 0 (root) has no member but root; 65534 (nogroup) is nobody's group.
    type Case = (u32, u32, u32, u32, &'static str, Option<&'static str>);
    let cases: &[Case] = &[
        (0o755, 0, 0, 0o755, "", None),
        // umask 002: group-writable, in the owner's own group.
        (0o775, 0, 0, 0o775, "", None),
        (
            0o775,
            0,
            65534,
            0o755,
            "",
            Some("mark.sh: it is writable by group 65534, which has members other than its owner"),
        ),
        (
            0o777,
            0,
            0,
            0o755,
            "",
            Some("mark.sh: it is writable by every user (world-writable)"),
        ),
        (
            0o755,
            0,
            0,
            0o777,
            "",
            Some("app is writable by every user (world-writable), who could replace the file"),
        ),
        // Sticky, like /tmp: nobody can replace a file of someone else.
        (0o755, 0, 0, 0o1777, "", None),
        // A CI container's world-writable checkout, trusted on request.
        (0o777, 0, 0, 0o777, "1", None),
        (
            0o755,
            65534,
            0,
            0o755,
            "1",
            Some("mark.sh: it belongs to another user (uid 65534)"),
        ),
    ];
    for (i, (mode, uid, gid, dir_mode, trust, refusal)) in cases.iter().enumerate() {
        let project = tempfile::tempdir().unwrap();
        let dir = project.path();
        marking_project(dir);
        let hook = dir.join("app/mark.sh");
        std::os::unix::fs::chown(&hook, Some(*uid), Some(*gid)).unwrap();
        chmod(&hook, *mode);
        chmod(&dir.join("app"), *dir_mode);
        let db = ScratchDb::new("writable", "");
        let env: Vec<(&str, &str)> = match *trust {
            "" => vec![],
            value => vec![("PUM_TRUST_WRITABLE", value)],
        };
        let out = install(dir, &db, &env);
        let case = format!("case {i}: {mode:o} {uid}:{gid} in {dir_mode:o}");
        match refusal {
            None => {
                ok(&out);
                assert_eq!(
                    db.strings("SELECT count(*)::text FROM marks"),
                    ["1"],
                    "{case}"
                );
            }
            Some(refusal) => {
                let message = error(&out);
                assert!(message.contains(refusal), "{case}: {message}");
                if !message.contains("another user") {
                    assert!(
                        message.contains("chmod go-w it, or set PUM_TRUST_WRITABLE=1"),
                        "{case}: {message}"
                    );
                }
                // Nothing done: not even the migrations table.
                assert_eq!(
                    db.strings(
                        "SELECT count(*)::text FROM pg_class WHERE relname IN ('marks', 'pum_migrations')"
                    ),
                    ["0"],
                    "{case}"
                );
            }
        }
    }
}
