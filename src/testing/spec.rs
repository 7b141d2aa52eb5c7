//! [`TestSpec`]: what a test's database is made of, and its content key.

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

/// Feeds the content key of a template: the format, the server, and every input with its
/// contents.
/// What says a file is unchanged since it was last read: size, modification and change
/// times, inode. Every test of a run keys its spec, so each file is read once per process
/// and then only looked at (a 200-file changelog: 4 ms read and hashed, 0.3 ms looked at).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    changed: (i64, i64),
    #[cfg(unix)]
    inode: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            changed: (meta.ctime(), meta.ctime_nsec()),
            #[cfg(unix)]
            inode: meta.ino(),
        }
    }
}

/// BLAKE3 of `path`'s contents, read again only when its [`Stamp`] changed.
fn file_digest(path: &Path) -> Result<[u8; 32]> {
    type Digests = std::collections::HashMap<PathBuf, (Stamp, [u8; 32])>;
    static DIGESTS: std::sync::LazyLock<std::sync::Mutex<Digests>> =
        std::sync::LazyLock::new(Default::default);
    let stamp = Stamp::of(&std::fs::metadata(path).map_err(|e| Error::io(path, e))?);
    if let Some((seen, digest)) = DIGESTS.lock().unwrap_or_else(|e| e.into_inner()).get(path)
        && *seen == stamp
    {
        return Ok(*digest);
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let digest = *blake3::hash(&bytes).as_bytes();
    DIGESTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(path.to_path_buf(), (stamp, digest));
    Ok(digest)
}

pub(crate) struct KeyHasher {
    content: blake3::Hasher,
    family: blake3::Hasher,
}

impl KeyHasher {
    pub(crate) fn new(server_version: i32) -> KeyHasher {
        let mut content = blake3::Hasher::new();
        content.update(HARNESS_FORMAT.as_bytes());
        content.update(&server_version.to_le_bytes());
        KeyHasher {
            content,
            family: blake3::Hasher::new(),
        }
    }

    /// A value that identifies the spec (and its content).
    pub(crate) fn shape(&mut self, label: &str, value: &str) {
        for h in [&mut self.content, &mut self.family] {
            h.update(label.as_bytes());
            h.update(&(value.len() as u64).to_le_bytes());
            h.update(value.as_bytes());
        }
    }

    /// A file: its path shapes the spec, its contents only the content key.
    pub(crate) fn file(&mut self, path: &Path) -> Result<()> {
        self.shape("file", &path.display().to_string());
        self.content.update(&file_digest(path)?);
        Ok(())
    }

    /// Every file under `dir`, in name order.
    pub(crate) fn tree(&mut self, dir: &Path) -> Result<()> {
        // The kind from the directory listing, without a stat (a link is followed).
        let mut entries: Vec<(PathBuf, bool)> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| {
                let e = e.ok()?;
                let is_dir = match e.file_type() {
                    Ok(kind) if kind.is_symlink() => e.path().is_dir(),
                    Ok(kind) => kind.is_dir(),
                    Err(_) => e.path().is_dir(),
                };
                Some((e.path(), is_dir))
            })
            .collect();
        entries.sort();
        for (path, is_dir) in entries {
            if is_dir {
                self.tree(&path)?;
            } else {
                self.file(&path)?;
            }
        }
        Ok(())
    }

    /// (content key, family key), as hex.
    pub(crate) fn finish(&self) -> (String, String) {
        (
            self.content.finalize().to_hex()[..24].to_string(),
            self.family.finalize().to_hex()[..16].to_string(),
        )
    }
}
