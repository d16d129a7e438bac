//! The install engine under an unlucky user (issue 13): the journal an interrupted apply
//! leaves, a settings file left invalid before `remove`, two profiles reaching for one tool
//! file, a Docker daemon that is down, lines typed into the managed shell block, a umask of
//! 000. Real engine, fake HOME, recording runner.

mod common;

use common::{snapshot, Fixture};
use headroom_install::model::{self, ManifestState};
use headroom_install::targets::Tool;
use headroom_install::{apply, plan, remove, status, OsKind, Preset, ProviderMode, Request, Scope};

fn req(preset: Preset, scope: Scope, targets: &[Tool], profile: &str) -> Request {
    Request {
        profile: profile.to_owned(),
        preset: Some(preset),
        scope,
        providers: ProviderMode::Manual,
        targets: targets.to_vec(),
        port: std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
        ..Request::default()
    }
}

#[test]
fn an_interrupted_apply_is_shown_and_undone_by_remove_or_by_the_next_apply() {
    let fx = Fixture::new(OsKind::Linux);
    fx.write(".claude/settings.json", "{\n  \"theme\": \"dark\"\n}\n");
    let original = snapshot(&fx.home);
    let r = req(Preset::Service, Scope::Provider, &[Tool::Claude], "default");
    apply(&fx.env, &plan(&fx.env, &r).unwrap()).unwrap();
    let wired = fx.read(".claude/settings.json");
    // Simulate the kill: the journal says `applying` (what a kill after the first tool file
    // leaves behind).
    let path = fx.env.manifest_path("default");
    let mut m = model::load(&path, "default").unwrap().unwrap();
    m.state = ManifestState::Applying;
    model::save(&path, &m).unwrap();
    assert_eq!(status(&fx.env, "default").unwrap().state, "applying");

    // The next apply with the same settings is not "already installed": it undoes the
    // half-done one (restoring the user's bytes, not recording the wired file as theirs)...
    let p = plan(&fx.env, &r).unwrap();
    assert!(!p.up_to_date);
    let rep = apply(&fx.env, &p).unwrap();
    assert!(rep.changed);
    assert!(
        rep.notes.iter().any(|n| n.contains("interrupted install")),
        "{:?}",
        rep.notes
    );
    assert_eq!(fx.read(".claude/settings.json"), wired);
    let m = model::load(&path, "default").unwrap().unwrap();
    assert_eq!(m.state, ManifestState::Installed);
    assert_eq!(
        m.mutations[0].file.as_ref().unwrap().previous.as_deref(),
        Some("{\n  \"theme\": \"dark\"\n}\n")
    );
    // ...and remove then gives back the original bytes.
    let rep = remove(&fx.env, "default").unwrap();
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert_eq!(snapshot(&fx.home), original);
}

#[test]
fn remove_keeps_what_it_could_not_undo_and_a_retry_finishes() {
    let fx = Fixture::new(OsKind::Linux);
    fx.write(".claude/settings.json", "{\n  \"theme\": \"dark\"\n}\n");
    let original = snapshot(&fx.home);
    let r = req(Preset::Service, Scope::Provider, &[Tool::Claude], "default");
    apply(&fx.env, &plan(&fx.env, &r).unwrap()).unwrap();
    // The user breaks the file (now invalid JSON) after apply.
    let wired = fx.read(".claude/settings.json");
    let broken = wired.replacen('{', "{ oops", 1);
    fx.write(".claude/settings.json", &broken);
    let rep = remove(&fx.env, "default").unwrap();
    assert_eq!(rep.errors.len(), 1, "{:?}", rep.errors);
    assert!(rep.errors[0].contains("settings.json"), "{:?}", rep.errors);
    // Not "not installed": the record (with the original bytes) is still there.
    let st = status(&fx.env, "default").unwrap();
    assert_eq!(st.state, "removing");
    let m = model::load(&fx.env.manifest_path("default"), "default")
        .unwrap()
        .unwrap();
    assert_eq!(m.mutations.len(), 1);
    assert!(
        m.artifacts.is_empty(),
        "the unit was removed: {:?}",
        m.artifacts
    );
    // The user fixes it; the retry restores the exact original.
    fx.write(".claude/settings.json", &wired);
    let rep = remove(&fx.env, "default").unwrap();
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert_eq!(snapshot(&fx.home), original);
}

