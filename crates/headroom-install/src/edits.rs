//! Pure text transforms for each kind of file we edit, and their semantic inverses. The engine
//! restores exact previous bytes when a file is untouched since apply; these inverses are for
//! the other case: the user edited the file after us, so we take out only what we put in and
//! leave every value they changed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::jsonc;

pub const BLOCK_START: &str = "# >>> headroom persistent env >>>";
pub const BLOCK_END: &str = "# <<< headroom persistent env <<<";

/// Shell dialect of a managed env block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shell {
    Posix,
    Fish,
    Powershell,
}

/// One JSON value we set, with what was there before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonKey {
    pub path: Vec<String>,
    pub value: Value,
    /// The previous value; `None` when the key was absent.
    pub previous: Option<Value>,
}

/// An edit, stored in the manifest (`mutations[].data`) so `remove` can undo it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "edit", rename_all = "kebab-case")]
pub enum Edit {
    /// A marked block of env assignments in a shell startup file.
    ShellBlock {
        shell: Shell,
        vars: Vec<(String, String)>,
        /// A command line run when the shell starts: the shell supervisor's hook that brings
        /// the deployment's proxy back on machines with neither systemd nor cron.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<String>,
    },
    /// Keys set in a JSON/JSONC file.
    JsonSet {
        keys: Vec<JsonKey>,
        /// Objects that did not exist and that we created (removed again when left empty).
        created: Vec<Vec<String>>,
    },
    /// `model_provider = "headroom"` at the top level of Codex's config plus a
    /// `[model_providers.headroom]` table.
    CodexToml {
        base_url: String,
        /// ChatGPT sign-in was detected when this was planned. Recorded for `status`;
        /// `requires_openai_auth = true` is written either way (see [`codex_apply`]).
        chatgpt_auth: bool,
        previous_model_provider: Option<String>,
        /// The user's own `[model_providers.headroom]` table, if they had one.
        previous_table: Option<String>,
    },
    /// A file we render in full (unit, plist, task XML, fish conf.d file).
    Whole { content: String },
}

/// Render the managed block for `shell` with line ending `eol`.
pub fn render_block(
    shell: Shell,
    vars: &[(String, String)],
    run: Option<&str>,
    eol: &str,
) -> String {
    let mut out = String::new();
    out.push_str(BLOCK_START);
    out.push_str(eol);
    out.push_str("# Added by Headroom (`headroom install` or the Headroom app); removing it there takes it out again.");
    out.push_str(eol);
    for (k, v) in vars {
        let line = match shell {
            Shell::Posix => format!("export {k}={}", crate::render::sh_quote(v)),
            Shell::Fish => format!("set -gx {k} {}", crate::render::fish_quote(v)),
            Shell::Powershell => format!("$env:{k} = {}", crate::render::ps_quote(v)),
        };
        out.push_str(&line);
        out.push_str(eol);
    }
    if let Some(run) = run {
        out.push_str(
            "# No systemd or cron here: each new shell makes sure the Headroom proxy runs.",
        );
        out.push_str(eol);
        out.push_str(run);
        out.push_str(eol);
    }
    out.push_str(BLOCK_END);
    out.push_str(eol);
    out
}

/// Byte range of the managed block (from the start marker's line to the end of the end
/// marker's line). `Err` when a start marker has no end marker.
fn block_span(text: &str) -> Result<Option<(usize, usize)>, String> {
    let Some(s) = text.find(BLOCK_START) else {
        return Ok(None);
    };
    let line_start = text[..s].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let Some(rel) = text[s..].find(BLOCK_END) else {
        return Err(format!(
            "it has a `{BLOCK_START}` line without the matching `{BLOCK_END}`"
        ));
    };
    let e = s + rel + BLOCK_END.len();
    let e = match text[e..].find('\n') {
        Some(i) => e + i + 1,
        None => text.len(),
    };
    Ok(Some((line_start, e)))
}

