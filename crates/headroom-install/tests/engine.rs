//! The real engine on a fake HOME: plan → apply → status → stop → start → remove for every
//! preset and OS, edit goldens, rollback, and bad inputs that must change nothing.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::{golden, snapshot, Fixture};
use headroom_install::targets::Tool;
use headroom_install::{
    apply, plan, remove, restart, start, status, stop, CmdOutput, ErrorKind, OsKind, Preset,
    ProviderMode, RecordingRunner, Request, Scope,
};

fn req(preset: Preset, scope: Scope, targets: &[Tool]) -> Request {
    Request {
        preset: Some(preset),
        scope,
        providers: ProviderMode::Manual,
        targets: targets.to_vec(),
        port: free_port(),
        ..Request::default()
    }
}

/// A port nothing listens on (the port check must pass).
/// The deployment variable `var` the plan gives the proxy (an upstream URL), if any.
fn upstream<'a>(p: &'a headroom_install::Plan, var: &str) -> Option<&'a str> {
    p.manifest.base_env.get(var).map(String::as_str)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn lifecycle(fx: &mut Fixture, r: Request, name: &str) {
    let before = snapshot(&fx.home);
    let before_root = snapshot(&fx.root);
    let p = plan(&fx.env, &r).unwrap();
    let diff = fx
        .norm(&p.render_diff())
        .replace(&r.port.to_string(), "PORT");
    apply(&fx.env, &p).unwrap();
    let manifest_text = std::fs::read_to_string(fx.env.manifest_path("default")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&manifest_text).unwrap();
    assert_eq!(m["schema_version"], 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(fx.env.manifest_path("default"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "manifest must be private");
    }
    // Second apply is a no-op: no new commands, no file changes.
    let n = fx.runner.lines().len();
    let snap_after = snapshot(&fx.home);
    let p2 = plan(&fx.env, &r).unwrap();
    assert!(p2.up_to_date);
    let rep = apply(&fx.env, &p2).unwrap();
    assert!(!rep.changed);
    assert_eq!(fx.runner.lines().len(), n);
    assert_eq!(snapshot(&fx.home), snap_after);

    let st = status(&fx.env, "default").unwrap();
    assert_eq!(st.preset, r.preset.unwrap().to_string());
    assert!(!st.ready);
    fx.runner.lines(); // keep
    let mark = fx.runner.lines().len();
    stop(&fx.env, "default").unwrap();
    assert!(status(&fx.env, "default").unwrap().paused);
    start(&fx.env, "default").unwrap();
    assert!(!status(&fx.env, "default").unwrap().paused);
    restart(&fx.env, "default").unwrap();
    let lifecycle_cmds = fx.runner.lines()[mark..].join("\n");
    let rep = remove(&fx.env, "default").unwrap();
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
    assert_eq!(
        snapshot(&fx.home),
        before,
        "HOME must be byte-identical after remove"
    );
    assert_eq!(
        snapshot(&fx.root),
        before_root,
        "root must be byte-identical after remove"
    );
    assert_eq!(
        status(&fx.env, "default").unwrap_err().kind,
        ErrorKind::NotInstalled
    );
    let out = format!(
        "== plan\n{diff}== commands (apply, stop/start/restart, remove)\n{}\n-- lifecycle --\n{}\n",
        fx.commands().replace(&r.port.to_string(), "PORT"),
        fx.norm(&lifecycle_cmds)
            .replace(&r.port.to_string(), "PORT"),
    );
    golden(name, &out);
}

#[test]
fn linux_service_user_scope() {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.write(".bashrc", "# my bashrc\nalias ll='ls -l'\n");
    fx.fake_bin("zsh", "exit 0");
    lifecycle(
        &mut fx,
        req(
            Preset::Service,
            Scope::User,
            &[Tool::Claude, Tool::Codex, Tool::Copilot],
        ),
        "lifecycle-linux-service-user.txt",
    );
}

#[test]
fn linux_task_with_systemd_timer() {
    let mut fx = Fixture::new(OsKind::Linux);
    lifecycle(
        &mut fx,
        req(Preset::Task, Scope::User, &[Tool::Claude]),
        "lifecycle-linux-task-timer.txt",
    );
}

#[test]
fn linux_task_with_cron_when_no_systemd() {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.env.systemd = false;
    lifecycle(
        &mut fx,
        req(Preset::Task, Scope::Provider, &[Tool::Claude]),
        "lifecycle-linux-task-cron.txt",
    );
}

#[test]
fn linux_task_with_a_shell_hook_when_no_systemd_and_no_cron() {
    // Containers, devcontainers, WSL without systemd: the shell startup files start the proxy.
    let mut fx = Fixture::new(OsKind::Linux);
    fx.env.systemd = false;
    fx.env.cron = false;
    fx.write(".bashrc", "alias ll='ls -l'\n");
    let mut r = req(Preset::Task, Scope::Provider, &[Tool::Claude]);
    // Without `--preset`, a machine without systemd gets persistent-task.
    r.preset = None;
    let p = plan(&fx.env, &r).unwrap();
    assert_eq!(p.manifest.preset, Preset::Task);
    assert!(p.notes.iter().any(|n| n.contains("systemd is not running")));
    assert!(p
        .notes
        .iter()
        .any(|n| n.contains("neither systemd nor cron")));
    r.preset = Some(Preset::Task);
    lifecycle(&mut fx, r, "lifecycle-linux-task-shell.txt");
    assert_eq!(
        std::fs::read_to_string(fx.home.join(".bashrc")).unwrap(),
        "alias ll='ls -l'\n",
        "remove gave .bashrc back"
    );

    // User scope: the hook shares the env block.
    let mut fx = Fixture::new(OsKind::Linux);
    fx.env.systemd = false;
    fx.env.cron = false;
    let r = req(Preset::Task, Scope::User, &[Tool::Claude]);
    let p = plan(&fx.env, &r).unwrap();
    // Shell env reaches only shells that read their startup files: said, with the way out.
    assert!(
        p.notes.iter().any(|n| n.contains(
            "Claude Code reach Headroom only when started from a shell that read its startup files"
        ) && n
            .contains("`--scope provider` routes Claude Code through its own config")),
        "{:?}",
        p.notes
    );
    apply(&fx.env, &p).unwrap();
    assert_eq!(
        status(&fx.env, "default").unwrap().interactive_only,
        ["claude"]
    );
    let profile = std::fs::read_to_string(fx.home.join(".profile")).unwrap();
    assert!(profile.contains("export ANTHROPIC_BASE_URL="), "{profile}");
    assert!(
        profile
            .contains("then ( /opt/headroom/bin/headroom install agent ensure --profile default"),
        "{profile}"
    );
    assert_eq!(status(&fx.env, "default").unwrap().supervisor, "shell");
    assert!(remove(&fx.env, "default").unwrap().errors.is_empty());
    assert!(!fx.home.join(".profile").exists());

    // System scope has no shell to hook: refused before anything changes.
    let mut fx = Fixture::new(OsKind::Linux);
    fx.env.systemd = false;
    fx.env.cron = false;
    fx.env.uid = 0;
    let err = plan(&fx.env, &req(Preset::Task, Scope::System, &[Tool::Claude])).unwrap_err();
    assert!(
        err.message.contains("needs systemd or cron"),
        "{}",
        err.message
    );
}

#[test]
fn linux_system_scope_uses_root_prefix() {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.env.uid = 0;
    lifecycle(
        &mut fx,
        req(Preset::Service, Scope::System, &[Tool::Claude]),
        "lifecycle-linux-service-system.txt",
    );
}

#[test]
fn macos_service_and_task() {
    let mut fx = Fixture::new(OsKind::Macos);
    fx.write(".zshrc", "export PATH=/opt/bin:$PATH\n");
    fx.fake_bin("zsh", "exit 0");
    lifecycle(
        &mut fx,
        req(Preset::Service, Scope::User, &[Tool::Claude]),
        "lifecycle-macos-service.txt",
    );
    let mut fx = Fixture::new(OsKind::Macos);
    lifecycle(
        &mut fx,
        req(Preset::Task, Scope::Provider, &[Tool::Codex]),
        "lifecycle-macos-task.txt",
    );
}

/// A recording runner whose `powershell` Get/SetEnvironmentVariable calls act on an in-memory
/// registry, so the Windows env mutations can be applied, checked and undone.
fn fake_registry() -> (
    RecordingRunner,
    std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, String>>>,
) {
    let reg = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::new()));
    let r = reg.clone();
    let runner = RecordingRunner::new().with_hook(move |cmd| {
        let script = cmd.args.last()?;
        let quoted: Vec<&str> = script.split('\'').collect();
        if script.starts_with("[Environment]::GetEnvironmentVariable(") {
            let key = format!("{}:{}", quoted[3], quoted[1]);
            let v = r.lock().unwrap().get(&key).cloned().unwrap_or_default();
            return Some(Ok(CmdOutput {
                code: Some(0),
                stdout: format!("{v}\r\n"),
                stderr: String::new(),
            }));
        }
        if script.starts_with("[Environment]::SetEnvironmentVariable(") {
            let mut reg = r.lock().unwrap();
            if script.contains("$null") {
                reg.remove(&format!("{}:{}", quoted[3], quoted[1]));
            } else {
                reg.insert(format!("{}:{}", quoted[5], quoted[1]), quoted[3].to_owned());
            }
            return Some(Ok(CmdOutput::ok()));
        }
        None
    });
    (runner, reg)
}

