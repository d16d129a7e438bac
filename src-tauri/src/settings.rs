//! Where the app keeps its state, and the user's settings.
//!
//! Everything lives under Headroom's workspace (`$HEADROOM_WORKSPACE_DIR`, else `~/.headroom`) in
//! `desktop/`, next to the install engine's `deploy/`, so one folder holds all of Headroom's
//! state and tests redirect all of it with one variable plus a fake `HOME`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const DEFAULT_PORT: u16 = 8787;
pub const DEFAULT_ANTHROPIC_URL: &str = "https://api.anthropic.com";
pub const DEFAULT_OPENAI_URL: &str = "https://api.openai.com";

/// The environment the app was started in, captured once so tests can inject their own.
#[derive(Debug, Clone)]
pub struct Env {
    pub home: PathBuf,
    pub workspace: PathBuf,
    /// `HEADROOM_PORT`, which overrides the saved port for this run.
    pub port_override: Option<u16>,
    /// Extra variables the wiring layer honours (`CODEX_HOME`, `CLAUDE_CONFIG_DIR`, ...).
    pub vars: std::collections::BTreeMap<String, String>,
}

impl Env {
    /// Read the process environment.
    pub fn from_process() -> Env {
        let home = std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let workspace = std::env::var_os("HEADROOM_WORKSPACE_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".headroom"));
        let port_override = std::env::var("HEADROOM_PORT")
            .ok()
            .and_then(|p| p.trim().parse().ok());
        let vars = [
            "CODEX_HOME",
            "CLAUDE_CONFIG_DIR",
            "OPENCODE_CONFIG",
            "PATH",
            "SHELL",
        ]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect();
        Env {
            home,
            workspace,
            port_override,
            vars,
        }
    }

    /// An environment rooted in `home` (tests).
    pub fn for_home(home: &Path) -> Env {
        Env {
            home: home.to_path_buf(),
            workspace: home.join(".headroom"),
            port_override: None,
            vars: Default::default(),
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.workspace.join("desktop")
    }

    /// The savings ledger every Headroom on this workspace shares (`None` when
    /// `HEADROOM_LEDGER` turns it off), so the app's totals and the CLI's are the same.
    pub fn ledger_dir(&self) -> Option<PathBuf> {
        let off = self.var(headroom_protocol::env::LEDGER).is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "0" | "off" | "false" | "no"
            )
        });
        (!off).then(|| self.workspace.join("savings"))
    }

    pub fn var(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// User settings, persisted as `desktop/settings.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub port: u16,
    pub anthropic_url: String,
    pub openai_url: String,
    pub notifications: bool,
    /// The first-run wizard finished (or was skipped) once.
    pub wizard_done: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            port: DEFAULT_PORT,
            anthropic_url: DEFAULT_ANTHROPIC_URL.to_owned(),
            openai_url: DEFAULT_OPENAI_URL.to_owned(),
            notifications: true,
            wizard_done: false,
        }
    }
}

impl Settings {
    pub fn path(env: &Env) -> PathBuf {
        env.state_dir().join("settings.json")
    }

    /// Load the settings; a missing file gives the defaults, an unreadable one an error.
    pub fn load(env: &Env) -> Result<Settings, StateError> {
        read_json(&Self::path(env)).map(Option::unwrap_or_default)
    }

    pub fn save(&self, env: &Env) -> Result<(), StateError> {
        write_json(&Self::path(env), self)
    }

    /// Validate settings coming from the UI.
    pub fn validate(&self) -> Result<(), String> {
        if self.port == 0 {
            return Err("the port must be between 1 and 65535".into());
        }
        for (name, url) in [
            ("Anthropic", &self.anthropic_url),
            ("OpenAI", &self.openai_url),
        ] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!(
                    "the {name} upstream URL must start with http:// or https://"
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("Failed to read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Failed to parse `{path}`: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("Failed to write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, StateError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StateError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Write JSON atomically, readable by the user only.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StateError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| StateError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    text.push('\n');
    atomic_write(path, text.as_bytes(), true).map_err(|source| StateError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Write `bytes` to `path` through a temporary file in the same folder and a rename, so a crash
/// never leaves a half-written file. A symlinked `path` stays a symlink: its target is written.
pub fn atomic_write(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let target = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(path)?,
        _ => path.to_path_buf(),
    };
    let dir = target.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir)?;
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file");
    let tmp = dir.join(format!(".{name}.headroom-tmp-{}", std::process::id()));
    {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    let perms = fs::metadata(&target).map(|m| m.permissions()).ok();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match (&perms, private) {
            (Some(p), _) => p.mode(),
            (None, true) => 0o600,
            (None, false) => 0o644,
        };
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    {
        let _ = (perms, private);
    }
    fs::rename(&tmp, &target).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_defaults() {
        let home = tempfile::tempdir().unwrap();
        let env = Env::for_home(home.path());
        assert_eq!(Settings::load(&env).unwrap(), Settings::default());
        let s = Settings {
            port: 9999,
            wizard_done: true,
            ..Settings::default()
        };
        s.save(&env).unwrap();
        assert_eq!(Settings::load(&env).unwrap(), s);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(Settings::path(&env))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn corrupt_settings_are_an_error_not_a_reset() {
        let home = tempfile::tempdir().unwrap();
        let env = Env::for_home(home.path());
        fs::create_dir_all(env.state_dir()).unwrap();
        fs::write(Settings::path(&env), "{not json").unwrap();
        let err = Settings::load(&env).unwrap_err().to_string();
        assert!(err.contains("settings.json"), "{err}");
    }

    #[test]
    fn validate_rejects_bad_urls_and_port_zero() {
        let mut s = Settings::default();
        assert!(s.validate().is_ok());
        s.anthropic_url = "ftp://x".into();
        assert!(s.validate().unwrap_err().contains("Anthropic"));
        s = Settings {
            port: 0,
            ..Settings::default()
        };
        assert!(s.validate().is_err());
    }

    #[cfg(unix)]
    #[test]
    fn atomic_write_keeps_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        let link = dir.path().join("link.json");
        fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        atomic_write(&link, b"new", false).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
    }
}
