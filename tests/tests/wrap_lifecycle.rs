//! `headroom wrap` with the real binary: the ephemeral proxy's lifetime follows the leases of the
//! wrapped tools (started when needed, shared, gone ≤ 2 s after the last tool, no orphans).

mod wrap_support;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use wrap_support::*;

/// The proxy on `port` is gone: record removed, port closed, process exited.
fn assert_proxy_gone_within(world: &World, port: u16, pid: u32, since: Instant, limit: Duration) {
    wait_until(
        limit + Duration::from_secs(3),
        || !pid_alive(pid) && !port_is_open(port),
        "the ephemeral proxy to exit",
    );
    let took = since.elapsed();
    assert!(
        took <= limit,
        "the proxy outlived the last tool by {took:?} (limit {limit:?})"
    );
    assert!(
        !world.port_dir(port).join("proxy.json").exists(),
        "proxy.json left behind"
    );
}

#[test]
fn no_proxy_running_starts_an_ephemeral_one_that_exits_after_the_tool() {
    let world = World::new();
    world.fake_tool("claude");
    let port = free_port();
    let mut wrap = world.spawn(
        &["wrap", "--port", &port.to_string(), "claude"],
        &[("WAIT", "1")],
    );
    world.wait_out("claude.pid");
    let pid = world.proxy_pid(port).expect("ephemeral proxy recorded");
    let health = health(port).expect("the proxy answers /health while the tool runs");
    assert_eq!(health["service"], "headroom-proxy");
    assert!(health.get("deployment").is_none_or(|d| d.is_null()));
    let env = world.tool_env("claude");
    assert_eq!(
        env["ANTHROPIC_BASE_URL"],
        format!("http://127.0.0.1:{port}")
    );
    assert_eq!(env["ENABLE_TOOL_SEARCH"], "true");

    world.release("claude");
    let status = wrap.wait().unwrap();
    let exited = Instant::now();
    assert_eq!(status.code(), Some(0));
    assert_proxy_gone_within(&world, port, pid, exited, Duration::from_secs(2));
    let leases: Vec<_> = std::fs::read_dir(world.port_dir(port).join("leases"))
        .unwrap()
        .collect();
    assert!(leases.is_empty(), "dead leases are pruned");
}

#[test]
fn two_wraps_share_one_proxy_which_survives_the_first_exit() {
    let world = World::new();
    world.fake_tool("claude");
    world.fake_tool("codex");
    let port = free_port();
    let p = port.to_string();
    // Start both at once: the lock must make them agree on one proxy.
    let first = world.spawn(&["wrap", "--port", &p, "claude"], &[("WAIT", "1")]);
    let second = world.spawn(&["wrap", "--port", &p, "codex"], &[("WAIT", "1")]);
    world.wait_out("claude.pid");
    world.wait_out("codex.pid");
    let pid = world.proxy_pid(port).expect("proxy recorded");
    let first_stderr = {
        world.release("claude");
        let out = first.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        stderr(&out)
    };
    // Well past the proxy's 200 ms lease poll: it must still serve the second tool.
    std::thread::sleep(Duration::from_millis(700));
    assert!(pid_alive(pid), "proxy died under the second tool");
    assert_eq!(
        health(port).expect("still serving")["service"],
        "headroom-proxy"
    );
    assert_eq!(
        world.proxy_pid(port),
        Some(pid),
        "no second proxy was started"
    );
    assert_eq!(
        world.tool_env("codex")["OPENAI_BASE_URL"],
        format!("http://127.0.0.1:{port}/v1")
    );

    world.release("codex");
    let out = second.wait_with_output().unwrap();
    let exited = Instant::now();
    assert_eq!(out.status.code(), Some(0));
    // Exactly one of the two started the proxy; the other shared it.
    let both = format!("{first_stderr}{}", stderr(&out));
    assert_eq!(both.matches("started a proxy").count(), 1, "{both}");
    assert_eq!(both.matches("sharing the wrap proxy").count(), 1, "{both}");
    assert_proxy_gone_within(&world, port, pid, exited, Duration::from_secs(2));
}

#[test]
fn a_sigkilled_wrap_leaves_no_orphan_proxy() {
    let world = World::new();
    world.fake_tool("aider");
    let port = free_port();
    let mut wrap = world.spawn(
        &["wrap", "--port", &port.to_string(), "aider"],
        &[("WAIT", "1")],
    );
    let tool_pid: u32 = world.wait_out("aider.pid").trim().parse().unwrap();
    // On Unix wrap execs the tool: the lease names the tool's own pid.
    assert_eq!(tool_pid, wrap.id());
    let pid = world.proxy_pid(port).expect("proxy recorded");
    wrap.kill().unwrap(); // SIGKILL: no cleanup code of ours runs
    let status = wrap.wait().unwrap();
    let killed = Instant::now();
    assert_eq!(status.signal(), Some(9));
    assert_proxy_gone_within(&world, port, pid, killed, Duration::from_secs(2));
}

