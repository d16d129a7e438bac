//! Wiring tools to the proxy (and unwiring them), as previewable, reversible file edits.
//!
//! This is the desktop app's adapter over "the install engine's plan": the app needs, per tool
//! and scope, a plan it can show as a diff, apply only after confirmation, undo in one click,
//! and strip on pause or fail-open. It is deliberately narrow:
//! * provider scope edits the tool's own config (Claude Code `settings.json` env keys, a marked
//!   block at the top of Codex's `config.toml`, OpenCode's `provider.headroom`);
//! * user scope writes one marked env block into the user's shell rc files;
//! * system scope needs administrator rights, so the app refuses it with the CLI command to run.
//!
//! Everything we write is recognisable (markers, or a value equal to what we wrote), so removal
//! never touches the user's own later edits, and the journal (`desktop/wiring.json`) records the
//! values we replaced and the files we created, so unwiring restores them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use headroom_install::targets::Tool;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::settings::{atomic_write, read_json, write_json, Env, StateError};

pub const BLOCK_START: &str = "# >>> headroom desktop >>>";
pub const BLOCK_END: &str = "# <<< headroom desktop <<<";
const CLAUDE_KEYS: [&str; 2] = ["ANTHROPIC_BASE_URL", "ENABLE_TOOL_SEARCH"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Provider,
    User,
    System,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Provider, Scope::User, Scope::System];
}

/// Whether the app can wire `tool` at `scope`; `Err` holds the reason shown next to the
/// disabled toggle.
pub fn support(tool: Tool, scope: Scope) -> Result<(), String> {
    match (tool, scope) {
        (_, Scope::System) => Err(
            "needs administrator rights: run `sudo headroom install apply \
             --scope system` in a terminal"
                .into(),
        ),
        (Tool::Openclaw, _) => {
            Err("OpenClaw is wired through its plugin: run `headroom wrap openclaw`".into())
        }
        (Tool::Claude | Tool::Codex | Tool::Opencode, Scope::Provider) => Ok(()),
        (Tool::Opencode, Scope::User) => {
            Err("OpenCode reads no base-URL variable; use provider scope".into())
        }
        (_, Scope::Provider) => Err(format!(
            "{} has no config file Headroom can edit; use user scope",
            tool.display_name()
        )),
        (_, Scope::User) => Ok(()),
    }
}

/// The persisted wiring state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Journal {
    /// What the user chose: tool name → scope.
    pub desired: BTreeMap<String, Scope>,
    /// Whether `desired` is currently written to disk (false while paused or failed open).
    pub applied: bool,
    /// The port the written wiring points at.
    pub port: u16,
    /// Claude `settings.json` env values we replaced (None = the key was absent).
    pub claude_previous: BTreeMap<String, Option<Value>>,
    /// We added the `env` object to Claude's settings (removed again when it ends up empty).
    pub claude_created_env: bool,
    /// Files we created (deleted again when they hold nothing but our content).
    pub created: BTreeSet<PathBuf>,
    /// The previous `desired`, for one-click undo of the last change.
    pub undo: Option<BTreeMap<String, Scope>>,
}

impl Journal {
    pub fn path(env: &Env) -> PathBuf {
        env.state_dir().join("wiring.json")
    }

    pub fn load(env: &Env) -> Result<Journal, StateError> {
        read_json(&Self::path(env)).map(Option::unwrap_or_default)
    }

    pub fn save(&self, env: &Env) -> Result<(), StateError> {
        write_json(&Self::path(env), self)
    }

    pub fn scope_of(&self, tool: Tool) -> Option<Scope> {
        self.desired.get(tool.name()).copied()
    }
}

/// One file the plan changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileChange {
    pub path: PathBuf,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl FileChange {
    pub fn action(&self) -> &'static str {
        match (&self.before, &self.after) {
            (None, Some(_)) => "create",
            (Some(_), None) => "delete",
            _ => "modify",
        }
    }

    /// A unified diff of the change.
    pub fn diff(&self) -> String {
        let before = self.before.as_deref().unwrap_or("");
        let after = self.after.as_deref().unwrap_or("");
        let path = self.path.display().to_string();
        let old = if self.before.is_some() {
            path.clone()
        } else {
            "/dev/null".into()
        };
        let new = if self.after.is_some() {
            path
        } else {
            "/dev/null".into()
        };
        similar::TextDiff::from_lines(before, after)
            .unified_diff()
            .context_radius(3)
            .header(&old, &new)
            .to_string()
    }
}

