//! `headroom wrap` / `unwrap`: run one coding tool through Headroom.
//!
//! The order of work keeps the user's tool safe: first find the program (a missing tool fails
//! before anything starts), then find or start a proxy under a per-port lock and take a lease,
//! then hand the terminal to the tool. On Unix `wrap` *execs* the tool, so the tool gets the TTY,
//! every signal and the exit status exactly as if it had been started directly (a shell reports
//! a signal death as 128+N), and the lease names the tool's own pid. Wiring is per run only
//! (environment variables, Codex's `-c` overrides), so there is nothing to undo when the tool
//! exits — except for OpenClaw, which reads its providers' URLs from its config file only:
//! `wrap` edits that for the session, runs OpenClaw as a child and undoes the edit afterwards
//! (see [`openclaw`]).

mod docker;
mod ensure;
mod ephemeral;
#[cfg(unix)]
mod forward;
mod lease;
mod openclaw;
mod probe;
mod tools;

use std::ffi::OsString;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::Result;
use headroom_install::targets::Tool;

pub use ephemeral::{run as run_wrap_proxy, WrapProxyArgs};
/// PATH lookup as a shell (Unix) or `cmd.exe` (Windows, `PATHEXT`) would do it; the desktop app
/// uses it too.
pub use tools::find_program;

use crate::diagnostics::user_error;
use ensure::Source;
use lease::{workspace_dir, ProcessId};
use probe::Probe;
use tools::{Launch, Target};

/// Where the proxy runs when `wrap` has to start one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Runtime {
    /// The proxy runs inside a background `headroom` process (`python` is accepted as an alias).
    #[value(alias = "python")]
    Native,
    /// The proxy runs in a container (`docker run --rm`, published on 127.0.0.1 only).
    Docker,
}

impl Runtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Native => "native",
            Runtime::Docker => "docker",
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  headroom wrap claude
  headroom wrap codex -- exec \"fix the failing test\"
  headroom wrap --port 9000 aider -- --model sonnet
  headroom wrap -- my-agent --verbose

Arguments after `--` are passed to the tool unchanged. Without a TOOL, the first of them is the
program to run; it gets both ANTHROPIC_BASE_URL and OPENAI_BASE_URL. See docs/wrap.md.")]
pub struct WrapArgs {
    /// Port of the Headroom proxy to use (or start) [default: $HEADROOM_PORT, else the port of
    /// the installed deployment that is running, else 8787; a session that must reach a
    /// gateway that proxy does not forward to gets its own]
    #[arg(long, short = 'p', env = "HEADROOM_PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Do not look for or start a proxy; only point the tool at the port
    #[arg(long)]
    pub no_proxy: bool,
    /// Start the installed deployment on the port even if it was stopped with
    /// `headroom install stop` (without it, this session gets a proxy of its own)
    #[arg(long, conflicts_with = "no_proxy")]
    pub start: bool,
    /// Where to run the proxy if one has to be started
    #[arg(long, value_enum, default_value_t = Runtime::Native)]
    pub runtime: Runtime,
    /// claude, codex, copilot, aider, cursor, opencode or openclaw; omit it and give a command
    /// after `--` to wrap any other program
    #[arg(value_name = "TOOL")]
    pub tool: Option<String>,
    /// Arguments for the tool (or the command and its arguments), after `--`
    #[arg(last = true, value_name = "ARGS", allow_hyphen_values = true)]
    pub args: Vec<OsString>,
}

#[derive(Debug, clap::Args)]
pub struct UnwrapArgs {
    /// The tool to unwire: claude, codex, copilot, aider, cursor, opencode or openclaw
    #[arg(value_name = "TOOL")]
    pub tool: String,
}

/// Decide what to run from the positional arguments.
fn target_of(args: &WrapArgs) -> Result<(Target, Vec<OsString>)> {
    match &args.tool {
        Some(name) => {
            let tool = name.parse::<Tool>().map_err(|e| {
                user_error(
                    e.to_string(),
                    Some(&format!(
                        "to wrap any other program, put it after `--`: `headroom wrap -- {name} …`"
                    )),
                )
            })?;
            Ok((Target::Tool(tool), args.args.clone()))
        }
        None => {
            let mut rest = args.args.clone().into_iter();
            let command = rest.next().ok_or_else(|| {
                user_error(
                    "no tool given",
                    Some("name one (`headroom wrap claude`) or give a command after `--` (`headroom wrap -- my-agent`)"),
                )
            })?;
            Ok((Target::Command(command), rest.collect()))
        }
    }
}

