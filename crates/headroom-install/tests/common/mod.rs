//! Shared fixture: a fake HOME and `/` in a temp dir, a recording runner, golden-file checks.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use headroom_install::{Environment, OsKind, RecordingRunner};

pub mod shapes;

pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub root: PathBuf,
    pub runner: Arc<RecordingRunner>,
    pub env: Environment,
}

impl Fixture {
    pub fn new(os: OsKind) -> Self {
        Self::with_runner(os, RecordingRunner::new())
    }

    pub fn with_runner(os: OsKind, runner: RecordingRunner) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let root = tmp.path().join("root");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        let runner = Arc::new(runner);
        let mut env = Environment::for_home(&home, &root);
        env.os = os;
        env.runner = runner.clone();
        env.headroom_exe = PathBuf::from("/opt/headroom/bin/headroom");
        env.vars.insert("USERNAME".into(), "alice".into());
        env.vars.insert("USERDOMAIN".into(), "PC".into());
        Fixture {
            tmp,
            home,
            root,
            runner,
            env,
        }
    }

    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.home.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.home.join(rel)).unwrap()
    }

    /// Replace the temp dir with `$TMP` so goldens are stable.
    pub fn norm(&self, s: &str) -> String {
        s.replace(&self.tmp.path().to_string_lossy().to_string(), "$TMP")
    }

    pub fn commands(&self) -> String {
        let mut s = self.runner.lines().join("\n");
        s.push('\n');
        self.norm(&s)
    }

    /// Put a fake executable named `name` on the environment's PATH.
    pub fn fake_bin(&mut self, name: &str, script: &str) -> PathBuf {
        let dir = self.tmp.path().join("bin");
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        if !self.env.path.contains(&dir) {
            self.env.path.push(dir);
        }
        p
    }
}

/// Compare with `tests/golden/<name>`; `UPDATE_GOLDEN=1` rewrites it.
pub fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden {}; run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(
        actual, expected,
        "golden {name} differs (UPDATE_GOLDEN=1 to accept)"
    );
}

/// Every entry under `dir`: relative path → (kind, mode, bytes or link target).
pub fn snapshot(dir: &Path) -> Vec<(String, String, u32, Vec<u8>)> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, String, u32, Vec<u8>)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        #[cfg(unix)]
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            meta.permissions().mode()
        };
        #[cfg(not(unix))]
        let mode = 0;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&p).unwrap();
            out.push((
                rel,
                "link".into(),
                mode,
                target.to_string_lossy().into_owned().into_bytes(),
            ));
        } else if meta.is_dir() {
            out.push((rel, "dir".into(), mode, Vec::new()));
            walk(base, &p, out);
        } else {
            out.push((rel, "file".into(), mode, std::fs::read(&p).unwrap()));
        }
    }
}
