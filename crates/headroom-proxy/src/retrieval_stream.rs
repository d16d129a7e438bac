//! Retrieval inside a streamed (SSE) answer, for Anthropic Messages, OpenAI Chat and OpenAI
//! Responses.
//!
//! Events pass through to the client as soon as each one is complete, except the events of a
//! `headroom_retrieve` tool call, which are held back. When the message ends asking only for
//! retrieve calls, the held events and the stop events are dropped, the proxy sends the
//! follow-up request (streaming) and splices its events into the same client stream: the
//! client sees one message with the text of every round and never sees the retrieve tool.
//! If the model also called one of the client's tools, everything held is flushed unchanged.
//!
//! The per-API logic is a pure [`Splicer`] (events in, bytes out) so it is unit-tested without
//! sockets; [`relay`] only moves bytes and sends follow-ups.

use std::collections::{BTreeMap, HashSet};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use headroom_compress::retrieval::{continuation, retrieve_calls};
use headroom_compress::{Api, RETRIEVE_TOOL_NAME};
use http::Response;
use http_body::Frame;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::headers::is_sse;
use crate::reply;
use crate::retrieval_tool::{answer, boxed, send_follow_up, Plan, MAX_RESPONSE_BYTES, MAX_ROUNDS};
use crate::server::Shared;
use crate::upstream::{Body, BoxError};

/// The streaming APIs whose retrieve calls the proxy can answer.
pub(crate) fn supports(api: Api) -> bool {
    matches!(
        api,
        Api::AnthropicMessages | Api::OpenAiChat | Api::OpenAiResponses
    )
}

/// Relay `resp` (an SSE answer to `plan`'s request), answering retrieve calls on the way.
pub(crate) fn relay(shared: Arc<Shared>, plan: Plan, resp: Response<Incoming>) -> Response<Body> {
    if !supports(plan.api) {
        return boxed(resp);
    }
    let (parts, body) = resp.into_parts();
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let hard = shared.hard.clone();
        tokio::select! {
            _ = run(&shared, &plan, body, &tx) => {}
            _ = hard.cancelled() => {}
            // The client went away: dropping `run` drops the upstream body, which cancels it.
            _ = tx.closed() => {}
        }
    });
    Response::from_parts(parts, ChannelBody { rx }.boxed())
}

type Item = Result<Frame<Bytes>, BoxError>;

async fn send(tx: &mpsc::Sender<Item>, bytes: Bytes) -> bool {
    bytes.is_empty() || tx.send(Ok(Frame::data(bytes))).await.is_ok()
}

async fn run(shared: &Arc<Shared>, plan: &Plan, first: Incoming, tx: &mpsc::Sender<Item>) {
    let mut splicer = Splicer::new(plan.api);
    let mut upstream = first;
    let mut body = plan.body.clone();
    for round in 0..=MAX_ROUNDS {
        splicer.begin_round(round, round < MAX_ROUNDS);
        let mut buf: Vec<u8> = Vec::new();
        loop {
            match upstream.frame().await {
                None => break,
                Some(Err(err)) => {
                    // Whatever was held is incomplete; the relay turns this into an error event.
                    let _ = tx.send(Err(Box::new(err))).await;
                    return;
                }
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    buf.extend_from_slice(&data);
                    while let Some(event) = take_event(&mut buf) {
                        for out in splicer.on_event(&event) {
                            if !send(tx, out).await {
                                return;
                            }
                        }
                    }
                }
            }
        }
        if !buf.is_empty() {
            // A trailing event without its blank line: pass it on as it is.
            for out in splicer.on_event(&buf) {
                if !send(tx, out).await {
                    return;
                }
            }
        }
        let Some(turn) = splicer.end_round() else {
            for out in splicer.flush() {
                if !send(tx, out).await {
                    return;
                }
            }
            return;
        };
        let turn = turn.to_string();
        let next = retrieve_calls(plan.api, turn.as_bytes()).and_then(|calls| {
            let results: Vec<(String, String)> = calls
                .iter()
                .map(|c| (c.id.clone(), answer(&shared.retained, c)))
                .collect();
            continuation(plan.api, &body, turn.as_bytes(), &results)
        });
        let Some(next) = next else {
            for out in splicer.flush() {
                if !send(tx, out).await {
                    return;
                }
            }
            return;
        };
        body = Bytes::from(next);
        let resp = match send_follow_up(shared, plan, body.clone()).await {
            Ok(resp) => resp,
            Err((_, message)) => {
                let _ = send(tx, reply::sse_error_event(plan.provider, &message)).await;
                return;
            }
        };
        if !resp.status().is_success() || !is_sse(resp.headers()) {
            let status = resp.status();
            let detail = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map(|c| String::from_utf8_lossy(&c.to_bytes()).into_owned())
                .unwrap_or_default();
            let message = format!(
                "Headroom proxy: the retrieval follow-up got HTTP {}: {}",
                status.as_u16(),
                detail.chars().take(2000).collect::<String>()
            );
            let _ = send(tx, reply::sse_error_event(plan.provider, &message)).await;
            return;
        }
        upstream = resp.into_body();
    }
}

