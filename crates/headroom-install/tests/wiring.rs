//! The desktop app's per-tool wiring, through the real engine on a fake HOME: previews as
//! diffs, byte-exact undo, the user's later edits kept, pause/resume, port moves, one-click
//! undo, refusals with reasons, and no fighting with an installed deployment over a file.

mod common;

use std::collections::BTreeMap;

use common::shapes::{json, place, shell, toml};
use common::{snapshot, Fixture};
use headroom_install::targets::Tool;
use headroom_install::wiring::{self, Wiring};
use headroom_install::{OsKind, Preset, ProviderMode, Request, Scope};
use proptest::prelude::*;

const OWNER: &str = "desktop";

fn choice(pairs: &[(Tool, Scope)]) -> BTreeMap<Tool, Scope> {
    pairs.iter().copied().collect()
}

/// Plan routing `desired` from nothing wired.
fn plan_fresh(
    fx: &Fixture,
    desired: &[(Tool, Scope)],
    port: u16,
) -> headroom_install::Result<wiring::WiringPlan> {
    wiring::plan(
        &fx.env,
        OWNER,
        &Wiring::default(),
        &choice(desired),
        true,
        port,
    )
}

/// Plan and apply `desired` (active) at `port`.
fn wire(fx: &Fixture, w: &Wiring, desired: &[(Tool, Scope)], port: u16) -> Wiring {
    let p = wiring::plan(&fx.env, OWNER, w, &choice(desired), true, port).unwrap();
    wiring::apply(&fx.env, &p).unwrap()
}

/// HOME and the fake root, minus Headroom's own state.
fn user_files(fx: &Fixture) -> Vec<(String, String, u32, Vec<u8>)> {
    let mut s = snapshot(fx.tmp.path());
    s.retain(|(p, ..)| !p.starts_with("home/.headroom") && !p.starts_with("bin"));
    s
}

#[test]
fn provider_scope_previews_a_diff_and_unwiring_restores_the_bytes() {
    let fx = Fixture::new(OsKind::Linux);
    let original = "{\n  // mine\n  \"model\": \"opus\",\n  \"env\": { \"FOO\": \"1\" }\n}\n";
    fx.write(".claude/settings.json", original);
    let w0 = Wiring::load(&fx.env, OWNER).unwrap();
    let p = wiring::plan(
        &fx.env,
        OWNER,
        &w0,
        &choice(&[(Tool::Claude, Scope::Provider)]),
        true,
        9123,
    )
    .unwrap();
    assert_eq!(p.files.len(), 1);
    let diff = p.render_diff();
    assert!(
        diff.contains("+") && diff.contains("\"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:9123\""),
        "{diff}"
    );
    assert_eq!(
        fx.read(".claude/settings.json"),
        original,
        "planning writes nothing"
    );

    let w1 = wiring::apply(&fx.env, &p).unwrap();
    let text = fx.read(".claude/settings.json");
    assert!(text.contains("// mine"), "comments survive: {text}");
    assert!(text.contains("\"FOO\": \"1\""));
    assert_eq!(Wiring::load(&fx.env, OWNER).unwrap(), w1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(Wiring::path(&fx.env, OWNER))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "state readable by the user only");
    }
    // Nothing left to do, and the disk matches the state.
    let again = wiring::plan(&fx.env, OWNER, &w1, &w1.desired, true, 9123).unwrap();
    assert!(again.is_empty(), "{}", again.render_diff());
    wiring::verify(&fx.env, OWNER, &w1).unwrap();

    let w2 = wiring::set_active(&fx.env, OWNER, &w1, false, 9123).unwrap();
    assert_eq!(fx.read(".claude/settings.json"), original);
    assert!(!w2.active);
    assert_eq!(
        w2.desired,
        choice(&[(Tool::Claude, Scope::Provider)]),
        "the choice is kept while off"
    );
    assert!(w2.mutations.is_empty());
}

#[test]
fn mixed_scopes_create_only_what_is_needed_and_remove_it_all() {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.fake_bin("bash", "exit 0");
    let before = user_files(&fx);
    let desired = [
        (Tool::Claude, Scope::Provider),
        (Tool::Codex, Scope::Provider),
        (Tool::Opencode, Scope::Provider),
        (Tool::Aider, Scope::User),
    ];
    let w = wire(&fx, &Wiring::default(), &desired, 8787);
    assert!(fx
        .read(".codex/config.toml")
        .contains("base_url = \"http://127.0.0.1:8787/v1\""));
    assert!(fx
        .read(".config/opencode/opencode.json")
        .contains("http://127.0.0.1:8787/v1"));
    let bashrc = fx.read(".bashrc");
    assert!(bashrc.contains("export OPENAI_API_BASE="), "{bashrc}");
    assert!(bashrc.contains("127.0.0.1:8787/v1"));
    wiring::set_active(&fx.env, OWNER, &w, false, 8787).unwrap();
    assert_eq!(
        user_files(&fx),
        before,
        "created files and dirs are gone again"
    );
}

