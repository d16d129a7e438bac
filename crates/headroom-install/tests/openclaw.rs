//! OpenClaw's provider-scope wiring through the real engine on a fake HOME: the edit of
//! `openclaw.json` (its Anthropic and OpenAI providers' `baseUrl` and `api`) as a golden diff,
//! byte-exact undo, the user's later edits kept, refusals that change nothing, a user gateway
//! chained behind Headroom, symlinks kept, and the desktop wiring of the same edit. That
//! OpenClaw itself accepts what is written is checked with the real CLI in
//! `tests/tests/real_openclaw.rs`.

mod common;

use common::{golden, snapshot, Fixture};
use headroom_install::targets::Tool;
use headroom_install::wiring::{self, Wiring};
use headroom_install::{apply, plan, remove, OsKind, Preset, ProviderMode, Request, Scope};
use serde_json::Value;

/// A config as OpenClaw's onboarding writes it, with a comment the user added.
const USER_CONFIG: &str = r#"{
  // my OpenClaw
  "agents": {
    "defaults": { "model": { "primary": "anthropic/claude-sonnet-4-5" } }
  },
  "models": {
    "providers": {
      "anthropic": {
        "apiKey": { "source": "env", "provider": "default", "id": "ANTHROPIC_API_KEY" },
        "headers": { "x-team": "blue" }
      }
    }
  },
  "gateway": { "port": 18789 },
}
"#;

const CONFIG: &str = ".openclaw/openclaw.json";

