//! The Responses API over WebSocket (Codex's transport when it talks to `openai_base_url` or the
//! ChatGPT backend): a real WebSocket client (tungstenite) through a real proxy on
//! `127.0.0.1:0` to the loopback mock, which speaks the same protocol on its Responses paths.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use headroom_compress::{compress_request, Api, Options, RETRIEVE_TOOL_NAME};
use headroom_proxy::{Config, ProxyHandle};
use headroom_testkit::{MockUpstream, Reply};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

struct Env {
    openai: MockUpstream,
    proxy: ProxyHandle,
}

impl Env {
    async fn new(optimize: bool) -> Env {
        let openai = MockUpstream::start().await;
        let proxy = headroom_proxy::start(Config {
            host: "127.0.0.1".into(),
            port: 0,
            anthropic_url: openai.url(),
            openai_url: format!("{}/v1", openai.url()),
            chatgpt_url: openai.url(),
            optimize,
            ..Config::default()
        })
        .await
        .expect("proxy starts");
        Env { openai, proxy }
    }

    /// Open `ws://<proxy>/<path>` the way Codex does: bearer token, deflate offered.
    async fn connect(&self, path: &str, extra: &[(&str, &str)]) -> WebSocketStream<TcpStream> {
        let addr = self.proxy.local_addr();
        let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
        let h = req.headers_mut();
        h.insert("authorization", "Bearer sk-test-ws".parse().unwrap());
        h.insert(
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits"
                .parse()
                .unwrap(),
        );
        for (k, v) in extra {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (ws, resp) = tokio_tungstenite::client_async(req, tcp)
            .await
            .expect("the upgrade through the proxy succeeds");
        assert!(
            resp.headers().get("sec-websocket-extensions").is_none(),
            "no extension negotiated: frames stay readable"
        );
        ws
    }
}

/// A big JSON listing the compressor reduces to a sample of rows (retaining the original).
fn listing() -> String {
    let rows: Vec<Value> = (0..150)
        .map(|i| {
            let region = ["eu-west-1", "us-east-1", "ap-south-1"][i % 3];
            json!({
                "id": i,
                "name": format!("service-{i}"),
                "region": region,
                "status": "running",
                "cpu": (i * 7) % 100,
                "owner": format!("team-{}", i % 5),
            })
        })
        .collect();
    serde_json::to_string_pretty(&rows).unwrap()
}

/// A `response.create` as Codex sends it on a reused socket: the items added since
/// `previous_response_id` only, its tools, streaming.
fn response_create(output: &str) -> String {
    json!({
        "type": "response.create",
        "model": "gpt-5-codex",
        "instructions": "You are Codex.",
        "previous_response_id": "resp_0",
        "input": [
            {"type": "function_call_output", "call_id": "call_1", "output": output}
        ],
        "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}}],
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "store": false,
        "stream": true,
        "include": [],
        "prompt_cache_key": "conv-1"
    })
    .to_string()
}

fn sse_event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// A streamed Responses answer with numbered events; `items` are `(added, done)` pairs.
fn responses_stream(id: &str, items: &[(Value, Value)]) -> Vec<String> {
    let mut seq = 0u64;
    let mut out = Vec::new();
    let mut push = |mut v: Value| {
        v["sequence_number"] = json!(seq);
        seq += 1;
        out.push(sse_event(v["type"].as_str().unwrap(), v.clone()));
    };
    push(
        json!({"type":"response.created","response":{"id":id,"object":"response","status":"in_progress","output":[]}}),
    );
    for (i, (added, done)) in items.iter().enumerate() {
        push(json!({"type":"response.output_item.added","output_index":i,"item":added}));
        if done["type"] == "message" {
            let text = &done["content"][0]["text"];
            push(
                json!({"type":"response.output_text.delta","output_index":i,"item_id":done["id"],"content_index":0,"delta":text}),
            );
        } else {
            push(
                json!({"type":"response.function_call_arguments.done","output_index":i,"item_id":done["id"],"arguments":done["arguments"]}),
            );
        }
        push(json!({"type":"response.output_item.done","output_index":i,"item":done}));
    }
    let output: Vec<&Value> = items.iter().map(|(_, done)| done).collect();
    push(
        json!({"type":"response.completed","response":{"id":id,"object":"response","status":"completed","output":output,"usage":{"input_tokens":10,"output_tokens":5,"total_tokens":15}}}),
    );
    out
}

fn message_item(id: &str, text: &str) -> (Value, Value) {
    (
        json!({"type":"message","id":id,"status":"in_progress","role":"assistant","content":[]}),
        json!({"type":"message","id":id,"status":"completed","role":"assistant","content":[{"type":"output_text","text":text,"annotations":[]}]}),
    )
}

fn call_item(id: &str, call_id: &str, name: &str, arguments: &str) -> (Value, Value) {
    (
        json!({"type":"function_call","id":id,"call_id":call_id,"name":name,"arguments":"","status":"in_progress"}),
        json!({"type":"function_call","id":id,"call_id":call_id,"name":name,"arguments":arguments,"status":"completed"}),
    )
}

/// Events up to and including the one that ends the response.
async fn read_response(ws: &mut WebSocketStream<TcpStream>) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an event within 10 s")
            .expect("the socket stays open")
            .expect("a valid frame");
        let Message::Text(text) = msg else {
            continue;
        };
        let v: Value = serde_json::from_str(text.as_str()).expect("events are JSON");
        let end = matches!(
            v["type"].as_str(),
            Some("response.completed" | "response.failed" | "error")
        );
        out.push(v);
        if end {
            return out;
        }
    }
}

