//! Per-tool wiring without a deployment, for the desktop app.
//!
//! The app hosts the proxy itself, so there is no service to install; what it needs from the
//! engine is the tool edits alone, with three differences from a deployment: each tool has its
//! own scope (Claude Code in its `settings.json`, Aider through the shell env), routing is
//! switched off and on again (pause, fail-open, quit) without forgetting the user's choice,
//! and the last change can be undone in one click.
//!
//! The edits are the deployment's own ([`crate::plan`] computes both), recorded the same way
//! (a [`Mutation`] with a [`crate::model::FileRecord`] per file), so unwiring restores a file
//! byte for byte when the user has not touched it since, and otherwise takes out only what we
//! put in. A change is planned on top of what undoing the current state would leave, which
//! keeps every record relative to the user's own content however often the wiring changes.
//! The state lives in `<workspace>/wiring/<owner>.json` (mode 0600).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::{self, Undo};
use crate::env::Environment;
use crate::error::{Error, Result};
use crate::fsx;
use crate::model::{self, FileRecord, Mutation, Scope};
use crate::plan::{self, EnvVarChange, FileChange, Overlay};
use crate::targets::Tool;

/// Bumped when the state layout changes incompatibly; older builds refuse newer files.
pub const SCHEMA_VERSION: u32 = 1;

/// One owner's wiring: what the user chose and what is on disk because of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Wiring {
    pub schema_version: u32,
    /// The user's choice, kept while routing is off.
    pub desired: BTreeMap<Tool, Scope>,
    /// Whether `desired` is written to disk now.
    pub active: bool,
    /// The port the written wiring points at.
    pub port: u16,
    /// `desired` before the last confirmed change, for one-click undo.
    pub undo: Option<BTreeMap<Tool, Scope>>,
    /// Every edit on disk, with what it replaced.
    pub mutations: Vec<Mutation>,
}

impl Default for Wiring {
    fn default() -> Self {
        Wiring {
            schema_version: SCHEMA_VERSION,
            desired: BTreeMap::new(),
            active: false,
            port: 0,
            undo: None,
            mutations: Vec::new(),
        }
    }
}

impl Wiring {
    pub fn path(env: &Environment, owner: &str) -> PathBuf {
        env.workspace_dir
            .join("wiring")
            .join(format!("{owner}.json"))
    }

    /// The saved state; the default (nothing chosen, nothing wired) when there is none.
    pub fn load(env: &Environment, owner: &str) -> Result<Wiring> {
        model::validate_profile(owner)?;
        let path = Self::path(env, owner);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Wiring::default()),
            Err(e) => return Err(Error::io("read the wiring state", &path, &e)),
        };
        let corrupt = |why: String| {
            Error::user(
                format!("the wiring state {} is corrupt: {why}", path.display()),
                Some("fix or delete that file; without it Headroom cannot undo its tool edits"),
            )
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let schema = value
            .get("schema_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if schema > u64::from(SCHEMA_VERSION) {
            return Err(Error::user(
                format!(
                    "the wiring state {} was written by a newer Headroom (schema {schema}, this build reads up to {SCHEMA_VERSION})",
                    path.display()
                ),
                Some("upgrade Headroom, or use the newer build"),
            ));
        }
        serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))
    }

    fn save(&self, env: &Environment, owner: &str) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::internal(format!("cannot serialise the wiring state: {e}")))?;
        text.push('\n');
        fsx::write_atomic(&Self::path(env, owner), text.as_bytes(), Some(0o600))
    }

    pub fn scope_of(&self, tool: Tool) -> Option<Scope> {
        self.desired.get(&tool).copied()
    }
}

/// A Windows environment variable the plan sets (`value`) or clears (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarChange {
    pub name: String,
    /// `User` or `Machine`.
    pub scope: String,
    pub value: Option<String>,
    /// The value now (put back if applying fails).
    pub current: Option<String>,
}

/// Everything a wiring change does, computed without changing anything.
#[derive(Debug, Clone)]
pub struct WiringPlan {
    pub owner: String,
    /// Files that change (a `deleted` one goes away: we had created it).
    pub files: Vec<FileChange>,
    pub vars: Vec<VarChange>,
    /// The state saved once the plan is applied.
    pub next: Wiring,
    pub notes: Vec<String>,
}

