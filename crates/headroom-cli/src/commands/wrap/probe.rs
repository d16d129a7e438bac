//! Who holds the port? `GET /health` on loopback.
//!
//! `wrap` runs before every tool start, so it uses the tiny blocking client
//! (`headroom_install::http`) instead of an async runtime: one connect, one request, one read.
//! Only a JSON body whose `service` is `headroom-proxy` counts
//! as Headroom; any other listener is foreign and never reused (an open port alone proves
//! nothing). And since such a body is easy to forge, the probe also sends a nonce and checks
//! the proxy's answer against the instance key the proxy wrote for this port
//! (`headroom_proxy::identity`): see [`Proof`].

use std::time::Duration;

use headroom_install::http::{self, GetError, Response};

/// What answers on `127.0.0.1:<port>`.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Nothing listens.
    Free,
    /// A Headroom proxy.
    Headroom(Health),
    /// Something else; the text says what we saw.
    Foreign(String),
    /// It accepted the connection but never answered (a hung or stopped process); the text
    /// says how it failed.
    Unresponsive(String),
}

/// The parts of `/health` that `wrap` uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub ready: bool,
    pub version: Option<String>,
    /// `deployment.profile` when an install deployment or the desktop app runs it.
    pub deployment: Option<String>,
    /// Where it forwards (credentials redacted); absent from proxies that do not publish it.
    pub upstreams: Option<headroom_protocol::Upstreams>,
    /// Whether it proved it holds the secret in this port's instance key.
    pub proof: Proof,
}

/// What the listener proved about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// It answered the nonce with the secret of this port's live key file: the proxy we know.
    Valid,
    /// A live key file exists for this port, and the listener could not answer with its secret:
    /// not the proxy that wrote it. Never hand it a tool.
    Invalid,
    /// There is no live key for this port (a container or system-wide deployment, whose key is
    /// not in this user's workspace, or a proxy started with another workspace).
    NoKey,
}

pub fn probe(port: u16, timeout: Duration) -> Probe {
    let key = headroom_proxy::workspace_from_env()
        .and_then(|w| headroom_proxy::identity::read_key(&w, port))
        // A key whose writer is gone was left by a killed proxy: it proves nothing.
        .filter(|k| k.pid == 0 || headroom_install::sys::pid_alive(k.pid));
    let nonce = headroom_proxy::identity::new_secret();
    let answer = http::get_with(
        "127.0.0.1",
        port,
        "/health",
        "headroom-wrap",
        &[(headroom_proxy::identity::CHALLENGE_HEADER, &nonce)],
        timeout,
    );
    let expected = key.map(|k| headroom_proxy::identity::proof(&k.secret, &nonce));
    match answer {
        Ok(r) => classify_response(Some(r), expected.as_deref()),
        Err(GetError::Refused) => Probe::Free,
        Err(GetError::NotHttp) => classify_response(None, None),
        Err(GetError::Failed(why)) => {
            Probe::Unresponsive(format!("it did not answer GET /health ({why})"))
        }
    }
}

#[cfg(test)]
fn classify(raw: &[u8]) -> Probe {
    classify_response(http::parse(raw), None)
}

fn classify_response(answer: Option<Response>, expected: Option<&str>) -> Probe {
    let Some(r) = answer else {
        return Probe::Foreign("it did not answer with HTTP".to_owned());
    };
    match headroom_protocol::Health::parse(&r.body).filter(|h| h.is_headroom()) {
        Some(h) => Probe::Headroom(Health {
            proof: match expected {
                None => Proof::NoKey,
                Some(e) if h.proof.as_deref() == Some(e) => Proof::Valid,
                Some(_) => Proof::Invalid,
            },
            ready: h.ready,
            version: Some(h.version).filter(|v| !v.is_empty()),
            deployment: h.deployment.and_then(|d| d.profile),
            upstreams: h.config.map(|c| c.upstreams),
        }),
        _ => Probe::Foreign(format!("GET /health answered `{}`", r.status_line)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_headroom_and_foreign_answers() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 77\r\n\r\n{\"service\":\"headroom-proxy\",\"ready\":true,\"version\":\"0.1.0\",\"deployment\":null}";
        assert_eq!(
            classify(ok),
            Probe::Headroom(Health {
                ready: true,
                version: Some("0.1.0".into()),
                deployment: None,
                upstreams: None,
                proof: Proof::NoKey
            })
        );
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1c\r\n{\"service\":\"headroom-proxy\",\r\n2e\r\n\"ready\":false,\"deployment\":{\"profile\":\"work\"}}\r\n0\r\n\r\n";
        assert_eq!(
            classify(chunked),
            Probe::Headroom(Health {
                ready: false,
                version: None,
                deployment: Some("work".into()),
                upstreams: None,
                proof: Proof::NoKey
            })
        );
        let nginx = b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found";
        assert!(matches!(classify(nginx), Probe::Foreign(m) if m.contains("404")));
        assert!(matches!(
            classify(b"SSH-2.0-OpenSSH\r\n"),
            Probe::Foreign(_)
        ));
    }

    #[test]
    fn a_free_port_is_free() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        assert_eq!(probe(port, Duration::from_millis(500)), Probe::Free);
    }
}
