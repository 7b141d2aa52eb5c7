//! `.pum.yaml`: what a datamodel is made of, in Python pum 1.x's format.
//!
//! Every key Python pum accepts is accepted here, and nothing else: an unknown or
//! misspelt key is an error naming the file, line and column. Paths in the file are
//! relative to the directory holding it.
//!
//! ```yaml
//! pum:
//!   module: shop                  # required; recorded with every version
//!   migration_table_schema: shop  # where pum_migrations lives (default: public)
//! changelogs_directory: changelogs
//! parameters:
//!   - name: SRID
//!     type: integer               # boolean, integer, text (default), decimal or path
//!     default: 2056
//!     values: [2056, 21781]       # optional allowed values
//!     app_only: false             # app_only parameters may change between upgrades
//! application:                    # earlier pum 1.x name: migration_hooks
//!   drop: [{file: app/drop.sql}]  # earlier pum 1.x name: pre; run before the changelogs
//!   create: [{code: "SELECT 1"}]  # earlier pum 1.x name: post; run after them
//! roles: [{name: viewer, permissions: [{type: read, schemas: [shop]}]}]
//! demo_data: [{name: some, file: demo/some.sql}]
//! dependencies: [{name: pirogue, minimum_version: 1.0.0}]
//! uninstall: [{code: "DROP SCHEMA shop CASCADE"}]
//! ```
//!
//! `pum.minimum_version` names the Python pum release a project needs; this crate
//! implements the files and tables of [`PYTHON_PUM_COMPATIBILITY`] and refuses projects that
//! need a newer one. `dependencies` name Python packages that Python hooks need: they are
//! checked in the hooks' Python before the first one runs (this crate installs nothing).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::changelog::params::ParamValue;
pub use crate::changelog::params::{ParameterDef, ParameterType, Scalar};
use crate::changelog::{self, Changelog};
use crate::error::{Error, Result};
use crate::version::Version;

/// The Python pum release whose configuration, changelogs and migrations table this
/// crate matches.
pub const PYTHON_PUM_COMPATIBILITY: &str = "1.9.2";

/// The file name pum looks for in a project directory.
pub const CONFIG_FILE: &str = ".pum.yaml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    pum: RawPum,
    #[serde(default)]
    changelogs_directory: Option<String>,
    #[serde(default)]
    parameters: Vec<ParameterDef>,
    #[serde(default, alias = "migration_hooks")]
    application: Application,
    #[serde(default)]
    roles: Vec<RoleDef>,
    #[serde(default)]
    demo_data: Vec<DemoData>,
    #[serde(default)]
    dependencies: Vec<Dependency>,
    #[serde(default)]
    uninstall: Vec<HookEntry>,
    #[serde(default)]
    lint: Option<LintConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPum {
    module: String,
    #[serde(default)]
    migration_table_schema: Option<String>,
    #[serde(default)]
    minimum_version: Option<Scalar>,
    /// PostgreSQL's `lock_timeout` for runs (`5s`): pum's own key, not Python pum's.
    #[serde(default)]
    lock_timeout: Option<String>,
    /// PostgreSQL's `statement_timeout` for runs (`10min`): pum's own key.
    #[serde(default)]
    statement_timeout: Option<String>,
    /// How many times a run that met a lock timeout is tried again: pum's own key.
    #[serde(default)]
    lock_retries: Option<u32>,
}

/// SQL run around the changelogs: `file` (a `.sql` file) or `code` (SQL text).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookEntry {
    /// A file, relative to the configuration's directory.
    #[serde(default)]
    pub file: Option<String>,
    /// SQL text.
    #[serde(default)]
    pub code: Option<String>,
}

/// The application hooks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// Run before the changelogs (earlier pum 1.x name `pre`).
    #[serde(default, alias = "pre")]
    pub drop: Vec<HookEntry>,
    /// Run after the changelogs (earlier pum 1.x name `post`).
    #[serde(default, alias = "post")]
    pub create: Vec<HookEntry>,
}

