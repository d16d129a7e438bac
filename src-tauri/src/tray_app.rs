//! The tray process on Linux, as its own binary (`headroom-tray`) that does not link WebKitGTK.
//!
//! Why: a process that links WebKitGTK maps and relocates libwebkit2gtk, JavaScriptCore and the
//! flite voices WebKit links at start — ~25 MiB of a tray that never shows a page (58.9 MiB
//! PSS instead of under 50). The window already lives in a child process ([`window_host`]),
//! so the long-lived process only needs GTK for the tray menu: this binary hosts the
//! [`Controller`] (proxy, wiring, fail-open watchdog), the tray (the same [`MenuView`] as the
//! Tauri tray), the window socket, single-instance and the signal handling, and starts the app
//! binary beside it (`headroom-desktop --window`) when the user opens the window. The app binary
//! `exec`s this one when it starts with a tray, so launchers, autostart entries and the process
//! id stay those of `headroom-desktop`'s launch. Only what this module reaches is linked into
//! the tray binary, which `scripts/build-deb.sh` checks (no WebKit in its `NEEDED` entries).

use std::cell::RefCell;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use tray_icon::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use crate::controller::{Sink, Status, TrayState};
use crate::settings::Env;
use crate::tray_menu::{self as m, MenuView};
use crate::window_host::WindowHost;

/// The tray binary's file name; the app binary finds it beside itself.
pub const TRAY_BIN: &str = "headroom-tray";
/// The app binary (launcher entry, CLI) beside the tray binary.
pub const APP_BIN: &str = "headroom-desktop";

/// The single-instance D-Bus name and object of the app, as `tauri-plugin-single-instance`
/// registers them for the identifier in `tauri.conf.json`: whichever binary runs first owns
/// it, and a second launch of either asks the first to open its window.
const INSTANCE_NAME: &str = "dev.headroom.desktop.SingleInstance";
const INSTANCE_PATH: &str = "/dev/headroom/desktop/SingleInstance";

thread_local! {
    /// The tray lives on the GTK thread; other threads post updates to it.
    static TRAY: RefCell<Option<LinuxTray>> = const { RefCell::new(None) };
}

/// Controller output: the window child (over its socket), the tray (on the GTK thread), and
/// desktop notifications.
struct TraySink {
    host: OnceLock<Arc<WindowHost>>,
}

impl Sink for TraySink {
    fn status(&self, status: &Status) {
        if let Some(h) = self.host.get() {
            h.status(status);
        }
        let view = MenuView::of(status);
        glib::MainContext::default().invoke(move || {
            TRAY.with(|t| {
                if let Some(t) = t.borrow_mut().as_mut() {
                    t.show(view);
                }
            })
        });
    }

    fn notify(&self, summary: &str, body: &str) {
        crate::notify(summary, body);
    }
}

struct LinuxTray {
    icon: TrayIcon,
    status: MenuItem,
    toggle: MenuItem,
    restart: MenuItem,
    pause: MenuItem,
    autostart: CheckMenuItem,
    shown: MenuView,
}

/// The icon for a state, decoded from the PNGs in `icons/` (64×64 RGBA).
fn icon(state: TrayState) -> Result<Icon, String> {
    let decoder = png::Decoder::new(std::io::Cursor::new(m::icon_png(state)));
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let size = reader
        .output_buffer_size()
        .ok_or("tray icon too large to decode")?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    if info.color_type != png::ColorType::Rgba || info.bit_depth != png::BitDepth::Eight {
        return Err(format!(
            "tray icon is {:?} {:?}, not 8-bit RGBA",
            info.color_type, info.bit_depth
        ));
    }
    buf.truncate(info.buffer_size());
    Icon::from_rgba(buf, info.width, info.height).map_err(|e| e.to_string())
}

