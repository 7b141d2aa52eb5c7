//! pum 0.x's upgrades table (`-t qwat_sys.info`), in its own format: the DDL, rows and
//! values pum 0.9.14 writes, so that both tools take turns on one database.

use crate::error::{Error, Result};
use crate::lock::{AdvisoryLock, MIGRATIONS};
use crate::sql::{quote_identifier, quote_literal};
use crate::version::Version;
use crate::wire::Sql;

/// One row of the upgrades table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UpgradeRow {
    /// The serial id.
    pub id: i64,
    /// The version, as written.
    pub version: String,
    /// The delta's name, or `baseline`.
    pub description: String,
    /// 0 baseline, 8/9/10 SQL (main, pre, post), 4/5/6 code.
    pub kind: i32,
    /// The directory as given, joined with the file name (empty for a baseline).
    pub script: String,
    /// MD5 of the file (empty for a baseline).
    pub checksum: String,
    /// The user that connected.
    pub installed_by: String,
    /// When (server time, no time zone).
    pub installed_on: String,
    /// Whether it succeeded (pum 0.x records successes only).
    pub success: bool,
}

/// A row to add.
#[derive(Debug, Clone)]
pub(crate) struct NewUpgrade<'a> {
    pub version: &'a str,
    pub description: &'a str,
    pub kind: i32,
    pub script: &'a str,
    pub checksum: &'a str,
}

/// The upgrades table: `schema.table`, as pum 0.x names it.
#[derive(Debug, Clone)]
pub struct UpgradesTable {
    schema: String,
    table: String,
}

impl UpgradesTable {
    /// Reads `schema.table` as SQL does, as pum 0.x (which pastes it into its SQL) has it:
    /// unquoted names fold to lower case (`qwat_sys.Info` is `qwat_sys.info`), a
    /// double-quoted part keeps its case.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`] when there is no schema, more than two parts, or a part
    /// PostgreSQL cannot hold.
    pub fn parse(text: &str) -> Result<UpgradesTable> {
        let invalid = |reason: &str| Error::InvalidIdentifier {
            kind: "upgrades table",
            name: text.to_string(),
            reason: reason.to_string(),
        };
        let parts = split_qualified(text).ok_or_else(|| {
            invalid("write it schema.table (quote a part with double quotes to keep its case)")
        })?;
        match parts.as_slice() {
            [schema, table] => {
                quote_identifier("schema", schema)?;
                quote_identifier("table", table)?;
                Ok(UpgradesTable {
                    schema: schema.clone(),
                    table: table.clone(),
                })
            }
            [_] => Err(invalid(
                "the upgrades table needs its schema: schema.table (public.upgrades)",
            )),
            _ => Err(invalid("write it schema.table")),
        }
    }

    /// `schema.table`, quoted where needed, for messages.
    pub fn name(&self) -> String {
        format!("{}.{}", shown(&self.schema), shown(&self.table))
    }

