//! Deployments left by the Python Headroom. Its manifests sit at the same path as ours
//! (`<workspace>/deploy/<profile>/manifest.json`) without a `schema_version`; its supervisors
//! (systemd units, cron entries, LaunchAgents, Windows tasks and services) run its own runner
//! scripts, and its edits of the tools' configs use the markers documented in
//! `../shared/reference/headroom-install.md`.
//!
//! Why it is shaped like this: such a profile must never look "corrupt" (the user would delete
//! the only record of what to undo) nor be replaced silently. [`find`] recognises it so every
//! command can name it and what it runs; [`Legacy::take_over`] (behind `apply --take-over`)
//! removes exactly what its manifest records — stopping and deleting its units and entries,
//! taking its blocks out of the shell and Codex files, giving Claude Code's settings their
//! recorded previous values — reporting each step, before this Headroom installs in its place.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::env::{Environment, OsKind};
use crate::error::{Error, Result};
use crate::fsx;
use crate::runner::Cmd;

/// A profile installed by the Python Headroom.
#[derive(Debug, Clone, PartialEq)]
pub struct Legacy {
    pub profile: String,
    pub manifest: PathBuf,
    pub preset: String,
    pub scope: String,
    pub port: u16,
    pub targets: Vec<String>,
    artifacts: Vec<Record>,
    mutations: Vec<Record>,
}

#[derive(Debug, Clone, PartialEq)]
struct Record {
    target: String,
    kind: String,
    path: Option<String>,
    data: Value,
}

/// A manifest of the Python tool: no `schema_version`, its runtime names, its record lists.
pub fn is_legacy(value: &Value) -> bool {
    value.get("schema_version").is_none()
        && value.get("runtime_kind").is_some()
        && value.get("supervisor_kind").is_some()
        && value["artifacts"].is_array()
        && value["mutations"].is_array()
}

/// The Python deployment at `profile`, if that is what its manifest is.
pub fn find(env: &Environment, profile: &str) -> Option<Legacy> {
    let path = env.manifest_path(profile);
    let value: Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    parse(&value, profile, path)
}

/// [`find`] for a manifest already read.
pub fn find_in(value: &Value, profile: &str, manifest: &Path) -> Option<Legacy> {
    parse(value, profile, manifest.to_path_buf())
}