pub fn run(args: WrapArgs) -> Result<ExitCode> {
    let (target, tool_args) = target_of(&args)?;
    let explicit_port = args.port.is_some();
    let mut port = match args.port {
        Some(port) => port,
        None if args.no_proxy => headroom_protocol::DEFAULT_PORT,
        None => installed_port(&workspace_dir()?, &target)?,
    };
    let path = std::env::var_os("PATH");
    let program = match &target {
        Target::Tool(Tool::Cursor) => None,
        Target::Tool(tool) => Some(
            tools::find_program(tool.binary().as_ref(), path.as_deref()).ok_or_else(|| {
                user_error(
                    format!(
                        "{} is not installed: `{}` was not found on PATH",
                        tool.display_name(),
                        tool.binary()
                    ),
                    Some(tools::install_hint(*tool)),
                )
            })?,
        ),
        Target::Command(command) => Some(
            tools::find_program(command, path.as_deref()).ok_or_else(|| {
                user_error(
                    format!("`{}` was not found on PATH", command.to_string_lossy()),
                    Some("check the spelling, or give the full path to the program"),
                )
            })?,
        ),
    };
    if target == Target::Tool(Tool::Claude) {
        for var in ["CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX"] {
            if std::env::var_os(var).is_some_and(|v| !v.is_empty() && v != "0") {
                eprintln!(
                    "headroom: warning: {var} is set, so Claude Code talks to its cloud provider directly and bypasses Headroom (only the Anthropic API goes through the proxy)"
                );
            }
        }
    }
    // OpenClaw: first undo an edit a killed `wrap openclaw` left, so its config shows the
    // user's own provider URLs (a gateway there becomes this session's upstream).
    let openclaw_env = (target == Target::Tool(Tool::Openclaw)).then(openclaw::environment);
    let mut openclaw_gateways = Vec::new();
    if let Some(env) = &openclaw_env {
        if openclaw::recover(env)? {
            eprintln!(
                "headroom: undid the OpenClaw edit an earlier `headroom wrap openclaw` left in {}",
                openclaw::config_path(env).display()
            );
        }
        openclaw_gateways = headroom_install::plan::openclaw_gateways(
            env,
            &headroom_install::plan::headroom_ports(env, port),
        );
    }
    let gateway = if target == Target::Tool(Tool::Claude) {
        let cwd = std::env::current_dir().unwrap_or_default();
        tools::claude_gateway(&cwd, &|key| std::env::var_os(key))
    } else {
        None
    };
    // A settings file pointing Claude Code at a Headroom on another port (an install) is our
    // own wiring: use that proxy rather than chaining two.
    let gateway = gateway.filter(|g| match local_headroom_port(&g.url) {
        Some(p) if !explicit_port => {
            port = p;
            false
        }
        _ => true,
    });
    // OpenCode: `wrap` overrides its providers' `baseURL` for the run, so a gateway its
    // global config sets for them becomes this session's upstream instead of being bypassed.
    let opencode_env = (target == Target::Tool(Tool::Opencode)).then(openclaw::environment);
    // Codex: the provider its config uses keeps its key and headers for the run, only its
    // `base_url` points here, and its URL becomes this session's upstream.
    let codex_env = (target == Target::Tool(Tool::Codex)).then(openclaw::environment);
    // The profile the run selects (`--profile NAME`: `$CODEX_HOME/NAME.config.toml` over
    // `config.toml`) can name a provider of its own.
    let codex_profile = tools::codex_cli_profile(&tool_args);
    let codex_gateway = codex_env.as_ref().and_then(|env| {
        headroom_install::plan::codex_run_gateway(
            env,
            &headroom_install::plan::headroom_ports(env, port),
            codex_profile.as_deref(),
        )
    });
    // Tools whose config files name their providers' URLs: each gateway with its file.
    let config_gateways = match (&openclaw_env, &opencode_env, &codex_env) {
        (Some(env), _, _) => {
            let file = openclaw::config_path(env);
            Some(
                openclaw_gateways
                    .into_iter()
                    .map(|g| (g, file.clone()))
                    .collect::<Vec<_>>(),
            )
        }
        (_, Some(env), _) => Some(opencode_gateways(env, port)),
        (_, _, Some(_)) => Some(codex_gateway.iter().cloned().collect()),
        _ => None,
    };
    let wanted = match &config_gateways {
        Some(gateways) => {
            let from = |prefix: &str| gateways.iter().find(|(g, _)| g.var.starts_with(prefix));
            // OpenClaw reads no `*_BASE_URL` variable: only its config's gateways count.
            // OpenCode's providers read them, but a URL in its config beats the variable.
            let env_too = opencode_env.is_some();
            let base = |prefix: &str, key: &str| {
                from(prefix)
                    .map(|(g, _)| g.url.clone())
                    .or_else(|| env_too.then(|| std::env::var(key).ok()).flatten())
            };
            let mut wanted = ensure::wanted_upstreams(
                port,
                tools::providers(&target),
                &|key| match key {
                    "ANTHROPIC_BASE_URL" => base("ANTHROPIC", key),
                    "OPENAI_BASE_URL" => base("OPENAI", key),
                    k => std::env::var(k).ok(),
                },
                None,
            );
            for w in &mut wanted {
                if let Some((g, file)) = from(w.var.split('_').next().unwrap_or_default()) {
                    if w.from.ends_with("_BASE_URL") {
                        w.from = format!("{} in {}", g.key, file.display());
                    }
                }
            }
            wanted
        }
        None => ensure::wanted_upstreams(
            port,
            tools::providers(&target),
            &|key| std::env::var(key).ok(),
            gateway.as_ref().map(|g| (g.url.as_str(), g.file.as_path())),
        ),
    };
    if !args.no_proxy && !explicit_port && !wanted.is_empty() {
        // The shared proxy forwards somewhere else: this session gets its own, so neither the
        // tool's gateway nor the other sessions' routing is silently replaced.
        if let Probe::Headroom(health) = probe::probe(port, Duration::from_secs(2)) {
            if ensure::mismatch(&health, &wanted).is_some() {
                port = free_port()?;
            }
        }
    }
    for upstream in &wanted {
        eprintln!(
            "headroom: this session's proxy forwards {} requests to {} (from {})",
            if upstream.var.starts_with("ANTHROPIC") {
                "Anthropic"
            } else {
                "OpenAI"
            },
            headroom_protocol::redact_url(&upstream.url),
            upstream.from
        );
    }
    // Build the env before starting anything, so a bad value fails without side effects.
    let env = tools::env_for(&target, port, &|key| std::env::var_os(key))?;
    if let Some(oc_env) = &openclaw_env {
        openclaw::preflight(oc_env, port)?;
    }
    let mut tool_args = tool_args;
    if let Some(gateway) = &gateway {
        match tools::claude_settings_override(port, &tool_args) {
            Some(flag) => tool_args.splice(0..0, flag).for_each(drop),
            None => eprintln!(
                "headroom: warning: {} sends Claude Code to {}, and your --settings replace the ones wrap adds to override it; make them set env.ANTHROPIC_BASE_URL to http://127.0.0.1:{port}",
                gateway.file.display(),
                headroom_protocol::redact_url(&gateway.url)
            ),
        }
    }

    let source = if args.no_proxy {
        if let Some(warning) = ensure::check_no_proxy(port) {
            eprintln!("headroom: warning: {warning}");
        }
        None
    } else {
        let workspace = workspace_dir()?;
        Some(ensure::ensure_proxy(
            &workspace,
            port,
            args.runtime,
            &target.label(),
            ProcessId::current(),
            &wanted,
            args.start,
        )?)
    };
    if let Some(source) = &source {
        eprintln!("headroom: {}", source.describe(port));
    }

    let Some(program) = program else {
        // Cursor: instructions only. With an ephemeral proxy, keep it (and our lease) alive
        // until the user is done.
        print!("{}", tools::cursor_instructions(port));
        if source.as_ref().is_some_and(Source::holds_lease) {
            println!("\nThe proxy runs until you press Ctrl-C.");
            loop {
                std::thread::park();
            }
        }
        return Ok(ExitCode::SUCCESS);
    };
    let launch_spec = Launch {
        program,
        args: tools::args_for(
            &target,
            port,
            tool_args,
            match codex_gateway.as_ref().and_then(|(g, _)| {
                g.key
                    .strip_prefix("model_providers.")?
                    .strip_suffix(".base_url")
                    .filter(|p| !p.contains('.'))
                    .map(str::to_owned)
            }) {
                Some(p) => tools::CodexRoute::Provider(p),
                None => tools::CodexRoute::Headroom,
            },
        ),
        env,
    };
    let Some(oc_env) = &openclaw_env else {
        return launch(launch_spec);
    };
    match openclaw::wire(oc_env, port)? {
        openclaw::Wired::ByDeployment(why) => {
            eprintln!("headroom: OpenClaw's config is left as it is: {why}");
            launch(launch_spec)
        }
        openclaw::Wired::Session(session) => {
            eprintln!(
                "headroom: {} points OpenClaw's anthropic and openai providers at port {port} for this session; the edit is undone when it ends (`headroom unwrap openclaw` if it is killed)",
                openclaw::config_path(oc_env).display()
            );
            let result = run_child(launch_spec);
            match session.end(oc_env) {
                Ok(true) => eprintln!(
                    "headroom: restored {}",
                    openclaw::config_path(oc_env).display()
                ),
                Ok(false) => {}
                Err(e) => eprintln!(
                    "headroom: warning: could not undo the OpenClaw edit ({}); run `headroom unwrap openclaw`",
                    crate::diagnostics::render(&e).trim()
                ),
            }
            result
        }
    }
}

