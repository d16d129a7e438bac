//! "Find or start" a proxy on the requested port, in the contract's order (§6):
//! a healthy Headroom is reused; an installed but stopped deployment on that port is started
//! through its supervisor (`headroom install start`); otherwise an ephemeral proxy is started.
//! A port held by anything that is not Headroom is an error, never reused.
//!
//! All of it runs under the per-port lock so two `wrap`s never start two proxies, and an
//! ephemeral proxy deciding to exit (it takes the same lock) never races a `wrap` that is about
//! to lease it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::lease::{open_private, PortState, ProcessId};
use super::probe::{probe, Health, Probe, Proof};
use super::Runtime;
use crate::diagnostics::user_error;

/// How long one `/health` probe may take. Loopback answers in well under a millisecond; the
/// bound only matters for a wedged listener.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the proxy a tool will use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A Headroom that was already serving: a deployment (its profile), the desktop app or a
    /// plain `headroom proxy`.
    Existing { deployment: Option<String> },
    /// An ephemeral proxy another `wrap` started; we hold a lease on it.
    SharedEphemeral,
    /// A stopped deployment we started through its supervisor.
    Recovered { profile: String },
    /// A new ephemeral proxy; we hold a lease on it.
    Ephemeral,
}

impl Source {
    pub fn describe(&self, port: u16) -> String {
        let url = format!("http://127.0.0.1:{port}");
        match self {
            Source::Existing {
                deployment: Some(p),
            } => format!("using Headroom deployment '{p}' on {url}"),
            Source::Existing { deployment: None } => format!("using the Headroom proxy on {url}"),
            Source::SharedEphemeral => format!("sharing the wrap proxy on {url}"),
            Source::Recovered { profile } => {
                format!("started deployment '{profile}'; using it on {url}")
            }
            Source::Ephemeral => format!("started a proxy for this session on {url}"),
        }
    }

    /// True when this run holds a lease that keeps an ephemeral proxy alive.
    pub fn holds_lease(&self) -> bool {
        matches!(self, Source::SharedEphemeral | Source::Ephemeral)
    }
}

/// An installed deployment, as much of its manifest as `wrap` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub profile: String,
    pub port: u16,
    pub targets: Vec<String>,
    pub manifest: PathBuf,
    /// Its proxy cannot leave an instance key this user can read: it runs in a container or
    /// system-wide (as another user).
    pub keyless: bool,
    /// The user stopped it (`headroom install stop` leaves a `paused` flag beside the manifest).
    pub paused: bool,
}

/// Every loadable manifest under `<workspace>/deploy/*/manifest.json`, `default` first, then by
/// name. Unreadable manifests are skipped: `wrap` must not fail because of an unrelated profile.
pub fn deployments(workspace: &Path) -> Vec<Deployment> {
    let Ok(entries) = std::fs::read_dir(workspace.join("deploy")) else {
        return Vec::new();
    };
    let mut out: Vec<Deployment> = entries
        .flatten()
        .filter_map(|entry| {
            let manifest = entry.path().join("manifest.json");
            let value: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&manifest).ok()?).ok()?;
            let profile = value
                .get("profile")
                .and_then(|p| p.as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| entry.file_name().to_string_lossy().into_owned());
            let port = u16::try_from(value.get("port")?.as_u64()?).ok()?;
            let targets = value
                .get("targets")
                .and_then(|t| t.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let keyless = value.get("runtime_kind").and_then(|v| v.as_str()) == Some("docker")
                || value.get("scope").and_then(|v| v.as_str()) == Some("system");
            let paused = entry.path().join("paused").exists();
            Some(Deployment {
                profile,
                port,
                targets,
                manifest,
                keyless,
                paused,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.profile != "default", &a.profile).cmp(&(b.profile != "default", &b.profile))
    });
    out
}

/// Seconds to wait for a proxy we started (`HEADROOM_WRAP_PROXY_TIMEOUT`, default 45).
fn start_timeout() -> Result<Duration> {
    match std::env::var("HEADROOM_WRAP_PROXY_TIMEOUT") {
        Err(_) => Ok(Duration::from_secs(45)),
        Ok(v) => match v.trim().parse::<f64>() {
            Ok(s) if s > 0.0 && s.is_finite() => Ok(Duration::from_secs_f64(s)),
            _ => Err(user_error(
                format!(
                    "HEADROOM_WRAP_PROXY_TIMEOUT must be a positive number of seconds, not `{v}`"
                ),
                Some("unset it to use the default of 45 seconds"),
            )),
        },
    }
}