impl WiringPlan {
    /// Nothing on disk changes (the state file may still, e.g. a choice made while paused).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.vars.is_empty()
    }

    /// Unified diffs of every file, then the env variables.
    pub fn render_diff(&self) -> String {
        let mut out = String::new();
        for f in &self.files {
            out.push_str(&f.unified_diff());
        }
        for v in &self.vars {
            let _ = writeln!(
                out,
                "set {} environment variable {}={} (was: {})",
                v.scope,
                v.name,
                v.value.as_deref().unwrap_or("unset"),
                v.current.as_deref().unwrap_or("unset")
            );
        }
        out
    }
}

/// Whether `tool` can be routed at `scope` on this machine; `Err` is the reason, worded for a
/// disabled toggle.
pub fn support(env: &Environment, tool: Tool, scope: Scope) -> Result<(), String> {
    Support::load(env).check(tool, scope)
}

/// What [`support`] depends on, read once: a page that asks about every tool and scope reads
/// each installed manifest once, not once per question.
pub struct Support {
    real_root: bool,
    deployments: Vec<model::Manifest>,
}

impl Support {
    pub fn load(env: &Environment) -> Support {
        Support {
            real_root: env.root == Path::new("/"),
            deployments: plan::list_profiles(env)
                .iter()
                .filter_map(|p| model::load(&env.manifest_path(p), p).ok().flatten())
                .collect(),
        }
    }

    pub fn check(&self, tool: Tool, scope: Scope) -> Result<(), String> {
        if let Some(why) = plan::unsupported_reason(scope, tool) {
            return Err(why);
        }
        // System files belong to an administrator's deliberate command, not a toggle in an
        // app (even one running as root). Tests point `root` elsewhere to exercise the scope.
        if scope == Scope::System && self.real_root {
            return Err(format!(
                "needs administrator rights and edits system files: run `sudo headroom install apply --scope system --providers manual --target {}` in a terminal",
                tool.name()
            ));
        }
        for m in &self.deployments {
            let profile = &m.profile;
            if m.targets.iter().any(|t| t == tool.name()) {
                return Err(format!(
                    "routed by the installed deployment `{profile}` ({} scope); change or remove it under Runtime or with `headroom install`",
                    m.scope
                ));
            }
            if scope != Scope::Provider && m.scope == scope && !m.targets.is_empty() {
                return Err(format!(
                    "the {scope} env block belongs to the installed deployment `{profile}`; use provider scope, or remove that deployment"
                ));
            }
        }
        Ok(())
    }
}

/// Every saved wiring state, by owner (unreadable ones are skipped), sorted by owner.
pub fn owners(env: &Environment) -> Vec<(String, Wiring)> {
    let Ok(dir) = std::fs::read_dir(env.workspace_dir.join("wiring")) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Wiring)> = dir
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let owner = name.strip_suffix(".json")?.to_owned();
            let w = Wiring::load(env, &owner).ok()?;
            Some((owner, w))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Owners whose active wiring would share files with a deployment wiring `targets` at
/// `scope`: the same tool in its own config (provider scope), or any tool in the one shell env
/// block (user and system scope). Each with the tools concerned.
pub(crate) fn conflicts(
    env: &Environment,
    scope: Scope,
    targets: &[Tool],
) -> Vec<(String, Vec<Tool>)> {
    owners(env)
        .into_iter()
        .filter(|(_, w)| w.active && !targets.is_empty())
        .filter_map(|(owner, w)| {
            let tools: Vec<Tool> = w
                .desired
                .iter()
                .filter(|(t, s)| **s == scope && (scope != Scope::Provider || targets.contains(t)))
                .map(|(t, _)| *t)
                .collect();
            (!tools.is_empty()).then_some((owner, tools))
        })
        .collect()
}

/// One line about each owner's wiring for `headroom install status`, e.g. "the Headroom app
/// (`desktop` wiring) routes Claude Code (provider), Aider (user) to port 8787".
pub fn describe(env: &Environment) -> Vec<String> {
    owners(env)
        .into_iter()
        .filter(|(_, w)| !w.desired.is_empty())
        .map(|(owner, w)| {
            let tools: Vec<String> = w
                .desired
                .iter()
                .map(|(t, s)| format!("{} ({s})", t.display_name()))
                .collect();
            let who = if owner == "desktop" {
                "the Headroom app".to_owned()
            } else {
                format!("wiring owner `{owner}`")
            };
            if w.active {
                format!(
                    "{who} (`{owner}` wiring) routes {} to port {}",
                    tools.join(", "),
                    w.port
                )
            } else {
                format!(
                    "{who} (`{owner}` wiring) has {} chosen; routing is off right now",
                    tools.join(", ")
                )
            }
        })
        .collect()
}