impl Edit {
    /// The new content for a file whose current content is `before` (`None` = absent).
    /// Records previous values in `self`. `Err` = we cannot parse the file; it stays untouched.
    pub fn apply(&mut self, before: Option<&str>) -> Result<String, String> {
        let text = before.unwrap_or("");
        match self {
            Edit::Whole { content } => Ok(content.clone()),
            Edit::ShellBlock { shell, vars, run } => {
                let eol = crate::fsx::line_ending(text);
                let block = render_block(*shell, vars, run.as_deref(), eol);
                match block_span(text)? {
                    Some((s, e)) => Ok(format!("{}{}{}", &text[..s], block, &text[e..])),
                    None if text.is_empty() => Ok(block),
                    None => {
                        let sep = if text.ends_with('\n') {
                            eol.to_owned()
                        } else {
                            format!("{eol}{eol}")
                        };
                        Ok(format!("{text}{sep}{block}"))
                    }
                }
            }
            Edit::JsonSet { keys, created } => {
                let mut out = text.to_owned();
                if !out.trim().is_empty() {
                    jsonc::parse(&out)?;
                }
                created.clear();
                for key in keys.iter_mut() {
                    let path: Vec<&str> = key.path.iter().map(String::as_str).collect();
                    let root = if out.trim().is_empty() {
                        None
                    } else {
                        Some(jsonc::parse(&out)?)
                    };
                    if let Some(root) = &root {
                        if !matches!(root, jsonc::Node::Object { .. }) {
                            return Err("the top level is not a JSON object".to_owned());
                        }
                    }
                    for depth in 1..path.len() {
                        let exists = root
                            .as_ref()
                            .and_then(|r| jsonc::find(r, &path[..depth]))
                            .is_some();
                        if !exists {
                            let p: Vec<String> =
                                path[..depth].iter().map(|s| (*s).to_owned()).collect();
                            if !created.iter().any(|c| p.starts_with(c)) {
                                created.push(p);
                            }
                            break;
                        }
                    }
                    key.previous = match &root {
                        Some(r) => match jsonc::find(r, &path) {
                            Some(node) => {
                                let (s, e) = node.span();
                                let raw = jsonc::strip_comments(&out[s..e]);
                                Some(serde_json::from_str(&raw).map_err(|e| e.to_string())?)
                            }
                            None => None,
                        },
                        None => None,
                    };
                    if key.previous.as_ref() != Some(&key.value) {
                        out = jsonc::set(&out, &path, &key.value)?;
                    }
                }
                jsonc::parse(&out)?;
                Ok(out)
            }
            Edit::CodexToml {
                base_url,
                previous_model_provider,
                previous_table,
                ..
            } => codex_apply(text, base_url, previous_model_provider, previous_table),
        }
    }

