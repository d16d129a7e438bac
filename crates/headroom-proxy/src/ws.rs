//! The OpenAI Responses API over WebSocket (what Codex uses when it talks to `openai_base_url`
//! or the ChatGPT backend): each `response.create` message is a Responses request body with a
//! `"type"` key, and the answer comes back as one text message per event — the same JSON the
//! SSE transport carries in its `data:` lines.
//!
//! Why it is shaped like this:
//! * The proxy reads frames instead of copying bytes only on the Responses paths and only when
//!   optimising: everything else that upgrades stays an opaque byte relay.
//! * The client's `permessage-deflate` offer is removed from the handshake, so the upstream
//!   answers without extensions and frames are plain text on both hops. Loopback has no use for
//!   compression, and the upstream hop costs what an HTTP request body would.
//! * A `response.create` goes through the very same [`crate::forward::compress`] as an HTTP
//!   request: same transforms, same `headroom_retrieve` offer from the first message on, same
//!   stats. Codex sends only the items added since `previous_response_id`, so each tool output
//!   is compressed once, in the message that introduces it, and the server-side chain holds the
//!   compressed bytes every later turn builds on.
//! * Retrieve calls are answered on the same upstream connection: the events of the answer go
//!   through the SSE [`Splicer`] (each message wrapped as one `data:` event), and when a
//!   response ends asking only for retrieves, the proxy sends the continuation as the next
//!   `response.create` and splices its events into what the client sees. The client never
//!   learns that the tool exists; the `response.completed` it sees is the last round's, whose id
//!   chains to everything the model saw.
//! * Each hop answers its own pings (tungstenite does); close frames and binary messages are
//!   relayed as they are.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use headroom_compress::retrieval::{continuation, retrieve_calls};
use headroom_compress::Api;
use http::{HeaderMap, HeaderValue};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::retrieval_stream::{parse_event, Splicer};
use crate::retrieval_tool::{answer, MAX_ROUNDS};
use crate::route::Provider;
use crate::server::Shared;

/// True for `Upgrade: websocket`.
pub(crate) fn is_websocket(upgrade: &HeaderValue) -> bool {
    upgrade
        .to_str()
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
}

/// Drop the client's extension offers (`permessage-deflate`) so that the upstream negotiates
/// none and every frame can be read.
pub(crate) fn strip_extensions(headers: &mut HeaderMap) {
    headers.remove(http::header::SEC_WEBSOCKET_EXTENSIONS);
}

/// Who is on the other end, for stats and the ledger.
pub(crate) struct Session {
    pub(crate) provider: Provider,
    pub(crate) user_agent: Option<String>,
}

type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// Relay one upgraded connection pair until either side closes or the proxy shuts down.
pub(crate) async fn relay(shared: Arc<Shared>, client: Upgraded, upstream: Upgraded, s: Session) {
    let limit = shared.config.max_body_bytes;
    let config = WebSocketConfig::default()
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit));
    let mut client =
        WebSocketStream::from_raw_socket(TokioIo::new(client), Role::Server, Some(config)).await;
    let mut upstream =
        WebSocketStream::from_raw_socket(TokioIo::new(upstream), Role::Client, Some(config)).await;
    let hard = shared.hard.clone();
    tokio::select! {
        _ = pump(&shared, &mut client, &mut upstream, &s) => {}
        _ = hard.cancelled() => {}
    }
}

/// One response being answered with retrieval (rounds of the same client request).
struct Turn {
    splicer: Splicer,
    /// The `response.create` as last sent upstream (the base of the next continuation).
    body: Bytes,
    round: usize,
}

