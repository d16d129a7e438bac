//! What an embedder (CLI, `wrap`, the desktop app, tests) can choose about the proxy.
//!
//! `Config::default()` never reads the environment: the CLI maps flags and env vars onto it, so
//! an embedding process gets exactly what it asked for. The one exception is documented on
//! [`Config::deployment`].

use std::time::Duration;

use serde::Serialize;

/// Public Anthropic API, the default upstream for Anthropic routes.
pub const DEFAULT_ANTHROPIC_URL: &str = "https://api.anthropic.com";
/// Public OpenAI API, the default upstream for OpenAI routes.
pub const DEFAULT_OPENAI_URL: &str = "https://api.openai.com";
/// Where Codex sends ChatGPT-authenticated Responses traffic.
pub const DEFAULT_CHATGPT_URL: &str = "https://chatgpt.com";
/// The port every tool's integration points at unless told otherwise.
pub const DEFAULT_PORT: u16 = headroom_protocol::DEFAULT_PORT;

/// How aggressively compression may touch earlier turns (passed through to the compressor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Compress the live zone of every request (default).
    #[default]
    Token,
    /// Keep prior turns byte-stable for the provider's prompt cache.
    Cache,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Token => "token",
            Mode::Cache => "cache",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "token" => Ok(Mode::Token),
            "cache" => Ok(Mode::Cache),
            other => Err(format!(
                "unknown mode `{other}` (expected `token` or `cache`)"
            )),
        }
    }
}

pub use headroom_protocol::Deployment;

/// Where the CLI's proxies (`headroom proxy`, `wrap`'s session proxy, a deployment's agent)
/// keep the savings ledger: `${HEADROOM_WORKSPACE_DIR:-~/.headroom}/savings`, or `None` when
/// `HEADROOM_LEDGER` is `0`/`off`/`false`/`no` or no home directory is known.
pub fn ledger_dir_from_env() -> Option<std::path::PathBuf> {
    use headroom_protocol::env;
    let off = std::env::var(env::LEDGER).is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "0" | "off" | "false" | "no"
        )
    });
    if off {
        return None;
    }
    Some(workspace_from_env()?.join("savings"))
}

/// `${HEADROOM_WORKSPACE_DIR:-~/.headroom}`, where every Headroom process of this user keeps
/// its state; `None` when no home directory is known.
pub fn workspace_from_env() -> Option<std::path::PathBuf> {
    std::env::var_os(headroom_protocol::env::WORKSPACE_DIR)
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os(if cfg!(windows) { "USERPROFILE" } else { "HOME" })
                .filter(|h| !h.is_empty())
                .map(|h| std::path::PathBuf::from(h).join(".headroom"))
        })
}

