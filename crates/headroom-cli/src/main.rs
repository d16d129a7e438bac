fn main() -> std::process::ExitCode {
    headroom_cli::main(std::env::args_os())
}
