//! The per-request pipeline: read our headers, pick the upstream, maybe compress the body, send,
//! and relay the answer (streamed, or as a protocol upgrade).
//!
//! Bodies are forwarded byte for byte unless the compressor returned a rewritten body: the
//! proxy never parses and re-serialises JSON, because a single changed byte in the cached
//! prefix costs the user a full prompt-cache miss. Malformed JSON is the upstream's business.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST, UPGRADE};
use http::{HeaderValue, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::config::Base;
use crate::headers;
use crate::optimize;
use crate::relay::{Counted, Relay};
use crate::reply;
use crate::retrieval_tool;
use crate::route::{self, Provider};
use crate::server::Shared;
use crate::upstream::{Body, Failure};

/// Token accounting for the response headers, when the compressor ran.
struct TokenHeaders {
    before: u64,
    after: u64,
}

pub(crate) async fn forward(
    shared: Arc<Shared>,
    _peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let started = Instant::now();
    let upgrade = if headers::is_upgrade(req.headers()) {
        req.headers().get(UPGRADE).cloned()
    } else {
        None
    };
    let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    let internal = headers::take_internal(&mut parts.headers);

    let base_override = match internal.base_url.as_deref() {
        None => None,
        Some(raw) => match Base::parse(raw, "x-headroom-base-url") {
            // Only a choice among the upstreams this proxy was configured with: a caller must
            // not make the proxy send requests (and retained originals) anywhere it likes.
            Ok(b) if !shared.upstreams.contains(&b) => {
                let provider = if route::anthropic_auth(&parts.headers) {
                    Provider::Anthropic
                } else {
                    Provider::OpenAi
                };
                return reply::error(
                    provider,
                    StatusCode::FORBIDDEN,
                    "Headroom proxy: x-headroom-base-url may only name one of the proxy's configured upstreams",
                );
            }
            Ok(b) => Some(b),
            Err(e) => {
                let provider = if route::anthropic_auth(&parts.headers) {
                    Provider::Anthropic
                } else {
                    Provider::OpenAi
                };
                return reply::error(provider, StatusCode::BAD_REQUEST, &e.to_string());
            }
        },
    };
    let target = route::select(
        &parts.method,
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        &shared.upstreams,
        base_override.as_ref(),
    );
    let provider = target.provider;

    headers::strip_hop_by_hop(&mut parts.headers);
    headers::restore_upgrade(&mut parts.headers, upgrade.clone());
    // The client sets Host from the upstream URI; `Expect: 100-continue` was already answered
    // by our server side, so the upstream must not wait for a second body handshake.
    parts.headers.remove(HOST);
    parts.headers.remove(http::header::EXPECT);
    if let Some(id) = target.add_account_id.clone() {
        parts.headers.insert("chatgpt-account-id", id);
    }

    let optimize = shared.config.optimize && !internal.bypass;
    // Codex's Responses WebSocket: read its frames to compress each `response.create`.
    let ws_session = (optimize
        && target.label == "responses"
        && upgrade.as_ref().is_some_and(crate::ws::is_websocket))
    .then(|| {
        crate::ws::strip_extensions(&mut parts.headers);
        crate::ws::Session {
            provider,
            user_agent: parts
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    });
    let mut tokens: Option<TokenHeaders> = None;
    let mut retrieval: Option<retrieval_tool::Plan> = None;
    let mut budget_hold: Option<crate::body::Buffered> = None;
    let outbound: Body = match target.api {
        Some(api) if optimize => 'outbound: {
            // A declared size the proxy would refuse anyway is refused before a byte is read.
            let declared = parts
                .headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let buffered = match crate::body::read(
                body,
                declared,
                shared.config.max_body_bytes,
                shared.config.body_read_timeout,
                &shared.body_budget,
            )
            .await
            {
                Ok(buffered) => buffered,
                Err(crate::body::ReadError::OverBudget { prefix, rest }) => {
                    // Too much is buffered already: this one goes through as it is.
                    tracing::debug!(
                        provider = provider.as_str(),
                        "body memory budget spent; forwarding uncompressed"
                    );
                    shared.stats.request(provider, 0, 0);
                    break 'outbound Counted::with_prefix(prefix, rest, provider, shared.clone())
                        .boxed();
                }
                Err(err) => {
                    shared.stats.request(provider, 0, 0);
                    shared.stats.error(provider);
                    let (status, message) = match err {
                        crate::body::ReadError::TooLarge => (
                            StatusCode::PAYLOAD_TOO_LARGE,
                            format!(
                                "Headroom proxy: request body exceeds {} bytes",
                                shared.config.max_body_bytes
                            ),
                        ),
                        crate::body::ReadError::Idle => (
                            StatusCode::REQUEST_TIMEOUT,
                            format!(
                                "Headroom proxy: no request body data for {} s",
                                shared.config.body_read_timeout.as_secs()
                            ),
                        ),
                        _ => (
                            StatusCode::BAD_REQUEST,
                            "Headroom proxy: could not read the request body".to_owned(),
                        ),
                    };
                    let mut resp = reply::error(provider, status, &message);
                    // The unread rest of the body would otherwise be drained to keep the
                    // connection alive: that is exactly what the limits are there to avoid.
                    resp.headers_mut()
                        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
                    return resp;
                }
            };
            let bytes = buffered.bytes.clone();
            // The budget share is held until the response head arrives.
            budget_hold = Some(buffered);
            let user_agent = parts
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let done = compress(&shared, api, provider, bytes, user_agent.as_deref()).await;
            tokens = done.tokens;
            retrieval = done.retrieval;
            if done.changed {
                parts
                    .headers
                    .insert(CONTENT_LENGTH, HeaderValue::from(done.forwarded.len()));
            }
            let forwarded = done.forwarded;
            reply::full(forwarded)
        }
        _ => {
            shared.stats.request(provider, 0, 0);
            Counted::new(body, provider, shared.clone()).boxed()
        }
    };

    let mut upstream_req = Request::new(outbound);
    *upstream_req.method_mut() = parts.method.clone();
    *upstream_req.version_mut() = Version::HTTP_11;
    if let Some(plan) = retrieval.as_mut() {
        // The proxy reads these answers to find retrieve calls: ask for them uncompressed.
        parts.headers.insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        plan.method = parts.method.clone();
        plan.headers = parts.headers.clone();
    }
    *upstream_req.headers_mut() = parts.headers;
    match target.url.parse::<http::Uri>() {
        Ok(uri) => {
            if let Some(plan) = retrieval.as_mut() {
                plan.uri = uri.clone();
            }
            *upstream_req.uri_mut() = uri
        }
        Err(_) => {
            shared.stats.error(provider);
            return reply::error(
                provider,
                StatusCode::BAD_REQUEST,
                "Headroom proxy: the request path cannot be forwarded",
            );
        }
    }
    // Host and port only: a `user:password@` in the upstream URL must not reach the client.
    let upstream_host = upstream_req
        .uri()
        .authority()
        .map(|a| match a.port() {
            Some(port) => format!("{}:{port}", a.host()),
            None => a.host().to_owned(),
        })
        .unwrap_or_default();

    let log = |status| {
        log_request(
            &parts.method,
            parts.uri.path(),
            provider,
            target.label,
            status,
            started,
        )
    };
    let resp = match shared
        .upstream
        .send(upstream_req, shared.config.response_timeout)
        .await
    {
        Ok(resp) => resp,
        Err(failure) => {
            shared.stats.error(provider);
            let (status, message) = match failure {
                Failure::Unreachable(detail) => (
                    StatusCode::BAD_GATEWAY,
                    format!("Headroom proxy could not reach the upstream API at {upstream_host}: {detail}"),
                ),
                Failure::Timeout(detail) => (
                    StatusCode::GATEWAY_TIMEOUT,
                    format!("Headroom proxy timed out waiting for the upstream API at {upstream_host}: {detail}"),
                ),
            };
            log(status);
            return reply::error(provider, status, &message);
        }
    };

    drop(budget_hold);
    let status = resp.status();
    shared.stats.status(provider, status.as_u16());
    log(status);

    if status == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_upgrade) = client_upgrade {
            return relay_upgrade(&shared, client_upgrade, resp, ws_session);
        }
    }

    let resp = match retrieval {
        Some(plan) => retrieval_tool::complete(&shared, plan, resp).await,
        None => retrieval_tool::boxed(resp),
    };
    let status = resp.status();
    let (rparts, rbody) = resp.into_parts();
    let mut out_headers = rparts.headers;
    headers::strip_hop_by_hop(&mut out_headers);
    let sse = headers::is_sse(&out_headers);
    if sse {
        // We may append an error event; let the server frame the body itself.
        out_headers.remove(CONTENT_LENGTH);
    }
    if let Some(t) = tokens {
        out_headers.insert("x-headroom-tokens-before", HeaderValue::from(t.before));
        out_headers.insert("x-headroom-tokens-after", HeaderValue::from(t.after));
        out_headers.insert(
            "x-headroom-tokens-saved",
            HeaderValue::from(t.before.saturating_sub(t.after)),
        );
    }
    let mut out = Response::new(Relay::new(rbody, sse, provider, shared.clone()).boxed());
    *out.status_mut() = status;
    *out.headers_mut() = out_headers;
    out
}

