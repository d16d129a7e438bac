//! What supervisors run. `agent run` keeps one proxy child alive (restart with backoff, pid
//! files, a rotated log) and is the only process that owns it; `agent ensure` is the watchdog
//! the schedulers call: probe, take the profile lock, (re)start when not ready, exit.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::engine::{self, ProfileLock};
use crate::env::Environment;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{self, Manifest, Preset, RuntimeKind};
use crate::plan;
use crate::supervisor;

/// Rotate `runner.log` past this size (one previous generation is kept as `runner.log.1`).
pub const LOG_ROTATE_BYTES: u64 = 5 * 1024 * 1024;
const BACKOFF_MAX: Duration = Duration::from_secs(30);
const HEALTHY_RESET: Duration = Duration::from_secs(60);

fn load(env: &Environment, profile: &str) -> Result<Manifest> {
    model::validate_profile(profile)?;
    model::load(&env.manifest_path(profile), profile)?.ok_or_else(|| {
        Error::new(
            ErrorKind::NotInstalled,
            format!("no deployment profile named `{profile}` is installed"),
            None,
        )
    })
}

fn rotate(log: &Path) {
    if std::fs::metadata(log)
        .map(|m| m.len() > LOG_ROTATE_BYTES)
        .unwrap_or(false)
    {
        let _ = std::fs::rename(log, log.with_extension("log.1"));
    }
}

fn open_log(log: &Path) -> Result<std::fs::File> {
    rotate(log);
    crate::fsx::open_private_append(log).map_err(|e| Error::io("open the log", log, &e))
}

fn log_line(log: &Path, msg: &str) {
    if let Ok(mut f) = open_log(log) {
        let _ = writeln!(f, "{} headroom-agent: {msg}", model::now_iso());
    }
}

struct PidFile(PathBuf);