    /// The schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The table's own name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn qualified(&self) -> String {
        format!(
            "{}.{}",
            quote_identifier("schema", &self.schema).unwrap_or_default(),
            quote_identifier("table", &self.table).unwrap_or_default()
        )
    }

    /// The DDL pum 0.9.14 runs (`IF NOT EXISTS`).
    pub(crate) fn create_sql(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {}\n(\nid serial NOT NULL,\nversion character \
             varying(50) NOT NULL,\ndescription character varying(200) NOT NULL,\ntype integer \
             NOT NULL,\nscript character varying(1000) NOT NULL,\nchecksum character \
             varying(32) NOT NULL,\ninstalled_by character varying(100) NOT NULL,\ninstalled_on \
             timestamp without time zone NOT NULL DEFAULT now(),\nexecution_time integer NOT \
             NULL,\nsuccess boolean NOT NULL,\nPRIMARY KEY (id),\nEXCLUDE (version WITH =) \
             WHERE (type = 0)\n)",
            self.qualified()
        )
    }

    /// The row's INSERT: `installed_by` is the user that connected (`session_user`), and
    /// `execution_time` 1, as pum 0.x writes them.
    pub(crate) fn insert_sql(&self, row: &NewUpgrade<'_>) -> String {
        format!(
            "INSERT INTO {} (version, description, type, script, checksum, installed_by, \
             execution_time, success) VALUES ({}, {}, {}, {}, {}, session_user, 1, TRUE)",
            self.qualified(),
            quote_literal(row.version),
            quote_literal(row.description),
            row.kind,
            quote_literal(row.script),
            quote_literal(row.checksum),
        )
    }

    /// Whether the table exists.
    ///
    /// # Errors
    /// [`Error::Sql`].
    pub(crate) fn exists(&self, client: &mut impl Sql) -> Result<bool> {
        let found = client
            .value(&format!(
                "SELECT to_regclass({}) IS NOT NULL",
                quote_literal(&self.qualified())
            ))
            .map_err(|e| Error::server(format!("look for {}", self.name()), &e))?;
        Ok(found.as_deref() == Some("t"))
    }

    /// Every row, in id order.
    ///
    /// # Errors
    /// [`Error::Sql`] (also when the table has another layout).
    pub(crate) fn rows(&self, client: &mut impl Sql) -> Result<Vec<UpgradeRow>> {
        let rows = client
            .rows(&format!(
                "SELECT id, version, description, type, script, checksum, installed_by, \
                 installed_on, success FROM {} ORDER BY id",
                self.qualified()
            ))
            .map_err(|e| Error::server(format!("read {}", self.name()), &e))?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let text = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
                UpgradeRow {
                    id: text(0).parse().unwrap_or_default(),
                    version: text(1),
                    description: text(2),
                    kind: text(3).parse().unwrap_or_default(),
                    script: text(4),
                    checksum: text(5),
                    installed_by: text(6),
                    installed_on: text(7),
                    success: text(8) == "t",
                }
            })
            .collect())
    }

    /// The lock serialising runs on this table (a different key from 1.x tables').
    pub(crate) fn lock(&self) -> AdvisoryLock {
        AdvisoryLock::new(MIGRATIONS, format!("0.x {}", self.qualified()))
    }
}

/// The current version: the highest version, compared numerically, among successful
/// rows (pum 0.9.14 sorts the text, which puts 0.9.0 above 0.10.0).
///
/// # Errors
/// [`Error::VersionConflict`] (unreadable version) naming the row.
pub(crate) fn current_version(
    table: &UpgradesTable,
    rows: &[UpgradeRow],
) -> Result<Option<Version>> {
    let mut current: Option<Version> = None;
    for row in rows.iter().filter(|r| r.success) {
        let version = Version::parse(&row.version).map_err(|e| {
            Error::from(crate::error::Conflict::UnreadableVersion {
                table: table.name(),
                reason: format!("row {}: {e}", row.id),
            })
        })?;
        if current.as_ref().is_none_or(|c| version > *c) {
            current = Some(version);
        }
    }
    Ok(current)
}

/// A name as SQL would need it written: bare when it reads back the same, else quoted.
fn shown(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Splits `schema.table` into its names as SQL reads them (unquoted parts folded to lower
/// case); `None` for text that is not dotted names.
fn split_qualified(text: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    }
                    '"' => break,
                    c => part.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                if c == '"' || c.is_whitespace() {
                    return None;
                }
                part.push(c.to_ascii_lowercase());
                chars.next();
            }
        }
        if part.is_empty() {
            return None;
        }
        parts.push(part);
        match chars.next() {
            None => return Some(parts),
            Some('.') => {}
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_as_sql_reads_them() {
        let t = UpgradesTable::parse("qwat_sys.Info").unwrap();
        assert_eq!((t.schema(), t.table()), ("qwat_sys", "info"));
        assert_eq!(t.name(), "qwat_sys.info");
        let t = UpgradesTable::parse("\"My Schema\".\"Up\"\"s\"").unwrap();
        assert_eq!((t.schema(), t.table()), ("My Schema", "Up\"s"));
        assert_eq!(t.name(), "\"My Schema\".\"Up\"\"s\"");
        for bad in [
            "upgrades",
            "a.b.c",
            "a.",
            ".b",
            "a b.c",
            "\"a.b",
            "a.b; DROP TABLE x",
        ] {
            assert!(UpgradesTable::parse(bad).is_err(), "{bad}");
        }
    }
}
