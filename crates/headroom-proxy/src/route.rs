//! Which upstream a request goes to, decided from its path and headers only (never the body),
//! so the decision is cheap and identical for streaming and buffered requests.

use http::{HeaderMap, HeaderValue, Method};

use crate::config::Base;

/// The provider family a request belongs to: decides the error body shape and the stats bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Anthropic,
    OpenAi,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
        }
    }
}

/// The upstream bases one proxy instance knows.
#[derive(Debug, Clone)]
pub(crate) struct Upstreams {
    pub(crate) anthropic: Base,
    pub(crate) openai: Base,
    pub(crate) chatgpt: Base,
}

impl Upstreams {
    /// Is `base` one of these?
    pub(crate) fn contains(&self, base: &Base) -> bool {
        [&self.anthropic, &self.openai, &self.chatgpt]
            .iter()
            .any(|b| b.url == base.url)
    }
}

/// The routing decision for one request.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) provider: Provider,
    /// Full upstream URL (scheme, authority, path, query).
    pub(crate) url: String,
    /// Set for the three LLM routes when the method is POST: the body may be compressed.
    pub(crate) api: Option<headroom_compress::Api>,
    /// Short route label for logs and stats (`messages`, `chat`, `responses`, ...).
    pub(crate) label: &'static str,
    /// A header to add upstream (ChatGPT account id derived from the bearer JWT).
    pub(crate) add_account_id: Option<HeaderValue>,
}

/// Paths Codex uses for the Responses API; all are served by the same upstream endpoint.
const RESPONSES_PATHS: &[&str] = &[
    "/v1/responses",
    "/v1/codex/responses",
    "/backend-api/codex/responses",
    "/backend-api/responses",
];

/// Decide where a request goes. `base_override` is the `x-headroom-base-url` header, already
/// parsed.
pub(crate) fn select(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    upstreams: &Upstreams,
    base_override: Option<&Base>,
) -> Target {
    let q = query.map(|q| format!("?{q}")).unwrap_or_default();
    let with_query = |p: &str| format!("{p}{q}");
    let is_post = method == Method::POST;
    let chatgpt = chatgpt_account(headers);
    let add_account_id = chatgpt.as_ref().and_then(|(id, derived)| {
        if *derived {
            HeaderValue::from_str(id).ok()
        } else {
            None
        }
    });

    if path == "/v1/messages" || path.starts_with("/v1/messages/") {
        let (api, label) = if path == "/v1/messages" && is_post {
            (Some(headroom_compress::Api::AnthropicMessages), "messages")
        } else if path == "/v1/messages/count_tokens" {
            (None, "count_tokens")
        } else {
            (None, "messages_other")
        };
        return Target {
            provider: Provider::Anthropic,
            url: upstreams.anthropic.join(&with_query(path)),
            api,
            label,
            add_account_id: None,
        };
    }

    if path == "/v1/chat/completions" {
        let base = base_override.unwrap_or(&upstreams.openai);
        return Target {
            provider: Provider::OpenAi,
            url: base.join(&with_query(path)),
            api: is_post.then_some(headroom_compress::Api::OpenAiChat),
            label: "chat",
            add_account_id: None,
        };
    }

    if RESPONSES_PATHS.contains(&path) {
        let url = match (base_override, &chatgpt) {
            (Some(base), _) => base.join(&with_query("/v1/responses")),
            (None, Some(_)) => upstreams
                .chatgpt
                .join(&with_query("/backend-api/codex/responses")),
            (None, None) => upstreams.openai.join(&with_query("/v1/responses")),
        };
        return Target {
            provider: Provider::OpenAi,
            url,
            api: is_post.then_some(headroom_compress::Api::OpenAiResponses),
            label: "responses",
            add_account_id,
        };
    }

    if path == "/v1/models" || path.starts_with("/v1/models/") {
        let (provider, url) = if let Some(base) = base_override {
            (Provider::OpenAi, base.join(&with_query(path)))
        } else if chatgpt.is_some() {
            let rest = &path["/v1/models".len()..];
            (
                Provider::OpenAi,
                upstreams
                    .chatgpt
                    .join(&with_query(&format!("/backend-api/codex/models{rest}"))),
            )
        } else if anthropic_auth(headers) {
            (
                Provider::Anthropic,
                upstreams.anthropic.join(&with_query(path)),
            )
        } else {
            (Provider::OpenAi, upstreams.openai.join(&with_query(path)))
        };
        return Target {
            provider,
            url,
            api: None,
            label: "models",
            add_account_id,
        };
    }

    // Catch-all: the explicit override wins, then ChatGPT auth (covers Codex `/backend-api/*`),
    // then whichever provider the credentials belong to, then the client's runtime: Claude
    // Code's connectivity preflight is a bare `HEAD /` from its Bun runtime with no Anthropic
    // header, and belongs to the Anthropic upstream (with a company gateway configured there,
    // the OpenAI upstream may not even be reachable).
    let (provider, base) = if let Some(base) = base_override {
        (family(headers), base)
    } else if chatgpt.is_some() {
        (Provider::OpenAi, &upstreams.chatgpt)
    } else if anthropic_auth(headers) || claude_preflight(headers) {
        (Provider::Anthropic, &upstreams.anthropic)
    } else {
        (Provider::OpenAi, &upstreams.openai)
    };
    Target {
        provider,
        url: base.join(&with_query(path)),
        api: None,
        label: "passthrough",
        add_account_id,
    }
}

