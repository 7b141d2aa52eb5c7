//! The template cache: a spec's migrated database, built once per content key across
//! threads, processes and machines sharing a server, and reference databases built the
//! same way.
//!
//! A template is named `pum_tpl_<key>` (a reference `pum_ref_<key>`), the key hashing
//! every input (see [`KeyHasher`]). Its build runs under an advisory lock of its name, so
//! whoever comes second waits and then finds it ready; the outcome is recorded in the
//! registry, so a failed build fails the other processes' tests at once (for
//! [`FAILURE_MEMORY`]) instead of each rebuilding.
//!
//! Memory is bounded per *project* (the role and the canonical path of the `.pum.yaml`,
//! or for a spec without one the directory of its first file): after each build, the
//! project's templates and references beyond `PUM_TEST_TEMPLATES` ([`DEFAULT_TEMPLATES`])
//! are dropped with their spares, those a newer template of the same spec (its *family*)
//! replaced first, then the least recently used; never the one just built nor one a live
//! runner has used. Templates nobody used for [`UNUSED_TEMPLATE`] are dropped too.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::key::{KeyCache, KeyHasher, Witness};
use super::pool::MaintenancePool;
use super::registry;
use super::spec::{Base, ProjectSpec, ReferenceSpec, TestSpec};
use super::sql_files;
use super::warnings;
use crate::config::Config;
use crate::connect::ConnectionSpec;
use crate::database::{CreateOptions, DropOptions, Maintenance};
use crate::error::{Error, Result};
use crate::lock::{AdvisoryLock, HARNESS};
use crate::migrate::{MigrateOptions, NoProgress, Upgrader};
use crate::sql::{quote_identifier, quote_literal};
use crate::version::Version;

/// Templates (and references) kept per project by default: `PUM_TEST_TEMPLATES`.
pub(crate) const DEFAULT_TEMPLATES: i64 = 4;

/// How long a failed template build is remembered (so tests of the spec fail at once
/// instead of each rebuilding), before it is tried again.
const FAILURE_MEMORY: &str = "10 minutes";

/// How long to wait for another process building the same template.
const BUILD_WAIT: Duration = Duration::from_secs(15 * 60);

/// Templates no test used for this long are dropped.
const UNUSED_TEMPLATE: &str = "6 hours";

type Cell = Arc<OnceLock<Result<String>>>;

/// The templates and references of this process, by name: each is looked up (or built)
/// once per process, and the outcome, success or error, handed to every test.
pub(crate) struct Templates {
    server: ConnectionSpec,
    server_version: i32,
    /// This runner's id: the templates it uses are never evicted while it lives.
    runner: String,
    /// Templates kept per project (`PUM_TEST_TEMPLATES`).
    cap: i64,
    cells: Mutex<HashMap<String, Cell>>,
    /// The keys computed, by what a spec is made of (its name aside) and the current
    /// directory, with what they were made of: the next test of a spec only looks at its
    /// files (see [`Templates::key`]).
    keys: KeyCache<Key>,
}

impl Templates {
    /// The templates on the server of `server` (the registry's database), which runs
    /// `server_version`. Their keys include the role of `server`: what a template holds
    /// belongs to the role that built it.
    pub(crate) fn new(
        server: ConnectionSpec,
        server_version: i32,
        runner: String,
        cap: i64,
    ) -> Templates {
        Templates {
            server,
            server_version,
            runner,
            cap,
            cells: Mutex::new(HashMap::new()),
            keys: KeyCache::default(),
        }
    }

    /// The name of the template of `spec`'s tests, built once per content key.
    pub(crate) fn template(&self, pool: &MaintenancePool, spec: &TestSpec) -> Result<String> {
        let key = self.key(spec, None)?;
        self.built(&format!("pum_tpl_{}", key.content), &key, |name| {
            self.build(pool, name, spec, true)
        })
    }

    /// The name of `spec`'s template, built or not.
    pub(crate) fn template_name(&self, spec: &TestSpec) -> Result<String> {
        Ok(format!("pum_tpl_{}", self.key(spec, None)?.content))
    }

    /// The name of the reference database of `spec`, built once per content key.
    pub(crate) fn reference(
        &self,
        pool: &MaintenancePool,
        spec: &TestSpec,
        reference: &ReferenceSpec,
    ) -> Result<String> {
        if let ReferenceSpec::Database(name) = reference {
            return Ok(name.clone());
        }
        let key = self.key(spec, Some(reference))?;
        self.built(&format!("pum_ref_{}", key.content), &key, |name| {
            self.build_reference(pool, name, spec, reference)
        })
    }

