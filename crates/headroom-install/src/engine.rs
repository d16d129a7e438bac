//! Executing plans: the apply transaction (with rollback on any failure or Ctrl-C), the
//! lifecycle commands, status, and a `remove` that keeps going past individual failures.
//!
//! A rollback needs a live process; a `kill -9` does not leave one. So the manifest is also a
//! write-ahead journal (see [`model::ManifestState`]): `apply` records every change and the
//! bytes to undo it, durably, before making any, and marks the profile installed last; `remove`
//! deletes the manifest last and, when something could not be undone, rewrites it listing only
//! that. Every undo compares the record with the file's current bytes, so running it again
//! after a kill is safe.
//!
//! `stop` is fail-open: a tool wired to a stopped proxy cannot reach its API at all, so stop
//! takes the wiring out (the same undo as `remove`) and `start` puts it back (the same
//! [`Edit::apply`] as `apply`, with fresh records) once the proxy answers. Both journal first:
//! the manifest is marked `wiring_paused` with every record intact before a file changes, and
//! the records are dropped (stop) or marked wired (start) only after every file is done.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::edits::Edit;
use crate::env::Environment;
use crate::error::{Error, ErrorKind, Result};
use crate::fsx;
use crate::model::{self, Artifact, FileRecord, Manifest, Mutation, Preset, RuntimeKind};
use crate::plan::{self, EnvVarChange, Plan};
use crate::runner::Cmd;
use crate::supervisor::{self, Op, Spec};

fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(windows)]
    {
        // No sharing: a second opener fails with a sharing violation, which is the lock.
        use std::os::windows::fs::OpenOptionsExt;
        opts.share_mode(0);
    }
    opts.open(path)
}

