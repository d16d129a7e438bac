//! Installed deployments (persistent service, task or Docker container) through the install
//! engine. When the user prefers Headroom to run without the app, the app plans and applies the
//! engine's preset and from then on controls that deployment through the engine (start, stop,
//! restart, remove) instead of hosting the proxy itself.
//!
//! An installed deployment wires its tools itself (one scope per profile), so installing hands
//! the chosen tools at that scope over from the app's own wiring to the engine.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use headroom_install::targets::Tool;
use headroom_install::{Environment, Plan, Preset, ProviderMode, Request, Scope};
use serde::Serialize;

use crate::settings::Env;

/// The profile the app installs and controls.
pub const PROFILE: &str = "default";

/// The install engine's name for the app's own per-tool wiring (`<workspace>/wiring/desktop.json`).
pub const WIRING_OWNER: &str = "desktop";

static CANCEL: AtomicBool = AtomicBool::new(false);

/// A deployment row for the Runtime page.
#[derive(Debug, Clone, Serialize)]
pub struct Deployment {
    #[serde(flatten)]
    pub status: headroom_install::Status,
    pub log_tail: Vec<String>,
}

/// How the engine sees this machine. Tests inject their own (fake HOME, recording runner).
#[derive(Clone)]
pub struct Engine {
    pub env: Environment,
}

impl Engine {
    /// The real machine; supervisors run the `headroom` CLI shim (the app binary answers to that
    /// name), never the app binary under its own name (which would open the window).
    pub fn for_app(env: &Env) -> Engine {
        let mut e = Environment::from_process(&CANCEL);
        e.home = env.home.clone();
        e.workspace_dir = env.workspace.clone();
        // `HEADROOM_PORT`-style overrides aside, the engine reads the same process
        // environment the tools do (`CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `XDG_CONFIG_HOME`, PATH).
        e.headroom_exe = crate::cli_shim::link_path(&env.home);
        Engine { env: e }
    }

    pub fn parse_preset(s: &str) -> Result<Preset, String> {
        s.parse::<Preset>().map_err(|e| e.to_string())
    }

    pub fn plan(
        &self,
        preset: Preset,
        port: u16,
        scope: Scope,
        targets: &[Tool],
    ) -> Result<Plan, String> {
        let req = Request {
            profile: PROFILE.into(),
            preset: Some(preset),
            runtime: None,
            scope,
            providers: ProviderMode::Manual,
            targets: targets.to_vec(),
            port,
            image: None,
            // The app hands these tools over (unwiring its own edits) before applying.
            take_over: Some(WIRING_OWNER.into()),
            // A Python Headroom deployment is named by the plan's error; the app leaves it be.
            take_over_python: false,
        };
        headroom_install::plan(&self.env, &req).map_err(message)
    }

    pub fn apply(&self, plan: &Plan) -> Result<(), String> {
        headroom_install::apply(&self.env, plan)
            .map(|_| ())
            .map_err(message)
    }

    pub fn list(&self) -> Vec<Deployment> {
        headroom_install::list_profiles(&self.env)
            .into_iter()
            .filter_map(|p| headroom_install::status(&self.env, &p).ok())
            .map(|status| {
                let log = self.env.profile_dir(&status.profile).join("runner.log");
                let log_tail = std::fs::read_to_string(log)
                    .map(|t| {
                        t.lines()
                            .rev()
                            .take(20)
                            .map(str::to_owned)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect()
                    })
                    .unwrap_or_default();
                Deployment { status, log_tail }
            })
            .collect()
    }

    /// The installed deployment serving `port`, if any.
    pub fn on_port(&self, port: u16) -> Option<headroom_install::Status> {
        self.list()
            .into_iter()
            .map(|d| d.status)
            .find(|s| s.port == port)
    }

    pub fn control(&self, profile: &str, action: &str) -> Result<(), String> {
        match action {
            "start" => headroom_install::start(&self.env, profile).map_err(message),
            "stop" => headroom_install::stop(&self.env, profile).map_err(message),
            "restart" => headroom_install::restart(&self.env, profile).map_err(message),
            "remove" => headroom_install::remove(&self.env, profile)
                .map(|_| ())
                .map_err(message),
            other => Err(format!("unknown action `{other}`")),
        }
    }

    /// Can `preset` work on this machine? `None` when it can, else why not in plain words, so
    /// the Runtime page offers only installs that can succeed (no service where there is no
    /// systemd, no Docker without a `docker` command; a task works everywhere: systemd timer,
    /// cron, or a shell hook where there is neither).
    pub fn unavailable(&self, preset: Preset) -> Option<String> {
        if let Err(e) = headroom_install::plan::supervisor_for(&self.env, preset, Scope::User) {
            return Some(e.message);
        }
        match preset {
            Preset::Docker if self.env.find_binary(&self.env.docker).is_none() => Some(format!(
                "needs Docker: `{}` is not on PATH",
                self.env.docker
            )),
            _ => None,
        }
    }

    pub fn shim_path(&self) -> PathBuf {
        self.env.headroom_exe.clone()
    }
}

fn message(e: headroom_install::Error) -> String {
    match &e.hint {
        Some(h) => format!("{} (hint: {h})", e.message),
        None => e.message.clone(),
    }
}
