//! Retrieval of content the compressor dropped: `POST /v1/retrieve`, offering the
//! `headroom_retrieve` tool, and the proxy answering the model's retrieve calls itself.
//! A real proxy on `127.0.0.1:0` in front of real loopback mock upstreams.

use std::time::Duration;

use headroom_compress::{compress_request, Api, Options, RETRIEVE_TOOL_NAME};
use headroom_proxy::{Config, ProxyHandle};
use headroom_testkit::client::{post, request};
use headroom_testkit::{MockUpstream, Reply};
use serde_json::{json, Value};

struct Env {
    anthropic: MockUpstream,
    openai: MockUpstream,
    proxy: ProxyHandle,
}

impl Env {
    async fn new() -> Env {
        let anthropic = MockUpstream::start().await;
        let openai = MockUpstream::start().await;
        let proxy = headroom_proxy::start(Config {
            host: "127.0.0.1".into(),
            port: 0,
            anthropic_url: anthropic.url(),
            openai_url: format!("{}/v1", openai.url()),
            chatgpt_url: openai.url(),
            ..Config::default()
        })
        .await
        .expect("proxy starts");
        Env {
            anthropic,
            openai,
            proxy,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.proxy.url())
    }
}

/// A big JSON listing, the kind of tool output the compressor reduces to a sample of rows and
/// keeps the original of (for retrieval).
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

fn anthropic_body(output: &str, extra: Value) -> String {
    let mut v = json!({
        "model": "claude-mock",
        "max_tokens": 100,
        // Coding agents always send their tools; that is what makes a conversation redeemable.
        "tools": [{"name": "Bash", "description": "run a command", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "list the services"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "svc ls"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": output}]}
        ]
    });
    merge(&mut v, extra);
    v.to_string()
}

fn chat_body(output: &str, extra: Value) -> String {
    let mut v = json!({
        "model": "gpt-mock",
        "tools": [{"type": "function", "function": {"name": "shell", "parameters": {"type": "object"}}}],
        "messages": [
            {"role": "user", "content": "list the services"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "shell", "arguments": "{\"cmd\":\"svc ls\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": output}
        ]
    });
    merge(&mut v, extra);
    v.to_string()
}

fn responses_body(output: &str, extra: Value) -> String {
    let mut v = json!({
        "model": "gpt-mock",
        "tools": [{"type": "function", "name": "shell", "parameters": {"type": "object"}}],
        "input": [
            {"type": "message", "role": "user", "content": "list the services"},
            {"type": "function_call", "call_id": "f1", "name": "shell", "arguments": "{\"cmd\":\"svc ls\"}"},
            {"type": "function_call_output", "call_id": "f1", "output": output}
        ]
    });
    merge(&mut v, extra);
    v.to_string()
}

fn merge(v: &mut Value, extra: Value) {
    if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
        obj.extend(more);
    }
}

/// The key the compressor retains `body`'s big output under (asserting it does).
fn retained_key(api: Api, body: &str, original: &str) -> String {
    let out = compress_request(api, body.as_bytes(), &Options::default());
    assert!(out.body.is_some(), "test body must be compressed");
    let r = out
        .retained
        .iter()
        .find(|r| r.original == original)
        .expect("compression retains the listing");
    r.key.clone()
}