    /// Drops `spec`'s template and reference (they are rebuilt when next needed).
    pub(crate) fn drop_for(&self, spec: &TestSpec) -> Result<()> {
        let mut names = vec![self.template_name(spec)?];
        if let Some(reference) = &spec.reference
            && !matches!(reference, ReferenceSpec::Database(_))
        {
            names.push(format!(
                "pum_ref_{}",
                self.key(spec, Some(reference))?.content
            ));
        }
        let mut session = Maintenance::on(&self.server)?;
        for name in &names {
            forget(&mut session, name);
            self.cells
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(name);
        }
        Ok(())
    }

    /// Drops templates and references no test used for [`UNUSED_TEMPLATE`] (those of
    /// temporary projects, of deleted tests…). Best effort: one in use stays until next
    /// time.
    pub(crate) fn sweep_unused(&self) {
        let Ok(mut session) = Maintenance::on(&self.server) else {
            return;
        };
        let Ok(names) = registry::unused(session.client(), UNUSED_TEMPLATE) else {
            return;
        };
        for name in names {
            forget(&mut session, &name);
        }
    }

    /// Drops the templates and references whose build was killed (recorded as being built,
    /// and nobody holds their lock: a live builder does, until it records the outcome).
    /// Best effort; a drop that fails is said once and tried again at the next sweep.
    pub(crate) fn sweep_killed_builds(&self) {
        let Ok(mut session) = Maintenance::on(&self.server) else {
            return;
        };
        let Ok(names) = registry::unfinished_builds(session.client()) else {
            return;
        };
        for name in names {
            let lock = AdvisoryLock::new(HARNESS, &name);
            if !lock.try_acquire(session.client()).unwrap_or(false) {
                continue;
            }
            // Finished between the look and the lock?
            if registry::is_building(session.client(), &name).unwrap_or(false) {
                let _ = session.set_template(&name, false);
                match session.drop(&name, &DropOptions::if_exists()) {
                    Ok(_) => {
                        let _ = registry::forget_template(session.client(), &name);
                    }
                    Err(e) => {
                        warnings::warn_once(
                            &name,
                            &format!(
                                "could not drop {name}, left by a template build that was \
                                 killed (tried again at every heartbeat): {e}"
                            ),
                        );
                    }
                }
            }
            let _ = lock.release(session.client());
        }
    }

    /// The keys of `spec`'s template, or of its `reference`. Every test computes them
    /// (a file edited between two tests gives the second a new template), but the files
    /// are read once: while each file and directory read for a spec's key shows the same
    /// stamp ([`Witness::holds`]), the key is the one computed before. A key read from a
    /// file changed within the last seconds is not kept (its stamp may not show the next
    /// change): computed again each time until the file settles.
    fn key(&self, spec: &TestSpec, reference: Option<&ReferenceSpec>) -> Result<Key> {
        // What the key depends on besides the files: the spec but its name (and what only
        // the comparison uses), and the current directory relative paths start from.
        let id = format!(
            "{:?}",
            (
                &spec.base,
                &spec.project,
                &spec.fixtures,
                reference,
                std::env::current_dir().ok()
            )
        );
        self.keys
            .get_or_compute(id, || self.compute_key(spec, reference))
    }