fn family(headers: &HeaderMap) -> Provider {
    if anthropic_auth(headers) {
        Provider::Anthropic
    } else {
        Provider::OpenAi
    }
}

/// The request carries Anthropic credentials or Anthropic-only headers.
pub(crate) fn anthropic_auth(headers: &HeaderMap) -> bool {
    if headers.contains_key("x-api-key") || headers.contains_key("anthropic-version") {
        return true;
    }
    if bearer(headers).is_some_and(|t| t.starts_with("sk-ant-")) {
        return true;
    }
    headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.to_ascii_lowercase())
        .is_some_and(|ua| ua.contains("claude-code/") || ua.contains("claude-cli/"))
}

/// A request with no credentials at all from Claude Code's runtime (`Bun/…` user agent).
fn claude_preflight(headers: &HeaderMap) -> bool {
    !headers.contains_key(http::header::AUTHORIZATION)
        && headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ua| ua.starts_with("Bun/"))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// ChatGPT (Codex subscription) auth: an explicit `chatgpt-account-id` header (`derived=false`)
/// or a bearer JWT carrying the account id claim (`derived=true`; the proxy then adds the header,
/// as the ChatGPT backend expects it). The JWT is decoded, never verified: it only picks a route.
pub(crate) fn chatgpt_account(headers: &HeaderMap) -> Option<(String, bool)> {
    if let Some(v) = headers
        .get("chatgpt-account-id")
        .and_then(|v| v.to_str().ok())
    {
        return Some((v.to_owned(), false));
    }
    let token = bearer(headers)?;
    let mut parts = token.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = base64url_decode(payload)?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let id = claims
        .get("https://api.openai.com/auth")?
        .get("chatgpt_account_id")?
        .as_str()?;
    Some((id.to_owned(), true))
}

fn base64url_decode(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in input.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ups() -> Upstreams {
        Upstreams {
            anthropic: Base::parse("http://a.test", "a").unwrap(),
            openai: Base::parse("http://o.test", "o").unwrap(),
            chatgpt: Base::parse("http://c.test", "c").unwrap(),
        }
    }

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    fn jwt(account: &str) -> String {
        // base64url of {"https://api.openai.com/auth":{"chatgpt_account_id":"<account>"}}
        let payload =
            format!(r#"{{"https://api.openai.com/auth":{{"chatgpt_account_id":"{account}"}}}}"#);
        const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut s = String::new();
        for chunk in payload.as_bytes().chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                s.push(ALPHA[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        format!("eyJhbGciOiJub25lIn0.{s}.sig")
    }

    #[test]
    fn llm_routes() {
        let t = select(
            &Method::POST,
            "/v1/messages",
            Some("beta=true"),
            &h(&[]),
            &ups(),
            None,
        );
        assert_eq!(t.url, "http://a.test/v1/messages?beta=true");
        assert_eq!(t.api, Some(headroom_compress::Api::AnthropicMessages));
        let t = select(
            &Method::POST,
            "/v1/messages/count_tokens",
            None,
            &h(&[]),
            &ups(),
            None,
        );
        assert_eq!(
            (t.url.as_str(), t.api),
            ("http://a.test/v1/messages/count_tokens", None)
        );
        let t = select(
            &Method::POST,
            "/v1/chat/completions",
            None,
            &h(&[]),
            &ups(),
            None,
        );
        assert_eq!(t.url, "http://o.test/v1/chat/completions");
        for p in RESPONSES_PATHS {
            let t = select(&Method::POST, p, None, &h(&[]), &ups(), None);
            assert_eq!(t.url, "http://o.test/v1/responses");
        }
    }

    #[test]
    fn chatgpt_jwt_routes_to_codex_backend_and_adds_account_header() {
        let headers = h(&[("authorization", &format!("Bearer {}", jwt("acc-123")))]);
        assert_eq!(chatgpt_account(&headers), Some(("acc-123".into(), true)));
        let t = select(&Method::POST, "/v1/responses", None, &headers, &ups(), None);
        assert_eq!(t.url, "http://c.test/backend-api/codex/responses");
        assert_eq!(t.add_account_id.unwrap(), "acc-123");
        let t = select(
            &Method::GET,
            "/v1/models",
            Some("client_version=1"),
            &headers,
            &ups(),
            None,
        );
        assert_eq!(
            t.url,
            "http://c.test/backend-api/codex/models?client_version=1"
        );
    }

    #[test]
    fn catch_all_by_credentials() {
        let t = select(
            &Method::GET,
            "/v1/files",
            None,
            &h(&[("x-api-key", "k")]),
            &ups(),
            None,
        );
        assert_eq!(
            (t.provider, t.url.as_str()),
            (Provider::Anthropic, "http://a.test/v1/files")
        );
        let t = select(
            &Method::GET,
            "/v1/models",
            None,
            &h(&[("authorization", "Bearer sk-ant-oat01-x")]),
            &ups(),
            None,
        );
        assert_eq!(t.url, "http://a.test/v1/models");
        let t = select(
            &Method::DELETE,
            "/v1/x",
            None,
            &h(&[("authorization", "Bearer sk-1")]),
            &ups(),
            None,
        );
        assert_eq!(
            (t.provider, t.url.as_str()),
            (Provider::OpenAi, "http://o.test/v1/x")
        );
        let over = Base::parse("http://z.test/v1", "z").unwrap();
        let t = select(
            &Method::POST,
            "/v1/chat/completions",
            None,
            &h(&[]),
            &ups(),
            Some(&over),
        );
        assert_eq!(t.url, "http://z.test/v1/chat/completions");
    }
}
