//! The vocabulary of a deployment (preset, runtime, supervisor, scope) and the manifest that
//! records one. The manifest is the single source of truth for `status`, `start/stop` and
//! `remove`: it stores everything needed to undo each edit exactly.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// Bumped when the manifest layout changes incompatibly. Older binaries refuse newer manifests.
pub const SCHEMA_VERSION: u32 = 1;

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident, $what:literal, { $($var:ident => $s:literal),+ $(,)? } $(, aliases { $($alias:literal => $avar:ident),* })?) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $s)] $var),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            pub fn as_str(self) -> &'static str { match self { $($name::$var => $s),+ } }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                let lower = s.to_ascii_lowercase();
                $($(if lower == $alias { return Ok($name::$avar); })*)?
                $name::ALL.iter().copied().find(|v| v.as_str() == lower).ok_or_else(|| {
                    let valid: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    Error::usage(format!("unknown {} `{}`", $what, s), Some(&format!("valid values: {}", valid.join(", "))))
                })
            }
        }
    };
}

named_enum!(
    /// What stays running and how it is kept alive.
    Preset, "preset", {
    Service => "persistent-service",
    Task => "persistent-task",
    Docker => "persistent-docker",
});
named_enum!(
    /// What runs the proxy. `python` is accepted for scripts written for the Python tool.
    RuntimeKind, "runtime", {
    Native => "native",
    Docker => "docker",
}, aliases { "python" => Native });
named_enum!(
    /// How the OS keeps the runtime alive: a service, a scheduled watchdog, or nothing (docker).
    SupervisorKind, "supervisor", {
    Service => "service",
    Task => "task",
    None => "none",
});
named_enum!(
    /// Where tool wiring goes: tools' own config files, the user's shell env, or the system env.
    Scope, "scope", {
    Provider => "provider",
    User => "user",
    System => "system",
});
named_enum!(
    /// How targets are chosen.
    ProviderMode, "providers mode", {
    Auto => "auto",
    All => "all",
    Manual => "manual",
});

impl Preset {
    pub fn supervisor(self) -> SupervisorKind {
        match self {
            Preset::Service => SupervisorKind::Service,
            Preset::Task => SupervisorKind::Task,
            Preset::Docker => SupervisorKind::None,
        }
    }
}

/// What we need to undo one file write exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// The file actually written (symlinks resolved).
    pub resolved_path: String,
    pub existed: bool,
    /// Exact previous content (UTF-8), when the file existed.
    pub previous: Option<String>,
    pub previous_mode: Option<u32>,
    /// sha256 of the bytes we wrote: unchanged since → restore `previous` byte for byte.
    pub written_sha256: String,
    /// Directories we had to create for it, outermost first.
    pub created_dirs: Vec<String>,
}

/// A reversible edit of something the user owns (a config file, an env variable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mutation {
    /// `env` or a tool name.
    pub target: String,
    /// `shell-block`, `json-env`, `toml-block`, `json-block`, `windows-env`.
    pub kind: String,
    pub path: Option<String>,
    pub file: Option<FileRecord>,
    /// How to undo semantically when the user edited the file since (see `edits::Edit`).
    pub data: serde_json::Value,
}

/// Something we created: a rendered file (unit, plist, task XML) or an OS registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// `systemd-unit`, `systemd-timer`, `crontab`, `launchd-plist`, `windows-task`,
    /// `docker-container`, `registration`.
    pub kind: String,
    pub path: String,
    pub file: Option<FileRecord>,
    pub metadata: serde_json::Value,
}

/// Where a profile stands. The manifest doubles as the write-ahead journal of `apply` and
/// `remove`: it is written durably, with every undo record, before the first tool file, unit,
/// crontab or container changes (`applying`), and marked `installed` only when everything is
/// in place. A process killed half-way therefore always leaves a manifest that `remove` (or a
/// new `apply`, which first undoes it) can act on; undo is idempotent because each record is
/// compared with the file's current bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ManifestState {
    /// Fully applied.
    #[default]
    Installed,
    /// An `apply` started and did not finish (killed, or its rollback was incomplete).
    Applying,
    /// A `remove` started and did not finish, or could not undo everything still listed.
    Removing,
}