#[test]
fn unwiring_keeps_the_users_later_edits() {
    let fx = Fixture::new(OsKind::Linux);
    fx.write(
        ".claude/settings.json",
        "{\n  \"env\": {\n    \"ANTHROPIC_BASE_URL\": \"https://gw.example\"\n  }\n}\n",
    );
    let w = wire(
        &fx,
        &Wiring::default(),
        &[(Tool::Claude, Scope::Provider)],
        8787,
    );
    // The user adds a key and changes ours.
    let edited = fx
        .read(".claude/settings.json")
        .replace(
            "\"ENABLE_TOOL_SEARCH\": \"true\"",
            "\"ENABLE_TOOL_SEARCH\": \"false\"",
        )
        .replacen('{', "{\n  \"theme\": \"dark\",", 1);
    fx.write(".claude/settings.json", &edited);
    wiring::set_active(&fx.env, OWNER, &w, false, 8787).unwrap();
    let v: serde_json::Value = serde_json::from_str(&fx.read(".claude/settings.json")).unwrap();
    assert_eq!(v["theme"], "dark");
    assert_eq!(
        v["env"]["ANTHROPIC_BASE_URL"], "https://gw.example",
        "our value went back to theirs"
    );
    assert_eq!(
        v["env"]["ENABLE_TOOL_SEARCH"], "false",
        "their change stays"
    );
}

#[test]
fn port_moves_and_scope_changes_stay_relative_to_the_original() {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.fake_bin("bash", "exit 0");
    fx.write(".bashrc", "alias ll='ls -l'\n");
    fx.write(".claude/settings.json", "{\n  \"model\": \"opus\"\n}\n");
    let before = user_files(&fx);
    let w = wire(
        &fx,
        &Wiring::default(),
        &[(Tool::Claude, Scope::Provider)],
        8787,
    );
    // Same choice, another port: the URL moves.
    let w = wiring::set_active(&fx.env, OWNER, &w, true, 9999).unwrap();
    assert!(fx.read(".claude/settings.json").contains("127.0.0.1:9999"));
    assert!(!fx.read(".claude/settings.json").contains("8787"));
    // Claude Code from provider to user scope: settings.json goes back, .bashrc gets the block.
    let p = wiring::plan(
        &fx.env,
        OWNER,
        &w,
        &choice(&[(Tool::Claude, Scope::User)]),
        true,
        9999,
    )
    .unwrap();
    let diff = p.render_diff();
    assert!(
        diff.contains(".claude/settings.json") && diff.contains(".bashrc"),
        "{diff}"
    );
    let w = wiring::apply(&fx.env, &p).unwrap();
    assert_eq!(
        fx.read(".claude/settings.json"),
        "{\n  \"model\": \"opus\"\n}\n"
    );
    assert!(fx.read(".bashrc").contains("export ANTHROPIC_BASE_URL="));
    assert_eq!(w.undo, Some(choice(&[(Tool::Claude, Scope::Provider)])));
    // One-click undo returns to provider scope, then nothing is left to undo.
    let p = wiring::plan_undo(&fx.env, OWNER, &w, 9999).unwrap();
    let w = wiring::apply(&fx.env, &p).unwrap();
    assert_eq!(fx.read(".bashrc"), "alias ll='ls -l'\n");
    assert!(fx.read(".claude/settings.json").contains("127.0.0.1:9999"));
    assert!(w.undo.is_none());
    assert!(wiring::plan_undo(&fx.env, OWNER, &w, 9999).is_err());
    wiring::set_active(&fx.env, OWNER, &w, false, 9999).unwrap();
    assert_eq!(user_files(&fx), before);
}

#[test]
fn unparseable_configs_are_refused_and_left_alone() {
    let fx = Fixture::new(OsKind::Linux);
    fx.write(".claude/settings.json", "{ broken");
    let err = plan_fresh(&fx, &[(Tool::Claude, Scope::Provider)], 8787).unwrap_err();
    assert!(err.message.contains("settings.json"), "{}", err.message);
    assert!(err.hint.is_some());
    assert_eq!(fx.read(".claude/settings.json"), "{ broken");
    assert!(!Wiring::path(&fx.env, OWNER).exists());
}

