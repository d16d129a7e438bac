//! The few OS calls std does not offer (uid, process liveness and start time, signals, file
//! locks), for Linux, macOS and Windows. Kept in one module so the `unsafe` needed for libc and
//! the Win32 API stays small and reviewed; the CLI's wrap leases use it too.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;

/// End this process the way `kill -9` does: no destructors, no handlers, no flushing. Only the
/// engine's test crash points call it.
pub fn kill_self_hard() -> ! {
    #[cfg(unix)]
    {
        // SAFETY: sending SIGKILL to ourselves has no preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
    std::process::abort()
}

/// Set the process umask and return the previous one (tests prove modes do not depend on it).
/// A no-op returning 0 where there is no umask.
pub fn set_umask(mask: u32) -> u32 {
    #[cfg(unix)]
    {
        // SAFETY: umask has no preconditions and cannot fail.
        unsafe { libc::umask(mask as libc::mode_t) as u32 }
    }
    #[cfg(not(unix))]
    {
        let _ = mask;
        0
    }
}

/// The real user id (0 = root). Windows has no uid; report 1000 so "is root" is false.
pub fn current_uid() -> u32 {
    #[cfg(unix)]
    {
        // SAFETY: getuid has no preconditions and cannot fail.
        unsafe { libc::getuid() }
    }
    #[cfg(windows)]
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
    #[cfg(target_os = "macos")]
    {
        // Same reason as on Linux: an unreaped zombie is not a live process.
        if macos::bsd_info(pid).is_some_and(|info| info.pbi_status == libc::SZOMB) {
            return false;
        }
    }
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks for existence/permission; pid is a positive i32.
        let rc = unsafe { libc::kill(pid as i32, 0) };
        rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(windows)]
    {
        windows::pid_alive(pid)
    }
}