    /// Take our edit out of `current` (which the user changed since apply). Returns the new
    /// content and notes about values we left alone because the user changed them.
    pub fn revert(&self, current: &str) -> Result<(String, Vec<String>), String> {
        let mut notes = Vec::new();
        match self {
            Edit::Whole { .. } => Ok((String::new(), notes)),
            Edit::ShellBlock { shell, vars, run } => match block_span(current)? {
                Some((s, e)) => {
                    // Lines the user added inside the markers are theirs: they stay, where the
                    // block was; only the markers and our own assignments go.
                    let eol = crate::fsx::line_ending(current);
                    let rendered = render_block(*shell, vars, run.as_deref(), eol);
                    let ours: Vec<&str> =
                        rendered.lines().map(|l| l.trim_end_matches('\r')).collect();
                    let theirs: Vec<&str> = current[s..e]
                        .lines()
                        .map(|l| l.trim_end_matches('\r'))
                        .filter(|l| !ours.contains(l))
                        .collect();
                    let mut head = current[..s].to_owned();
                    // Drop the blank separator line we added before the block.
                    if head.ends_with("\r\n\r\n") {
                        head.truncate(head.len() - 2);
                    } else if head.ends_with("\n\n") {
                        head.truncate(head.len() - 1);
                    }
                    if !theirs.is_empty() {
                        notes.push(format!(
                            "kept the {} line(s) you added inside the headroom block: {}",
                            theirs.len(),
                            theirs.join(" / ")
                        ));
                        for l in &theirs {
                            head.push_str(l);
                            head.push_str(eol);
                        }
                    }
                    Ok((format!("{head}{}", &current[e..]), notes))
                }
                None => {
                    notes.push("the headroom block was already gone".to_owned());
                    Ok((current.to_owned(), notes))
                }
            },
            Edit::JsonSet { keys, created } => {
                let mut out = current.to_owned();
                for key in keys.iter().rev() {
                    let path: Vec<&str> = key.path.iter().map(String::as_str).collect();
                    let now = jsonc::get_raw(&out, &path)?.and_then(|raw| {
                        serde_json::from_str::<Value>(&jsonc::strip_comments(&raw)).ok()
                    });
                    if now.as_ref() != Some(&key.value) {
                        notes.push(format!(
                            "kept `{}`: it was changed after headroom set it",
                            key.path.join(".")
                        ));
                        continue;
                    }
                    out = match &key.previous {
                        Some(prev) => jsonc::set(&out, &path, prev)?,
                        None => jsonc::remove(&out, &path)?,
                    };
                }
                for parent in created.iter().rev() {
                    let path: Vec<&str> = parent.iter().map(String::as_str).collect();
                    if jsonc::is_empty_object(&out, &path) {
                        out = jsonc::remove(&out, &path)?;
                    }
                }
                Ok((out, notes))
            }
            Edit::CodexToml {
                base_url,
                previous_model_provider,
                previous_table,
                ..
            } => codex_revert(
                current,
                base_url,
                previous_model_provider.as_deref(),
                previous_table.as_deref(),
                &mut notes,
            )
            .map(|s| (s, notes)),
        }
    }
}

const CODEX_COMMENT: &str =
    "# Added by Headroom (`headroom install` or the Headroom app): route Codex through Headroom.\n";

fn with_eol(text: String, eol: &str) -> String {
    if eol == "\r\n" {
        text.replace("\r\n", "\n").replace('\n', "\r\n")
    } else {
        text
    }
}

