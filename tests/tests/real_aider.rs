//! The real Aider (pinned `aider-chat` from PyPI, installed into `.ci/.aider` by
//! `scripts/setup.sh test`, never on PATH) through the real `headroom wrap aider`: a one-shot
//! `aider --message …` reaches Headroom and, through it, the mock provider with Aider's own
//! credential, for an Anthropic model (Messages, `x-api-key`, via `ANTHROPIC_BASE_URL`) and an
//! OpenAI model (chat completions, `Authorization: Bearer`, via `OPENAI_API_BASE`), and prints
//! the model's answer. Aider sends files and chat as messages, not tool results, so this proves
//! routing; compression of tool outputs is proven with the agents that have tools.
//!
//! All traffic stays on loopback: Aider's update check and analytics are off, and the model
//! price list Aider and LiteLLM would download comes from a fresh cache file in the fake HOME
//! and LiteLLM's bundled copy (checked with `strace -e connect`).

mod wrap_support;

use std::process::{Output, Stdio};
use std::time::Duration;

use headroom_testkit::{MockUpstream, Reply};
use wrap_support::*;

fn aider_world() -> World {
    let world = World::new();
    let bin = pinned_client(".aider/bin/aider", "Aider");
    std::os::unix::fs::symlink(bin, world.bin.join("aider")).unwrap();
    let caches = world.home.join(".aider/caches");
    std::fs::create_dir_all(&caches).unwrap();
    std::fs::write(
        caches.join("model_prices_and_context_window.json"),
        r#"{"sample_spec": {"max_tokens": 1}}"#,
    )
    .unwrap();
    world
}

/// `headroom wrap --port P aider -- --message "say hi" --model MODEL …`, non-interactive.
async fn wrap_aider(world: &World, model: &str, env: &[(&str, String)]) -> Output {
    let port = free_port().to_string();
    let args = [
        "wrap",
        "--port",
        &port,
        "aider",
        "--",
        "--message",
        "say hi",
        "--yes",
        "--no-git",
        "--no-check-update",
        "--analytics-disable",
        "--no-show-model-warnings",
        "--no-pretty",
        "--model",
        model,
    ]
    .map(str::to_owned);
    let mut cmd = world.headroom(&args);
    cmd.env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
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

fn check(out: &Output, mock: &MockUpstream, path: &str, header: &str, value: &str) {
    for r in posts_with_credential("Aider", out, mock, (header, value)) {
        assert_eq!(r.path, path);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("hello from the mock"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrap_aider_routes_an_anthropic_model_through_headroom() {
    let world = aider_world();
    let mock = MockUpstream::start().await;
    mock.respond_with(|method, _, _| {
        (method == "POST").then(|| Reply::anthropic_sse("hello from the mock", Duration::ZERO))
    });
    let out = wrap_aider(
        &world,
        "anthropic/claude-sonnet-4-5",
        &[
            ("ANTHROPIC_TARGET_API_URL", mock.url()),
            ("ANTHROPIC_API_KEY", "sk-ant-aider-e2e".into()),
        ],
    )
    .await;
    check(&out, &mock, "/v1/messages", "x-api-key", "sk-ant-aider-e2e");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrap_aider_routes_an_openai_model_through_headroom() {
    let world = aider_world();
    let mock = MockUpstream::start().await;
    mock.respond_with(|method, _, _| {
        (method == "POST").then(|| Reply::openai_chat_sse("hello from the mock", Duration::ZERO))
    });
    let out = wrap_aider(
        &world,
        "openai/gpt-4o",
        &[
            ("OPENAI_TARGET_API_URL", mock.url()),
            ("OPENAI_API_KEY", "sk-openai-aider-e2e".into()),
        ],
    )
    .await;
    check(
        &out,
        &mock,
        "/v1/chat/completions",
        "authorization",
        "Bearer sk-openai-aider-e2e",
    );
}
