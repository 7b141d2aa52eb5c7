//! [`TestSpec`]: what a test's database is made of (its key: [`super::key`]).

use std::path::{Path, PathBuf};

use crate::checker::{CheckOptions, Kind};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::version::Version;

/// Bumped whenever the way templates are built changes, so old templates are not reused.
pub(crate) const HARNESS_FORMAT: &str = "pum-harness-2";

/// What a test database starts from, before the changelogs run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Base {
    /// An empty database.
    #[default]
    Empty,
    /// A copy of an existing database on the test server (its content is not part of the
    /// template's key: a changed base database is not noticed; prefer a dump).
    Database(String),
    /// SQL files run in order.
    SqlFiles(Vec<PathBuf>),
    /// A `pg_dump` file (any format) restored.
    Dump(PathBuf),
}

/// What a test's schema is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceSpec {
    /// An existing database on the test server.
    Database(String),
    /// SQL files run in order in an empty database.
    SqlFiles(Vec<PathBuf>),
    /// A `pg_dump` file restored into an empty database.
    Dump(PathBuf),
    /// A fresh install of the test's changelogs (up to a version, or all of them), with
    /// the test's parameters.
    FreshInstall(Option<Version>),
}

impl ReferenceSpec {
    /// Reads the `reference = "…"` text of `#[pum_test]`: `install`, `install:1.2.0`,
    /// `db:NAME`, a `.sql` file, or a dump file.
    pub fn parse(text: &str, root: &Path) -> Result<ReferenceSpec> {
        if text == "install" {
            return Ok(ReferenceSpec::FreshInstall(None));
        }
        if let Some(version) = text.strip_prefix("install:") {
            return Ok(ReferenceSpec::FreshInstall(Some(Version::parse(version)?)));
        }
        if let Some(name) = text.strip_prefix("db:") {
            return Ok(ReferenceSpec::Database(name.to_string()));
        }
        let path = root.join(text);
        if text.ends_with(".sql") {
            Ok(ReferenceSpec::SqlFiles(vec![path]))
        } else {
            Ok(ReferenceSpec::Dump(path))
        }
    }
}

/// The changelogs a test database is migrated with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectSpec {
    /// The `.pum.yaml` file.
    pub config: PathBuf,
    /// Parameter values (name, value as text).
    pub parameters: Vec<(String, String)>,
    /// Apply versions up to this one.
    pub max_version: Option<Version>,
}

/// What a test's database is made of: a base, changelogs, fixtures, and optionally a
/// reference to compare it with.
///
/// ```
/// use pum::testing::{Base, TestSpec};
///
/// let spec = TestSpec::new("my_test")
///     .base(Base::Empty)
///     .fixture("tests/fixtures/customers.sql")
///     .parameter("SRID", "2056");
/// assert_eq!(spec.name(), "my_test");
/// ```
#[derive(Debug, Clone, Default)]
pub struct TestSpec {
    pub(crate) name: String,
    pub(crate) base: Base,
    pub(crate) project: Option<ProjectSpec>,
    pub(crate) fixtures: Vec<PathBuf>,
    pub(crate) reference: Option<ReferenceSpec>,
    pub(crate) check: CheckOptions,
    pub(crate) isolation: Isolation,
}

/// How a test is kept apart from the others (`#[pum_test(isolation = "…")]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Isolation {
    /// A database of its own, cloned from the template and dropped afterwards (the
    /// default): the test may do anything.
    #[default]
    Database,
    /// One session inside a transaction on a database shared by the tests of its template
    /// and parallel slot, rolled back at the end: much faster, for tests that do not
    /// commit, run `CREATE DATABASE` or `VACUUM`, or need a second session (see the
    /// README's "Transaction isolation").
    Transaction,
}

impl TestSpec {
    /// A spec for the test called `name` (used in database names and messages): an empty
    /// database, no changelogs.
    pub fn new(name: &str) -> TestSpec {
        TestSpec {
            name: name.to_string(),
            ..TestSpec::default()
        }
    }

    /// The test's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs the test with `isolation` (default: [`Isolation::Database`]).
    pub fn isolation(mut self, isolation: Isolation) -> TestSpec {
        self.isolation = isolation;
        self
    }

    /// Starts from `base`.
    pub fn base(mut self, base: Base) -> TestSpec {
        self.base = base;
        self
    }

    /// Migrates with the changelogs of the `.pum.yaml` file `config`.
    pub fn config(mut self, config: impl Into<PathBuf>) -> TestSpec {
        let project = self.project.get_or_insert(ProjectSpec {
            config: PathBuf::new(),
            parameters: Vec::new(),
            max_version: None,
        });
        project.config = config.into();
        self
    }

    /// Sets a parameter for the changelogs.
    pub fn parameter(mut self, name: &str, value: &str) -> TestSpec {
        if let Some(project) = &mut self.project {
            project
                .parameters
                .push((name.to_string(), value.to_string()));
        } else {
            self.project = Some(ProjectSpec {
                config: PathBuf::new(),
                parameters: vec![(name.to_string(), value.to_string())],
                max_version: None,
            });
        }
        self
    }

    /// Applies the changelogs up to `version` only.
    pub fn max_version(mut self, version: Version) -> TestSpec {
        if let Some(project) = &mut self.project {
            project.max_version = Some(version);
        }
        self
    }

    /// Runs `file` after the changelogs (fixtures run in the order given).
    pub fn fixture(mut self, file: impl Into<PathBuf>) -> TestSpec {
        self.fixtures.push(file.into());
        self
    }

    /// Compares with `reference` (see [`crate::testing::TestDb::reference`]).
    pub fn reference(mut self, reference: ReferenceSpec) -> TestSpec {
        self.reference = Some(reference);
        self
    }

    /// Leaves `kind` out of schema comparisons.
    pub fn ignore(mut self, kind: Kind) -> TestSpec {
        self.check.ignore.insert(kind);
        self
    }

    /// Leaves `schema` out of schema comparisons.
    pub fn exclude_schema(mut self, schema: &str) -> TestSpec {
        self.check.exclude_schemas.push(schema.to_string());
        self
    }

    /// The loaded project configuration, if the spec has changelogs.
    pub(crate) fn project_config(&self) -> Result<Option<(Config, &ProjectSpec)>> {
        match &self.project {
            Some(project) if !project.config.as_os_str().is_empty() => {
                Ok(Some((Config::load(&project.config)?, project)))
            }
            Some(project) if !project.parameters.is_empty() => Err(Error::TestSpec {
                test: self.name.clone(),
                message: "parameters given but no configuration (.pum.yaml) to use them".into(),
            }),
            _ => Ok(None),
        }
    }
}
