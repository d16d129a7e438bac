//! Keeps OpenGL drivers out of the process that shows the window (Linux, X11).
//!
//! The page is drawn by WebKit's web process; the window's own process only puts finished
//! frames on screen (GDK's GL is already off, see `prepare_process`). WebKitGTK still opens an
//! EGL display there, just before it starts the web process, to offer it GPU buffer sharing. On
//! Mesa that loads the DRI driver and LLVM — 25 MiB of the window process's 80 (GUI suite,
//! `memory-window-open.txt`) — for a settings page. When this process's EGL has no vendor,
//! WebKit hands frames over in shared memory instead, and the web process, which still gets the
//! real EGL, renders exactly as before.
//!
//! libglvnd's `libEGL` reads its vendor list once per process, from `__EGL_VENDOR_LIBRARY_FILENAMES`
//! when that is set. So we set it to a file that names no vendor, make `libEGL` read it, and
//! remove the variable again before any other thread or child process exists: the web process
//! WebKit starts later sees the user's environment, untouched. Without libglvnd the variable
//! means nothing and nothing changes.
//!
//! Not done on Wayland (untested there), when the user chose EGL vendors themselves, or when
//! `HEADROOM_DESKTOP_WINDOW_GL=1` asks to keep GL in the window process.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_void};

/// Set to `1` to keep EGL (and the GPU driver) in the window's process.
pub const KEEP_ENV: &str = "HEADROOM_DESKTOP_WINDOW_GL";
const VENDOR_FILES: &str = "__EGL_VENDOR_LIBRARY_FILENAMES";
const VENDOR_DIRS: &str = "__EGL_VENDOR_LIBRARY_DIRS";
/// A file that exists and names no EGL vendor (libglvnd skips what it cannot parse).
const NO_VENDOR: &str = "/dev/null";
const EGL_EXTENSIONS: i32 = 0x3055;

/// Should this process's EGL be left without a vendor? Pure, over the environment's values.
fn wanted(get: impl Fn(&str) -> Option<String>) -> bool {
    let set = |k: &str| get(k).is_some_and(|v| !v.is_empty());
    let x11 = !set("WAYLAND_DISPLAY") || get("GDK_BACKEND").as_deref() == Some("x11");
    x11 && set("DISPLAY")
        && !set(VENDOR_FILES)
        && !set(VENDOR_DIRS)
        && get(KEEP_ENV).as_deref() != Some("1")
}

/// Leave this process's EGL without a vendor when that is safe (see the module docs). Call it
/// first thing in a process that will show a web view, before it starts any thread: it sets and
/// removes an environment variable.
pub fn keep_out_of_this_process() {
    if !wanted(|k| std::env::var(k).ok()) {
        return;
    }
    std::env::set_var(VENDOR_FILES, NO_VENDOR);
    read_vendor_list();
    std::env::remove_var(VENDOR_FILES);
}

/// Make libEGL read its vendor list now (nothing happens without a libEGL to ask).
fn read_vendor_list() {
    type QueryString = unsafe extern "C" fn(*mut c_void, i32) -> *const c_char;
    // SAFETY: libEGL.so.1 is the system's EGL (WebKitGTK links it, so it is already loaded and
    // this only takes a reference). `eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS)` is valid
    // before any display exists (EGL 1.5, EGL_EXT_client_extensions) and has no side effect
    // besides loading the vendor list; its result is not read. The library is never unloaded,
    // so the list it read stays in place for WebKit.
    unsafe {
        let Ok(lib) = libloading::Library::new("libEGL.so.1") else {
            return;
        };
        if let Ok(query) = lib.get::<QueryString>(b"eglQueryString\0") {
            query(std::ptr::null_mut(), EGL_EXTENSIONS);
        }
        std::mem::forget(lib);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn an_x11_session_gets_a_window_process_without_gl() {
        assert!(wanted(env(&[("DISPLAY", ":0")])));
        assert!(wanted(env(&[
            ("DISPLAY", ":0"),
            ("WAYLAND_DISPLAY", "wayland-0"),
            ("GDK_BACKEND", "x11")
        ])));
    }

    #[test]
    fn wayland_the_users_own_vendors_and_the_opt_out_are_left_alone() {
        assert!(!wanted(env(&[
            ("DISPLAY", ":0"),
            ("WAYLAND_DISPLAY", "wayland-0")
        ])));
        assert!(!wanted(env(&[])));
        assert!(!wanted(env(&[
            ("DISPLAY", ":0"),
            (VENDOR_FILES, "/x/10_nvidia.json")
        ])));
        assert!(!wanted(env(&[("DISPLAY", ":0"), (VENDOR_DIRS, "/x")])));
        assert!(!wanted(env(&[("DISPLAY", ":0"), (KEEP_ENV, "1")])));
        assert!(wanted(env(&[("DISPLAY", ":0"), (KEEP_ENV, "0")])));
    }
}
