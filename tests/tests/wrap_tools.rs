//! `headroom wrap` with the real binary: what the tool receives (arguments, env, stdio), what
//! `wrap` returns (the tool's exit status), and the errors users get.

mod wrap_support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use wrap_support::*;

#[test]
fn arguments_pass_through_exactly_and_the_exit_code_comes_back() {
    let world = World::new();
    world.fake_tool("claude");
    let port = free_port().to_string();
    let args = [
        "a b",
        "double\"quote",
        "it's",
        "--",
        "--port",
        "",
        "$HOME",
        "*",
        "ünï",
    ];
    let mut cmd = world.headroom(["wrap", "--port", &port, "claude", "--"]);
    cmd.args(args).env("EXIT", "42");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(42), "{}", stderr(&out));
    assert_eq!(world.read_out("claude.argc").trim(), args.len().to_string());
    let expected: String = args.iter().map(|a| format!("{a}\n")).collect();
    assert_eq!(world.read_out("claude.args"), expected);
    // wrap's own messages go to stderr; stdout belongs to the tool.
    assert!(out.stdout.is_empty());
}

#[test]
fn stdin_and_stdout_are_the_tools() {
    let world = World::new();
    let script = world.bin.join("codex");
    std::fs::write(
        &script,
        "#!/bin/sh\nread line\necho \"got:$line\"\nexit 3\n",
    )
    .unwrap();
    make_executable(&script);
    let mut child = world
        .headroom(["wrap", "--no-proxy", "codex"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got:hello\n");
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn a_tool_killed_by_a_signal_reports_it_like_a_shell_would() {
    let world = World::new();
    let script = world.bin.join("aider");
    std::fs::write(&script, "#!/bin/sh\nkill -TERM $$\nsleep 5\n").unwrap();
    make_executable(&script);
    let port = free_port().to_string();
    let out = world.run(&["wrap", "--port", &port, "aider"]);
    assert_eq!(out.status.signal(), Some(15), "{}", stderr(&out));
    // Through a shell: 128 + SIGTERM.
    let bin = headroom_bin().display().to_string();
    let shell = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("'{bin}' wrap --port {port} aider; echo \"rc=$?\""))
        .env("PATH", format!("{}:/usr/bin:/bin", world.bin.display()))
        .env("HOME", &world.home)
        .env("HEADROOM_WORKSPACE_DIR", &world.workspace)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&shell.stdout).trim(), "rc=143");
}

#[test]
fn signals_sent_to_wrap_reach_the_tool() {
    let world = World::new();
    let script = world.bin.join("claude");
    let out_file = world.out.join("trapped");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ntrap 'echo HUP >> {f}; exit 0' HUP\ntrap 'echo INT >> {f}; exit 130' INT\necho $$ > {f}.pid\nwhile :; do sleep 0.02; done\n",
            f = out_file.display()
        ),
    )
    .unwrap();
    make_executable(&script);
    let port = free_port().to_string();
    let mut wrap = world.spawn(&["wrap", "--port", &port, "claude"], &[]);
    world.wait_out("trapped.pid");
    let kill = std::process::Command::new("kill")
        .args(["-INT", &wrap.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = wrap.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(world.read_out("trapped"), "INT\n");
}

#[test]
fn signals_sent_to_wrap_reach_openclaw_and_the_config_is_restored() {
    let world = World::new();
    let script = world.bin.join("openclaw");
    let out_file = world.out.join("trapped");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ntrap 'echo TERM >> {f}; exit 143' TERM\necho $$ > {f}.pid\nwhile :; do sleep 0.02; done\n",
            f = out_file.display()
        ),
    )
    .unwrap();
    make_executable(&script);
    let port = free_port().to_string();
    let mut wrap = world.spawn(&["wrap", "--no-proxy", "--port", &port, "openclaw"], &[]);
    world.wait_out("trapped.pid");
    assert!(world.home.join(".openclaw/openclaw.json").exists());
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &wrap.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = wrap.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert_eq!(world.read_out("trapped"), "TERM\n");
    // wrap outlived the signal and took its edit out again.
    assert_eq!(std::fs::read_dir(&world.home).unwrap().count(), 0);
}