#[test]
fn windows_env_vars_are_restored_unless_the_user_changed_them() {
    let (runner, reg) = fake_registry();
    reg.lock().unwrap().insert(
        "User:ANTHROPIC_BASE_URL".into(),
        "https://old.example".into(),
    );
    let fx = Fixture::with_runner(OsKind::Windows, runner);
    let p = plan(
        &fx.env,
        &req(Preset::Service, Scope::User, &[Tool::Claude, Tool::Cursor]),
    )
    .unwrap();
    apply(&fx.env, &p).unwrap();
    let port = p.manifest.port;
    assert_eq!(
        reg.lock().unwrap()["User:ANTHROPIC_BASE_URL"],
        format!("http://127.0.0.1:{port}")
    );
    // The user points Cursor's OpenAI base elsewhere after us.
    reg.lock().unwrap().insert(
        "User:OPENAI_BASE_URL".into(),
        "https://mine.example/v1".into(),
    );
    let rep = remove(&fx.env, "default").unwrap();
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert_eq!(rep.warnings.len(), 1, "{:?}", rep.warnings);
    assert!(rep.warnings[0].contains("OPENAI_BASE_URL"));
    let reg = reg.lock().unwrap();
    assert_eq!(
        reg["User:ANTHROPIC_BASE_URL"], "https://old.example",
        "previous value restored"
    );
    assert!(
        !reg.contains_key("User:ENABLE_TOOL_SEARCH"),
        "created value deleted"
    );
    assert_eq!(
        reg["User:OPENAI_BASE_URL"], "https://mine.example/v1",
        "user's change kept"
    );
}

#[test]
fn windows_service_and_task() {
    let (runner, _reg) = fake_registry();
    let mut fx = Fixture::with_runner(OsKind::Windows, runner);
    lifecycle(
        &mut fx,
        req(Preset::Service, Scope::User, &[Tool::Claude]),
        "lifecycle-windows-service.txt",
    );
    let mut fx = Fixture::new(OsKind::Windows);
    lifecycle(
        &mut fx,
        req(Preset::Task, Scope::Provider, &[Tool::Opencode]),
        "lifecycle-windows-task.txt",
    );
}

#[test]
fn docker_preset_with_fake_docker() {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.fake_bin("docker", "echo 27.0.0; exit 0");
    fx.env.vars.insert(
        "ANTHROPIC_TARGET_API_URL".into(),
        "http://127.0.0.1:1/up".into(),
    );
    let mut r = req(Preset::Docker, Scope::Provider, &[Tool::Claude]);
    r.image = Some("ghcr.io/example/headroom:1.2".into());
    lifecycle(&mut fx, r, "lifecycle-docker.txt");
}

#[test]
fn docker_missing_binary_is_a_clear_error_before_any_change() {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.env.docker = "docker-does-not-exist".into();
    let before = snapshot(&fx.home);
    let err = plan(
        &fx.env,
        &req(Preset::Docker, Scope::Provider, &[Tool::Claude]),
    )
    .unwrap_err();
    golden(
        "error-docker-missing.txt",
        &format!(
            "{:?}: {}\nhint: {}\n",
            err.kind,
            err.message,
            err.hint.unwrap_or_default()
        ),
    );
    assert_eq!(snapshot(&fx.home), before);
    assert!(fx.runner.lines().is_empty());
}

#[test]
fn docker_daemon_down_is_a_clear_error_before_any_change() {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.fake_bin("docker", "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2; exit 1");
    let before = snapshot(&fx.home);
    let err = plan(
        &fx.env,
        &req(Preset::Docker, Scope::Provider, &[Tool::Claude]),
    )
    .unwrap_err();
    let text = fx.norm(&format!(
        "{:?}: {}\nhint: {}\n",
        err.kind,
        err.message,
        err.hint.unwrap_or_default()
    ));
    golden("error-docker-daemon.txt", &text);
    assert_eq!(snapshot(&fx.home), before);
}

