//! `wrap openclaw` / `unwrap openclaw`: OpenClaw is the one tool a per-run environment cannot
//! route. Its model providers take their URL from `openclaw.json` only (it reads no
//! `ANTHROPIC_BASE_URL`/`OPENAI_BASE_URL`), so `wrap` makes the install engine's provider-scope
//! edit (`models.providers.{anthropic,openai}.baseUrl` and `.api`) for the session.
//!
//! The edit is the engine's own, made as the wiring owner `wrap-openclaw`
//! (`<workspace>/wiring/wrap-openclaw.json`): the same records as a deployment, so undoing it
//! restores the file byte for byte when nothing else changed it, and otherwise takes out only
//! Headroom's keys. `wrap` runs OpenClaw as a child rather than exec'ing it, and when the last
//! `wrap openclaw` session ends (each holds a lease in `<workspace>/wrap/openclaw/leases/`) it
//! undoes the edit. If `wrap` dies before it can (SIGKILL, a crash), `headroom unwrap
//! openclaw` undoes it, and so does the next `wrap openclaw` before it reads the config.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::Result;
use headroom_install::targets::Tool;
use headroom_install::wiring::{self, Wiring};
use headroom_install::{Environment, Scope};

use super::lease::{PortLock, PortState, ProcessId};
use crate::diagnostics::user_error;

/// The wiring owner whose records hold `wrap openclaw`'s edit.
pub const OWNER: &str = "wrap-openclaw";

static NEVER: AtomicBool = AtomicBool::new(false);

/// The engine's view of this machine (HOME, `OPENCLAW_CONFIG_PATH`, the workspace, …).
pub fn environment() -> Environment {
    Environment::from_process(&NEVER)
}

/// The per-tool state directory `<workspace>/wrap/openclaw/` (a lock and one lease per live
/// session), shaped like a port's so the same lease code serves it.
fn sessions(env: &Environment) -> PortState {
    PortState::named(&env.workspace_dir, "openclaw")
}

fn engine_error(e: headroom_install::Error) -> anyhow::Error {
    user_error(e.message, e.hint.as_deref())
}

/// The config file `wrap` edits.
pub fn config_path(env: &Environment) -> PathBuf {
    headroom_install::plan::openclaw_config(env)
}

/// Undo an edit a `wrap openclaw` left behind when no session holds it any more (the session
/// was killed). Returns whether there was one. Run before the config is read for gateways.
pub fn recover(env: &Environment) -> Result<bool> {
    let state = sessions(env);
    let _lock = state.lock()?;
    if state.live_leases() > 0 {
        return Ok(false);
    }
    unwire_locked(env)
}

/// Undo the edit (under the sessions lock). Returns whether anything was wired.
fn unwire_locked(env: &Environment) -> Result<bool> {
    let current = Wiring::load(env, OWNER).map_err(engine_error)?;
    if current.mutations.is_empty() && !current.active {
        return Ok(false);
    }
    let plan = wiring::plan(env, OWNER, &current, &BTreeMap::new(), false, current.port)
        .map_err(engine_error)?;
    wiring::apply(env, &plan).map_err(engine_error)?;
    let _ = std::fs::remove_file(Wiring::path(env, OWNER));
    Ok(true)
}

/// Check, changing nothing, that the edit can be made (the config parses, is writable, no
/// other owner holds it), so a bad config fails before a proxy is started.
pub fn preflight(env: &Environment, port: u16) -> Result<()> {
    let current = Wiring::load(env, OWNER).map_err(engine_error)?;
    if current.active {
        return Ok(());
    }
    if let Err(why) = wiring::support(env, Tool::Openclaw, Scope::Provider) {
        if why.contains("installed deployment") {
            return Ok(());
        }
        return Err(user_error(
            format!("cannot route OpenClaw for this session: {why}"),
            None,
        ));
    }
    let desired = BTreeMap::from([(Tool::Openclaw, Scope::Provider)]);
    wiring::plan(env, OWNER, &current, &desired, true, port).map_err(engine_error)?;
    Ok(())
}

/// A session's hold on the edit; [`Session::end`] undoes it when no other session holds it.
pub struct Session {
    lease: PathBuf,
}

/// What `wire` did.
pub enum Wired {
    /// This session's edit (or a live session's, on the same port).
    Session(Session),
    /// An install deployment already routes OpenClaw; its edit is left as it is.
    ByDeployment(String),
}

/// Point OpenClaw's providers at the proxy on `port` for this session.
pub fn wire(env: &Environment, port: u16) -> Result<Wired> {
    let state = sessions(env);
    let _lock: PortLock = state.lock()?;
    let current = Wiring::load(env, OWNER).map_err(engine_error)?;
    let live = state.live_leases();
    if live > 0 && current.active && current.port != port {
        return Err(user_error(
            format!(
                "another `headroom wrap openclaw` session routes OpenClaw to port {} (OpenClaw has one config, so all its sessions share one proxy)",
                current.port
            ),
            Some(&format!(
                "end that session, or run this one on its port: `headroom wrap --port {} openclaw`",
                current.port
            )),
        ));
    }
    if !(current.active && current.port == port) {
        if let Err(why) = wiring::support(env, Tool::Openclaw, Scope::Provider) {
            if why.contains("installed deployment") {
                return Ok(Wired::ByDeployment(why));
            }
            return Err(user_error(
                format!("cannot route OpenClaw for this session: {why}"),
                None,
            ));
        }
        let desired = BTreeMap::from([(Tool::Openclaw, Scope::Provider)]);
        let plan =
            wiring::plan(env, OWNER, &current, &desired, true, port).map_err(engine_error)?;
        wiring::apply(env, &plan).map_err(engine_error)?;
    }
    let lease = state.write_lease("openclaw", vec![ProcessId::current()])?;
    Ok(Wired::Session(Session { lease }))
}

impl Session {
    /// Drop this session's lease; the last session out undoes the edit. Returns whether it did.
    pub fn end(self, env: &Environment) -> Result<bool> {
        let state = sessions(env);
        let _lock = state.lock()?;
        let _ = std::fs::remove_file(&self.lease);
        if state.live_leases() > 0 {
            return Ok(false);
        }
        unwire_locked(env)
    }
}

/// `headroom unwrap openclaw`: undo `wrap`'s edit whatever holds it (sessions still running
/// lose their routing; they are named). Returns whether there was an edit, and the live
/// sessions' pids.
pub fn unwrap(env: &Environment) -> Result<(bool, Vec<u32>)> {
    let state = sessions(env);
    let _lock = state.lock()?;
    let live = state.live_pids();
    let undone = unwire_locked(env)?;
    Ok((undone, live))
}
