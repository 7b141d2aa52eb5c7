//! A lint report as text (for people), JSON (for programs) and GitHub workflow
//! annotations (pure).

use super::{Finding, LintReport};

impl LintReport {
    /// One block per finding: `file:line: severity[rule]: statement`, then what happens,
    /// the table and its lock, and the fix; an empty string without findings.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            out.push_str(&format!(
                "{}:{}: {}[{}]: {}\n  {}\n",
                f.file,
                f.line,
                f.severity.as_str(),
                f.rule,
                f.statement,
                f.message
            ));
            let mut about = Vec::new();
            if let Some(table) = &f.table {
                about.push(format!("table {table}"));
            }
            if let Some(lock) = &f.lock {
                about.push(format!("lock {lock}"));
            }
            if !about.is_empty() {
                out.push_str(&format!("  {}\n", about.join(", ")));
            }
            out.push_str(&format!("  fix: {}\n", f.fix));
        }
        out
    }

    /// The findings as a JSON array of objects: `rule`, `severity`, `file`, `line`,
    /// `statement`, `table`, `lock` (`null` when none), `message`, `fix`.
    pub fn json(&self) -> String {
        let findings: Vec<serde_json::Value> = self.findings.iter().map(Finding::json).collect();
        serde_json::to_string_pretty(&findings).unwrap_or_else(|_| "[]".into())
    }

    /// One GitHub workflow command per finding (`::error file=…,line=…,title=…::…`), so
    /// that a CI run shows each at its line.
    pub fn github(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let mut message = String::new();
            if let Some(table) = &f.table {
                message.push_str(table);
                if let Some(lock) = &f.lock {
                    message.push_str(&format!(" ({lock} lock)"));
                }
                message.push_str(": ");
            }
            message.push_str(&format!("{}. Fix: {}", f.message, f.fix));
            out.push_str(&format!(
                "::{} file={},line={},title={}::{}\n",
                f.severity.as_str(),
                property(&f.file),
                f.line,
                property(&format!("pum lint: {}", f.rule)),
                data(&message)
            ));
        }
        out
    }
}

impl Finding {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "rule": self.rule.id(),
            "severity": self.severity.as_str(),
            "file": self.file,
            "line": self.line,
            "statement": self.statement,
            "table": self.table,
            "lock": self.lock,
            "message": self.message,
            "fix": self.fix,
        })
    }
}

/// A workflow command's message, escaped as GitHub reads it.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value, escaped as GitHub reads it.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::super::{Finding, LintReport, Rule};

    fn report() -> LintReport {
        LintReport {
            findings: vec![Finding {
                rule: Rule::Rewrite,
                severity: Rule::Rewrite.severity(),
                file: "changelogs/1.1.0/01_a,b.sql".into(),
                line: 3,
                statement: "ALTER TABLE s.t ALTER id TYPE bigint;".into(),
                table: Some("s.t".into()),
                lock: Some("ACCESS EXCLUSIVE".into()),
                message: "100% rewritten".into(),
                fix: "add a column".into(),
            }],
            ..LintReport::default()
        }
    }

    #[test]
    fn github_annotations_escape_what_github_reads() {
        assert_eq!(
            report().github(),
            "::error file=changelogs/1.1.0/01_a%2Cb.sql,line=3,title=pum lint%3A rewrite::s.t \
             (ACCESS EXCLUSIVE lock): 100%25 rewritten. Fix: add a column\n"
        );
    }

    #[test]
    fn text_names_file_line_rule_table_lock_and_fix() {
        assert_eq!(
            report().text(),
            "changelogs/1.1.0/01_a,b.sql:3: error[rewrite]: ALTER TABLE s.t ALTER id TYPE \
             bigint;\n  100% rewritten\n  table s.t, lock ACCESS EXCLUSIVE\n  fix: add a column\n"
        );
    }
}
