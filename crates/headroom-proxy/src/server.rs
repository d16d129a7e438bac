//! Accept loop, per-connection tasks and graceful shutdown.
//!
//! Shutdown has two phases, each a [`CancellationToken`]:
//! * `graceful`: stop accepting, tell every HTTP/1 connection to finish its in-flight response
//!   and then close (hyper's `graceful_shutdown`), and make `/readyz` answer 503;
//! * `hard`: after the caller's deadline, drop whatever is still running (long streams,
//!   upgraded WebSocket relays).
//!
//! Every task that must be drained is spawned on one [`TaskTracker`], so "drained" is simply
//! "the tracker is empty".

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Base, Config, Deployment};
use crate::retrieve::RetainedStore;
use crate::route::Upstreams;
use crate::stats::{Stats, StatsSnapshot};
use crate::upstream::{Body, Upstream};
use crate::{forward, ops, retrieval_tool, Error};

/// Drain budget used when a [`ProxyHandle`] is dropped without an explicit shutdown.
const DROP_DEADLINE: Duration = Duration::from_secs(5);

/// State shared by every connection of one proxy instance.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) upstreams: Upstreams,
    pub(crate) upstream: Upstream,
    pub(crate) stats: Stats,
    pub(crate) ledger: crate::ledger::Ledger,
    pub(crate) identity: crate::identity::Identity,
    pub(crate) body_budget: crate::body::Budget,
    pub(crate) allowed: crate::guard::Allowed,
    pub(crate) retained: RetainedStore,
    pub(crate) compress_options: Arc<headroom_compress::Options>,
    pub(crate) deployment: Option<Deployment>,
    pub(crate) started: Instant,
    pub(crate) local_addr: SocketAddr,
    pub(crate) draining: AtomicBool,
    pub(crate) probe: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
    /// Tasks that outlive a request handler (WebSocket relays) register here to be drained.
    pub(crate) tracker: TaskTracker,
    pub(crate) hard: CancellationToken,
}

impl Shared {
    pub(crate) fn uptime(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// A running proxy. Dropping it starts a graceful shutdown (5 s drain); call
/// [`ProxyHandle::shutdown`] to choose the deadline and wait for it.
pub struct ProxyHandle {
    shared: Arc<Shared>,
    shutdown_tx: watch::Sender<Option<Duration>>,
    done_rx: watch::Receiver<bool>,
}

impl std::fmt::Debug for ProxyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyHandle")
            .field("local_addr", &self.shared.local_addr)
            .finish_non_exhaustive()
    }
}

impl ProxyHandle {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// `http://<local_addr>`, the base URL tools should be pointed at.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.local_addr)
    }

    /// Current counters (the same numbers `/stats` serves).
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot(self.shared.uptime())
    }

    /// Originals the compressor dropped, for retrieval.
    pub fn retained(&self) -> &RetainedStore {
        &self.shared.retained
    }

    /// Ask the server to stop without waiting: stop accepting, drain in-flight requests for up
    /// to `deadline`, then drop the rest. Idempotent: the first deadline wins.
    pub fn begin_shutdown(&self, deadline: Duration) {
        self.shutdown_tx.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(deadline);
                true
            } else {
                false
            }
        });
    }

    /// Graceful shutdown: [`begin_shutdown`](Self::begin_shutdown), then wait until every
    /// connection is closed.
    pub async fn shutdown(&self, deadline: Duration) {
        self.begin_shutdown(deadline);
        self.wait().await;
    }

    /// Resolve once the server has stopped (after a shutdown completed).
    pub async fn wait(&self) {
        let mut rx = self.done_rx.clone();
        // An error means the server task is gone, which also means it stopped.
        let _ = rx.wait_for(|done| *done).await;
    }

    /// True once the server has fully stopped.
    pub fn is_stopped(&self) -> bool {
        *self.done_rx.borrow()
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        self.begin_shutdown(DROP_DEADLINE);
    }
}

/// Bind `config.host:config.port` and serve on the current tokio runtime.
///
/// Returns as soon as the socket is bound: the proxy is ready when this returns.
pub async fn start(config: Config) -> Result<ProxyHandle, Error> {
    let upstreams = Upstreams {
        anthropic: Base::parse(&config.anthropic_url, "Anthropic API URL")?,
        openai: Base::parse(&config.openai_url, "OpenAI API URL")?,
        chatgpt: Base::parse(&config.chatgpt_url, "ChatGPT URL")?,
    };
    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(|e| Error::from_bind(&config.host, config.port, e))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| Error::from_bind(&config.host, config.port, e))?;
    let deployment = config
        .deployment
        .clone()
        .filter(|d| *d != Deployment::default())
        .or_else(Deployment::from_env);
    let ledger = crate::ledger::Ledger::open(config.ledger_dir.clone());
    let allowed = crate::guard::Allowed::new(&config.host, &config.allowed_hosts);
    let identity = crate::identity::Identity::new(config.instance_secret.clone());
    if let Some(workspace) = &config.workspace {
        identity.publish(workspace, local_addr.port());
    }
    let shared = Arc::new(Shared {
        identity,
        body_budget: crate::body::Budget::new(config.body_budget_bytes),
        upstream: Upstream::new(config.connect_timeout),
        compress_options: crate::optimize::options(&config),
        config,
        upstreams,
        stats: Stats::default(),
        ledger,
        allowed,
        retained: RetainedStore::default(),
        deployment,
        started: Instant::now(),
        local_addr,
        draining: AtomicBool::new(false),
        probe: tokio::sync::Mutex::new(None),
        tracker: TaskTracker::new(),
        hard: CancellationToken::new(),
    });
    let (shutdown_tx, shutdown_rx) = watch::channel(None);
    let (done_tx, done_rx) = watch::channel(false);
    tokio::spawn(serve(listener, shared.clone(), shutdown_rx, done_tx));
    tracing::debug!(
        addr = %local_addr,
        anthropic = %shared.upstreams.anthropic.shown(),
        openai = %shared.upstreams.openai.shown(),
        optimize = shared.config.optimize,
        "headroom proxy listening"
    );
    Ok(ProxyHandle {
        shared,
        shutdown_tx,
        done_rx,
    })
}

