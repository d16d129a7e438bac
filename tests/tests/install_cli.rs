//! `headroom install` end to end with the real binary on a fake HOME and a fake `/`: every
//! preset's lifecycle (service commands recorded, never run), dry runs, exit codes, and bad
//! inputs that must change nothing.

mod install_support;

use install_support::*;

fn lifecycle(world: &World, apply_args: &[&str], golden_name: &str) {
    let before = snapshot(&world.home);
    let before_root = snapshot(&world.root);
    let port = free_port().to_string();
    let mut args = vec!["install", "apply", "--port", &port, "--yes"];
    args.extend_from_slice(apply_args);
    let out = world.run(&args);
    assert!(out.status.success(), "apply failed: {}", stderr(&out));
    let applied = snapshot(&world.home);
    assert_ne!(applied, before);
    // Idempotent: the second apply changes nothing and runs nothing.
    let n = world.runner_lines().len();
    let out = world.run(&args);
    assert!(out.status.success());
    assert!(stdout(&out).contains("nothing changed"), "{}", stdout(&out));
    assert_eq!(world.runner_lines().len(), n);
    assert_eq!(snapshot(&world.home), applied);

    let st = world.run(&["install", "status", "--json"]);
    assert_eq!(
        st.status.code(),
        Some(1),
        "installed but not ready: {}",
        stderr(&st)
    );
    let json: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(json["ready"], false);
    assert_eq!(json["port"].to_string(), port);
    for cmd in ["stop", "start", "restart"] {
        let out = world.run(&["install", cmd]);
        assert!(out.status.success(), "{cmd}: {}", stderr(&out));
    }
    let out = world.run(&["install", "remove"]);
    assert!(
        out.status.success(),
        "remove: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        snapshot(&world.home),
        before,
        "HOME byte-identical after remove"
    );
    assert_eq!(
        snapshot(&world.root),
        before_root,
        "root byte-identical after remove"
    );
    let st = world.run(&["install", "status"]);
    assert_eq!(st.status.code(), Some(2), "not installed");
    assert_eq!(world.real_calls(), "", "no real service command may run");
    golden(golden_name, &world.runner_lines().replace(&port, "PORT"));
}

#[test]
fn service_preset_user_scope_lifecycle() {
    let world = World::new();
    world.write(".bashrc", "# mine\n");
    world.fake_bin("claude", "exit 0");
    world.fake_bin("codex", "exit 0");
    lifecycle(
        &world,
        &["--preset", "persistent-service"],
        "cli-service-user.txt",
    );
}

#[test]
fn task_preset_provider_scope_lifecycle_with_cron() {
    let mut world = World::new();
    world.env.push(("HEADROOM_TEST_SYSTEMD".into(), "0".into()));
    world.write(".claude/settings.json", "{\n  \"theme\": \"dark\"\n}\n");
    lifecycle(
        &world,
        &[
            "--preset",
            "persistent-task",
            "--scope",
            "provider",
            "--target",
            "claude",
        ],
        "cli-task-provider-cron.txt",
    );
}

#[test]
fn docker_preset_lifecycle_with_fake_docker() {
    let mut world = World::new();
    let docker = world.fake_bin(
        "fake-docker",
        &format!(
            "echo \"docker $*\" >> '{}/docker.log'\necho ok",
            world.tmp.path().display()
        ),
    );
    world.env.push((
        "HEADROOM_DOCKER".into(),
        docker.to_string_lossy().into_owned(),
    ));
    lifecycle(
        &world,
        &[
            "--preset",
            "persistent-docker",
            "--scope",
            "provider",
            "--target",
            "codex",
            "--image",
            "headroom:test",
        ],
        "cli-docker.txt",
    );
    let calls = std::fs::read_to_string(world.tmp.path().join("docker.log")).unwrap();
    assert!(calls.contains("run -d --restart unless-stopped --name headroom-default -p 127.0.0.1:"));
    assert!(calls.contains("-e HEADROOM_HOST=0.0.0.0"));
    assert!(calls.contains("-e HEADROOM_DEPLOYMENT_PRESET=persistent-docker"));
    assert!(calls.contains("volume rm headroom-default-state"));
}

