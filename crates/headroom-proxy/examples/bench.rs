//! Proxy runtime benchmark: direct-to-mock vs through the release `headroom proxy` binary, in
//! one run on one machine.
//!
//! ```text
//! cargo build --release -p headroom-cli
//! cargo run --release -p headroom-proxy --example bench            # full run (~40 s)
//! cargo run --release -p headroom-proxy --example bench -- --quick  # smoke run (~10 s)
//! ```
//!
//! The mock upstream (headroom-testkit) and the load generator run in this process; the proxy
//! runs as a separate process (`HEADROOM_BIN`, default `target/release/headroom`) so its RSS and
//! start-up are measured exactly as users run it. Latency numbers use one keep-alive
//! connection and sequential requests; throughput uses 32 keep-alive connections.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

const SMALL_BODY: &str = r#"{"model":"claude-mock","max_tokens":16,"messages":[{"role":"user","content":"Say hello."}]}"#;
const STREAM_BODY: &str = r#"{"model":"claude-mock","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"Say hello."}]}"#;

struct Settings {
    latency_requests: usize,
    ttfb_requests: usize,
    throughput_secs: u64,
    launches: usize,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let quick = std::env::args().any(|a| a == "--quick");
    let settings = if quick {
        Settings {
            latency_requests: 300,
            ttfb_requests: 100,
            throughput_secs: 1,
            launches: 3,
        }
    } else {
        Settings {
            latency_requests: 3000,
            ttfb_requests: 500,
            throughput_secs: 4,
            launches: 15,
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(settings))
}

fn headroom_bin() -> Result<PathBuf, BoxError> {
    let path = match std::env::var_os("HEADROOM_BIN") {
        Some(p) => PathBuf::from(p),
        None => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("target"));
            target.join("release").join(if cfg!(windows) {
                "headroom.exe"
            } else {
                "headroom"
            })
        }
    };
    if !path.exists() {
        return Err(format!(
            "{} not found: run `cargo build --release -p headroom-cli` first (or set HEADROOM_BIN)",
            path.display()
        )
        .into());
    }
    Ok(path)
}

