//! `pum -p PROD -d DIR test-and-upgrade --test SERVICE [--comp SERVICE]`: the 1.x form of
//! pum 0.x's test-and-upgrade, for changelog projects.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use pum::checker::{CheckOptions, Kind};
use pum::migrate::NoProgress;
use pum::workflow::{Project as Target, TestAndUpgrade};
use pum::{ConnectionSpec, CreateOptions, DropOptions, DumpOptions, RestoreOptions, Upgrader};

use super::Output;
use super::migrate::{Project, RunArgs, options};

/// `pum test-and-upgrade`.
#[derive(Debug, Args)]
pub struct TestAndUpgradeArgs {
    /// The test database (service, URL or keyword string): prod's copy is restored there
    /// and upgraded. It is emptied first.
    #[arg(long, value_name = "CONNECTION")]
    pub test: String,
    /// The comparison database: what test must equal after the upgrade. Unset: a fresh
    /// install of the changelogs on pum's ephemeral server.
    #[arg(long, value_name = "CONNECTION")]
    pub comp: Option<String>,
    /// Where the dump goes (a temporary file by default; removed unless --keep-dump).
    #[arg(short = 'f', long = "dump-file", value_name = "FILE")]
    pub dump_file: Option<PathBuf>,
    /// Keep the dump file.
    #[arg(long)]
    pub keep_dump: bool,
    /// Go on past pg_restore errors.
    #[arg(short = 'x', long)]
    pub ignore_restore_errors: bool,
    /// Kinds of object the comparison ignores.
    #[arg(short = 'i', long = "ignore", value_name = "KIND", num_args = 1..)]
    pub ignore: Vec<String>,
    /// A schema left out of the dump and the comparison (repeatable).
    #[arg(short = 'N', long = "exclude-schema", value_name = "SCHEMA")]
    pub exclude_schemas: Vec<String>,
    /// Columns the comparison leaves out, by SQL LIKE pattern (repeatable).
    #[arg(short = 'P', long = "exclude-field-pattern", value_name = "PATTERN")]
    pub exclude_patterns: Vec<String>,
    /// Upgrade prod without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn run(
    prod: &ConnectionSpec,
    project: &Project,
    args: TestAndUpgradeArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    let config = project.load()?;
    let test = crate::resolve(&args.test, out)?;
    let migrate = options(args.run);
    // Without a comparison database: the changelogs installed fresh on the ephemeral
    // server, dropped at the end.
    let scratch = match &args.comp {
        Some(_) => None,
        None => {
            out.info("Install the changelogs on the ephemeral server for comparison...");
            let server = pum::server::Server::shared()?;
            let name = format!("pum_comp_{}", std::process::id());
            pum::create_database(server.spec(), &name, &CreateOptions::default())?;
            let scratch = Scratch {
                maintenance: server.spec().clone(),
                spec: server.spec().with_dbname(&name),
                name,
            };
            Upgrader::new(&config, &scratch.spec)?.install(&migrate, &mut NoProgress)?;
            Some(scratch)
        }
    };
    let comp = match (&args.comp, &scratch) {
        (_, Some(scratch)) => scratch.spec.clone(),
        (comp, None) => crate::resolve(comp.as_deref().unwrap_or_default(), out)?,
    };
    let workflow = TestAndUpgrade {
        prod,
        test: &test,
        comp: &comp,
        project: Target::Changelogs {
            config: &config,
            options: migrate,
        },
        dump_file: args.dump_file,
        keep_dump: args.keep_dump,
        dump: DumpOptions {
            exclude_schemas: args.exclude_schemas.clone(),
            ..DumpOptions::default()
        },
        restore: RestoreOptions {
            ignore_errors: args.ignore_restore_errors,
            ..RestoreOptions::default()
        },
        check: CheckOptions {
            ignore: args
                .ignore
                .iter()
                .map(|k| Kind::parse(k))
                .collect::<pum::Result<_>>()?,
            exclude_schemas: args.exclude_schemas,
            exclude_column_patterns: args.exclude_patterns,
            ..CheckOptions::default()
        },
    };
    super::legacy::run_workflow(&workflow, prod.dbname(), args.yes, out)
}

/// A comparison database made for one run, dropped when done.
struct Scratch {
    maintenance: ConnectionSpec,
    spec: ConnectionSpec,
    name: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = pum::drop_database(
            &self.maintenance,
            &self.name,
            &DropOptions {
                force: true,
                if_exists: true,
            },
        );
    }
}