#[test]
fn provider_scope_edits_golden() {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.env.xdg_config_home = Some(fx.home.join("xdg"));
    fx.write(
        ".claude/settings.json",
        "{\n    \"model\": \"opus\",\n    \"env\": {\n        \"ANTHROPIC_BASE_URL\": \"https://gateway.example\"\n    },\n    \"permissions\": {\"allow\": []}\n}\n",
    );
    fx.write(
        ".codex/config.toml",
        "# Codex config\nmodel = \"gpt-5\"\n\n[features]\nweb_search = true\n\n[mcp_servers.x]\ncommand = \"x\"\n",
    );
    fx.write(
        "xdg/opencode/opencode.json",
        "{\n  // my opencode config\n  \"$schema\": \"https://opencode.ai/config.json\",\n  \"theme\": \"dark\", /* keep */\n}\n",
    );
    let mut r = req(
        Preset::Service,
        Scope::Provider,
        &[Tool::Claude, Tool::Codex, Tool::Opencode],
    );
    r.port = 18787;
    let before = snapshot(&fx.home);
    let p = plan(&fx.env, &r).unwrap();
    golden("provider-scope.diff", &fx.norm(&p.render_diff()));
    apply(&fx.env, &p).unwrap();
    let codex: toml_edit::DocumentMut = fx.read(".codex/config.toml").parse().unwrap();
    assert_eq!(codex["model_provider"].as_str(), Some("headroom"));
    assert_eq!(
        codex["model_providers"]["headroom"]["base_url"].as_str(),
        Some("http://127.0.0.1:18787/v1")
    );
    let tools = headroom_install::detect_tools(&fx.env);
    let claude = tools.iter().find(|t| t.tool == Tool::Claude).unwrap();
    assert_eq!(claude.wiring.as_deref(), Some("http://127.0.0.1:18787"));
    remove(&fx.env, "default").unwrap();
    assert_eq!(snapshot(&fx.home), before);
}

#[test]
fn honours_claude_config_dir_and_codex_home() {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.env.claude_config_dir = Some(fx.home.join("cc"));
    fx.env.codex_home = Some(fx.home.join("cx"));
    let p = plan(
        &fx.env,
        &req(
            Preset::Service,
            Scope::Provider,
            &[Tool::Claude, Tool::Codex],
        ),
    )
    .unwrap();
    let paths: Vec<_> = p.files.iter().map(|f| f.path.clone()).collect();
    assert!(paths.contains(&fx.home.join("cc/settings.json")));
    assert!(paths.contains(&fx.home.join("cx/config.toml")));
}

#[test]
fn remove_keeps_user_edits_made_after_apply() {
    let fx = Fixture::new(OsKind::Linux);
    fx.write(".claude/settings.json", "{\n  \"model\": \"opus\"\n}\n");
    fx.write(".bashrc", "alias a=b\n");
    let p = plan(
        &fx.env,
        &req(Preset::Service, Scope::Provider, &[Tool::Claude]),
    )
    .unwrap();
    apply(&fx.env, &p).unwrap();
    // The user changes the base URL and adds a key of their own.
    let edited = fx
        .read(".claude/settings.json")
        .replace(
            &format!("http://127.0.0.1:{}", p.manifest.port),
            "https://mine.example",
        )
        .replace("\"model\": \"opus\"", "\"model\": \"sonnet\"");
    fx.write(".claude/settings.json", &edited);
    let rep = remove(&fx.env, "default").unwrap();
    assert!(rep.errors.is_empty());
    assert_eq!(rep.warnings.len(), 1, "{:?}", rep.warnings);
    assert!(rep.warnings[0].contains("kept `env.ANTHROPIC_BASE_URL`"));
    let after: serde_json::Value = serde_json::from_str(&fx.read(".claude/settings.json")).unwrap();
    assert_eq!(after["env"]["ANTHROPIC_BASE_URL"], "https://mine.example");
    assert!(
        after["env"].get("ENABLE_TOOL_SEARCH").is_none(),
        "our untouched key is removed"
    );
    assert_eq!(after["model"], "sonnet");
}

#[test]
fn remove_of_user_edited_shell_block_file_takes_only_the_block() {
    let fx = Fixture::new(OsKind::Linux);
    fx.write(".profile", "PATH=$PATH:/x\n");
    let p = plan(&fx.env, &req(Preset::Service, Scope::User, &[Tool::Aider])).unwrap();
    apply(&fx.env, &p).unwrap();
    let mut text = fx.read(".profile");
    text.push_str("alias later=1\n");
    fx.write(".profile", &text);
    let rep = remove(&fx.env, "default").unwrap();
    assert_eq!(rep.warnings.len(), 1);
    assert_eq!(fx.read(".profile"), "PATH=$PATH:/x\nalias later=1\n");
}

#[test]
fn symlinked_and_crlf_files_stay_as_they_were() {
    let fx = Fixture::new(OsKind::Linux);
    let target = fx.write("dotfiles/bashrc", "line1\r\nline2\r\n");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&target, fx.home.join(".bashrc")).unwrap();
    // Needs Developer Mode or an elevated shell on Windows, as dotfile managers do.
    #[cfg(windows)]
    std::os::windows::fs::symlink_file(&target, fx.home.join(".bashrc")).unwrap();
    let before = snapshot(&fx.home);
    let p = plan(&fx.env, &req(Preset::Service, Scope::User, &[Tool::Claude])).unwrap();
    apply(&fx.env, &p).unwrap();
    let meta = std::fs::symlink_metadata(fx.home.join(".bashrc")).unwrap();
    assert!(
        meta.file_type().is_symlink(),
        "the dotfile must stay a symlink"
    );
    let edited = fx.read("dotfiles/bashrc");
    assert!(edited.contains("\r\nexport ANTHROPIC_BASE_URL="));
    assert!(
        !edited.replace("\r\n", "").contains('\n'),
        "CRLF kept: {edited:?}"
    );
    remove(&fx.env, "default").unwrap();
    assert_eq!(snapshot(&fx.home), before);
}

#[test]
fn failure_mid_transaction_rolls_back_everything() {
    let runner = RecordingRunner::new().with_hook(|cmd| {
        (cmd.args.iter().any(|a| a == "enable")).then(|| {
            Ok(CmdOutput {
                code: Some(1),
                stdout: String::new(),
                stderr: "Failed to enable unit: Access denied".into(),
            })
        })
    });
    let fx = Fixture::with_runner(OsKind::Linux, runner);
    fx.write(".bashrc", "x\n");
    fx.write(".claude/settings.json", "{}\n");
    let before = snapshot(&fx.home);
    let p = plan(&fx.env, &req(Preset::Service, Scope::User, &[Tool::Claude])).unwrap();
    let err = apply(&fx.env, &p).unwrap_err();
    assert!(err.message.contains("Access denied"), "{}", err.message);
    assert!(err.message.contains("rolled back"), "{}", err.message);
    assert_eq!(snapshot(&fx.home), before);
    let cmds = fx.runner.lines().join("\n");
    assert!(
        cmds.contains("systemctl --user disable --now headroom-default.service"),
        "{cmds}"
    );
}

#[test]
fn ctrl_c_during_apply_rolls_back() {
    static CANCEL: AtomicBool = AtomicBool::new(false);
    let runner = RecordingRunner::new().with_hook(|cmd| {
        if cmd.args.iter().any(|a| a == "enable") {
            CANCEL.store(true, Ordering::SeqCst);
        }
        None
    });
    let mut fx = Fixture::with_runner(OsKind::Linux, runner);
    fx.env.cancel = &CANCEL;
    let before = snapshot(&fx.home);
    let p = plan(&fx.env, &req(Preset::Service, Scope::User, &[Tool::Claude])).unwrap();
    let err = apply(&fx.env, &p).unwrap_err();
    assert!(err.message.contains("interrupted"), "{}", err.message);
    assert_eq!(snapshot(&fx.home), before);
}

