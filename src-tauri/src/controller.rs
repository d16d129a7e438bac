//! The app's brain, free of any window: hosts or attaches to the proxy, runs the watchdog,
//! keeps tool wiring in line with reality, and reports status through a [`Sink`].
//!
//! Tauri commands and tray items are thin calls into [`Controller`]; tests drive it directly
//! over a fake `HOME` with a recording sink, no display needed.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use headroom_install::targets::Tool;
use serde::Serialize;
use serde_json::Value;

use crate::installed::{Deployment, Engine, WIRING_OWNER};
use crate::probe::{self, decide_start, Probe, StartDecision};
use crate::settings::{Env, Settings};
use crate::watchdog::{Action, Observation, Watchdog, DEFAULT_GRACE, DEFAULT_RESTART_EVERY};
use headroom_install::wiring::{self, Wiring, WiringPlan};
use headroom_install::Scope;

/// Days of savings history the Overview charts.
const HISTORY_DAYS: u16 = 7;
const PROBE_TIMEOUT: Duration = Duration::from_millis(800);
const LOG_LINES: usize = 200;
/// How long a replaced in-app server may keep serving streams that started before the swap.
const DRAIN_ON_SWAP: Duration = Duration::from_secs(600);

/// Where status and notifications go (the tray + window in the app, a recorder in tests).
pub trait Sink: Send + Sync {
    fn status(&self, status: &Status);
    fn notify(&self, summary: &str, body: &str);
}

/// How the app relates to the proxy on its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Nothing running (stopped by the user, or not started yet).
    None,
    /// The proxy runs inside the app.
    InApp,
    /// Another Headroom (an installed service, `headroom proxy`, ...) serves the port.
    Attached,
}

/// The tray-level state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrayState {
    Running,
    Paused,
    Stopped,
    Error,
}

/// Everything the UI and tray show, recomputed every tick.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub state: TrayState,
    pub summary: String,
    pub mode: Mode,
    pub port: u16,
    pub running: bool,
    pub expected_up: bool,
    pub routing: &'static str,
    pub upstreams: BTreeMap<&'static str, String>,
    pub uptime_seconds: Option<f64>,
    pub deployment: Option<Value>,
    pub checks: Option<Value>,
    pub version: Option<String>,
    /// Savings from the proxy's ledger (`/stats.savings`): today, the last 7 days and since
    /// Headroom was first used on this workspace, across restarts and every proxy sharing it.
    pub tokens_saved_total: u64,
    pub tokens_saved_today: u64,
    pub tokens_saved_week: u64,
    pub money_saved_today_usd: f64,
    pub money_saved_week_usd: f64,
    pub money_saved_total_usd: f64,
    /// Requests Headroom examined today (all proxies on the workspace).
    pub requests_today: u64,
    /// Requests this proxy served since it started.
    pub requests: u64,
    /// False when the proxy keeps no ledger: the totals then reset with it.
    pub savings_persistent: bool,
    /// One point per day, oldest first, for the Overview's chart.
    pub history: Vec<DayPoint>,
    pub error: Option<String>,
    pub autostart: bool,
    pub wizard_done: bool,
    pub wired_tools: BTreeMap<Tool, Scope>,
    /// There is a wiring change "Undo last change" can revert.
    pub can_undo: bool,
    /// `HEADROOM_PORT` chose the port for this run (Settings cannot change it until restart).
    pub port_from_env: bool,
    /// The user's home, so the UI can show `~/…` paths.
    pub home: String,
    pub log: Vec<String>,
}

/// The start of a message, cut at a word boundary, for one-line places like the tray.
fn first_words(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    match cut.rfind(' ') {
        Some(i) if i > max / 2 => format!("{}…", &cut[..i]),
        _ => format!("{cut}…"),
    }
}

/// An install preset and whether it can work here (the Runtime page and the wizard offer only
/// those that can).
#[derive(Debug, Clone, Serialize)]
pub struct InstallOption {
    pub preset: String,
    pub available: bool,
    pub reason: Option<String>,
}

/// One day of the savings chart.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DayPoint {
    pub date: String,
    pub tokens_saved: u64,
    pub cost_saved_usd: f64,
}

/// A wiring change waiting for the user's confirmation (the install engine's plan).
#[derive(Debug, Clone)]
struct Pending {
    plan: WiringPlan,
}

/// One file change as the UI shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeView {
    pub path: String,
    pub action: &'static str,
    pub diff: String,
}

/// A previewed plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    pub changes: Vec<ChangeView>,
    /// True when routing is off right now, so the change is recorded and written on resume.
    pub deferred: bool,
}

impl PlanView {
    fn of(plan: &WiringPlan, deferred: bool) -> PlanView {
        let files = plan.files.iter().map(|f| ChangeView {
            path: f.path.display().to_string(),
            action: match (&f.before, f.deleted) {
                (_, true) => "delete",
                (None, false) => "create",
                (Some(_), false) => "modify",
            },
            diff: f.unified_diff(),
        });
        let vars = plan.vars.iter().map(|v| ChangeView {
            path: format!("{} environment variable {}", v.scope, v.name),
            action: if v.value.is_some() { "set" } else { "unset" },
            diff: format!(
                "- {}\n+ {}\n",
                v.current.as_deref().unwrap_or("(unset)"),
                v.value.as_deref().unwrap_or("(unset)")
            ),
        });
        PlanView {
            changes: files.chain(vars).collect(),
            deferred,
        }
    }
}

/// A tool row for the Tools page.
#[derive(Debug, Clone, Serialize)]
pub struct ToolView {
    pub name: &'static str,
    pub display_name: &'static str,
    pub detected: bool,
    pub binary: Option<String>,
    pub config: Option<String>,
    pub config_exists: bool,
    /// Where the tool's config points it now, as far as it says (e.g. Claude's base URL).
    pub current: Option<String>,
    /// The scope the app routes it at.
    pub wired: Option<Scope>,
    pub scopes: Vec<ScopeView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScopeView {
    pub scope: Scope,
    pub supported: bool,
    pub reason: Option<String>,
}

/// What a confirmed install will do.
#[derive(Debug, Clone)]
struct PendingInstall {
    preset: headroom_install::Preset,
    scope: Scope,
    targets: Vec<Tool>,
}

/// A previewed install of a persistent deployment.
#[derive(Debug, Clone, Serialize)]
pub struct InstallPreview {
    pub diff: String,
    pub summary: Vec<String>,
}

/// Result of the wizard's verify step.
#[derive(Debug, Clone, Serialize)]
pub struct Verify {
    pub proxy_healthy: bool,
    pub request_ok: bool,
    pub request_detail: String,
    pub wiring_ok: bool,
    pub wiring_detail: String,
}

/// Errors the UI can branch on by `code`.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub code: &'static str,
    pub message: String,
}

impl CommandError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        CommandError {
            code,
            message: message.into(),
        }
    }
}

impl From<headroom_install::Error> for CommandError {
    fn from(e: headroom_install::Error) -> Self {
        let code = match e.kind {
            headroom_install::ErrorKind::Internal => "io",
            _ if e.message.contains("changed since the preview") => "stale",
            _ if e.message.starts_with("cannot route") => "unsupported",
            _ => "wiring",
        };
        let message = match &e.hint {
            Some(h) => format!("{} (hint: {h})", e.message),
            None => e.message,
        };
        CommandError { code, message }
    }
}

impl From<crate::settings::StateError> for CommandError {
    fn from(e: crate::settings::StateError) -> Self {
        CommandError::new("io", e.to_string())
    }
}