/// Plan taking the disk from `current` to `desired` wired at `port` (or to nothing of ours
/// when `active` is false). Changes nothing; fails, changing nothing, on a tool that cannot be
/// routed at its scope or a file we cannot parse. Unwiring never fails on support checks.
pub fn plan(
    env: &Environment,
    owner: &str,
    current: &Wiring,
    desired: &BTreeMap<Tool, Scope>,
    active: bool,
    port: u16,
) -> Result<WiringPlan> {
    model::validate_profile(owner)?;
    if active && port == 0 {
        return Err(Error::usage(
            "invalid port 0",
            Some("use a port between 1 and 65535 (default 8787)"),
        ));
    }
    if active {
        let support = Support::load(env);
        for (tool, scope) in desired {
            // What is already routed keeps working even if, say, a deployment now targets it.
            if current.active && current.scope_of(*tool) == Some(*scope) {
                continue;
            }
            support.check(*tool, *scope).map_err(|why| {
                Error::user(
                    format!(
                        "cannot route {} at {scope} scope: {why}",
                        tool.display_name()
                    ),
                    None,
                )
            })?;
        }
    }
    let overlay = Overlay::undoing(env, &current.mutations, std::iter::empty())?;
    let old_files: BTreeMap<PathBuf, &FileRecord> = current
        .mutations
        .iter()
        .filter_map(|m| m.file.as_ref())
        .map(|r| (PathBuf::from(&r.resolved_path), r))
        .collect();
    let mut notes = Vec::new();
    let mut files = Vec::new();
    let mut mutations = Vec::new();
    let mut wanted_vars: Vec<(String, String, &'static str)> = Vec::new();
    if active {
        for scope in Scope::ALL {
            let tools: Vec<Tool> = desired
                .iter()
                .filter(|(_, s)| *s == scope)
                .map(|(t, _)| *t)
                .collect();
            if tools.is_empty() {
                continue;
            }
            let wiring = plan::tool_wiring(env, *scope, &tools, port, &overlay, &mut notes, None)?;
            for mut f in wiring.files {
                let old = old_files.get(&f.resolved);
                let base = match overlay.base.get(&f.resolved) {
                    Some(b) => b.clone(),
                    None => f.before.clone(),
                };
                if let Some(old) = old {
                    f.created_dirs = old.created_dirs.iter().map(PathBuf::from).collect();
                }
                mutations.push(Mutation {
                    target: f.target.clone(),
                    kind: f.kind.clone(),
                    path: Some(f.path.to_string_lossy().into_owned()),
                    file: Some(
                        f.record(base, old.map(|o| o.previous_mode).unwrap_or(f.before_mode)),
                    ),
                    data: serde_json::to_value(&f.edit).unwrap_or_default(),
                });
                if f.before.as_deref() != Some(f.after.as_str()) {
                    files.push(f);
                }
            }
            wanted_vars.extend(wiring.vars);
        }
    }
    for mut r in overlay.restores()? {
        if let Some(old) = old_files.get(&r.resolved) {
            r.created_dirs = old.created_dirs.iter().map(PathBuf::from).collect();
            r.mode = old.previous_mode;
        }
        files.push(r);
    }
    let mut vars = Vec::new();
    let mut wanted_keys = BTreeSet::new();
    for (name, value, scope) in wanted_vars {
        let key = (name.clone(), scope.to_owned());
        let now = engine::get_env_var(env, &name, scope);
        let base = overlay
            .vars
            .get(&key)
            .cloned()
            .unwrap_or_else(|| now.clone());
        mutations.push(Mutation {
            target: "env".to_owned(),
            kind: "windows-env".to_owned(),
            path: None,
            file: None,
            data: serde_json::json!({"name": name, "value": value, "scope": scope, "previous": base}),
        });
        if now.as_deref() != Some(value.as_str()) {
            vars.push(VarChange {
                name,
                scope: scope.to_owned(),
                value: Some(value),
                current: now,
            });
        }
        wanted_keys.insert(key);
    }
    for ((name, scope), base) in &overlay.vars {
        if wanted_keys.contains(&(name.clone(), scope.clone())) {
            continue;
        }
        let now = engine::get_env_var(env, name, scope);
        if now != *base {
            vars.push(VarChange {
                name: name.clone(),
                scope: scope.clone(),
                value: base.clone(),
                current: now,
            });
        }
    }
    let undo = if *desired != current.desired {
        Some(current.desired.clone())
    } else {
        current.undo.clone()
    };
    Ok(WiringPlan {
        owner: owner.to_owned(),
        files,
        vars,
        next: Wiring {
            schema_version: SCHEMA_VERSION,
            desired: desired.clone(),
            active,
            port: if active { port } else { current.port },
            undo,
            mutations,
        },
        notes,
    })
}

/// Plan going back to the choice before the last confirmed change.
pub fn plan_undo(
    env: &Environment,
    owner: &str,
    current: &Wiring,
    port: u16,
) -> Result<WiringPlan> {
    let previous = current.undo.clone().ok_or_else(|| {
        Error::user(
            "there is no wiring change to undo",
            Some("undo covers the last confirmed change only"),
        )
    })?;
    let mut p = plan(env, owner, current, &previous, current.active, port)?;
    p.next.undo = None;
    Ok(p)
}

/// Apply a plan as one transaction: every file is checked against the preview first, then
/// written atomically; if anything fails, what was already done is put back.
pub fn apply(env: &Environment, plan: &WiringPlan) -> Result<Wiring> {
    for f in &plan.files {
        let now = fsx::read_opt(&f.resolved)?;
        if now.as_deref() != f.before.as_deref().map(str::as_bytes) {
            return Err(Error::user(
                format!("{} changed since the preview", f.path.display()),
                Some("review the changes again"),
            ));
        }
    }
    let mut undo: Vec<Undo> = Vec::new();
    let result = (|| -> Result<()> {
        for f in &plan.files {
            undo.push(Undo::File {
                resolved: f.resolved.clone(),
                before: f.before.clone(),
                mode: f.before_mode,
                created_dirs: if f.before.is_none() {
                    f.created_dirs.clone()
                } else {
                    Vec::new()
                },
            });
            if f.deleted {
                fsx::remove_file(&f.resolved)?;
                fsx::remove_empty_dirs(&f.created_dirs);
            } else {
                let mode = if f.before.is_some() {
                    f.before_mode
                } else {
                    f.mode
                };
                fsx::write_atomic(&f.resolved, f.after.as_bytes(), mode)?;
            }
        }
        for v in &plan.vars {
            engine::set_env_var(env, &v.name, v.value.as_deref(), &v.scope)?;
            undo.push(Undo::EnvVar(EnvVarChange {
                name: v.name.clone(),
                value: v.value.clone().unwrap_or_default(),
                scope: v.scope.clone(),
                previous: v.current.clone(),
            }));
        }
        plan.next.save(env, &plan.owner)
    })();
    match result {
        Ok(()) => Ok(plan.next.clone()),
        Err(err) => Err(engine::roll_back(
            env,
            undo,
            err,
            "cannot change the tool wiring",
        )),
    }
}

/// Switch routing on or off (pause, resume, fail-open, reconcile, a new port) without asking:
/// it only adds or removes what the user already approved.
pub fn set_active(
    env: &Environment,
    owner: &str,
    current: &Wiring,
    active: bool,
    port: u16,
) -> Result<Wiring> {
    let p = plan(env, owner, current, &current.desired, active, port)?;
    apply(env, &p)
}

/// Whether the disk matches `current` (its tools wired at its port, or nothing of ours when
/// inactive); `Err` describes the first difference.
pub fn verify(env: &Environment, owner: &str, current: &Wiring) -> Result<(), String> {
    match plan(
        env,
        owner,
        current,
        &current.desired,
        current.active,
        current.port,
    ) {
        Ok(p) if p.is_empty() => Ok(()),
        Ok(p) => Err(format!(
            "{} file(s) differ from the expected wiring: {}",
            p.files.len(),
            p.files
                .iter()
                .map(|f| f.path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(e) => Err(e.message),
    }
}