/// Messages the mock received on the socket, in order.
fn ws_messages(mock: &MockUpstream) -> Vec<String> {
    mock.requests()
        .into_iter()
        .filter(|r| r.method == "WS")
        .map(|r| r.body_str())
        .collect()
}

#[tokio::test]
async fn response_create_is_compressed_and_retrieve_calls_are_answered_on_the_socket() {
    let env = Env::new(true).await;
    let original = listing();
    let sent = response_create(&original);
    let key = compress_request(Api::OpenAiResponses, sent.as_bytes(), &Options::default())
        .retained
        .into_iter()
        .find(|r| r.original == original)
        .expect("the listing is retained")
        .key;
    let args = json!({ "key": key }).to_string();
    env.openai.push(Reply::sse(
        responses_stream(
            "resp_1",
            &[
                message_item("msg_1", "Checking. "),
                call_item("fc_1", "call_r1", RETRIEVE_TOOL_NAME, &args),
            ],
        ),
        Duration::ZERO,
    ));
    env.openai.push(Reply::sse(
        responses_stream("resp_2", &[message_item("msg_2", "All 150 are running.")]),
        Duration::ZERO,
    ));

    let mut ws = env.connect("/v1/responses", &[]).await;
    ws.send(Message::text(sent.clone())).await.unwrap();
    let events = read_response(&mut ws).await;

    // The client saw one response: no retrieve call, one `response.created`, numbering without
    // gaps, both rounds' text, and the last round's id (the one the next turn chains to).
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(RETRIEVE_TOOL_NAME), "{all}");
    let count = |t: &str| events.iter().filter(|e| e["type"] == t).count();
    assert_eq!(count("response.created"), 1, "{all}");
    assert_eq!(count("response.completed"), 1, "{all}");
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>());
    let said: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(said, "Checking. All 150 are running.");
    let done = events.last().unwrap();
    assert_eq!(done["response"]["id"], "resp_2");
    assert_eq!(done["response"]["output"].as_array().unwrap().len(), 2);

    // Upstream: the handshake without the deflate offer and with the credentials; the first
    // message compressed with the tool offered; the second the continuation with the original.
    let reqs = env.openai.requests();
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/v1/responses");
    assert_eq!(
        reqs[0].header("authorization").as_deref(),
        Some("Bearer sk-test-ws")
    );
    assert!(reqs[0].header("sec-websocket-extensions").is_none());
    let msgs = ws_messages(&env.openai);
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    let first: Value = serde_json::from_str(&msgs[0]).unwrap();
    assert_eq!(first["type"], "response.create");
    assert_eq!(first["previous_response_id"], "resp_0");
    assert!(
        msgs[0].len() < sent.len() / 2,
        "{} of {}",
        msgs[0].len(),
        sent.len()
    );
    let tools: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["exec_command", RETRIEVE_TOOL_NAME]);
    let second: Value = serde_json::from_str(&msgs[1]).unwrap();
    assert_eq!(second["type"], "response.create");
    assert_eq!(second["previous_response_id"], "resp_0");
    let input = second["input"].as_array().unwrap();
    let last = input.last().unwrap();
    assert_eq!(last["type"], "function_call_output");
    assert_eq!(last["call_id"], "call_r1");
    assert_eq!(last["output"].as_str().unwrap(), original);
    // The continuation starts with the bytes of the first message (the cached prefix).
    let cut = msgs[0].find("\"input\"").unwrap();
    assert_eq!(msgs[1][..cut], msgs[0][..cut]);

    let stats = env.proxy.stats();
    assert!(
        stats.openai.tokens_before > stats.openai.tokens_after,
        "{:?}",
        stats.openai
    );
    assert_eq!(env.proxy.retained().followups(), 1);
}

