//! Every external program the engine runs (systemctl, launchctl, crontab, schtasks, docker,
//! powershell, the detached agent) goes through [`CommandRunner`], so tests can record the exact
//! command lines instead of touching the machine's services.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// A program invocation. `stdin` is fed to the process when set (used for `crontab -`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub stdin: Option<String>,
}

impl Cmd {
    pub fn new<I, S>(program: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            stdin: None,
        }
    }

    pub fn with_stdin(mut self, stdin: impl Into<String>) -> Self {
        self.stdin = Some(stdin.into());
        self
    }

    /// The command as a POSIX shell would type it; used for logs, dry runs and golden files.
    pub fn display(&self) -> String {
        let mut out = crate::render::sh_quote(&self.program);
        for arg in &self.args {
            out.push(' ');
            out.push_str(&crate::render::sh_quote(arg));
        }
        out
    }
}

/// What a finished command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CmdOutput {
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    pub fn ok() -> Self {
        CmdOutput {
            code: Some(0),
            ..Default::default()
        }
    }
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs programs. The real one spawns processes; tests use [`RecordingRunner`].
pub trait CommandRunner: Send + Sync {
    /// Run to completion and capture output. `Err` only when the program could not be started.
    fn run(&self, cmd: &Cmd) -> io::Result<CmdOutput>;
    /// Start a long-lived process detached from our session, stdout/stderr appended to `log`.
    /// Returns its pid.
    fn spawn_detached(&self, cmd: &Cmd, env: &[(String, String)], log: &Path) -> io::Result<u32>;
}

/// Runs real processes.
#[derive(Debug, Default)]
pub struct SystemRunner;

impl CommandRunner for SystemRunner {
    fn run(&self, cmd: &Cmd) -> io::Result<CmdOutput> {
        run_real(cmd)
    }

    fn spawn_detached(&self, cmd: &Cmd, env: &[(String, String)], log: &Path) -> io::Result<u32> {
        if let Some(dir) = log.parent() {
            crate::fsx::create_dir_private(dir).map_err(|e| io::Error::other(e.message))?;
        }
        let log_file = crate::fsx::open_private_append(log)?;
        let mut command = Command::new(&cmd.program);
        command
            .args(&cmd.args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        detach(&mut command);
        // The child handle is dropped on purpose: the agent outlives us and reaps itself.
        let child = command.spawn()?;
        Ok(child.id())
    }
}

#[cfg(unix)]
fn detach(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // Own process group: a Ctrl-C in the terminal that ran `install start` does not reach it.
    command.process_group(0);
}

#[cfg(windows)]
fn detach(command: &mut Command) {
    use std::os::windows::process::CommandExt;
    const DETACHED_PROCESS: u32 = 0x0000_0008;
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    const CREATE_NO_WINDOW: u32 = 0x0800_0000;
    command.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW);
}

#[cfg(not(any(unix, windows)))]
fn detach(_command: &mut Command) {}

fn run_real(cmd: &Cmd) -> io::Result<CmdOutput> {
    let mut command = Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = command.spawn()?;
    if let (Some(input), Some(mut pipe)) = (&cmd.stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    Ok(CmdOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

type Hook = Box<dyn Fn(&Cmd) -> Option<io::Result<CmdOutput>> + Send + Sync>;

/// Records every command instead of running it: the test double for services.
///
/// Rules (documented because the CLI's `HEADROOM_TEST_RUNNER_LOG` hook uses this runner):
/// - a program given by absolute path that exists is really run (so a test can point
///   `HEADROOM_DOCKER` at a fake script); one that does not exist fails with "not found";
/// - any other program (`systemctl`, `launchctl`, `crontab`, `schtasks`, …) is not run and
///   "succeeds" with empty output;
/// - detached spawns are recorded as `spawn <cmd>` and not started.
///
/// Each line is also appended to `log_file` when set.
pub struct RecordingRunner {
    log: Mutex<Vec<String>>,
    log_file: Option<PathBuf>,
    hook: Option<Hook>,
}

impl RecordingRunner {
    pub fn new() -> Self {
        RecordingRunner {
            log: Mutex::new(Vec::new()),
            log_file: None,
            hook: None,
        }
    }

    pub fn with_log_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.log_file = Some(path.into());
        self
    }

    /// Answer some commands differently (e.g. make `systemctl enable` fail). Return `None` to
    /// fall through to the default rules.
    pub fn with_hook(
        mut self,
        hook: impl Fn(&Cmd) -> Option<io::Result<CmdOutput>> + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// Every command recorded so far, one line each.
    pub fn lines(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn record(&self, line: String) {
        if let Some(path) = &self.log_file {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = writeln!(f, "{line}");
            }
        }
        if let Ok(mut log) = self.log.lock() {
            log.push(line);
        }
    }
}

impl Default for RecordingRunner {
    fn default() -> Self {
        Self::new()
    }
}

impl CommandRunner for RecordingRunner {
    fn run(&self, cmd: &Cmd) -> io::Result<CmdOutput> {
        let mut line = cmd.display();
        if let Some(stdin) = &cmd.stdin {
            line.push_str(&format!(" <<< {stdin:?}"));
        }
        self.record(line);
        if let Some(hook) = &self.hook {
            if let Some(answer) = hook(cmd) {
                return answer;
            }
        }
        let program = Path::new(&cmd.program);
        if program.is_absolute() {
            if program.exists() {
                return run_real(cmd);
            }
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} not found", cmd.program),
            ));
        }
        Ok(CmdOutput::ok())
    }

    fn spawn_detached(&self, cmd: &Cmd, _env: &[(String, String)], _log: &Path) -> io::Result<u32> {
        self.record(format!("spawn {}", cmd.display()));
        if let Some(hook) = &self.hook {
            if let Some(answer) = hook(cmd) {
                answer?;
            }
        }
        Ok(0)
    }
}
