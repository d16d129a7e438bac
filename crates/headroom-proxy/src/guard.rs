//! Who may use the proxy at all, decided before any route runs.
//!
//! The proxy listens on loopback and has no authentication of its own, so the threat is a web
//! page in the user's browser: with DNS rebinding (`evil.example` resolving to 127.0.0.1) it can
//! send requests to the proxy, forward through it with the user's machine as the origin, and
//! read the answers; with plain cross-site requests it can poke admin routes. Browsers always
//! send the page's name as `Host` and, for cross-site requests, an `Origin`; coding tools send
//! neither a foreign `Host` nor an `Origin`. So every request must name this machine in `Host`
//! (loopback names and addresses, the bind address, or hosts the user allowed for container
//! and LAN use) and must not come from a foreign `Origin`. CORS preflights are answered here —
//! never forwarded to the provider — and grant nothing.

use std::net::IpAddr;

use http::header::{HOST, ORIGIN};
use http::{HeaderMap, Method, Response, StatusCode};

use crate::reply;
use crate::route::{anthropic_auth, Provider};
use crate::upstream::Body;

/// The hosts a proxy answers to besides loopback: the bind address (when it is a specific
/// one) and the user's `--allowed-host` list, lower-cased, without ports.
#[derive(Debug, Clone, Default)]
pub(crate) struct Allowed {
    hosts: Vec<String>,
    any: bool,
}

impl Allowed {
    pub(crate) fn new(bind: &str, extra: &[String]) -> Allowed {
        let mut hosts: Vec<String> = extra
            .iter()
            .map(|h| {
                h.trim()
                    .trim_matches(|c| c == '[' || c == ']')
                    .to_ascii_lowercase()
            })
            .filter(|h| !h.is_empty())
            .collect();
        let any = hosts.iter().any(|h| h == "*");
        let bind = bind
            .trim_matches(|c| c == '[' || c == ']')
            .to_ascii_lowercase();
        let unspecified = bind.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
        if !bind.is_empty() && !unspecified {
            hosts.push(bind);
        }
        Allowed { hosts, any }
    }

    fn permits(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.any || is_loopback_name(&name) || self.hosts.contains(&name)
    }
}

fn is_loopback_name(name: &str) -> bool {
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| match ip {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(v6) => {
                v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        })
}

/// The host name of a `Host` header value or of an origin's authority (no port, no brackets).
fn host_name(authority: &str) -> &str {
    let a = authority.trim();
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match a.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => a,
    }
}

/// Origins a local tool may legitimately send: this machine's pages and the desktop app's own
/// web view (`tauri://localhost`, `http(s)://tauri.localhost`).
fn origin_permitted(origin: &str, allowed: &Allowed) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        // `null` (sandboxed iframes, `file:`) and anything unparsable: foreign.
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let name = host_name(authority);
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" | "tauri" => allowed.permits(name),
        _ => false,
    }
}

fn provider_of(headers: &HeaderMap) -> Provider {
    if anthropic_auth(headers) {
        Provider::Anthropic
    } else {
        Provider::OpenAi
    }
}

/// `Some(answer)` when the request must not reach any route.
pub(crate) fn refuse(
    method: &Method,
    headers: &HeaderMap,
    allowed: &Allowed,
) -> Option<Response<Body>> {
    let provider = provider_of(headers);
    if let Some(host) = headers.get(HOST) {
        let ok = host.to_str().is_ok_and(|h| allowed.permits(host_name(h)));
        if !ok {
            return Some(reply::error(
                provider,
                StatusCode::FORBIDDEN,
                "Headroom proxy: this Host is not allowed (the proxy answers to localhost and loopback addresses; add others with --allowed-host or HEADROOM_ALLOWED_HOSTS)",
            ));
        }
    }
    if let Some(origin) = headers.get(ORIGIN) {
        if !origin.to_str().is_ok_and(|o| origin_permitted(o, allowed)) {
            return Some(reply::error(
                provider,
                StatusCode::FORBIDDEN,
                "Headroom proxy: requests from web pages of other sites are refused",
            ));
        }
    }
    // A CORS preflight from an allowed origin: answered here, granting nothing beyond what the
    // same origin may do anyway. It never reaches the provider.
    if method == Method::OPTIONS && headers.contains_key("access-control-request-method") {
        let mut resp = Response::new(reply::empty());
        *resp.status_mut() = StatusCode::NO_CONTENT;
        return Some(resp);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn loopback_hosts_pass_foreign_ones_do_not() {
        let a = Allowed::new("127.0.0.1", &[]);
        for host in [
            "127.0.0.1:8787",
            "localhost:8787",
            "LOCALHOST",
            "[::1]:8787",
            "app.localhost",
            "127.5.6.7",
        ] {
            assert!(
                refuse(&Method::POST, &headers(&[("host", host)]), &a).is_none(),
                "{host}"
            );
        }
        for host in [
            "evil.example:8787",
            "evil.example",
            "192.168.1.5:8787",
            "localhost.evil.example",
            "[::2]:8787",
        ] {
            let r = refuse(&Method::POST, &headers(&[("host", host)]), &a).unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{host}");
        }
        // No Host at all (HTTP/1.0 tools): nothing to judge, allowed.
        assert!(refuse(&Method::GET, &HeaderMap::new(), &a).is_none());
    }

    #[test]
    fn allowed_hosts_and_the_bind_address_extend_the_list() {
        let a = Allowed::new("0.0.0.0", &["headroom".into(), " Proxy.Internal ".into()]);
        assert!(refuse(&Method::GET, &headers(&[("host", "headroom:8787")]), &a).is_none());
        assert!(refuse(&Method::GET, &headers(&[("host", "proxy.internal")]), &a).is_none());
        assert!(refuse(&Method::GET, &headers(&[("host", "0.0.0.0:8787")]), &a).is_some());
        let lan = Allowed::new("192.168.1.5", &[]);
        assert!(refuse(
            &Method::GET,
            &headers(&[("host", "192.168.1.5:8787")]),
            &lan
        )
        .is_none());
        let any = Allowed::new("127.0.0.1", &["*".into()]);
        assert!(refuse(&Method::GET, &headers(&[("host", "whatever")]), &any).is_none());
    }

    #[test]
    fn foreign_origins_are_refused_and_preflights_answered_here() {
        let a = Allowed::new("127.0.0.1", &[]);
        let h = |origin: &str| headers(&[("host", "127.0.0.1:8787"), ("origin", origin)]);
        for o in [
            "https://evil.example",
            "null",
            "http://127.0.0.1.evil.example",
            "file://",
        ] {
            assert_eq!(
                refuse(&Method::POST, &h(o), &a).unwrap().status(),
                StatusCode::FORBIDDEN,
                "{o}"
            );
        }
        for o in [
            "http://localhost:3000",
            "http://127.0.0.1:8787",
            "tauri://localhost",
            "http://tauri.localhost",
        ] {
            assert!(refuse(&Method::POST, &h(o), &a).is_none(), "{o}");
        }
        let mut pre = h("http://localhost:3000");
        pre.insert(
            "access-control-request-method",
            HeaderValue::from_static("POST"),
        );
        let r = refuse(&Method::OPTIONS, &pre, &a).unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert!(r.headers().get("access-control-allow-origin").is_none());
    }
}
