// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // The app binary doubles as the `headroom` CLI (Settings installs a `headroom` symlink).
    let mut args = std::env::args_os();
    if let Some(argv0) = args.next() {
        if headroom_desktop::cli_shim::invoked_as_cli(&argv0) {
            return headroom_cli::main(std::iter::once(argv0).chain(args));
        }
    }
    headroom_desktop::run()
}