/// Whether `file` (opened from `path`) is still the file at `path`: a holder that finished
/// with the profile gone deletes the lock file, so a waiter may have locked an unlinked one.
fn still_linked(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

/// Held while a profile is being changed; concurrent `apply`/`remove`/`stop`/`ensure` on one
/// profile serialise on it. Dropped with no manifest left (nothing installed), it deletes the
/// lock file and the state directories it created, so a refused or undone command leaves HOME
/// as it found it.
pub struct ProfileLock {
    _file: File,
    path: PathBuf,
    manifest: PathBuf,
    /// State directories that did not exist before this lock was taken, outermost first.
    created_dirs: Vec<PathBuf>,
}

impl ProfileLock {
    fn path(env: &Environment, profile: &str) -> PathBuf {
        env.deploy_root().join(format!(".{profile}.lock"))
    }

    /// Wait up to `timeout` for the lock (`None` = do not wait). `Ok(None)` when busy.
    pub fn acquire(
        env: &Environment,
        profile: &str,
        timeout: Option<Duration>,
    ) -> Result<Option<Self>> {
        model::validate_profile(profile)?;
        let path = Self::path(env, profile);
        let root = env.deploy_root();
        let created_dirs = fsx::missing_dirs(&root);
        let deadline = Instant::now() + timeout.unwrap_or_default();
        loop {
            // A concurrent `remove` may delete the (empty) state directories at any moment.
            fsx::create_dir_private(&root)?;
            match open_lock_file(&path) {
                Ok(file) => {
                    if crate::sys::lock_file(&file, false)
                        .map_err(|e| Error::io("lock", &path, &e))?
                    {
                        if still_linked(&file, &path) {
                            return Ok(Some(ProfileLock {
                                _file: file,
                                path,
                                manifest: env.manifest_path(profile),
                                created_dirs,
                            }));
                        }
                        continue;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) if crate::sys::is_lock_busy(&e) => {}
                Err(e) => return Err(Error::io("open the lock file", &path, &e)),
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait (up to 10 minutes: an apply can wait 45 s for readiness, then roll back) for the
    /// lock; fail clearly if it never comes.
    pub fn acquire_or_fail(env: &Environment, profile: &str) -> Result<Self> {
        Self::acquire(env, profile, Some(Duration::from_secs(600)))?.ok_or_else(|| {
            Error::user(
                format!(
                    "another `headroom install` command is still working on profile `{profile}`"
                ),
                Some("wait for it to finish, then retry"),
            )
        })
    }

    /// State directories this lock created (an `apply` records them to remove later).
    pub fn created_dirs(&self) -> &[PathBuf] {
        &self.created_dirs
    }

    /// Also remove these (empty) directories on release when the profile is gone.
    fn also_remove(&mut self, dirs: &[PathBuf]) {
        for d in dirs {
            if !self.created_dirs.contains(d) {
                self.created_dirs.push(d.clone());
            }
        }
        self.created_dirs.sort_by_key(|d| d.components().count());
    }
}

impl Drop for ProfileLock {
    fn drop(&mut self) {
        if !self.manifest.exists() {
            // Profile dir left empty by an undone apply or a completed remove: the lock file
            // goes first, or the directory holding it is never empty.
            let _ = std::fs::remove_file(&self.path);
            if let Some(dir) = self.manifest.parent() {
                let _ = std::fs::remove_dir(dir);
            }
            fsx::remove_empty_dirs(&self.created_dirs);
        }
    }
}

/// Test hook for the kill-9 tests (see [`Environment::test_crash_at`]): a numbered point
/// between two durable steps. Free outside tests (two loads of plain fields).
pub(crate) fn crash_point(env: &Environment, _label: &str) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static REACHED: AtomicU32 = AtomicU32::new(0);
    if !env.test_step_delay.is_zero() {
        std::thread::sleep(env.test_step_delay);
    }
    if let Some(n) = env.test_crash_at {
        if REACHED.fetch_add(1, Ordering::SeqCst) + 1 == n {
            crate::sys::kill_self_hard();
        }
    }
}

/// What `apply` did.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub profile: String,
    pub changed: bool,
    pub files: Vec<String>,
    pub health_url: String,
    pub notes: Vec<String>,
}

/// One step of a transaction to take back if a later step fails.
pub(crate) enum Undo {
    File {
        resolved: PathBuf,
        before: Option<String>,
        mode: Option<u32>,
        created_dirs: Vec<PathBuf>,
    },
    EnvVar(EnvVarChange),
    Ops(Vec<Op>),
    /// The journal (manifest) of this apply, and the profile directory when we created it.
    Journal {
        manifest: PathBuf,
        profile_dir: Option<PathBuf>,
    },
    Runtime(Box<Manifest>),
}

/// Run one operation. Failures of lenient steps are ignored.
pub fn run_op(env: &Environment, op: &Op) -> Result<()> {
    match op {
        Op::Run(step) => match env.runner.run(&step.cmd) {
            Ok(out) if out.success() || step.ignore_failure => Ok(()),
            Ok(out) => Err(Error::user(
                format!(
                    "`{}` failed (exit {}): {}",
                    step.cmd.display(),
                    out.code
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "signal".to_owned()),
                    out.stderr.trim()
                ),
                None,
            )),
            Err(_) if step.ignore_failure => Ok(()),
            Err(e) => Err(Error::user(
                format!("cannot run `{}`: {e}", step.cmd.program),
                Some("is it installed and on PATH?"),
            )),
        },
        Op::Crontab { marker, block } => {
            let current = match env.runner.run(&Cmd::new("crontab", ["-l"])) {
                Ok(out) if out.success() => out.stdout,
                Ok(out) if out.stderr.to_ascii_lowercase().contains("no crontab") => String::new(),
                Ok(out) => {
                    return Err(Error::user(
                        format!("`crontab -l` failed: {}", out.stderr.trim()),
                        None,
                    ))
                }
                Err(e) => {
                    return Err(Error::user(
                        format!("cannot run `crontab`: {e}"),
                        Some("install cron, or use a machine with systemd"),
                    ))
                }
            };
            let updated = supervisor::crontab_with_block(&current, marker, block.as_deref());
            if updated == current {
                return Ok(());
            }
            run_op(
                env,
                &Op::Run(supervisor::Step {
                    cmd: Cmd::new("crontab", ["-"]).with_stdin(updated),
                    ignore_failure: false,
                }),
            )
        }
    }
}

pub(crate) fn set_env_var(
    env: &Environment,
    name: &str,
    value: Option<&str>,
    scope: &str,
) -> Result<()> {
    let value = value
        .map(crate::render::ps_quote)
        .unwrap_or_else(|| "$null".to_owned());
    run_op(
        env,
        &Op::Run(supervisor::Step {
            cmd: plan::powershell(&format!(
                "[Environment]::SetEnvironmentVariable({}, {value}, '{scope}')",
                crate::render::ps_quote(name)
            )),
            ignore_failure: false,
        }),
    )
}

/// A Windows user/machine environment variable, `None` when unset or unreadable.
pub fn get_env_var(env: &Environment, name: &str, scope: &str) -> Option<String> {
    env.runner
        .run(&plan::powershell(&format!(
            "[Environment]::GetEnvironmentVariable({}, '{scope}')",
            crate::render::ps_quote(name)
        )))
        .ok()
        .filter(|o| o.success())
        .map(|o| o.stdout.trim_end_matches(['\r', '\n']).to_owned())
        .filter(|s| !s.is_empty())
}

fn check_cancel(env: &Environment) -> Result<()> {
    if env.cancelled() {
        return Err(Error::user("interrupted", None));
    }
    Ok(())
}

/// Execute a plan as one transaction. On any failure (or Ctrl-C) every finished step is undone
/// in reverse order and the error says so. Takes the profile lock (waiting for a concurrent
/// command on the profile to finish); see [`apply_with_lock`].
pub fn apply(env: &Environment, plan: &Plan) -> Result<ApplyReport> {
    if plan.up_to_date {
        return Ok(ApplyReport {
            profile: plan.manifest.profile.clone(),
            changed: false,
            files: Vec::new(),
            health_url: plan.manifest.health_url.clone(),
            notes: plan.notes.clone(),
        });
    }
    let lock = ProfileLock::acquire_or_fail(env, &plan.manifest.profile)?;
    apply_with_lock(env, plan, lock)
}

/// [`apply`] for a caller that already holds the profile's lock (the CLI takes it before
/// planning, so what it plans and checks — the port above all — cannot change underneath).
/// If the profile changed since `plan` was made, it is planned again under the lock: another
/// command that installed the same settings meanwhile makes this a truthful "nothing changed".
pub fn apply_with_lock(env: &Environment, plan: &Plan, lock: ProfileLock) -> Result<ApplyReport> {
    let profile = plan.manifest.profile.clone();
    if plan.request.take_over_python {
        if let Some(legacy) = crate::legacy::find(env, &profile) {
            // The Python deployment goes first (each step reported), then this one is planned
            // against the files as they are without it.
            let done = legacy.take_over(env)?;
            let mut request = plan.request.clone();
            request.take_over_python = false;
            let fresh = crate::plan::plan(env, &request)?;
            let mut report = apply_with_lock(env, &fresh, lock)?;
            let mut notes: Vec<String> = done
                .into_iter()
                .map(|d| format!("Python Headroom: {d}"))
                .collect();
            notes.append(&mut report.notes);
            report.notes = notes;
            report.changed = true;
            return Ok(report);
        }
    }
    let on_disk = model::load(&env.manifest_path(&profile), &profile)?;
    let expected = if plan.up_to_date {
        Some(&plan.manifest)
    } else {
        plan.replaces.as_ref()
    };
    let fresh;
    let plan = if on_disk.as_ref() != expected {
        fresh = crate::plan::plan(env, &plan.request)?;
        &fresh
    } else {
        plan
    };
    if plan.up_to_date {
        let mut notes = plan.notes.clone();
        if on_disk.as_ref() != expected {
            notes.push(format!(
                "another command installed profile `{profile}` with these settings meanwhile"
            ));
        }
        return Ok(ApplyReport {
            profile,
            changed: false,
            files: Vec::new(),
            health_url: plan.manifest.health_url.clone(),
            notes,
        });
    }
    check_single_owner(env, plan)?;
    let state_dirs = lock.created_dirs().to_vec();
    match &plan.replaces {
        None => apply_locked(env, plan, &state_dirs),
        Some(old) => replace_locked(env, plan, old),
    }
    // `lock` drops here: with no manifest left (rolled back) it cleans up after itself.
}

/// One owner per tool file: refuse to edit a file another profile's manifest already records
/// an edit of (removing in the wrong order would leave the tool on a dead port).
pub(crate) fn check_single_owner(env: &Environment, plan: &Plan) -> Result<()> {
    let profile = &plan.manifest.profile;
    for other in plan::list_profiles(env) {
        if &other == profile {
            continue;
        }
        let Ok(Some(m)) = model::load(&env.manifest_path(&other), &other) else {
            continue;
        };
        for mu in &m.mutations {
            // A stopped profile's edits are off disk (no record) but come back on `start`.
            let owned = match (&mu.file, &mu.path) {
                (Some(rec), _) => PathBuf::from(&rec.resolved_path),
                (None, Some(path)) => {
                    fsx::resolve(Path::new(path)).unwrap_or_else(|_| PathBuf::from(path))
                }
                (None, None) => continue,
            };
            if let Some(f) = plan
                .files
                .iter()
                .find(|f| !f.artifact && f.resolved == owned)
            {
                return Err(Error::user(
                    format!(
                        "{} is already wired by deployment profile `{other}`; one profile per tool file",
                        f.path.display()
                    ),
                    Some(&format!(
                        "remove that profile first (`headroom install remove --profile {other}`), or change it instead of adding `{profile}` (`headroom install apply --profile {other} …`)"
                    )),
                ));
            }
        }
    }
    Ok(())
}

/// The transaction proper (the profile lock is held by the caller).
fn apply_locked(env: &Environment, plan: &Plan, state_dirs: &[PathBuf]) -> Result<ApplyReport> {
    let profile = plan.manifest.profile.clone();
    let mut report = ApplyReport {
        profile: profile.clone(),
        changed: false,
        files: Vec::new(),
        health_url: plan.manifest.health_url.clone(),
        notes: plan.notes.clone(),
    };
    let mut undo: Vec<Undo> = Vec::new();
    match apply_steps(env, plan, state_dirs, &mut undo, &mut report) {
        Ok(()) => {
            report.changed = true;
            Ok(report)
        }
        Err(err) => Err(roll_back(
            env,
            undo,
            err,
            format!("cannot install profile `{profile}`"),
        )),
    }
}

/// Change an installed profile's settings: undo the old deployment, then apply the new one
/// planned afresh on the restored files. If the new one fails, the old one is re-applied.
/// An interrupted install (`applying`/`removing` journal) is undone first and never restored.
fn replace_locked(env: &Environment, plan: &Plan, old: &Manifest) -> Result<ApplyReport> {
    let profile = &old.profile;
    let on_disk = model::load(&env.manifest_path(profile), profile)?;
    if on_disk.as_ref() != Some(old) {
        return Err(Error::user(
            format!("profile `{profile}` was changed by another command meanwhile"),
            Some("rerun the command"),
        ));
    }
    let complete = old.state == model::ManifestState::Installed;
    let removed = remove_locked(env, old);
    if !removed.errors.is_empty() {
        let what = if complete {
            "undoing its current settings failed"
        } else {
            "undoing the interrupted install failed"
        };
        return Err(Error::user(
            format!(
                "cannot change profile `{profile}`: {what} ({}); the profile keeps a record of what is left to undo",
                removed.errors.join("; ")
            ),
            Some(&format!(
                "fix that, then run `headroom install remove --profile {profile}` and apply again"
            )),
        ));
    }
    let state_dirs: Vec<PathBuf> = old.state_dirs_created.iter().map(PathBuf::from).collect();
    let result = crate::plan::plan(env, &plan.request)
        .and_then(|fresh| apply_locked(env, &fresh, &state_dirs));
    match result {
        Ok(mut report) => {
            if !complete {
                report.notes.push(format!(
                    "an interrupted install of profile `{profile}` was undone first"
                ));
            }
            report.notes.extend(removed.warnings);
            Ok(report)
        }
        Err(mut err) if complete => {
            err.message.push_str(&reapply(env, old));
            Err(err)
        }
        Err(err) => Err(err),
    }
}

/// Re-apply a previous deployment after a failed change; returns a sentence for the error.
fn reapply(env: &Environment, old: &Manifest) -> String {
    // Putting the old deployment back must not be cut short by the Ctrl-C that aborted the new.
    static NOT_CANCELLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let mut env = env.clone();
    env.cancel = &NOT_CANCELLED;
    let env = &env;
    let req = crate::plan::request_of(old);
    let state_dirs: Vec<PathBuf> = old.state_dirs_created.iter().map(PathBuf::from).collect();
    match crate::plan::plan(env, &req).and_then(|p| apply_locked(env, &p, &state_dirs)) {
        Ok(_) => "; the previous settings were restored".to_owned(),
        Err(e) => format!(
            "; restoring the previous settings also failed: {}",
            e.message
        ),
    }
}

/// The write-ahead journal: the manifest with every undo record, written (fsync + atomic
/// rename + directory fsync) before anything it describes changes.
fn apply_steps(
    env: &Environment,
    plan: &Plan,
    state_dirs: &[PathBuf],
    undo: &mut Vec<Undo>,
    report: &mut ApplyReport,
) -> Result<()> {
    let profile = &plan.manifest.profile;
    let manifest_path = env.manifest_path(profile);
    // Someone else may have finished an apply while we waited for the lock.
    if let Some(m) = model::load(&manifest_path, profile)? {
        if m.same_settings(&plan.manifest) {
            return Ok(());
        }
        return Err(Error::user(
            format!("profile `{profile}` was installed by another command meanwhile"),
            Some("check `headroom install status`, then retry"),
        ));
    }
    // Nothing may have changed since the plan: check every file before writing the journal.
    for f in &plan.files {
        check_cancel(env)?;
        let now = fsx::read_opt(&f.resolved)?;
        if now.as_deref() != f.before.as_deref().map(str::as_bytes) {
            return Err(Error::user(
                format!("{} changed while the plan was being made", f.path.display()),
                Some("rerun the command"),
            ));
        }
    }
    let mut manifest = plan.manifest.clone();
    manifest.state = model::ManifestState::Applying;
    manifest.state_dirs_created = state_dirs
        .iter()
        .map(|d| d.to_string_lossy().into_owned())
        .collect();
    for f in &plan.files {
        let record = f.record(f.before.clone(), f.before_mode);
        let data = serde_json::to_value(&f.edit).unwrap_or_default();
        if f.artifact {
            manifest.artifacts.push(Artifact {
                kind: f.kind.clone(),
                path: f.path.to_string_lossy().into_owned(),
                file: Some(record),
                metadata: data,
            });
        } else {
            manifest.mutations.push(Mutation {
                target: f.target.clone(),
                kind: f.kind.clone(),
                path: Some(f.path.to_string_lossy().into_owned()),
                file: Some(record),
                data,
            });
        }
    }
    for v in &plan.env_vars {
        manifest.mutations.push(Mutation {
            target: "env".to_owned(),
            kind: "windows-env".to_owned(),
            path: None,
            file: None,
            data: serde_json::json!({"name": v.name, "value": v.value, "scope": v.scope, "previous": v.previous}),
        });
    }
    let sup = plan::supervisor_for(env, manifest.preset, manifest.scope)?;
    if !plan.register.is_empty() {
        manifest.artifacts.push(Artifact {
            kind: "registration".to_owned(),
            path: sup.name().to_owned(),
            file: None,
            metadata: serde_json::json!({
                "register": plan.register.iter().map(Op::display).collect::<Vec<_>>(),
            }),
        });
    }
    if manifest.runtime_kind == RuntimeKind::Docker {
        manifest.artifacts.push(Artifact {
            kind: "docker-container".to_owned(),
            path: manifest.container_name.clone(),
            file: None,
            metadata: serde_json::json!({"image": manifest.image, "volume": supervisor::Docker::volume(&plan.spec)}),
        });
    }
    check_cancel(env)?;
    let profile_dir = env.profile_dir(profile);
    let profile_dir_existed = profile_dir.exists();
    manifest.updated_at = model::now_iso();
    undo.push(Undo::Journal {
        manifest: manifest_path.clone(),
        profile_dir: (!profile_dir_existed).then(|| profile_dir.clone()),
    });
    model::save(&manifest_path, &manifest)?;
    crash_point(env, "journal written");

    for f in &plan.files {
        check_cancel(env)?;
        undo.push(Undo::File {
            resolved: f.resolved.clone(),
            before: f.before.clone(),
            mode: f.before_mode,
            created_dirs: f.created_dirs.clone(),
        });
        let mode = if f.before.is_some() {
            f.before_mode
        } else {
            f.mode
        };
        fsx::write_atomic(&f.resolved, f.after.as_bytes(), mode)?;
        report.files.push(f.path.display().to_string());
        crash_point(env, "file written");
    }
    for v in &plan.env_vars {
        check_cancel(env)?;
        set_env_var(env, &v.name, Some(&v.value), &v.scope)?;
        undo.push(Undo::EnvVar(v.clone()));
        crash_point(env, "env var set");
    }
    if !plan.register.is_empty() {
        // Undo registration even when it fails half-way.
        let mut ops = sup.unregister(&plan.spec);
        ops.extend(sup.after_unregister(&plan.spec));
        undo.push(Undo::Ops(ops));
        for op in &plan.register {
            check_cancel(env)?;
            run_op(env, op)?;
            crash_point(env, "registration step");
        }
    }
    check_cancel(env)?;
    undo.push(Undo::Runtime(Box::new(manifest.clone())));
    start_runtime(env, &manifest, &plan.spec)?;
    crash_point(env, "runtime started");
    wait_ready(env, &manifest)?;
    check_cancel(env)?;
    manifest.state = model::ManifestState::Installed;
    manifest.updated_at = model::now_iso();
    model::save(&manifest_path, &manifest)?;
    crash_point(env, "installed");
    Ok(())
}

/// Take back a failed transaction's finished steps and say in `err` (prefixed with `what`)
/// whether everything was taken back.
pub(crate) fn roll_back(
    env: &Environment,
    undo: Vec<Undo>,
    err: Error,
    what: impl std::fmt::Display,
) -> Error {
    let failures = rollback(env, undo);
    let mut err = err.context(what);
    if failures.is_empty() {
        err.message.push_str(" (every change was rolled back)");
    } else {
        err.message
            .push_str(&format!(" (rollback incomplete: {})", failures.join("; ")));
    }
    err
}

/// Take back finished steps, newest first; returns what could not be taken back. The journal
/// goes last, and only when everything else was taken back: otherwise it stays (state
/// `applying`) so `status` shows the profile and `remove` can finish the job.
fn rollback(env: &Environment, undo: Vec<Undo>) -> Vec<String> {
    let mut failures = Vec::new();
    for step in undo.into_iter().rev() {
        crash_point(env, "rollback step");
        let r = match step {
            Undo::File {
                resolved,
                before,
                mode,
                created_dirs,
            } => {
                let r = match before {
                    Some(b) => fsx::write_atomic(&resolved, b.as_bytes(), mode),
                    None => fsx::remove_file(&resolved),
                };
                fsx::remove_empty_dirs(&created_dirs);
                r
            }
            Undo::EnvVar(v) => set_env_var(env, &v.name, v.previous.as_deref(), &v.scope),
            Undo::Ops(ops) => {
                for op in &ops {
                    if let Err(e) = run_op(env, op) {
                        failures.push(e.message);
                    }
                }
                Ok(())
            }
            Undo::Journal {
                manifest,
                profile_dir,
            } => {
                if failures.is_empty() {
                    delete_journal(&manifest, profile_dir.as_deref())
                } else {
                    failures.push(format!(
                        "what is left is recorded in {}; `headroom install remove` undoes it",
                        manifest.display()
                    ));
                    Ok(())
                }
            }
            Undo::Runtime(m) => {
                let spec = plan::spec_for(env, &m);
                stop_runtime(env, &m, &spec)
            }
        };
        if let Err(e) = r {
            failures.push(e.message);
        }
    }
    failures
}

/// Delete a profile's manifest (durably) and then, when given, its whole directory.
fn delete_journal(manifest: &Path, profile_dir: Option<&Path>) -> Result<()> {
    fsx::remove_file(manifest)?;
    if let Some(dir) = manifest.parent() {
        let _ = fsx::sync_dir(dir);
    }
    if let Some(dir) = profile_dir {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("delete", dir, &e)),
        }
    }
    Ok(())
}

