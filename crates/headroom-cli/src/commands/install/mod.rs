//! `headroom install …`: persistent deployments. The engine (plan, transaction, supervisors,
//! undo) lives in the `headroom-install` crate so the desktop app shares it; this module only
//! maps flags to a [`Request`], prints, and picks exit codes.

pub(crate) mod signals;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::anyhow;
use headroom_install::targets::Tool;
use headroom_install::{
    agent, Environment, Error, ErrorKind, Preset, ProviderMode, Request, RuntimeKind, Scope,
};

use crate::diagnostics::user_error;

/// Set by SIGINT/SIGTERM; the engine rolls back / the agent stops when it flips.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    #[command(subcommand)]
    pub command: InstallCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum InstallCommand {
    /// Install (or check) a persistent deployment and wire tools to it
    Apply(ApplyArgs),
    /// Show a deployment's state (exit 0 healthy, 1 unhealthy, 2 not installed)
    Status(StatusArgs),
    /// Start an installed deployment and wire its tools again if `stop` unwired them
    Start(ProfileArgs),
    /// Stop an installed deployment and unwire its tools until `start` (task: also pause the schedule)
    Stop(StopArgs),
    /// Stop then start an installed deployment
    Restart(ProfileArgs),
    /// Undo everything `apply` did and delete the profile
    Remove(ProfileArgs),
    /// What supervisors run (internal)
    #[command(hide = true)]
    Agent(AgentArgs),
}

fn parse_preset(s: &str) -> Result<Preset, String> {
    s.parse().map_err(|e: Error| describe(&e))
}
fn parse_runtime(s: &str) -> Result<RuntimeKind, String> {
    s.parse().map_err(|e: Error| describe(&e))
}
fn parse_scope(s: &str) -> Result<Scope, String> {
    s.parse().map_err(|e: Error| describe(&e))
}
fn parse_providers(s: &str) -> Result<ProviderMode, String> {
    s.parse().map_err(|e: Error| describe(&e))
}
fn parse_target(s: &str) -> Result<Tool, String> {
    s.parse()
        .map_err(|e: headroom_install::targets::UnknownTool| e.to_string())
}
fn describe(e: &Error) -> String {
    match &e.hint {
        Some(h) => format!("{} ({h})", e.message),
        None => e.message.clone(),
    }
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Deployment profile name
    #[arg(long, default_value = "default")]
    pub profile: String,
    /// persistent-service | persistent-task | persistent-docker [default: persistent-service]
    #[arg(long, value_parser = parse_preset)]
    pub preset: Option<Preset>,
    /// native | docker (`python` = native)
    #[arg(long, value_parser = parse_runtime)]
    pub runtime: Option<RuntimeKind>,
    /// provider | user | system
    #[arg(long, value_parser = parse_scope, default_value = "user")]
    pub scope: Scope,
    /// auto | all | manual [default: auto, or manual when --target is given]
    #[arg(long, value_parser = parse_providers)]
    pub providers: Option<ProviderMode>,
    /// Tool to wire (repeatable): claude, codex, copilot, aider, cursor, opencode, openclaw
    #[arg(long = "target", value_parser = parse_target)]
    pub targets: Vec<Tool>,
    /// Port the proxy listens on (127.0.0.1)
    #[arg(long, default_value_t = 8787, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Image for persistent-docker
    #[arg(long)]
    pub image: Option<String>,
    /// Print every change (diffs, commands) and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Remove the Python Headroom's deployment of this profile (its units, cron entries and
    /// config edits, each reported) before installing
    #[arg(long)]
    pub take_over: bool,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[arg(long, default_value = "default", conflicts_with = "all")]
    pub profile: String,
    /// Every installed profile
    #[arg(long)]
    pub all: bool,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ProfileArgs {
    #[arg(long, default_value = "default")]
    pub profile: String,
}

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    #[arg(long, default_value = "default")]
    pub profile: String,
    /// Leave the tools wired to the stopped proxy (they fail until `start`) instead of
    /// sending them straight to their providers meanwhile
    #[arg(long)]
    pub keep_wiring: bool,
}

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    #[command(subcommand)]
    pub command: AgentCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AgentCommand {
    /// Supervise the proxy in the foreground
    Run(AgentTarget),
    /// Probe and (re)start when not ready, then exit
    Ensure(AgentTarget),
}

#[derive(Debug, clap::Args)]
pub struct AgentTarget {
    #[arg(long)]
    pub profile: String,
    /// State root (supervisors pass it so they find the manifest without HOME)
    #[arg(long)]
    pub workspace_dir: Option<std::path::PathBuf>,
}

