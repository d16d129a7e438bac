//! Keeping the proxy alive across logins and crashes, per OS. Every backend is a pure renderer
//! (unit files, plists, task XML, exact command lines) compiled on every OS and golden-tested;
//! the engine executes what they return through the [`CommandRunner`](crate::CommandRunner).
//!
//! | backend | preset | what the OS runs |
//! |---|---|---|
//! | [`Systemd`] service | service, Linux | `headroom install agent run` (`Restart=on-failure`) |
//! | [`Systemd`] timer | task, Linux with systemd | `agent ensure` 30 s after start + every 5 min |
//! | [`Cron`] | task, Linux without systemd | `agent ensure` `@reboot` + every 5 min |
//! | [`Launchd`] | service (`KeepAlive`) / task (`StartInterval 300`), macOS | agent run / ensure |
//! | [`TaskScheduler`] | both, Windows | per-user logon task (+ 5 min repetition for task); no admin |
//! | [`Docker`] | docker, any OS | `docker run -d --restart unless-stopped` |

use std::path::{Path, PathBuf};

use crate::env::OsKind;
use crate::render::{cron_word, systemd_env, systemd_word, windows_arg, xml_escape};
use crate::runner::Cmd;

/// Everything a backend needs to render; built by the planner from the request + environment.
#[derive(Debug, Clone)]
pub struct Spec {
    pub profile: String,
    pub os: OsKind,
    /// System-wide registration (system scope).
    pub system: bool,
    pub uid: u32,
    pub exe: PathBuf,
    pub workspace_dir: PathBuf,
    /// `$XDG_CONFIG_HOME` or `~/.config`.
    pub config_home: PathBuf,
    pub home: PathBuf,
    /// Prefix for system paths.
    pub root: PathBuf,
    pub port: u16,
    /// Windows `DOMAIN\user` for the per-user logon trigger.
    pub windows_user: String,
    /// Docker CLI, image and the env passed into the container.
    pub docker: String,
    pub image: String,
    pub container_env: Vec<(String, String)>,
}

impl Spec {
    pub fn service_name(&self) -> String {
        format!("headroom-{}", self.profile)
    }
    pub fn label(&self) -> String {
        format!("com.headroom.{}", self.profile)
    }
    pub fn profile_dir(&self) -> PathBuf {
        self.workspace_dir.join("deploy").join(&self.profile)
    }
    /// `headroom install agent <what> --profile P --workspace-dir W`.
    pub fn agent_argv(&self, what: &str) -> Vec<String> {
        agent_argv(&self.exe, &self.profile, &self.workspace_dir, what)
    }
    fn sys(&self, absolute: &str) -> PathBuf {
        self.root.join(absolute.trim_start_matches('/'))
    }
}

/// `<exe> install agent <what> --profile P --workspace-dir W`: the one command line every
/// supervisor (and a detached agent) runs.
pub(crate) fn agent_argv(
    exe: &Path,
    profile: &str,
    workspace_dir: &Path,
    what: &str,
) -> Vec<String> {
    vec![
        exe.to_string_lossy().into_owned(),
        "install".to_owned(),
        "agent".to_owned(),
        what.to_owned(),
        "--profile".to_owned(),
        profile.to_owned(),
        "--workspace-dir".to_owned(),
        workspace_dir.to_string_lossy().into_owned(),
    ]
}

/// One command, and whether its failure is acceptable (e.g. "already stopped").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub cmd: Cmd,
    pub ignore_failure: bool,
}

/// An operation the engine executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Run(Step),
    /// Replace (or with `None` remove) the block between `# >>> marker >>>` lines in the
    /// user's crontab, via `crontab -l` / `crontab -`.
    Crontab {
        marker: String,
        block: Option<String>,
    },
}

