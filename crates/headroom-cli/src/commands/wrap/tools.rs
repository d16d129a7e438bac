//! What `wrap` launches and how it points each tool at the proxy, per run only.
//!
//! Everything here is environment (and arguments) for the one child process: no dotfile is
//! edited, so there is nothing to clean up when the tool exits or the machine crashes, and the
//! user's config stays exactly as it was. OpenClaw is the exception, wired through its config
//! for the session by `openclaw.rs`, because it reads no base-URL variable. The base env values come from the shared install table
//! ([`headroom_install::targets::Tool::env`]) so `wrap` and `install` never disagree.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use anyhow::Result;
use headroom_install::targets::Tool;

use crate::diagnostics::user_error;

/// The program `wrap` runs: a known tool or any command (`wrap -- <command>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tool(Tool),
    Command(OsString),
}

impl Target {
    /// Name used in leases and messages.
    pub fn label(&self) -> String {
        match self {
            Target::Tool(t) => t.name().to_owned(),
            Target::Command(c) => Path::new(c)
                .file_name()
                .unwrap_or(c)
                .to_string_lossy()
                .into_owned(),
        }
    }
}

/// How to run one wrapped program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Variables set for the child, in order.
    pub env: Vec<(String, OsString)>,
}

/// The variables that point `target` at a proxy on `port`. `current` reads the caller's env
/// (injected so tests need not touch the process env). Values the user set deliberately and that
/// are preferences rather than routing (`ENABLE_TOOL_SEARCH`, Copilot's API key) are kept.
pub fn env_for(
    target: &Target,
    port: u16,
    current: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Vec<(String, OsString)>> {
    let anthropic = format!("http://127.0.0.1:{port}");
    let openai = format!("http://127.0.0.1:{port}/v1");
    let mut env: Vec<(String, OsString)> = Vec::new();
    let tool = match target {
        Target::Tool(tool) => *tool,
        Target::Command(_) => {
            env.push(("ANTHROPIC_BASE_URL".into(), anthropic.into()));
            env.push(("OPENAI_BASE_URL".into(), openai.into()));
            return Ok(env);
        }
    };
    for (key, value) in tool.env(port) {
        if key == "ENABLE_TOOL_SEARCH" && current(key).is_some() {
            continue;
        }
        env.push((key.to_owned(), value.into()));
    }
    match tool {
        Tool::Copilot => {
            // Copilot's BYOK mode needs the key for the provider it talks to; reuse the
            // Anthropic key the user already has rather than asking for a new variable.
            if current("COPILOT_PROVIDER_API_KEY").is_none() {
                if let Some(key) = current("ANTHROPIC_API_KEY") {
                    env.push(("COPILOT_PROVIDER_API_KEY".into(), key));
                }
            }
        }
        Tool::Opencode => {
            env.push((
                "OPENCODE_CONFIG_CONTENT".into(),
                opencode_config(port, current("OPENCODE_CONFIG_CONTENT"))?.into(),
            ));
        }
        // OpenClaw reads no base-URL variable: `wrap` edits its config (see `openclaw.rs`).
        Tool::Claude | Tool::Codex | Tool::Aider | Tool::Cursor | Tool::Openclaw => {}
    }
    Ok(env)
}

/// The arguments `target` runs with: the user's, after any per-run settings that route it.
///
/// Codex ignores `OPENAI_BASE_URL`, so the environment alone never reached Headroom. Its `-c`
/// overrides (accepted before any subcommand, e.g. `codex -c … exec "…"`) select a `headroom`
/// provider for this run only, with `requires_openai_auth = true` so Codex sends the login it
/// has (API key or ChatGPT) — without it a custom provider gets no `Authorization` header.
/// HTTP (`wire_api = "responses"`) rather than the built-in provider's WebSocket transport, so
/// every request is compressed. Checked with the real Codex 0.171.
///
/// When Codex's config uses a provider of the user's own ([`CodexRoute::Provider`]: a company
/// gateway with its key variable and headers), only that provider's `base_url` is pointed here
/// for the run; its gateway is the session proxy's upstream.
pub fn args_for(
    target: &Target,
    port: u16,
    user_args: Vec<OsString>,
    codex: CodexRoute,
) -> Vec<OsString> {
    if *target != Target::Tool(Tool::Codex) {
        return user_args;
    }
    let base = format!("http://127.0.0.1:{port}/v1");
    let overrides = match codex {
        CodexRoute::Provider(p) => vec![format!("model_providers.{p}.base_url=\"{base}\"")],
        CodexRoute::Headroom => vec![
            "model_provider=\"headroom\"".to_owned(),
            "model_providers.headroom.name=\"Headroom\"".to_owned(),
            format!("model_providers.headroom.base_url=\"{base}\""),
            "model_providers.headroom.wire_api=\"responses\"".to_owned(),
            "model_providers.headroom.requires_openai_auth=true".to_owned(),
        ],
    };
    let mut args: Vec<OsString> = Vec::with_capacity(overrides.len() * 2 + user_args.len());
    for o in overrides {
        args.push("-c".into());
        args.push(o.into());
    }
    args.extend(user_args);
    args
}

/// How `wrap codex` points one run at Headroom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodexRoute {
    /// Headroom's own `headroom` provider, for the built-in `openai` one (`-c` overrides beat
    /// a `--profile` file's choice too).
    Headroom,
    /// The user's own provider keeps its key and headers: only its `base_url` moves.
    Provider(String),
}