#[test]
fn bad_inputs_change_nothing() {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.write(".claude/settings.json", "{ \"env\": { broken ");
    let ro = fx.write(".codex/config.toml", "model = \"x\"\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    #[cfg(windows)]
    {
        let mut perms = std::fs::metadata(&ro).unwrap().permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(&ro, perms).unwrap();
    }
    let before = snapshot(&fx.home);
    let mut cases = Vec::new();
    let mut bad_profile = req(Preset::Service, Scope::User, &[Tool::Claude]);
    bad_profile.profile = "../evil".into();
    cases.push(("bad profile", bad_profile));
    let mut port0 = req(Preset::Service, Scope::User, &[Tool::Claude]);
    port0.port = 0;
    cases.push(("port 0", port0));
    cases.push((
        "unparseable settings.json",
        req(Preset::Service, Scope::Provider, &[Tool::Claude]),
    ));
    cases.push((
        "read-only config",
        req(Preset::Service, Scope::Provider, &[Tool::Codex]),
    ));
    cases.push((
        "copilot in provider scope",
        req(Preset::Service, Scope::Provider, &[Tool::Copilot]),
    ));
    cases.push((
        "opencode in user scope",
        req(Preset::Service, Scope::User, &[Tool::Opencode]),
    ));
    let mut docker_native = req(Preset::Docker, Scope::User, &[Tool::Claude]);
    docker_native.runtime = Some(headroom_install::RuntimeKind::Native);
    cases.push(("docker preset + native runtime", docker_native));
    cases.push(("system scope without root", {
        let mut r = req(Preset::Service, Scope::System, &[Tool::Claude]);
        r.profile = "sys".into();
        r
    }));
    fx.env.root = std::path::PathBuf::from("/");
    let mut out = String::new();
    for (name, r) in cases {
        let err = plan(&fx.env, &r).map(|_| ()).unwrap_err();
        out.push_str(&format!(
            "== {name}\n{:?}: {}\nhint: {}\n",
            err.kind,
            fx.norm(&err.message).replace(&r.port.to_string(), "PORT"),
            err.hint.unwrap_or_default()
        ));
    }
    // Port taken by something that is not Headroom.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut r = req(Preset::Service, Scope::User, &[Tool::Claude]);
    r.port = listener.local_addr().unwrap().port();
    let err = plan(&fx.env, &r).map(|_| ()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::User);
    assert!(
        err.message
            .contains(&format!("port {} on 127.0.0.1 is already in use", r.port)),
        "{}",
        err.message
    );
    #[cfg(target_os = "linux")]
    assert!(
        err.message.contains(&format!("pid {}", std::process::id())),
        "names the process: {}",
        err.message
    );
    golden("errors-bad-inputs.txt", &out);
    assert_eq!(snapshot(&fx.home), before);
    assert!(fx.runner.lines().is_empty());
}

#[test]
fn corrupt_and_newer_manifests_are_clear_errors() {
    let fx = Fixture::new(OsKind::Linux);
    let path = fx.env.manifest_path("default");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "{ not json").unwrap();
    let err = status(&fx.env, "default").unwrap_err();
    assert!(err.message.contains("is corrupt"), "{}", err.message);
    assert!(plan(&fx.env, &req(Preset::Service, Scope::User, &[Tool::Claude])).is_err());
    assert!(remove(&fx.env, "default")
        .unwrap_err()
        .message
        .contains("is corrupt"));
    std::fs::write(&path, "{\"schema_version\": 99}").unwrap();
    let err = status(&fx.env, "default").unwrap_err();
    assert!(err.message.contains("newer Headroom"), "{}", err.message);
}

#[test]
fn auto_detects_tools_by_binary_and_config_dir() {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.fake_bin("codex", "exit 0");
    fx.write(".claude/settings.json", "{}");
    let r = Request {
        providers: ProviderMode::Auto,
        port: free_port(),
        ..Request::default()
    };
    let p = plan(&fx.env, &r).unwrap();
    assert_eq!(p.manifest.targets, vec!["claude", "codex"]);
}

#[test]
fn second_profile_cannot_fight_over_the_env_block() {
    let fx = Fixture::new(OsKind::Linux);
    let r = req(Preset::Service, Scope::User, &[Tool::Claude]);
    apply(&fx.env, &plan(&fx.env, &r).unwrap()).unwrap();
    let mut other = r.clone();
    other.profile = "two".into();
    assert!(plan(&fx.env, &other)
        .unwrap_err()
        .message
        .contains("already owns"));
}

#[test]
fn changing_settings_replaces_the_deployment_and_remove_still_restores_the_original() {
    let fx = Fixture::new(OsKind::Linux);
    fx.write(".claude/settings.json", "{\n  \"model\": \"opus\"\n}\n");
    fx.write(".codex/config.toml", "model = \"o3\"\n");
    fx.write(".bashrc", "alias a=b\n");
    let original = snapshot(&fx.home);
    let mut r = req(Preset::Service, Scope::Provider, &[Tool::Claude]);
    r.port = 18801;
    apply(&fx.env, &plan(&fx.env, &r).unwrap()).unwrap();

    // Toggle Codex on: the plan previews only the Codex edit, apply replaces the deployment.
    r.targets = vec![Tool::Claude, Tool::Codex];
    let p = plan(&fx.env, &r).unwrap();
    assert!(p.replaces.is_some());
    golden("replace-add-codex.diff", &fx.norm(&p.render_diff()));
    apply(&fx.env, &p).unwrap();
    let codex: toml_edit::DocumentMut = fx.read(".codex/config.toml").parse().unwrap();
    assert_eq!(codex["model_provider"].as_str(), Some("headroom"));
    assert!(fx
        .read(".claude/settings.json")
        .contains("http://127.0.0.1:18801"));
    assert_eq!(
        status(&fx.env, "default").unwrap().targets,
        vec!["claude", "codex"]
    );

    // Move to user scope on another port: Claude's config goes back and the shell block
    // appears; Codex, which reads no base-URL variable, keeps its config edit on the new port.
    r.scope = Scope::User;
    r.port = 18802;
    let p = plan(&fx.env, &r).unwrap();
    golden("replace-to-user-scope.diff", &fx.norm(&p.render_diff()));
    apply(&fx.env, &p).unwrap();
    assert_eq!(
        fx.read(".claude/settings.json"),
        "{\n  \"model\": \"opus\"\n}\n"
    );
    let codex = fx.read(".codex/config.toml");
    assert!(codex.starts_with("model = \"o3\"\n"), "{codex}");
    assert!(
        codex.contains("base_url = \"http://127.0.0.1:18802/v1\""),
        "{codex}"
    );
    assert!(fx
        .read(".bashrc")
        .contains("export ANTHROPIC_BASE_URL=http://127.0.0.1:18802"));

    let rep = remove(&fx.env, "default").unwrap();
    assert!(rep.errors.is_empty() && rep.warnings.is_empty(), "{rep:?}");
    assert_eq!(snapshot(&fx.home), original);
}

