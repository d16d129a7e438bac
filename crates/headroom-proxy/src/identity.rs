//! This proxy's identity for `wrap`: its secret, published in the port's key file once bound
//! and withdrawn at shutdown. The key format and the proof are shared with every client in
//! [`headroom_protocol::identity`], re-exported here.
//!
//! A container proxy gets its secret from `HEADROOM_INSTANCE_SECRET`, written to the host's key
//! file by whoever starts the container.

use std::path::{Path, PathBuf};

pub use headroom_protocol::identity::{
    key_path, proof, read_key, write_key, InstanceKey, CHALLENGE_HEADER,
};

/// Is `dir` (or, before it exists, its nearest existing ancestor) owned by this process's user?
fn owned_by_us(dir: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let uid = rustix::process::geteuid().as_raw();
        dir.ancestors()
            .find_map(|d| std::fs::metadata(d).ok())
            .is_some_and(|m| m.uid() == uid)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        true
    }
}

/// A fresh secret: 32 random bytes, hex.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    hex::encode(bytes)
}

/// One proxy's identity: its secret and, once published, the key file it wrote.
#[derive(Debug)]
pub(crate) struct Identity {
    secret: String,
    published: std::sync::Mutex<Option<PathBuf>>,
}

impl Identity {
    pub(crate) fn new(given: Option<String>) -> Identity {
        Identity {
            secret: given
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(new_secret),
            published: std::sync::Mutex::new(None),
        }
    }

    /// Write the key file for the port this proxy has bound. Only after binding: a proxy that
    /// failed to bind must not replace the running one's key.
    pub(crate) fn publish(&self, workspace: &Path, port: u16) {
        if !owned_by_us(workspace) {
            // A system-wide deployment (root) serving a user's workspace must not leave
            // root-owned files there: the user's own proxies could no longer write their keys.
            tracing::debug!(dir = %workspace.display(), "workspace owned by another user; no instance key");
            return;
        }
        let key = InstanceKey {
            pid: std::process::id(),
            secret: self.secret.clone(),
        };
        match write_key(workspace, port, &key) {
            Ok(()) => {
                *self.published.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(key_path(workspace, port));
            }
            Err(err) => tracing::warn!(
                error = %err,
                dir = %workspace.display(),
                "cannot write the instance key; `headroom wrap` will not recognise this proxy"
            ),
        }
    }

    /// Remove the key file on shutdown, unless another proxy has replaced it since.
    pub(crate) fn retract(&self) {
        let Some(path) = self
            .published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        let ours = std::fs::read(&path)
            .ok()
            .and_then(|t| serde_json::from_slice::<InstanceKey>(&t).ok())
            .is_some_and(|k| k.secret == self.secret);
        if ours {
            let _ = std::fs::remove_file(&path);
        }
    }

    /// The answer to a challenge: nonces are short printable tokens; anything else gets none.
    pub(crate) fn prove(&self, challenge: &str) -> Option<String> {
        let ok = !challenge.is_empty()
            && challenge.len() <= 128
            && challenge.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| proof(&self.secret, challenge))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_fresh() {
        assert_eq!(new_secret().len(), 64);
        assert_ne!(new_secret(), new_secret());
    }

    #[test]
    fn the_key_file_is_private_and_retracted_only_by_its_owner() {
        let tmp = tempfile::tempdir().unwrap();
        let a = Identity::new(None);
        a.publish(tmp.path(), 9000);
        let key = read_key(tmp.path(), 9000).unwrap();
        assert_eq!(key.pid, std::process::id());
        assert_eq!(a.prove("nonce").unwrap(), proof(&key.secret, "nonce"));
        assert!(a.prove("").is_none());
        assert!(a.prove("bad nonce").is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&key_path(tmp.path(), 9000)), 0o600);
            assert_eq!(mode(&tmp.path().join("instances")), 0o700);
        }
        // A newer proxy on the port replaced the key: the old one leaves it alone.
        let b = Identity::new(None);
        b.publish(tmp.path(), 9000);
        a.retract();
        assert!(read_key(tmp.path(), 9000).is_some());
        b.retract();
        assert!(read_key(tmp.path(), 9000).is_none());
    }
}
