//! The coding tools Headroom knows how to wire, and the environment each needs to reach the
//! proxy. Shared by `install` (persistent wiring) and `wrap` (per-run wiring) so both agree on
//! one table of values (reference §3.1).

use std::fmt;
use std::str::FromStr;

/// A supported coding tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tool {
    Claude,
    Codex,
    Copilot,
    Aider,
    Cursor,
    Opencode,
    Openclaw,
}

impl Tool {
    /// Every tool, in the order the CLI and UI list them.
    pub const ALL: [Tool; 7] = [
        Tool::Claude,
        Tool::Codex,
        Tool::Copilot,
        Tool::Aider,
        Tool::Cursor,
        Tool::Opencode,
        Tool::Openclaw,
    ];

    /// The name used on the command line, in manifests and in the UI.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Claude => "claude",
            Tool::Codex => "codex",
            Tool::Copilot => "copilot",
            Tool::Aider => "aider",
            Tool::Cursor => "cursor",
            Tool::Opencode => "opencode",
            Tool::Openclaw => "openclaw",
        }
    }

    /// A human-friendly product name.
    pub fn display_name(self) -> &'static str {
        match self {
            Tool::Claude => "Claude Code",
            Tool::Codex => "Codex",
            Tool::Copilot => "GitHub Copilot CLI",
            Tool::Aider => "Aider",
            Tool::Cursor => "Cursor",
            Tool::Opencode => "OpenCode",
            Tool::Openclaw => "OpenClaw",
        }
    }

    /// The executable looked up on PATH to detect and launch the tool.
    pub fn binary(self) -> &'static str {
        match self {
            Tool::Cursor => "cursor",
            other => other.name(),
        }
    }

    /// Environment variables that point this tool at a proxy on `127.0.0.1:port`, in a stable
    /// order. Empty for tools that are wired through their own config only (OpenCode, OpenClaw).
    pub fn env(self, port: u16) -> Vec<(&'static str, String)> {
        let anthropic = format!("http://127.0.0.1:{port}");
        let openai = format!("http://127.0.0.1:{port}/v1");
        match self {
            Tool::Claude => vec![
                ("ANTHROPIC_BASE_URL", anthropic),
                ("ENABLE_TOOL_SEARCH", "true".to_owned()),
            ],
            Tool::Codex => vec![("OPENAI_BASE_URL", openai)],
            Tool::Copilot => vec![
                ("COPILOT_PROVIDER_TYPE", "anthropic".to_owned()),
                ("COPILOT_PROVIDER_BASE_URL", anthropic),
            ],
            Tool::Aider => vec![
                ("OPENAI_API_BASE", openai),
                ("ANTHROPIC_BASE_URL", anthropic),
            ],
            Tool::Cursor => vec![
                ("OPENAI_BASE_URL", openai),
                ("ANTHROPIC_BASE_URL", anthropic),
            ],
            Tool::Opencode | Tool::Openclaw => Vec::new(),
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name was not one of [`Tool::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tool `{name}` (valid: claude, codex, copilot, aider, cursor, opencode, openclaw)")]
pub struct UnknownTool {
    pub name: String,
}

/// Serialised by name (`"claude"`), so a tool can key a JSON object.
impl serde::Serialize for Tool {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Tool {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for Tool {
    type Err = UnknownTool;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tool::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownTool { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for tool in Tool::ALL {
            assert_eq!(tool.name().parse::<Tool>(), Ok(tool));
        }
        assert!("vim"
            .parse::<Tool>()
            .unwrap_err()
            .to_string()
            .contains("valid: claude"));
    }

    #[test]
    fn env_values_match_the_reference_table() {
        assert_eq!(
            Tool::Claude.env(8787),
            vec![
                ("ANTHROPIC_BASE_URL", "http://127.0.0.1:8787".to_owned()),
                ("ENABLE_TOOL_SEARCH", "true".to_owned())
            ]
        );
        assert_eq!(
            Tool::Codex.env(9000),
            vec![("OPENAI_BASE_URL", "http://127.0.0.1:9000/v1".to_owned())]
        );
        assert!(Tool::Opencode.env(8787).is_empty());
    }
}