    /// The keys of `spec`'s template, or of its `reference`, hashed from their files, and
    /// what they were made of when it can be trusted to tell a change.
    fn compute_key(
        &self,
        spec: &TestSpec,
        reference: Option<&ReferenceSpec>,
    ) -> Result<(Key, Option<Witness>)> {
        let mut h = KeyHasher::new(self.server_version);
        // What a template holds belongs to the role that built it, which another role's
        // tests may not use: runners of several roles on one server build their own.
        h.shape("role", self.server.user());
        // A reference counts in its test's project.
        let own = spec
            .project
            .as_ref()
            .filter(|p| !p.config.as_os_str().is_empty());
        let project = project_of(self.server.user(), spec, own);
        let source = source_of(spec, own);
        h.family("project", &project);
        let root = own.and_then(|p| p.config.parent()).and_then(|dir| {
            std::fs::canonicalize(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
            .ok()
        });
        let built_from;
        let spec = match reference {
            Some(reference) => {
                h.shape("reference", &reference_kind(reference));
                built_from = reference_spec(spec, reference);
                &built_from
            }
            None => spec,
        };
        let config = spec.project_config()?;
        match &spec.base {
            Base::Empty => h.shape("base", "empty"),
            Base::Database(name) => h.shape("base database", name),
            Base::SqlFiles(files) => {
                for (i, file) in files.iter().enumerate() {
                    h.family("base file", &relative(root.as_deref(), file));
                    h.input(&format!("base {i}"), file)?;
                }
            }
            Base::Dump(file) => {
                h.family("base dump", &relative(root.as_deref(), file));
                h.input("base dump", file)?;
            }
        }
        if let Some((config, project)) = &config {
            hash_project(&mut h, config, project)?;
        }
        for (i, fixture) in spec.fixtures.iter().enumerate() {
            h.family("fixture", &relative(root.as_deref(), fixture));
            h.file(&format!("fixture {i}"), fixture)?;
        }
        let (content, family, witness) = h.finish();
        let key = Key {
            content,
            family,
            project,
            source,
        };
        Ok((key, witness))
    }

    /// Returns database `name`, building it with `build` unless a ready one exists.
    fn built(
        &self,
        name: &str,
        key: &Key,
        build: impl FnOnce(&str) -> Result<()>,
    ) -> Result<String> {
        let cell = self
            .cells
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_default()
            .clone();
        cell.get_or_init(|| self.build_once(name, key, build))
            .clone()
    }

    /// Builds under the template's advisory lock, so processes sharing the server build it
    /// once; records the outcome in the registry.
    fn build_once(
        &self,
        name: &str,
        key: &Key,
        build: impl FnOnce(&str) -> Result<()>,
    ) -> Result<String> {
        // A session of its own: the lock is held for the whole build, and closing the
        // session releases it whatever happens.
        let mut session = Maintenance::on(&self.server)?;
        let lock = AdvisoryLock::new(HARNESS, name);
        lock.acquire(
            session.client(),
            BUILD_WAIT,
            "another process building this template",
        )?;
        if let Some(previous) = registry::template(session.client(), name, FAILURE_MEMORY)? {
            if previous.status == "ready" && previous.complete {
                // Best effort: a template not marked used is at worst rebuilt one day.
                let _ =
                    registry::touch_template(session.client(), name, &self.runner, &key.project);
                return Ok(name.to_string());
            }
            if previous.status == "failed" && previous.recent {
                return Err(Error::TemplateBuild {
                    template: name.to_string(),
                    message: format!(
                        "{} (remembered: this build failed {} s ago, in this or another test \
                         process; the same files are built again {FAILURE_MEMORY} after it \
                         failed, and a change to any of them builds at once)",
                        previous.message.unwrap_or_default(),
                        previous.age
                    ),
                });
            }
        }
        // Registered before its database exists: a build killed from here on leaves a row
        // the next sweep finds (`sweep_killed_builds`).
        registry::begin_build(
            session.client(),
            name,
            &key.family,
            &key.project,
            &key.source,
        )?;
        let outcome = build(name);
        if outcome.is_err() {
            let _ = session.drop(name, &DropOptions::if_exists());
        }
        let failure = outcome.as_ref().err().map(Error::to_string);
        registry::record_build(session.client(), name, &key.family, failure.as_deref())?;
        if outcome.is_ok() {
            let _ = registry::touch_template(session.client(), name, &self.runner, &key.project);
            evict(&mut session, name, &key.project, self.cap);
        }
        let _ = lock.release(session.client());
        outcome.map(|()| name.to_string())
    }

    fn build(
        &self,
        pool: &MaintenancePool,
        name: &str,
        spec: &TestSpec,
        template: bool,
    ) -> Result<()> {
        let target = self.server.with_dbname(name);
        pool.with(|session| {
            // A leftover of a build that was interrupted.
            let _ = session.set_template(name, false);
            session.drop(name, &DropOptions::if_exists())?;
            let from = match &spec.base {
                Base::Database(base) => base.clone(),
                _ => "template0".to_string(),
            };
            session.create(
                name,
                &CreateOptions {
                    template: Some(from),
                    ..CreateOptions::default()
                },
            )
        })?;
        match &spec.base {
            Base::SqlFiles(files) => sql_files::run_files(&target, files)?,
            Base::Dump(file) => {
                crate::dump::restore(&target, file, &crate::dump::RestoreOptions::default())?;
            }
            Base::Empty | Base::Database(_) => {}
        }
        if let Some((config, project)) = spec.project_config()? {
            migrate(&target, &config, project, project.max_version.clone())?;
        }
        sql_files::run_files(&target, &spec.fixtures)?;
        pool.with(|session| {
            if template {
                session.set_template(name, true)?;
            }
            // The last step: only a build that got here leaves this mark.
            session
                .client()
                .batch_execute(&format!(
                    "COMMENT ON DATABASE {} IS {}",
                    quote_identifier("database", name)?,
                    quote_literal(&registry::completion_mark(name))
                ))
                .map_err(|e| Error::sql(format!("mark {name} complete"), &e))
        })
    }

    fn build_reference(
        &self,
        pool: &MaintenancePool,
        name: &str,
        spec: &TestSpec,
        reference: &ReferenceSpec,
    ) -> Result<()> {
        self.build(pool, name, &reference_spec(spec, reference), false)
    }
}

/// What a reference is built from: its base, and for a fresh install the test's
/// changelogs and parameters up to the version it names, or all of them (whatever the
/// test's own maximum version: an upgrade must equal a fresh install of everything).
fn reference_spec(spec: &TestSpec, reference: &ReferenceSpec) -> TestSpec {
    let mut built = TestSpec::new(&spec.name).base(reference_base(reference));
    if let ReferenceSpec::FreshInstall(version) = reference {
        built.project = spec.project.clone().map(|p| ProjectSpec {
            max_version: version.clone(),
            ..p
        });
    }
    built
}

/// What a reference database starts from.
fn reference_base(reference: &ReferenceSpec) -> Base {
    match reference {
        ReferenceSpec::SqlFiles(files) => Base::SqlFiles(files.clone()),
        ReferenceSpec::Dump(file) => Base::Dump(file.clone()),
        _ => Base::Empty,
    }
}

/// Drops the templates of `project` beyond the newest `cap` (with their spares): those
/// a newer template of their spec replaced first, then the least recently used. Never
/// `current`, nor one a live runner has used (best effort: one that cannot be dropped
/// stays until the next time).
fn evict(session: &mut Maintenance, current: &str, project: &str, cap: i64) {
    let Ok(names) = registry::evictable(session.client(), project, current, cap) else {
        return;
    };
    for name in names {
        forget(session, &name);
    }
}

/// Drops a template (or reference) with its spares and its registry entry; best effort.
fn forget(session: &mut Maintenance, name: &str) {
    let _ = super::cache::drop_template(session, name);
}

/// The project's part of a key: its configuration, its changelogs (up to the spec's
/// maximum version), the application hooks' files and what they may import or read
/// (every file under a Python or executable hook's directory but the changelogs, hidden
/// files, caches and editor files: see [`super::key::is_noise`]), the parameters.
fn hash_project(h: &mut KeyHasher, config: &Config, project: &ProjectSpec) -> Result<()> {
    h.file("config", &project.config)?;
    h.changelogs(&config.changelogs_dir, project.max_version.as_ref())?;
    let changelogs = std::fs::canonicalize(&config.changelogs_dir).ok();
    let mut dirs = std::collections::BTreeSet::new();
    for hook in config
        .application
        .drop
        .iter()
        .chain(&config.application.create)
    {
        if let Some(file) = &hook.file {
            let path = config.base_dir.join(file);
            h.file(&format!("hook {file}"), &path)?;
            if !file.ends_with(".sql")
                && let Some(dir) = path.parent()
            {
                let name = Path::new(file)
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                dirs.insert((name, dir.to_path_buf()));
            }
        }
    }
    for (name, dir) in dirs {
        h.tree(&format!("hook directory {name}"), &dir, &|path| {
            changelogs.is_none()
                || std::fs::canonicalize(path).ok().as_deref() != changelogs.as_deref()
        })?;
    }
    for (name, value) in &project.parameters {
        h.shape("parameter", &format!("{name}={value}"));
    }
    h.shape("max version", &format!("{:?}", project.max_version));
    Ok(())
}

/// The keys of a template: its content, its family (the spec, whatever the contents)
/// and its project (what the cap on templates counts by).
#[derive(Debug, Clone)]
struct Key {
    content: String,
    family: String,
    project: String,
    /// What it is built from, for people (`pum test list`).
    source: String,
}

/// The kind of a reference, without paths (its files count by their contents).
fn reference_kind(reference: &ReferenceSpec) -> String {
    match reference {
        ReferenceSpec::Database(name) => format!("database {name}"),
        ReferenceSpec::SqlFiles(files) => format!("{} SQL files", files.len()),
        ReferenceSpec::Dump(_) => "dump".to_string(),
        ReferenceSpec::FreshInstall(version) => format!("install {version:?}"),
    }
}

/// `path` relative to `root` when under it, else its file name: what names an input in
/// a spec's family, the same whatever the current directory or checkout.
fn relative(root: Option<&Path>, path: &Path) -> String {
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    match root.and_then(|root| canonical.strip_prefix(root).ok()) {
        Some(inner) => inner.display().to_string(),
        None => canonical
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

/// What the cap on templates counts by: the role and the project's configuration file
/// (its canonical path: `./.pum.yaml` and `.pum.yaml` are one project), or, for a spec
/// without changelogs, the directory of its first file; a hash of them.
fn project_of(role: &str, spec: &TestSpec, project: Option<&ProjectSpec>) -> String {
    let place = place_of(spec, project);
    let mut h = blake3::Hasher::new();
    h.update(role.as_bytes());
    h.update(&[0]);
    h.update(place.to_string_lossy().as_bytes());
    h.finalize().to_hex()[..16].to_string()
}

/// Where a spec's files are: the canonical path of its project's configuration file, or
/// the directory of its first file (`(no files)` when it has none).
fn place_of(spec: &TestSpec, project: Option<&ProjectSpec>) -> std::path::PathBuf {
    let first = match &spec.base {
        Base::SqlFiles(files) => files.first(),
        Base::Dump(file) => Some(file),
        _ => None,
    }
    .or(spec.fixtures.first());
    match (project, first) {
        (Some(project), _) => {
            std::fs::canonicalize(&project.config).unwrap_or_else(|_| project.config.clone())
        }
        (None, Some(file)) => std::fs::canonicalize(file)
            .unwrap_or_else(|_| file.clone())
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        (None, None) => std::path::PathBuf::from("(no files)"),
    }
}

/// What `pum test list` says a template is built from: its project's configuration
/// file, else the directory of its files, else the database it copies (or `empty`).
fn source_of(spec: &TestSpec, project: Option<&ProjectSpec>) -> String {
    match (&spec.base, place_of(spec, project)) {
        (Base::Database(name), place) if place.as_os_str() == "(no files)" => {
            format!("database {name}")
        }
        (_, place) if place.as_os_str() == "(no files)" => "empty".to_string(),
        (_, place) => place.display().to_string(),
    }
}

/// Installs (or, on a base that has a migrations table, upgrades) the changelogs.
pub(crate) fn migrate(
    target: &ConnectionSpec,
    config: &Config,
    project: &ProjectSpec,
    max_version: Option<Version>,
) -> Result<()> {
    let upgrader = Upgrader::new(config, target)?;
    // As `pum install` does: the roles .pum.yaml declares are created (those missing) and
    // granted, so a changelog may grant to them and a template's privileges do not depend
    // on which roles the server happens to have.
    let options = MigrateOptions {
        parameters: project.parameters.clone(),
        max_version,
        ..MigrateOptions::default()
    };
    let installed = upgrader.table().exists(&mut target.connect()?)?;
    let outcome = if installed {
        upgrader.upgrade(&options, &mut NoProgress)
    } else {
        upgrader.install(&options, &mut NoProgress)
    };
    match outcome {
        Err(e) if e.sqlstate() == Some("42501") && !config.roles.is_empty() => {
            let names: Vec<&str> = config.roles.iter().map(|r| r.name.as_str()).collect();
            Err(Error::TemplateBuild {
                template: target.dbname().to_string(),
                message: format!(
                    "{e} (the harness creates the roles .pum.yaml declares, {}, as pum install \
                     does: create them once as a role that may (pum -p SERVER role create), or \
                     give {} CREATEROLE)",
                    names.join(", "),
                    target.user()
                ),
            })
        }
        // Within a database made for the build, an object that exists already is one of
        // the server's: a role an earlier build, another template or a test created.
        Err(e) if e.sqlstate() == Some(DUPLICATE_OBJECT) => Err(Error::TemplateBuild {
            template: target.dbname().to_string(),
            message: format!("{e} ({ROLES_OUTLIVE})"),
        }),
        Err(e) => Err(e),
        Ok(_) => Ok(()),
    }
}

/// SQLSTATE `duplicate_object`.
pub(crate) const DUPLICATE_OBJECT: &str = "42710";

/// What a `duplicate_object` error in a template build or a test usually means, and the
/// way out.
pub(crate) const ROLES_OUTLIVE: &str = "if it is a role: roles are the server's and outlive \
    templates and test databases, so CREATE ROLE fails the second time; declare it in \
    .pum.yaml (pum creates a declared role once, if missing) or create it only if missing";
