//! SIGINT/SIGTERM → a flag. The install transaction polls it between steps (and rolls back);
//! the agent polls it to stop its proxy child cleanly. Storing to an atomic is
//! async-signal-safe, which is all the handler does.
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

/// Route SIGINT and SIGTERM to `flag` for the rest of the process.
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
}
