//! Planning: everything `apply` will do, computed up front from the request and the current
//! files, without changing anything. `--dry-run` prints the plan; `apply` executes exactly it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::edits::{self, Edit, JsonKey, Shell};
use crate::env::{Environment, OsKind};
use crate::error::{Error, ErrorKind, Result};
use crate::fsx;
use crate::health::{self, PortOwner};
use crate::model::{
    self, Manifest, Mutation, Preset, ProviderMode, RuntimeKind, Scope, SCHEMA_VERSION,
};
use crate::supervisor::{self, Op, Spec, Supervisor};
use crate::targets::Tool;

/// Default image for `persistent-docker`.
pub const DEFAULT_IMAGE: &str = "headroom:latest";

/// What the user asked for (`headroom install apply` flags, or a desktop toggle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub profile: String,
    /// `None` = `persistent-service`, or `persistent-docker` when the runtime is docker.
    pub preset: Option<Preset>,
    pub runtime: Option<RuntimeKind>,
    pub scope: Scope,
    pub providers: ProviderMode,
    /// Used with [`ProviderMode::Manual`].
    pub targets: Vec<Tool>,
    pub port: u16,
    pub image: Option<String>,
    /// A wiring owner ([`crate::wiring`]; the desktop app is `desktop`) whose tools this
    /// deployment takes over: the owner unwires them before `apply`. Without it, planning
    /// refuses to wire files another owner's wiring holds.
    pub take_over: Option<String>,
    /// Remove the Python Headroom's deployment of this profile first (`apply --take-over`).
    pub take_over_python: bool,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            profile: "default".to_owned(),
            preset: None,
            runtime: None,
            scope: Scope::User,
            providers: ProviderMode::Auto,
            targets: Vec::new(),
            port: 8787,
            image: None,
            take_over: None,
            take_over_python: false,
        }
    }
}

/// One file `apply` writes.
#[derive(Debug, Clone)]
pub struct FileChange {
    /// `env`, a tool name, or `supervisor`.
    pub target: String,
    /// Mutation kind (`shell-block`, `json-env`, …) or artifact kind (`systemd-unit`, …).
    pub kind: String,
    pub artifact: bool,
    /// The path as the user knows it (may be a symlink).
    pub path: PathBuf,
    /// The file that is really written.
    pub resolved: PathBuf,
    pub before: Option<String>,
    pub before_mode: Option<u32>,
    pub after: String,
    /// Mode for new files (existing files keep theirs).
    pub mode: Option<u32>,
    pub edit: Edit,
    pub created_dirs: Vec<PathBuf>,
    /// The file goes away (only in the preview of a settings change).
    pub deleted: bool,
}

impl FileChange {
    /// What undoing this write needs: the content before Headroom's edits (`previous`, `None`
    /// when the file did not exist) and a hash of what is written.
    pub(crate) fn record(
        &self,
        previous: Option<String>,
        previous_mode: Option<u32>,
    ) -> model::FileRecord {
        model::FileRecord {
            resolved_path: self.resolved.to_string_lossy().into_owned(),
            existed: previous.is_some(),
            previous,
            previous_mode,
            written_sha256: fsx::sha256_hex(self.after.as_bytes()),
            created_dirs: self
                .created_dirs
                .iter()
                .map(|d| d.to_string_lossy().into_owned())
                .collect(),
        }
    }

    /// The change as a unified diff (`/dev/null` for a file created or deleted).
    pub fn unified_diff(&self) -> String {
        let old_name = if self.before.is_some() {
            self.path.display().to_string()
        } else {
            "/dev/null".to_owned()
        };
        let new_name = if self.deleted {
            "/dev/null".to_owned()
        } else {
            self.path.display().to_string()
        };
        let before = self.before.as_deref().unwrap_or("");
        let after = if self.deleted {
            ""
        } else {
            self.after.as_str()
        };
        let mut out = similar::TextDiff::from_lines(before, after)
            .unified_diff()
            .context_radius(3)
            .header(&old_name, &new_name)
            .to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }
}

/// A Windows environment variable change (HKCU/HKLM), executed through the runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVarChange {
    pub name: String,
    pub value: String,
    /// `User` or `Machine`.
    pub scope: String,
    pub previous: Option<String>,
}

/// Everything `apply` will do.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The manifest `apply` will write (its records are filled in while applying).
    pub manifest: Manifest,
    pub files: Vec<FileChange>,
    pub env_vars: Vec<EnvVarChange>,
    /// Supervisor registration commands, run after the files are written.
    pub register: Vec<Op>,
    /// How the runtime is started at the end.
    pub start: Vec<Op>,
    /// The same deployment is already installed: `apply` does nothing.
    pub up_to_date: bool,
    /// Things the user should know (tools skipped, root needed, …).
    pub notes: Vec<String>,
    pub spec: Spec,
    /// The request this plan answers (re-planned by `apply` when replacing a deployment).
    pub request: Request,
    /// The installed deployment of this profile that `apply` replaces (different settings).
    /// `files` is then a preview: `apply` undoes the old deployment and plans again.
    pub replaces: Option<Manifest>,
    /// What undoing the old deployment runs (preview only).
    pub replace_ops: Vec<Op>,
    /// The Python Headroom's deployment of this profile, removed before `apply` installs.
    pub legacy: Option<crate::legacy::Legacy>,
}

/// A tool as found on this machine (for `--providers auto` and the desktop app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolInfo {
    pub tool: Tool,
    pub binary: Option<PathBuf>,
    /// The file provider scope edits (or the tool's config dir when it has none we edit).
    pub config_path: PathBuf,
    pub config_exists: bool,
    /// What the tool is currently pointed at, as far as its config says (e.g. a base URL).
    pub wiring: Option<String>,
}

impl ToolInfo {
    pub fn detected(&self) -> bool {
        self.binary.is_some() || self.config_exists
    }
}

/// `~/.claude/settings.json` (honours `CLAUDE_CONFIG_DIR`).
pub fn claude_settings(env: &Environment) -> PathBuf {
    env.claude_config_dir
        .clone()
        .unwrap_or_else(|| env.home.join(".claude"))
        .join("settings.json")
}

/// A gateway Claude Code's user settings send it to (`env.ANTHROPIC_BASE_URL` that is not
/// Headroom's own wiring, see [`is_headroom_url`]).
fn claude_gateway(env: &Environment, ours: &[u16]) -> Option<String> {
    let text = fsx::read_opt(&claude_settings(env)).ok()??;
    let text = String::from_utf8_lossy(&text);
    let value: Value = serde_json::from_str(&crate::jsonc::strip_comments(&text)).ok()?;
    let url = value
        .get("env")?
        .get("ANTHROPIC_BASE_URL")?
        .as_str()?
        .trim();
    (!url.is_empty() && !is_headroom_url(url, ours)).then(|| url.to_owned())
}

/// `~/.codex/config.toml` (honours `CODEX_HOME`).
pub fn codex_config(env: &Environment) -> PathBuf {
    codex_home(env).join("config.toml")
}

fn codex_home(env: &Environment) -> PathBuf {
    env.codex_home
        .clone()
        .unwrap_or_else(|| env.home.join(".codex"))
}

/// OpenCode's global config: `$OPENCODE_CONFIG`, else `opencode.json` (or an existing
/// `opencode.jsonc`) under `$XDG_CONFIG_HOME/opencode`.
pub fn opencode_config(env: &Environment) -> PathBuf {
    if let Some(p) = &env.opencode_config {
        return p.clone();
    }
    let dir = env.config_home().join("opencode");
    let json = dir.join("opencode.json");
    let jsonc = dir.join("opencode.jsonc");
    if !json.exists() && jsonc.exists() {
        jsonc
    } else {
        json
    }
}

/// OpenCode's built-in providers Headroom routes, with the deployment variable a gateway the
/// user set for each becomes. A provider of Headroom's own (`provider.headroom`) would route
/// nothing: OpenCode's users pick `anthropic/…` and `openai/…` models, which would keep going
/// direct (checked with the real OpenCode 1.18.33).
pub const OPENCODE_PROVIDERS: [(&str, &str); 2] = [
    ("anthropic", "ANTHROPIC_TARGET_API_URL"),
    ("openai", "OPENAI_TARGET_API_URL"),
];

