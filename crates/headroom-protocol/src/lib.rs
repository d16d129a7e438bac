//! The documents a running Headroom publishes, and the names every component agrees on.
//!
//! The proxy serialises `/health`, `/readyz`, `/stats` and `/stats/history` from these types,
//! and every consumer (the desktop app, `wrap`, `install status`, `headroom health`,
//! `headroom stats`) deserialises into them. Before this crate each consumer read the JSON
//! with its own idea of the field names, tested against JSON it wrote itself; the app showed
//! "0 saved" for months because `/stats` said `tokens.saved` and the app read
//! `total.tokens_saved`. One set of types, and contract tests that parse the real proxy's
//! output with each consumer's code, make that class of bug a compile error.
//!
//! The crate also holds the one loopback client ([`http`]), the instance-key proof
//! ([`identity`]) and the one answer to "who is on this port?" ([`probe`]) that every consumer
//! uses, so they cannot disagree about what counts as Headroom.
//!
//! Every field a consumer may meet from an older or newer proxy is optional or defaulted, so a
//! consumer never fails on a document that gained or lost a field.

use std::collections::BTreeMap;

pub mod http;
pub mod identity;
pub mod probe;

use serde::{Deserialize, Serialize};

/// The `service` field of every operational document: how a caller knows it talks to Headroom.
pub const SERVICE: &str = "headroom-proxy";

/// The port every tool's integration points at unless told otherwise.
pub const DEFAULT_PORT: u16 = 8787;

/// Environment variables Headroom reads, by name.
/// `scheme://user:password@host/…` → `scheme://***@host/…`: credentials in a URL never leave
/// the proxy process (not in `/health`, logs, or error bodies), and consumers comparing an
/// upstream with the published one redact theirs the same way.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

pub mod env {
    /// The instance secret a container proxy proves (the host keeps it in the key file).
    pub const INSTANCE_SECRET: &str = "HEADROOM_INSTANCE_SECRET";
    /// The proxy's port (`headroom proxy`, `wrap`, the desktop app).
    pub const PORT: &str = "HEADROOM_PORT";
    /// The proxy's bind address.
    pub const HOST: &str = "HEADROOM_HOST";
    /// Compression mode (`token` or `cache`).
    pub const MODE: &str = "HEADROOM_MODE";
    /// Headroom's state root (default `~/.headroom`).
    pub const WORKSPACE_DIR: &str = "HEADROOM_WORKSPACE_DIR";
    /// Set to `0`/`off` to keep no savings ledger on disk.
    pub const LEDGER: &str = "HEADROOM_LEDGER";
    /// Tags the install subsystem puts on the processes it launches (echoed in `/health`).
    pub const DEPLOYMENT_PROFILE: &str = "HEADROOM_DEPLOYMENT_PROFILE";
    pub const DEPLOYMENT_PRESET: &str = "HEADROOM_DEPLOYMENT_PRESET";
    pub const DEPLOYMENT_RUNTIME: &str = "HEADROOM_DEPLOYMENT_RUNTIME";
    pub const DEPLOYMENT_SUPERVISOR: &str = "HEADROOM_DEPLOYMENT_SUPERVISOR";
    pub const DEPLOYMENT_SCOPE: &str = "HEADROOM_DEPLOYMENT_SCOPE";
}

/// Which install/desktop deployment launched a proxy; `/health.deployment`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub preset: Option<String>,
    #[serde(default)]
    pub runtime: Option<String>,
    #[serde(default)]
    pub supervisor: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

impl Deployment {
    /// Read `HEADROOM_DEPLOYMENT_{PROFILE,PRESET,RUNTIME,SUPERVISOR,SCOPE}`; `None` when all
    /// are unset or empty (a plain `headroom proxy` is not a deployment).
    pub fn from_env() -> Option<Deployment> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let d = Deployment {
            profile: var(env::DEPLOYMENT_PROFILE),
            preset: var(env::DEPLOYMENT_PRESET),
            runtime: var(env::DEPLOYMENT_RUNTIME),
            supervisor: var(env::DEPLOYMENT_SUPERVISOR),
            scope: var(env::DEPLOYMENT_SCOPE),
        };
        (d != Deployment::default()).then_some(d)
    }
}

