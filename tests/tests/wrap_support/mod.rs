//! Shared fixtures for the `wrap_*` end-to-end tests: the real `headroom` binary, a fake HOME
//! and workspace in a temp dir, fake tool executables on a temp PATH, and process helpers.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `headroom` binary, built once per test binary so the tests never run a stale one.
/// `HEADROOM_BIN` overrides it (e.g. to test a release build).
pub fn headroom_bin() -> &'static Path {
    // A failed build is remembered, so the other tests fail fast instead of rebuilding.
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let bin = BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("HEADROOM_BIN") {
            return Ok(PathBuf::from(bin));
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        // target/<profile>/deps/<test> -> target/<profile>/headroom, built with the same profile.
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap();
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_owned(),
            Some("release") => "release".to_owned(),
            Some(other) => other.to_owned(),
        };
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "headroom-cli",
                "--bin",
                "headroom",
            ])
            .args(["--profile", &profile])
            .current_dir(root)
            .status()
            .map_err(|e| format!("cannot run cargo to build the headroom binary: {e}"))?;
        if !status.success() {
            return Err("building the headroom binary failed".to_owned());
        }
        let bin = profile_dir.join("headroom");
        if !bin.exists() {
            return Err(format!("{} not found", bin.display()));
        }
        Ok(bin)
    });
    match bin {
        Ok(bin) => bin,
        Err(e) => panic!("{e}"),
    }
}

/// A throwaway world: HOME, HEADROOM_WORKSPACE_DIR and a PATH dir for fake tools.
pub struct World {
    pub tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub workspace: PathBuf,
    pub bin: PathBuf,
    pub out: PathBuf,
}

impl World {
    pub fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let workspace = tmp.path().join("ws");
        let bin = tmp.path().join("bin");
        let out = tmp.path().join("out");
        for d in [&home, &workspace, &bin, &out] {
            std::fs::create_dir_all(d).unwrap();
        }
        World {
            tmp,
            home,
            workspace,
            bin,
            out,
        }
    }

    /// A fake tool: records its args (one per line), its env and (last) its pid into
    /// `out/<name>.*`, waits until `out/<name>.release` exists when `WAIT` is set, then
    /// exits with `$EXIT` (default 0).
    pub fn fake_tool(&self, name: &str) {
        let script = format!(
            r#"#!/bin/sh
out="{out}/{name}"
: > "$out.args"
for a in "$@"; do printf '%s\n' "$a" >> "$out.args"; done
env | sort > "$out.env"
echo "$#" > "$out.argc"
# Last and atomic: tests wait for the pid file, then read the rest.
echo $$ > "$out.pid.tmp" && mv "$out.pid.tmp" "$out.pid"
if [ -n "$WAIT" ]; then
  while [ ! -e "$out.release" ]; do sleep 0.02; done
fi
echo done > "$out.done"
exit ${{EXIT:-0}}
"#,
            out = self.out.display()
        );
        let path = self.bin.join(name);
        std::fs::write(&path, script).unwrap();
        make_executable(&path);
    }

    pub fn read_out(&self, file: &str) -> String {
        std::fs::read_to_string(self.out.join(file)).unwrap_or_default()
    }

    pub fn wait_out(&self, file: &str) -> String {
        let path = self.out.join(file);
        wait_until(
            Duration::from_secs(20),
            || path.exists(),
            &format!("{file} to appear"),
        );
        // The writer may still be mid-write; the files are tiny, so a moment is plenty.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if !text.is_empty() || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn release(&self, name: &str) {
        std::fs::write(self.out.join(format!("{name}.release")), "").unwrap();
    }

    /// The tool's env as a map.
    pub fn tool_env(&self, name: &str) -> std::collections::BTreeMap<String, String> {
        self.read_out(&format!("{name}.env"))
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// `headroom <args>` with a clean env: only our PATH, HOME and workspace.
    pub fn headroom<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(headroom_bin());
        cmd.args(args)
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.display()),
            )
            .env("HOME", &self.home)
            .env("HEADROOM_WORKSPACE_DIR", &self.workspace)
            .env("HEADROOM_LOG", "info")
            .current_dir(self.tmp.path())
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.headroom(args).output().unwrap()
    }

    pub fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        let mut cmd = self.headroom(args);
        cmd.envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().unwrap()
    }

    pub fn port_dir(&self, port: u16) -> PathBuf {
        self.workspace.join("wrap").join(port.to_string())
    }

    /// The pid recorded by the ephemeral proxy on `port`, if any.
    pub fn proxy_pid(&self, port: u16) -> Option<u32> {
        let text = std::fs::read_to_string(self.port_dir(port).join("proxy.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v["process"]["pid"].as_u64().map(|p| p as u32)
    }

    /// Write a deployment manifest the way the install engine lays it out.
    pub fn write_manifest(&self, profile: &str, port: u16, targets: &[&str]) -> PathBuf {
        let dir = self.workspace.join("deploy").join(profile);
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = serde_json::json!({
            "schema_version": 1,
            "profile": profile,
            "preset": "persistent-service",
            "runtime_kind": "native",
            "supervisor_kind": "service",
            "scope": "user",
            "targets": targets,
            "port": port,
            "host": "127.0.0.1",
            "health_url": format!("http://127.0.0.1:{port}/readyz"),
        });
        let path = dir.join("manifest.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
        path
    }
}

pub fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn port_is_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// `GET /health` as JSON, or `None` when nothing (or no Headroom) answers.
pub fn health(port: u16) -> Option<serde_json::Value> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let body = text.split_once("\r\n\r\n")?.1;
    serde_json::from_str(body).ok()
}

/// Running and not a zombie (orphans may wait a while for init to reap them).
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .unwrap_or("X");
            !matches!(state, "Z" | "X")
        }
        Err(_) => false,
    }
}

pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool, what: &str) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A real Headroom proxy served in-process on `port`, optionally tagged as a deployment (the
/// way the install engine's agent or the desktop app runs it).
pub struct RealProxy {
    handle: Option<headroom_proxy::ProxyHandle>,
    rt: tokio::runtime::Runtime,
}

impl RealProxy {
    /// A real proxy on `port` that publishes its instance key in `world`'s workspace, as every
    /// Headroom proxy does in the user's.
    pub fn start(world: &World, port: u16, profile: Option<&str>) -> RealProxy {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let config = headroom_proxy::Config {
            port,
            deployment: Some(headroom_proxy::Deployment {
                profile: profile.map(str::to_owned),
                preset: profile.map(|_| "persistent-service".to_owned()),
                runtime: profile.map(|_| "native".to_owned()),
                supervisor: profile.map(|_| "service".to_owned()),
                scope: profile.map(|_| "user".to_owned()),
            }),
            workspace: Some(world.workspace.clone()),
            ..headroom_proxy::Config::default()
        };
        let handle = rt.block_on(headroom_proxy::start(config)).unwrap();
        RealProxy {
            handle: Some(handle),
            rt,
        }
    }
}

impl Drop for RealProxy {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.rt.block_on(handle.shutdown(Duration::from_secs(1)));
        }
    }
}

/// A pinned real client installed by `scripts/setup.sh test` under `.ci/` (never on PATH);
/// `path` is relative to `.ci/` (`clients/node_modules/.bin/claude`, `.aider/bin/aider`).
pub fn pinned_client(path: &str, what: &str) -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.ci")
        .join(path);
    assert!(
        bin.exists(),
        "the pinned {what} is missing at {}; run `scripts/setup.sh test` (it installs the pinned clients under .ci/)",
        bin.display()
    );
    bin
}

/// `cmd.output()` off the async runtime (the mock upstream runs on it).
pub async fn output_of(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// The POSTs a real client sent through Headroom to `mock`, once it is checked that the client
/// exited 0, reached the mock at all, and sent its own credential (`header: value`) each time.
pub fn posts_with_credential(
    client: &str,
    out: &Output,
    mock: &headroom_testkit::MockUpstream,
    (header, value): (&str, &str),
) -> Vec<headroom_testkit::Recorded> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{client} exited {:?}: {stdout}\n{stderr}",
        out.status.code()
    );
    let posts: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert!(
        !posts.is_empty(),
        "{client} never reached Headroom: {stdout}\n{stderr}"
    );
    for r in &posts {
        assert_eq!(
            r.header(header).as_deref(),
            Some(value),
            "{} without {client}'s credential",
            r.path
        );
    }
    posts
}

/// A bulky real output for tool-loop tests: this repository's function definitions.
pub fn grep_this_repo() -> String {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    format!(
        "grep -rn 'fn ' {}/crates --include=*.rs | sort | head -c 24000",
        repo.canonicalize().unwrap().display()
    )
}

/// The install engine's provider-scope edit for `tool` (what `install apply --scope provider`
/// and the app write), applied for real to the world's fake HOME, pointing at `port`.
pub fn apply_provider_scope(world: &World, tool: headroom_install::targets::Tool, port: u16) {
    let env = headroom_install::Environment::for_home(&world.home, world.tmp.path().join("root"));
    let desired = [(tool, headroom_install::Scope::Provider)]
        .into_iter()
        .collect();
    let plan = headroom_install::wiring::plan(
        &env,
        "e2e",
        &headroom_install::wiring::Wiring::default(),
        &desired,
        true,
        port,
    )
    .unwrap();
    headroom_install::wiring::apply(&env, &plan).unwrap();
}
