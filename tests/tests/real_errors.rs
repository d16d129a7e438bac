//! Provider errors through Headroom, with the real clients: when the API answers 401, 429 or
//! 529/500, Claude Code and Codex behave through `headroom wrap` exactly as they do talking to
//! the API directly — same exit code, the provider's own message on the terminal — and the
//! error reached the client from the upstream (the proxy did not answer in its place).
//! Retries are off in both runs so each case is one request.

mod wrap_support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use headroom_testkit::{MockUpstream, Reply};
use serde_json::json;
use wrap_support::*;

fn client(name: &str) -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.ci/clients/node_modules/.bin")
        .join(name);
    assert!(
        bin.exists(),
        "the pinned {name} CLI is missing at {}; run `scripts/setup.sh test`",
        bin.display()
    );
    bin
}

/// The Anthropic error reply for `status`.
fn anthropic_error(status: u16) -> Reply {
    let (ty, msg) = match status {
        401 => ("authentication_error", "invalid x-api-key (mock 401)"),
        429 => (
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit (mock 429)",
        ),
        _ => ("overloaded_error", "Overloaded (mock 529)"),
    };
    let reply = Reply::json(
        status,
        json!({"type": "error", "error": {"type": ty, "message": msg}}),
    );
    if status == 429 {
        reply.with_header("retry-after", "1")
    } else {
        reply
    }
}

fn openai_error(status: u16) -> Reply {
    let (code, msg) = match status {
        401 => ("invalid_api_key", "Incorrect API key provided (mock 401)"),
        429 => (
            "rate_limit_exceeded",
            "Rate limit reached for requests (mock 429)",
        ),
        _ => ("server_error", "The server had an error (mock 500)"),
    };
    Reply::json(
        status,
        json!({"error": {"message": msg, "type": code, "param": null, "code": code}}),
    )
}

fn base(world: &World, cmd: &mut Command) {
    cmd.env_clear()
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", world.bin.display()),
        )
        .env("HOME", &world.home)
        .env("HEADROOM_WORKSPACE_DIR", &world.workspace)
        .current_dir(world.tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
}

fn claude_env(cmd: &mut Command) {
    cmd.env("ANTHROPIC_API_KEY", "sk-ant-errors-e2e")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("CLAUDE_CODE_MAX_RETRIES", "0");
}

/// What the user sees, with loopback ports (the mock's or the session proxy's) made equal.
fn lines(out: &Output) -> Vec<String> {
    shown(out).lines().map(same_ports).collect()
}