/// Cut the first complete SSE event (through its blank line) off the front of `buf`.
fn take_event(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let lf = find(buf, b"\n\n").map(|i| i + 2);
    let crlf = find(buf, b"\r\n\r\n").map(|i| i + 4);
    let end = match (lf, crlf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    let rest = buf.split_off(end);
    Some(std::mem::replace(buf, rest))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The `data:` payload of one raw event (lines joined), and its `event:` name.
pub(crate) fn parse_event(raw: &[u8]) -> (Option<String>, String) {
    let text = String::from_utf8_lossy(raw);
    let mut name = None;
    let mut data: Vec<&str> = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = Some(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    (name, data.join("\n"))
}

/// Per-API stream rewriting across rounds.
pub(crate) enum Splicer {
    Anthropic(AnthropicSplicer),
    Chat(ChatSplicer),
    Responses(ResponsesSplicer),
}

impl Splicer {
    pub(crate) fn new(api: Api) -> Splicer {
        match api {
            Api::OpenAiChat => Splicer::Chat(ChatSplicer::default()),
            Api::OpenAiResponses => Splicer::Responses(ResponsesSplicer::default()),
            Api::AnthropicMessages => Splicer::Anthropic(AnthropicSplicer::default()),
        }
    }

    pub(crate) fn begin_round(&mut self, round: usize, allow_hold: bool) {
        match self {
            Splicer::Anthropic(s) => s.begin_round(round, allow_hold),
            Splicer::Chat(s) => s.begin_round(round, allow_hold),
            Splicer::Responses(s) => s.begin_round(round, allow_hold),
        }
    }

    pub(crate) fn on_event(&mut self, raw: &[u8]) -> Vec<Bytes> {
        match self {
            Splicer::Anthropic(s) => s.on_event(raw),
            Splicer::Chat(s) => s.on_event(raw),
            Splicer::Responses(s) => s.on_event(raw),
        }
    }

    /// `Some(response JSON)` (in the non-streaming shape) when the round ended asking only for
    /// retrieve calls; the held events are then dropped.
    pub(crate) fn end_round(&mut self) -> Option<Value> {
        match self {
            Splicer::Anthropic(s) => s.end_round(),
            Splicer::Chat(s) => s.end_round(),
            Splicer::Responses(s) => s.end_round(),
        }
    }

    /// Everything held back, unchanged (when no follow-up is made after all).
    pub(crate) fn flush(&mut self) -> Vec<Bytes> {
        match self {
            Splicer::Anthropic(s) => s.flush_all(),
            Splicer::Chat(s) => s.flush_all(),
            Splicer::Responses(s) => s.flush_all(),
        }
    }
}

/// Anthropic Messages: `message_start`, `content_block_*` (with `index`), `message_delta`,
/// `message_stop`. Follow-up rounds lose their `message_start` and have their block indexes
/// renumbered to continue after the blocks the client already saw.
#[derive(Default)]
pub(crate) struct AnthropicSplicer {
    round: usize,
    allow_hold: bool,
    /// Next content-block index the client will see (kept across rounds).
    next_client_index: u64,
    /// Upstream index → client index, this round.
    index_map: BTreeMap<u64, u64>,
    /// Content blocks of this round, rebuilt from the events (for the follow-up request).
    blocks: BTreeMap<u64, Value>,
    partial_json: BTreeMap<u64, String>,
    held_indices: HashSet<u64>,
    held: Vec<Vec<u8>>,
    /// `message_delta` / `message_stop` held while a follow-up is pending.
    tail: Vec<Vec<u8>>,
    gave_up: bool,
    pending: bool,
}

impl AnthropicSplicer {
    fn begin_round(&mut self, round: usize, allow_hold: bool) {
        self.round = round;
        self.allow_hold = allow_hold;
        self.index_map.clear();
        self.blocks.clear();
        self.partial_json.clear();
        self.held_indices.clear();
        self.held.clear();
        self.tail.clear();
        self.gave_up = false;
        self.pending = false;
    }

    fn on_event(&mut self, raw: &[u8]) -> Vec<Bytes> {
        let (_, data) = parse_event(raw);
        let Ok(v) = serde_json::from_str::<Value>(&data) else {
            return vec![Bytes::copy_from_slice(raw)];
        };
        let ty = v["type"].as_str().unwrap_or("").to_owned();
        let index = v["index"].as_u64();
        match (ty.as_str(), index) {
            ("message_start", _) if self.round > 0 => vec![],
            ("content_block_start", Some(i)) => {
                let block = v["content_block"].clone();
                let is_tool = block["type"] == "tool_use" || block["type"] == "server_tool_use";
                let is_retrieve =
                    block["type"] == "tool_use" && block["name"] == RETRIEVE_TOOL_NAME;
                self.blocks.insert(i, block);
                if is_retrieve && self.allow_hold && !self.gave_up {
                    self.held_indices.insert(i);
                    self.held.push(raw.to_vec());
                    return vec![];
                }
                let mut out = Vec::new();
                if !self.held.is_empty() || is_tool {
                    out = self.give_up();
                }
                out.extend(self.emit(raw, &v));
                out
            }
            ("content_block_delta", Some(i)) => {
                self.apply_delta(i, &v["delta"]);
                self.pass_or_hold(i, raw, &v)
            }
            ("content_block_stop", Some(i)) => {
                if let Some(json) = self.partial_json.remove(&i) {
                    if let Some(block) = self.blocks.get_mut(&i) {
                        block["input"] = serde_json::from_str(&json).unwrap_or_else(|_| json!({}));
                    }
                }
                self.pass_or_hold(i, raw, &v)
            }
            ("message_delta", _) => {
                let stop = v["delta"]["stop_reason"].as_str().unwrap_or("");
                if !self.gave_up && !self.held.is_empty() && stop == "tool_use" {
                    self.pending = true;
                    self.tail.push(raw.to_vec());
                    return vec![];
                }
                let mut out = self.give_up();
                out.extend(self.emit(raw, &v));
                out
            }
            ("message_stop", _) if self.pending => {
                self.tail.push(raw.to_vec());
                vec![]
            }
            _ => self.emit(raw, &v),
        }
    }

    fn apply_delta(&mut self, i: u64, delta: &Value) {
        let Some(block) = self.blocks.get_mut(&i) else {
            return;
        };
        let append = |block: &mut Value, field: &str, add: &Value| {
            let mut s = block[field].as_str().unwrap_or("").to_owned();
            s.push_str(add.as_str().unwrap_or(""));
            block[field] = Value::String(s);
        };
        match delta["type"].as_str().unwrap_or("") {
            "text_delta" => append(block, "text", &delta["text"]),
            "thinking_delta" => append(block, "thinking", &delta["thinking"]),
            "signature_delta" => append(block, "signature", &delta["signature"]),
            "input_json_delta" => self
                .partial_json
                .entry(i)
                .or_default()
                .push_str(delta["partial_json"].as_str().unwrap_or("")),
            _ => {}
        }
    }

    fn pass_or_hold(&mut self, i: u64, raw: &[u8], v: &Value) -> Vec<Bytes> {
        if self.held_indices.contains(&i) {
            self.held.push(raw.to_vec());
            vec![]
        } else {
            self.emit(raw, v)
        }
    }

    /// Stop holding for this round: the held events go out now, in order.
    fn give_up(&mut self) -> Vec<Bytes> {
        self.gave_up = true;
        self.held_indices.clear();
        let held = std::mem::take(&mut self.held);
        let mut out = Vec::new();
        for raw in held {
            let (_, data) = parse_event(&raw);
            match serde_json::from_str::<Value>(&data) {
                Ok(v) => out.extend(self.emit(&raw, &v)),
                Err(_) => out.push(Bytes::from(raw)),
            }
        }
        out
    }

    fn flush_all(&mut self) -> Vec<Bytes> {
        self.pending = false;
        let mut out = self.give_up();
        for raw in std::mem::take(&mut self.tail) {
            let (_, data) = parse_event(&raw);
            match serde_json::from_str::<Value>(&data) {
                Ok(v) => out.extend(self.emit(&raw, &v)),
                Err(_) => out.push(Bytes::from(raw)),
            }
        }
        out
    }

    /// Send one event, renumbering its block index when the client's numbering differs.
    fn emit(&mut self, raw: &[u8], v: &Value) -> Vec<Bytes> {
        let Some(i) = v["index"].as_u64() else {
            return vec![Bytes::copy_from_slice(raw)];
        };
        let next = &mut self.next_client_index;
        let client = *self.index_map.entry(i).or_insert_with(|| {
            let c = *next;
            *next += 1;
            c
        });
        if client == i {
            return vec![Bytes::copy_from_slice(raw)];
        }
        let mut v = v.clone();
        v["index"] = json!(client);
        let name = v["type"].as_str().unwrap_or("message").to_owned();
        vec![Bytes::from(format!("event: {name}\ndata: {v}\n\n"))]
    }

    fn end_round(&mut self) -> Option<Value> {
        if !self.pending {
            return None;
        }
        let content: Vec<Value> = self.blocks.values().cloned().collect();
        Some(
            json!({"type": "message", "role": "assistant", "content": content, "stop_reason": "tool_use"}),
        )
    }
}

/// OpenAI Chat: `data: {chunk}` lines ending with `data: [DONE]`. Tool calls stream as
/// `delta.tool_calls[{index, id, function: {name, arguments}}]`; the name arrives first.
#[derive(Default)]
pub(crate) struct ChatSplicer {
    round: usize,
    allow_hold: bool,
    content: String,
    /// tool-call index → (id, name, arguments) for this round.
    calls: BTreeMap<u64, (String, String, String)>,
    held_indices: HashSet<u64>,
    held: Vec<Vec<u8>>,
    tail: Vec<Vec<u8>>,
    gave_up: bool,
    pending: bool,
    /// The client has seen a chunk carrying `delta.role` (kept across rounds).
    role_sent: bool,
}

impl ChatSplicer {
    fn begin_round(&mut self, round: usize, allow_hold: bool) {
        *self = ChatSplicer {
            round,
            allow_hold,
            role_sent: self.role_sent,
            ..ChatSplicer::default()
        };
    }

    fn on_event(&mut self, raw: &[u8]) -> Vec<Bytes> {
        let (_, data) = parse_event(raw);
        if data.trim() == "[DONE]" {
            if self.pending {
                self.tail.push(raw.to_vec());
                return vec![];
            }
            return vec![Bytes::copy_from_slice(raw)];
        }
        let Ok(v) = serde_json::from_str::<Value>(&data) else {
            return vec![Bytes::copy_from_slice(raw)];
        };
        let choices = v["choices"].as_array().cloned().unwrap_or_default();
        if self.pending {
            // Usage chunk after the finish chunk of a round we are replacing.
            self.tail.push(raw.to_vec());
            return vec![];
        }
        if choices
            .iter()
            .any(|c| c["index"].as_u64().unwrap_or(0) != 0)
        {
            let mut out = self.give_up();
            out.push(Bytes::copy_from_slice(raw));
            return out;
        }
        let Some(choice) = choices.first() else {
            return vec![Bytes::copy_from_slice(raw)];
        };
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str() {
            self.content.push_str(text);
        }
        let mut touches_held = false;
        let mut other_tool = false;
        for tc in delta["tool_calls"].as_array().into_iter().flatten() {
            let i = tc["index"].as_u64().unwrap_or(0);
            let entry = self.calls.entry(i).or_default();
            if let Some(id) = tc["id"].as_str() {
                entry.0.push_str(id);
            }
            if let Some(name) = tc["function"]["name"].as_str() {
                entry.1.push_str(name);
                if name == RETRIEVE_TOOL_NAME && self.allow_hold && !self.gave_up {
                    self.held_indices.insert(i);
                } else if name != RETRIEVE_TOOL_NAME || !self.held_indices.contains(&i) {
                    other_tool = true;
                }
            }
            if let Some(args) = tc["function"]["arguments"].as_str() {
                entry.2.push_str(args);
            }
            touches_held |= self.held_indices.contains(&i);
        }
        let finish = choice["finish_reason"].as_str();
        if other_tool {
            let mut out = self.give_up();
            out.push(Bytes::copy_from_slice(raw));
            return out;
        }
        if finish == Some("tool_calls") && !self.gave_up && !self.held_indices.is_empty() {
            self.pending = true;
            if touches_held || !delta_is_empty(delta) {
                self.held.push(raw.to_vec());
            } else {
                self.tail.push(raw.to_vec());
            }
            return vec![];
        }
        if touches_held && !self.gave_up {
            self.held.push(raw.to_vec());
            return vec![];
        }
        let mut out = if finish.is_some() {
            self.give_up()
        } else {
            Vec::new()
        };
        if self.round > 0 && self.role_sent && is_role_only(delta) && finish.is_none() {
            return out;
        }
        self.role_sent |= delta.get("role").is_some();
        out.push(Bytes::copy_from_slice(raw));
        out
    }

    fn give_up(&mut self) -> Vec<Bytes> {
        self.gave_up = true;
        self.held_indices.clear();
        let held = std::mem::take(&mut self.held);
        self.role_sent |= held.iter().any(|raw| find(raw, b"\"role\"").is_some());
        held.into_iter().map(Bytes::from).collect()
    }

    fn flush_all(&mut self) -> Vec<Bytes> {
        self.pending = false;
        let mut out = self.give_up();
        out.extend(std::mem::take(&mut self.tail).into_iter().map(Bytes::from));
        out
    }

    fn end_round(&mut self) -> Option<Value> {
        if !self.pending {
            return None;
        }
        let tool_calls: Vec<Value> = self
            .calls
            .values()
            .map(|(id, name, args)| {
                json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}})
            })
            .collect();
        let content = if self.content.is_empty() {
            Value::Null
        } else {
            Value::String(self.content.clone())
        };
        Some(
            json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": content, "tool_calls": tool_calls}}]}),
        )
    }
}

