//! How failures reach the user: `error:` then `Caused by:` lines then `hint:` lines on stderr,
//! and an exit code that tells scripts whether the user can act on it (1) or not (2).

use std::fmt;
use std::process::ExitCode;

/// A failure the user caused and can fix (bad flag value, port taken, unparseable config…).
/// Exit code 1. Attach it with [`user_error`]; anything else is unexpected (exit code 2).
#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// Build a user-caused error with an optional hint.
pub fn user_error(message: impl Into<String>, hint: Option<&str>) -> anyhow::Error {
    anyhow::Error::new(UserError {
        message: message.into(),
        hint: hint.map(str::to_owned),
    })
}

/// Print `err` with its causes and hints and return the exit code it deserves.
pub fn report(err: &anyhow::Error) -> ExitCode {
    eprintln!("{}", render(err));
    ExitCode::from(exit_code(err))
}

/// 1 when any error in the chain is a [`UserError`], else 2.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|e| e.downcast_ref::<UserError>().is_some()) {
        1
    } else {
        2
    }
}

/// The text [`report`] prints, without a trailing newline.
pub fn render(err: &anyhow::Error) -> String {
    let mut out = format!("error: {err}");
    let mut hints: Vec<String> = Vec::new();
    for (depth, cause) in err.chain().enumerate() {
        if depth > 0 {
            out.push_str(&format!("\n  Caused by: {cause}"));
        }
        if let Some(hint) = cause
            .downcast_ref::<UserError>()
            .and_then(|u| u.hint.as_ref())
        {
            if !hints.contains(hint) {
                hints.push(hint.clone());
            }
        }
    }
    for hint in hints {
        out.push_str(&format!("\nhint: {hint}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn user_errors_exit_1_and_show_hint() {
        let err = Err::<(), _>(user_error("port 8787 is in use", Some("pass --port")))
            .context("cannot start the proxy")
            .unwrap_err();
        assert_eq!(exit_code(&err), 1);
        assert_eq!(
            render(&err),
            "error: cannot start the proxy\n  Caused by: port 8787 is in use\nhint: pass --port"
        );
    }

    #[test]
    fn other_errors_exit_2() {
        let err = anyhow::anyhow!("boom");
        assert_eq!(exit_code(&err), 2);
        assert_eq!(render(&err), "error: boom");
    }
}