fn same_ports(line: &str) -> String {
    const HOST: &str = "127.0.0.1:";
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find(HOST) {
        out.push_str(&rest[..i + HOST.len()]);
        rest = rest[i + HOST.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push_str("PORT");
    }
    out.push_str(rest);
    out
}

/// Every line the client printed talking to the API directly is printed through Headroom
/// too (Headroom adds its own `headroom:` lines; Codex's session id is new each run).
fn assert_same_terminal(status: u16, direct: &Output, wrapped: &Output) {
    let through = lines(wrapped);
    for line in lines(direct) {
        if line.starts_with("session id:") {
            continue;
        }
        assert!(
            through.contains(&line),
            "{status}: through Headroom the client did not print {line:?}\ndirect:\n{}\nwrapped:\n{}",
            shown(direct),
            shown(wrapped)
        );
    }
}

fn shown(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_sees_provider_errors_through_headroom_as_it_does_directly() {
    let world = World::new();
    std::os::unix::fs::symlink(client("claude"), world.bin.join("claude")).unwrap();
    std::fs::create_dir_all(world.home.join(".claude")).unwrap();
    std::fs::write(
        world.home.join(".claude.json"),
        r#"{"hasCompletedOnboarding": true}"#,
    )
    .unwrap();
    for status in [401u16, 429, 529] {
        let reply = anthropic_error(status);
        let mock = MockUpstream::start().await;
        let r = reply.clone();
        mock.respond_with(move |method, path, _| {
            (method == "POST" && path.starts_with("/v1/messages")).then(|| r.clone())
        });

        let mut direct = Command::new(world.bin.join("claude"));
        base(&world, &mut direct);
        claude_env(&mut direct);
        direct
            .env("ANTHROPIC_BASE_URL", mock.url())
            .args(["-p", "say hi"]);
        let direct = output_of(direct).await;

        let port = free_port().to_string();
        let mut wrapped = world.headroom(["wrap", "--port", &port, "claude", "--", "-p", "say hi"]);
        wrapped
            .env("ANTHROPIC_TARGET_API_URL", mock.url())
            .env("HEADROOM_WRAP_PROXY_TIMEOUT", "30")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        claude_env(&mut wrapped);
        let wrapped = output_of(wrapped).await;

        assert!(!direct.status.success(), "{status}: direct run succeeded");
        assert_eq!(
            wrapped.status.code(),
            direct.status.code(),
            "{status}: exit code through Headroom differs\ndirect: {}\nwrapped: {}",
            shown(&direct),
            shown(&wrapped)
        );
        assert_same_terminal(status, &direct, &wrapped);
        // Both runs' requests reached the upstream: the error came from it, not from us.
        let posts = mock
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.starts_with("/v1/messages"))
            .count();
        assert!(posts >= 2, "{status}: {posts} requests reached the mock");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_sees_provider_errors_through_headroom_as_it_does_directly() {
    let world = World::new();
    std::os::unix::fs::symlink(client("codex"), world.bin.join("codex")).unwrap();
    let codex_home = world.home.join(".codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    let mut login = Command::new(world.bin.join("codex"));
    base(&world, &mut login);
    login
        .env("CODEX_HOME", &codex_home)
        .args(["login", "--with-api-key"])
        .stdin(Stdio::piped());
    let mut child = login.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"sk-codex-errors-e2e").unwrap();
    }
    assert!(child.wait().unwrap().success(), "codex login failed");
    let no_retries = [
        "-c",
        "model_providers.headroom.request_max_retries=0",
        "-c",
        "model_providers.headroom.stream_max_retries=0",
    ];
    let exec = ["exec", "--skip-git-repo-check", "say hi"];
    for status in [401u16, 429, 500] {
        let reply = openai_error(status);
        let mock = MockUpstream::start().await;
        let r = reply.clone();
        mock.respond_with(move |method, path, _| {
            (method == "POST" && path.contains("/responses")).then(|| r.clone())
        });

        // Directly: the same provider `wrap` configures, pointed at the mock.
        let mut direct = Command::new(world.bin.join("codex"));
        base(&world, &mut direct);
        direct
            .env("CODEX_HOME", &codex_home)
            .args(["-c", "model_provider=\"headroom\""])
            .args(["-c", "model_providers.headroom.name=\"Headroom\""])
            .arg("-c")
            .arg(format!(
                "model_providers.headroom.base_url=\"{}/v1\"",
                mock.url()
            ))
            .args(["-c", "model_providers.headroom.wire_api=\"responses\""])
            .args(["-c", "model_providers.headroom.requires_openai_auth=true"])
            .args(no_retries)
            .args(exec);
        let direct = tokio::time::timeout(Duration::from_secs(120), output_of(direct))
            .await
            .expect("codex finishes");

        let port = free_port().to_string();
        let mut wrapped = world.headroom(["wrap", "--port", &port, "codex", "--"]);
        wrapped
            .args(no_retries)
            .args(exec)
            .env("CODEX_HOME", &codex_home)
            .env("OPENAI_TARGET_API_URL", mock.url())
            .env("HEADROOM_WRAP_PROXY_TIMEOUT", "30")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let wrapped = tokio::time::timeout(Duration::from_secs(120), output_of(wrapped))
            .await
            .expect("wrapped codex finishes");

        assert!(!direct.status.success(), "{status}: direct run succeeded");
        assert_eq!(
            wrapped.status.code(),
            direct.status.code(),
            "{status}: exit code through Headroom differs\ndirect: {}\nwrapped: {}",
            shown(&direct),
            shown(&wrapped)
        );
        assert_same_terminal(status, &direct, &wrapped);
        let posts = mock
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.contains("/responses"))
            .count();
        assert!(posts >= 2, "{status}: {posts} requests reached the mock");
    }
}
