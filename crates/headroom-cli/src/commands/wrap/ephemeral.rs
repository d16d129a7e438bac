//! The ephemeral proxy: `headroom wrap-proxy` (hidden), started detached by `wrap`.
//!
//! It runs the proxy library in-process in its own session (so the terminal's Ctrl-C and hang-up
//! do not reach it) and lives exactly as long as a live lease exists: it polls the leases every
//! 200 ms and, once none is live, re-checks under the per-port lock, stops serving, removes its
//! record and exits. Because leases name the tools' own processes, it also exits when the `wrap`
//! that started it was killed with SIGKILL.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use super::lease::{unix_now, workspace_dir, PortLock, PortState, ProcessId, ProxyRecord};
use super::Runtime;

/// How often the leases are checked; the proxy exits at most this long (plus shutdown) after
/// the last tool.
const POLL: Duration = Duration::from_millis(200);

/// Arguments of the hidden `headroom wrap-proxy` command.
#[derive(Debug, clap::Args)]
pub struct WrapProxyArgs {
    /// Port to serve on (127.0.0.1 only).
    #[arg(long)]
    pub port: u16,
    /// Where the proxy runs.
    #[arg(long, value_enum, default_value_t = Runtime::Native)]
    pub runtime: Runtime,
}

pub fn run(args: WrapProxyArgs) -> Result<ExitCode> {
    #[cfg(unix)]
    {
        // Leave the terminal's session: Ctrl-C and SIGHUP aimed at the tool must not stop the
        // proxy other tools share. Fails only if we already lead a group, which is harmless.
        let _ = rustix::process::setsid();
    }
    crate::raise_fd_limit();
    let workspace = workspace_dir()?;
    let state = PortState::new(&workspace, args.port);
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HEADROOM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(state, args))
}

enum Server {
    Native(headroom_proxy::ProxyHandle),
    Docker(super::docker::Container),
}

impl Server {
    async fn stop(self) {
        match self {
            Server::Native(handle) => handle.shutdown(Duration::from_secs(1)).await,
            Server::Docker(container) => container.stop().await,
        }
    }
}

fn proxy_config(port: u16) -> headroom_proxy::Config {
    let mut config = headroom_proxy::Config {
        host: "127.0.0.1".to_owned(),
        port,
        ledger_dir: headroom_proxy::ledger_dir_from_env(),
        workspace: headroom_proxy::workspace_from_env(),
        instance_secret: std::env::var(headroom_protocol::env::INSTANCE_SECRET).ok(),
        ..headroom_proxy::Config::default()
    };
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(url) = var("ANTHROPIC_TARGET_API_URL") {
        config.anthropic_url = url;
    }
    if let Some(url) = var("OPENAI_TARGET_API_URL") {
        config.openai_url = url;
    }
    if let Some(url) = var("CHATGPT_TARGET_API_URL") {
        config.chatgpt_url = url;
    }
    if let Some(mode) = var("HEADROOM_MODE").and_then(|m| m.parse().ok()) {
        config.mode = mode;
    }
    if let Some(hosts) = var("HEADROOM_ALLOWED_HOSTS") {
        config.allowed_hosts = hosts.split(',').map(str::to_owned).collect();
    }
    config
}

async fn serve(state: PortState, args: WrapProxyArgs) -> Result<ExitCode> {
    let server = match args.runtime {
        Runtime::Native => match headroom_proxy::start(proxy_config(args.port)).await {
            Ok(handle) => Server::Native(handle),
            Err(err) => {
                eprintln!("error: {err}");
                return Ok(ExitCode::from(1));
            }
        },
        Runtime::Docker => match super::docker::Container::start(args.port).await {
            Ok(container) => Server::Docker(container),
            Err(err) => {
                eprintln!("error: {err:#}");
                return Ok(ExitCode::from(1));
            }
        },
    };
    state.write_record(&ProxyRecord {
        process: ProcessId::current(),
        port: args.port,
        runtime: args.runtime.as_str().to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at: unix_now(),
    })?;
    signal_ready();
    tracing::info!(
        port = args.port,
        "wrap proxy ready; exits after the last wrapped tool"
    );

    let mut stop = StopSignals::install()?;
    let mut tick = tokio::time::interval(POLL);
    let (reason, lock) = loop {
        tokio::select! {
            _ = tick.tick() => {
                if state.live_leases() == 0 {
                    if let Some(lock) = lock_if_unleased(&state).await? {
                        break ("no wrapped tool is left", Some(lock));
                    }
                }
            }
            why = stop.next() => break (why, None),
        }
    };
    tracing::info!(reason, "wrap proxy stopping");
    // Stop serving while holding the lock: a `wrap` waiting on it then finds the port free and
    // starts a fresh proxy instead of leasing one that is going away.
    let lock = match lock {
        Some(lock) => lock,
        None => {
            let state = state.clone();
            tokio::task::spawn_blocking(move || state.lock()).await??
        }
    };
    server.stop().await;
    if state
        .read_record()
        .is_some_and(|r| r.process == ProcessId::current())
    {
        state.remove_record();
    }
    drop(lock);
    Ok(ExitCode::SUCCESS)
}

/// The signals that end a session proxy early. A hang-up is not one of them: the terminal
/// went away, and the wrapped tools decide when the proxy goes.
struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(StopSignals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
                hup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignals {})
        }
    }

    /// Wait for a stop signal; its name.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        loop {
            tokio::select! {
                _ = self.term.recv() => return "SIGTERM",
                _ = self.int.recv() => return "SIGINT",
                _ = self.hup.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            // Without a console to listen on (a detached process), only the leases end us.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            "Ctrl-C"
        }
    }
}

/// Re-check under the lock, so a `wrap` that is writing its lease right now is seen; when no
/// lease is live, keep the lock until the proxy has stopped serving.
async fn lock_if_unleased(state: &PortState) -> Result<Option<PortLock>> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let lock = state.lock()?;
        Ok((state.live_leases() == 0).then_some(lock))
    })
    .await?
}

/// Tell the starting `wrap` we serve (one line on the stdout pipe), then point stdout at
/// /dev/null: the reader goes away when `wrap` execs the tool.
fn signal_ready() {
    let mut out = std::io::stdout();
    let _ = out.write_all(b"ready\n");
    let _ = out.flush();
    #[cfg(unix)]
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
    }
}
