//! What a real coding session costs through Headroom, with the real client and real tool
//! outputs: the pinned Claude Code CLI runs a scripted agent loop — the mock model asks for one
//! `Bash` command per turn, Claude Code really runs it and sends the output back — history,
//! listings, searches, a diff and the lockfile of this repository, a failing build and a test
//! run with two failures in a small Rust project, a package manager's JSON — once through
//! `headroom proxy` and once through `headroom proxy --no-optimize`. What
//! the mock received is priced as Anthropic bills it with its prompt cache
//! ([`headroom_testkit::cache`]): the optimised session must cost less, `tools` must never
//! change mid-conversation, and each tool output must be sent with the same bytes on every
//! later turn (or the cache is lost).
//!
//! The numbers are printed (`cargo test -p headroom-e2e --test real_sessions -- --nocapture`)
//! and recorded in docs/performance.md.

mod wrap_support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use headroom_testkit::{MockUpstream, Reply};
use serde_json::{json, Value};
use wrap_support::*;

fn real_claude() -> PathBuf {
    pinned_client("clients/node_modules/.bin/claude", "Claude Code CLI")
}

/// The commands an agent runs in a session, each bounded below the ~30 KB at which Claude Code
/// swaps an output for a file preview: finding its way around this repository (history, a
/// listing, a search, the lockfile, a diff, a commit), then building and testing a project
/// (see [`project`]) and asking a package manager for JSON.
fn commands(repo: &Path) -> Vec<String> {
    let r = repo.display();
    let project = project();
    let cargo = |args: &str| {
        format!(
            "cd {} && PATH={}:$PATH CARGO_HOME={} cargo {args} 2>&1 | head -c 24000",
            project.dir.display(),
            project.toolchain.display(),
            project.cargo_home.display(),
        )
    };
    vec![
        format!("git -C {r} log --stat -n 60 | head -c 24000"),
        format!("find {r}/crates {r}/tests -type f | sort | xargs ls -la | head -c 24000"),
        format!("grep -rn 'fn ' {r}/crates --include=*.rs | sort | head -c 24000"),
        cargo("build"),
        cargo("test --lib"),
        format!("git -C {r} diff {SESSION_DIFF} -- crates/headroom-compress/src | head -c 24000"),
        format!("cat {r}/Cargo.lock | head -c 20000"),
        format!(
            "cd {r}/.ci/clients && npm_config_update_notifier=false npm ls --json --all --depth 2"
        ),
        format!("git -C {r} show --stat --format=fuller HEAD~3 | head -c 20000"),
    ]
}

/// A fixed range of this repository's history, so the diff is the same on every run.
const SESSION_DIFF: &str = "39cd3c3~1 8fab0a8";

/// A small Rust project built and tested in the session, written the way projects are while
/// someone works on them: a library whose modules carry an unused import and an unused
/// variable each, ninety-six unit tests of which two fail, and a binary that does not compile.
/// Built once per test binary (under cargo's per-target temp dir) so every session sees the
/// same outputs and no session waits for a compile.
struct Project {
    dir: PathBuf,
    toolchain: PathBuf,
    cargo_home: PathBuf,
}

