//! The tray icon and its menu through Tauri (macOS, Windows, and Linux when the window lives in
//! the tray's own process). Menu-first (Linux trays deliver no left click); left click opens the
//! window where the platform reports it. What it shows and does comes from [`crate::tray_menu`].

use std::sync::Arc;

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Runtime};

use crate::controller::{Controller, Status, TrayState};
use crate::tray_menu::{self as m, MenuView};

fn icon(state: TrayState) -> tauri::Result<Image<'static>> {
    Image::from_bytes(m::icon_png(state))
}

pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    status: MenuItem<R>,
    toggle: MenuItem<R>,
    restart: MenuItem<R>,
    pause: MenuItem<R>,
    autostart: CheckMenuItem<R>,
    /// What is shown now, so unchanged ticks cost nothing (no D-Bus traffic, no icon files).
    shown: Option<MenuView>,
}

impl<R: Runtime> Tray<R> {
    pub fn build(app: &AppHandle<R>, ctl: Arc<Controller>) -> tauri::Result<Tray<R>> {
        let v = MenuView::initial();
        let status = MenuItem::with_id(app, m::STATUS, &v.line, false, None::<&str>)?;
        let toggle = MenuItem::with_id(app, m::TOGGLE, v.toggle, true, None::<&str>)?;
        let restart = MenuItem::with_id(app, m::RESTART, "Restart proxy", true, None::<&str>)?;
        let pause = MenuItem::with_id(app, m::PAUSE, v.pause, true, None::<&str>)?;
        let open = MenuItem::with_id(app, m::OPEN, m::OPEN_LABEL, true, None::<&str>)?;
        let autostart = CheckMenuItem::with_id(
            app,
            m::AUTOSTART,
            m::AUTOSTART_LABEL,
            true,
            false,
            None::<&str>,
        )?;
        let quit = MenuItem::with_id(app, m::QUIT, m::QUIT_LABEL, true, None::<&str>)?;
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
            .icon(icon(v.state)?)
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
        let v = MenuView::of(s);
        if self.shown.as_ref() == Some(&v) {
            return;
        }
        if self.shown.as_ref().map(|k| k.state) != Some(v.state) {
            if let Ok(img) = icon(v.state) {
                let _ = self.icon.set_icon(Some(img));
            }
        }
        let _ = self.icon.set_tooltip(Some(&v.line));
        let _ = self.status.set_text(&v.line);
        let _ = self.toggle.set_text(v.toggle);
        let _ = self.restart.set_enabled(v.restart_enabled);
        let _ = self.pause.set_enabled(v.pause_enabled);
        let _ = self.pause.set_text(v.pause);
        let _ = self.autostart.set_checked(v.autostart);
        self.shown = Some(v);
    }
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, ctl: &Arc<Controller>, id: &str) {
    match id {
        m::OPEN => crate::open_window(app),
        m::QUIT => {
            let (app, ctl) = (app.clone(), ctl.clone());
            std::thread::spawn(move || {
                ctl.shutdown();
                app.exit(0);
            });
        }
        _ => {
            m::run_action(ctl, id);
        }
    }
}
