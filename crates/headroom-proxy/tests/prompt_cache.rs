//! Headroom must make a coding session cheaper under the provider's prompt cache, not dearer.
//!
//! A Claude Code–shaped session (its `cache_control` breakpoints on the system blocks and on the
//! last block of the last message, moving forward every turn; 20–25 KB tool outputs) goes through
//! a real proxy twice — optimised and `--no-optimize` — against a loopback mock. What the mock
//! received is priced the way Anthropic bills it (cache writes ×1.25, reads ×0.1, the rest ×1)
//! by a small simulator of its prefix cache. Checked: every earlier tool output is sent with the
//! same bytes on every later turn, `tools` never changes (from the first request on), and the
//! optimised session costs at most 0.6× the unoptimised one.

use headroom_proxy::{Config, ProxyHandle};
use headroom_testkit::client::post;
use headroom_testkit::{MockUpstream, Reply};
use serde_json::{json, Value};

const AUTH: &[(&str, &str)] = &[("x-api-key", "sk-ant-test")];

async fn proxy(upstream: &MockUpstream, optimize: bool) -> ProxyHandle {
    headroom_proxy::start(Config {
        host: "127.0.0.1".into(),
        port: 0,
        anthropic_url: upstream.url(),
        optimize,
        ..Config::default()
    })
    .await
    .expect("proxy starts")
}

/// `cargo test`-shaped output: a compile section, 700 passing tests, two failures with their
/// panics, and the summary.
fn test_run(seed: usize) -> String {
    let mut out = String::from("   Compiling headroom v0.1.0 (/src/headroom)\n    Finished `test` profile [unoptimized + debuginfo] target(s) in 41.02s\n     Running unittests src/lib.rs (target/debug/deps/headroom-5f1c2d)\n\nrunning 702 tests\n");
    for i in 0..700 {
        out.push_str(&format!(
            "test module_{}::case_{}_{} ... ok\n",
            i % 17,
            i,
            seed
        ));
    }
    out.push_str(&format!("test parser::rejects_bad_input_{seed} ... FAILED\ntest walk::keeps_order ... FAILED\n\nfailures:\n\n---- parser::rejects_bad_input_{seed} stdout ----\nthread 'parser::rejects_bad_input_{seed}' panicked at src/parser.rs:212:9:\nassertion `left == right` failed\n  left: 3\n right: 4\n\nfailures:\n    parser::rejects_bad_input_{seed}\n    walk::keeps_order\n\ntest result: FAILED. 700 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 3.21s\n"));
    out
}

/// A 150-row JSON listing (what `gh api`, `kubectl … -o json` or a package manager print).
fn listing(seed: usize) -> String {
    let rows: Vec<Value> = (0..150)
        .map(|i| {
            let region = ["eu-west-1", "us-east-1"][i % 2];
            json!({"id": i, "name": format!("service-{i}-{seed}"), "region": region,
                   "status": if i == 77 { "degraded" } else { "running" }, "cpu": (i * 7) % 100})
        })
        .collect();
    serde_json::to_string_pretty(&rows).unwrap()
}

/// The body of turn `n` (0-based) of the session: like Claude Code, `cache_control` on the two
/// system blocks and on the last block of the last message only.
fn turn(n: usize, outputs: &[String]) -> Value {
    let mut messages = vec![
        json!({"role": "user", "content": [{"type": "text", "text": "The tests fail and the service list looks off; find out why."}]}),
    ];
    for (i, out) in outputs.iter().take(n).enumerate() {
        messages.push(json!({"role": "assistant", "content": [
            {"type": "text", "text": format!("Step {i}: running a command.")},
            {"type": "tool_use", "id": format!("toolu_{i}"), "name": "Bash", "input": {"command": format!("cmd-{i}")}}
        ]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": format!("toolu_{i}"), "content": out}
        ]}));
    }
    // The moving breakpoint: the last block of the last message.
    let last = messages.last_mut().unwrap();
    let blocks = last["content"].as_array_mut().unwrap();
    blocks.last_mut().unwrap()["cache_control"] = json!({"type": "ephemeral"});
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": false,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Use the tools to help the user with software engineering tasks. ".repeat(40), "cache_control": {"type": "ephemeral"}}
        ],
        "tools": [
            {"name": "Bash", "description": "Run a shell command. ".repeat(30), "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}},
            {"name": "Read", "description": "Read a file. ".repeat(30), "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}}},
            {"name": "Edit", "description": "Edit a file. ".repeat(30), "input_schema": {"type": "object"}}
        ],
        "messages": messages
    })
}