impl Op {
    fn run<I, S>(program: impl Into<String>, args: I) -> Op
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Op::Run(Step {
            cmd: Cmd::new(program, args),
            ignore_failure: false,
        })
    }
    fn run_lenient<I, S>(program: impl Into<String>, args: I) -> Op
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Op::Run(Step {
            cmd: Cmd::new(program, args),
            ignore_failure: true,
        })
    }
    /// One line for dry runs and golden files.
    pub fn display(&self) -> String {
        match self {
            Op::Run(step) => {
                let mut s = step.cmd.display();
                if step.ignore_failure {
                    s.push_str("   # failure ignored");
                }
                s
            }
            Op::Crontab { marker, block } => match block {
                Some(_) => format!("crontab: add block `{marker}`"),
                None => format!("crontab: remove block `{marker}`"),
            },
        }
    }
}

/// A file a backend renders in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub kind: &'static str,
    pub path: PathBuf,
    pub content: String,
    pub mode: u32,
}

/// One supervisor backend: pure functions from a [`Spec`] to files and operations.
pub trait Supervisor {
    /// Short name shown in status (`systemd`, `cron`, `launchd`, `task-scheduler`, `docker`).
    fn name(&self) -> &'static str;
    fn files(&self, spec: &Spec) -> Vec<RenderedFile>;
    /// Run after the files are written, to make the OS pick them up.
    fn register(&self, spec: &Spec) -> Vec<Op>;
    /// Run before the files are deleted.
    fn unregister(&self, spec: &Spec) -> Vec<Op>;
    /// Run after the files are deleted (e.g. `daemon-reload`).
    fn after_unregister(&self, _spec: &Spec) -> Vec<Op> {
        Vec::new()
    }
    /// Start the runtime through the supervisor. Empty = the engine starts the agent itself.
    fn start(&self, spec: &Spec) -> Vec<Op>;
    fn stop(&self, spec: &Spec) -> Vec<Op>;
    fn restart(&self, spec: &Spec) -> Vec<Op> {
        let mut ops = self.stop(spec);
        ops.extend(self.start(spec));
        ops
    }
    /// What keeps the deployment running, in one line for `apply` and `status`.
    fn entry(&self, spec: &Spec) -> String;
}

const ENSURE_EVERY: &str = "runs `headroom install agent ensure`";

/// systemd user (or, with system scope, system) units.
#[derive(Debug, Clone, Copy)]
pub struct Systemd {
    /// `true` = watchdog timer (task preset), `false` = long-running service.
    pub timer: bool,
}

impl Systemd {
    fn unit_dir(&self, spec: &Spec) -> PathBuf {
        if spec.system {
            spec.sys("/etc/systemd/system")
        } else {
            spec.config_home.join("systemd/user")
        }
    }
    fn systemctl(&self, spec: &Spec, args: &[&str]) -> Vec<String> {
        let mut v = Vec::new();
        if !spec.system {
            v.push("--user".to_owned());
        }
        v.extend(args.iter().map(|s| (*s).to_owned()));
        v
    }
    fn unit(&self, spec: &Spec) -> String {
        if self.timer {
            format!("{}-ensure.timer", spec.service_name())
        } else {
            format!("{}.service", spec.service_name())
        }
    }
    /// `systemctl [--user] <verb> <service>`; nothing for the timer, whose oneshot starts a
    /// detached agent the engine manages itself.
    fn service_op(&self, spec: &Spec, verb: &str, ignore_failure: bool) -> Vec<Op> {
        if self.timer {
            return Vec::new();
        }
        let args = self.systemctl(spec, &[verb, &self.unit(spec)]);
        vec![if ignore_failure {
            Op::run_lenient("systemctl", args)
        } else {
            Op::run("systemctl", args)
        }]
    }
}