/// OpenAI Responses: typed events (`response.created`, `response.output_item.added`, …,
/// `response.completed`) carrying `sequence_number` and, per output item, `output_index`.
/// The events of a `headroom_retrieve` `function_call` item are held; a round that completes
/// with only those is replaced by the follow-up's events, whose `response.created` /
/// `response.in_progress` are dropped and whose `output_index` / `sequence_number` continue
/// the client's numbering. The final `response.completed` lists every item the client saw.
#[derive(Default)]
pub(crate) struct ResponsesSplicer {
    round: usize,
    allow_hold: bool,
    /// Next `output_index` the client will see (kept across rounds).
    next_client_index: u64,
    /// Next `sequence_number` the client will see; `None` until the first numbered event.
    next_seq: Option<u64>,
    /// Upstream `output_index` → client index, this round.
    index_map: BTreeMap<u64, u64>,
    /// Items of this round from `response.output_item.done` (for the follow-up request).
    items: BTreeMap<u64, Value>,
    /// Items the client saw in earlier rounds (for the final `response.completed`).
    earlier_items: Vec<Value>,
    /// Items the client saw this round, by client index.
    shown_items: BTreeMap<u64, Value>,
    held_indices: HashSet<u64>,
    held: Vec<Vec<u8>>,
    /// `response.completed` (and anything after it) while a follow-up is pending.
    tail: Vec<Vec<u8>>,
    /// `response.output` of this round's `response.completed`.
    completed_output: Option<Value>,
    gave_up: bool,
    pending: bool,
}

