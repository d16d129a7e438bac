//! The tray icon and its menu. Menu-first (Linux trays deliver no left click); left click opens
//! the window where the platform reports it. Icon states come from the PNGs in `icons/`.

use std::sync::Arc;

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Runtime};

use crate::controller::{Controller, Status, TrayState};

const RUNNING: &[u8] = include_bytes!("../../icons/tray-running@2x.png");
const PAUSED: &[u8] = include_bytes!("../../icons/tray-paused@2x.png");
const STOPPED: &[u8] = include_bytes!("../../icons/tray-stopped@2x.png");
const ERROR: &[u8] = include_bytes!("../../icons/tray-error@2x.png");

fn icon(state: TrayState) -> tauri::Result<Image<'static>> {
    Image::from_bytes(match state {
        TrayState::Running => RUNNING,
        TrayState::Paused => PAUSED,
        TrayState::Stopped => STOPPED,
        TrayState::Error => ERROR,
    })
}

pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    status: MenuItem<R>,
    /// One Start/Stop toggle: its label says what a click does.
    toggle: MenuItem<R>,
    restart: MenuItem<R>,
    pause: MenuItem<R>,
    autostart: CheckMenuItem<R>,
    /// What is shown now, so unchanged ticks cost nothing (no D-Bus traffic, no icon files).
    shown: Option<(TrayState, String, bool, bool, bool)>,
}

/// Format a token count for the tooltip ("12.3k").
pub fn short_count(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

impl<R: Runtime> Tray<R> {
    pub fn build(app: &AppHandle<R>, ctl: Arc<Controller>) -> tauri::Result<Tray<R>> {
        let status = MenuItem::with_id(app, "status", "Headroom: starting…", false, None::<&str>)?;
        let toggle = MenuItem::with_id(app, "toggle", "Stop proxy", true, None::<&str>)?;
        let restart = MenuItem::with_id(app, "restart", "Restart proxy", true, None::<&str>)?;
        let pause = MenuItem::with_id(app, "pause", "Pause routing", true, None::<&str>)?;
        let open = MenuItem::with_id(app, "open", "Open Headroom", true, None::<&str>)?;
        let autostart = CheckMenuItem::with_id(
            app,
            "autostart",
            "Start at login",
            true,
            false,
            None::<&str>,
        )?;
        let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
        let menu = Menu::with_items(
            app,
            &[
                &status,
                &PredefinedMenuItem::separator(app)?,
                &toggle,
                &restart,
                &pause,
                &PredefinedMenuItem::separator(app)?,
                &open,
                &autostart,
                &PredefinedMenuItem::separator(app)?,
                &quit,
            ],
        )?;
        let ctl_menu = ctl.clone();
        let icon = TrayIconBuilder::with_id("headroom")
            .icon(icon(TrayState::Stopped)?)
            .tooltip("Headroom")
            .menu(&menu)
            .show_menu_on_left_click(false)
            .on_menu_event(move |app, event: MenuEvent| {
                on_menu(app, &ctl_menu, event.id().as_ref())
            })
            .on_tray_icon_event(|tray, event| {
                if let TrayIconEvent::Click {
                    button: MouseButton::Left,
                    button_state: MouseButtonState::Up,
                    ..
                } = event
                {
                    crate::open_window(tray.app_handle());
                }
            })
            .build(app)?;
        Ok(Tray {
            icon,
            status,
            toggle,
            restart,
            pause,
            autostart,
            shown: None,
        })
    }

    pub fn update(&mut self, s: &Status) {
        let line = if s.running {
            format!(
                "{} · {} tokens saved today",
                s.summary,
                short_count(s.tokens_saved_today)
            )
        } else {
            s.summary.clone()
        };
        let paused = s.routing == "paused";
        let key = (s.state, line.clone(), s.expected_up, paused, s.autostart);
        if self.shown.as_ref() == Some(&key) {
            return;
        }
        if self.shown.as_ref().map(|k| k.0) != Some(s.state) {
            if let Ok(img) = icon(s.state) {
                let _ = self.icon.set_icon(Some(img));
            }
        }
        let _ = self.icon.set_tooltip(Some(&line));
        let _ = self.status.set_text(&line);
        let _ = self.toggle.set_text(if s.expected_up {
            "Stop proxy"
        } else {
            "Start proxy"
        });
        // Restarting or pausing a stopped proxy means nothing: offer them only while it runs.
        let _ = self.restart.set_enabled(s.expected_up);
        let _ = self
            .pause
            .set_enabled(s.expected_up && !s.wired_tools.is_empty());
        let _ = self.pause.set_text(if paused {
            "Resume routing"
        } else {
            "Pause routing"
        });
        let _ = self.autostart.set_checked(s.autostart);
        self.shown = Some(key);
    }
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, ctl: &Arc<Controller>, id: &str) {
    let ctl = ctl.clone();
    match id {
        "open" => crate::open_window(app),
        "quit" => {
            let app = app.clone();
            std::thread::spawn(move || {
                ctl.shutdown();
                app.exit(0);
            });
        }
        "toggle" | "restart" | "pause" | "autostart" => {
            let id = id.to_owned();
            // Proxy start/stop and file edits block; keep the event loop free.
            std::thread::spawn(move || match id.as_str() {
                "toggle" => {
                    if ctl.status().expected_up {
                        drop(ctl.stop())
                    } else {
                        drop(ctl.start())
                    }
                }
                "restart" => drop(ctl.restart()),
                "pause" => {
                    let paused = ctl.status().routing == "paused";
                    drop(ctl.set_routing_paused(!paused));
                }
                _ => {
                    let on = !ctl.status().autostart;
                    if let Err(e) = ctl.set_autostart(on) {
                        eprintln!("headroom: {}", e.message);
                        ctl.tick();
                    }
                }
            });
        }
        _ => {}
    }
}
