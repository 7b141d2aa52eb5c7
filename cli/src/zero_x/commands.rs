//! Each pum 0.x command run: its options (and the configuration file's) turned into
//! one library call, and what it did printed as pum 0.x did.

use std::process::ExitCode;
use std::time::Duration;

use pum::checker::{CheckOptions, Kind};
use pum::hooks::Variable;
use pum::internal::printable;
use pum::migrate::Progress;
use pum::migrate::zero_x::{DeltaOptions, DeltaUpgrader};
use pum::workflow::{Project, TestAndUpgrade};
use pum::{ConnectionSpec, DumpOptions, RestoreOptions};

use super::cli::{
    BaselineArgs, CheckArgs, DumpArgs, Ignores, InfoArgs, RestoreArgs, Run, TestAndUpgradeArgs,
    UpgradeArgs,
};
use super::config::ZeroXConfig;
use super::info::print_info;
use crate::Output;

/// `dump -p SERVICE FILE`.
pub(super) fn dump(config: &ZeroXConfig, args: DumpArgs, out: Output) -> pum::Result<ExitCode> {
    let spec = service(&args.pg_service, out)?;
    let options = DumpOptions {
        exclude_schemas: args.exclude_schema,
        pg_dump: config.pg_dump_exe.clone(),
        ..DumpOptions::default()
    };
    pum::dump(&spec, &args.file, &options)?;
    out.info(format!(
        "dumped {} to {}",
        args.pg_service,
        args.file.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// `restore -p SERVICE FILE [-x]`.
pub(super) fn restore(
    config: &ZeroXConfig,
    args: RestoreArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    let spec = service(&args.pg_service, out)?;
    let options = RestoreOptions {
        ignore_errors: args.ignore_errors,
        exclude_schemas: args.exclude_schema,
        pg_restore: config.pg_restore_exe.clone(),
        psql: None,
    };
    let summary = pum::restore(&spec, &args.file, &options)?;
    if summary.ignored_errors > 0 {
        out.warn(format!(
            "{} error(s) ignored while restoring: {}",
            summary.ignored_errors, summary.messages
        ));
    }
    out.info(format!(
        "restored {} into {}",
        args.file.display(),
        args.pg_service
    ));
    Ok(ExitCode::SUCCESS)
}

/// `baseline -p SERVICE -t TABLE -d DIR -b VERSION`.
pub(super) fn baseline(
    config: &ZeroXConfig,
    args: BaselineArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    let spec = service(&args.pg_service, out)?;
    let (table, dirs) = config.deltas(args.deltas)?;
    let upgrader = DeltaUpgrader::new(&spec, &table, &dirs)?;
    upgrader.baseline(&args.baseline)?;
    out.info(format!(
        "recorded baseline {} in {}",
        args.baseline,
        upgrader.table().name()
    ));
    Ok(ExitCode::SUCCESS)
}

/// `info -p SERVICE -t TABLE -d DIR`.
pub(super) fn info(config: &ZeroXConfig, args: InfoArgs, out: Output) -> pum::Result<ExitCode> {
    let spec = service(&args.pg_service, out)?;
    let (table, dirs) = config.deltas(args.deltas)?;
    let info = DeltaUpgrader::new(&spec, &table, &dirs)?.info()?;
    print_info(&info);
    Ok(ExitCode::SUCCESS)
}

/// `upgrade -p SERVICE -t TABLE -d DIR`.
pub(super) fn upgrade(
    config: &ZeroXConfig,
    args: UpgradeArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    let spec = service(&args.pg_service, out)?;
    let (table, dirs) = config.deltas(args.deltas)?;
    let upgrader = DeltaUpgrader::new(&spec, &table, &dirs)?;
    let options = DeltaOptions {
        transaction: args.transaction.mode(),
        ..delta_options(&args.run)?
    };
    if args.run.verbose {
        let plan = upgrader.plan(&options)?;
        for delta in plan.pending(upgrader.deltas()) {
            out.info(format!("will apply {}", delta.script));
        }
    }
    let mut shown = Shown { out };
    let report = upgrader.upgrade(&options, &mut shown)?;
    for warning in &report.warnings {
        out.warn(warning);
    }
    let deltas = report
        .files
        .len()
        .saturating_sub(upgrader.deltas().pre_all.len() + upgrader.deltas().post_all.len());
    out.info(format!(
        "upgraded {} from {} to {} ({deltas} delta(s))",
        args.pg_service, report.from, report.to
    ));
    Ok(ExitCode::SUCCESS)
}

/// A service name (or any connection string) resolved.
fn service(name: &str, out: Output) -> pum::Result<ConnectionSpec> {
    let spec = ConnectionSpec::resolve(name)?;
    for warning in spec.warnings() {
        out.warn(warning);
    }
    out.detail(format!("connection: {spec}"));
    Ok(spec)
}

fn delta_options(run: &Run) -> pum::Result<DeltaOptions> {
    Ok(DeltaOptions {
        max_version: run.max_version.clone(),
        variables: run
            .var
            .chunks(3)
            .map(|v| Ok((v[1].clone(), Variable::parse(&v[0], &v[1], &v[2])?)))
            .collect::<pum::Result<_>>()?,
        lock_timeout: Duration::from_secs(run.lock_timeout),
        ..DeltaOptions::default()
    })
}

fn check_options(config: &ZeroXConfig, ignores: Ignores) -> pum::Result<CheckOptions> {
    let ignore = if ignores.ignore.is_empty() {
        config.ignore_elements.clone()
    } else {
        ignores.ignore
    };
    Ok(CheckOptions {
        ignore: ignore
            .iter()
            .map(|k| Kind::parse(k))
            .collect::<pum::Result<_>>()?,
        exclude_schemas: ignores.exclude_schema,
        exclude_column_patterns: ignores.exclude_field_pattern,
        ..CheckOptions::default()
    })
}

/// `check -p1 A -p2 B`: compare two databases.
pub(super) fn check(config: &ZeroXConfig, args: CheckArgs, out: Output) -> pum::Result<ExitCode> {
    let left = service(&args.pg_service1, out)?;
    let right = service(&args.pg_service2, out)?;
    let report = pum::check(&left, &right, &check_options(config, args.ignores)?)?;
    // pum 0.x's levels cut lines at 79 characters or not; the report is always whole.
    let _ = args.verbose_level;
    if args.silent.is_some() {
        println!(
            "{}",
            if report.is_empty() {
                "no difference"
            } else {
                "differences found"
            }
        );
        return Ok(if report.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    crate::check::write(
        &report,
        args.output_file.as_deref(),
        crate::check::Format::Text,
    )
}

/// Deltas as they run, on standard error; what code prints, on standard output.
struct Shown {
    out: Output,
}

impl Progress for Shown {
    fn delta(&mut self, what: &str) {
        self.out.info(format!("applying {what}"));
    }

    fn message(&mut self, text: &str) {
        println!("{}", printable(text));
    }
}

/// `test-and-upgrade -pp P -pt T -pc C`: try the upgrade on a copy of prod first.
pub(super) fn test_and_upgrade(
    config: &ZeroXConfig,
    args: TestAndUpgradeArgs,
    out: Output,
) -> pum::Result<ExitCode> {
    let prod = service(&args.pg_service_prod, out)?;
    let test = service(&args.pg_service_test, out)?;
    let comp = service(&args.pg_service_comp, out)?;
    let (table, dirs) = config.deltas(args.deltas)?;
    let options = delta_options(&args.run)?;
    let workflow = TestAndUpgrade {
        prod: &prod,
        test: &test,
        comp: &comp,
        project: Project::Deltas {
            table: &table,
            dirs: &dirs,
            options,
            python: None,
        },
        dump_file: args.file.or_else(|| config.backup_file.clone()),
        keep_dump: args.keep_dump,
        dump: DumpOptions {
            exclude_schemas: args.ignores.exclude_schema.clone(),
            pg_dump: config.pg_dump_exe.clone(),
            ..DumpOptions::default()
        },
        restore: RestoreOptions {
            ignore_errors: args.ignore_errors,
            exclude_schemas: Vec::new(),
            pg_restore: config.pg_restore_exe.clone(),
            psql: None,
        },
        check: check_options(config, args.ignores)?,
    };
    crate::workflow::run_workflow(&workflow, &args.pg_service_prod, args.yes, out)
}
