//! What Claude Code really sends: failing commands come back with `is_error: true`, long output
//! is persisted to a file the model can `Read` (`…/projects/<project>/<session>/tool-results/
//! <id>.txt`), and logs are read with `Read` too. Those outputs get the transforms that keep
//! every problem line; any other file a read tool returns stays byte-exact.

use headroom_compress::{compress_request, Action, Api, Options};
use serde_json::json;

fn build_log() -> String {
    let mut s = String::from("   Compiling app v0.1.0\n");
    for i in 0..800 {
        s.push_str(&format!("test suite::case_{i} ... ok\n"));
    }
    s.push_str("test suite::broken ... FAILED\n\nfailures:\n\n---- suite::broken stdout ----\nthread 'suite::broken' panicked at src/lib.rs:10:5:\nboom\n\ntest result: FAILED. 800 passed; 1 failed; 0 ignored\n");
    s
}

fn body(tool: &str, input: serde_json::Value, output: &str, is_error: bool) -> Vec<u8> {
    let mut result = json!({"type": "tool_result", "tool_use_id": "t1", "content": output});
    if is_error {
        result["is_error"] = json!(true);
    }
    serde_json::to_vec(&json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "tools": [{"name": tool, "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "why do the tests fail?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": tool, "input": input}]},
            {"role": "user", "content": [result]}
        ]
    }))
    .unwrap()
}

fn forwarded_output(out: &headroom_compress::Outcome, original: &[u8]) -> String {
    let bytes = out.body.clone().unwrap_or_else(|| original.to_vec());
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["messages"][2]["content"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn failing_commands_are_compressed_keeping_every_problem_line() {
    let log = build_log();
    let b = body("Bash", json!({"command": "cargo test"}), &log, true);
    let out = compress_request(Api::AnthropicMessages, &b, &Options::default());
    let text = forwarded_output(&out, &b);
    assert!(
        text.len() < log.len() / 4,
        "{} of {} bytes",
        text.len(),
        log.len()
    );
    for needle in [
        "test suite::broken ... FAILED",
        "panicked at src/lib.rs:10:5",
        "test result: FAILED. 800 passed; 1 failed",
    ] {
        assert!(text.contains(needle), "lost {needle:?}");
    }
    assert_eq!(out.blocks[0].action, Action::Compressed);
}

#[test]
fn reads_of_logs_and_persisted_outputs_are_compressed_other_files_are_not() {
    let log = build_log();
    for path in [
        "/home/u/app/logs/server.log",
        "/var/log/app.log.1",
        "/home/u/.claude/projects/-home-u-app/0f6c1d2e-aaaa-bbbb-cccc-1234567890ab/tool-results/toolu_01ABC.txt",
    ] {
        let b = body("Read", json!({"file_path": path}), &log, false);
        let out = compress_request(Api::AnthropicMessages, &b, &Options::default());
        let text = forwarded_output(&out, &b);
        assert!(text.len() < log.len() / 4, "{path}: not compressed");
        assert!(text.contains("test suite::broken ... FAILED"), "{path}");
    }
    for path in [
        "/home/u/app/src/main.rs",
        "/home/u/app/Cargo.toml",
        "/home/u/notes.txt",
        "/home/u/app/data/rows.csv",
    ] {
        let b = body("Read", json!({"file_path": path}), &log, false);
        let out = compress_request(Api::AnthropicMessages, &b, &Options::default());
        assert!(
            out.body.is_none(),
            "{path}: a file the agent may edit must stay byte-exact"
        );
        assert_eq!(out.blocks[0].action, Action::ProtectedFileTool);
    }
}
