//! Clap types only; behaviour lives in `commands`.

use clap::{Parser, Subcommand};

use crate::commands;

#[derive(Debug, Parser)]
#[command(
    name = "headroom",
    version,
    about = "Local context-optimisation proxy for AI coding tools",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy in the foreground (Ctrl-C stops it)
    Proxy(commands::proxy::ProxyArgs),
    /// Probe a running proxy's /readyz and exit 0 when ready, 1 otherwise
    Health(commands::health::HealthArgs),
    /// Show what Headroom saved: today, the last days, lifetime (from the running proxy)
    Stats(commands::stats::StatsArgs),
    /// Run a coding tool through Headroom
    Wrap(commands::wrap::WrapArgs),
    /// Undo per-tool wiring that `wrap` made
    Unwrap(commands::wrap::UnwrapArgs),
    /// Internal: the detached proxy `wrap` starts; exits after the last wrapped tool
    #[command(hide = true, name = "wrap-proxy")]
    WrapProxy(commands::wrap::WrapProxyArgs),
    /// Install Headroom as a durable background deployment
    Install(commands::install::InstallArgs),
}
