//! In-memory counters behind `/stats` and `/metrics`. Lock-free atomics: every proxied request
//! touches them, and a mutex here would serialise the hot path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use headroom_protocol::ProviderStats;
use serde::Serialize;

use crate::route::Provider;

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    errors: AtomicU64,
    upstream_4xx: AtomicU64,
    upstream_5xx: AtomicU64,
    request_bytes: AtomicU64,
    forwarded_bytes: AtomicU64,
    response_bytes: AtomicU64,
    compressed_requests: AtomicU64,
    tokens_before: AtomicU64,
    tokens_after: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> ProviderStats {
        let before = self.tokens_before.load(Relaxed);
        let after = self.tokens_after.load(Relaxed);
        ProviderStats {
            requests: self.requests.load(Relaxed),
            errors: self.errors.load(Relaxed),
            upstream_4xx: self.upstream_4xx.load(Relaxed),
            upstream_5xx: self.upstream_5xx.load(Relaxed),
            request_bytes: self.request_bytes.load(Relaxed),
            forwarded_bytes: self.forwarded_bytes.load(Relaxed),
            response_bytes: self.response_bytes.load(Relaxed),
            compressed_requests: self.compressed_requests.load(Relaxed),
            tokens_before: before,
            tokens_after: after,
            tokens_saved: before.saturating_sub(after),
        }
    }

    fn reset(&self) {
        for c in [
            &self.requests,
            &self.errors,
            &self.upstream_4xx,
            &self.upstream_5xx,
            &self.request_bytes,
            &self.forwarded_bytes,
            &self.response_bytes,
            &self.compressed_requests,
            &self.tokens_before,
            &self.tokens_after,
        ] {
            c.store(0, Relaxed);
        }
    }
}

/// A point-in-time copy of all counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatsSnapshot {
    pub total: ProviderStats,
    pub anthropic: ProviderStats,
    pub openai: ProviderStats,
    pub uptime_seconds: f64,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    anthropic: Counters,
    openai: Counters,
}

impl Stats {
    fn of(&self, p: Provider) -> &Counters {
        match p {
            Provider::Anthropic => &self.anthropic,
            Provider::OpenAi => &self.openai,
        }
    }

    pub(crate) fn request(&self, p: Provider, request_bytes: u64, forwarded_bytes: u64) {
        let c = self.of(p);
        c.requests.fetch_add(1, Relaxed);
        c.request_bytes.fetch_add(request_bytes, Relaxed);
        c.forwarded_bytes.fetch_add(forwarded_bytes, Relaxed);
    }

    /// For streamed request bodies whose size is only known as they pass.
    pub(crate) fn body_bytes(&self, p: Provider, n: u64) {
        let c = self.of(p);
        c.request_bytes.fetch_add(n, Relaxed);
        c.forwarded_bytes.fetch_add(n, Relaxed);
    }