#[test]
fn macos_and_windows_renderings_via_test_os() {
    for (os, name) in [
        ("macos", "cli-macos-service.txt"),
        ("windows", "cli-windows-task.txt"),
    ] {
        let mut world = World::new();
        world.env.push(("HEADROOM_TEST_OS".into(), os.into()));
        let preset = if os == "windows" {
            "persistent-task"
        } else {
            "persistent-service"
        };
        lifecycle(
            &world,
            &[
                "--preset", preset, "--scope", "provider", "--target", "claude",
            ],
            name,
        );
    }
}

#[test]
fn dry_run_prints_diffs_and_changes_nothing() {
    let world = World::new();
    world.write(
        ".codex/config.toml",
        "model = \"o3\"\n\n[features]\nx = 1\n",
    );
    let before = snapshot(&world.home);
    // A free port, shown as 18999 in the golden file: a fixed one could be taken on the machine.
    let port = free_port().to_string();
    let out = world.run(&[
        "install",
        "apply",
        "--dry-run",
        "--scope",
        "provider",
        "--target",
        "codex",
        "--port",
        &port,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = world
        .norm(&stdout(&out))
        .replace(&format!("127.0.0.1:{port}"), "127.0.0.1:18999")
        .replace(&format!("port {port}"), "port 18999");
    golden("cli-dry-run.txt", &text);
    assert!(text.contains("+model_provider = \"headroom\""));
    assert!(text.contains("Dry run: nothing was changed."));
    assert_eq!(snapshot(&world.home), before);
    assert!(!world.runner_log.exists(), "no command ran");
}

#[test]
fn bad_inputs_give_clear_errors_exit_codes_and_change_nothing() {
    let world = World::new();
    world.write(".claude/settings.json", "{\"env\": oops}");
    let ro = world.write(".codex/config.toml", "model = \"x\"\n");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o444)).unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port().to_string();
    let before = snapshot(&world.home);
    let cases: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        (
            "unknown preset",
            vec!["--preset", "forever"],
            2,
            "unknown preset `forever`",
        ),
        (
            "unknown target",
            vec!["--target", "vim"],
            2,
            "valid: claude, codex",
        ),
        (
            "unknown scope",
            vec!["--scope", "galaxy"],
            2,
            "valid values: provider, user, system",
        ),
        ("port 0", vec!["--port", "0"], 2, "--port"),
        ("port 70000", vec!["--port", "70000"], 2, "--port"),
        (
            "bad profile",
            vec!["--profile", "../x"],
            2,
            "invalid profile name",
        ),
        (
            "unparseable settings.json",
            vec!["--scope", "provider", "--target", "claude"],
            1,
            "cannot edit",
        ),
        (
            "read-only file",
            vec!["--scope", "provider", "--target", "codex"],
            1,
            "is read-only",
        ),
        (
            "copilot in provider scope",
            vec!["--scope", "provider", "--target", "copilot"],
            1,
            "not supported in provider scope",
        ),
        (
            "port taken",
            vec!["--port", &taken_port, "--target", "claude"],
            1,
            "is already in use by pid",
        ),
        (
            "docker missing",
            vec![
                "--preset",
                "persistent-docker",
                "--scope",
                "provider",
                "--target",
                "claude",
            ],
            1,
            "was not found on PATH",
        ),
        (
            "system scope as non-root",
            vec!["--scope", "system", "--target", "claude"],
            0,
            "",
        ),
    ];
    for (name, extra, code, needle) in cases {
        let mut args = vec!["install", "apply", "--yes"];
        args.extend(extra);
        let mut cmd = world.cmd(&args);
        if name == "docker missing" {
            cmd.env("HEADROOM_DOCKER", "/nonexistent/docker");
        }
        if name == "system scope as non-root" {
            // With a redirected root, system scope is allowed (and lands under the fake /).
            continue;
        }
        let out = cmd.output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{name}: {err}");
        assert!(
            err.contains(needle),
            "{name}: expected `{needle}` in: {err}"
        );
        assert!(err.starts_with("error:"), "{name}: {err}");
        assert_eq!(snapshot(&world.home), before, "{name} changed HOME");
    }
    assert!(!world.runner_log.exists(), "no command ran");
}

