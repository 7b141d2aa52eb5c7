//! The application around the changelogs, as a run carries it out: the `application`
//! hooks (drop before the changelogs, create after), the `uninstall` hooks and the demo
//! data sets of `.pum.yaml`, and the Rust hooks a library user adds.
//!
//! A hook is inline SQL (`code`), a file, or a Rust [`Hook`]:
//! - a `.sql` file: split, checked and its `{name}` parameters rendered as literals, like
//!   a changelog file (but `app_only` parameters are allowed);
//! - a `.py` file: a pum 1.x `HookBase` hook, run by the Python bridge
//!   ([`crate::hooks`]) in the run's transaction, with every parameter's value;
//! - any other file with the run bit: an executable, with the connection in `PG*`
//!   variables and the parameters as `PUM_PARAM_<NAME>` (Python pum cannot run these:
//!   a project using one is for this pum only);
//! - Rust hooks added with [`super::Upgrader::hook`] run after the configured hooks of
//!   their phase.
//!
//! Code other users could have written is refused.
//!
//! [`Upgrader::application`] and [`Upgrader::uninstall`], the runs of these hooks
//! without the changelogs, are here too.

use std::path::{Path, PathBuf};

use super::options::{AppAction, AppOptions};
use super::plan::{self, HookPhase};
use super::prepared::Prepared;
use super::run_session::{Item, RunSession};
use super::{Progress, Upgrader, run_session};
use crate::changelog::SqlText;
use crate::changelog::params::{ParamValue, Parameters};
use crate::config::{Config, HookEntry};
use crate::error::{Error, Result};
use crate::hooks::{Code, CodeKind, Hook, HookContext, Variable};
use crate::version::Version;

/// A Rust hook added to a phase.
pub(crate) struct RustHook {
    pub phase: HookPhase,
    pub name: String,
    pub hook: Box<dyn Hook>,
}

/// What hooks run with, besides the session.
pub(crate) struct App<'a> {
    pub config: &'a Config,
    pub parameters: &'a Parameters,
    pub rust: &'a [RustHook],
    pub python: Option<&'a Path>,
    /// `schema.pum_migrations`.
    pub table: String,
}

/// How one configured hook runs.
enum Runs<'a> {
    Sql(Prepared<'a>),
    Python(PathBuf),
    Executable(PathBuf),
}

impl<'a> App<'a> {
    /// The configured hooks of `phase`.
    fn configured(&self, phase: HookPhase) -> &[HookEntry] {
        match phase {
            HookPhase::Drop => &self.config.application.drop,
            HookPhase::Create => &self.config.application.create,
            HookPhase::Uninstall => &self.config.uninstall,
        }
    }

    /// Runs the hooks of `phase`: SQL goes into `batch`; code runs at once on the
    /// session (after what the batch holds), in its transaction.
    pub(crate) fn run(
        &self,
        phase: HookPhase,
        session: &mut RunSession,
        batch: &mut Vec<Item<'a>>,
        current: Option<&Version>,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        for (index, hook) in self.configured(phase).iter().enumerate() {
            match self.prepare(hook, phase, index)? {
                Runs::Sql(prepared) => batch.push(Item::Text(prepared)),
                Runs::Python(file) => {
                    self.code(CodeKind::HookBase, &file, session, batch, current, progress)?
                }
                Runs::Executable(file) => self.code(
                    CodeKind::Executable,
                    &file,
                    session,
                    batch,
                    current,
                    progress,
                )?,
            }
        }
        for rust in self.rust.iter().filter(|h| h.phase == phase) {
            session.flush(batch)?;
            session.begin()?;
            let variables = self.variables();
            let mut messages = |line: &str| progress.message(line);
            let mut cx = HookContext {
                session: &mut session.client,
                name: rust.name.clone(),
                current_version: current.cloned(),
                target_version: None,
                dir: self.config.base_dir.clone(),
                table: self.table.clone(),
                variables: &variables,
                messages: &mut messages,
            };
            rust.hook.run(&mut cx)?;
        }
        Ok(())
    }

