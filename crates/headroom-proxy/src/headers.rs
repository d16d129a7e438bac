//! Header rules shared by both directions: what is hop-by-hop (RFC 9110 §7.6.1), what is ours
//! (`x-headroom-*`, consumed here and never sent upstream), and what counts as a loopback caller.
//!
//! Credentials (`x-api-key`, `authorization`, OAuth bearers) are end-to-end headers, so they pass
//! through untouched; nothing in this module ever formats a header value into a log line.

use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE, HOST};

/// Connection-scoped headers a proxy must not forward, whatever the direction.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

/// Remove hop-by-hop headers, including every header the `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

/// Headroom's own request headers, read once and then removed before forwarding.
#[derive(Debug, Default, Clone)]
pub(crate) struct Internal {
    /// `x-headroom-bypass: true` or `x-headroom-mode: passthrough`.
    pub(crate) bypass: bool,
    /// `x-headroom-base-url`: per-request upstream override.
    pub(crate) base_url: Option<String>,
}

/// Read and remove every `x-headroom-*` header.
pub(crate) fn take_internal(headers: &mut HeaderMap) -> Internal {
    let mut internal = Internal::default();
    let ours: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("x-headroom-"))
        .cloned()
        .collect();
    for name in ours {
        let value = headers
            .get(&name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned());
        match (name.as_str(), value) {
            ("x-headroom-bypass", Some(v)) => {
                internal.bypass |= matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes")
            }
            ("x-headroom-mode", Some(v)) => {
                internal.bypass |= v.eq_ignore_ascii_case("passthrough")
            }
            ("x-headroom-base-url", Some(v)) if !v.is_empty() => internal.base_url = Some(v),
            _ => {}
        }
        headers.remove(&name);
    }
    internal
}

/// True when the request is a protocol upgrade (`Connection: upgrade` + `Upgrade: ...`).
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    let connection_upgrade = headers.get_all(CONNECTION).iter().any(|v| {
        v.to_str()
            .map(|s| {
                s.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
            .unwrap_or(false)
    });
    connection_upgrade && headers.contains_key(http::header::UPGRADE)
}

/// True when the response is a server-sent event stream (`Content-Type: text/event-stream`).
pub(crate) fn is_sse(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
        })
}

/// Put back the two headers an upgrade needs after [`strip_hop_by_hop`] removed them.
pub(crate) fn restore_upgrade(headers: &mut HeaderMap, upgrade: Option<HeaderValue>) {
    if let Some(value) = upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(http::header::UPGRADE, value);
    }
}

/// A `Host` header naming this machine (`localhost`, `127.x.y.z`, `[::1]`, any port).
/// A missing `Host` is not foreign: browsers (the DNS-rebinding threat) always send one.
pub(crate) fn host_is_loopback(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(HOST) else {
        return true;
    };
    let Ok(host) = value.to_str() else {
        return false;
    };
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host
            }
        })
    };
    if name.eq_ignore_ascii_case("localhost") || name.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Peer address is loopback (IPv4-mapped IPv6 included).
pub(crate) fn peer_is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_go() {
        let mut h = map(&[
            ("connection", "keep-alive, x-secret-hop"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("x-api-key", "sk-ant-123"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-api-key"], "sk-ant-123");
    }

    #[test]
    fn internal_headers_are_read_and_removed() {
        let mut h = map(&[
            ("x-headroom-bypass", "TRUE"),
            ("x-headroom-base-url", "http://127.0.0.1:1"),
            ("x-headroom-tag-team", "a"),
            ("authorization", "Bearer t"),
        ]);
        let i = take_internal(&mut h);
        assert!(i.bypass);
        assert_eq!(i.base_url.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(h.len(), 1);
        let mut h = map(&[("x-headroom-mode", "passthrough")]);
        assert!(take_internal(&mut h).bypass);
    }

    #[test]
    fn loopback_host_names() {
        for ok in [
            "localhost",
            "localhost:8787",
            "127.0.0.1:1",
            "[::1]:8787",
            "[::1]",
            "127.9.9.9",
        ] {
            assert!(host_is_loopback(&map(&[("host", ok)])), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8787",
            "10.0.0.1",
            "localhost.evil.com",
            "[::2]",
        ] {
            assert!(!host_is_loopback(&map(&[("host", bad)])), "{bad}");
        }
        assert!(host_is_loopback(&HeaderMap::new()));
    }

    #[test]
    fn upgrade_detection() {
        assert!(is_upgrade(&map(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket")
        ])));
        assert!(!is_upgrade(&map(&[("upgrade", "websocket")])));
    }
}
