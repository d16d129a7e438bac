//! `install stop` is fail-open: the real engine on a fake HOME stops the deployment and takes
//! its tool wiring out (Claude Code's settings.json, Codex's config.toml, the shell rc block),
//! byte for byte; `start` puts exactly the same wiring back; `remove` after a stop still
//! leaves HOME as it was before `apply`; `--keep-wiring` keeps the old behaviour.

mod common;

use common::{snapshot, Fixture};
use headroom_install::targets::Tool;
use headroom_install::{
    apply, engine, plan, remove, restart, start_with, status, stop_with, OsKind, Preset,
    ProviderMode, Request, Scope,
};

type Snapshot = Vec<(String, String, u32, Vec<u8>)>;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn req(scope: Scope, targets: &[Tool]) -> Request {
    Request {
        preset: Some(Preset::Service),
        scope,
        providers: ProviderMode::Manual,
        targets: targets.to_vec(),
        port: free_port(),
        ..Request::default()
    }
}

/// HOME without Headroom's own state and the supervisor's unit files (those stay while a
/// deployment is stopped): what the user's tools read.
fn tool_view(fx: &Fixture) -> Snapshot {
    snapshot(&fx.home)
        .into_iter()
        .filter(|(p, ..)| {
            !p.starts_with(".headroom") && !p.starts_with(".config/systemd") && p != ".config"
        })
        .collect()
}

fn text(fx: &Fixture, rel: &str) -> String {
    std::fs::read_to_string(fx.home.join(rel)).unwrap_or_default()
}

/// A HOME with the user's own content in every file the wiring touches.
fn fixture() -> Fixture {
    let mut fx = Fixture::new(OsKind::Linux);
    fx.write(".bashrc", "# my bashrc\nalias ll='ls -l'\n");
    fx.write(
        ".claude/settings.json",
        "{\n  // mine\n  \"model\": \"opus\",\n  \"env\": {\"FOO\": \"1\"}\n}\n",
    );
    fx.write(
        ".codex/config.toml",
        "model = \"gpt-5\"\n\n[tui]\nnotifications = true\n",
    );
    fx.fake_bin("zsh", "exit 0");
    fx
}

/// apply → stop → start → stop → start → remove, checking the tool files at every step.
fn round_trip(scope: Scope, wired_files: &[&str]) {
    let fx = fixture();
    let r = req(scope, &[Tool::Claude, Tool::Codex]);
    let port = r.port.to_string();
    let before_home = snapshot(&fx.home);
    let before = tool_view(&fx);
    apply(&fx.env, &plan(&fx.env, &r).unwrap()).unwrap();
    let applied = tool_view(&fx);
    assert_ne!(applied, before, "apply must wire something");
    for f in wired_files {
        assert!(
            text(&fx, f).contains(&port),
            "{f} must point at port {port} after apply:\n{}",
            text(&fx, f)
        );
    }
    let applied_manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fx.env.manifest_path("default")).unwrap()).unwrap();

    for round in 0..2 {
        let rep = stop_with(&fx.env, "default", false).unwrap();
        assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
        assert_eq!(
            tool_view(&fx),
            before,
            "round {round}: after stop every tool file is byte-identical to before apply"
        );
        for f in wired_files {
            assert!(!text(&fx, f).contains(&port), "{f} still wired after stop");
        }
        let st = status(&fx.env, "default").unwrap();
        assert!(st.paused && st.wiring_paused, "{st:?}");
        // Nothing of the tool files is recorded while paused; the edits are.
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fx.env.manifest_path("default")).unwrap())
                .unwrap();
        assert_eq!(m["wiring_paused"], true);
        assert!(m["mutations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|mu| mu["file"].is_null() && !mu["data"].is_null()));
        // A second stop is a no-op.
        let again = stop_with(&fx.env, "default", false).unwrap();
        assert!(again.actions.is_empty(), "{:?}", again.actions);
        assert_eq!(tool_view(&fx), before);

        let rep = start_with(&fx.env, "default").unwrap();
        assert!(!rep.actions.is_empty());
        assert_eq!(
            tool_view(&fx),
            applied,
            "round {round}: after start every tool file is byte-identical to after apply"
        );
        let st = status(&fx.env, "default").unwrap();
        assert!(!st.paused && !st.wiring_paused, "{st:?}");
        // The undo records are the same as apply's (the user's original bytes).
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fx.env.manifest_path("default")).unwrap())
                .unwrap();
        assert_eq!(
            m["mutations"], applied_manifest["mutations"],
            "round {round}"
        );
        assert!(m.get("wiring_paused").is_none());
    }
    // restart keeps the wiring as it is.
    restart(&fx.env, "default").unwrap();
    assert_eq!(tool_view(&fx), applied);

    // remove after a stop: HOME exactly as before apply.
    stop_with(&fx.env, "default", false).unwrap();
    let rep = remove(&fx.env, "default").unwrap();
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert!(rep.warnings.is_empty(), "{:?}", rep.warnings);
    assert_eq!(
        snapshot(&fx.home),
        before_home,
        "HOME byte-identical after remove"
    );
}

