//! Carrying out a [`Plan`] on one session (`run_session.rs`): the steps between two
//! commits go to the server as one batch. Files that run outside any transaction always
//! go one by one.

use std::collections::BTreeMap;

use super::app::App;
use super::plan::{HookPhase, Plan, Step};
use super::prepared::Prepared;
use super::run_session::{Item, RunSession};
use super::table::{MigrationsTable, NewMigration};
use super::{MigrateOptions, MigrationReport, Progress};
use crate::changelog::Changelog;
use crate::changelog::params::Parameters;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::roles::{RoleManager, RoleSelection, Warnings};
use crate::version::Version;
use crate::wire::Sql;

/// Fires the deferred constraint checks now, as a commit would, then puts every
/// constraint that is deferred by default back in that mode.
fn settle(client: &mut impl Sql) -> Result<()> {
    client
        .batch("SET CONSTRAINTS ALL IMMEDIATE")
        .map_err(|e| Error::server("check the deferred constraints", &e))?;
    let deferred = client
        .rows(
            "SELECT format('%I.%I', n.nspname, c.conname) FROM pg_constraint c \
             JOIN pg_namespace n ON n.oid = c.connamespace \
             WHERE c.condeferrable AND c.condeferred ORDER BY 1",
        )
        .map_err(|e| Error::server("read the deferred constraints", &e))?;
    let names: Vec<String> = deferred.into_iter().filter_map(|r| r[0].clone()).collect();
    if names.is_empty() {
        return Ok(());
    }
    client
        .batch(&format!("SET CONSTRAINTS {} DEFERRED", names.join(", ")))
        .map_err(|e| Error::server("defer the constraints again", &e))
}

/// What one run works with besides the plan.
pub(crate) struct Run<'a> {
    pub config: &'a Config,
    pub changelogs: &'a [Changelog],
    pub parameters: &'a Parameters,
    pub table: &'a MigrationsTable,
    pub app: App<'a>,
    pub options: &'a MigrateOptions,
    /// The versions the table records, as written there (a downgrade removes them).
    pub recorded: Vec<String>,
}

/// What the steps of a run carry from one to the next.
struct Steps<'a> {
    /// Creates and grants the configuration's roles.
    roles: RoleManager<'a>,
    /// Items not sent yet.
    batch: Vec<Item<'a>>,
    /// Files applied since progress was last told (version, file).
    done: Vec<(usize, usize)>,
    /// The version the database is at, as far as the steps so far go.
    current: Option<Version>,
    /// The report so far.
    report: MigrationReport,
}

impl<'a> Run<'a> {
    /// Carries `plan` out; on error the open transaction is left for the caller to roll
    /// back.
    pub(crate) fn execute(
        &self,
        session: &mut RunSession,
        plan: &Plan,
        progress: &mut dyn Progress,
    ) -> Result<MigrationReport> {
        self.execute_steps(session, plan, progress)
            .map_err(|err| self.explain(err, plan))
    }

    /// A changelog's `CREATE SCHEMA` of the migrations table's own schema fails because
    /// an install makes that schema first (as Python pum does): the error says so and
    /// what to write instead.
    fn explain(&self, err: Error, plan: &Plan) -> Error {
        let schema = self.table.schema();
        match err {
            Error::Statement {
                file,
                line,
                column,
                message,
                code,
                statement,
            } if plan.steps.contains(&Step::CreateTable)
                && code.as_deref() == Some("42P06")
                && message.contains(&format!("schema \"{schema}\" already exists")) =>
            {
                Error::Statement {
                    file,
                    line,
                    column,
                    message: format!(
                        "{message} (pum creates the schema of its migrations table, \
                         migration_table_schema: {schema}, before the changelogs, as Python pum \
                         does: write CREATE SCHEMA IF NOT EXISTS)"
                    ),
                    code,
                    statement,
                }
            }
            other => other,
        }
    }

    /// Carries out the plan's steps on `session`, batching what lies between two commits.
    fn execute_steps(
        &self,
        session: &mut RunSession,
        plan: &Plan,
        progress: &mut dyn Progress,
    ) -> Result<MigrationReport> {
        let mut state = Steps {
            roles: RoleManager::new(&self.config.roles),
            batch: Vec::new(),
            done: Vec::new(),
            current: plan.from.clone(),
            report: MigrationReport {
                from: plan.from.as_ref().map(ToString::to_string),
                warnings: plan.warnings.clone(),
                ..MigrationReport::default()
            },
        };
        if plan.steps.is_empty() {
            return Ok(state.report);
        }
        progress.begin(
            plan.versions
                .iter()
                .map(|&v| self.changelogs[v].files.len())
                .sum(),
        );
        // Python create hooks are imported while the changelogs run.
        if plan.steps.contains(&Step::Hooks(HookPhase::Create)) {
            self.app.preload(HookPhase::Create, session);
        }
        // Roles are created and granted at every commit (the application is made again
        // there); only the last time speaks, when every schema of the run exists.
        let last_roles = plan.steps.iter().rposition(|s| *s == Step::Roles);
        let last_grant = plan.steps.iter().rposition(|s| *s == Step::Grant);
        for (index, step) in plan.steps.iter().enumerate() {
            let last = match step {
                Step::Roles => last_roles,
                Step::Grant => last_grant,
                _ => None,
            };
            let speaks = Some(index) == last;
            self.execute_step(session, plan, step, speaks, &mut state, progress)?;
            if state.batch.is_empty() {
                self.report_done(&mut state.done, &mut state.report, progress);
            }
        }
        session.flush(&mut state.batch)?;
        session.commit()?;
        self.report_done(&mut state.done, &mut state.report, progress);
        progress.end();
        Ok(state.report)
    }

