//! The real Qwen Code CLI (`@qwen-code/qwen-code`, pinned in `.ci/clients/package.json`,
//! installed there by `scripts/setup.sh test`, never on PATH) through `headroom wrap -- qwen`
//! (the generic command form: Qwen Code speaks OpenAI chat completions and reads
//! `OPENAI_BASE_URL`): a one-shot prompt whose scripted model has Qwen Code's own
//! `run_shell_command` tool run a bulky real command; the request reaches the mock with Qwen
//! Code's own `Authorization`, and the tool output arrives compressed inside Qwen Code's
//! `Command:`/`Output:`/`Exit Code:` envelope (kept as it was), with `headroom_retrieve`
//! offered from the first request and `tools` unchanged after.
//!
//! All traffic stays on loopback: usage statistics and update checks are off in the fake HOME's
//! `~/.qwen/settings.json` (checked with `strace -e connect`).

mod wrap_support;

use std::process::Stdio;
use std::time::Duration;

use headroom_testkit::{MockUpstream, Reply};
use serde_json::{json, Value};
use wrap_support::*;

const KEY: &str = "sk-qwen-e2e";

fn tool_names(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// Tool messages (`role: tool`) of a chat request, as sent.
fn outputs(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "tool")
        .map(|m| match &m["content"] {
            Value::String(s) => s.clone(),
            // Qwen Code sends text parts.
            parts => parts
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["text"].as_str())
                .collect(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn wrap_qwen_reaches_headroom_and_its_shell_output_is_compressed() {
    let world = World::new();
    let bin = pinned_client("clients/node_modules/.bin/qwen", "Qwen Code CLI");
    std::os::unix::fs::symlink(bin, world.bin.join("qwen")).unwrap();
    let settings = world.home.join(".qwen");
    std::fs::create_dir_all(&settings).unwrap();
    std::fs::write(
        settings.join("settings.json"),
        r#"{"privacy": {"usageStatisticsEnabled": false}, "general": {"enableAutoUpdate": false}}"#,
    )
    .unwrap();
    let mock = MockUpstream::start().await;
    mock.respond_with(|method, path, body| {
        if method != "POST" || !path.starts_with("/v1/chat/completions") {
            return None;
        }
        let body: Value = serde_json::from_slice(body).ok()?;
        let has_shell = tool_names(&body).iter().any(|n| n == "run_shell_command");
        Some(if !has_shell {
            Reply::openai_chat_sse("Looking around", Duration::ZERO)
        } else if outputs(&body).is_empty() {
            Reply::openai_chat_tool_call_sse(
                "call_01",
                "run_shell_command",
                &json!({"command": grep_this_repo(), "description": "List function definitions"}),
            )
        } else {
            Reply::openai_chat_sse(
                "All done: the crates define many functions.",
                Duration::ZERO,
            )
        })
    });
    let port = free_port().to_string();
    let mut cmd = world.headroom([
        "wrap",
        "--port",
        &port,
        "--",
        "qwen",
        "--approval-mode",
        "yolo",
        "Look around this folder.",
    ]);
    cmd.env("OPENAI_API_KEY", KEY)
        .env("OPENAI_MODEL", "qwen3-coder-plus")
        .env("OPENAI_TARGET_API_URL", mock.url())
        .env("HEADROOM_WRAP_PROXY_TIMEOUT", "30")
        .current_dir(world.tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = output_of(cmd).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bearer = format!("Bearer {KEY}");
    let reqs = posts_with_credential("Qwen Code", &out, &mock, ("authorization", &bearer));
    let main: Vec<Value> = reqs
        .iter()
        .map(|r| r.json())
        .filter(|b| tool_names(b).iter().any(|n| n == "run_shell_command"))
        .collect();
    assert_eq!(main.len(), 2, "the command, then the answer");
    assert!(
        tool_names(&main[0])
            .iter()
            .any(|n| n == "headroom_retrieve"),
        "headroom_retrieve missing from the first request's tools"
    );
    assert_eq!(
        main[1]["tools"], main[0]["tools"],
        "tools changed mid-conversation"
    );
    // Qwen Code's shell result: `Command:`/`Directory:`/`Output: ` header and `Error:`/`Exit
    // Code:`/… trailer kept as they were, the output inside compressed (Qwen Code reads the
    // command's output from a pty and sometimes delivers only part of it, so the test does not
    // assume how much arrived).
    let sent = outputs(&main[1]);
    assert_eq!(sent.len(), 1);
    let text = &sent[0];
    assert!(
        text.starts_with(&format!("Command: {}\nDirectory: ", grep_this_repo())),
        "{text}"
    );
    assert!(
        text.contains("\nOutput: [headroom: hits grouped by file"),
        "{text}"
    );
    assert!(text.contains("\nError: (none)\nExit Code: 0\n"), "{text}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.starts_with("Process Group PGID: ")),
        "{text}"
    );
    assert!(stdout.contains("All done"), "{stdout}");
}
