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