fn cache_weighted_cost(bodies: &[Value]) -> f64 {
    headroom_testkit::cache::anthropic_cost(bodies).weighted()
}

async fn run_session(optimize: bool, outputs: &[String]) -> Vec<Value> {
    let upstream = MockUpstream::start().await;
    let p = proxy(&upstream, optimize).await;
    for n in 0..=outputs.len() {
        upstream.push(Reply::json(
            200,
            json!({"id": format!("msg_{n}"), "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                   "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
                   "usage": {"input_tokens": 1, "output_tokens": 1}}),
        ));
        let r = post(
            &format!("{}/v1/messages", p.url()),
            AUTH,
            turn(n, outputs).to_string(),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    upstream.requests().iter().map(|r| r.json()).collect()
}

/// The text of tool output `i` as forwarded in `body`.
fn output_of(body: &Value, i: usize) -> String {
    body["messages"][2 + 2 * i]["content"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_claude_code_session_keeps_its_cache_and_costs_less() {
    let outputs = vec![
        test_run(1),
        listing(2),
        test_run(3),
        listing(4),
        test_run(5),
    ];
    assert!(outputs.iter().all(|o| o.len() > 10_000));
    let optimized = run_session(true, &outputs).await;
    let plain = run_session(false, &outputs).await;
    assert_eq!(optimized.len(), outputs.len() + 1);

    // `tools` is the same on every request, the first one (no tool output yet) included, and
    // carries headroom_retrieve from the start.
    for b in &optimized {
        assert_eq!(
            b["tools"], optimized[0]["tools"],
            "tools changed mid-conversation"
        );
    }
    assert_eq!(
        optimized[0]["tools"].as_array().unwrap().last().unwrap()["name"],
        "headroom_retrieve"
    );
    // Each tool output is compressed the first time it is seen — while it carries the
    // breakpoint — and sent with exactly those bytes on every later turn.
    for i in 0..outputs.len() {
        let first = output_of(&optimized[i + 1], i);
        assert!(
            first.len() < outputs[i].len() / 2,
            "output {i} not compressed when first sent"
        );
        for later in &optimized[i + 2..] {
            assert_eq!(
                output_of(later, i),
                first,
                "output {i} changed in a later turn"
            );
        }
        // The breakpoint stayed where the client put it.
        assert!(optimized[i + 1]["messages"][2 + 2 * i]["content"][0]
            .get("cache_control")
            .is_some());
    }
    // Failures survive compression.
    assert!(output_of(&optimized[1], 0).contains("parser::rejects_bad_input_1"));
    assert!(output_of(&optimized[2], 1).contains("degraded"));

    let with = cache_weighted_cost(&optimized);
    let without = cache_weighted_cost(&plain);
    let ratio = with / without;
    eprintln!("cache-weighted input cost: {with:.0} vs {without:.0} byte-units ({ratio:.3}x)");
    assert!(ratio <= 0.6, "Headroom made the session cost {ratio:.3}x");
}

#[test]
fn the_simulator_rewards_a_stable_prefix_and_punishes_a_changed_one() {
    let outputs = vec![test_run(1), test_run(2)];
    let stable: Vec<Value> = (0..=2).map(|n| turn(n, &outputs)).collect();
    // The same session, except that the first output's bytes change between turn 1 and turn 2
    // (what compressing a block one turn late did), with its length kept.
    let mut busted = stable.clone();
    busted[2]["messages"][2]["content"][0]["content"] = json!("x".repeat(outputs[0].len()));
    let last_turn = |s: &[Value]| cache_weighted_cost(s) - cache_weighted_cost(&s[..2]);
    let (kept, missed) = (last_turn(&stable), last_turn(&busted));
    // Kept: turn 2 reads turn 1's prefix at ×0.1. Missed: it writes it again at ×1.25 (both
    // also write the new output).
    assert!(kept * 1.5 < missed, "{kept} vs {missed}");
}
