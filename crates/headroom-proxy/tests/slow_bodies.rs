//! A body trickled one byte at a time must cost the proxy the body's size, not a read buffer
//! per byte. Its own test binary: it measures this process's resident memory, which other
//! tests running alongside would disturb.

#![cfg(target_os = "linux")]

use std::time::Duration;

use headroom_proxy::Config;
use headroom_testkit::MockUpstream;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const CONNECTIONS: usize = 100;
const BODY: usize = 3_000;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_bodies_cost_their_size() {
    let upstream = MockUpstream::start().await;
    let proxy = headroom_proxy::start(Config {
        port: 0,
        anthropic_url: upstream.url(),
        ..Config::default()
    })
    .await
    .unwrap();
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\ncontent-type: application/json\r\nContent-Length: {BODY}\r\n\r\n"
    );
    let mut conns = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut s = TcpStream::connect(proxy.local_addr()).await.unwrap();
        s.set_nodelay(true).unwrap();
        s.write_all(head.as_bytes()).await.unwrap();
        conns.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = rss_bytes();
    // All but the last byte, one byte per write, with a pause so each arrives on its own.
    for _ in 0..BODY - 1 {
        for s in &mut conns {
            s.write_all(b" ").await.unwrap();
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let grown = rss_bytes().saturating_sub(before);
    let mib = grown as f64 / (1024.0 * 1024.0);
    eprintln!("{CONNECTIONS} bodies of {BODY} bytes, one byte per write: +{mib:.1} MiB");
    // The bodies themselves are 300 KB; before, each one-byte frame pinned ~4 KB (60
    // connections grew the proxy by 694 MiB).
    assert!(mib < 20.0, "the proxy grew by {mib:.1} MiB");
    drop(conns);
    proxy.shutdown(Duration::from_secs(5)).await;
}