/// Run the tool as a child and return its exit status (a signal death as 128+N), outliving
/// Ctrl-C so the caller can clean up after it: the tool gets the terminal's signals itself, and
/// a signal sent to `wrap` alone is passed on to it ([`forward`]).
fn run_child(launch: Launch) -> Result<ExitCode> {
    use anyhow::Context;
    #[cfg(unix)]
    forward::install();
    #[cfg(not(unix))]
    {
        use std::sync::atomic::AtomicBool;
        static INTERRUPTED: AtomicBool = AtomicBool::new(false);
        crate::commands::install::signals::install(&INTERRUPTED);
    }
    let mut child = Command::new(&launch.program)
        .args(&launch.args)
        .envs(launch.env)
        .spawn()
        .with_context(|| format!("cannot run {}", launch.program.display()))?;
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for the tool failed")? {
            break status;
        }
        #[cfg(unix)]
        forward::pass_on(child.id());
        std::thread::sleep(Duration::from_millis(20));
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return Ok(ExitCode::from((128 + sig).clamp(0, 255) as u8));
        }
    }
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}

/// Without `--port` or `HEADROOM_PORT`: the port of the installed deployment that is running
/// (and proves itself), so an install on another port is found; several → the one wiring this
/// tool, else a clear choice; none running → the one installed deployment, else 8787.
fn installed_port(workspace: &std::path::Path, target: &Target) -> Result<u16> {
    let default = headroom_protocol::DEFAULT_PORT;
    let all = ensure::deployments(workspace);
    if all.is_empty() || all.iter().any(|d| d.port == default) {
        return Ok(default);
    }
    let running: Vec<_> = all
        .iter()
        .filter(|d| {
            matches!(
                probe::probe(d.port, Duration::from_secs(2)),
                Probe::Headroom(h) if ensure::trusted(workspace, d.port, &h).is_ok()
            )
        })
        .collect();
    let label = target.label();
    let wires_us =
        |d: &&&ensure::Deployment| d.targets.iter().any(|t| t.eq_ignore_ascii_case(&label));
    let chosen = match running.as_slice() {
        [one] => Some(*one),
        [] if all.len() == 1 => Some(&all[0]),
        [] => None,
        many => {
            let mine: Vec<_> = many.iter().filter(wires_us).collect();
            match mine.as_slice() {
                [one] => Some(**one),
                _ => {
                    return Err(user_error(
                        format!(
                            "several Headroom deployments are running: {}",
                            many.iter()
                                .map(|d| format!("'{}' on port {}", d.profile, d.port))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        Some(&format!(
                            "choose one: `headroom wrap --port {} {label}`",
                            many[0].port
                        )),
                    ))
                }
            }
        }
    };
    Ok(match chosen {
        Some(d) => {
            eprintln!(
                "headroom: port {} is deployment '{}''s (pass --port to choose another)",
                d.port, d.profile
            );
            d.port
        }
        None => default,
    })
}

/// The port of a Headroom proxy `url` names on this machine, if one answers there.
fn local_headroom_port(url: &str) -> Option<u16> {
    let rest = url.trim().strip_prefix("http://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (host, port) = authority.rsplit_once(':')?;
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        return None;
    }
    let port: u16 = port.parse().ok()?;
    matches!(
        probe::probe(port, Duration::from_secs(2)),
        Probe::Headroom(_)
    )
    .then_some(port)
}

/// A port nothing listens on now, for a session proxy of its own.
fn free_port() -> Result<u16> {
    use anyhow::Context;
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .context("cannot find a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

/// Replace this process with the tool (Unix), or run it and return its exit code.
#[cfg(unix)]
fn launch(launch: Launch) -> Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(&launch.program);
    command.args(&launch.args).envs(launch.env);
    // Only returns on failure.
    let err = command.exec();
    Err(user_error(
        format!("cannot run {}: {err}", launch.program.display()),
        Some("check that the program is an executable for this machine"),
    ))
}

#[cfg(not(unix))]
fn launch(launch: Launch) -> Result<ExitCode> {
    use anyhow::Context;
    use std::sync::atomic::AtomicBool;
    // Our lease names this process, and Ctrl-C reaches every process on the console: if it
    // ended us, the shared proxy would go away under a tool that only cancelled a prompt. So
    // we outlive Ctrl-C/Ctrl-Break and let the tool decide; we exit when it does.
    static INTERRUPTED: AtomicBool = AtomicBool::new(false);
    crate::commands::install::signals::install(&INTERRUPTED);
    let mut child = Command::new(&launch.program)
        .args(&launch.args)
        .envs(launch.env)
        .spawn()
        .with_context(|| format!("cannot run {}", launch.program.display()))?;
    let status = child.wait().context("waiting for the tool failed")?;
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}

/// `headroom unwrap <tool>`: `wrap` wires tools per run only, so there is no file to restore —
/// but for OpenClaw, whose config edit a killed `wrap openclaw` can leave behind: that is
/// undone here. What can still point a tool at Headroom is an install deployment; that is
/// `install remove`'s job, and silently editing its files here would break the deployment's
/// own undo.
pub fn run_unwrap(args: UnwrapArgs) -> Result<ExitCode> {
    let tool = args
        .tool
        .parse::<Tool>()
        .map_err(|e| user_error(e.to_string(), None))?;
    let workspace = workspace_dir()?;
    let wired_by: Vec<_> = ensure::deployments(&workspace)
        .into_iter()
        .filter(|d| {
            d.targets
                .iter()
                .any(|t| t.eq_ignore_ascii_case(tool.name()))
        })
        .collect();
    if tool == Tool::Openclaw {
        let env = openclaw::environment();
        let config = openclaw::config_path(&env);
        let (undone, live) = openclaw::unwrap(&env)?;
        if undone {
            println!(
                "OpenClaw: restored {} (the edit `headroom wrap openclaw` made is undone).",
                config.display()
            );
        } else {
            println!(
                "OpenClaw: nothing to undo from `headroom wrap` ({} holds no edit of its).",
                config.display()
            );
        }
        if !live.is_empty() {
            eprintln!(
                "headroom: warning: `headroom wrap openclaw` still runs (pid {}); OpenClaw there no longer goes through Headroom",
                live.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
            );
        }
    } else {
        println!(
            "{}: nothing to undo from `headroom wrap` (it only sets environment variables for the one run; its session proxies keep their log and lock files in {}, which are safe to delete while no wrapped tool runs).",
            tool.display_name(),
            workspace.join("wrap").display()
        );
    }
    if tool == Tool::Codex {
        if let Some(config) = legacy_codex_wiring() {
            // Written by the Python `headroom wrap codex`; its exact layout (in-place `# was:`
            // rewrites) cannot be undone safely without its records, so say what to do.
            return Err(user_error(
                format!(
                    "{} still contains the block an older `headroom wrap codex` added (`{LEGACY_CODEX_MARKER}` … `# --- end Headroom ---`), which points Codex at a local proxy",
                    config.display()
                ),
                Some("delete those lines (and any `# was:` values they replaced), or restore config.toml.headroom-backup if you changed nothing since"),
            ));
        }
    }
    if wired_by.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let profiles: Vec<_> = wired_by.iter().map(|d| d.profile.as_str()).collect();
    let first = profiles[0];
    Err(user_error(
        format!(
            "{} is still wired to Headroom by the install deployment{} {} ({}); `unwrap` leaves deployments alone",
            tool.display_name(),
            if profiles.len() > 1 { "s" } else { "" },
            profiles
                .iter()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(", "),
            wired_by[0].manifest.display()
        ),
        Some(&format!(
            "to stop routing {} through Headroom, run `headroom install remove --profile {first}`",
            tool.name()
        )),
    ))
}

const LEGACY_CODEX_MARKER: &str = "# --- Headroom proxy";

/// `$CODEX_HOME/config.toml` (default `~/.codex`) when it still holds the Python tool's block.
fn legacy_codex_wiring() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("CODEX_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| std::path::PathBuf::from(h).join(".codex"))
        })?;
    let config = home.join("config.toml");
    let text = std::fs::read_to_string(&config).ok()?;
    text.lines()
        .any(|l| l.trim_start().starts_with(LEGACY_CODEX_MARKER))
        .then_some(config)
}

