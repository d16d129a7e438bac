//! The savings ledger end to end, with the real binary: a compressed request is visible in
//! `headroom stats` (table and JSON, parsed with the same `headroom-protocol` types every
//! consumer uses), survives a restart of the proxy, and is shared by two proxies on one
//! workspace.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use headroom_protocol::{History, Stats};
use headroom_testkit::{client, free_port, FakeHome, MockUpstream};

const BIN: &str = env!("CARGO_BIN_EXE_headroom");

fn headroom(home: &FakeHome) -> Command {
    let mut cmd = Command::new(BIN);
    home.apply(&mut cmd);
    for var in [
        "HEADROOM_PORT",
        "HEADROOM_HOST",
        "HEADROOM_MODE",
        "HEADROOM_WORKSPACE_DIR",
        "HEADROOM_LEDGER",
        "ANTHROPIC_TARGET_API_URL",
        "OPENAI_TARGET_API_URL",
    ] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn proxy(home: &FakeHome, upstream: &str) -> (Running, u16) {
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
    let deadline = Instant::now() + Duration::from_secs(10);
    while client::get(&format!("http://127.0.0.1:{port}/livez"))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "proxy never became live");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (Running(child), port)
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
    let (first, port) = proxy(&home, &mock.url()).await;
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
    let (_again, port2) = proxy(&home, &mock.url()).await;
    let (_other, port3) = proxy(&home, &mock.url()).await;
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
