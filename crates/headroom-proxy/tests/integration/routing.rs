//! Upstream selection, header handling and byte-exact passthrough.

use std::time::Duration;

use headroom_testkit::client::{self, post};
use headroom_testkit::{MockUpstream, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{chatgpt_jwt, Env};

async fn only_request(mock: &MockUpstream) -> headroom_testkit::Recorded {
    let reqs = mock.requests();
    assert_eq!(
        reqs.len(),
        1,
        "expected exactly one upstream request, got {reqs:?}"
    );
    reqs.into_iter().next().unwrap()
}

#[tokio::test]
async fn anthropic_routes_go_to_the_anthropic_upstream() {
    let env = Env::new().await;
    let r = post(
        &env.url("/v1/messages?beta=true"),
        &[
            ("x-api-key", "sk-ant-api03-secret"),
            ("anthropic-version", "2023-06-01"),
        ],
        r#"{"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["type"], "message");
    let r = post(
        &env.url("/v1/messages/count_tokens"),
        &[("x-api-key", "k")],
        r#"{"messages":[]}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.json()["input_tokens"].is_u64());

    let reqs = env.anthropic.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/v1/messages?beta=true")
    );
    assert_eq!(reqs[1].path, "/v1/messages/count_tokens");
    assert!(env.openai.requests().is_empty() && env.chatgpt.requests().is_empty());
}

#[tokio::test]
async fn openai_chat_and_responses_aliases_go_to_openai() {
    let env = Env::new().await;
    let body = r#"{"model":"gpt","messages":[{"role":"user","content":"hi"}]}"#;
    let r = post(
        &env.url("/v1/chat/completions"),
        &[("authorization", "Bearer sk-proj-1")],
        body,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["object"], "chat.completion");
    for alias in [
        "/v1/responses",
        "/v1/codex/responses",
        "/backend-api/codex/responses",
    ] {
        let r = post(
            &env.url(alias),
            &[("authorization", "Bearer sk-proj-1")],
            r#"{"model":"gpt","input":"hi"}"#,
        )
        .await
        .unwrap();
        assert_eq!(r.status, 200, "{alias}");
        assert_eq!(r.json()["object"], "response", "{alias}");
    }
    let paths: Vec<String> = env.openai.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/v1/chat/completions",
            "/v1/responses",
            "/v1/responses",
            "/v1/responses"
        ]
    );
    assert!(env.anthropic.requests().is_empty());
}

