//! The bundled `headroom` command-line tool: the app binary answers to the name `headroom`, so
//! Settings can put a `~/.local/bin/headroom` symlink to it (and take it away again).

use std::path::{Path, PathBuf};

use serde::Serialize;

/// True when the process was started under the name `headroom` (e.g. through the symlink).
pub fn invoked_as_cli(argv0: &std::ffi::OsStr) -> bool {
    Path::new(argv0)
        .file_stem()
        .is_some_and(|n| n == "headroom")
}

/// Should this process run as the CLI? Yes when started as `headroom`, or when the first
/// argument is one of the CLI's commands (`wrap-proxy`, `install`, `proxy`, ...): the app's own
/// arguments are flags, never a bare word.
pub fn is_cli_invocation(args: &[std::ffi::OsString]) -> bool {
    let Some(argv0) = args.first() else {
        return false;
    };
    invoked_as_cli(argv0)
        || args
            .get(1)
            .and_then(|a| a.to_str())
            .is_some_and(headroom_cli::is_command)
}

#[derive(Debug, Clone, Serialize)]
pub struct ShimStatus {
    pub installed: bool,
    pub path: String,
    pub target: Option<String>,
    /// A hint when the folder is not on `PATH`.
    pub hint: Option<String>,
}

pub fn link_path(home: &Path) -> PathBuf {
    home.join(".local/bin").join(if cfg!(windows) {
        "headroom.exe"
    } else {
        "headroom"
    })
}

fn on_path(dir: &Path, path_var: Option<&str>) -> bool {
    path_var.is_some_and(|p| std::env::split_paths(p).any(|d| d == dir))
}

pub fn status(home: &Path, exe: &Path, path_var: Option<&str>) -> ShimStatus {
    let link = link_path(home);
    let target = std::fs::read_link(&link).ok();
    let installed = target.as_deref() == Some(exe);
    let dir = link.parent().map(Path::to_path_buf).unwrap_or_default();
    let hint = (!on_path(&dir, path_var)).then(|| {
        if cfg!(windows) {
            format!("{} is not on your PATH: add it to your user PATH in System Settings → Environment Variables", dir.display())
        } else {
            format!("{} is not on your PATH: add `export PATH=\"$HOME/.local/bin:$PATH\"` to your shell profile", dir.display())
        }
    });
    ShimStatus {
        installed,
        path: link.display().to_string(),
        target: target.map(|t| t.display().to_string()),
        hint,
    }
}

/// Create the symlink (refusing to replace a file that is not ours).
pub fn install(home: &Path, exe: &Path) -> Result<(), String> {
    let link = link_path(home);
    if let Ok(meta) = std::fs::symlink_metadata(&link) {
        let ours =
            meta.file_type().is_symlink() && std::fs::read_link(&link).ok().as_deref() == Some(exe);
        if ours {
            return Ok(());
        }
        if !meta.file_type().is_symlink() {
            return Err(format!(
                "{} already exists and is not Headroom's link; remove it first",
                link.display()
            ));
        }
        std::fs::remove_file(&link)
            .map_err(|e| format!("cannot replace {}: {e}", link.display()))?;
    }
    if let Some(dir) = link.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(exe, &link)
            .map_err(|e| format!("cannot create {}: {e}", link.display()))
    }
    #[cfg(not(unix))]
    {
        // A copy (symlinks need Developer Mode) could be neither recognised by `status` nor
        // taken back by `remove`, and a release build is a GUI-subsystem binary whose output
        // never reaches the console; so refuse rather than leave a file we cannot undo.
        let _ = exe;
        Err(format!(
            "cannot create {}: the app cannot act as the `headroom` command on Windows; install the standalone headroom.exe instead",
            link.display()
        ))
    }
}

/// Remove the link if it is ours.
pub fn remove(home: &Path, exe: &Path) -> Result<(), String> {
    let link = link_path(home);
    match std::fs::read_link(&link) {
        Ok(t) if t == exe => std::fs::remove_file(&link)
            .map_err(|e| format!("cannot remove {}: {e}", link.display())),
        Ok(_) => Err(format!(
            "{} points somewhere else; leaving it alone",
            link.display()
        )),
        Err(_) if !link.exists() => Ok(()),
        Err(_) => Err(format!(
            "{} is not Headroom's link; leaving it alone",
            link.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv0_detection() {
        assert!(invoked_as_cli("/home/u/.local/bin/headroom".as_ref()));
        assert!(invoked_as_cli("headroom".as_ref()));
        assert!(!invoked_as_cli("/usr/bin/headroom-desktop".as_ref()));
        let args = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert!(is_cli_invocation(&args(&[
            "/usr/bin/headroom-desktop",
            "wrap-proxy",
            "--port",
            "1"
        ])));
        assert!(is_cli_invocation(&args(&[
            "/opt/Headroom/headroom-desktop",
            "install",
            "agent",
            "run"
        ])));
        assert!(is_cli_invocation(&args(&["/home/u/.local/bin/headroom"])));
        assert!(!is_cli_invocation(&args(&["/usr/bin/headroom-desktop"])));
        assert!(!is_cli_invocation(&args(&[
            "/usr/bin/headroom-desktop",
            "--minimized"
        ])));
        assert!(!is_cli_invocation(&args(&[
            "/usr/bin/headroom-desktop",
            "--headroom-window"
        ])));
    }

    #[cfg(unix)]
    #[test]
    fn install_and_remove_symlink() {
        let home = tempfile::tempdir().unwrap();
        let exe = home.path().join("app");
        std::fs::write(&exe, "").unwrap();
        let s = status(home.path(), &exe, Some("/usr/bin"));
        assert!(!s.installed);
        assert!(s.hint.unwrap().contains("not on your PATH"));
        install(home.path(), &exe).unwrap();
        let dir = home.path().join(".local/bin");
        let s = status(
            home.path(),
            &exe,
            Some(&format!("/usr/bin:{}", dir.display())),
        );
        assert!(s.installed);
        assert!(s.hint.is_none());
        remove(home.path(), &exe).unwrap();
        assert!(!link_path(home.path()).exists());
        // A foreign file is never replaced nor removed.
        std::fs::write(link_path(home.path()), "mine").unwrap();
        assert!(install(home.path(), &exe).is_err());
        assert!(remove(home.path(), &exe).is_err());
        assert_eq!(
            std::fs::read_to_string(link_path(home.path())).unwrap(),
            "mine"
        );
    }
}
