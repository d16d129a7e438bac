//! One module per command; each exposes its clap args and a `run` returning the exit code.

pub mod health;
pub mod install;
pub mod proxy;
pub mod stats;
pub mod wrap;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Proxy(args) => proxy::run(args),
        Command::Health(args) => health::run(args),
        Command::Wrap(args) => wrap::run(args),
        Command::Unwrap(args) => wrap::run_unwrap(args),
        Command::WrapProxy(args) => wrap::run_wrap_proxy(args),
        Command::Install(args) => install::run(args),
        Command::Stats(args) => stats::run(args),
    }
}
