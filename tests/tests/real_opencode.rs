//! The real OpenCode CLI (pinned in `.ci/clients/package.json`, installed there by
//! `scripts/setup.sh test`, never on PATH) through the real `headroom wrap opencode`:
//!
//! * `opencode run` reaches Headroom with its own credentials for both built-in providers
//!   (Anthropic Messages with `x-api-key`; OpenAI with `Authorization: Bearer`), through the
//!   per-run `OPENCODE_CONFIG_CONTENT` that wrap merges into the user's own;
//! * a tool loop: the scripted model asks OpenCode's own `bash` tool for a bulky real output,
//!   OpenCode runs it and sends it back, and Headroom compresses it in that very request with
//!   `headroom_retrieve` offered from the conversation's first request on.

mod wrap_support;

use std::process::{Output, Stdio};
use std::time::Duration;

use headroom_testkit::{MockUpstream, Reply};
use serde_json::{json, Value};
use wrap_support::*;

fn opencode_world() -> World {
    let world = World::new();
    let bin = pinned_client("clients/node_modules/.bin/opencode", "OpenCode CLI");
    std::os::unix::fs::symlink(bin, world.bin.join("opencode")).unwrap();
    world
}

/// OpenCode's network extras (model list, updates, sharing, LSP downloads, default plugins)
/// off, and the npm registry it installs its plugin package from pointed at a closed loopback
/// port (the install fails quietly and the run goes on; checked with `strace -e connect`): all
/// traffic stays on loopback.
const OFFLINE: [(&str, &str); 6] = [
    ("OPENCODE_DISABLE_MODELS_FETCH", "true"),
    ("OPENCODE_DISABLE_AUTOUPDATE", "true"),
    ("OPENCODE_DISABLE_SHARE", "true"),
    ("OPENCODE_DISABLE_LSP_DOWNLOAD", "true"),
    ("OPENCODE_DISABLE_DEFAULT_PLUGINS", "true"),
    ("npm_config_registry", "http://127.0.0.1:9/"),
];

