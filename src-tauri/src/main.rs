// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // The app binary doubles as the `headroom` CLI (Settings installs a `headroom` symlink).
    // Called by that name, or with a CLI command as its first argument (how `wrap` re-executes
    // itself for its session proxy, and how supervisors call `install agent run`: they see
    // the resolved executable, not the symlink), it is the CLI and never starts the GUI.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if headroom_desktop::cli_shim::is_cli_invocation(&args) {
        return headroom_cli::main(args);
    }
    headroom_desktop::run()
}