fn exec_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| systemd_word(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The systemd service unit that runs `agent run`.
pub fn render_systemd_service(spec: &Spec) -> String {
    let wanted = if spec.system {
        "multi-user.target"
    } else {
        "default.target"
    };
    format!(
        "# Written by `headroom install` (profile {profile}); `headroom install remove` deletes it.\n\
[Unit]\n\
Description=Headroom proxy (profile {profile})\n\
After=network.target\n\
\n\
[Service]\n\
Type=simple\n\
ExecStart={exec}\n\
Environment={env}\n\
Restart=on-failure\n\
RestartSec=5\n\
# One descriptor per client and upstream connection; the proxy also raises its own soft limit.\n\
LimitNOFILE=65536\n\
\n\
[Install]\n\
WantedBy={wanted}\n",
        profile = spec.profile,
        exec = exec_line(&spec.agent_argv("run")),
        env = systemd_env("HEADROOM_WORKSPACE_DIR", &spec.workspace_dir.to_string_lossy()),
    )
}

/// The oneshot service + timer pair that runs `agent ensure` (task preset).
pub fn render_systemd_timer(spec: &Spec) -> (String, String) {
    let service = format!(
        "# Written by `headroom install` (profile {profile}); `headroom install remove` deletes it.\n\
[Unit]\n\
Description=Headroom watchdog (profile {profile})\n\
\n\
[Service]\n\
Type=oneshot\n\
ExecStart={exec}\n\
# The watchdog starts a detached agent that must outlive this oneshot.\n\
KillMode=process\n",
        profile = spec.profile,
        exec = exec_line(&spec.agent_argv("ensure")),
    );
    let timer = format!(
        "# Written by `headroom install` (profile {profile}); `headroom install remove` deletes it.\n\
[Unit]\n\
Description=Headroom watchdog schedule (profile {profile})\n\
\n\
[Timer]\n\
OnStartupSec=30\n\
OnUnitActiveSec=5min\n\
\n\
[Install]\n\
WantedBy=timers.target\n",
        profile = spec.profile,
    );
    (service, timer)
}

impl Supervisor for Systemd {
    fn entry(&self, spec: &Spec) -> String {
        let scope = if spec.system { "system" } else { "user" };
        if self.timer {
            format!(
                "systemd {scope} timer {}-ensure.timer ({ENSURE_EVERY} 30 s after start, then every 5 min)",
                spec.service_name()
            )
        } else {
            format!(
                "systemd {scope} service {}.service (started at {}, restarted on failure)",
                spec.service_name(),
                if spec.system { "boot" } else { "login" }
            )
        }
    }
    fn name(&self) -> &'static str {
        if self.timer {
            "systemd-timer"
        } else {
            "systemd"
        }
    }
    fn files(&self, spec: &Spec) -> Vec<RenderedFile> {
        let dir = self.unit_dir(spec);
        if self.timer {
            let (service, timer) = render_systemd_timer(spec);
            vec![
                RenderedFile {
                    kind: "systemd-unit",
                    path: dir.join(format!("{}-ensure.service", spec.service_name())),
                    content: service,
                    mode: 0o644,
                },
                RenderedFile {
                    kind: "systemd-timer",
                    path: dir.join(format!("{}-ensure.timer", spec.service_name())),
                    content: timer,
                    mode: 0o644,
                },
            ]
        } else {
            vec![RenderedFile {
                kind: "systemd-unit",
                path: dir.join(format!("{}.service", spec.service_name())),
                content: render_systemd_service(spec),
                mode: 0o644,
            }]
        }
    }
    fn register(&self, spec: &Spec) -> Vec<Op> {
        let mut ops = vec![
            Op::run("systemctl", self.systemctl(spec, &["daemon-reload"])),
            Op::run(
                "systemctl",
                self.systemctl(spec, &["enable", &self.unit(spec)]),
            ),
        ];
        if self.timer {
            ops.push(Op::run(
                "systemctl",
                self.systemctl(spec, &["start", &self.unit(spec)]),
            ));
        }
        ops
    }
    fn unregister(&self, spec: &Spec) -> Vec<Op> {
        vec![Op::run_lenient(
            "systemctl",
            self.systemctl(spec, &["disable", "--now", &self.unit(spec)]),
        )]
    }
    fn after_unregister(&self, spec: &Spec) -> Vec<Op> {
        vec![Op::run_lenient(
            "systemctl",
            self.systemctl(spec, &["daemon-reload"]),
        )]
    }
    fn start(&self, spec: &Spec) -> Vec<Op> {
        self.service_op(spec, "start", false)
    }
    fn stop(&self, spec: &Spec) -> Vec<Op> {
        self.service_op(spec, "stop", true)
    }
    fn restart(&self, spec: &Spec) -> Vec<Op> {
        self.service_op(spec, "restart", false)
    }
}

