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

/// BLAKE3 of `path`'s contents, read again only when its [`Stamp`] changed. Only a regular
/// file is read (looked at first: a FIFO would block the reader, a device never end),
/// in pieces, so a large dump costs no memory.
fn file_digest(path: &Path) -> Result<[u8; 32]> {
    type Digests = std::collections::HashMap<PathBuf, (Stamp, [u8; 32])>;
    static DIGESTS: std::sync::LazyLock<std::sync::Mutex<Digests>> =
        std::sync::LazyLock::new(Default::default);
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(not_an_input(path));
    }
    let stamp = Stamp::of(&meta);
    if let Some((seen, digest)) = DIGESTS.lock().unwrap_or_else(|e| e.into_inner()).get(path)
        && *seen == stamp
    {
        return Ok(*digest);
    }
    let mut file = crate::files::open_regular(path)?;
    let mut hasher = blake3::Hasher::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    let digest = *hasher.finalize().as_bytes();
    DIGESTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(path.to_path_buf(), (stamp, digest));
    Ok(digest)
}

/// The error for an input that is neither a regular file nor a directory-format dump.
fn not_an_input(path: &Path) -> Error {
    Error::io(
        path,
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file or a directory-format dump (a FIFO, device or socket, or a \
             directory without toc.dat); the harness reads SQL files and pg_dump's plain, \
             custom, tar and directory formats",
        ),
    )
}

/// What a base or reference file is, looked at without opening it (so a FIFO never
/// blocks): a regular file (SQL, or a plain, custom or tar dump), or a directory-format
/// dump (a directory holding `toc.dat`). Anything else is refused, naming the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    File,
    DumpDirectory,
}

impl Input {
    pub(crate) fn of(path: &Path) -> Result<Input> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_file() {
            Ok(Input::File)
        } else if meta.is_dir()
            && std::fs::metadata(path.join("toc.dat")).is_ok_and(|m| m.is_file())
        {
            Ok(Input::DumpDirectory)
        } else {
            Err(not_an_input(path))
        }
    }
}

/// Names a file whose contents never count in a key: editor swap and backup files,
/// Python's caches, version control and hidden files.
pub(crate) fn is_noise(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swo")
        || name.ends_with(".swx")
        || name.ends_with(".pyc")
        || name.ends_with(".pyo")
        || name.ends_with(".orig")
        || name.ends_with(".rej")
        || name == "__pycache__"
        || name == "target"
        || name == "node_modules"
}

/// The entries of `dir` (name, path, is a directory), in name order; a link is followed.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>> {
    let mut entries: Vec<(String, PathBuf, bool)> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| {
            let e = e.ok()?;
            let is_dir = match e.file_type() {
                Ok(kind) if kind.is_symlink() => e.path().is_dir(),
                Ok(kind) => kind.is_dir(),
                Err(_) => e.path().is_dir(),
            };
            Some((
                e.file_name().to_string_lossy().into_owned(),
                e.path(),
                is_dir,
            ))
        })
        .collect();
    entries.sort();
    Ok(entries)
}

/// Feeds the keys of a template.
///
/// The *content* key says what the database holds: the format, the server, the role and
/// every input's contents under a name relative to its project (never an absolute path,
/// so `./.pum.yaml` and `.pum.yaml`, or a second checkout of the same files, give the
/// same key). The *family* key says which spec it is, whatever the contents (an edited
/// file gives the family a new template). Templates are counted per *project* (see
/// `Templates`).
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

    /// A value of the family only (not of what the database holds).
    pub(crate) fn family(&mut self, label: &str, value: &str) {
        self.family.update(label.as_bytes());
        self.family.update(&(value.len() as u64).to_le_bytes());
        self.family.update(value.as_bytes());
    }

    /// A value of the contents only.
    pub(crate) fn content(&mut self, label: &str, value: &str) {
        self.content.update(label.as_bytes());
        self.content.update(&(value.len() as u64).to_le_bytes());
        self.content.update(value.as_bytes());
    }

    /// A file's contents, under `name` (its path relative to its project).
    pub(crate) fn file(&mut self, name: &str, path: &Path) -> Result<()> {
        self.content("file", name);
        self.content.update(&file_digest(path)?);
        Ok(())
    }

    /// A base, reference or fixture input: a file, or a directory-format dump (its files).
    pub(crate) fn input(&mut self, name: &str, path: &Path) -> Result<()> {
        match Input::of(path)? {
            Input::File => self.file(name, path),
            Input::DumpDirectory => self.tree(name, path, &|_| true),
        }
    }

    /// Every file under `dir` that `wanted` (its path) keeps and that is not
    /// noise ([`is_noise`]), in name order, named `<name>/<relative path>`.
    pub(crate) fn tree(
        &mut self,
        name: &str,
        dir: &Path,
        wanted: &dyn Fn(&Path) -> bool,
    ) -> Result<()> {
        for (entry, path, is_dir) in entries(dir)? {
            if is_noise(&entry) || !wanted(&path) {
                continue;
            }
            let inner = format!("{name}/{entry}");
            if is_dir {
                self.tree(&inner, &path, wanted)?;
            } else {
                self.file(&inner, &path)?;
            }
        }
        Ok(())
    }

    /// The changelogs under `dir` as pum reads them: each version directory's `*.sql`
    /// files and `down/*.sql`, and its `APP_ONLY_RELEASE` marker; versions above
    /// `max_version` left out. Other files (a README, editor files) do not count. A
    /// directory that is no version counts by its name (it makes the build fail).
    pub(crate) fn changelogs(&mut self, dir: &Path, max_version: Option<&Version>) -> Result<()> {
        for (entry, path, is_dir) in entries(dir)? {
            if !is_dir {
                continue;
            }
            let Ok(version) = Version::parse(&entry) else {
                self.content("not a version", &entry);
                continue;
            };
            if max_version.is_some_and(|max| &version > max) {
                continue;
            }
            self.content("version", &entry);
            for (name, file, is_dir) in entries(&path)? {
                if is_dir && name == crate::changelog::DOWN_DIR {
                    for (down, file, is_dir) in entries(&file)? {
                        if !is_dir && down.ends_with(".sql") && !is_noise(&down) {
                            self.file(&format!("{entry}/{name}/{down}"), &file)?;
                        }
                    }
                } else if name.ends_with(".sql") && !is_noise(&name) {
                    self.file(&format!("{entry}/{name}"), &file)?;
                } else if name == crate::changelog::APP_ONLY_MARKER {
                    self.content("marker", &format!("{entry}/{name}"));
                }
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