/// Output item types the client executes (a call to one of them must reach the client).
fn is_client_call(item: &Value) -> bool {
    let ty = item["type"].as_str().unwrap_or("");
    let retrieve = ty == "function_call" && item["name"] == RETRIEVE_TOOL_NAME;
    !retrieve
        && matches!(
            ty,
            "function_call"
                | "custom_tool_call"
                | "local_shell_call"
                | "shell_call"
                | "computer_call"
                | "apply_patch_call"
        )
}

impl ResponsesSplicer {
    fn begin_round(&mut self, round: usize, allow_hold: bool) {
        let earlier = std::mem::take(&mut self.shown_items);
        self.earlier_items.extend(earlier.into_values());
        *self = ResponsesSplicer {
            round,
            allow_hold,
            next_client_index: self.next_client_index,
            next_seq: self.next_seq,
            earlier_items: std::mem::take(&mut self.earlier_items),
            ..ResponsesSplicer::default()
        };
    }

    fn on_event(&mut self, raw: &[u8]) -> Vec<Bytes> {
        let (name, data) = parse_event(raw);
        let Ok(v) = serde_json::from_str::<Value>(&data) else {
            if self.pending {
                self.tail.push(raw.to_vec());
                return vec![];
            }
            return vec![Bytes::copy_from_slice(raw)];
        };
        if self.pending {
            self.tail.push(raw.to_vec());
            return vec![];
        }
        let ty = v["type"].as_str().unwrap_or("").to_owned();
        let index = v["output_index"].as_u64();
        match (ty.as_str(), index) {
            ("response.created" | "response.in_progress" | "response.queued", _)
                if self.round > 0 =>
            {
                vec![]
            }
            ("response.output_item.added", Some(i)) => {
                let item = &v["item"];
                let is_retrieve =
                    item["type"] == "function_call" && item["name"] == RETRIEVE_TOOL_NAME;
                if is_retrieve && self.allow_hold && !self.gave_up {
                    self.held_indices.insert(i);
                    self.held.push(raw.to_vec());
                    return vec![];
                }
                let mut out = Vec::new();
                if !self.held.is_empty() || is_client_call(item) {
                    out = self.give_up();
                }
                out.extend(self.emit(name.as_deref(), raw, &v));
                out
            }
            ("response.output_item.done", Some(i)) => {
                self.items.insert(i, v["item"].clone());
                self.pass_or_hold(i, name.as_deref(), raw, &v)
            }
            ("response.completed", _) => {
                self.completed_output = Some(v["response"]["output"].clone());
                if !self.gave_up && !self.held.is_empty() {
                    self.pending = true;
                    self.tail.push(raw.to_vec());
                    return vec![];
                }
                let mut out = self.give_up();
                out.extend(self.emit(name.as_deref(), raw, &v));
                out
            }
            ("response.incomplete" | "response.failed" | "error", _) => {
                let mut out = self.give_up();
                out.extend(self.emit(name.as_deref(), raw, &v));
                out
            }
            (_, Some(i)) => self.pass_or_hold(i, name.as_deref(), raw, &v),
            _ => self.emit(name.as_deref(), raw, &v),
        }
    }

