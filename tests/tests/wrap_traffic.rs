//! Traffic really flows: a wrapped tool's requests go through the session proxy to the
//! upstream (a loopback mock), including a user's own gateway set as `ANTHROPIC_BASE_URL`.

mod wrap_support;

use headroom_testkit::{client, MockUpstream, Reply};
use wrap_support::*;

/// Start `wrap <tool>` with `env`, send one Anthropic request through the proxy the tool was
/// given, and return the mock's recorded requests.
fn roundtrip(env_for_mock: &dyn Fn(&str) -> Vec<(String, String)>) -> (World, Vec<String>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mock = rt.block_on(MockUpstream::start());
    mock.push(Reply::json(
        200,
        serde_json::json!({"id": "msg_1", "type": "message", "content": []}),
    ));
    let world = World::new();
    world.fake_tool("claude");
    let port = free_port();
    let env = env_for_mock(&mock.url());
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut env_all = env_refs.clone();
    env_all.push(("WAIT", "1"));
    let mut wrap = world.spawn(&["wrap", "--port", &port.to_string(), "claude"], &env_all);
    world.wait_out("claude.pid");
    let base = world.tool_env("claude")["ANTHROPIC_BASE_URL"].clone();
    assert_eq!(base, format!("http://127.0.0.1:{port}"));
    let body = r#"{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;
    let resp = rt
        .block_on(client::post(
            &format!("{base}/v1/messages"),
            &[
                ("x-api-key", "sk-ant-test"),
                ("anthropic-version", "2023-06-01"),
            ],
            body,
        ))
        .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    world.release("claude");
    assert!(wrap.wait().unwrap().success());
    let paths = mock.requests().iter().map(|r| r.path.clone()).collect();
    (world, paths)
}

#[test]
fn requests_reach_the_configured_upstream_through_the_session_proxy() {
    let (_world, paths) =
        roundtrip(&|mock| vec![("ANTHROPIC_TARGET_API_URL".to_owned(), mock.to_owned())]);
    assert_eq!(paths, ["/v1/messages"]);
}

#[test]
fn a_users_own_anthropic_base_url_stays_the_upstream() {
    let (_world, paths) =
        roundtrip(&|mock| vec![("ANTHROPIC_BASE_URL".to_owned(), mock.to_owned())]);
    assert_eq!(
        paths,
        ["/v1/messages"],
        "the user's gateway must still receive the traffic"
    );
}