fn project() -> &'static Project {
    static PROJECT: std::sync::OnceLock<Project> = std::sync::OnceLock::new();
    PROJECT.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("session-project");
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("ledger");
        let cargo_home = root.join("cargo-home");
        std::fs::create_dir_all(dir.join("src/bin")).unwrap();
        std::fs::create_dir_all(&cargo_home).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"ledger\"\nversion = \"0.3.1\"\nedition = \"2021\"\n\n[dependencies]\n\n[workspace]\n",
        )
        .unwrap();
        let modules = [
            "accounts", "journal", "currency", "import", "export", "report", "rules", "audit",
        ];
        let verbs = ["parse", "validate", "normalize", "merge", "split", "summarize"];
        let nouns = ["entry", "amount"];
        let mut lib = String::from("//! Double-entry bookkeeping helpers.\n\n");
        for (m, module) in modules.iter().enumerate() {
            lib.push_str(&format!("pub mod {module};\n"));
            let mut src = format!(
                "//! The {module} stage.\n\nuse std::collections::HashMap;\n\n"
            );
            let mut tests = String::from("\n#[cfg(test)]\nmod tests {\n    use super::*;\n");
            for (v, verb) in verbs.iter().enumerate() {
                for (n, noun) in nouns.iter().enumerate() {
                    let name = format!("{verb}_{noun}");
                    let weight = m + v + n + 1;
                    if v == 0 && n == 0 {
                        src.push_str(&format!(
                            "pub fn {name}(input: &str) -> usize {{\n    let scratch = input.trim();\n    input.len() * {weight}\n}}\n\n"
                        ));
                    } else {
                        src.push_str(&format!(
                            "pub fn {name}(input: &str) -> usize {{\n    input.len() * {weight}\n}}\n\n"
                        ));
                    }
                    // Two tests expect what the code no longer does.
                    let expected = if (m, v, n) == (2, 3, 1) || (m, v, n) == (6, 1, 0) {
                        4 * weight + 1
                    } else {
                        4 * weight
                    };
                    tests.push_str(&format!(
                        "\n    #[test]\n    fn {name}_scales_with_length() {{\n        assert_eq!({name}(\"abcd\"), {expected});\n    }}\n"
                    ));
                }
            }
            tests.push_str("}\n");
            src.push_str(&tests);
            std::fs::write(dir.join(format!("src/{module}.rs")), src).unwrap();
        }
        std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
        std::fs::write(
            dir.join("src/bin/ledger-report.rs"),
            "use ledger::report;\n\nstruct Totals {\n    debit: u64,\n    credit: u64,\n}\n\nfn main() {\n    let args: Vec<String> = std::env::args().collect();\n    let width: u32 = report::summarize_entry(&args[1]);\n    let totals = Totals { debit: 0, credit: 0, balance: 0 };\n    println!(\"{} {}\", width, totals.debit.to_text());\n    let rate = report::normalize_amount(args[2]);\n    println!(\"{rate}\");\n}\n",
        )
        .unwrap();
        let sysroot = std::process::Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .expect("rustc runs");
        let toolchain = PathBuf::from(String::from_utf8(sysroot.stdout).unwrap().trim()).join("bin");
        // Compiled once up front; the session's commands then replay cargo's cached warnings.
        for args in [&["build", "--lib"][..], &["test", "--lib", "--no-run"][..]] {
            let status = std::process::Command::new(toolchain.join("cargo"))
                .args(args)
                .current_dir(&dir)
                .env("CARGO_HOME", &cargo_home)
                .env(
                    "PATH",
                    format!("{}:{}", toolchain.display(), std::env::var("PATH").unwrap()),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "cargo {args:?} in {}", dir.display());
        }
        Project {
            dir,
            toolchain,
            cargo_home,
        }
    })
}