/// crontab watchdog for Linux without systemd (user crontab, or `/etc/cron.d` for system).
#[derive(Debug, Clone, Copy)]
pub struct Cron;

/// `agent ensure` quoted for a crontab line.
fn cron_command(spec: &Spec) -> String {
    spec.agent_argv("ensure")
        .iter()
        .map(|a| cron_word(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The user crontab block (between `# >>> headroom <profile> >>>` markers).
pub fn render_cron_block(spec: &Spec) -> String {
    let cmd = cron_command(spec);
    format!(
        "# >>> headroom {p} >>>\n@reboot {cmd} >/dev/null 2>&1\n*/5 * * * * {cmd} >/dev/null 2>&1\n# <<< headroom {p} <<<\n",
        p = spec.profile
    )
}

impl Supervisor for Cron {
    fn entry(&self, spec: &Spec) -> String {
        if spec.system {
            format!(
                "cron file /etc/cron.d/{} ({ENSURE_EVERY} at boot and every 5 min)",
                spec.service_name()
            )
        } else {
            format!(
                "crontab block `# >>> headroom {} >>>` ({ENSURE_EVERY} at reboot and every 5 min)",
                spec.profile
            )
        }
    }
    fn name(&self) -> &'static str {
        "cron"
    }
    fn files(&self, spec: &Spec) -> Vec<RenderedFile> {
        if !spec.system {
            return Vec::new();
        }
        let cmd = cron_command(spec);
        vec![RenderedFile {
            kind: "cron",
            path: spec.sys(&format!("/etc/cron.d/{}", spec.service_name())),
            content: format!(
                "# Written by `headroom install` (profile {p}); `headroom install remove` deletes it.\n@reboot root {cmd} >/dev/null 2>&1\n*/5 * * * * root {cmd} >/dev/null 2>&1\n",
                p = spec.profile
            ),
            mode: 0o644,
        }]
    }
    fn register(&self, spec: &Spec) -> Vec<Op> {
        if spec.system {
            return Vec::new();
        }
        vec![Op::Crontab {
            marker: format!("headroom {}", spec.profile),
            block: Some(render_cron_block(spec)),
        }]
    }
    fn unregister(&self, spec: &Spec) -> Vec<Op> {
        if spec.system {
            return Vec::new();
        }
        vec![Op::Crontab {
            marker: format!("headroom {}", spec.profile),
            block: None,
        }]
    }
    fn start(&self, _spec: &Spec) -> Vec<Op> {
        Vec::new()
    }
    fn stop(&self, _spec: &Spec) -> Vec<Op> {
        Vec::new()
    }
}

/// No systemd and no cron (containers, devcontainers, WSL without systemd): the deployment's
/// managed shell block runs `agent ensure` in the background whenever a shell starts, so a new
/// login or terminal after a reboot brings the proxy back. The block is a recorded, reversible
/// edit of the shell startup files (see [`shell_hook`]); the engine starts and stops the agent
/// itself, as for cron.
#[derive(Debug, Clone, Copy)]
pub struct ShellHook;

/// The line the managed shell block runs for `shell`: `agent ensure`, detached and silent, only
/// when the binary is still there (a removed binary must not break the user's shell).
pub fn shell_hook(spec: &Spec, shell: crate::edits::Shell) -> Option<String> {
    use crate::edits::Shell;
    let argv = spec.agent_argv("ensure");
    let exe = argv.first()?.clone();
    match shell {
        Shell::Posix => {
            let cmd: Vec<String> = argv.iter().map(|a| crate::render::sh_quote(a)).collect();
            Some(format!(
                "if [ -x {exe} ]; then ( {cmd} >/dev/null 2>&1 & ); fi",
                exe = crate::render::sh_quote(&exe),
                cmd = cmd.join(" ")
            ))
        }
        Shell::Fish => {
            let cmd: Vec<String> = argv.iter().map(|a| crate::render::fish_quote(a)).collect();
            Some(format!(
                "if test -x {exe}; {cmd} >/dev/null 2>&1 &; disown 2>/dev/null; end",
                exe = crate::render::fish_quote(&exe),
                cmd = cmd.join(" ")
            ))
        }
        // Windows always has Task Scheduler.
        Shell::Powershell => None,
    }
}

impl Supervisor for ShellHook {
    fn entry(&self, _spec: &Spec) -> String {
        format!("shell hook in your shell startup files ({ENSURE_EVERY} whenever a shell opens; no systemd or cron here)")
    }
    fn name(&self) -> &'static str {
        "shell"
    }
    fn files(&self, _spec: &Spec) -> Vec<RenderedFile> {
        Vec::new()
    }
    fn register(&self, _spec: &Spec) -> Vec<Op> {
        Vec::new()
    }
    fn unregister(&self, _spec: &Spec) -> Vec<Op> {
        Vec::new()
    }
    fn start(&self, _spec: &Spec) -> Vec<Op> {
        Vec::new()
    }
    fn stop(&self, _spec: &Spec) -> Vec<Op> {
        Vec::new()
    }
}

/// Replace or remove a marked block in crontab text.
pub fn crontab_with_block(current: &str, marker: &str, block: Option<&str>) -> String {
    let start = format!("# >>> {marker} >>>");
    let end = format!("# <<< {marker} <<<");
    let mut out = String::new();
    let mut skipping = false;
    for line in current.lines() {
        if line.trim() == start {
            skipping = true;
            continue;
        }
        if skipping {
            if line.trim() == end {
                skipping = false;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if let Some(block) = block {
        out.push_str(block);
    }
    out
}

/// launchd agent (or daemon with system scope) on macOS.
#[derive(Debug, Clone, Copy)]
pub struct Launchd {
    pub task: bool,
}

impl Launchd {
    fn domain(&self, spec: &Spec) -> String {
        if spec.system && !self.task {
            "system".to_owned()
        } else {
            format!("gui/{}", spec.uid)
        }
    }
    fn plist_path(&self, spec: &Spec) -> PathBuf {
        if spec.system && !self.task {
            spec.sys(&format!("/Library/LaunchDaemons/{}.plist", spec.label()))
        } else {
            spec.home
                .join(format!("Library/LaunchAgents/{}.plist", spec.label()))
        }
    }
    /// `<domain>/<label>`: the job as `bootout` and `kickstart` name it.
    fn target(&self, spec: &Spec) -> String {
        format!("{}/{}", self.domain(spec), spec.label())
    }
    /// `bootstrap <domain> <plist>`.
    fn bootstrap_args(&self, spec: &Spec) -> [String; 3] {
        [
            "bootstrap".to_owned(),
            self.domain(spec),
            self.plist_path(spec).to_string_lossy().into_owned(),
        ]
    }
}

/// The launchd plist: `KeepAlive` for the service, `RunAtLoad` + `StartInterval 300` for the task.
pub fn render_plist(spec: &Spec, task: bool) -> String {
    let argv = spec.agent_argv(if task { "ensure" } else { "run" });
    let log = xml_escape(&spec.profile_dir().join("launchd.log").to_string_lossy());
    let mut l: Vec<String> = vec![
        r#"<?xml version="1.0" encoding="UTF-8"?>"#.into(),
        r#"<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">"#.into(),
        r#"<plist version="1.0">"#.into(),
        "<dict>".into(),
        "  <key>Label</key>".into(),
        format!("  <string>{}</string>", xml_escape(&spec.label())),
        "  <key>ProgramArguments</key>".into(),
        "  <array>".into(),
    ];
    l.extend(
        argv.iter()
            .map(|a| format!("    <string>{}</string>", xml_escape(a))),
    );
    l.push("  </array>".into());
    l.push("  <key>RunAtLoad</key>".into());
    l.push("  <true/>".into());
    if task {
        l.push("  <key>StartInterval</key>".into());
        l.push("  <integer>300</integer>".into());
        // The watchdog's detached agent must survive the job's exit.
        l.push("  <key>AbandonProcessGroup</key>".into());
        l.push("  <true/>".into());
    } else {
        l.push("  <key>KeepAlive</key>".into());
        l.push("  <true/>".into());
    }
    // One descriptor per connection; launchd's default soft limit is 256.
    l.push("  <key>SoftResourceLimits</key>".into());
    l.push("  <dict>".into());
    l.push("    <key>NumberOfFiles</key>".into());
    l.push("    <integer>10240</integer>".into());
    l.push("  </dict>".into());
    l.push("  <key>ProcessType</key>".into());
    l.push("  <string>Background</string>".into());
    l.push("  <key>StandardOutPath</key>".into());
    l.push(format!("  <string>{log}</string>"));
    l.push("  <key>StandardErrorPath</key>".into());
    l.push(format!("  <string>{log}</string>"));
    l.push("</dict>".into());
    l.push("</plist>".into());
    let mut out = l.join("\n");
    out.push('\n');
    out
}

impl Supervisor for Launchd {
    fn entry(&self, spec: &Spec) -> String {
        let kind = if spec.system {
            "LaunchDaemon"
        } else {
            "LaunchAgent"
        };
        if self.task {
            format!(
                "{kind} {} ({ENSURE_EVERY} at load and every 5 min)",
                spec.label()
            )
        } else {
            format!("{kind} {} (started at load, kept alive)", spec.label())
        }
    }
    fn name(&self) -> &'static str {
        "launchd"
    }
    fn files(&self, spec: &Spec) -> Vec<RenderedFile> {
        vec![RenderedFile {
            kind: "launchd-plist",
            path: self.plist_path(spec),
            content: render_plist(spec, self.task),
            mode: 0o644,
        }]
    }
    fn register(&self, spec: &Spec) -> Vec<Op> {
        vec![
            Op::run_lenient("launchctl", ["bootout".to_owned(), self.target(spec)]),
            Op::run("launchctl", self.bootstrap_args(spec)),
        ]
    }
    fn unregister(&self, spec: &Spec) -> Vec<Op> {
        vec![Op::run_lenient(
            "launchctl",
            ["bootout".to_owned(), self.target(spec)],
        )]
    }
    fn start(&self, spec: &Spec) -> Vec<Op> {
        if self.task {
            return Vec::new();
        }
        vec![
            // After `stop` (bootout) the job must be bootstrapped again; when it is still
            // loaded this fails harmlessly and kickstart starts it.
            Op::run_lenient("launchctl", self.bootstrap_args(spec)),
            Op::run("launchctl", ["kickstart".to_owned(), self.target(spec)]),
        ]
    }
    fn stop(&self, spec: &Spec) -> Vec<Op> {
        if self.task {
            return Vec::new();
        }
        // KeepAlive would restart a killed job; bootout is the only real stop.
        self.unregister(spec)
    }
    fn restart(&self, spec: &Spec) -> Vec<Op> {
        if self.task {
            return Vec::new();
        }
        let mut ops = self.start(spec);
        if let Some(Op::Run(step)) = ops.last_mut() {
            step.cmd.args.insert(1, "-k".to_owned());
        }
        ops
    }
}

/// Per-user Task Scheduler task on Windows. A real Windows service needs admin and a binary
/// that speaks the SCM protocol; a logon task needs neither (reference §10.2 #12).
#[derive(Debug, Clone, Copy)]
pub struct TaskScheduler {
    pub task: bool,
}

impl TaskScheduler {
    fn xml_path(&self, spec: &Spec) -> PathBuf {
        spec.profile_dir()
            .join(format!("{}.task.xml", spec.service_name()))
    }
}

/// Task Scheduler XML: logon trigger (+ 5-minute repetition for the task preset), least
/// privilege, interactive token of the current user, restart on failure for the service.
pub fn render_task_xml(spec: &Spec, task: bool) -> String {
    let argv = spec.agent_argv(if task { "ensure" } else { "run" });
    let arguments = argv[1..]
        .iter()
        .map(|a| windows_arg(a))
        .collect::<Vec<_>>()
        .join(" ");
    let user = xml_escape(&spec.windows_user);
    let mut l: Vec<String> = vec![
        r#"<?xml version="1.0" encoding="UTF-8"?>"#.into(),
        r#"<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">"#.into(),
        "  <RegistrationInfo>".into(),
        format!(
            "    <Description>Headroom {} (profile {}). Remove with `headroom install remove`.</Description>",
            if task { "watchdog" } else { "proxy" },
            xml_escape(&spec.profile)
        ),
        "  </RegistrationInfo>".into(),
        "  <Triggers>".into(),
        "    <LogonTrigger>".into(),
        "      <Enabled>true</Enabled>".into(),
        format!("      <UserId>{user}</UserId>"),
    ];
    if task {
        l.push("      <Repetition>".into());
        l.push("        <Interval>PT5M</Interval>".into());
        l.push("        <StopAtDurationEnd>false</StopAtDurationEnd>".into());
        l.push("      </Repetition>".into());
    }
    l.extend([
        "    </LogonTrigger>".to_owned(),
        "  </Triggers>".to_owned(),
        "  <Principals>".to_owned(),
        r#"    <Principal id="Author">"#.to_owned(),
        format!("      <UserId>{user}</UserId>"),
        "      <LogonType>InteractiveToken</LogonType>".to_owned(),
        "      <RunLevel>LeastPrivilege</RunLevel>".to_owned(),
        "    </Principal>".to_owned(),
        "  </Principals>".to_owned(),
        "  <Settings>".to_owned(),
        "    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>".to_owned(),
        "    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>".to_owned(),
        "    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>".to_owned(),
        "    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>".to_owned(),
        "    <Hidden>true</Hidden>".to_owned(),
    ]);
    if !task {
        l.push("    <RestartOnFailure>".into());
        l.push("      <Interval>PT1M</Interval>".into());
        l.push("      <Count>999</Count>".into());
        l.push("    </RestartOnFailure>".into());
    }
    l.extend([
        "  </Settings>".to_owned(),
        r#"  <Actions Context="Author">"#.to_owned(),
        "    <Exec>".to_owned(),
        format!("      <Command>{}</Command>", xml_escape(&argv[0])),
        format!("      <Arguments>{}</Arguments>", xml_escape(&arguments)),
        "    </Exec>".to_owned(),
        "  </Actions>".to_owned(),
        "</Task>".to_owned(),
    ]);
    let mut out = l.join("\r\n");
    out.push_str("\r\n");
    out
}

impl Supervisor for TaskScheduler {
    fn entry(&self, spec: &Spec) -> String {
        if self.task {
            format!(
                "scheduled task {} ({ENSURE_EVERY} at logon and every 5 min)",
                spec.service_name()
            )
        } else {
            format!(
                "scheduled task {} (runs the agent at logon, restarted on failure)",
                spec.service_name()
            )
        }
    }
    fn name(&self) -> &'static str {
        "task-scheduler"
    }
    fn files(&self, spec: &Spec) -> Vec<RenderedFile> {
        vec![RenderedFile {
            kind: "windows-task",
            path: self.xml_path(spec),
            content: render_task_xml(spec, self.task),
            mode: 0o644,
        }]
    }
    fn register(&self, spec: &Spec) -> Vec<Op> {
        vec![Op::run(
            "schtasks",
            [
                "/Create".to_owned(),
                "/TN".to_owned(),
                spec.service_name(),
                "/XML".to_owned(),
                self.xml_path(spec).to_string_lossy().into_owned(),
                "/F".to_owned(),
            ],
        )]
    }
    fn unregister(&self, spec: &Spec) -> Vec<Op> {
        vec![Op::run_lenient(
            "schtasks",
            ["/Delete", "/TN", &spec.service_name(), "/F"],
        )]
    }
    fn start(&self, spec: &Spec) -> Vec<Op> {
        if self.task {
            return Vec::new();
        }
        vec![Op::run("schtasks", ["/Run", "/TN", &spec.service_name()])]
    }
    fn stop(&self, spec: &Spec) -> Vec<Op> {
        if self.task {
            return Vec::new();
        }
        vec![Op::run_lenient(
            "schtasks",
            ["/End", "/TN", &spec.service_name()],
        )]
    }
}

/// The container runtime (persistent-docker): Docker's restart policy is the supervisor.
#[derive(Debug, Clone, Copy)]
pub struct Docker;

impl Docker {
    pub fn container(spec: &Spec) -> String {
        spec.service_name()
    }
    pub fn volume(spec: &Spec) -> String {
        format!("{}-state", spec.service_name())
    }
    /// `docker run -d --restart unless-stopped -p 127.0.0.1:P:P …`.
    pub fn run_args(spec: &Spec) -> Vec<String> {
        Self::args(
            spec,
            &["run", "-d", "--restart", "unless-stopped", "--name"],
        )
    }

    /// The same container in the foreground, removed when it exits: what the agent of a
    /// persistent-service or persistent-task deployment with the docker runtime supervises.
    /// Signals sent to `docker run` reach the container (`--sig-proxy` is on by default).
    pub fn foreground_args(spec: &Spec) -> Vec<String> {
        Self::args(spec, &["run", "--rm", "--name"])
    }

    fn args(spec: &Spec, head: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = head.iter().map(|s| (*s).to_owned()).collect();
        args.push(Self::container(spec));
        args.push("-p".to_owned());
        args.push(format!("127.0.0.1:{0}:{0}", spec.port));
        args.push("-v".to_owned());
        args.push(format!("{}:/var/lib/headroom", Self::volume(spec)));
        for (k, v) in &spec.container_env {
            args.push("-e".to_owned());
            args.push(format!("{k}={v}"));
        }
        args.push(spec.image.clone());
        args
    }
}

impl Supervisor for Docker {
    fn entry(&self, spec: &Spec) -> String {
        format!(
            "container {} (Docker restarts it unless stopped)",
            Self::container(spec)
        )
    }
    fn name(&self) -> &'static str {
        "docker"
    }
    fn files(&self, _spec: &Spec) -> Vec<RenderedFile> {
        Vec::new()
    }
    fn register(&self, _spec: &Spec) -> Vec<Op> {
        Vec::new()
    }
    fn unregister(&self, spec: &Spec) -> Vec<Op> {
        vec![
            Op::run_lenient(&spec.docker, ["rm", "-f", &Self::container(spec)]),
            Op::run_lenient(&spec.docker, ["volume", "rm", &Self::volume(spec)]),
        ]
    }
    fn start(&self, spec: &Spec) -> Vec<Op> {
        vec![
            Op::run_lenient(&spec.docker, ["rm", "-f", &Self::container(spec)]),
            Op::run(&spec.docker, Self::run_args(spec)),
        ]
    }
    fn stop(&self, spec: &Spec) -> Vec<Op> {
        vec![Op::run_lenient(
            &spec.docker,
            ["stop", &Self::container(spec)],
        )]
    }
    fn restart(&self, spec: &Spec) -> Vec<Op> {
        self.start(spec)
    }
}

/// Where a per-user PowerShell profile lives (PowerShell 7 and Windows PowerShell 5).
pub fn powershell_profiles(home: &Path) -> Vec<PathBuf> {
    vec![
        home.join("Documents/PowerShell/Microsoft.PowerShell_profile.ps1"),
        home.join("Documents/WindowsPowerShell/Microsoft.PowerShell_profile.ps1"),
    ]
}