/// Hooks for effects tests must not have (real autostart entries, real services).
pub struct Options {
    pub grace: Duration,
    pub restart_every: Duration,
    /// Read/write real OS autostart (false in unit tests).
    pub os_autostart: bool,
    /// The install engine's view of the machine (`None`: the real one).
    pub engine: Option<Engine>,
}

impl Default for Options {
    fn default() -> Self {
        let secs = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<f64>().ok())
                .map(Duration::from_secs_f64)
        };
        Options {
            grace: secs("HEADROOM_DESKTOP_FAILOPEN_SECS").unwrap_or(DEFAULT_GRACE),
            restart_every: DEFAULT_RESTART_EVERY,
            os_autostart: true,
            engine: None,
        }
    }
}

struct Core {
    env: Env,
    settings: Settings,
    /// The tools the user routes through Headroom, as the install engine records them.
    wiring: Wiring,
    hosted: Option<headroom_proxy::ProxyHandle>,
    mode: Mode,
    expected_up: bool,
    routing_paused: bool,
    watchdog: Watchdog,
    last_probe: Probe,
    last_stats: Option<headroom_protocol::Stats>,
    last_history: Option<headroom_protocol::History>,
    error: Option<String>,
    pending: Option<Pending>,
    autostart: bool,
    log: VecDeque<String>,
    options: Options,
    engine: Engine,
    pending_install: Option<PendingInstall>,
    /// Replaced in-app servers still finishing their in-flight requests.
    draining: Vec<headroom_proxy::ProxyHandle>,
    /// An engine operation is under way: the watchdog must not grab the port meanwhile.
    engine_busy: bool,
    /// Quit (or a signal) has unwired the tools: no tick may wire them again or notify.
    shut_down: bool,
}

pub struct Controller {
    core: Mutex<Core>,
    rt: tokio::runtime::Runtime,
    sink: Arc<dyn Sink>,
}

fn clock() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

impl Core {
    fn log(&mut self, line: impl Into<String>) {
        if self.log.len() == LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(format!("{} {}", clock(), line.into()));
    }

    fn port(&self) -> u16 {
        self.env.port_override.unwrap_or(self.settings.port)
    }

    /// Take the app's edits out of the tools' configs (they talk to their providers directly);
    /// the choice is kept for when routing comes back.
    fn unwire(&mut self) -> Result<(), CommandError> {
        if !self.wiring.active {
            return Ok(());
        }
        let port = self.wiring.port;
        self.wiring =
            wiring::set_active(&self.engine.env, WIRING_OWNER, &self.wiring, false, port)?;
        Ok(())
    }

    /// The scope reported in `/health.deployment`.
    fn scope_label(&self) -> String {
        let scopes: std::collections::BTreeSet<Scope> =
            self.wiring.desired.values().copied().collect();
        match (scopes.len(), scopes.first()) {
            (1, Some(scope)) => scope.as_str().into(),
            (0, _) => "none".into(),
            _ => "mixed".into(),
        }
    }

    fn deployment(&self) -> headroom_proxy::Deployment {
        headroom_proxy::Deployment {
            // The same profile name the install engine uses, so `headroom install` and the app
            // agree that one deployment serves this port.
            profile: Some(crate::installed::PROFILE.into()),
            preset: Some("desktop".into()),
            runtime: Some("native".into()),
            supervisor: Some(if self.autostart { "autostart" } else { "none" }.into()),
            scope: Some(self.scope_label()),
        }
    }
}