    fn pass_or_hold(&mut self, i: u64, name: Option<&str>, raw: &[u8], v: &Value) -> Vec<Bytes> {
        if self.held_indices.contains(&i) {
            self.held.push(raw.to_vec());
            vec![]
        } else {
            self.emit(name, raw, v)
        }
    }

    /// Stop holding for this round: the held events go out now, in order.
    fn give_up(&mut self) -> Vec<Bytes> {
        self.gave_up = true;
        self.held_indices.clear();
        let held = std::mem::take(&mut self.held);
        let mut out = Vec::new();
        for raw in held {
            out.extend(self.emit_raw(&raw));
        }
        out
    }

    fn emit_raw(&mut self, raw: &[u8]) -> Vec<Bytes> {
        let (name, data) = parse_event(raw);
        match serde_json::from_str::<Value>(&data) {
            Ok(v) => self.emit(name.as_deref(), raw, &v),
            Err(_) => vec![Bytes::copy_from_slice(raw)],
        }
    }

    fn flush_all(&mut self) -> Vec<Bytes> {
        self.pending = false;
        let mut out = self.give_up();
        for raw in std::mem::take(&mut self.tail) {
            out.extend(self.emit_raw(&raw));
        }
        out
    }

    /// Send one event with the client's `output_index` / `sequence_number`; the original bytes
    /// when they already match.
    fn emit(&mut self, name: Option<&str>, raw: &[u8], v: &Value) -> Vec<Bytes> {
        let mut changed = None::<Value>;
        if let Some(i) = v["output_index"].as_u64() {
            let next = &mut self.next_client_index;
            let client = *self.index_map.entry(i).or_insert_with(|| {
                let c = *next;
                *next += 1;
                c
            });
            if v["type"] == "response.output_item.done" {
                self.shown_items.insert(client, v["item"].clone());
            }
            if client != i {
                changed.get_or_insert_with(|| v.clone())["output_index"] = json!(client);
            }
        }
        if let Some(seq) = v["sequence_number"].as_u64() {
            let client = *self.next_seq.get_or_insert(seq);
            self.next_seq = Some(client + 1);
            if client != seq {
                changed.get_or_insert_with(|| v.clone())["sequence_number"] = json!(client);
            }
        }
        if v["type"] == "response.completed" && self.round > 0 {
            // The client saw one response: list the items of every round it was shown.
            let mut output: Vec<Value> = self.earlier_items.clone();
            match v["response"]["output"].as_array() {
                Some(items) => output.extend(items.iter().cloned()),
                None => output.extend(self.shown_items.values().cloned()),
            }
            changed.get_or_insert_with(|| v.clone())["response"]["output"] = Value::Array(output);
        }
        let Some(v) = changed else {
            return vec![Bytes::copy_from_slice(raw)];
        };
        vec![Bytes::from(match name {
            Some(name) => format!("event: {name}\ndata: {v}\n\n"),
            None => format!("data: {v}\n\n"),
        })]
    }

