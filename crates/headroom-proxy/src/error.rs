//! Errors [`crate::start`] can return. Per-request failures never surface here: they become
//! provider-shaped HTTP responses (see `reply`).

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something else already listens on the address (the CLI turns this into a hint).
    #[error("port {port} is already in use on {host}")]
    AddrInUse {
        host: String,
        port: u16,
        #[source]
        source: std::io::Error,
    },
    /// Binding failed for another reason (permission, unknown host name...).
    #[error("cannot listen on {host}:{port}")]
    Bind {
        host: String,
        port: u16,
        #[source]
        source: std::io::Error,
    },
    /// A configuration value is unusable (e.g. an upstream URL that is not http(s)).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
}

impl Error {
    pub(crate) fn from_bind(host: &str, port: u16, source: std::io::Error) -> Error {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            Error::AddrInUse {
                host: host.to_owned(),
                port,
                source,
            }
        } else {
            Error::Bind {
                host: host.to_owned(),
                port,
                source,
            }
        }
    }
}