/// One readiness check in `/health.checks` and `/readyz.checks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub enabled: bool,
    pub ready: bool,
    /// `healthy`, `unhealthy` or `disabled` (a check that is off is not a fault).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draining: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The upstream base URLs a proxy forwards to (credentials never included).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstreams {
    #[serde(default)]
    pub anthropic: String,
    #[serde(default)]
    pub openai: String,
    #[serde(default)]
    pub chatgpt: String,
}

/// `/health.config`: shown only to loopback callers with a loopback `Host` header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthConfig {
    pub pid: u32,
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub upstreams: Upstreams,
    pub optimize: bool,
    pub mode: String,
    #[serde(default)]
    pub exact_tokens: bool,
    #[serde(default)]
    pub check_upstream: bool,
}

/// `GET /health` (200) and `GET /readyz` (200 when ready, 503 otherwise).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub service: String,
    /// `healthy` or `unhealthy`.
    #[serde(default)]
    pub status: String,
    /// Missing in a document means ready (every Headroom that omits it always was).
    #[serde(default = "yes")]
    pub ready: bool,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub uptime_seconds: f64,
    #[serde(default)]
    pub checks: BTreeMap<String, Check>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Deployment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<HealthConfig>,
    /// HMAC-SHA256(instance secret, nonce) when the request sent `x-headroom-challenge: nonce`:
    /// how `wrap` knows the listener is the proxy whose key file it can read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
}

impl Health {
    /// Is this document from a Headroom proxy?
    pub fn is_headroom(&self) -> bool {
        self.service == SERVICE
    }

    /// Parse a `/health` or `/readyz` body; `None` when it is not one.
    pub fn parse(body: &[u8]) -> Option<Health> {
        serde_json::from_slice(body).ok()
    }
}

fn yes() -> bool {
    true
}

/// Counters for one provider (or the total) since the proxy started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderStats {
    /// Requests proxied (operational routes are not counted).
    pub requests: u64,
    /// Requests the proxy could not complete: upstream unreachable or timed out, body too
    /// large, or the stream failed mid-way.
    pub errors: u64,
    /// Upstream answers with a 4xx / 5xx status (relayed verbatim).
    pub upstream_4xx: u64,
    pub upstream_5xx: u64,
    /// Request body bytes received from clients.
    pub request_bytes: u64,
    /// Request body bytes sent upstream (smaller than `request_bytes` when compression ran).
    pub forwarded_bytes: u64,
    /// Response body bytes relayed back to clients.
    pub response_bytes: u64,
    /// Requests whose body the compressor rewrote.
    pub compressed_requests: u64,
    /// Token counts reported by the compressor, summed over requests it examined.
    pub tokens_before: u64,
    pub tokens_after: u64,
    pub tokens_saved: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ByProvider {
    pub anthropic: u64,
    pub openai: u64,
}

/// `/stats.requests`, since this process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestCounts {
    pub total: u64,
    pub failed: u64,
    pub compressed: u64,
    pub by_provider: ByProvider,
}

/// `/stats.tokens`, since this process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenCounts {
    pub before: u64,
    pub after: u64,
    pub saved: u64,
    pub savings_percent: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ByteCounts {
    pub received: u64,
    pub forwarded: u64,
    pub responses: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Providers {
    pub anthropic: ProviderStats,
    pub openai: ProviderStats,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetainedCounts {
    pub entries: u64,
    pub retrievals: u64,
    pub followup_requests: u64,
}

/// Savings over a period, from the durable ledger every proxy on the workspace shares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Period {
    /// LLM requests Headroom examined.
    pub requests: u64,
    pub tokens_before: u64,
    pub tokens_after: u64,
    pub tokens_saved: u64,
    /// Estimated input cost saved at list prices (see docs/stats.md for the table).
    pub cost_saved_usd: f64,
}

impl Period {
    pub fn add(&mut self, other: &Period) {
        self.requests += other.requests;
        self.tokens_before += other.tokens_before;
        self.tokens_after += other.tokens_after;
        self.tokens_saved += other.tokens_saved;
        self.cost_saved_usd += other.cost_saved_usd;
    }

    /// Percentage of input tokens saved (0 when nothing was seen).
    pub fn savings_percent(&self) -> f64 {
        if self.tokens_before == 0 {
            0.0
        } else {
            self.tokens_saved as f64 * 100.0 / self.tokens_before as f64
        }
    }
}

/// `/stats.savings`: what the ledger says, across restarts and across every proxy sharing the
/// workspace (desktop app, service, task, wrap sessions). Days are UTC days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Savings {
    /// False when this proxy keeps no ledger (`HEADROOM_LEDGER=0`, or no writable workspace):
    /// the periods then only cover this process's lifetime.
    pub persistent: bool,
    /// `YYYY-MM-DD` (UTC) of today.
    pub date: String,
    pub today: Period,
    pub last_7_days: Period,
    pub lifetime: Period,
}