#[test]
fn provider_scope_stop_unwires_start_rewires_remove_restores() {
    round_trip(
        Scope::Provider,
        &[".claude/settings.json", ".codex/config.toml"],
    );
}

#[test]
fn user_scope_stop_unwires_start_rewires_remove_restores() {
    round_trip(Scope::User, &[".bashrc"]);
}

#[test]
fn keep_wiring_leaves_the_tools_wired() {
    let fx = fixture();
    let r = req(Scope::Provider, &[Tool::Claude, Tool::Codex]);
    let before_home = snapshot(&fx.home);
    apply(&fx.env, &plan(&fx.env, &r).unwrap()).unwrap();
    let applied = tool_view(&fx);
    let rep = stop_with(&fx.env, "default", true).unwrap();
    assert!(rep.actions.is_empty());
    assert_eq!(tool_view(&fx), applied);
    let st = status(&fx.env, "default").unwrap();
    assert!(st.paused && !st.wiring_paused, "{st:?}");
    assert!(engine::is_paused(&fx.env, "default"));
    start_with(&fx.env, "default").unwrap();
    assert_eq!(tool_view(&fx), applied);
    let rep = remove(&fx.env, "default").unwrap();
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert_eq!(snapshot(&fx.home), before_home);
}

/// The user edits a tool file while the deployment is stopped: `start` wires on top of their
/// content and `remove` then gives back exactly their content.
#[test]
fn edits_made_while_stopped_are_kept_by_start_and_remove() {
    let fx = fixture();
    let r = req(Scope::Provider, &[Tool::Claude]);
    let port = r.port.to_string();
    apply(&fx.env, &plan(&fx.env, &r).unwrap()).unwrap();
    stop_with(&fx.env, "default", false).unwrap();
    let mine = "{\n  \"model\": \"sonnet\",\n  \"env\": {\"FOO\": \"2\"}\n}\n";
    fx.write(".claude/settings.json", mine);
    start_with(&fx.env, "default").unwrap();
    let wired = text(&fx, ".claude/settings.json");
    assert!(wired.contains(&port) && wired.contains("sonnet") && wired.contains("\"2\""));
    let rep = remove(&fx.env, "default").unwrap();
    assert!(rep.errors.is_empty() && rep.warnings.is_empty(), "{rep:?}");
    assert_eq!(text(&fx, ".claude/settings.json"), mine);
}

/// A tool file that became unparseable while stopped: `start` fails before starting anything
/// and changes nothing; the wiring stays paused.
#[test]
fn start_refuses_a_broken_tool_file_and_changes_nothing() {
    let fx = fixture();
    let r = req(Scope::Provider, &[Tool::Claude]);
    apply(&fx.env, &plan(&fx.env, &r).unwrap()).unwrap();
    stop_with(&fx.env, "default", false).unwrap();
    fx.write(".claude/settings.json", "{ not json");
    let home = snapshot(&fx.home);
    let mark = fx.runner.lines().len();
    let err = start_with(&fx.env, "default").unwrap_err();
    assert!(err.message.contains("settings.json"), "{}", err.message);
    assert_eq!(snapshot(&fx.home), home);
    assert_eq!(fx.runner.lines().len(), mark, "nothing may be started");
    assert!(status(&fx.env, "default").unwrap().wiring_paused);
}