#[tokio::test]
async fn chatgpt_auth_routes_codex_to_the_chatgpt_backend() {
    let env = Env::new().await;
    let auth = format!("Bearer {}", chatgpt_jwt("acct-42"));
    let r = post(
        &env.url("/v1/responses"),
        &[("authorization", &auth)],
        r#"{"input":"hi"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let req = only_request(&env.chatgpt).await;
    assert_eq!(req.path, "/backend-api/codex/responses");
    assert_eq!(req.header("chatgpt-account-id").as_deref(), Some("acct-42"));
    assert_eq!(req.header("authorization").as_deref(), Some(auth.as_str()));

    // Catch-all with an explicit account header goes to the same host, path preserved.
    let r = client::request(
        "GET",
        &env.url("/backend-api/wham/usage"),
        &[("chatgpt-account-id", "acct-7"), ("authorization", &auth)],
        "",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        env.chatgpt.last_request().unwrap().path,
        "/backend-api/wham/usage"
    );
    assert!(env.openai.requests().is_empty());
}

#[tokio::test]
async fn models_and_catch_all_follow_the_credentials() {
    let env = Env::new().await;
    let r = client::request(
        "GET",
        &env.url("/v1/models"),
        &[("x-api-key", "sk-ant-1")],
        "",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(only_request(&env.anthropic).await.path, "/v1/models");

    let r = client::request(
        "GET",
        &env.url("/v1/models"),
        &[("authorization", "Bearer sk-proj")],
        "",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(env.openai.last_request().unwrap().path, "/v1/models");

    let r = client::request(
        "DELETE",
        &env.url("/v1/files/file-1?purge=1&x=%20y"),
        &[("authorization", "Bearer sk-proj")],
        "",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let last = env.openai.last_request().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("DELETE", "/v1/files/file-1?purge=1&x=%20y")
    );

    let r = client::request(
        "PUT",
        &env.url("/v1/messages/batches/b1"),
        &[("anthropic-version", "2023-06-01")],
        "payload",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let last = env.anthropic.last_request().unwrap();
    assert_eq!(
        (
            last.method.as_str(),
            last.path.as_str(),
            last.body.as_slice()
        ),
        ("PUT", "/v1/messages/batches/b1", b"payload".as_slice())
    );
}

#[tokio::test]
async fn claude_codes_preflight_goes_to_the_anthropic_upstream() {
    // What Claude Code really sends first: `HEAD /` from its Bun runtime, no credentials.
    let env = Env::new().await;
    let r = client::request("HEAD", &env.url("/"), &[("user-agent", "Bun/1.3.1")], "")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let got = only_request(&env.anthropic).await;
    assert_eq!((got.method.as_str(), got.path.as_str()), ("HEAD", "/"));
    assert!(env.openai.requests().is_empty());
    // Anything else without credentials keeps going to OpenAI, as before.
    client::request("HEAD", &env.url("/"), &[("user-agent", "curl/8.5.0")], "")
        .await
        .unwrap();
    assert_eq!(env.openai.requests().len(), 1);
}

#[tokio::test]
async fn base_url_override_header_is_honoured_and_not_forwarded() {
    let env = Env::new().await;
    let over = format!("{}/v1", env.chatgpt.url());
    let r = post(
        &env.url("/v1/chat/completions"),
        &[
            ("x-headroom-base-url", &over),
            ("authorization", "Bearer sk-1"),
        ],
        r#"{"messages":[]}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let req = only_request(&env.chatgpt).await;
    assert_eq!(req.path, "/v1/chat/completions");
    assert!(req.header("x-headroom-base-url").is_none());
    assert!(env.openai.requests().is_empty());

    let r = post(
        &env.url("/v1/chat/completions"),
        &[("x-headroom-base-url", "ftp://nope")],
        "{}",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn credentials_pass_through_and_host_is_rewritten() {
    let env = Env::new().await;
    let r = post(
        &env.url("/v1/messages"),
        &[
            ("x-api-key", "sk-ant-api03-AAAA"),
            ("authorization", "Bearer sk-ant-oat01-BBBB"),
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "b2,b1"),
            ("user-agent", "claude-cli/2.0 (external, cli)"),
        ],
        r#"{"messages":[]}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let req = only_request(&env.anthropic).await;
    assert_eq!(
        req.header("x-api-key").as_deref(),
        Some("sk-ant-api03-AAAA")
    );
    assert_eq!(
        req.header("authorization").as_deref(),
        Some("Bearer sk-ant-oat01-BBBB")
    );
    assert_eq!(req.header("anthropic-beta").as_deref(), Some("b2,b1"));
    assert_eq!(
        req.header("user-agent").as_deref(),
        Some("claude-cli/2.0 (external, cli)")
    );
    assert_eq!(req.header("host"), Some(env.anthropic.addr().to_string()));
}

#[tokio::test]
async fn internal_and_hop_by_hop_headers_are_not_forwarded() {
    let env = Env::new().await;
    env.anthropic.push(
        Reply::json(200, serde_json::json!({"ok": true}))
            .with_header("connection", "x-resp-hop")
            .with_header("x-resp-hop", "1")
            .with_header("keep-alive", "timeout=5")
            .with_header("request-id", "req_123"),
    );
    let r = post(
        &env.url("/v1/messages"),
        &[
            ("x-api-key", "k"),
            ("x-headroom-bypass", "true"),
            ("x-headroom-session-id", "s1"),
            ("X-Headroom-Tag-Team", "core"),
            ("connection", "keep-alive, x-custom-hop"),
            ("x-custom-hop", "secret"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("proxy-authorization", "Basic abc"),
            ("x-end-to-end", "kept"),
        ],
        "{}",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let req = only_request(&env.anthropic).await;
    for name in req.headers.keys() {
        let n = name.as_str();
        assert!(!n.starts_with("x-headroom-"), "leaked {n}");
        assert!(
            ![
                "x-custom-hop",
                "keep-alive",
                "te",
                "proxy-authorization",
                "transfer-encoding"
            ]
            .contains(&n),
            "leaked hop-by-hop {n}"
        );
    }
    assert_eq!(req.header("x-end-to-end").as_deref(), Some("kept"));
    assert!(r.header("x-resp-hop").is_none());
    assert!(r.header("keep-alive").is_none());
    assert_eq!(r.header("request-id").as_deref(), Some("req_123"));
}

#[tokio::test]
async fn bodies_are_forwarded_byte_for_byte() {
    let env = Env::new().await;
    let bodies: [&[u8]; 5] = [
        b"{ \"z\":1,\n\t\"a\" :  [1.50, 2e10, -0.0],  \"m\":\"\\u00e9\\ud83d\\ude00\"  }\n",
        "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\u{e9} \u{1f600}\"}],\"max_tokens\":1}".as_bytes(),
        b"{\"model\": \"x\", \"messages\": [ broken",
        b"",
        b"\xff\xfe not utf8 \x00",
    ];
    for (i, body) in bodies.iter().enumerate() {
        let r = post(
            &env.url("/v1/messages"),
            &[("x-api-key", "k")],
            body.to_vec(),
        )
        .await
        .unwrap();
        assert!(r.status == 200 || r.status == 400, "body {i}: {}", r.status);
        let req = env.anthropic.last_request().unwrap();
        assert_eq!(req.body, *body, "body {i} was altered");
    }
    // The mock rejects malformed JSON with a 400; the proxy relays that verbatim.
    let r = post(&env.url("/v1/chat/completions"), &[], b"{not json".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["message"], "mock: body is not valid JSON");
    assert_eq!(env.openai.last_request().unwrap().body, b"{not json");
}

#[tokio::test]
async fn bypass_and_no_optimize_forward_large_bodies_unchanged() {
    // A request with a big, repetitive tool output: the compressor may rewrite it when enabled,
    // but bypass and --no-optimize must forward it exactly.
    let lines: Vec<String> = (0..400)
        .map(|i| format!("line {i}: INFO all good here, nothing to see"))
        .collect();
    let body = serde_json::json!({
        "model": "claude",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "run it"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "make"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": lines.join("\n")}]}
        ]
    })
    .to_string();

    let env = Env::new().await;
    let r = post(
        &env.url("/v1/messages"),
        &[("x-api-key", "k"), ("x-headroom-bypass", "true")],
        body.clone(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(env.anthropic.last_request().unwrap().body, body.as_bytes());
    assert!(
        r.header("x-headroom-tokens-before").is_none(),
        "bypass must skip compression"
    );

    let env = Env::with(|c| c.optimize = false).await;
    let r = post(
        &env.url("/v1/messages"),
        &[("x-api-key", "k")],
        body.clone(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(env.anthropic.last_request().unwrap().body, body.as_bytes());
    assert!(r.header("x-headroom-tokens-before").is_none());
}

#[tokio::test]
async fn compression_hook_reports_tokens_and_keeps_content_length_consistent() {
    let env = Env::new().await;
    let body =
        r#"{"model":"claude","max_tokens":1,"messages":[{"role":"user","content":"hello"}]}"#;
    let r = post(&env.url("/v1/messages"), &[("x-api-key", "k")], body)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let before: u64 = r
        .header("x-headroom-tokens-before")
        .unwrap()
        .parse()
        .unwrap();
    let after: u64 = r
        .header("x-headroom-tokens-after")
        .unwrap()
        .parse()
        .unwrap();
    let saved: u64 = r
        .header("x-headroom-tokens-saved")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(before - after, saved);
    let req = env.anthropic.last_request().unwrap();
    if let Some(len) = req.header("content-length") {
        assert_eq!(len.parse::<usize>().unwrap(), req.body.len());
    }
    let stats = env.proxy.stats();
    assert_eq!(stats.anthropic.tokens_before, before);
    assert_eq!(stats.anthropic.tokens_after, after);
}

#[tokio::test]
async fn websocket_upgrade_is_relayed_both_ways() {
    // Off the Responses paths an upgrade is an opaque byte relay (the mock echoes bytes there);
    // `tests/websocket.rs` covers the Responses WebSocket, whose frames the proxy reads.
    let env = Env::new().await;
    let mut s = tokio::net::TcpStream::connect(env.proxy.local_addr())
        .await
        .unwrap();
    let req = format!(
        "GET /v1/realtime HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Bearer sk-proj-ws\r\nx-headroom-session-id: s\r\n\r\n",
        env.proxy.local_addr()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            n,
            1,
            "connection closed during the handshake: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    s.write_all(b"frame-one\x00\x01").await.unwrap();
    let mut echo = [0u8; 11];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut echo))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echo, b"frame-one\x00\x01");

    let req = only_request(&env.openai).await;
    assert_eq!(req.path, "/v1/realtime");
    assert_eq!(req.header("upgrade").as_deref(), Some("websocket"));
    assert_eq!(
        req.header("sec-websocket-key").as_deref(),
        Some("dGhlIHNhbXBsZSBub25jZQ==")
    );
    assert!(req.header("x-headroom-session-id").is_none());
}