/// `headroom wrap --port P opencode -- run -m MODEL "…"`, non-interactive and [`OFFLINE`].
async fn wrap_opencode(world: &World, port: u16, model: &str, env: &[(&str, String)]) -> Output {
    let args = [
        "wrap",
        "--port",
        &port.to_string(),
        "opencode",
        "--",
        "run",
        "-m",
        model,
        "Look around this folder.",
    ]
    .map(str::to_owned);
    let mut cmd = world.headroom(&args);
    cmd.envs(OFFLINE)
        .env("HEADROOM_WRAP_PROXY_TIMEOUT", "30")
        .current_dir(world.tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    output_of(cmd).await
}

fn has_tool(body: &Value, name: &str) -> bool {
    body["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["name"] == name))
}

/// The model's side, on Anthropic Messages and OpenAI Responses: the main loop (a request
/// offering OpenCode's `bash` tool) first asks for [`grep_this_repo`], then answers once the output is
/// back; anything else (the session title) gets a short text.
fn script(mock: &MockUpstream) {
    mock.respond_with(|method, path, body| {
        let anthropic = path.starts_with("/v1/messages");
        if method != "POST" || !(anthropic || path.starts_with("/v1/responses")) {
            return None;
        }
        let body: Value = serde_json::from_slice(body).ok()?;
        let text = |t: &str| {
            if anthropic {
                Reply::anthropic_sse(t, Duration::ZERO)
            } else {
                Reply::openai_responses_sse(t, Duration::ZERO)
            }
        };
        if !has_tool(&body, "bash") {
            return Some(text("Looking around"));
        }
        if !outputs(&body).is_empty() {
            return Some(text("All done: the crates define many functions."));
        }
        let input =
            json!({"command": grep_this_repo(), "description": "List function definitions"});
        Some(if anthropic {
            Reply::anthropic_tool_use_sse("toolu_01", "bash", &input)
        } else {
            Reply::openai_function_call_sse("call_01", "bash", &input)
        })
    });
}

/// The tool outputs a request carries, as sent (Anthropic `tool_result` content or Responses
/// `function_call_output` output).
fn outputs(body: &Value) -> Vec<String> {
    let anthropic = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .filter(|b| b["type"] == "tool_result")
        .map(|b| match &b["content"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    let responses = body["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "function_call_output")
        .map(|i| match &i["output"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    anthropic.chain(responses).collect()
}

/// One `wrap opencode` run with the tool loop, checked: every request carried OpenCode's own
/// credential, the main loop offered `headroom_retrieve` from its first request with the same
/// `tools` each time, and the bulky output arrived compressed with its retrieval key.
async fn tool_loop(model: &str, env: &[(&str, String)], credential: (&str, &str)) {
    let world = opencode_world();
    let mock = MockUpstream::start().await;
    script(&mock);
    let mut env = env.to_vec();
    env.push((
        if model.starts_with("anthropic/") {
            "ANTHROPIC_TARGET_API_URL"
        } else {
            "OPENAI_TARGET_API_URL"
        },
        mock.url(),
    ));
    let out = wrap_opencode(&world, free_port(), model, &env).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let reqs = posts_with_credential("OpenCode", &out, &mock, credential);
    let main: Vec<Value> = reqs
        .iter()
        .map(|r| r.json())
        .filter(|b| has_tool(b, "bash"))
        .collect();
    assert_eq!(main.len(), 2, "the command, then the answer");
    assert!(
        has_tool(&main[0], "headroom_retrieve"),
        "headroom_retrieve missing from the first request's tools"
    );
    assert_eq!(
        main[1]["tools"], main[0]["tools"],
        "tools changed mid-conversation"
    );
    let raw = std::process::Command::new("bash")
        .arg("-c")
        .arg(grep_this_repo())
        .output()
        .unwrap()
        .stdout;
    let sent = outputs(&main[1]);
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].len() * 2 < raw.len(),
        "the {} B output went out as {} B",
        raw.len(),
        sent[0].len()
    );
    assert!(sent[0].contains("headroom_retrieve"), "{}", sent[0]);
    assert!(stdout.contains("All done"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrap_opencode_anthropic_reaches_headroom_and_its_bash_output_is_compressed() {
    tool_loop(
        "anthropic/claude-sonnet-4-5",
        &[("ANTHROPIC_API_KEY", "sk-ant-opencode-e2e".into())],
        ("x-api-key", "sk-ant-opencode-e2e"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrap_opencode_openai_reaches_headroom_and_its_bash_output_is_compressed() {
    tool_loop(
        "openai/gpt-5",
        &[("OPENAI_API_KEY", "sk-openai-opencode-e2e".into())],
        ("authorization", "Bearer sk-openai-opencode-e2e"),
    )
    .await;
}

/// `install apply --scope provider --target opencode` (the engine's edit, applied for real to
/// the fake HOME's `opencode.json`) routes OpenCode's own Anthropic and OpenAI providers — the
/// ones its users pick — through a running proxy, with their own credentials.
#[tokio::test(flavor = "multi_thread")]
async fn provider_scope_wiring_routes_the_real_opencode_through_headroom() {
    let world = opencode_world();
    let mock = MockUpstream::start().await;
    script(&mock);
    let port = free_port();
    apply_provider_scope(&world, headroom_install::targets::Tool::Opencode, port);
    let mut proxy = world
        .headroom([
            "proxy",
            "--port",
            &port.to_string(),
            "--anthropic-api-url",
            &mock.url(),
            "--openai-api-url",
            &mock.url(),
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(
        Duration::from_secs(10),
        || port_is_open(port),
        "the proxy to listen",
    );
    for (model, key_var, header, key) in [
        (
            "anthropic/claude-sonnet-4-5",
            "ANTHROPIC_API_KEY",
            "x-api-key",
            "sk-ant-opencode-e2e",
        ),
        (
            "openai/gpt-5",
            "OPENAI_API_KEY",
            "authorization",
            "sk-openai-opencode-e2e",
        ),
    ] {
        let before = mock.requests().len();
        let mut cmd = std::process::Command::new(world.bin.join("opencode"));
        cmd.args(["run", "-m", model, "Look around this folder."])
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", world.bin.display()),
            )
            .env("HOME", &world.home)
            .env(key_var, key)
            .envs(OFFLINE)
            .current_dir(world.tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = output_of(cmd).await;
        let reached: Vec<_> = mock.requests().into_iter().skip(before).collect();
        assert!(
            !reached.is_empty(),
            "{model}: OpenCode went around Headroom ({}): {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for r in &reached {
            let want = if header == "authorization" {
                format!("Bearer {key}")
            } else {
                key.to_owned()
            };
            assert_eq!(r.header(header).as_deref(), Some(want.as_str()), "{model}");
        }
        assert!(
            out.status.success(),
            "{model}: opencode exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = proxy.kill();
    let _ = proxy.wait();
}

/// A gateway in OpenCode's own config (`provider.anthropic.options.baseURL`) stays the
/// destination under `wrap`: OpenCode → Headroom → gateway, said on screen, the file untouched.
/// The gateway is on a loopback port, like a local LiteLLM: only a loopback URL at a
/// deployment's port, or where a Headroom answers, is Headroom's own wiring.
#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_in_opencode_config_is_chained_not_bypassed() {
    let world = opencode_world();
    let file = world.home.join(".config/opencode/opencode.json");
    gateway_in_config_is_chained(&world, &file).await;
}

/// The same with the gateway in the project's `opencode.json` (OpenCode merges it over the
/// global config, and `wrap`'s override over both: missed, the gateway would be replaced).
#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_in_the_projects_opencode_json_is_chained_not_bypassed() {
    let world = opencode_world();
    let file = world.tmp.path().join("opencode.json");
    gateway_in_config_is_chained(&world, &file).await;
}

/// And in the project's `.opencode/opencode.json`.
#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_in_the_projects_dot_opencode_folder_is_chained_not_bypassed() {
    let world = opencode_world();
    let file = world.tmp.path().join(".opencode/opencode.json");
    gateway_in_config_is_chained(&world, &file).await;
}

async fn gateway_in_config_is_chained(world: &World, file: &std::path::Path) {
    let gateway = MockUpstream::start().await;
    script(&gateway);
    let gateway_url = gateway.url();
    let config = format!(
        "{{\n  \"$schema\": \"https://opencode.ai/config.json\",\n  \"provider\": {{\n    \"anthropic\": {{\n      \"options\": {{ \"baseURL\": \"{gateway_url}/v1\" }}\n    }}\n  }}\n}}\n"
    );
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, &config).unwrap();
    let out = wrap_opencode(
        world,
        free_port(),
        "anthropic/claude-sonnet-4-5",
        &[("ANTHROPIC_API_KEY", "sk-ant-opencode-e2e".into())],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "opencode exited {:?}: {stderr}",
        out.status.code()
    );
    assert!(
        stderr.contains(&gateway_url)
            && stderr.contains(&format!(
                "provider.anthropic.options.baseURL in {}",
                file.display()
            )),
        "the chaining is not said: {stderr}"
    );
    let reached: Vec<_> = gateway
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert!(!reached.is_empty(), "the gateway got nothing: {stderr}");
    let main: Vec<Value> = reached
        .iter()
        .map(|r| r.json())
        .filter(|b| has_tool(b, "bash"))
        .collect();
    assert!(
        main.iter().all(|b| has_tool(b, "headroom_retrieve")),
        "the gateway's requests did not come through Headroom"
    );
    // (With its `$schema` line already there: OpenCode adds one to a config without it.)
    assert_eq!(std::fs::read_to_string(file).unwrap(), config);
}
