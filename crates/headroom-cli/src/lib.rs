//! The `headroom` command line. `main.rs` is a shim over [`main`] so end-to-end tests and the
//! desktop app's bundled shim can run exactly the same code.

pub mod cli;
pub mod commands;
pub mod diagnostics;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

/// Parse `args` and run the chosen command; never panics on bad input.
/// Is `word` one of the CLI's commands (hidden ones included)? Lets a binary that is both
/// the app and the CLI (the desktop app) route `wrap-proxy …` or `install agent run` here.
pub fn is_command(word: &str) -> bool {
    use clap::CommandFactory;
    cli::Cli::command()
        .get_subcommands()
        .any(|c| c.get_name() == word || c.get_all_aliases().any(|a| a == word))
}

pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout and usage errors to stderr itself.
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => diagnostics::report(&err),
    }
}