fn codex_apply(
    text: &str,
    base_url: &str,
    previous_model_provider: &mut Option<String>,
    previous_table: &mut Option<String>,
) -> Result<String, String> {
    use toml_edit::{value, DocumentMut, Item, Table};
    let eol = crate::fsx::line_ending(text);
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    *previous_model_provider = doc
        .get("model_provider")
        .and_then(|i| i.as_str())
        .map(str::to_owned);
    if doc.contains_key("model_provider") && previous_model_provider.is_none() {
        return Err("`model_provider` is not a string".to_owned());
    }
    if previous_model_provider.as_deref() != Some("headroom") {
        let existed = doc.contains_key("model_provider");
        doc["model_provider"] = value("headroom");
        if !existed {
            if let Some(mut key) = doc.as_table_mut().key_mut("model_provider") {
                key.leaf_decor_mut().set_prefix(CODEX_COMMENT);
            }
        }
    }
    // A provider of the user's own (a company gateway with its `env_key`, headers, wire API)
    // lends its settings to ours, so Codex authenticates as before; the plan makes its
    // `base_url` the deployment's OpenAI upstream (Codex → Headroom → gateway).
    let theirs = previous_model_provider
        .as_deref()
        .filter(|p| !matches!(*p, "headroom" | "openai"))
        .and_then(|p| doc.get("model_providers")?.get(p)?.as_table())
        .cloned();
    let mut table = Table::new();
    table["name"] = value("Headroom");
    table["base_url"] = value(base_url);
    let own_auth = theirs
        .as_ref()
        .is_some_and(|t| t.contains_key("env_key") || t.contains_key("requires_openai_auth"));
    if let Some(theirs) = &theirs {
        for (k, v) in theirs.iter() {
            if !matches!(k, "name" | "base_url") {
                table.insert(k, v.clone());
            }
        }
    }
    if !table.contains_key("wire_api") {
        table["wire_api"] = value("responses");
    }
    // Without it Codex sends a custom provider no `Authorization` header at all, for an API-key
    // login as much as for ChatGPT sign-in (checked with the real Codex 0.171): every request
    // would be a 401. With it Codex sends the login it has, whichever kind.
    if !own_auth {
        table["requires_openai_auth"] = value(true);
    }
    table.decor_mut().set_prefix(format!("\n{CODEX_COMMENT}"));
    if !doc.contains_key("model_providers") {
        let mut providers = Table::new();
        providers.set_implicit(true);
        doc.insert("model_providers", Item::Table(providers));
    }
    let providers = doc["model_providers"]
        .as_table_mut()
        .ok_or("`model_providers` is not a table")?;
    if let Some(existing) = providers.get("headroom") {
        let existing_url = existing.get("base_url").and_then(|v| v.as_str());
        if existing_url != Some(base_url) {
            let mut snapshot = DocumentMut::new();
            snapshot.insert("headroom", existing.clone());
            *previous_table = Some(snapshot.to_string());
        } else {
            *previous_table = None;
        }
        if existing_url == Some(base_url) && previous_model_provider.as_deref() == Some("headroom")
        {
            return Ok(text.to_owned());
        }
        if let Some(t) = existing.as_table() {
            table.decor_mut().clone_from(t.decor());
            table.set_position(t.position());
        }
    } else {
        *previous_table = None;
    }
    providers.insert("headroom", Item::Table(table));
    let out = with_eol(doc.to_string(), eol);
    // Verify what Codex will read: a top-level model_provider and our table.
    let check: DocumentMut = out
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    if check.get("model_provider").and_then(|i| i.as_str()) != Some("headroom") {
        return Err("internal: model_provider did not land at the top level".to_owned());
    }
    Ok(out)
}