#[tokio::test]
async fn each_message_is_compressed_to_the_same_bytes_and_others_pass_unchanged() {
    let env = Env::new(true).await;
    let original = listing();
    let sent = response_create(&original);
    let mut ws = env.connect("/backend-api/codex/responses", &[]).await;
    for _ in 0..2 {
        ws.send(Message::text(sent.clone())).await.unwrap();
        let events = read_response(&mut ws).await;
        assert_eq!(events.last().unwrap()["type"], "response.completed");
    }
    let processed = r#"{"type":"response.processed","response_id":"resp_mock"}"#;
    ws.send(Message::text(processed)).await.unwrap();
    assert!(
        env.openai
            .wait_for_requests(4, Duration::from_secs(5))
            .await
    );
    let msgs = ws_messages(&env.openai);
    assert_eq!(msgs.len(), 3);
    assert!(msgs[0].len() < sent.len());
    // A turn resent (a reconnect replays the conversation) compresses to the same bytes: the
    // provider's prefix cache still matches.
    assert_eq!(msgs[0], msgs[1]);
    assert_eq!(msgs[2], processed);
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn without_optimisation_the_socket_is_relayed_byte_for_byte() {
    for (optimize, extra) in [
        (false, &[][..]),
        (true, &[("x-headroom-bypass", "true")][..]),
    ] {
        let env = Env::new(optimize).await;
        let sent = response_create(&listing());
        let mut ws = env.connect("/v1/responses", extra).await;
        ws.send(Message::text(sent.clone())).await.unwrap();
        let events = read_response(&mut ws).await;
        assert_eq!(events.last().unwrap()["type"], "response.completed");
        assert_eq!(ws_messages(&env.openai), [sent]);
    }
}

#[tokio::test]
async fn an_upstream_error_event_reaches_the_client_as_sent() {
    let env = Env::new(true).await;
    env.openai.push(Reply::json(
        429,
        json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached"}}),
    ));
    let mut ws = env.connect("/v1/responses", &[]).await;
    ws.send(Message::text(response_create(&listing())))
        .await
        .unwrap();
    let events = read_response(&mut ws).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "error");
    assert_eq!(events[0]["status"], 429);
    assert_eq!(events[0]["error"]["type"], "usage_limit_reached");
}
