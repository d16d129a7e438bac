//! The hidden `install agent run|ensure` against a real proxy child (Linux): the watchdog starts
//! the agent, the agent restarts a killed proxy, `/health` reports the deployment, `stop`
//! pauses the schedule, `start` resumes, `remove` stops everything and restores the config.
#![cfg(target_os = "linux")]

mod install_support;

use std::time::Duration;

use install_support::*;

struct Reaper(Vec<u32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

fn read_pid(world: &World, which: &str) -> Option<u32> {
    std::fs::read_to_string(
        world
            .home
            .join(format!(".headroom/deploy/default/{which}.pid")),
    )
    .ok()?
    .trim()
    .parse()
    .ok()
}

fn ready(port: u16) -> bool {
    matches!(get(port, "/readyz"), Some((200, _)))
}

/// A command that really spawns processes (no recording runner) but still cannot reach real
/// services: PATH fakes only log, and task/cron deployments run no service command here.
fn real(world: &World, args: &[&str]) -> std::process::Output {
    world
        .cmd(args)
        .env_remove("HEADROOM_TEST_RUNNER_LOG")
        .env("HEADROOM_TEST_READY_TIMEOUT_MS", "20000")
        .output()
        .unwrap()
}

#[test]
fn watchdog_and_agent_keep_a_real_proxy_alive() {
    let mut world = World::new();
    world.env.push(("HEADROOM_TEST_SYSTEMD".into(), "0".into()));
    world.env.push((
        "ANTHROPIC_TARGET_API_URL".into(),
        "http://127.0.0.1:9".into(),
    ));
    let original = "{\n  \"theme\": \"dark\"\n}\n";
    world.write(".claude/settings.json", original);
    let port = free_port();
    let p = port.to_string();
    let mut reaper = Reaper(Vec::new());

    let out = world.run(&[
        "install",
        "apply",
        "--yes",
        "--preset",
        "persistent-task",
        "--scope",
        "provider",
        "--target",
        "claude",
        "--port",
        &p,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!ready(port), "the recording runner started nothing");

    // The watchdog finds it down and starts the agent, which starts the proxy.
    let out = real(
        &world,
        &["install", "agent", "ensure", "--profile", "default"],
    );
    assert!(
        out.status.success(),
        "ensure: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("was started"), "{}", stdout(&out));
    let agent = read_pid(&world, "agent").expect("agent.pid");
    let proxy = read_pid(&world, "proxy").expect("proxy.pid");
    reaper.0.extend([agent, proxy]);
    assert!(ready(port));

    let (_, health) = get(port, "/health").unwrap();
    assert_eq!(health["service"], "headroom-proxy");
    assert_eq!(health["deployment"]["profile"], "default");
    assert_eq!(health["deployment"]["preset"], "persistent-task");
    assert_eq!(health["deployment"]["runtime"], "native");
    assert_eq!(health["deployment"]["supervisor"], "task");
    assert_eq!(health["deployment"]["scope"], "provider");

    let st = world.run(&["install", "status", "--json"]);
    assert_eq!(st.status.code(), Some(0), "healthy: {}", stderr(&st));
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(v["running"], true);
    assert_eq!(v["ready"], true);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));

    // A second watchdog run does nothing.
    let out = real(
        &world,
        &["install", "agent", "ensure", "--profile", "default"],
    );
    assert!(stdout(&out).contains("already healthy"), "{}", stdout(&out));

    // Kill the proxy: the agent brings it back with a new pid.
    std::process::Command::new("kill")
        .args(["-9", &proxy.to_string()])
        .status()
        .unwrap();
    wait_until(
        Duration::from_secs(15),
        || read_pid(&world, "proxy").is_some_and(|p| p != proxy) && ready(port),
        "the agent to restart the proxy",
    );
    let proxy2 = read_pid(&world, "proxy").unwrap();
    reaper.0.push(proxy2);
    assert_eq!(read_pid(&world, "agent"), Some(agent), "same agent");
    let st = world.run(&["install", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    // Ready again: the crash is what it recovered from, not a current error.
    assert!(v["last_error"].is_null(), "{v}");
    let recovered = v["recovered_from"].as_str().unwrap_or_default();
    assert!(
        recovered.contains("proxy exited"),
        "status shows the crash it recovered from: {v}"
    );

    // Stop the agent cleanly: it takes its proxy down with it; the watchdog restarts both.
    std::process::Command::new("kill")
        .args(["-TERM", &agent.to_string()])
        .status()
        .unwrap();
    wait_until(
        Duration::from_secs(15),
        || !pid_alive(agent) && !pid_alive(proxy2),
        "agent + proxy to exit",
    );
    assert!(!ready(port));
    let out = real(
        &world,
        &["install", "agent", "ensure", "--profile", "default"],
    );
    assert!(
        stdout(&out).contains("was started"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    reaper.0.extend(read_pid(&world, "agent"));
    reaper.0.extend(read_pid(&world, "proxy"));

    // `stop` pauses the schedule: the watchdog no longer starts it.
    let out = real(&world, &["install", "stop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!ready(port));
    let out = real(
        &world,
        &["install", "agent", "ensure", "--profile", "default"],
    );
    assert!(stdout(&out).contains("schedule paused"), "{}", stdout(&out));
    assert!(!ready(port));
    let st = world.run(&["install", "status"]);
    assert_eq!(st.status.code(), Some(1));
    assert!(
        stdout(&st).contains("stopped by `install stop`"),
        "{}",
        stdout(&st)
    );

    // `start` resumes and starts now.
    let out = real(&world, &["install", "start"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(ready(port));
    reaper.0.extend(read_pid(&world, "agent"));
    reaper.0.extend(read_pid(&world, "proxy"));
    let out = real(&world, &["install", "restart"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(ready(port));
    let agent3 = read_pid(&world, "agent").unwrap();
    reaper.0.push(agent3);
    reaper.0.extend(read_pid(&world, "proxy"));

    // SIGKILL the agent: its proxy is orphaned but keeps serving; the watchdog leaves it, and
    // `stop` still finds and stops it through proxy.pid (no orphan survives).
    let log = world.home.join(".headroom/deploy/default/runner.log");
    wait_until(
        Duration::from_secs(10),
        || read_pid(&world, "proxy").is_some(),
        &format!(
            "proxy.pid after restart; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        ),
    );
    let orphan = read_pid(&world, "proxy").unwrap();
    std::process::Command::new("kill")
        .args(["-9", &agent3.to_string()])
        .status()
        .unwrap();
    wait_until(
        Duration::from_secs(5),
        || !pid_alive(agent3),
        "the agent to die",
    );
    assert!(ready(port) && pid_alive(orphan));
    let out = real(
        &world,
        &["install", "agent", "ensure", "--profile", "default"],
    );
    assert!(stdout(&out).contains("already healthy"), "{}", stdout(&out));
    let out = real(&world, &["install", "stop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_until(
        Duration::from_secs(5),
        || !pid_alive(orphan),
        "the orphaned proxy to stop",
    );
    let out = real(&world, &["install", "start"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let agent3 = read_pid(&world, "agent").unwrap();
    reaper.0.push(agent3);
    reaper.0.extend(read_pid(&world, "proxy"));

    // Port check: a second deployment on the same port is refused, naming the owner.
    let out = world.run(&[
        "install",
        "apply",
        "--yes",
        "--profile",
        "other",
        "--scope",
        "provider",
        "--target",
        "codex",
        "--port",
        &p,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("another Headroom proxy (deployment profile `default`)"),
        "{}",
        stderr(&out)
    );

    // Remove stops the runtime and restores the config byte for byte.
    let out = world.run(&["install", "remove"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    wait_until(
        Duration::from_secs(5),
        || !pid_alive(agent3),
        "the agent to stop",
    );
    assert!(!ready(port));
    assert_eq!(world.read(".claude/settings.json"), original);
    assert!(!world.home.join(".headroom/deploy/default").exists());
    assert_eq!(world.real_calls(), "");
}

#[test]
fn agent_run_reports_a_foreign_port_owner_in_its_log() {
    let mut world = World::new();
    world.env.push(("HEADROOM_TEST_SYSTEMD".into(), "0".into()));
    let port = free_port();
    let out = world.run(&[
        "install",
        "apply",
        "--yes",
        "--preset",
        "persistent-task",
        "--scope",
        "provider",
        "--target",
        "claude",
        "--port",
        &port.to_string(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let _squatter = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut agent = world
        .cmd(["install", "agent", "run", "--profile", "default"])
        .env_remove("HEADROOM_TEST_RUNNER_LOG")
        .spawn()
        .unwrap();
    let log = world.home.join(".headroom/deploy/default/runner.log");
    wait_until(
        Duration::from_secs(10),
        || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("already in use")
        },
        "the agent to log the port conflict",
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(&format!(
            "port {port} on 127.0.0.1 is already in use by pid"
        )),
        "{text}"
    );
    std::process::Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    let status = agent.wait().unwrap();
    assert_eq!(status.code(), Some(0), "clean stop on SIGTERM");
    let out = world.run(&["install", "remove"]);
    assert!(out.status.success());
}

/// No systemd and no cron (a container, WSL without systemd): `apply` starts the proxy now and
/// hooks the shell startup files, so after a "reboot" (every process gone) the next shell
/// brings it back; `remove` gives the files back byte for byte.
#[test]
fn without_systemd_or_cron_a_new_shell_brings_the_proxy_back() {
    let mut world = World::new();
    world.env.push(("HEADROOM_TEST_SYSTEMD".into(), "0".into()));
    world.env.push(("HEADROOM_TEST_CRON".into(), "0".into()));
    world.env.push((
        "ANTHROPIC_TARGET_API_URL".into(),
        "http://127.0.0.1:9".into(),
    ));
    let bashrc = "# the user's own\nalias ll='ls -l'\n";
    world.write(".bashrc", bashrc);
    let before = snapshot(&world.home);
    let port = free_port();
    let p = port.to_string();
    let mut reaper = Reaper(Vec::new());
    let args = [
        "install", "apply", "--yes", "--scope", "provider", "--target", "claude", "--port", &p,
    ];

    // The dry run shows the hook and succeeds exactly as the apply does.
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let out = real(&world, &dry);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("install agent ensure"),
        "{}",
        stdout(&out)
    );
    assert_eq!(snapshot(&world.home), before, "a dry run changes nothing");

    let out = real(&world, &args);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    reaper.0.extend(read_pid(&world, "agent"));
    reaper.0.extend(read_pid(&world, "proxy"));
    assert!(ready(port), "apply started the proxy");
    let hooked = world.read(".bashrc");
    assert!(hooked.starts_with(bashrc), "{hooked}");
    assert!(
        hooked.contains("install agent ensure --profile default"),
        "{hooked}"
    );
    let st = world.run(&["install", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(
        v["preset"], "persistent-task",
        "the default without systemd"
    );
    assert_eq!(v["supervisor"], "shell", "{v}");

    // "Reboot": every process of the deployment is gone.
    for pid in [read_pid(&world, "agent"), read_pid(&world, "proxy")]
        .into_iter()
        .flatten()
    {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    wait_until(Duration::from_secs(10), || !ready(port), "the proxy to die");

    // A new interactive shell (a terminal after login) reads .bashrc.
    let mut shell = std::process::Command::new("bash");
    shell
        .args(["-i", "-c", "true"])
        .env_clear()
        .env("HOME", &world.home)
        .env("PATH", format!("{}:/usr/bin:/bin", world.bin.display()))
        .env("HEADROOM_TEST_ROOT", &world.root)
        .env("HEADROOM_TEST_OS", "linux")
        .env("HEADROOM_TEST_UID", "1000")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in &world.env {
        shell.env(k, v);
    }
    let started = std::time::Instant::now();
    assert!(shell.status().unwrap().success());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the hook must not hold the shell up: {:?}",
        started.elapsed()
    );
    wait_until(
        Duration::from_secs(20),
        || ready(port),
        "the shell hook to bring the proxy back",
    );
    reaper.0.extend(read_pid(&world, "agent"));
    reaper.0.extend(read_pid(&world, "proxy"));

    let out = real(&world, &["install", "remove"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(!ready(port));
    assert_eq!(world.read(".bashrc"), bashrc, "remove gave .bashrc back");
    assert!(world.real_calls().is_empty(), "{}", world.real_calls());
}
