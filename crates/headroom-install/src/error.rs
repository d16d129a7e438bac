//! One error type for the whole engine. Callers need to know three things: whose fault it is
//! (so the CLI picks exit code 1 or 2), what to print, and what the user can do about it.

use std::fmt;

/// Whose fault a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad flag value or name (exit 2, like a clap usage error).
    Usage,
    /// Something the user can fix: unparseable config, port taken, docker missing… (exit 1).
    User,
    /// Not installed (status exits 2; other commands exit 1).
    NotInstalled,
    /// Unexpected: I/O failures we cannot explain, bugs (exit 2).
    Internal,
}

/// An engine failure with a message that names the thing and the cause, and an optional hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    pub fn usage(message: impl Into<String>, hint: Option<&str>) -> Self {
        Self::new(ErrorKind::Usage, message, hint)
    }
    pub fn user(message: impl Into<String>, hint: Option<&str>) -> Self {
        Self::new(ErrorKind::User, message, hint)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message, None)
    }
    pub fn new(kind: ErrorKind, message: impl Into<String>, hint: Option<&str>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }
    /// An I/O failure on `path` while doing `what`. Permission problems are the user's to fix.
    pub fn io(what: &str, path: &std::path::Path, err: &std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                ErrorKind::User
            }
            _ => ErrorKind::Internal,
        };
        let hint = (kind == ErrorKind::User)
            .then_some("check the file's permissions, or run as a user who may write it");
        Error::new(
            kind,
            format!("cannot {what} {}: {err}", path.display()),
            hint,
        )
    }
    /// Prefix the message with more context.
    pub fn context(mut self, ctx: impl fmt::Display) -> Self {
        self.message = format!("{ctx}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
