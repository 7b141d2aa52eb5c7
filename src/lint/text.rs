//! What `pum lint` reads from a file's text alone (pure): its `-- pum:` directives, which
//! statement each `-- pum:allow` covers, and the words of a statement outside comments,
//! strings and quoted identifiers (`CONCURRENTLY`, `TRUNCATE`).
//!
//! A directive is a `--` comment whose text starts with `pum:` directly followed by a
//! name (`-- pum:allow rewrite`); `-- pum: WARNING …` (a space after the colon, as
//! `pum new --autogenerate` writes) is a plain comment.

use super::rules::Rule;
use crate::sql::split::{Token, tokens};

/// A `--` comment of a file: its line and its text after the dashes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Comment<'a> {
    line: usize,
    text: &'a str,
}

/// A directive `pum lint` does not know, or an allowance naming an unknown rule: where, and
/// what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadDirective {
    /// Line (1-based).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The allowances of a file: `(line of the comment, rule)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Allowances {
    lines: Vec<(usize, Rule)>,
}

impl Allowances {
    /// Whether `rule` is allowed for the statement whose last line is `last` and whose
    /// previous statement ended on line `previous_end` (0 for the first): an allowance on
    /// one of its lines, or on a line after the previous statement (a comment above it).
    pub(crate) fn allows(&self, rule: Rule, previous_end: usize, last: usize) -> bool {
        self.lines
            .iter()
            .any(|&(line, r)| r == rule && line > previous_end && line <= last)
    }
}

/// Reads the `-- pum:` directives of `text`: the allowances, or the first unknown
/// directive or rule.
pub(crate) fn directives(text: &str) -> Result<Allowances, BadDirective> {
    let mut allowances = Allowances::default();
    for comment in comments(text) {
        let body = comment.text.trim();
        let Some(directive) = body.strip_prefix("pum:") else {
            continue;
        };
        if !directive.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let name_end = directive
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(directive.len());
        let (name, rest) = directive.split_at(name_end);
        match name.to_ascii_lowercase().as_str() {
            "no-transaction" if rest.trim().is_empty() => {}
            "allow" => {
                let rules: Vec<&str> = rest
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|w| !w.is_empty())
                    .collect();
                if rules.is_empty() {
                    return Err(BadDirective {
                        line: comment.line,
                        message: format!("-- pum:allow names no rule (rules: {})", Rule::names()),
                    });
                }
                for rule in rules {
                    let rule = Rule::parse(rule).ok_or_else(|| BadDirective {
                        line: comment.line,
                        message: format!(
                            "-- pum:allow {rule}: unknown rule (rules: {})",
                            Rule::names()
                        ),
                    })?;
                    allowances.lines.push((comment.line, rule));
                }
            }
            _ => {
                return Err(BadDirective {
                    line: comment.line,
                    message: format!(
                        "unknown directive -- pum:{} (known: -- pum:no-transaction, -- pum:allow \
                         RULE)",
                        directive.trim()
                    ),
                });
            }
        }
    }
    Ok(allowances)
}

/// The words of `sql` outside comments, strings, quoted identifiers and dollar quotes,
/// upper-cased, with their byte ranges.
pub(crate) fn words(sql: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut found = Vec::new();
    tokens(sql, &mut |token| {
        if let Token::Word(range) = token {
            found.push((sql[range.clone()].to_ascii_uppercase(), range));
        }
    });
    found
}

/// Whether a statement (its [`words`]) fails when it runs a second time: `CREATE [UNIQUE]
/// INDEX CONCURRENTLY` without `IF NOT EXISTS`, `DROP INDEX CONCURRENTLY` without `IF
/// EXISTS`.
pub(crate) fn fails_when_run_again(words: &[(String, std::ops::Range<usize>)]) -> bool {
    let words: Vec<&str> = words.iter().map(|(w, _)| w.as_str()).collect();
    let has = |sequence: &[&str]| words.windows(sequence.len()).any(|w| w == sequence);
    match words.first() {
        Some(&"CREATE") => has(&["INDEX", "CONCURRENTLY"]) && !has(&["IF", "NOT", "EXISTS"]),
        Some(&"DROP") => has(&["INDEX", "CONCURRENTLY"]) && !has(&["IF", "EXISTS"]),
        _ => false,
    }
}

