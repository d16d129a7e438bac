//! Asking "who is on the port?" over loopback HTTP.
//!
//! Never two proxies on one port: before hosting, the app checks whether a healthy Headroom
//! already answers there (`/health` with `service == "headroom-proxy"`, not merely an open port)
//! and attaches to it instead — only if it also proves it is the proxy whose instance key this
//! user holds, so a program posing as Headroom never gets the tools (`headroom_protocol::probe`,
//! the same probe `wrap` uses). Its tiny blocking client is enough for loopback GETs and keeps
//! the tray thread free of an async runtime.

use std::time::Duration;

use headroom_protocol::http::{self, GetError};
use headroom_protocol::probe::{self as shared, Proof};
use headroom_protocol::{Health, History, Stats};

pub const SERVICE_NAME: &str = headroom_protocol::SERVICE;

/// What answered on the port.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Nobody listens.
    Free,
    /// Headroom answered `/health`; the parsed document.
    Headroom(Box<Health>),
    /// Something else holds the port (its description for the message).
    Foreign(String),
}

impl Probe {
    pub fn healthy(&self) -> bool {
        match self {
            Probe::Headroom(h) => h.status == "healthy" && h.ready,
            _ => false,
        }
    }
}

/// What to do on start, given what holds the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartDecision {
    /// Start the proxy inside the app.
    Host,
    /// A Headroom already serves the port: use it, start nothing.
    Attach,
    /// A foreign program holds the port: refuse with this message.
    Refuse(String),
}

pub fn decide_start(probe: &Probe, port: u16) -> StartDecision {
    match probe {
        Probe::Free => StartDecision::Host,
        Probe::Headroom(_) => StartDecision::Attach,
        Probe::Foreign(what) => StartDecision::Refuse(format!(
            "port {port} is used by another program ({what}); choose another port in Settings"
        )),
    }
}

/// GET `path` on `127.0.0.1:port`; returns the status code and body.
pub fn get(port: u16, path: &str, timeout: Duration) -> Result<(u16, String), GetError> {
    let r = http::get("127.0.0.1", port, path, "headroom-desktop", timeout)?;
    Ok((r.status, r.text()))
}

/// Who is on the port? A Headroom that fails the instance-key proof counts as foreign.
pub fn probe(port: u16, timeout: Duration) -> Probe {
    let key = || {
        headroom_proxy::workspace_from_env()
            .and_then(|w| headroom_install::health::live_key(&w, port))
    };
    match shared::probe(port, timeout, "headroom-desktop", key) {
        shared::Probe::Free => Probe::Free,
        shared::Probe::Headroom(_, Proof::Invalid) => Probe::Foreign(
            "it answers as Headroom but cannot prove it is the proxy that registered the port"
                .to_owned(),
        ),
        shared::Probe::Headroom(h, _) => Probe::Headroom(h),
        shared::Probe::Foreign(what) | shared::Probe::Unresponsive(what) => Probe::Foreign(what),
    }
}

/// Fetch `/stats` (best effort).
pub fn stats(port: u16, timeout: Duration) -> Option<Stats> {
    let (code, body) = get(port, "/stats", timeout).ok()?;
    (code == 200)
        .then(|| Stats::parse(body.as_bytes()))
        .flatten()
}

/// Fetch `/stats/history?days=N` (best effort; an older proxy has none).
pub fn history(port: u16, days: u16, timeout: Duration) -> Option<History> {
    let (code, body) = get(port, &format!("/stats/history?days={days}"), timeout).ok()?;
    (code == 200)
        .then(|| History::parse(body.as_bytes()))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn serve_once(response: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(response.as_bytes());
            }
        });
        port
    }

    #[test]
    fn free_port_means_host() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let p = probe(port, Duration::from_millis(500));
        assert_eq!(p, Probe::Free);
        assert_eq!(decide_start(&p, port), StartDecision::Host);
    }

    #[test]
    fn healthy_headroom_means_attach() {
        let port = serve_once(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"service\":\"headroom-proxy\",\"status\":\"healthy\",\"ready\":true,\"version\":\"0\",\"uptime_seconds\":1}",
        );
        let p = probe(port, Duration::from_secs(2));
        assert!(p.healthy());
        assert_eq!(decide_start(&p, port), StartDecision::Attach);
    }

    #[test]
    fn chunked_body_is_decoded() {
        let port = serve_once(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5d\r\n{\"service\":\"headroom-proxy\",\"status\":\"healthy\",\"ready\":true,\"version\":\"0\",\"uptime_seconds\":1}\r\n0\r\n\r\n",
        );
        assert!(matches!(
            probe(port, Duration::from_secs(2)),
            Probe::Headroom(_)
        ));
    }

    #[test]
    fn foreign_server_means_refuse_with_a_hint() {
        let port = serve_once("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
        let p = probe(port, Duration::from_secs(2));
        assert!(matches!(p, Probe::Foreign(_)));
        match decide_start(&p, port) {
            StartDecision::Refuse(msg) => assert!(msg.contains("another program"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unhealthy_headroom_is_not_healthy() {
        let h = Health {
            service: SERVICE_NAME.into(),
            status: "unhealthy".into(),
            ..Health::default()
        };
        assert!(!Probe::Headroom(Box::new(h)).healthy());
    }
}
