//! Start at login through the OS's own autostart mechanism (XDG autostart `.desktop` file on
//! Linux, a LaunchAgent on macOS, the `Run` key on Windows). Off until the user opts in.

use auto_launch::{AutoLaunch, AutoLaunchBuilder};

/// The argument autostart launches pass, so the app starts in the tray without a window.
pub const AUTOSTART_ARG: &str = "--autostart";

fn launcher() -> Result<AutoLaunch, String> {
    let exe = crate::app_exe().map_err(|e| format!("cannot find the app's executable: {e}"))?;
    // An AppImage runs from a transient mount; autostart must point at the image itself.
    let exe = std::env::var_os("APPIMAGE")
        .map(std::path::PathBuf::from)
        .unwrap_or(exe);
    let mut b = AutoLaunchBuilder::new();
    b.set_app_name("Headroom")
        .set_app_path(&exe.to_string_lossy())
        .set_args(&[AUTOSTART_ARG]);
    #[cfg(target_os = "macos")]
    b.set_macos_launch_mode(auto_launch::MacOSLaunchMode::LaunchAgent);
    // The user's own Run key: an elevated app must not turn this into an all-users entry.
    #[cfg(windows)]
    b.set_windows_enable_mode(auto_launch::WindowsEnableMode::CurrentUser);
    #[cfg(target_os = "linux")]
    b.set_linux_launch_mode(auto_launch::LinuxLaunchMode::XdgAutostart);
    b.build()
        .map_err(|e| format!("autostart is not available: {e}"))
}

pub fn is_enabled() -> bool {
    launcher()
        .and_then(|l| l.is_enabled().map_err(|e| e.to_string()))
        .unwrap_or(false)
}

pub fn set_enabled(on: bool) -> Result<(), String> {
    let l = launcher()?;
    let r = if on { l.enable() } else { l.disable() };
    r.map_err(|e| {
        format!(
            "could not {} start at login: {e}",
            if on { "enable" } else { "disable" }
        )
    })
}
