//! The Headroom desktop app: a tray app that hosts the proxy in-process (or attaches to one
//! already serving the port), keeps tools wired only while the proxy is healthy, and offers a
//! small web UI through Tauri commands.
//!
//! Layout: `controller` (all behaviour, no window), `watchdog` (pure fail-open state machine),
//! `installed` (the install engine: deployments, and the per-tool wiring the Tools page
//! previews and applies), `probe` (who is on the port), `settings`, `autostart`, `cli_shim`,
//! `tray_menu` (what the tray shows and does); the Tauri glue (`commands`, `tray`, window
//! handling) stays thin. On Linux the long-lived tray process is the WebKit-free
//! `headroom-tray` binary (`tray_app`), and the window a child process (`window_host`), the
//! `headroom-window` binary, whose process keeps GL drivers out (`window_gl`).

pub mod autostart;
pub mod cli_shim;
pub mod commands;
pub mod controller;
pub mod installed;
pub mod probe;
pub mod settings;
mod tray;
#[cfg(target_os = "linux")]
pub mod tray_app;
pub mod tray_menu;
pub mod watchdog;
#[cfg(target_os = "linux")]
mod window_gl;
#[cfg(target_os = "linux")]
pub mod window_host;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use controller::{Controller, Options, Sink, Status};
use settings::Env;

pub const WINDOW_LABEL: &str = "main";

/// Facts about this app instance the UI shows (e.g. the "no system tray" banner).
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    pub version: &'static str,
    pub tray_available: bool,
    pub state_dir: String,
}

pub struct AppInfoState(pub AppInfo);

#[tauri::command]
fn app_info(info: tauri::State<'_, AppInfoState>) -> AppInfo {
    info.0.clone()
}

/// Forwards controller output to the window (events), the tray and the desktop notifier.
struct AppSink<R: Runtime> {
    app: Mutex<Option<AppHandle<R>>>,
    tray: Mutex<Option<tray::Tray<R>>>,
    #[cfg(target_os = "linux")]
    host: Mutex<Option<Arc<window_host::WindowHost>>>,
}

impl<R: Runtime> Sink for AppSink<R> {
    fn status(&self, status: &Status) {
        let app = self.app.lock().ok().and_then(|a| a.clone());
        if let Some(app) = app {
            let _ = app.emit("status", status);
        }
        if let Ok(mut tray) = self.tray.lock() {
            if let Some(t) = tray.as_mut() {
                t.update(status);
            }
        }
        #[cfg(target_os = "linux")]
        if let Some(h) = self.host.lock().ok().and_then(|h| h.clone()) {
            h.status(status);
        }
    }

    fn notify(&self, summary: &str, body: &str) {
        notify(summary, body);
    }
}

/// Show a desktop notification (off the caller's thread: D-Bus can be slow).
pub(crate) fn notify(summary: &str, body: &str) {
    let (summary, body) = (summary.to_owned(), body.to_owned());
    std::thread::spawn(move || {
        let r = notify_rust::Notification::new()
            .appname("Headroom")
            .summary(&summary)
            .body(&body)
            .icon("dialog-information")
            .show();
        if let Err(e) = r {
            eprintln!("headroom: notification not shown: {e}");
        }
    });
}

/// Open (or focus) the main window: in a window child process when the tray process hosts one
/// (see [`window_host`]), else in this process.
pub fn open_window<R: Runtime>(app: &AppHandle<R>) {
    #[cfg(target_os = "linux")]
    if let Some(host) = app.try_state::<Arc<window_host::WindowHost>>() {
        host.open();
        return;
    }
    open_window_in_process(app);
}

/// Open (or focus) the main window in this process. Closing it destroys the webview, but
/// WebKit keeps much of its memory until the process exits.
pub fn open_window_in_process<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window(WINDOW_LABEL) {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
        return;
    }
    // Hidden until the page has loaded: WebKit would otherwise show an empty grey frame for
    // most of a second. The background matches the page's own, for the first paint.
    let dark = matches!(dark_light(), Some(true));
    let built = WebviewWindowBuilder::new(app, WINDOW_LABEL, WebviewUrl::App("index.html".into()))
        .title("Headroom")
        .inner_size(1100.0, 760.0)
        .min_inner_size(640.0, 480.0)
        .visible(false)
        .background_color(if dark {
            tauri::webview::Color(11, 17, 32, 255)
        } else {
            tauri::webview::Color(248, 250, 252, 255)
        })
        .on_page_load(|w, payload| {
            if payload.event() == tauri::webview::PageLoadEvent::Finished {
                let _ = w.show();
                let _ = w.set_focus();
            }
        })
        .build();
    match built {
        Ok(w) => {
            lighten_webview(&w);
            // Should the page never report "finished", show the window anyway.
            let late = w.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(1500));
                if !late.is_visible().unwrap_or(true) {
                    let _ = late.show();
                }
            });
        }
        Err(e) => eprintln!("headroom: cannot open the window: {e}"),
    }
}