/// What [`compress`] decided for one request body.
pub(crate) struct Compressed {
    /// The bytes to send upstream (the original ones when nothing changed).
    pub(crate) forwarded: Bytes,
    pub(crate) changed: bool,
    tokens: Option<TokenHeaders>,
    /// Set when `headroom_retrieve` was offered: how to send follow-ups.
    pub(crate) retrieval: Option<retrieval_tool::Plan>,
}

/// Compress one buffered request body, offer `headroom_retrieve` where its calls can be
/// answered, and account for it (stats, ledger, retained originals). Shared by HTTP requests
/// and `response.create` messages on a Responses WebSocket.
pub(crate) async fn compress(
    shared: &Arc<Shared>,
    api: headroom_compress::Api,
    provider: Provider,
    bytes: Bytes,
    user_agent: Option<&str>,
) -> Compressed {
    let received = bytes.len() as u64;
    let mut forwarded = bytes.clone();
    let mut changed = false;
    let mut tokens = None;
    let mut retrieval = None;
    let options = shared.compress_options.clone();
    // The compressor drops content only in conversations that offer `headroom_retrieve`, and
    // the tool is offered on every request of such a conversation — from its first request on,
    // whether or not this one retained anything — so `tools`, the start of the provider's cache
    // order, never changes mid-conversation.
    let outcome = optimize::run(api, bytes.clone(), options).await;
    let offer = outcome.as_ref().and_then(|o| {
        let compressed = o.body.as_deref().unwrap_or(&bytes);
        retrieval_tool::prepare(api, provider, compressed, &o.request)
    });
    if let Some(outcome) = outcome {
        let rewritten = outcome.body.is_some();
        shared.stats.tokens(
            provider,
            outcome.tokens_before,
            outcome.tokens_after,
            rewritten,
        );
        shared.ledger.record(&crate::ledger::Entry {
            provider: provider.as_str(),
            model: outcome.model.as_deref(),
            client: crate::ledger::client_of(user_agent),
            before: outcome.tokens_before,
            after: outcome.tokens_after,
        });
        shared.retained.insert_all(outcome.retained);
        tokens = Some(TokenHeaders {
            before: outcome.tokens_before,
            after: outcome.tokens_after,
        });
        if let Some(new_body) = outcome.body {
            forwarded = Bytes::from(new_body);
            changed = true;
        }
    }
    if let Some((body, plan)) = offer {
        forwarded = body;
        changed = true;
        retrieval = Some(plan);
    }
    shared
        .stats
        .request(provider, received, forwarded.len() as u64);
    Compressed {
        forwarded,
        changed,
        tokens,
        retrieval,
    }
}

