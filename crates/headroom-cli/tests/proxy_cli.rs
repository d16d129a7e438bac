//! The real `headroom` binary: `proxy` serves, refuses a taken port, stops on SIGTERM; `health`
//! exit codes; the savings ledger as `headroom stats` shows it (parsed with the same
//! `headroom-protocol` types every consumer uses), across restarts and two proxies.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use headroom_protocol::{History, Stats};
use headroom_testkit::{client, free_port, FakeHome, MockUpstream};

const BIN: &str = env!("CARGO_BIN_EXE_headroom");

/// A `headroom` child process with a fake home and no inherited Headroom env.
fn headroom(home: &FakeHome) -> Command {
    clean(Command::new(BIN), home)
}

/// `cmd` with a fake home and no inherited Headroom env.
fn clean(mut cmd: Command, home: &FakeHome) -> Command {
    home.apply(&mut cmd);
    for var in [
        "HEADROOM_PORT",
        "HEADROOM_HOST",
        "HEADROOM_MODE",
        "HEADROOM_EXACT_TOKENS",
        "ANTHROPIC_TARGET_API_URL",
        "OPENAI_TARGET_API_URL",
        "HEADROOM_LOG",
        "RUST_LOG",
        "HEADROOM_WORKSPACE_DIR",
        "HEADROOM_LEDGER",
    ] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Kills the child if a test fails half-way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    #[cfg(unix)]
    fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "headroom did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[cfg(unix)]
    fn stderr(&mut self) -> String {
        use std::io::Read;
        let mut s = String::new();
        if let Some(mut e) = self.0.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

async fn wait_live(port: u16) {
    let url = format!("http://127.0.0.1:{port}/livez");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(r) = client::get(&url).await {
            assert_eq!(r.status, 200);
            assert_eq!(r.json()["service"], "headroom-proxy");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "proxy on port {port} never became live"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(unix)]
fn sigterm(child: &Child) {
    signal(child, "-TERM");
}

#[cfg(unix)]
fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[cfg(unix)]
#[tokio::test]
async fn proxy_serves_forwards_and_stops_cleanly_on_sigterm() {
    let home = FakeHome::new();
    let mock = MockUpstream::start().await;
    let port = free_port();
    let mut proxy = Running(
        headroom(&home)
            .args([
                "proxy",
                "--port",
                &port.to_string(),
                "--anthropic-api-url",
                &mock.url(),
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    wait_live(port).await;

    let r = client::post(
        &format!("http://127.0.0.1:{port}/v1/messages"),
        &[("x-api-key", "sk-ant-api03-cli-test-secret")],
        r#"{"model":"m","messages":[]}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(mock.requests().len(), 1);

    sigterm(&proxy.0);
    let status = proxy.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "SIGTERM must exit 0");
    let stderr = proxy.stderr();
    assert!(
        stderr.contains(&format!("listening on http://127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("POST /v1/messages"),
        "one line per request: {stderr}"
    );
    assert!(
        !stderr.contains("sk-ant-api03-cli-test-secret"),
        "credential logged: {stderr}"
    );
}

#[tokio::test]
async fn proxy_reads_port_and_upstream_from_env() {
    let home = FakeHome::new();
    let mock = MockUpstream::start().await;
    let port = free_port();
    let _proxy = Running(
        headroom(&home)
            .arg("proxy")
            .env("HEADROOM_PORT", port.to_string())
            .env("OPENAI_TARGET_API_URL", format!("{}/v1", mock.url()))
            .env("HEADROOM_MODE", "cache")
            .env("HEADROOM_EXACT_TOKENS", "1")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_live(port).await;
    let r = client::post(
        &format!("http://127.0.0.1:{port}/v1/chat/completions"),
        &[],
        "{}",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(mock.last_request().unwrap().path, "/v1/chat/completions");
    let health = client::get(&format!("http://127.0.0.1:{port}/health"))
        .await
        .unwrap()
        .json();
    assert_eq!(health["config"]["mode"], "cache");
    assert_eq!(health["config"]["exact_tokens"], true);
}

#[test]
fn taken_port_exits_1_with_a_hint() {
    let home = FakeHome::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = headroom(&home)
        .args(["proxy", "--port", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "error: port {port} is already in use on 127.0.0.1"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint:") && stderr.contains("--port"),
        "{stderr}"
    );
}

#[test]
fn invalid_upstream_url_exits_1() {
    let home = FakeHome::new();
    let out = headroom(&home)
        .args([
            "proxy",
            "--port",
            "0",
            "--anthropic-api-url",
            "api.anthropic.com",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must start with http:// or https://"));
}

#[tokio::test]
async fn health_exit_codes() {
    let home = FakeHome::new();
    let port = free_port();
    // Nothing listening: exit 1, one line.
    let out = headroom(&home)
        .args([
            "health",
            "--port",
            &port.to_string(),
            "--timeout-ms",
            "1000",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("not ready:"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1);

    // A live proxy: exit 0.
    let proxy = headroom_proxy::start(headroom_proxy::Config {
        port: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let port = proxy.local_addr().port().to_string();
    let out = tokio::task::spawn_blocking({
        let mut cmd = headroom(&home);
        cmd.args(["health", "--port", &port]);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("ready: http://127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("headroom-proxy"), "{stdout}");

    // Not ready (draining → 503) or not Headroom at all: exit 1.
    let mock = MockUpstream::start().await;
    mock.push(headroom_testkit::Reply::json(
        503,
        serde_json::json!({"ready": false}),
    ));
    let mock_port = mock.addr().port().to_string();
    let out = tokio::task::spawn_blocking({
        let mut cmd = headroom(&home);
        cmd.args(["health", "--port", &mock_port]);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 503"));
}

#[cfg(unix)]
#[tokio::test]
async fn proxy_stops_cleanly_on_sigint() {
    let home = FakeHome::new();
    let port = free_port();
    let mut proxy = Running(
        headroom(&home)
            .args(["proxy", "--port", &port.to_string()])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_live(port).await;
    signal(&proxy.0, "-INT");
    let status = proxy.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "Ctrl-C must exit 0");
}

/// `headroom proxy` on a free port in `home`, forwarding Anthropic routes to `upstream`.
async fn savings_proxy(home: &FakeHome, upstream: &str) -> (Running, u16) {
    let port = free_port();
    let child = headroom(home)
        .args([
            "proxy",
            "--port",
            &port.to_string(),
            "--anthropic-api-url",
            upstream,
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running(child);
    wait_live(port).await;
    (running, port)
}

/// An Anthropic request whose tool output (a 300-row JSON listing) the compressor shrinks.
fn compressible_request() -> String {
    let rows: Vec<serde_json::Value> = (0..300)
        .map(|i| {
            serde_json::json!({
                "id": i, "name": format!("package-{i}"), "version": format!("1.{i}.0"),
                "license": "MIT", "downloads": 1000 + i * 7, "deprecated": false
            })
        })
        .collect();
    serde_json::json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "tools": [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "which packages are deprecated?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "npm ls --json"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": serde_json::to_string(&rows).unwrap()}]}
        ]
    })
    .to_string()
}

fn stats_json(home: &FakeHome, port: u16) -> (Stats, History) {
    let out = headroom(home)
        .args([
            "stats",
            "--json",
            "--days",
            "3",
            "--port",
            &port.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stats = Stats::parse(v["stats"].to_string().as_bytes()).expect("stats document");
    let history = History::parse(v["history"].to_string().as_bytes()).expect("history document");
    (stats, history)
}

#[tokio::test]
async fn savings_are_shown_kept_across_restarts_and_shared() {
    let home = FakeHome::new();
    let mock = MockUpstream::start().await;
    let (first, port) = savings_proxy(&home, &mock.url()).await;
    let r = client::post(
        &format!("http://127.0.0.1:{port}/v1/messages"),
        &[
            ("x-api-key", "sk-test"),
            ("user-agent", "claude-cli/2.1.197 (external, cli)"),
        ],
        compressible_request(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);

    // /stats read directly with the consumer type agrees with the header the proxy sent.
    let raw = client::get(&format!("http://127.0.0.1:{port}/stats"))
        .await
        .unwrap();
    let direct = Stats::parse(raw.text().as_bytes()).expect("real /stats parses");
    assert!(
        direct.tokens.saved > 0,
        "nothing compressed: {}",
        raw.text()
    );
    assert!(direct.savings.persistent);
    assert_eq!(direct.savings.today.tokens_saved, direct.tokens.saved);

    let (stats, history) = stats_json(&home, port);
    let saved = stats.savings.today.tokens_saved;
    assert_eq!(saved, direct.tokens.saved);
    assert_eq!(stats.savings.lifetime.tokens_saved, saved);
    assert!(stats.savings.today.cost_saved_usd > 0.0);
    assert_eq!(history.days.len(), 3);
    let today = history.days.last().unwrap();
    assert_eq!(today.total.tokens_saved, saved);
    assert_eq!(today.rows[0].client, "claude-code");
    assert_eq!(today.rows[0].model, "claude-sonnet-4-5");

    let table = headroom(&home)
        .args(["stats", "--port", &port.to_string()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("today") && table.contains("claude-code"),
        "{table}"
    );

    // The ledger is private to the user.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = home.join(".headroom/savings");
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        for f in std::fs::read_dir(&dir).unwrap().flatten() {
            let mode = f.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", f.path().display());
        }
    }

    // A restart (and a second proxy on the same workspace) sees the same totals.
    drop(first);
    let (_again, port2) = savings_proxy(&home, &mock.url()).await;
    let (_other, port3) = savings_proxy(&home, &mock.url()).await;
    assert_eq!(
        stats_json(&home, port2).0.savings.lifetime.tokens_saved,
        saved
    );
    client::post(
        &format!("http://127.0.0.1:{port3}/v1/messages"),
        &[("x-api-key", "sk-test")],
        compressible_request(),
    )
    .await
    .unwrap();
    let both = stats_json(&home, port2).0.savings.today;
    assert_eq!(both.requests, 2);
    assert_eq!(both.tokens_saved, 2 * saved);
}

#[test]
fn stats_without_a_proxy_is_a_clear_error() {
    let home = FakeHome::new();
    let port = free_port();
    let out = headroom(&home)
        .args(["stats", "--port", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("no Headroom proxy answers on port {port}")),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
}

/// A thousand idle connections must not lock tools out: started at a soft limit of 256, the
/// proxy serves with its soft limit raised to the hard limit (at most 65,536).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn proxy_raises_its_open_file_limit() {
    let home = FakeHome::new();
    let port = free_port();
    let script = format!("ulimit -Sn 256 && exec '{BIN}' proxy --port {port}");
    let mut cmd = clean(Command::new("sh"), &home);
    cmd.args(["-c", &script]).stderr(Stdio::null());
    let proxy = Running(cmd.spawn().unwrap());
    wait_live(port).await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", proxy.0.id())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (soft, hard) = (fields[3], fields[4]);
    let hard: u64 = hard.parse().unwrap_or(u64::MAX);
    let soft: u64 = soft.parse().unwrap();
    assert_eq!(soft, hard.min(65_536), "{line}");
    assert!(soft > 256);
}

/// Peak resident memory of a process, from `/proc/<pid>/status` (`VmHWM`), in MiB.
#[cfg(target_os = "linux")]
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

/// Two thousand idle connections (a buggy client, a port scan) do not lock tools out: the
/// proxy's raised open-file limit and connection cap leave room, and a request is answered
/// at once.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_connections_lock_nobody_out() {
    // This test process holds the other end of every connection.
    headroom_cli::raise_fd_limit();
    let home = FakeHome::new();
    let port = free_port();
    let _proxy = Running(
        headroom(&home)
            .args(["proxy", "--port", &port.to_string()])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_live(port).await;
    let mut idle = Vec::with_capacity(2_000);
    for _ in 0..2_000 {
        idle.push(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let r = client::get(&format!("http://127.0.0.1:{port}/livez"))
        .await
        .unwrap();
    let took = started.elapsed();
    eprintln!("with 2,000 idle connections open, /livez answered in {took:?}");
    assert_eq!(r.status, 200);
    assert!(took < Duration::from_secs(1), "{took:?}");
}

/// Four honest 95 MB requests at once: more than the proxy buffers to compress, so they are
/// streamed through whole, and the proxy's peak memory stays far below their size.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_huge_bodies_at_once_stay_within_memory() {
    let home = FakeHome::new();
    let mock = MockUpstream::start().await;
    let (proxy, port) = savings_proxy(&home, &mock.url()).await;
    let pad = "x".repeat(95 * 1024 * 1024);
    let body = bytes::Bytes::from(format!(
        r#"{{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[{{"role":"user","content":"{pad}"}}]}}"#
    ));
    drop(pad);
    let url = format!("http://127.0.0.1:{port}/v1/messages");
    let sends = (0..4).map(|_| {
        let (url, body) = (url.clone(), body.clone());
        tokio::spawn(async move { client::post(&url, &[("x-api-key", "k")], body).await })
    });
    for send in sends {
        assert_eq!(send.await.unwrap().unwrap().status, 200);
    }
    let peak = peak_rss_mib(proxy.0.id());
    eprintln!("4 x 95 MB bodies through the proxy: peak RSS {peak:.1} MiB");
    assert!(peak < 256.0, "peak RSS {peak:.1} MiB");
    let got: Vec<usize> = mock.requests().iter().map(|r| r.body.len()).collect();
    assert_eq!(got, vec![body.len(); 4]);
}
