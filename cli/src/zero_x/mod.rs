//! pum 0.x's command line, run unchanged: `pum upgrade -p SERVICE -t TABLE -d DIR`,
//! `pum check -p1 A -p2 B`, `pum test-and-upgrade -pp P -pt T -pc C …`, `-c
//! db_manager_config.yaml`.
//!
//! `main` asks [`detect`] whether a command line is pum 0.x's (argv.rs) before clap sees
//! it; everything else is the 1.x command line. Both run the same library calls. The
//! rooms: argv.rs (detection, rewriting), cli.rs (the clap structs), config.rs
//! (`ZeroXConfig`, the 0.x configuration file), commands.rs (each command run),
//! info.rs (`info` printed as pum 0.x lays it out).

mod argv;
mod cli;
mod commands;
mod config;
mod info;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use pum::internal::printable;

use super::Output;
use cli::{ZeroXCli, ZeroXCommand};
use config::ZeroXConfig;

pub use argv::detect;

/// Runs a pum 0.x command line.
pub fn run(args: Vec<OsString>, out: Output) -> pum::Result<ExitCode> {
    let cli = match ZeroXCli::try_parse_from(argv::rewrite(args)) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("pum: error: {}", printable(&super::usage_error(&e)));
            return Ok(ExitCode::from(2));
        }
    };
    let config = ZeroXConfig::load(cli.config_file.as_deref(), out)?;
    match cli.command {
        ZeroXCommand::Check(args) => commands::check(&config, args, out),
        ZeroXCommand::Dump(args) => commands::dump(&config, args, out),
        ZeroXCommand::Restore(args) => commands::restore(&config, args, out),
        ZeroXCommand::Baseline(args) => commands::baseline(&config, args, out),
        ZeroXCommand::Info(args) => commands::info(&config, args, out),
        ZeroXCommand::Upgrade(args) => commands::upgrade(&config, args, out),
        ZeroXCommand::TestAndUpgrade(args) => commands::test_and_upgrade(&config, args, out),
    }
}
