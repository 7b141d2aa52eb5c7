//! Every misuse of #[pum_test] is a compile error pointing at what is wrong.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

#[allow(dead_code)]
#[path = "support/child.rs"]
mod child;

/// Whether the compile-fail tests are asked for: trybuild builds the crate a second time
/// in its own directory (minutes, cold), so they are a command of their own,
/// `PUM_UI_TESTS=1 cargo test --test macro_errors`, and say so when skipped.
fn asked_for(test: &str) -> bool {
    let asked = std::env::var("PUM_UI_TESTS").is_ok_and(|v| v == "1");
    if !asked {
        // Written to the stream itself: past the test harness's capture of eprintln!.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {test}: the compile-fail tests run with PUM_UI_TESTS=1 \
             (cargo test --test macro_errors)"
        );
    }
    asked
}

#[test]
fn misuses_do_not_compile() {
    if !asked_for("misuses_do_not_compile") {
        return;
    }
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}

/// `#[rstest]` written above `#[pum_test]` with `#[case]`s: rstest makes its cases under
/// `cfg(test)` only, which trybuild never sets, so the file is checked as a test crate of
/// its own (`cargo check --tests`, offline, sharing trybuild's build directory) and must
/// fail with the message that says to swap the attributes.
#[test]
fn rstest_with_cases_above_pum_test_says_to_swap_them() {
    if !asked_for("rstest_with_cases_above_pum_test_says_to_swap_them") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        format!(
            "[package]\nname = \"pum-ui-test-cfg\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
             publish = false\n\n[lib]\npath = \"lib.rs\"\n\n[dependencies]\n\
             pum = {{ path = {:?} }}\nrstest = \"0.26\"\n\n[workspace]\n",
            root.display().to_string()
        ),
    )
    .unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    std::fs::copy(
        root.join("tests/ui/test_cfg/rstest_above_with_cases.rs"),
        dir.path().join("lib.rs"),
    )
    .unwrap();
    let child = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "check",
            "--tests",
            "--offline",
            "--quiet",
            "--message-format",
            "short",
        ])
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", root.join("target/tests/trybuild"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child::wait_output_within(child, Duration::from_secs(900));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let status = out.status;
    assert!(!status.success(), "it compiled:\n{stderr}");
    assert!(
        stderr.contains("lib.rs:")
            && stderr.contains(
                "a #[pum_test] function takes a `pum::testing::TestDb` parameter; with #[rstest], \
                 write #[pum_test] above it"
            ),
        "{stderr}"
    );
}