fn pid_file(env: &Environment, profile: &str, which: &str) -> PathBuf {
    env.profile_dir(profile).join(format!("{which}.pid"))
}

/// The pid recorded in `agent.pid`/`proxy.pid`, when that process is alive.
pub fn live_pid(env: &Environment, profile: &str, which: &str) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_file(env, profile, which))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    crate::sys::pid_alive(pid).then_some(pid)
}

fn pause_flag(env: &Environment, profile: &str) -> PathBuf {
    env.profile_dir(profile).join("paused")
}

/// Whether the task schedule is paused (`stop` on a task deployment).
pub fn is_paused(env: &Environment, profile: &str) -> bool {
    pause_flag(env, profile).exists()
}

/// The command a detached agent runs.
pub fn agent_cmd(env: &Environment, profile: &str, what: &str) -> Cmd {
    let argv = supervisor::agent_argv(&env.headroom_exe, profile, &env.workspace_dir, what);
    Cmd::new(argv[0].clone(), argv[1..].to_vec())
}

/// Start the deployment's runtime (through its supervisor, docker, or a detached agent).
pub fn start_runtime(env: &Environment, m: &Manifest, spec: &Spec) -> Result<()> {
    let sup = plan::supervisor_for(env, m.preset, m.scope)?;
    let _ = fsx::remove_file(&pause_flag(env, &m.profile));
    if m.runtime_kind == RuntimeKind::Docker {
        plan::check_docker(env)?;
    }
    check_port(m)?;
    let ops = sup.start(spec);
    if ops.is_empty() {
        // Task preset: start the agent now rather than waiting up to 5 minutes for the timer.
        if live_pid(env, &m.profile, "agent").is_none() {
            let log = env.profile_dir(&m.profile).join("runner.log");
            env.runner
                .spawn_detached(&agent_cmd(env, &m.profile, "run"), &[], &log)
                .map_err(|e| Error::user(format!("cannot start the Headroom agent: {e}"), None))?;
        }
        return Ok(());
    }
    for op in &ops {
        run_op(env, op)?;
    }
    Ok(())
}