fn is_main_loop(body: &Value) -> bool {
    body["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["name"] == "Bash"))
}

/// The model's side of the loop: the Nth request of the main loop (N tool results so far)
/// gets the Nth command, then a final answer. Side requests get the mock's defaults.
fn script(mock: &MockUpstream, commands: Vec<String>) {
    let commands = Arc::new(commands);
    mock.respond_with(move |method, path, body| {
        if method != "POST" || !path.starts_with("/v1/messages") || path.contains("count_tokens") {
            return None;
        }
        let body: Value = serde_json::from_slice(body).ok()?;
        if !is_main_loop(&body) {
            return None;
        }
        let done = body["messages"]
            .as_array()?
            .iter()
            .filter_map(|m| m["content"].as_array())
            .flatten()
            .filter(|b| b["type"] == "tool_result")
            .count();
        Some(match commands.get(done) {
            Some(cmd) => Reply::anthropic_tool_use_sse(
                &format!("toolu_{done:02}"),
                "Bash",
                &json!({"command": cmd, "description": format!("look around, step {done}")}),
            ),
            None => Reply::anthropic_sse("All done.", Duration::ZERO),
        })
    });
}

/// One session through `headroom proxy` (optimised or not); the main loop's request bodies.
async fn session(optimize: bool) -> Vec<Value> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let world = World::new();
    std::os::unix::fs::symlink(real_claude(), world.bin.join("claude")).unwrap();
    std::fs::create_dir_all(world.home.join(".claude")).unwrap();
    std::fs::write(
        world.home.join(".claude.json"),
        r#"{"hasCompletedOnboarding": true}"#,
    )
    .unwrap();
    let mock = MockUpstream::start().await;
    script(&mock, commands(repo));
    let port = free_port();
    let mut args = vec![
        "proxy".to_owned(),
        "--port".to_owned(),
        port.to_string(),
        "--anthropic-api-url".to_owned(),
        mock.url(),
    ];
    if !optimize {
        args.push("--no-optimize".to_owned());
    }
    let mut proxy = world
        .headroom(&args)
        .env("HEADROOM_LEDGER", "0")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(
        Duration::from_secs(10),
        || port_is_open(port),
        "the proxy to listen",
    );
    let mut claude = std::process::Command::new(world.bin.join("claude"));
    claude
        .args([
            "-p",
            "Look around this repository.",
            "--allowedTools",
            "Bash",
            "--max-turns",
            "20",
        ])
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", world.bin.display()),
        )
        .env("HOME", &world.home)
        .env("ANTHROPIC_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("ANTHROPIC_API_KEY", "sk-ant-session-bench")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("CLAUDE_CODE_MAX_RETRIES", "0")
        .current_dir(world.tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = output_of(claude).await;
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert!(
        out.status.success(),
        "claude exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    mock.requests()
        .iter()
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .filter(is_main_loop)
        .collect()
}

/// Tool outputs of a request, in order, as the text the model sees.
fn outputs(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .filter(|b| b["type"] == "tool_result")
        .map(|b| {
            let mut b = b.clone();
            if let Some(o) = b.as_object_mut() {
                o.remove("cache_control");
            }
            b.to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_claude_code_session_costs_less_through_headroom() {
    let optimized = session(true).await;
    let plain = session(false).await;
    let n = commands(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()).len();
    assert_eq!(
        optimized.len(),
        n + 1,
        "one request per command, then the answer"
    );
    assert_eq!(plain.len(), n + 1);

    for body in &optimized {
        assert_eq!(
            body["tools"], optimized[0]["tools"],
            "tools changed mid-conversation"
        );
    }
    // Every output is sent with the same bytes on every later turn.
    for (turn, body) in optimized.iter().enumerate().skip(1) {
        let now = outputs(body);
        let before = outputs(&optimized[turn - 1]);
        assert_eq!(
            &now[..before.len()],
            &before[..],
            "turn {turn} changed an earlier output"
        );
    }

    let (o, p) = (
        outputs(optimized.last().unwrap()),
        outputs(plain.last().unwrap()),
    );
    for (i, (o, p)) in o.iter().zip(&p).enumerate() {
        eprintln!("output {i}: {} -> {} bytes", p.len(), o.len());
    }
    let with = headroom_testkit::cache::anthropic_cost(&optimized);
    let without = headroom_testkit::cache::anthropic_cost(&plain);
    let ratio = with.weighted() / without.weighted();
    let last = |b: &[Value]| b.last().unwrap().to_string().len();
    eprintln!(
        "real Claude Code session, {n} real Bash outputs: last request {} -> {} bytes; cache-weighted input cost {:.0} -> {:.0} byte-units ({ratio:.3}x); bytes sent {} -> {}",
        last(&plain),
        last(&optimized),
        without.weighted(),
        with.weighted(),
        without.total(),
        with.total(),
    );
    // Never dearer — the promise that holds whatever the outputs are.
    assert!(ratio < 1.0, "Headroom made the session cost {ratio:.3}x");
    assert!(with.total() < without.total());
}

fn real_codex() -> PathBuf {
    pinned_client("clients/node_modules/.bin/codex", "Codex CLI")
}

fn is_codex_main_loop(body: &Value) -> bool {
    body["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["name"] == "exec_command"))
}

/// Codex's side of the loop, on the Responses API: one `exec_command` per turn. Over HTTP each
/// request carries the whole conversation; over WebSocket a `response.create` may carry only the
/// items since `previous_response_id`, so the next command follows the highest call answered.
fn script_codex(mock: &MockUpstream, commands: Vec<String>) {
    let commands = Arc::new(commands);
    mock.respond_with(move |method, path, body| {
        let main = (method == "POST" && path.starts_with("/v1/responses"))
            || (method == "WS" && path.contains("/responses"));
        if !main {
            return None;
        }
        let body: Value = serde_json::from_slice(body).ok()?;
        if !is_codex_main_loop(&body) {
            return None;
        }
        if body["generate"] == false {
            // Codex's WebSocket warm-up: an empty response.
            return Some(Reply::openai_responses_sse("", Duration::ZERO));
        }
        let done = body["input"]
            .as_array()?
            .iter()
            .filter(|i| i["type"] == "function_call_output")
            .filter_map(|i| {
                i["call_id"]
                    .as_str()?
                    .strip_prefix("call_")?
                    .parse::<usize>()
                    .ok()
            })
            .map(|n| n + 1)
            .max()
            .unwrap_or(0);
        Some(match commands.get(done) {
            Some(cmd) => Reply::openai_function_call_sse(
                &format!("call_{done:02}"),
                "exec_command",
                &json!({"cmd": cmd}),
            ),
            None => Reply::openai_responses_sse("All done.", Duration::ZERO),
        })
    });
}

/// How Codex reaches the proxy.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Transport {
    Http,
    WebSocket,
}

/// One Codex session through `headroom proxy` (optimised or not): the main loop's bodies.
async fn codex_session(optimize: bool, transport: Transport) -> Vec<Value> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let world = World::new();
    let codex_home = world.home.join(".codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    let base_env = |cmd: &mut std::process::Command| {
        cmd.env_clear()
            .env(
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", world.bin.display()),
            )
            .env("HOME", &world.home)
            .env("CODEX_HOME", &codex_home)
            .current_dir(world.tmp.path());
    };
    let mut login = std::process::Command::new(real_codex());
    base_env(&mut login);
    let mut login = login
        .args(["login", "--with-api-key"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        login
            .stdin
            .take()
            .unwrap()
            .write_all(b"sk-codex-session-bench")
            .unwrap();
    }
    assert!(login.wait().unwrap().success());

    let mock = MockUpstream::start().await;
    script_codex(&mock, commands(repo));
    let port = free_port();
    let mut args = vec![
        "proxy".to_owned(),
        "--port".to_owned(),
        port.to_string(),
        "--openai-api-url".to_owned(),
        mock.url(),
    ];
    if !optimize {
        args.push("--no-optimize".to_owned());
    }
    let mut proxy = world
        .headroom(&args)
        .env("HEADROOM_LEDGER", "0")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(
        Duration::from_secs(10),
        || port_is_open(port),
        "the proxy to listen",
    );
    // The provider `headroom wrap codex` and the provider-scope install configure.
    let mut codex = std::process::Command::new(real_codex());
    base_env(&mut codex);
    codex
        .args(["-m", "gpt-5-codex", "-c", "model_provider=\"headroom\""])
        .args(["-c", "model_providers.headroom.name=\"Headroom\""])
        .arg("-c")
        .arg(format!(
            "model_providers.headroom.base_url=\"http://127.0.0.1:{port}/v1\""
        ))
        .args(["-c", "model_providers.headroom.wire_api=\"responses\""])
        .args(["-c", "model_providers.headroom.requires_openai_auth=true"])
        .args(["-c", "model_providers.headroom.request_max_retries=0"])
        .args(["-c", "model_providers.headroom.stream_max_retries=0"])
        .arg("-c")
        .arg(format!(
            "model_providers.headroom.supports_websockets={}",
            transport == Transport::WebSocket
        ))
        .args([
            "exec",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            "Look around this repository.",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = output_of(codex).await;
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert!(
        out.status.success(),
        "codex exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let bodies: Vec<Value> = mock
        .requests()
        .iter()
        .filter(|r| match transport {
            Transport::Http => r.method == "POST",
            Transport::WebSocket => r.method == "WS",
        })
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .filter(is_codex_main_loop)
        .collect();
    // Over WebSocket a message carries the items since `previous_response_id`; what the model
    // reads (and what is billed, cache or not) is the whole chain.
    let bodies: Vec<Value> = chained(bodies)
        .into_iter()
        .filter(|b| b["generate"] != false)
        .collect();
    eprintln!(
        "codex over {transport:?}: {} main-loop requests ({})",
        bodies.len(),
        bodies
            .iter()
            .map(|b| format!(
                "prev={} items={}",
                b["previous_response_id"],
                b["input"].as_array().map_or(0, Vec::len)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    bodies
}

/// Each body with `input` extended by the inputs of the bodies its `previous_response_id` chain
/// continues (the model's own output items are left out: they are the same bytes through
/// Headroom and without it).
fn chained(bodies: Vec<Value>) -> Vec<Value> {
    let mut acc: Vec<Value> = Vec::new();
    bodies
        .into_iter()
        .map(|mut b| {
            let items = b["input"].as_array().cloned().unwrap_or_default();
            if !b["previous_response_id"].is_string() {
                acc.clear();
            }
            acc.extend(items);
            b["input"] = Value::Array(acc.clone());
            b
        })
        .collect()
}

fn codex_outputs(body: &Value) -> Vec<String> {
    body["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "function_call_output")
        .map(|i| i["output"].to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_codex_session_costs_less_through_headroom() {
    codex_session_costs_less(Transport::Http).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_codex_session_over_websocket_costs_less_through_headroom() {
    codex_session_costs_less(Transport::WebSocket).await;
}

async fn codex_session_costs_less(transport: Transport) {
    let optimized = codex_session(true, transport).await;
    let plain = codex_session(false, transport).await;
    let n = commands(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()).len();
    assert_eq!(
        optimized.len(),
        n + 1,
        "one request per command, then the answer"
    );
    assert_eq!(plain.len(), n + 1);
    for body in &optimized {
        assert_eq!(
            body["tools"], optimized[0]["tools"],
            "tools changed mid-conversation"
        );
    }
    for (turn, body) in optimized.iter().enumerate().skip(1) {
        let now = codex_outputs(body);
        let before = codex_outputs(&optimized[turn - 1]);
        assert_eq!(
            &now[..before.len()],
            &before[..],
            "turn {turn} changed an earlier output"
        );
    }
    let (o, p) = (
        codex_outputs(optimized.last().unwrap()),
        codex_outputs(plain.last().unwrap()),
    );
    for (i, (o, p)) in o.iter().zip(&p).enumerate() {
        eprintln!("codex output {i}: {} -> {} bytes", p.len(), o.len());
    }
    let with = headroom_testkit::cache::openai_cost(&optimized);
    let without = headroom_testkit::cache::openai_cost(&plain);
    let ratio = with.weighted() / without.weighted();
    eprintln!(
        "real Codex session, {n} real exec_command outputs: cache-weighted input cost {:.0} -> {:.0} byte-units ({ratio:.3}x); bytes sent {} -> {}",
        without.weighted(),
        with.weighted(),
        without.total(),
        with.total(),
    );
    assert!(ratio < 1.0, "Headroom made the session cost {ratio:.3}x");
    assert!(with.total() < without.total());
}
