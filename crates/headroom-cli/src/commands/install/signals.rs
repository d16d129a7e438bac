//! SIGINT/SIGTERM (and for `install`, SIGHUP; Windows: Ctrl-C/Ctrl-Break console events) → a flag. The install
//! transaction polls it between steps (and rolls back); the agent polls it to stop its proxy
//! child cleanly; `wrap` on Windows uses it to outlive Ctrl-C while its tool decides. Storing to
//! an atomic is async-signal-safe, which is all the handler does.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

static FLAG: AtomicPtr<AtomicBool> = AtomicPtr::new(std::ptr::null_mut());

#[cfg(unix)]
extern "C" fn on_signal(_sig: libc::c_int) {
    let p = FLAG.load(Ordering::SeqCst);
    if !p.is_null() {
        // SAFETY: `p` comes from a `&'static AtomicBool` in `install`.
        unsafe { (*p).store(true, Ordering::SeqCst) };
    }
}

/// Windows runs console control handlers on a thread of their own. Returning TRUE for Ctrl-C and
/// Ctrl-Break means "handled": the process keeps running and polls the flag. For close, logoff
/// and shutdown the flag is set too, but FALSE lets the default handler end the process, which
/// Windows does anyway once the handler returns.
#[cfg(windows)]
unsafe extern "system" fn on_console_event(event: u32) -> windows_sys::core::BOOL {
    use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, CTRL_C_EVENT};
    let p = FLAG.load(Ordering::SeqCst);
    if !p.is_null() {
        // SAFETY: `p` comes from a `&'static AtomicBool` in `install`.
        unsafe { (*p).store(true, Ordering::SeqCst) };
    }
    matches!(event, CTRL_C_EVENT | CTRL_BREAK_EVENT).into()
}

/// Like [`install`], and SIGHUP too: an `install` command whose terminal closes rolls back like
/// Ctrl-C instead of dying half-way (wrap keeps the default SIGHUP behaviour).
pub fn install_with_hangup(flag: &'static AtomicBool) {
    install(flag);
    #[cfg(unix)]
    {
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: installing a handler that only does an atomic store.
        unsafe {
            libc::signal(libc::SIGHUP, handler);
        }
    }
}

/// Route SIGINT and SIGTERM (Windows: console control events) to `flag` for the rest of the
/// process.
pub fn install(flag: &'static AtomicBool) {
    FLAG.store(
        flag as *const AtomicBool as *mut AtomicBool,
        Ordering::SeqCst,
    );
    #[cfg(unix)]
    {
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: installing a handler that only does an atomic store.
        unsafe {
            libc::signal(libc::SIGINT, handler);
            libc::signal(libc::SIGTERM, handler);
        }
    }
    #[cfg(windows)]
    {
        use std::sync::Once;
        use windows_sys::Win32::System::Console::SetConsoleCtrlHandler;
        // Handlers stack; registering once is enough since the flag pointer is what changes.
        static REGISTERED: Once = Once::new();
        REGISTERED.call_once(|| {
            // SAFETY: registers a handler that only does an atomic store; it is never removed,
            // and it reads only the 'static FLAG.
            unsafe { SetConsoleCtrlHandler(Some(on_console_event), 1) };
        });
    }
}
