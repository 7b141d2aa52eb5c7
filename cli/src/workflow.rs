//! `pum -p PROD -d DIR test-and-upgrade --test SERVICE [--comp SERVICE]`: the 1.x form of
//! pum 0.x's test-and-upgrade, for changelog projects.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use pum::checker::{CheckOptions, Kind};
use pum::migrate::NoProgress;
use pum::workflow::{Project as Target, Steps, TestAndUpgrade};
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
    run_workflow(&workflow, prod.dbname(), args.yes, out)
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

/// Runs a test-and-upgrade (the 1.x form or pum 0.x's), asking before prod is upgraded
/// unless `yes`.
pub fn run_workflow(
    workflow: &TestAndUpgrade<'_>,
    prod: &str,
    yes: bool,
    out: Output,
) -> pum::Result<ExitCode> {
    let mut confirm = || yes || ask(&format!("Apply deltas to {prod}? [n]|y: "));
    let mut steps = StepLines { out };
    let outcome = workflow.run(&mut confirm, &mut steps)?;
    if let Some(report) = &outcome.differences {
        print!("{}", report.render_text(false));
        eprintln!(
            "pum: error: the upgraded test database differs from the comparison database: prod \
             ({prod}) was not upgraded"
        );
        return Ok(ExitCode::from(1));
    }
    if !outcome.upgraded {
        out.info(format!("prod ({prod}) was not upgraded: not confirmed"));
        return Ok(ExitCode::from(1));
    }
    out.info(format!(
        "prod ({prod}) upgraded from {} to {}",
        outcome.versions.0, outcome.versions.1
    ));
    Ok(ExitCode::SUCCESS)
}

/// Each step on its own line.
struct StepLines {
    out: Output,
}

impl Steps for StepLines {
    fn step(&mut self, what: &str) {
        self.out.info(format!("{what}..."));
    }

    fn done(&mut self, what: &str) {
        self.out.info(format!("  {what}"));
    }

    fn message(&mut self, text: &str) {
        self.out.info(format!("  {text}"));
    }
}

/// Asks on standard error and reads the answer from standard input (a terminal, or `yes`
/// piped in as pum 0.x scripts do): `y` confirms, `n` or an empty line or the end of the
/// input declines; anything else asks again.
fn ask(prompt: &str) -> bool {
    let stdin = std::io::stdin();
    for _ in 0..10 {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => {
                eprintln!();
                return false;
            }
            Ok(_) => {}
        }
        match line.trim() {
            "y" | "Y" => return true,
            "" | "n" | "N" => return false,
            _ => eprintln!("please enter y or n."),
        }
    }
    false
}
