//! A tiny HTTP/1.1 test client: one fresh TCP connection per request (no pool, so tests never
//! reuse a connection by accident), plus streamed reads and raw bytes.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A fully read response.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics with the body text when it is not JSON: test helper).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text()))
    }
}

/// A response whose body is read chunk by chunk. Dropping it closes the connection.
pub struct StreamingResponse {
    pub status: u16,
    pub headers: HeaderMap,
    body: Incoming,
    conn: tokio::task::JoinHandle<()>,
}

impl StreamingResponse {
    /// The next body chunk; `None` at the end; `Err` when the transfer broke.
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, String>> {
        loop {
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        return Some(Ok(data));
                    }
                }
                Err(e) => return Some(Err(e.to_string())),
            }
        }
    }

    /// Read the rest; returns what arrived and whether the transfer ended cleanly.
    pub async fn read_to_end(&mut self) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        while let Some(chunk) = self.next_chunk().await {
            match chunk {
                Ok(c) => out.extend_from_slice(&c),
                Err(_) => return (out, false),
            }
        }
        (out, true)
    }
}

impl Drop for StreamingResponse {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

/// Send a request and return as soon as response headers arrive.
pub async fn open(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<StreamingResponse, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("bad url {url}: {e}"))?;
    let authority = uri
        .authority()
        .ok_or_else(|| format!("url without host: {url}"))?
        .clone();
    let stream = TcpStream::connect(authority.as_str())
        .await
        .map_err(|e| format!("connect {authority}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let conn = tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut req = Request::builder().method(method).uri(path);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req = req.header("host", authority.as_str());
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(body.into()))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let (parts, body) = resp.into_parts();
    Ok(StreamingResponse {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
        conn,
    })
}

/// Send a request and read the whole response.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<TestResponse, String> {
    let mut resp = open(method, url, headers, body).await?;
    let (body, clean) = resp.read_to_end().await;
    if !clean {
        return Err(format!(
            "response body broke after {} bytes: {}",
            body.len(),
            String::from_utf8_lossy(&body)
        ));
    }
    Ok(TestResponse {
        status: resp.status,
        headers: std::mem::take(&mut resp.headers),
        body,
    })
}

/// `GET url`.
pub async fn get(url: &str) -> Result<TestResponse, String> {
    request("GET", url, &[], Bytes::new()).await
}

/// `POST url` with a JSON content type and the given raw body bytes.
pub async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<TestResponse, String> {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    request("POST", url, &all, body).await
}

/// Write `bytes` to `addr` as-is and read until the peer closes or `timeout` passes.
pub async fn raw(addr: std::net::SocketAddr, bytes: &[u8], timeout: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return out;
    };
    if stream.write_all(bytes).await.is_err() {
        return out;
    }
    let _ = tokio::time::timeout(timeout, stream.read_to_end(&mut out)).await;
    out
}