/// Does the desktop prefer a dark theme? (GTK's setting; `None` when unknown.)
fn dark_light() -> Option<bool> {
    let theme = std::env::var("GTK_THEME").ok()?;
    Some(theme.to_ascii_lowercase().contains("dark"))
}

/// A settings page needs no page cache, big memory caches or GPU compositing; turning them off
/// keeps the web view's processes small.
fn lighten_webview<R: Runtime>(w: &tauri::WebviewWindow<R>) {
    #[cfg(target_os = "linux")]
    {
        let _ = w.with_webview(|pw| {
            use webkit2gtk::{SettingsExt, WebContextExt, WebViewExt};
            let view = pw.inner();
            if let Some(ctx) = view.context() {
                ctx.set_cache_model(webkit2gtk::CacheModel::DocumentViewer);
            }
            if let Some(s) = WebViewExt::settings(&view) {
                s.set_enable_page_cache(false);
                s.set_enable_webgl(false);
                s.set_hardware_acceleration_policy(webkit2gtk::HardwareAccelerationPolicy::Never);
            }
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = w;
}

/// Process-wide tweaks that must happen before GTK starts.
pub fn prepare_process() {
    // The embedded proxy serves every tool's connections from this process.
    headroom_cli::raise_fd_limit();
    #[cfg(target_os = "linux")]
    {
        // GDK probes OpenGL when it opens the display, which maps Mesa (and LLVM with the
        // software rasteriser): ~30 MiB for a tray icon that never draws with GL. The window
        // renders fine without it. A user's own GDK_GL setting wins.
        if std::env::var_os("GDK_GL").is_none() {
            std::env::set_var("GDK_GL", "disable");
        }
        // A settings page runs a few kilobytes of script: JavaScriptCore's interpreter is fast
        // enough, and without its JIT tiers the web process is ~6 MiB smaller (measured in the
        // GUI suite). Set here so every window process and WebKit helper inherits it.
        if std::env::var_os("JSC_useJIT").is_none() {
            std::env::set_var("JSC_useJIT", "false");
        }
        // The tray's StatusNotifierItem title (what panels and accessibility tools show) is
        // the GLib application name; unset, it is the binary's name, `headroom-desktop`.
        glib::set_application_name("Headroom");
    }
}

/// The app's own executable: what autostart launches and the `headroom` shim points at. That is
/// `headroom-desktop` even when asked from the tray binary beside it, which only it may start
/// (it checks that a tray exists, and runs the window).
pub fn app_exe() -> std::io::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    #[cfg(target_os = "linux")]
    if exe.file_name().is_some_and(|n| n == tray_app::TRAY_BIN) {
        return Ok(exe.with_file_name(tray_app::APP_BIN));
    }
    Ok(exe)
}

/// The tray process on Linux is a separate binary beside this one (see [`tray_app`]): this one
/// links WebKitGTK, whose libraries cost a tray that never shows a page ~25 MiB just by being
/// mapped. `None` when it is not there (then the tray runs here, as on other systems).
#[cfg(target_os = "linux")]
fn tray_exe() -> Option<std::path::PathBuf> {
    sibling_exe(tray_app::TRAY_BIN)
}

/// What runs the window on Linux: `headroom-window` beside this binary, which holds only the
/// window (no proxy, install engine or CLI: a quarter of the app binary, and 4 MiB less of it
/// mapped while the window is open, measured in the GUI suite); the app binary when it is not
/// there. Either is run with [`window_host::WINDOW_ARG`].
#[cfg(target_os = "linux")]
pub fn window_exe() -> std::io::Result<std::path::PathBuf> {
    match sibling_exe(window_host::WINDOW_BIN) {
        Some(exe) => Ok(exe),
        None => app_exe(),
    }
}

/// An executable file named `name` in this binary's directory.
#[cfg(target_os = "linux")]
fn sibling_exe(name: &str) -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?.with_file_name(name);
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(&exe).ok()?;
    (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(exe)
}

/// Is there a system tray to register with? On Linux that means a StatusNotifierWatcher on the
/// session bus; without one the tray icon would be invisible.
fn tray_available() -> bool {
    #[cfg(target_os = "linux")]
    {
        let check = || -> zbus::Result<bool> {
            let conn = zbus::blocking::Connection::session()?;
            let dbus = zbus::blocking::fdo::DBusProxy::new(&conn)?;
            let name = zbus::names::BusName::try_from("org.kde.StatusNotifierWatcher")?;
            Ok(dbus.name_has_owner(name)?)
        };
        check().unwrap_or(false)
    }
    #[cfg(not(target_os = "linux"))]
    {
        true
    }
}

/// Register the commands and state on a builder (shared by the real app and the tests).
pub fn builder<R: Runtime>(
    builder: tauri::Builder<R>,
    controller: Arc<Controller>,
    info: AppInfo,
) -> tauri::Builder<R> {
    builder
        .manage(controller)
        .manage(AppInfoState(info))
        .invoke_handler(tauri::generate_handler![
            app_info,
            commands::get_status,
            commands::refresh_status,
            commands::proxy_action,
            commands::list_tools,
            commands::preview_tool,
            commands::preview_wiring,
            commands::apply_pending,
            commands::cancel_pending,
            commands::undo_wiring,
            commands::get_settings,
            commands::save_settings,
            commands::set_autostart,
            commands::finish_wizard,
            commands::verify,
            commands::cli_shim_status,
            commands::cli_shim_set,
            commands::list_deployments,
            commands::install_options,
            commands::preview_install,
            commands::apply_install,
            commands::control_installed,
        ])
}

fn context() -> tauri::Context<tauri::Wry> {
    tauri::generate_context!()
}

/// Host the window in a child process? Not without a tray (the app is the window then), and
/// not under WebDriver, which drives the web view of the process it launched. Linux only (the
/// module is not even compiled elsewhere): that is where WebKitGTK holds on to the memory; on
/// macOS and Windows the window always lives in the tray process.
#[cfg(target_os = "linux")]
fn window_in_child(has_tray: bool) -> bool {
    has_tray
        && std::env::var("TAURI_WEBVIEW_AUTOMATION").as_deref() != Ok("true")
        && std::env::var_os("HEADROOM_DESKTOP_WINDOW_IN_PROCESS").is_none()
}

/// The controller over the state in `env`, or exit code 1 after saying why it cannot start
/// (its state files); shared by the app and the tray binary.
fn start_controller(
    env: &Env,
    sink: Arc<dyn Sink>,
) -> Result<Arc<Controller>, std::process::ExitCode> {
    Controller::new(env.clone(), sink, Options::default()).map_err(|e| {
        eprintln!(
            "error: {}\nhint: check or remove the files in {}",
            e.message,
            env.state_dir().display()
        );
        std::process::ExitCode::from(1)
    })
}

/// Was the app started to sit in the tray, without opening its window?
fn started_minimized(args: &[String]) -> bool {
    args.iter()
        .any(|a| a == autostart::AUTOSTART_ARG || a == "--minimized")
}

/// Supervise the proxy off the event loop: bring it up, then tick until `stop`.
fn spawn_supervisor(ctl: Arc<Controller>, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let tick = std::env::var("HEADROOM_DESKTOP_TICK_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000u64);
    std::thread::Builder::new()
        .name("headroom-supervisor".into())
        .spawn(move || {
            ctl.launch();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(tick));
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                ctl.tick();
            }
        })
        .map(drop)
}

/// Run the app (blocks until Quit).
pub fn run() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    #[cfg(target_os = "linux")]
    if args.iter().any(|a| a == window_host::WINDOW_ARG) {
        return window_host::run_window_child();
    }
    // Before anything starts a thread (the D-Bus check below does): it sets variables.
    #[cfg(target_os = "linux")]
    window_gl::keep_out_of_this_process();
    prepare_process();
    let has_tray = tray_available();
    // With a tray, the long-lived process is the WebKit-free tray binary: become it.
    #[cfg(target_os = "linux")]
    if window_in_child(has_tray) {
        if let Some(tray) = tray_exe() {
            use std::os::unix::process::CommandExt;
            let err = std::process::Command::new(&tray)
                .args(std::env::args_os().skip(1))
                .exec();
            eprintln!(
                "headroom: cannot start {}: {err}; the tray runs in this process",
                tray.display()
            );
        }
    }
    let minimized = started_minimized(&args);
    let env = Env::from_process();
    let sink: Arc<AppSink<tauri::Wry>> = Arc::new(AppSink {
        app: Mutex::new(None),
        tray: Mutex::new(None),
        #[cfg(target_os = "linux")]
        host: Mutex::new(None),
    });
    let controller = match start_controller(&env, sink.clone()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let info = AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        tray_available: has_tray,
        state_dir: env.state_dir().display().to_string(),
    };
    let stop = Arc::new(AtomicBool::new(false));

    let sink_exit = sink.clone();
    exit_on_signals(controller.clone(), stop.clone(), move || {
        let app = sink_exit.app.lock().ok().and_then(|a| a.clone());
        if let Some(app) = app {
            // Lets the window child and the event loop close normally.
            app.exit(0);
            std::thread::sleep(Duration::from_secs(3));
        }
    });

    #[cfg(target_os = "linux")]
    let state_dir = env.state_dir().to_path_buf();
    let ctl_setup = controller.clone();
    let sink_setup = sink.clone();
    let stop_setup = stop.clone();
    let app = builder(tauri::Builder::default(), controller.clone(), info)
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            open_window(app)
        }))
        .setup(move |app| {
            let handle = app.handle().clone();
            if let Ok(mut a) = sink_setup.app.lock() {
                *a = Some(handle.clone());
            }
            #[cfg(target_os = "linux")]
            if window_in_child(has_tray) {
                let exe = window_exe()?;
                match window_host::WindowHost::start(&state_dir, ctl_setup.clone(), exe) {
                    Ok(host) => {
                        if let Ok(mut slot) = sink_setup.host.lock() {
                            *slot = Some(host.clone());
                        }
                        app.manage(host);
                    }
                    Err(e) => eprintln!("headroom: window runs in-process: {e}"),
                }
            }
            if has_tray {
                match tray::Tray::build(&handle, ctl_setup.clone()) {
                    Ok(t) => {
                        if let Ok(mut slot) = sink_setup.tray.lock() {
                            *slot = Some(t);
                        }
                    }
                    Err(e) => eprintln!("headroom: tray not available: {e}"),
                }
            }
            if !has_tray || !minimized {
                open_window(&handle);
            }
            spawn_supervisor(ctl_setup.clone(), stop_setup.clone())?;
            Ok(())
        })
        .build(context());
    let app = match app {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: the Headroom window could not start: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    app.run(move |_app, event| match event {
        // Closing the last window keeps the tray running; without a tray it quits.
        tauri::RunEvent::ExitRequested {
            api, code: None, ..
        } if has_tray => api.prevent_exit(),
        tauri::RunEvent::Exit => {
            #[cfg(target_os = "linux")]
            if let Some(host) = _app.try_state::<Arc<window_host::WindowHost>>() {
                host.shutdown();
            }
            stop.store(true, Ordering::Relaxed);
            controller.shutdown();
        }
        _ => {}
    });
    std::process::ExitCode::SUCCESS
}