    /// How `hook` runs: its SQL made ready, or the code file to start.
    fn prepare(&self, hook: &HookEntry, phase: HookPhase, index: usize) -> Result<Runs<'a>> {
        let Some(file) = &hook.file else {
            let name = format!("{}[{index}] code", phase.key());
            let text = SqlText::new(hook.code.clone().unwrap_or_default());
            return Ok(Runs::Sql(Prepared::new(
                text.text,
                &name,
                self.parameters,
                false,
            )?));
        };
        let path = self.config.base_dir.join(file);
        match Path::new(file).extension().and_then(|e| e.to_str()) {
            Some("sql") => {
                let text = self.config.read_sql(file)?;
                Ok(Runs::Sql(Prepared::new(
                    text.text,
                    file,
                    self.parameters,
                    false,
                )?))
            }
            Some("py") => self.python_file(file).map(Runs::Python),
            _ if is_executable(&path) => {
                trusted(&path)?;
                Ok(Runs::Executable(path))
            }
            _ => Err(Error::Config {
                location: self.config.path.display().to_string(),
                message: format!(
                    "{}[{index}]: {file}: a hook file is a .sql or .py file, or an \
                     executable (run bit set)",
                    phase.key()
                ),
            }),
        }
    }

    /// The Python hook file `file` (relative to the project), unless another user could
    /// have written it.
    fn python_file(&self, file: &str) -> Result<PathBuf> {
        let path = self.config.base_dir.join(file);
        trusted(&path)?;
        Ok(path)
    }

    /// Runs a Python hook or an executable as a child on the run's session.
    fn code(
        &self,
        kind: CodeKind,
        file: &Path,
        session: &mut RunSession,
        batch: &mut Vec<Item>,
        current: Option<&Version>,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        session.flush(batch)?;
        session.begin()?;
        self.with_code(kind, file, current, |code| {
            session
                .code
                .run(session.client.raw(code.shown)?, code, &mut |line| {
                    progress.message(line)
                })
        })
    }

    /// Has the Python bridge import the Python hook files of `phase` now, while the
    /// changelogs run (see [`crate::hooks::Runner::preload`]); their runs report any
    /// error.
    pub(crate) fn preload(&self, phase: HookPhase, session: &mut RunSession) {
        let Ok(spec) = session
            .client
            .raw("the Python hooks")
            .map(|s| s.spec().clone())
        else {
            return;
        };
        // Only the Python files (the SQL ones are read when they run, not twice), and only
        // those that may be run.
        let files: Vec<PathBuf> = self
            .configured(phase)
            .iter()
            .filter_map(|hook| hook.file.as_deref())
            .filter(|file| Path::new(file).extension().and_then(|e| e.to_str()) == Some("py"))
            .filter_map(|file| self.python_file(file).ok())
            .collect();
        let variables = self.variables();
        let named: Vec<(String, String)> = files.iter().map(|f| self.names(f)).collect();
        let codes: Vec<Code> = files
            .iter()
            .zip(&named)
            .map(|(file, (shown, module))| {
                self.code_of(CodeKind::HookBase, file, shown, module, None, &variables)
            })
            .collect();
        session.code.preload(&spec, &codes);
    }

    /// What `file` is told when it runs as `kind`, handed to `f`.
    fn with_code<T>(
        &self,
        kind: CodeKind,
        file: &Path,
        current: Option<&Version>,
        f: impl FnOnce(&Code) -> T,
    ) -> T {
        let (shown, module) = self.names(file);
        let variables = self.variables();
        f(&self.code_of(kind, file, &shown, &module, current, &variables))
    }

    /// How errors name `file`, and its Python module name.
    fn names(&self, file: &Path) -> (String, String) {
        let shown = file
            .strip_prefix(&self.config.base_dir)
            .unwrap_or(file)
            .display()
            .to_string();
        let module = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        (shown, module)
    }

    /// What `file` is told when it runs as `kind`.
    fn code_of<'c>(
        &'c self,
        kind: CodeKind,
        file: &'c Path,
        shown: &'c str,
        module: &'c str,
        current: Option<&'c Version>,
        variables: &'c [(String, Variable)],
    ) -> Code<'c> {
        Code {
            kind,
            file,
            shown,
            module,
            current_version: current,
            target_version: None,
            delta_dir: self.config.base_dir.display().to_string(),
            delta_dirs: Vec::new(),
            service: "pum",
            table: &self.table,
            variables,
            python: self.python,
            parameters: self.parameters.json_text(),
            base_dir: Some(&self.config.base_dir),
            dependencies: self.dependencies(),
        }
    }

    /// The parameters as variables (for executables' `PUM_PARAM_<NAME>` and Rust hooks).
    fn variables(&self) -> Vec<(String, Variable)> {
        self.config
            .parameters
            .iter()
            .filter_map(|def| {
                let value = match self.parameters.get(&def.name)? {
                    ParamValue::Null => return None,
                    ParamValue::Integer(i) => Variable::Int(i.to_string()),
                    other => Variable::Text(other.to_string()),
                };
                Some((def.name.clone(), value))
            })
            .collect()
    }

    /// `dependencies:` as the bridge reads them.
    fn dependencies(&self) -> String {
        let string = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        let optional = |v: &Option<crate::config::Scalar>| {
            v.as_ref()
                .map_or("null".to_string(), |v| string(&v.to_string()))
        };
        let items: Vec<String> = self
            .config
            .dependencies
            .iter()
            .map(|d| {
                format!(
                    "[{}, {}, {}]",
                    string(&d.name),
                    optional(&d.minimum_version),
                    optional(&d.maximum_version)
                )
            })
            .collect();
        format!("[{}]", items.join(", "))
    }

    /// The files of demo data set `name`, made ready, into `batch`.
    pub(crate) fn demo_data(&self, name: &str, batch: &mut Vec<Item<'a>>) -> Result<()> {
        let set = self
            .config
            .demo_data
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| crate::error::Conflict::UnknownDemoData {
                name: name.to_string(),
                known: self.config.demo_data_names(),
            })?;
        for file in set.file.iter().chain(set.files.iter().flatten()) {
            let text = self.config.read_sql(file)?;
            batch.push(Item::Text(Prepared::new(
                text.text,
                file,
                self.parameters,
                false,
            )?));
        }
        Ok(())
    }
}

