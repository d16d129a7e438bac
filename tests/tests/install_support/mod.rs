//! Fixtures for the `install_*` end-to-end tests: the real `headroom` binary run against a fake
//! HOME and a fake `/` in a temp dir, with the test-only hooks that keep it off the machine:
//! `HEADROOM_TEST_ROOT` (system paths), `HEADROOM_TEST_RUNNER_LOG` (record service commands
//! instead of running them), `HEADROOM_TEST_SYSTEMD`, and a PATH whose `systemctl`, `crontab`,
//! `launchctl`, `schtasks` and `docker` are fakes that only log — so even a bug cannot reach the
//! real services.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn headroom_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("HEADROOM_BIN") {
            return PathBuf::from(bin);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "headroom-cli",
                "--bin",
                "headroom",
            ])
            .current_dir(root)
            .status()
            .expect("cannot run cargo to build the headroom binary");
        assert!(status.success(), "building the headroom binary failed");
        let exe = std::env::current_exe().unwrap();
        let bin = exe.parent().unwrap().parent().unwrap().join("headroom");
        assert!(bin.exists(), "{} not found", bin.display());
        bin
    })
}

pub struct World {
    pub tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub root: PathBuf,
    pub bin: PathBuf,
    pub runner_log: PathBuf,
    /// Extra env for every command.
    pub env: Vec<(String, String)>,
}

const FAKE_TOOLS: [&str; 5] = ["systemctl", "crontab", "launchctl", "schtasks", "docker"];

impl World {
    pub fn new() -> World {
        let tmp = tempfile::Builder::new()
            .prefix("hr-install-")
            .tempdir()
            .unwrap();
        let home = tmp.path().join("home");
        let root = tmp.path().join("root");
        let bin = tmp.path().join("bin");
        for d in [&home, &root, &bin] {
            std::fs::create_dir_all(d).unwrap();
        }
        let runner_log = tmp.path().join("runner.log");
        let w = World {
            tmp,
            home,
            root,
            bin,
            runner_log,
            env: Vec::new(),
        };
        for name in FAKE_TOOLS {
            w.fake_bin(
                name,
                &format!(
                    "echo \"{name} $*\" >> '{}/real-calls.log'\nexit 1",
                    w.tmp.path().display()
                ),
            );
        }
        w
    }

    pub fn fake_bin(&self, name: &str, body: &str) -> PathBuf {
        let p = self.bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.home.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.home.join(rel)).unwrap()
    }

    /// A `headroom` command with the fake HOME, root, PATH and the recording runner.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut c = Command::new(headroom_bin());
        c.args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .env("HEADROOM_TEST_ROOT", &self.root)
            .env("HEADROOM_TEST_RUNNER_LOG", &self.runner_log)
            .env("HEADROOM_TEST_SYSTEMD", "1")
            .env("HEADROOM_TEST_OS", "linux")
            .env("HEADROOM_TEST_UID", "1000")
            .current_dir(self.tmp.path());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Normalise temp paths for goldens.
    pub fn norm(&self, s: &str) -> String {
        s.replace(&self.tmp.path().to_string_lossy().to_string(), "$TMP")
            .replace(&headroom_bin().to_string_lossy().to_string(), "$HEADROOM")
    }

    pub fn runner_lines(&self) -> String {
        self.norm(&std::fs::read_to_string(&self.runner_log).unwrap_or_default())
    }

    /// Calls that reached the PATH fakes (must stay empty: nothing real is ever run).
    pub fn real_calls(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("real-calls.log")).unwrap_or_default()
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Every entry under `dir` with kind, mode and bytes (symlinks by target).
pub fn snapshot(dir: &Path) -> Vec<(String, String, u32, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, String, u32, Vec<u8>)>) {
        use std::os::unix::fs::PermissionsExt;
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let mode = meta.permissions().mode();
            if meta.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.push((
                    rel,
                    "link".into(),
                    mode,
                    t.to_string_lossy().as_bytes().to_vec(),
                ));
            } else if meta.is_dir() {
                out.push((rel, "dir".into(), mode, Vec::new()));
                walk(base, &p, out);
            } else {
                out.push((rel, "file".into(), mode, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Compare with `tests/tests/install_golden/<name>`; `UPDATE_GOLDEN=1` rewrites it.
pub fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/install_golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden {}; run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(
        actual, expected,
        "golden {name} differs (UPDATE_GOLDEN=1 to accept)"
    );
}

pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `GET /path` on loopback → (status, JSON body).
pub fn get(port: u16, path: &str) -> Option<(u16, serde_json::Value)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((
        code,
        serde_json::from_str(body.trim()).unwrap_or(serde_json::Value::Null),
    ))
}

pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}
