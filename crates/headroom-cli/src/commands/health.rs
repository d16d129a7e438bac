//! `headroom health`: probe a proxy's `/readyz`, print one line, exit 0 when ready, 1 otherwise.
//!
//! Used by the Docker HEALTHCHECK, so it is a tiny blocking HTTP/1.1 client with no runtime:
//! it must start fast and cannot hang past `--timeout-ms`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// Host the proxy listens on
    #[arg(long, env = "HEADROOM_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port the proxy listens on
    #[arg(long, short = 'p', env = "HEADROOM_PORT", default_value_t = headroom_proxy::DEFAULT_PORT)]
    pub port: u16,

    /// Give up after this many milliseconds
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
}

pub fn run(args: HealthArgs) -> anyhow::Result<ExitCode> {
    // 0.0.0.0 is a bind address, not a destination: probe loopback instead.
    let host = match args.host.as_str() {
        "0.0.0.0" | "" => "127.0.0.1".to_owned(),
        "::" | "[::]" => "::1".to_owned(),
        h => h.trim_matches(|c| c == '[' || c == ']').to_owned(),
    };
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let url = if host.contains(':') {
        format!("http://[{host}]:{}/readyz", args.port)
    } else {
        format!("http://{host}:{}/readyz", args.port)
    };
    match probe(&host, args.port, timeout) {
        Ok(Probe { status: 200, body }) => {
            println!("ready: {url} ({})", describe(&body));
            Ok(ExitCode::SUCCESS)
        }
        Ok(Probe { status, body }) => {
            eprintln!(
                "not ready: {url} answered HTTP {status} ({})",
                describe(&body)
            );
            Ok(ExitCode::from(1))
        }
        Err(err) => {
            eprintln!("not ready: {url}: {err}");
            Ok(ExitCode::from(1))
        }
    }
}

struct Probe {
    status: u16,
    body: String,
}

fn describe(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) => {
            let service = v["service"].as_str().unwrap_or("unknown service");
            match v["version"].as_str() {
                Some(version) => format!("{service} {version}"),
                None => service.to_owned(),
            }
        }
        Err(_) => "not a Headroom health response".to_owned(),
    }
}

fn probe(host: &str, port: u16, timeout: Duration) -> Result<Probe, String> {
    let started = Instant::now();
    let remaining = || {
        timeout
            .checked_sub(started.elapsed())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("timed out after {} ms", timeout.as_millis()))
    };
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last_err = format!("cannot resolve {host}");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, remaining()?) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = format!("cannot connect: {e}"),
        }
    }
    let mut stream = stream.ok_or(last_err)?;
    let host_header = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let request = format!(
        "GET /readyz HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: headroom-health\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream
        .set_write_timeout(Some(remaining()?))
        .and_then(|_| stream.write_all(request.as_bytes()))
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        stream
            .set_read_timeout(Some(remaining()?))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > 1024 * 1024 {
                    break;
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return Err(format!("timed out after {} ms", timeout.as_millis()))
            }
            Err(e) => return Err(format!("connection failed: {e}")),
        }
    }
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| "the answer is not HTTP".to_owned())?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok(Probe { status, body })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunks_and_describes() {
        assert_eq!(
            dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            "hello world"
        );
        assert_eq!(
            describe(r#"{"service":"headroom-proxy","version":"0.1.0"}"#),
            "headroom-proxy 0.1.0"
        );
        assert_eq!(describe("<html>"), "not a Headroom health response");
    }
}
