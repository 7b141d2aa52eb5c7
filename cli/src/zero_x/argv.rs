//! Which command lines are pum 0.x's, and its multi-letter short options (`-p1`, `-pp`)
//! rewritten in the long forms clap reads.
//!
//! A command line is read as pum 0.x's when an option only pum 0.x has follows the
//! command (`-t`, `-p1`, `-pp`, `--pg_service`, `-d` after it, `-p` after `dump`,
//! `restore`, `check`, `baseline` or `info`), or when `-c` names a file with pum 0.x's
//! keys.

use std::ffi::OsString;
use std::path::Path;

use super::config::is_zero_x_config;

/// The commands pum 0.x had.
const COMMANDS: [&str; 7] = [
    "check",
    "dump",
    "restore",
    "baseline",
    "info",
    "upgrade",
    "test-and-upgrade",
];

/// Whether `args` (the whole command line) is pum 0.x's.
pub fn detect(args: &[OsString]) -> bool {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut i = 1;
    let mut config = None;
    while let Some(arg) = args.get(i) {
        let name = arg.split('=').next().unwrap_or(arg);
        let with_value = matches!(
            name,
            "-p" | "-s" | "--pg-connection" | "-d" | "--dir" | "-c" | "--config" | "--config_file"
        );
        if matches!(name, "-c" | "--config" | "--config_file") {
            config = match arg.split_once('=') {
                Some((_, value)) => Some(value.to_string()),
                None => args.get(i + 1).cloned(),
            };
        }
        if with_value && !arg.contains('=') {
            i += 2;
        } else if arg.starts_with('-') {
            i += 1;
        } else {
            break;
        }
    }
    let Some(command) = args.get(i).filter(|c| COMMANDS.contains(&c.as_str())) else {
        return false;
    };
    let rest = &args[i + 1..];
    let has = |options: &[&str]| {
        rest.iter()
            .any(|a| options.contains(&a.split('=').next().unwrap_or(a)))
    };
    let zero_x_only = has(&[
        "-t",
        "--table",
        "-p1",
        "-p2",
        "-pp",
        "-pt",
        "-pc",
        "--pg_service",
        "--pg_service1",
        "--pg_service2",
        "--pg_service_prod",
        "--pg_service_test",
        "--pg_service_comp",
        "-d",
        "--dir",
    ]) || (matches!(
        command.as_str(),
        "dump" | "restore" | "check" | "baseline" | "info"
    ) && has(&["-p"]));
    zero_x_only || config.is_some_and(|file| is_zero_x_config(Path::new(&file)))
}

/// pum 0.x's multi-letter short options, in the long forms clap reads.
pub(super) fn rewrite(args: Vec<OsString>) -> Vec<OsString> {
    args.into_iter()
        .map(|arg| {
            let long = match arg.to_str() {
                Some("-p1") => "--pg_service1",
                Some("-p2") => "--pg_service2",
                Some("-pp") => "--pg_service_prod",
                Some("-pt") => "--pg_service_test",
                Some("-pc") => "--pg_service_comp",
                Some("-vv") => "--verbose",
                _ => return arg,
            };
            OsString::from(long)
        })
        .collect()
}
