//! `headroom health`: probe a proxy's `/readyz`, print one line, exit 0 when ready, 1 otherwise.
//!
//! Used by the Docker HEALTHCHECK, so it uses the tiny blocking client
//! (`headroom_protocol::http`) with no runtime: it must start fast and cannot hang past
//! `--timeout-ms`.

use std::process::ExitCode;
use std::time::Duration;

use headroom_protocol::http;

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
    match http::get(&host, args.port, "/readyz", "headroom-health", timeout) {
        Ok(r) if r.status == 200 => {
            println!("ready: {url} ({})", describe(&r.text()));
            Ok(ExitCode::SUCCESS)
        }
        Ok(r) => {
            eprintln!(
                "not ready: {url} answered HTTP {} ({})",
                r.status,
                describe(&r.text())
            );
            Ok(ExitCode::from(1))
        }
        Err(err) => {
            eprintln!("not ready: {url}: {err}");
            Ok(ExitCode::from(1))
        }
    }
}

fn describe(body: &str) -> String {
    match headroom_protocol::Health::parse(body.as_bytes()) {
        Some(h) => format!("{} {}", h.service, h.version),
        None => "not a Headroom health response".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes() {
        // (De-chunking is `headroom_protocol::http`'s, tested there.)
        assert_eq!(
            describe(
                r#"{"service":"headroom-proxy","status":"healthy","ready":true,"version":"0.1.0","uptime_seconds":1}"#
            ),
            "headroom-proxy 0.1.0"
        );
        assert_eq!(describe("<html>"), "not a Headroom health response");
    }
}