/// The edit that points OpenCode's Anthropic and OpenAI providers at Headroom on `port`:
/// `provider.<id>.options.baseURL` (the AI SDK's base URLs include `/v1`; the rest of each
/// provider entry — key, headers, models — stays the user's).
pub fn opencode_edit(port: u16) -> Edit {
    Edit::JsonSet {
        keys: OPENCODE_PROVIDERS
            .iter()
            .map(|(id, _)| JsonKey {
                path: ["provider", id, "options", "baseURL"]
                    .map(str::to_owned)
                    .to_vec(),
                value: Value::from(format!("http://127.0.0.1:{port}/v1")),
                previous: None,
            })
            .collect(),
        created: Vec::new(),
    }
}

/// Gateways OpenCode's config sends its providers to (`provider.<id>.options.baseURL`).
pub fn opencode_gateways(env: &Environment, ours: &[u16]) -> Vec<ConfigGateway> {
    opencode_gateways_in(&opencode_config(env), ours)
}

/// The gateways one OpenCode config file names for its providers.
pub fn opencode_gateways_in(file: &Path, ours: &[u16]) -> Vec<ConfigGateway> {
    config_gateways(
        file,
        OPENCODE_PROVIDERS.map(|(id, var)| (var, ["provider", id, "options", "baseURL"])),
        ours,
    )
}

/// The config files an OpenCode run in `cwd` merges over its global one, in merge order (a
/// later file wins), as OpenCode finds them: `opencode.jsonc`, then `opencode.json`, each from
/// the worktree root (the nearest folder up with `.git`, else `/`) down to `cwd`; then
/// `opencode.jsonc`/`opencode.json` in the `.opencode` folders from the root down, and in
/// `~/.opencode`. None of the project's with `OPENCODE_DISABLE_PROJECT_CONFIG` set (`project`
/// false).
pub fn opencode_run_configs(home: &Path, cwd: &Path, project: bool) -> Vec<PathBuf> {
    let mut up: Vec<&Path> = Vec::new();
    if project {
        for dir in cwd.ancestors() {
            up.push(dir);
            if dir.join(".git").exists() {
                break;
            }
        }
    }
    up.reverse(); // root first: OpenCode merges from the root down to the leaf
    let existing = |p: PathBuf| p.is_file().then_some(p);
    let mut files = Vec::new();
    for name in ["opencode.jsonc", "opencode.json"] {
        files.extend(up.iter().filter_map(|d| existing(d.join(name))));
    }
    let mut dot_dirs: Vec<PathBuf> = up.iter().map(|d| d.join(".opencode")).collect();
    dot_dirs.push(home.join(".opencode"));
    dot_dirs.dedup();
    for dir in dot_dirs {
        for name in ["opencode.jsonc", "opencode.json"] {
            files.extend(existing(dir.join(name)));
        }
    }
    files
}

/// A base URL a tool's own config file sends one of its providers to, that is not Headroom's
/// own wiring ([`is_headroom_url`]): the deployment variable it becomes
/// (`ANTHROPIC_TARGET_API_URL` / `OPENAI_TARGET_API_URL`), the URL, and the key that holds it
/// (`provider.anthropic.options.baseURL`), for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigGateway {
    pub var: &'static str,
    pub url: String,
    pub key: String,
}

