//! `headroom wrap` next to a persistent deployment (real install engine with its recording
//! runner, real proxy): a healthy one is reused and nothing is started; a stopped one is started
//! through its supervisor and awaited; `unwrap` never edits a deployment's wiring.

mod wrap_support;

use std::time::{Duration, Instant};

use wrap_support::*;

/// The install engine's test hooks: record supervisor commands instead of running them.
fn engine_env(world: &World) -> Vec<(String, String)> {
    vec![
        (
            "HEADROOM_TEST_RUNNER_LOG".into(),
            world.tmp.path().join("runner.log").display().to_string(),
        ),
        ("HEADROOM_TEST_SYSTEMD".into(), "1".into()),
        ("HEADROOM_TEST_OS".into(), "linux".into()),
    ]
}

fn runner_log(world: &World) -> String {
    std::fs::read_to_string(world.tmp.path().join("runner.log")).unwrap_or_default()
}

fn install(world: &World, port: u16, target: &str) {
    let out = world
        .headroom([
            "install",
            "apply",
            "--preset",
            "persistent-service",
            "--port",
            &port.to_string(),
            "--target",
            target,
            "--yes",
        ])
        .envs(engine_env(world))
        .output()
        .unwrap();
    assert!(out.status.success(), "install apply: {}", stderr(&out));
    assert!(world
        .workspace
        .join("deploy/default/manifest.json")
        .exists());
    std::fs::remove_file(world.tmp.path().join("runner.log")).unwrap();
}

#[test]
fn a_healthy_deployment_is_reused_and_nothing_is_started() {
    let world = World::new();
    world.fake_tool("claude");
    let port = free_port();
    install(&world, port, "claude");
    let _proxy = RealProxy::start(&world, port, Some("default"));
    let out = world
        .headroom([
            "wrap",
            "--port",
            &port.to_string(),
            "claude",
            "--",
            "-p",
            "hi",
        ])
        .envs(engine_env(&world))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "using Headroom deployment 'default' on http://127.0.0.1:{port}"
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(runner_log(&world), "", "no supervisor command may run");
    assert!(
        !world.port_dir(port).join("proxy.json").exists(),
        "no ephemeral proxy"
    );
    assert!(
        !world.port_dir(port).join("proxy.log").exists(),
        "no ephemeral proxy"
    );
    assert_eq!(
        world.tool_env("claude")["ANTHROPIC_BASE_URL"],
        format!("http://127.0.0.1:{port}")
    );
    assert_eq!(world.read_out("claude.args"), "-p\nhi\n");
}

#[test]
fn any_running_headroom_is_reused_without_a_lease() {
    let world = World::new();
    world.fake_tool("codex");
    let port = free_port();
    let _proxy = RealProxy::start(&world, port, None); // e.g. `headroom proxy` in another terminal
    let out = world.run(&["wrap", "--port", &port.to_string(), "codex"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("using the Headroom proxy on"),
        "{}",
        stderr(&out)
    );
    assert!(!world.port_dir(port).join("proxy.json").exists());
}

#[test]
fn a_stopped_deployment_is_started_through_its_supervisor_and_awaited() {
    let world = World::new();
    world.fake_tool("claude");
    let port = free_port();
    install(&world, port, "claude");
    assert!(!port_is_open(port));
    let wrap = world
        .headroom(["wrap", "--port", &port.to_string(), "claude"])
        .envs(engine_env(&world))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Play the supervisor: when the engine issues the start command, bring the deployment's
    // proxy up (late, to prove wrap waits for it rather than giving up or starting its own).
    wait_until(
        Duration::from_secs(20),
        || runner_log(&world).contains("systemctl --user start headroom-default.service"),
        "the install engine to start the service",
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        world.read_out("claude.pid").is_empty(),
        "the tool waits for the proxy"
    );
    let _proxy = RealProxy::start(&world, port, Some("default"));
    let started = Instant::now();
    let out = wrap.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(5));
    let err = stderr(&out);
    assert!(err.contains("starting deployment 'default'"), "{err}");
    assert!(err.contains("started deployment 'default'"), "{err}");
    assert!(
        !world.port_dir(port).join("proxy.json").exists(),
        "no ephemeral proxy"
    );
    assert!(
        !world.port_dir(port).join("proxy.log").exists(),
        "no ephemeral proxy"
    );
    assert_eq!(
        world.tool_env("claude")["ANTHROPIC_BASE_URL"],
        format!("http://127.0.0.1:{port}")
    );
}

