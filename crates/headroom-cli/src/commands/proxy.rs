//! `headroom proxy`: run the proxy in the foreground until SIGINT/SIGTERM (Ctrl-C on Windows).
//!
//! The runtime is deliberately small (at most two event-loop threads unless
//! `HEADROOM_WORKER_THREADS` says otherwise): the proxy is I/O bound, and every extra worker
//! costs resident memory on a machine where Headroom should be invisible.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use headroom_proxy::{Config, Mode};

use crate::diagnostics::user_error;

/// How long in-flight streams may take to finish after a stop signal.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, clap::Args)]
pub struct ProxyArgs {
    /// Address to listen on (loopback by default; 0.0.0.0 exposes the proxy to your network)
    #[arg(long, env = "HEADROOM_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on
    #[arg(long, short = 'p', env = "HEADROOM_PORT", default_value_t = headroom_proxy::DEFAULT_PORT)]
    pub port: u16,

    /// Accepted for scripts written for the Python tool; compression is cache-safe in both modes
    #[arg(long, env = "HEADROOM_MODE", default_value = "token", value_parser = parse_mode)]
    pub mode: Mode,

    /// Forward every request unchanged (still routes and counts)
    #[arg(long)]
    pub no_optimize: bool,

    /// Count unchanged requests with the real tokenizer too (compressed ones always are)
    #[arg(
        long,
        env = "HEADROOM_EXACT_TOKENS",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub exact_tokens: bool,

    /// Make /readyz depend on reaching the Anthropic API (off: readiness never needs internet)
    #[arg(long)]
    pub check_upstream: bool,

    /// Upstream for Anthropic routes
    #[arg(long, env = "ANTHROPIC_TARGET_API_URL", default_value = headroom_proxy::DEFAULT_ANTHROPIC_URL)]
    pub anthropic_api_url: String,

    /// Upstream for OpenAI routes
    #[arg(long, env = "OPENAI_TARGET_API_URL", default_value = headroom_proxy::DEFAULT_OPENAI_URL)]
    pub openai_api_url: String,

    /// Upstream for ChatGPT-authenticated Codex traffic
    #[arg(long, env = "CHATGPT_TARGET_API_URL", default_value = headroom_proxy::DEFAULT_CHATGPT_URL, hide = true)]
    pub chatgpt_api_url: String,

    /// Also answer requests whose Host is this name (repeatable; `*` for any). Loopback names
    /// and the --host address are always allowed; other Hosts get 403 (DNS-rebinding defence)
    #[arg(
        long = "allowed-host",
        env = "HEADROOM_ALLOWED_HOSTS",
        value_delimiter = ',',
        value_name = "HOST"
    )]
    pub allowed_hosts: Vec<String>,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse()
}

pub fn run(args: ProxyArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    if let Some(limit) = crate::raise_fd_limit() {
        tracing::debug!(limit, "open-file limit");
    }
    let config = Config {
        host: args.host,
        port: args.port,
        anthropic_url: args.anthropic_api_url,
        openai_url: args.openai_api_url,
        chatgpt_url: args.chatgpt_api_url,
        optimize: !args.no_optimize,
        mode: args.mode,
        exact_tokens: args.exact_tokens,
        check_upstream: args.check_upstream,
        deployment: None,
        ledger_dir: headroom_proxy::ledger_dir_from_env(),
        allowed_hosts: args.allowed_hosts,
        workspace: headroom_proxy::workspace_from_env(),
        instance_secret: std::env::var(headroom_protocol::env::INSTANCE_SECRET).ok(),
        ..Config::default()
    };
    let runtime = runtime().context("cannot start the async runtime")?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let port = config.port;
    let handle = match headroom_proxy::start(config).await {
        Ok(handle) => handle,
        Err(err @ headroom_proxy::Error::AddrInUse { .. }) => {
            let hint = format!(
                "another program (maybe another Headroom) is listening on port {port}; \
                 stop it or pass --port <other>"
            );
            return Err(user_error(err.to_string(), Some(&hint)));
        }
        Err(err @ headroom_proxy::Error::InvalidConfig(_)) => {
            return Err(user_error(
                err.to_string(),
                Some("upstream URLs look like https://api.anthropic.com"),
            ));
        }
        Err(err @ headroom_proxy::Error::Bind { .. }) => {
            let msg = format!(
                "{err}: {}",
                std::error::Error::source(&err)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            );
            return Err(user_error(msg, Some("check --host and --port")));
        }
    };
    eprintln!("headroom proxy listening on {}", handle.url());
    tokio::select! {
        _ = stop_signal() => {
            eprintln!("headroom proxy stopping (draining in-flight requests)");
            handle.shutdown(DRAIN_DEADLINE).await;
        }
        _ = handle.wait() => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// Two event-loop threads by default (one on a single-CPU machine; `HEADROOM_WORKER_THREADS`
/// overrides): on an idle 2-core machine two workers sustain 53% of the upstream's direct
/// throughput at 32 connections where one reaches 44%, for ~0.5 MiB more RSS and the same p99
/// (docs/performance.md). More would only compete with the tools for the same cores.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = std::env::var("HEADROOM_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(cpus.min(2));
    if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(4)
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .max_blocking_threads(4)
            .enable_all()
            .build()
    }
}

/// `HEADROOM_LOG` wins over `RUST_LOG`; the default is one info line per request.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("HEADROOM_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| {
            std::env::var("RUST_LOG")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| "warn,headroom_proxy=info".to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[cfg(unix)]
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(windows)]
async fn stop_signal() {
    // Windows has no SIGTERM: a console stops us with Ctrl-C or Ctrl-Break (what
    // `GenerateConsoleCtrlEvent` sends to a process group), and closing the console, logging
    // off or shutting down come as their own events. Each gets a clean shutdown.
    use tokio::signal::windows::{ctrl_break, ctrl_close, ctrl_logoff, ctrl_shutdown};
    match (ctrl_break(), ctrl_close(), ctrl_logoff(), ctrl_shutdown()) {
        (Ok(mut brk), Ok(mut close), Ok(mut logoff), Ok(mut shutdown)) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = brk.recv() => {}
                _ = close.recv() => {}
                _ = logoff.recv() => {}
                _ = shutdown.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
