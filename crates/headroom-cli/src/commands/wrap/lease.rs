//! Leases tie an ephemeral proxy's lifetime to the tools that use it.
//!
//! Every wrapped tool that uses an ephemeral proxy owns one lease file under
//! `${HEADROOM_WORKSPACE_DIR:-~/.headroom}/wrap/<port>/leases/`. A lease names processes by pid
//! *and* start time, so a recycled pid never keeps a proxy alive: the proxy polls the leases and
//! exits once none is live. Because the lease names the tool's own process (on Unix `wrap`
//! execs into the tool, so they are one process), killing `wrap` with SIGKILL cannot orphan the
//! proxy. A per-port file lock serialises "find or start a proxy" against "the proxy decides to
//! exit", so a second `wrap` either sees a proxy that will stay or starts a fresh one.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use headroom_install::sys;
use serde::{Deserialize, Serialize};

/// `${HEADROOM_WORKSPACE_DIR:-~/.headroom}`.
pub fn workspace_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("HEADROOM_WORKSPACE_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|h| !h.is_empty())
        .context(
            "cannot find the home directory: neither HEADROOM_WORKSPACE_DIR nor HOME is set",
        )?;
    Ok(PathBuf::from(home).join(".headroom"))
}

/// A process named so that pid reuse is detected: the start time must match too (clock ticks
/// since boot from `/proc/<pid>/stat` on Linux; see [`sys::process_start_time`] for macOS and
/// Windows). Where the start time cannot be read it is `None` and only existence is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: u32,
    pub start_time: Option<u64>,
}

impl ProcessId {
    /// This process.
    pub fn current() -> Self {
        let pid = std::process::id();
        ProcessId {
            pid,
            start_time: start_time(pid),
        }
    }

    /// Still running (not a zombie) and the same process that was recorded.
    pub fn is_alive(&self) -> bool {
        if self.pid == 0 || self.pid > i32::MAX as u32 {
            return false;
        }
        if cfg!(target_os = "linux") {
            // One read gives state and start time together.
            return proc_stat(self.pid).is_some_and(|stat| {
                !matches!(stat.state, 'Z' | 'X' | 'x')
                    && self.start_time.is_none_or(|t| t == stat.start_time)
            });
        }
        sys::pid_alive(self.pid)
            && self
                .start_time
                .is_none_or(|t| sys::process_start_time(self.pid) == Some(t))
    }
}

fn start_time(pid: u32) -> Option<u64> {
    if cfg!(target_os = "linux") {
        proc_stat(pid).map(|s| s.start_time)
    } else {
        sys::process_start_time(pid)
    }
}

struct ProcStat {
    state: char,
    start_time: u64,
}

/// Fields 3 (state) and 22 (starttime) of `/proc/<pid>/stat`. The command name (field 2) may
/// contain spaces and parentheses, so fields are counted from the last `)`.
fn proc_stat(pid: u32) -> Option<ProcStat> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start_time })
}

/// One wrapped tool's claim on the proxy: live while any of `holders` runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lease {
    pub holders: Vec<ProcessId>,
    pub tool: String,
    pub created_at: u64,
}

impl Lease {
    pub fn is_live(&self) -> bool {
        self.holders.iter().any(ProcessId::is_alive)
    }
}

/// What an ephemeral proxy records about itself (`wrap/<port>/proxy.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProxyRecord {
    pub process: ProcessId,
    pub port: u16,
    pub runtime: String,
    pub version: String,
    pub started_at: u64,
}

/// The per-port state directory `wrap/<port>/`.
#[derive(Debug, Clone)]
pub struct PortState {
    dir: PathBuf,
}

impl PortState {
    pub fn new(workspace: &Path, port: u16) -> Self {
        PortState {
            dir: workspace.join("wrap").join(port.to_string()),
        }
    }

    /// A state directory `wrap/<name>/` that belongs to a tool rather than a port (`wrap
    /// openclaw`'s sessions, which share one config edit).
    pub fn named(workspace: &Path, name: &str) -> Self {
        PortState {
            dir: workspace.join("wrap").join(name),
        }
    }

    pub fn leases_dir(&self) -> PathBuf {
        self.dir.join("leases")
    }

    pub fn record_path(&self) -> PathBuf {
        self.dir.join("proxy.json")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("proxy.log")
    }

    /// Create the directories, readable by the user only.
    pub fn ensure(&self) -> Result<()> {
        create_private_dir(&self.leases_dir())
    }

