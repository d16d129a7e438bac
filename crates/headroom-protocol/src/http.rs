//! One tiny blocking HTTP/1.1 `GET` for asking a local Headroom about itself (`/health`,
//! `/readyz`, `/stats`). `headroom health`, `wrap` (before every tool start), the install engine
//! and the desktop app all need it without an async runtime or an HTTP client dependency; one
//! copy means one set of parsing rules: a status line, `Content-Length` or chunked bodies, and a
//! server that keeps the connection open despite `Connection: close`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Largest answer read (a health document is a few hundred bytes).
const MAX_RESPONSE: usize = 1 << 20;

/// A parsed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// `HTTP/1.1 404 Not Found`, for messages.
    pub status_line: String,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Why a `GET` got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError {
    /// Nothing listens there.
    Refused,
    /// Something answered, but not with HTTP.
    NotHttp,
    /// Anything else, said in words (resolve, connect, send, read, time-out).
    Failed(String),
}

impl std::fmt::Display for GetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GetError::Refused => f.write_str("connection refused"),
            GetError::NotHttp => f.write_str("the answer is not HTTP"),
            GetError::Failed(why) => f.write_str(why),
        }
    }
}

/// `GET path` on `host:port`, all of it (resolve, connect, send, read) within `timeout`.
pub fn get(
    host: &str,
    port: u16,
    path: &str,
    user_agent: &str,
    timeout: Duration,
) -> Result<Response, GetError> {
    get_with(host, port, path, user_agent, &[], timeout)
}

/// [`get`] with extra request headers (names and values must be plain ASCII tokens).
pub fn get_with(
    host: &str,
    port: u16,
    path: &str,
    user_agent: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<Response, GetError> {
    let started = Instant::now();
    let timed_out = || GetError::Failed(format!("timed out after {} ms", timeout.as_millis()));
    let remaining = || {
        timeout
            .checked_sub(started.elapsed())
            .filter(|d| !d.is_zero())
            .ok_or_else(timed_out)
    };
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| GetError::Failed(format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut last = GetError::Failed(format!("cannot resolve {host}"));
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, remaining()?) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => last = GetError::Refused,
            Err(e) => last = GetError::Failed(format!("cannot connect: {e}")),
        }
    }
    let mut stream = stream.ok_or(last)?;
    let _ = stream.set_nodelay(true);
    let host_header = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let extra: String = headers
        .iter()
        .filter(|(k, v)| !(k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n'])))
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {user_agent}\r\nAccept: application/json\r\n{extra}Connection: close\r\n\r\n"
    );
    stream
        .set_write_timeout(Some(remaining()?))
        .and_then(|_| stream.write_all(request.as_bytes()))
        .map_err(|e| GetError::Failed(format!("cannot send the request: {e}")))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let wait = match remaining() {
            Ok(w) => w,
            Err(e) if raw.is_empty() => return Err(e),
            Err(_) => break,
        };
        stream
            .set_read_timeout(Some(wait))
            .map_err(|e| GetError::Failed(e.to_string()))?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > MAX_RESPONSE || complete(&raw) {
                    break;
                }
            }
            // What arrived before a stall or a reset may still be a whole answer.
            Err(_) if !raw.is_empty() => break,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out())
            }
            Err(e) => return Err(GetError::Failed(format!("no answer: {e}"))),
        }
    }
    parse(&raw).ok_or(GetError::NotHttp)
}

/// The end of the head and the `Content-Length`, once the head is complete.
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

/// A `Content-Length` body has fully arrived (some servers keep the connection open).
fn complete(raw: &[u8]) -> bool {
    matches!(head_and_length(raw), Some((head, Some(len))) if raw.len() >= head + len)
}

/// Parse a raw answer; `None` when it is not HTTP.
pub fn parse(raw: &[u8]) -> Option<Response> {
    let (head_len, len) = head_and_length(raw)?;
    let head = String::from_utf8_lossy(&raw[..head_len]);
    let status_line = head.lines().next()?.trim().to_owned();
    if !status_line.starts_with("HTTP/") {
        return None;
    }
    let status = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(n, v)| {
            n.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
        })
    });
    let rest = &raw[head_len..];
    let body = if chunked {
        dechunk(rest)
    } else {
        rest[..len.unwrap_or(rest.len()).min(rest.len())].to_vec()
    };
    Some(Response {
        status,
        status_line,
        body,
    })
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
    fn dechunks() {
        assert_eq!(
            dechunk(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            b"hello world"
        );
    }

    #[test]
    fn parses_lengths_chunks_and_refuses_non_http() {
        let r = parse(b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found").unwrap();
        assert_eq!((r.status, r.text().as_str()), (404, "not found"));
        assert_eq!(r.status_line, "HTTP/1.1 404 Not Found");
        let r = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
            .unwrap();
        assert_eq!(r.json(), serde_json::json!({}));
        assert_eq!(parse(b"SSH-2.0-OpenSSH\r\n"), None);
    }

    #[test]
    fn a_free_port_is_refused_and_a_live_one_answers() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        // Answer once, keeping the connection open: the Content-Length ends the read.
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut b = [0u8; 1024];
            let _ = s.read(&mut b);
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
            std::thread::sleep(Duration::from_millis(500));
        });
        let r = get("127.0.0.1", port, "/x", "test", Duration::from_secs(5)).unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "ok"));
        server.join().unwrap();
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert_eq!(
            get("127.0.0.1", free, "/", "test", Duration::from_secs(1)),
            Err(GetError::Refused)
        );
    }
}
