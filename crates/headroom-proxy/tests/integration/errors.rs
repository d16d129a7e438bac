//! Upstream failures become provider-shaped errors that coding tools can display.

use std::time::{Duration, Instant};

use headroom_testkit::client::post;
use headroom_testkit::Reply;

use crate::common::{dead_url, Env};

#[tokio::test]
async fn unreachable_upstream_gives_502_in_each_providers_shape() {
    let env = Env::with(|c| {
        c.anthropic_url = dead_url();
        c.openai_url = dead_url();
    })
    .await;

    let r = post(
        &env.url("/v1/messages"),
        &[("x-api-key", "sk-ant-secret-key")],
        r#"{"stream":true}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 502);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let v = r.json();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "api_error");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("could not reach"), "{msg}");
    assert!(!msg.contains("sk-ant-secret-key"));

    let r = post(
        &env.url("/v1/chat/completions"),
        &[("authorization", "Bearer sk-x")],
        "{}",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 502);
    let v = r.json();
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("could not reach"));
    assert_eq!(v["error"]["type"], "server_error");
    assert_eq!(v["error"]["code"], "upstream_unreachable");
    assert!(v.get("type").is_none());

    let stats = env.proxy.stats();
    assert_eq!((stats.anthropic.errors, stats.openai.errors), (1, 1));
}

#[tokio::test]
async fn silent_upstream_gives_504_in_each_providers_shape() {
    let env = Env::with(|c| c.response_timeout = Duration::from_millis(300)).await;
    env.anthropic.push(Reply::hang());
    env.openai.push(Reply::hang());

    let started = Instant::now();
    let r = post(&env.url("/v1/messages"), &[], "{}").await.unwrap();
    assert_eq!(r.status, 504);
    assert!(started.elapsed() < Duration::from_secs(3));
    let v = r.json();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "api_error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("timed out"));

    let r = post(&env.url("/v1/responses"), &[], "{}").await.unwrap();
    assert_eq!(r.status, 504);
    let v = r.json();
    assert_eq!(v["error"]["code"], "upstream_timeout");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("timed out"));
}

#[tokio::test]
async fn oversized_bodies_get_413_without_reaching_the_upstream() {
    let env = Env::with(|c| c.max_body_bytes = 1024).await;
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(4096));
    let r = post(&env.url("/v1/messages"), &[], big.clone())
        .await
        .unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"]["type"], "request_too_large");
    assert!(env.anthropic.requests().is_empty());
    // Passthrough routes are streamed, never buffered, so the limit does not apply.
    let r = post(&env.url("/v1/messages/count_tokens"), &[], big.clone())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(env.anthropic.last_request().unwrap().body, big.as_bytes());
}

#[tokio::test]
async fn an_oversized_declared_length_is_refused_before_the_body_is_sent() {
    let env = Env::new().await;
    // Headers only: a proxy that waited for (or read) the body would never answer.
    let head = b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\ncontent-type: application/json\r\nContent-Length: 600000000\r\n\r\n";
    let answer = headroom_testkit::client::raw(
        env.proxy.local_addr(),
        head,
        std::time::Duration::from_secs(5),
    )
    .await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    assert!(env.anthropic.requests().is_empty());
}

#[tokio::test]
async fn https_upstreams_use_tls_and_fail_cleanly_when_the_handshake_fails() {
    // The mock speaks plain HTTP, so a TLS handshake against it must fail: this proves the
    // https:// path goes through rustls (and turns a handshake failure into a 502, not a panic).
    let env = Env::new().await;
    let tls_url = format!("https://{}", env.anthropic.addr());
    let env2 = Env::with(|c| c.anthropic_url = tls_url).await;
    let r = post(&env2.url("/v1/messages"), &[("x-api-key", "k")], "{}")
        .await
        .unwrap();
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.json()["type"], "error");
    // The plain-HTTP mock saw at most a garbled TLS hello, never a parsed HTTP request.
    assert!(env.anthropic.requests().is_empty());
}

#[tokio::test]
async fn a_body_that_stops_arriving_gets_408() {
    let env = Env::with(|c| c.body_read_timeout = std::time::Duration::from_millis(300)).await;
    // 100 bytes announced, 10 sent, then silence.
    let head = b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\ncontent-type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":";
    let started = std::time::Instant::now();
    let answer = headroom_testkit::client::raw(
        env.proxy.local_addr(),
        head,
        std::time::Duration::from_secs(5),
    )
    .await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("invalid_request_error"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    assert!(env.anthropic.requests().is_empty());
}

/// A compressible request: a long JSON listing as a tool output.
fn compressible(rows: usize) -> String {
    let listing: Vec<serde_json::Value> = (0..rows)
        .map(|i| serde_json::json!({"id": i, "name": format!("item-{i}"), "status": "ok", "size": i * 17}))
        .collect();
    serde_json::json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "messages": [
            {"role": "user", "content": "list"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": serde_json::to_string_pretty(&listing).unwrap()}]}
        ]
    })
    .to_string()
}

#[tokio::test]
async fn bodies_beyond_the_memory_budget_are_forwarded_uncompressed_not_refused() {
    let env = Env::with(|c| c.body_budget_bytes = 20_000).await;
    let small = compressible(40);
    let big = compressible(2_000);
    assert!(small.len() < 20_000 && big.len() > 20_000);

    // Within the budget: compressed as usual.
    let r = post(
        &env.url("/v1/messages"),
        &[("x-api-key", "k")],
        small.clone(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(env.anthropic.last_request().unwrap().body.len() < small.len());

    // Declared length beyond the budget: streamed through byte for byte.
    let r = post(&env.url("/v1/messages"), &[("x-api-key", "k")], big.clone())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(env.anthropic.last_request().unwrap().body, big.as_bytes());

    // Chunked, so the budget runs out part-way: what was read and the rest, in order.
    let mut raw = b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_vec();
    for chunk in big.as_bytes().chunks(4096) {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let answer =
        headroom_testkit::client::raw(env.proxy.local_addr(), &raw, Duration::from_secs(10)).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    assert_eq!(env.anthropic.last_request().unwrap().body, big.as_bytes());
}

#[tokio::test]
async fn connections_over_the_cap_get_503_and_service_resumes() {
    let env = Env::with(|c| c.max_connections = 20).await;
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(
            tokio::net::TcpStream::connect(env.proxy.local_addr())
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let answer = headroom_testkit::client::raw(
        env.proxy.local_addr(),
        b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("retry-after: 1"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(1));
    drop(idle);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = headroom_testkit::client::get(&env.url("/livez"))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}