    /// Block until this port's lock is ours; it is released when the guard drops.
    pub fn lock(&self) -> Result<PortLock> {
        self.ensure()?;
        let path = self.dir.join("lock");
        let file = open_private(&path, false)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        lock_exclusive(&file).with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(PortLock { _file: file })
    }

    /// Record a lease for `holders`; returns its path.
    pub fn write_lease(&self, tool: &str, holders: Vec<ProcessId>) -> Result<PathBuf> {
        self.ensure()?;
        let first = holders.first().map(|h| h.pid).unwrap_or_default();
        let path = self.leases_dir().join(format!("{first}.json"));
        let lease = Lease {
            holders,
            tool: tool.to_owned(),
            created_at: unix_now(),
        };
        write_json_atomic(&path, &lease)?;
        Ok(path)
    }

    /// Count live leases, deleting dead and unreadable ones (writers rename complete files into
    /// place, so a `.json` lease is never half-written).
    pub fn live_leases(&self) -> usize {
        let Ok(entries) = fs::read_dir(self.leases_dir()) else {
            return 0;
        };
        let mut live = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            match fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Lease>(&b).ok())
            {
                Some(lease) if lease.is_live() => live += 1,
                _ => {
                    let _ = fs::remove_file(&path);
                }
            }
        }
        live
    }

    /// The first holder's pid of every live lease.
    pub fn live_pids(&self) -> Vec<u32> {
        let Ok(entries) = fs::read_dir(self.leases_dir()) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice::<Lease>(&b).ok())
            .filter(Lease::is_live)
            .filter_map(|l| l.holders.first().map(|h| h.pid))
            .collect()
    }

    pub fn read_record(&self) -> Option<ProxyRecord> {
        let bytes = fs::read(self.record_path()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The ephemeral proxy recorded here, if its process still runs.
    pub fn live_record(&self) -> Option<ProxyRecord> {
        self.read_record().filter(|r| r.process.is_alive())
    }

    pub fn write_record(&self, record: &ProxyRecord) -> Result<()> {
        self.ensure()?;
        write_json_atomic(&self.record_path(), record)
    }

    pub fn remove_record(&self) {
        let _ = fs::remove_file(self.record_path());
    }
}

/// Holds the per-port lock; dropping it (or the process dying) releases it.
pub struct PortLock {
    _file: File,
}

/// Blocks until the lock is ours (`flock` on Unix, `LockFileEx` on Windows).
fn lock_exclusive(file: &File) -> std::io::Result<()> {
    sys::lock_file(file, true).map(drop)
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

pub fn create_private_dir(path: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

pub fn open_private(path: &Path, truncate: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).read(true).write(true);
    if truncate {
        options.truncate(true);
    } else {
        options.truncate(false);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Write via a temp file and rename, so readers never see half a file.
fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = open_private(&tmp, true)?;
        serde_json::to_writer(&mut file, value)?;
        file.write_all(b"\n")?;
        Ok(())
    };
    write().with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_process_is_alive_and_a_reused_pid_is_not() {
        let me = ProcessId::current();
        assert!(me.is_alive());
        if cfg!(any(target_os = "linux", target_os = "macos", windows)) {
            assert!(me.start_time.is_some());
            let impostor = ProcessId {
                pid: me.pid,
                start_time: me.start_time.map(|t| t + 1),
            };
            assert!(!impostor.is_alive());
        }
        assert!(!ProcessId {
            pid: 0,
            start_time: None
        }
        .is_alive());
    }

    #[test]
    fn exited_and_zombie_processes_are_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let id = ProcessId {
            pid: child.id(),
            start_time: start_time(child.id()),
        };
        // Not yet reaped: a zombie must already count as dead.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while id.is_alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!id.is_alive());
        child.wait().unwrap();
        assert!(!id.is_alive());
    }

    #[test]
    fn dead_leases_are_pruned_and_live_ones_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let state = PortState::new(tmp.path(), 9999);
        state
            .write_lease("claude", vec![ProcessId::current()])
            .unwrap();
        let dead = state
            .write_lease(
                "codex",
                vec![ProcessId {
                    pid: i32::MAX as u32,
                    start_time: Some(1),
                }],
            )
            .unwrap();
        fs::write(state.leases_dir().join("junk.json"), "{not json").unwrap();
        assert_eq!(state.live_leases(), 1);
        assert!(!dead.exists());
        assert!(!state.leases_dir().join("junk.json").exists());
        let _lock = state.lock().unwrap();
    }
}