async fn pump(shared: &Arc<Shared>, client: &mut Ws, upstream: &mut Ws, s: &Session) {
    let mut turn: Option<Turn> = None;
    loop {
        tokio::select! {
            msg = client.next() => {
                let Some(Ok(msg)) = msg else {
                    let _ = upstream.close(None).await;
                    return;
                };
                let out = match msg {
                    Message::Text(text) => {
                        let (out, next) = on_request(shared, s, text).await;
                        turn = next;
                        out
                    }
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                    other => other,
                };
                if upstream.send(out).await.is_err() {
                    let _ = client.close(None).await;
                    return;
                }
            }
            msg = upstream.next() => {
                let Some(Ok(msg)) = msg else {
                    let _ = client.close(None).await;
                    return;
                };
                let (to_client, follow_up) = match msg {
                    Message::Text(text) => on_event(shared, &mut turn, text),
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                    other => (vec![other], None),
                };
                for out in to_client {
                    if client.send(out).await.is_err() {
                        let _ = upstream.close(None).await;
                        return;
                    }
                }
                if let Some(next) = follow_up {
                    shared.retained.count_followup();
                    if upstream.send(next).await.is_err() {
                        let _ = client.close(None).await;
                        return;
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct Kind<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<std::borrow::Cow<'a, str>>,
}

fn kind_of(text: &str) -> Option<String> {
    serde_json::from_str::<Kind<'_>>(text)
        .ok()?
        .kind
        .map(|k| k.into_owned())
}

/// A client message: compress it when it is a `response.create`; anything else goes as it is.
async fn on_request(shared: &Arc<Shared>, s: &Session, text: Utf8Bytes) -> (Message, Option<Turn>) {
    if kind_of(&text).as_deref() != Some("response.create") {
        return (Message::Text(text), None);
    }
    let started = std::time::Instant::now();
    let bytes: Bytes = AsRef::<Bytes>::as_ref(&text).clone();
    let done = crate::forward::compress(
        shared,
        Api::OpenAiResponses,
        s.provider,
        bytes,
        s.user_agent.as_deref(),
    )
    .await;
    tracing::info!(
        "WS response.create -> {} (responses) {} -> {} bytes in {:.1} ms",
        s.provider.as_str(),
        text.len(),
        done.forwarded.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let turn = done.retrieval.as_ref().map(|plan| {
        let mut splicer = Splicer::new(Api::OpenAiResponses);
        splicer.begin_round(0, MAX_ROUNDS > 0);
        Turn {
            splicer,
            body: plan.body.clone(),
            round: 0,
        }
    });
    if !done.changed {
        return (Message::Text(text), turn);
    }
    match Utf8Bytes::try_from(done.forwarded) {
        Ok(out) => (Message::Text(out), turn),
        // The compressor only writes UTF-8 JSON; should that ever fail, the original goes.
        Err(_) => (Message::Text(text), None),
    }
}

/// Events that end a response on this transport.
fn is_terminal(kind: &str) -> bool {
    matches!(
        kind,
        "response.completed" | "response.failed" | "response.incomplete" | "error"
    )
}

/// An upstream event: what the client should get now, and the continuation to send upstream
/// when the response ended asking only for retrieve calls.
fn on_event(
    shared: &Arc<Shared>,
    turn: &mut Option<Turn>,
    text: Utf8Bytes,
) -> (Vec<Message>, Option<Message>) {
    let Some(t) = turn.as_mut() else {
        return (vec![Message::Text(text)], None);
    };
    let kind = kind_of(&text).unwrap_or_default();
    let mut out: Vec<Message> = t
        .splicer
        .on_event(&as_sse(&text))
        .iter()
        .map(|b| from_sse(b))
        .collect();
    if !is_terminal(&kind) {
        return (out, None);
    }
    let next = t.splicer.end_round().and_then(|response| {
        let response = response.to_string();
        let calls = retrieve_calls(Api::OpenAiResponses, response.as_bytes())?;
        let results: Vec<(String, String)> = calls
            .iter()
            .map(|c| (c.id.clone(), answer(&shared.retained, c)))
            .collect();
        continuation(Api::OpenAiResponses, &t.body, response.as_bytes(), &results)
    });
    match next.map(String::from_utf8) {
        Some(Ok(next)) => {
            t.round += 1;
            let round = t.round;
            t.splicer.begin_round(round, round < MAX_ROUNDS);
            t.body = Bytes::from(next.clone());
            (out, Some(Message::Text(next.into())))
        }
        _ => {
            out.extend(t.splicer.flush().iter().map(|b| from_sse(b)));
            *turn = None;
            (out, None)
        }
    }
}

/// One WebSocket event as the SSE event the splicer reads.
fn as_sse(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 16);
    for line in text.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

/// The splicer's SSE output back as a WebSocket text message.
fn from_sse(event: &[u8]) -> Message {
    let (_, data) = parse_event(event);
    Message::Text(data.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_the_sse_round_trip() {
        for text in [
            r#"{"type":"response.created","response":{"id":"r1"}}"#,
            "{\n  \"type\": \"pretty\"\n}",
            "",
        ] {
            let Message::Text(back) = from_sse(&as_sse(text)) else {
                panic!("not text")
            };
            assert_eq!(back.as_str(), text);
        }
    }

    #[test]
    fn only_response_create_is_a_request() {
        assert_eq!(
            kind_of(r#"{"type":"response.create","input":[]}"#).as_deref(),
            Some("response.create")
        );
        assert_eq!(
            kind_of(r#"{"input":[],"type":"response.processed"}"#).as_deref(),
            Some("response.processed")
        );
        assert_eq!(kind_of("not json"), None);
        assert_eq!(kind_of(r#"{"type":7}"#), None);
    }
}
