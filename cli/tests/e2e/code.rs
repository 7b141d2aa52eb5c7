//! Code a project runs (executable and Python hooks): who may have written it, and that it
//! never outlives pum. The library's own code keeps its map: [`layering`].

mod layering;

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

/// The `pum-relay-*` directories in `tmp`.
fn relays(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pum-relay-"))
        .collect()
}

fn running(pid: &str) -> bool {
    // A zombie has ended: only its exit status waits for its parent.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[test]
fn a_killed_pum_leaves_no_hook_running_and_the_next_run_no_relay_directory() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let tmp = tempfile::tempdir().unwrap();
    let marker = dir.join("marker");
    let pids = dir.join("pids");
    std::fs::write(
        dir.join(".pum.yaml"),
        "pum: {module: m}\napplication:\n  create:\n    - file: app/slow.sh\n    - file: app/slow.py\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("changelogs/1.0.0")).unwrap();
    std::fs::write(
        dir.join("changelogs/1.0.0/01.sql"),
        "CREATE TABLE t (x int);\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("app")).unwrap();
    // An executable hook that stays a while when asked (SLOW=sh), then writes the marker.
    std::fs::write(
        dir.join("app/slow.sh"),
        format!(
            "#!/bin/sh\necho \"sh $$\" >> {pids}\n[ \"$SLOW\" != sh ] || sleep 4\necho sh >> {marker}\n",
            pids = pids.display(),
            marker = marker.display()
        ),
    )
    .unwrap();
    chmod(&dir.join("app/slow.sh"), 0o755);
    // A Python hook likewise (SLOW=py; the bridge's interpreter).
    std::fs::write(
        dir.join("app/slow.py"),
        format!(
            "import os, time\nfrom pum import HookBase\n\n\nclass Hook(HookBase):\n    \
             def run_hook(self, connection):\n        \
             with open({pids:?}, 'a') as f:\n            f.write('py %d\\n' % os.getpid())\n        \
             if os.environ.get('SLOW') == 'py':\n            time.sleep(4)\n        \
             with open({marker:?}, 'a') as f:\n            f.write('py\\n')\n",
            pids = pids.display().to_string(),
            marker = marker.display().to_string()
        ),
    )
    .unwrap();
    let command = |db: &ScratchDb| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pum"));
        command
            .env("TMPDIR", tmp.path())
            .env("PUM_PYTHON", crate::support::python())
            .args(["-p", &db.spec().url(), "-d"])
            .arg(dir)
            .arg("install");
        command
    };
    let pids_of = |kind: &str| -> Vec<String> {
        std::fs::read_to_string(&pids)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix(kind).map(|p| p.trim().to_string()))
            .collect()
    };

    // Killed while the executable hook sleeps, then while the Python one does.
    for (kind, earlier) in [("sh", ""), ("py", "sh\n")] {
        let _ = std::fs::remove_file(&marker);
        let _ = std::fs::remove_file(&pids);
        let db = ScratchDb::new("killhook", "");
        let mut pum = command(&db)
            .env("SLOW", kind)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let hook = loop {
            if let Some(pid) = pids_of(kind).pop() {
                break pid;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the {kind} hook never ran"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        pum.kill().unwrap(); // SIGKILL
        crate::support::child::wait(&mut pum);
        let killed = Instant::now();
        while running(&hook) {
            assert!(
                killed.elapsed() < Duration::from_secs(2),
                "the {kind} hook (pid {hook}) outlived the killed pum"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_secs(5));
        assert_eq!(
            std::fs::read_to_string(&marker).unwrap_or_default(),
            earlier,
            "the killed {kind} hook wrote on"
        );
        assert_eq!(
            db.strings("SELECT count(*)::text FROM pg_class WHERE relname = 't'"),
            ["0"]
        );
        assert!(
            !relays(tmp.path()).is_empty(),
            "the killed run's relay directory"
        );
    }

    // The next run cleans up after the killed ones.
    std::fs::remove_file(&marker).unwrap();
    let db = ScratchDb::new("killhook", "");
    ok(&command(&db).bounded_output());
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "sh\npy\n");
    assert_eq!(relays(tmp.path()), Vec::<String>::new());
}

#[test]
fn what_a_hook_leaves_running_ends_with_the_hook() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    marking_project(dir);
    let marker = dir.join("marker");
    // Inserts its row, then leaves a process behind that would write later.
    std::fs::write(
        dir.join("app/mark.sh"),
        format!(
            "#!/bin/sh\nset -e\npsql -XAtq -v ON_ERROR_STOP=1 -c 'INSERT INTO marks VALUES (1)'\n\
             (sleep 2; echo late > {}) >/dev/null 2>&1 &\n",
            marker.display()
        ),
    )
    .unwrap();
    chmod(&dir.join("app/mark.sh"), 0o755);
    let db = ScratchDb::new("bghook", "");
    let started = std::time::Instant::now();
    ok(&install(dir, &db, &[]));
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(db.strings("SELECT count(*)::text FROM marks"), ["1"]);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(!marker.exists(), "the hook's background process wrote on");
}

#[test]
fn a_child_that_blocks_fails_its_test_instead_of_hanging_it() {
    use std::time::{Duration, Instant};
    let started = Instant::now();
    let failure = std::panic::catch_unwind(|| {
        Command::new("sh")
            .args(["-c", "echo started; exec sleep 60"])
            .output_within(Duration::from_millis(500))
    })
    .unwrap_err();
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("still running after 500ms: killed") && message.contains("started"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let pid = message
        .strip_prefix("child process ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap();
    assert!(!running(pid), "the blocked child was killed");
}

/// Every wait on a child in the tests has a deadline (tests/support/child.rs): a raw
/// `wait`, `output` or `wait_with_output` hangs the run when the child blocks and the
/// runner ignores Ctrl-C.
#[test]
fn every_test_waits_on_its_children_with_a_deadline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut unbounded = Vec::new();
    for dir in ["tests/it", "tests/support", "cli/tests/e2e"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("child.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let raw = [
                    ".wait().unwrap()",
                    ".wait_with_output()",
                    ".output().unwrap()",
                ]
                .iter()
                .any(|call| line.contains(call))
                    || line.trim() == ".output()";
                // (The calls named above, as text, are not calls.)
                let named = line.trim_start().starts_with('"') || line.contains("[\".");
                if raw && !named && !line.contains("let _ =") {
                    unbounded.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        unbounded.is_empty(),
        "unbounded waits:\n{}",
        unbounded.join("\n")
    );
}
