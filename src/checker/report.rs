//! [`CheckReport`]: what differs between two schemas, as text or as Python pum's JSON.

use std::fmt::{self, Write as _};

use serde_json::{Value, json};

use super::Kind;
use super::snapshot::Attributes;
use crate::text::{printable, printable_lines};

/// One attribute that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The attribute (`default`, `definition`, …).
    pub attribute: String,
    /// Its value on the left (`None`: not set).
    pub left: Option<String>,
    /// Its value on the right.
    pub right: Option<String>,
}

/// The differences of one kind of object.
#[derive(Debug, Clone)]
pub struct KindReport {
    /// The kind.
    pub kind: Kind,
    /// Objects only in the left database, by key.
    pub only_left: Vec<(String, Attributes)>,
    /// Objects only in the right database.
    pub only_right: Vec<(String, Attributes)>,
    /// Objects in both that differ, with the attributes that differ.
    pub changed: Vec<(String, Vec<Change>)>,
}

impl KindReport {
    /// How many objects differ.
    pub fn difference_count(&self) -> usize {
        self.only_left.len() + self.only_right.len() + self.changed.len()
    }
}

/// Everything that differs, kind by kind, in a fixed order.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// The left database (password masked).
    pub left: String,
    /// The right database.
    pub right: String,
    /// One entry per kind compared, in [`Kind::ALL`] order, sorted by key within.
    pub kinds: Vec<KindReport>,
}

impl CheckReport {
    /// True when the schemas are the same.
    pub fn is_empty(&self) -> bool {
        self.kinds.iter().all(|k| k.difference_count() == 0)
    }

    /// How many objects differ in all.
    pub fn difference_count(&self) -> usize {
        self.kinds.iter().map(KindReport::difference_count).sum()
    }

    /// Keeps only the objects for which `keep(key, attributes)` is true (the attributes of
    /// changed objects are not at hand: they get an empty set).
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Attributes) -> bool) {
        let none = Attributes::new();
        for kind in &mut self.kinds {
            kind.only_left.retain(|(key, attrs)| keep(key, attrs));
            kind.only_right.retain(|(key, attrs)| keep(key, attrs));
            kind.changed.retain(|(key, _)| keep(key, &none));
        }
    }

    /// The report for `kind`, if it was compared.
    pub fn kind(&self, kind: Kind) -> Option<&KindReport> {
        self.kinds.iter().find(|k| k.kind == kind)
    }

    /// The text report: only what differs, grouped by kind, then a summary line. With
    /// `color`, ANSI colours mark what is only left (red), only right (green) and changed
    /// (yellow). Control characters in names and values are escaped
    /// ([`crate::text::printable`]).
    pub fn render_text(&self, color: bool) -> String {
        let paint = |code: &str, text: &str| {
            if color {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text.to_string()
            }
        };
        let mut out = String::new();
        let _ = writeln!(out, "left:  {}", printable(&self.left));
        let _ = writeln!(out, "right: {}", printable(&self.right));
        for kind in self.kinds.iter().filter(|k| k.difference_count() > 0) {
            let _ = writeln!(
                out,
                "{} ({} only left, {} only right, {} different)",
                kind.kind.name(),
                kind.only_left.len(),
                kind.only_right.len(),
                kind.changed.len()
            );
            for (key, _) in &kind.only_left {
                let key = printable(key);
                let _ = writeln!(out, "  {}", paint("31", &format!("- {key} (only left)")));
            }
            for (key, _) in &kind.only_right {
                let key = printable(key);
                let _ = writeln!(out, "  {}", paint("32", &format!("+ {key} (only right)")));
            }
            for (key, changes) in &kind.changed {
                let key = printable(key);
                let _ = writeln!(out, "  {}", paint("33", &format!("~ {key}")));
                for change in changes {
                    let _ = writeln!(out, "      {}:", printable(&change.attribute));
                    let _ = writeln!(out, "        left:  {}", shown(&change.left));
                    let _ = writeln!(out, "        right: {}", shown(&change.right));
                }
            }
        }
        let failed = self
            .kinds
            .iter()
            .filter(|k| k.difference_count() > 0)
            .count();
        if failed == 0 {
            let _ = writeln!(
                out,
                "same schema: {} kinds of object compared, no difference",
                self.kinds.len()
            );
        } else {
            let _ = writeln!(
                out,
                "{} difference(s) in {failed} of {} kinds of object",
                self.difference_count(),
                self.kinds.len()
            );
        }
        out
    }

    /// The JSON report, in Python pum's shape (`passed`, `total_checks`, `check_results`
    /// with `added`/`removed` differences), plus `changed` differences with the attributes
    /// that differ. `removed` is only in the left database, `added` only in the right.
    pub fn to_json(&self) -> Value {
        let results: Vec<Value> = self
            .kinds
            .iter()
            .map(|kind| {
                let mut differences: Vec<Value> = Vec::new();
                for (key, attrs) in &kind.only_left {
                    differences
                        .push(json!({"type": "removed", "content": key, "attributes": attrs}));
                }
                for (key, attrs) in &kind.only_right {
                    differences.push(json!({"type": "added", "content": key, "attributes": attrs}));
                }
                for (key, changes) in &kind.changed {
                    let attributes: Vec<Value> = changes
                        .iter()
                        .map(|c| json!({"name": c.attribute, "left": c.left, "right": c.right}))
                        .collect();
                    differences
                        .push(json!({"type": "changed", "content": key, "changes": attributes}));
                }
                json!({
                    "name": title(kind.kind),
                    "key": kind.kind.name(),
                    "passed": differences.is_empty(),
                    "difference_count": differences.len(),
                    "differences": differences,
                })
            })
            .collect();
        let failed = self
            .kinds
            .iter()
            .filter(|k| k.difference_count() > 0)
            .count();
        json!({
            "pg_connection1": self.left,
            "pg_connection2": self.right,
            "timestamp": timestamp_now(),
            "passed": failed == 0,
            "total_checks": self.kinds.len(),
            "passed_checks": self.kinds.len() - failed,
            "failed_checks": failed,
            "total_differences": self.difference_count(),
            "check_results": results,
        })
    }
}