impl PidFile {
    fn write(path: PathBuf, pid: u32) -> Self {
        let _ = crate::fsx::write_atomic(&path, format!("{pid}\n").as_bytes(), Some(0o600));
        PidFile(path)
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn spawn_proxy(env: &Environment, m: &Manifest, log: &Path) -> Result<Child> {
    let out = open_log(log)?;
    let err = out
        .try_clone()
        .map_err(|e| Error::io("open the log", log, &e))?;
    if m.runtime_kind == RuntimeKind::Docker {
        // The docker runtime under a service or task preset: the container in the foreground.
        let spec = plan::spec_for(env, m);
        plan::check_docker(env)?;
        // A container left by an agent that was killed would hold the name.
        let _ = env.runner.run(&crate::runner::Cmd::new(
            spec.docker.clone(),
            ["rm", "-f", &supervisor::Docker::container(&spec)],
        ));
        let mut cmd = Command::new(&spec.docker);
        cmd.args(supervisor::Docker::foreground_args(&spec))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        return cmd.spawn().map_err(|e| {
            Error::user(
                format!("cannot start the container with `{}`: {e}", spec.docker),
                Some("check the Docker installation, or set HEADROOM_DOCKER"),
            )
        });
    }
    let mut cmd = Command::new(&env.headroom_exe);
    cmd.arg("proxy")
        .args(&m.proxy_args)
        .envs(m.base_env.iter())
        .envs(plan::deployment_env(m))
        .env("HEADROOM_WORKSPACE_DIR", &env.workspace_dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    cmd.spawn().map_err(|e| {
        Error::user(
            format!("cannot start `{} proxy`: {e}", env.headroom_exe.display()),
            None,
        )
    })
}

fn stop_child(child: &mut Child) -> Option<i32> {
    crate::sys::terminate(child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            return child.wait().ok().and_then(|s| s.code());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `headroom install agent run`: supervise the proxy until `stop` is set (SIGTERM/SIGINT).
/// Returns the exit code for the agent process (0 after a requested stop).
pub fn run(env: &Environment, profile: &str, stop: &AtomicBool) -> Result<i32> {
    let m = load(env, profile)?;
    if m.preset == Preset::Docker {
        return Err(Error::user(
            format!(
                "profile `{profile}` is a persistent-docker deployment: Docker's restart policy supervises it, not `agent run`"
            ),
            Some("use `headroom install start`"),
        ));
    }
    let dir = env.profile_dir(profile);
    let log = dir.join("runner.log");
    if let Some(pid) = engine::live_pid(env, profile, "agent") {
        if pid != std::process::id() {
            log_line(
                &log,
                &format!("another agent (pid {pid}) already runs this profile; exiting"),
            );
            return Ok(0);
        }
    }
    let _agent_pid = PidFile::write(dir.join("agent.pid"), std::process::id());
    let mut backoff = Duration::from_secs(1);
    log_line(
        &log,
        &format!("starting (profile {profile}, port {})", m.port),
    );
    while !stop.load(Ordering::SeqCst) {
        if crate::health::port_owner(m.port, profile) == crate::health::PortOwner::Ours {
            // An orphaned proxy of this profile still serves (its agent was killed): let it
            // serve, and take over when it goes away instead of crash-looping on the bind.
            if sleep_or_stop(stop, Duration::from_secs(5)) {
                break;
            }
            continue;
        }
        if let Err(e) = engine::check_port(&m) {
            log_line(
                &log,
                &format!("error: {}; retrying in {} s", e.message, backoff.as_secs()),
            );
            if sleep_or_stop(stop, backoff) {
                break;
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
            continue;
        }
        let mut child = match spawn_proxy(env, &m, &log) {
            Ok(c) => c,
            Err(e) => {
                log_line(&log, &format!("error: {}", e.message));
                if sleep_or_stop(stop, backoff) {
                    break;
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        let started = Instant::now();
        let _proxy_pid = PidFile::write(dir.join("proxy.pid"), child.id());
        let status = loop {
            if stop.load(Ordering::SeqCst) {
                let code = stop_child(&mut child);
                log_line(&log, &format!("stopped on request (proxy exit {code:?})"));
                return Ok(0);
            }
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => {
                    log_line(&log, &format!("error: waiting for the proxy: {e}"));
                    break child.wait().unwrap_or_default();
                }
            }
        };
        if started.elapsed() >= HEALTHY_RESET {
            backoff = Duration::from_secs(1);
        }
        log_line(
            &log,
            &format!(
                "error: proxy exited ({status}); restarting in {} s",
                backoff.as_secs()
            ),
        );
        if sleep_or_stop(stop, backoff) {
            break;
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
    Ok(0)
}

fn sleep_or_stop(stop: &AtomicBool, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    while Instant::now() < deadline {
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.load(Ordering::SeqCst)
}

/// What `agent ensure` found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    AlreadyReady,
    Paused,
    /// Another command holds the profile lock (an apply, or another watchdog).
    Busy,
    /// The runtime was alive and became ready within the grace period.
    Recovered,
    Started,
}

/// `headroom install agent ensure`: make the deployment ready if it is not.
pub fn ensure(env: &Environment, profile: &str) -> Result<Ensured> {
    let m = load(env, profile)?;
    if engine::is_paused(env, profile) {
        return Ok(Ensured::Paused);
    }
    if crate::health::is_ready(m.port) {
        return Ok(Ensured::AlreadyReady);
    }
    let Some(_lock) = ProfileLock::acquire(env, profile, None)? else {
        return Ok(Ensured::Busy);
    };
    if crate::health::is_ready(m.port) {
        return Ok(Ensured::AlreadyReady);
    }
    let spec = plan::spec_for(env, &m);
    let log = env.profile_dir(profile).join("runner.log");
    let alive = m.preset != Preset::Docker && engine::live_pid(env, profile, "agent").is_some();
    if alive {
        // A cold start may still be under way: give it a grace period before calling it wedged.
        let deadline = Instant::now()
            + Duration::from_secs(15).min(env.ready_timeout.max(Duration::from_secs(1)));
        while Instant::now() < deadline {
            if crate::health::is_ready(m.port) {
                return Ok(Ensured::Recovered);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        log_line(&log, "watchdog: agent alive but not ready; restarting it");
        let _ = engine::stop_runtime(env, &m, &spec);
    } else {
        log_line(&log, "watchdog: not ready; starting");
    }
    if m.preset == Preset::Task || m.runtime_kind == RuntimeKind::Docker {
        engine::start_runtime(env, &m, &spec)?;
    } else {
        // Service preset: the OS supervisor owns the agent; ask it to (re)start.
        let sup = plan::supervisor_for(env, m.preset, m.scope)?;
        for op in sup.restart(&spec) {
            engine::run_op(env, &op)?;
        }
    }
    engine::wait_ready(env, &m)?;
    Ok(Ensured::Started)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_rotates_past_the_limit_keeping_one_generation() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("runner.log");
        std::fs::write(&log, vec![b'x'; LOG_ROTATE_BYTES as usize + 1]).unwrap();
        log_line(&log, "after rotation");
        let old = dir.path().join("runner.log.1");
        assert_eq!(std::fs::metadata(&old).unwrap().len(), LOG_ROTATE_BYTES + 1);
        let fresh = std::fs::read_to_string(&log).unwrap();
        assert!(
            fresh.ends_with("headroom-agent: after rotation\n"),
            "{fresh}"
        );
        log_line(&log, "small logs are appended");
        assert!(std::fs::read_to_string(&log)
            .unwrap()
            .contains("after rotation"));
    }
}