pub fn run(args: InstallArgs) -> anyhow::Result<ExitCode> {
    let env = Environment::from_process(&INTERRUPTED);
    match args.command {
        InstallCommand::Apply(a) => apply(&env, a),
        InstallCommand::Status(a) => status(&env, a),
        InstallCommand::Start(a) => start(&env, &a.profile),
        InstallCommand::Stop(a) => stop(&env, &a.profile, a.keep_wiring),
        InstallCommand::Restart(a) => {
            lifecycle(&env, &a.profile, "Restarted", headroom_install::restart)
        }
        InstallCommand::Remove(a) => remove(&env, &a.profile),
        InstallCommand::Agent(a) => agent_cmd(env, a),
    }
}

/// Engine error → CLI outcome: usage errors exit 2 (printed here, with their hint), the
/// user's problems exit 1, anything else exit 2 via `diagnostics`.
fn fail(err: Error) -> anyhow::Result<ExitCode> {
    match err.kind {
        ErrorKind::Usage => {
            let mut out = format!("error: {}", err.message);
            if let Some(h) = &err.hint {
                out.push_str(&format!("\nhint: {h}"));
            }
            eprintln!("{out}");
            Ok(ExitCode::from(2))
        }
        ErrorKind::User | ErrorKind::NotInstalled => {
            Err(user_error(err.message, err.hint.as_deref()))
        }
        ErrorKind::Internal => Err(anyhow!(err.message)),
    }
}

