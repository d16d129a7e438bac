//! Everything the engine learns about the machine comes through [`Environment`], so tests run
//! the real engine against a fake HOME, a fake `/` and a recording command runner, in parallel,
//! without touching process-global state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::runner::{CommandRunner, RecordingRunner, SystemRunner};

/// The operating system whose conventions (supervisor, shells, paths) apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsKind {
    Linux,
    Macos,
    Windows,
}

impl OsKind {
    /// The OS this binary was compiled for.
    pub fn native() -> Self {
        if cfg!(target_os = "macos") {
            OsKind::Macos
        } else if cfg!(windows) {
            OsKind::Windows
        } else {
            OsKind::Linux
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OsKind::Linux => "linux",
            OsKind::Macos => "macos",
            OsKind::Windows => "windows",
        }
    }
}

static NEVER_CANCELLED: AtomicBool = AtomicBool::new(false);

/// The machine as the engine sees it. Build with [`Environment::from_process`] in the CLI and
/// [`Environment::for_home`] in tests.
#[derive(Clone)]
pub struct Environment {
    pub os: OsKind,
    pub home: PathBuf,
    /// `${HEADROOM_WORKSPACE_DIR:-~/.headroom}`.
    pub workspace_dir: PathBuf,
    /// Directories searched for tool binaries (`PATH`).
    pub path: Vec<PathBuf>,
    pub uid: u32,
    /// Prefix for system paths (`/etc/...`, `/Library/...`); `/` outside tests.
    pub root: PathBuf,
    /// Whether a systemd user/system manager is available (Linux).
    pub systemd: bool,
    /// Whether cron can be used (a `crontab` command is on PATH). Without systemd and cron,
    /// task deployments are kept up by a shell hook instead.
    pub cron: bool,
    pub runner: Arc<dyn CommandRunner>,
    /// `CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `OPENCODE_CONFIG`, `XDG_CONFIG_HOME`, `ZDOTDIR`.
    pub claude_config_dir: Option<PathBuf>,
    pub codex_home: Option<PathBuf>,
    pub opencode_config: Option<PathBuf>,
    /// OpenClaw's config file when its env moves it (`OPENCLAW_CONFIG_PATH`, else
    /// `openclaw.json` in `OPENCLAW_STATE_DIR`, else in `$OPENCLAW_HOME/.openclaw`); `None`:
    /// `~/.openclaw/openclaw.json`.
    pub openclaw_config: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub zdotdir: Option<PathBuf>,
    /// The `headroom` executable supervisors run (`current_exe()` in the CLI).
    pub headroom_exe: PathBuf,
    /// Docker-compatible CLI (`HEADROOM_DOCKER`, default `docker`).
    pub docker: String,
    /// How long `apply`/`start` wait for `/readyz`; zero skips the wait (test runner only).
    pub ready_timeout: Duration,
    /// Set from a signal handler; the transaction checks it between steps and rolls back.
    pub cancel: &'static AtomicBool,
    /// Other process env the engine forwards (upstream URLs for the docker runtime).
    pub vars: BTreeMap<String, String>,
    /// Test hooks for the kill-9 tests: the engine kills itself with SIGKILL at its n-th
    /// step boundary (`HEADROOM_TEST_CRASH_AT`, 1-based) and sleeps this long at every step
    /// boundary (`HEADROOM_TEST_STEP_DELAY_MS`) so a test can kill it at random moments.
    pub test_crash_at: Option<u32>,
    pub test_step_delay: Duration,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("os", &self.os)
            .field("home", &self.home)
            .field("workspace_dir", &self.workspace_dir)
            .field("root", &self.root)
            .field("uid", &self.uid)
            .field("systemd", &self.systemd)
            .field("cron", &self.cron)
            .finish_non_exhaustive()
    }
}

/// Env vars forwarded into the docker runtime so the container reaches the same upstreams.
pub const FORWARDED_VARS: [&str; 2] = ["ANTHROPIC_TARGET_API_URL", "OPENAI_TARGET_API_URL"];