#[test]
fn a_stale_preview_is_rejected_without_writing() {
    let fx = Fixture::new(OsKind::Linux);
    let p = plan_fresh(&fx, &[(Tool::Claude, Scope::Provider)], 8787).unwrap();
    fx.write(".claude/settings.json", "{}\n");
    let err = wiring::apply(&fx.env, &p).unwrap_err();
    assert!(
        err.message.contains("changed since the preview"),
        "{}",
        err.message
    );
    assert_eq!(fx.read(".claude/settings.json"), "{}\n");
}

#[test]
fn a_failed_write_rolls_everything_back() {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.fake_bin("bash", "exit 0");
    fx.write(".bashrc", "# rc\n");
    fx.write(".claude/settings.json", "{}\n");
    let before = user_files(&fx);
    let p = plan_fresh(
        &fx,
        &[(Tool::Claude, Scope::Provider), (Tool::Aider, Scope::User)],
        8787,
    )
    .unwrap();
    // The state file cannot be written: a directory stands where it goes.
    std::fs::create_dir_all(Wiring::path(&fx.env, OWNER)).unwrap();
    let err = wiring::apply(&fx.env, &p).unwrap_err();
    assert!(err.message.contains("rolled back"), "{}", err.message);
    assert_eq!(user_files(&fx), before);
}

