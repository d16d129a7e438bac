//! Golden tests of every pure renderer: unit files, timers, crontab, plists, task XML, docker
//! command lines and shell blocks, with awkward paths (spaces, quotes, `%`, `$`, `&`).

mod common;

use std::path::PathBuf;

use common::golden;
use headroom_install::edits::{render_block, Shell};
use headroom_install::supervisor::{self, Docker, Op, Spec, Supervisor};
use headroom_install::OsKind;

fn spec(os: OsKind, system: bool) -> Spec {
    Spec {
        profile: "work".into(),
        os,
        system,
        uid: 501,
        exe: PathBuf::from("/opt/My Tools/head'room%$x/headroom"),
        workspace_dir: PathBuf::from("/home/alice/.headroom"),
        config_home: PathBuf::from("/home/alice/.config"),
        home: PathBuf::from("/home/alice"),
        root: PathBuf::from("/"),
        port: 8787,
        windows_user: "PC\\alice & bob".into(),
        docker: "docker".into(),
        image: "headroom:latest".into(),
        container_env: vec![
            ("HEADROOM_HOST".into(), "0.0.0.0".into()),
            ("HEADROOM_PORT".into(), "8787".into()),
            ("HEADROOM_DEPLOYMENT_PROFILE".into(), "work".into()),
        ],
    }
}

fn describe(sup: &dyn Supervisor, spec: &Spec) -> String {
    let mut out = String::new();
    for f in sup.files(spec) {
        out.push_str(&format!(
            "== file {} ({}, {:o})\n{}",
            f.path.display(),
            f.kind,
            f.mode,
            f.content
        ));
    }
    for (what, ops) in [
        ("register", sup.register(spec)),
        ("start", sup.start(spec)),
        ("stop", sup.stop(spec)),
        ("restart", sup.restart(spec)),
        ("unregister", sup.unregister(spec)),
        ("after_unregister", sup.after_unregister(spec)),
    ] {
        out.push_str(&format!("== {what}\n"));
        for op in ops {
            out.push_str(&op.display());
            out.push('\n');
            if let Op::Crontab { block: Some(b), .. } = op {
                out.push_str(&b);
            }
        }
    }
    out
}

#[test]
fn systemd_user_service() {
    let s = spec(OsKind::Linux, false);
    golden(
        "systemd-user-service.txt",
        &describe(&supervisor::Systemd { timer: false }, &s),
    );
}

#[test]
fn systemd_system_service() {
    let s = spec(OsKind::Linux, true);
    golden(
        "systemd-system-service.txt",
        &describe(&supervisor::Systemd { timer: false }, &s),
    );
}

#[test]
fn systemd_user_timer() {
    let s = spec(OsKind::Linux, false);
    golden(
        "systemd-user-timer.txt",
        &describe(&supervisor::Systemd { timer: true }, &s),
    );
}

#[test]
fn cron_user_and_system() {
    golden(
        "cron-user.txt",
        &describe(&supervisor::Cron, &spec(OsKind::Linux, false)),
    );
    golden(
        "cron-system.txt",
        &describe(&supervisor::Cron, &spec(OsKind::Linux, true)),
    );
}

#[test]
fn launchd_service_and_task() {
    let s = spec(OsKind::Macos, false);
    golden(
        "launchd-service.txt",
        &describe(&supervisor::Launchd { task: false }, &s),
    );
    golden(
        "launchd-task.txt",
        &describe(&supervisor::Launchd { task: true }, &s),
    );
    let sys = spec(OsKind::Macos, true);
    golden(
        "launchd-system-service.txt",
        &describe(&supervisor::Launchd { task: false }, &sys),
    );
}

#[test]
fn windows_task_scheduler() {
    let mut s = spec(OsKind::Windows, false);
    s.exe = PathBuf::from(r"C:\Program Files\Headroom\headroom.exe");
    s.workspace_dir = PathBuf::from(r#"C:\Users\alice "x"\.headroom"#);
    golden(
        "windows-service-task.txt",
        &describe(&supervisor::TaskScheduler { task: false }, &s),
    );
    golden(
        "windows-watchdog-task.txt",
        &describe(&supervisor::TaskScheduler { task: true }, &s),
    );
}

#[test]
fn docker_command_lines() {
    let s = spec(OsKind::Linux, false);
    golden("docker.txt", &describe(&Docker, &s));
}

#[test]
fn shell_blocks_per_dialect() {
    let vars = vec![
        (
            "ANTHROPIC_BASE_URL".to_owned(),
            "http://127.0.0.1:8787".to_owned(),
        ),
        ("WEIRD".to_owned(), "it's a \"$HOME\" \\ test".to_owned()),
    ];
    let mut out = String::new();
    for (name, shell, eol) in [
        ("posix", Shell::Posix, "\n"),
        ("fish", Shell::Fish, "\n"),
        ("powershell", Shell::Powershell, "\r\n"),
    ] {
        out.push_str(&format!(
            "== {name}\n{}",
            render_block(shell, &vars, None, eol)
        ));
    }
    golden("shell-blocks.txt", &out);
}

#[test]
fn systemd_exec_line_round_trips_through_quoting() {
    // Every argument is one double-quoted word with systemd escapes; check the tricky one.
    let s = spec(OsKind::Linux, false);
    let unit = supervisor::render_systemd_service(&s);
    assert!(unit
        .contains(r#"ExecStart="/opt/My Tools/head'room%%$$x/headroom" "install" "agent" "run""#));
}

#[test]
fn task_xml_is_well_formed_enough() {
    let s = spec(OsKind::Windows, false);
    let xml = supervisor::render_task_xml(&s, true);
    assert!(xml.contains("<UserId>PC\\alice &amp; bob</UserId>"));
    assert!(xml.contains("<Interval>PT5M</Interval>"));
    assert_eq!(xml.matches("<Task ").count(), 1);
    for (i, _) in xml.match_indices('&') {
        let rest = &xml[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| rest.starts_with(e)),
            "bare & at {i}"
        );
    }
}
