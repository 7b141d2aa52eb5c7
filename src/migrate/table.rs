//! The migrations table, `<schema>.pum_migrations`, exactly as Python pum 1.9 writes it
//! (layout version 3), plus one nullable column of ours, `file_checksums jsonb`.
//!
//! Tables written by older Python pum releases (layout 1: a text
//! `migration_table_version` and a nullable `module`; layout 2: no `pum_version`) are
//! upgraded in place before pum writes to them.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{Conflict, Error, Result};
use crate::lock::{AdvisoryLock, MIGRATIONS};
use crate::sql::{quote_identifier, quote_literal};
use crate::version::Version;
use crate::wire::{ServerError, Sql};

/// The table's name.
pub const TABLE: &str = "pum_migrations";

/// The layout version written (Python pum's `MIGRATION_TABLE_VERSION`).
pub const LAYOUT_VERSION: i32 = 3;

/// What this crate records in `pum_version`.
pub const PUM_VERSION: &str = concat!("pum-rs ", env!("CARGO_PKG_VERSION"));

/// One row: one version installed (or a baseline).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Migration {
    /// The row's id (a UUID).
    pub id: String,
    /// When it was recorded (server time, no time zone).
    pub date_installed: String,
    /// The module, as configured when it was recorded.
    pub module: Option<String>,
    /// The version, as text.
    pub version: String,
    /// Installed in beta-testing mode: upgrades need `--force`.
    pub beta_testing: bool,
    /// The files applied for this version (empty for a baseline).
    pub changelog_files: Vec<String>,
    /// The parameter values used.
    pub parameters: Option<Value>,
    /// The same values as PostgreSQL writes them as text (`None` for JSON null), exact
    /// where `parameters` may round (decimals).
    #[serde(skip)]
    pub parameter_texts: BTreeMap<String, Option<String>>,
    /// The pum release that recorded it.
    pub pum_version: Option<String>,
    /// `file → blake3:<hex>`, when recorded by this crate.
    pub file_checksums: BTreeMap<String, String>,
}

impl Migration {
    /// The version, parsed; `table` names the table in the error.
    ///
    /// # Errors
    /// [`Conflict::UnreadableVersion`] naming the unparseable version.
    pub fn parsed_version(&self, table: &str) -> Result<Version, Conflict> {
        Version::parse(&self.version).map_err(|e| Conflict::UnreadableVersion {
            table: table.to_string(),
            reason: e.to_string(),
        })
    }

    /// Whether this row records a version without applying its files (a baseline).
    pub fn is_baseline(&self) -> bool {
        self.changelog_files.is_empty()
    }

    /// The name under which `name` (`changelogs/<version>/<file>`) is recorded in this row,
    /// if it is: Python pum records the path as it built it, which starts with the project
    /// directory it was given (`/srv/project/changelogs/1.0.0/a.sql` with `-d
    /// /srv/project`).
    pub fn recorded_name(&self, name: &str) -> Option<&str> {
        self.changelog_files
            .iter()
            .find(|recorded| same_file(recorded, name))
            .map(String::as_str)
    }

