//! Who holds the port? `wrap` runs before every tool start, so it uses the shared blocking
//! probe (`headroom_protocol::probe`): one connect, one `GET /health` carrying a nonce, one
//! read. Only a Headroom that answers the nonce with the secret of the port's live instance key
//! is the proxy we know ([`Proof`]); any other listener is foreign and never reused.

use std::time::Duration;

use headroom_protocol::probe as shared;
pub use headroom_protocol::probe::Proof;

/// What answers on `127.0.0.1:<port>`.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Nothing listens.
    Free,
    /// A Headroom proxy.
    Headroom(Health),
    /// Something else; the text says what we saw.
    Foreign(String),
    /// It accepted the connection but never answered (a hung or stopped process); the text
    /// says how it failed.
    Unresponsive(String),
}

/// The parts of `/health` that `wrap` uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub ready: bool,
    pub version: Option<String>,
    /// `deployment.profile` when an install deployment or the desktop app runs it.
    pub deployment: Option<String>,
    /// Where it forwards (credentials redacted); absent from proxies that do not publish it.
    pub upstreams: Option<headroom_protocol::Upstreams>,
    /// Whether it proved it holds the secret in this port's instance key.
    pub proof: Proof,
}

pub fn probe(port: u16, timeout: Duration) -> Probe {
    let key = || {
        headroom_proxy::workspace_from_env()
            .and_then(|w| headroom_install::health::live_key(&w, port))
    };
    match shared::probe(port, timeout, "headroom-wrap", key) {
        shared::Probe::Free => Probe::Free,
        shared::Probe::Foreign(what) => Probe::Foreign(what),
        shared::Probe::Unresponsive(what) => Probe::Unresponsive(what),
        shared::Probe::Headroom(h, proof) => Probe::Headroom(Health {
            proof,
            ready: h.ready,
            version: Some(h.version).filter(|v| !v.is_empty()),
            deployment: h.deployment.and_then(|d| d.profile),
            upstreams: h.config.map(|c| c.upstreams),
        }),
    }
}
