//! `wrap --runtime docker`: the ephemeral proxy runs in a container instead of in-process.
//!
//! The `wrap-proxy` helper still owns the lifetime (leases, lock, record); it only swaps the
//! in-process server for `docker run --rm` published on 127.0.0.1 and `docker stop` at the end.
//! `HEADROOM_DOCKER` picks the client binary (e.g. `podman`) and `HEADROOM_DOCKER_IMAGE` the
//! image.

use std::ffi::OsString;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::process::Command;

use super::probe::{probe, Probe};

/// The image `docker/Dockerfile` builds (`docker build -t headroom:latest -f docker/Dockerfile .`).
pub const DEFAULT_IMAGE: &str = "headroom:latest";

pub struct Container {
    docker: OsString,
    name: String,
}

fn docker_binary() -> OsString {
    std::env::var_os("HEADROOM_DOCKER")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "docker".into())
}

impl Container {
    /// `docker run` the proxy on `127.0.0.1:port` and wait until it answers as Headroom.
    pub async fn start(port: u16) -> Result<Container> {
        let docker = docker_binary();
        let image = std::env::var("HEADROOM_DOCKER_IMAGE")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_IMAGE.to_owned());
        let name = format!("headroom-wrap-{port}");
        // A container left by a helper that was killed with SIGKILL would hold the name.
        let _ = Command::new(&docker)
            .args(["rm", "-f", &name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        let mut run = Command::new(&docker);
        run.args(["run", "-d", "--rm", "--name", &name, "-p"])
            .arg(format!("127.0.0.1:{port}:8787"));
        for var in [
            "ANTHROPIC_TARGET_API_URL",
            "OPENAI_TARGET_API_URL",
            "CHATGPT_TARGET_API_URL",
            "HEADROOM_MODE",
        ] {
            if std::env::var_os(var).is_some_and(|v| !v.is_empty()) {
                // `-e NAME` copies the value from our env without putting it on a command line.
                run.args(["-e", var]);
            }
        }
        // The container proves the secret whose key file this helper (which lives as long as
        // the container) writes on the host: `wrap` can then tell it from a port squatter.
        let secret = headroom_proxy::identity::new_secret();
        if let Some(workspace) = headroom_proxy::workspace_from_env() {
            let key = headroom_proxy::identity::InstanceKey {
                pid: std::process::id(),
                secret: secret.clone(),
            };
            headroom_proxy::identity::write_key(&workspace, port, &key).with_context(|| {
                format!("cannot write the instance key in {}", workspace.display())
            })?;
        }
        run.args(["-e", headroom_protocol::env::INSTANCE_SECRET])
            .env(headroom_protocol::env::INSTANCE_SECRET, &secret);
        run.arg(&image).stdin(Stdio::null());
        let output = run
            .output()
            .await
            .with_context(|| format!("cannot run `{}`", docker.to_string_lossy()))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let missing = [
                "No such image",
                "Unable to find image",
                "image not known",
                "pull access denied",
                "requested access to the resource is denied",
                "manifest unknown",
            ]
            .iter()
            .any(|m| stderr.contains(m));
            let hint = if missing {
                format!(
                    "\nhint: the image {image} is not on this machine: build it from a Headroom checkout with `{} build -t {image} -f docker/Dockerfile .`, or set HEADROOM_DOCKER_IMAGE to one you have",
                    docker.to_string_lossy()
                )
            } else {
                String::new()
            };
            bail!(
                "`{} run {image}` failed: {}{hint}",
                docker.to_string_lossy(),
                stderr.trim()
            );
        }
        let container = Container { docker, name };
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            let answer =
                tokio::task::spawn_blocking(move || probe(port, Duration::from_secs(2))).await?;
            match answer {
                Probe::Headroom(h) if h.ready => return Ok(container),
                _ if Instant::now() >= deadline => {
                    container.stop().await;
                    bail!("the proxy container did not become ready on port {port} within 45 s");
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// `docker stop` (the container was started with `--rm`, so this also removes it).
    pub async fn stop(self) {
        let status = Command::new(&self.docker)
            .args(["stop", "-t", "2", &self.name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .await;
        if !status.is_ok_and(|s| s.success()) {
            tracing::warn!(container = %self.name, "docker stop failed");
        }
    }
}
