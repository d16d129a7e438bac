//! The real Codex CLI (pinned in `.ci/clients/package.json`, installed there by
//! `scripts/setup.sh test`, never on PATH) through the real `headroom`: `wrap codex` and a
//! provider-scope install both reach Headroom with Codex's own `Authorization` header, and the
//! proxy forwards it upstream. Current Codex ignores `OPENAI_BASE_URL`, and a custom provider
//! without `requires_openai_auth = true` sends no credentials: both were silent failures.

mod wrap_support;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use headroom_testkit::{MockUpstream, Reply};
use wrap_support::*;

const KEY: &str = "sk-headroom-codex-e2e";

fn real_codex() -> PathBuf {
    pinned_client("clients/node_modules/.bin/codex", "Codex CLI")
}

/// A world whose `codex` is the real one and whose Codex is logged in with an API key.
fn codex_world() -> World {
    let world = World::new();
    std::os::unix::fs::symlink(real_codex(), world.bin.join("codex")).unwrap();
    std::fs::create_dir_all(world.home.join(".codex")).unwrap();
    let mut login = Command::new(world.bin.join("codex"))
        .args(["login", "--with-api-key"])
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", world.bin.display()),
        )
        .env("HOME", &world.home)
        .env("CODEX_HOME", world.home.join(".codex"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    login
        .stdin
        .take()
        .unwrap()
        .write_all(KEY.as_bytes())
        .unwrap();
    assert!(login.wait().unwrap().success(), "codex login failed");
    world
}

fn assert_reached_with_key(mock: &MockUpstream) {
    let reqs = mock.requests();
    let responses: Vec<_> = reqs.iter().filter(|r| r.path == "/v1/responses").collect();
    assert!(
        !responses.is_empty(),
        "Codex never reached the upstream through Headroom: {:?}",
        reqs.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    for r in responses {
        assert_eq!(
            r.header("authorization").as_deref(),
            Some(format!("Bearer {KEY}").as_str()),
            "Codex's credentials must arrive intact"
        );
        assert!(
            r.header("user-agent").unwrap_or_default().contains("codex"),
            "{:?}",
            r.header("user-agent")
        );
    }
}

/// `headroom wrap --port <port> codex -- exec "say hi"` in `world`, with one variable of the
/// test's (the session's upstream, the gateway's key).
async fn wrap_codex_exec(world: &World, port: &str, var: (&str, &str)) -> std::process::Output {
    wrap_codex_exec_with(world, port, var, &[]).await
}

/// `headroom wrap codex -- exec <codex_args> --skip-git-repo-check "say hi"`.
async fn wrap_codex_exec_with(
    world: &World,
    port: &str,
    var: (&str, &str),
    codex_args: &[&str],
) -> std::process::Output {
    let mut args = vec!["wrap", "--port", port, "codex", "--", "exec"];
    args.extend_from_slice(codex_args);
    args.extend(["--skip-git-repo-check", "say hi"]);
    let mut cmd = world.headroom(args);
    cmd.env(var.0, var.1)
        .env("CODEX_HOME", world.home.join(".codex"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    output_of(cmd).await
}

#[tokio::test(flavor = "multi_thread")]
async fn wrap_codex_routes_the_real_codex_through_headroom() {
    let world = codex_world();
    let mock = MockUpstream::start().await;
    for _ in 0..8 {
        mock.push(Reply::openai_responses_sse("done", Duration::ZERO));
    }
    let port = free_port().to_string();
    let out = wrap_codex_exec(&world, &port, ("OPENAI_TARGET_API_URL", &mock.url())).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_reached_with_key(&mock);
    assert!(
        out.status.success(),
        "codex exited {:?}: {stderr}",
        out.status.code()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_scope_wiring_routes_the_real_codex_through_headroom() {
    let world = codex_world();
    let mock = MockUpstream::start().await;
    for _ in 0..8 {
        mock.push(Reply::openai_responses_sse("done", Duration::ZERO));
    }
    let port = free_port();
    // The install engine's provider-scope Codex edit (what `install apply --scope provider`
    // and the app write), applied for real to the fake HOME's config.toml.
    apply_provider_scope(&world, headroom_install::targets::Tool::Codex, port);
    let config = std::fs::read_to_string(world.home.join(".codex/config.toml")).unwrap();
    assert!(config.contains("requires_openai_auth = true"), "{config}");

    let mut proxy = world
        .headroom([
            "proxy",
            "--port",
            &port.to_string(),
            "--openai-api-url",
            &mock.url(),
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "proxy never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut cmd = Command::new(world.bin.join("codex"));
    cmd.args(["exec", "--skip-git-repo-check", "say hi"])
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", world.bin.display()),
        )
        .env("HOME", &world.home)
        .current_dir(world.tmp.path())
        .stdin(Stdio::null());
    let out = tokio::task::spawn_blocking({
        let w = world.home.clone();
        move || {
            cmd.env("CODEX_HOME", w.join(".codex"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd.output().unwrap()
        }
    })
    .await
    .unwrap();
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert_reached_with_key(&mock);
    assert!(
        out.status.success(),
        "codex exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `headroom proxy` on a free port forwarding OpenAI traffic to `gateway`, once it answers
/// `/health`: (its port, the process).
fn proxy_forwarding_to(world: &World, gateway: &MockUpstream) -> (String, std::process::Child) {
    let port_n = free_port();
    let port = port_n.to_string();
    let gateway_v1 = format!("{}/v1", gateway.url());
    let proxy = world.spawn(
        &["proxy", "--port", &port],
        &[("OPENAI_TARGET_API_URL", gateway_v1.as_str())],
    );
    wait_until(
        Duration::from_secs(20),
        || health(port_n).is_some(),
        "the proxy to answer /health",
    );
    (port, proxy)
}

/// How many requests the proxy on `port` has served, read through `headroom stats --json`
/// (the real CLI parsing the real proxy's `/stats`).
fn requests_through(world: &World, port: &str) -> u64 {
    let out = world.run(&["stats", "--port", port, "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "headroom stats --json: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    headroom_protocol::Stats::parse(doc["stats"].to_string().as_bytes())
        .unwrap_or_else(|| panic!("`stats` is not the proxy's /stats document: {doc}"))
        .requests
        .total
}

/// A company gateway configured as Codex's own provider (`model_provider = "corp"` with its
/// `env_key`): `wrap codex` keeps that provider — its key, its headers — and only points its
/// `base_url` at the session proxy, which forwards to the gateway. Before, `wrap` swapped in a
/// provider of its own and the gateway (and its key) were bypassed.
#[tokio::test(flavor = "multi_thread")]
async fn wrap_codex_chains_codexs_own_gateway_provider() {
    let world = codex_world();
    let gateway = MockUpstream::start().await;
    for _ in 0..8 {
        gateway.push(Reply::openai_responses_sse("done", Duration::ZERO));
    }
    let config = world.home.join(".codex/config.toml");
    let original = format!(
        "model_provider = \"corp\"\n\n[model_providers.corp]\nname = \"Corp\"\nbase_url = \"{}/v1\"\nenv_key = \"CORP_KEY\"\nwire_api = \"responses\"\nhttp_headers = {{ \"x-team\" = \"blue\" }}\n",
        gateway.url()
    );
    std::fs::write(&config, &original).unwrap();
    // A Headroom already forwarding to that gateway: `wrap` uses it, and its `/stats` then
    // shows whether Codex's requests went through it (the gateway alone cannot tell).
    let (port, mut proxy) = proxy_forwarding_to(&world, &gateway);
    let out = wrap_codex_exec(&world, &port, ("CORP_KEY", "sk-corp-gateway")).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "codex exited {:?}: {stderr}",
        out.status.code()
    );
    let reqs = gateway.requests();
    let responses: Vec<_> = reqs.iter().filter(|r| r.path == "/v1/responses").collect();
    assert!(!responses.is_empty(), "the gateway got nothing: {stderr}");
    for r in &responses {
        assert_eq!(
            r.header("authorization").as_deref(),
            Some("Bearer sk-corp-gateway"),
            "the gateway provider's own key must arrive"
        );
        assert_eq!(r.header("x-team").as_deref(), Some("blue"));
    }
    // Through Headroom: the proxy counted every request the gateway got.
    let total = requests_through(&world, &port);
    assert!(
        total as usize >= responses.len(),
        "the gateway was reached directly, bypassing Headroom ({total} requests through it, {} at the gateway): {stderr}",
        responses.len()
    );
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);
}

/// `codex --profile corp` layers `$CODEX_HOME/corp.config.toml` over `config.toml` (Codex 0.171
/// refuses the older `[profiles.corp]` tables). A provider that file names must be the one
/// `wrap` points here and chains, not the top-level one the run never uses.
#[tokio::test(flavor = "multi_thread")]
async fn wrap_codex_follows_the_profile_file_it_runs_with() {
    let world = codex_world();
    let gateway = MockUpstream::start().await;
    let unused = MockUpstream::start().await;
    for _ in 0..8 {
        gateway.push(Reply::openai_responses_sse("done", Duration::ZERO));
    }
    let codex_home = world.home.join(".codex");
    let config = codex_home.join("config.toml");
    let original = format!(
        "model_provider = \"top\"\n\n[model_providers.top]\nname = \"Top\"\nbase_url = \"{}/v1\"\nenv_key = \"CORP_KEY\"\nwire_api = \"responses\"\n",
        unused.url()
    );
    std::fs::write(&config, &original).unwrap();
    let profile = codex_home.join("corp.config.toml");
    let profile_text = format!(
        "model_provider = \"corp\"\n\n[model_providers.corp]\nname = \"Corp\"\nbase_url = \"{}/v1\"\nenv_key = \"CORP_KEY\"\nwire_api = \"responses\"\n",
        gateway.url()
    );
    std::fs::write(&profile, &profile_text).unwrap();
    // A Headroom already forwarding to the profile's gateway: `wrap` uses it, and its `/stats`
    // then shows whether Codex's requests went through it.
    let (port, mut proxy) = proxy_forwarding_to(&world, &gateway);
    let out = wrap_codex_exec_with(
        &world,
        &port,
        ("CORP_KEY", "sk-corp-profile"),
        &["--profile", "corp"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "codex exited {:?}: {stderr}",
        out.status.code()
    );
    let responses: Vec<_> = gateway
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/responses")
        .collect();
    assert!(
        !responses.is_empty(),
        "the profile's gateway got nothing: {stderr}"
    );
    for r in &responses {
        assert_eq!(
            r.header("authorization").as_deref(),
            Some("Bearer sk-corp-profile")
        );
    }
    assert!(
        unused.requests().is_empty(),
        "the top-level provider is not the one this run uses"
    );
    assert!(
        stderr.contains("model_providers.corp.base_url in") && stderr.contains("corp.config.toml"),
        "wrap must say it chains the profile's gateway: {stderr}"
    );
    assert!(
        requests_through(&world, &port) as usize >= responses.len(),
        "the profile's gateway was reached directly, bypassing Headroom: {stderr}"
    );
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);
    assert_eq!(std::fs::read_to_string(&profile).unwrap(), profile_text);
}