fn tool_names(api: Api, body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .map(|t| match api {
                    Api::OpenAiChat => t["function"]["name"].as_str().unwrap_or("").to_owned(),
                    _ => t["name"].as_str().unwrap_or("").to_owned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

const ANTHROPIC_AUTH: &[(&str, &str)] = &[("x-api-key", "sk-ant-test")];
const OPENAI_AUTH: &[(&str, &str)] = &[("authorization", "Bearer sk-test")];

#[tokio::test]
async fn retrieve_endpoint_serves_originals_to_local_callers_only() {
    let env = Env::new().await;
    let original = listing();
    let body = anthropic_body(&original, json!({}));
    let key = retained_key(Api::AnthropicMessages, &body, &original);
    let r = post(&env.url("/v1/messages"), ANTHROPIC_AUTH, body)
        .await
        .unwrap();
    assert_eq!(r.status, 200);

    let q = json!({ "key": key }).to_string();
    let r = post(&env.url("/v1/retrieve"), &[], q.clone())
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["key"], key.as_str());
    assert_eq!(r.json()["content"], original.as_str());

    let r = post(&env.url("/v1/retrieve"), &[], r#"{"key":"0000nope"}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["key"], "0000nope");
    assert!(r.json()["error"].as_str().unwrap().contains("no content"));

    let r = post(&env.url("/v1/retrieve"), &[], "{not json")
        .await
        .unwrap();
    assert_eq!(r.status, 400);

    // A foreign Host (DNS rebinding from a browser page) is refused before any route runs.
    let r = post(
        &env.url("/v1/retrieve"),
        &[("host", "evil.example:8787")],
        q.clone(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 403);
    assert!(!r.text().contains(&original[..20]));

    // The endpoint is answered by the proxy, never forwarded.
    assert_eq!(env.anthropic.requests().len(), 1);
    assert_eq!(env.proxy.retained().lookups(), 2);
}

#[tokio::test]
async fn tool_is_offered_on_every_request_of_a_conversation_with_tools() {
    let env = Env::new().await;

    // A client without tools: the body goes upstream byte for byte, no tool added.
    let small = anthropic_body("short output", json!({"tools": null}));
    let r = post(&env.url("/v1/messages"), ANTHROPIC_AUTH, small.clone())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(env.anthropic.last_request().unwrap().body, small.as_bytes());

    // A conversation with tools gets the tool from its first request on, even one with
    // nothing to compress yet: `tools` (the start of the cache order) never changes later.
    let small = anthropic_body("short output", json!({}));
    post(&env.url("/v1/messages"), ANTHROPIC_AUTH, small)
        .await
        .unwrap();
    let first = env.anthropic.last_request().unwrap().json();
    assert_eq!(
        tool_names(Api::AnthropicMessages, &first),
        ["Bash", RETRIEVE_TOOL_NAME]
    );

    // Retained: the tool is appended at the end of `tools`, the rest of the prefix unchanged,
    // and the bytes are identical on every turn (prompt cache).
    let original = listing();
    let body = anthropic_body(
        &original,
        json!({"tools": [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}]}),
    );
    let mut sent = Vec::new();
    for _ in 0..2 {
        let r = post(&env.url("/v1/messages"), ANTHROPIC_AUTH, body.clone())
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        sent.push(env.anthropic.last_request().unwrap());
    }
    assert_eq!(sent[0].body, sent[1].body, "deterministic bytes every turn");
    let fwd: Value = sent[0].json();
    assert_eq!(
        tool_names(Api::AnthropicMessages, &fwd),
        ["Bash", RETRIEVE_TOOL_NAME]
    );
    let def = &fwd["tools"][1];
    assert_eq!(def["input_schema"]["required"], json!(["key"]));
    assert_eq!(def["input_schema"]["properties"]["key"]["type"], "string");
    assert_eq!(
        sent[0].header("content-length").unwrap(),
        sent[0].body.len().to_string()
    );
    // The forwarded body is the compressed body with exactly the tool definition spliced in
    // after the client's last tool: every other byte is the client's (or the compressor's).
    let compressed = compress_request(Api::AnthropicMessages, body.as_bytes(), &Options::default())
        .body
        .unwrap();
    let def = format!(
        ",{}",
        headroom_compress::retrieval::tool_definition(Api::AnthropicMessages)
    );
    let at = sent[0]
        .body
        .windows(def.len())
        .position(|w| w == def.as_bytes())
        .expect("the tool definition is in the forwarded body");
    let mut without = sent[0].body.clone();
    without.drain(at..at + def.len());
    assert_eq!(without, compressed);
    assert_eq!(
        sent[0].body[at + def.len()],
        b']',
        "appended at the end of `tools`"
    );

    // Already offered by the client: not added twice.
    let body = anthropic_body(
        &original,
        json!({"tools": [{"name": RETRIEVE_TOOL_NAME, "input_schema": {"type": "object"}}]}),
    );
    post(&env.url("/v1/messages"), ANTHROPIC_AUTH, body)
        .await
        .unwrap();
    let fwd = env.anthropic.last_request().unwrap().json();
    assert_eq!(
        tool_names(Api::AnthropicMessages, &fwd),
        [RETRIEVE_TOOL_NAME]
    );

    // OpenAI shapes: appended after the client's own function tools.
    post(
        &env.url("/v1/chat/completions"),
        OPENAI_AUTH,
        chat_body(&original, json!({})),
    )
    .await
    .unwrap();
    let fwd = env.openai.last_request().unwrap().json();
    assert_eq!(fwd["tools"][1]["type"], "function");
    assert_eq!(fwd["tools"][1]["function"]["name"], RETRIEVE_TOOL_NAME);
    assert_eq!(
        fwd["tools"][1]["function"]["parameters"]["required"],
        json!(["key"])
    );
    post(
        &env.url("/v1/responses"),
        OPENAI_AUTH,
        responses_body(&original, json!({})),
    )
    .await
    .unwrap();
    let fwd = env.openai.last_request().unwrap().json();
    assert_eq!(fwd["tools"][1]["type"], "function");
    assert_eq!(fwd["tools"][1]["name"], RETRIEVE_TOOL_NAME);
    assert_eq!(fwd["tools"][1]["parameters"]["required"], json!(["key"]));
}

/// What the compressor makes of `body` when it may not drop anything.
fn lossless(api: Api, body: &str) -> Vec<u8> {
    let options = Options {
        lossy: false,
        ..Options::default()
    };
    compress_request(api, body.as_bytes(), &options)
        .body
        .unwrap_or_else(|| body.as_bytes().to_vec())
}

#[tokio::test]
async fn requests_where_the_tool_cannot_be_offered_are_compressed_losslessly() {
    // A marker that says "call headroom_retrieve" is only written in conversations that are
    // offered the tool: a client without tools (absent, empty or null) gets lossless rewrites.
    let env = Env::new().await;
    let original = listing();
    let cases = [
        // `tools: null` cannot take the tool.
        (
            "/v1/codex/responses",
            Api::OpenAiResponses,
            responses_body(&original, json!({"stream": true, "tools": null})),
        ),
        (
            "/v1/chat/completions",
            Api::OpenAiChat,
            chat_body(&original, json!({"tools": null})),
        ),
        // No tools at all, or an empty list: adding one would change the request's meaning.
        (
            "/v1/messages",
            Api::AnthropicMessages,
            anthropic_body(&original, json!({"tools": []})),
        ),
        ("/v1/responses", Api::OpenAiResponses, {
            let mut v: Value = serde_json::from_str(&responses_body(&original, json!({}))).unwrap();
            v.as_object_mut().unwrap().remove("tools");
            v.to_string()
        }),
    ];
    for (i, (path, api, body)) in cases.iter().enumerate() {
        let auth = if *api == Api::AnthropicMessages {
            ANTHROPIC_AUTH
        } else {
            OPENAI_AUTH
        };
        let r = post(&env.url(path), auth, body.clone()).await.unwrap();
        assert_eq!(r.status, 200, "case {i}: {}", r.text());
        let upstream = if *api == Api::AnthropicMessages {
            &env.anthropic
        } else {
            &env.openai
        };
        let fwd = upstream.last_request().unwrap();
        let expected = lossless(*api, body);
        assert!(
            expected.len() < body.len(),
            "case {i}: lossless still shrinks"
        );
        assert_eq!(fwd.body, expected, "case {i}: lossless compression only");
        assert!(
            !fwd.body_str().contains(RETRIEVE_TOOL_NAME),
            "case {i}: no marker and no tool"
        );
        let count = |h: &str| r.header(h).unwrap().parse::<u64>().unwrap();
        assert!(
            count("x-headroom-tokens-after") < count("x-headroom-tokens-before"),
            "case {i}: savings reported"
        );
    }
    assert_eq!(env.proxy.retained().len(), 0, "nothing was dropped");
}

#[tokio::test]
async fn non_streamed_responses_requests_get_lossy_compression_and_the_tool() {
    let env = Env::new().await;
    let original = listing();
    let body = responses_body(&original, json!({}));
    let key = retained_key(Api::OpenAiResponses, &body, &original);
    let r = post(&env.url("/v1/responses"), OPENAI_AUTH, body.clone())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let fwd = env.openai.last_request().unwrap();
    let lossy = compress_request(Api::OpenAiResponses, body.as_bytes(), &Options::default())
        .body
        .unwrap();
    assert!(lossy.len() < lossless(Api::OpenAiResponses, &body).len());
    let v = fwd.json();
    assert_eq!(
        tool_names(Api::OpenAiResponses, &v),
        ["shell", RETRIEVE_TOOL_NAME],
        "tool offered"
    );
    let output = v["input"][2]["output"].as_str().unwrap();
    assert!(output.contains(&format!("call headroom_retrieve with key \"{key}\"")));
    assert_eq!(
        env.proxy.retained().get(&key).as_deref(),
        Some(original.as_str())
    );
}

#[tokio::test]
async fn a_client_that_offers_the_tool_itself_keeps_lossy_compression() {
    // E.g. an MCP bridge to `POST /v1/retrieve`: the client redeems the markers itself, so the
    // proxy neither adds its tool nor holds back the calls, even where it could not answer them.
    let env = Env::new().await;
    let original = listing();
    let body = responses_body(
        &original,
        json!({"stream": true, "tools": [{"type": "function", "name": RETRIEVE_TOOL_NAME, "parameters": {"type": "object"}}]}),
    );
    let key = retained_key(Api::OpenAiResponses, &body, &original);
    let r = post(&env.url("/v1/responses"), OPENAI_AUTH, body.clone())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let lossy = compress_request(Api::OpenAiResponses, body.as_bytes(), &Options::default())
        .body
        .unwrap();
    assert_eq!(env.openai.last_request().unwrap().body, lossy);
    assert_eq!(
        env.proxy.retained().get(&key).as_deref(),
        Some(original.as_str())
    );
}

fn sse_event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// Round one of a streamed Anthropic answer: a text block, then a retrieve call (its JSON
/// input split over two deltas), then `stop_reason: tool_use`. `extra` adds a client tool.
fn anthropic_retrieve_stream(key: &str, extra_tool: bool) -> Vec<String> {
    let input = json!({ "key": key }).to_string();
    let (a, b) = input.split_at(5);
    let mut ev = vec![
        sse_event(
            "message_start",
            json!({"type":"message_start","message":{"id":"msg_s1","type":"message","role":"assistant","model":"claude-mock","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}}),
        ),
        sse_event(
            "content_block_start",
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        ),
        sse_event("ping", json!({"type":"ping"})),
        sse_event(
            "content_block_delta",
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking the full listing. "}}),
        ),
        sse_event(
            "content_block_stop",
            json!({"type":"content_block_stop","index":0}),
        ),
        sse_event(
            "content_block_start",
            json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_s1","name":RETRIEVE_TOOL_NAME,"input":{}}}),
        ),
        sse_event(
            "content_block_delta",
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":a}}),
        ),
        sse_event(
            "content_block_delta",
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":b}}),
        ),
        sse_event(
            "content_block_stop",
            json!({"type":"content_block_stop","index":1}),
        ),
    ];
    if extra_tool {
        ev.push(sse_event("content_block_start", json!({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_s2","name":"Bash","input":{}}})));
        ev.push(sse_event(
            "content_block_stop",
            json!({"type":"content_block_stop","index":2}),
        ));
    }
    ev.push(sse_event("message_delta", json!({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":20}})));
    ev.push(sse_event("message_stop", json!({"type":"message_stop"})));
    ev
}

/// `(event name, data)` of every event in an SSE body.
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::new();
            let mut data = String::new();
            for line in e.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = v.to_owned();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = v.to_owned();
                }
            }
            (
                name,
                serde_json::from_str(&data).unwrap_or(Value::String(data)),
            )
        })
        .collect()
}

#[tokio::test]
async fn anthropic_stream_retrieve_calls_are_answered_inside_one_client_stream() {
    let env = Env::new().await;
    let original = listing();
    let body = anthropic_body(&original, json!({"stream": true}));
    let key = retained_key(Api::AnthropicMessages, &body, &original);
    env.anthropic.push(Reply::sse(
        anthropic_retrieve_stream(&key, false),
        Duration::from_millis(1),
    ));
    // The follow-up gets the mock's default streamed text answer.
    let r = post(&env.url("/v1/messages"), ANTHROPIC_AUTH, body)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let text = r.text();
    assert!(!text.contains(RETRIEVE_TOOL_NAME), "{text}");
    let ev = events(&text);
    let count = |n: &str| ev.iter().filter(|(name, _)| name == n).count();
    assert_eq!(count("message_start"), 1, "{text}");
    assert_eq!(count("message_stop"), 1, "{text}");
    assert_eq!(count("message_delta"), 1, "{text}");
    assert_eq!(count("content_block_start"), 2, "{text}");
    // Text of both rounds, blocks numbered 0 then 1.
    let said: String = ev
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        said,
        "Checking the full listing. Hello from the mock upstream."
    );
    let starts: Vec<u64> = ev
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, d)| d["index"].as_u64().unwrap())
        .collect();
    assert_eq!(starts, [0, 1]);
    let stop = ev.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(stop.1["delta"]["stop_reason"], "end_turn");

    let reqs = env.anthropic.requests();
    assert_eq!(reqs.len(), 2);
    let follow = reqs[1].json();
    assert_eq!(follow["stream"], true);
    let msgs = follow["messages"].as_array().unwrap();
    assert_eq!(msgs[3]["content"][0]["text"], "Checking the full listing. ");
    assert_eq!(msgs[3]["content"][1]["id"], "toolu_s1");
    assert_eq!(msgs[3]["content"][1]["input"]["key"], key.as_str());
    assert_eq!(msgs[4]["content"][0]["tool_use_id"], "toolu_s1");
    assert_eq!(msgs[4]["content"][0]["content"], original.as_str());
    assert_eq!(env.proxy.retained().followups(), 1);
}

#[tokio::test]
async fn anthropic_stream_with_client_tools_is_relayed_unchanged() {
    let env = Env::new().await;
    let original = listing();
    let body = anthropic_body(&original, json!({"stream": true}));
    let key = retained_key(Api::AnthropicMessages, &body, &original);
    let script = anthropic_retrieve_stream(&key, true);
    env.anthropic
        .push(Reply::sse(script.clone(), Duration::from_millis(1)));
    let r = post(&env.url("/v1/messages"), ANTHROPIC_AUTH, body)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), script.concat());
    assert_eq!(env.anthropic.requests().len(), 1);
}

#[tokio::test]
async fn openai_chat_stream_retrieve_calls_are_answered_inside_one_client_stream() {
    let env = Env::new().await;
    let original = listing();
    let body = chat_body(&original, json!({"stream": true}));
    let key = retained_key(Api::OpenAiChat, &body, &original);
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id":"chatcmpl-s","object":"chat.completion.chunk","created":0,"model":"gpt-mock","choices":[{"index":0,"delta":delta,"finish_reason":finish}]})
        )
    };
    let args = json!({ "key": key }).to_string();
    let (a, b) = args.split_at(4);
    env.openai.push(Reply::sse(
        vec![
            chunk(json!({"role":"assistant","content":""}), Value::Null),
            chunk(json!({"content":"Checking. "}), Value::Null),
            chunk(
                json!({"tool_calls":[{"index":0,"id":"call_s1","type":"function","function":{"name":RETRIEVE_TOOL_NAME,"arguments":a}}]}),
                Value::Null,
            ),
            chunk(json!({"tool_calls":[{"index":0,"function":{"arguments":b}}]}), Value::Null),
            chunk(json!({}), json!("tool_calls")),
            "data: [DONE]\n\n".to_owned(),
        ],
        Duration::from_millis(1),
    ));
    let r = post(&env.url("/v1/chat/completions"), OPENAI_AUTH, body)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(!text.contains(RETRIEVE_TOOL_NAME), "{text}");
    assert_eq!(text.matches("data: [DONE]").count(), 1, "{text}");
    assert_eq!(text.matches("\"role\"").count(), 1, "{text}");
    let chunks: Vec<Value> = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect();
    let said: String = chunks
        .iter()
        .map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(said, "Checking. Hello from the mock upstream.");
    let finishes: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finishes, ["stop"]);

    let reqs = env.openai.requests();
    assert_eq!(reqs.len(), 2);
    let msgs = reqs[1].json()["messages"].as_array().unwrap().clone();
    assert_eq!(msgs[3]["content"], "Checking. ");
    assert_eq!(msgs[3]["tool_calls"][0]["id"], "call_s1");
    assert_eq!(
        msgs[3]["tool_calls"][0]["function"]["arguments"],
        args.as_str()
    );
    assert_eq!(msgs[4]["tool_call_id"], "call_s1");
    assert_eq!(msgs[4]["content"], original.as_str());
}

#[tokio::test]
async fn stream_follow_up_failure_ends_with_an_error_event() {
    let env = Env::new().await;
    let original = listing();
    let body = anthropic_body(&original, json!({"stream": true}));
    let key = retained_key(Api::AnthropicMessages, &body, &original);
    env.anthropic.push(Reply::sse(
        anthropic_retrieve_stream(&key, false),
        Duration::from_millis(1),
    ));
    env.anthropic.push(Reply::json(
        529,
        json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
    ));
    let r = post(&env.url("/v1/messages"), ANTHROPIC_AUTH, body)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let ev = events(&r.text());
    assert_eq!(ev.first().unwrap().0, "message_start");
    let last = ev.last().unwrap();
    assert_eq!(last.0, "error", "{}", r.text());
    assert!(last.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Overloaded"));
    assert!(!r.text().contains(RETRIEVE_TOOL_NAME));
}

/// A streamed Responses answer with numbered events. `items` are `(added item, done item)`;
/// message items stream their text as one delta.
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
    push(
        json!({"type":"response.in_progress","response":{"id":id,"object":"response","status":"in_progress","output":[]}}),
    );
    for (i, (added, done)) in items.iter().enumerate() {
        push(json!({"type":"response.output_item.added","output_index":i,"item":added}));
        if done["type"] == "message" {
            let text = &done["content"][0]["text"];
            push(
                json!({"type":"response.output_text.delta","output_index":i,"item_id":done["id"],"content_index":0,"delta":text}),
            );
            push(
                json!({"type":"response.output_text.done","output_index":i,"item_id":done["id"],"content_index":0,"text":text}),
            );
        } else {
            let args = done["arguments"].as_str().unwrap_or("");
            let (a, b) = args.split_at(args.len() / 2);
            for part in [a, b] {
                push(
                    json!({"type":"response.function_call_arguments.delta","output_index":i,"item_id":done["id"],"delta":part}),
                );
            }
            push(
                json!({"type":"response.function_call_arguments.done","output_index":i,"item_id":done["id"],"arguments":args}),
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

#[tokio::test]
async fn responses_stream_retrieve_calls_are_answered_inside_one_client_stream() {
    let env = Env::new().await;
    let original = listing();
    let body = responses_body(&original, json!({"stream": true, "store": false}));
    let key = retained_key(Api::OpenAiResponses, &body, &original);
    let args = json!({ "key": key }).to_string();
    env.openai.push(Reply::sse(
        responses_stream(
            "resp_1",
            &[
                message_item("msg_1", "Checking. "),
                call_item("fc_1", "call_s1", RETRIEVE_TOOL_NAME, &args),
            ],
        ),
        Duration::from_millis(1),
    ));
    env.openai.push(Reply::sse(
        responses_stream("resp_2", &[message_item("msg_2", "All 150 are running.")]),
        Duration::from_millis(1),
    ));
    let r = post(&env.url("/v1/codex/responses"), OPENAI_AUTH, body.clone())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(!text.contains(RETRIEVE_TOOL_NAME), "{text}");
    let ev = events(&text);
    let count = |n: &str| ev.iter().filter(|(name, _)| name == n).count();
    assert_eq!(count("response.created"), 1, "{text}");
    assert_eq!(count("response.in_progress"), 1, "{text}");
    assert_eq!(count("response.completed"), 1, "{text}");
    assert_eq!(ev.last().unwrap().0, "response.completed");
    // One response to the client: sequence numbers 0.. without gaps, items numbered 0 and 1.
    let seqs: Vec<u64> = ev
        .iter()
        .map(|(_, d)| d["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..ev.len() as u64).collect::<Vec<_>>());
    for (name, d) in &ev {
        assert_eq!(name, d["type"].as_str().unwrap());
    }
    let added: Vec<u64> = ev
        .iter()
        .filter(|(n, _)| n == "response.output_item.added")
        .map(|(_, d)| d["output_index"].as_u64().unwrap())
        .collect();
    assert_eq!(added, [0, 1]);
    let said: String = ev
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(said, "Checking. All 150 are running.");
    let completed = &ev.last().unwrap().1["response"];
    assert_eq!(completed["id"], "resp_2");
    let ids: Vec<&str> = completed["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["msg_1", "msg_2"]);

    let reqs = env.openai.requests();
    assert_eq!(reqs.len(), 2);
    // The streamed request was offered the tool (and compressed lossily).
    let first = reqs[0].json();
    assert_eq!(
        tool_names(Api::OpenAiResponses, &first),
        ["shell", RETRIEVE_TOOL_NAME]
    );
    assert!(first["input"][2]["output"].as_str().unwrap().contains(&key));
    let follow = reqs[1].json();
    assert_eq!(follow["stream"], true);
    assert_eq!(
        reqs[1].header("authorization").as_deref(),
        Some("Bearer sk-test")
    );
    let input = follow["input"].as_array().unwrap();
    assert_eq!(input.len(), 6);
    assert_eq!(input[3]["id"], "msg_1");
    assert_eq!(input[4]["type"], "function_call");
    assert_eq!(input[4]["call_id"], "call_s1");
    assert_eq!(input[4]["arguments"], args.as_str());
    assert_eq!(input[5]["type"], "function_call_output");
    assert_eq!(input[5]["call_id"], "call_s1");
    assert_eq!(input[5]["output"], original.as_str());
    assert_eq!(env.proxy.retained().followups(), 1);
    assert_eq!(env.proxy.retained().lookups(), 1);
}

#[tokio::test]
async fn responses_stream_with_client_calls_is_relayed_unchanged() {
    let env = Env::new().await;
    let original = listing();
    let body = responses_body(&original, json!({"stream": true}));
    let key = retained_key(Api::OpenAiResponses, &body, &original);
    let script = responses_stream(
        "resp_1",
        &[
            call_item(
                "fc_1",
                "call_s1",
                RETRIEVE_TOOL_NAME,
                &json!({ "key": key }).to_string(),
            ),
            call_item("fc_2", "call_s2", "shell", r#"{"cmd":"ls"}"#),
        ],
    );
    env.openai
        .push(Reply::sse(script.clone(), Duration::from_millis(1)));
    let r = post(&env.url("/v1/responses"), OPENAI_AUTH, body)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), script.concat());
    assert_eq!(env.openai.requests().len(), 1);
    assert_eq!(env.proxy.retained().followups(), 0);
}

#[tokio::test]
async fn responses_stream_follow_up_failure_ends_with_an_error_event() {
    let env = Env::new().await;
    let original = listing();
    let body = responses_body(&original, json!({"stream": true}));
    let key = retained_key(Api::OpenAiResponses, &body, &original);
    env.openai.push(Reply::sse(
        responses_stream(
            "resp_1",
            &[call_item(
                "fc_1",
                "call_s1",
                RETRIEVE_TOOL_NAME,
                &json!({ "key": key }).to_string(),
            )],
        ),
        Duration::from_millis(1),
    ));
    env.openai.push(Reply::json(
        500,
        json!({"error":{"message":"upstream broke","type":"server_error","param":null,"code":null}}),
    ));
    let r = post(&env.url("/v1/responses"), OPENAI_AUTH, body)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let text = r.text();
    let ev = events(&text);
    assert_eq!(ev.first().unwrap().0, "response.created");
    assert!(!text.contains(RETRIEVE_TOOL_NAME), "{text}");
    assert!(!text.contains("response.completed"), "{text}");
    let last = ev.last().unwrap();
    assert_eq!(last.0, "error", "{text}");
    assert!(last.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("upstream broke"));
    assert_eq!(env.openai.requests().len(), 2);
}

fn anthropic_retrieve_reply(key: &str, id: &str) -> Reply {
    Reply::json(
        200,
        json!({
            "id": "msg_r1", "type": "message", "role": "assistant", "model": "claude-mock",
            "content": [
                {"type": "text", "text": "Let me look at the full listing."},
                {"type": "tool_use", "id": id, "name": RETRIEVE_TOOL_NAME, "input": {"key": key}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 5}
        }),
    )
}

#[tokio::test]
async fn anthropic_retrieve_calls_are_answered_by_the_proxy() {
    let env = Env::new().await;
    let original = listing();
    let body = anthropic_body(&original, json!({}));
    let key = retained_key(Api::AnthropicMessages, &body, &original);
    env.anthropic
        .push(anthropic_retrieve_reply(&key, "toolu_r1"));
    // The second upstream call gets the mock's default text answer.

    let r = post(
        &env.url("/v1/messages"),
        &[
            ("x-api-key", "sk-ant-test"),
            ("accept-encoding", "gzip, br"),
        ],
        body,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let out = r.json();
    assert_eq!(out["stop_reason"], "end_turn");
    assert_eq!(out["content"][0]["text"], "Hello from the mock upstream.");
    assert!(!r.text().contains(RETRIEVE_TOOL_NAME));

    let reqs = env.anthropic.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].header("x-api-key").as_deref(), Some("sk-ant-test"));
    // The proxy must be able to read the answers it inspects.
    for req in &reqs {
        assert_eq!(req.header("accept-encoding").as_deref(), Some("identity"));
    }
    assert_eq!(
        reqs[1].header("content-length").unwrap(),
        reqs[1].body.len().to_string()
    );
    // The follow-up is the first request plus two turns; its prefix is byte-identical.
    let first = &reqs[0].body;
    let close = first.iter().rposition(|&b| b == b']').unwrap();
    let msgs_end = reqs[0].body_str().rfind("]}]").unwrap();
    assert!(msgs_end < close);
    assert_eq!(&reqs[1].body[..msgs_end + 2], &first[..msgs_end + 2]);
    let follow = reqs[1].json();
    let msgs = follow["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 5);
    assert_eq!(msgs[3]["role"], "assistant");
    assert_eq!(msgs[3]["content"][1]["id"], "toolu_r1");
    assert_eq!(msgs[4]["role"], "user");
    assert_eq!(msgs[4]["content"][0]["type"], "tool_result");
    assert_eq!(msgs[4]["content"][0]["tool_use_id"], "toolu_r1");
    assert_eq!(msgs[4]["content"][0]["content"], original.as_str());
    // The tool stays offered in the follow-up (same bytes as the first request).
    assert_eq!(follow["tools"], reqs[0].json()["tools"]);

    assert_eq!(env.proxy.retained().lookups(), 1);
    assert_eq!(env.proxy.retained().followups(), 1);
    let stats = headroom_testkit::client::get(&env.url("/stats"))
        .await
        .unwrap()
        .json();
    assert_eq!(stats["retained"]["followup_requests"], 1);
    assert_eq!(stats["retained"]["retrievals"], 1);
}

#[tokio::test]
async fn openai_chat_and_responses_retrieve_calls_are_answered_by_the_proxy() {
    let env = Env::new().await;
    let original = listing();

    let body = chat_body(&original, json!({}));
    let key = retained_key(Api::OpenAiChat, &body, &original);
    env.openai.push(Reply::json(
        200,
        json!({
            "id": "chatcmpl-r", "object": "chat.completion", "created": 0, "model": "gpt-mock",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": null,
                "tool_calls": [{"id": "call_r1", "type": "function", "function": {
                    "name": RETRIEVE_TOOL_NAME, "arguments": json!({"key": key}).to_string()}}]
            }}]
        }),
    ));
    let r = post(&env.url("/v1/chat/completions"), OPENAI_AUTH, body)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "Hello from the mock upstream."
    );
    let reqs = env.openai.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[1].header("authorization").as_deref(),
        Some("Bearer sk-test")
    );
    let msgs = reqs[1].json()["messages"].as_array().unwrap().clone();
    assert_eq!(msgs.len(), 5);
    assert_eq!(msgs[3]["tool_calls"][0]["id"], "call_r1");
    assert_eq!(msgs[4]["role"], "tool");
    assert_eq!(msgs[4]["tool_call_id"], "call_r1");
    assert_eq!(msgs[4]["content"], original.as_str());

    let body = responses_body(&original, json!({}));
    let key = retained_key(Api::OpenAiResponses, &body, &original);
    env.openai.push(Reply::json(
        200,
        json!({
            "id": "resp_r", "object": "response", "status": "completed", "model": "gpt-mock",
            "output": [{"type": "function_call", "id": "fc_1", "call_id": "call_f1",
                "name": RETRIEVE_TOOL_NAME, "arguments": json!({"key": key}).to_string(), "status": "completed"}]
        }),
    ));
    let r = post(&env.url("/v1/responses"), OPENAI_AUTH, body)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["output"][0]["type"], "message");
    let reqs = env.openai.requests();
    assert_eq!(reqs.len(), 4);
    let input = reqs[3].json()["input"].as_array().unwrap().clone();
    assert_eq!(input.len(), 5);
    assert_eq!(input[3]["type"], "function_call");
    assert_eq!(input[3]["call_id"], "call_f1");
    assert_eq!(input[4]["type"], "function_call_output");
    assert_eq!(input[4]["call_id"], "call_f1");
    assert_eq!(input[4]["output"], original.as_str());
    assert_eq!(env.proxy.retained().followups(), 2);
}

#[tokio::test]
async fn mixed_tool_calls_are_returned_to_the_client_unchanged() {
    let env = Env::new().await;
    let original = listing();
    let body = anthropic_body(&original, json!({}));
    let key = retained_key(Api::AnthropicMessages, &body, &original);
    let mixed = json!({
        "id": "msg_m", "type": "message", "role": "assistant", "model": "claude-mock",
        "content": [
            {"type": "tool_use", "id": "toolu_a", "name": RETRIEVE_TOOL_NAME, "input": {"key": key}},
            {"type": "tool_use", "id": "toolu_b", "name": "Bash", "input": {"command": "ls"}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 5}
    });
    env.anthropic.push(Reply::json(200, mixed.clone()));
    let r = post(&env.url("/v1/messages"), ANTHROPIC_AUTH, body)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, mixed.to_string().as_bytes());
    assert_eq!(env.anthropic.requests().len(), 1);
    assert_eq!(env.proxy.retained().followups(), 0);
}

#[tokio::test]
async fn unknown_keys_get_an_error_text_and_rounds_are_bounded() {
    let env = Env::new().await;
    let original = listing();
    let body = anthropic_body(&original, json!({}));
    // The model keeps asking (for a key we never stored): 1 request + 3 follow-ups, then the
    // last answer goes to the client as it is.
    for i in 0..4 {
        env.anthropic.push(anthropic_retrieve_reply(
            "feedfacefeedfacefeedface",
            &format!("toolu_{i}"),
        ));
    }
    let r = request(
        "POST",
        &env.url("/v1/messages"),
        &[("content-type", "application/json"), ("x-api-key", "k")],
        body,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["content"][1]["id"], "toolu_3");
    let reqs = env.anthropic.requests();
    assert_eq!(reqs.len(), 4);
    let last = reqs[3].json();
    let msgs = last["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3 + 2 * 3);
    let text = msgs[4]["content"][0]["content"].as_str().unwrap();
    assert!(text.contains("feedfacefeedfacefeedface"), "{text}");
    assert!(text.contains("nothing is stored"), "{text}");
    assert_eq!(env.proxy.retained().followups(), 3);
}

#[tokio::test]
async fn follow_up_upstream_errors_are_relayed() {
    let env = Env::new().await;
    let original = listing();
    let body = anthropic_body(&original, json!({}));
    let key = retained_key(Api::AnthropicMessages, &body, &original);
    env.anthropic
        .push(anthropic_retrieve_reply(&key, "toolu_r1"));
    env.anthropic.push(Reply::json(
        429,
        json!({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}),
    ));
    let r = post(&env.url("/v1/messages"), ANTHROPIC_AUTH, body)
        .await
        .unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["message"], "slow down");
    assert!(
        env.anthropic
            .wait_for_requests(2, Duration::from_secs(5))
            .await
    );
}

#[tokio::test]
async fn answers_too_big_to_inspect_are_relayed_intact() {
    // Over the 16 MiB inspection limit: the proxy stops buffering and relays the whole answer.
    let env = Env::new().await;
    let original = listing();
    let body = anthropic_body(&original, json!({}));
    let big = json!({
        "id": "msg_big", "type": "message", "role": "assistant", "model": "claude-mock",
        "content": [{"type": "text", "text": "x".repeat(17 * 1024 * 1024)}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 1, "output_tokens": 1}
    })
    .to_string();
    env.anthropic
        .push(Reply::bytes(200, "application/json", big.clone()));
    let r = post(&env.url("/v1/messages"), ANTHROPIC_AUTH, body)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), big.len());
    assert!(r.body == big.as_bytes());
    assert_eq!(env.anthropic.requests().len(), 1);
}

#[tokio::test]
async fn client_disconnect_during_a_follow_up_stream_cancels_it() {
    let env = Env::new().await;
    let original = listing();
    let body = anthropic_body(&original, json!({"stream": true}));
    let key = retained_key(Api::AnthropicMessages, &body, &original);
    env.anthropic.push(Reply::sse(
        anthropic_retrieve_stream(&key, false),
        Duration::from_millis(1),
    ));
    env.anthropic
        .push(Reply::anthropic_sse("Still going", Duration::from_millis(1)).then_hang());
    let mut resp = headroom_testkit::client::open(
        "POST",
        &env.url("/v1/messages"),
        &[("content-type", "application/json"), ("x-api-key", "k")],
        body,
    )
    .await
    .unwrap();
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("going") {
        let chunk = tokio::time::timeout_at(deadline, resp.next_chunk())
            .await
            .expect("follow-up text arrives")
            .expect("stream open")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!seen.contains(RETRIEVE_TOOL_NAME));
    drop(resp);
    assert_eq!(
        env.anthropic
            .wait_for_stream_end(1, Duration::from_secs(10))
            .await,
        headroom_testkit::StreamOutcome::Cancelled
    );
}
