//! "Who is on this port?" — the one answer `wrap`, the desktop app and the install engine
//! share. Only a `/health` document whose `service` is `headroom-proxy` counts as Headroom (an
//! open port alone proves nothing), and since such a document is easy to forge, the probe
//! sends a nonce and checks the answer against the port's instance key ([`crate::identity`]).

use std::time::Duration;

use crate::http::{self, GetError, Response};
use crate::identity::{self, InstanceKey};
use crate::Health;

/// What answers on `127.0.0.1:<port>`.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Nothing listens.
    Free,
    /// A Headroom proxy: its `/health`, and what it proved.
    Headroom(Box<Health>, Proof),
    /// Something else answered; the text says what we saw.
    Foreign(String),
    /// It accepted the connection but never answered (a hung or stopped process).
    Unresponsive(String),
}

/// What a Headroom-looking listener proved about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// It answered the nonce with the secret of the port's live key file.
    Valid,
    /// There is a live key for the port and the listener could not answer with its secret: not
    /// the proxy that wrote it. Never hand it a tool.
    Invalid,
    /// No live key was given (a container or system-wide deployment, another workspace, or a
    /// Headroom too old to write one).
    NoKey,
}

/// Ask `127.0.0.1:port` for `/health` with a fresh nonce, and check the answer against `key`
/// (the port's live instance key), read only once the answer is in: a proxy that has just bound
/// its port writes its key before it answers anyone, so reading it earlier could miss it.
/// `user_agent` names the asking component.
pub fn probe(
    port: u16,
    timeout: Duration,
    user_agent: &str,
    key: impl FnOnce() -> Option<InstanceKey>,
) -> Probe {
    let nonce = nonce();
    let answer = http::get_with(
        "127.0.0.1",
        port,
        "/health",
        user_agent,
        &[(identity::CHALLENGE_HEADER, &nonce)],
        timeout,
    );
    let expected = match &answer {
        Ok(_) => key().map(|k| identity::proof(&k.secret, &nonce)),
        Err(_) => None,
    };
    match answer {
        Ok(r) => classify(Some(r), expected.as_deref()),
        Err(GetError::Refused) => Probe::Free,
        Err(GetError::NotHttp) => classify(None, None),
        Err(GetError::Failed(why)) => {
            Probe::Unresponsive(format!("it did not answer GET /health ({why})"))
        }
    }
}

/// A nonce no listener can have seen before: the clock, the process and a counter, hashed.
fn nonce() -> String {
    use sha2::{Digest, Sha256};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let seed = format!(
        "{now}:{}:{}:{:p}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        &COUNTER
    );
    hex::encode(&Sha256::digest(seed.as_bytes())[..16])
}

/// Classify an answer (or its absence) to `GET /health`.
pub fn classify(answer: Option<Response>, expected: Option<&str>) -> Probe {
    let Some(r) = answer else {
        return Probe::Foreign("it did not answer with HTTP".to_owned());
    };
    match Health::parse(&r.body).filter(|h| h.is_headroom()) {
        Some(h) => {
            let proof = match expected {
                None => Proof::NoKey,
                Some(e) if h.proof.as_deref() == Some(e) => Proof::Valid,
                Some(_) => Proof::Invalid,
            };
            Probe::Headroom(Box::new(h), proof)
        }
        None => Probe::Foreign(format!("GET /health answered `{}`", r.status_line)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_raw(raw: &[u8], expected: Option<&str>) -> Probe {
        classify(http::parse(raw), expected)
    }

    #[test]
    fn classifies_headroom_and_foreign_answers() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 90\r\n\r\n{\"service\":\"headroom-proxy\",\"ready\":true,\"version\":\"0.1.0\",\"deployment\":null,\"proof\":\"ab\"}";
        match classify_raw(ok, None) {
            Probe::Headroom(h, Proof::NoKey) => assert!(h.ready && h.version == "0.1.0"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify_raw(ok, Some("ab")),
            Probe::Headroom(_, Proof::Valid)
        ));
        assert!(matches!(
            classify_raw(ok, Some("cd")),
            Probe::Headroom(_, Proof::Invalid)
        ));
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1c\r\n{\"service\":\"headroom-proxy\",\r\n2e\r\n\"ready\":false,\"deployment\":{\"profile\":\"work\"}}\r\n0\r\n\r\n";
        match classify_raw(chunked, None) {
            Probe::Headroom(h, _) => {
                assert!(!h.ready);
                assert_eq!(h.deployment.unwrap().profile.as_deref(), Some("work"));
            }
            other => panic!("{other:?}"),
        }
        let nginx = b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found";
        assert!(matches!(classify_raw(nginx, None), Probe::Foreign(m) if m.contains("404")));
        assert!(matches!(
            classify_raw(b"SSH-2.0-OpenSSH\r\n", None),
            Probe::Foreign(_)
        ));
        assert_ne!(nonce(), nonce());
    }

    #[test]
    fn a_free_port_is_free_and_a_silent_one_unresponsive() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        assert_eq!(
            probe(port, Duration::from_millis(500), "t", || None),
            Probe::Free
        );
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        assert!(matches!(
            probe(port, Duration::from_millis(300), "t", || None),
            Probe::Unresponsive(_)
        ));
    }
}