fn parse(value: &Value, profile: &str, manifest: PathBuf) -> Option<Legacy> {
    if !is_legacy(value) {
        return None;
    }
    let records = |key: &str| -> Vec<Record> {
        value[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| Record {
                target: r["target"].as_str().unwrap_or("").to_owned(),
                kind: r["kind"].as_str().unwrap_or("").to_owned(),
                path: r["path"].as_str().map(str::to_owned),
                data: r
                    .get("data")
                    .or_else(|| r.get("metadata"))
                    .cloned()
                    .unwrap_or(Value::Null),
            })
            .collect()
    };
    Some(Legacy {
        profile: profile.to_owned(),
        manifest,
        preset: value["preset"].as_str().unwrap_or("?").to_owned(),
        scope: value["scope"].as_str().unwrap_or("?").to_owned(),
        port: value["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0),
        targets: value["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        artifacts: records("artifacts"),
        mutations: records("mutations"),
    })
}

/// `# >>> headroom persistent env >>>` … the Python tool's env block (the same markers as ours).
const ENV_START: &str = crate::edits::BLOCK_START;
const ENV_END: &str = crate::edits::BLOCK_END;
const CODEX_START: &str = "# --- Headroom persistent provider ---";
const CODEX_END: &str = "# --- end Headroom persistent provider ---";

impl Legacy {
    /// One line: what it is.
    pub fn summary(&self) -> String {
        format!(
            "deployment profile `{}` was installed by the Python Headroom ({}, {} scope, port {}, targets: {})",
            self.profile,
            self.preset,
            self.scope,
            self.port,
            if self.targets.is_empty() {
                "none".to_owned()
            } else {
                self.targets.join(", ")
            }
        )
    }

    /// What it left on this machine, one item per line.
    pub fn describe(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .artifacts
            .iter()
            .map(|a| {
                let path = a.path.as_deref().unwrap_or("?");
                match a.kind.as_str() {
                    "service-unit" => format!("systemd unit {path}"),
                    "cron" => format!("cron file {path}"),
                    "crontab" => format!("crontab block `# >>> headroom {} >>>`", self.profile),
                    "plist" => format!("launchd job {path}"),
                    "windows-task" => format!("scheduled task {path}"),
                    "windows-service" => format!("Windows service {path}"),
                    "script" => format!("runner script {path}"),
                    other => format!("{other} {path}"),
                }
            })
            .collect();
        for m in &self.mutations {
            let path = m.path.as_deref().unwrap_or("?");
            out.push(match m.kind.as_str() {
                "shell-block" => format!("env block in {path}"),
                "json-env" => format!("Claude Code settings {path} (env)"),
                "toml-block" => format!("Codex provider block in {path}"),
                "json-block" => format!("OpenCode provider in {path}"),
                "windows-env" => format!(
                    "{} environment variable {}",
                    m.data["scope"].as_str().unwrap_or("User"),
                    m.data["name"].as_str().unwrap_or("?")
                ),
                other => format!("{other} edit of {path}"),
            });
        }
        out
    }

    /// The error every command gives for this profile until it is taken over.
    pub fn error(&self) -> Error {
        Error::user(
            format!(
                "{}; it is still in place: {}",
                self.summary(),
                self.describe().join("; ")
            ),
            Some(&format!(
                "`headroom install apply --profile {p} --take-over …` removes it cleanly (its units, cron entries and config edits, each one reported) and installs this Headroom in its place; or remove it with the Python tool (`headroom install remove --profile {p}`)",
                p = self.profile
            )),
        )
    }

    /// Stop and remove everything the Python deployment's manifest records, then its profile
    /// directory. Returns one line per action. A step that fails stops the take-over with the
    /// manifest still in place, so it can be retried.
    pub fn take_over(&self, env: &Environment) -> Result<Vec<String>> {
        let mut done = Vec::new();
        for a in &self.artifacts {
            self.undo_artifact(env, a, &mut done)?;
        }
        for m in self.mutations.iter().rev() {
            self.undo_mutation(env, m, &mut done)?;
        }
        let dir = self.manifest.parent().map(Path::to_path_buf);
        if let Some(dir) = dir {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io("remove", &dir, &e))?;
            done.push(format!(
                "removed the Python deployment's folder {}",
                dir.display()
            ));
        }
        Ok(done)
    }

    fn run(&self, env: &Environment, program: &str, args: &[&str], done: &mut Vec<String>) {
        let cmd = Cmd::new(program, args.iter().copied());
        // Lenient: the unit may already be stopped or gone; what matters is checked after.
        let _ = env.runner.run(&cmd);
        done.push(format!("ran {}", cmd.display()));
    }

    fn delete(&self, path: &Path, done: &mut Vec<String>) -> Result<()> {
        if path.exists() {
            fsx::remove_file(path)?;
            done.push(format!("deleted {}", path.display()));
        }
        Ok(())
    }

    fn undo_artifact(&self, env: &Environment, a: &Record, done: &mut Vec<String>) -> Result<()> {
        let Some(path) = a.path.as_deref() else {
            return Ok(());
        };
        let file = PathBuf::from(path);
        match a.kind.as_str() {
            "service-unit" => {
                let unit = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let system = path.starts_with("/etc/");
                let mut disable = vec!["disable", "--now", unit.as_str()];
                let mut reload = vec!["daemon-reload"];
                if !system {
                    disable.insert(0, "--user");
                    reload.insert(0, "--user");
                }
                self.run(env, "systemctl", &disable, done);
                self.delete(&file, done)?;
                self.run(env, "systemctl", &reload, done);
            }
            "cron" | "script" => self.delete(&file, done)?,
            "crontab" => {
                crate::engine::run_op(
                    env,
                    &crate::supervisor::Op::Crontab {
                        marker: format!("headroom {}", self.profile),
                        block: None,
                    },
                )?;
                done.push(format!(
                    "removed the `# >>> headroom {} >>>` block from the crontab",
                    self.profile
                ));
            }
            "plist" => {
                let domain = if path.starts_with("/Library/LaunchDaemons") {
                    "system".to_owned()
                } else {
                    format!("gui/{}", env.uid)
                };
                self.run(env, "launchctl", &["bootout", &domain, path], done);
                self.delete(&file, done)?;
            }
            "windows-task" => {
                self.run(env, "schtasks", &["/Delete", "/TN", path, "/F"], done);
            }
            "windows-service" => {
                self.run(env, "sc.exe", &["stop", path], done);
                self.run(env, "sc.exe", &["delete", path], done);
            }
            other => done.push(format!("left {other} {path} alone (unknown kind)")),
        }
        Ok(())
    }

    fn undo_mutation(&self, env: &Environment, m: &Record, done: &mut Vec<String>) -> Result<()> {
        let edit = |path: &Path,
                    f: &dyn Fn(&str) -> std::result::Result<String, String>|
         -> Result<bool> {
            let Ok(text) = std::fs::read_to_string(path) else {
                return Ok(false);
            };
            let out = f(&text).map_err(|why| {
                Error::user(
                    format!(
                        "cannot take the Python Headroom's edit out of {}: {why}",
                        path.display()
                    ),
                    Some("fix the file by hand, then run the take-over again; nothing else was changed in it"),
                )
            })?;
            if out != text {
                fsx::write_atomic(path, out.as_bytes(), fsx::mode_of(path))?;
                return Ok(true);
            }
            Ok(false)
        };
        match (m.kind.as_str(), m.path.as_deref()) {
            ("shell-block", Some(path)) => {
                let p =
                    crate::fsx::resolve(Path::new(path)).unwrap_or_else(|_| PathBuf::from(path));
                if edit(&p, &|t| Ok(without_block(t, ENV_START, ENV_END)))? {
                    done.push(format!("took the Python env block out of {path}"));
                }
            }
            ("toml-block", Some(path)) => {
                let p = PathBuf::from(path);
                if edit(&p, &|t| Ok(without_block(t, CODEX_START, CODEX_END)))? {
                    done.push(format!("took the Python provider block out of {path}"));
                }
            }
            ("json-env", Some(path)) => {
                let p = PathBuf::from(path);
                let previous = m.data["previous"].as_object().cloned().unwrap_or_default();
                let changed = edit(&p, &|text| {
                    let mut out = text.to_owned();
                    for (key, old) in &previous {
                        let key_path = ["env", key.as_str()];
                        out = match old {
                            Value::Null => crate::jsonc::remove(&out, &key_path)?,
                            v => crate::jsonc::set(&out, &key_path, v)?,
                        };
                    }
                    Ok(out)
                })?;
                if changed {
                    let keys: Vec<&str> = previous.keys().map(String::as_str).collect();
                    done.push(format!(
                        "gave {path} its previous {} (as the Python manifest recorded)",
                        keys.join(", ")
                    ));
                }
            }
            ("json-block", Some(path)) => {
                let p = PathBuf::from(path);
                let backup = PathBuf::from(format!("{path}.headroom-backup"));
                if backup.exists() {
                    let bytes =
                        std::fs::read(&backup).map_err(|e| Error::io("read", &backup, &e))?;
                    fsx::write_atomic(&p, &bytes, fsx::mode_of(&p))?;
                    fsx::remove_file(&backup)?;
                    done.push(format!("restored {path} from {}", backup.display()));
                } else if edit(&p, &|t| crate::jsonc::remove(t, &["provider", "headroom"]))? {
                    done.push(format!("removed provider.headroom from {path}"));
                }
            }
            ("windows-env", _) if env.os == OsKind::Windows => {
                let name = m.data["name"].as_str().unwrap_or("");
                let scope = m.data["scope"].as_str().unwrap_or("User");
                if !name.is_empty() && matches!(scope, "User" | "Machine") {
                    crate::engine::set_env_var(env, name, m.data["previous"].as_str(), scope)?;
                    done.push(format!(
                        "gave the {scope} variable {name} its previous value"
                    ));
                }
            }
            (other, path) => done.push(format!(
                "left the {other} edit of {} alone (nothing to undo)",
                path.unwrap_or("?")
            )),
        }
        Ok(())
    }
}

/// `text` without the block from `start` to `end` (whole lines) and the blank line that was
/// put before it. Unchanged when there is no complete block.
fn without_block(text: &str, start: &str, end: &str) -> String {
    let Some(s) = text.find(start) else {
        return text.to_owned();
    };
    let Some(rel) = text[s..].find(end) else {
        return text.to_owned();
    };
    let line_start = text[..s].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let mut e = s + rel + end.len();
    if text[e..].starts_with("\r\n") {
        e += 2;
    } else if text[e..].starts_with('\n') {
        e += 1;
    }
    let mut head = text[..line_start].to_owned();
    if head.ends_with("\n\n") {
        head.pop();
    }
    let out = format!("{head}{}", &text[e..]);
    if out.trim().is_empty() {
        String::new()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_come_out_with_their_separator() {
        let t = format!("alias a=b\n\n{ENV_START}\nexport X=\"1\"\n{ENV_END}\n");
        assert_eq!(without_block(&t, ENV_START, ENV_END), "alias a=b\n");
        let t = format!("{CODEX_START}\nmodel_provider = \"headroom\"\n{CODEX_END}\n[x]\ny = 1\n");
        assert_eq!(without_block(&t, CODEX_START, CODEX_END), "[x]\ny = 1\n");
        let t = format!("{ENV_START}\nno end\n");
        assert_eq!(without_block(&t, ENV_START, ENV_END), t);
    }

    #[test]
    fn only_python_manifests_are_legacy() {
        let py = serde_json::json!({"profile": "default", "preset": "persistent-service", "runtime_kind": "python", "supervisor_kind": "service", "scope": "user", "port": 8787, "targets": ["claude"], "mutations": [], "artifacts": []});
        assert!(is_legacy(&py));
        let mut ours = py.clone();
        ours["schema_version"] = Value::from(1);
        assert!(!is_legacy(&ours));
        assert!(!is_legacy(&serde_json::json!({"profile": "x"})));
    }
}
