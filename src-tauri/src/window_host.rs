//! The window lives in a short-lived child process so that closing it really frees its memory.
//!
//! Why: WebKitGTK never gives back what a web view cost once it was created in a process — its
//! WebKitNetworkProcess stays alive, and Mesa/EGL/LLVM and the touched parts of WebKit stay
//! mapped in the UI process (tauri issue #14626). A tray app that opened its window once would
//! sit at ~140 MiB instead of ~60 MiB. So the tray process never creates a web view: "Open
//! Headroom" runs the window-only binary [`WINDOW_BIN`] beside it (or, without one, the app
//! binary) with [`WINDOW_ARG`]; that child shows the window and forwards every UI command over a
//! private Unix socket (0600, in the state dir) to the tray process, which owns the one
//! [`Controller`]. Status events come back over a subscription on the same socket. When the
//! window closes the child exits and takes all of WebKit with it.
//!
//! Protocol: one JSON line per request (`{"cmd", "args"}`) answered by one JSON line
//! (`{"ok": value}` or `{"err": {code, message}}`), one connection per request. A connection
//! that sends `{"cmd": "__subscribe"}` instead receives `{"event": "status" | "focus", ...}` lines
//! until either side goes away; the child exits when the tray process does.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::controller::{CommandError, Controller, Status};
use crate::settings::Settings;
use headroom_install::targets::Tool;
use headroom_install::Scope;

/// Hidden argument that makes the binary run only the window, attached to the tray process.
pub const WINDOW_ARG: &str = "--window";
/// The window-only binary shipped beside the app on Linux (`src/bin/headroom-window.rs`).
pub const WINDOW_BIN: &str = "headroom-window";
/// Environment variable that tells the window child where the tray process listens.
pub const SOCKET_ENV: &str = "HEADROOM_DESKTOP_WINDOW_SOCKET";

/// Tray-process side: the socket server, the status subscribers and the window child.
pub struct WindowHost {
    path: PathBuf,
    /// The binary that runs the window ([`crate::window_exe`]).
    window_exe: PathBuf,
    subscribers: Mutex<Vec<UnixStream>>,
    child: Arc<Mutex<Option<Child>>>,
}