fn req(targets: &[Tool], scope: Scope, port: u16) -> Request {
    Request {
        preset: Some(Preset::Service),
        scope,
        providers: ProviderMode::Manual,
        targets: targets.to_vec(),
        port,
        ..Request::default()
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn parsed(fx: &Fixture) -> Value {
    let text = fx.read(CONFIG);
    serde_json::from_str(&headroom_install::jsonc::strip_comments(&text)).unwrap()
}

#[test]
fn provider_scope_points_both_providers_at_headroom_and_remove_restores_the_bytes() {
    let fx = Fixture::new(OsKind::Linux);
    fx.write(CONFIG, USER_CONFIG);
    let before = snapshot(&fx.home);
    let mut r = req(&[Tool::Openclaw], Scope::Provider, 18787);
    r.port = free_port();
    let port = r.port;
    let p = plan(&fx.env, &r).unwrap();
    // `--dry-run` shows exactly this; nothing is written by planning.
    assert_eq!(snapshot(&fx.home), before);
    golden(
        "openclaw-provider-scope.diff",
        &fx.norm(&p.render_diff()).replace(&port.to_string(), "PORT"),
    );
    apply(&fx.env, &p).unwrap();
    let v = parsed(&fx);
    let anthropic = &v["models"]["providers"]["anthropic"];
    assert_eq!(anthropic["baseUrl"], format!("http://127.0.0.1:{port}"));
    assert_eq!(anthropic["api"], "anthropic-messages");
    // The user's credentials and headers stay theirs.
    assert_eq!(anthropic["apiKey"]["id"], "ANTHROPIC_API_KEY");
    assert_eq!(anthropic["headers"]["x-team"], "blue");
    let openai = &v["models"]["providers"]["openai"];
    assert_eq!(openai["baseUrl"], format!("http://127.0.0.1:{port}/v1"));
    assert_eq!(openai["api"], "openai-responses");
    assert!(fx.read(CONFIG).contains("// my OpenClaw"));
    let manifest = std::fs::read_to_string(fx.env.manifest_path("default")).unwrap();
    assert!(manifest.contains("\"json-provider\""), "{manifest}");
    let tools = headroom_install::detect_tools(&fx.env);
    let oc = tools.iter().find(|t| t.tool == Tool::Openclaw).unwrap();
    assert_eq!(oc.config_path, fx.home.join(CONFIG));
    assert_eq!(
        oc.wiring.as_deref(),
        Some(format!("http://127.0.0.1:{port}").as_str())
    );
    let rep = remove(&fx.env, "default").unwrap();
    assert!(rep.errors.is_empty() && rep.warnings.is_empty(), "{rep:?}");
    assert_eq!(snapshot(&fx.home), before);
}

#[test]
fn a_missing_config_is_created_private_and_removed_again() {
    let fx = Fixture::new(OsKind::Linux);
    let before = snapshot(&fx.home);
    let p = plan(
        &fx.env,
        &req(&[Tool::Openclaw], Scope::Provider, free_port()),
    )
    .unwrap();
    apply(&fx.env, &p).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(fx.home.join(CONFIG)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(
        parsed(&fx)["models"]["providers"]["openai"]["api"],
        "openai-responses"
    );
    remove(&fx.env, "default").unwrap();
    assert!(!fx.home.join(".openclaw").exists());
    assert_eq!(snapshot(&fx.home), before);
}

#[test]
fn remove_keeps_what_the_user_changed_after_apply() {
    let fx = Fixture::new(OsKind::Linux);
    fx.write(CONFIG, USER_CONFIG);
    let p = plan(
        &fx.env,
        &req(&[Tool::Openclaw], Scope::Provider, free_port()),
    )
    .unwrap();
    apply(&fx.env, &p).unwrap();
    // OpenClaw (or the user) rewrites the file: a new key, another gateway port, and the
    // OpenAI provider pointed elsewhere by hand.
    let port = p.manifest.port;
    let edited = fx.read(CONFIG).replace("18789", "18790").replace(
        &format!("http://127.0.0.1:{port}/v1"),
        "https://openai.mine.example/v1",
    );
    fx.write(CONFIG, &edited);
    let rep = remove(&fx.env, "default").unwrap();
    assert!(rep.errors.is_empty(), "{rep:?}");
    assert_eq!(rep.warnings.len(), 1, "{:?}", rep.warnings);
    assert!(
        rep.warnings[0].contains("models.providers.openai.baseUrl"),
        "{:?}",
        rep.warnings
    );
    let v = parsed(&fx);
    assert_eq!(v["gateway"]["port"], 18790);
    let providers = &v["models"]["providers"];
    assert!(providers["anthropic"].get("baseUrl").is_none());
    assert!(providers["anthropic"].get("api").is_none());
    assert_eq!(providers["anthropic"]["headers"]["x-team"], "blue");
    assert_eq!(
        providers["openai"]["baseUrl"],
        "https://openai.mine.example/v1"
    );
    assert!(fx.read(CONFIG).contains("// my OpenClaw"));
}

#[test]
fn an_unparseable_config_is_refused_and_left_alone() {
    let fx = Fixture::new(OsKind::Linux);
    // JSON5 OpenClaw reads but Headroom does not edit: unquoted keys.
    fx.write(CONFIG, "{ models: { providers: {} } }\n");
    let before = snapshot(&fx.home);
    let err = plan(
        &fx.env,
        &req(&[Tool::Openclaw], Scope::Provider, free_port()),
    )
    .unwrap_err();
    assert!(err.message.contains("openclaw.json"), "{}", err.message);
    assert!(err.message.contains("cannot edit"), "{}", err.message);
    assert!(err.hint.unwrap_or_default().contains("fix the file"));
    assert_eq!(snapshot(&fx.home), before);
}

#[test]
fn a_gateway_in_openclaw_becomes_the_upstream_and_comes_back_on_remove() {
    let fx = Fixture::new(OsKind::Linux);
    let config = USER_CONFIG.replace(
        "\"headers\": { \"x-team\": \"blue\" }",
        "\"baseUrl\": \"https://llm.corp.example/anthropic\",\n        \"api\": \"anthropic-messages\"",
    );
    fx.write(CONFIG, &config);
    let before = snapshot(&fx.home);
    let p = plan(
        &fx.env,
        &req(&[Tool::Openclaw], Scope::Provider, free_port()),
    )
    .unwrap();
    assert_eq!(
        p.manifest
            .base_env
            .get("ANTHROPIC_TARGET_API_URL")
            .map(String::as_str),
        Some("https://llm.corp.example/anthropic")
    );
    assert!(!p.manifest.base_env.contains_key("OPENAI_TARGET_API_URL"));
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("OpenClaw → Headroom → your gateway")),
        "{:?}",
        p.notes
    );
    apply(&fx.env, &p).unwrap();
    remove(&fx.env, "default").unwrap();
    assert_eq!(snapshot(&fx.home), before);
}

#[test]
fn switching_a_providers_api_adapter_is_said() {
    let fx = Fixture::new(OsKind::Linux);
    fx.write(
        CONFIG,
        "{\"models\": {\"providers\": {\"anthropic\": {\"api\": \"openai-completions\"}}}}\n",
    );
    let p = plan(
        &fx.env,
        &req(&[Tool::Openclaw], Scope::Provider, free_port()),
    )
    .unwrap();
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("`anthropic` provider used `api: \"openai-completions\"`")),
        "{:?}",
        p.notes
    );
}

