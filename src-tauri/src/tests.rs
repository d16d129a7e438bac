//! Commands through Tauri's mock runtime (no display, no D-Bus): the IPC layer the UI uses.

use std::sync::Arc;

use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindowBuilder;

use crate::controller::tests::{test_setup, Recorder};
use crate::controller::Controller;
use crate::AppInfo;

fn invoke(
    webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    body: Value,
) -> Result<Value, Value> {
    get_ipc_response(
        webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(body),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

#[test]
fn commands_over_a_fake_home() {
    let home = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (mut env, mut opts) = test_setup(home.path(), Some(port));
    // A fake Claude Code on PATH with an existing config.
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // Windows finds it through PATHEXT, as it finds npm's `claude.cmd`.
    let claude = bin.join(if cfg!(windows) {
        "claude.cmd"
    } else {
        "claude"
    });
    std::fs::write(&claude, "#!/bin/sh\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    env.vars.insert("PATH".into(), bin.display().to_string());
    let engine = opts.engine.as_mut().expect("test engine");
    engine.env.path = vec![bin.clone()];
    // The real `/` as root prefix: system scope then needs administrator rights.
    engine.env.root = "/".into();
    let ctl = Controller::new(env, Arc::new(Recorder::default()), opts).unwrap();
    ctl.launch();
    let info = AppInfo {
        version: "test",
        tray_available: false,
        state_dir: String::new(),
    };
    let app = crate::builder(mock_builder(), ctl.clone(), info)
        .build(mock_context(noop_assets()))
        .unwrap();
    let w = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();

    let status = invoke(&w, "get_status", json!({})).unwrap();
    assert_eq!(status["running"], true);
    assert_eq!(status["mode"], "in-app");
    assert_eq!(status["deployment"]["preset"], "desktop");
    assert_eq!(status["port"], port);

    let tools = invoke(&w, "list_tools", json!({})).unwrap();
    let claude_row = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "claude")
        .unwrap();
    assert_eq!(claude_row["detected"], true);
    assert_eq!(claude_row["binary"], claude.display().to_string());
    let codex_row = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "codex")
        .unwrap();
    assert_eq!(codex_row["detected"], false);
    let system = &claude_row["scopes"].as_array().unwrap()[2];
    assert_eq!(system["supported"], false);
    assert!(system["reason"].as_str().unwrap().contains("administrator"));

    let plan = invoke(
        &w,
        "preview_tool",
        json!({"tool": "claude", "scope": "provider"}),
    )
    .unwrap();
    assert_eq!(plan["changes"][0]["action"], "create");
    assert!(plan["changes"][0]["diff"]
        .as_str()
        .unwrap()
        .contains("ANTHROPIC_BASE_URL"));
    let settings_file = home.path().join(".claude/settings.json");
    assert!(!settings_file.exists());
    let status = invoke(&w, "apply_pending", json!({})).unwrap();
    assert_eq!(status["routing"], "on");
    assert!(settings_file.exists());
    // Applying twice is an error with a code the UI can branch on.
    let err = invoke(&w, "apply_pending", json!({})).unwrap_err();
    assert_eq!(err["code"], "no-plan");
    invoke(&w, "undo_wiring", json!({})).unwrap();
    assert!(!settings_file.exists());

    let err = invoke(
        &w,
        "preview_tool",
        json!({"tool": "aider", "scope": "provider"}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "unsupported");

    let status = invoke(&w, "proxy_action", json!({"action": "stop"})).unwrap();
    assert_eq!(status["state"], "stopped");
    let status = invoke(&w, "proxy_action", json!({"action": "start"})).unwrap();
    assert_eq!(status["state"], "running");

    let mut settings = invoke(&w, "get_settings", json!({})).unwrap();
    settings["anthropic_url"] = json!("not a url");
    let err = invoke(&w, "save_settings", json!({"settings": settings})).unwrap_err();
    assert_eq!(err["code"], "invalid");

    let deployments = invoke(&w, "list_deployments", json!({})).unwrap();
    assert_eq!(deployments, json!([]));
    let err = invoke(&w, "apply_install", json!({})).unwrap_err();
    assert_eq!(err["code"], "no-plan");
    let shim = invoke(&w, "cli_shim_status", json!({})).unwrap();
    assert_eq!(shim["installed"], false);

    let verify = invoke(&w, "verify", json!({})).unwrap();
    assert_eq!(verify["proxy_healthy"], true);
    assert_eq!(verify["wiring_ok"], true);
    ctl.shutdown();
}