    /// Creates the roles (`Step::Roles`) or grants them (`Step::Grant`) in a transaction
    /// of their own, after the batch so far; gives what they warn of.
    fn roles_step(
        &self,
        session: &mut RunSession,
        batch: &mut Vec<Item>,
        roles: &RoleManager,
        step: &Step,
    ) -> Result<Warnings> {
        session.flush(batch)?;
        session.begin()?;
        if *step == Step::Roles {
            roles.create_in(&mut session.client, None, false)
        } else {
            // Roles left to others (skip_roles) may not exist: those are named.
            let selection = RoleSelection::default();
            let skip = self.options.skip_roles;
            roles.grant_in(&mut session.client, &selection, skip)
        }
    }

    /// Carries out one step: adds to the batch, or sends it first. The roles' warnings are
    /// kept when `speaks` (their last step of the run).
    fn execute_step(
        &self,
        session: &mut RunSession,
        plan: &Plan,
        step: &Step,
        speaks: bool,
        state: &mut Steps<'a>,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        let Steps {
            roles,
            batch,
            done,
            current,
            report,
        } = state;
        match *step {
            Step::CreateTable => batch.push(Item::Sql {
                sql: self.table.create_sql()?,
                doing: format!("create {}", self.table.name()),
            }),
            Step::Hooks(phase) => {
                self.app
                    .run(phase, session, batch, current.as_ref(), progress)?;
            }
            Step::Roles | Step::Grant => {
                let warnings = self.roles_step(session, batch, roles, step)?;
                if speaks {
                    report.warnings.extend(warnings);
                }
            }
            Step::Settle => {
                session.flush(batch)?;
                settle(&mut session.client)?;
            }
            Step::DemoData => {
                if let Some(name) = &self.options.demo_data {
                    self.app.demo_data(name, batch)?;
                }
            }
            Step::File { version, file } => {
                batch.push(Item::Text(self.file(version, file)?));
                done.push((version, file));
            }
            Step::FileAlone { version, file } => {
                session.flush(batch)?;
                session.commit()?;
                super::alone::run_alone(&self.file(version, file)?, &mut session.client)?;
                done.push((version, file));
            }
            Step::DownFile { version, file } => {
                batch.push(Item::Text(self.down_file(version, file, progress)?));
                report.files += 1;
            }
            Step::Unrecord { version } => {
                batch.push(self.unrecord(version));
                report
                    .applied
                    .push(self.changelogs[version].version.to_string());
            }
            Step::Record { version } => {
                batch.push(self.record(version, plan.beta_testing));
                report
                    .applied
                    .push(self.changelogs[version].version.to_string());
                *current = Some(self.changelogs[version].version.clone());
            }
            Step::Commit => {
                session.flush(batch)?;
                session.commit()?;
            }
        }
        Ok(())
    }

    /// Down file `file` of `version`, made ready; `progress` is told.
    fn down_file(
        &self,
        version: usize,
        file: usize,
        progress: &mut dyn Progress,
    ) -> Result<Prepared<'a>> {
        let f = &self.changelogs[version].down[file];
        let prepared = Prepared::changelog_file(f, self.parameters)?;
        progress.undo(&self.changelogs[version].version, &f.name);
        Ok(prepared)
    }

    /// The statement that removes `version`'s rows from the table (a downgrade).
    fn unrecord(&self, version: usize) -> Item<'a> {
        let version = &self.changelogs[version].version;
        let texts: Vec<String> = self
            .recorded
            .iter()
            .filter(|t| Version::parse(t).is_ok_and(|v| &v == version))
            .cloned()
            .collect();
        Item::Sql {
            sql: self.table.delete_sql(&texts),
            doing: format!("remove version {version} from {}", self.table.name()),
        }
    }

    /// The statement that records `version` as applied.
    fn record(&self, version: usize, beta_testing: bool) -> Item<'a> {
        let row = self.row(version, beta_testing);
        Item::Sql {
            sql: self.table.insert_sql(&row),
            doing: format!("record version {} in {}", row.version, self.table.name()),
        }
    }

    /// Tells `progress` and `report` about the files that have run.
    fn report_done(
        &self,
        done: &mut Vec<(usize, usize)>,
        report: &mut MigrationReport,
        progress: &mut dyn Progress,
    ) {
        for (version, file) in done.drain(..) {
            let changelog = &self.changelogs[version];
            progress.file(&changelog.version, &changelog.files[file].name);
            report.files += 1;
        }
    }

    fn file(&self, version: usize, file: usize) -> Result<Prepared<'a>> {
        Prepared::changelog_file(&self.changelogs[version].files[file], self.parameters)
    }

    /// The row recording changelog `version`.
    fn row(&self, version: usize, beta_testing: bool) -> NewMigration<'_> {
        let changelog = &self.changelogs[version];
        NewMigration {
            module: &self.config.module,
            version: &changelog.version,
            beta_testing,
            changelog_files: changelog.files.iter().map(|f| f.name.clone()).collect(),
            parameters: self.parameters.json_text(),
            file_checksums: changelog
                .files
                .iter()
                .map(|f| (f.name.clone(), f.sql.checksum.clone()))
                .collect::<BTreeMap<_, _>>(),
        }
    }
}