impl Environment {
    /// A hermetic environment rooted at `home`: Linux, uid 1000, system paths under
    /// `home/../root`-style prefix given by the caller, a [`RecordingRunner`], no waiting.
    pub fn for_home(home: impl Into<PathBuf>, root: impl Into<PathBuf>) -> Self {
        let home = home.into();
        Environment {
            os: OsKind::Linux,
            workspace_dir: home.join(".headroom"),
            path: Vec::new(),
            uid: 1000,
            root: root.into(),
            systemd: true,
            cron: true,
            runner: Arc::new(RecordingRunner::new()),
            claude_config_dir: None,
            codex_home: None,
            opencode_config: None,
            openclaw_config: None,
            xdg_config_home: None,
            zdotdir: None,
            headroom_exe: PathBuf::from("/usr/local/bin/headroom"),
            docker: "docker".to_owned(),
            ready_timeout: Duration::ZERO,
            cancel: &NEVER_CANCELLED,
            vars: BTreeMap::new(),
            test_crash_at: None,
            test_step_delay: Duration::ZERO,
            home,
        }
    }

    /// The real machine, read from the process environment. Test-only hooks (documented in
    /// `docs/persistent-installs.md`): `HEADROOM_TEST_ROOT` (prefix for system paths),
    /// `HEADROOM_TEST_RUNNER_LOG` (record commands to this file instead of running them),
    /// `HEADROOM_TEST_OS` (`linux|macos|windows`), `HEADROOM_TEST_SYSTEMD` (`0|1`),
    /// `HEADROOM_TEST_CRON` (`0|1`),
    /// `HEADROOM_TEST_UID`, `HEADROOM_TEST_READY_TIMEOUT_MS`, `HEADROOM_TEST_CRASH_AT`,
    /// `HEADROOM_TEST_STEP_DELAY_MS`.
    pub fn from_process(cancel: &'static AtomicBool) -> Self {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let home = var("HOME")
            .or_else(|| var("USERPROFILE"))
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        let workspace_dir = var("HEADROOM_WORKSPACE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".headroom"));
        let path: Vec<PathBuf> = var("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        let test_root = var("HEADROOM_TEST_ROOT").map(PathBuf::from);
        let runner_log = var("HEADROOM_TEST_RUNNER_LOG").map(PathBuf::from);
        let os = match std::env::var("HEADROOM_TEST_OS").ok().as_deref() {
            Some("linux") => OsKind::Linux,
            Some("macos") => OsKind::Macos,
            Some("windows") => OsKind::Windows,
            _ => OsKind::native(),
        };
        let root = test_root.unwrap_or_else(|| PathBuf::from("/"));
        let systemd = match std::env::var("HEADROOM_TEST_SYSTEMD").ok().as_deref() {
            Some("1") => true,
            Some("0") => false,
            _ => os == OsKind::Linux && Path::new("/run/systemd/system").is_dir(),
        };
        let cron = match std::env::var("HEADROOM_TEST_CRON").ok().as_deref() {
            Some("1") => true,
            Some("0") => false,
            _ => path.iter().any(|d| d.join("crontab").is_file()),
        };
        let uid = std::env::var("HEADROOM_TEST_UID")
            .ok()
            .and_then(|u| u.parse().ok())
            .unwrap_or_else(crate::sys::current_uid);
        let recording = runner_log.is_some();
        let headroom_exe = stable_exe(&path);
        let runner: Arc<dyn CommandRunner> = match runner_log {
            Some(log) => Arc::new(RecordingRunner::new().with_log_file(log)),
            None => Arc::new(SystemRunner),
        };
        let ready_timeout = std::env::var("HEADROOM_TEST_READY_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
            .unwrap_or(if recording {
                Duration::ZERO
            } else {
                Duration::from_secs(45)
            });
        // Upstream URLs for the docker runtime; the Windows account for per-user tasks.
        let vars = FORWARDED_VARS
            .iter()
            .chain(&["USERNAME", "USERDOMAIN"])
            .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
            .collect();
        Environment {
            os,
            workspace_dir,
            path,
            uid,
            root,
            systemd,
            cron,
            runner,
            claude_config_dir: var("CLAUDE_CONFIG_DIR").map(PathBuf::from),
            codex_home: var("CODEX_HOME").map(PathBuf::from),
            opencode_config: var("OPENCODE_CONFIG").map(PathBuf::from),
            openclaw_config: openclaw_config_from(&var, &home),
            xdg_config_home: var("XDG_CONFIG_HOME").map(PathBuf::from),
            zdotdir: var("ZDOTDIR").map(PathBuf::from),
            headroom_exe,
            docker: std::env::var("HEADROOM_DOCKER")
                .ok()
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| "docker".to_owned()),
            ready_timeout,
            cancel,
            vars,
            test_crash_at: std::env::var("HEADROOM_TEST_CRASH_AT")
                .ok()
                .and_then(|v| v.parse().ok()),
            test_step_delay: std::env::var("HEADROOM_TEST_STEP_DELAY_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .map(Duration::from_millis)
                .unwrap_or(Duration::ZERO),
            home,
        }
    }

    pub fn is_root(&self) -> bool {
        self.uid == 0
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// `${workspace}/deploy`.
    pub fn deploy_root(&self) -> PathBuf {
        self.workspace_dir.join("deploy")
    }

    pub fn profile_dir(&self, profile: &str) -> PathBuf {
        self.deploy_root().join(profile)
    }

    pub fn manifest_path(&self, profile: &str) -> PathBuf {
        self.profile_dir(profile).join("manifest.json")
    }

    /// A system path such as `/etc/profile.d/headroom.sh`, under the root prefix.
    pub fn system_path(&self, absolute: &str) -> PathBuf {
        self.root.join(absolute.trim_start_matches('/'))
    }

    /// `$XDG_CONFIG_HOME` or `~/.config`.
    pub fn config_home(&self) -> PathBuf {
        self.xdg_config_home
            .clone()
            .unwrap_or_else(|| self.home.join(".config"))
    }

    /// The first `name` on PATH that is an executable file.
    pub fn find_binary(&self, name: &str) -> Option<PathBuf> {
        if Path::new(name).is_absolute() {
            return Path::new(name).is_file().then(|| PathBuf::from(name));
        }
        let candidates: Vec<String> = if self.os == OsKind::Windows {
            vec![
                format!("{name}.exe"),
                format!("{name}.cmd"),
                name.to_owned(),
            ]
        } else {
            vec![name.to_owned()]
        };
        self.path.iter().find_map(|dir| {
            candidates
                .iter()
                .map(|c| dir.join(c))
                .find(|p| is_executable(p))
        })
    }
}

/// The executable supervisors should run: the `headroom` on PATH when it is this very binary
/// (a stable symlink such as `~/.cargo/bin/headroom` survives upgrades that move the real file),
/// else `current_exe()`.
fn stable_exe(path: &[PathBuf]) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("headroom"));
    let real = std::fs::canonicalize(&exe).ok();
    let name = if cfg!(windows) {
        "headroom.exe"
    } else {
        "headroom"
    };
    path.iter()
        .map(|d| d.join(name))
        .find(|p| is_executable(p) && real.is_some() && std::fs::canonicalize(p).ok() == real)
        .unwrap_or(exe)
}

fn is_executable(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                meta.permissions().mode() & 0o111 != 0
            }
            #[cfg(not(unix))]
            {
                true
            }
        }
        _ => false,
    }
}