impl CheckReport {
    /// The report as a self-contained HTML page (Python pum's `check -f html`): a summary,
    /// then per kind of object a table of what is only left, only right, and what differs
    /// with both values. Everything from the databases is escaped.
    pub fn render_html(&self) -> String {
        let failed = self
            .kinds
            .iter()
            .filter(|k| k.difference_count() > 0)
            .count();
        let mut out = String::from(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>pum check</title>\n<style>\n\
             body { font-family: sans-serif; margin: 2em; }\n\
             table { border-collapse: collapse; margin-bottom: 1.5em; }\n\
             th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }\n\
             td pre { margin: 0; white-space: pre-wrap; }\n\
             .left { color: #a00; } .right { color: #070; } .changed { color: #960; }\n\
             .passed { color: #070; } .failed { color: #a00; }\n\
             </style>\n</head>\n<body>\n<h1>pum check</h1>\n",
        );
        let _ = writeln!(
            out,
            "<p>left: <code>{}</code><br>right: <code>{}</code></p>",
            html(&self.left),
            html(&self.right)
        );
        if failed == 0 {
            let _ = writeln!(
                out,
                "<p class=\"passed\">Same schema: {} kinds of object compared, no difference.</p>",
                self.kinds.len()
            );
        } else {
            let _ = writeln!(
                out,
                "<p class=\"failed\">{} difference(s) in {failed} of {} kinds of object.</p>",
                self.difference_count(),
                self.kinds.len()
            );
        }
        out.push_str("<table>\n<tr><th>kind</th><th>result</th></tr>\n");
        for kind in &self.kinds {
            let (class, result) = match kind.difference_count() {
                0 => ("passed", "same".to_string()),
                n => ("failed", format!("{n} difference(s)")),
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"{class}\">{result}</td></tr>",
                title(kind.kind)
            );
        }
        out.push_str("</table>\n");
        for kind in self.kinds.iter().filter(|k| k.difference_count() > 0) {
            let _ = writeln!(out, "<h2>{}</h2>", title(kind.kind));
            out.push_str("<table>\n<tr><th>object</th><th>where</th><th>attribute</th><th>left</th><th>right</th></tr>\n");
            for (key, _) in &kind.only_left {
                let _ = writeln!(
                    out,
                    "<tr class=\"left\"><td>{}</td><td>only left</td><td></td><td></td><td></td></tr>",
                    html(key)
                );
            }
            for (key, _) in &kind.only_right {
                let _ = writeln!(
                    out,
                    "<tr class=\"right\"><td>{}</td><td>only right</td><td></td><td></td><td></td></tr>",
                    html(key)
                );
            }
            for (key, changes) in &kind.changed {
                for change in changes {
                    let value = |v: &Option<String>| match v {
                        Some(v) => format!("<pre>{}</pre>", html(v)),
                        None => "<em>(none)</em>".to_string(),
                    };
                    let _ = writeln!(
                        out,
                        "<tr class=\"changed\"><td>{}</td><td>different</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        html(key),
                        html(&change.attribute),
                        value(&change.left),
                        value(&change.right)
                    );
                }
            }
            out.push_str("</table>\n");
        }
        out.push_str("</body>\n</html>\n");
        out
    }
}

/// `text` escaped for HTML, control characters shown as escapes.
fn html(text: &str) -> String {
    printable_lines(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

impl fmt::Display for CheckReport {
    /// The text report without colours.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render_text(false))
    }
}

fn shown(value: &Option<String>) -> String {
    match value {
        None => "(none)".to_string(),
        Some(v) => printable_lines(v).replace('\n', "\n               "),
    }
}

fn title(kind: Kind) -> String {
    let name = kind.name().replace('_', " ");
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => name,
    }
}

/// The current time as ISO 8601 UTC (`2026-11-22T08:30:00Z`).
fn timestamp_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_utc() {
        let now = timestamp_now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20"), "{now}");
        assert!(now.ends_with('Z'));
    }

    #[test]
    fn html_escapes_what_comes_from_the_databases() {
        let report = CheckReport {
            left: "db <a>".into(),
            right: "b".into(),
            kinds: vec![KindReport {
                kind: Kind::Tables,
                only_left: vec![("public.\"<script>\"".into(), Attributes::new())],
                only_right: Vec::new(),
                changed: vec![(
                    "public.t".into(),
                    vec![Change {
                        attribute: "default".into(),
                        left: Some("'a & b'".into()),
                        right: None,
                    }],
                )],
            }],
        };
        let page = report.render_html();
        assert!(page.contains("<code>db &lt;a&gt;</code>"), "{page}");
        assert!(page.contains("<td>public.&quot;&lt;script&gt;&quot;</td><td>only left</td>"));
        assert!(page.contains("<pre>&#39;a &amp; b&#39;</pre></td><td><em>(none)</em>"));
        assert!(!page.contains("<script>"));
        assert!(page.contains("2 difference(s) in 1 of 1 kinds of object"));
    }

    #[test]
    fn titles() {
        assert_eq!(title(Kind::CompositeTypes), "Composite types");
        assert_eq!(title(Kind::Tables), "Tables");
    }
}
