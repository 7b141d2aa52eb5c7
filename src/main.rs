//! The `pum` command line; see `pum --help` and the README.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