/// What a role may do in some schemas.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    /// `read` or `write`.
    #[serde(rename = "type")]
    pub kind: PermissionType,
    /// The schemas concerned.
    #[serde(default)]
    pub schemas: Vec<String>,
}

/// A permission level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PermissionType {
    /// USAGE on the schemas, SELECT on their tables and sequences.
    Read,
    /// Everything.
    Write,
}

/// A role the datamodel defines.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDef {
    /// The role's name.
    pub name: String,
    /// Its permissions.
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// A role (defined earlier in the list) this one is a member of.
    #[serde(default)]
    pub inherit: Option<String>,
    /// What the role is for.
    #[serde(default)]
    pub description: Option<String>,
}

/// A named set of demo data files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoData {
    /// The set's name.
    pub name: String,
    /// One file…
    #[serde(default)]
    pub file: Option<String>,
    /// …or several.
    #[serde(default)]
    pub files: Option<Vec<String>>,
}

/// A Python package a Python pum project's hooks need.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    /// The package name.
    pub name: String,
    /// The oldest acceptable version.
    #[serde(default)]
    pub minimum_version: Option<Scalar>,
    /// The newest acceptable version.
    #[serde(default)]
    pub maximum_version: Option<Scalar>,
}

/// `lint:` (this crate only): findings of `pum lint` allowed for whole files, by file
/// (as `pum lint` names it, `changelogs/1.2.0/01_drop.sql`) and rule id; each rule keeps
/// its place in the file, so that `pum lint` names the line of an unknown one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintConfig {
    /// File → rule ids allowed there.
    #[serde(default)]
    pub allow: std::collections::BTreeMap<String, Vec<serde_saphyr::Spanned<String>>>,
}

/// A loaded, validated `.pum.yaml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (or a name for configurations built in code).
    pub path: PathBuf,
    /// The directory paths are relative to.
    pub base_dir: PathBuf,
    /// The module name recorded with every version.
    pub module: String,
    /// The schema of the `pum_migrations` table.
    pub migration_table_schema: String,
    /// The changelogs directory (resolved against `base_dir`).
    pub changelogs_dir: PathBuf,
    /// The changelogs directory as written in the file (for recorded file names).
    pub changelogs_directory: String,
    /// Parameters.
    pub parameters: Vec<ParameterDef>,
    /// Application hooks.
    pub application: Application,
    /// Roles.
    pub roles: Vec<RoleDef>,
    /// Demo data sets.
    pub demo_data: Vec<DemoData>,
    /// Python dependencies.
    pub dependencies: Vec<Dependency>,
    /// Uninstall hooks.
    pub uninstall: Vec<HookEntry>,
    /// `pum lint`'s per-file allowances.
    pub lint: LintConfig,
    /// `pum.lock_timeout`: PostgreSQL's `lock_timeout` for install and upgrade runs, when
    /// the caller gives none ([`crate::MigrateOptions::statement_lock_timeout`]).
    pub lock_timeout: Option<Duration>,
    /// `pum.statement_timeout`: PostgreSQL's `statement_timeout` for install and upgrade
    /// runs, when the caller gives none.
    pub statement_timeout: Option<Duration>,
    /// `pum.lock_retries`: how many times a run that met a lock timeout is tried again,
    /// when the caller gives no number.
    pub lock_retries: Option<u32>,
    /// Where the changelogs and hook files are read from.
    pub(crate) source: Source,
}

/// Where a configuration's changelogs and hook files are: on disk under `base_dir`, or
/// compiled into the program (`embed_changelogs!`, [`changelog::EmbeddedFiles`]).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) enum Source {
    #[default]
    Disk,
    Embedded(changelog::EmbeddedFiles),
}

impl Config {
    /// Reads `dir/.pum.yaml`.
    ///
    /// # Errors
    /// See [`Config::load`].
    pub fn from_dir(dir: &Path) -> Result<Config> {
        Config::load(&dir.join(CONFIG_FILE))
    }