fn codex_revert(
    current: &str,
    base_url: &str,
    previous_model_provider: Option<&str>,
    previous_table: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<String, String> {
    use toml_edit::{value, DocumentMut};
    let eol = crate::fsx::line_ending(current);
    let mut doc: DocumentMut = current
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    match doc.get("model_provider").and_then(|i| i.as_str()) {
        Some("headroom") => match previous_model_provider {
            Some(prev) => doc["model_provider"] = value(prev),
            None => {
                doc.remove("model_provider");
            }
        },
        _ => notes.push("kept `model_provider`: it was changed after headroom set it".to_owned()),
    }
    let mut drop_providers = false;
    if let Some(providers) = doc
        .get_mut("model_providers")
        .and_then(|i| i.as_table_mut())
    {
        let ours = providers
            .get("headroom")
            .and_then(|t| t.get("base_url"))
            .and_then(|v| v.as_str())
            == Some(base_url);
        if ours {
            providers.remove("headroom");
            if let Some(prev) = previous_table {
                if let Ok(snap) = prev.parse::<DocumentMut>() {
                    if let Some(item) = snap.get("headroom") {
                        providers.insert("headroom", item.clone());
                    }
                }
            }
        } else if providers.contains_key("headroom") {
            notes.push(
                "kept `[model_providers.headroom]`: it was changed after headroom wrote it"
                    .to_owned(),
            );
        }
        drop_providers = providers.is_empty() && providers.is_implicit();
    }
    if drop_providers {
        doc.remove("model_providers");
    }
    Ok(with_eol(doc.to_string(), eol))
}

/// Whether Codex uses ChatGPT sign-in (then the provider must forward OpenAI auth).
pub fn codex_uses_chatgpt_auth(auth_json: Option<&str>) -> bool {
    let Some(text) = auth_json else { return false };
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    v.get("auth_mode").and_then(|m| m.as_str()) == Some("chatgpt")
        || v.pointer("/tokens/account_id")
            .is_some_and(|a| !a.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codex() -> Edit {
        Edit::CodexToml {
            base_url: "http://127.0.0.1:8787/v1".to_owned(),
            chatgpt_auth: false,
            previous_model_provider: None,
            previous_table: None,
        }
    }

    #[test]
    fn codex_keys_land_above_the_first_table() {
        let before = "model = \"o3\"\n\n[features]\nweb = true\n";
        let mut e = codex();
        let after = e.apply(Some(before)).unwrap();
        let first_table = after.find("[features]").unwrap();
        assert!(after.find("model_provider = \"headroom\"").unwrap() < first_table);
        let doc: toml_edit::DocumentMut = after.parse().unwrap();
        assert_eq!(doc["model_provider"].as_str(), Some("headroom"));
        assert_eq!(
            doc["model_providers"]["headroom"]["base_url"].as_str(),
            Some("http://127.0.0.1:8787/v1")
        );
        assert_eq!(doc["features"]["web"].as_bool(), Some(true));
        let (reverted, notes) = e.revert(&after).unwrap();
        assert_eq!(reverted, before);
        assert!(notes.is_empty());
    }

    #[test]
    fn codex_replaces_user_provider_in_place_and_restores_it() {
        let before = "# mine\nmodel_provider = \"openai\" # note\n[x]\ny = 1\n";
        let mut e = codex();
        let after = e.apply(Some(before)).unwrap();
        assert!(after.starts_with("# mine\nmodel_provider = \"headroom\""));
        let (reverted, _) = e.revert(&after).unwrap();
        let doc: toml_edit::DocumentMut = reverted.parse().unwrap();
        assert_eq!(doc["model_provider"].as_str(), Some("openai"));
        assert!(doc.get("model_providers").is_none());
    }

    #[test]
    fn codex_refuses_invalid_toml() {
        assert!(codex().apply(Some("model = \n[")).is_err());
    }

    #[test]
    fn shell_block_appends_and_reverts() {
        let mut e = Edit::ShellBlock {
            shell: Shell::Posix,
            vars: vec![("A".to_owned(), "http://x y".to_owned())],
            run: None,
        };
        let before = "alias ll='ls -l'";
        let after = e.apply(Some(before)).unwrap();
        assert_eq!(
            after,
            format!("alias ll='ls -l'\n\n{BLOCK_START}\n# Added by Headroom (`headroom install` or the Headroom app); removing it there takes it out again.\nexport A='http://x y'\n{BLOCK_END}\n")
        );
        assert_eq!(e.apply(Some(&after)).unwrap(), after, "idempotent");
        let (rev, _) = e.revert(&format!("{after}echo user\n")).unwrap();
        assert_eq!(rev, "alias ll='ls -l'\necho user\n");
    }

    #[test]
    fn shell_block_without_end_marker_is_refused() {
        let mut e = Edit::ShellBlock {
            shell: Shell::Fish,
            vars: vec![],
            run: None,
        };
        assert!(e.apply(Some(&format!("{BLOCK_START}\nx\n"))).is_err());
    }

    #[test]
    fn json_revert_keeps_user_changes() {
        let mut e = Edit::JsonSet {
            keys: vec![JsonKey {
                path: vec!["env".into(), "K".into()],
                value: Value::from("ours"),
                previous: None,
            }],
            created: vec![],
        };
        let after = e.apply(Some("{\"a\": 1}\n")).unwrap();
        assert_eq!(after, "{\"a\": 1, \"env\": {\"K\": \"ours\"}}\n");
        let user = after.replace("ours", "theirs");
        let (rev, notes) = e.revert(&user).unwrap();
        assert_eq!(rev, user);
        assert_eq!(notes.len(), 1);
        let (rev, _) = e.revert(&after).unwrap();
        assert_eq!(rev, "{\"a\": 1}\n");
    }
}