/// When the process `pid` started, as an opaque number that is only ever compared with another
/// reading on the same machine: clock ticks since boot on Linux (`/proc/<pid>/stat` field 22),
/// microseconds since the epoch on macOS, 100 ns units since 1601 on Windows. Together with the
/// pid it names one process, so a recycled pid is not mistaken for the one we recorded. `None`
/// when the process is gone or we may not inspect it.
pub fn process_start_time(pid: u32) -> Option<u64> {
    if pid == 0 || pid > i32::MAX as u32 {
        return None;
    }
    #[cfg(target_os = "linux")]
    {
        // Fields are counted from the last `)`: the command name may contain spaces and `)`.
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &text[text.rfind(')')? + 1..];
        rest.split_ascii_whitespace().nth(19)?.parse().ok()
    }
    #[cfg(target_os = "macos")]
    {
        let info = macos::bsd_info(pid)?;
        Some(
            info.pbi_start_tvsec
                .saturating_mul(1_000_000)
                .saturating_add(info.pbi_start_tvusec),
        )
    }
    #[cfg(windows)]
    {
        windows::creation_time(pid)
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    {
        None
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
    #[cfg(windows)]
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
    #[cfg(windows)]
    {
        let _ = std::process::Command::new("taskkill")
            .args(["/PID", &pid.to_string(), "/T", "/F"])
            .output();
    }
}

/// Take an exclusive lock on `file` (`flock` on Unix, `LockFileEx` on Windows). `Ok(false)` when
/// `wait` is false and someone else holds it. Released when the file is closed.
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
    #[cfg(windows)]
    {
        windows::lock_file(file, wait)
    }
}

/// Whether opening the lock file failed because another process holds it (Windows sharing
/// violation). Never true on Unix, where `flock` reports contention instead.
pub fn is_lock_busy(err: &io::Error) -> bool {
    const ERROR_SHARING_VIOLATION: i32 = 32;
    cfg!(windows) && err.raw_os_error() == Some(ERROR_SHARING_VIOLATION)
}

#[cfg(target_os = "macos")]
mod macos {
    /// `proc_pidinfo(PROC_PIDTBSDINFO)`: status and start time of one process.
    pub(super) fn bsd_info(pid: u32) -> Option<libc::proc_bsdinfo> {
        // SAFETY: proc_bsdinfo is plain old data, so all-zero is a valid value.
        let mut info: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::proc_bsdinfo>() as libc::c_int;
        // SAFETY: the buffer is a live, writable proc_bsdinfo of exactly `size` bytes.
        let written = unsafe {
            libc::proc_pidinfo(
                pid as libc::c_int,
                libc::PROC_PIDTBSDINFO,
                0,
                (&mut info as *mut libc::proc_bsdinfo).cast(),
                size,
            )
        };
        (written == size).then_some(info)
    }
}

#[cfg(windows)]
mod windows {
    use std::fs::File;
    use std::io;
    use std::os::windows::io::AsRawHandle;

    use windows_sys::Win32::Foundation::{
        CloseHandle, ERROR_ACCESS_DENIED, ERROR_LOCK_VIOLATION, FILETIME, HANDLE, STILL_ACTIVE,
    };
    use windows_sys::Win32::Storage::FileSystem::{
        LockFileEx, LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY,
    };
    use windows_sys::Win32::System::Threading::{
        GetExitCodeProcess, GetProcessTimes, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
    };

    /// A process handle closed on drop.
    struct Process(HANDLE);

    impl Process {
        /// `Err` carries the Win32 error (e.g. access denied for another user's process).
        fn open(pid: u32) -> io::Result<Self> {
            // SAFETY: OpenProcess takes plain values; a null return means failure.
            let handle = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
            if handle.is_null() {
                Err(io::Error::last_os_error())
            } else {
                Ok(Process(handle))
            }
        }
    }

    impl Drop for Process {
        fn drop(&mut self) {
            // SAFETY: we own this handle and close it exactly once.
            unsafe { CloseHandle(self.0) };
        }
    }

    /// A process that exited is still openable while anyone holds a handle to it, so ask for
    /// its exit code too. (One that exited with code 259, STILL_ACTIVE, reads as alive: the
    /// documented limit of this API, harmless for our pids.)
    pub(super) fn pid_alive(pid: u32) -> bool {
        match Process::open(pid) {
            Ok(process) => {
                let mut code = 0u32;
                // SAFETY: valid process handle; `code` is a live u32.
                let ok = unsafe { GetExitCodeProcess(process.0, &mut code) } != 0;
                ok && code == STILL_ACTIVE as u32
            }
            // It exists, but belongs to someone we may not inspect.
            Err(e) => e.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32),
        }
    }

    pub(super) fn creation_time(pid: u32) -> Option<u64> {
        let process = Process::open(pid).ok()?;
        let zero = FILETIME {
            dwLowDateTime: 0,
            dwHighDateTime: 0,
        };
        let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
        // SAFETY: valid process handle; the four out-pointers are live FILETIMEs.
        let ok = unsafe {
            GetProcessTimes(process.0, &mut created, &mut exited, &mut kernel, &mut user)
        } != 0;
        ok.then(|| u64::from(created.dwHighDateTime) << 32 | u64::from(created.dwLowDateTime))
    }

    pub(super) fn lock_file(file: &File, wait: bool) -> io::Result<bool> {
        let mut flags = LOCKFILE_EXCLUSIVE_LOCK;
        if !wait {
            flags |= LOCKFILE_FAIL_IMMEDIATELY;
        }
        // SAFETY: OVERLAPPED is plain old data; all-zero means "lock from offset 0".
        let mut overlapped = unsafe { std::mem::zeroed() };
        // SAFETY: the handle is owned by `file`, which outlives this call; the file was opened
        // for synchronous I/O, so LockFileEx completes (or fails) before returning.
        let ok = unsafe {
            LockFileEx(
                file.as_raw_handle() as HANDLE,
                flags,
                0,
                u32::MAX,
                u32::MAX,
                &mut overlapped,
            )
        } != 0;
        if ok {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        if !wait && err.raw_os_error() == Some(ERROR_LOCK_VIOLATION as i32) {
            return Ok(false);
        }
        Err(err)
    }
}
