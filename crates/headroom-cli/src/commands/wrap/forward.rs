//! Signals for a tool `wrap` runs as a child (OpenClaw) instead of exec'ing. A signal from the
//! terminal (Ctrl-C, Ctrl-\, a closed terminal) reaches the whole foreground process group, so
//! the tool already has it: `wrap` must only survive it, to clean up once the tool exits. A
//! signal sent to `wrap`'s pid alone (`kill -TERM <pid>`, a supervisor) would never reach the
//! tool, so it is passed on. The kernel says which is which: `kill()` sets `si_code` to
//! `SI_USER`/`SI_QUEUE`, the terminal does not. The handler only stores to an atomic, which is
//! async-signal-safe.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicI32, Ordering};

static PENDING: AtomicI32 = AtomicI32::new(0);

// `si_code` values that mean "sent by kill()/sigqueue()". The libc crate defines them only for
// Linux-like targets; the BSD family (macOS) uses the values of its <sys/signal.h>.
#[cfg(any(target_os = "linux", target_os = "android"))]
const SENT_BY_PROCESS: [libc::c_int; 2] = [libc::SI_USER, libc::SI_QUEUE];
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const SENT_BY_PROCESS: [libc::c_int; 2] = [0x10001, 0x10002];

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo with SA_SIGINFO.
    let code = if info.is_null() {
        SENT_BY_PROCESS[0]
    } else {
        unsafe { (*info).si_code }
    };
    if SENT_BY_PROCESS.contains(&code) {
        PENDING.store(sig, Ordering::SeqCst);
    }
}

/// Catch SIGINT, SIGTERM, SIGHUP and SIGQUIT for the rest of the process. Handlers (unlike
/// ignored signals) are reset in the child at exec, so the tool keeps the defaults.
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: a zeroed sigaction with our handler, SA_SIGINFO and an empty mask is valid.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal
                as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
                as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// Pass a signal sent to `wrap` alone on to the tool (`pid`), if one came since the last call.
pub fn pass_on(pid: u32) {
    let sig = PENDING.swap(0, Ordering::SeqCst);
    if sig != 0 {
        // SAFETY: kill(2) with a pid we spawned and a valid signal number.
        unsafe {
            libc::kill(pid as libc::pid_t, sig);
        }
    }
}