impl ManifestState {
    pub fn as_str(self) -> &'static str {
        match self {
            ManifestState::Installed => "installed",
            ManifestState::Applying => "applying (interrupted)",
            ManifestState::Removing => "removing (incomplete)",
        }
    }
}

/// `deploy/<profile>/manifest.json` (contract §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub version: String,
    pub profile: String,
    pub preset: Preset,
    pub runtime_kind: RuntimeKind,
    pub supervisor_kind: SupervisorKind,
    pub scope: Scope,
    pub provider_mode: ProviderMode,
    pub targets: Vec<String>,
    pub port: u16,
    pub host: String,
    pub image: String,
    pub service_name: String,
    pub container_name: String,
    pub health_url: String,
    pub base_env: BTreeMap<String, String>,
    pub tool_envs: BTreeMap<String, BTreeMap<String, String>>,
    pub proxy_args: Vec<String>,
    pub mutations: Vec<Mutation>,
    pub artifacts: Vec<Artifact>,
    /// Headroom state directories this profile created (removed when empty).
    #[serde(default)]
    pub state_dirs_created: Vec<String>,
    /// Absent in manifests written before the journal existed: those are complete.
    #[serde(default)]
    pub state: ManifestState,
    /// `install stop` took the tool wiring out (fail-open: tools talk to their providers
    /// directly while the proxy is down); `install start` puts it back. While paused, each
    /// mutation keeps its edit (`data`, to re-apply) but no `file` record: nothing of it is
    /// on disk. Absent (false) in manifests written before stop unwired.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wiring_paused: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl Manifest {
    /// The settings that define the deployment (everything but records and times); equal
    /// settings mean a second `apply` has nothing to do.
    pub fn same_settings(&self, other: &Manifest) -> bool {
        self.state == ManifestState::Installed
            && other.state == ManifestState::Installed
            && self.profile == other.profile
            && self.preset == other.preset
            && self.runtime_kind == other.runtime_kind
            && self.scope == other.scope
            && self.targets == other.targets
            && self.port == other.port
            && self.image == other.image
            && self.base_env == other.base_env
    }
}

/// `^[A-Za-z0-9._-]+$`, not `.` or `..`, at most 64 characters.
pub fn validate_profile(profile: &str) -> Result<()> {
    let ok = !profile.is_empty()
        && profile.len() <= 64
        && profile != "."
        && profile != ".."
        && profile
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::usage(
            format!("invalid profile name `{profile}`"),
            Some("use letters, digits, `.`, `_` and `-` only (e.g. `default`, `work-2`)"),
        ))
    }
}

/// Read a manifest. `Ok(None)` when absent; corrupt or newer manifests are clear errors.
pub fn load(path: &Path, profile: &str) -> Result<Option<Manifest>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read the manifest", path, &e)),
    };
    let corrupt = |why: String| {
        Error::user(
            format!(
                "deployment profile `{profile}` is corrupt ({}): {why}",
                path.display()
            ),
            Some("fix or delete that file; `headroom install remove` cannot undo edits without it"),
        )
    };
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if crate::legacy::is_legacy(&value) {
        if let Some(l) = crate::legacy::find_in(&value, profile, path) {
            return Err(l.error());
        }
    }
    let schema = value
        .get("schema_version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| corrupt("missing `schema_version`".to_owned()))?;
    if schema > u64::from(SCHEMA_VERSION) {
        return Err(Error::user(
            format!(
                "deployment profile `{profile}` was written by a newer Headroom (manifest schema {schema}, this build reads up to {SCHEMA_VERSION})"
            ),
            Some("upgrade headroom, or use the newer binary to manage this profile"),
        ));
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| corrupt(e.to_string()))
}

/// Write a manifest atomically, readable by the user only.
pub fn save(path: &Path, manifest: &Manifest) -> Result<()> {
    let mut text = serde_json::to_string_pretty(manifest)
        .map_err(|e| Error::internal(format!("cannot serialise the manifest: {e}")))?;
    text.push('\n');
    crate::fsx::write_atomic(path, text.as_bytes(), Some(0o600))
}

/// Current time as ISO-8601 UTC with `Z`.
pub fn now_iso() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    now.format(&fmt).unwrap_or_default()
}

/// Whether an error means "not installed".
pub fn is_not_installed(err: &Error) -> bool {
    err.kind == ErrorKind::NotInstalled
}