#[test]
fn a_failed_settings_change_puts_the_previous_deployment_back() {
    let runner = RecordingRunner::new().with_hook(|cmd| {
        (cmd.program == "crontab" && cmd.args == ["-"]).then(|| {
            Ok(CmdOutput {
                code: Some(1),
                stdout: String::new(),
                stderr: "crontab: permission denied".into(),
            })
        })
    });
    let mut fx = Fixture::with_runner(OsKind::Linux, runner);
    fx.env.systemd = false;
    fx.write(".claude/settings.json", "{}\n");
    let mut r = req(Preset::Task, Scope::Provider, &[Tool::Claude]);
    // A service needs systemd; use the cron task, whose registration the hook makes fail.
    let err = apply(&fx.env, &plan(&fx.env, &r).unwrap()).unwrap_err();
    assert!(err.message.contains("permission denied"), "{}", err.message);
    assert!(!fx.env.manifest_path("default").exists());
    // Install a working deployment first (docker, with a fake docker), then change it to the
    // failing cron task: the docker deployment must come back.
    fx.fake_bin("docker", "exit 0");
    r.preset = Some(Preset::Docker);
    apply(&fx.env, &plan(&fx.env, &r).unwrap()).unwrap();
    let installed = snapshot(&fx.home);
    r.preset = Some(Preset::Task);
    let err = apply(&fx.env, &plan(&fx.env, &r).unwrap()).unwrap_err();
    assert!(
        err.message.contains("the previous settings were restored"),
        "{}",
        err.message
    );
    assert_eq!(
        status(&fx.env, "default").unwrap().preset,
        "persistent-docker"
    );
    let after: Vec<_> = snapshot(&fx.home)
        .into_iter()
        .filter(|(p, ..)| !p.ends_with("manifest.json"))
        .collect();
    let before: Vec<_> = installed
        .into_iter()
        .filter(|(p, ..)| !p.ends_with("manifest.json"))
        .collect();
    assert_eq!(after, before);
}

#[test]
fn concurrent_applies_are_serialised_by_the_profile_lock() {
    let fx = Fixture::new(OsKind::Linux);
    let r = req(Preset::Service, Scope::Provider, &[Tool::Claude]);
    let p = plan(&fx.env, &r).unwrap();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| apply(&fx.env, &p))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    // Truthful: one installed it; the others waited, saw it done, and say nothing changed.
    assert_eq!(
        results
            .iter()
            .filter(|r| r.as_ref().unwrap().changed)
            .count(),
        1
    );
    let enables = fx
        .runner
        .lines()
        .iter()
        .filter(|l| l.contains(" enable "))
        .count();
    assert_eq!(
        enables,
        1,
        "only one apply really ran: {:?}",
        fx.runner.lines()
    );
}

#[test]
fn remove_keeps_going_past_failures_and_reports_each() {
    let fx = Fixture::new(OsKind::Linux);
    fx.write(".codex/config.toml", "model = \"o3\"\n");
    let p = plan(
        &fx.env,
        &req(
            Preset::Service,
            Scope::Provider,
            &[Tool::Claude, Tool::Codex],
        ),
    )
    .unwrap();
    apply(&fx.env, &p).unwrap();
    // Something replaced Claude's settings file with a directory: that undo must fail...
    let settings = fx.home.join(".claude/settings.json");
    std::fs::remove_file(&settings).unwrap();
    std::fs::create_dir_all(settings.join("x")).unwrap();
    let rep = remove(&fx.env, "default").unwrap();
    assert_eq!(rep.errors.len(), 1, "{:?}", rep.errors);
    assert!(rep.errors[0].contains("settings.json"), "{:?}", rep.errors);
    // ...and everything else is still undone.
    assert_eq!(fx.read(".codex/config.toml"), "model = \"o3\"\n");
    assert!(!fx
        .home
        .join(".config/systemd/user/headroom-default.service")
        .exists());
    assert!(fx
        .runner
        .lines()
        .iter()
        .any(|l| l.contains("disable --now")));
    // The manifest stays, listing only what could not be undone (its original bytes too).
    let m = headroom_install::model::load(&fx.env.manifest_path("default"), "default")
        .unwrap()
        .expect("the manifest is kept for what could not be undone");
    assert_eq!(m.state, headroom_install::ManifestState::Removing);
    assert!(m.artifacts.is_empty(), "{:?}", m.artifacts);
    assert_eq!(m.mutations.len(), 1, "{:?}", m.mutations);
    assert!(m.mutations[0]
        .path
        .as_deref()
        .unwrap()
        .ends_with("settings.json"));
    assert_eq!(status(&fx.env, "default").unwrap().state, "removing");
    // Fixed by the user, a retry finishes the job.
    std::fs::remove_dir_all(&settings).unwrap();
    let rep = remove(&fx.env, "default").unwrap();
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert!(!fx.env.profile_dir("default").exists());
    assert!(!fx.env.deploy_root().exists());
}

#[test]
fn ctrl_c_during_a_settings_change_puts_the_previous_deployment_back() {
    static CANCEL: AtomicBool = AtomicBool::new(false);
    static ARMED: AtomicBool = AtomicBool::new(false);
    let runner = RecordingRunner::new().with_hook(|cmd| {
        if cmd.args.iter().any(|a| a == "enable") && ARMED.swap(false, Ordering::SeqCst) {
            CANCEL.store(true, Ordering::SeqCst);
        }
        None
    });
    let mut fx = Fixture::with_runner(OsKind::Linux, runner);
    fx.env.cancel = &CANCEL;
    fx.write(".claude/settings.json", "{}\n");
    let mut r = req(Preset::Service, Scope::Provider, &[Tool::Claude]);
    apply(&fx.env, &plan(&fx.env, &r).unwrap()).unwrap();
    let installed = fx.read(".claude/settings.json");
    r.targets = vec![Tool::Claude, Tool::Codex];
    let p = plan(&fx.env, &r).unwrap();
    ARMED.store(true, Ordering::SeqCst);
    let err = apply(&fx.env, &p).unwrap_err();
    assert!(err.message.contains("interrupted"), "{}", err.message);
    assert!(
        err.message.contains("the previous settings were restored"),
        "{}",
        err.message
    );
    assert_eq!(status(&fx.env, "default").unwrap().targets, vec!["claude"]);
    assert_eq!(fx.read(".claude/settings.json"), installed);
    assert!(!fx.home.join(".codex/config.toml").exists());
}