#[test]
fn unwrap_points_at_install_remove_for_a_deployment_and_edits_nothing() {
    let world = World::new();
    let port = free_port();
    install(&world, port, "claude");
    let snapshot = |dir: &std::path::Path| {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push((p.clone(), std::fs::read(&p).unwrap()));
                }
            }
        }
        files.sort();
        files
    };
    let before = (snapshot(&world.home), snapshot(&world.workspace));
    let out = world.run(&["unwrap", "claude"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("still wired to Headroom by the install deployment 'default'"),
        "{err}"
    );
    assert!(err.contains("hint: to stop routing claude through Headroom, run `headroom install remove --profile default`"), "{err}");
    assert_eq!((snapshot(&world.home), snapshot(&world.workspace)), before);

    let out = world.run(&["unwrap", "codex"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to undo"));

    let out = world.run(&["unwrap", "vim"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn unwrap_codex_reports_an_older_wraps_config_block_without_editing_it() {
    let world = World::new();
    let codex = world.home.join(".codex");
    std::fs::create_dir_all(&codex).unwrap();
    let config = "model = \"o3\"\n# --- Headroom proxy (auto-injected by headroom wrap codex) ---\nmodel_provider = \"headroom\"\nopenai_base_url = \"http://127.0.0.1:8787/v1\"\n# --- end Headroom ---\n";
    std::fs::write(codex.join("config.toml"), config).unwrap();
    let out = world.run(&["unwrap", "codex"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(
            ".codex/config.toml still contains the block an older `headroom wrap codex` added"
        ),
        "{err}"
    );
    assert!(err.contains("hint: delete those lines"), "{err}");
    assert_eq!(
        std::fs::read_to_string(codex.join("config.toml")).unwrap(),
        config
    );
    // CODEX_HOME is honoured.
    let elsewhere = world.tmp.path().join("codex-home");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = world
        .headroom(["unwrap", "codex"])
        .env("CODEX_HOME", &elsewhere)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Something on the port that answers `/health` exactly like Headroom, and records whether
/// anything else (a tool's request, with its API key) ever reaches it.
struct Impostor {
    got_a_request: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Impostor {
    fn start(port: u16) -> Impostor {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let got = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut buf = [0u8; 8192];
                let n = stream.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                if !head.starts_with("GET /health") {
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                // Even echoes a `proof` field: without the secret it cannot be the right one.
                let body = r#"{"service":"headroom-proxy","status":"healthy","ready":true,"version":"0.1.0","proof":"00"}"#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Impostor { got_a_request: got }
    }
}

#[test]
fn a_listener_posing_as_headroom_never_gets_the_tool() {
    let world = World::new();
    world.fake_tool("claude");

    // 1. No key for the port: it cannot prove anything.
    let port = free_port();
    let impostor = Impostor::start(port);
    let out = world.run(&["wrap", "--port", &port.to_string(), "claude"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot prove it is yours"),
        "{}",
        stderr(&out)
    );
    assert!(
        world.read_out("claude.pid").is_empty(),
        "the tool must not start"
    );

    // 2. A live key (its writer, a real Headroom in this process, is alive) for the port the
    //    impostor holds: the impostor's proof cannot match it.
    let port2 = free_port();
    let real_port = free_port();
    let proxy = RealProxy::start(&world, real_port, None);
    let real_key = world.workspace.join(format!("instances/{real_port}.key"));
    let key = world.workspace.join(format!("instances/{port2}.key"));
    std::fs::copy(&real_key, &key).unwrap();
    drop(proxy);
    assert!(
        !real_key.exists(),
        "a proxy that stops takes its key with it"
    );
    let impostor2 = Impostor::start(port2);
    let out = world.run(&["wrap", "--port", &port2.to_string(), "claude"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot prove it is the proxy that registered the port"),
        "{}",
        stderr(&out)
    );
    assert!(
        world.read_out("claude.pid").is_empty(),
        "the tool must not start"
    );
    std::thread::sleep(Duration::from_millis(100));
    for i in [&impostor, &impostor2] {
        assert!(!i.got_a_request.load(std::sync::atomic::Ordering::SeqCst));
    }
}

#[test]
fn the_real_proxy_proves_itself_over_health() {
    let world = World::new();
    let port = free_port();
    let _proxy = RealProxy::start(&world, port, None);
    let key: serde_json::Value = serde_json::from_slice(
        &std::fs::read(world.workspace.join(format!("instances/{port}.key"))).unwrap(),
    )
    .unwrap();
    let secret = key["secret"].as_str().unwrap();
    let answer = headroom_protocol::http::get_with(
        "127.0.0.1",
        port,
        "/health",
        "test",
        &[("x-headroom-challenge", "n0nce")],
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(
        answer.json()["proof"],
        headroom_proxy::identity::proof(secret, "n0nce")
    );
    // Without a challenge there is no proof, and the secret itself never appears.
    let plain =
        headroom_protocol::http::get("127.0.0.1", port, "/health", "t", Duration::from_secs(5))
            .unwrap();
    assert!(plain.json().get("proof").is_none());
    assert!(!plain.text().contains(secret) && !answer.text().contains(secret));
}

#[test]
fn without_a_port_wrap_uses_the_running_deployment_on_its_port() {
    let world = World::new();
    world.fake_tool("claude");
    let port = free_port();
    install(&world, port, "claude");
    let _proxy = RealProxy::start(&world, port, Some("default"));
    let out = world
        .headroom(["wrap", "claude"])
        .envs(engine_env(&world))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("port {port} is deployment 'default''s")),
        "{err}"
    );
    assert_eq!(
        world.tool_env("claude")["ANTHROPIC_BASE_URL"],
        format!("http://127.0.0.1:{port}")
    );
    assert_eq!(runner_log(&world), "", "no supervisor command may run");
}

#[test]
fn a_hung_deployment_is_restarted_through_its_supervisor() {
    let world = World::new();
    world.fake_tool("claude");
    let port = free_port();
    install(&world, port, "claude");
    // Accepts connections (the kernel's backlog) but never answers: a stopped or wedged proxy.
    let hung = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let wrap = world
        .headroom(["wrap", "--port", &port.to_string(), "claude"])
        .envs(engine_env(&world))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Play the supervisor: on restart, the hung process goes and a healthy proxy comes up.
    wait_until(
        Duration::from_secs(20),
        || runner_log(&world).contains("systemctl --user restart headroom-default.service"),
        "the install engine to restart the service",
    );
    drop(hung);
    let _proxy = RealProxy::start(&world, port, Some("default"));
    let out = wrap.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("does not answer"), "{err}");
    assert!(
        err.contains("restarting it through its supervisor"),
        "{err}"
    );
    assert_eq!(
        world.tool_env("claude")["ANTHROPIC_BASE_URL"],
        format!("http://127.0.0.1:{port}")
    );
}

#[test]
fn a_deployment_the_user_stopped_is_not_started_behind_their_back() {
    let world = World::new();
    world.fake_tool("claude");
    let port = free_port();
    install(&world, port, "claude");
    let out = world
        .headroom(["install", "stop"])
        .envs(engine_env(&world))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let _ = std::fs::remove_file(world.tmp.path().join("runner.log"));

    let out = world
        .headroom(["wrap", "--port", &port.to_string(), "claude"])
        .envs(engine_env(&world))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("was stopped with `headroom install stop`"),
        "{err}"
    );
    assert!(err.contains("started a proxy for this session"), "{err}");
    assert!(
        !runner_log(&world).contains("start"),
        "the deployment must stay stopped: {}",
        runner_log(&world)
    );
    // `--start` is the explicit way back (once the first session's proxy has gone).
    wait_until(
        Duration::from_secs(5),
        || !port_is_open(port),
        "the first session's proxy to exit",
    );
    let wrap = world
        .headroom(["wrap", "--start", "--port", &port.to_string(), "claude"])
        .envs(engine_env(&world))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(
        Duration::from_secs(20),
        || runner_log(&world).contains("systemctl --user start headroom-default.service"),
        "the install engine to start the service",
    );
    let _proxy = RealProxy::start(&world, port, Some("default"));
    let out = wrap.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("started deployment 'default'"));
}