    fn end_round(&mut self) -> Option<Value> {
        if !self.pending {
            return None;
        }
        let output = match self.completed_output.take() {
            Some(Value::Array(items)) if !items.is_empty() => items,
            _ => self.items.values().cloned().collect(),
        };
        Some(json!({ "output": output }))
    }
}

fn delta_is_empty(delta: &Value) -> bool {
    delta.as_object().is_none_or(|m| {
        m.iter()
            .all(|(_, v)| v.is_null() || v.as_str().is_some_and(str::is_empty))
    })
}

/// The opening chunk of a follow-up round (`{"role":"assistant","content":""}`): the client
/// already had one.
fn is_role_only(delta: &Value) -> bool {
    delta.as_object().is_some_and(|m| {
        m.contains_key("role")
            && m.iter()
                .all(|(k, v)| k == "role" || v.is_null() || v.as_str().is_some_and(str::is_empty))
    })
}

struct ChannelBody {
    rx: mpsc::Receiver<Item>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        self.rx.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str, data: Value) -> Vec<u8> {
        format!("event: {name}\ndata: {data}\n\n").into_bytes()
    }

    fn text_of(out: &[Bytes]) -> String {
        out.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    fn anthropic_round(s: &mut AnthropicSplicer, events: &[Vec<u8>]) -> String {
        let mut out = Vec::new();
        for e in events {
            out.extend(s.on_event(e));
        }
        text_of(&out)
    }

    fn retrieve_round() -> Vec<Vec<u8>> {
        vec![
            ev(
                "message_start",
                json!({"type":"message_start","message":{"id":"m1"}}),
            ),
            ev(
                "content_block_start",
                json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            ),
            ev(
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Looking."}}),
            ),
            ev(
                "content_block_stop",
                json!({"type":"content_block_stop","index":0}),
            ),
            ev(
                "content_block_start",
                json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"tu1","name":RETRIEVE_TOOL_NAME,"input":{}}}),
            ),
            ev(
                "content_block_delta",
                json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"key\":"}}),
            ),
            ev(
                "content_block_delta",
                json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"abc\"}"}}),
            ),
            ev(
                "content_block_stop",
                json!({"type":"content_block_stop","index":1}),
            ),
            ev(
                "message_delta",
                json!({"type":"message_delta","delta":{"stop_reason":"tool_use"}}),
            ),
            ev("message_stop", json!({"type":"message_stop"})),
        ]
    }

    #[test]
    fn anthropic_retrieve_round_is_held_and_next_round_renumbered() {
        let mut s = AnthropicSplicer::default();
        s.begin_round(0, true);
        let sent = anthropic_round(&mut s, &retrieve_round());
        assert!(sent.contains("Looking."));
        assert!(!sent.contains(RETRIEVE_TOOL_NAME));
        assert!(!sent.contains("message_delta"));
        let turn = s.end_round().unwrap();
        assert_eq!(turn["content"][1]["input"]["key"], "abc");
        assert_eq!(turn["content"][0]["text"], "Looking.");

        s.begin_round(1, true);
        let sent = anthropic_round(
            &mut s,
            &[
                ev(
                    "message_start",
                    json!({"type":"message_start","message":{"id":"m2"}}),
                ),
                ev(
                    "content_block_start",
                    json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
                ),
                ev(
                    "content_block_stop",
                    json!({"type":"content_block_stop","index":0}),
                ),
                ev(
                    "message_delta",
                    json!({"type":"message_delta","delta":{"stop_reason":"end_turn"}}),
                ),
                ev("message_stop", json!({"type":"message_stop"})),
            ],
        );
        assert!(!sent.contains("message_start"));
        assert!(sent.contains(r#""index":1"#), "{sent}");
        assert!(!sent.contains(r#""index":0"#), "{sent}");
        assert!(sent.contains("end_turn"));
        assert!(s.end_round().is_none());
    }

    #[test]
    fn anthropic_mixed_tools_flush_everything_in_order() {
        let mut s = AnthropicSplicer::default();
        s.begin_round(0, true);
        let mut events = retrieve_round();
        events.insert(
            8,
            ev("content_block_start", json!({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"tu2","name":"Bash","input":{}}})),
        );
        events.insert(
            9,
            ev(
                "content_block_stop",
                json!({"type":"content_block_stop","index":2}),
            ),
        );
        let sent = anthropic_round(&mut s, &events);
        let retrieve_at = sent.find(RETRIEVE_TOOL_NAME).unwrap();
        let bash_at = sent.find("Bash").unwrap();
        assert!(retrieve_at < bash_at);
        assert!(sent.contains("message_stop"));
        assert!(s.end_round().is_none());
        // Unchanged bytes: nothing was renumbered.
        let expected: String = events
            .iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect();
        assert_eq!(sent, expected);
    }

    #[test]
    fn anthropic_last_round_passes_retrieve_calls_through() {
        let mut s = AnthropicSplicer::default();
        s.begin_round(3, false);
        let sent = anthropic_round(&mut s, &retrieve_round());
        assert!(sent.contains(RETRIEVE_TOOL_NAME));
        assert!(s.end_round().is_none());
    }

    fn chunk(delta: Value, finish: Value) -> Vec<u8> {
        format!(
            "data: {}\n\n",
            json!({"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":delta,"finish_reason":finish}]})
        )
        .into_bytes()
    }

    #[test]
    fn chat_retrieve_round_is_held() {
        let mut s = ChatSplicer::default();
        s.begin_round(0, true);
        let events = vec![
            chunk(json!({"role":"assistant","content":""}), Value::Null),
            chunk(json!({"content":"Looking."}), Value::Null),
            chunk(
                json!({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":RETRIEVE_TOOL_NAME,"arguments":""}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls":[{"index":0,"function":{"arguments":"{\"key\":\"k\"}"}}]}),
                Value::Null,
            ),
            chunk(json!({}), json!("tool_calls")),
            b"data: [DONE]\n\n".to_vec(),
        ];
        let mut out = Vec::new();
        for e in &events {
            out.extend(s.on_event(e));
        }
        let sent = text_of(&out);
        assert!(sent.contains("Looking."));
        assert!(!sent.contains(RETRIEVE_TOOL_NAME));
        assert!(!sent.contains("[DONE]"));
        let turn = s.end_round().unwrap();
        let msg = &turn["choices"][0]["message"];
        assert_eq!(msg["content"], "Looking.");
        assert_eq!(msg["tool_calls"][0]["id"], "call_1");
        assert_eq!(
            msg["tool_calls"][0]["function"]["arguments"],
            "{\"key\":\"k\"}"
        );

        s.begin_round(1, true);
        let first = s.on_event(&chunk(
            json!({"role":"assistant","content":""}),
            Value::Null,
        ));
        assert!(first.is_empty(), "duplicate role chunk dropped");
        let done = s.on_event(b"data: [DONE]\n\n");
        assert_eq!(text_of(&done), "data: [DONE]\n\n");
    }

    #[test]
    fn chat_role_chunk_is_kept_when_the_client_never_saw_one() {
        let mut s = ChatSplicer::default();
        s.begin_round(0, true);
        let held = s.on_event(&chunk(
            json!({"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"c","type":"function","function":{"name":RETRIEVE_TOOL_NAME,"arguments":"{}"}}]}),
            Value::Null,
        ));
        assert!(held.is_empty());
        assert!(s
            .on_event(&chunk(json!({}), json!("tool_calls")))
            .is_empty());
        assert!(s.end_round().is_some());
        s.begin_round(1, true);
        let role = chunk(json!({"role":"assistant","content":""}), Value::Null);
        assert_eq!(s.on_event(&role).len(), 1);
    }

    #[test]
    fn chat_mixed_tool_calls_flush() {
        let mut s = ChatSplicer::default();
        s.begin_round(0, true);
        let events = vec![
            chunk(
                json!({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":RETRIEVE_TOOL_NAME,"arguments":"{}"}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"shell","arguments":"{}"}}]}),
                Value::Null,
            ),
            chunk(json!({}), json!("tool_calls")),
            b"data: [DONE]\n\n".to_vec(),
        ];
        let mut out = Vec::new();
        for e in &events {
            out.extend(s.on_event(e));
        }
        let expected: String = events
            .iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect();
        assert_eq!(text_of(&out), expected);
        assert!(s.end_round().is_none());
    }

    fn rev(seq: u64, data: Value) -> Vec<u8> {
        let mut data = data;
        data["sequence_number"] = json!(seq);
        let name = data["type"].as_str().unwrap().to_owned();
        ev(&name, data)
    }

    fn responses_round(s: &mut ResponsesSplicer, events: &[Vec<u8>]) -> Vec<Value> {
        let mut out = Vec::new();
        for e in events {
            out.extend(s.on_event(e));
        }
        text_of(&out)
            .split("\n\n")
            .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    fn responses_retrieve_round(extra_call: bool) -> Vec<Vec<u8>> {
        let fc = json!({"type":"function_call","id":"fc_1","call_id":"call_1","name":RETRIEVE_TOOL_NAME,"arguments":"{\"key\":\"k\"}","status":"completed"});
        let msg = json!({"type":"message","id":"m1","role":"assistant","status":"completed","content":[{"type":"output_text","text":"Looking."}]});
        let mut v = vec![
            rev(
                0,
                json!({"type":"response.created","response":{"id":"r1","output":[]}}),
            ),
            rev(
                1,
                json!({"type":"response.in_progress","response":{"id":"r1","output":[]}}),
            ),
            rev(
                2,
                json!({"type":"response.output_item.added","output_index":0,"item":{"type":"message","id":"m1","role":"assistant","content":[]}}),
            ),
            rev(
                3,
                json!({"type":"response.output_text.delta","output_index":0,"item_id":"m1","content_index":0,"delta":"Looking."}),
            ),
            rev(
                4,
                json!({"type":"response.output_item.done","output_index":0,"item":msg}),
            ),
            rev(
                5,
                json!({"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":RETRIEVE_TOOL_NAME,"arguments":""}}),
            ),
            rev(
                6,
                json!({"type":"response.function_call_arguments.delta","output_index":1,"item_id":"fc_1","delta":"{\"key\":\"k\"}"}),
            ),
            rev(
                7,
                json!({"type":"response.function_call_arguments.done","output_index":1,"item_id":"fc_1","arguments":"{\"key\":\"k\"}"}),
            ),
            rev(
                8,
                json!({"type":"response.output_item.done","output_index":1,"item":fc}),
            ),
        ];
        let mut output = vec![msg, fc];
        if extra_call {
            let shell = json!({"type":"function_call","id":"fc_2","call_id":"call_2","name":"shell","arguments":"{}"});
            v.push(rev(
                9,
                json!({"type":"response.output_item.added","output_index":2,"item":shell}),
            ));
            v.push(rev(
                10,
                json!({"type":"response.output_item.done","output_index":2,"item":shell}),
            ));
            output.push(shell);
        }
        let n = v.len() as u64;
        v.push(rev(n, json!({"type":"response.completed","response":{"id":"r1","status":"completed","output":output}})));
        v
    }

    #[test]
    fn responses_retrieve_round_is_held_and_next_round_renumbered() {
        let mut s = ResponsesSplicer::default();
        s.begin_round(0, true);
        let round0 = responses_retrieve_round(false);
        let mut raw = Vec::new();
        for e in &round0 {
            raw.extend(s.on_event(e));
        }
        // Everything before the retrieve call passes through byte for byte.
        let expected: String = round0[..5]
            .iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect();
        assert_eq!(text_of(&raw), expected);
        let turn = s.end_round().unwrap();
        assert_eq!(turn["output"][1]["call_id"], "call_1");
        assert_eq!(turn["output"][0]["type"], "message");

        s.begin_round(1, true);
        let msg2 = json!({"type":"message","id":"m2","role":"assistant","status":"completed","content":[{"type":"output_text","text":"Done."}]});
        let sent = responses_round(
            &mut s,
            &[
                rev(
                    0,
                    json!({"type":"response.created","response":{"id":"r2","output":[]}}),
                ),
                rev(
                    1,
                    json!({"type":"response.in_progress","response":{"id":"r2","output":[]}}),
                ),
                rev(
                    2,
                    json!({"type":"response.output_item.added","output_index":0,"item":{"type":"message","id":"m2","content":[]}}),
                ),
                rev(
                    3,
                    json!({"type":"response.output_text.delta","output_index":0,"item_id":"m2","content_index":0,"delta":"Done."}),
                ),
                rev(
                    4,
                    json!({"type":"response.output_item.done","output_index":0,"item":msg2}),
                ),
                rev(
                    5,
                    json!({"type":"response.completed","response":{"id":"r2","status":"completed","output":[msg2]}}),
                ),
            ],
        );
        let types: Vec<&str> = sent.iter().map(|v| v["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "response.output_item.added",
                "response.output_text.delta",
                "response.output_item.done",
                "response.completed"
            ]
        );
        let seqs: Vec<u64> = sent
            .iter()
            .map(|v| v["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, [5, 6, 7, 8]);
        assert!(sent[..3].iter().all(|v| v["output_index"] == 1));
        let output = sent[3]["response"]["output"].as_array().unwrap();
        let ids: Vec<&str> = output.iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["m1", "m2"]);
        assert!(s.end_round().is_none());
    }

    #[test]
    fn responses_mixed_calls_flush_everything_unchanged() {
        let mut s = ResponsesSplicer::default();
        s.begin_round(0, true);
        let events = responses_retrieve_round(true);
        let mut out = Vec::new();
        for e in &events {
            out.extend(s.on_event(e));
        }
        let expected: String = events
            .iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect();
        assert_eq!(text_of(&out), expected);
        assert!(s.end_round().is_none());
    }

    #[test]
    fn responses_last_round_passes_retrieve_calls_through() {
        let mut s = ResponsesSplicer::default();
        s.begin_round(3, false);
        let events = responses_retrieve_round(false);
        let mut out = Vec::new();
        for e in &events[2..] {
            out.extend(s.on_event(e));
        }
        assert!(text_of(&out).contains(RETRIEVE_TOOL_NAME));
        assert!(text_of(&out).contains("response.completed"));
        assert!(s.end_round().is_none());
    }

    #[test]
    fn events_are_cut_at_blank_lines() {
        let mut buf = b"event: a\ndata: 1\n\nevent: b\r\ndata: 2\r\n\r\npartial".to_vec();
        assert_eq!(take_event(&mut buf).unwrap(), b"event: a\ndata: 1\n\n");
        assert_eq!(
            take_event(&mut buf).unwrap(),
            b"event: b\r\ndata: 2\r\n\r\n"
        );
        assert!(take_event(&mut buf).is_none());
        assert_eq!(buf, b"partial");
    }
}