#[test]
fn a_claude_gateway_becomes_the_deployments_upstream() {
    let fx = Fixture::new(OsKind::Linux);
    let original = "{\n  \"env\": {\n    \"ANTHROPIC_BASE_URL\": \"https://llm.corp.example/anthropic\"\n  }\n}\n";
    fx.write(".claude/settings.json", original);
    let before = snapshot(&fx.home);
    let r = req(Preset::Service, Scope::Provider, &[Tool::Claude]);
    let p = plan(&fx.env, &r).unwrap();
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("llm.corp.example") && n.contains("upstream")),
        "{:?}",
        p.notes
    );
    assert_eq!(
        upstream(&p, "ANTHROPIC_TARGET_API_URL"),
        Some("https://llm.corp.example/anthropic")
    );
    apply(&fx.env, &p).unwrap();
    let wired = fx.read(".claude/settings.json");
    assert!(
        wired.contains(&format!("http://127.0.0.1:{}", r.port)),
        "{wired}"
    );
    // Applying again (the file now points at Headroom) keeps the gateway as the upstream.
    let again = plan(&fx.env, &r).unwrap();
    assert_eq!(
        upstream(&again, "ANTHROPIC_TARGET_API_URL"),
        Some("https://llm.corp.example/anthropic")
    );
    assert!(again.up_to_date);
    remove(&fx.env, "default").unwrap();
    assert_eq!(fx.read(".claude/settings.json"), original);
    assert_eq!(snapshot(&fx.home), before);

    // At user scope the settings file beats the shell environment: say so.
    let p = plan(&fx.env, &req(Preset::Service, Scope::User, &[Tool::Claude])).unwrap();
    assert!(
        p.notes
            .iter()
            .any(|n| n.starts_with("warning:") && n.contains("--scope provider")),
        "{:?}",
        p.notes
    );
}

/// A gateway on this machine (LiteLLM on a loopback port) answering like one: 404 to
/// everything. Returns its port; the thread serves until the test ends.
fn local_gateway() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 27\r\nconnection: close\r\n\r\n{\"detail\":\"Not Found\"}    ",
            );
        }
    });
    port
}

#[test]
fn a_gateway_on_a_loopback_port_is_chained_not_taken_for_headroom() {
    let fx = Fixture::new(OsKind::Linux);
    let gw = local_gateway();
    let claude = format!(
        "{{\n  \"env\": {{\n    \"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:{gw}\"\n  }}\n}}\n"
    );
    let opencode = format!("{{\n  \"provider\": {{\n    \"openai\": {{\n      \"options\": {{\n        \"baseURL\": \"http://localhost:{gw}/v1\"\n      }}\n    }}\n  }}\n}}\n");
    fx.write(".claude/settings.json", &claude);
    fx.write(".config/opencode/opencode.json", &opencode);
    let before = snapshot(&fx.home);
    let r = req(
        Preset::Service,
        Scope::Provider,
        &[Tool::Claude, Tool::Opencode],
    );
    let p = plan(&fx.env, &r).unwrap();
    let anthropic = format!("http://127.0.0.1:{gw}");
    let openai = format!("http://localhost:{gw}/v1");
    assert_eq!(
        upstream(&p, "ANTHROPIC_TARGET_API_URL"),
        Some(anthropic.as_str())
    );
    assert_eq!(upstream(&p, "OPENAI_TARGET_API_URL"), Some(openai.as_str()));
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains(&format!("127.0.0.1:{gw}")) && n.contains("upstream")),
        "{:?}",
        p.notes
    );
    apply(&fx.env, &p).unwrap();
    // Now the files point at this deployment's port: that is Headroom, the gateway stays.
    let again = plan(&fx.env, &r).unwrap();
    assert_eq!(
        upstream(&again, "ANTHROPIC_TARGET_API_URL"),
        Some(anthropic.as_str())
    );
    assert_eq!(
        upstream(&again, "OPENAI_TARGET_API_URL"),
        Some(openai.as_str())
    );
    assert!(again.up_to_date);
    remove(&fx.env, "default").unwrap();
    assert_eq!(fx.read(".claude/settings.json"), claude);
    assert_eq!(fx.read(".config/opencode/opencode.json"), opencode);
    assert_eq!(snapshot(&fx.home), before);

    // A loopback URL at the port a deployment uses is Headroom's own wiring, not a gateway.
    let r = req(Preset::Service, Scope::Provider, &[Tool::Claude]);
    fx.write(
        ".claude/settings.json",
        &format!(
            "{{\"env\": {{\"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:{}\"}}}}\n",
            r.port
        ),
    );
    let p = plan(&fx.env, &r).unwrap();
    assert_eq!(upstream(&p, "ANTHROPIC_TARGET_API_URL"), None);
}

#[test]
fn a_codex_profile_file_with_its_own_provider_is_named_not_silently_bypassed() {
    for scope in [Scope::Provider, Scope::User] {
        let fx = Fixture::new(OsKind::Linux);
        fx.write(".codex/config.toml", "model = \"gpt-5-codex\"\n");
        // `codex --profile corp` layers this over config.toml; `fast` only changes the model.
        let corp = "model_provider = \"corp\"\n\n[model_providers.corp]\nbase_url = \"https://llm.corp.example/v1\"\nenv_key = \"CORP_KEY\"\n";
        fx.write(".codex/corp.config.toml", corp);
        fx.write(".codex/fast.config.toml", "model = \"gpt-5-codex-mini\"\n");
        let p = plan(&fx.env, &req(Preset::Service, scope, &[Tool::Codex])).unwrap();
        let named: Vec<&String> = p
            .notes
            .iter()
            .filter(|n| n.contains("Codex profile"))
            .collect();
        assert_eq!(named.len(), 1, "{scope}: {:?}", p.notes);
        assert!(
            named[0].contains("`corp`")
                && named[0].contains("corp.config.toml")
                && named[0].contains("headroom wrap codex -- --profile corp"),
            "{}",
            named[0]
        );
        // The profile file is the user's: planning never edits it.
        assert!(p
            .files
            .iter()
            .all(|f| !f.path.ends_with("corp.config.toml")));
        apply(&fx.env, &p).unwrap();
        assert_eq!(fx.read(".codex/corp.config.toml"), corp);
        remove(&fx.env, "default").unwrap();
    }
}

#[test]
fn a_codex_profile_over_a_config_with_a_malformed_providers_key_is_read_without_a_panic() {
    let fx = Fixture::new(OsKind::Linux);
    // Codex itself would refuse this config.toml; a wrap with `--profile corp` must still
    // find the profile's gateway instead of panicking on the non-table `model_providers`.
    fx.write(".codex/config.toml", "model_providers = 3\n");
    fx.write(
        ".codex/corp.config.toml",
        "model_provider = \"corp\"\n\n[model_providers.corp]\nbase_url = \"https://llm.corp.example/v1\"\n",
    );
    let (gateway, file) =
        headroom_install::plan::codex_run_gateway(&fx.env, &[8787], Some("corp")).unwrap();
    assert_eq!(gateway.url, "https://llm.corp.example/v1");
    assert!(file.ends_with("corp.config.toml"), "{}", file.display());
    assert!(headroom_install::plan::codex_run_gateway(&fx.env, &[8787], None).is_none());
}

