//! Who holds the port? A tiny blocking HTTP/1.1 client for `GET /health` on loopback.
//!
//! `wrap` runs before every tool start, so it avoids an async runtime and a full HTTP client:
//! one connect, one request, one read. Only a JSON body whose `service` is `headroom-proxy` counts
//! as Headroom; any other listener is foreign and never reused (an open port alone proves
//! nothing).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// What answers on `127.0.0.1:<port>`.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Nothing listens.
    Free,
    /// A Headroom proxy.
    Headroom(Health),
    /// Something else; the text says what we saw.
    Foreign(String),
}

/// The parts of `/health` that `wrap` uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub ready: bool,
    pub version: Option<String>,
    /// `deployment.profile` when an install deployment or the desktop app runs it.
    pub deployment: Option<String>,
}

const SERVICE: &str = "headroom-proxy";

pub fn probe(port: u16, timeout: Duration) -> Probe {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = match TcpStream::connect_timeout(&addr, timeout) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Probe::Free,
        Err(e) => return Probe::Foreign(format!("connecting failed: {e}")),
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let request = format!(
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\nUser-Agent: headroom-wrap\r\nConnection: close\r\n\r\n"
    );
    if let Err(e) = stream.write_all(request.as_bytes()) {
        return Probe::Foreign(format!("it did not accept an HTTP request ({e})"));
    }
    let mut raw = Vec::new();
    match read_response(&mut stream, &mut raw) {
        Ok(()) => {}
        Err(e) if raw.is_empty() => {
            return Probe::Foreign(format!("it did not answer GET /health ({e})"))
        }
        Err(_) => {}
    }
    classify(&raw)
}

/// Read until the connection closes or a complete `Content-Length` body arrived (some servers
/// keep the connection open despite `Connection: close`).
fn read_response(stream: &mut TcpStream, raw: &mut Vec<u8>) -> std::io::Result<()> {
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > 1 << 20 {
            return Ok(());
        }
        if let Some((head_len, Some(len))) = head_and_length(raw) {
            if raw.len() >= head_len + len {
                return Ok(());
            }
        }
    }
}

fn head_and_length(raw: &[u8]) -> Option<(usize, Option<usize>)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&raw[..end]);
    let len = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    });
    Some((end, len))
}

fn classify(raw: &[u8]) -> Probe {
    let Some((head_len, _)) = head_and_length(raw) else {
        return Probe::Foreign("it did not answer with HTTP".to_owned());
    };
    let head = String::from_utf8_lossy(&raw[..head_len]);
    let status_line = head.lines().next().unwrap_or_default().to_owned();
    let chunked = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(n, v)| {
            n.trim().eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")
        })
    });
    let body = if chunked {
        dechunk(&raw[head_len..])
    } else {
        raw[head_len..].to_vec()
    };
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    match json {
        Some(v) if v.get("service").and_then(|s| s.as_str()) == Some(SERVICE) => {
            Probe::Headroom(Health {
                ready: v.get("ready").and_then(|r| r.as_bool()).unwrap_or(true),
                version: v.get("version").and_then(|s| s.as_str()).map(str::to_owned),
                deployment: v
                    .get("deployment")
                    .and_then(|d| d.get("profile"))
                    .and_then(|p| p.as_str())
                    .map(str::to_owned),
            })
        }
        _ => Probe::Foreign(format!("GET /health answered `{}`", status_line.trim())),
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = body.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..pos]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            break;
        };
        body = &body[pos + 2..];
        if size == 0 || body.len() < size {
            out.extend_from_slice(&body[..size.min(body.len())]);
            break;
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or_default();
    }
    out
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
                deployment: None
            })
        );
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1c\r\n{\"service\":\"headroom-proxy\",\r\n2e\r\n\"ready\":false,\"deployment\":{\"profile\":\"work\"}}\r\n0\r\n\r\n";
        assert_eq!(
            classify(chunked),
            Probe::Headroom(Health {
                ready: false,
                version: None,
                deployment: Some("work".into())
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