/// Where OpenClaw reads its config when its env moves it, in its own order
/// (`src/config/paths.ts` of the `openclaw` package): `OPENCLAW_CONFIG_PATH`, else
/// `openclaw.json` in `OPENCLAW_STATE_DIR`, else in `$OPENCLAW_HOME/.openclaw`. A leading `~`
/// is the user's home, as OpenClaw expands it. `None`: the default `~/.openclaw/openclaw.json`.
pub fn openclaw_config_from(
    var: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    home: &Path,
) -> Option<PathBuf> {
    let expand = |v: std::ffi::OsString| -> PathBuf {
        let s = v.to_string_lossy();
        let s = s.trim();
        match s.strip_prefix("~") {
            Some("") => home.to_path_buf(),
            Some(rest) if rest.starts_with('/') || rest.starts_with('\\') => home.join(&rest[1..]),
            _ => PathBuf::from(s),
        }
    };
    let set = |k: &str| var(k).filter(|v| !v.to_string_lossy().trim().is_empty());
    if let Some(p) = set("OPENCLAW_CONFIG_PATH") {
        return Some(expand(p));
    }
    if let Some(d) = set("OPENCLAW_STATE_DIR") {
        return Some(expand(d).join("openclaw.json"));
    }
    set("OPENCLAW_HOME").map(|h| expand(h).join(".openclaw").join("openclaw.json"))
}