    pub(crate) fn tokens(&self, p: Provider, before: u64, after: u64, compressed: bool) {
        let c = self.of(p);
        c.tokens_before.fetch_add(before, Relaxed);
        c.tokens_after.fetch_add(after, Relaxed);
        if compressed {
            c.compressed_requests.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn status(&self, p: Provider, status: u16) {
        let c = self.of(p);
        if (400..500).contains(&status) {
            c.upstream_4xx.fetch_add(1, Relaxed);
        } else if status >= 500 {
            c.upstream_5xx.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn error(&self, p: Provider) {
        self.of(p).errors.fetch_add(1, Relaxed);
    }

    pub(crate) fn response_bytes(&self, p: Provider, n: u64) {
        self.of(p).response_bytes.fetch_add(n, Relaxed);
    }

    pub(crate) fn reset(&self) {
        self.anthropic.reset();
        self.openai.reset();
    }

    pub(crate) fn snapshot(&self, uptime_seconds: f64) -> StatsSnapshot {
        let a = self.anthropic.snapshot();
        let o = self.openai.snapshot();
        let total = ProviderStats {
            requests: a.requests + o.requests,
            errors: a.errors + o.errors,
            upstream_4xx: a.upstream_4xx + o.upstream_4xx,
            upstream_5xx: a.upstream_5xx + o.upstream_5xx,
            request_bytes: a.request_bytes + o.request_bytes,
            forwarded_bytes: a.forwarded_bytes + o.forwarded_bytes,
            response_bytes: a.response_bytes + o.response_bytes,
            compressed_requests: a.compressed_requests + o.compressed_requests,
            tokens_before: a.tokens_before + o.tokens_before,
            tokens_after: a.tokens_after + o.tokens_after,
            tokens_saved: a.tokens_saved + o.tokens_saved,
        };
        StatsSnapshot {
            total,
            anthropic: a,
            openai: o,
            uptime_seconds,
        }
    }
}

/// Render a snapshot in the Prometheus text exposition format (version 0.0.4).
pub(crate) fn prometheus(s: &StatsSnapshot, retained_entries: usize) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(2048);
    type Family = (
        &'static str,
        &'static str,
        &'static str,
        fn(&ProviderStats) -> u64,
    );
    let families: [Family; 10] = [
        (
            "headroom_requests_total",
            "counter",
            "Requests proxied",
            |p| p.requests,
        ),
        (
            "headroom_errors_total",
            "counter",
            "Requests the proxy could not complete",
            |p| p.errors,
        ),
        (
            "headroom_upstream_4xx_total",
            "counter",
            "Upstream 4xx responses",
            |p| p.upstream_4xx,
        ),
        (
            "headroom_upstream_5xx_total",
            "counter",
            "Upstream 5xx responses",
            |p| p.upstream_5xx,
        ),
        (
            "headroom_request_bytes_total",
            "counter",
            "Request body bytes received",
            |p| p.request_bytes,
        ),
        (
            "headroom_forwarded_bytes_total",
            "counter",
            "Request body bytes sent upstream",
            |p| p.forwarded_bytes,
        ),
        (
            "headroom_response_bytes_total",
            "counter",
            "Response body bytes relayed",
            |p| p.response_bytes,
        ),
        (
            "headroom_compressed_requests_total",
            "counter",
            "Requests rewritten by compression",
            |p| p.compressed_requests,
        ),
        (
            "headroom_tokens_before_total",
            "counter",
            "Input tokens before compression",
            |p| p.tokens_before,
        ),
        (
            "headroom_tokens_after_total",
            "counter",
            "Input tokens after compression",
            |p| p.tokens_after,
        ),
    ];
    for (name, kind, help, get) in families {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (provider, stats) in [("anthropic", &s.anthropic), ("openai", &s.openai)] {
            let _ = writeln!(out, "{name}{{provider=\"{provider}\"}} {}", get(stats));
        }
    }
    let _ = writeln!(
        out,
        "# HELP headroom_retained_entries Originals kept for retrieval"
    );
    let _ = writeln!(out, "# TYPE headroom_retained_entries gauge");
    let _ = writeln!(out, "headroom_retained_entries {retained_entries}");
    let _ = writeln!(
        out,
        "# HELP headroom_uptime_seconds Seconds since the proxy started"
    );
    let _ = writeln!(out, "# TYPE headroom_uptime_seconds gauge");
    let _ = writeln!(out, "headroom_uptime_seconds {:.3}", s.uptime_seconds);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_prometheus() {
        let s = Stats::default();
        s.request(Provider::Anthropic, 100, 80);
        s.tokens(Provider::Anthropic, 50, 30, true);
        s.request(Provider::OpenAi, 10, 10);
        s.status(Provider::OpenAi, 503);
        let snap = s.snapshot(1.0);
        assert_eq!(snap.total.requests, 2);
        assert_eq!(snap.anthropic.tokens_saved, 20);
        assert_eq!(snap.openai.upstream_5xx, 1);
        let text = prometheus(&snap, 3);
        assert!(text.contains("headroom_requests_total{provider=\"anthropic\"} 1\n"));
        assert!(text.contains("headroom_tokens_before_total{provider=\"anthropic\"} 50\n"));
        assert!(text.contains("headroom_retained_entries 3\n"));
        s.reset();
        assert_eq!(s.snapshot(0.0).total, ProviderStats::default());
    }
}
