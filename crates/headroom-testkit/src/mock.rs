//! The loopback mock upstream. A real hyper HTTP/1.1 server on `127.0.0.1:0`, so whatever talks
//! to it exercises real sockets, real chunked encoding and real connection teardown.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path plus `?query` exactly as sent.
    pub path: String,
    pub headers: HeaderMap,
    /// The body bytes, exactly (after HTTP de-chunking).
    pub body: Vec<u8>,
    /// Index into [`MockUpstream::streams`] when the reply was streamed.
    pub stream: Option<usize>,
}

impl Recorded {
    /// A header value as a string (first value), if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The body as UTF-8 (lossy).
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// What happened to a streamed reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamOutcome {
    /// Still sending (or hanging).
    Running,
    /// Every chunk was handed to the connection and the body ended normally.
    Completed,
    /// The script closed the connection mid-stream ([`StreamEnd::Close`]).
    Closed,
    /// The peer went away before the stream finished: the client cancelled.
    Cancelled,
}

/// How a streamed body ends after its chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// Terminate the body normally.
    Finish,
    /// Abort the connection without the terminating chunk (a mid-stream failure).
    Close,
    /// Keep the response open forever (until the peer goes away).
    Hang,
}

/// A scripted reply body.
#[derive(Debug, Clone)]
pub enum ReplyBody {
    Full(Bytes),
    /// Chunks sent one by one, each after its delay.
    Stream {
        chunks: Vec<(Duration, Bytes)>,
        end: StreamEnd,
    },
    /// Never send response headers.
    Hang,
}

/// A scripted reply; build with the constructors and `with_*` methods.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: ReplyBody,
    /// Wait this long before sending the response headers.
    pub delay: Duration,
}

impl Reply {
    /// A JSON body with `content-type: application/json`.
    pub fn json(status: u16, value: Value) -> Reply {
        Reply::bytes(status, "application/json", value.to_string())
    }