struct ProxyProcess {
    child: Child,
    port: u16,
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawn the proxy and return it with the spawn-to-ready time (first 200 from `/readyz`).
async fn launch(
    bin: &PathBuf,
    upstream: &str,
    extra: &[&str],
) -> Result<(ProxyProcess, Duration), BoxError> {
    let port = headroom_testkit::free_port();
    let started = Instant::now();
    let child = Command::new(bin)
        .args(["proxy", "--port", &port.to_string()])
        .args([
            "--anthropic-api-url",
            upstream,
            "--openai-api-url",
            upstream,
        ])
        .args(extra)
        .args(extra_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let proc = ProxyProcess { child, port };
    let url = format!("http://127.0.0.1:{port}/readyz");
    loop {
        if let Ok(r) = headroom_testkit::client::get(&url).await {
            if r.status == 200 {
                return Ok((proc, started.elapsed()));
            }
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err("proxy did not become ready within 10 s".into());
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// Extra `headroom proxy` flags from `HEADROOM_BENCH_PROXY_ARGS` (space-separated), for
/// comparing configurations; the proxy also inherits `HEADROOM_LOG`, `HEADROOM_WORKER_THREADS`.
fn extra_args() -> Vec<String> {
    std::env::var("HEADROOM_BENCH_PROXY_ARGS")
        .map(|v| v.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn connect(addr: &str) -> Result<SendRequest<Full<Bytes>>, BoxError> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

fn request(addr: &str, body: &'static str) -> http::Request<Full<Bytes>> {
    http::Request::builder()
        .method("POST")
        .uri("/v1/messages")
        .header("host", addr)
        .header("content-type", "application/json")
        .header("x-api-key", "sk-ant-bench")
        .header("anthropic-version", "2023-06-01")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap_or_else(|e| panic!("static request is valid: {e}"))
}

/// Sequential small requests on one keep-alive connection; returns sorted latencies.
async fn latencies(addr: &str, n: usize) -> Result<Vec<Duration>, BoxError> {
    let mut sender = connect(addr).await?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        sender.ready().await?;
        let t = Instant::now();
        let resp = sender.send_request(request(addr, SMALL_BODY)).await?;
        let status = resp.status();
        resp.into_body().collect().await?;
        let dt = t.elapsed();
        if status != 200 {
            return Err(format!("unexpected status {status}").into());
        }
        if i >= n / 10 {
            out.push(dt); // the first 10% warm up pools and caches
        }
    }
    out.sort();
    Ok(out)
}

/// Streaming requests: time from sending to the first body chunk.
async fn ttfb(addr: &str, n: usize) -> Result<Vec<Duration>, BoxError> {
    let mut sender = connect(addr).await?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        sender.ready().await?;
        let t = Instant::now();
        let resp = sender.send_request(request(addr, STREAM_BODY)).await?;
        let mut body = resp.into_body();
        let mut first = None;
        while let Some(frame) = body.frame().await {
            let frame = frame?;
            if frame.is_data() && first.is_none() {
                first = Some(t.elapsed());
            }
        }
        if i >= n / 10 {
            out.push(first.ok_or("stream had no body")?);
        }
    }
    out.sort();
    Ok(out)
}

/// Requests per second with `conns` keep-alive connections for `secs` seconds.
async fn throughput(addr: &str, conns: usize, secs: u64) -> Result<f64, BoxError> {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let mut sender = connect(addr).await?;
        let (stop, done, addr) = (stop.clone(), done.clone(), addr.to_owned());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if sender.ready().await.is_err() {
                    break;
                }
                match sender.send_request(request(&addr, SMALL_BODY)).await {
                    Ok(resp) => {
                        if resp.into_body().collect().await.is_ok() {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => break,
                }
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let count = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    Ok(count as f64 / elapsed)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

async fn run(s: Settings) -> Result<(), BoxError> {
    let bin = headroom_bin()?;
    let mock = headroom_testkit::MockUpstream::start().await;
    let direct = mock.addr().to_string();

    // Launch-to-ready, several times; keep the last process for the rest of the run.
    let mut ready_times = Vec::new();
    let mut proxy = None;
    for _ in 0..s.launches {
        let (p, t) = launch(&bin, &mock.url(), &[]).await?;
        ready_times.push(t);
        proxy = Some(p);
    }
    ready_times.sort();
    let proxy = proxy.ok_or("no launch")?;
    let pid = proxy.child.id();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_idle = rss_kib(pid);
    let via = format!("127.0.0.1:{}", proxy.port);

    // 1,000 requests (non-streaming and streaming mixed) before the second RSS reading.
    latencies(&via, 500).await?;
    ttfb(&via, 500).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_1000 = rss_kib(pid);

    let lat_direct = latencies(&direct, s.latency_requests).await?;
    let lat_proxy = latencies(&via, s.latency_requests).await?;
    let ttfb_direct = ttfb(&direct, s.ttfb_requests).await?;
    let ttfb_proxy = ttfb(&via, s.ttfb_requests).await?;
    let tp_direct = throughput(&direct, 32, s.throughput_secs).await?;
    let tp_proxy = throughput(&via, 32, s.throughput_secs).await?;
    let rss_end = rss_kib(pid);
    drop(proxy);
    let size = std::fs::metadata(&bin)?.len();

    // The same RSS readings with compression off, to separate the runtime from the compressor.
    let no_opt: &[&str] = if extra_args().iter().any(|a| a == "--no-optimize") {
        &[]
    } else {
        &["--no-optimize"]
    };
    let (plain, _) = launch(&bin, &mock.url(), no_opt).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let plain_idle = rss_kib(plain.child.id());
    let plain_via = format!("127.0.0.1:{}", plain.port);
    latencies(&plain_via, 500).await?;
    ttfb(&plain_via, 500).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let plain_1000 = rss_kib(plain.child.id());
    drop(plain);

    let kib = |v: Option<u64>| {
        v.map_or("n/a".to_owned(), |k| {
            format!("{:.1} MiB", k as f64 / 1024.0)
        })
    };
    println!(
        "headroom proxy benchmark ({} CPUs, binary {})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        bin.display()
    );
    println!();
    println!("| metric | direct | via proxy | overhead | target |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, d: Duration, p: Duration, target: &str| {
        println!(
            "| {name} | {} | {} | +{:.3} ms | {target} |",
            ms(d),
            ms(p),
            (p.as_secs_f64() - d.as_secs_f64()) * 1000.0
        );
    };
    row(
        "latency p50 (small JSON)",
        pct(&lat_direct, 0.5),
        pct(&lat_proxy, 0.5),
        "≤ +0.2 ms",
    );
    row(
        "latency p99 (small JSON)",
        pct(&lat_direct, 0.99),
        pct(&lat_proxy, 0.99),
        "≤ +1 ms",
    );
    row(
        "streaming TTFB p50",
        pct(&ttfb_direct, 0.5),
        pct(&ttfb_proxy, 0.5),
        "≤ +0.3 ms",
    );
    row(
        "streaming TTFB p99",
        pct(&ttfb_direct, 0.99),
        pct(&ttfb_proxy, 0.99),
        "—",
    );
    println!(
        "| throughput, 32 connections | {:.0} req/s | {:.0} req/s | {:.0}% of direct | ≥ 50% |",
        tp_direct,
        tp_proxy,
        tp_proxy * 100.0 / tp_direct.max(1.0)
    );
    println!();
    println!("| metric | value | target |");
    println!("|---|---|---|");
    println!(
        "| launch → /readyz 200 (median of {}) | {} | ≤ 20 ms |",
        ready_times.len(),
        ms(pct(&ready_times, 0.5))
    );
    println!(
        "| launch → /readyz 200 (max) | {} | — |",
        ms(pct(&ready_times, 1.0))
    );
    println!("| RSS idle | {} | ≤ 15 MiB |", kib(rss_idle));
    println!(
        "| RSS after 1,000 requests | {} | ≤ 20 MiB |",
        kib(rss_1000)
    );
    println!("| RSS at the end of the run | {} | — |", kib(rss_end));
    println!(
        "| RSS idle, --no-optimize | {} | ≤ 15 MiB |",
        kib(plain_idle)
    );
    println!(
        "| RSS after 1,000 requests, --no-optimize | {} | ≤ 20 MiB |",
        kib(plain_1000)
    );
    println!(
        "| release binary size | {:.1} MB | ≤ 15 MB |",
        size as f64 / 1_000_000.0
    );
    Ok(())
}
