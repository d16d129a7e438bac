//! Redeeming compression markers: when the compressor dropped content (it says "call
//! headroom_retrieve with key …"), the proxy offers the `headroom_retrieve` tool in that request
//! and answers the model's calls to it itself, so the client never sees a tool it does not have.
//!
//! Why it is shaped like this:
//! * The tool is offered on every request of a conversation that has tools, from its first
//!   request on, whether or not this request retained anything, with the same bytes every time.
//!   `tools` is the start of the providers' cache order: a tool added mid-conversation (the
//!   first time something was retained) made every cached prefix miss once more.
//! * The request bytes are spliced, never re-serialised (see `headroom_compress::retrieval`).
//! * A response that mixes retrieve calls with the client's own tool calls is passed through
//!   unchanged: the client must run its tools, and we cannot run half a turn for it.
//! * Only requests we can fully answer get the tool: streamed or not, for all three APIs (see
//!   [`crate::retrieval_stream`]); an API without a streaming loop would be left alone rather
//!   than half-handled.
//! * Lossy compression only in conversations offered the tool: the compressor reads `tools` in
//!   its one parse of the body and, for a client without tools (`tools` absent, `[]` or
//!   `null`), drops nothing (`Options::lossy_only_if_redeemable`), so no marker promises a
//!   retrieval nobody can deliver and no request is compressed twice. `tool_choice` does not
//!   count: it changes from turn to turn, and a block must compress to the same bytes in every
//!   turn; a marker written in a turn that forbids calls is redeemed in a later one. Its [`RequestFacts`] also tell this module
//!   whether the request streams and has `tools`, so the body is not parsed again here.
//! * At most [`MAX_ROUNDS`] follow-up requests per client request, so a model that keeps asking
//!   cannot loop forever.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use headroom_compress::retrieval::{
    continuation, inject_tool, retrieve_calls, tool_definition, RetrieveCall,
};
use headroom_compress::{Api, RequestFacts, ToolsField};
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, Version};
use http_body::Frame;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;

use crate::headers::is_sse;
use crate::ops;
use crate::reply;
use crate::retrieve::RetainedStore;
use crate::route::Provider;
use crate::server::Shared;
use crate::upstream::{Body, BoxError, Failure};

/// Follow-up requests per client request.
pub(crate) const MAX_ROUNDS: usize = 3;

/// Largest upstream JSON response the proxy buffers to look for retrieve calls. Larger ones
/// are passed through as they are (a retrieve-only answer is tiny).
pub(crate) const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Largest `POST /v1/retrieve` body.
const MAX_QUERY_BYTES: usize = 64 * 1024;

/// Everything needed to re-send the request with tool results appended.
pub(crate) struct Plan {
    pub(crate) api: Api,
    pub(crate) provider: Provider,
    pub(crate) streaming: bool,
    /// The body as forwarded (tool offered).
    pub(crate) body: Bytes,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
}

/// The body with the tool offered. A body without `tools` gets `"tools":[…]` right after its
/// opening `{`, so the key sits at the same offset on every turn.
fn offer(api: Api, body: &[u8], has_tools: bool) -> Option<Vec<u8>> {
    let appended = inject_tool(api, body)?;
    if has_tools {
        return Some(appended);
    }
    let open = body.iter().position(|b| !b.is_ascii_whitespace())?;
    if body[open] != b'{' {
        return None;
    }
    let empty = body[open + 1..]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'}');
    let def = tool_definition(api);
    let mut out = Vec::with_capacity(body.len() + def.len() + 12);
    out.extend_from_slice(&body[..=open]);
    out.extend_from_slice(b"\"tools\":[");
    out.extend_from_slice(def.as_bytes());
    out.push(b']');
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(&body[open + 1..]);
    Some(out)
}