#[test]
fn codexs_own_provider_is_chained_with_its_key_and_headers() {
    for scope in [Scope::Provider, Scope::User] {
        let fx = Fixture::new(OsKind::Linux);
        let original = "model = \"gpt-5-codex\"\nmodel_provider = \"corp\"\n\n[model_providers.corp]\nname = \"Corp\"\nbase_url = \"https://llm.corp.example/openai/v1\"\nenv_key = \"CORP_KEY\"\nwire_api = \"responses\"\nhttp_headers = { \"x-team\" = \"blue\" }\n";
        fx.write(".codex/config.toml", original);
        let before = snapshot(&fx.home);
        let r = req(Preset::Service, scope, &[Tool::Codex]);
        let p = plan(&fx.env, &r).unwrap();
        assert_eq!(
            upstream(&p, "OPENAI_TARGET_API_URL"),
            Some("https://llm.corp.example/openai/v1"),
            "{scope}"
        );
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("Codex → Headroom → your gateway")
                    && n.contains("model_providers.corp.base_url")),
            "{:?}",
            p.notes
        );
        apply(&fx.env, &p).unwrap();
        let wired: toml_edit::DocumentMut = fx.read(".codex/config.toml").parse().unwrap();
        assert_eq!(wired["model_provider"].as_str(), Some("headroom"));
        let ours = &wired["model_providers"]["headroom"];
        assert_eq!(
            ours["base_url"].as_str(),
            Some(format!("http://127.0.0.1:{}/v1", r.port).as_str())
        );
        // Codex keeps authenticating as the user's provider did: its key variable and headers.
        assert_eq!(ours["env_key"].as_str(), Some("CORP_KEY"));
        assert_eq!(ours["http_headers"]["x-team"].as_str(), Some("blue"));
        assert!(ours.get("requires_openai_auth").is_none());
        assert_eq!(
            wired["model_providers"]["corp"]["base_url"].as_str(),
            Some("https://llm.corp.example/openai/v1")
        );
        // Re-applying (the file now names Headroom's provider) keeps the gateway.
        let again = plan(&fx.env, &r).unwrap();
        assert_eq!(
            upstream(&again, "OPENAI_TARGET_API_URL"),
            Some("https://llm.corp.example/openai/v1")
        );
        assert!(again.up_to_date, "{scope}");
        remove(&fx.env, "default").unwrap();
        assert_eq!(fx.read(".codex/config.toml"), original);
        assert_eq!(snapshot(&fx.home), before);
    }
}

#[test]
fn an_opencode_gateway_becomes_the_deployments_upstream() {
    let fx = Fixture::new(OsKind::Linux);
    // OpenCode's Anthropic provider sent to a company gateway, with a header of the user's.
    let original = "{\n  \"provider\": {\n    \"anthropic\": {\n      \"options\": {\n        \"baseURL\": \"https://llm.corp.example/anthropic/v1\",\n        \"headers\": { \"x-team\": \"blue\" }\n      }\n    }\n  }\n}\n";
    fx.write(".config/opencode/opencode.json", original);
    let before = snapshot(&fx.home);
    let r = req(Preset::Service, Scope::Provider, &[Tool::Opencode]);
    let p = plan(&fx.env, &r).unwrap();
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("OpenCode → Headroom → your gateway")
                && n.contains("provider.anthropic.options.baseURL")),
        "{:?}",
        p.notes
    );
    assert_eq!(
        upstream(&p, "ANTHROPIC_TARGET_API_URL"),
        Some("https://llm.corp.example/anthropic/v1")
    );
    assert_eq!(upstream(&p, "OPENAI_TARGET_API_URL"), None);
    apply(&fx.env, &p).unwrap();
    let wired = fx.read(".config/opencode/opencode.json");
    let url = format!("http://127.0.0.1:{}/v1", r.port);
    for id in ["anthropic", "openai"] {
        assert_eq!(
            headroom_install::jsonc::get_raw(&wired, &["provider", id, "options", "baseURL"])
                .unwrap(),
            Some(format!("\"{url}\"")),
            "{wired}"
        );
    }
    assert!(wired.contains("\"x-team\": \"blue\""), "{wired}");
    // Applying again (the file now points at Headroom) keeps the gateway as the upstream.
    let again = plan(&fx.env, &r).unwrap();
    assert_eq!(
        upstream(&again, "ANTHROPIC_TARGET_API_URL"),
        Some("https://llm.corp.example/anthropic/v1")
    );
    assert!(again.up_to_date);
    remove(&fx.env, "default").unwrap();
    assert_eq!(fx.read(".config/opencode/opencode.json"), original);
    assert_eq!(snapshot(&fx.home), before);

    // Claude Code's gateway elsewhere: one proxy cannot forward Anthropic to both.
    fx.write(
        ".claude/settings.json",
        "{\"env\": {\"ANTHROPIC_BASE_URL\": \"https://other.example\"}}\n",
    );
    let err = plan(
        &fx.env,
        &req(
            Preset::Service,
            Scope::Provider,
            &[Tool::Claude, Tool::Opencode],
        ),
    )
    .unwrap_err();
    assert!(
        err.message.contains("one proxy cannot forward to both"),
        "{}",
        err.message
    );
    assert!(
        err.hint.unwrap_or_default().contains("--target opencode"),
        "a profile of its own"
    );
}

/// The whole runtime matrix (issue 15): every preset × runtime × scope cell plans, applies,
/// reports its supervisor and runtime, and is removed leaving HOME and the system root byte for
/// byte as they were — on Linux, macOS and Windows (recording runner, fake `docker`). The
/// golden lists, per cell, the supervisor and every command apply and remove run.
#[cfg(unix)]
#[test]
fn every_preset_runtime_and_scope_cell_applies_and_removes() {
    use headroom_install::RuntimeKind;
    let mut out = String::new();
    for os in [OsKind::Linux, OsKind::Macos, OsKind::Windows] {
        for preset in [Preset::Service, Preset::Task, Preset::Docker] {
            for runtime in [RuntimeKind::Native, RuntimeKind::Docker] {
                if preset == Preset::Docker && runtime == RuntimeKind::Native {
                    // Contradictory: refused as a usage error (tested in errors-bad-inputs).
                    continue;
                }
                for scope in [Scope::Provider, Scope::User, Scope::System] {
                    let (mut fx, _reg) = match os {
                        OsKind::Windows => {
                            let (runner, reg) = fake_registry();
                            (Fixture::with_runner(os, runner), Some(reg))
                        }
                        _ => (Fixture::new(os), None),
                    };
                    if scope == Scope::System && os != OsKind::Windows {
                        fx.env.uid = 0;
                    }
                    fx.fake_bin("docker", "echo 27.0.0; exit 0");
                    let before = snapshot(&fx.home);
                    let before_root = snapshot(&fx.root);
                    let mut r = req(preset, scope, &[Tool::Claude]);
                    r.runtime = Some(runtime);
                    let cell = format!("{os:?} {preset} --runtime {runtime} --scope {scope}");
                    let p = plan(&fx.env, &r).unwrap_or_else(|e| panic!("{cell}: {}", e.message));
                    assert_eq!(p.manifest.runtime_kind, runtime, "{cell}");
                    apply(&fx.env, &p).unwrap_or_else(|e| panic!("{cell}: {}", e.message));
                    let st = status(&fx.env, "default").unwrap();
                    let applied = fx.runner.lines().len();
                    let rep = remove(&fx.env, "default").unwrap();
                    assert!(rep.errors.is_empty(), "{cell}: {:?}", rep.errors);
                    assert_eq!(snapshot(&fx.home), before, "{cell}: HOME after remove");
                    assert_eq!(snapshot(&fx.root), before_root, "{cell}: root after remove");
                    let lines: Vec<String> = fx
                        .runner
                        .lines()
                        .iter()
                        .map(|l| fx.norm(l).replace(&r.port.to_string(), "PORT"))
                        .filter(|l| !l.contains("GetEnvironmentVariable"))
                        .collect();
                    out.push_str(&format!(
                        "== {cell}: supervisor {}, runtime {}\n-- apply, status\n{}\n-- remove\n{}\n",
                        st.supervisor,
                        st.runtime,
                        lines[..applied.min(lines.len())].join("\n"),
                        lines[applied.min(lines.len())..].join("\n"),
                    ));
                }
            }
        }
    }
    golden("runtime-matrix.txt", &out);
}

