//! Tauri commands: the only way the UI talks to the backend (no HTTP control API). Each is a
//! thin call into the [`Controller`]; errors reach the UI as `{code, message}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use tauri::State;

use crate::cli_shim;
use crate::controller::{
    CommandError, Controller, InstallPreview, PlanView, Status, ToolView, Verify,
};
use crate::installed::Deployment;
use crate::settings::Settings;
use headroom_install::targets::Tool;
use headroom_install::Scope;

type Ctl<'a> = State<'a, Arc<Controller>>;
type Res<T> = Result<T, CommandError>;

// Long-running work (probes, proxy start/stop, file edits) runs off the main thread via
// `async` commands wrapping blocking calls.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Res<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| CommandError::new("internal", format!("background task failed: {e}")))
}

#[tauri::command]
pub async fn get_status(ctl: Ctl<'_>) -> Res<Status> {
    let c = ctl.inner().clone();
    blocking(move || c.status()).await
}

#[tauri::command]
pub async fn refresh_status(ctl: Ctl<'_>) -> Res<Status> {
    let c = ctl.inner().clone();
    blocking(move || c.tick()).await
}

#[tauri::command]
pub async fn proxy_action(ctl: Ctl<'_>, action: String) -> Res<Status> {
    let c = ctl.inner().clone();
    match action.as_str() {
        "start" => blocking(move || c.start()).await,
        "stop" => blocking(move || c.stop()).await,
        "restart" => blocking(move || c.restart()).await,
        "repair" => blocking(move || c.repair()).await,
        "pause" => blocking(move || c.set_routing_paused(true)).await,
        "resume" => blocking(move || c.set_routing_paused(false)).await,
        other => Err(CommandError::new(
            "invalid",
            format!("unknown action `{other}`"),
        )),
    }
}

#[tauri::command]
pub async fn list_tools(ctl: Ctl<'_>) -> Res<Vec<ToolView>> {
    let c = ctl.inner().clone();
    blocking(move || c.tools()).await
}

#[tauri::command]
pub async fn preview_tool(ctl: Ctl<'_>, tool: String, scope: Option<Scope>) -> Res<PlanView> {
    let c = ctl.inner().clone();
    blocking(move || c.preview_tool(&tool, scope)).await?
}

#[tauri::command]
pub async fn preview_wiring(ctl: Ctl<'_>, desired: BTreeMap<Tool, Scope>) -> Res<PlanView> {
    let c = ctl.inner().clone();
    blocking(move || c.preview(desired)).await?
}

#[tauri::command]
pub async fn apply_pending(ctl: Ctl<'_>) -> Res<Status> {
    let c = ctl.inner().clone();
    blocking(move || c.apply_pending()).await?
}

#[tauri::command]
pub fn cancel_pending(ctl: Ctl<'_>) {
    ctl.cancel_pending();
}

#[tauri::command]
pub async fn undo_wiring(ctl: Ctl<'_>) -> Res<Status> {
    let c = ctl.inner().clone();
    blocking(move || c.undo()).await?
}

#[tauri::command]
pub fn get_settings(ctl: Ctl<'_>) -> Settings {
    ctl.settings()
}

#[tauri::command]
pub async fn save_settings(ctl: Ctl<'_>, settings: Settings) -> Res<Status> {
    let c = ctl.inner().clone();
    blocking(move || c.save_settings(settings)).await?
}

#[tauri::command]
pub async fn set_autostart(ctl: Ctl<'_>, enabled: bool) -> Res<Status> {
    let c = ctl.inner().clone();
    blocking(move || c.set_autostart(enabled)).await?
}

#[tauri::command]
pub fn finish_wizard(ctl: Ctl<'_>, done: bool) -> Res<()> {
    ctl.set_wizard_done(done)
}

#[tauri::command]
pub async fn verify(ctl: Ctl<'_>) -> Res<Verify> {
    let c = ctl.inner().clone();
    blocking(move || c.verify()).await
}

#[derive(Debug, Serialize)]
pub struct CliShim {
    #[serde(flatten)]
    status: cli_shim::ShimStatus,
}

pub(crate) fn shim_status(ctl: &Controller) -> Res<CliShim> {
    let env = ctl.env();
    let exe = crate::app_exe().map_err(|e| CommandError::new("io", e.to_string()))?;
    Ok(CliShim {
        status: cli_shim::status(&env.home, &exe, env.var("PATH")),
    })
}

#[tauri::command]
pub fn cli_shim_status(ctl: Ctl<'_>) -> Res<CliShim> {
    shim_status(&ctl)
}

#[tauri::command]
pub fn cli_shim_set(ctl: Ctl<'_>, installed: bool) -> Res<CliShim> {
    shim_set(&ctl, installed)
}

pub(crate) fn shim_set(ctl: &Controller, installed: bool) -> Res<CliShim> {
    let env = ctl.env();
    let exe = crate::app_exe().map_err(|e| CommandError::new("io", e.to_string()))?;
    let r = if installed {
        cli_shim::install(&env.home, &exe)
    } else {
        cli_shim::remove(&env.home, &exe)
    };
    r.map_err(|m| CommandError::new("io", m))?;
    shim_status(ctl)
}

#[tauri::command]
pub async fn list_deployments(ctl: Ctl<'_>) -> Res<Vec<Deployment>> {
    let c = ctl.inner().clone();
    blocking(move || c.deployments()).await
}

#[tauri::command]
pub async fn install_options(ctl: Ctl<'_>) -> Res<Vec<crate::controller::InstallOption>> {
    let c = ctl.inner().clone();
    blocking(move || c.install_options()).await
}

#[tauri::command]
pub async fn preview_install(ctl: Ctl<'_>, preset: String) -> Res<InstallPreview> {
    let c = ctl.inner().clone();
    blocking(move || c.preview_install(&preset)).await?
}

#[tauri::command]
pub async fn apply_install(ctl: Ctl<'_>) -> Res<Status> {
    let c = ctl.inner().clone();
    blocking(move || c.apply_install()).await?
}

#[tauri::command]
pub async fn control_installed(ctl: Ctl<'_>, profile: String, action: String) -> Res<Status> {
    let c = ctl.inner().clone();
    blocking(move || c.control_installed(&profile, &action)).await?
}
