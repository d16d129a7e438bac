//! File primitives for reversible edits: read a file's exact state, write atomically without
//! replacing symlinks, keep permissions, and hash what we wrote so `remove` can tell whether the
//! user touched it since.
//!
//! Permissions never depend on the umask: directories Headroom creates for itself are 0700, its files
//! (manifests, logs, locks) are 0600; a directory created for a file is no more visible than that file
//! (a umask of 000 must not make Headroom's state world-writable). Writes are durable: the temp file is
//! fsynced before the rename and the directory after it, so the install journal (the profile's
//! manifest) is on disk before any change it describes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Follow symlinks (also dangling ones, and chains) to the file that really holds the bytes, so
/// a dotfiles-managed `~/.zshrc -> dotfiles/zshrc` keeps being a link and its target is edited.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&current)
                    .map_err(|e| Error::io("read the symlink", &current, &e))?;
                current = if target.is_absolute() {
                    target
                } else {
                    current.parent().map(|p| p.join(&target)).unwrap_or(target)
                };
            }
            _ => return Ok(current),
        }
    }
    Err(Error::user(
        format!("{} is a symlink loop", path.display()),
        Some("fix or remove the symlink, then retry"),
    ))
}

/// Current bytes of `path` (already resolved), `None` when absent.
pub fn read_opt(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path, &e)),
    }
}

/// Unix permission bits of an existing file.
pub fn mode_of(path: &Path) -> Option<u32> {
    let meta = fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        Some(if meta.permissions().readonly() {
            0o444
        } else {
            0o644
        })
    }
}

/// Whether an existing file's permission bits forbid writing it. We refuse to edit such files
/// rather than silently replace them (an atomic rename would otherwise bypass the mode).
pub fn is_read_only(path: &Path) -> bool {
    fs::metadata(path)
        .map(|m| m.permissions().readonly())
        .unwrap_or(false)
}

/// Directories that `create_dir_all(dir)` would create, outermost first.
pub fn missing_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || fs::symlink_metadata(d).is_ok() {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    missing.reverse();
    missing
}

/// Write `bytes` to `path` atomically: temp file in the same directory, fsync, set `mode` (or
/// keep the existing file's mode), rename over. `path` must already be resolved.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::internal(format!("{} has no parent directory", path.display())))?;
    let mode = mode.or_else(|| mode_of(path)).unwrap_or(0o644);
    // A directory we create is no more visible than the file we create it for.
    create_dir_with_mode(dir, 0o700 | (mode & 0o044) | ((mode & 0o044) >> 2))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.headroom-tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        set_mode(&tmp, mode)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io("write", path, &e));
    }
    Ok(())
}

/// `create_dir_all` with every created directory 0700, whatever the umask.
pub fn create_dir_private(dir: &Path) -> Result<()> {
    create_dir_with_mode(dir, 0o700)
}

/// `create_dir_all` where every created directory gets at most `mode` (a umask only removes
/// bits, so 000 cannot widen it).
fn create_dir_with_mode(dir: &Path, mode: u32) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    builder
        .create(dir)
        .map_err(|e| Error::io("create the directory", dir, &e))
}

/// Open (creating 0600 if needed) a file for appending, whatever the umask.
pub fn open_private_append(path: &Path) -> std::io::Result<fs::File> {
    let mut opts = fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Make a rename or unlink in `dir` durable (no-op where directories cannot be opened).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Remove `path` if present.
pub fn remove_file(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("delete", path, &e)),
    }
}

/// Remove directories we created, innermost first, only while they are empty.
pub fn remove_empty_dirs(dirs: &[PathBuf]) {
    for d in dirs.iter().rev() {
        let _ = fs::remove_dir(d);
    }
}

/// The line ending a file uses: CRLF if its first line break is CRLF.
pub fn line_ending(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}
