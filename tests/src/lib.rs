//! End-to-end tests that drive the real `headroom` binary live in `tests/*.rs` next to this
//! crate; this library only locates the built binaries.
