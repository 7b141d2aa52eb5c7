//! Asking before destructive work: on a terminal a question, elsewhere a refusal (a
//! script must say `--force`).

use std::io::{BufRead, IsTerminal, Write};

/// Asks `question` on the terminal (`[y/N]`); refuses to `operation` outright when
/// standard input is not a terminal to ask on.
///
/// # Errors
/// [`pum::Error::Refused`] without a terminal; [`pum::Error::Io`] when the answer cannot
/// be read.
pub fn confirm(operation: &str, question: &str) -> pum::Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(pum::Error::Refused {
            operation: format!("{operation} without --force"),
            reason: "standard input is not a terminal to confirm on".into(),
        });
    }
    eprint!("{} [y/N] ", pum::internal::printable(question));
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| pum::Error::io("standard input", e))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}