impl LinuxTray {
    fn build() -> Result<LinuxTray, String> {
        let v = MenuView::initial();
        let status = MenuItem::with_id(m::STATUS, &v.line, false, None);
        let toggle = MenuItem::with_id(m::TOGGLE, v.toggle, true, None);
        let restart = MenuItem::with_id(m::RESTART, "Restart proxy", true, None);
        let pause = MenuItem::with_id(m::PAUSE, v.pause, true, None);
        let open = MenuItem::with_id(m::OPEN, m::OPEN_LABEL, true, None);
        let autostart = CheckMenuItem::with_id(m::AUTOSTART, m::AUTOSTART_LABEL, true, false, None);
        let quit = MenuItem::with_id(m::QUIT, m::QUIT_LABEL, true, None);
        let menu = Menu::with_items(&[
            &status,
            &PredefinedMenuItem::separator(),
            &toggle,
            &restart,
            &pause,
            &PredefinedMenuItem::separator(),
            &open,
            &autostart,
            &PredefinedMenuItem::separator(),
            &quit,
        ])
        .map_err(|e| e.to_string())?;
        let icon = TrayIconBuilder::new()
            .with_id("headroom")
            .with_icon(icon(v.state)?)
            .with_tooltip("Headroom")
            .with_menu(Box::new(menu))
            .with_menu_on_left_click(false)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(LinuxTray {
            icon,
            status,
            toggle,
            restart,
            pause,
            autostart,
            shown: v,
        })
    }

    fn show(&mut self, v: MenuView) {
        if self.shown == v {
            return;
        }
        if self.shown.state != v.state {
            match icon(v.state) {
                Ok(i) => drop(self.icon.set_icon(Some(i))),
                Err(e) => eprintln!("headroom: tray icon: {e}"),
            }
        }
        let _ = self.icon.set_tooltip(Some(&v.line));
        self.status.set_text(&v.line);
        self.toggle.set_text(v.toggle);
        self.restart.set_enabled(v.restart_enabled);
        self.pause.set_enabled(v.pause_enabled);
        self.pause.set_text(v.pause);
        self.autostart.set_checked(v.autostart);
        self.shown = v;
    }
}

/// End the GTK main loop (from any thread).
fn quit_main_loop() {
    glib::MainContext::default().invoke(gtk::main_quit);
}

/// The D-Bus object a second launch calls to bring up the window.
struct Instance {
    host: Arc<OnceLock<Arc<WindowHost>>>,
}

#[zbus::interface(name = "org.SingleInstance.DBus")]
impl Instance {
    fn execute_callback(&self, _argv: Vec<String>, _cwd: String) {
        if let Some(h) = self.host.get() {
            h.open();
        }
    }
}

enum Claim {
    /// This process is the instance (the connection holds the name until exit).
    Owner(zbus::blocking::Connection),
    /// Another instance runs and was asked to open its window.
    Forwarded,
    /// Another instance holds the name but did not answer (hung, or quitting).
    Unanswered(zbus::Error),
    /// No session bus: run without single-instance, as the Tauri plugin does.
    Unavailable,
}

fn claim_instance(host: Arc<OnceLock<Arc<WindowHost>>>) -> Claim {
    let built = zbus::blocking::connection::Builder::session().and_then(|b| {
        b.name(INSTANCE_NAME)?
            .replace_existing_names(false)
            .allow_name_replacements(false)
            .serve_at(INSTANCE_PATH, Instance { host })?
            .build()
    });
    match built {
        Ok(conn) => Claim::Owner(conn),
        Err(zbus::Error::NameTaken) => {
            let forwarded = zbus::blocking::Connection::session().and_then(|c| {
                let argv: Vec<String> = std::env::args().collect();
                let cwd = std::env::current_dir().unwrap_or_default();
                c.call_method(
                    Some(INSTANCE_NAME),
                    INSTANCE_PATH,
                    Some("org.SingleInstance.DBus"),
                    "ExecuteCallback",
                    &(argv, cwd.to_string_lossy().as_ref()),
                )
                .map(drop)
            });
            match forwarded {
                Ok(()) => Claim::Forwarded,
                Err(e) => Claim::Unanswered(e),
            }
        }
        Err(e) => {
            eprintln!("headroom: no single-instance check (D-Bus: {e})");
            Claim::Unavailable
        }
    }
}