/// The gateways at `paths` of the JSON(C) `file`. An unreadable file gives none (planning
/// reports it).
fn config_gateways(
    file: &Path,
    paths: [(&'static str, [&str; 4]); 2],
    ours: &[u16],
) -> Vec<ConfigGateway> {
    let Ok(Some(bytes)) = fsx::read_opt(file) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let Ok(value) = serde_json::from_str::<Value>(&crate::jsonc::strip_comments(&text)) else {
        return Vec::new();
    };
    paths
        .into_iter()
        .filter_map(|(var, path)| {
            let url = path
                .iter()
                .try_fold(&value, |v, k| v.get(*k))?
                .as_str()?
                .trim();
            (!url.is_empty() && !is_headroom_url(url, ours)).then(|| ConfigGateway {
                var,
                url: url.to_owned(),
                key: path.join("."),
            })
        })
        .collect()
}

/// A Codex config file, parsed; `None` when absent or unparsable (planning reports that).
fn codex_doc_at(path: &Path) -> Option<toml_edit::DocumentMut> {
    let bytes = fsx::read_opt(path).ok()??;
    String::from_utf8_lossy(&bytes).parse().ok()
}

/// A Codex profile's file: `codex --profile NAME` layers `$CODEX_HOME/NAME.config.toml` over
/// `config.toml` (Codex 0.171 refuses the older `[profiles.NAME]` tables), and `-c` overrides
/// beat both — checked with the real Codex.
pub fn codex_profile_config(env: &Environment, profile: &str) -> PathBuf {
    codex_home(env).join(format!("{profile}.config.toml"))
}

/// The provider settings one Codex run sees: `config.toml` with the profile file's
/// `model_provider`, `openai_base_url` and `[model_providers.*]` entries over it.
fn codex_run_doc(env: &Environment, profile: Option<&str>) -> toml_edit::DocumentMut {
    let mut doc = codex_doc_at(&codex_config(env)).unwrap_or_default();
    if let Some(layer) = profile.and_then(|p| codex_doc_at(&codex_profile_config(env, p))) {
        for key in ["model_provider", "openai_base_url"] {
            if let Some(v) = layer.get(key) {
                doc[key] = v.clone();
            }
        }
        if let Some(providers) = layer.get("model_providers").and_then(|p| p.as_table_like()) {
            // A `model_providers` that is not a table (Codex would refuse the file) is
            // replaced rather than indexed into.
            if !doc
                .get("model_providers")
                .is_some_and(|p| p.is_table_like())
            {
                doc["model_providers"] = toml_edit::table();
            }
            if let Some(mine) = doc
                .get_mut("model_providers")
                .and_then(|p| p.as_table_like_mut())
            {
                for (name, table) in providers.iter() {
                    mine.insert(name, table.clone());
                }
            }
        }
    }
    doc
}

/// The gateway Codex's config sends it to, when that is not Headroom's own: the `base_url` of
/// the provider it uses (`model_provider = "corp"` and `[model_providers.corp]`), or
/// `openai_base_url` for the built-in one. Headroom's provider takes the user's provider's
/// settings (key variable, headers) and this URL becomes the deployment's OpenAI upstream.
pub fn codex_gateway(env: &Environment, ours: &[u16]) -> Option<ConfigGateway> {
    codex_run_gateway(env, ours, None).map(|(g, _)| g)
}

/// [`codex_gateway`] for one run with `--profile profile` (what `wrap codex` starts), with the
/// file that sets its URL (the profile's file or `config.toml`).
pub fn codex_run_gateway(
    env: &Environment,
    ours: &[u16],
    profile: Option<&str>,
) -> Option<(ConfigGateway, PathBuf)> {
    let doc = codex_run_doc(env, profile);
    let gateway = gateway_of_codex_doc(&doc, ours)?;
    let in_profile = profile.map(|p| codex_profile_config(env, p)).filter(|f| {
        codex_doc_at(f).is_some_and(|layer| {
            gateway
                .key
                .split('.')
                .try_fold(layer.as_item(), |item, k| item.get(k))
                .is_some()
        })
    });
    Some((gateway, in_profile.unwrap_or_else(|| codex_config(env))))
}

fn gateway_of_codex_doc(doc: &toml_edit::DocumentMut, ours: &[u16]) -> Option<ConfigGateway> {
    let provider = doc
        .get("model_provider")
        .and_then(|i| i.as_str())
        .unwrap_or("openai");
    let (url, key) = match provider {
        "headroom" => return None,
        "openai" => (
            doc.get("openai_base_url")?.as_str()?,
            "openai_base_url".to_owned(),
        ),
        p => (
            doc.get("model_providers")?
                .get(p)?
                .get("base_url")?
                .as_str()?,
            format!("model_providers.{p}.base_url"),
        ),
    };
    let url = url.trim();
    (!url.is_empty() && !is_headroom_url(url, ours)).then(|| ConfigGateway {
        var: "OPENAI_TARGET_API_URL",
        url: url.to_owned(),
        key,
    })
}

/// Codex profile files (`$CODEX_HOME/NAME.config.toml`) that choose a provider or a base URL
/// of their own: a run with `--profile NAME` layers them over the `config.toml` Headroom edits
/// and would go past Headroom, so planning says so. (profile, file)
pub fn codex_profiles_past_headroom(env: &Environment, ours: &[u16]) -> Vec<(String, PathBuf)> {
    let Ok(dir) = std::fs::read_dir(codex_home(env)) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = dir
        .flatten()
        .filter_map(|e| {
            let name = e
                .file_name()
                .to_str()?
                .strip_suffix(".config.toml")?
                .to_owned();
            let layer = codex_doc_at(&e.path())?;
            let own_provider = layer
                .get("model_provider")
                .and_then(|v| v.as_str())
                .is_some_and(|p| p != "headroom");
            let own_url = layer.get("openai_base_url").is_some()
                || layer
                    .get("model_providers")
                    .and_then(|p| p.as_table_like())
                    .is_some_and(|t| {
                        t.iter().any(|(_, p)| {
                            p.get("base_url")
                                .and_then(|u| u.as_str())
                                .is_some_and(|u| !is_headroom_url(u.trim(), ours))
                        })
                    });
            (!name.is_empty() && (own_provider || own_url)).then(|| (name, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// Notes for the Codex profiles an edit of `config.toml` does not reach.
fn codex_profile_notes(env: &Environment, port: u16, notes: &mut Vec<String>) {
    for (profile, file) in codex_profiles_past_headroom(env, &headroom_ports(env, port)) {
        notes.push(format!(
            "Codex profile `{profile}` ({}) sets a provider or base URL of its own: runs with `--profile {profile}` go past Headroom; `headroom wrap codex -- --profile {profile} …` routes them",
            file.display()
        ));
    }
}

/// OpenClaw's config: `~/.openclaw/openclaw.json`, or where its env moves it
/// ([`crate::env::openclaw_config_from`]). OpenClaw reads it as JSON5; Headroom edits JSON with
/// comments and trailing commas, the format OpenClaw itself writes.
pub fn openclaw_config(env: &Environment) -> PathBuf {
    env.openclaw_config
        .clone()
        .unwrap_or_else(|| env.home.join(".openclaw").join("openclaw.json"))
}

/// The OpenClaw model providers Headroom routes, each with the API adapter OpenClaw must use
/// for it and the suffix of Headroom's URL it needs. OpenClaw treats a provider entry that sets
/// `baseUrl` as a custom endpoint and would talk OpenAI chat completions to it, so `api` is
/// set too (checked with the real OpenClaw 2026.9.6: without it, Anthropic models go out as
/// `POST /chat/completions`). The user's key, auth mode, headers and models stay theirs.
pub const OPENCLAW_PROVIDERS: [(&str, &str, &str); 2] = [
    ("anthropic", "anthropic-messages", ""),
    ("openai", "openai-responses", "/v1"),
];

/// The edit that points OpenClaw's Anthropic and OpenAI providers at Headroom on `port`:
/// `models.providers.<id>.baseUrl` and `.api` (the rest of each provider entry is kept).
pub fn openclaw_edit(port: u16) -> Edit {
    let mut keys = Vec::new();
    for (id, api, suffix) in OPENCLAW_PROVIDERS {
        let path = |leaf: &str| {
            ["models", "providers", id, leaf]
                .map(str::to_owned)
                .to_vec()
        };
        keys.push(JsonKey {
            path: path("baseUrl"),
            value: Value::from(format!("http://127.0.0.1:{port}{suffix}")),
            previous: None,
        });
        keys.push(JsonKey {
            path: path("api"),
            value: Value::from(api),
            previous: None,
        });
    }
    Edit::JsonSet {
        keys,
        created: Vec::new(),
    }
}

/// Gateways OpenClaw's config sends its providers to (`models.providers.<id>.baseUrl`).
pub fn openclaw_gateways(env: &Environment, ours: &[u16]) -> Vec<ConfigGateway> {
    let [(anthropic, ..), (openai, ..)] = OPENCLAW_PROVIDERS;
    config_gateways(
        &openclaw_config(env),
        [
            (
                "ANTHROPIC_TARGET_API_URL",
                ["models", "providers", anthropic, "baseUrl"],
            ),
            (
                "OPENAI_TARGET_API_URL",
                ["models", "providers", openai, "baseUrl"],
            ),
        ],
        ours,
    )
}

/// A provider the user had on another API adapter (say a gateway that speaks OpenAI chat
/// completions for Anthropic models) is switched to the one Headroom serves: say so.
fn openclaw_api_notes(change: &FileChange, notes: &mut Vec<String>) {
    let Edit::JsonSet { keys, .. } = &change.edit else {
        return;
    };
    for key in keys
        .iter()
        .filter(|k| k.path.last().is_some_and(|l| l == "api"))
    {
        if let Some(previous) = key.previous.as_ref().filter(|p| **p != key.value) {
            notes.push(format!(
                "warning: OpenClaw's `{}` provider used `api: {previous}`; Headroom sets {} (what it serves for that provider). If your upstream only speaks the old API, keep that provider out of Headroom (`remove` puts the setting back)",
                key.path.get(2).map(String::as_str).unwrap_or("?"),
                key.value
            ));
        }
    }
}

/// The port of a loopback `url` (`http://127.0.0.1:4000/v1` → 4000; no port: the scheme's).
fn loopback_port(url: &str) -> Option<u16> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.contains(']') => (h, Some(p)),
        _ => (authority, None),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return None;
    }
    match port {
        Some(p) => p.parse().ok(),
        None if scheme.eq_ignore_ascii_case("https") => Some(443),
        None => Some(80),
    }
}

/// Whether a base URL a tool's config holds is Headroom's own wiring rather than a gateway the
/// user chose: a loopback address at one of `ours` (this deployment's port and those of the
/// deployments already installed), or one where a Headroom proxy answers `/health`. A gateway
/// on this machine (LiteLLM on `127.0.0.1:4000`) is not, and is chained like a remote one:
/// replacing it would send the tool's requests past the gateway it needs.
pub fn is_headroom_url(url: &str, ours: &[u16]) -> bool {
    use headroom_protocol::probe::{probe, Probe};
    let Some(port) = loopback_port(url) else {
        return false;
    };
    ours.contains(&port)
        || matches!(
            probe(
                port,
                std::time::Duration::from_secs(1),
                "headroom-install",
                || None
            ),
            Probe::Headroom(..)
        )
}

/// Ports Headroom's deployments use: `port` and every installed profile's.
pub fn headroom_ports(env: &Environment, port: u16) -> Vec<u16> {
    let mut ports = vec![port, headroom_protocol::DEFAULT_PORT];
    for profile in list_profiles(env) {
        if let Ok(Some(m)) = model::load(&env.manifest_path(&profile), &profile) {
            ports.push(m.port);
        }
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

fn tool_config_dir(env: &Environment, tool: Tool) -> PathBuf {
    match tool {
        Tool::Claude => claude_settings(env)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        Tool::Codex => codex_home(env),
        Tool::Opencode => env.config_home().join("opencode"),
        Tool::Openclaw => openclaw_config(env)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        Tool::Copilot => env.home.join(".copilot"),
        Tool::Aider => env.home.join(".aider.conf.yml"),
        Tool::Cursor => env.home.join(".cursor"),
    }
}

/// Every known tool with its binary, config and current wiring.
pub fn detect_tools(env: &Environment) -> Vec<ToolInfo> {
    Tool::ALL
        .iter()
        .map(|&tool| {
            let config_path = match tool {
                Tool::Claude => claude_settings(env),
                Tool::Codex => codex_config(env),
                Tool::Opencode => opencode_config(env),
                Tool::Openclaw => openclaw_config(env),
                other => tool_config_dir(env, other),
            };
            let config_exists = tool_config_dir(env, tool).exists();
            let text = std::fs::read_to_string(&config_path).ok();
            let wiring = text.as_deref().and_then(|t| match tool {
                Tool::Claude => crate::jsonc::get_raw(t, &["env", "ANTHROPIC_BASE_URL"])
                    .ok()
                    .flatten()
                    .map(|raw| raw.trim_matches('"').to_owned()),
                Tool::Codex => t
                    .parse::<toml_edit::DocumentMut>()
                    .ok()
                    .and_then(|d| {
                        d.get("model_provider")
                            .and_then(|i| i.as_str())
                            .map(str::to_owned)
                    })
                    .map(|p| format!("model_provider = {p}")),
                Tool::Opencode => {
                    crate::jsonc::get_raw(t, &["provider", "anthropic", "options", "baseURL"])
                        .ok()
                        .flatten()
                        .map(|raw| raw.trim_matches('"').to_owned())
                }
                Tool::Openclaw => {
                    crate::jsonc::get_raw(t, &["models", "providers", "anthropic", "baseUrl"])
                        .ok()
                        .flatten()
                        .map(|raw| raw.trim_matches('"').to_owned())
                }
                _ => None,
            });
            ToolInfo {
                tool,
                binary: env.find_binary(tool.binary()),
                config_path,
                config_exists,
                wiring,
            }
        })
        .collect()
}

/// Targets each scope can wire.
pub fn scope_supports(scope: Scope, tool: Tool) -> bool {
    unsupported_reason(scope, tool).is_none()
}

/// Why `scope` cannot wire `tool` (`None`: it can).
pub fn unsupported_reason(scope: Scope, tool: Tool) -> Option<String> {
    match (scope, tool) {
        (Scope::Provider, Tool::Claude | Tool::Codex | Tool::Opencode | Tool::Openclaw) => None,
        (Scope::Provider, t) => Some(format!(
            "{} has no config file Headroom can edit, so provider scope cannot wire it",
            t.display_name()
        )),
        (_, Tool::Opencode) => Some(
            "OpenCode reads no base-URL environment variable; it is wired through its opencode.json"
                .to_owned(),
        ),
        (_, Tool::Openclaw) => Some(
            "OpenClaw reads no base-URL environment variable (its providers take their URL from openclaw.json); it is wired through its openclaw.json"
                .to_owned(),
        ),
        _ => None,
    }
}

fn resolve_targets(env: &Environment, req: &Request, notes: &mut Vec<String>) -> Result<Vec<Tool>> {
    let valid: Vec<&str> = Tool::ALL
        .iter()
        .filter(|t| scope_supports(req.scope, **t))
        .map(|t| t.name())
        .collect();
    match req.providers {
        ProviderMode::Manual => {
            let mut out = Vec::new();
            for &t in &req.targets {
                if let Some(why) = unsupported_reason(req.scope, t) {
                    let hint = match req.scope {
                        Scope::Provider => {
                            "use `--scope user` for it, or drop the target".to_owned()
                        }
                        _ => "use `--scope provider` for it, or drop the target".to_owned(),
                    };
                    return Err(Error::user(
                        format!(
                            "target `{t}` is not supported in {} scope: {why} (this scope supports: {})",
                            req.scope,
                            valid.join(", ")
                        ),
                        Some(&hint),
                    ));
                }
                if !out.contains(&t) {
                    out.push(t);
                }
            }
            if out.is_empty() {
                notes.push(
                    "no targets given: only the proxy is installed, no tool is wired".to_owned(),
                );
            }
            Ok(out)
        }
        ProviderMode::All => Ok(Tool::ALL
            .into_iter()
            .filter(|t| scope_supports(req.scope, *t))
            .collect()),
        ProviderMode::Auto => {
            let found: Vec<Tool> = detect_tools(env)
                .into_iter()
                .filter(|i| i.detected() && scope_supports(req.scope, i.tool))
                .map(|i| i.tool)
                .collect();
            if found.is_empty() {
                notes.push(
                    "no coding tools detected (looked for their binaries on PATH and their config dirs); only the proxy is installed"
                        .to_owned(),
                );
            }
            Ok(found)
        }
    }
}

fn read_for_edit(path: &Path) -> Result<(PathBuf, Option<String>, Option<u32>)> {
    let resolved = fsx::resolve(path)?;
    if resolved.is_dir() {
        return Err(Error::user(
            format!("{} is a directory, not a file", path.display()),
            None,
        ));
    }
    let bytes = fsx::read_opt(&resolved)?;
    let text = match bytes {
        Some(b) => Some(String::from_utf8(b).map_err(|_| {
            Error::user(
                format!("{} is not UTF-8 text; refusing to edit it", path.display()),
                Some("convert it to UTF-8, or choose a scope that does not edit it"),
            )
        })?),
        None => None,
    };
    if text.is_some() && fsx::is_read_only(&resolved) {
        return Err(Error::user(
            format!("{} is read-only; refusing to edit it", path.display()),
            Some("make it writable (chmod u+w), or choose another scope"),
        ));
    }
    let mode = fsx::mode_of(&resolved);
    Ok((resolved, text, mode))
}

/// Files (and Windows env variables) as they will be once an earlier set of edits is undone
/// (resolved path → content, `None` = absent), and which of them the new plan writes. A
/// deployment being replaced, or the app's wiring being changed, is planned on top of this.
#[derive(Default)]
pub(crate) struct Overlay {
    pub(crate) base: BTreeMap<PathBuf, Option<String>>,
    /// (name, `User`/`Machine`) → value once undone.
    pub(crate) vars: BTreeMap<(String, String), Option<String>>,
    touched: std::cell::RefCell<std::collections::BTreeSet<PathBuf>>,
}

impl Overlay {
    /// How the recorded edits will leave things once undone (what `remove` would leave).
    pub(crate) fn undoing<'a>(
        env: &Environment,
        mutations: impl IntoIterator<Item = &'a Mutation>,
        artifacts: impl IntoIterator<Item = &'a model::Artifact>,
    ) -> Result<Overlay> {
        let mut overlay = Overlay::default();
        let mut records = Vec::new();
        for m in mutations {
            if m.kind == "windows-env" {
                let field = |k: &str| m.data.get(k).and_then(|v| v.as_str()).map(str::to_owned);
                let (Some(name), Some(scope)) = (field("name"), field("scope")) else {
                    continue;
                };
                let current = crate::engine::get_env_var(env, &name, &scope);
                let undone = if current == field("value") {
                    field("previous")
                } else {
                    current
                };
                overlay.vars.insert((name, scope), undone);
                continue;
            }
            let edit: Option<Edit> = serde_json::from_value(m.data.clone()).ok();
            if let (Some(path), Some(rec)) = (&m.path, &m.file) {
                records.push((path.clone(), rec.clone(), edit));
            }
        }
        for a in artifacts {
            if let Some(rec) = &a.file {
                records.push((a.path.clone(), rec.clone(), None));
            }
        }
        for (path, rec, edit) in records {
            let resolved = fsx::resolve(Path::new(&path))?;
            let content = match fsx::read_opt(&resolved)? {
                None => None,
                Some(current) => {
                    crate::engine::undone(&rec, edit.as_ref(), &current)
                        .map_err(|why| {
                            Error::user(
                                format!("cannot undo the current settings in {path}: {why}"),
                                Some("fix the file by hand, or `headroom install remove` first"),
                            )
                        })?
                        .content
                }
            };
            overlay.base.insert(resolved, content);
        }
        Ok(overlay)
    }

    /// Files the earlier edits changed that the new plan leaves alone: they go back as they
    /// were (a `restore` change each, `deleted` when they were ours alone).
    pub(crate) fn restores(&self) -> Result<Vec<FileChange>> {
        let mut out = Vec::new();
        for (resolved, base) in &self.base {
            if self.touched.borrow().contains(resolved) {
                continue;
            }
            let current =
                fsx::read_opt(resolved)?.map(|b| String::from_utf8_lossy(&b).into_owned());
            if current == *base {
                continue;
            }
            out.push(FileChange {
                target: "previous".to_owned(),
                kind: "restore".to_owned(),
                artifact: false,
                path: resolved.clone(),
                resolved: resolved.clone(),
                before: current,
                before_mode: fsx::mode_of(resolved),
                after: base.clone().unwrap_or_default(),
                mode: None,
                edit: Edit::Whole {
                    content: String::new(),
                },
                created_dirs: Vec::new(),
                deleted: base.is_none(),
            });
        }
        Ok(out)
    }
}

/// The change that puts `edit` into `path`, on top of `overlay`. Returned even when it changes
/// nothing: a wiring plan still records it.
fn compute_change(
    target: &str,
    kind: &str,
    artifact: bool,
    path: PathBuf,
    mut edit: Edit,
    mode: Option<u32>,
    overlay: &Overlay,
) -> Result<FileChange> {
    let (resolved, before, before_mode) = read_for_edit(&path)?;
    overlay.touched.borrow_mut().insert(resolved.clone());
    let base = match overlay.base.get(&resolved) {
        Some(b) => b.clone(),
        None => before.clone(),
    };
    let after = edit.apply(base.as_deref()).map_err(|why| {
        Error::user(
            format!("cannot edit {}: {why}", path.display()),
            Some("fix the file by hand (or move it away), then retry; it was not changed"),
        )
    })?;
    let created_dirs = resolved.parent().map(fsx::missing_dirs).unwrap_or_default();
    Ok(FileChange {
        target: target.to_owned(),
        kind: kind.to_owned(),
        artifact,
        path,
        resolved,
        before,
        before_mode,
        after,
        mode,
        edit,
        created_dirs,
        deleted: false,
    })
}

/// Like [`compute_change`], `None` when the file already holds exactly that.
fn file_change(
    target: &str,
    kind: &str,
    artifact: bool,
    path: PathBuf,
    edit: Edit,
    mode: Option<u32>,
    overlay: &Overlay,
) -> Result<Option<FileChange>> {
    let change = compute_change(target, kind, artifact, path, edit, mode, overlay)?;
    Ok((change.before.as_deref() != Some(change.after.as_str())).then_some(change))
}

/// What wiring some tools at one scope takes: every file edit (also those that change nothing,
/// so a caller can record them) and the Windows env variables to set (name, value,
/// `User`/`Machine`). Shared by deployments and the desktop app's per-tool wiring.
pub(crate) struct ToolWiring {
    pub(crate) files: Vec<FileChange>,
    pub(crate) vars: Vec<(String, String, &'static str)>,
}

pub(crate) fn tool_wiring(
    env: &Environment,
    scope: Scope,
    targets: &[Tool],
    port: u16,
    overlay: &Overlay,
    notes: &mut Vec<String>,
    hook: Option<&supervisor::Spec>,
) -> Result<ToolWiring> {
    let mut files = Vec::new();
    let mut out_vars = Vec::new();
    let run = |shell: Shell| hook.and_then(|spec| supervisor::shell_hook(spec, shell));
    match scope {
        Scope::Provider => {
            if hook.is_some() {
                // The shell supervisor's hook: a block that only runs `agent ensure`.
                for (path, shell) in shell_targets(env, Scope::User) {
                    if let Some(run) = run(shell) {
                        files.push(compute_change(
                            "supervisor",
                            "shell-hook",
                            false,
                            path,
                            Edit::ShellBlock {
                                shell,
                                vars: Vec::new(),
                                run: Some(run),
                            },
                            Some(0o644),
                            overlay,
                        )?);
                    }
                }
            }
            for t in targets {
                let change = match t {
                    Tool::Claude => compute_change(
                        "claude",
                        "json-env",
                        false,
                        claude_settings(env),
                        Edit::JsonSet {
                            keys: t
                                .env(port)
                                .into_iter()
                                .map(|(k, v)| JsonKey {
                                    path: vec!["env".to_owned(), k.to_owned()],
                                    value: Value::from(v),
                                    previous: None,
                                })
                                .collect(),
                            created: Vec::new(),
                        },
                        Some(0o644),
                        overlay,
                    )?,
                    Tool::Codex => {
                        codex_profile_notes(env, port, notes);
                        codex_change(env, port, overlay)?
                    }
                    Tool::Opencode => compute_change(
                        "opencode",
                        "json-provider",
                        false,
                        opencode_config(env),
                        opencode_edit(port),
                        Some(0o644),
                        overlay,
                    )?,
                    Tool::Openclaw => {
                        let change = compute_change(
                            "openclaw",
                            "json-provider",
                            false,
                            openclaw_config(env),
                            openclaw_edit(port),
                            Some(0o600),
                            overlay,
                        )?;
                        openclaw_api_notes(&change, notes);
                        change
                    }
                    _ => continue,
                };
                files.push(change);
            }
        }
        Scope::User | Scope::System => {
            let mut vars: Vec<(String, String)> = Vec::new();
            if targets.contains(&Tool::Codex) {
                // Current Codex ignores OPENAI_BASE_URL: an env block would route nothing and
                // look as if it did. Its per-user config is the only way in.
                if scope == Scope::User {
                    codex_profile_notes(env, port, notes);
                    files.push(codex_change(env, port, overlay)?);
                    notes.push(format!(
                        "Codex reads no base-URL variable, so its {} gets the `headroom` provider, as at provider scope",
                        codex_config(env).display()
                    ));
                } else {
                    notes.push("Codex reads no base-URL variable and has no system-wide config Headroom edits: each user routes it with `headroom install apply --scope provider --target codex` (or `headroom wrap codex`)".to_owned());
                }
            }
            for t in targets.iter().filter(|t| **t != Tool::Codex) {
                for (k, v) in t.env(port) {
                    if let Some(existing) = vars.iter_mut().find(|(ek, _)| ek == k) {
                        existing.1 = v;
                    } else {
                        vars.push((k.to_owned(), v));
                    }
                }
            }
            if env.os != OsKind::Windows {
                let env_only: Vec<&str> = targets
                    .iter()
                    .filter(|t| !matches!(t, Tool::Codex | Tool::Openclaw))
                    .map(|t| t.display_name())
                    .collect();
                let with_config: Vec<&str> = targets
                    .iter()
                    .filter(|t| matches!(t, Tool::Claude | Tool::Opencode))
                    .map(|t| t.display_name())
                    .collect();
                if !env_only.is_empty() {
                    let mut note = format!(
                        "{} reach Headroom only when started from a shell that read its startup files (terminals, login shells); IDE tasks, scripts and `bash -c` read none",
                        env_only.join(", ")
                    );
                    if !with_config.is_empty() {
                        note.push_str(&format!(
                            "; `--scope provider` routes {} through its own config, which every launch reads",
                            with_config.join(", ")
                        ));
                    }
                    notes.push(note);
                }
            }
            if !vars.is_empty() {
                // `headroom wrap`, `headroom stats` and `headroom proxy` in these shells then use
                // this deployment's port, whatever it is.
                vars.push((headroom_protocol::env::PORT.to_owned(), port.to_string()));
            }
            if !vars.is_empty() || hook.is_some() {
                for (path, shell) in shell_targets(env, scope) {
                    files.push(compute_change(
                        "env",
                        "shell-block",
                        false,
                        path,
                        Edit::ShellBlock {
                            shell,
                            vars: vars.clone(),
                            run: run(shell),
                        },
                        Some(0o644),
                        overlay,
                    )?);
                }
                if env.os == OsKind::Windows {
                    let var_scope = if scope == Scope::System {
                        "Machine"
                    } else {
                        "User"
                    };
                    out_vars.extend(vars.into_iter().map(|(k, v)| (k, v, var_scope)));
                }
            }
        }
    }
    Ok(ToolWiring {
        files,
        vars: out_vars,
    })
}

/// The gateways the config files of `tools` name (OpenClaw's and OpenCode's providers,
/// Codex's provider), with the tool and the file, for [`chain_gateways`].
fn config_gateways_of(
    env: &Environment,
    tools: &[Tool],
    ours: &[u16],
) -> Vec<(Tool, PathBuf, ConfigGateway)> {
    let mut out = Vec::new();
    for &tool in tools {
        let (file, found) = match tool {
            Tool::Openclaw => (openclaw_config(env), openclaw_gateways(env, ours)),
            Tool::Opencode => (opencode_config(env), opencode_gateways(env, ours)),
            Tool::Codex => (
                codex_config(env),
                codex_gateway(env, ours).into_iter().collect(),
            ),
            _ => continue,
        };
        out.extend(found.into_iter().map(|g| (tool, file.clone(), g)));
    }
    out
}

/// Makes each tool's gateway the deployment's upstream for its API (the tool → Headroom →
/// gateway), saying so; refuses two different gateways for one API in one deployment.
fn chain_gateways(
    gateways: Vec<(Tool, PathBuf, ConfigGateway)>,
    base_env: &mut BTreeMap<String, String>,
    notes: &mut Vec<String>,
) -> Result<()> {
    for (tool, file, ConfigGateway { var, url, key }) in gateways {
        let name = tool.display_name();
        let api = if var.starts_with("ANTHROPIC") {
            "Anthropic"
        } else {
            "OpenAI"
        };
        match base_env.get(var) {
            Some(current) if current.trim_end_matches('/') == url.trim_end_matches('/') => {}
            Some(current) => {
                return Err(Error::user(
                    format!(
                        "{name} sends its {api} provider to {} ({key} in {}), but this deployment's {var} is already {}: one proxy cannot forward to both",
                        headroom_protocol::redact_url(&url),
                        file.display(),
                        headroom_protocol::redact_url(current)
                    ),
                    Some(&format!("install {name} in a profile of its own on another port (`--profile {t} --port 8788 --target {t}`), or point both tools at the same gateway", t = tool.name())),
                ));
            }
            None => {
                notes.push(format!(
                    "{name}'s gateway {} ({key} in {}) becomes this deployment's {api} upstream: {name} → Headroom → your gateway (`remove` puts the setting back)",
                    headroom_protocol::redact_url(&url),
                    file.display(),
                ));
                base_env.insert(var.to_owned(), url);
            }
        }
    }
    Ok(())
}

/// Codex's `[model_providers.headroom]` block and top-level `model_provider` in `config.toml`.
fn codex_change(env: &Environment, port: u16, overlay: &Overlay) -> Result<FileChange> {
    let auth = std::fs::read_to_string(codex_home(env).join("auth.json")).ok();
    compute_change(
        "codex",
        "toml-block",
        false,
        codex_config(env),
        Edit::CodexToml {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            chatgpt_auth: edits::codex_uses_chatgpt_auth(auth.as_deref()),
            previous_model_provider: None,
            previous_table: None,
        },
        Some(0o644),
        overlay,
    )
}

/// The request that produced an installed manifest (to re-apply it).
pub fn request_of(m: &Manifest) -> Request {
    Request {
        profile: m.profile.clone(),
        preset: Some(m.preset),
        runtime: Some(m.runtime_kind),
        scope: m.scope,
        providers: ProviderMode::Manual,
        targets: m.targets.iter().filter_map(|t| t.parse().ok()).collect(),
        port: m.port,
        image: Some(m.image.clone()),
        take_over: None,
        take_over_python: false,
    }
}

/// The supervisor backend for a deployment.
pub fn supervisor_for(
    env: &Environment,
    preset: Preset,
    scope: Scope,
) -> Result<Box<dyn Supervisor>> {
    Ok(match (preset, env.os) {
        (Preset::Docker, _) => Box::new(supervisor::Docker),
        (Preset::Service, OsKind::Linux) => {
            if !env.systemd {
                return Err(Error::user(
                    "persistent-service needs systemd, which is not running on this machine",
                    Some("use `--preset persistent-task` (a cron watchdog, or a shell hook where there is no cron), or `--preset persistent-docker`; without `--preset` apply picks persistent-task by itself"),
                ));
            }
            Box::new(supervisor::Systemd { timer: false })
        }
        (Preset::Task, OsKind::Linux) if env.systemd => {
            Box::new(supervisor::Systemd { timer: true })
        }
        (Preset::Task, OsKind::Linux) if env.cron => Box::new(supervisor::Cron),
        (Preset::Task, OsKind::Linux) if scope == Scope::System => {
            return Err(Error::user(
                "a system-scope persistent-task needs systemd or cron, and this machine has neither",
                Some("use `--scope user` or `--scope provider` (a shell hook then starts the proxy when you open a shell), or install cron"),
            ))
        }
        (Preset::Task, OsKind::Linux) => Box::new(supervisor::ShellHook),
        (p, OsKind::Macos) => Box::new(supervisor::Launchd {
            task: p == Preset::Task,
        }),
        (p, OsKind::Windows) => Box::new(supervisor::TaskScheduler {
            task: p == Preset::Task,
        }),
    })
}

/// Build the supervisor spec for a manifest.
pub fn spec_for(env: &Environment, m: &Manifest) -> Spec {
    let mut container_env: Vec<(String, String)> = vec![
        ("HEADROOM_HOST".to_owned(), "0.0.0.0".to_owned()),
        ("HEADROOM_PORT".to_owned(), m.port.to_string()),
        (
            "HEADROOM_WORKSPACE_DIR".to_owned(),
            "/var/lib/headroom".to_owned(),
        ),
    ];
    container_env.extend(deployment_env(m));
    for k in crate::env::FORWARDED_VARS {
        if let Some(v) = m.base_env.get(k) {
            container_env.push((k.to_owned(), v.clone()));
        }
    }
    let docker = env
        .find_binary(&env.docker)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| env.docker.clone());
    let windows_user = match (env.vars.get("USERDOMAIN"), env.vars.get("USERNAME")) {
        (Some(d), Some(u)) => format!("{d}\\{u}"),
        (None, Some(u)) => u.clone(),
        _ => std::env::var("USERNAME").unwrap_or_default(),
    };
    Spec {
        profile: m.profile.clone(),
        os: env.os,
        system: m.scope == Scope::System,
        uid: env.uid,
        exe: env.headroom_exe.clone(),
        workspace_dir: env.workspace_dir.clone(),
        config_home: env.config_home(),
        home: env.home.clone(),
        root: env.root.clone(),
        port: m.port,
        windows_user,
        docker,
        image: m.image.clone(),
        container_env,
    }
}

/// Fail clearly when `port` is held by something that is not `profile`'s Headroom; `remedy`
/// ends each hint ("stop it, or <remedy>").
pub(crate) fn check_port_free(port: u16, profile: &str, remedy: &str) -> Result<()> {
    match health::port_owner(port, profile) {
        PortOwner::Free | PortOwner::Ours => Ok(()),
        PortOwner::OtherHeadroom { profile } => Err(Error::user(
            format!(
                "port {port} is already used by another Headroom proxy{}",
                profile
                    .map(|p| format!(" (deployment profile `{p}`)"))
                    .unwrap_or_default()
            ),
            Some(format!("stop it, or {remedy}").as_str()),
        )),
        PortOwner::Foreign { process } | PortOwner::Unresponsive { process } => Err(Error::user(
            format!(
                "port {port} on 127.0.0.1 is already in use{}",
                process
                    .map(|p| format!(" by {p}"))
                    .unwrap_or_else(|| " by another program".to_owned())
            ),
            Some(format!("stop that program, or {remedy}").as_str()),
        )),
    }
}

/// `HEADROOM_DEPLOYMENT_*`: how the proxy learns (and `/health` reports) its deployment.
pub fn deployment_env(m: &Manifest) -> Vec<(String, String)> {
    let supervisor = m.supervisor_kind.as_str();
    vec![
        ("HEADROOM_DEPLOYMENT_PROFILE".to_owned(), m.profile.clone()),
        (
            "HEADROOM_DEPLOYMENT_PRESET".to_owned(),
            m.preset.to_string(),
        ),
        (
            "HEADROOM_DEPLOYMENT_RUNTIME".to_owned(),
            m.runtime_kind.to_string(),
        ),
        (
            "HEADROOM_DEPLOYMENT_SUPERVISOR".to_owned(),
            supervisor.to_owned(),
        ),
        ("HEADROOM_DEPLOYMENT_SCOPE".to_owned(), m.scope.to_string()),
    ]
}

fn shell_targets(env: &Environment, scope: Scope) -> Vec<(PathBuf, Shell)> {
    match (scope, env.os) {
        (Scope::User, OsKind::Windows) => supervisor::powershell_profiles(&env.home)
            .into_iter()
            .map(|p| (p, Shell::Powershell))
            .collect(),
        (Scope::User, _) => {
            let mut out = Vec::new();
            let has = |bin: &str, file: &Path| env.find_binary(bin).is_some() || file.exists();
            let bashrc = env.home.join(".bashrc");
            if has("bash", &bashrc) {
                out.push((bashrc, Shell::Posix));
            }
            let zshrc = env
                .zdotdir
                .clone()
                .unwrap_or_else(|| env.home.join("."))
                .join(".zshrc");
            let zshrc = PathBuf::from(zshrc.to_string_lossy().replace("/./", "/"));
            if has("zsh", &zshrc) {
                out.push((zshrc, Shell::Posix));
            }
            let fish_dir = env.config_home().join("fish");
            if has("fish", &fish_dir) {
                out.push((fish_dir.join("conf.d/headroom.fish"), Shell::Fish));
            }
            out.push((env.home.join(".profile"), Shell::Posix));
            out
        }
        (Scope::System, OsKind::Linux) => {
            vec![(env.system_path("/etc/profile.d/headroom.sh"), Shell::Posix)]
        }
        (Scope::System, OsKind::Macos) => ["/etc/profile", "/etc/zprofile", "/etc/bashrc"]
            .iter()
            .map(|p| (env.system_path(p), Shell::Posix))
            .collect(),
        _ => Vec::new(),
    }
}

/// Compute what `apply` would do. Changes nothing; fails (changing nothing) on bad input,
/// unparseable files, a taken port or a missing docker.
pub fn plan(env: &Environment, req: &Request) -> Result<Plan> {
    model::validate_profile(&req.profile)?;
    if req.port == 0 {
        return Err(Error::usage(
            "invalid port 0",
            Some("use a port between 1 and 65535 (default 8787)"),
        ));
    }
    let preset = match (req.preset, req.runtime) {
        (None, Some(RuntimeKind::Docker)) => Preset::Docker,
        // No systemd (containers, WSL, devcontainers): a watchdog task instead of a service.
        (None, _) if env.os == OsKind::Linux && !env.systemd => Preset::Task,
        (None, _) => Preset::Service,
        (Some(Preset::Docker), Some(RuntimeKind::Native)) => {
            return Err(Error::usage(
                "`--preset persistent-docker` always uses the docker runtime",
                Some("drop `--runtime native`, or pick persistent-service / persistent-task"),
            ))
        }
        (Some(p), _) => p,
    };
    // Service and task presets run the docker runtime too: their supervisor runs the agent,
    // which runs the container in the foreground (see `agent::run`).
    let runtime = if preset == Preset::Docker || req.runtime == Some(RuntimeKind::Docker) {
        RuntimeKind::Docker
    } else {
        RuntimeKind::Native
    };
    let mut notes = Vec::new();
    if req.preset.is_none() && req.runtime != Some(RuntimeKind::Docker) && preset == Preset::Task {
        notes.push("systemd is not running here, so the default is persistent-task (a watchdog) instead of persistent-service".to_owned());
    }
    let targets = resolve_targets(env, req, &mut notes)?;

    if req.scope == Scope::System
        && env.root == Path::new("/")
        && !env.is_root()
        && env.os != OsKind::Windows
    {
        return Err(Error::user(
            "system scope edits files under /etc and registers a system service, which needs root",
            Some("rerun with sudo, or use `--scope user`"),
        ));
    }

    // The Python Headroom's deployment of this profile: only replaced when asked to.
    let legacy = crate::legacy::find(env, &req.profile);
    let existing = match &legacy {
        Some(l) if !req.take_over_python => return Err(l.error()),
        Some(l) => {
            notes.push(format!(
                "{}; `--take-over` removes it first: {}",
                l.summary(),
                l.describe().join("; ")
            ));
            None
        }
        None => model::load(&env.manifest_path(&req.profile), &req.profile)?,
    };

    // One shell env block per file: refuse a second profile that would fight over it.
    if matches!(req.scope, Scope::User | Scope::System) {
        for other in list_profiles(env) {
            if other == req.profile {
                continue;
            }
            if let Ok(Some(m)) = model::load(&env.manifest_path(&other), &other) {
                if m.scope == req.scope && !m.targets.is_empty() {
                    return Err(Error::user(
                        format!(
                            "profile `{other}` already owns the {} scope env block",
                            req.scope
                        ),
                        Some("remove that profile first, or use `--scope provider` for this one"),
                    ));
                }
            }
        }
    }

    // The desktop app's per-tool wiring edits the same files: never both at once.
    for (owner, tools) in crate::wiring::conflicts(env, req.scope, &targets) {
        let names: Vec<&str> = tools.iter().map(|t| t.display_name()).collect();
        let covered = tools.iter().all(|t| targets.contains(t));
        if req.take_over.as_deref() == Some(owner.as_str()) && covered {
            notes.push(format!(
                "takes over routing {} from the `{owner}` wiring",
                names.join(", ")
            ));
            continue;
        }
        return Err(Error::user(
            format!(
                "the Headroom app already routes {} at {} scope (`{owner}` wiring), in the files this would edit",
                names.join(", "),
                req.scope
            ),
            Some("turn those tools off on the app's Tools page first, or install from the app (Runtime), which hands them over"),
        ));
    }

    let port = req.port;
    let mut tool_envs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for t in &targets {
        tool_envs.insert(
            t.name().to_owned(),
            t.env(port)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        );
    }
    let mut base_env = BTreeMap::new();
    base_env.insert("HEADROOM_PORT".to_owned(), port.to_string());
    base_env.insert("HEADROOM_HOST".to_owned(), "127.0.0.1".to_owned());
    // Custom upstreams in the environment of `apply` go with the deployment, whatever starts it
    // later (a unit at boot, cron, the agent): the manifest is what the agent reads.
    for (k, v) in &env.vars {
        if crate::env::FORWARDED_VARS.contains(&k.as_str()) && !v.trim().is_empty() {
            base_env.insert(k.clone(), v.clone());
        }
    }
    // Loopback URLs at these ports are Headroom's own wiring, not gateways.
    let ours = headroom_ports(env, req.port);
    let gateway = targets
        .contains(&Tool::Claude)
        .then(|| claude_gateway(env, &ours))
        .flatten();
    const ANTHROPIC_TARGET: &str = "ANTHROPIC_TARGET_API_URL";
    if req.scope == Scope::Provider {
        // The provider-scope edit replaces Claude Code's `env.ANTHROPIC_BASE_URL`: a company
        // gateway there must stay the destination, now behind Headroom, not be dropped.
        let kept = existing
            .as_ref()
            .and_then(|m| m.base_env.get(ANTHROPIC_TARGET).cloned());
        if !base_env.contains_key(ANTHROPIC_TARGET) {
            if let Some(url) = kept {
                base_env.insert(ANTHROPIC_TARGET.to_owned(), url);
            } else if let Some(url) = &gateway {
                notes.push(format!(
                    "Claude Code's gateway {} (env.ANTHROPIC_BASE_URL in {}) becomes this deployment's Anthropic upstream: Claude Code → Headroom → your gateway (`remove` puts the setting back)",
                    headroom_protocol::redact_url(url),
                    claude_settings(env).display()
                ));
                base_env.insert(ANTHROPIC_TARGET.to_owned(), url.clone());
            }
        }
    } else if let Some(url) = &gateway {
        notes.push(format!(
            "warning: {} sends Claude Code to {} (env.ANTHROPIC_BASE_URL), which beats the shell environment: at {} scope Claude Code will not go through Headroom. Use `--scope provider` to chain Headroom in front of that gateway",
            claude_settings(env).display(),
            headroom_protocol::redact_url(url),
            req.scope
        ));
    }
    // Tools whose own config the edit points at Headroom (every tool at provider scope, Codex
    // at user scope too): a base URL the user set there becomes the deployment's upstream for
    // that API. A deployment being replaced already routes such a gateway.
    let config_edited: Vec<Tool> = targets
        .iter()
        .copied()
        .filter(|t| req.scope == Scope::Provider || (req.scope == Scope::User && *t == Tool::Codex))
        .collect();
    if !config_edited.is_empty() {
        if let Some(url) = existing
            .as_ref()
            .and_then(|m| m.base_env.get("OPENAI_TARGET_API_URL").cloned())
        {
            base_env
                .entry("OPENAI_TARGET_API_URL".to_owned())
                .or_insert(url);
        }
        chain_gateways(
            config_gateways_of(env, &config_edited, &ours),
            &mut base_env,
            &mut notes,
        )?;
    }
    let now = model::now_iso();
    let manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        profile: req.profile.clone(),
        preset,
        runtime_kind: runtime,
        supervisor_kind: preset.supervisor(),
        scope: req.scope,
        provider_mode: req.providers,
        targets: targets.iter().map(|t| t.name().to_owned()).collect(),
        port,
        host: "127.0.0.1".to_owned(),
        image: req
            .image
            .clone()
            .unwrap_or_else(|| DEFAULT_IMAGE.to_owned()),
        service_name: format!("headroom-{}", req.profile),
        container_name: format!("headroom-{}", req.profile),
        health_url: format!("http://127.0.0.1:{port}/readyz"),
        base_env,
        tool_envs,
        proxy_args: vec![
            "--host".to_owned(),
            "127.0.0.1".to_owned(),
            "--port".to_owned(),
            port.to_string(),
        ],
        mutations: Vec::new(),
        artifacts: Vec::new(),
        state_dirs_created: Vec::new(),
        state: model::ManifestState::Installed,
        wiring_paused: false,
        created_at: now.clone(),
        updated_at: now,
    };
    let spec = spec_for(env, &manifest);

    if let Some(old) = &existing {
        if old.same_settings(&manifest) {
            return Ok(Plan {
                manifest: old.clone(),
                files: Vec::new(),
                env_vars: Vec::new(),
                register: Vec::new(),
                start: Vec::new(),
                up_to_date: true,
                notes,
                spec,
                request: req.clone(),
                replaces: None,
                replace_ops: Vec::new(),
                legacy: None,
            });
        }
    }

    // Docker must work before we touch anything.
    if runtime == RuntimeKind::Docker {
        check_docker(env)?;
    }

    // The Python deployment being taken over may hold the port: it is stopped first.
    if legacy.as_ref().map(|l| l.port) != Some(port) {
        check_port_free(port, &req.profile, "pick another port with `--port`")?;
    }

    let overlay = match &existing {
        Some(old) => Overlay::undoing(env, &old.mutations, &old.artifacts)?,
        None => Overlay::default(),
    };
    let sup = supervisor_for(env, preset, req.scope)?;
    let hook = (sup.name() == "shell").then_some(&spec);
    if hook.is_some() {
        notes.push("this machine has neither systemd nor cron: the proxy is started now, and again by your shell startup files whenever a shell opens (a new terminal or login after a reboot)".to_owned());
    }
    let wiring = tool_wiring(env, req.scope, &targets, port, &overlay, &mut notes, hook)?;
    let mut files: Vec<FileChange> = wiring
        .files
        .into_iter()
        .filter(|f| f.before.as_deref() != Some(f.after.as_str()))
        .collect();
    let mut env_vars = Vec::new();
    for (name, value, scope) in wiring.vars {
        let previous = crate::engine::get_env_var(env, &name, scope);
        if previous.as_deref() != Some(value.as_str()) {
            env_vars.push(EnvVarChange {
                name,
                value,
                scope: scope.to_owned(),
                previous,
            });
        }
    }

    // Supervisor artefacts.
    for f in sup.files(&spec) {
        files.extend(file_change(
            "supervisor",
            f.kind,
            true,
            f.path,
            Edit::Whole { content: f.content },
            Some(f.mode),
            &overlay,
        )?);
    }
    let register = sup.register(&spec);
    let start = sup.start(&spec);
    if env.os == OsKind::Linux && preset == Preset::Service && req.scope != Scope::System {
        notes.push("systemd user services stop when you log out unless lingering is on: `loginctl enable-linger $USER`".to_owned());
    }
    let mut replace_ops = Vec::new();
    if let Some(old) = &existing {
        // Files the old deployment changed that the new one leaves alone go back as they were.
        files.extend(overlay.restores()?);
        let old_spec = spec_for(env, old);
        if let Ok(old_sup) = supervisor_for(env, old.preset, old.scope) {
            replace_ops.extend(old_sup.stop(&old_spec));
            replace_ops.extend(old_sup.unregister(&old_spec));
            replace_ops.extend(old_sup.after_unregister(&old_spec));
        }
        notes.push(format!(
            "profile `{}` is installed with different settings ({}, {} scope, port {}, targets: {}); apply replaces them",
            old.profile,
            old.preset,
            old.scope,
            old.port,
            if old.targets.is_empty() { "none".to_owned() } else { old.targets.join(", ") }
        ));
    }
    let plan = Plan {
        manifest,
        files,
        env_vars,
        register,
        start,
        up_to_date: false,
        notes,
        spec,
        request: req.clone(),
        replaces: existing,
        replace_ops,
        legacy,
    };
    crate::engine::check_single_owner(env, &plan)?;
    Ok(plan)
}

/// `powershell -NoProfile -NonInteractive -Command <script>`.
pub fn powershell(script: &str) -> crate::runner::Cmd {
    crate::runner::Cmd::new(
        "powershell",
        ["-NoProfile", "-NonInteractive", "-Command", script],
    )
}

/// Docker must be installed and its daemon reachable; checked before anything changes.
pub fn check_docker(env: &Environment) -> Result<()> {
    let Some(bin) = env.find_binary(&env.docker) else {
        return Err(Error::user(
            format!("Docker is required for persistent-docker but `{}` was not found on PATH", env.docker),
            Some("install Docker (or Podman and set HEADROOM_DOCKER=podman), or use `--preset persistent-service`"),
        ));
    };
    let cmd = crate::runner::Cmd::new(
        bin.to_string_lossy(),
        ["version", "--format", "{{.Server.Version}}"],
    );
    match env.runner.run(&cmd) {
        Ok(out) if out.success() => Ok(()),
        Ok(out) => Err(Error::user(
            format!(
                "the Docker daemon is not reachable (`{} version` failed: {})",
                env.docker,
                first_line(&out.stderr)
            ),
            Some("start Docker (e.g. `sudo systemctl start docker` or Docker Desktop), then retry"),
        )),
        Err(e) => Err(Error::user(
            format!("cannot run `{}`: {e}", bin.display()),
            Some("check the Docker installation, or set HEADROOM_DOCKER"),
        )),
    }
}

fn first_line(s: &str) -> String {
    let l = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if l.is_empty() {
        "no output".to_owned()
    } else {
        l.to_owned()
    }
}

/// Installed profile names, sorted.
pub fn list_profiles(env: &Environment) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(env.deploy_root())
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().join("manifest.json").is_file())
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

impl Plan {
    /// Unified diffs of every file change, then the commands that will run.
    pub fn render_diff(&self) -> String {
        let mut out = String::new();
        if self.up_to_date {
            let _ = writeln!(
                out,
                "Profile `{}` is already installed with these settings; nothing to do.",
                self.manifest.profile
            );
            return out;
        }
        for f in &self.files {
            out.push_str(&f.unified_diff());
        }
        for v in &self.env_vars {
            let _ = writeln!(
                out,
                "set {} environment variable {}={} (was: {})",
                v.scope,
                v.name,
                v.value,
                v.previous.as_deref().unwrap_or("unset")
            );
        }
        if !self.register.is_empty() || !self.start.is_empty() || !self.replace_ops.is_empty() {
            out.push_str("Commands:\n");
            for op in self
                .replace_ops
                .iter()
                .chain(&self.register)
                .chain(&self.start)
            {
                let _ = writeln!(out, "  {}", op.display());
            }
        }
        if self.start.is_empty() && self.manifest.preset == Preset::Task {
            let _ = writeln!(
                out,
                "  spawn {} install agent run --profile {}",
                self.spec.exe.display(),
                self.manifest.profile
            );
        }
        out
    }

    /// A one-line-per-item summary (files, services) for the confirmation prompt.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for f in &self.files {
            let verb = if f.before.is_some() { "edit" } else { "create" };
            lines.push(format!("{verb} {} ({})", f.path.display(), f.kind));
        }
        for v in &self.env_vars {
            lines.push(format!("set {} env {}", v.scope, v.name));
        }
        for op in &self.register {
            lines.push(format!("run {}", op.display()));
        }
        lines
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind, "error", None)
    }
}

#[cfg(test)]
mod tests {
    use super::{loopback_port, opencode_run_configs};

    #[test]
    fn opencode_run_configs_come_in_opencodes_merge_order() {
        let tmp = tempfile::tempdir().unwrap();
        let (home, repo) = (tmp.path().join("home"), tmp.path().join("repo"));
        let sub = repo.join("pkg/app");
        for d in [
            &home.join(".opencode"),
            &repo.join(".git"),
            &sub.join(".opencode"),
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        let files = [
            tmp.path().join("opencode.json"), // above the worktree root: not read
            repo.join("opencode.json"),
            repo.join("opencode.jsonc"),
            sub.join("opencode.json"),
            sub.join(".opencode/opencode.json"),
            home.join(".opencode/opencode.jsonc"),
        ];
        for f in &files {
            std::fs::write(f, "{}").unwrap();
        }
        assert_eq!(
            opencode_run_configs(&home, &sub, true),
            vec![
                repo.join("opencode.jsonc"),
                repo.join("opencode.json"),
                sub.join("opencode.json"),
                sub.join(".opencode/opencode.json"),
                home.join(".opencode/opencode.jsonc"),
            ]
        );
        assert_eq!(
            opencode_run_configs(&home, &sub, false),
            vec![home.join(".opencode/opencode.jsonc")]
        );
    }

    #[test]
    fn loopback_ports_are_read_from_base_urls() {
        assert_eq!(loopback_port("http://127.0.0.1:4000/v1"), Some(4000));
        assert_eq!(loopback_port("http://localhost:8787"), Some(8787));
        assert_eq!(loopback_port("http://LOCALHOST"), Some(80));
        assert_eq!(loopback_port("https://127.0.0.2/anthropic"), Some(443));
        assert_eq!(loopback_port("http://[::1]:9000/"), Some(9000));
        assert_eq!(loopback_port("http://user:pw@127.0.0.1:4000"), Some(4000));
        assert_eq!(loopback_port("https://llm.corp.example:4000/v1"), None);
        assert_eq!(loopback_port("http://127.0.0.1.example.com:80"), None);
        assert_eq!(loopback_port("not a url"), None);
    }
}
