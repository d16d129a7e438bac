//! The Headroom proxy runtime, as a library first so the CLI, `wrap` and the desktop app can all
//! embed the same server in-process.
//!
//! ```no_run
//! # async fn demo() -> Result<(), headroom_proxy::Error> {
//! let handle = headroom_proxy::start(headroom_proxy::Config {
//!     port: 0, // any free port
//!     ..Default::default()
//! })
//! .await?;
//! println!("point tools at {}", handle.url());
//! handle.shutdown(std::time::Duration::from_secs(10)).await;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! * `server` — accept loop, graceful shutdown, [`ProxyHandle`].
//! * `forward` — the per-request pipeline (`body` reads the bodies it compresses, bounded in
//!   size and idle time); `route` picks the upstream from path and headers;
//!   `headers` holds the hop-by-hop / `x-headroom-*` / loopback rules.
//! * `relay` — streaming passthrough (no buffering) and the mid-stream SSE error event.
//! * `optimize` — the single call site of `headroom_compress::compress_request`;
//!   [`RetainedStore`] keeps what it dropped, for retrieval.
//! * `retrieval_tool` — offers `headroom_retrieve` when compression dropped something and
//!   answers the model's calls to it (`retrieval_stream` for SSE); `POST /v1/retrieve`.
//! * `ops` — `/livez`, `/readyz`, `/health`, `/stats`, `/stats/history`, `/metrics`,
//!   `POST /stats/reset`, serialised from the `headroom-protocol` types every consumer reads;
//!   `ledger` keeps the savings on disk across restarts and processes.
//! * `upstream` — the hyper client (plain HTTP eagerly, rustls lazily); `reply` — responses
//!   the proxy writes itself, shaped like each provider's own errors.

mod body;
mod config;
mod error;
mod forward;
mod guard;
mod headers;
pub mod identity;
mod ledger;
mod ops;
mod optimize;
mod relay;
mod reply;
mod retrieval_stream;
mod retrieval_tool;
mod retrieve;
mod route;
mod server;
mod stats;
mod upstream;
mod ws;

pub use config::{
    ledger_dir_from_env, workspace_from_env, Config, Deployment, Mode, DEFAULT_ANTHROPIC_URL,
    DEFAULT_CHATGPT_URL, DEFAULT_OPENAI_URL, DEFAULT_PORT,
};
pub use error::Error;
pub use headroom_protocol::ProviderStats;
pub use retrieve::RetainedStore;
pub use route::Provider;
pub use server::{start, ProxyHandle};
pub use stats::StatsSnapshot;

/// The `service` field of `/health`, `/livez` and `/readyz`; `wrap` uses it to recognise a
/// running Headroom (an open port alone proves nothing).
pub const SERVICE_NAME: &str = headroom_protocol::SERVICE;
