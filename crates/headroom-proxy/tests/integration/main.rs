//! Integration tests: a real proxy on `127.0.0.1:0` in front of real loopback mock upstreams.
//! One test binary (several modules) keeps link time down on the 2-core CI machine.

mod common;
mod errors;
mod lifecycle;
mod ops;
mod routing;
mod streaming;