/// Offer the retrieve tool in `forwarded` when we can answer its calls for this request.
/// Returns the new body and the plan (whose `method`/`uri`/`headers` the caller fills in).
pub(crate) fn prepare(
    api: Api,
    provider: Provider,
    forwarded: &[u8],
    facts: &RequestFacts,
) -> Option<(Bytes, Plan)> {
    // The client's own `headroom_retrieve` gets the calls (e.g. an MCP bridge to
    // `POST /v1/retrieve`): nothing to inject or answer.
    if facts.client_offers_retrieve || !facts.redeemable() {
        return None;
    }
    let streaming = facts.stream;
    if streaming && !crate::retrieval_stream::supports(api) {
        return None;
    }
    let body = Bytes::from(offer(api, forwarded, facts.tools == ToolsField::Array)?);
    Some((
        body.clone(),
        Plan {
            api,
            provider,
            streaming,
            body,
            method: Method::POST,
            uri: Uri::default(),
            headers: HeaderMap::new(),
        },
    ))
}

/// The text returned to the model for one retrieve call.
pub(crate) fn answer(store: &RetainedStore, call: &RetrieveCall) -> String {
    match store.lookup(&call.key) {
        Some(original) => original,
        None => format!(
            "headroom_retrieve: nothing is stored under key \"{}\" (it may have expired or the \
             proxy restarted). Continue with the shortened output.",
            call.key
        ),
    }
}

pub(crate) fn boxed(resp: Response<Incoming>) -> Response<Body> {
    resp.map(|b| {
        b.map_err(|e| -> crate::upstream::BoxError { Box::new(e) })
            .boxed()
    })
}

/// The follow-up request: same method, URI and headers (credentials included), new body.
pub(crate) fn follow_up_request(plan: &Plan, body: Bytes) -> Request<Body> {
    let mut req = Request::new(reply::full(body.clone()));
    *req.method_mut() = plan.method.clone();
    *req.version_mut() = Version::HTTP_11;
    *req.uri_mut() = plan.uri.clone();
    *req.headers_mut() = plan.headers.clone();
    req.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    req
}

/// Send one follow-up. A failure is `(status, message)`, already counted as an error.
pub(crate) async fn send_follow_up(
    shared: &Arc<Shared>,
    plan: &Plan,
    body: Bytes,
) -> Result<Response<Incoming>, (StatusCode, String)> {
    let req = follow_up_request(plan, body);
    shared.retained.count_followup();
    match shared
        .upstream
        .send(req, shared.config.response_timeout)
        .await
    {
        Ok(resp) => Ok(resp),
        Err(failure) => {
            shared.stats.error(plan.provider);
            let (status, detail) = match failure {
                Failure::Unreachable(d) => (StatusCode::BAD_GATEWAY, d),
                Failure::Timeout(d) => (StatusCode::GATEWAY_TIMEOUT, d),
            };
            Err((
                status,
                format!("Headroom proxy: the retrieval follow-up request failed: {detail}"),
            ))
        }
    }
}

/// Answer retrieve-only responses for `plan` and return what the client should see.
pub(crate) async fn complete(
    shared: &Arc<Shared>,
    plan: Plan,
    resp: Response<Incoming>,
) -> Response<Body> {
    if !resp.status().is_success() {
        return boxed(resp);
    }
    if is_sse(resp.headers()) {
        return if plan.streaming {
            crate::retrieval_stream::relay(shared.clone(), plan, resp)
        } else {
            boxed(resp)
        };
    }
    let mut resp = resp;
    let mut body = plan.body.clone();
    for _ in 0..MAX_ROUNDS {
        let (parts, incoming) = resp.into_parts();
        let bytes = match read_up_to(incoming, MAX_RESPONSE_BYTES).await {
            Read::Whole(bytes) => bytes,
            // Too big to be a retrieve-only answer: relay it as it is.
            Read::TooBig(body) => return Response::from_parts(parts, body),
            Read::Failed(err) => {
                shared.stats.error(plan.provider);
                return reply::error(
                    plan.provider,
                    StatusCode::BAD_GATEWAY,
                    &format!("Headroom proxy: could not read the upstream response ({err})"),
                );
            }
        };
        let unchanged = |bytes: Bytes| Response::from_parts(parts.clone(), reply::full(bytes));
        let Some(calls) = retrieve_calls(plan.api, &bytes) else {
            return unchanged(bytes);
        };
        let results: Vec<(String, String)> = calls
            .iter()
            .map(|c| (c.id.clone(), answer(&shared.retained, c)))
            .collect();
        let Some(next) = continuation(plan.api, &body, &bytes, &results) else {
            return unchanged(bytes);
        };
        body = Bytes::from(next);
        resp = match send_follow_up(shared, &plan, body.clone()).await {
            Ok(r) => r,
            Err((status, message)) => return reply::error(plan.provider, status, &message),
        };
        if !resp.status().is_success() || is_sse(resp.headers()) {
            return boxed(resp);
        }
    }
    boxed(resp)
}

