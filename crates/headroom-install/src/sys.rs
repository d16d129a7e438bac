//! The few OS calls std does not offer (uid, signals, advisory locks). Kept in one module so the
//! `unsafe` needed for libc stays small and reviewed.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;

/// The real user id (0 = root). Windows has no uid; report 1000 so "is root" is false.
pub fn current_uid() -> u32 {
    #[cfg(unix)]
    {
        // SAFETY: getuid has no preconditions and cannot fail.
        unsafe { libc::getuid() }
    }
    #[cfg(not(unix))]
    {
        1000
    }
}

/// Whether a process with this pid exists (and is not a zombie we could reap).
pub fn pid_alive(pid: u32) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        // A zombie still answers kill(0); treat it as dead since it serves nothing.
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r.trim_start()) {
                if rest.starts_with('Z') || rest.starts_with('X') {
                    return false;
                }
            }
        }
    }
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks for existence/permission; pid is a positive i32.
        let rc = unsafe { libc::kill(pid as i32, 0) };
        rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        std::process::Command::new("tasklist")
            .args(["/FI", &format!("PID eq {pid}"), "/NH"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains(&pid.to_string()))
            .unwrap_or(false)
    }
}

/// Ask a process to stop (SIGTERM; `taskkill` on Windows).
pub fn terminate(pid: u32) {
    if pid == 0 || pid > i32::MAX as u32 {
        return;
    }
    #[cfg(unix)]
    {
        // SAFETY: plain kill(2) on a positive pid; errors (already gone) are ignored on purpose.
        unsafe {
            libc::kill(pid as i32, libc::SIGTERM);
        }
    }
    #[cfg(not(unix))]
    {
        let _ = std::process::Command::new("taskkill")
            .args(["/PID", &pid.to_string(), "/T"])
            .output();
    }
}

/// Force-kill a process (SIGKILL; `taskkill /F` on Windows).
pub fn kill(pid: u32) {
    if pid == 0 || pid > i32::MAX as u32 {
        return;
    }
    #[cfg(unix)]
    {
        // SAFETY: as in `terminate`.
        unsafe {
            libc::kill(pid as i32, libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    {
        let _ = std::process::Command::new("taskkill")
            .args(["/PID", &pid.to_string(), "/T", "/F"])
            .output();
    }
}

/// Take an exclusive advisory lock on `file`. `Ok(false)` when `wait` is false and someone else
/// holds it. Released when the file is closed.
pub fn lock_file(file: &File, wait: bool) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        let op = if wait {
            libc::LOCK_EX
        } else {
            libc::LOCK_EX | libc::LOCK_NB
        };
        loop {
            // SAFETY: the fd is owned by `file`, which outlives this call.
            let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
            if rc == 0 {
                return Ok(true);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EWOULDBLOCK) => return Ok(false),
                _ => return Err(err),
            }
        }
    }
    #[cfg(not(unix))]
    {
        // Windows: the caller opens the lock file with share_mode(0), so holding the handle
        // is the lock; a second opener gets a sharing violation (see `is_lock_busy`).
        let _ = (file, wait);
        Ok(true)
    }
}

/// Whether opening the lock file failed because another process holds it (Windows sharing
/// violation). Never true on Unix, where `flock` reports contention instead.
pub fn is_lock_busy(err: &io::Error) -> bool {
    const ERROR_SHARING_VIOLATION: i32 = 32;
    cfg!(windows) && err.raw_os_error() == Some(ERROR_SHARING_VIOLATION)
}
