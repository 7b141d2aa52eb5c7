//! `pum completions SHELL` and `pum man`: the shell completion script and the manual
//! pages, both made from the command line's own definition (clap_complete,
//! clap_mangen), so they cannot drift from it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;
use pum::internal::printable;

use super::{Cli, Output};

/// `pum completions SHELL`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// `pum man [COMMAND…] [--out-dir DIR]`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print (`pum man db create`); none: pum's own page.
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
    /// Write a page for every command and subcommand into DIR instead (pum.1,
    /// pum-install.1, pum-db-create.1…), creating DIR if need be.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out_dir: Option<PathBuf>,
}

/// Prints the completion script for `args.shell` to standard output.
pub fn completions(args: CompletionsArgs) -> pum::Result<ExitCode> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "pum", &mut script);
    print!("{}", String::from_utf8_lossy(&script));
    Ok(ExitCode::SUCCESS)
}

/// Prints a command's manual page (roff), or writes every page into `--out-dir`.
pub fn man(args: ManArgs, out: Output) -> pum::Result<ExitCode> {
    let mut root = Cli::command().disable_help_subcommand(true);
    // Gives each subcommand its page's name (pum-db-create) and its full usage line.
    root.build();
    if let Some(dir) = args.out_dir {
        let pages = pages(&root)?;
        std::fs::create_dir_all(&dir).map_err(|e| pum::Error::io(&dir, e))?;
        for (name, text) in &pages {
            pum::internal::write(&dir.join(name), text)?;
        }
        out.info(format!(
            "wrote {} manual pages to {}",
            pages.len(),
            printable(&dir.to_string_lossy())
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let mut command = &root;
    for (depth, word) in args.command.iter().enumerate() {
        command = command
            .get_subcommands()
            .find(|sub| !sub.is_hide_set() && sub.get_name() == word)
            .ok_or_else(|| pum::Error::Unsupported {
                message: format!(
                    "there is no command \"pum {}\" (see {} --help)",
                    printable(&args.command[..=depth].join(" ")),
                    printable(
                        &["pum"]
                            .into_iter()
                            .chain(args.command[..depth].iter().map(String::as_str))
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                ),
            })?;
    }
    print!("{}", String::from_utf8_lossy(&page(command)?));
    Ok(ExitCode::SUCCESS)
}

/// Every page under `command` (itself included, hidden commands left out): file name
/// and roff text, made before anything is written.
fn pages(command: &clap::Command) -> pum::Result<Vec<(String, Vec<u8>)>> {
    let mut all = vec![(
        clap_mangen::Man::new(command.clone()).get_filename(),
        page(command)?,
    )];
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        all.extend(pages(sub)?);
    }
    Ok(all)
}

/// One command's page.
fn page(command: &clap::Command) -> pum::Result<Vec<u8>> {
    let mut text = Vec::new();
    clap_mangen::Man::new(command.clone())
        // Every page says which pum it documents (clap gives subcommands no version).
        .source(format!("pum {}", env!("CARGO_PKG_VERSION")))
        .render(&mut text)
        .map_err(|e| pum::Error::io("-", e))?;
    Ok(text)
}