impl HookPhase {
    /// The configuration's key for the phase's hooks.
    pub(crate) fn key(self) -> &'static str {
        match self {
            HookPhase::Drop => "application.drop",
            HookPhase::Create => "application.create",
            HookPhase::Uninstall => "uninstall",
        }
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    false
}

/// Refuses code another user could have written.
fn trusted(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        ));
    }
    crate::files::refuse_foreign_writable(path, &meta)
}

/// The application alone, and uninstall: runs of the application's hooks without the
/// changelogs.
impl Upgrader<'_> {
    /// Runs the application's hooks on an installed module, in one transaction under the
    /// migration lock: `Drop` runs the drop hooks, `Create` the create hooks then grants
    /// the roles their permissions (which hooks that recreate schemas take away),
    /// `Recreate` both. `app_only` parameters may differ from those recorded; the others
    /// may not. Returns what was skipped (roles that do not exist).
    ///
    /// # Errors
    /// The [application refusals](crate::migrate#refusals); hook and SQL errors (then nothing changed).
    pub fn application(
        &self,
        action: AppAction,
        options: &AppOptions,
        progress: &mut dyn Progress,
    ) -> Result<Vec<String>> {
        let parameters = Parameters::resolve(&self.config.parameters, &options.parameters)?;
        self.locked(options.lock_timeout, |session| {
            session.begin()?;
            let applied = self.applied(session, false)?;
            let current = plan::application(self.config, &applied, &parameters, false)?;
            let app = self.app(&parameters);
            let mut batch = Vec::new();
            if action != AppAction::Create {
                app.run(
                    HookPhase::Drop,
                    session,
                    &mut batch,
                    Some(&current),
                    progress,
                )?;
            }
            let mut warnings = Vec::new();
            if action != AppAction::Drop {
                app.run(
                    HookPhase::Create,
                    session,
                    &mut batch,
                    Some(&current),
                    progress,
                )?;
                if !options.skip_grant && !self.config.roles.is_empty() {
                    session.flush(&mut batch)?;
                    let selection = crate::roles::RoleSelection {
                        roles: None,
                        suffix: options.suffix.clone(),
                    };
                    warnings = crate::roles::RoleManager::new(&self.config.roles).grant_in(
                        &mut session.client,
                        &selection,
                        true,
                    )?;
                }
            }
            session.flush(&mut batch)?;
            session.commit()?;
            Ok(warnings)
        })
    }

    /// Uninstalls the module: runs the uninstall hooks, then drops the migrations table
    /// (if the hooks left it), in one transaction under the migration lock.
    ///
    /// # Errors
    /// [`crate::Error::Refused`] when the configuration declares no uninstall hook; the
    /// [application refusals](crate::migrate#refusals) (a database where the module is not installed,
    /// or another module is); hook and SQL errors (then nothing changed).
    pub fn uninstall(&self, options: &AppOptions, progress: &mut dyn Progress) -> Result<()> {
        if self.config.uninstall.is_empty() && !self.hooked().contains(&HookPhase::Uninstall) {
            return Err(crate::error::Error::Refused {
                operation: "uninstall".into(),
                reason: format!(
                    "{} declares no uninstall hooks (add an uninstall: section that drops what \
                     the module made)",
                    self.config.path.display()
                ),
            });
        }
        let parameters = Parameters::resolve(&self.config.parameters, &options.parameters)?;
        self.locked(options.lock_timeout, |session| {
            session.begin()?;
            let applied = self.applied(session, false)?;
            let current = plan::application(self.config, &applied, &parameters, true)?;
            let mut batch = Vec::new();
            self.app(&parameters).run(
                HookPhase::Uninstall,
                session,
                &mut batch,
                Some(&current),
                progress,
            )?;
            batch.push(run_session::Item::Sql {
                sql: format!("DROP TABLE IF EXISTS {}", self.table.quoted()),
                doing: format!("drop {}", self.table.name()),
            });
            session.flush(&mut batch)?;
            session.commit()
        })
    }
}
