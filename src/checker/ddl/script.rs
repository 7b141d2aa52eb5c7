//! [`Script`]: the statements autogenerate writes, in order, and the warnings written
//! into it as comments.

/// Generated SQL: statements (and commented warnings) in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// Each statement (without its `;`), or a comment block starting with `--`.
    pub statements: Vec<String>,
    /// The warnings, also written into the script.
    pub warnings: Vec<String>,
}

impl Script {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The script as a file's text.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for statement in &self.statements {
            text.push_str(statement);
            if !statement.starts_with("--") {
                text.push(';');
            }
            text.push('\n');
        }
        text
    }

    pub(super) fn push(&mut self, statement: impl Into<String>) {
        self.statements.push(statement.into());
    }

    /// A statement that must not run as written: commented out after its warning.
    pub(super) fn refuse(&mut self, warning: String, statement: &str) {
        let mut block = format!("-- pum: WARNING: {warning}");
        for line in statement.lines() {
            block.push_str("\n-- ");
            block.push_str(line);
        }
        if !statement.is_empty() {
            block.push(';');
        }
        self.statements.push(block);
        self.warnings.push(warning);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_comments() {
        let mut script = Script::default();
        script.push("ALTER TABLE a ADD COLUMN b int");
        script.refuse("it loses data".into(), "ALTER TABLE a\nDROP COLUMN c");
        assert_eq!(
            script.text(),
            "ALTER TABLE a ADD COLUMN b int;\n-- pum: WARNING: it loses data\n-- ALTER TABLE \
             a\n-- DROP COLUMN c;\n"
        );
        assert_eq!(script.warnings, ["it loses data"]);
    }
}
