//! Whether pum may write terminal escape codes: colours on standard output, progress bars
//! on standard error. One rule for every command, so that a pipe, a log file or a CI log
//! never holds an escape code.

use std::io::IsTerminal;

/// The stream a decoration is written to.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// Colours in reports (`check`, `role list`).
    Stdout,
    /// Progress bars (`install`, `upgrade`, `downgrade`, `--databases`).
    Stderr,
}

/// Whether `stream` may carry escape codes: it is a terminal, `NO_COLOR` is unset or
/// empty (<https://no-color.org>), and `TERM` is not `dumb`. `NO_COLOR` turns off the
/// progress bars too, which redraw their line with escape codes, so that its output has
/// none at all; the bars' work is then said in plain lines.
pub fn escapes(stream: Stream) -> bool {
    let terminal = match stream {
        Stream::Stdout => std::io::stdout().is_terminal(),
        Stream::Stderr => std::io::stderr().is_terminal(),
    };
    terminal && allowed(std::env::var_os("NO_COLOR"), std::env::var_os("TERM"))
}

/// The environment's part of [`escapes`].
fn allowed(no_color: Option<std::ffi::OsString>, term: Option<std::ffi::OsString>) -> bool {
    no_color.is_none_or(|value| value.is_empty()) && term.is_none_or(|term| term != "dumb")
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn no_color_set_to_anything_but_empty_turns_escapes_off() {
        let var = |text: &str| Some(text.into());
        assert!(allowed(None, var("xterm-256color")));
        assert!(allowed(var(""), None), "an empty NO_COLOR is as unset");
        assert!(!allowed(var("1"), var("xterm")));
        assert!(!allowed(var("0"), var("xterm")), "any non-empty value");
        assert!(!allowed(None, var("dumb")));
    }
}