enum Read {
    Whole(Bytes),
    /// Over the limit: what was read, followed by the rest of the body.
    TooBig(Body),
    Failed(hyper::Error),
}

async fn read_up_to(mut body: Incoming, limit: usize) -> Read {
    let mut buf = BytesMut::new();
    loop {
        match body.frame().await {
            None => return Read::Whole(buf.freeze()),
            Some(Err(err)) => return Read::Failed(err),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                    if buf.len() > limit {
                        return Read::TooBig(
                            Prefixed {
                                prefix: Some(buf.freeze()),
                                rest: body,
                            }
                            .boxed(),
                        );
                    }
                }
            }
        }
    }
}

/// Bytes already read, then the rest of an upstream body.
struct Prefixed {
    prefix: Option<Bytes>,
    rest: Incoming,
}

impl http_body::Body for Prefixed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        Pin::new(&mut self.rest)
            .poll_frame(cx)
            .map_err(|e| -> BoxError { Box::new(e) })
    }
}

#[derive(Deserialize)]
struct Query {
    key: String,
}

/// `POST /v1/retrieve {"key": "..."}` for local callers (scripts, MCP bridges).
pub(crate) async fn endpoint(
    shared: &Shared,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Body> {
    if !ops::is_local_admin(peer, req.headers()) {
        return reply::not_found();
    }
    let bytes = match Limited::new(req.into_body(), MAX_QUERY_BYTES)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            return reply::json(
                StatusCode::BAD_REQUEST,
                &json!({"error": format!("the request body must be JSON under {MAX_QUERY_BYTES} bytes")}),
            )
        }
    };
    let query: Query = match serde_json::from_slice(&bytes) {
        Ok(q) => q,
        Err(e) => {
            return reply::json(
                StatusCode::BAD_REQUEST,
                &json!({"error": format!("expected {{\"key\": \"...\"}}: {e}")}),
            )
        }
    };
    match shared.retained.lookup(&query.key) {
        Some(content) => reply::json(
            StatusCode::OK,
            &json!({"key": query.key, "content": content}),
        ),
        None => reply::json(
            StatusCode::NOT_FOUND,
            &json!({"error": "no content is stored under this key", "key": query.key}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tools_key_goes_right_after_the_opening_brace() {
        let def = tool_definition(Api::OpenAiChat);
        let out = offer(Api::OpenAiChat, br#" {"model":"m","messages":[]}"#, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(r#" {{"tools":[{def}],"model":"m","messages":[]}}"#)
        );
        let out = offer(Api::OpenAiChat, b"{ }", false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(r#"{{"tools":[{def}] }}"#)
        );
        // `tools: null` is left alone; an existing array gets the tool appended.
        assert!(offer(Api::OpenAiChat, br#"{"tools":null}"#, false).is_none());
        let out = offer(Api::OpenAiChat, br#"{"tools":[],"model":"m"}"#, true).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(r#"{{"tools":[{def}],"model":"m"}}"#)
        );
    }
}