    /// Any body with the given content type.
    pub fn bytes(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: ReplyBody::Full(body.into()),
            delay: Duration::ZERO,
        }
    }

    /// An SSE stream (`text/event-stream`, chunked): one chunk per item, `gap` before each
    /// chunk after the first.
    pub fn sse(chunks: Vec<String>, gap: Duration) -> Reply {
        let chunks = chunks
            .into_iter()
            .enumerate()
            .map(|(i, c)| (if i == 0 { Duration::ZERO } else { gap }, Bytes::from(c)))
            .collect();
        Reply {
            status: 200,
            headers: vec![
                (
                    "content-type".into(),
                    "text/event-stream; charset=utf-8".into(),
                ),
                ("cache-control".into(), "no-cache".into()),
            ],
            body: ReplyBody::Stream {
                chunks,
                end: StreamEnd::Finish,
            },
            delay: Duration::ZERO,
        }
    }

    /// The real Anthropic Messages SSE sequence for a text answer, one event per chunk.
    pub fn anthropic_sse(text: &str, gap: Duration) -> Reply {
        Reply::sse(anthropic_events(text), gap)
    }

    /// The Anthropic Messages SSE sequence of an assistant turn that calls one tool
    /// (`stop_reason: tool_use`), its input streamed as `input_json_delta`s.
    pub fn anthropic_tool_use_sse(id: &str, name: &str, input: &Value) -> Reply {
        let partial = input.to_string();
        let mut out = vec![
            sse_event(
                "message_start",
                &json!({"type":"message_start","message":{"id":format!("msg_{id}"),"type":"message","role":"assistant","model":"claude-mock","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}),
            ),
            sse_event(
                "content_block_start",
                &json!({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":id,"name":name,"input":{}}}),
            ),
        ];
        let chars: Vec<char> = partial.chars().collect();
        for chunk in chars.chunks(40) {
            out.push(sse_event(
                "content_block_delta",
                &json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":chunk.iter().collect::<String>()}}),
            ));
        }
        out.push(sse_event(
            "content_block_stop",
            &json!({"type":"content_block_stop","index":0}),
        ));
        out.push(sse_event(
            "message_delta",
            &json!({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":20}}),
        ));
        out.push(sse_event("message_stop", &json!({"type":"message_stop"})));
        Reply::sse(out, Duration::ZERO)
    }

    /// The OpenAI Responses SSE sequence of a turn that calls one function (`function_call`
    /// output item), its arguments streamed as deltas.
    pub fn openai_function_call_sse(call_id: &str, name: &str, arguments: &Value) -> Reply {
        let args = arguments.to_string();
        let item_id = format!("fc_{call_id}");
        let item = |status: &str, args: &str| json!({"type":"function_call","id":item_id,"call_id":call_id,"name":name,"arguments":args,"status":status});
        let mut out = vec![
            sse_event(
                "response.created",
                &json!({"type":"response.created","response":{"id":format!("resp_{call_id}"),"object":"response","status":"in_progress","output":[]}}),
            ),
            sse_event(
                "response.output_item.added",
                &json!({"type":"response.output_item.added","output_index":0,"item":item("in_progress", "")}),
            ),
        ];
        let chars: Vec<char> = args.chars().collect();
        for chunk in chars.chunks(40) {
            out.push(sse_event(
                "response.function_call_arguments.delta",
                &json!({"type":"response.function_call_arguments.delta","item_id":item_id,"output_index":0,"delta":chunk.iter().collect::<String>()}),
            ));
        }
        out.push(sse_event(
            "response.function_call_arguments.done",
            &json!({"type":"response.function_call_arguments.done","item_id":item_id,"output_index":0,"arguments":args}),
        ));
        out.push(sse_event(
            "response.output_item.done",
            &json!({"type":"response.output_item.done","output_index":0,"item":item("completed", &args)}),
        ));
        out.push(sse_event(
            "response.completed",
            &json!({"type":"response.completed","response":{"id":format!("resp_{call_id}"),"object":"response","status":"completed","output":[item("completed", &args)],"usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":0},"output_tokens":20,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":32}}}),
        ));
        Reply::sse(out, Duration::ZERO)
    }

    /// The OpenAI Chat Completions chunks of a turn that calls one tool (`tool_calls`), its
    /// arguments streamed as deltas, ending with `finish_reason: "tool_calls"` and `[DONE]`.
    pub fn openai_chat_tool_call_sse(call_id: &str, name: &str, arguments: &Value) -> Reply {
        let chunk = |delta: Value, finish: Value| {
            format!(
                "data: {}\n\n",
                json!({"id":"chatcmpl-mock","object":"chat.completion.chunk","created":0,"model":"gpt-mock","choices":[{"index":0,"delta":delta,"finish_reason":finish}]})
            )
        };
        let mut out = vec![chunk(
            json!({"role":"assistant","content":null,"tool_calls":[{"index":0,"id":call_id,"type":"function","function":{"name":name,"arguments":""}}]}),
            Value::Null,
        )];
        let args: Vec<char> = arguments.to_string().chars().collect();
        for part in args.chunks(40) {
            out.push(chunk(
                json!({"tool_calls":[{"index":0,"function":{"arguments":part.iter().collect::<String>()}}]}),
                Value::Null,
            ));
        }
        out.push(chunk(json!({}), json!("tool_calls")));
        out.push("data: [DONE]\n\n".to_owned());
        Reply::sse(out, Duration::ZERO)
    }

    /// OpenAI Chat Completions `data:` chunks ending with `data: [DONE]`.
    pub fn openai_chat_sse(text: &str, gap: Duration) -> Reply {
        Reply::sse(openai_chat_events(text), gap)
    }

    /// OpenAI Responses API typed events (`response.created` … `response.completed`).
    pub fn openai_responses_sse(text: &str, gap: Duration) -> Reply {
        Reply::sse(openai_responses_events(text), gap)
    }

    /// Never answer (not even headers).
    pub fn hang() -> Reply {
        Reply {
            status: 200,
            headers: vec![],
            body: ReplyBody::Hang,
            delay: Duration::ZERO,
        }
    }

    pub fn with_status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Delay the response headers.
    pub fn with_delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// For streamed bodies: only the first `n` chunks are sent, then the connection is aborted.
    pub fn close_after(mut self, n: usize) -> Reply {
        if let ReplyBody::Stream { chunks, end } = &mut self.body {
            chunks.truncate(n);
            *end = StreamEnd::Close;
        }
        self
    }

    /// For streamed bodies: after the chunks, keep the response open forever.
    pub fn then_hang(mut self) -> Reply {
        if let ReplyBody::Stream { end, .. } = &mut self.body {
            *end = StreamEnd::Hang;
        }
        self
    }

    /// For streamed bodies: wait `delay` before the chunk at `index`.
    pub fn with_chunk_delay(mut self, index: usize, delay: Duration) -> Reply {
        if let ReplyBody::Stream { chunks, .. } = &mut self.body {
            if let Some(c) = chunks.get_mut(index) {
                c.0 = delay;
            }
        }
        self
    }
}

/// Decides a reply from the request (method, path, body); `None` falls through to the queue.
type Responder = Box<dyn Fn(&str, &str, &[u8]) -> Option<Reply> + Send + Sync>;

#[derive(Default)]
struct State {
    responder: Mutex<Option<Responder>>,
    requests: Mutex<Vec<Recorded>>,
    script: Mutex<VecDeque<Reply>>,
    streams: Mutex<Vec<StreamOutcome>>,
    changed: Notify,
}

impl State {
    fn set_stream(&self, idx: usize, outcome: StreamOutcome) {
        if let Some(slot) = lock(&self.streams).get_mut(idx) {
            *slot = outcome;
        }
        self.changed.notify_waiters();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A loopback mock of the Anthropic and OpenAI APIs. Stops when dropped.
pub struct MockUpstream {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for MockUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockUpstream")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockUpstream {
    /// Bind `127.0.0.1:0` and serve on the current runtime.
    pub async fn start() -> MockUpstream {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("mock upstream cannot bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("mock upstream has no address: {e}"));
        let state = Arc::new(State::default());
        let accept_state = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let state = accept_state.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
        });
        MockUpstream { addr, state, task }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answer by looking at each request (for clients that interleave side requests with their
    /// main loop, so a FIFO queue would hand replies to the wrong ones). `None` from the
    /// function falls back to the queue, then to the route's default answer.
    pub fn respond_with(
        &self,
        f: impl Fn(&str, &str, &[u8]) -> Option<Reply> + Send + Sync + 'static,
    ) {
        *lock(&self.state.responder) = Some(Box::new(f));
    }

    /// Queue a reply for the next request (FIFO). Requests with no queued reply get the
    /// default answer for their route.
    pub fn push(&self, reply: Reply) {
        lock(&self.state.script).push_back(reply);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.requests).clone()
    }

    /// The last request received.
    pub fn last_request(&self) -> Option<Recorded> {
        lock(&self.state.requests).last().cloned()
    }

    /// Outcomes of streamed replies, in the order they started.
    pub fn streams(&self) -> Vec<StreamOutcome> {
        lock(&self.state.streams).clone()
    }

    /// Wait until at least `n` requests arrived (or `timeout`); returns whether they did.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        self.wait(timeout, |s| lock(&s.requests).len() >= n).await
    }

    /// Wait until streamed reply `index` is no longer running; returns its outcome then (or
    /// `Running` on timeout).
    pub async fn wait_for_stream_end(&self, index: usize, timeout: Duration) -> StreamOutcome {
        self.wait(timeout, |s| {
            lock(&s.streams)
                .get(index)
                .is_some_and(|o| *o != StreamOutcome::Running)
        })
        .await;
        self.streams()
            .get(index)
            .copied()
            .unwrap_or(StreamOutcome::Running)
    }

    async fn wait(&self, timeout: Duration, check: impl Fn(&State) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.changed.notified();
            if check(&self.state) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return check(&self.state);
            }
        }
    }
}

type MockBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

fn full(b: impl Into<Bytes>) -> MockBody {
    http_body_util::Full::new(b.into())
        .map_err(|never| match never {})
        .boxed()
}

async fn handle(state: Arc<State>, mut req: Request<Incoming>) -> Response<MockBody> {
    let upgrade = req
        .headers()
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let on_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes().to_vec())
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    if let (Some(proto), Some(on_upgrade)) = (upgrade, on_upgrade) {
        lock(&state.requests).push(Recorded {
            method: parts.method.to_string(),
            path: path.clone(),
            headers: parts.headers.clone(),
            body,
            stream: None,
        });
        state.changed.notify_waiters();
        return upgrade_reply(state, &proto, path, parts.headers, on_upgrade);
    }
    let reply = decide(&state, parts.method.as_str(), &path, &body);
    let stream_index = matches!(reply.body, ReplyBody::Stream { .. }).then(|| {
        let mut streams = lock(&state.streams);
        streams.push(StreamOutcome::Running);
        streams.len() - 1
    });
    lock(&state.requests).push(Recorded {
        method: parts.method.to_string(),
        path,
        headers: parts.headers,
        body,
        stream: stream_index,
    });
    state.changed.notify_waiters();

    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let body = match reply.body {
        ReplyBody::Hang => {
            std::future::pending::<()>().await;
            full(Bytes::new())
        }
        ReplyBody::Full(b) => full(b),
        ReplyBody::Stream { chunks, end } => {
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
            let idx = stream_index.unwrap_or(0);
            let state = state.clone();
            tokio::spawn(async move {
                for (delay, chunk) in chunks {
                    if !delay.is_zero() {
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = tx.closed() => {
                                state.set_stream(idx, StreamOutcome::Cancelled);
                                return;
                            }
                        }
                    }
                    if tx.send(Ok(Frame::data(chunk))).await.is_err() {
                        state.set_stream(idx, StreamOutcome::Cancelled);
                        return;
                    }
                }
                match end {
                    StreamEnd::Finish => {
                        // Wait until the body was consumed: the send of the last chunk only
                        // means it was queued.
                        let _ = tx.reserve().await;
                        drop(tx);
                        state.set_stream(idx, StreamOutcome::Completed);
                    }
                    StreamEnd::Close => {
                        let _ = tx
                            .send(Err(std::io::Error::other("mock closed mid-stream")))
                            .await;
                        state.set_stream(idx, StreamOutcome::Closed);
                    }
                    StreamEnd::Hang => {
                        tx.closed().await;
                        state.set_stream(idx, StreamOutcome::Cancelled);
                    }
                }
            });
            BodyExt::boxed(ChannelBody { rx })
        }
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    for (k, v) in reply.headers {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().append(k, v);
        }
    }
    resp
}

/// The responder's answer, else the next queued reply, else the route's default.
fn decide(state: &State, method: &str, path: &str, body: &[u8]) -> Reply {
    let decided = lock(&state.responder)
        .as_ref()
        .and_then(|f| f(method, path, body));
    let scripted = decided.or_else(|| lock(&state.script).pop_front());
    scripted.unwrap_or_else(|| default_reply(method, path, body))
}

/// A Responses path, where the mock speaks the WebSocket protocol after an upgrade.
fn is_responses_path(path: &str) -> bool {
    let route = path.split('?').next().unwrap_or(path);
    route.ends_with("/responses")
}

/// Answer an upgrade. On a Responses path with `Upgrade: websocket` the mock is a WebSocket
/// server speaking the Responses protocol: every text message is recorded as a request with
/// method `WS` (the upgrade request's path and headers, the message as body) and answered with
/// the reply the responder, queue or default gives for it, its SSE `data:` payloads sent as one
/// text message each (an error status becomes an `error` event). Anything else echoes bytes.
fn upgrade_reply(
    state: Arc<State>,
    proto: &str,
    path: String,
    headers: HeaderMap,
    on_upgrade: hyper::upgrade::OnUpgrade,
) -> Response<MockBody> {
    let websocket = proto.eq_ignore_ascii_case("websocket") && is_responses_path(&path);
    let key = headers
        .get("sec-websocket-key")
        .map(|k| tokio_tungstenite::tungstenite::handshake::derive_accept_key(k.as_bytes()));
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let io = TokioIo::new(upgraded);
        if !websocket {
            // Echo server: whatever the client sends after the 101 comes straight back.
            let (mut r, mut w) = tokio::io::split(io);
            let _ = tokio::io::copy(&mut r, &mut w).await;
            return;
        }
        serve_websocket(state, io, path, headers).await;
    });
    let mut resp = Response::new(full(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert("connection", http::HeaderValue::from_static("Upgrade"));
    if let Ok(v) = http::HeaderValue::from_str(proto) {
        h.insert("upgrade", v);
    }
    let accept = key.unwrap_or_else(|| "mock".to_owned());
    if let Ok(v) = http::HeaderValue::from_str(&accept) {
        h.insert("sec-websocket-accept", v);
    }
    resp
}

async fn serve_websocket(
    state: Arc<State>,
    io: TokioIo<hyper::upgrade::Upgraded>,
    path: String,
    headers: HeaderMap,
) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::tungstenite::Message;
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(io, Role::Server, None).await;
    while let Some(Ok(msg)) = ws.next().await {
        let text = match msg {
            Message::Text(t) => t.as_str().to_owned(),
            Message::Close(_) => return,
            _ => continue,
        };
        let reply = decide(&state, "WS", &path, text.as_bytes());
        lock(&state.requests).push(Recorded {
            method: "WS".into(),
            path: path.clone(),
            headers: headers.clone(),
            body: text.into_bytes(),
            stream: None,
        });
        state.changed.notify_waiters();
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await;
        }
        let events: Vec<String> = match reply.body {
            ReplyBody::Hang => {
                std::future::pending::<()>().await;
                return;
            }
            _ if reply.status >= 400 => {
                let body = match &reply.body {
                    ReplyBody::Full(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
                    _ => Value::Null,
                };
                vec![json!({"type": "error", "status": reply.status, "error": body["error"].clone()})
                    .to_string()]
            }
            ReplyBody::Full(b) => vec![String::from_utf8_lossy(&b).into_owned()],
            ReplyBody::Stream { chunks, .. } => chunks
                .iter()
                .flat_map(|(_, c)| sse_payloads(c))
                .filter(|p| p != "[DONE]")
                .collect(),
        };
        for event in events {
            if ws.send(Message::text(event)).await.is_err() {
                return;
            }
        }
    }
}

/// The `data:` payloads of the SSE events in one chunk.
fn sse_payloads(chunk: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(chunk)
        .split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

struct ChannelBody {
    rx: mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.rx.poll_recv(cx)
    }
}

fn wants_stream(body: &[u8]) -> Option<bool> {
    let v: Value = serde_json::from_slice(body).ok()?;
    Some(v.get("stream").and_then(Value::as_bool).unwrap_or(false))
}

fn default_reply(method: &str, path: &str, body: &[u8]) -> Reply {
    let route = path.split('?').next().unwrap_or(path);
    let gap = Duration::from_millis(1);
    let text = "Hello from the mock upstream.";
    match (method, route) {
        ("POST", "/v1/messages") => match wants_stream(body) {
            None => Reply::json(
                400,
                json!({"type":"error","error":{"type":"invalid_request_error","message":"mock: body is not valid JSON"}}),
            ),
            Some(true) => Reply::anthropic_sse(text, gap),
            Some(false) => Reply::json(200, anthropic_message(text)),
        },
        ("POST", "/v1/messages/count_tokens") => {
            Reply::json(200, json!({"input_tokens": (body.len() / 4).max(1)}))
        }
        ("POST", "/v1/chat/completions") => match wants_stream(body) {
            None => Reply::json(
                400,
                json!({"error":{"message":"mock: body is not valid JSON","type":"invalid_request_error","param":null,"code":null}}),
            ),
            Some(true) => Reply::openai_chat_sse(text, gap),
            Some(false) => Reply::json(200, openai_chat(text)),
        },
        ("WS", r) if is_responses_path(r) => Reply::openai_responses_sse(text, gap),
        ("POST", "/v1/responses") | ("POST", "/backend-api/codex/responses") => {
            match wants_stream(body) {
                None => Reply::json(
                    400,
                    json!({"error":{"message":"mock: body is not valid JSON","type":"invalid_request_error","param":null,"code":null}}),
                ),
                Some(true) => Reply::openai_responses_sse(text, gap),
                Some(false) => Reply::json(200, openai_response(text)),
            }
        }
        ("GET", r) if r.starts_with("/v1/models") || r.starts_with("/backend-api/codex/models") => {
            Reply::json(
                200,
                json!({"object":"list","data":[{"id":"mock-model","object":"model","created":0,"owned_by":"mock"}]}),
            )
        }
        _ => Reply::json(200, json!({"mock": true, "method": method, "path": path})),
    }
}

fn anthropic_message(text: &str) -> Value {
    json!({
        "id": "msg_mock_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-mock",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": {"input_tokens": 12, "output_tokens": 7}
    })
}

fn sse_event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// The Anthropic streaming sequence: message_start, content_block_start, ping,
/// content_block_delta (one per word), content_block_stop, message_delta, message_stop.
pub(crate) fn anthropic_events(text: &str) -> Vec<String> {
    let mut out = vec![
        sse_event(
            "message_start",
            &json!({"type":"message_start","message":{"id":"msg_mock_01","type":"message","role":"assistant","model":"claude-mock","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}),
        ),
        sse_event(
            "content_block_start",
            &json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        ),
        sse_event("ping", &json!({"type":"ping"})),
    ];
    for word in split_words(text) {
        out.push(sse_event(
            "content_block_delta",
            &json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":word}}),
        ));
    }
    out.push(sse_event(
        "content_block_stop",
        &json!({"type":"content_block_stop","index":0}),
    ));
    out.push(sse_event(
        "message_delta",
        &json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}),
    ));
    out.push(sse_event("message_stop", &json!({"type":"message_stop"})));
    out
}

fn openai_chat(text: &str) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-mock",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
    })
}

pub(crate) fn openai_chat_events(text: &str) -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id":"chatcmpl-mock","object":"chat.completion.chunk","created":0,"model":"gpt-mock","choices":[{"index":0,"delta":delta,"finish_reason":finish}]})
        )
    };
    let mut out = vec![chunk(json!({"role":"assistant","content":""}), Value::Null)];
    for word in split_words(text) {
        out.push(chunk(json!({"content": word}), Value::Null));
    }
    out.push(chunk(json!({}), json!("stop")));
    out.push("data: [DONE]\n\n".to_owned());
    out
}