/// Answer the client's upgrade with the upstream's 101, then relay: a Responses WebSocket
/// message by message (see [`crate::ws`]), anything else as opaque bytes both ways.
fn relay_upgrade(
    shared: &Arc<Shared>,
    client_upgrade: hyper::upgrade::OnUpgrade,
    mut resp: Response<Incoming>,
    ws_session: Option<crate::ws::Session>,
) -> Response<Body> {
    let upstream_upgrade = hyper::upgrade::on(&mut resp);
    let hard = shared.hard.clone();
    let ws_shared = shared.clone();
    shared.tracker.spawn(async move {
        let (client, upstream) = match tokio::try_join!(client_upgrade, upstream_upgrade) {
            Ok(pair) => pair,
            Err(err) => {
                tracing::debug!(error = %err, "upgrade handshake failed");
                return;
            }
        };
        if let Some(session) = ws_session {
            crate::ws::relay(ws_shared, client, upstream, session).await;
            return;
        }
        let mut client = TokioIo::new(client);
        let mut upstream = TokioIo::new(upstream);
        tokio::select! {
            res = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
                if let Err(err) = res {
                    tracing::debug!(error = %err, "upgraded connection ended with an error");
                }
            }
            _ = hard.cancelled() => {}
        }
    });
    let mut out = Response::new(reply::empty());
    *out.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let mut h = resp.headers().clone();
    // Keep `Connection`/`Upgrade` (they define the 101) but nothing else hop-by-hop.
    let upgrade = h.get(UPGRADE).cloned();
    headers::strip_hop_by_hop(&mut h);
    headers::restore_upgrade(&mut h, upgrade);
    *out.headers_mut() = h;
    out
}

fn log_request(
    method: &http::Method,
    path: &str,
    provider: Provider,
    label: &str,
    status: StatusCode,
    started: Instant,
) {
    tracing::info!(
        "{method} {path} -> {} ({label}) {} in {:.1} ms",
        provider.as_str(),
        status.as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
}