/// Everything [`crate::start`] needs. Fields are public so callers use struct-update syntax:
/// `Config { port: 0, ..Config::default() }`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind; loopback by default (secure by default).
    pub host: String,
    /// Port to bind; `0` picks a free one (see [`crate::ProxyHandle::local_addr`]).
    pub port: u16,
    /// Base URL for Anthropic routes. A trailing `/` or `/v1` is ignored.
    pub anthropic_url: String,
    /// Base URL for OpenAI routes. A trailing `/` or `/v1` is ignored.
    pub openai_url: String,
    /// Base URL for ChatGPT-authenticated Codex traffic (`/backend-api/codex/...`).
    pub chatgpt_url: String,
    /// Run the compression hook on LLM routes (`--no-optimize` turns it off).
    pub optimize: bool,
    /// Compression mode passed to the compressor.
    pub mode: Mode,
    /// Count every request's tokens with the real BPE tables (`o200k_base` / `cl100k_base`).
    /// Off by default: requests the compressor changed are always counted with the real
    /// tables (so reported savings are exact), while passthrough requests use the calibrated
    /// estimate and never load the tables (24–46 MiB of resident memory once loaded).
    pub exact_tokens: bool,
    /// Make `/readyz` depend on a (cached) probe of the Anthropic upstream.
    pub check_upstream: bool,
    /// Shown in `/health`. When `None`, [`crate::start`] reads `HEADROOM_DEPLOYMENT_*` from the
    /// environment, which is how the install subsystem tags the processes it launches.
    pub deployment: Option<Deployment>,
    /// Upper bound for establishing a TCP (+TLS) connection to an upstream (→ 504 when hit).
    pub connect_timeout: Duration,
    /// Upper bound from sending the request to receiving the upstream's response headers
    /// (→ 504). Streaming bodies are not limited once headers arrived.
    pub response_timeout: Duration,
    /// Largest request body the proxy buffers to compress; larger ones get 413.
    pub max_body_bytes: usize,
    /// Client connections served at once (fewer if the open-file limit is lower); one more
    /// gets a 503 and is closed instead of waiting in the backlog.
    pub max_connections: usize,
    /// Bytes all request bodies being buffered (to compress them) may hold together. A body
    /// that does not fit is forwarded as it is, uncompressed, instead of growing the proxy.
    pub body_budget_bytes: usize,
    /// How long a buffered request body may go without sending a byte (→ 408). A client that
    /// trickles its body holds the connection only this long between frames.
    pub body_read_timeout: Duration,
    /// Where the savings ledger lives (`<workspace>/savings`); `None` keeps savings in memory
    /// only. Every proxy pointed at the same directory adds to the same totals.
    pub ledger_dir: Option<std::path::PathBuf>,
    /// Host names the proxy answers to besides loopback names and addresses and its bind
    /// address (`--allowed-host`, for containers and LAN use; `*` allows any). A request whose
    /// `Host` is none of these gets 403: that is what stops DNS-rebinding web pages.
    pub allowed_hosts: Vec<String>,
    /// The workspace whose `instances/<port>.key` this proxy writes once bound, so `wrap` can
    /// tell it from a program squatting the port (see [`crate::identity`]); `None` writes none.
    pub workspace: Option<std::path::PathBuf>,
    /// The instance secret to prove (a container gets the host's from
    /// `HEADROOM_INSTANCE_SECRET`); `None` draws a fresh one.
    pub instance_secret: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".to_owned(),
            port: DEFAULT_PORT,
            anthropic_url: DEFAULT_ANTHROPIC_URL.to_owned(),
            openai_url: DEFAULT_OPENAI_URL.to_owned(),
            chatgpt_url: DEFAULT_CHATGPT_URL.to_owned(),
            optimize: true,
            mode: Mode::Token,
            exact_tokens: false,
            check_upstream: false,
            deployment: None,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(600),
            max_body_bytes: 100 * 1024 * 1024,
            body_read_timeout: Duration::from_secs(60),
            body_budget_bytes: 64 * 1024 * 1024,
            max_connections: 8192,
            ledger_dir: None,
            allowed_hosts: Vec::new(),
            workspace: None,
            instance_secret: None,
        }
    }
}

/// A parsed upstream base: scheme + authority + optional path prefix, without a trailing `/v1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Base {
    /// e.g. `https://api.anthropic.com` or `http://127.0.0.1:9000/prefix`.
    pub(crate) url: String,
}

impl Base {
    pub(crate) fn parse(raw: &str, what: &str) -> Result<Base, crate::Error> {
        let trimmed = raw.trim().trim_end_matches('/');
        let trimmed = trimmed.strip_suffix("/v1").unwrap_or(trimmed);
        let uri: http::Uri = trimmed.parse().map_err(|_| {
            crate::Error::InvalidConfig(format!("{what} `{}` is not a URL", redact(raw)))
        })?;
        match uri.scheme_str() {
            Some("http") | Some("https") => {}
            _ => {
                return Err(crate::Error::InvalidConfig(format!(
                    "{what} `{}` must start with http:// or https://",
                    redact(raw)
                )))
            }
        }
        if uri.authority().is_none() {
            return Err(crate::Error::InvalidConfig(format!(
                "{what} `{}` has no host",
                redact(raw)
            )));
        }
        Ok(Base {
            url: trimmed.to_owned(),
        })
    }

    /// `base + path_and_query` where `path_and_query` starts with `/`.
    pub(crate) fn join(&self, path_and_query: &str) -> String {
        format!("{}{}", self.url, path_and_query)
    }

    /// The URL as it may be shown (`/health`, logs, errors): any `user:password@` replaced.
    pub(crate) fn shown(&self) -> String {
        redact(&self.url)
    }
}

pub(crate) use headroom_protocol::redact_url as redact;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_strips_trailing_slash_and_v1() {
        assert_eq!(
            Base::parse("https://api.openai.com/v1/", "x").unwrap().url,
            "https://api.openai.com"
        );
        assert_eq!(
            Base::parse("http://127.0.0.1:9/p", "x")
                .unwrap()
                .join("/v1/messages?a=1"),
            "http://127.0.0.1:9/p/v1/messages?a=1"
        );
        assert!(Base::parse("ftp://x", "x").is_err());
        assert!(Base::parse("not a url", "x").is_err());
    }

    #[test]
    fn mode_parses() {
        assert_eq!("Cache".parse::<Mode>().unwrap(), Mode::Cache);
        assert!("fast".parse::<Mode>().is_err());
    }
}
