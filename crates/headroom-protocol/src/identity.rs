//! The instance key: how a client proves that the Headroom answering on a port is the proxy
//! that registered it, before handing it a tool's API key.
//!
//! Every proxy draws a random secret and, once it has bound its port, writes it to
//! `<workspace>/instances/<port>.key` (0600 in a 0700 directory), so only the user can read it.
//! `/health` answers `x-headroom-challenge: <nonce>` with `proof` = HMAC-SHA256(secret, nonce):
//! checkable only by a reader of the key file, producible only by the holder of the secret,
//! and the secret never crosses the wire. A program squatting the port can copy `/health`'s
//! shape but not the proof.

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
    }

    #[test]
    fn key_files_are_private() {
        let tmp = std::env::temp_dir().join(format!("hr-key-{}", std::process::id()));
        let key = InstanceKey {
            pid: 7,
            secret: "s".into(),
        };
        write_key(&tmp, 9000, &key).unwrap();
        assert_eq!(read_key(&tmp, 9000), Some(key));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&key_path(&tmp, 9000)), 0o600);
            assert_eq!(mode(&tmp.join("instances")), 0o700);
        }
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