fn openai_response(text: &str) -> Value {
    json!({
        "id": "resp_mock",
        "object": "response",
        "created_at": 0,
        "status": "completed",
        "model": "gpt-mock",
        "output": [{"type":"message","id":"msg_mock","status":"completed","role":"assistant","content":[{"type":"output_text","text":text,"annotations":[]}]}],
        "usage": {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19}
    })
}

pub(crate) fn openai_responses_events(text: &str) -> Vec<String> {
    let mut out = vec![
        sse_event(
            "response.created",
            &json!({"type":"response.created","response":{"id":"resp_mock","object":"response","status":"in_progress","output":[]}}),
        ),
        sse_event(
            "response.output_item.added",
            &json!({"type":"response.output_item.added","output_index":0,"item":{"type":"message","id":"msg_mock","status":"in_progress","role":"assistant","content":[]}}),
        ),
    ];
    for word in split_words(text) {
        out.push(sse_event(
            "response.output_text.delta",
            &json!({"type":"response.output_text.delta","item_id":"msg_mock","output_index":0,"content_index":0,"delta":word}),
        ));
    }
    out.push(sse_event(
        "response.output_text.done",
        &json!({"type":"response.output_text.done","item_id":"msg_mock","output_index":0,"content_index":0,"text":text}),
    ));
    out.push(sse_event(
        "response.completed",
        &json!({"type":"response.completed","response":openai_response(text)}),
    ));
    out
}

fn split_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        cur.push(ch);
        if ch == ' ' {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