/// The gateways OpenCode's config files name for a run in the current folder, with the file
/// each comes from: the global config, then the project's files over it (a later file wins per
/// provider, as OpenCode merges them). `wrap`'s own override (`OPENCODE_CONFIG_CONTENT`) beats
/// them all, so a gateway in any of them would be replaced, not chained, if it were missed.
fn opencode_gateways(
    env: &headroom_install::Environment,
    port: u16,
) -> Vec<(headroom_install::plan::ConfigGateway, std::path::PathBuf)> {
    use headroom_install::plan;
    let ours = plan::headroom_ports(env, port);
    let project = std::env::var_os("OPENCODE_DISABLE_PROJECT_CONFIG")
        .is_none_or(|v| v.is_empty() || v == "0" || v == "false");
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut files = vec![plan::opencode_config(env)];
    files.extend(plan::opencode_run_configs(&env.home, &cwd, project));
    let mut found: Vec<(plan::ConfigGateway, std::path::PathBuf)> = Vec::new();
    for file in files {
        for g in plan::opencode_gateways_in(&file, &ours) {
            found.retain(|(old, _)| old.var != g.var);
            found.push((g, file.clone()));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<WrapArgs, clap::Error> {
        #[derive(Debug, clap::Parser)]
        struct Top {
            #[command(flatten)]
            wrap: WrapArgs,
        }
        Top::try_parse_from(std::iter::once("wrap").chain(args.iter().copied())).map(|t| t.wrap)
    }

    #[test]
    fn tool_args_after_the_separator_pass_unchanged() {
        let a = parse(&[
            "claude", "--port", "9000", "--", "-p", "a b", "--", "--port",
        ])
        .unwrap();
        assert_eq!(a.port, Some(9000));
        let (target, args) = target_of(&a).unwrap();
        assert_eq!(target, Target::Tool(Tool::Claude));
        assert_eq!(args, ["-p", "a b", "--", "--port"].map(OsString::from));

        let a = parse(&["--no-proxy", "--", "my-agent", "--x"]).unwrap();
        assert!(a.no_proxy);
        let (target, args) = target_of(&a).unwrap();
        assert_eq!(target, Target::Command("my-agent".into()));
        assert_eq!(args, ["--x"].map(OsString::from));

        let a = parse(&["--runtime", "python", "codex"]).unwrap();
        assert_eq!(a.runtime, Runtime::Native);
    }

    #[test]
    fn bad_input_is_a_user_error() {
        assert!(parse(&["--port", "0", "claude"]).is_err());
        let err = target_of(&parse(&["vim"]).unwrap()).unwrap_err();
        assert_eq!(crate::diagnostics::exit_code(&err), 1);
        assert!(crate::diagnostics::render(&err).contains("headroom wrap -- vim"));
        let err = target_of(&parse(&[]).unwrap()).unwrap_err();
        assert_eq!(crate::diagnostics::exit_code(&err), 1);
    }
}