fn apply(env: &Environment, a: ApplyArgs) -> anyhow::Result<ExitCode> {
    let providers = match (a.providers, a.targets.is_empty()) {
        (None, true) => ProviderMode::Auto,
        (None, false) | (Some(ProviderMode::Manual), _) => ProviderMode::Manual,
        (Some(mode), false) => {
            return fail(Error::usage(
                format!("`--target` cannot be combined with `--providers {mode}`"),
                Some("use `--providers manual --target …`, or drop --target"),
            ))
        }
        (Some(mode), true) => mode,
    };
    let req = Request {
        profile: a.profile,
        preset: a.preset,
        runtime: a.runtime,
        scope: a.scope,
        providers,
        targets: a.targets,
        port: a.port,
        image: a.image,
        take_over: None,
        take_over_python: a.take_over,
    };
    // Hold the profile's lock from planning to the end, so what the plan checked (the port
    // above all) cannot be changed by a concurrent command on the profile meanwhile.
    let lock = if a.dry_run {
        None
    } else {
        match lock_profile(env, &req.profile) {
            Ok(l) => Some(l),
            Err(e) => return fail(e),
        }
    };
    let plan = match headroom_install::plan(env, &req) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let m = &plan.manifest;
    if a.dry_run {
        print!("{}", plan.render_diff());
        for n in &plan.notes {
            println!("note: {n}");
        }
        println!("Dry run: nothing was changed.");
        return Ok(ExitCode::SUCCESS);
    }
    if plan.up_to_date {
        println!(
            "Deployment '{}' is already installed with these settings; nothing changed.",
            m.profile
        );
        if m.wiring_paused || headroom_install::engine::is_paused(env, &m.profile) {
            println!(
                "note: it is stopped (`headroom install stop`); `headroom install start --profile {}` starts it and wires the tools again",
                m.profile
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !a.yes && std::io::stdin().is_terminal() {
        println!("headroom install will:");
        for line in plan.summary() {
            println!("  {line}");
        }
        println!("  start Headroom on 127.0.0.1:{} ({})", m.port, m.preset);
        print!(
            "Undo any time with `headroom install remove --profile {}`. Proceed? [y/N] ",
            m.profile
        );
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("Nothing was changed.");
            return Ok(ExitCode::from(1));
        }
    }
    signals::install_with_hangup(&INTERRUPTED);
    if let Some(old) = &plan.replaces {
        if old.state == headroom_install::ManifestState::Installed {
            println!(
                "Updating deployment '{}' (was {}, {} scope, port {}).",
                old.profile, old.preset, old.scope, old.port
            );
        } else {
            println!(
                "Deployment '{}' was left half-done by an interrupted command: undoing that first.",
                old.profile
            );
        }
    }
    let Some(lock) = lock else {
        return Ok(ExitCode::SUCCESS);
    };
    let report = match headroom_install::engine::apply_with_lock(env, &plan, lock) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    println!(
        "Installed persistent deployment '{}' ({}, runtime={}, scope={}, port {}).",
        m.profile, m.preset, m.runtime_kind, m.scope, m.port
    );
    for f in &report.files {
        println!("  wrote {f}");
    }
    if let Ok(sup) = headroom_install::plan::supervisor_for(env, m.preset, m.scope) {
        let runtime = if m.runtime_kind == headroom_install::RuntimeKind::Docker
            && m.preset != headroom_install::Preset::Docker
        {
            format!("; the agent runs container {}", m.container_name)
        } else {
            String::new()
        };
        println!("Kept running by: {}{runtime}", sup.entry(&plan.spec));
    }
    println!("Health: {}", report.health_url);
    if !m.targets.is_empty() {
        println!("Targets: {}", m.targets.join(", "));
    }
    for n in &report.notes {
        println!("note: {n}");
    }
    println!("Undo with: headroom install remove --profile {}", m.profile);
    Ok(ExitCode::SUCCESS)
}

/// Take the profile's lock, saying so when another command holds it and we wait.
fn lock_profile(
    env: &Environment,
    profile: &str,
) -> headroom_install::Result<headroom_install::ProfileLock> {
    if let Some(lock) = headroom_install::ProfileLock::acquire(env, profile, None)? {
        return Ok(lock);
    }
    eprintln!("Waiting for another `headroom install` command working on profile '{profile}'…");
    headroom_install::ProfileLock::acquire_or_fail(env, profile)
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn status(env: &Environment, a: StatusArgs) -> anyhow::Result<ExitCode> {
    let profiles = if a.all {
        headroom_install::list_profiles(env)
    } else {
        if let Err(e) = headroom_install::model::validate_profile(&a.profile) {
            return fail(e);
        }
        vec![a.profile.clone()]
    };
    let mut statuses = Vec::new();
    for p in &profiles {
        match headroom_install::status(env, p) {
            Ok(s) => statuses.push(s),
            Err(e) if e.kind == ErrorKind::NotInstalled && !a.all => {
                if a.json {
                    println!("{}", serde_json::json!({"profile": p, "installed": false}));
                } else {
                    eprintln!("error: {}", e.message);
                    if let Some(h) = e.hint {
                        eprintln!("hint: {h}");
                    }
                    for line in headroom_install::wiring::describe(env) {
                        eprintln!("note: {line}");
                    }
                }
                return Ok(ExitCode::from(2));
            }
            Err(e) if a.all => eprintln!("warning: profile `{p}`: {}", e.message),
            Err(e) => return fail(e),
        }
    }
    if a.json {
        let text = if a.all {
            serde_json::to_string_pretty(&statuses)?
        } else {
            serde_json::to_string_pretty(&statuses[0])?
        };
        println!("{text}");
    } else if a.all {
        if statuses.is_empty() {
            println!("No deployment profiles are installed.");
        } else {
            println!(
                "{:<16} {:<20} {:<8} {:<9} {:<6} {:<8} {:<6}",
                "PROFILE", "PRESET", "RUNTIME", "SCOPE", "PORT", "RUNNING", "READY"
            );
            for s in &statuses {
                println!(
                    "{:<16} {:<20} {:<8} {:<9} {:<6} {:<8} {:<6}",
                    if s.state == "installed" {
                        s.profile.clone()
                    } else {
                        format!("{} ({})", s.profile, s.state)
                    },
                    s.preset,
                    s.runtime,
                    s.scope,
                    s.port,
                    yes_no(s.running),
                    yes_no(s.ready)
                );
            }
        }
        for line in headroom_install::wiring::describe(env) {
            println!("Also: {line}.");
        }
    } else {
        let s = &statuses[0];
        let running = if s.paused {
            format!(
                "{} (stopped by `install stop`; `install start` resumes it)",
                yes_no(s.running)
            )
        } else {
            yes_no(s.running).to_owned()
        };
        if s.state != "installed" {
            println!(
                "warning: profile '{}' is half-done ({}): an `install apply` or `install remove` was interrupted or could not finish",
                s.profile, s.state
            );
            println!(
                "hint: `headroom install remove --profile {0}` undoes it; `headroom install apply --profile {0} …` undoes it and installs again",
                s.profile
            );
        }
        let rows = [
            ("Profile", s.profile.clone()),
            ("State", s.state.clone()),
            ("Preset", s.preset.clone()),
            ("Runtime", s.runtime.clone()),
            ("Supervisor", s.supervisor.clone()),
            ("Scope", s.scope.clone()),
            ("Port", s.port.to_string()),
            ("Running", running),
            (
                "Wiring",
                if s.targets.is_empty() {
                    "-".to_owned()
                } else if s.wiring_paused {
                    "paused by `install stop`: the tools talk to their providers directly; `install start` wires them again".to_owned()
                } else {
                    "active".to_owned()
                },
            ),
            ("Ready", yes_no(s.ready).to_owned()),
            (
                "Version",
                s.version.clone().unwrap_or_else(|| "-".to_owned()),
            ),
            ("Health URL", s.health_url.clone()),
            (
                "Targets",
                if s.targets.is_empty() {
                    "-".to_owned()
                } else {
                    s.targets.join(", ")
                },
            ),
            (
                "Shells",
                if s.interactive_only.is_empty() {
                    "-".to_owned()
                } else {
                    format!(
                        "{} routed only from shells that read their startup files (not IDE tasks or `bash -c`); `--scope provider` covers every launch",
                        s.interactive_only.join(", ")
                    )
                },
            ),
            (
                "Last error",
                match (&s.last_error, &s.recovered_from) {
                    (Some(e), _) => e.clone(),
                    (None, Some(e)) => format!("- (recovered from: {e})"),
                    (None, None) => "-".to_owned(),
                },
            ),
        ];
        for (k, v) in rows {
            println!("{k:<11} {v}");
        }
    }
    let code = if statuses.is_empty() {
        2
    } else if statuses.iter().all(|s| s.ready) {
        0
    } else {
        1
    };
    Ok(ExitCode::from(code))
}

fn lifecycle(
    env: &Environment,
    profile: &str,
    verb: &str,
    f: fn(&Environment, &str) -> headroom_install::Result<()>,
) -> anyhow::Result<ExitCode> {
    signals::install(&INTERRUPTED);
    match f(env, profile) {
        Ok(()) => {
            println!("{verb} deployment '{profile}'.");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => fail(e),
    }
}

fn print_lifecycle(report: &headroom_install::LifecycleReport) {
    for a in &report.actions {
        println!("  {a}");
    }
    for w in &report.warnings {
        println!("note: {w}");
    }
}

fn start(env: &Environment, profile: &str) -> anyhow::Result<ExitCode> {
    signals::install(&INTERRUPTED);
    match headroom_install::start_with(env, profile) {
        Ok(report) => {
            print_lifecycle(&report);
            if report.actions.is_empty() {
                println!("Started deployment '{profile}'.");
            } else {
                println!("Started deployment '{profile}'; its tools go through Headroom again.");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => fail(e),
    }
}

fn stop(env: &Environment, profile: &str, keep_wiring: bool) -> anyhow::Result<ExitCode> {
    signals::install(&INTERRUPTED);
    match headroom_install::stop_with(env, profile, keep_wiring) {
        Ok(report) => {
            print_lifecycle(&report);
            if keep_wiring {
                println!(
                    "Stopped deployment '{profile}'. Its tools stay wired to it and fail until `headroom install start --profile {profile}`."
                );
            } else {
                println!(
                    "Stopped deployment '{profile}'. Its tools talk to their providers directly until `headroom install start --profile {profile}` wires them again."
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => fail(e),
    }
}

fn remove(env: &Environment, profile: &str) -> anyhow::Result<ExitCode> {
    let report = match headroom_install::remove(env, profile) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    for a in &report.actions {
        println!("  {a}");
    }
    for w in &report.warnings {
        println!("note: {w}");
    }
    for e in &report.errors {
        eprintln!("error: {e}");
    }
    if report.errors.is_empty() {
        println!("Removed deployment '{profile}'.");
        Ok(ExitCode::SUCCESS)
    } else {
        Err(user_error(
            format!(
                "could not undo everything of deployment '{profile}': {} problem(s), listed above; the rest was undone, and what is left stays recorded in the profile (`headroom install status --profile {profile}` shows it as removing)",
                report.errors.len()
            ),
            Some(&format!("fix them, then rerun `headroom install remove --profile {profile}`; see docs/persistent-installs.md, \"Undo by hand\"")),
        ))
    }
}

fn agent_cmd(mut env: Environment, a: AgentArgs) -> anyhow::Result<ExitCode> {
    let (AgentCommand::Run(t) | AgentCommand::Ensure(t)) = &a.command;
    if let Some(dir) = &t.workspace_dir {
        env.workspace_dir = dir.clone();
    }
    let profile = t.profile.clone();
    match a.command {
        AgentCommand::Run(_) => {
            signals::install(&INTERRUPTED);
            match agent::run(&env, &profile, &INTERRUPTED) {
                Ok(code) => Ok(ExitCode::from(u8::try_from(code).unwrap_or(1))),
                Err(e) => fail(e),
            }
        }
        AgentCommand::Ensure(_) => match agent::ensure(&env, &profile) {
            Ok(outcome) => {
                let msg = match outcome {
                    agent::Ensured::AlreadyReady => "is already healthy",
                    agent::Ensured::Paused => "is stopped (schedule paused); nothing to do",
                    agent::Ensured::Busy => "is being changed by another command; nothing to do",
                    agent::Ensured::Recovered => "is healthy",
                    agent::Ensured::Started => "was started and is healthy",
                };
                println!("Deployment '{profile}' {msg}.");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => fail(e),
        },
    }
}
