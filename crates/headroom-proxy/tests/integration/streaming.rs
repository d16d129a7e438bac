//! Streaming: chunk-by-chunk relay, cancellation, mid-stream failures.

use std::time::{Duration, Instant};

use headroom_testkit::client;
use headroom_testkit::{Reply, StreamOutcome};

use crate::common::Env;

const STREAM_BODY: &str = r#"{"model":"claude","stream":true,"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;

#[tokio::test]
async fn first_event_reaches_the_client_before_the_upstream_finishes() {
    let env = Env::new().await;
    // message_start immediately, then a long pause before the rest.
    env.anthropic.push(
        Reply::anthropic_sse("one two three", Duration::from_millis(5))
            .with_chunk_delay(1, Duration::from_millis(2500)),
    );
    let started = Instant::now();
    let mut resp = client::open(
        "POST",
        &env.url("/v1/messages"),
        &[("x-api-key", "k")],
        STREAM_BODY,
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 200);
    assert!(resp.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let first = resp.next_chunk().await.unwrap().unwrap();
    let elapsed = started.elapsed();
    assert!(
        String::from_utf8_lossy(&first).starts_with("event: message_start\n"),
        "{first:?}"
    );
    assert!(
        elapsed < Duration::from_millis(1000),
        "first event took {elapsed:?}"
    );
    assert_eq!(
        env.anthropic.streams()[0],
        StreamOutcome::Running,
        "upstream already finished"
    );

    let (rest, clean) = resp.read_to_end().await;
    assert!(clean);
    let rest = String::from_utf8(rest).unwrap();
    assert!(
        rest.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        "{rest}"
    );
    assert_eq!(
        env.anthropic
            .wait_for_stream_end(0, Duration::from_secs(5))
            .await,
        StreamOutcome::Completed
    );
}

#[tokio::test]
async fn openai_stream_is_relayed_verbatim() {
    let env = Env::new().await;
    let r = client::post(
        &env.url("/v1/chat/completions"),
        &[("authorization", "Bearer sk-1")],
        r#"{"model":"gpt","stream":true,"messages":[]}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(text.starts_with("data: {"), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert_eq!(text.matches("chat.completion.chunk").count(), 7, "{text}");
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_stream() {
    let env = Env::new().await;
    let chunks: Vec<String> = (0..200)
        .map(|i| format!("data: {{\"n\":{i}}}\n\n"))
        .collect();
    env.openai
        .push(Reply::sse(chunks, Duration::from_millis(25)));
    let mut resp = client::open(
        "POST",
        &env.url("/v1/chat/completions"),
        &[("content-type", "application/json")],
        r#"{"stream":true}"#,
    )
    .await
    .unwrap();
    let first = resp.next_chunk().await.unwrap().unwrap();
    assert_eq!(&first[..], b"data: {\"n\":0}\n\n");
    drop(resp);
    let outcome = env
        .openai
        .wait_for_stream_end(0, Duration::from_secs(4))
        .await;
    assert_eq!(
        outcome,
        StreamOutcome::Cancelled,
        "upstream kept streaming after the client left"
    );
}

#[tokio::test]
async fn client_disconnect_cancels_a_silent_upstream_stream() {
    // The upstream sends one event and then nothing: the proxy must still notice the client
    // leaving and drop the upstream connection.
    let env = Env::new().await;
    env.anthropic
        .push(Reply::sse(vec!["event: ping\ndata: {}\n\n".into()], Duration::ZERO).then_hang());
    let mut resp = client::open("POST", &env.url("/v1/messages"), &[], STREAM_BODY)
        .await
        .unwrap();
    resp.next_chunk().await.unwrap().unwrap();
    drop(resp);
    let outcome = env
        .anthropic
        .wait_for_stream_end(0, Duration::from_secs(4))
        .await;
    assert_eq!(outcome, StreamOutcome::Cancelled);
}

#[tokio::test]
async fn mid_stream_failure_becomes_an_anthropic_error_event() {
    let env = Env::new().await;
    env.anthropic
        .push(Reply::anthropic_sse("a b c d", Duration::from_millis(2)).close_after(3));
    let mut resp = client::open("POST", &env.url("/v1/messages"), &[], STREAM_BODY)
        .await
        .unwrap();
    let (body, clean) = resp.read_to_end().await;
    assert!(
        clean,
        "the proxy should end the SSE stream cleanly after the error event"
    );
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with("event: message_start\n"), "{text}");
    assert!(text.contains("event: ping\n"), "{text}");
    let (_, tail) = text
        .rsplit_once("event: error\ndata: ")
        .expect("error event");
    let payload: serde_json::Value = serde_json::from_str(tail.trim_end()).unwrap();
    assert_eq!(payload["type"], "error");
    assert_eq!(payload["error"]["type"], "api_error");
    assert!(payload["error"]["message"]
        .as_str()
        .unwrap()
        .contains("interrupted"));
    assert_eq!(env.proxy.stats().anthropic.errors, 1);
}

#[tokio::test]
async fn mid_stream_failure_becomes_an_openai_error_event() {
    let env = Env::new().await;
    env.openai
        .push(Reply::openai_responses_sse("x y z", Duration::from_millis(2)).close_after(2));
    let mut resp = client::open(
        "POST",
        &env.url("/v1/responses"),
        &[("authorization", "Bearer sk-1")],
        r#"{"stream":true,"input":"hi"}"#,
    )
    .await
    .unwrap();
    let (body, clean) = resp.read_to_end().await;
    assert!(clean);
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with("event: response.created\n"), "{text}");
    let (_, tail) = text
        .rsplit_once("event: error\ndata: ")
        .expect("error event");
    let payload: serde_json::Value = serde_json::from_str(tail.trim_end()).unwrap();
    assert_eq!(payload["error"]["type"], "server_error");
    assert!(payload["error"]["message"].is_string());
}

#[tokio::test]
async fn non_sse_mid_stream_failure_is_not_reported_as_complete() {
    let env = Env::new().await;
    let mut reply = Reply::sse(
        vec!["part-1 ".into(), "part-2".into()],
        Duration::from_millis(2),
    )
    .close_after(1);
    reply.headers = vec![("content-type".into(), "application/octet-stream".into())];
    env.openai.push(reply);
    let mut resp = client::open("GET", &env.url("/v1/files/f/content"), &[], "")
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    let (body, clean) = resp.read_to_end().await;
    assert!(!clean, "a truncated body must not end cleanly");
    assert_eq!(body, b"part-1 ");
}

#[tokio::test]
async fn upstream_error_status_and_body_are_relayed_verbatim() {
    let env = Env::new().await;
    let body = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    env.anthropic
        .push(Reply::bytes(529, "application/json", body).with_header("retry-after", "3"));
    let r = client::post(&env.url("/v1/messages"), &[], STREAM_BODY)
        .await
        .unwrap();
    assert_eq!(r.status, 529);
    assert_eq!(r.text(), body);
    assert_eq!(r.header("retry-after").as_deref(), Some("3"));
    assert_eq!(env.anthropic.requests().len(), 1, "no retries");
    assert_eq!(env.proxy.stats().anthropic.upstream_5xx, 1);
}