impl WindowHost {
    /// Listen on `<state_dir>/window.sock` (user-only) and serve requests against `ctl`; windows
    /// are `window_exe` run with [`WINDOW_ARG`].
    pub fn start(
        state_dir: &Path,
        ctl: Arc<Controller>,
        window_exe: PathBuf,
    ) -> std::io::Result<Arc<WindowHost>> {
        std::fs::create_dir_all(state_dir)?;
        // User-only state dir first, so the socket is never reachable by others, not even in
        // the instant between `bind` and its own `chmod`.
        std::fs::set_permissions(state_dir, std::fs::Permissions::from_mode(0o700))?;
        let path = state_dir.join("window.sock");
        // A stale socket from a crashed run; the single-instance plugin guarantees we own it.
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        let host = Arc::new(WindowHost {
            path,
            window_exe,
            subscribers: Mutex::new(Vec::new()),
            child: Arc::new(Mutex::new(None)),
        });
        let h = host.clone();
        std::thread::Builder::new()
            .name("headroom-window-ipc".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    let (h, ctl) = (h.clone(), ctl.clone());
                    let _ = std::thread::Builder::new()
                        .name("headroom-window-req".into())
                        .spawn(move || h.serve(conn, &ctl));
                }
            })?;
        Ok(host)
    }

    fn serve(&self, conn: UnixStream, ctl: &Arc<Controller>) {
        let Ok(read_half) = conn.try_clone() else {
            return;
        };
        let mut line = String::new();
        if BufReader::new(read_half).read_line(&mut line).is_err() {
            return;
        }
        let req: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        let cmd = req.get("cmd").and_then(Value::as_str).unwrap_or("");
        if cmd == "__subscribe" {
            let mut c = conn;
            // A stuck window must not stall the controller that reports status changes.
            let _ = c.set_write_timeout(Some(std::time::Duration::from_millis(500)));
            let first = json!({"event": "status", "payload": ctl.status()});
            // Under the lock, so no event can slip in between the first status and the rest.
            if let Ok(mut subs) = self.subscribers.lock() {
                if writeln!(c, "{first}").is_ok() {
                    subs.push(c);
                }
            }
            return;
        }
        let args = req.get("args").cloned().unwrap_or(Value::Null);
        let reply = match dispatch(ctl, cmd, &args) {
            Ok(v) => json!({ "ok": v }),
            Err(e) => json!({ "err": e }),
        };
        let mut c = conn;
        let _ = writeln!(c, "{reply}");
    }

    fn broadcast(&self, msg: &Value) {
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.retain_mut(|s| writeln!(s, "{msg}").is_ok());
        }
    }

    /// Push a status change to the window child, if any.
    pub fn status(&self, status: &Status) {
        self.broadcast(&json!({"event": "status", "payload": status}));
    }

    /// Show the window: focus the running child, or start one.
    pub fn open(&self) {
        let Ok(mut slot) = self.child.lock() else {
            return;
        };
        if let Some(c) = slot.as_mut() {
            if matches!(c.try_wait(), Ok(None)) {
                drop(slot);
                self.broadcast(&json!({"event": "focus"}));
                return;
            }
            // Reap the exited child.
            let _ = c.wait();
            *slot = None;
        }
        let spawned = Command::new(&self.window_exe)
            .arg(WINDOW_ARG)
            .env(SOCKET_ENV, &self.path)
            .spawn();
        match spawned {
            Ok(c) => {
                *slot = Some(c);
                self.reap_later();
            }
            Err(e) => eprintln!("headroom: cannot open the window: {e}"),
        }
    }

    /// Reap the window child when it exits, so no zombie outlives the window.
    fn reap_later(&self) {
        let slot = self.child.clone();
        let _ = std::thread::Builder::new()
            .name("headroom-window-reaper".into())
            .spawn(move || loop {
                std::thread::sleep(std::time::Duration::from_millis(250));
                let Ok(mut slot) = slot.lock() else { return };
                match slot.as_mut().map(Child::try_wait) {
                    Some(Ok(None)) => {}
                    // Exited (now reaped), gone, or replaced by shutdown: done.
                    _ => {
                        *slot = None;
                        return;
                    }
                }
            });
    }

    /// Close the window child (on Quit) and remove the socket.
    pub fn shutdown(&self) {
        if let Ok(mut slot) = self.child.lock() {
            if let Some(mut c) = slot.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn arg<T: DeserializeOwned>(args: &Value, name: &str) -> Result<T, CommandError> {
    serde_json::from_value(args.get(name).cloned().unwrap_or(Value::Null))
        .map_err(|e| CommandError::new("invalid", format!("argument `{name}`: {e}")))
}

fn to_value<T: serde::Serialize>(v: T) -> Result<Value, CommandError> {
    serde_json::to_value(v).map_err(|e| CommandError::new("internal", e.to_string()))
}

/// Run one UI command against the controller; the same set and argument names as the Tauri
/// commands in [`crate::commands`] (which serve the in-process window).
pub fn dispatch(ctl: &Arc<Controller>, cmd: &str, args: &Value) -> Result<Value, CommandError> {
    match cmd {
        "get_status" => to_value(ctl.status()),
        "refresh_status" => to_value(ctl.tick()),
        "proxy_action" => {
            let action: String = arg(args, "action")?;
            to_value(match action.as_str() {
                "start" => ctl.start(),
                "stop" => ctl.stop(),
                "restart" => ctl.restart(),
                "pause" => ctl.set_routing_paused(true),
                "resume" => ctl.set_routing_paused(false),
                other => {
                    return Err(CommandError::new(
                        "invalid",
                        format!("unknown action `{other}`"),
                    ))
                }
            })
        }
        "list_tools" => to_value(ctl.tools()),
        "preview_tool" => {
            let tool: String = arg(args, "tool")?;
            let scope: Option<Scope> = arg(args, "scope")?;
            to_value(ctl.preview_tool(&tool, scope)?)
        }
        "preview_wiring" => {
            let desired: BTreeMap<Tool, Scope> = arg(args, "desired")?;
            to_value(ctl.preview(desired)?)
        }
        "apply_pending" => to_value(ctl.apply_pending()?),
        "cancel_pending" => {
            ctl.cancel_pending();
            Ok(Value::Null)
        }
        "undo_wiring" => to_value(ctl.undo()?),
        "get_settings" => to_value(ctl.settings()),
        "save_settings" => {
            let settings: Settings = arg(args, "settings")?;
            to_value(ctl.save_settings(settings)?)
        }
        "set_autostart" => to_value(ctl.set_autostart(arg(args, "enabled")?)?),
        "finish_wizard" => to_value(ctl.set_wizard_done(arg(args, "done")?)?),
        "verify" => to_value(ctl.verify()),
        "cli_shim_status" => to_value(crate::commands::shim_status(ctl)?),
        "cli_shim_set" => to_value(crate::commands::shim_set(ctl, arg(args, "installed")?)?),
        "list_deployments" => to_value(ctl.deployments()),
        "preview_install" => {
            let preset: String = arg(args, "preset")?;
            to_value(ctl.preview_install(&preset)?)
        }
        "apply_install" => to_value(ctl.apply_install()?),
        "control_installed" => {
            let profile: String = arg(args, "profile")?;
            let action: String = arg(args, "action")?;
            to_value(ctl.control_installed(&profile, &action)?)
        }
        other => Err(CommandError::new(
            "invalid",
            format!("unknown command `{other}`"),
        )),
    }
}

/// Window-child side: send one request to the tray process and wait for its answer.
fn request(path: &Path, cmd: &str, args: Value) -> Result<Value, Value> {
    let fail = |e: std::io::Error| json!({"code": "ipc", "message": format!("the Headroom tray app did not answer: {e}")});
    let mut s = UnixStream::connect(path).map_err(fail)?;
    writeln!(s, "{}", json!({"cmd": cmd, "args": args})).map_err(fail)?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).map_err(fail)?;
    let reply: Value = serde_json::from_str(&line)
        .map_err(|e| json!({"code": "ipc", "message": format!("bad reply: {e}")}))?;
    match (reply.get("ok"), reply.get("err")) {
        (_, Some(err)) => Err(err.clone()),
        (Some(ok), None) => Ok(ok.clone()),
        (None, None) => Ok(Value::Null),
    }
}

/// Run the window child (blocks until the window closes or the tray process goes away).
pub fn run_window_child() -> std::process::ExitCode {
    let Some(path) = std::env::var_os(SOCKET_ENV).map(PathBuf::from) else {
        eprintln!("error: {WINDOW_ARG} is internal to the Headroom tray app");
        return std::process::ExitCode::from(1);
    };
    crate::window_gl::keep_out_of_this_process();
    crate::prepare_process();
    // The window's class (WM_CLASS) comes from the program name: "headroom", like the launcher
    // entry `headroom.desktop`, so docks and task switchers show it as that app whichever
    // binary runs it.
    glib::set_prgname(Some("headroom"));
    let info = crate::AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        tray_available: true,
        state_dir: path
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    };
    let info_json = serde_json::to_value(&info).unwrap_or(Value::Null);
    let req_path = path.clone();
    let app = tauri::Builder::default()
        .invoke_handler(move |invoke: tauri::ipc::Invoke<tauri::Wry>| {
            let cmd = invoke.message.command().to_owned();
            if cmd == "app_info" {
                invoke.resolver.resolve(info_json.clone());
                return true;
            }
            let args = match invoke.message.payload() {
                tauri::ipc::InvokeBody::Json(v) => v.clone(),
                tauri::ipc::InvokeBody::Raw(_) => Value::Null,
            };
            let path = req_path.clone();
            let resolver = invoke.resolver;
            std::thread::spawn(move || match request(&path, &cmd, args) {
                Ok(v) => resolver.resolve(v),
                Err(e) => resolver.reject(e),
            });
            true
        })
        .setup(move |app| {
            let handle = app.handle().clone();
            crate::open_window_in_process(&handle);
            subscribe(handle, path.clone());
            Ok(())
        })
        .build(crate::context());
    match app {
        Ok(app) => {
            app.run(|_, _| {});
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: the Headroom window could not start: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Relay status events and focus requests from the tray process; exit when it goes away.
fn subscribe<R: Runtime>(app: AppHandle<R>, path: PathBuf) {
    let _ = std::thread::Builder::new()
        .name("headroom-window-events".into())
        .spawn(move || {
            if let Ok(mut s) = UnixStream::connect(&path) {
                if writeln!(s, "{}", json!({"cmd": "__subscribe"})).is_ok() {
                    for line in BufReader::new(s).lines() {
                        let Ok(line) = line else { break };
                        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                            continue;
                        };
                        match msg.get("event").and_then(Value::as_str) {
                            Some("status") => {
                                let _ = app.emit("status", msg.get("payload"));
                            }
                            Some("focus") => {
                                if let Some(w) = app.get_webview_window(crate::WINDOW_LABEL) {
                                    let _ = w.show();
                                    let _ = w.unminimize();
                                    let _ = w.set_focus();
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            // The tray process quit (or never answered): the window has nothing to show.
            app.exit(0);
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::tests::{test_setup, Recorder};
    use std::time::Duration;

    #[test]
    fn window_child_requests_and_status_events_go_over_a_private_socket() {
        let home = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (env, opts) = test_setup(home.path(), Some(port));
        let state_dir = env.state_dir().to_path_buf();
        // Not launched: the requests below need no running proxy.
        let ctl = Controller::new(env, Arc::new(Recorder::default()), opts).unwrap();
        let host =
            WindowHost::start(&state_dir, ctl.clone(), std::env::current_exe().unwrap()).unwrap();
        let sock = state_dir.join("window.sock");
        let mode = std::fs::metadata(&sock).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "socket must be user-only");

        let settings = request(&sock, "get_settings", Value::Null).unwrap();
        assert_eq!(settings, serde_json::to_value(ctl.settings()).unwrap());
        let status = request(&sock, "get_status", json!({})).unwrap();
        assert_eq!(status["port"], json!(port), "{status}");
        let err = request(&sock, "proxy_action", json!({"action": "explode"})).unwrap_err();
        assert_eq!(err["code"], "invalid", "{err}");
        let err = request(&sock, "no_such_command", json!({})).unwrap_err();
        assert_eq!(err["code"], "invalid", "{err}");
        let err = request(&sock, "set_autostart", json!({})).unwrap_err();
        assert!(
            err["message"].as_str().unwrap().contains("enabled"),
            "{err}"
        );

        // A subscriber gets the current status at once, then every change.
        let mut sub = UnixStream::connect(&sock).unwrap();
        writeln!(sub, "{}", json!({"cmd": "__subscribe"})).unwrap();
        sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut lines = BufReader::new(sub).lines();
        let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(first["event"], "status");
        host.broadcast(&json!({"event": "focus"}));
        let next: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(next["event"], "focus");

        host.shutdown();
        assert!(!sock.exists(), "shutdown removes the socket");
        assert!(request(&sock, "get_status", Value::Null).is_err());
        ctl.shutdown();
    }
}