#[test]
fn corrupt_manifest_is_a_clear_error() {
    let world = World::new();
    let dir = world.home.join(".headroom/deploy/default");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("manifest.json"), "{ nope").unwrap();
    for args in [
        vec!["install", "status"],
        vec!["install", "remove"],
        vec!["install", "apply", "--yes"],
    ] {
        let out = world.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains("is corrupt"), "{}", stderr(&out));
    }
}

#[test]
fn status_all_lists_profiles_and_json_works() {
    let world = World::new();
    let out = world.run(&["install", "status", "--all"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("No deployment profiles"));
    // The desktop app's per-tool wiring is mentioned, though it is not a deployment.
    world.write(
        ".headroom/wiring/desktop.json",
        r#"{"schema_version": 1, "desired": {"opencode": "provider", "aider": "user"}, "active": true, "port": 8787}"#,
    );
    let out = world.run(&["install", "status", "--all"]);
    assert!(
        stdout(&out).contains("Also: the Headroom app (`desktop` wiring) routes Aider (user), OpenCode (provider) to port 8787."),
        "{}",
        stdout(&out)
    );
    let out = world.run(&["install", "status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("note: the Headroom app"),
        "{}",
        stderr(&out)
    );
    // A deployment never edits a file the app's wiring holds.
    let port = free_port().to_string();
    let out = world.run(&[
        "install", "apply", "--yes", "--port", &port, "--scope", "provider", "--target", "opencode",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the Headroom app already routes OpenCode at provider scope"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("hint: "));
    for (p, target) in [("alpha", "claude"), ("beta", "codex")] {
        let port = free_port().to_string();
        let out = world.run(&[
            "install",
            "apply",
            "--yes",
            "--profile",
            p,
            "--port",
            &port,
            "--scope",
            "provider",
            "--target",
            target,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = world.run(&["install", "status", "--all", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["profile"] == "alpha"));
    let out = world.run(&["install", "status", "--all"]);
    assert!(stdout(&out).contains("PROFILE"));
    assert!(stdout(&out).contains("alpha") && stdout(&out).contains("beta"));
    assert_eq!(out.status.code(), Some(1), "installed but not ready");
}

#[test]
fn apply_with_new_settings_updates_in_place_and_remove_restores_everything() {
    let world = World::new();
    world.write(".claude/settings.json", "{\n  \"model\": \"opus\"\n}\n");
    world.write(".codex/config.toml", "model = \"o3\"\n");
    let before = snapshot(&world.home);
    let port = free_port().to_string();
    let base = [
        "install", "apply", "--yes", "--scope", "provider", "--port", &port,
    ];
    let mut first = base.to_vec();
    first.extend(["--target", "claude"]);
    assert!(world.run(&first).status.success());
    let mut second = base.to_vec();
    second.extend(["--target", "claude", "--target", "codex"]);
    let dry = world.run(&[&second[..], &["--dry-run"]].concat());
    assert!(
        stdout(&dry).contains("+model_provider = \"headroom\""),
        "{}",
        stdout(&dry)
    );
    let out = world.run(&second);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Updating deployment 'default'"),
        "{}",
        stdout(&out)
    );
    let st = world.run(&["install", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(v["targets"], serde_json::json!(["claude", "codex"]));
    assert!(world
        .read(".codex/config.toml")
        .contains("model_provider = \"headroom\""));
    let out = world.run(&["install", "remove"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(snapshot(&world.home), before);
}

#[test]
fn honours_headroom_workspace_dir_and_passes_it_to_the_supervisor() {
    let world = World::new();
    let ws = world.tmp.path().join("state");
    let port = free_port().to_string();
    let out = world
        .cmd([
            "install", "apply", "--yes", "--target", "claude", "--port", &port,
        ])
        .env("HEADROOM_WORKSPACE_DIR", &ws)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(ws.join("deploy/default/manifest.json").is_file());
    assert!(!world.home.join(".headroom").exists());
    let unit = world.read(".config/systemd/user/headroom-default.service");
    assert!(
        unit.contains(&format!("\"--workspace-dir\" \"{}\"", ws.display())),
        "{unit}"
    );
    let out = world
        .cmd(["install", "remove"])
        .env("HEADROOM_WORKSPACE_DIR", &ws)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!ws.exists(), "state dirs we created are removed when empty");
}

/// `install stop` unwires the tools (fail-open) and `start` wires them again, byte for byte;
/// `status` says so; `--keep-wiring` keeps them wired; `remove` after a stop restores HOME.
#[test]
fn stop_unwires_the_tools_and_start_wires_them_again() {
    let world = World::new();
    world.write(".claude/settings.json", "{\n  \"theme\": \"dark\"\n}\n");
    world.write(".codex/config.toml", "model = \"gpt-5\"\n");
    let files = [".claude/settings.json", ".codex/config.toml"];
    let read_all = || files.map(|f| world.read(f));
    let before_home = snapshot(&world.home);
    let before = read_all();
    let port = free_port().to_string();
    let out = world.run(&[
        "install", "apply", "--port", &port, "--yes", "--scope", "provider", "--target", "claude",
        "--target", "codex",
    ]);
    assert!(out.status.success(), "apply: {}", stderr(&out));
    let wired = read_all();
    assert!(wired.iter().all(|t| t.contains(&port)), "{wired:?}");

    let out = world.run(&["install", "stop"]);
    assert!(out.status.success(), "stop: {}", stderr(&out));
    assert!(
        stdout(&out).contains("talk to their providers directly"),
        "{}",
        stdout(&out)
    );
    assert_eq!(read_all(), before, "stop restores the user's own bytes");
    let st = world.run(&["install", "status"]);
    assert!(
        stdout(&st).contains("Wiring      paused by `install stop`"),
        "{}",
        stdout(&st)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&world.run(&["install", "status", "--json"]).stdout).unwrap();
    assert_eq!(json["wiring_paused"], true);
    let again = world.run(&[
        "install", "apply", "--port", &port, "--yes", "--scope", "provider", "--target", "claude",
        "--target", "codex",
    ]);
    assert!(
        stdout(&again).contains("`headroom install start --profile default` starts it"),
        "{}",
        stdout(&again)
    );
    assert_eq!(
        read_all(),
        before,
        "an unchanged apply leaves a stopped profile stopped"
    );

    let out = world.run(&["install", "start"]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    assert_eq!(read_all(), wired, "start writes exactly what apply wrote");
    let st = world.run(&["install", "status"]);
    assert!(
        stdout(&st).contains("Wiring      active"),
        "{}",
        stdout(&st)
    );

    let out = world.run(&["install", "stop", "--keep-wiring"]);
    assert!(out.status.success(), "stop --keep-wiring: {}", stderr(&out));
    assert_eq!(read_all(), wired, "--keep-wiring leaves the tools wired");
    let out = world.run(&["install", "stop"]);
    assert!(out.status.success());
    assert_eq!(read_all(), before);

    let out = world.run(&["install", "remove"]);
    assert!(out.status.success(), "remove: {}", stderr(&out));
    assert_eq!(
        snapshot(&world.home),
        before_home,
        "HOME byte-identical after remove"
    );
}
