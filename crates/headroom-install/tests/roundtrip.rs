//! Property: whatever the user's configs look like (missing, empty, commented, with tables,
//! symlinked, CRLF, no final newline), `apply` then `remove` leaves HOME byte-identical —
//! contents, symlink-ness and modes. (The Python tool left 4 differences on this scenario.)

mod common;

use common::shapes::{json, place, shell, toml};
use common::{snapshot, Fixture};
use headroom_install::targets::Tool;
use headroom_install::{apply, plan, remove, OsKind, Preset, ProviderMode, Request, Scope};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn apply_then_remove_leaves_home_byte_identical(
        bashrc in shell(), zshrc in shell(), profile in shell(),
        settings in json(), opencode in json(), codex in toml(),
        provider_scope in any::<bool>(), task in any::<bool>(), macos in any::<bool>(),
        change in any::<bool>(),
    ) {
        let mut fx = Fixture::new(if macos { OsKind::Macos } else { OsKind::Linux });
        fx.fake_bin("zsh", "exit 0");
        place(&fx, ".bashrc", &bashrc, 1);
        place(&fx, ".zshrc", &zshrc, 2);
        place(&fx, ".profile", &profile, 3);
        place(&fx, ".claude/settings.json", &settings, 4);
        place(&fx, ".config/opencode/opencode.json", &opencode, 5);
        place(&fx, ".codex/config.toml", &codex, 6);
        let before = snapshot(&fx.home);
        let (scope, targets) = if provider_scope {
            (Scope::Provider, vec![Tool::Claude, Tool::Codex, Tool::Opencode])
        } else {
            (Scope::User, vec![Tool::Claude, Tool::Codex, Tool::Copilot])
        };
        // Two distinct free ports (both listeners held at once), the second for the in-place
        // change below: `apply` refuses a port another program holds.
        let (port, other_port) = {
            let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            (a.local_addr().unwrap().port(), b.local_addr().unwrap().port())
        };
        let r = Request {
            preset: Some(if task { Preset::Task } else { Preset::Service }),
            scope,
            providers: ProviderMode::Manual,
            targets,
            port,
            ..Request::default()
        };
        let p = plan(&fx.env, &r).unwrap();
        apply(&fx.env, &p).unwrap();
        prop_assert_ne!(snapshot(&fx.home), before.clone());
        if provider_scope {
            // What the tools will read is valid and points at us.
            let codex: toml_edit::DocumentMut = std::fs::read_to_string(fx.home.join(".codex/config.toml")).unwrap().parse().unwrap();
            prop_assert_eq!(codex["model_provider"].as_str(), Some("headroom"));
            let settings = std::fs::read_to_string(fx.home.join(".claude/settings.json")).unwrap();
            let url = headroom_install::jsonc::get_raw(&settings, &["env", "ANTHROPIC_BASE_URL"]).unwrap();
            prop_assert_eq!(url, Some(format!("\"http://127.0.0.1:{port}\"")));
            let oc = std::fs::read_to_string(fx.home.join(".config/opencode/opencode.json")).unwrap();
            prop_assert!(headroom_install::jsonc::get_raw(&oc, &["provider", "anthropic", "options", "baseURL"]).unwrap().is_some());
            prop_assert!(headroom_install::jsonc::get_raw(&oc, &["provider", "openai", "options", "baseURL"]).unwrap().is_some());
        }
        if change {
            // Change the settings in place (other scope, other port), then remove.
            let (scope, targets) = if provider_scope {
                (Scope::User, vec![Tool::Claude, Tool::Codex])
            } else {
                (Scope::Provider, vec![Tool::Claude, Tool::Codex, Tool::Opencode])
            };
            let r2 = Request { scope, targets, port: other_port, ..r.clone() };
            let p2 = plan(&fx.env, &r2).unwrap();
            prop_assert!(p2.replaces.is_some());
            apply(&fx.env, &p2).unwrap();
        }
        let report = remove(&fx.env, "default").unwrap();
        prop_assert!(report.errors.is_empty(), "{:?}", report.errors);
        prop_assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        prop_assert_eq!(snapshot(&fx.home), before);
    }
}
