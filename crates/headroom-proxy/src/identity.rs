//! Proving which proxy answers on a port, before a tool's API key is sent there.
//!
//! `wrap` points a tool at whatever serves `127.0.0.1:<port>`. A `/health` document anyone can
//! forge (`"service":"headroom-proxy"`) is no proof: a program squatting the port would receive
//! the tool's real API key. So every proxy holds a random instance secret and, once it has
//! bound its port, writes it to `<workspace>/instances/<port>.key` (0600, in a 0700 directory):
//! only the user — and the processes that are already theirs — can read it. `/health` answers a
//! `x-headroom-challenge: <nonce>` header with `proof` = HMAC-SHA256(secret, nonce), which only a
//! reader of the key file can check and only the holder of the secret can produce; the secret
//! itself never goes over the wire. A container proxy gets its secret from
//! `HEADROOM_INSTANCE_SECRET`, written to the host's key file by whoever starts the container.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The request header carrying wrap's nonce.
pub const CHALLENGE_HEADER: &str = "x-headroom-challenge";

/// What the key file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceKey {
    /// The process that wrote it (0 when written for a container), so a key left behind by a
    /// killed proxy can be told from a live one.
    pub pid: u32,
    pub secret: String,
}

/// `<workspace>/instances/<port>.key`.
pub fn key_path(workspace: &Path, port: u16) -> PathBuf {
    workspace.join("instances").join(format!("{port}.key"))
}

/// The key file for `port`, if one is there and readable.
pub fn read_key(workspace: &Path, port: u16) -> Option<InstanceKey> {
    let text = std::fs::read(key_path(workspace, port)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Write the key file atomically, readable by the user only.
pub fn write_key(workspace: &Path, port: u16, key: &InstanceKey) -> std::io::Result<()> {
    let path = key_path(workspace, port);
    let dir = path.parent().expect("key path has a parent");
    create_private_dir(dir)?;
    let tmp = dir.join(format!(".{port}.key.{}", std::process::id()));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(&serde_json::to_vec(key).expect("a key serialises"))?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, &path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

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

/// HMAC-SHA256(secret, challenge), hex (RFC 2104 over SHA-256's 64-byte block).
pub fn proof(secret: &str, challenge: &str) -> String {
    const BLOCK: usize = 64;
    let mut key = [0u8; BLOCK];
    if secret.len() > BLOCK {
        key[..32].copy_from_slice(&Sha256::digest(secret.as_bytes()));
    } else {
        key[..secret.len()].copy_from_slice(secret.as_bytes());
    }
    let pad = |byte: u8| key.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(challenge.as_bytes())
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    hex::encode(outer)
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
    fn proof_is_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            proof("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_ne!(proof("a", "n1"), proof("a", "n2"));
        assert_ne!(proof("a", "n1"), proof("b", "n1"));
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
