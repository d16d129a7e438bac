//! Operational routes: liveness, readiness, health, stats and metrics.
//!
//! Readiness never depends on the internet: the upstream probe runs only with
//! `check_upstream`, and its result is cached so `/readyz` stays cheap. Details that identify
//! the machine (pid, upstream URLs) are shown only to loopback callers that also sent a loopback
//! `Host` header, which defeats DNS-rebinding pages in a browser.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use headroom_protocol::{
    ByProvider, ByteCounts, Check, Health, HealthConfig, Providers, RequestCounts, RetainedCounts,
    Stats, TokenCounts, Upstreams, SERVICE,
};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use serde_json::json;
use std::collections::BTreeMap;

use crate::headers;
use crate::reply;
use crate::server::Shared;
use crate::stats::prometheus;
use crate::upstream::Body;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const PROBE_TTL: Duration = Duration::from_secs(30);
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Admin routes answer only to a loopback peer with a loopback `Host`.
pub(crate) fn is_local_admin(peer: SocketAddr, headers: &HeaderMap) -> bool {
    headers::peer_is_loopback(peer.ip()) && headers::host_is_loopback(headers)
}

pub(crate) fn livez(shared: &Shared) -> Response<Body> {
    reply::json(
        StatusCode::OK,
        &json!({
            "service": SERVICE,
            "status": "healthy",
            "alive": true,
            "version": VERSION,
            "uptime_seconds": round3(shared.uptime()),
        }),
    )
}

pub(crate) async fn readyz(shared: &Shared) -> Response<Body> {
    let payload = payload(shared).await;
    let status = if payload.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    reply::json(status, &payload)
}