/// A deployment of the Python Headroom at the same path: named (never "corrupt"), refused
/// without `--take-over`, and with it removed step by step — its unit stopped and deleted, its
/// blocks taken out of the shell and Codex files, Claude Code's settings given their recorded
/// previous values — before this Headroom installs; `remove` then leaves the files as they
/// were without either.
#[test]
fn a_python_headroom_deployment_is_named_and_taken_over() {
    let fx = Fixture::new(OsKind::Linux);
    let home = fx.home.display().to_string();
    let env_block = "# >>> headroom persistent env >>>\nexport HEADROOM_PORT=\"8787\"\nexport ANTHROPIC_BASE_URL=\"http://127.0.0.1:8787\"\nexport ENABLE_TOOL_SEARCH=\"true\"\n# <<< headroom persistent env <<<\n";
    let bashrc_user = "# mine\nalias ll='ls -l'\n";
    fx.write(".bashrc", &format!("{bashrc_user}\n{env_block}"));
    let codex_user = "model = \"gpt-5\"\n";
    fx.write(
        ".codex/config.toml",
        &format!("{codex_user}# --- Headroom persistent provider ---\nmodel_provider = \"headroom\"\nopenai_base_url = \"http://127.0.0.1:8787/v1\"\n\n[model_providers.headroom]\nname = \"Headroom persistent proxy\"\nbase_url = \"http://127.0.0.1:8787/v1\"\n# --- end Headroom persistent provider ---\n"),
    );
    fx.write(
        ".claude/settings.json",
        "{\n  \"theme\": \"dark\",\n  \"env\": {\n    \"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:8787\",\n    \"ENABLE_TOOL_SEARCH\": \"true\"\n  }\n}\n",
    );
    let unit = fx.write(
        ".config/systemd/user/headroom-default.service",
        "[Service]\nExecStart=/home/x/.headroom/deploy/default/run-headroom.sh\n",
    );
    let script = fx.write(".headroom/deploy/default/run-headroom.sh", "#!/bin/sh\n");
    let manifest = serde_json::json!({
        "profile": "default", "preset": "persistent-service", "runtime_kind": "python",
        "supervisor_kind": "service", "scope": "user", "provider_mode": "auto",
        "targets": ["claude", "codex"], "port": 8787, "host": "127.0.0.1", "backend": "anthropic",
        "mutations": [
            {"target": "env", "kind": "shell-block", "path": format!("{home}/.bashrc"), "data": {}},
            {"target": "claude", "kind": "json-env", "path": format!("{home}/.claude/settings.json"),
             "data": {"previous": {"ANTHROPIC_BASE_URL": null, "ENABLE_TOOL_SEARCH": null}}},
            {"target": "codex", "kind": "toml-block", "path": format!("{home}/.codex/config.toml"), "data": {}}
        ],
        "artifacts": [
            {"kind": "script", "path": script.display().to_string(), "metadata": {}},
            {"kind": "service-unit", "path": unit.display().to_string(), "metadata": {}}
        ],
        "created_at": "2026-07-02T12:00:00.000000Z", "updated_at": "2026-07-02T12:00:00.000000Z"
    });
    fx.write(
        ".headroom/deploy/default/manifest.json",
        &serde_json::to_string_pretty(&manifest).unwrap(),
    );

    // Every command names it; nothing is changed.
    let before = snapshot(&fx.home);
    let err = status(&fx.env, "default").unwrap_err();
    assert!(err.message.contains("installed by the Python Headroom (persistent-service, user scope, port 8787, targets: claude, codex)"), "{}", err.message);
    assert!(err.message.contains("systemd unit"), "{}", err.message);
    assert!(err.hint.as_deref().unwrap_or("").contains("--take-over"));
    let mut r = req(Preset::Service, Scope::User, &[Tool::Claude, Tool::Codex]);
    r.port = free_port();
    assert!(plan(&fx.env, &r)
        .unwrap_err()
        .message
        .contains("Python Headroom"));
    assert!(remove(&fx.env, "default").is_err());
    let unlocked = |snap: Vec<(String, String, u32, Vec<u8>)>| -> Vec<_> {
        snap.into_iter()
            .filter(|e| !e.0.ends_with(".lock"))
            .collect()
    };
    assert_eq!(
        unlocked(snapshot(&fx.home)),
        unlocked(before),
        "nothing changed without --take-over (only the profile lock was taken)"
    );

    r.take_over_python = true;
    let p = plan(&fx.env, &r).unwrap();
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("`--take-over` removes it first")),
        "{:?}",
        p.notes
    );
    let rep = apply(&fx.env, &p).unwrap();
    let said = rep.notes.join("\n");
    assert!(
        said.contains(
            "Python Headroom: ran systemctl --user disable --now headroom-default.service"
        ),
        "{said}"
    );
    assert!(said.contains("took the Python env block out of"), "{said}");
    assert!(fx
        .commands()
        .contains("systemctl --user disable --now headroom-default.service"));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fx.env.manifest_path("default")).unwrap())
            .unwrap();
    assert_eq!(m["schema_version"], 1, "ours now");
    assert!(!script.exists(), "its runner script is gone");
    let bashrc = std::fs::read_to_string(fx.home.join(".bashrc")).unwrap();
    assert!(!bashrc.contains("HEADROOM_PORT=\"8787\""), "{bashrc}");
    assert!(bashrc.starts_with(bashrc_user), "{bashrc}");

    // Removing ours leaves the files as they were before either Headroom.
    assert!(remove(&fx.env, "default").unwrap().errors.is_empty());
    assert_eq!(
        std::fs::read_to_string(fx.home.join(".bashrc")).unwrap(),
        bashrc_user
    );
    assert_eq!(
        std::fs::read_to_string(fx.home.join(".codex/config.toml")).unwrap(),
        codex_user
    );
    let settings = std::fs::read_to_string(fx.home.join(".claude/settings.json")).unwrap();
    assert!(!settings.contains("ANTHROPIC_BASE_URL"), "{settings}");
    assert!(settings.contains("\"theme\": \"dark\""), "{settings}");
    assert!(!unit.exists());
}