/// A computed set of edits plus the journal to save once they are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub changes: Vec<FileChange>,
    pub journal: Journal,
}

#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error("Cannot wire {tool} at {scope:?} scope: {reason}")]
    Unsupported {
        tool: String,
        scope: Scope,
        reason: String,
    },
    #[error("Refusing to edit `{path}`: {reason}")]
    Unparseable { path: PathBuf, reason: String },
    #[error("Failed to read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Failed to write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` changed since the preview; review the changes again")]
    Stale { path: PathBuf },
    #[error(transparent)]
    State(#[from] StateError),
}

/// Where each tool's config lives.
pub fn claude_settings(env: &Env) -> PathBuf {
    env.var("CLAUDE_CONFIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| env.home.join(".claude"))
        .join("settings.json")
}

pub fn codex_config(env: &Env) -> PathBuf {
    env.var("CODEX_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| env.home.join(".codex"))
        .join("config.toml")
}

pub fn opencode_config(env: &Env) -> PathBuf {
    env.var("OPENCODE_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| env.home.join(".config/opencode/opencode.json"))
}

/// The config file shown for a tool on the Tools page (None when it has none we know).
pub fn config_path(env: &Env, tool: Tool) -> Option<PathBuf> {
    match tool {
        Tool::Claude => Some(claude_settings(env)),
        Tool::Codex => Some(codex_config(env)),
        Tool::Opencode => Some(opencode_config(env)),
        Tool::Openclaw => Some(env.home.join(".openclaw/openclaw.json")),
        Tool::Aider => Some(env.home.join(".aider.conf.yml")),
        Tool::Copilot => Some(env.home.join(".copilot")),
        Tool::Cursor => Some(env.home.join(".cursor")),
    }
}

/// The tool's executable on `PATH`, if any: the CLI's lookup, so `wrap` and the app agree
/// (and Windows finds npm's `claude.cmd` through `PATHEXT`).
pub fn find_binary(env: &Env, tool: Tool) -> Option<PathBuf> {
    let path = env.var("PATH")?;
    headroom_cli::commands::wrap::find_program(tool.binary().as_ref(), Some(path.as_ref()))
}

/// Shell rc files that receive the user-scope block: the ones that exist, else `~/.profile`.
pub fn shell_files(env: &Env) -> Vec<PathBuf> {
    let candidates = [".bashrc", ".zshrc", ".profile"].map(|f| env.home.join(f));
    let existing: Vec<PathBuf> = candidates.iter().filter(|p| p.exists()).cloned().collect();
    if existing.is_empty() {
        vec![env.home.join(".profile")]
    } else {
        existing
    }
}

fn fish_file(env: &Env) -> Option<PathBuf> {
    let dir = env.home.join(".config/fish");
    dir.is_dir()
        .then(|| dir.join("conf.d/headroom-desktop.fish"))
}

fn read_opt(path: &Path) -> Result<Option<String>, WiringError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(WiringError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Compute the edits that take the disk from its current state to `desired` wired at `port`
/// (or to fully unwired when `active` is false).
pub fn plan(
    env: &Env,
    journal: &Journal,
    desired: &BTreeMap<String, Scope>,
    active: bool,
    port: u16,
) -> Result<Plan, WiringError> {
    let mut wanted: BTreeMap<Tool, Scope> = BTreeMap::new();
    for (name, scope) in desired {
        let tool: Tool = name
            .parse()
            .map_err(
                |e: headroom_install::targets::UnknownTool| WiringError::Unsupported {
                    tool: name.clone(),
                    scope: *scope,
                    reason: e.to_string(),
                },
            )?;
        support(tool, *scope).map_err(|reason| WiringError::Unsupported {
            tool: tool.display_name().into(),
            scope: *scope,
            reason,
        })?;
        wanted.insert(tool, *scope);
    }
    let on = |tool: Tool, scope: Scope| active && wanted.get(&tool) == Some(&scope);

    let mut next = journal.clone();
    next.desired = desired.clone();
    next.applied = active;
    next.port = port;
    let mut changes = Vec::new();
    let mut push =
        |path: PathBuf, before: Option<String>, after: Option<String>, next: &mut Journal| {
            if before.is_none() && after.is_some() {
                next.created.insert(path.clone());
            }
            if after.is_none() {
                next.created.remove(&path);
            }
            if before != after {
                changes.push(FileChange {
                    path,
                    before,
                    after,
                });
            }
        };

    // Claude Code settings.json.
    let path = claude_settings(env);
    let before = read_opt(&path)?;
    let after = edit_claude(
        &path,
        before.as_deref(),
        journal,
        &mut next,
        on(Tool::Claude, Scope::Provider).then_some(port),
    )?;
    push(path, before, after, &mut next);

    // Codex config.toml.
    let path = codex_config(env);
    let before = read_opt(&path)?;
    let block = on(Tool::Codex, Scope::Provider).then(|| {
        format!("{BLOCK_START}\nopenai_base_url = \"http://127.0.0.1:{port}/v1\"\n{BLOCK_END}\n")
    });
    let after = edit_codex(
        &path,
        before.as_deref(),
        block.as_deref(),
        journal.created.contains(&path),
    )?;
    push(path, before, after, &mut next);

    // OpenCode.
    let path = opencode_config(env);
    let before = read_opt(&path)?;
    let after = edit_opencode(
        &path,
        before.as_deref(),
        journal,
        on(Tool::Opencode, Scope::Provider).then_some(port),
    )?;
    push(path, before, after, &mut next);

    // User scope: one env block, merged over the tools wired at user scope.
    let mut vars: Vec<(&'static str, String)> = Vec::new();
    for tool in Tool::ALL {
        if on(tool, Scope::User) {
            for (k, v) in tool.env(port) {
                vars.retain(|(existing, _)| *existing != k);
                vars.push((k, v));
            }
        }
    }
    let sh_block = (!vars.is_empty()).then(|| {
        let mut b = format!("{BLOCK_START}\n");
        for (k, v) in &vars {
            b.push_str(&format!("export {k}=\"{v}\"\n"));
        }
        b.push_str(BLOCK_END);
        b.push('\n');
        b
    });
    let mut rc_files = shell_files(env);
    for p in &journal.created {
        if !rc_files.contains(p) && p.file_name().is_some_and(|n| n == ".profile") {
            rc_files.push(p.clone());
        }
    }
    for path in rc_files {
        let before = read_opt(&path)?;
        let after = edit_block(
            before.as_deref(),
            sh_block.as_deref(),
            journal.created.contains(&path),
        );
        push(path, before, after, &mut next);
    }
    if let Some(path) = fish_file(env) {
        let before = read_opt(&path)?;
        let after = (!vars.is_empty()).then(|| {
            let mut b = format!("{BLOCK_START}\n");
            for (k, v) in &vars {
                b.push_str(&format!("set -gx {k} \"{v}\"\n"));
            }
            b + BLOCK_END + "\n"
        });
        push(path, before, after, &mut next);
    }

    Ok(Plan {
        changes,
        journal: next,
    })
}

fn parse_json_object(path: &Path, text: &str) -> Result<Map<String, Value>, WiringError> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(WiringError::Unparseable {
            path: path.into(),
            reason: "the top level is not a JSON object".into(),
        }),
        Err(e) => Err(WiringError::Unparseable {
            path: path.into(),
            reason: format!("it is not valid JSON ({e}); fix or remove it and try again"),
        }),
    }
}

fn to_json_text(m: Map<String, Value>) -> String {
    let mut s = serde_json::to_string_pretty(&Value::Object(m)).unwrap_or_default();
    s.push('\n');
    s
}

fn claude_value(key: &str, port: u16) -> Value {
    match key {
        "ANTHROPIC_BASE_URL" => Value::String(format!("http://127.0.0.1:{port}")),
        _ => Value::String("true".into()),
    }
}

fn edit_claude(
    path: &Path,
    before: Option<&str>,
    journal: &Journal,
    next: &mut Journal,
    wire_port: Option<u16>,
) -> Result<Option<String>, WiringError> {
    let Some(text) = before else {
        // Nothing to unwire; create only when wiring.
        return Ok(wire_port.map(|port| {
            let mut env = Map::new();
            for key in CLAUDE_KEYS {
                next.claude_previous.insert(key.into(), None);
                env.insert(key.into(), claude_value(key, port));
            }
            next.claude_created_env = true;
            let mut root = Map::new();
            root.insert("env".into(), Value::Object(env));
            to_json_text(root)
        }));
    };
    let mut root = parse_json_object(path, text)?;
    let env = root
        .get("env")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let ours = |key: &str, v: Option<&Value>| match key {
        "ANTHROPIC_BASE_URL" => v.and_then(Value::as_str).is_some_and(|s| {
            s.strip_prefix("http://127.0.0.1:")
                .is_some_and(|p| p.parse::<u16>().is_ok())
                && journal.claude_previous.contains_key(key)
        }),
        _ => journal.claude_previous.contains_key(key) && v == Some(&Value::String("true".into())),
    };
    // Already exactly as wanted: leave the file alone (no churn in key order).
    if let Some(port) = wire_port {
        if CLAUDE_KEYS.iter().all(|k| {
            env.get(*k) == Some(&claude_value(k, port)) && journal.claude_previous.contains_key(*k)
        }) {
            return Ok(Some(text.to_owned()));
        }
    }
    let mut new_env = env.clone();
    // Remove what we wrote (only values still equal to ours).
    for key in CLAUDE_KEYS {
        if ours(key, env.get(key)) {
            match journal.claude_previous.get(key).cloned().flatten() {
                Some(prev) => {
                    new_env.insert(key.into(), prev);
                }
                None => {
                    new_env.remove(key);
                }
            }
        }
    }
    if wire_port.is_none() {
        next.claude_previous.clear();
    }
    if let Some(port) = wire_port {
        for key in CLAUDE_KEYS {
            next.claude_previous
                .insert(key.into(), new_env.get(key).cloned());
            new_env.insert(key.into(), claude_value(key, port));
        }
    }
    if new_env == env {
        return Ok(Some(text.to_owned()));
    }
    if wire_port.is_some() && !root.contains_key("env") {
        next.claude_created_env = true;
    }
    if new_env.is_empty() && journal.claude_created_env {
        root.remove("env");
        next.claude_created_env = false;
        if root.is_empty() && journal.created.contains(path) {
            return Ok(None);
        }
    } else {
        root.insert("env".into(), Value::Object(new_env));
    }
    Ok(Some(to_json_text(root)))
}

/// Remove our marked block from `text` (and the blank line we put before it).
fn strip_block(text: &str) -> String {
    let Some(start) = text.find(BLOCK_START) else {
        return text.to_owned();
    };
    let Some(end_rel) = text[start..].find(BLOCK_END) else {
        return text.to_owned();
    };
    let mut end = start + end_rel + BLOCK_END.len();
    if text[end..].starts_with('\n') {
        end += 1;
    }
    let mut head = text[..start].to_owned();
    let tail = &text[end..];
    if tail.is_empty() && head.ends_with("\n\n") {
        head.pop();
    }
    head + tail
}

/// Put `block` at the end of an rc file (or remove it when `None`).
fn edit_block(before: Option<&str>, block: Option<&str>, created_by_us: bool) -> Option<String> {
    let base = before.map(strip_block);
    match (base, block) {
        (None, None) => None,
        (None, Some(b)) => Some(b.to_owned()),
        (Some(t), None) if t.is_empty() && created_by_us => None,
        (Some(t), None) => Some(t),
        (Some(t), Some(b)) => {
            if before.is_some_and(|orig| orig.contains(b)) {
                return before.map(str::to_owned);
            }
            if t.is_empty() {
                Some(b.to_owned())
            } else {
                let sep = if t.ends_with('\n') { "\n" } else { "\n\n" };
                Some(format!("{t}{sep}{b}"))
            }
        }
    }
}

/// Codex reads top-level keys only above the first table, so our block goes first in the file.
fn edit_codex(
    path: &Path,
    before: Option<&str>,
    block: Option<&str>,
    created_by_us: bool,
) -> Result<Option<String>, WiringError> {
    let base = before.map(strip_block);
    if let (Some(t), Some(_)) = (&base, block) {
        let top_level = t.lines().take_while(|l| !l.trim_start().starts_with('['));
        if top_level
            .clone()
            .any(|l| l.trim_start().starts_with("openai_base_url"))
        {
            return Err(WiringError::Unparseable {
                path: path.into(),
                reason: "it already sets `openai_base_url`; remove that line or use user scope"
                    .into(),
            });
        }
    }
    Ok(match (base, block) {
        (None, None) => None,
        (None, Some(b)) => Some(b.to_owned()),
        (Some(t), None) if t.trim().is_empty() && created_by_us => None,
        (Some(t), None) => Some(t),
        (Some(t), Some(b)) => {
            if before.is_some_and(|orig| orig.starts_with(b)) {
                before.map(str::to_owned)
            } else {
                Some(format!("{b}{t}"))
            }
        }
    })
}

fn opencode_value(port: u16) -> Value {
    serde_json::json!({
        "npm": "@ai-sdk/openai-compatible",
        "name": "Headroom",
        "options": { "baseURL": format!("http://127.0.0.1:{port}/v1") }
    })
}

fn edit_opencode(
    path: &Path,
    before: Option<&str>,
    journal: &Journal,
    wire_port: Option<u16>,
) -> Result<Option<String>, WiringError> {
    let Some(text) = before else {
        return Ok(wire_port.map(|port| {
            let mut root = Map::new();
            root.insert(
                "$schema".into(),
                Value::String("https://opencode.ai/config.json".into()),
            );
            root.insert(
                "provider".into(),
                serde_json::json!({ "headroom": opencode_value(port) }),
            );
            to_json_text(root)
        }));
    };
    let mut root = parse_json_object(path, text)?;
    let current = root
        .get("provider")
        .and_then(|p| p.get("headroom"))
        .cloned();
    let is_ours = current
        .as_ref()
        .is_some_and(|v| v.get("name") == Some(&Value::String("Headroom".into())));
    match wire_port {
        Some(port) if current.as_ref() == Some(&opencode_value(port)) => Ok(Some(text.to_owned())),
        Some(port) => {
            let provider = root
                .entry("provider")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(p) = provider.as_object_mut() {
                p.insert("headroom".into(), opencode_value(port));
            }
            Ok(Some(to_json_text(root)))
        }
        None if is_ours => {
            if let Some(p) = root.get_mut("provider").and_then(Value::as_object_mut) {
                p.remove("headroom");
                if p.is_empty() {
                    root.remove("provider");
                }
            }
            let only_schema = root.keys().all(|k| k == "$schema");
            if only_schema && journal.created.contains(path) {
                Ok(None)
            } else {
                Ok(Some(to_json_text(root)))
            }
        }
        None => Ok(Some(text.to_owned())),
    }
}

/// Apply a plan: every file is checked against the preview first, then written atomically;
/// if any write fails, the files already written are put back.
pub fn apply(env: &Env, plan: &Plan) -> Result<(), WiringError> {
    for change in &plan.changes {
        if read_opt(&change.path)? != change.before {
            return Err(WiringError::Stale {
                path: change.path.clone(),
            });
        }
    }
    let mut done: Vec<&FileChange> = Vec::new();
    for change in &plan.changes {
        let result = match &change.after {
            Some(text) => atomic_write(&change.path, text.as_bytes(), false),
            None => fs::remove_file(&change.path),
        };
        if let Err(source) = result {
            for undo in done.iter().rev() {
                let _ = match &undo.before {
                    Some(text) => atomic_write(&undo.path, text.as_bytes(), false),
                    None => fs::remove_file(&undo.path),
                };
            }
            return Err(WiringError::Write {
                path: change.path.clone(),
                source,
            });
        }
        done.push(change);
    }
    plan.journal.save(env)?;
    Ok(())
}

/// Plan and apply in one go (pause, resume, fail-open, reconcile: no confirmation needed,
/// because they only add or remove what the user already approved).
pub fn set_active(
    env: &Env,
    journal: &Journal,
    active: bool,
    port: u16,
) -> Result<Journal, WiringError> {
    let p = plan(env, journal, &journal.desired, active, port)?;
    apply(env, &p)?;
    Ok(p.journal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> (tempfile::TempDir, Env) {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::for_home(dir.path());
        (dir, env)
    }

    fn desired(pairs: &[(&str, Scope)]) -> BTreeMap<String, Scope> {
        pairs.iter().map(|(t, s)| (t.to_string(), *s)).collect()
    }

    #[test]
    fn claude_provider_wire_and_unwire_restores_bytes() {
        let (_d, env) = env();
        let path = claude_settings(&env);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let original = "{\n  \"model\": \"opus\",\n  \"env\": {\n    \"FOO\": \"1\"\n  }\n}\n";
        fs::write(&path, original).unwrap();
        let j0 = Journal::default();
        let p = plan(
            &env,
            &j0,
            &desired(&[("claude", Scope::Provider)]),
            true,
            9123,
        )
        .unwrap();
        assert_eq!(p.changes.len(), 1);
        let diff = p.changes[0].diff();
        assert!(
            diff.contains("+    \"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:9123\""),
            "{diff}"
        );
        apply(&env, &p).unwrap();
        let wired: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(wired["env"]["ANTHROPIC_BASE_URL"], "http://127.0.0.1:9123");
        assert_eq!(wired["env"]["FOO"], "1");
        // Re-planning the same state changes nothing.
        let again = plan(&env, &p.journal, &p.journal.desired, true, 9123).unwrap();
        assert!(again.changes.is_empty(), "{:?}", again.changes);
        // Unwire (pause): byte-identical original.
        let j2 = set_active(&env, &p.journal, false, 9123).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), original);
        assert!(!j2.applied);
        assert_eq!(j2.desired, desired(&[("claude", Scope::Provider)]));
    }

    #[test]
    fn claude_previous_value_is_restored_and_user_edits_are_left_alone() {
        let (_d, env) = env();
        let path = claude_settings(&env);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            "{\n  \"env\": {\n    \"ANTHROPIC_BASE_URL\": \"https://gw.example\"\n  }\n}\n",
        )
        .unwrap();
        let j = set_active(
            &env,
            &Journal {
                desired: desired(&[("claude", Scope::Provider)]),
                ..Default::default()
            },
            true,
            8787,
        )
        .unwrap();
        let j = set_active(&env, &j, false, 8787).unwrap();
        let v: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["env"]["ANTHROPIC_BASE_URL"], "https://gw.example");
        assert!(v["env"].get("ENABLE_TOOL_SEARCH").is_none());
        // Wire again, then the user changes the URL: unwiring keeps the user's value.
        let j = set_active(&env, &j, true, 8787).unwrap();
        let text = fs::read_to_string(&path)
            .unwrap()
            .replace("http://127.0.0.1:8787", "https://mine.example");
        fs::write(&path, &text).unwrap();
        set_active(&env, &j, false, 8787).unwrap();
        let v: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["env"]["ANTHROPIC_BASE_URL"], "https://mine.example");
    }

    #[test]
    fn created_files_are_deleted_on_unwire() {
        let (_d, env) = env();
        let j = Journal {
            desired: desired(&[
                ("claude", Scope::Provider),
                ("codex", Scope::Provider),
                ("opencode", Scope::Provider),
                ("aider", Scope::User),
            ]),
            ..Default::default()
        };
        let j = set_active(&env, &j, true, 8787).unwrap();
        assert!(claude_settings(&env).exists());
        assert!(codex_config(&env).exists());
        assert!(opencode_config(&env).exists());
        let profile = fs::read_to_string(env.home.join(".profile")).unwrap();
        assert!(
            profile.contains("export OPENAI_API_BASE=\"http://127.0.0.1:8787/v1\""),
            "{profile}"
        );
        set_active(&env, &j, false, 8787).unwrap();
        for p in [
            claude_settings(&env),
            codex_config(&env),
            opencode_config(&env),
            env.home.join(".profile"),
        ] {
            assert!(!p.exists(), "{} should be gone", p.display());
        }
    }

    #[test]
    fn codex_block_goes_above_the_first_table_and_is_removed_exactly() {
        let (_d, env) = env();
        let path = codex_config(&env);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let original = "model = \"o3\"\n\n[features]\nx = true\n";
        fs::write(&path, original).unwrap();
        let j = set_active(
            &env,
            &Journal {
                desired: desired(&[("codex", Scope::Provider)]),
                ..Default::default()
            },
            true,
            8800,
        )
        .unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(BLOCK_START), "{text}");
        assert!(text.find("openai_base_url").unwrap() < text.find("[features]").unwrap());
        set_active(&env, &j, false, 8800).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), original);
    }

    #[test]
    fn rc_block_round_trip_is_byte_exact() {
        let (_d, env) = env();
        let bashrc = env.home.join(".bashrc");
        let original = "alias ll='ls -l'\n";
        fs::write(&bashrc, original).unwrap();
        let j = set_active(
            &env,
            &Journal {
                desired: desired(&[("claude", Scope::User)]),
                ..Default::default()
            },
            true,
            8787,
        )
        .unwrap();
        let text = fs::read_to_string(&bashrc).unwrap();
        assert!(text.contains("export ANTHROPIC_BASE_URL=\"http://127.0.0.1:8787\""));
        assert!(
            !env.home.join(".profile").exists(),
            "only existing rc files are edited"
        );
        set_active(&env, &j, false, 8787).unwrap();
        assert_eq!(fs::read_to_string(&bashrc).unwrap(), original);
    }

    #[test]
    fn unparseable_config_is_refused_and_untouched() {
        let (_d, env) = env();
        let path = claude_settings(&env);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "{ broken").unwrap();
        let err = plan(
            &env,
            &Journal::default(),
            &desired(&[("claude", Scope::Provider)]),
            true,
            8787,
        )
        .unwrap_err();
        assert!(err.to_string().contains("Refusing to edit"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "{ broken");
    }

    #[test]
    fn unsupported_scopes_have_reasons() {
        assert!(support(Tool::Claude, Scope::System)
            .unwrap_err()
            .contains("administrator"));
        assert!(support(Tool::Aider, Scope::Provider)
            .unwrap_err()
            .contains("user scope"));
        assert!(support(Tool::Opencode, Scope::User).is_err());
        assert!(support(Tool::Codex, Scope::User).is_ok());
        let (_d, env) = env();
        let err = plan(
            &env,
            &Journal::default(),
            &desired(&[("aider", Scope::Provider)]),
            true,
            8787,
        )
        .unwrap_err();
        assert!(matches!(err, WiringError::Unsupported { .. }));
    }

    #[test]
    fn stale_preview_is_rejected() {
        let (_d, env) = env();
        let p = plan(
            &env,
            &Journal::default(),
            &desired(&[("claude", Scope::Provider)]),
            true,
            8787,
        )
        .unwrap();
        let path = claude_settings(&env);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "{}\n").unwrap();
        assert!(matches!(apply(&env, &p), Err(WiringError::Stale { .. })));
    }

    #[test]
    fn port_change_rewrites_the_url() {
        let (_d, env) = env();
        let j = set_active(
            &env,
            &Journal {
                desired: desired(&[("claude", Scope::Provider)]),
                ..Default::default()
            },
            true,
            8787,
        )
        .unwrap();
        let j = set_active(&env, &j, true, 9999).unwrap();
        let v: Value =
            serde_json::from_str(&fs::read_to_string(claude_settings(&env)).unwrap()).unwrap();
        assert_eq!(v["env"]["ANTHROPIC_BASE_URL"], "http://127.0.0.1:9999");
        set_active(&env, &j, false, 9999).unwrap();
        assert!(!claude_settings(&env).exists());
    }
}
