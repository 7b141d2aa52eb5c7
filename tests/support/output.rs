//! What the `pum` binary printed, as the command-line tests read it.

use std::process::Output;

/// Standard error, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Standard output, as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts success, showing standard error when not.
pub fn ok(output: &Output) {
    assert!(output.status.success(), "{}", stderr(output));
}

/// Asserts a failure as pum reports one: exit status 2 and one line on standard error,
/// which is returned without its `pum: error: `.
pub fn error(output: &Output) -> String {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert_eq!(text.lines().count(), 1, "one line expected: {text}");
    text.trim_end()
        .strip_prefix("pum: error: ")
        .unwrap_or_else(|| panic!("{text}"))
        .to_string()
}
