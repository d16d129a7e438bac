//! The `headroom` command line. `main.rs` is a shim over [`main`] so end-to-end tests and the
//! desktop app's bundled shim can run exactly the same code.

pub mod cli;
pub mod commands;
pub mod diagnostics;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

/// Is `word` one of the CLI's commands (hidden ones included)? Lets a binary that is both
/// the app and the CLI (the desktop app) route `wrap-proxy …` or `install agent run` here.
pub fn is_command(word: &str) -> bool {
    use clap::CommandFactory;
    cli::Cli::command()
        .get_subcommands()
        .any(|c| c.get_name() == word || c.get_all_aliases().any(|a| a == word))
}

/// Raise this process's open-file soft limit to its hard limit (at most 65,536), for a process
/// about to serve connections.
///
/// Every client connection and every upstream connection is a file descriptor. Linux starts
/// processes at a soft limit of 1,024, so about a thousand idle connections (a buggy client, a
/// scan) would lock every tool out of the proxy. Raising the soft limit needs no privilege;
/// the hard limit stays where the administrator put it. macOS refuses values above
/// `OPEN_MAX` (10,240) for an unlimited hard limit, so that is the fallback. Returns the soft
/// limit in force afterwards, `None` where there is no such limit (Windows).
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        const WANTED: u64 = 65_536;
        let limit = getrlimit(Resource::Nofile);
        let current = limit.current?;
        let target = limit.maximum.map_or(WANTED, |max| max.min(WANTED));
        if current >= target {
            return Some(current);
        }
        for value in [target, target.min(10_240)] {
            let raised = Rlimit {
                current: Some(value),
                maximum: limit.maximum,
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                return Some(value);
            }
        }
        Some(current)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Parse `args` and run the chosen command; never panics on bad input.
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