/// `GET /stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub service: String,
    #[serde(default)]
    pub uptime_seconds: f64,
    #[serde(default)]
    pub optimize: bool,
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub requests: RequestCounts,
    #[serde(default)]
    pub tokens: TokenCounts,
    #[serde(default)]
    pub bytes: ByteCounts,
    #[serde(default)]
    pub providers: Providers,
    #[serde(default)]
    pub retained: RetainedCounts,
    #[serde(default)]
    pub savings: Savings,
}

impl Stats {
    pub fn parse(body: &[u8]) -> Option<Stats> {
        serde_json::from_slice::<Stats>(body)
            .ok()
            .filter(|s| s.service == SERVICE)
    }
}

/// One (provider, model, client) row of a day in `/stats/history`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub provider: String,
    pub model: String,
    /// The coding tool, from the request's `User-Agent` (`claude-code`, `codex`, ...), or
    /// `other`.
    pub client: String,
    #[serde(flatten)]
    pub period: Period,
}

/// One UTC day in `/stats/history`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    #[serde(flatten)]
    pub total: Period,
    #[serde(default)]
    pub rows: Vec<HistoryRow>,
}

/// `GET /stats/history?days=N`: the last N UTC days, oldest first, days without traffic
/// included with zeros so a chart needs no gap logic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub service: String,
    #[serde(default)]
    pub persistent: bool,
    #[serde(default)]
    pub days: Vec<HistoryDay>,
    #[serde(default)]
    pub lifetime: Period,
}

impl History {
    pub fn parse(body: &[u8]) -> Option<History> {
        serde_json::from_slice::<History>(body)
            .ok()
            .filter(|h| h.service == SERVICE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_missing_fields_are_tolerated() {
        let h = Health::parse(
            br#"{"service":"headroom-proxy","status":"healthy","ready":true,"version":"9",
                 "uptime_seconds":1.5,"future":{"x":1}}"#,
        )
        .unwrap();
        assert!(h.is_headroom());
        assert!(h.checks.is_empty() && h.deployment.is_none() && h.config.is_none());
        let s = Stats::parse(br#"{"service":"headroom-proxy","uptime_seconds":0}"#).unwrap();
        assert_eq!(s.savings, Savings::default());
        assert!(Stats::parse(br#"{"service":"other","uptime_seconds":0}"#).is_none());
    }

    #[test]
    fn history_rows_flatten_their_period() {
        let day = HistoryDay {
            date: "2026-12-02".into(),
            total: Period {
                requests: 2,
                tokens_before: 10,
                tokens_after: 4,
                tokens_saved: 6,
                cost_saved_usd: 0.5,
            },
            rows: vec![],
        };
        let v = serde_json::to_value(&day).unwrap();
        assert_eq!(v["tokens_saved"], 6);
        assert_eq!(serde_json::from_value::<HistoryDay>(v).unwrap(), day);
    }
}

#[cfg(test)]
mod redact_tests {
    #[test]
    fn credentials_in_urls_are_redacted() {
        use super::redact_url as redact;
        assert_eq!(
            redact("https://user:s3cret@gw.corp.example:8443/anthropic?x=@y"),
            "https://***@gw.corp.example:8443/anthropic?x=@y"
        );
        assert_eq!(redact("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(redact("not a url"), "not a url");
    }
}