/// Fail clearly when the port is held by something that is not this deployment's Headroom.
pub fn check_port(m: &Manifest) -> Result<()> {
    plan::check_port_free(m.port, &m.profile, "reinstall this profile on another port")
}

/// Stop the runtime: supervisor stop, then the agent and proxy processes we recorded.
pub fn stop_runtime(env: &Environment, m: &Manifest, spec: &Spec) -> Result<()> {
    let sup = plan::supervisor_for(env, m.preset, m.scope)?;
    if m.runtime_kind == RuntimeKind::Docker {
        // `docker stop`/`rm -f` are lenient (the container may be gone), so a daemon that is
        // down would pass for success while the `unless-stopped` container comes back with it.
        plan::check_docker(env).map_err(|e| {
            Error::user(
                format!(
                    "cannot stop container `{}`: {}",
                    m.container_name, e.message
                ),
                Some("start Docker so the container can be stopped, then retry (it restarts with the daemon otherwise)"),
            )
        })?;
    }
    let mut first_err = None;
    for op in sup.stop(spec) {
        if let Err(e) = run_op(env, &op) {
            first_err.get_or_insert(e);
        }
    }
    if m.preset != Preset::Docker {
        for which in ["agent", "proxy"] {
            if let Some(pid) = live_pid(env, &m.profile, which) {
                crate::sys::terminate(pid);
                let deadline = Instant::now() + Duration::from_secs(10);
                while crate::sys::pid_alive(pid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
                if crate::sys::pid_alive(pid) {
                    crate::sys::kill(pid);
                }
            }
            let _ = fsx::remove_file(&pid_file(env, &m.profile, which));
        }
        if m.runtime_kind == RuntimeKind::Docker {
            // The agent's SIGTERM reaches the container through `docker run`; one left behind
            // by a killed agent is stopped here (`--rm` then removes it).
            for op in supervisor::Supervisor::stop(&supervisor::Docker, spec) {
                if let Err(e) = run_op(env, &op) {
                    first_err.get_or_insert(e);
                }
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Wait for `/readyz` (skipped when the environment's ready timeout is zero).
pub fn wait_ready(env: &Environment, m: &Manifest) -> Result<()> {
    if env.ready_timeout.is_zero() {
        return Ok(());
    }
    let deadline = Instant::now() + env.ready_timeout;
    loop {
        if crate::health::is_ready(m.port) {
            return Ok(());
        }
        check_cancel(env)?;
        if Instant::now() >= deadline {
            let tail = log_tail(env, &m.profile, 5);
            return Err(Error::user(
                format!(
                    "Headroom did not become ready on {} within {} s{}",
                    m.health_url,
                    env.ready_timeout.as_secs(),
                    if tail.is_empty() {
                        String::new()
                    } else {
                        format!("; last log lines:\n{tail}")
                    }
                ),
                Some(&format!(
                    "see {}",
                    env.profile_dir(&m.profile).join("runner.log").display()
                )),
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn log_tail(env: &Environment, profile: &str, n: usize) -> String {
    let text =
        std::fs::read_to_string(env.profile_dir(profile).join("runner.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn load_installed(env: &Environment, profile: &str) -> Result<Manifest> {
    model::validate_profile(profile)?;
    model::load(&env.manifest_path(profile), profile)?.ok_or_else(|| {
        Error::new(
            ErrorKind::NotInstalled,
            format!("no deployment profile named `{profile}` is installed"),
            Some("install one with `headroom install apply`; list them with `headroom install status --all`"),
        )
    })
}

/// What `start`/`stop` did to the tool wiring, line by line (empty when they left it alone).
#[derive(Debug, Clone, Default, Serialize)]
pub struct LifecycleReport {
    pub profile: String,
    /// Files restored or re-wired, variables set or restored.
    pub actions: Vec<String>,
    /// Done differently because the user changed something since (kept their edits).
    pub warnings: Vec<String>,
}

/// Start an installed deployment (for a task deployment: resume the schedule and start now).
/// Tools `stop` unwired are wired again once the proxy is ready; see [`start_with`].
pub fn start(env: &Environment, profile: &str) -> Result<()> {
    start_with(env, profile).map(|_| ())
}

/// [`start`], reporting what it did to the wiring. The re-wiring is computed before anything
/// starts (a tool file that can no longer be parsed fails the command, changing nothing) and
/// written only once the proxy answers, so a tool never points at a proxy that is not there.
pub fn start_with(env: &Environment, profile: &str) -> Result<LifecycleReport> {
    model::validate_profile(profile)?;
    let _lock = ProfileLock::acquire_or_fail(env, profile)?;
    let mut m = load_installed(env, profile)?;
    let mut report = LifecycleReport {
        profile: profile.to_owned(),
        ..Default::default()
    };
    let rewire = if m.wiring_paused && m.state == model::ManifestState::Installed {
        if m.mutations.iter().any(|mu| mu.file.is_some()) {
            // A `stop` was interrupted half-way through unwiring: finish it first, so the
            // new records are relative to the user's own content.
            m = pause_wiring(env, &m, &mut report)?;
        }
        Some(plan_rewire(env, &m)?)
    } else {
        None
    };
    let spec = plan::spec_for(env, &m);
    start_runtime(env, &m, &spec)?;
    wait_ready(env, &m)?;
    if let Some(rewire) = rewire {
        resume_wiring(env, rewire, &mut report)?;
    }
    Ok(report)
}

/// Stop an installed deployment and take its tool wiring out (fail-open: the tools talk to
/// their providers directly until `start`). The `paused` flag it leaves until the next
/// `start` tells the task schedule not to bring it back, and `wrap` not to start it behind the
/// user's back. See [`stop_with`].
pub fn stop(env: &Environment, profile: &str) -> Result<()> {
    stop_with(env, profile, false).map(|_| ())
}

/// [`stop`]; with `keep_wiring` the tools stay wired to the stopped proxy (the behaviour
/// before stop unwired: for users who restart it themselves and want no file touched).
///
/// Journal order (kill -9 safe, like `apply`/`remove`): the manifest is first saved with
/// `wiring_paused` and every undo record intact, then the files are restored (each undo
/// compares with the file's current bytes, so a re-run or a `remove` after a kill is exact),
/// and only then are the records dropped.
pub fn stop_with(env: &Environment, profile: &str, keep_wiring: bool) -> Result<LifecycleReport> {
    model::validate_profile(profile)?;
    let _lock = ProfileLock::acquire_or_fail(env, profile)?;
    let m = load_installed(env, profile)?;
    let mut report = LifecycleReport {
        profile: profile.to_owned(),
        ..Default::default()
    };
    let spec = plan::spec_for(env, &m);
    fsx::write_atomic(
        &pause_flag(env, profile),
        b"stopped by `headroom install stop`\n",
        Some(0o600),
    )?;
    let stopped = stop_runtime(env, &m, &spec);
    if keep_wiring {
        return stopped.map(|()| report);
    }
    if m.state != model::ManifestState::Installed {
        stopped?;
        return Err(Error::user(
            format!(
                "stopped deployment `{profile}`, but left its tool wiring alone: the profile is half-done ({})",
                m.state.as_str()
            ),
            Some(&format!(
                "`headroom install remove --profile {profile}` undoes it; `headroom install apply --profile {profile} …` undoes it and installs again"
            )),
        ));
    }
    // Unwire even when the runtime did not stop cleanly: a tool sent straight to its provider
    // works either way, one wired to a broken proxy does not.
    let paused = pause_wiring(env, &m, &mut report);
    stopped?;
    paused.map(|_| report)
}

/// Undo every recorded tool edit (as `remove` would) and record the wiring as paused.
/// Returns the manifest as saved (no file records left). Errors when something could not be
/// undone; the manifest then keeps the records, so `stop`, `start` or `remove` can finish.
fn pause_wiring(env: &Environment, m: &Manifest, report: &mut LifecycleReport) -> Result<Manifest> {
    let manifest_path = env.manifest_path(&m.profile);
    let mut journal = m.clone();
    let on_disk = journal.mutations.iter().any(|mu| mu.file.is_some())
        || journal.mutations.iter().any(|mu| mu.kind == "windows-env");
    if journal.wiring_paused && !on_disk {
        return Ok(journal);
    }
    if !journal.wiring_paused {
        journal.wiring_paused = true;
        journal.updated_at = model::now_iso();
        model::save(&manifest_path, &journal)?;
        crash_point(env, "wiring pause journaled");
    }
    let mut undo = RemoveReport::default();
    for mu in m.mutations.iter().rev() {
        if let (Some(path), Some(rec)) = (&mu.path, &mu.file) {
            let edit: Option<Edit> = serde_json::from_value(mu.data.clone()).ok();
            revert_file(Path::new(path), rec, edit.as_ref(), &mut undo);
            crash_point(env, "wiring undone");
        } else if mu.kind == "windows-env" {
            revert_env_var(env, mu, &mut undo);
        }
    }
    report.actions.append(&mut undo.actions);
    report.warnings.append(&mut undo.warnings);
    if !undo.errors.is_empty() {
        return Err(Error::user(
            format!(
                "could not take deployment `{}`'s wiring out of every tool: {}",
                m.profile,
                undo.errors.join("; ")
            ),
            Some(&format!(
                "fix that, then rerun `headroom install stop --profile {0}`; `headroom install remove --profile {0}` undoes everything",
                m.profile
            )),
        ));
    }
    for mu in &mut journal.mutations {
        mu.file = None;
    }
    journal.updated_at = model::now_iso();
    model::save(&manifest_path, &journal)?;
    crash_point(env, "wiring paused");
    Ok(journal)
}

/// The wiring `start` puts back: the manifest to journal (fresh undo records) and the writes.
struct Rewire {
    journal: Manifest,
    writes: Vec<RewireFile>,
    /// (name, value, scope) of Windows environment variables to set.
    vars: Vec<(String, String, String)>,
}

struct RewireFile {
    path: String,
    resolved: PathBuf,
    /// Mode to write with: the file's own, or [`NEW_TOOL_FILE_MODE`] for a new file.
    mode: Option<u32>,
    content: String,
}

/// Mode of a tool config file Headroom creates (what `apply` uses).
const NEW_TOOL_FILE_MODE: u32 = 0o644;

/// Re-apply each recorded edit to the file as it is now (the user's own content, once paused):
/// the same [`Edit::apply`] as `apply`, with fresh undo records (previous bytes, hash of what
/// is written, directories to create). Reads only.
fn plan_rewire(env: &Environment, m: &Manifest) -> Result<Rewire> {
    let mut journal = m.clone();
    let mut writes: Vec<RewireFile> = Vec::new();
    let mut vars = Vec::new();
    // Several edits of one file apply in order, each on the previous one's result.
    let mut contents: std::collections::BTreeMap<PathBuf, Option<String>> = Default::default();
    for mu in &mut journal.mutations {
        if mu.kind == "windows-env" {
            let field = |k: &str| mu.data.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            let (Some(name), Some(value)) = (field("name"), field("value")) else {
                continue;
            };
            let scope = field("scope").unwrap_or_else(|| "User".to_owned());
            let now = get_env_var(env, &name, &scope);
            mu.data["previous"] = serde_json::json!(now);
            if now.as_deref() != Some(value.as_str()) {
                vars.push((name, value, scope));
            }
            continue;
        }
        let Some(path) = mu.path.clone() else {
            continue;
        };
        let mut edit: Edit = serde_json::from_value(mu.data.clone()).map_err(|e| {
            Error::user(
                format!(
                    "deployment `{}` cannot wire {path} again: its recorded edit is unreadable ({e})",
                    m.profile
                ),
                Some(&format!(
                    "`headroom install apply --profile {} …` wires the tools afresh",
                    m.profile
                )),
            )
        })?;
        let resolved = fsx::resolve(Path::new(&path))?;
        let before = match contents.get(&resolved) {
            Some(c) => c.clone(),
            None => read_tool_file(&path, &resolved)?,
        };
        let after = edit.apply(before.as_deref()).map_err(|why| {
            Error::user(
                format!("cannot wire {path} again: {why}"),
                Some(&format!(
                    "fix the file by hand (or move it away), then rerun `headroom install start --profile {}`; nothing was changed",
                    m.profile
                )),
            )
        })?;
        let first = !contents.contains_key(&resolved);
        let previous_mode = if before.is_some() {
            fsx::mode_of(&resolved)
        } else {
            None
        };
        mu.file = Some(FileRecord {
            resolved_path: resolved.to_string_lossy().into_owned(),
            existed: before.is_some(),
            previous: before.clone(),
            previous_mode,
            written_sha256: fsx::sha256_hex(after.as_bytes()),
            created_dirs: if first {
                created_dirs_for(&resolved, &m.artifacts)
            } else {
                Vec::new()
            },
        });
        mu.data = serde_json::to_value(&edit)
            .map_err(|e| Error::internal(format!("cannot record the edit of {path}: {e}")))?;
        contents.insert(resolved.clone(), Some(after.clone()));
        if before.as_deref() == Some(after.as_str()) {
            continue;
        }
        let mode = if before.is_some() {
            previous_mode
        } else {
            Some(NEW_TOOL_FILE_MODE)
        };
        writes.retain(|w| w.resolved != resolved);
        writes.push(RewireFile {
            path,
            resolved,
            mode,
            content: after,
        });
    }
    journal.wiring_paused = false;
    Ok(Rewire {
        journal,
        writes,
        vars,
    })
}

/// The directories a re-wired file's record must list (outermost first): those missing now,
/// and its ancestors that one of the deployment's own files (a unit, a plist) created at
/// `apply` and that exist only because of it. `remove` undoes those files first, so without
/// them a directory `apply` created would outlive the deployment.
fn created_dirs_for(resolved: &Path, artifacts: &[Artifact]) -> Vec<String> {
    let mut dirs: Vec<PathBuf> = resolved.parent().map(fsx::missing_dirs).unwrap_or_default();
    for rec in artifacts.iter().filter_map(|a| a.file.as_ref()) {
        for d in rec.created_dirs.iter().map(PathBuf::from) {
            if resolved.starts_with(&d) && !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    dirs.sort_by_key(|d| d.components().count());
    dirs.iter()
        .map(|d| d.to_string_lossy().into_owned())
        .collect()
}

/// A tool file's text (`None` when absent); refuses what `apply` refuses to edit.
fn read_tool_file(path: &str, resolved: &Path) -> Result<Option<String>> {
    if resolved.is_dir() {
        return Err(Error::user(
            format!("cannot wire {path} again: it is a directory, not a file"),
            Some("move it away, then rerun `headroom install start`"),
        ));
    }
    let Some(bytes) = fsx::read_opt(resolved)? else {
        return Ok(None);
    };
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::user(
            format!("cannot wire {path} again: it is not UTF-8 text"),
            Some("convert it to UTF-8, then rerun `headroom install start`"),
        )
    })?;
    if fsx::is_read_only(resolved) {
        return Err(Error::user(
            format!("cannot wire {path} again: it is read-only"),
            Some("make it writable (chmod u+w), then rerun `headroom install start`"),
        ));
    }
    Ok(Some(text))
}

/// Write a [`Rewire`]: the journal first (records of what each file is now and what we write;
/// `wiring_paused` still set), then the files and variables, then the manifest marked wired.
/// A kill in between leaves records whose undo is exact for either state of each file.
fn resume_wiring(env: &Environment, rewire: Rewire, report: &mut LifecycleReport) -> Result<()> {
    let manifest_path = env.manifest_path(&rewire.journal.profile);
    let mut journal = rewire.journal;
    journal.wiring_paused = true;
    journal.updated_at = model::now_iso();
    model::save(&manifest_path, &journal)?;
    crash_point(env, "rewire journaled");
    let hint = format!(
        "rerun `headroom install start --profile {0}`, or `headroom install stop --profile {0}` to take the wiring out again",
        journal.profile
    );
    for w in &rewire.writes {
        // Nothing may have changed since the plan (the lock keeps other Headroom commands out,
        // not the user's editor).
        let now = fsx::read_opt(&w.resolved)?;
        let rec = journal
            .mutations
            .iter()
            .filter_map(|mu| mu.file.as_ref())
            .find(|r| Path::new(&r.resolved_path) == w.resolved);
        if now.as_deref() != rec.and_then(|r| r.previous.as_deref()).map(str::as_bytes) {
            return Err(Error::user(
                format!("{} changed while Headroom was starting", w.path),
                Some(&hint),
            ));
        }
        fsx::write_atomic(&w.resolved, w.content.as_bytes(), w.mode)
            .map_err(|e| e.context("re-wiring"))?;
        report.actions.push(format!("wired {}", w.path));
        crash_point(env, "rewired file");
    }
    for (name, value, scope) in &rewire.vars {
        set_env_var(env, name, Some(value), scope)?;
        report.actions.push(format!("set {scope} env {name}"));
    }
    journal.wiring_paused = false;
    journal.updated_at = model::now_iso();
    model::save(&manifest_path, &journal)?;
    crash_point(env, "rewired");
    Ok(())
}

/// Stop then start.
pub fn restart(env: &Environment, profile: &str) -> Result<()> {
    let m = load_installed(env, profile)?;
    let spec = plan::spec_for(env, &m);
    let sup = plan::supervisor_for(env, m.preset, m.scope)?;
    let ops = sup.restart(&spec);
    if ops.is_empty() || m.preset == Preset::Task {
        stop_runtime(env, &m, &spec)?;
        start_runtime(env, &m, &spec)?;
    } else {
        // A listener that accepts but never answers is most likely this deployment's own
        // proxy, hung or stopped: exactly what a restart through the supervisor is for (the
        // supervisor kills what it runs; if it was something else, `wait_ready` says so).
        if !matches!(
            crate::health::port_owner(m.port, &m.profile),
            crate::health::PortOwner::Unresponsive { .. }
        ) {
            check_port(&m)?;
        }
        for op in &ops {
            run_op(env, op)?;
        }
    }
    wait_ready(env, &m)
}

/// One deployment's state, as `status` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub profile: String,
    pub preset: String,
    pub runtime: String,
    pub supervisor: String,
    pub scope: String,
    pub port: u16,
    pub running: bool,
    pub ready: bool,
    pub paused: bool,
    /// `install stop` took the tool wiring out; `install start` puts it back.
    pub wiring_paused: bool,
    pub version: Option<String>,
    pub health_url: String,
    pub targets: Vec<String>,
    /// Tools wired only through shell startup files (user/system scope on Linux and macOS):
    /// not routed when started outside a shell that read them (IDE tasks, scripts, `bash -c`).
    pub interactive_only: Vec<String>,
    /// The agent's last error while it is not ready (what is wrong now).
    pub last_error: Option<String>,
    /// The agent's last error when the deployment is ready again (what it recovered from).
    pub recovered_from: Option<String>,
    /// `installed`, or a half-done `applying`/`removing` journal left by a killed or failed
    /// command (`apply` or `remove` finishes it).
    pub state: String,
}

/// Read a deployment's state. Errors with [`ErrorKind::NotInstalled`] when absent.
pub fn status(env: &Environment, profile: &str) -> Result<Status> {
    let m = load_installed(env, profile)?;
    let sup_name = plan::supervisor_for(env, m.preset, m.scope)
        .map(|s| s.name().to_owned())
        .unwrap_or_else(|_| m.supervisor_kind.to_string());
    let health = crate::health::health(m.port, Duration::from_millis(500));
    let ready = crate::health::get_json(m.port, "/readyz", Duration::from_millis(500))
        .is_some_and(|(code, _)| code == 200);
    let version = health
        .as_ref()
        .map(|h| h.version.clone())
        .filter(|v| !v.is_empty());
    let running = match m.runtime_kind {
        RuntimeKind::Docker => env
            .find_binary(&env.docker)
            .and_then(|bin| {
                env.runner
                    .run(&Cmd::new(
                        bin.to_string_lossy(),
                        ["inspect", "-f", "{{.State.Running}}", &m.container_name],
                    ))
                    .ok()
            })
            .is_some_and(|o| o.success() && o.stdout.trim() == "true"),
        RuntimeKind::Native => {
            live_pid(env, profile, "agent").is_some() || live_pid(env, profile, "proxy").is_some()
        }
    };
    let logged_error: Option<String> =
        std::fs::read_to_string(env.profile_dir(profile).join("runner.log"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .rev()
                    .find(|l| l.to_ascii_lowercase().contains("error"))
                    .map(|l| l.trim().chars().take(200).collect())
            });
    // A ready deployment has recovered from whatever the log says last: not a current error.
    let (last_error, recovered_from) = if ready {
        (None, logged_error)
    } else {
        (logged_error, None)
    };
    let interactive_only = if m.scope != crate::Scope::Provider && env.os != crate::OsKind::Windows
    {
        m.targets
            .iter()
            .filter(|t| !matches!(t.as_str(), "codex" | "openclaw"))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    Ok(Status {
        interactive_only,
        profile: m.profile.clone(),
        preset: m.preset.to_string(),
        runtime: m.runtime_kind.to_string(),
        supervisor: sup_name,
        scope: m.scope.to_string(),
        port: m.port,
        running: running || ready,
        ready,
        paused: is_paused(env, profile),
        wiring_paused: m.wiring_paused,
        version,
        health_url: format!("http://127.0.0.1:{}/health", m.port),
        targets: m.targets.clone(),
        last_error,
        recovered_from,
        state: match m.state {
            model::ManifestState::Installed => "installed",
            model::ManifestState::Applying => "applying",
            model::ManifestState::Removing => "removing",
        }
        .to_owned(),
    })
}

/// What `remove` did, item by item.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RemoveReport {
    pub profile: String,
    /// Done as planned (restored, deleted, unregistered).
    pub actions: Vec<String>,
    /// Done differently because the user changed something since apply.
    pub warnings: Vec<String>,
    /// Steps that failed; the rest still ran.
    pub errors: Vec<String>,
}

/// What undoing one recorded file write leaves behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undone {
    /// New content, or `None` when the file goes away.
    pub content: Option<String>,
    /// Mode to restore (exact restores only).
    pub mode: Option<u32>,
    /// The file was exactly as we wrote it (so this is a byte-exact restore).
    pub untouched: bool,
    /// Values we left alone because the user changed them.
    pub notes: Vec<String>,
}

/// Compute the undo of one recorded write given the file's current bytes (pure).
pub fn undone(
    rec: &FileRecord,
    edit: Option<&Edit>,
    current: &[u8],
) -> std::result::Result<Undone, String> {
    if rec.existed && rec.previous.as_deref().map(str::as_bytes) == Some(current) {
        // Never written (an interrupted apply's journal) or already restored (a re-run remove).
        return Ok(Undone {
            content: rec.previous.clone(),
            mode: None,
            untouched: true,
            notes: Vec::new(),
        });
    }
    if fsx::sha256_hex(current) == rec.written_sha256 {
        return Ok(Undone {
            content: if rec.existed {
                rec.previous.clone()
            } else {
                None
            },
            mode: rec.previous_mode,
            untouched: true,
            notes: Vec::new(),
        });
    }
    let text = String::from_utf8_lossy(current).into_owned();
    match edit {
        None | Some(Edit::Whole { .. }) => Ok(Undone {
            content: None,
            mode: None,
            untouched: false,
            notes: vec!["it had been edited; deleted anyway (Headroom created it)".to_owned()],
        }),
        Some(edit) => {
            let (new, notes) = edit.revert(&text)?;
            let trivially_empty = new.trim().is_empty()
                || (matches!(edit, Edit::JsonSet { .. }) && new.trim() == "{}");
            Ok(Undone {
                content: if !rec.existed && trivially_empty {
                    None
                } else {
                    Some(new)
                },
                mode: None,
                untouched: false,
                notes,
            })
        }
    }
}

/// Delete temp files a killed `write_atomic` left beside `resolved`.
fn remove_stale_temps(resolved: &Path) {
    let (Some(dir), Some(name)) = (resolved.parent(), resolved.file_name()) else {
        return;
    };
    let prefix = format!(".{}.headroom-tmp-", name.to_string_lossy());
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Undo one recorded write; `false` when it could not be undone (the reason is in `report`).
fn revert_file(
    path: &Path,
    rec: &FileRecord,
    edit: Option<&Edit>,
    report: &mut RemoveReport,
) -> bool {
    let resolved = fsx::resolve(path).unwrap_or_else(|_| PathBuf::from(&rec.resolved_path));
    remove_stale_temps(&resolved);
    let created: Vec<PathBuf> = rec.created_dirs.iter().map(PathBuf::from).collect();
    let current = match fsx::read_opt(&resolved) {
        Ok(c) => c,
        Err(e) => {
            report.errors.push(e.message);
            return false;
        }
    };
    let Some(current) = current else {
        if rec.existed {
            report.warnings.push(format!(
                "{} was deleted since apply; nothing to restore",
                path.display()
            ));
        }
        fsx::remove_empty_dirs(&created);
        return true;
    };
    let u = match undone(rec, edit, &current) {
        Ok(u) => u,
        Err(why) => {
            report.errors.push(format!(
                "cannot undo the edit in {}: {why}; left it as it is",
                path.display()
            ));
            return false;
        }
    };
    let result = match &u.content {
        None => fsx::remove_file(&resolved).map(|_| fsx::remove_empty_dirs(&created)),
        Some(c) if c.as_bytes() != current.as_slice() => {
            fsx::write_atomic(&resolved, c.as_bytes(), u.mode)
        }
        Some(_) => Ok(()),
    };
    if let Err(e) = result {
        report.errors.push(e.message);
        return false;
    }
    let verb = if u.content.is_some() {
        "restored"
    } else {
        "deleted"
    };
    if u.untouched || matches!(edit, None | Some(Edit::Whole { .. })) {
        report.actions.push(format!("{verb} {}", path.display()));
    } else {
        let mut msg = format!(
            "{} was edited after apply: removed only Headroom's changes and kept yours",
            path.display()
        );
        for n in u.notes {
            msg.push_str(&format!("; {n}"));
        }
        report.warnings.push(msg);
    }
    true
}

/// Undo one recorded Windows environment variable; `false` when it could not be undone.
/// A value already back (interrupted apply, re-run) is left alone, and so is one the user
/// changed since.
fn revert_env_var(env: &Environment, mu: &Mutation, report: &mut RemoveReport) -> bool {
    let field = |k: &str| mu.data.get(k).and_then(|v| v.as_str());
    let name = field("name").unwrap_or_default();
    let scope = field("scope").unwrap_or("User");
    let previous = field("previous");
    let current = get_env_var(env, name, scope);
    if current.as_deref() == previous {
        return true;
    }
    if current.as_deref() != field("value") {
        report.warnings.push(format!(
            "kept {scope} environment variable {name}: it was changed after headroom set it"
        ));
        return true;
    }
    match set_env_var(env, name, previous, scope) {
        Ok(()) => {
            report.actions.push(format!("restored {scope} env {name}"));
            true
        }
        Err(e) => {
            report.errors.push(e.message);
            false
        }
    }
}

/// Undo a deployment: stop it, unregister the supervisor, restore every file (exact bytes when
/// untouched since apply; otherwise only our keys/blocks), delete what we created, delete the
/// profile. Keeps going past failures; each is in the report, and the manifest then stays
/// (state `removing`) with only what could not be undone, so a retry finishes the job.
/// Waits for a concurrent command on the profile, then re-reads it: a profile another
/// `remove` just removed is [`ErrorKind::NotInstalled`].
pub fn remove(env: &Environment, profile: &str) -> Result<RemoveReport> {
    model::validate_profile(profile)?;
    let mut lock = ProfileLock::acquire_or_fail(env, profile)?;
    let m = match load_installed(env, profile) {
        Ok(m) => m,
        Err(e) => {
            // Leftovers of a command killed before its journal existed: a half-written
            // journal, an empty profile dir and (on drop) the lock file and empty state dirs.
            remove_stale_temps(&env.manifest_path(profile));
            let _ = std::fs::remove_dir(env.profile_dir(profile));
            let root = env.deploy_root();
            lock.also_remove(&[env.workspace_dir.clone(), root]);
            return Err(e);
        }
    };
    let report = remove_locked(env, &m);
    let mut state: Vec<PathBuf> = m.state_dirs_created.iter().map(PathBuf::from).collect();
    // An apply killed before its journal existed may have created these without recording
    // them; they go too when nothing else is left in them.
    state.extend([env.workspace_dir.clone(), env.deploy_root()]);
    lock.also_remove(&state);
    Ok(report)
}

/// Everything `remove` does except the lock and the state directories. On success the profile
/// directory is gone; otherwise the manifest is rewritten (state `removing`) to list only what
/// is left to undo.
fn remove_locked(env: &Environment, m: &Manifest) -> RemoveReport {
    let profile = m.profile.as_str();
    let mut report = RemoveReport {
        profile: profile.to_owned(),
        ..Default::default()
    };
    let mut left = m.clone();
    left.state = model::ManifestState::Removing;
    left.mutations.clear();
    left.artifacts.clear();
    let mut runtime_ok = true;
    let spec = plan::spec_for(env, m);
    if let Err(e) = stop_runtime(env, m, &spec) {
        runtime_ok = false;
        report
            .errors
            .push(format!("stopping the runtime: {}", e.message));
    }
    crash_point(env, "runtime stopped");
    let sup = plan::supervisor_for(env, m.preset, m.scope);
    match &sup {
        Ok(sup) => {
            let mut ops = sup.unregister(&spec);
            if m.runtime_kind == RuntimeKind::Docker && m.preset != Preset::Docker {
                // The agent's container and its state volume.
                ops.extend(supervisor::Supervisor::unregister(
                    &supervisor::Docker,
                    &spec,
                ));
            }
            for op in ops {
                match run_op(env, &op) {
                    Ok(()) => report.actions.push(format!("ran {}", op.display())),
                    Err(e) => {
                        runtime_ok = false;
                        report.errors.push(e.message);
                    }
                }
                crash_point(env, "unregister step");
            }
        }
        Err(e) => {
            runtime_ok = false;
            report.errors.push(e.message.clone());
        }
    }
    for a in m.artifacts.iter().rev() {
        match &a.file {
            Some(rec) => {
                if !revert_file(Path::new(&a.path), rec, None, &mut report) {
                    left.artifacts.insert(0, a.clone());
                }
                crash_point(env, "artifact undone");
            }
            None if !runtime_ok => left.artifacts.insert(0, a.clone()),
            None => {}
        }
    }
    if let Ok(sup) = &sup {
        for op in sup.after_unregister(&spec) {
            if let Err(e) = run_op(env, &op) {
                report.errors.push(e.message);
            }
        }
    }
    for mu in m.mutations.iter().rev() {
        if let (Some(path), Some(rec)) = (&mu.path, &mu.file) {
            let edit: Option<Edit> = serde_json::from_value(mu.data.clone()).ok();
            if !revert_file(Path::new(path), rec, edit.as_ref(), &mut report) {
                left.mutations.insert(0, mu.clone());
            }
            crash_point(env, "mutation undone");
        } else if mu.kind == "windows-env" && !revert_env_var(env, mu, &mut report) {
            left.mutations.insert(0, mu.clone());
        }
    }
    let dir = env.profile_dir(profile);
    let manifest = env.manifest_path(profile);
    if !report.errors.is_empty() {
        left.updated_at = model::now_iso();
        if let Err(e) = model::save(&manifest, &left) {
            report.errors.push(e.message);
        }
        return report;
    }
    // Everything else first, the manifest last: a kill in between leaves a manifest whose
    // undo is a no-op, never files without a manifest.
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p == manifest {
                continue;
            }
            let r = if e.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            if let Err(e) = r {
                if e.kind() != std::io::ErrorKind::NotFound {
                    report.errors.push(Error::io("delete", &p, &e).message);
                }
            }
        }
    }
    if !report.errors.is_empty() {
        return report;
    }
    match delete_journal(&manifest, Some(&dir)) {
        Ok(()) => report.actions.push(format!("deleted {}", dir.display())),
        Err(e) => report.errors.push(e.message),
    }
    report
}
