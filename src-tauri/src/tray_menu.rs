//! What the tray shows and what its items do, apart from any tray library: the Tauri tray
//! (macOS, Windows, and Linux with the window in-process) and the WebKit-free Linux tray process
//! ([`crate::tray_app`]) draw the same menu from the same [`MenuView`] and run the same actions,
//! so the two can never drift apart.

use std::sync::Arc;

use crate::controller::{Controller, Status, TrayState};

const RUNNING: &[u8] = include_bytes!("../../icons/tray-running@2x.png");
const PAUSED: &[u8] = include_bytes!("../../icons/tray-paused@2x.png");
const STOPPED: &[u8] = include_bytes!("../../icons/tray-stopped@2x.png");
const ERROR: &[u8] = include_bytes!("../../icons/tray-error@2x.png");

/// The PNG of the tray icon for a state.
pub fn icon_png(state: TrayState) -> &'static [u8] {
    match state {
        TrayState::Running => RUNNING,
        TrayState::Paused => PAUSED,
        TrayState::Stopped => STOPPED,
        TrayState::Error => ERROR,
    }
}

/// Menu item ids, in menu order (`None` is a separator). The status line is never enabled.
pub const STATUS: &str = "status";
pub const TOGGLE: &str = "toggle";
pub const RESTART: &str = "restart";
pub const PAUSE: &str = "pause";
pub const OPEN: &str = "open";
pub const AUTOSTART: &str = "autostart";
pub const QUIT: &str = "quit";

pub const OPEN_LABEL: &str = "Open Headroom";
pub const AUTOSTART_LABEL: &str = "Start at login";
pub const QUIT_LABEL: &str = "Quit";
pub const STARTING: &str = "Headroom: starting…";

/// Everything about the menu and icon that depends on the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuView {
    pub state: TrayState,
    /// The status line, also the tooltip.
    pub line: String,
    /// The Start/Stop toggle's label: what a click does.
    pub toggle: &'static str,
    pub restart_enabled: bool,
    pub pause_enabled: bool,
    pub pause: &'static str,
    pub autostart: bool,
}

impl MenuView {
    /// What the menu looks like before the first status arrives.
    pub fn initial() -> MenuView {
        MenuView {
            state: TrayState::Stopped,
            line: STARTING.to_owned(),
            toggle: "Stop proxy",
            restart_enabled: true,
            pause_enabled: true,
            pause: "Pause routing",
            autostart: false,
        }
    }

    pub fn of(s: &Status) -> MenuView {
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
        MenuView {
            state: s.state,
            line,
            toggle: if s.expected_up {
                "Stop proxy"
            } else {
                "Start proxy"
            },
            // Restarting or pausing a stopped proxy means nothing: offer them only while it runs.
            restart_enabled: s.expected_up,
            pause_enabled: s.expected_up && !s.wired_tools.is_empty(),
            pause: if paused {
                "Resume routing"
            } else {
                "Pause routing"
            },
            autostart: s.autostart,
        }
    }
}

/// Format a token count for the status line ("12.3k").
pub fn short_count(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// Run the proxy and wiring actions of the menu (`toggle`, `restart`, `pause`, `autostart`) off
/// the event loop: they start and stop the proxy and edit files, which blocks. `open` and
/// `quit` belong to the caller, which knows its window and event loop. Returns whether `id`
/// was one of these actions.
pub fn run_action(ctl: &Arc<Controller>, id: &str) -> bool {
    if !matches!(id, TOGGLE | RESTART | PAUSE | AUTOSTART) {
        return false;
    }
    let (ctl, id) = (ctl.clone(), id.to_owned());
    std::thread::spawn(move || match id.as_str() {
        TOGGLE => {
            if ctl.status().expected_up {
                drop(ctl.stop())
            } else {
                drop(ctl.start())
            }
        }
        RESTART => drop(ctl.restart()),
        PAUSE => {
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
    true
}