/// The profile a Codex command line selects (`-p NAME`, `--profile NAME`, `--profile=NAME`),
/// before any `--`: its `$CODEX_HOME/NAME.config.toml` can name a provider of its own.
pub fn codex_cli_profile(args: &[OsString]) -> Option<String> {
    let mut it = args.iter().map(|a| a.to_str());
    while let Some(a) = it.next() {
        match a? {
            "--" => return None,
            "-p" | "--profile" => return it.next()?.map(str::to_owned),
            a => {
                if let Some(p) = a.strip_prefix("--profile=") {
                    return Some(p.to_owned());
                }
            }
        }
    }
    None
}

/// Which providers' upstreams a target talks to: (Anthropic, OpenAI).
pub fn providers(target: &Target) -> (bool, bool) {
    match target {
        Target::Tool(Tool::Claude) => (true, false),
        Target::Tool(Tool::Codex | Tool::Cursor) => (false, true),
        _ => (true, true),
    }
}

/// An `ANTHROPIC_BASE_URL` one of Claude Code's settings files sets, and which file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeGateway {
    pub url: String,
    pub file: PathBuf,
}

/// Claude Code applies the `env` block of its settings files over the environment it was
/// started with, so a gateway there (`"env": {"ANTHROPIC_BASE_URL": "https://llm.corp/…"}`)
/// beats the `ANTHROPIC_BASE_URL` `wrap` sets: Headroom would get nothing. Files in Claude
/// Code's order of precedence: the project's `.claude/settings.local.json` and
/// `.claude/settings.json` (under `cwd`), then the user's (`$CLAUDE_CONFIG_DIR` or
/// `~/.claude`). A file that cannot be read or parsed is skipped (Claude Code reports it).
pub fn claude_gateway(
    cwd: &Path,
    current: &dyn Fn(&str) -> Option<OsString>,
) -> Option<ClaudeGateway> {
    let user_dir = current("CLAUDE_CONFIG_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            current("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".claude"))
        });
    let mut files = vec![
        cwd.join(".claude").join("settings.local.json"),
        cwd.join(".claude").join("settings.json"),
    ];
    files.extend(user_dir.map(|d| d.join("settings.json")));
    files.into_iter().find_map(|file| {
        let text = std::fs::read_to_string(&file).ok()?;
        let value: serde_json::Value =
            serde_json::from_str(&headroom_install::jsonc::strip_comments(&text)).ok()?;
        let url = value
            .get("env")?
            .get("ANTHROPIC_BASE_URL")?
            .as_str()?
            .trim();
        (!url.is_empty()).then(|| ClaudeGateway {
            url: url.to_owned(),
            file,
        })
    })
}

/// Claude Code's `--settings` outranks every settings file but managed policy, so this run's
/// proxy wins over a gateway in them (the gateway stays the proxy's upstream). Not added when
/// the user passes `--settings` themselves.
pub fn claude_settings_override(port: u16, user_args: &[OsString]) -> Option<[OsString; 2]> {
    if user_args
        .iter()
        .any(|a| a == "--settings" || a.to_string_lossy().starts_with("--settings="))
    {
        return None;
    }
    let settings =
        serde_json::json!({"env": {"ANTHROPIC_BASE_URL": format!("http://127.0.0.1:{port}")}});
    Some(["--settings".into(), settings.to_string().into()])
}