#[test]
fn a_wrap_sharing_a_proxy_keeps_it_alive_when_the_starter_is_killed() {
    let world = World::new();
    world.fake_tool("claude");
    world.fake_tool("copilot");
    let port = free_port();
    let p = port.to_string();
    let mut starter = world.spawn(&["wrap", "--port", &p, "claude"], &[("WAIT", "1")]);
    world.wait_out("claude.pid");
    let pid = world.proxy_pid(port).expect("proxy recorded");
    let mut sharer = world.spawn(&["wrap", "--port", &p, "copilot"], &[("WAIT", "1")]);
    world.wait_out("copilot.pid");
    starter.kill().unwrap();
    starter.wait().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        pid_alive(pid) && port_is_open(port),
        "proxy must outlive its starter"
    );
    let env = world.tool_env("copilot");
    assert_eq!(env["COPILOT_PROVIDER_TYPE"], "anthropic");
    assert_eq!(
        env["COPILOT_PROVIDER_BASE_URL"],
        format!("http://127.0.0.1:{port}")
    );
    world.release("copilot");
    assert!(sharer.wait().unwrap().success());
    assert_proxy_gone_within(&world, port, pid, Instant::now(), Duration::from_secs(2));
}

#[test]
fn a_new_wrap_after_the_proxy_left_starts_a_fresh_one() {
    let world = World::new();
    world.fake_tool("opencode");
    let port = free_port();
    let p = port.to_string();
    let out = world.run(&["wrap", "--port", &p, "opencode"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Immediately again: the old proxy may be mid-exit; the lock makes the new wrap wait for it
    // and start a fresh proxy rather than lease a dying one.
    let out = world.run(&["wrap", "--port", &p, "opencode"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let config: serde_json::Value =
        serde_json::from_str(&world.tool_env("opencode")["OPENCODE_CONFIG_CONTENT"]).unwrap();
    assert_eq!(
        config["provider"]["openai"]["options"]["baseURL"],
        format!("http://127.0.0.1:{port}/v1")
    );
    wait_until(
        Duration::from_secs(3),
        || !port_is_open(port),
        "the proxy to exit",
    );
}

#[test]
fn a_proxy_whose_starter_died_before_the_tool_started_exits_by_itself() {
    // What a wrap killed between starting the proxy and exec'ing the tool leaves behind: a
    // helper whose only lease names a dead process.
    let world = World::new();
    let port = free_port();
    let leases = world.port_dir(port).join("leases");
    std::fs::create_dir_all(&leases).unwrap();
    std::fs::write(
        leases.join("4194000.json"),
        r#"{"holders":[{"pid":4194000,"start_time":1}],"tool":"claude","created_at":0}"#,
    )
    .unwrap();
    let mut helper = world
        .headroom(["wrap-proxy", "--port", &port.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = helper.wait().unwrap();
    assert!(status.success());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(!port_is_open(port));
    assert!(!world.port_dir(port).join("proxy.json").exists());
    assert_eq!(
        std::fs::read_dir(&leases).unwrap().count(),
        0,
        "dead lease pruned"
    );
}

#[test]
fn stale_state_from_a_crashed_proxy_does_not_confuse_wrap() {
    let world = World::new();
    world.fake_tool("codex");
    let port = free_port();
    let dir = world.port_dir(port);
    std::fs::create_dir_all(dir.join("leases")).unwrap();
    std::fs::write(
        dir.join("proxy.json"),
        format!(r#"{{"process":{{"pid":4194001,"start_time":1}},"port":{port},"runtime":"native","version":"0.0.1","started_at":0}}"#),
    )
    .unwrap();
    std::fs::write(dir.join("leases/4194002.json"), "garbage").unwrap();
    let out = world.run(&["wrap", "--port", &port.to_string(), "codex"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("started a proxy"), "{}", stderr(&out));
    wait_until(
        Duration::from_secs(3),
        || !port_is_open(port),
        "the proxy to exit",
    );
}

#[test]
fn sigterm_stops_the_session_proxy_cleanly() {
    let world = World::new();
    world.fake_tool("claude");
    let port = free_port();
    let mut wrap = world.spawn(
        &["wrap", "--port", &port.to_string(), "claude"],
        &[("WAIT", "1")],
    );
    world.wait_out("claude.pid");
    let pid = world.proxy_pid(port).unwrap();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    wait_until(
        Duration::from_secs(3),
        || !pid_alive(pid) && !port_is_open(port),
        "the proxy to stop",
    );
    assert!(!world.port_dir(port).join("proxy.json").exists());
    // The tool itself is unaffected.
    assert!(pid_alive(wrap.id()));
    world.release("claude");
    assert!(wrap.wait().unwrap().success());
}

#[test]
fn many_wraps_started_at_once_agree_on_one_proxy() {
    let world = World::new();
    let tools = ["claude", "codex", "aider", "copilot", "openclaw"];
    let port = free_port();
    let p = port.to_string();
    let children: Vec<_> = tools
        .iter()
        .map(|tool| {
            world.fake_tool(tool);
            world.spawn(&["wrap", "--port", &p, tool], &[("WAIT", "1")])
        })
        .collect();
    for tool in tools {
        world.wait_out(&format!("{tool}.pid"));
    }
    let pid = world.proxy_pid(port).expect("proxy recorded");
    let leases = std::fs::read_dir(world.port_dir(port).join("leases"))
        .unwrap()
        .count();
    assert_eq!(leases, tools.len(), "one lease per wrapped tool");
    for tool in tools {
        world.release(tool);
    }
    let mut started = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        started += stderr(&out).matches("started a proxy").count();
    }
    assert_eq!(started, 1, "exactly one proxy was started");
    assert_proxy_gone_within(&world, port, pid, Instant::now(), Duration::from_secs(2));
}