#[cfg(unix)]
#[test]
fn a_symlinked_config_stays_a_symlink() {
    let fx = Fixture::new(OsKind::Linux);
    let target = fx.write("dotfiles/openclaw.json", USER_CONFIG);
    std::fs::create_dir_all(fx.home.join(".openclaw")).unwrap();
    std::os::unix::fs::symlink(&target, fx.home.join(CONFIG)).unwrap();
    let p = plan(
        &fx.env,
        &req(&[Tool::Openclaw], Scope::Provider, free_port()),
    )
    .unwrap();
    apply(&fx.env, &p).unwrap();
    assert!(std::fs::symlink_metadata(fx.home.join(CONFIG))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fx
        .read("dotfiles/openclaw.json")
        .contains("anthropic-messages"));
    remove(&fx.env, "default").unwrap();
    assert_eq!(fx.read("dotfiles/openclaw.json"), USER_CONFIG);
}

#[test]
fn openclaws_own_env_moves_the_config() {
    let home = std::path::Path::new("/home/u");
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| std::ffi::OsString::from(v))
        }
    };
    let from = headroom_install::env::openclaw_config_from;
    assert_eq!(from(&env(&[]), home), None);
    assert_eq!(
        from(
            &env(&[
                ("OPENCLAW_CONFIG_PATH", "~/cfg/oc.json"),
                ("OPENCLAW_STATE_DIR", "/s")
            ]),
            home
        ),
        Some("/home/u/cfg/oc.json".into())
    );
    assert_eq!(
        from(&env(&[("OPENCLAW_STATE_DIR", "/srv/oc")]), home),
        Some("/srv/oc/openclaw.json".into())
    );
    assert_eq!(
        from(&env(&[("OPENCLAW_HOME", "/h2")]), home),
        Some("/h2/.openclaw/openclaw.json".into())
    );
    let mut fx = Fixture::new(OsKind::Linux);
    fx.env.openclaw_config = Some(fx.home.join("elsewhere/oc.json"));
    let p = plan(
        &fx.env,
        &req(&[Tool::Openclaw], Scope::Provider, free_port()),
    )
    .unwrap();
    assert_eq!(p.files[0].path, fx.home.join("elsewhere/oc.json"));
}

#[test]
fn user_scope_says_provider_scope_is_the_way() {
    let fx = Fixture::new(OsKind::Linux);
    let err = plan(&fx.env, &req(&[Tool::Openclaw], Scope::User, free_port())).unwrap_err();
    assert!(
        err.message
            .contains("reads no base-URL environment variable"),
        "{}",
        err.message
    );
    assert!(err.message.contains("openclaw.json"), "{}", err.message);
    assert!(err.hint.unwrap_or_default().contains("--scope provider"));
    // `--providers all` at user scope leaves OpenClaw out instead of writing nothing for it.
    let mut all = req(&[], Scope::User, free_port());
    all.providers = ProviderMode::All;
    let p = plan(&fx.env, &all).unwrap();
    assert!(!p.manifest.targets.iter().any(|t| t == "openclaw"));
    let mut all = req(&[], Scope::Provider, free_port());
    all.providers = ProviderMode::All;
    let p = plan(&fx.env, &all).unwrap();
    assert!(p.manifest.targets.iter().any(|t| t == "openclaw"));
    for text in p.notes.iter().chain(std::iter::once(&p.render_diff())) {
        assert!(!text.contains("plugin"), "{text}");
    }
}

#[test]
fn the_desktop_wiring_routes_openclaw_and_unwires_byte_for_byte() {
    let fx = Fixture::new(OsKind::Linux);
    fx.write(CONFIG, USER_CONFIG);
    let desired = [(Tool::Openclaw, Scope::Provider)].into_iter().collect();
    let p = wiring::plan(&fx.env, "desktop", &Wiring::default(), &desired, true, 8787).unwrap();
    let w = wiring::apply(&fx.env, &p).unwrap();
    assert!(fx
        .read(CONFIG)
        .contains("\"baseUrl\": \"http://127.0.0.1:8787\""));
    wiring::verify(&fx.env, "desktop", &w).unwrap();
    wiring::set_active(&fx.env, "desktop", &w, false, 8787).unwrap();
    assert_eq!(fx.read(CONFIG), USER_CONFIG);
}