/// OpenCode reads extra config from `OPENCODE_CONFIG_CONTENT` for this run only. Both built-in
/// providers use the AI SDK, whose base URLs include `/v1`. A value the user already exports is
/// merged, not replaced.
fn opencode_config(port: u16, existing: Option<OsString>) -> Result<String> {
    let base = format!("http://127.0.0.1:{port}/v1");
    let mut root = match existing.filter(|v| !v.is_empty()) {
        None => serde_json::json!({}),
        Some(text) => match serde_json::from_str::<serde_json::Value>(&text.to_string_lossy()) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            _ => {
                return Err(user_error(
                    "OPENCODE_CONFIG_CONTENT is set but is not a JSON object, so wrap cannot add the proxy to it",
                    Some("fix or unset OPENCODE_CONFIG_CONTENT and run the command again"),
                ))
            }
        },
    };
    for provider in ["anthropic", "openai"] {
        let slot = &mut root["provider"][provider]["options"];
        if !slot.is_object() {
            *slot = serde_json::json!({});
        }
        slot["baseURL"] = serde_json::Value::String(base.clone());
    }
    Ok(root.to_string())
}

/// A hint telling the user how to install a missing tool.
pub fn install_hint(tool: Tool) -> &'static str {
    match tool {
        Tool::Claude => "install Claude Code with `npm install -g @anthropic-ai/claude-code`, or put `claude` on PATH",
        Tool::Codex => "install Codex with `npm install -g @openai/codex`, or put `codex` on PATH",
        Tool::Copilot => "install GitHub Copilot CLI with `npm install -g @github/copilot`, or put `copilot` on PATH",
        Tool::Aider => "install Aider with `python -m pip install aider-install && aider-install`, or put `aider` on PATH",
        Tool::Cursor => "Cursor is configured in its settings; see `headroom wrap cursor`",
        Tool::Opencode => "install OpenCode with `npm install -g opencode-ai`, or put `opencode` on PATH",
        Tool::Openclaw => "install OpenClaw with `npm install -g openclaw`, or put `openclaw` on PATH",
    }
}