async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown_rx: watch::Receiver<Option<Duration>>,
    done_tx: watch::Sender<bool>,
) {
    let graceful = CancellationToken::new();
    let cap = connection_cap(shared.config.max_connections);
    let open = Arc::new(AtomicUsize::new(0));
    let deadline = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) if open.load(Ordering::Relaxed) >= cap => {
                    // Full: say so and hang up, rather than let the backlog lock everyone out.
                    tokio::spawn(shed(stream));
                }
                Ok((stream, peer)) => {
                    let shared = shared.clone();
                    let graceful = graceful.clone();
                    let slot = Slot::take(&open);
                    shared.tracker.clone().spawn(async move {
                        connection(stream, peer, shared, graceful).await;
                        drop(slot);
                    });
                }
                Err(err) => {
                    // Usually EMFILE: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            changed = shutdown_rx.changed() => {
                break match changed {
                    Ok(()) => shutdown_rx.borrow().unwrap_or(DROP_DEADLINE),
                    Err(_) => DROP_DEADLINE,
                };
            }
        }
    };
    drop(listener);
    shared.draining.store(true, Ordering::SeqCst);
    tracing::info!(
        deadline_ms = deadline.as_millis() as u64,
        "shutting down: draining in-flight requests"
    );
    graceful.cancel();
    shared.tracker.close();
    if tokio::time::timeout(deadline, shared.tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("drain deadline reached; closing remaining connections");
        shared.hard.cancel();
        shared.tracker.wait().await;
    }
    shared.identity.retract();
    tracing::info!("headroom proxy stopped");
    let _ = done_tx.send(true);
}

/// One open client connection, counted while it lives.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>) -> Slot {
        open.fetch_add(1, Ordering::Relaxed);
        Slot(open.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How many client connections to serve at once: the configured cap, and never so many that
/// client sockets alone use up the open-file limit (each also needs an upstream socket, plus
/// the files the proxy itself keeps open).
fn connection_cap(configured: usize) -> usize {
    #[cfg(unix)]
    {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        if let Some(soft) = limit.current {
            let fit = (soft.saturating_sub(64) / 2) as usize;
            return configured.min(fit).max(16);
        }
    }
    configured
}

/// Answer a connection over the cap with 503 and close it.
async fn shed(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt;
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nx-headroom-error: true\r\nconnection: close\r\ncontent-length: 70\r\n\r\n{\"error\":{\"type\":\"overloaded_error\",\"message\":\"Headroom proxy: busy\"}}";
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.write_all(BUSY)).await;
    let _ = stream.shutdown().await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    graceful: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let hard = shared.hard.clone();
    let svc_shared = shared.clone();
    let svc = service_fn(move |req| {
        let shared = svc_shared.clone();
        async move { Ok::<_, Infallible>(dispatch(shared, peer, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => log_conn_end(res),
        _ = graceful.cancelled() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                res = conn.as_mut() => log_conn_end(res),
                _ = hard.cancelled() => {}
            }
        }
    }
}

fn log_conn_end(res: Result<(), hyper::Error>) {
    if let Err(err) = res {
        tracing::debug!(error = %err, "client connection ended with an error");
    }
}

/// Operational routes are answered here; everything else is proxied.
async fn dispatch(shared: Arc<Shared>, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
    if let Some(refused) = crate::guard::refuse(req.method(), req.headers(), &shared.allowed) {
        return refused;
    }
    let method = req.method();
    let is_get = method == Method::GET || method == Method::HEAD;
    match (req.uri().path(), is_get, method == Method::POST) {
        ("/livez", true, _) => ops::livez(&shared),
        ("/readyz", true, _) => ops::readyz(&shared).await,
        ("/health", true, _) => ops::health(&shared, peer, req.headers()).await,
        ("/stats", true, _) => ops::stats(&shared),
        ("/stats/history", true, _) => ops::history(&shared, req.uri().query()),
        ("/metrics", true, _) => ops::metrics(&shared),
        ("/stats/reset", _, true) => ops::reset(&shared, peer, req.headers()),
        ("/v1/retrieve", _, true) => retrieval_tool::endpoint(&shared, peer, req).await,
        _ => forward::forward(shared, peer, req).await,
    }
}