    fn from_json(row: &Value) -> Migration {
        let text = |key: &str| row.get(key).and_then(Value::as_str).map(str::to_string);
        Migration {
            id: text("id").unwrap_or_default(),
            date_installed: text("date_installed").unwrap_or_default().replace('T', " "),
            module: text("module"),
            version: text("version").unwrap_or_default(),
            beta_testing: row
                .get("beta_testing")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            changelog_files: row
                .get("changelog_files")
                .and_then(Value::as_array)
                .map(|files| {
                    files
                        .iter()
                        .filter_map(|f| f.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            parameters: row.get("parameters").filter(|v| !v.is_null()).cloned(),
            parameter_texts: row
                .get("parameter_texts")
                .and_then(Value::as_object)
                .map(|map| {
                    map.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string)))
                        .collect()
                })
                .unwrap_or_default(),
            pum_version: text("pum_version"),
            file_checksums: row
                .get("file_checksums")
                .and_then(Value::as_object)
                .map(|map| {
                    map.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// What to record for a version.
#[derive(Debug, Clone)]
pub struct NewMigration<'a> {
    /// The module.
    pub module: &'a str,
    /// The version.
    pub version: &'a Version,
    /// Beta-testing mode.
    pub beta_testing: bool,
    /// The files applied.
    pub changelog_files: Vec<String>,
    /// The parameter values, as JSON text.
    pub parameters: String,
    /// `file → checksum`.
    pub file_checksums: BTreeMap<String, String>,
}

/// `<schema>.pum_migrations` in one database.
#[derive(Debug, Clone)]
pub struct MigrationsTable {
    schema: String,
    qualified: String,
}

impl MigrationsTable {
    /// The table in `schema`.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`] for a schema name PostgreSQL cannot hold.
    pub fn new(schema: &str) -> Result<MigrationsTable> {
        Ok(MigrationsTable {
            qualified: format!("{}.{TABLE}", quote_identifier("schema", schema)?),
            schema: schema.to_string(),
        })
    }

    /// `schema.pum_migrations`, for messages.
    pub fn name(&self) -> String {
        format!("{}.{TABLE}", self.schema)
    }

    /// `"schema".pum_migrations`, quoted for SQL.
    pub(crate) fn quoted(&self) -> &str {
        &self.qualified
    }

    /// The schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    fn sql_error(&self, doing: &str, err: &ServerError) -> Error {
        Error::server(format!("{doing} {}", self.name()), err)
    }

    /// Whether the table exists.
    pub(crate) fn exists(&self, client: &mut impl Sql) -> Result<bool> {
        let found = client
            .value(&format!(
                "SELECT EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = {} AND c.relname = '{TABLE}' AND c.relkind IN ('r', 'p'))",
                quote_literal(&self.schema)
            ))
            .map_err(|e| self.sql_error("look for", &e))?;
        Ok(found.as_deref() == Some("t"))
    }

    /// Schemas other than this one holding a `pum_migrations` table.
    pub(crate) fn other_schemas(&self, client: &mut impl Sql) -> Result<Vec<String>> {
        let rows = client
            .rows(&format!(
                "SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relname = '{TABLE}' AND c.relkind IN ('r', 'p') AND n.nspname <> {} ORDER BY 1",
                quote_literal(&self.schema)
            ))
            .map_err(|e| self.sql_error("look for other", &e))?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect())
    }

    /// The statements creating the schema (if needed) and the table, with Python pum's
    /// comment.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`] for a schema name PostgreSQL cannot hold.
    pub fn create_sql(&self) -> Result<String> {
        let schema = quote_identifier("schema", &self.schema)?;
        let t = &self.qualified;
        Ok(format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE {t} (
               id uuid DEFAULT gen_random_uuid() PRIMARY KEY,
               date_installed timestamp without time zone NOT NULL DEFAULT now(),
               module character varying(50) NOT NULL,
               version character varying(50) NOT NULL,
               beta_testing boolean NOT NULL DEFAULT false,
               changelog_files text[],
               parameters jsonb,
               migration_table_version integer NOT NULL DEFAULT {LAYOUT_VERSION},
               pum_version character varying(50) NOT NULL DEFAULT {pum_version},
               file_checksums jsonb
             );
             COMMENT ON TABLE {t} IS 'migration_table_version: {LAYOUT_VERSION}'",
            pum_version = quote_literal(PUM_VERSION),
        ))
    }

    /// Creates the schema (if needed) and the table.
    pub(crate) fn create(&self, client: &mut impl Sql) -> Result<()> {
        client
            .batch(&self.create_sql()?)
            .map_err(|e| self.sql_error("create", &e))
    }

    /// Brings a table written by an older Python pum to layout 3 (plus `file_checksums`);
    /// `module` fills the module of layout-1 rows that have none. Returns whether anything
    /// changed.
    pub(crate) fn upgrade_layout(&self, client: &mut impl Sql, module: &str) -> Result<bool> {
        let columns: BTreeMap<String, String> = client
            .rows(&format!(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
                 WHERE a.attrelid = {}::regclass AND a.attnum > 0 AND NOT a.attisdropped",
                quote_literal(&self.qualified)
            ))
            .map_err(|e| self.sql_error("read the columns of", &e))?
            .into_iter()
            .filter_map(|r| {
                let mut values = r.into_iter();
                Some((values.next()??, values.next()??))
            })
            .collect();
        let t = &self.qualified;
        let mut sql = String::new();
        if columns
            .get("migration_table_version")
            .is_some_and(|ty| ty != "integer")
        {
            sql.push_str(&format!(
                "UPDATE {t} SET module = {module} WHERE module IS NULL;
                 ALTER TABLE {t} ALTER COLUMN module SET NOT NULL;
                 ALTER TABLE {t} ALTER COLUMN migration_table_version DROP DEFAULT;
                 ALTER TABLE {t} ALTER COLUMN migration_table_version TYPE integer USING 1;",
                module = quote_literal(module)
            ));
        }
        if !columns.contains_key("pum_version") {
            sql.push_str(&format!(
                "ALTER TABLE {t} ADD COLUMN pum_version character varying(50);"
            ));
        }
        if !columns.contains_key("file_checksums") {
            sql.push_str(&format!("ALTER TABLE {t} ADD COLUMN file_checksums jsonb;"));
        }
        if sql.is_empty() {
            return Ok(false);
        }
        sql.push_str(&format!(
            "ALTER TABLE {t} ALTER COLUMN migration_table_version SET DEFAULT {LAYOUT_VERSION};
             COMMENT ON TABLE {t} IS 'migration_table_version: {LAYOUT_VERSION}';"
        ));
        client
            .batch(&sql)
            .map_err(|e| self.sql_error("upgrade", &e))?;
        Ok(true)
    }

    /// Every row, oldest first, whatever the table's layout.
    pub(crate) fn rows(&self, client: &mut impl Sql) -> Result<Vec<Migration>> {
        let unreadable = |e: serde_json::Error| Error::Sql {
            context: format!("read {}", self.name()),
            message: format!("unreadable row: {e}"),
            code: None,
        };
        let rows = client
            .rows(
                // The parameters also as PostgreSQL's text of each value: JSON numbers
                // read into f64 would round a decimal.
                &format!(
                    "SELECT (to_jsonb(m) || jsonb_build_object('parameter_texts', \
                       (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each_text( \
                         CASE WHEN jsonb_typeof(to_jsonb(m) -> 'parameters') = 'object' \
                         THEN to_jsonb(m) -> 'parameters' END) e)))::text \
                     FROM {} m ORDER BY m.date_installed, m.version",
                    self.qualified
                ),
            )
            .map_err(|e| self.sql_error("read", &e))?;
        rows.into_iter()
            .map(|row| {
                let text = row.into_iter().next().flatten().unwrap_or_default();
                let value: Value = serde_json::from_str(&text).map_err(unreadable)?;
                Ok(Migration::from_json(&value))
            })
            .collect()
    }

    /// Records one version.
    pub(crate) fn insert(&self, client: &mut impl Sql, row: &NewMigration<'_>) -> Result<()> {
        client
            .batch(&self.insert_sql(row))
            .map_err(|e| self.sql_error("record a version in", &e))
    }

    /// The statement recording one version, every value written as a quoted literal (so
    /// it can travel in one round trip with the version's files).
    /// The statement removing the rows of the versions written `versions` (as recorded).
    pub(crate) fn delete_sql(&self, versions: &[String]) -> String {
        let list: Vec<String> = versions.iter().map(|v| quote_literal(v)).collect();
        format!(
            "DELETE FROM {} WHERE version IN ({})",
            self.qualified,
            list.join(", ")
        )
    }

    pub(crate) fn insert_sql(&self, row: &NewMigration<'_>) -> String {
        let files = if row.changelog_files.is_empty() {
            "'{}'::text[]".to_string()
        } else {
            let quoted: Vec<String> = row
                .changelog_files
                .iter()
                .map(|f| quote_literal(f))
                .collect();
            format!("ARRAY[{}]::text[]", quoted.join(", "))
        };
        let checksums = serde_json::to_string(&row.file_checksums).unwrap_or_default();
        format!(
            "INSERT INTO {} (module, version, beta_testing, changelog_files, parameters, \
             migration_table_version, pum_version, file_checksums) \
             VALUES ({}, {}, {}, {files}, {}::jsonb, {LAYOUT_VERSION}, {}, {}::jsonb)",
            self.qualified,
            quote_literal(row.module),
            quote_literal(&row.version.to_string()),
            row.beta_testing,
            quote_literal(&row.parameters),
            quote_literal(PUM_VERSION),
            quote_literal(&checksums),
        )
    }

    /// The advisory lock of this table: one pum migrates with it at a time.
    pub(crate) fn lock(&self) -> AdvisoryLock {
        AdvisoryLock::new(MIGRATIONS, self.name())
    }
}

/// Whether a recorded file name is `name`, also when recorded with a directory in front.
pub(crate) fn same_file(recorded: &str, name: &str) -> bool {
    recorded == name || Path::new(recorded).ends_with(name)
}
