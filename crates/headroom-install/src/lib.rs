//! The install engine: turns "keep Headroom running and wire my tools to it" into a plan of
//! reversible edits and supervisor artefacts, applies it as a transaction, and undoes it.
//!
//! The same API serves the CLI (`headroom install …`) and the desktop app:
//!
//! ```no_run
//! use headroom_install::{Environment, Request, Scope, ProviderMode, targets::Tool};
//! # fn main() -> Result<(), headroom_install::Error> {
//! static CANCEL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
//! let env = Environment::from_process(&CANCEL);
//! let tools = headroom_install::detect_tools(&env);          // binary, config, current wiring
//! let req = Request { scope: Scope::Provider, providers: ProviderMode::Manual,
//!                     targets: vec![Tool::Claude], ..Request::default() };
//! let plan = headroom_install::plan(&env, &req)?;            // changes nothing
//! println!("{}", plan.render_diff());                        // unified diffs + commands
//! let report = headroom_install::apply(&env, &plan)?;        // transaction; rolls back on error
//! let status = headroom_install::status(&env, "default")?;   // running / ready / version …
//! let undo = headroom_install::remove(&env, "default")?;     // restores files byte for byte
//! # let _ = (tools, report, status, undo); Ok(()) }
//! ```
//!
//! Everything machine-specific comes from [`Environment`] (HOME, workspace dir, PATH, OS, uid,
//! root prefix for system files, systemd availability, the [`CommandRunner`]), so tests run the
//! real engine on a fake HOME with a [`RecordingRunner`].

pub mod agent;
pub mod edits;
pub mod engine;
pub mod env;
pub mod error;
pub mod fsx;
pub mod health;
/// The loopback client lives with the documents it fetches (`headroom-protocol`).
pub use headroom_protocol::http;
pub mod jsonc;
pub mod legacy;
pub mod model;
pub mod plan;
pub mod render;
pub mod runner;
pub mod supervisor;
pub mod sys;
pub mod targets;
pub mod wiring;

pub use engine::{
    apply, remove, restart, start, start_with, status, stop, stop_with, ApplyReport,
    LifecycleReport, ProfileLock, RemoveReport, Status,
};
pub use env::{Environment, OsKind};
pub use error::{Error, ErrorKind, Result};
pub use model::{
    Manifest, ManifestState, Preset, ProviderMode, RuntimeKind, Scope, SupervisorKind,
};
pub use plan::{detect_tools, list_profiles, plan, FileChange, Plan, Request, ToolInfo};
pub use runner::{Cmd, CmdOutput, CommandRunner, RecordingRunner, SystemRunner};
