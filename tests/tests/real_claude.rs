//! The real Claude Code CLI (pinned in `.ci/clients/package.json`, installed there by
//! `scripts/setup.sh test`, never on PATH) through the real `headroom wrap claude`:
//!
//! * it reaches Headroom with its own `x-api-key`, and `headroom_retrieve` is in `tools` from
//!   the conversation's first request (so `tools`, the start of the prompt-cache order, never
//!   changes mid-conversation);
//! * a company gateway in `~/.claude/settings.json` (`env.ANTHROPIC_BASE_URL`) — which beats
//!   the environment `wrap` sets — is chained, not bypassed: the request goes Claude Code →
//!   Headroom → gateway, and the settings file is left byte for byte as it was.

mod wrap_support;

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use headroom_testkit::{MockUpstream, Reply};
use wrap_support::*;

const KEY: &str = "sk-ant-headroom-claude-e2e";

fn real_claude() -> PathBuf {
    pinned_client("clients/node_modules/.bin/claude", "Claude Code CLI")
}

/// A world whose `claude` is the real one, past its first-run screens.
fn claude_world() -> World {
    let world = World::new();
    std::os::unix::fs::symlink(real_claude(), world.bin.join("claude")).unwrap();
    std::fs::create_dir_all(world.home.join(".claude")).unwrap();
    std::fs::write(
        world.home.join(".claude.json"),
        r#"{"hasCompletedOnboarding": true}"#,
    )
    .unwrap();
    world
}

/// `headroom wrap [--port P] claude -- -p "say hi"` with the real Claude Code, non-interactive,
/// its non-essential traffic off (all traffic stays on loopback).
async fn wrap_claude(world: &World, port: Option<u16>, env: &[(&str, String)]) -> Output {
    let mut args = vec!["wrap".to_owned()];
    if let Some(p) = port {
        args.extend(["--port".to_owned(), p.to_string()]);
    }
    args.extend(["claude", "--", "-p", "say hi"].map(str::to_owned));
    let mut cmd = world.headroom(&args);
    cmd.env("ANTHROPIC_API_KEY", KEY)
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("CLAUDE_CODE_MAX_RETRIES", "0")
        .env("HEADROOM_WRAP_PROXY_TIMEOUT", "30")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    output_of(cmd).await
}

fn messages(mock: &MockUpstream) -> Vec<headroom_testkit::Recorded> {
    mock.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/v1/messages"))
        .filter(|r| !r.path.contains("count_tokens"))
        .collect()
}

fn queue_answers(mock: &MockUpstream) {
    for _ in 0..8 {
        mock.push(Reply::anthropic_sse("hi", Duration::ZERO));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrap_claude_routes_the_real_claude_code_through_headroom() {
    let world = claude_world();
    let mock = MockUpstream::start().await;
    queue_answers(&mock);
    let port = free_port();
    let out = wrap_claude(
        &world,
        Some(port),
        &[("ANTHROPIC_TARGET_API_URL", mock.url())],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reqs = messages(&mock);
    assert!(
        !reqs.is_empty(),
        "Claude Code never reached the upstream through Headroom: {:?}\n{stderr}",
        mock.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    for r in &reqs {
        assert_eq!(r.header("x-api-key").as_deref(), Some(KEY));
        assert!(
            r.header("user-agent")
                .unwrap_or_default()
                .contains("claude"),
            "{:?}",
            r.header("user-agent")
        );
    }
    // The main conversation (the request with tools) offers headroom_retrieve from its first
    // request on.
    let with_tools: Vec<_> = reqs
        .iter()
        .filter(|r| r.json()["tools"].as_array().is_some_and(|t| !t.is_empty()))
        .collect();
    assert!(!with_tools.is_empty(), "no request carried tools");
    let first = &with_tools[0].json();
    assert!(
        first["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "headroom_retrieve"),
        "headroom_retrieve missing from the first request's tools"
    );
    assert!(
        out.status.success(),
        "claude exited {:?}: {stderr}",
        out.status.code()
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("hi"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_in_claude_settings_is_chained_not_bypassed() {
    let world = claude_world();
    let gateway = MockUpstream::start().await;
    queue_answers(&gateway);
    let settings = world.home.join(".claude/settings.json");
    let original = format!(
        "{{\n  \"env\": {{\n    \"ANTHROPIC_BASE_URL\": \"{}\"\n  }}\n}}\n",
        gateway.url()
    );
    std::fs::write(&settings, &original).unwrap();

    let out = wrap_claude(&world, None, &[]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "claude exited {:?}: {stderr}",
        out.status.code()
    );
    let reqs = messages(&gateway);
    assert!(!reqs.is_empty(), "the gateway got nothing: {stderr}");
    // Through Headroom: the proxy compresses and offers headroom_retrieve; Claude Code alone
    // never would.
    assert!(
        reqs.iter().any(|r| r.json()["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == "headroom_retrieve"))),
        "the gateway was reached directly, bypassing Headroom: {stderr}"
    );
    assert!(
        stderr.contains(&gateway.url()) && stderr.contains("settings.json"),
        "wrap must say where the session forwards: {stderr}"
    );
    // Headroom never edits it (Claude Code itself may add its own keys).
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(
        after["env"],
        serde_json::json!({"ANTHROPIC_BASE_URL": gateway.url()})
    );
}
