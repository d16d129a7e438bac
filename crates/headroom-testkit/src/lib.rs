//! Shared test harness for every Headroom test and benchmark.
//!
//! * [`MockUpstream`] — a loopback mock of the Anthropic Messages, OpenAI Chat Completions and
//!   Responses APIs (JSON and real SSE sequences) that records every request byte for byte and
//!   can be scripted per request ([`Reply`]): status, headers, body, delays between chunks,
//!   hang, close mid-stream. It reports whether a streamed reply was cancelled by the client.
//! * [`cache`] — Anthropic's prompt cache as a cost model (reads ×0.1, writes ×1.25).
//! * [`client`] — a minimal HTTP/1.1 client (one fresh connection per request) for talking to
//!   the proxy or the mock, including streamed reads and raw-bytes requests.
//! * [`free_port`] and [`FakeHome`] — a currently-free loopback port and a temp `HOME` with
//!   XDG dirs, applied to child processes (never to the test process: `set_var` races).
//!
//! ```no_run
//! # async fn demo() {
//! use headroom_testkit::{MockUpstream, Reply};
//! let mock = MockUpstream::start().await;
//! mock.push(Reply::json(429, serde_json::json!({"error": "slow down"})));
//! // ... point the proxy at mock.url(), send requests ...
//! assert_eq!(mock.requests()[0].path, "/v1/messages");
//! # }
//! ```

pub mod cache;
pub mod client;
mod home;
mod mock;

pub use home::FakeHome;
pub use mock::{MockUpstream, Recorded, Reply, ReplyBody, StreamEnd, StreamOutcome};

/// A loopback port that was free a moment ago (bind to port 0, read it, release it).
/// Prefer binding port 0 directly where the code under test allows it.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("bound socket has no address: {e}"))
        .port()
}

/// Poll `check` every 10 ms until it returns true or `timeout` elapses; returns the last result.
pub async fn wait_until(timeout: std::time::Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