#[test]
fn one_profile_per_tool_file() {
    let fx = Fixture::new(OsKind::Linux);
    fx.write(".claude/settings.json", "{}\n");
    apply(
        &fx.env,
        &plan(
            &fx.env,
            &req(Preset::Service, Scope::Provider, &[Tool::Claude], "work"),
        )
        .unwrap(),
    )
    .unwrap();
    let wired = snapshot(&fx.home);
    let err = plan(
        &fx.env,
        &req(
            Preset::Service,
            Scope::Provider,
            &[Tool::Codex, Tool::Claude],
            "second",
        ),
    )
    .unwrap_err();
    assert!(
        err.message.contains("settings.json") && err.message.contains("profile `work`"),
        "{}",
        err.message
    );
    assert!(
        err.hint
            .as_deref()
            .unwrap()
            .contains("headroom install remove --profile work"),
        "{:?}",
        err.hint
    );
    assert_eq!(snapshot(&fx.home), wired, "nothing changed");
    // A different tool file is fine.
    apply(
        &fx.env,
        &plan(
            &fx.env,
            &req(Preset::Service, Scope::Provider, &[Tool::Codex], "second"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(remove(&fx.env, "second").unwrap().errors.is_empty());
    assert!(remove(&fx.env, "work").unwrap().errors.is_empty());
}

// The fake `docker` is a shell script.
#[cfg(unix)]
#[test]
fn docker_down_makes_stop_and_remove_fail_and_keeps_the_record() {
    let fx = Fixture::new(OsKind::Linux);
    let docker = fx.tmp.path().join("bin/docker");
    let up = "#!/bin/sh\necho 27.0.0\nexit 0\n";
    let down = "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2\nexit 1\n";
    let set = |body: &str| {
        std::fs::create_dir_all(docker.parent().unwrap()).unwrap();
        std::fs::write(&docker, body).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    set(up);
    let mut env = fx.env.clone();
    env.docker = docker.to_string_lossy().into_owned();
    let original = snapshot(&fx.home);
    let r = req(Preset::Docker, Scope::Provider, &[Tool::Claude], "default");
    apply(&env, &plan(&env, &r).unwrap()).unwrap();
    set(down);
    let err = headroom_install::stop(&env, "default").unwrap_err();
    assert!(
        err.message
            .contains("cannot stop container `headroom-default`")
            && err.message.contains("not reachable"),
        "{}",
        err.message
    );
    let rep = remove(&env, "default").unwrap();
    assert!(
        rep.errors.iter().any(|e| e.contains("not reachable")),
        "{:?}",
        rep.errors
    );
    let m = model::load(&env.manifest_path("default"), "default")
        .unwrap()
        .expect("kept: the container still has to go");
    assert!(m.artifacts.iter().any(|a| a.kind == "docker-container"));
    assert!(m.mutations.is_empty(), "the tool file was restored");
    set(up);
    let rep = remove(&env, "default").unwrap();
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert!(fx
        .runner
        .lines()
        .iter()
        .any(|l| l.ends_with("rm -f headroom-default")));
    assert_eq!(snapshot(&fx.home), original);
}

#[test]
fn lines_typed_into_the_managed_shell_block_survive_remove() {
    let fx = Fixture::new(OsKind::Linux);
    fx.write(".bashrc", "# mine\n");
    fx.write(".claude/settings.json", "{}\n");
    let r = req(Preset::Service, Scope::User, &[Tool::Claude], "default");
    apply(&fx.env, &plan(&fx.env, &r).unwrap()).unwrap();
    let rc = fx.read(".bashrc");
    let end = rc.find("# <<< headroom").expect("managed block");
    let edited = format!(
        "{}export MY_TOKEN_DIR=/srv/tokens\n{}",
        &rc[..end],
        &rc[end..]
    );
    fx.write(".bashrc", &edited);
    let rep = remove(&fx.env, "default").unwrap();
    assert!(rep.errors.is_empty(), "{:?}", rep.errors);
    assert_eq!(
        fx.read(".bashrc"),
        "# mine\nexport MY_TOKEN_DIR=/srv/tokens\n"
    );
    assert!(
        rep.warnings
            .iter()
            .any(|w| w.contains("kept the 1 line(s) you added") && w.contains("MY_TOKEN_DIR")),
        "{:?}",
        rep.warnings
    );
}

#[cfg(unix)]
#[test]
fn state_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new(OsKind::Linux);
    // The umask is process-wide; other tests running meanwhile only get wider default modes.
    let old = headroom_install::sys::set_umask(0);
    let r = req(Preset::Task, Scope::Provider, &[Tool::Claude], "default");
    let result = apply(&fx.env, &plan(&fx.env, &r).unwrap());
    headroom_install::sys::set_umask(old);
    result.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for d in [
        fx.home.join(".headroom"),
        fx.home.join(".headroom/deploy"),
        fx.home.join(".headroom/deploy/default"),
    ] {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
    }
    for f in [
        fx.home.join(".headroom/deploy/default/manifest.json"),
        fx.home.join(".headroom/deploy/.default.lock"),
    ] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    assert!(remove(&fx.env, "default").unwrap().errors.is_empty());
}
