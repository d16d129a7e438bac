//! `headroom-tray`: the desktop app's long-lived tray process on Linux, without WebKitGTK (see
//! `tray_app`). `headroom-desktop` becomes this binary when it starts with a tray; like it, this
//! binary is also the `headroom` CLI when called as one, so every path that re-executes "this
//! binary" (wrap's session proxy, supervisors, the CLI shim) works from either.

fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if headroom_desktop::cli_shim::is_cli_invocation(&args) {
        return headroom_cli::main(args);
    }
    #[cfg(target_os = "linux")]
    {
        headroom_desktop::tray_app::run()
    }
    #[cfg(not(target_os = "linux"))]
    {
        eprintln!("error: headroom-tray is the Linux tray process\nhint: run headroom-desktop");
        std::process::ExitCode::from(1)
    }
}
