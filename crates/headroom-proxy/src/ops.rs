//! Operational routes: liveness, readiness, health, stats and metrics.
//!
//! Readiness never depends on the internet: the upstream probe runs only with
//! `check_upstream`, and its result is cached so `/readyz` stays cheap. Details that identify
//! the machine (pid, upstream URLs) are shown only to loopback callers that also sent a loopback
//! `Host` header, which defeats DNS-rebinding pages in a browser.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, Request, Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::headers;
use crate::reply;
use crate::server::Shared;
use crate::stats::prometheus;
use crate::upstream::Body;

pub(crate) const SERVICE: &str = "headroom-proxy";
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
    let status = if payload["ready"] == Value::Bool(true) {
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
    if is_local_admin(peer, headers) {
        let c = &shared.config;
        payload["config"] = json!({
            "pid": std::process::id(),
            "host": c.host,
            "port": shared.local_addr.port(),
            "upstreams": {
                "anthropic": shared.upstreams.anthropic.url,
                "openai": shared.upstreams.openai.url,
                "chatgpt": shared.upstreams.chatgpt.url,
            },
            "optimize": c.optimize,
            "mode": c.mode.as_str(),
            "exact_tokens": c.exact_tokens,
            "check_upstream": c.check_upstream,
        });
    }
    reply::json(StatusCode::OK, &payload)
}

async fn payload(shared: &Shared) -> Value {
    let draining = shared.draining.load(Ordering::SeqCst);
    let mut checks = Map::new();
    checks.insert(
        "startup".into(),
        json!({"enabled": true, "ready": true, "status": "healthy"}),
    );
    checks.insert(
        "accepting".into(),
        json!({
            "enabled": true,
            "ready": !draining,
            "status": if draining { "unhealthy" } else { "healthy" },
            "draining": draining,
        }),
    );
    let upstream_url = shared.upstreams.anthropic.url.clone();
    let upstream = if shared.config.check_upstream {
        match probe(shared).await {
            Ok(()) => {
                json!({"enabled": true, "ready": true, "status": "healthy", "url": upstream_url})
            }
            Err(e) => {
                json!({"enabled": true, "ready": false, "status": "unhealthy", "url": upstream_url, "error": e})
            }
        }
    } else {
        json!({"enabled": false, "ready": true, "status": "disabled", "url": upstream_url})
    };
    checks.insert("upstream".into(), upstream);
    let ready = checks.values().all(|c| c["ready"] == Value::Bool(true));
    let mut out = json!({
        "service": SERVICE,
        "status": if ready { "healthy" } else { "unhealthy" },
        "ready": ready,
        "version": VERSION,
        "uptime_seconds": round3(shared.uptime()),
        "checks": checks,
    });
    if let Some(d) = &shared.deployment {
        out["deployment"] = serde_json::to_value(d).unwrap_or(Value::Null);
    }
    out
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
    reply::json(
        StatusCode::OK,
        &json!({
            "service": SERVICE,
            "uptime_seconds": round3(s.uptime_seconds),
            "optimize": shared.config.optimize,
            "mode": shared.config.mode.as_str(),
            "requests": {
                "total": s.total.requests,
                "failed": s.total.errors,
                "compressed": s.total.compressed_requests,
                "by_provider": {
                    "anthropic": s.anthropic.requests,
                    "openai": s.openai.requests,
                },
            },
            "tokens": {
                "before": s.total.tokens_before,
                "after": s.total.tokens_after,
                "saved": s.total.tokens_saved,
                "savings_percent": pct(s.total.tokens_before, s.total.tokens_saved),
            },
            "bytes": {
                "received": s.total.request_bytes,
                "forwarded": s.total.forwarded_bytes,
                "responses": s.total.response_bytes,
            },
            "providers": {
                "anthropic": s.anthropic,
                "openai": s.openai,
            },
            "retained": {
                "entries": shared.retained.len(),
                "retrievals": shared.retained.lookups(),
                "followup_requests": shared.retained.followups(),
            },
        }),
    )
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

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