#[test]
fn the_generic_form_sets_both_base_urls() {
    let world = World::new();
    world.fake_tool("my-agent");
    let port = free_port();
    let out = world.run(&[
        "wrap",
        "--port",
        &port.to_string(),
        "--",
        "my-agent",
        "--x",
        "y",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let env = world.tool_env("my-agent");
    assert_eq!(
        env["ANTHROPIC_BASE_URL"],
        format!("http://127.0.0.1:{port}")
    );
    assert_eq!(
        env["OPENAI_BASE_URL"],
        format!("http://127.0.0.1:{port}/v1")
    );
    assert_eq!(world.read_out("my-agent.args"), "--x\ny\n");
}

#[test]
fn each_tool_gets_its_env() {
    let world = World::new();
    let port = free_port();
    let p = port.to_string();
    let anthropic = format!("http://127.0.0.1:{port}");
    let openai = format!("http://127.0.0.1:{port}/v1");
    for tool in ["claude", "codex", "copilot", "aider", "opencode"] {
        world.fake_tool(tool);
        let out = world
            .headroom(["wrap", "--no-proxy", "--port", &p, tool])
            .env("ANTHROPIC_API_KEY", "sk-ant-test")
            .output()
            .unwrap();
        assert!(out.status.success(), "{tool}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("sk-ant-test"),
            "never print API keys"
        );
    }
    let get = |tool: &str, key: &str| world.tool_env(tool).get(key).cloned();
    assert_eq!(get("claude", "ANTHROPIC_BASE_URL"), Some(anthropic.clone()));
    assert_eq!(get("claude", "ENABLE_TOOL_SEARCH").as_deref(), Some("true"));
    assert_eq!(get("codex", "OPENAI_BASE_URL"), Some(openai.clone()));
    assert_eq!(
        get("copilot", "COPILOT_PROVIDER_TYPE").as_deref(),
        Some("anthropic")
    );
    assert_eq!(
        get("copilot", "COPILOT_PROVIDER_BASE_URL"),
        Some(anthropic.clone())
    );
    assert_eq!(
        get("copilot", "COPILOT_PROVIDER_API_KEY").as_deref(),
        Some("sk-ant-test")
    );
    assert_eq!(get("aider", "OPENAI_API_BASE"), Some(openai.clone()));
    assert_eq!(get("aider", "ANTHROPIC_BASE_URL"), Some(anthropic.clone()));
    let config: serde_json::Value =
        serde_json::from_str(&get("opencode", "OPENCODE_CONFIG_CONTENT").unwrap()).unwrap();
    assert_eq!(
        config["provider"]["anthropic"]["options"]["baseURL"],
        openai
    );
    // No dotfile was touched.
    assert_eq!(std::fs::read_dir(&world.home).unwrap().count(), 0);
    let _ = anthropic;
}

/// A fake `openclaw` that saves the config it would read (and its env) while it runs.
fn fake_openclaw(world: &World) {
    let script = format!(
        "#!/bin/sh\ncp \"$HOME/.openclaw/openclaw.json\" \"{out}/openclaw.config\" 2>/dev/null\nenv | sort > \"{out}/openclaw.env\"\necho $$ > \"{out}/openclaw.pid.tmp\" && mv \"{out}/openclaw.pid.tmp\" \"{out}/openclaw.pid\"\nif [ -n \"$WAIT\" ]; then\n  while [ ! -e \"{out}/openclaw.release\" ]; do sleep 0.02; done\nfi\nexit ${{EXIT:-0}}\n",
        out = world.out.display()
    );
    let path = world.bin.join("openclaw");
    std::fs::write(&path, script).unwrap();
    make_executable(&path);
}

/// Lets a waiting fake `openclaw` whose `wrap` was killed end, and waits until it has: if the
/// test ended first, its temp dir (and the release file) would be gone and the orphan would
/// poll for it forever.
fn release_openclaw(world: &World, pid: u32) {
    std::fs::write(world.out.join("openclaw.release"), "").unwrap();
    wait_until(
        Duration::from_secs(10),
        || !pid_alive(pid),
        "the released fake openclaw to exit",
    );
}

const OPENCLAW_CONFIG: &str = "{\n  // mine\n  \"models\": {\n    \"providers\": {\n      \"anthropic\": { \"apiKey\": \"${ANTHROPIC_API_KEY}\" }\n    }\n  },\n  \"gateway\": { \"port\": 18789 }\n}\n";

#[test]
fn openclaw_gets_its_config_edited_for_the_session_and_restored_after() {
    let world = World::new();
    fake_openclaw(&world);
    let config = world.home.join(".openclaw/openclaw.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, OPENCLAW_CONFIG).unwrap();
    let port = free_port();
    let out = world
        .headroom([
            "wrap",
            "--no-proxy",
            "--port",
            &port.to_string(),
            "openclaw",
        ])
        .env("EXIT", "7")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let seen: serde_json::Value = serde_json::from_str(&headroom_install::jsonc::strip_comments(
        &world.read_out("openclaw.config"),
    ))
    .unwrap();
    let providers = &seen["models"]["providers"];
    assert_eq!(
        providers["anthropic"]["baseUrl"],
        format!("http://127.0.0.1:{port}")
    );
    assert_eq!(providers["anthropic"]["api"], "anthropic-messages");
    assert_eq!(providers["anthropic"]["apiKey"], "${ANTHROPIC_API_KEY}");
    assert_eq!(
        providers["openai"]["baseUrl"],
        format!("http://127.0.0.1:{port}/v1")
    );
    assert_eq!(providers["openai"]["api"], "openai-responses");
    // OpenClaw reads no base-URL variable; wrap sets none for it.
    let env = world.read_out("openclaw.env");
    assert!(
        !env.contains("ANTHROPIC_BASE_URL") && !env.contains("OPENAI_BASE_URL"),
        "{env}"
    );
    // Restored byte for byte once OpenClaw exits, and said so.
    assert_eq!(std::fs::read_to_string(&config).unwrap(), OPENCLAW_CONFIG);
    assert!(stderr(&out).contains("restored"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("plugin"), "{}", stderr(&out));
    // Nothing left to undo.
    let out = world.run(&["unwrap", "openclaw"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to undo"));
}

#[test]
fn openclaw_without_a_config_gets_one_for_the_session_only() {
    let world = World::new();
    fake_openclaw(&world);
    let port = free_port();
    let out = world.run(&[
        "wrap",
        "--no-proxy",
        "--port",
        &port.to_string(),
        "openclaw",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(world
        .read_out("openclaw.config")
        .contains("anthropic-messages"));
    // The file and the `.openclaw` directory it needed are gone again.
    assert_eq!(std::fs::read_dir(&world.home).unwrap().count(), 0);
}

#[test]
fn an_openclaw_config_headroom_cannot_edit_is_refused_before_anything_starts() {
    let world = World::new();
    fake_openclaw(&world);
    let config = world.home.join(".openclaw/openclaw.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    // JSON5 that OpenClaw reads but Headroom does not edit.
    std::fs::write(&config, "{ models: {} }\n").unwrap();
    let port = free_port();
    let out = world.run(&["wrap", "--port", &port.to_string(), "openclaw"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("openclaw.json") && err.contains("fix the file"),
        "{err}"
    );
    assert!(
        world.read_out("openclaw.env").is_empty(),
        "OpenClaw must not run"
    );
    assert!(!port_is_open(port), "no proxy may be started");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "{ models: {} }\n"
    );
}

#[test]
fn unwrap_openclaw_undoes_what_a_killed_wrap_left() {
    let world = World::new();
    fake_openclaw(&world);
    let config = world.home.join(".openclaw/openclaw.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, OPENCLAW_CONFIG).unwrap();
    let port = free_port().to_string();
    let mut wrap = world.spawn(
        &["wrap", "--no-proxy", "--port", &port, "openclaw"],
        &[("WAIT", "1")],
    );
    let pid: u32 = world.wait_out("openclaw.pid").trim().parse().unwrap();
    // SIGKILL: wrap cannot clean up.
    wrap.kill().unwrap();
    wrap.wait().unwrap();
    release_openclaw(&world, pid);
    assert!(std::fs::read_to_string(&config)
        .unwrap()
        .contains("anthropic-messages"));
    let out = world.run(&["unwrap", "openclaw"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("restored"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), OPENCLAW_CONFIG);
}

#[test]
fn a_second_wrap_openclaw_recovers_a_stale_edit_first() {
    let world = World::new();
    fake_openclaw(&world);
    let config = world.home.join(".openclaw/openclaw.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    // The user's own gateway: it must stay the destination, behind Headroom.
    let mine = OPENCLAW_CONFIG.replace(
        "\"apiKey\"",
        "\"baseUrl\": \"https://llm.corp.example\", \"apiKey\"",
    );
    std::fs::write(&config, &mine).unwrap();
    let first = free_port().to_string();
    let mut wrap = world.spawn(
        &["wrap", "--no-proxy", "--port", &first, "openclaw"],
        &[("WAIT", "1")],
    );
    let pid: u32 = world.wait_out("openclaw.pid").trim().parse().unwrap();
    wrap.kill().unwrap();
    wrap.wait().unwrap();
    release_openclaw(&world, pid);
    std::fs::remove_file(world.out.join("openclaw.pid")).unwrap();
    let second = free_port().to_string();
    let out = world.run(&["wrap", "--no-proxy", "--port", &second, "openclaw"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("undid the OpenClaw edit"), "{err}");
    assert!(
        err.contains("forwards Anthropic requests to https://llm.corp.example")
            && err.contains("models.providers.anthropic.baseUrl"),
        "{err}"
    );
    assert!(world
        .read_out("openclaw.config")
        .contains(&format!("http://127.0.0.1:{second}")));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), mine);
}

#[test]
fn no_proxy_starts_nothing_and_warns_when_nothing_listens() {
    let world = World::new();
    world.fake_tool("codex");
    let port = free_port();
    let out = world.run(&["wrap", "--no-proxy", "--port", &port.to_string(), "codex"]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains(&format!("no proxy detected on port {port}")),
        "{}",
        stderr(&out)
    );
    assert!(!world.workspace.join("wrap").exists());
    assert!(!port_is_open(port));
}

#[test]
fn a_missing_tool_is_a_clear_error_and_starts_nothing() {
    let world = World::new();
    let port = free_port();
    // Only the world's own bin dir: a machine with the real Codex installed must not matter.
    let out = world
        .headroom(["wrap", "--port", &port.to_string(), "codex"])
        .env("PATH", &world.bin)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error: Codex is not installed: `codex` was not found on PATH"),
        "{err}"
    );
    assert!(
        err.contains("hint: install Codex with `npm install -g @openai/codex`"),
        "{err}"
    );
    assert!(!world.workspace.join("wrap").exists());

    let out = world.run(&["wrap", "vim"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("headroom wrap -- vim"),
        "{}",
        stderr(&out)
    );

    let out = world.run(&["wrap", "--", "no-such-program"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("`no-such-program` was not found on PATH"));

    let out = world.run(&["wrap"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_bad_opencode_config_env_is_refused_before_anything_starts() {
    let world = World::new();
    world.fake_tool("opencode");
    let port = free_port();
    let out = world
        .headroom(["wrap", "--port", &port.to_string(), "opencode"])
        .env("OPENCODE_CONFIG_CONTENT", "{broken")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("OPENCODE_CONFIG_CONTENT"));
    assert!(world.read_out("opencode.pid").is_empty());
    assert!(!world.workspace.join("wrap").exists());
}

/// Something that is not Headroom holds the port: an HTTP server answering 404.
fn foreign_http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 1024];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot found",
            );
        }
    });
    port
}

#[test]
fn a_foreign_listener_on_the_port_is_a_clear_error() {
    let world = World::new();
    world.fake_tool("claude");
    let port = foreign_http_server();
    let out = world.run(&["wrap", "--port", &port.to_string(), "claude"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "port {port} on 127.0.0.1 is in use by something that is not Headroom"
        )),
        "{err}"
    );
    assert!(err.contains("404"), "{err}");
    assert!(err.contains(&format!("--port {}", port + 1)), "{err}");
    assert!(
        world.read_out("claude.pid").is_empty(),
        "the tool must not start"
    );
}

#[test]
fn cursor_prints_instructions() {
    let world = World::new();
    let port = free_port();
    let out = world.run(&["wrap", "--no-proxy", "--port", &port.to_string(), "cursor"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("http://127.0.0.1:{port}/v1")),
        "{text}"
    );
    assert!(text.contains("Override OpenAI Base URL"), "{text}");
}

#[test]
fn cursor_keeps_an_ephemeral_proxy_until_interrupted() {
    let world = World::new();
    let port = free_port();
    let mut wrap = world.spawn(&["wrap", "--port", &port.to_string(), "cursor"], &[]);
    wait_until(
        Duration::from_secs(20),
        || world.proxy_pid(port).is_some(),
        "the proxy to start",
    );
    let pid = world.proxy_pid(port).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(pid_alive(pid), "the proxy stays while `wrap cursor` runs");
    std::process::Command::new("kill")
        .args(["-INT", &wrap.id().to_string()])
        .status()
        .unwrap();
    wrap.wait().unwrap();
    wait_until(
        Duration::from_secs(2),
        || !pid_alive(pid) && !port_is_open(port),
        "the proxy to exit after Ctrl-C",
    );
}

#[test]
fn the_default_port_follows_headroom_port() {
    let world = World::new();
    world.fake_tool("codex");
    let port = free_port();
    let out = world
        .headroom(["wrap", "--no-proxy", "codex"])
        .env("HEADROOM_PORT", port.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        world.tool_env("codex")["OPENAI_BASE_URL"],
        format!("http://127.0.0.1:{port}/v1")
    );
}