#[cfg(unix)]
#[test]
fn symlinked_dotfiles_stay_symlinks() {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.fake_bin("bash", "exit 0");
    let target = fx.write("dotfiles/bashrc", "export A=1\n");
    std::os::unix::fs::symlink(&target, fx.home.join(".bashrc")).unwrap();
    let w = wire(
        &fx,
        &Wiring::default(),
        &[(Tool::Copilot, Scope::User)],
        8787,
    );
    assert!(std::fs::symlink_metadata(fx.home.join(".bashrc"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fx
        .read("dotfiles/bashrc")
        .contains("COPILOT_PROVIDER_BASE_URL"));
    wiring::set_active(&fx.env, OWNER, &w, false, 8787).unwrap();
    assert_eq!(fx.read("dotfiles/bashrc"), "export A=1\n");
}

#[test]
fn unsupported_choices_say_why() {
    let mut fx = Fixture::new(OsKind::Linux);
    let reason = |fx: &Fixture, t, s| wiring::support(&fx.env, t, s).unwrap_err();
    assert!(reason(&fx, Tool::Aider, Scope::Provider).contains("no config file"));
    assert!(reason(&fx, Tool::Openclaw, Scope::User).contains("openclaw.json"));
    assert!(wiring::support(&fx.env, Tool::Openclaw, Scope::Provider).is_ok());
    assert!(reason(&fx, Tool::Opencode, Scope::User).contains("opencode.json"));
    assert!(wiring::support(&fx.env, Tool::Codex, Scope::User).is_ok());
    // System scope on the real root needs administrator rights.
    fx.env.root = "/".into();
    assert!(reason(&fx, Tool::Claude, Scope::System)
        .contains("sudo headroom install apply --scope system"));
    let err = plan_fresh(&fx, &[(Tool::Aider, Scope::Provider)], 8787).unwrap_err();
    assert!(
        err.message.contains("cannot route Aider at provider scope"),
        "{}",
        err.message
    );
}

fn deployment(
    fx: &Fixture,
    scope: Scope,
    targets: &[Tool],
    take_over: Option<&str>,
) -> headroom_install::Result<headroom_install::Plan> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    headroom_install::plan(
        &fx.env,
        &Request {
            preset: Some(Preset::Service),
            scope,
            providers: ProviderMode::Manual,
            targets: targets.to_vec(),
            port,
            take_over: take_over.map(str::to_owned),
            ..Request::default()
        },
    )
}

#[test]
fn the_app_and_a_deployment_never_edit_the_same_file() {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.fake_bin("bash", "exit 0");
    let w = wire(
        &fx,
        &Wiring::default(),
        &[(Tool::Aider, Scope::User), (Tool::Claude, Scope::Provider)],
        8787,
    );
    // A deployment at user scope would share the env block: refused, unless it takes over.
    let err = deployment(&fx, Scope::User, &[Tool::Codex], None).unwrap_err();
    assert!(
        err.message.contains("already routes Aider at user scope"),
        "{}",
        err.message
    );
    assert!(deployment(&fx, Scope::User, &[Tool::Aider], Some(OWNER)).is_ok());
    assert!(
        deployment(&fx, Scope::User, &[Tool::Codex], Some(OWNER)).is_err(),
        "must cover Aider"
    );
    // Provider scope conflicts only on the same tool.
    assert!(deployment(&fx, Scope::Provider, &[Tool::Codex], None).is_ok());
    assert!(deployment(&fx, Scope::Provider, &[Tool::Claude], None).is_err());
    // Once the app has handed Aider over, the deployment installs, and the app cannot take
    // Aider (or the user env block) back while it is installed.
    let w = wire(&fx, &w, &[(Tool::Claude, Scope::Provider)], 8787);
    let p = deployment(&fx, Scope::User, &[Tool::Aider], Some(OWNER)).unwrap();
    headroom_install::apply(&fx.env, &p).unwrap();
    let why = wiring::support(&fx.env, Tool::Aider, Scope::User).unwrap_err();
    assert!(why.contains("installed deployment `default`"), "{why}");
    assert!(wiring::support(&fx.env, Tool::Copilot, Scope::User)
        .unwrap_err()
        .contains("env block"));
    // What the app already routes keeps working (pause and resume).
    let w = wiring::set_active(&fx.env, OWNER, &w, false, 8787).unwrap();
    wiring::set_active(&fx.env, OWNER, &w, true, 8787).unwrap();
}

#[test]
fn a_newer_state_file_is_refused() {
    let fx = Fixture::new(OsKind::Linux);
    fx.write(".headroom/wiring/desktop.json", "{\"schema_version\": 99}");
    let err = Wiring::load(&fx.env, OWNER).unwrap_err();
    assert!(err.message.contains("newer Headroom"), "{}", err.message);
    fx.write(".headroom/wiring/desktop.json", "{ nope");
    assert!(Wiring::load(&fx.env, OWNER)
        .unwrap_err()
        .message
        .contains("corrupt"));
}

#[derive(Debug, Clone)]
enum Op {
    Set(Tool, Option<Scope>),
    Active(bool),
    Port(bool),
    Undo,
}

fn op() -> impl Strategy<Value = Op> {
    let pair = prop_oneof![
        Just((Tool::Claude, Some(Scope::Provider))),
        Just((Tool::Claude, Some(Scope::User))),
        Just((Tool::Claude, None)),
        Just((Tool::Codex, Some(Scope::Provider))),
        Just((Tool::Codex, Some(Scope::System))),
        Just((Tool::Codex, None)),
        Just((Tool::Opencode, Some(Scope::Provider))),
        Just((Tool::Opencode, None)),
        Just((Tool::Aider, Some(Scope::User))),
        Just((Tool::Copilot, Some(Scope::User))),
        Just((Tool::Aider, None)),
    ];
    prop_oneof![
        4 => pair.prop_map(|(t, s)| Op::Set(t, s)),
        1 => any::<bool>().prop_map(Op::Active),
        1 => any::<bool>().prop_map(Op::Port),
        1 => Just(Op::Undo),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the configs look like and whatever the user toggles (scopes, pause, ports,
    /// undo), the disk always matches the state, and switching routing off leaves HOME and
    /// the system files byte-identical to before.
    #[test]
    fn any_sequence_of_changes_then_off_leaves_files_byte_identical(
        bashrc in shell(), profile in shell(),
        settings in json(), opencode in json(), codex in toml(),
        ops in proptest::collection::vec(op(), 1..8),
    ) {
        let mut fx = Fixture::new(OsKind::Linux);
        fx.fake_bin("bash", "exit 0");
        place(&fx, ".bashrc", &bashrc, 1);
        place(&fx, ".profile", &profile, 3);
        place(&fx, ".claude/settings.json", &settings, 4);
        place(&fx, ".config/opencode/opencode.json", &opencode, 5);
        place(&fx, ".codex/config.toml", &codex, 6);
        let before = user_files(&fx);
        let mut w = Wiring::default();
        let mut port = 8787;
        let mut active = true;
        for op in ops {
            let result = match op {
                Op::Set(tool, scope) => {
                    let mut desired = w.desired.clone();
                    match scope {
                        Some(s) => desired.insert(tool, s),
                        None => desired.remove(&tool),
                    };
                    wiring::plan(&fx.env, OWNER, &w, &desired, active, port)
                        .and_then(|p| wiring::apply(&fx.env, &p))
                }
                Op::Active(on) => {
                    active = on;
                    wiring::set_active(&fx.env, OWNER, &w, on, port)
                }
                Op::Port(up) => {
                    port = if up { 9000 } else { 8787 };
                    wiring::set_active(&fx.env, OWNER, &w, active, port)
                }
                Op::Undo => match wiring::plan_undo(&fx.env, OWNER, &w, port) {
                    Ok(p) => wiring::apply(&fx.env, &p),
                    Err(_) => Ok(w.clone()),
                },
            };
            w = result.unwrap();
            prop_assert_eq!(wiring::verify(&fx.env, OWNER, &w), Ok(()));
            prop_assert_eq!(&Wiring::load(&fx.env, OWNER).unwrap(), &w);
        }
        wiring::set_active(&fx.env, OWNER, &w, false, port).unwrap();
        prop_assert_eq!(user_files(&fx), before);
    }
}

/// A fake Windows registry behind `[Environment]::Get/SetEnvironmentVariable`, so the
/// user-environment half of Windows user scope round-trips like the files do.
fn windows_with_registry(
    initial: &[(&str, &str)],
) -> (
    Fixture,
    std::sync::Arc<std::sync::Mutex<BTreeMap<String, String>>>,
) {
    use headroom_install::{CmdOutput, RecordingRunner};
    use std::sync::{Arc, Mutex};
    let reg: Arc<Mutex<BTreeMap<String, String>>> = Arc::new(Mutex::new(
        initial
            .iter()
            .map(|(k, v)| (format!("User/{k}"), v.to_string()))
            .collect(),
    ));
    let r = reg.clone();
    let runner = RecordingRunner::new().with_hook(move |cmd| {
        let script = cmd.args.last()?;
        let args = script.split_once('(')?.1.rsplit_once(')')?.0;
        // 'NAME', 'value' | $null, 'Scope'   or   'NAME', 'Scope'
        let parts: Vec<String> = args
            .split(", ")
            .map(|p| p.trim_matches('\'').replace("''", "'"))
            .collect();
        let mut reg = r.lock().unwrap();
        let mut out = CmdOutput::ok();
        if script.contains("SetEnvironmentVariable") {
            let key = format!("{}/{}", parts[2], parts[0]);
            if parts[1] == "$null" {
                reg.remove(&key);
            } else {
                reg.insert(key, parts[1].clone());
            }
        } else if script.contains("GetEnvironmentVariable") {
            out.stdout = reg
                .get(&format!("{}/{}", parts[1], parts[0]))
                .cloned()
                .map(|v| v + "\r\n")
                .unwrap_or_default();
        } else {
            return None;
        }
        Some(Ok(out))
    });
    (Fixture::with_runner(OsKind::Windows, runner), reg)
}

#[test]
fn windows_user_scope_sets_and_restores_the_user_environment() {
    let (fx, reg) = windows_with_registry(&[("OPENAI_API_BASE", "https://corp.example/v1")]);
    let before_reg = reg.lock().unwrap().clone();
    let before = user_files(&fx);
    let p = plan_fresh(&fx, &[(Tool::Aider, Scope::User)], 8787).unwrap();
    let diff = p.render_diff();
    assert!(
        diff.contains("set User environment variable OPENAI_API_BASE=http://127.0.0.1:8787/v1 (was: https://corp.example/v1)"),
        "{diff}"
    );
    let w = wiring::apply(&fx.env, &p).unwrap();
    {
        let reg = reg.lock().unwrap();
        assert_eq!(reg["User/OPENAI_API_BASE"], "http://127.0.0.1:8787/v1");
        assert_eq!(reg["User/ANTHROPIC_BASE_URL"], "http://127.0.0.1:8787");
    }
    wiring::verify(&fx.env, OWNER, &w).unwrap();
    // A port move rewrites the variables; the recorded previous values stay the user's own.
    let w = wiring::set_active(&fx.env, OWNER, &w, true, 9000).unwrap();
    assert_eq!(
        reg.lock().unwrap()["User/ANTHROPIC_BASE_URL"],
        "http://127.0.0.1:9000"
    );
    // The user changes one of ours meanwhile: unwiring keeps theirs, restores the other.
    reg.lock().unwrap().insert(
        "User/ANTHROPIC_BASE_URL".into(),
        "https://mine.example".into(),
    );
    wiring::set_active(&fx.env, OWNER, &w, false, 9000).unwrap();
    let mut expected = before_reg;
    expected.insert(
        "User/ANTHROPIC_BASE_URL".into(),
        "https://mine.example".into(),
    );
    assert_eq!(*reg.lock().unwrap(), expected);
    assert_eq!(user_files(&fx), before, "PowerShell profiles restored too");
}
