//! Talking to a local proxy: readiness and identity probes on loopback (through
//! [`crate::http`]), and finding who holds a port when it is not us.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// `GET http://127.0.0.1:port/path` → (status, parsed JSON body). `None` on any failure.
pub fn get_json(port: u16, path: &str, timeout: Duration) -> Option<(u16, Value)> {
    let r = crate::http::get("127.0.0.1", port, path, "headroom-install", timeout).ok()?;
    Some((r.status, r.json()))
}

/// `GET /health` parsed with the contract every component shares (`headroom-protocol`);
/// `None` when nothing answers or the answer is not Headroom's.
pub fn health(port: u16, timeout: Duration) -> Option<headroom_protocol::Health> {
    let r = crate::http::get("127.0.0.1", port, "/health", "headroom-install", timeout).ok()?;
    headroom_protocol::Health::parse(&r.body).filter(|h| h.is_headroom())
}

/// The instance key of the proxy on `port` in `workspace`, if its writer is still alive (a key
/// left behind by a killed proxy proves nothing).
pub fn live_key(
    workspace: &std::path::Path,
    port: u16,
) -> Option<headroom_protocol::identity::InstanceKey> {
    headroom_protocol::identity::read_key(workspace, port)
        .filter(|k| k.pid == 0 || crate::sys::pid_alive(k.pid))
}

/// `/readyz` answered 200 (or a body that says ready).
pub fn is_ready(port: u16) -> bool {
    matches!(
        get_json(port, "/readyz", Duration::from_secs(2)),
        Some((200, _))
    )
}

/// What is listening on a port, as far as we can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortOwner {
    Free,
    /// A Headroom proxy serving this profile.
    Ours,
    /// A Headroom proxy of another deployment (or an ad-hoc `headroom proxy`).
    OtherHeadroom {
        profile: Option<String>,
    },
    /// Something else; `process` names it when the OS tells.
    Foreign {
        process: Option<String>,
    },
    /// Something that accepts connections but never answers: a hung or stopped process.
    Unresponsive {
        process: Option<String>,
    },
}

/// Who holds `127.0.0.1:port`, judged by `/health` (`service` + `deployment.profile`).
pub fn port_owner(port: u16, profile: &str) -> PortOwner {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    if TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err() {
        // Not connectable on loopback; check whether it is bound at all (e.g. on 0.0.0.0
        // with loopback filtered) by trying to bind.
        return match std::net::TcpListener::bind(addr) {
            Ok(_) => PortOwner::Free,
            Err(_) => PortOwner::Foreign {
                process: process_on_port(port),
            },
        };
    }
    use headroom_protocol::probe::{probe, Probe};
    match probe(port, Duration::from_secs(2), "headroom-install", || None) {
        Probe::Unresponsive(_) => PortOwner::Unresponsive {
            process: process_on_port(port),
        },
        Probe::Headroom(h, _) => {
            let deployed = h.deployment.and_then(|d| d.profile);
            if deployed.as_deref() == Some(profile) {
                PortOwner::Ours
            } else {
                PortOwner::OtherHeadroom { profile: deployed }
            }
        }
        Probe::Free => PortOwner::Free,
        Probe::Foreign(_) => PortOwner::Foreign {
            process: process_on_port(port),
        },
    }
}

/// `pid (name)` of the process listening on `port`, from `/proc/net/tcp{,6}` and `/proc/*/fd`.
#[cfg(target_os = "linux")]
pub fn process_on_port(port: u16) -> Option<String> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 || cols[3] != "0A" {
                continue; // 0A = LISTEN
            }
            let local_port = cols[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) {
                inodes.push(format!("socket:[{}]", cols[9]));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path()) {
                if inodes.iter().any(|i| link.to_string_lossy() == *i) {
                    let comm = std::fs::read_to_string(entry.path().join("comm"))
                        .map(|c| c.trim().to_owned())
                        .unwrap_or_default();
                    return Some(format!("pid {pid} ({comm})"));
                }
            }
        }
    }
    None
}

#[cfg(not(target_os = "linux"))]
pub fn process_on_port(_port: u16) -> Option<String> {
    None
}
