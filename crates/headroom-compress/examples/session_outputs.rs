//! `cargo run --release -p headroom-compress --example session_outputs [-- --show N]` — the
//! Bash outputs of the real-session benchmark (`tests/tests/real_sessions.rs`) that come from
//! this repository (its build and test runs of a scratch project are left to the e2e test),
//! reproduced by running the same commands on this checkout and sent through
//! `compress_request` as a Claude Code `tool_result` of a `Bash` `tool_use` carrying the
//! command. Prints KB before → after per output, so a transform change can be measured in
//! seconds instead of a full e2e session. `--show N` prints what output N forwards; `--at REF`
//! runs the commands on a temporary clone at REF instead of this checkout; `--run CMD` measures
//! one command of your own instead (run by bash in the current directory; `--show 0` prints it).
//! `--codex` sends each output as the Codex CLI does instead: cut by Codex to ~10 KB (head,
//! `…N chars truncated…`, tail) inside its `exec_command` envelope, as a Responses
//! `function_call_output` (the corpus harness's `codex_cut` shape).

#[path = "../corpus/harness.rs"]
mod harness;

use headroom_compress::{compress_request, Options};
use std::path::Path;
use std::process::Command;

const COMMANDS: [&str; 7] = [
    "git -C repo log --stat -n 60 | head -c 24000",
    "find repo/crates -type f | sort | xargs ls -la | head -c 24000",
    "grep -rn 'fn ' repo/crates --include=*.rs | sort | head -c 24000",
    "git -C repo diff 39cd3c3~1 8fab0a8 -- crates/headroom-compress/src | head -c 24000",
    "cat repo/Cargo.lock | head -c 20000",
    "cd repo/.ci/clients && npm_config_update_notifier=false npm ls --json --all --depth 2",
    "git -C repo show --stat --format=fuller HEAD~3",
];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let show: Option<usize> = std::env::args()
        .skip_while(|a| a != "--show")
        .nth(1)
        .and_then(|n| n.parse().ok());
    let tmp = std::env::temp_dir().join(format!("hr-session-outputs-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    // `repo` as in the session: a symlink to this checkout inside a temp dir, or with
    // `--at REF` a clone at that commit (the outputs then do not move with HEAD, so before
    // and after numbers compare the same inputs).
    let link = tmp.join("repo");
    let _ = std::fs::remove_file(&link);
    let at: Option<String> = std::env::args().skip_while(|a| a != "--at").nth(1);
    let root = root.canonicalize().expect("checkout");
    if let Some(at) = &at {
        let ok = Command::new("git")
            .args(["clone", "-q", "--no-checkout"])
            .arg(&root)
            .arg(&link)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new("git")
                .arg("-C")
                .arg(&link)
                .args(["checkout", "-q", at])
                .status()
                .is_ok_and(|s| s.success());
        assert!(ok, "clone of {} at {at} failed", root.display());
    } else {
        #[cfg(unix)]
        std::os::unix::fs::symlink(&root, &link).expect("symlink");
    }
    let run: Option<String> = std::env::args().skip_while(|a| a != "--run").nth(1);
    let commands: Vec<&str> = match &run {
        Some(cmd) => vec![cmd.as_str()],
        None => COMMANDS.to_vec(),
    };
    let codex = std::env::args().any(|a| a == "--codex");
    let here = std::env::current_dir().expect("current dir");
    let (mut before, mut after) = (0usize, 0usize);
    for (i, cmd) in commands.iter().enumerate() {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("{cmd} 2>&1"))
            .current_dir(if run.is_some() { &here } else { &tmp })
            .output()
            .expect("bash");
        let e = harness::Entry {
            name: format!("session_{i}"),
            class: String::new(),
            command: cmd.to_string(),
            exit_code: i64::from(out.status.code().unwrap_or(1)),
            question: Some("look around the repository".to_owned()),
            facts: Vec::new(),
            details: Vec::new(),
            output: String::from_utf8_lossy(&out.stdout).into_owned(),
        };
        let shape = if codex {
            harness::Shape::CodexCut
        } else {
            harness::Shape::CcString
        };
        // What the client puts in the request, and what Headroom forwards in its place.
        let text = harness::wrapped_text(&e, shape);
        let bytes = harness::request(&e, shape);
        let o = compress_request(shape.api(), &bytes, &Options::default());
        let sent = harness::forwarded_text(shape, &o.body.unwrap_or(bytes));
        if show == Some(i) {
            println!("{sent}");
            let _ = std::fs::remove_dir_all(&tmp);
            return;
        }
        before += text.len();
        after += sent.len();
        if show.is_some() {
            continue;
        }
        report(text.len(), sent.len(), cmd);
    }
    if show.is_some() {
        let _ = std::fs::remove_dir_all(&tmp);
        return;
    }
    report(before, after, "all of them");
    let _ = std::fs::remove_dir_all(&tmp);
}

fn report(before: usize, after: usize, what: &str) {
    println!(
        "{:>5.1} KB -> {:>5.1} KB ({:>4.1} % saved, {:>4.1} % left)  {what}",
        before as f64 / 1000.0,
        after as f64 / 1000.0,
        100.0 * (1.0 - after as f64 / before.max(1) as f64),
        100.0 * after as f64 / before.max(1) as f64
    );
}