    /// The configuration of a project compiled into the program: its compiled-in
    /// `.pum.yaml`, with its changelogs and hook files read from `files`.
    ///
    /// # Errors
    /// [`Error::Config`] as [`Config::parse`].
    pub(crate) fn embedded(files: changelog::EmbeddedFiles) -> Result<Config> {
        let base = PathBuf::from(files.dir());
        let path = base.join(CONFIG_FILE);
        let text = changelog::Tree::read(&files.tree(), &path)?.text;
        let mut config = Config::parse(&text, &path, &base)?;
        config.source = Source::Embedded(files);
        Ok(config)
    }

    /// Reads and validates a configuration file.
    ///
    /// # Errors
    /// [`Error::Io`] for an unreadable file; [`Error::Config`] naming the file (and line and
    /// column for YAML and key errors) for anything invalid.
    pub fn load(path: &Path) -> Result<Config> {
        let base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        Config::load_in(path, &base_dir)
    }

    /// Reads and validates a configuration file whose paths are relative to `base_dir`
    /// (Python pum's `-c FILE -d DIR`).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_in(path: &Path, base_dir: &Path) -> Result<Config> {
        let text = crate::files::read_text(path, crate::files::SMALL_FILE)?;
        Config::parse(&text, path, base_dir)
    }

    /// Parses configuration text; `path` names it in errors, `base_dir` anchors its paths.
    ///
    /// # Errors
    /// [`Error::Config`].
    pub fn parse(text: &str, path: &Path, base_dir: &Path) -> Result<Config> {
        let raw: RawConfig = serde_saphyr::from_str(text).map_err(|e| yaml_error(path, &e))?;
        let invalid = |message: String| Error::Config {
            location: path.display().to_string(),
            message,
        };
        if raw.pum.module.trim().is_empty() {
            return Err(invalid("pum.module must not be empty".into()));
        }
        if let Some(minimum) = &raw.pum.minimum_version {
            let minimum = Version::parse(&minimum.to_string())
                .map_err(|e| invalid(format!("pum.minimum_version: {e}")))?;
            let supported = Version::parse(PYTHON_PUM_COMPATIBILITY)?;
            if minimum > supported {
                return Err(invalid(format!(
                    "pum.minimum_version is {minimum}, but this pum implements Python pum \
                     {PYTHON_PUM_COMPATIBILITY}"
                )));
            }
        }
        validate_parameters(&raw.parameters).map_err(invalid)?;
        for (kind, hooks) in [
            ("application.drop", &raw.application.drop),
            ("application.create", &raw.application.create),
            ("uninstall", &raw.uninstall),
        ] {
            for (i, hook) in hooks.iter().enumerate() {
                if hook.file.is_some() == hook.code.is_some() {
                    return Err(invalid(format!(
                        "{kind}[{i}]: exactly one of file or code must be set"
                    )));
                }
            }
        }
        for (i, role) in raw.roles.iter().enumerate() {
            if let Some(parent) = &role.inherit
                && !raw.roles[..i].iter().any(|r| &r.name == parent)
            {
                return Err(invalid(format!(
                    "roles[{i}] ({}): inherits \"{parent}\", which is not defined before it",
                    role.name
                )));
            }
        }
        for (i, demo) in raw.demo_data.iter().enumerate() {
            if demo.file.is_some() == demo.files.is_some() {
                return Err(invalid(format!(
                    "demo_data[{i}] ({}): exactly one of file or files must be set",
                    demo.name
                )));
            }
        }
        for dependency in &raw.dependencies {
            for version in [&dependency.minimum_version, &dependency.maximum_version]
                .into_iter()
                .flatten()
            {
                Version::parse(&version.to_string())
                    .map_err(|e| invalid(format!("dependencies ({}): {e}", dependency.name)))?;
            }
        }
        let duration = |key: &str, text: &Option<String>| {
            text.as_deref()
                .map(parse_duration)
                .transpose()
                .map_err(|e| invalid(format!("pum.{key}: {e}")))
        };
        let lock_timeout = duration("lock_timeout", &raw.pum.lock_timeout)?;
        let statement_timeout = duration("statement_timeout", &raw.pum.statement_timeout)?;
        let changelogs_directory = raw
            .changelogs_directory
            .unwrap_or_else(|| "changelogs".to_string());
        Ok(Config {
            path: path.to_path_buf(),
            base_dir: base_dir.to_path_buf(),
            module: raw.pum.module,
            migration_table_schema: raw
                .pum
                .migration_table_schema
                .unwrap_or_else(|| "public".to_string()),
            changelogs_dir: base_dir.join(&changelogs_directory),
            changelogs_directory,
            parameters: raw.parameters,
            application: raw.application,
            roles: raw.roles,
            demo_data: raw.demo_data,
            dependencies: raw.dependencies,
            uninstall: raw.uninstall,
            lint: raw.lint.unwrap_or_default(),
            lock_timeout,
            statement_timeout,
            lock_retries: raw.pum.lock_retries,
            source: Source::Disk,
        })
    }

    /// The demo data sets' names, comma-separated (`none` without any).
    pub fn demo_data_names(&self) -> String {
        if self.demo_data.is_empty() {
            return "none".into();
        }
        self.demo_data
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The definition of parameter `name`.
    pub fn parameter(&self, name: &str) -> Option<&ParameterDef> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// The project's changelogs, in version order (see [`changelog::discover`]).
    ///
    /// # Errors
    /// As [`changelog::discover`].
    pub fn changelogs(&self) -> Result<Vec<Changelog>> {
        match &self.source {
            Source::Disk => changelog::discover(&self.changelogs_dir, &self.changelogs_directory),
            Source::Embedded(embedded) => changelog::discover_in(
                &embedded.tree(),
                &self.changelogs_dir,
                &self.changelogs_directory,
            ),
        }
    }

    /// [`Config::changelogs`] for a migration: a large file on disk is not held but read
    /// again as it runs ([`changelog::SqlText::is_held`]).
    ///
    /// # Errors
    /// As [`changelog::discover`].
    pub(crate) fn changelogs_for_run(&self) -> Result<Vec<Changelog>> {
        match &self.source {
            Source::Disk => {
                changelog::discover_for_run(&self.changelogs_dir, &self.changelogs_directory)
            }
            Source::Embedded(_) => self.changelogs(),
        }
    }

    /// Reads the SQL file `file` of the project (a hook's, demo data's), relative to
    /// `base_dir`.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file.
    pub fn read_sql(&self, file: &str) -> Result<changelog::SqlText> {
        let path = self.base_dir.join(file);
        match &self.source {
            Source::Disk => changelog::SqlText::read(&path),
            Source::Embedded(embedded) => changelog::Tree::read(&embedded.tree(), &path),
        }
    }
}