/// Find `program` like a shell would: a path with a separator is used as given, anything else
/// is searched on `path` (the value of `PATH`).
pub fn find_program(program: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    let as_path = Path::new(program);
    if as_path.components().count() > 1 {
        return is_executable(as_path).then(|| as_path.to_path_buf());
    }
    if program.is_empty() {
        return None;
    }
    std::env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .flat_map(|dir| candidates(&dir, program))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn candidates(dir: &Path, program: &OsStr) -> Vec<PathBuf> {
    vec![dir.join(program)]
}

/// What `cmd.exe` would run: a name that already ends in a `PATHEXT` extension as is, any other
/// name with each `PATHEXT` extension in turn. Never the bare name: npm puts an extensionless
/// shell script (for Git Bash) next to `claude.cmd`, and Windows cannot start that.
#[cfg(not(unix))]
fn candidates(dir: &Path, program: &OsStr) -> Vec<PathBuf> {
    let pathext = std::env::var("PATHEXT")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| ".COM;.EXE;.BAT;.CMD".to_owned());
    let exts: Vec<String> = pathext
        .split(';')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| e.starts_with('.') && e.len() > 1)
        .collect();
    let has_ext = Path::new(program)
        .extension()
        .and_then(OsStr::to_str)
        .is_some_and(|e| exts.iter().any(|x| x[1..].eq_ignore_ascii_case(e)));
    if has_ext {
        return vec![dir.join(program)];
    }
    exts.iter()
        .map(|ext| {
            let mut name = program.to_os_string();
            name.push(ext);
            dir.join(name)
        })
        .collect()
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// The text `wrap cursor` prints: Cursor ignores environment variables, so the user points it
/// at the proxy in its settings.
pub fn cursor_instructions(port: u16) -> String {
    format!(
        "Cursor does not read environment variables; point it at Headroom in its settings:\n\
         \n  Cursor Settings > Models > OpenAI API Key > Override OpenAI Base URL:\n      http://127.0.0.1:{port}/v1\n\
         \n  Anthropic models (where your Cursor version offers a base URL override):\n      http://127.0.0.1:{port}\n\
         \nNote: Cursor sends some requests from its own servers, which cannot reach a proxy on\n\
         127.0.0.1; those requests bypass Headroom.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_gets_a_headroom_provider_before_its_own_arguments() {
        let user: Vec<OsString> = vec!["exec".into(), "fix it".into()];
        let args = args_for(
            &Target::Tool(Tool::Codex),
            9001,
            user.clone(),
            CodexRoute::Headroom,
        );
        let text: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(&text[text.len() - 2..], ["exec", "fix it"]);
        assert!(text.chunks(2).take(5).all(|pair| pair[0] == "-c"));
        assert!(text.contains(
            &"model_providers.headroom.base_url=\"http://127.0.0.1:9001/v1\"".to_owned()
        ));
        assert!(text.contains(&"model_providers.headroom.requires_openai_auth=true".to_owned()));
        // Other tools' arguments are untouched.
        assert_eq!(
            args_for(
                &Target::Tool(Tool::Claude),
                9001,
                user.clone(),
                CodexRoute::Headroom
            ),
            user
        );
        // A provider of the user's own keeps its key and headers: only its URL moves.
        let theirs = args_for(
            &Target::Tool(Tool::Codex),
            9001,
            user.clone(),
            CodexRoute::Provider("corp".into()),
        );
        assert_eq!(
            theirs,
            [
                OsString::from("-c"),
                "model_providers.corp.base_url=\"http://127.0.0.1:9001/v1\"".into(),
                "exec".into(),
                "fix it".into()
            ]
        );
    }

    #[test]
    fn codexs_profile_is_read_from_its_command_line() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            codex_cli_profile(&args(&["exec", "-p", "corp", "hi"])).as_deref(),
            Some("corp")
        );
        assert_eq!(
            codex_cli_profile(&args(&["--profile", "corp"])).as_deref(),
            Some("corp")
        );
        assert_eq!(
            codex_cli_profile(&args(&["--profile=corp", "exec"])).as_deref(),
            Some("corp")
        );
        assert_eq!(codex_cli_profile(&args(&["exec", "--", "-p", "x"])), None);
        assert_eq!(codex_cli_profile(&args(&["exec", "hi"])), None);
    }

    fn none(_: &str) -> Option<OsString> {
        None
    }

    fn pairs(env: Vec<(String, OsString)>) -> Vec<(String, String)> {
        env.into_iter()
            .map(|(k, v)| (k, v.to_string_lossy().into_owned()))
            .collect()
    }

    #[test]
    fn env_per_tool_matches_the_reference_table() {
        let env = |t: Tool| pairs(env_for(&Target::Tool(t), 9001, &none).unwrap());
        assert_eq!(
            env(Tool::Claude),
            [
                ("ANTHROPIC_BASE_URL".into(), "http://127.0.0.1:9001".into()),
                ("ENABLE_TOOL_SEARCH".into(), "true".into())
            ]
        );
        assert_eq!(
            env(Tool::Codex),
            [("OPENAI_BASE_URL".into(), "http://127.0.0.1:9001/v1".into())]
        );
        assert_eq!(
            env(Tool::Aider),
            [
                ("OPENAI_API_BASE".into(), "http://127.0.0.1:9001/v1".into()),
                ("ANTHROPIC_BASE_URL".into(), "http://127.0.0.1:9001".into())
            ]
        );
        assert_eq!(
            env(Tool::Copilot),
            [
                ("COPILOT_PROVIDER_TYPE".into(), "anthropic".into()),
                (
                    "COPILOT_PROVIDER_BASE_URL".into(),
                    "http://127.0.0.1:9001".into()
                )
            ]
        );
        let generic = pairs(env_for(&Target::Command("make".into()), 9001, &none).unwrap());
        assert_eq!(
            generic,
            [
                ("ANTHROPIC_BASE_URL".into(), "http://127.0.0.1:9001".into()),
                ("OPENAI_BASE_URL".into(), "http://127.0.0.1:9001/v1".into())
            ]
        );
    }

    #[test]
    fn claude_gateways_are_found_in_claude_codes_order() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let project = tmp.path().join("project");
        let write = |path: PathBuf, text: &str| {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        let env = |k: &str| (k == "HOME").then(|| home.clone().into_os_string());
        assert_eq!(claude_gateway(&project, &env), None);
        write(
            home.join(".claude/settings.json"),
            "// company\n{\"env\": {\"ANTHROPIC_BASE_URL\": \"https://gw.corp.example/a\"}}",
        );
        let g = claude_gateway(&project, &env).unwrap();
        assert_eq!(g.url, "https://gw.corp.example/a");
        assert_eq!(g.file, home.join(".claude/settings.json"));
        write(
            project.join(".claude/settings.json"),
            "{\"model\": \"opus\"}",
        );
        write(
            project.join(".claude/settings.local.json"),
            "{\"env\": {\"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:4000\"}}",
        );
        assert_eq!(
            claude_gateway(&project, &env).unwrap().url,
            "http://127.0.0.1:4000"
        );
        // $CLAUDE_CONFIG_DIR replaces ~/.claude.
        let other = tmp.path().join("cfg");
        let env2 = |k: &str| match k {
            "CLAUDE_CONFIG_DIR" => Some(other.clone().into_os_string()),
            "HOME" => Some(home.clone().into_os_string()),
            _ => None,
        };
        assert_eq!(claude_gateway(&tmp.path().join("elsewhere"), &env2), None);
    }

    #[test]
    fn claude_settings_override_yields_to_the_users_own() {
        let [flag, value] = claude_settings_override(9000, &[]).unwrap();
        assert_eq!(flag, "--settings");
        let v: serde_json::Value = serde_json::from_str(&value.to_string_lossy()).unwrap();
        assert_eq!(v["env"]["ANTHROPIC_BASE_URL"], "http://127.0.0.1:9000");
        assert!(claude_settings_override(9000, &["--settings".into(), "x.json".into()]).is_none());
        assert!(claude_settings_override(9000, &["--settings=x.json".into()]).is_none());
    }

    #[test]
    fn user_preferences_are_kept() {
        let current = |k: &str| match k {
            "ENABLE_TOOL_SEARCH" => Some(OsString::from("false")),
            "ANTHROPIC_API_KEY" => Some(OsString::from("sk-test")),
            _ => None,
        };
        let claude = pairs(env_for(&Target::Tool(Tool::Claude), 8787, &current).unwrap());
        assert!(!claude.iter().any(|(k, _)| k == "ENABLE_TOOL_SEARCH"));
        let copilot = pairs(env_for(&Target::Tool(Tool::Copilot), 8787, &current).unwrap());
        assert!(copilot.contains(&("COPILOT_PROVIDER_API_KEY".into(), "sk-test".into())));
    }

    #[test]
    fn opencode_config_is_merged_into_the_users_value() {
        let fresh: serde_json::Value =
            serde_json::from_str(&opencode_config(8787, None).unwrap()).unwrap();
        assert_eq!(
            fresh["provider"]["anthropic"]["options"]["baseURL"],
            "http://127.0.0.1:8787/v1"
        );
        assert_eq!(
            fresh["provider"]["openai"]["options"]["baseURL"],
            "http://127.0.0.1:8787/v1"
        );
        let user = r#"{"model":"anthropic/claude-sonnet-4","provider":{"anthropic":{"options":{"timeout":5}}}}"#;
        let merged: serde_json::Value =
            serde_json::from_str(&opencode_config(9000, Some(user.into())).unwrap()).unwrap();
        assert_eq!(merged["model"], "anthropic/claude-sonnet-4");
        assert_eq!(merged["provider"]["anthropic"]["options"]["timeout"], 5);
        assert_eq!(
            merged["provider"]["anthropic"]["options"]["baseURL"],
            "http://127.0.0.1:9000/v1"
        );
        let err = opencode_config(8787, Some("[1,2".into())).unwrap_err();
        assert_eq!(crate::diagnostics::exit_code(&err), 1);
    }

    #[test]
    fn programs_are_found_on_path_only_when_executable() {
        let dir = tempfile::tempdir().unwrap();
        // Windows finds `mytool` through PATHEXT; Unix needs the exact name.
        let tool = dir.path().join(if cfg!(windows) {
            "mytool.cmd"
        } else {
            "mytool"
        });
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        let path = std::env::join_paths([dir.path()]).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(find_program("mytool".as_ref(), Some(&path)), None);
            std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert_eq!(
            find_program("mytool".as_ref(), Some(&path)),
            Some(tool.clone())
        );
        assert_eq!(find_program(tool.as_os_str(), None), Some(tool));
        assert_eq!(find_program("nope".as_ref(), Some(&path)), None);
    }
}
