//! Start-up and shutdown: port conflicts, draining in-flight streams, hard deadline.

use std::time::{Duration, Instant};

use headroom_proxy::{Config, Error};
use headroom_testkit::client;
use headroom_testkit::{Reply, StreamOutcome};

use crate::common::Env;

#[tokio::test]
async fn port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = headroom_proxy::start(Config {
        port,
        ..Config::default()
    })
    .await
    .expect_err("second bind must fail");
    assert!(
        matches!(err, Error::AddrInUse { port: p, .. } if p == port),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("port {port} is already in use on 127.0.0.1")
    );
}

#[tokio::test]
async fn invalid_upstream_url_is_rejected_before_binding() {
    let err = headroom_proxy::start(Config {
        port: 0,
        anthropic_url: "api.anthropic.com".into(),
        ..Config::default()
    })
    .await
    .expect_err("a URL without scheme is rejected");
    assert!(matches!(err, Error::InvalidConfig(_)), "{err:?}");
}

#[tokio::test]
async fn graceful_shutdown_drains_an_in_flight_stream() {
    let env = Env::new().await;
    env.anthropic.push(Reply::anthropic_sse(
        "a b c d e f",
        Duration::from_millis(60),
    ));
    let mut resp = client::open(
        "POST",
        &env.url("/v1/messages"),
        &[],
        r#"{"stream":true,"messages":[]}"#,
    )
    .await
    .unwrap();
    let first = resp.next_chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"event: message_start"));

    let addr = env.proxy.local_addr();
    env.proxy.begin_shutdown(Duration::from_secs(10));
    // New connections are refused once the listener is closed...
    let refused = headroom_testkit::wait_until(Duration::from_secs(2), || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err()
    })
    .await;
    assert!(
        refused,
        "proxy still accepts connections after shutdown began"
    );
    assert!(!env.proxy.is_stopped());

    // ...but the stream already in flight finishes completely.
    let (rest, clean) = resp.read_to_end().await;
    assert!(clean);
    assert!(String::from_utf8_lossy(&rest)
        .ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
    tokio::time::timeout(Duration::from_secs(5), env.proxy.wait())
        .await
        .expect("proxy stops after draining");
    assert!(env.proxy.is_stopped());
}

#[tokio::test]
async fn shutdown_deadline_closes_streams_that_never_end() {
    let env = Env::new().await;
    env.openai
        .push(Reply::sse(vec!["data: {}\n\n".into()], Duration::ZERO).then_hang());
    let mut resp = client::open(
        "POST",
        &env.url("/v1/chat/completions"),
        &[],
        r#"{"stream":true}"#,
    )
    .await
    .unwrap();
    resp.next_chunk().await.unwrap().unwrap();
    let started = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(5),
        env.proxy.shutdown(Duration::from_millis(200)),
    )
    .await
    .expect("shutdown honours its deadline");
    assert!(started.elapsed() >= Duration::from_millis(190));
    let (_, clean) = tokio::time::timeout(Duration::from_secs(5), resp.read_to_end())
        .await
        .unwrap();
    assert!(!clean, "an aborted stream must not look complete");
    assert_eq!(
        env.openai
            .wait_for_stream_end(0, Duration::from_secs(4))
            .await,
        StreamOutcome::Cancelled
    );
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let env = Env::new().await;
    let addr = env.proxy.local_addr();
    assert_eq!(client::get(&env.url("/livez")).await.unwrap().status, 200);
    drop(env);
    let closed = headroom_testkit::wait_until(Duration::from_secs(3), || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err()
    })
    .await;
    assert!(closed);
}
