//! A throw-away home directory for tests that run code touching `~` (install, wrap, desktop).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A temp dir laid out like a home: `HOME` plus the XDG base dirs (and the Windows equivalents)
/// all point inside it. Removed on drop.
///
/// Apply it to child processes with [`FakeHome::apply`] or pass [`FakeHome::env`] to code that
/// takes an explicit environment. It never modifies the test process's own environment.
#[derive(Debug)]
pub struct FakeHome {
    dir: tempfile::TempDir,
}

impl FakeHome {
    pub fn new() -> FakeHome {
        let dir = tempfile::Builder::new()
            .prefix("headroom-home-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temp home: {e}"));
        let home = FakeHome { dir };
        for sub in [
            ".config",
            ".local/share",
            ".local/state",
            ".cache",
            "AppData/Roaming",
            "AppData/Local",
        ] {
            std::fs::create_dir_all(home.path().join(sub))
                .unwrap_or_else(|e| panic!("cannot create {sub} in the temp home: {e}"));
        }
        home
    }

    /// The home directory itself.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `path().join(rel)`.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The variables that make a process believe this is its home.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        let p = |rel: &str| self.join(rel).into_os_string();
        vec![
            ("HOME", self.path().as_os_str().to_owned()),
            ("USERPROFILE", self.path().as_os_str().to_owned()),
            ("XDG_CONFIG_HOME", p(".config")),
            ("XDG_DATA_HOME", p(".local/share")),
            ("XDG_STATE_HOME", p(".local/state")),
            ("XDG_CACHE_HOME", p(".cache")),
            ("APPDATA", p("AppData/Roaming")),
            ("LOCALAPPDATA", p("AppData/Local")),
            ("HEADROOM_WORKSPACE_DIR", p(".headroom")),
        ]
    }

    /// Set [`FakeHome::env`] on `cmd` (and drop `CODEX_HOME`, `ZDOTDIR`, which would escape it).
    pub fn apply<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env_remove("CODEX_HOME").env_remove("ZDOTDIR");
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd
    }
}

impl Default for FakeHome {
    fn default() -> Self {
        FakeHome::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_home_layout_and_env() {
        let home = FakeHome::new();
        assert!(home.join(".config").is_dir());
        let env = home.env();
        assert!(env
            .iter()
            .any(|(k, v)| *k == "HOME" && v == home.path().as_os_str()));
        let out = home
            .apply(Command::new("sh").args(["-c", "printf %s \"$HOME\""]))
            .output();
        if let Ok(out) = out {
            assert_eq!(out.stdout, home.path().as_os_str().as_encoded_bytes());
        }
        let path = home.path().to_owned();
        drop(home);
        assert!(!path.exists());
    }
}