/// Fail-open on every exit: SIGTERM (logout, shutdown, `kill`), SIGINT and SIGHUP (the
/// session or terminal went away) do what Quit does — unwire the tools (the wiring state keeps
/// the user's choice, so the next start rewires them), stop the in-app proxy — and then exit.
/// Without this the default action killed the app mid-flight and left Claude Code and Codex
/// pointed at a dead port.
/// `close` ends the event loop and windows before the process exits.
fn exit_on_signals(
    controller: Arc<Controller>,
    stop: Arc<AtomicBool>,
    close: impl FnOnce() + Send + 'static,
) {
    #[cfg(unix)]
    {
        let spawned = std::thread::Builder::new()
            .name("headroom-signals".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        eprintln!("headroom: signals not handled: {e}");
                        return;
                    }
                };
                let signal = rt.block_on(async {
                    use tokio::signal::unix::{signal, SignalKind};
                    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
                        signal(SignalKind::terminate()),
                        signal(SignalKind::interrupt()),
                        signal(SignalKind::hangup()),
                    ) else {
                        return None;
                    };
                    tokio::select! {
                        _ = term.recv() => Some("SIGTERM"),
                        _ = int.recv() => Some("SIGINT"),
                        _ = hup.recv() => Some("SIGHUP"),
                    }
                });
                let Some(name) = signal else {
                    eprintln!("headroom: signals not handled");
                    return;
                };
                eprintln!("headroom: {name}: unwiring tools and quitting");
                stop.store(true, Ordering::SeqCst);
                controller.shutdown();
                close();
                std::process::exit(0);
            });
        if let Err(e) = spawned {
            eprintln!("headroom: signals not handled: {e}");
        }
    }
    #[cfg(not(unix))]
    {
        // Windows ends GUI apps at logoff through the event loop (RunEvent::Exit runs Quit's
        // path); there is no SIGTERM to catch.
        let _ = (controller, stop, close);
    }
}

#[cfg(test)]
mod tests;