/// Reads a duration as `pum.lock_timeout` and `--lock-timeout` take it: a whole number
/// and a unit, `ms`, `s`, `min` or `h` (`500ms`, `5s`, `2min`). A bare number is refused
/// rather than guessed (PostgreSQL reads milliseconds, pum 0.x read seconds), and so is
/// zero (PostgreSQL's "no timeout", which is what leaving the option out means).
///
/// # Errors
/// What is wrong with `text`, as one line.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    const EXAMPLES: &str = "500ms, 5s, 2min or 1h";
    let units = [("ms", 1), ("s", 1000), ("min", 60_000), ("h", 3_600_000)];
    let duration = crate::text::duration(text, &units, EXAMPLES)?;
    let wrong = |why: &str| {
        format!(
            "{text:?} is not a duration ({why}): write a whole number and a unit, as {EXAMPLES}"
        )
    };
    match duration.as_millis() {
        0 => Err(wrong("zero means no timeout: leave the option out")),
        // PostgreSQL keeps these settings in milliseconds, in an int.
        ms if ms <= i32::MAX as u128 => Ok(duration),
        _ => Err(wrong("too large")),
    }
}

/// Turns a YAML error into `file:line:column: message`.
fn yaml_error(path: &Path, err: &serde_saphyr::Error) -> Error {
    let location = match err.location() {
        Some(at) => format!("{}:{}:{}", path.display(), at.line(), at.column()),
        None => path.display().to_string(),
    };
    let text = err.to_string();
    // The library's message may carry its own "at line X column Y" suffix or a snippet:
    // keep the first line, which says what is wrong.
    let mut message = text.lines().next().unwrap_or(&text).trim();
    message = message.strip_prefix("error: ").unwrap_or(message);
    if message.starts_with("line ")
        && let Some((_, rest)) = message.split_once(": ")
    {
        message = rest;
    }
    let message = message.to_string();
    Error::Config { location, message }
}

