//! `headroom-window`: the desktop app's window on Linux, run by the tray process for as long as
//! the window is open (see `window_host`). It holds the window and nothing else — no proxy,
//! install engine or CLI — so the process that maps WebKit maps as little of its own as it can.

fn main() -> std::process::ExitCode {
    #[cfg(target_os = "linux")]
    {
        headroom_desktop::window_host::run_window_child()
    }
    #[cfg(not(target_os = "linux"))]
    {
        eprintln!(
            "error: headroom-window is the Linux app's window process\nhint: run headroom-desktop"
        );
        std::process::ExitCode::from(1)
    }
}