impl Controller {
    pub fn new(
        env: Env,
        sink: Arc<dyn Sink>,
        options: Options,
    ) -> Result<Arc<Controller>, CommandError> {
        let settings = Settings::load(&env)?;
        let autostart = options.os_autostart && crate::autostart::is_enabled();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("headroom-proxy")
            .enable_all()
            .build()
            .map_err(|e| CommandError::new("io", format!("cannot start the proxy runtime: {e}")))?;
        let engine = options
            .engine
            .clone()
            .unwrap_or_else(|| Engine::for_app(&env));
        let wiring = Wiring::load(&engine.env, WIRING_OWNER)?;
        let core = Core {
            engine,
            pending_install: None,
            draining: Vec::new(),
            engine_busy: false,
            shut_down: false,
            watchdog: Watchdog::new(options.grace, options.restart_every),
            env,
            settings,
            routing_paused: false,
            wiring,
            hosted: None,
            mode: Mode::None,
            expected_up: false,
            last_probe: Probe::Free,
            last_stats: None,
            last_history: None,
            error: None,
            pending: None,
            autostart,
            log: VecDeque::new(),
            options,
        };
        Ok(Arc::new(Controller {
            core: Mutex::new(core),
            rt,
            sink,
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        // A panic while holding the lock must not brick the tray: keep using the data.
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn env(&self) -> Env {
        self.lock().env.clone()
    }

    /// First thing on launch: bring the proxy up (host or attach) and reconcile wiring.
    pub fn launch(&self) {
        {
            let mut c = self.lock();
            if c.shut_down {
                return;
            }
            c.log(format!(
                "Headroom desktop {} starting",
                env!("CARGO_PKG_VERSION")
            ));
            c.expected_up = true;
            self.bring_up(&mut c);
        }
        self.tick();
    }

    /// Host the proxy, or attach to a Headroom already on the port, or refuse.
    fn bring_up(&self, c: &mut Core) {
        let port = c.port();
        if let Some(h) = &c.hosted {
            if !h.is_stopped() && probe::probe(port, PROBE_TIMEOUT).healthy() {
                return;
            }
            let h = c.hosted.take();
            if let Some(h) = h {
                self.rt.block_on(h.shutdown(Duration::from_secs(1)));
            }
        }
        let found = probe::probe(port, PROBE_TIMEOUT);
        match decide_start(&found, port) {
            StartDecision::Attach => {
                if c.mode != Mode::Attached {
                    c.log(format!(
                        "Found a running Headroom on port {port}; attached to it"
                    ));
                }
                c.mode = Mode::Attached;
                c.error = None;
            }
            StartDecision::Refuse(msg) => {
                c.mode = Mode::None;
                if c.error.as_deref() != Some(msg.as_str()) {
                    c.log(msg.clone());
                }
                c.error = Some(msg);
            }
            StartDecision::Host => {
                if let Err(e) = self.host(c) {
                    let msg = format!("The proxy could not start: {e}");
                    c.log(msg.clone());
                    c.mode = Mode::None;
                    c.error = Some(msg);
                }
            }
        }
    }

    /// Start the in-app proxy on our port.
    fn host(&self, c: &mut Core) -> Result<(), headroom_proxy::Error> {
        let config = headroom_proxy::Config {
            port: c.port(),
            anthropic_url: c.settings.anthropic_url.clone(),
            openai_url: c.settings.openai_url.clone(),
            deployment: Some(c.deployment()),
            ledger_dir: c.env.ledger_dir(),
            // `headroom wrap` (and the bundled shim) prove this proxy through its key file.
            workspace: Some(c.env.workspace.clone()),
            ..headroom_proxy::Config::default()
        };
        let h = self.rt.block_on(headroom_proxy::start(config))?;
        c.log(format!("Proxy started in the app on {}", h.url()));
        c.hosted = Some(h);
        c.mode = Mode::InApp;
        c.error = None;
        Ok(())
    }

    /// Bring the proxy back: an installed deployment on our port is recovered through its
    /// supervisor (never a second proxy next to it); otherwise host or attach.
    fn recover(&self, c: &mut Core) {
        let port = c.port();
        if c.mode != Mode::InApp {
            if let Some(d) = c.engine.on_port(port) {
                if !d.running {
                    let profile = d.profile.clone();
                    match c.engine.control(&profile, "start") {
                        Ok(()) => {
                            c.log(format!("Restarted the installed {} `{profile}`", d.preset))
                        }
                        Err(e) => {
                            c.log(format!("Could not restart the installed {}: {e}", d.preset))
                        }
                    }
                }
                c.mode = Mode::Attached;
                return;
            }
        }
        self.bring_up(c);
    }

    fn shut_down_hosted(&self, c: &mut Core) {
        if let Some(h) = c.hosted.take() {
            self.rt.block_on(h.shutdown(Duration::from_secs(2)));
            c.log("Proxy stopped");
        }
        c.mode = Mode::None;
    }

    /// One supervision step: probe, watchdog, wiring reconcile, status out.
    pub fn tick(&self) -> Status {
        let port = self.lock().port();
        let found = probe::probe(port, PROBE_TIMEOUT);
        let (stats, history) = if matches!(found, Probe::Headroom(_)) {
            (
                probe::stats(port, PROBE_TIMEOUT),
                probe::history(port, HISTORY_DAYS, PROBE_TIMEOUT),
            )
        } else {
            (None, None)
        };
        let mut notes: Vec<(&str, String)> = Vec::new();
        let status = {
            let mut c = self.lock();
            if c.shut_down {
                // Quit ran while this tick was probing: it unwired the tools and stopped the
                // proxy on purpose. Neither rewire nor report "stopped unexpectedly".
                return self.status_of(&mut c);
            }
            let healthy = found.healthy();
            if matches!(c.mode, Mode::None) && healthy && c.expected_up {
                c.mode = Mode::Attached;
            }
            let obs = Observation {
                expected_up: c.expected_up,
                healthy,
                now: Instant::now(),
            };
            let verdict = c.watchdog.step(obs);
            c.last_probe = found;
            if stats.is_some() {
                c.last_stats = stats;
            }
            if history.is_some() {
                c.last_history = history;
            }
            for action in verdict.actions {
                match action {
                    Action::NotifyStopped => {
                        c.log("The proxy stopped unexpectedly; restarting it");
                        notes.push((
                            "Headroom proxy stopped",
                            "The proxy stopped unexpectedly. Headroom is restarting it.".into(),
                        ));
                    }
                    Action::Restart if c.engine_busy => {}
                    Action::Restart => {
                        self.recover(&mut c);
                    }
                    Action::NotifyAutoPaused => {
                        c.log("Routing auto-paused: tools now talk to their providers directly");
                        notes.push((
                            "Headroom routing paused",
                            format!("The proxy stayed down, so your tools were switched back to their providers directly. Headroom will re-route them when it recovers{}.", c.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()),
                        ));
                    }
                    Action::NotifyRecovered => {
                        c.log("The proxy recovered");
                        notes.push((
                            "Headroom proxy recovered",
                            "The proxy is healthy again; tools are routed through Headroom.".into(),
                        ));
                    }
                }
            }
            let want_active = verdict.route && !c.routing_paused && !c.wiring.desired.is_empty();
            let port = c.port();
            if want_active != c.wiring.active || (want_active && c.wiring.port != port) {
                let current = c.wiring.clone();
                match wiring::set_active(&c.engine.env, WIRING_OWNER, &current, want_active, port) {
                    Ok(w) => {
                        c.wiring = w;
                        c.log(if want_active {
                            "Tools wired to Headroom"
                        } else {
                            "Tools unwired (they talk to their providers directly)"
                        });
                    }
                    Err(e) => {
                        let e = CommandError::from(e);
                        c.log(format!("Wiring update failed: {}", e.message));
                        c.error = Some(e.message);
                    }
                }
            }
            self.status_of(&mut c)
        };
        let notifications = self.lock().settings.notifications;
        if notifications {
            for (summary, body) in notes {
                self.sink.notify(summary, &body);
            }
        }
        self.sink.status(&status);
        status
    }

    fn status_of(&self, c: &mut Core) -> Status {
        let health = match &c.last_probe {
            Probe::Headroom(h) => Some(h.as_ref().clone()),
            _ => None,
        };
        let running = c.last_probe.healthy();
        let savings = c
            .last_stats
            .as_ref()
            .map(|s| s.savings.clone())
            .unwrap_or_default();
        let requests = c.last_stats.as_ref().map_or(0, |s| s.requests.total);
        let history = c
            .last_history
            .as_ref()
            .map(|h| {
                h.days
                    .iter()
                    .map(|d| DayPoint {
                        date: d.date.clone(),
                        tokens_saved: d.total.tokens_saved,
                        cost_saved_usd: d.total.cost_saved_usd,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let routing = if c.wiring.desired.is_empty() {
            "no-tools"
        } else if c.routing_paused {
            "paused"
        } else if c.watchdog.auto_paused() {
            "auto-paused"
        } else if c.wiring.active {
            "on"
        } else {
            "off"
        };
        let state = if !c.expected_up {
            TrayState::Stopped
        } else if c.routing_paused {
            TrayState::Paused
        } else if running {
            TrayState::Running
        } else if c.watchdog.auto_paused() || c.error.is_some() {
            TrayState::Error
        } else {
            TrayState::Stopped
        };
        let port = c.port();
        let summary = match state {
            TrayState::Running => format!("Headroom: running on port {port}"),
            TrayState::Paused => format!("Headroom: routing paused (port {port})"),
            TrayState::Stopped if c.expected_up => "Headroom: starting…".to_string(),
            TrayState::Stopped => "Headroom: stopped".to_string(),
            TrayState::Error if c.watchdog.auto_paused() => {
                "Headroom: proxy down, routing auto-paused".to_string()
            }
            TrayState::Error => match &c.error {
                Some(e) => format!("Headroom: {}", first_words(e, 60)),
                None => "Headroom: proxy not responding".to_string(),
            },
        };
        let mut upstreams = BTreeMap::new();
        upstreams.insert("anthropic", c.settings.anthropic_url.clone());
        upstreams.insert("openai", c.settings.openai_url.clone());
        if let Some(cfg) = health.as_ref().and_then(|h| h.config.as_ref()) {
            for (k, u) in [
                ("anthropic", &cfg.upstreams.anthropic),
                ("openai", &cfg.upstreams.openai),
            ] {
                if !u.is_empty() {
                    upstreams.insert(k, u.clone());
                }
            }
        }
        Status {
            state,
            summary,
            mode: c.mode,
            port,
            running,
            expected_up: c.expected_up,
            routing,
            upstreams,
            uptime_seconds: health.as_ref().map(|h| h.uptime_seconds),
            deployment: health
                .as_ref()
                .and_then(|h| h.deployment.as_ref())
                .and_then(|d| serde_json::to_value(d).ok()),
            checks: health
                .as_ref()
                .and_then(|h| serde_json::to_value(&h.checks).ok()),
            version: health.as_ref().map(|h| h.version.clone()),
            tokens_saved_total: savings.lifetime.tokens_saved,
            tokens_saved_today: savings.today.tokens_saved,
            tokens_saved_week: savings.last_7_days.tokens_saved,
            money_saved_today_usd: savings.today.cost_saved_usd,
            money_saved_week_usd: savings.last_7_days.cost_saved_usd,
            money_saved_total_usd: savings.lifetime.cost_saved_usd,
            requests_today: savings.today.requests,
            requests,
            savings_persistent: savings.persistent,
            history,
            error: c.error.clone(),
            autostart: c.autostart,
            wizard_done: c.settings.wizard_done,
            wired_tools: c.wiring.desired.clone(),
            can_undo: c.wiring.undo.is_some(),
            port_from_env: c.env.port_override.is_some(),
            home: c.env.home.display().to_string(),
            log: c.log.iter().rev().take(50).rev().cloned().collect(),
        }
    }

    pub fn status(&self) -> Status {
        let mut c = self.lock();
        self.status_of(&mut c)
    }

    // ----- proxy control -----

    pub fn start(&self) -> Status {
        {
            let mut c = self.lock();
            c.expected_up = true;
            c.error = None;
            self.recover(&mut c);
        }
        self.tick()
    }

    pub fn stop(&self) -> Status {
        {
            let mut c = self.lock();
            c.expected_up = false;
            // Unwire first, so tools never point at a port about to close.
            if let Err(e) = c.unwire() {
                c.error = Some(e.message);
            }
            if c.mode == Mode::Attached {
                let port = c.port();
                match c.engine.on_port(port) {
                    Some(d) => match c.engine.control(&d.profile, "stop") {
                        Ok(()) => c.log(format!(
                            "Stopped the installed {} `{}`",
                            d.preset, d.profile
                        )),
                        Err(e) => c.log(format!("Could not stop the installed {}: {e}", d.preset)),
                    },
                    None => c.log(
                        "Detached from the Headroom on this port (it is not the app's to stop)",
                    ),
                }
                c.mode = Mode::None;
            }
            self.shut_down_hosted(&mut c);
        }
        self.tick()
    }

    pub fn restart(&self) -> Status {
        {
            let mut c = self.lock();
            self.shut_down_hosted(&mut c);
            c.expected_up = true;
            self.bring_up(&mut c);
        }
        self.tick()
    }

    /// Repair: restart the proxy and write every chosen tool's wiring again (unwire, then the
    /// tick rewires from the recorded choice), for configs someone or something else changed.
    pub fn repair(&self) -> Status {
        {
            let mut c = self.lock();
            c.log("Repair: restarting the proxy and re-applying the tool wiring");
            c.error = None;
            if c.wiring.active {
                let current = c.wiring.clone();
                let port = c.port();
                match wiring::set_active(&c.engine.env, WIRING_OWNER, &current, false, port) {
                    Ok(w) => c.wiring = w,
                    Err(e) => {
                        let e = CommandError::from(e);
                        c.log(format!("Repair could not unwire first: {}", e.message));
                    }
                }
            }
        }
        self.restart()
    }

    pub fn set_routing_paused(&self, paused: bool) -> Status {
        {
            let mut c = self.lock();
            c.routing_paused = paused;
            c.log(if paused {
                "Routing paused by the user"
            } else {
                "Routing resumed"
            });
        }
        self.tick()
    }

    /// Before quitting: a proxy that dies with the app must not leave tools wired to it.
    pub fn shutdown(&self) {
        let mut c = self.lock();
        if c.shut_down {
            return;
        }
        c.shut_down = true;
        if c.mode == Mode::InApp {
            let _ = c.unwire();
        }
        self.shut_down_hosted(&mut c);
        for h in std::mem::take(&mut c.draining) {
            self.rt.block_on(h.shutdown(Duration::from_secs(1)));
        }
    }

    // ----- tools & wiring -----

    /// Every tool as the install engine detects it, with the app's wiring and, per scope,
    /// whether the engine can route it there (and why not).
    pub fn tools(&self) -> Vec<ToolView> {
        let c = self.lock();
        let env = &c.engine.env;
        let support = wiring::Support::load(env);
        headroom_install::detect_tools(env)
            .into_iter()
            .map(|info| {
                let tool = info.tool;
                ToolView {
                    name: tool.name(),
                    display_name: tool.display_name(),
                    detected: info.detected(),
                    binary: info.binary.map(|p| p.display().to_string()),
                    config: Some(info.config_path.display().to_string()),
                    config_exists: info.config_exists,
                    current: info.wiring,
                    wired: c.wiring.scope_of(tool),
                    scopes: Scope::ALL
                        .iter()
                        .map(|&scope| {
                            // What the app already routes stays selectable.
                            let r = if c.wiring.scope_of(tool) == Some(scope) {
                                Ok(())
                            } else {
                                support.check(tool, scope)
                            };
                            ScopeView {
                                scope,
                                supported: r.is_ok(),
                                reason: r.err(),
                            }
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// Whether a change would be written now (false while routing is off: it is recorded and
    /// written when routing comes back).
    fn routing_on(c: &Core) -> bool {
        c.wiring.active || (!c.routing_paused && c.last_probe.healthy() && c.expected_up)
    }

    /// Preview setting the wiring to `desired` (the wizard, the Tools page).
    pub fn preview(&self, desired: BTreeMap<Tool, Scope>) -> Result<PlanView, CommandError> {
        let mut c = self.lock();
        let active = Self::routing_on(&c);
        let plan = wiring::plan(
            &c.engine.env,
            WIRING_OWNER,
            &c.wiring,
            &desired,
            active,
            c.port(),
        )?;
        let view = PlanView::of(&plan, !active);
        c.pending = Some(Pending { plan });
        Ok(view)
    }

    /// Preview changing one tool's scope (`None` = not wired).
    pub fn preview_tool(&self, tool: &str, scope: Option<Scope>) -> Result<PlanView, CommandError> {
        let tool: Tool = tool
            .parse()
            .map_err(|e: headroom_install::targets::UnknownTool| {
                CommandError::new("unsupported", e.to_string())
            })?;
        let mut desired = self.lock().wiring.desired.clone();
        match scope {
            Some(s) => desired.insert(tool, s),
            None => desired.remove(&tool),
        };
        self.preview(desired)
    }

    /// Apply the previewed change (after the user confirmed it).
    pub fn apply_pending(&self) -> Result<Status, CommandError> {
        {
            let mut c = self.lock();
            let pending = c.pending.take().ok_or_else(|| {
                CommandError::new("no-plan", "nothing to apply: preview the change first")
            })?;
            c.wiring = wiring::apply(&c.engine.env, &pending.plan)?;
            let scope = c.scope_label();
            c.log(format!(
                "Wiring changed ({} file(s)); scope now {scope}",
                pending.plan.files.len()
            ));
        }
        self.refresh_deployment();
        Ok(self.tick())
    }

    pub fn cancel_pending(&self) {
        self.lock().pending = None;
    }

    /// Undo the last confirmed wiring change in one click.
    pub fn undo(&self) -> Result<Status, CommandError> {
        {
            let mut c = self.lock();
            if c.wiring.undo.is_none() {
                return Err(CommandError::new("no-undo", "there is no change to undo"));
            }
            let plan = wiring::plan_undo(&c.engine.env, WIRING_OWNER, &c.wiring, c.port())?;
            c.wiring = wiring::apply(&c.engine.env, &plan)?;
            c.log("Last wiring change undone");
        }
        self.refresh_deployment();
        Ok(self.tick())
    }

    /// The deployment block is fixed when the proxy starts; restart an in-app proxy when it
    /// changes (scope, autostart) so `/health` tells the truth.
    fn refresh_deployment(&self) {
        let mut c = self.lock();
        if c.mode != Mode::InApp {
            return;
        }
        let want = Some(c.deployment());
        let have = match &c.last_probe {
            Probe::Headroom(h) => h.deployment.clone(),
            _ => None,
        };
        if want != have {
            // Swap servers without dropping requests: the old one stops accepting (its listener
            // closes at once) and drains its in-flight streams in the background while the new
            // one, carrying the new metadata, takes the port.
            if let Some(old) = c.hosted.take() {
                old.begin_shutdown(DRAIN_ON_SWAP);
                c.draining.push(old);
            }
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                match self.host(&mut c) {
                    Ok(()) => break,
                    Err(headroom_proxy::Error::AddrInUse { .. }) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => {
                        c.log(format!("The proxy could not restart: {e}"));
                        c.error = Some(format!("The proxy could not restart: {e}"));
                        c.mode = Mode::None;
                        break;
                    }
                }
            }
            c.draining.retain(|h| !h.is_stopped());
        }
    }

    // ----- settings -----

    pub fn settings(&self) -> Settings {
        self.lock().settings.clone()
    }

    pub fn save_settings(&self, new: Settings) -> Result<Status, CommandError> {
        new.validate()
            .map_err(|m| CommandError::new("invalid", m))?;
        let restart = {
            let mut c = self.lock();
            let old = c.settings.clone();
            let new = Settings {
                wizard_done: old.wizard_done,
                ..new
            };
            new.save(&c.env)?;
            c.settings = new.clone();
            let restart = old.port != new.port
                || old.anthropic_url != new.anthropic_url
                || old.openai_url != new.openai_url;
            if old.port != new.port && c.env.port_override.is_some() {
                c.log("HEADROOM_PORT is set for this run; the new port applies at the next launch");
            }
            restart && c.mode == Mode::InApp
        };
        if restart {
            // Unwire from the old port first, then move.
            {
                let mut c = self.lock();
                if let Err(e) = c.unwire() {
                    c.log(format!("Unwiring before the move failed: {}", e.message));
                }
            }
            return Ok(self.restart());
        }
        Ok(self.tick())
    }

    pub fn set_wizard_done(&self, done: bool) -> Result<(), CommandError> {
        let mut c = self.lock();
        c.settings.wizard_done = done;
        let (s, env) = (c.settings.clone(), c.env.clone());
        s.save(&env)?;
        Ok(())
    }

    pub fn set_autostart(&self, on: bool) -> Result<Status, CommandError> {
        {
            let mut c = self.lock();
            if c.options.os_autostart {
                crate::autostart::set_enabled(on).map_err(|m| CommandError::new("autostart", m))?;
            }
            c.autostart = on;
            c.log(if on {
                "Start at login enabled"
            } else {
                "Start at login disabled"
            });
        }
        self.refresh_deployment();
        Ok(self.tick())
    }

    // ----- installed deployments (service / task / docker) -----

    /// Which install presets can work on this machine, and why not where they cannot.
    pub fn install_options(&self) -> Vec<InstallOption> {
        let engine = self.lock().engine.clone();
        [
            headroom_install::Preset::Service,
            headroom_install::Preset::Task,
            headroom_install::Preset::Docker,
        ]
        .into_iter()
        .map(|p| {
            let reason = engine.unavailable(p);
            InstallOption {
                preset: p.to_string(),
                available: reason.is_none(),
                reason,
            }
        })
        .collect()
    }

    pub fn deployments(&self) -> Vec<Deployment> {
        let engine = self.lock().engine.clone();
        engine.list()
    }

    /// The tools an installed deployment takes over: the app's chosen tools at the most used
    /// scope (an installed profile has one scope).
    fn delegation(c: &Core) -> Result<(Scope, Vec<Tool>), CommandError> {
        let mut by_scope: BTreeMap<Scope, Vec<Tool>> = BTreeMap::new();
        for (tool, scope) in &c.wiring.desired {
            by_scope.entry(*scope).or_default().push(*tool);
        }
        by_scope
            .into_iter()
            .max_by_key(|(scope, tools)| (tools.len(), *scope == Scope::Provider))
            .ok_or_else(|| {
                CommandError::new(
                    "no-tools",
                    "choose the tools to route first (Tools page): an installed deployment wires them itself",
                )
            })
    }

    /// Plan installing Headroom as `preset` on our port; returns the changes as a diff.
    pub fn preview_install(&self, preset: &str) -> Result<InstallPreview, CommandError> {
        let preset = Engine::parse_preset(preset).map_err(|m| CommandError::new("invalid", m))?;
        let mut c = self.lock();
        let port = c.port();
        let (scope, targets) = Self::delegation(&c)?;
        let plan = c
            .engine
            .plan(preset, port, scope, &targets)
            .map_err(|m| CommandError::new("install", m))?;
        let shim = c.engine.shim_path();
        let mut summary = plan.summary();
        if !shim.exists() {
            summary.insert(
                0,
                format!(
                    "create {} (the `headroom` command the service runs)",
                    shim.display()
                ),
            );
        }
        let names: Vec<&str> = targets.iter().map(|t| t.display_name()).collect();
        summary.insert(
            0,
            format!(
                "the installed deployment takes over routing {} ({} scope)",
                names.join(", "),
                scope
            ),
        );
        let view = InstallPreview {
            diff: plan.render_diff(),
            summary,
        };
        c.pending_install = Some(PendingInstall {
            preset,
            scope,
            targets,
        });
        Ok(view)
    }

    /// Apply the previewed install: the app hands the delegated tools over (unwiring its own
    /// edits of them), its in-app proxy steps aside, the engine installs and starts the
    /// deployment, and the app attaches to it. On failure the app rewires and hosts again.
    pub fn apply_install(&self) -> Result<Status, CommandError> {
        let (pending, engine, env, port, before) = {
            let mut c = self.lock();
            let pending = c.pending_install.take().ok_or_else(|| {
                CommandError::new("no-plan", "nothing to apply: preview the install first")
            })?;
            let before = c.wiring.clone();
            let mut desired = c.wiring.desired.clone();
            for t in &pending.targets {
                desired.remove(t);
            }
            let port = c.port();
            let mut plan = wiring::plan(
                &c.engine.env,
                WIRING_OWNER,
                &c.wiring,
                &desired,
                c.wiring.active,
                c.wiring.port,
            )?;
            // Handing tools over is not a change to undo from the Tools page.
            plan.next.undo = None;
            c.wiring = wiring::apply(&c.engine.env, &plan)?;
            c.engine_busy = true;
            self.shut_down_hosted(&mut c);
            (pending, c.engine.clone(), c.env.clone(), port, before)
        };
        let result = (|| {
            let shim = engine.shim_path();
            if !shim.exists() {
                let exe = crate::app_exe().map_err(|e| e.to_string())?;
                crate::cli_shim::install(&env.home, &exe)?;
            }
            let plan = engine.plan(pending.preset, port, pending.scope, &pending.targets)?;
            engine.apply(&plan)
        })();
        {
            let mut c = self.lock();
            c.engine_busy = false;
            c.expected_up = true;
            match &result {
                Ok(()) => c.log(format!("Installed Headroom as {}", pending.preset)),
                Err(e) => {
                    c.log(format!("Install failed: {e}"));
                    // Give the tools back to the app's wiring.
                    let (active, port) = (c.wiring.active, c.wiring.port);
                    let back = wiring::plan(
                        &c.engine.env,
                        WIRING_OWNER,
                        &c.wiring,
                        &before.desired,
                        active,
                        port,
                    )
                    .and_then(|mut p| {
                        p.next.undo = before.undo.clone();
                        wiring::apply(&c.engine.env, &p)
                    });
                    match back {
                        Ok(w) => c.wiring = w,
                        Err(e) => c.log(format!(
                            "Rewiring after the failed install failed: {}",
                            e.message
                        )),
                    }
                }
            }
            self.recover(&mut c);
        }
        result.map_err(|m| CommandError::new("install", m))?;
        Ok(self.tick())
    }

    /// Start, stop, restart or remove an installed deployment through the engine.
    pub fn control_installed(&self, profile: &str, action: &str) -> Result<Status, CommandError> {
        let engine = {
            let mut c = self.lock();
            c.engine_busy = true;
            if action == "stop" {
                // The user wants nothing running on the port: unwire, and do not take over.
                c.expected_up = false;
                if let Err(e) = c.unwire() {
                    c.log(format!("Unwiring failed: {}", e.message));
                }
            } else {
                c.expected_up = true;
            }
            c.engine.clone()
        };
        let result = engine.control(profile, action);
        {
            let mut c = self.lock();
            c.engine_busy = false;
            match &result {
                Ok(()) => c.log(format!("Installed deployment `{profile}`: {action} done")),
                Err(e) => c.log(format!(
                    "Installed deployment `{profile}`: {action} failed: {e}"
                )),
            }
            if c.expected_up {
                self.recover(&mut c);
            } else {
                c.mode = Mode::None;
            }
        }
        result.map_err(|m| CommandError::new("install", m))?;
        Ok(self.tick())
    }

    /// The wizard's verify step: proxy healthy, one request through it reaches the upstream,
    /// and the chosen tools' configs are wired.
    pub fn verify(&self) -> Verify {
        let (port, current, env, anthropic) = {
            let c = self.lock();
            (
                c.port(),
                c.wiring.clone(),
                c.engine.env.clone(),
                c.settings.anthropic_url.clone(),
            )
        };
        let proxy_healthy = probe::probe(port, PROBE_TIMEOUT).healthy();
        let (request_ok, request_detail) = if !proxy_healthy {
            (
                false,
                "the proxy is not healthy; see Runtime for its log".to_string(),
            )
        } else {
            // Any HTTP answer relayed from the upstream proves the path works; the proxy's own
            // 502/504 means the upstream is unreachable.
            match probe::get(port, "/v1/models", Duration::from_secs(10)) {
                Ok((code, _)) if code != 502 && code != 504 => {
                    (true, format!("a request through Headroom reached {anthropic} (HTTP {code})"))
                }
                Ok((code, _)) => (false, format!("HTTP {code}: Headroom could not reach {anthropic}; check your network, proxy settings or the upstream URL in Settings")),
                Err(e) => (false, format!("the request through Headroom failed: {e}")),
            }
        };
        let (wiring_ok, wiring_detail) = if current.desired.is_empty() {
            (true, "no tools chosen".to_string())
        } else if !current.active {
            (
                false,
                "routing is paused, so the tools are not wired right now".to_string(),
            )
        } else {
            match wiring::verify(&env, WIRING_OWNER, &current) {
                Ok(()) => (true, format!("{} tool(s) wired", current.desired.len())),
                Err(why) => (false, why),
            }
        };
        Verify {
            proxy_healthy,
            request_ok,
            request_detail,
            wiring_ok,
            wiring_detail,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    #[derive(Default)]
    pub struct Recorder {
        pub notes: StdMutex<Vec<String>>,
        pub states: StdMutex<Vec<TrayState>>,
    }

    impl Sink for Recorder {
        fn status(&self, s: &Status) {
            self.states.lock().unwrap().push(s.state);
        }
        fn notify(&self, summary: &str, _body: &str) {
            self.notes.lock().unwrap().push(summary.to_owned());
        }
    }

    pub fn test_engine(home: &std::path::Path) -> Engine {
        let mut env = headroom_install::Environment::for_home(home, home.join("root"));
        env.headroom_exe = home.join(".local/bin/headroom");
        Engine { env }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// An app environment for `home` (serving `port` when given) that touches nothing on the
    /// real machine: the engine sees a fake root and records its commands, no OS autostart.
    pub(crate) fn test_setup(home: &std::path::Path, port: Option<u16>) -> (Env, Options) {
        let mut env = Env::for_home(home);
        env.port_override = port;
        let opts = Options {
            os_autostart: false,
            engine: Some(test_engine(home)),
            ..Options::default()
        };
        (env, opts)
    }

    fn controller(grace_ms: u64) -> (tempfile::TempDir, Arc<Controller>, Arc<Recorder>, u16) {
        let home = tempfile::tempdir().unwrap();
        let port = free_port();
        let (env, mut opts) = test_setup(home.path(), Some(port));
        opts.grace = Duration::from_millis(grace_ms);
        opts.restart_every = Duration::from_millis(0);
        let rec = Arc::new(Recorder::default());
        let c = Controller::new(env, rec.clone(), opts).unwrap();
        (home, c, rec, port)
    }

    #[test]
    fn launch_hosts_the_proxy_with_desktop_deployment_metadata() {
        let (_h, c, _r, port) = controller(15_000);
        c.launch();
        let s = c.tick();
        assert_eq!(s.mode, Mode::InApp);
        assert!(s.running);
        assert_eq!(s.state, TrayState::Running);
        let dep = s.deployment.expect("deployment block");
        assert_eq!(dep["preset"], "desktop");
        assert_eq!(dep["supervisor"], "none");
        assert_eq!(dep["runtime"], "native");
        assert_eq!(dep["scope"], "none");
        assert_eq!(s.port, port);
        c.shutdown();
    }

    #[test]
    fn second_app_attaches_instead_of_starting_a_second_proxy() {
        let (_h1, a, _r1, port) = controller(15_000);
        a.launch();
        let home = tempfile::tempdir().unwrap();
        let (env, opts) = test_setup(home.path(), Some(port));
        let b = Controller::new(env, Arc::new(Recorder::default()), opts).unwrap();
        b.launch();
        assert_eq!(b.status().mode, Mode::Attached);
        assert!(b.status().running);
        // Stopping the attached app does not kill the other's proxy.
        b.stop();
        assert!(probe::probe(port, PROBE_TIMEOUT).healthy());
        a.shutdown();
    }

    #[test]
    fn foreign_port_owner_is_refused_with_a_message() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                use std::io::{Read, Write};
                let mut s = s;
                let mut b = [0u8; 512];
                let _ = s.read(&mut b);
                let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            }
        });
        let home = tempfile::tempdir().unwrap();
        let (env, opts) = test_setup(home.path(), Some(port));
        let c = Controller::new(env, Arc::new(Recorder::default()), opts).unwrap();
        c.launch();
        let s = c.status();
        assert_eq!(s.mode, Mode::None);
        assert!(s.error.unwrap().contains("another program"));
    }

    #[test]
    fn wiring_change_previews_a_diff_applies_and_undoes() {
        let (h, c, _r, port) = controller(15_000);
        c.launch();
        let plan = c.preview_tool("claude", Some(Scope::Provider)).unwrap();
        assert!(!plan.deferred);
        assert_eq!(plan.changes.len(), 1);
        assert!(plan.changes[0]
            .diff
            .contains(&format!("http://127.0.0.1:{port}")));
        let settings = h.path().join(".claude/settings.json");
        assert!(!settings.exists(), "preview must not write");
        let s = c.apply_pending().unwrap();
        assert!(settings.exists());
        assert_eq!(s.routing, "on");
        assert_eq!(s.deployment.unwrap()["scope"], "provider");
        c.undo().unwrap();
        assert!(!settings.exists());
        c.shutdown();
    }

    /// A loopback upstream that answers every request with `200 {}` (enough for the proxy to
    /// count the request it compressed).
    fn ok_upstream() -> String {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                let mut buf = vec![0u8; 1 << 20];
                let mut got = Vec::new();
                // Read headers, then the declared body.
                loop {
                    let n = s.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
                );
            }
        });
        format!("http://{addr}")
    }

    /// POST a request with a 300-row JSON tool output (which the compressor shrinks).
    fn post_compressible(port: u16) {
        use std::io::{Read, Write};
        let rows: Vec<Value> = (0..300)
            .map(|i| serde_json::json!({"id": i, "name": format!("pkg-{i}"), "version": format!("1.{i}.0"), "license": "MIT"}))
            .collect();
        let body = serde_json::json!({
            "model": "claude-sonnet-4-5", "max_tokens": 10,
            "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
            "messages": [
                {"role": "user", "content": "list packages"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": "npm ls --json"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": serde_json::to_string(&rows).unwrap()}]}
            ]
        })
        .to_string();
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nx-api-key: k\r\nuser-agent: claude-cli/2.1.197 (external, cli)\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    /// The app reads the real proxy's `/stats` (no hand-written copy of it): a compressed
    /// request shows on the next tick, and the same totals come back after a restart.
    #[test]
    fn savings_of_the_real_proxy_show_on_the_next_tick_and_survive_a_restart() {
        let home = tempfile::tempdir().unwrap();
        let port = free_port();
        let (env, opts) = test_setup(home.path(), Some(port));
        let mut settings = Settings::load(&env).unwrap();
        settings.anthropic_url = ok_upstream();
        settings.save(&env).unwrap();
        let c = Controller::new(env.clone(), Arc::new(Recorder::default()), opts).unwrap();
        c.launch();
        assert_eq!(c.tick().tokens_saved_today, 0);
        post_compressible(port);
        let s = c.tick();
        assert!(s.tokens_saved_today > 0, "{s:?}");
        assert!(s.savings_persistent);
        assert_eq!(s.tokens_saved_total, s.tokens_saved_today);
        assert_eq!(s.tokens_saved_week, s.tokens_saved_today);
        assert_eq!(s.requests_today, 1);
        assert!(s.money_saved_today_usd > 0.0);
        assert_eq!(s.history.len(), 7);
        assert_eq!(s.history[6].tokens_saved, s.tokens_saved_today);
        assert_eq!(s.upstreams["anthropic"], settings.anthropic_url);
        c.shutdown();
        drop(c);

        let (_, opts) = test_setup(home.path(), Some(port));
        let again = Controller::new(env, Arc::new(Recorder::default()), opts).unwrap();
        again.launch();
        let s2 = again.tick();
        assert_eq!(s2.tokens_saved_total, s.tokens_saved_total);
        assert_eq!(s2.tokens_saved_today, s.tokens_saved_today);
        again.shutdown();
    }

    /// Quit racing the supervisor tick (a 1 ms tick here, far tighter than the app's) never
    /// leaves a tool wired to the stopped proxy and never reports a "stopped unexpectedly".
    #[test]
    fn quit_racing_the_tick_never_leaves_tools_wired() {
        for round in 0..20 {
            let (h, c, rec, _port) = controller(15_000);
            c.launch();
            c.preview_tool("claude", Some(Scope::Provider)).unwrap();
            c.apply_pending().unwrap();
            let settings = h.path().join(".claude/settings.json");
            assert!(settings.exists());
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let ticker = {
                let (c, stop) = (c.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        c.tick();
                        std::thread::sleep(Duration::from_millis(1));
                    }
                })
            };
            std::thread::sleep(Duration::from_millis(3 + round % 5));
            c.shutdown();
            std::thread::sleep(Duration::from_millis(20));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            ticker.join().unwrap();
            assert!(
                !settings.exists(),
                "round {round}: tools left wired after quit"
            );
            let notes = rec.notes.lock().unwrap();
            assert!(
                notes.iter().all(|n| !n.contains("stopped")),
                "round {round}: {notes:?}"
            );
        }
    }

    #[test]
    fn repair_rewrites_wiring_someone_took_out() {
        let (h, c, _r, port) = controller(15_000);
        c.launch();
        c.preview_tool("claude", Some(Scope::Provider)).unwrap();
        c.apply_pending().unwrap();
        let settings = h.path().join(".claude/settings.json");
        std::fs::write(&settings, "{\n  \"model\": \"opus\"\n}\n").unwrap();
        let s = c.repair();
        assert_eq!(s.state, TrayState::Running);
        let text = std::fs::read_to_string(&settings).unwrap();
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(text.contains("opus"), "the user's own edit stays: {text}");
        c.shutdown();
    }

    #[test]
    fn stop_unwires_start_rewires_and_pause_resume() {
        let (h, c, _r, _port) = controller(15_000);
        c.launch();
        c.preview_tool("claude", Some(Scope::Provider)).unwrap();
        c.apply_pending().unwrap();
        let settings = h.path().join(".claude/settings.json");
        assert!(settings.exists());
        let s = c.stop();
        assert_eq!(s.state, TrayState::Stopped);
        assert!(!settings.exists(), "stopped proxy => tools unwired");
        let s = c.start();
        assert_eq!(s.state, TrayState::Running);
        assert!(settings.exists());
        let s = c.set_routing_paused(true);
        assert_eq!(s.state, TrayState::Paused);
        assert!(!settings.exists());
        c.set_routing_paused(false);
        assert!(settings.exists());
        c.shutdown();
        assert!(
            !settings.exists(),
            "quitting the app unwires tools of its in-app proxy"
        );
    }

    #[test]
    fn attached_proxy_dying_fails_open_and_the_app_takes_over() {
        // Another "Headroom" (a proxy this app does not own) serves the port, then dies.
        let port = free_port();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let other = rt
            .block_on(headroom_proxy::start(headroom_proxy::Config {
                port,
                ..Default::default()
            }))
            .unwrap();
        let home = tempfile::tempdir().unwrap();
        let (env, mut opts) = test_setup(home.path(), Some(port));
        let rec = Arc::new(Recorder::default());
        // A huge restart interval keeps the app from taking over before the grace ends.
        opts.grace = Duration::from_millis(300);
        opts.restart_every = Duration::from_secs(3600);
        let c = Controller::new(env, rec.clone(), opts).unwrap();
        c.launch();
        c.preview_tool("claude", Some(Scope::Provider)).unwrap();
        c.apply_pending().unwrap();
        assert_eq!(c.status().mode, Mode::Attached);
        let settings = home.path().join(".claude/settings.json");
        assert!(settings.exists());
        rt.block_on(other.shutdown(Duration::from_millis(100)));
        drop(other);
        // First unhealthy tick: notify + restart attempt (the app now hosts on the free port).
        let s = c.tick();
        assert!(
            rec.notes
                .lock()
                .unwrap()
                .iter()
                .any(|n| n.contains("stopped")),
            "{:?}",
            rec.notes.lock().unwrap()
        );
        // The restart took over the port: next tick is healthy again => recovered.
        let s2 = c.tick();
        assert!(s.running || s2.running);
        assert_eq!(c.status().mode, Mode::InApp);
        assert!(rec
            .notes
            .lock()
            .unwrap()
            .iter()
            .any(|n| n.contains("recovered")));
        assert!(settings.exists());
        c.shutdown();
    }

    #[test]
    fn reconcile_on_start_unwires_when_nothing_can_serve_the_port() {
        // A previous run crashed while wired; now a foreign program holds the port.
        let home = tempfile::tempdir().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (env, opts) = test_setup(home.path(), Some(port));
        // The crashed run's wiring, through the same engine (apply saves the state file).
        let engine = test_engine(home.path());
        let desired = [(Tool::Claude, Scope::Provider)].into();
        let plan = wiring::plan(
            &engine.env,
            WIRING_OWNER,
            &Wiring::default(),
            &desired,
            true,
            port,
        )
        .unwrap();
        wiring::apply(&engine.env, &plan).unwrap();
        let settings = home.path().join(".claude/settings.json");
        assert!(settings.exists());
        let c = Controller::new(env, Arc::new(Recorder::default()), opts).unwrap();
        c.launch();
        assert!(
            !settings.exists(),
            "tools must not stay pointed at a port Headroom cannot serve"
        );
        assert_eq!(c.status().routing, "off");
        drop(listener);
    }

    #[test]
    fn in_app_proxy_that_stays_down_auto_pauses_and_recovers() {
        let (h, c, rec, port) = controller(200);
        c.launch();
        c.preview_tool("claude", Some(Scope::Provider)).unwrap();
        c.apply_pending().unwrap();
        let settings = h.path().join(".claude/settings.json");
        // Simulate a crash: the in-app server dies and a foreign program grabs the port.
        {
            let mut core = c.lock();
            let hd = core.hosted.take().unwrap();
            c.rt.block_on(hd.shutdown(Duration::from_millis(50)));
        }
        let squatter = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        c.tick();
        std::thread::sleep(Duration::from_millis(250));
        let s = c.tick();
        assert_eq!(s.routing, "auto-paused");
        assert_eq!(s.state, TrayState::Error);
        assert!(!settings.exists(), "fail-open unwired the tools");
        assert!(rec
            .notes
            .lock()
            .unwrap()
            .iter()
            .any(|n| n.contains("routing paused")));
        drop(squatter);
        c.tick(); // restart attempt takes the port back
        let s = c.tick();
        assert_eq!(s.routing, "on");
        assert!(settings.exists(), "rewired after recovery");
        c.shutdown();
    }

    #[test]
    fn installs_a_persistent_service_through_the_engine_then_removes_it() {
        let (h, c, _r, port) = controller(15_000);
        c.launch();
        assert_eq!(c.status().mode, Mode::InApp);
        assert_eq!(
            c.preview_install("persistent-service").unwrap_err().code,
            "no-tools"
        );
        c.preview_tool("claude", Some(Scope::Provider)).unwrap();
        c.apply_pending().unwrap();
        let settings = h.path().join(".claude/settings.json");
        assert!(settings.exists());
        let preview = c.preview_install("persistent-service").unwrap();
        assert!(
            preview.summary[0].contains("Claude Code"),
            "{:?}",
            preview.summary
        );
        assert!(preview.diff.contains("headroom"), "{}", preview.diff);
        assert!(
            preview
                .summary
                .iter()
                .any(|l| l.contains(".local/bin/headroom")),
            "{:?}",
            preview.summary
        );
        assert!(c.deployments().is_empty(), "preview installs nothing");
        c.apply_install().unwrap();
        let deps = c.deployments();
        assert_eq!(deps.len(), 1);
        assert_eq!(deps[0].status.preset, "persistent-service");
        assert_eq!(deps[0].status.port, port);
        // The service runs the `headroom` shim, which points at this binary.
        assert!(h.path().join(".local/bin/headroom").exists());
        // The in-app proxy stepped aside for the service (nothing really runs under the
        // recording runner, so the app is attached to the installed deployment's port).
        assert_ne!(c.status().mode, Mode::InApp);
        assert_eq!(deps[0].status.targets, vec!["claude".to_string()]);
        assert!(
            c.status().wired_tools.is_empty(),
            "the deployment owns Claude's wiring now"
        );
        let wired = std::fs::read_to_string(&settings).unwrap();
        assert!(wired.contains(&format!("127.0.0.1:{port}")), "{wired}");
        c.control_installed("default", "remove").unwrap();
        assert!(c.deployments().is_empty());
        assert!(
            !settings.exists(),
            "remove restored the original state (no settings file)"
        );
        assert_eq!(
            c.status().mode,
            Mode::InApp,
            "after removal the app hosts the proxy again"
        );
        assert!(c.preview_install("persistent-nonsense").is_err());
        c.shutdown();
    }

    #[test]
    fn deployment_change_swaps_servers_without_dropping_in_flight_requests() {
        // A slow upstream: answers 600 ms after the request arrived.
        let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let up_port = upstream.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for s in upstream.incoming().flatten() {
                std::thread::spawn(move || {
                    use std::io::{Read, Write};
                    let mut s = s;
                    let mut req = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    std::thread::sleep(Duration::from_millis(600));
                    let _ = s.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    );
                });
            }
        });
        let home = tempfile::tempdir().unwrap();
        let port = free_port();
        let (env, opts) = test_setup(home.path(), Some(port));
        let url = format!("http://127.0.0.1:{up_port}");
        Settings {
            anthropic_url: url.clone(),
            openai_url: url,
            ..Settings::default()
        }
        .save(&env)
        .unwrap();
        let c = Controller::new(env, Arc::new(Recorder::default()), opts).unwrap();
        c.launch();
        let in_flight =
            std::thread::spawn(move || probe::get(port, "/v1/models", Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(200));
        // Turning autostart on changes `/health.deployment.supervisor`: the server is swapped.
        let s = c.set_autostart(true).unwrap();
        assert_eq!(s.deployment.unwrap()["supervisor"], "autostart");
        let (code, body) = in_flight.join().unwrap().unwrap();
        assert_eq!(
            (code, body.as_str()),
            (200, "ok"),
            "the request that started before the swap completed"
        );
        c.shutdown();
    }

    #[test]
    fn changing_the_port_moves_the_proxy_and_the_wiring() {
        let home = tempfile::tempdir().unwrap();
        let (env, opts) = test_setup(home.path(), None);
        let (p1, p2) = (free_port(), free_port());
        Settings {
            port: p1,
            ..Settings::default()
        }
        .save(&env)
        .unwrap();
        let c = Controller::new(env, Arc::new(Recorder::default()), opts).unwrap();
        c.launch();
        c.preview_tool("claude", Some(Scope::Provider)).unwrap();
        c.apply_pending().unwrap();
        let settings = home.path().join(".claude/settings.json");
        assert!(std::fs::read_to_string(&settings)
            .unwrap()
            .contains(&format!(":{p1}\"")));
        let new = Settings {
            port: p2,
            ..c.settings()
        };
        let s = c.save_settings(new).unwrap();
        assert_eq!(s.port, p2);
        assert!(s.running);
        assert!(probe::probe(p2, PROBE_TIMEOUT).healthy());
        assert_eq!(probe::probe(p1, PROBE_TIMEOUT), Probe::Free);
        assert!(std::fs::read_to_string(&settings)
            .unwrap()
            .contains(&format!(":{p2}\"")));
        assert!(c
            .save_settings(Settings {
                port: 0,
                ..c.settings()
            })
            .is_err());
        c.shutdown();
    }
}