pub(crate) async fn health(
    shared: &Shared,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Response<Body> {
    let mut payload = payload(shared).await;
    payload.proof = headers
        .get(crate::identity::CHALLENGE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|nonce| shared.identity.prove(nonce.trim()));
    if is_local_admin(peer, headers) {
        let c = &shared.config;
        payload.config = Some(HealthConfig {
            pid: std::process::id(),
            host: c.host.clone(),
            port: shared.local_addr.port(),
            upstreams: Upstreams {
                anthropic: shared.upstreams.anthropic.shown(),
                openai: shared.upstreams.openai.shown(),
                chatgpt: shared.upstreams.chatgpt.shown(),
            },
            optimize: c.optimize,
            mode: c.mode.as_str().to_owned(),
            exact_tokens: c.exact_tokens,
            check_upstream: c.check_upstream,
        });
    }
    reply::json(StatusCode::OK, &payload)
}

async fn payload(shared: &Shared) -> Health {
    let draining = shared.draining.load(Ordering::SeqCst);
    let mut checks = BTreeMap::new();
    checks.insert(
        "startup".to_owned(),
        Check {
            enabled: true,
            ready: true,
            status: "healthy".into(),
            ..Check::default()
        },
    );
    checks.insert(
        "accepting".to_owned(),
        Check {
            enabled: true,
            ready: !draining,
            status: if draining { "unhealthy" } else { "healthy" }.into(),
            draining: Some(draining),
            ..Check::default()
        },
    );
    let url = Some(shared.upstreams.anthropic.shown());
    let upstream = if shared.config.check_upstream {
        match probe(shared).await {
            Ok(()) => Check {
                enabled: true,
                ready: true,
                status: "healthy".into(),
                url,
                ..Check::default()
            },
            Err(e) => Check {
                enabled: true,
                ready: false,
                status: "unhealthy".into(),
                url,
                error: Some(e),
                ..Check::default()
            },
        }
    } else {
        Check {
            enabled: false,
            ready: true,
            status: "disabled".into(),
            url,
            ..Check::default()
        }
    };
    checks.insert("upstream".to_owned(), upstream);
    let ready = checks.values().all(|c| c.ready);
    Health {
        service: SERVICE.to_owned(),
        status: if ready { "healthy" } else { "unhealthy" }.to_owned(),
        ready,
        version: VERSION.to_owned(),
        uptime_seconds: round3(shared.uptime()),
        checks,
        deployment: shared.deployment.clone(),
        config: None,
        proof: None,
    }
}

/// HEAD the Anthropic base URL; any HTTP answer counts as reachable. Cached for 30 s and
/// serialised, so a burst of readiness checks costs one probe.
async fn probe(shared: &Shared) -> Result<(), String> {
    let mut cached = shared.probe.lock().await;
    if let Some((at, result)) = cached.as_ref() {
        if at.elapsed() < PROBE_TTL {
            return result.clone();
        }
    }
    let url = shared.upstreams.anthropic.join("/");
    let result = match Request::builder()
        .method(Method::HEAD)
        .uri(&url)
        .body(reply::empty())
    {
        Ok(req) => match shared.upstream.send(req, PROBE_TIMEOUT).await {
            Ok(_) => Ok(()),
            Err(crate::upstream::Failure::Unreachable(e)) => Err(e),
            Err(crate::upstream::Failure::Timeout(e)) => Err(e),
        },
        Err(e) => Err(e.to_string()),
    };
    *cached = Some((Instant::now(), result.clone()));
    result
}

pub(crate) fn stats(shared: &Shared) -> Response<Body> {
    let s = shared.stats.snapshot(shared.uptime());
    let pct = |before: u64, saved: u64| {
        if before == 0 {
            0.0
        } else {
            round3(saved as f64 * 100.0 / before as f64)
        }
    };
    let mut savings = shared.ledger.savings();
    for p in [
        &mut savings.today,
        &mut savings.last_7_days,
        &mut savings.lifetime,
    ] {
        p.cost_saved_usd = round6(p.cost_saved_usd);
    }
    let doc = Stats {
        service: SERVICE.to_owned(),
        uptime_seconds: round3(s.uptime_seconds),
        optimize: shared.config.optimize,
        mode: shared.config.mode.as_str().to_owned(),
        requests: RequestCounts {
            total: s.total.requests,
            failed: s.total.errors,
            compressed: s.total.compressed_requests,
            by_provider: ByProvider {
                anthropic: s.anthropic.requests,
                openai: s.openai.requests,
            },
        },
        tokens: TokenCounts {
            before: s.total.tokens_before,
            after: s.total.tokens_after,
            saved: s.total.tokens_saved,
            savings_percent: pct(s.total.tokens_before, s.total.tokens_saved),
        },
        bytes: ByteCounts {
            received: s.total.request_bytes,
            forwarded: s.total.forwarded_bytes,
            responses: s.total.response_bytes,
        },
        providers: Providers {
            anthropic: s.anthropic,
            openai: s.openai,
        },
        retained: RetainedCounts {
            entries: shared.retained.len() as u64,
            retrievals: shared.retained.lookups(),
            followup_requests: shared.retained.followups(),
        },
        savings,
    };
    reply::json(StatusCode::OK, &doc)
}

/// `GET /stats/history?days=N` (default 30, at most a year), from the savings ledger.
pub(crate) fn history(shared: &Shared, query: Option<&str>) -> Response<Body> {
    let days = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("days="))
        .map(|v| v.parse::<usize>());
    let days = match days {
        None => 30,
        Some(Ok(n)) if (1..=crate::ledger::MAX_HISTORY_DAYS).contains(&n) => n,
        Some(_) => {
            return reply::json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({
                    "error": format!("days must be a number from 1 to {}", crate::ledger::MAX_HISTORY_DAYS)
                }),
            )
        }
    };
    let mut h = shared.ledger.history(days);
    for d in &mut h.days {
        d.total.cost_saved_usd = round6(d.total.cost_saved_usd);
        for r in &mut d.rows {
            r.period.cost_saved_usd = round6(r.period.cost_saved_usd);
        }
    }
    h.lifetime.cost_saved_usd = round6(h.lifetime.cost_saved_usd);
    reply::json(StatusCode::OK, &h)
}

pub(crate) fn metrics(shared: &Shared) -> Response<Body> {
    let snap = shared.stats.snapshot(shared.uptime());
    reply::text(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        prometheus(&snap, shared.retained.len()),
    )
}

pub(crate) fn reset(shared: &Shared, peer: SocketAddr, headers: &HeaderMap) -> Response<Body> {
    if !is_local_admin(peer, headers) {
        return reply::not_found();
    }
    shared.stats.reset();
    reply::json(StatusCode::OK, &json!({"status": "reset"}))
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