/// Run the tray process (blocks until Quit or a signal).
pub fn run() -> std::process::ExitCode {
    use std::os::unix::process::CommandExt;
    use std::process::ExitCode;
    // Before anything starts a thread (the D-Bus check below does): it sets variables.
    crate::prepare_process();
    // Started directly (not by the app binary) where no tray can show: the app binary knows
    // what to do without one (it opens the window).
    if !crate::tray_available() {
        let app = crate::app_exe();
        let err = match &app {
            Ok(app) => std::process::Command::new(app)
                .args(std::env::args_os().skip(1))
                .exec(),
            Err(e) => std::io::Error::new(e.kind(), e.to_string()),
        };
        eprintln!("error: there is no system tray and the Headroom app cannot start: {err}\nhint: run headroom-desktop");
        return ExitCode::from(2);
    }
    if let Err(e) = gtk::init() {
        eprintln!("error: the Headroom tray cannot start: {e}\nhint: it needs a graphical session (DISPLAY or WAYLAND_DISPLAY); `headroom proxy` runs without one");
        return ExitCode::from(2);
    }
    let host_slot = Arc::new(OnceLock::new());
    let _instance = match claim_instance(host_slot.clone()) {
        Claim::Forwarded => return ExitCode::SUCCESS,
        Claim::Unanswered(e) => {
            eprintln!("error: another Headroom is running but did not answer\nCaused by: {e}\nhint: quit it from its tray menu (or end its headroom-tray process), then start Headroom again");
            return ExitCode::from(1);
        }
        Claim::Owner(c) => Some(c),
        Claim::Unavailable => None,
    };
    let args: Vec<String> = std::env::args().collect();
    let minimized = crate::started_minimized(&args);
    let env = Env::from_process();
    let sink = Arc::new(TraySink {
        host: OnceLock::new(),
    });
    let controller = match crate::start_controller(&env, sink.clone()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let host = match crate::window_exe()
        .and_then(|exe| WindowHost::start(&env.state_dir(), controller.clone(), exe))
    {
        Ok(h) => h,
        Err(e) => {
            eprintln!(
                "error: the Headroom tray cannot listen for its window: {e}\nhint: check that {} is writable",
                env.state_dir().display()
            );
            return ExitCode::from(2);
        }
    };
    let _ = sink.host.set(host.clone());
    let _ = host_slot.set(host.clone());

    match LinuxTray::build() {
        Ok(t) => TRAY.with(|slot| *slot.borrow_mut() = Some(t)),
        Err(e) => {
            eprintln!("error: the Headroom tray icon cannot be shown: {e}");
            host.shutdown();
            return ExitCode::from(2);
        }
    }
    let (ctl_menu, host_menu) = (controller.clone(), host.clone());
    MenuEvent::set_event_handler(Some(move |e: MenuEvent| match e.id().as_ref() {
        m::OPEN => host_menu.open(),
        m::QUIT => {
            let ctl = ctl_menu.clone();
            std::thread::spawn(move || {
                ctl.shutdown();
                quit_main_loop();
            });
        }
        id => {
            m::run_action(&ctl_menu, id);
        }
    }));

    let stop = Arc::new(AtomicBool::new(false));
    let host_signal = host.clone();
    crate::exit_on_signals(controller.clone(), stop.clone(), move || {
        host_signal.shutdown()
    });
    if !minimized {
        host.open();
    }
    if let Err(e) = crate::spawn_supervisor(controller.clone(), stop.clone()) {
        eprintln!("error: the Headroom tray cannot supervise the proxy: {e}");
        host.shutdown();
        return ExitCode::from(2);
    }

    gtk::main();

    host.shutdown();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    controller.shutdown();
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tray_icon_decodes_to_rgba() {
        for s in [
            TrayState::Running,
            TrayState::Paused,
            TrayState::Stopped,
            TrayState::Error,
        ] {
            icon(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        }
    }

    #[test]
    fn the_single_instance_name_is_the_tauri_plugins_for_our_identifier() {
        let conf: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).unwrap();
        let id = conf["identifier"].as_str().unwrap();
        assert_eq!(INSTANCE_NAME, format!("{id}.SingleInstance"));
        assert_eq!(
            INSTANCE_PATH,
            format!("/{}", INSTANCE_NAME.replace('.', "/").replace('-', "_"))
        );
    }
}