/// `sql` without the word `word` (outside comments and strings): what a statement written
/// with `CONCURRENTLY` does inside a transaction, where PostgreSQL refuses the word.
pub(crate) fn without_word(sql: &str, word: &str) -> String {
    let mut text = sql.to_string();
    for (_, range) in words(sql)
        .into_iter()
        .rev()
        .filter(|(w, _)| w.eq_ignore_ascii_case(word))
    {
        text.replace_range(range, "");
    }
    text
}

/// The `--` comments of `text`.
fn comments(text: &str) -> Vec<Comment<'_>> {
    let mut found = Vec::new();
    let mut line = 1;
    let mut counted = 0;
    tokens(text, &mut |token| {
        if let Token::LineComment(range) = token {
            line += text[counted..range.start].matches('\n').count();
            counted = range.start;
            found.push(Comment {
                line,
                text: &text[range.start + 2..range.end],
            });
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowances_cover_their_statement_and_the_one_below() {
        let text = "-- pum:allow rewrite\nALTER TABLE t ALTER a TYPE bigint;\n\
                    DROP TABLE u; -- pum:allow data-loss, breaking-rename\n";
        let allowances = directives(text).unwrap();
        assert!(allowances.allows(Rule::Rewrite, 0, 2));
        assert!(!allowances.allows(Rule::DataLoss, 0, 2));
        assert!(allowances.allows(Rule::DataLoss, 2, 3));
        assert!(allowances.allows(Rule::BreakingRename, 2, 3));
        assert!(!allowances.allows(Rule::Rewrite, 2, 3));
    }

    #[test]
    fn unknown_directives_and_rules_name_their_line() {
        let bad = directives("SELECT 1;\n-- pum:allow rewrites\n").unwrap_err();
        assert_eq!(bad.line, 2);
        assert!(bad.message.contains("unknown rule"), "{}", bad.message);
        let bad = directives("-- pum:no-transaction\n\n-- pum:alow rewrite\n").unwrap_err();
        assert_eq!(bad.line, 3);
        assert!(
            bad.message.contains("unknown directive -- pum:alow"),
            "{}",
            bad.message
        );
        assert_eq!(directives("-- pum:allow\n").unwrap_err().line, 1);
    }

    #[test]
    fn plain_comments_and_strings_are_not_directives() {
        let text = "-- pum: WARNING: it loses data\nSELECT '-- pum:nope', $x$ -- pum:nope $x$;\n\
                    /* -- pum:nope */ SELECT 1;\n";
        assert_eq!(directives(text).unwrap(), Allowances::default());
    }

    #[test]
    fn statements_that_fail_when_run_again() {
        let once = |sql: &str| fails_when_run_again(&words(sql));
        assert!(once("CREATE INDEX CONCURRENTLY i ON t (x)"));
        assert!(once("create unique index concurrently i on t (x)"));
        assert!(once("DROP INDEX CONCURRENTLY s.i"));
        assert!(!once("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (x)"));
        assert!(!once("DROP INDEX CONCURRENTLY IF EXISTS s.i"));
        assert!(!once("REINDEX INDEX CONCURRENTLY s.i"));
        assert!(!once("CREATE INDEX i ON t (x)"));
    }

    #[test]
    fn words_skip_comments_and_quotes() {
        let sql = "CREATE INDEX /* CONCURRENTLY */ \"concurrently\" ON t (x) -- concurrently\n\
                   WHERE y = 'concurrently'";
        assert!(!words(sql).iter().any(|(w, _)| w == "CONCURRENTLY"));
        assert_eq!(
            without_word("CREATE INDEX CONCURRENTLY i ON t (x)", "concurrently"),
            "CREATE INDEX  i ON t (x)"
        );
    }
}