/// The whole decision, under the port lock. `holder` is the process the lease names (this
/// process: on Unix it becomes the tool by exec).
pub fn ensure_proxy(
    workspace: &Path,
    port: u16,
    runtime: Runtime,
    label: &str,
    holder: ProcessId,
    wanted: &[Upstream],
    start_stopped: bool,
) -> Result<Source> {
    let state = PortState::new(workspace, port);
    let _lock = state.lock()?;
    match probe(port, PROBE_TIMEOUT) {
        Probe::Headroom(health) => {
            trusted(workspace, port, &health)?;
            if let Some(why) = mismatch(&health, wanted) {
                return Err(user_error(
                    format!("the Headroom proxy on port {port} {why}"),
                    Some(&format!(
                        "leave out --port (and HEADROOM_PORT) so this session gets its own proxy, or point that proxy at the same upstream (`{}`)",
                        wanted.iter().map(|u| u.var).collect::<Vec<_>>().join("`, `")
                    )),
                ));
            }
            return reuse(&state, port, label, holder, health);
        }
        Probe::Foreign(what) => return Err(foreign(port, &what)),
        Probe::Unresponsive(what) => {
            // A deployment's proxy that hangs (stopped with SIGSTOP, wedged) is healed through
            // its supervisor; anything else that hangs is not ours to touch.
            let Some(deployment) = deployments(workspace).into_iter().find(|d| d.port == port)
            else {
                return Err(foreign(port, &what));
            };
            eprintln!(
                "headroom: deployment '{}' on port {port} does not answer ({what}); restarting it through its supervisor...",
                deployment.profile
            );
            return match recover(&deployment, port, "restart")? {
                Probe::Headroom(health) => {
                    trusted(workspace, port, &health)?;
                    Ok(Source::Recovered {
                        profile: deployment.profile,
                    })
                }
                Probe::Foreign(what) | Probe::Unresponsive(what) => Err(user_error(
                    format!(
                        "deployment '{}' on port {port} still does not answer after a restart: {what}",
                        deployment.profile
                    ),
                    Some(&format!(
                        "see `headroom install status --profile {}`; or use another port: `headroom wrap --port {} <tool>`",
                        deployment.profile,
                        port.saturating_add(1)
                    )),
                )),
                Probe::Free => Err(user_error(
                    format!(
                        "deployment '{}' on port {port} did not come back after a restart",
                        deployment.profile
                    ),
                    Some(&format!(
                        "see `headroom install status --profile {}`",
                        deployment.profile
                    )),
                )),
            };
        }
        Probe::Free => {}
    }
    if let Some(deployment) = deployments(workspace).into_iter().find(|d| d.port == port) {
        if deployment.paused && !start_stopped {
            eprintln!(
                "headroom: deployment '{}' on port {port} was stopped with `headroom install stop`; this session gets a proxy of its own (`--start` starts the deployment instead)",
                deployment.profile
            );
        } else {
            match recover(&deployment, port, "start")? {
                Probe::Headroom(health) => {
                    trusted(workspace, port, &health)?;
                    return Ok(Source::Recovered {
                        profile: deployment.profile,
                    });
                }
                Probe::Foreign(what) | Probe::Unresponsive(what) => {
                    return Err(foreign(port, &what))
                }
                Probe::Free => eprintln!(
                    "headroom: warning: deployment '{}' on port {port} did not start; starting a proxy for this session instead",
                    deployment.profile
                ),
            }
        }
    }
    state.write_lease(label, vec![holder])?;
    if let Err(err) = start_ephemeral(workspace, &state, port, runtime, wanted) {
        let _ = std::fs::remove_file(state.leases_dir().join(format!("{}.json", holder.pid)));
        return Err(err);
    }
    Ok(Source::Ephemeral)
}

/// May a tool's API key go to the Headroom answering on `port`? Only if it proved it holds the
/// secret of this port's instance key, or if no key can exist because the deployment on that
/// port runs in a container or system-wide. Anything else answering as Headroom could be a
/// program squatting the port to collect keys.
pub fn trusted(workspace: &Path, port: u16, health: &Health) -> Result<()> {
    let key = headroom_proxy::identity::key_path(workspace, port);
    match health.proof {
        Proof::Valid => Ok(()),
        Proof::Invalid => Err(user_error(
            format!(
                "the listener on port {port} answers as Headroom but cannot prove it is the proxy that registered the port in {}; wrap will not hand it your API key",
                key.display()
            ),
            Some(&format!(
                "another program may be posing as Headroom: find it with `ss -ltnp 'sport = :{port}'` (or `lsof -i :{port}`) and stop it, or use another port: `headroom wrap --port {} <tool>`",
                port.saturating_add(1)
            )),
        )),
        Proof::NoKey
            if deployments(workspace)
                .iter()
                .any(|d| d.port == port && d.keyless) =>
        {
            Ok(())
        }
        Proof::NoKey => Err(user_error(
            format!(
                "the Headroom on port {port} cannot prove it is yours (there is no live instance key at {}); wrap will not hand it your API key",
                key.display()
            ),
            Some(&format!(
                "an older Headroom does not write one: restart it (`headroom install restart` for a deployment, or stop it and run `headroom proxy` again); a proxy started with another HEADROOM_WORKSPACE_DIR needs the same one here; or use another port: `headroom wrap --port {} <tool>`",
                port.saturating_add(1)
            )),
        )),
    }
}