fn validate_parameters(parameters: &[ParameterDef]) -> std::result::Result<(), String> {
    for (i, p) in parameters.iter().enumerate() {
        let at = format!("parameters[{i}] ({})", p.name);
        if p.name.is_empty()
            || !p
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!(
                "{at}: a parameter name is letters, digits and underscores"
            ));
        }
        if parameters[..i].iter().any(|q| q.name == p.name) {
            return Err(format!("{at}: defined twice"));
        }
        if let Some(default) = &p.default {
            ParamValue::from_scalar(p.kind, default).map_err(|e| format!("{at}: default: {e}"))?;
        }
        if let Some(values) = &p.values {
            for value in values {
                ParamValue::from_scalar(p.kind, value).map_err(|e| format!("{at}: values: {e}"))?;
            }
            if let Some(default) = &p.default
                && !values.contains(default)
            {
                return Err(format!(
                    "{at}: the default {default} is not one of the allowed values"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/p/.pum.yaml"), Path::new("/p"))
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2min"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["abc", "-5s", "5", "0s", "5 parsecs", "", "1.5s", "9999999h"] {
            let message = parse_duration(bad).unwrap_err();
            assert!(!message.contains('\n'), "{message}");
            assert!(message.contains("500ms, 5s"), "{message}");
        }
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
    }

    #[test]
    fn live_settings_are_read_from_the_pum_section() {
        let config = parse(
            "pum:\n  module: shop\n  lock_timeout: 5s\n  statement_timeout: 10min\n  \
             lock_retries: 3\n",
        )
        .unwrap();
        assert_eq!(config.lock_timeout, Some(Duration::from_secs(5)));
        assert_eq!(config.statement_timeout, Some(Duration::from_secs(600)));
        assert_eq!(config.lock_retries, Some(3));
        let message = err("pum:\n  module: shop\n  lock_timeout: abc\n");
        assert!(message.contains("pum.lock_timeout"), "{message}");
        assert!(
            parse("pum:\n  module: shop\n")
                .unwrap()
                .lock_timeout
                .is_none()
        );
    }

    #[test]
    fn full_configuration() {
        let config = parse(
            "pum:\n  module: shop\n  migration_table_schema: shop\n  minimum_version: 1.0.0\n\
             changelogs_directory: deltas\n\
             parameters:\n  - name: SRID\n    type: integer\n    default: 2056\n    values: [2056, 21781]\n\
             \x20 - name: label\n    description: x\n    app_only: true\n\
             migration_hooks:\n  pre: [{file: app/drop.sql}]\n  post: [{code: SELECT 1}]\n\
             roles:\n  - name: viewer\n    permissions: [{type: read, schemas: [shop]}]\n\
             \x20 - name: editor\n    inherit: viewer\n    permissions: [{type: write}]\n\
             demo_data: [{name: some, files: [a.sql, b.sql]}]\n\
             dependencies: [{name: pirogue, minimum_version: 1.2}]\n\
             uninstall: [{code: DROP SCHEMA shop CASCADE}]\n",
        )
        .unwrap();
        assert_eq!(config.module, "shop");
        assert_eq!(config.migration_table_schema, "shop");
        assert_eq!(config.changelogs_dir, Path::new("/p/deltas"));
        assert_eq!(config.parameters[0].kind, ParameterType::Integer);
        assert_eq!(config.parameters[0].default, Some(Scalar::Integer(2056)));
        assert_eq!(config.parameters[1].kind, ParameterType::Text);
        assert!(config.parameters[1].app_only);
        assert_eq!(
            config.application.drop[0].file.as_deref(),
            Some("app/drop.sql")
        );
        assert_eq!(
            config.application.create[0].code.as_deref(),
            Some("SELECT 1")
        );
        assert_eq!(config.roles[1].inherit.as_deref(), Some("viewer"));
        assert_eq!(config.roles[0].permissions[0].kind, PermissionType::Read);
    }

    #[test]
    fn defaults() {
        let config = parse("pum: {module: m}").unwrap();
        assert_eq!(config.migration_table_schema, "public");
        assert_eq!(config.changelogs_dir, Path::new("/p/changelogs"));
        assert!(config.parameters.is_empty());
    }

    #[test]
    fn unknown_keys_name_file_line_and_column() {
        let text = err("pum:\n  module: m\nchangelog_directory: x\n");
        assert!(
            text.starts_with("/p/.pum.yaml:3:1: unknown field `changelog_directory`, expected"),
            "{text}"
        );
        let text = err("pum:\n  module: m\n  modul: n\n");
        assert!(text.starts_with("/p/.pum.yaml:3:3: "), "{text}");
        assert!(text.contains("modul"), "{text}");
    }

    #[test]
    fn every_semantic_error_is_named() {
        for (text, expected) in [
            ("pum: {module: ''}", "pum.module must not be empty"),
            (
                "pum: {module: m, minimum_version: 9.0.0}",
                "pum.minimum_version is 9.0.0, but this pum implements Python pum 1.9.2",
            ),
            (
                "pum: {module: m}\nparameters: [{name: a, type: integer, default: x}]",
                "parameters[0] (a): default: \"x\" is not an integer",
            ),
            (
                "pum: {module: m}\nparameters: [{name: a, type: integer, default: 100000000000000000000}]",
                "parameters[0] (a): default: 100000000000000000000 is out of range for an integer \
                 parameter (-9223372036854775808 to 9223372036854775807)",
            ),
            (
                "pum: {module: m}\nparameters: [{name: a, default: x, values: [y, z]}]",
                "parameters[0] (a): the default x is not one of the allowed values",
            ),
            (
                "pum: {module: m}\nparameters: [{name: a}, {name: a}]",
                "parameters[1] (a): defined twice",
            ),
            (
                "pum: {module: m}\nparameters: [{name: 'a b'}]",
                "parameters[0] (a b): a parameter name is letters, digits and underscores",
            ),
            (
                "pum: {module: m}\napplication: {create: [{file: a.sql, code: x}]}",
                "application.create[0]: exactly one of file or code must be set",
            ),
            (
                "pum: {module: m}\nuninstall: [{}]",
                "uninstall[0]: exactly one of file or code must be set",
            ),
            (
                "pum: {module: m}\nroles: [{name: b, inherit: a}, {name: a}]",
                "roles[0] (b): inherits \"a\", which is not defined before it",
            ),
            (
                "pum: {module: m}\ndemo_data: [{name: d}]",
                "demo_data[0] (d): exactly one of file or files must be set",
            ),
            (
                "pum: {module: m}\ndependencies: [{name: x, minimum_version: abc}]",
                "dependencies (x): invalid version \"abc\": only numbers separated by dots \
                 are versions (like 1.2 or 1.2.3)",
            ),
        ] {
            assert_eq!(err(text), format!("/p/.pum.yaml: {expected}"), "{text}");
        }
    }

    #[test]
    fn wrong_types_and_missing_keys_are_located() {
        let text = err("pum:\n  module: m\nparameters:\n  - name: a\n    type: colour\n");
        assert!(text.starts_with("/p/.pum.yaml:5:"), "{text}");
        let text = err("changelogs_directory: x\n");
        assert!(text.contains("pum"), "{text}");
        let text = err("pum: [unclosed\n");
        assert!(text.starts_with("/p/.pum.yaml:"), "{text}");
    }
}