fn reuse(
    state: &PortState,
    port: u16,
    label: &str,
    holder: ProcessId,
    health: Health,
) -> Result<Source> {
    if !health.ready {
        // A deployment that is still starting: give it a moment rather than failing the tool.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Probe::Headroom(Health { ready: true, .. }) = probe(port, PROBE_TIMEOUT) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    if state.live_record().is_some_and(|r| r.port == port) && health.deployment.is_none() {
        state.write_lease(label, vec![holder])?;
        return Ok(Source::SharedEphemeral);
    }
    Ok(Source::Existing {
        deployment: health.deployment,
    })
}

fn foreign(port: u16, what: &str) -> anyhow::Error {
    let next = port.checked_add(1).unwrap_or(port - 1);
    user_error(
        format!("port {port} on 127.0.0.1 is in use by something that is not Headroom ({what})"),
        Some(&format!(
            "stop whatever listens on port {port}, or use another port: `headroom wrap --port {next} <tool>`"
        )),
    )
}

/// Start (or restart) a deployment the way `headroom install start|restart` does (same binary,
/// same supervisor logic), then wait for it to answer. Never edits the deployment.
fn recover(deployment: &Deployment, port: u16, how: &str) -> Result<Probe> {
    if how == "start" {
        eprintln!(
            "headroom: starting deployment '{}' on port {port}...",
            deployment.profile
        );
    }
    let exe = std::env::current_exe().context("cannot locate the headroom executable")?;
    let output = Command::new(exe)
        .args(["install", how, "--profile", &deployment.profile])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `headroom install {how}`"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        eprintln!(
            "headroom: warning: `headroom install {how} --profile {}` failed: {}",
            deployment.profile,
            stderr.trim()
        );
    }
    let deadline = Instant::now() + start_timeout()?;
    loop {
        match probe(port, PROBE_TIMEOUT) {
            Probe::Headroom(h) if h.ready => return Ok(Probe::Headroom(h)),
            Probe::Foreign(what) => return Ok(Probe::Foreign(what)),
            Probe::Unresponsive(what) if Instant::now() >= deadline => {
                return Ok(Probe::Unresponsive(what))
            }
            other => {
                if Instant::now() >= deadline || (!output.status.success() && other == Probe::Free)
                {
                    return Ok(other);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Spawn the detached `headroom wrap-proxy` helper and wait until it says it is serving. The
/// helper reports readiness by writing one line to a pipe, so there is no polling and no
/// fixed sleep; if it dies first the pipe closes and we show the end of its log.
fn start_ephemeral(
    workspace: &Path,
    state: &PortState,
    port: u16,
    runtime: Runtime,
    wanted: &[Upstream],
) -> Result<()> {
    let exe = std::env::current_exe().context("cannot locate the headroom executable")?;
    // The helper runs from `/` so it never pins the user's working directory; give it an
    // absolute state root.
    let workspace = std::path::absolute(workspace)
        .with_context(|| format!("cannot resolve {}", workspace.display()))?;
    let log_path = state.log_path();
    let log = open_private(&log_path, true)
        .with_context(|| format!("cannot open the proxy log {}", log_path.display()))?;
    let mut command = Command::new(exe);
    command
        .args(["wrap-proxy", "--port", &port.to_string(), "--runtime"])
        .arg(runtime.as_str())
        .env("HEADROOM_WORKSPACE_DIR", &workspace)
        .current_dir(if cfg!(unix) {
            Path::new("/")
        } else {
            &workspace
        })
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    for upstream in wanted {
        command.env(upstream.var, &upstream.url);
    }
    #[cfg(windows)]
    {
        // The Windows counterpart of the helper's `setsid`: no console, own process group, so
        // Ctrl-C and closing the terminal that ran `wrap` do not stop the proxy other tools share.
        use std::os::windows::process::CommandExt;
        const DETACHED_PROCESS: u32 = 0x0000_0008;
        const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
        command.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP);
    }
    for var in [
        "HEADROOM_DEPLOYMENT_PROFILE",
        "HEADROOM_DEPLOYMENT_PRESET",
        "HEADROOM_DEPLOYMENT_RUNTIME",
        "HEADROOM_DEPLOYMENT_SUPERVISOR",
        "HEADROOM_DEPLOYMENT_SCOPE",
    ] {
        // An ephemeral proxy never claims to be a deployment.
        command.env_remove(var);
    }
    let mut child = command
        .spawn()
        .context("cannot start the ephemeral proxy")?;
    let stdout = child.stdout.take().context("no pipe to the proxy")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let timeout = start_timeout()?;
    let line = rx.recv_timeout(timeout).ok();
    if line.as_deref().map(str::trim) == Some("ready") {
        return Ok(());
    }
    let _ = child.kill();
    let _ = child.wait();
    let tail = log_tail(&log_path);
    if line.is_none() {
        return Err(user_error(
            format!(
                "the proxy did not start on port {port} within {} s{tail}",
                timeout.as_secs_f64()
            ),
            Some("set HEADROOM_WRAP_PROXY_TIMEOUT to a larger number of seconds for a slow start"),
        ));
    }
    let bind_failed = tail.contains("bind") || tail.contains("in use");
    Err(user_error(
        format!("the proxy could not start on port {port}{tail}"),
        Some(&if bind_failed {
            format!(
                "use another port: `headroom wrap --port {} <tool>`",
                port.saturating_add(1)
            )
        } else {
            format!("see the full log in {}", log_path.display())
        }),
    ))
}

/// An upstream a session proxy must forward to: the `*_TARGET_API_URL` variable and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub var: &'static str,
    pub url: String,
    /// Where the URL came from, for messages (`ANTHROPIC_BASE_URL`, a settings file, …).
    pub from: String,
}

/// Where this run's requests must end up. A user whose tools already talk to a gateway
/// (`ANTHROPIC_BASE_URL=https://llm.corp/...`, or Claude Code's settings) must keep reaching it
/// through the proxy: the gateway becomes the session proxy's upstream. An explicit
/// `*_TARGET_API_URL` wins; a base URL pointing at this very port is our own wiring.
/// `uses` is (Anthropic, OpenAI): only the providers the tool talks to matter.
pub fn wanted_upstreams(
    port: u16,
    uses: (bool, bool),
    current: &dyn Fn(&str) -> Option<String>,
    claude_gateway: Option<(&str, &Path)>,
) -> Vec<Upstream> {
    let ours = [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    let nonempty = |k: &str| {
        current(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    [
        (uses.0, "ANTHROPIC_BASE_URL", "ANTHROPIC_TARGET_API_URL"),
        (uses.1, "OPENAI_BASE_URL", "OPENAI_TARGET_API_URL"),
    ]
    .into_iter()
    .filter(|(used, _, _)| *used)
    .filter_map(|(_, base, var)| {
        if let Some(url) = nonempty(var) {
            return Some(Upstream {
                var,
                url,
                from: var.to_owned(),
            });
        }
        let (url, from) = match claude_gateway.filter(|_| var == "ANTHROPIC_TARGET_API_URL") {
            Some((url, file)) => (url.trim().to_owned(), file.display().to_string()),
            None => (nonempty(base)?, base.to_owned()),
        };
        let pointless = url.is_empty() || ours.iter().any(|o| url.contains(o.as_str()));
        (!pointless).then_some(Upstream { var, url, from })
    })
    .collect()
}

/// Why a running Headroom cannot serve this run: it forwards one of `wanted`'s providers
/// somewhere else. `None` when it matches, or when it does not publish its upstreams.
pub fn mismatch(health: &Health, wanted: &[Upstream]) -> Option<String> {
    let published = health.upstreams.as_ref()?;
    let normal = |url: &str| {
        let url = url.trim().trim_end_matches('/');
        headroom_protocol::redact_url(url.strip_suffix("/v1").unwrap_or(url))
    };
    wanted.iter().find_map(|u| {
        let (provider, theirs) = if u.var.starts_with("ANTHROPIC") {
            ("Anthropic", &published.anthropic)
        } else {
            ("OpenAI", &published.openai)
        };
        (normal(theirs) != normal(&u.url)).then(|| {
            format!(
                "forwards {provider} requests to {}, but this run must reach {} (from {})",
                normal(theirs),
                normal(&u.url),
                u.from
            )
        })
    })
}

fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let start = text
        .char_indices()
        .rev()
        .nth(599)
        .map(|(i, _)| i)
        .unwrap_or(0);
    format!(": {}", &text[start..])
}

/// `--no-proxy`: use whatever is there, and say so when nothing is.
pub fn check_no_proxy(port: u16) -> Option<String> {
    match probe(port, PROBE_TIMEOUT) {
        Probe::Headroom(h) if h.proof == Proof::Invalid => Some(format!(
            "the listener on port {port} answers as Headroom but cannot prove it is the proxy that registered the port; your tool will send it your API key"
        )),
        Probe::Headroom(_) => None,
        Probe::Free => Some(format!("no proxy detected on port {port}")),
        Probe::Foreign(what) | Probe::Unresponsive(what) => Some(format!(
            "the listener on port {port} is not Headroom ({what})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_own_base_url_becomes_the_session_proxys_upstream() {
        let env = |k: &str| match k {
            "ANTHROPIC_BASE_URL" => Some("https://llm.corp.example/anthropic".to_owned()),
            "OPENAI_BASE_URL" => Some("http://127.0.0.1:8787/v1".to_owned()),
            _ => None,
        };
        let vars = |w: Vec<Upstream>| -> Vec<(&str, String)> {
            w.into_iter().map(|u| (u.var, u.url)).collect()
        };
        assert_eq!(
            vars(wanted_upstreams(8787, (true, true), &env, None)),
            [(
                "ANTHROPIC_TARGET_API_URL",
                "https://llm.corp.example/anthropic".to_owned()
            )]
        );
        // Only the providers the tool talks to.
        assert!(wanted_upstreams(8787, (false, true), &env, None).is_empty());
        let explicit = |k: &str| match k {
            "ANTHROPIC_TARGET_API_URL" => Some("https://other".to_owned()),
            other => env(other),
        };
        assert_eq!(
            vars(wanted_upstreams(8787, (true, false), &explicit, None)),
            [("ANTHROPIC_TARGET_API_URL", "https://other".to_owned())]
        );
        // Pointing at another port is someone else's gateway, not us.
        assert_eq!(wanted_upstreams(9000, (true, true), &env, None).len(), 2);
        // Claude Code's settings beat its environment.
        let file = Path::new("/home/u/.claude/settings.json");
        let w = wanted_upstreams(
            8787,
            (true, false),
            &env,
            Some(("https://gw.example", file)),
        );
        assert_eq!(w[0].url, "https://gw.example");
        assert_eq!(w[0].from, "/home/u/.claude/settings.json");
    }

    #[test]
    fn a_proxy_forwarding_elsewhere_is_a_mismatch() {
        let health = |anthropic: &str| Health {
            proof: Proof::Valid,
            ready: true,
            version: None,
            deployment: None,
            upstreams: Some(headroom_protocol::Upstreams {
                anthropic: anthropic.to_owned(),
                openai: "https://api.openai.com".to_owned(),
                chatgpt: String::new(),
            }),
        };
        let want = |url: &str| {
            vec![Upstream {
                var: "ANTHROPIC_TARGET_API_URL",
                url: url.to_owned(),
                from: "ANTHROPIC_BASE_URL".to_owned(),
            }]
        };
        assert!(mismatch(
            &health("https://api.anthropic.com"),
            &want("https://api.anthropic.com/")
        )
        .is_none());
        assert!(mismatch(
            &health("https://***@gw.example"),
            &want("https://u:p@gw.example/v1")
        )
        .is_none());
        let why = mismatch(
            &health("https://api.anthropic.com"),
            &want("https://gw.example"),
        )
        .unwrap();
        assert!(why.contains("https://gw.example"), "{why}");
        assert!(mismatch(&health("x"), &[]).is_none());
        let unpublished = Health {
            upstreams: None,
            ..health("x")
        };
        assert!(mismatch(&unpublished, &want("https://gw.example")).is_none());
    }

    #[test]
    fn deployments_sort_default_first_and_skip_broken_manifests() {
        let tmp = tempfile::tempdir().unwrap();
        for (name, body) in [
            (
                "zeta",
                r#"{"profile":"zeta","port":8787,"targets":["codex"]}"#,
            ),
            (
                "default",
                r#"{"profile":"default","port":8787,"targets":["claude","codex"]}"#,
            ),
            ("alpha", r#"{"profile":"alpha","port":9000}"#),
            ("broken", "{not json"),
        ] {
            let dir = tmp.path().join("deploy").join(name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("manifest.json"), body).unwrap();
        }
        let found = deployments(tmp.path());
        let names: Vec<_> = found.iter().map(|d| d.profile.as_str()).collect();
        assert_eq!(names, ["default", "alpha", "zeta"]);
        assert_eq!(found[0].targets, ["claude", "codex"]);
        assert_eq!(found[1].port, 9000);
    }
}
