//! The corpus harness shared by `examples/corpus.rs` (the report) and `tests/corpus.rs` (the
//! gate): every real output of `corpus/outputs/` is wrapped in every client shape it reaches
//! the proxy in, compressed through the crate's public [`compress_request`], and checked for
//! the facts `corpus/manifest.json` says must survive.
//!
//! Why every shape: the same `cargo test` output arrives as a Claude Code `tool_result` string
//! or text parts (sometimes cut by Claude Code with `... [N lines truncated] ...`, sometimes
//! with `is_error`), as an OpenAI chat `role: tool` message, as a Codex `function_call_output`
//! inside either text envelope or the JSON `{"output":…,"metadata":…}` envelope, or as MCP text
//! parts. Compression that only works in one of them does not work.

#![allow(dead_code)]

use headroom_compress::{compress_request, Api, Options, Outcome};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub class: String,
    pub command: String,
    pub exit_code: i64,
    pub question: Option<String>,
    pub facts: Vec<String>,
    pub details: Vec<String>,
    pub output: String,
}

pub fn load() -> Vec<Entry> {
    let dir = corpus_dir();
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(dir.join("manifest.json")).expect("corpus/manifest.json (run generate.py)"),
    )
    .expect("manifest is JSON");
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    manifest["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap().to_owned();
            let output = std::fs::read_to_string(dir.join("outputs").join(format!("{name}.txt")))
                .unwrap_or_else(|err| panic!("corpus output {name}: {err}"));
            Entry {
                class: e["class"].as_str().unwrap().to_owned(),
                command: e["command"].as_str().unwrap().to_owned(),
                exit_code: e["exit_code"].as_i64().unwrap_or(0),
                question: e["question"].as_str().map(str::to_owned),
                facts: strings(&e["facts"]),
                details: strings(&e["details"]),
                name,
                output,
            }
        })
        .collect()
}

/// The client shapes a tool output reaches the proxy in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shape {
    /// Claude Code: `tool_result` with string content.
    CcString,
    /// Claude Code: `tool_result` with `[{"type":"text"}]` content.
    CcParts,
    /// Claude Code cut the output: first 30,000 characters, then `... [N lines truncated] ...`.
    CcTruncated,
    /// Claude Code: a failing command, `is_error: true`.
    CcError,
    /// OpenAI chat completions: `role: "tool"`.
    OpenAiChat,
    /// Codex (Responses): shell tool, text envelope `Exit code:` / `Wall time:` / `Output:`.
    CodexShell,
    /// Codex (Responses): `exec_command`, `Chunk ID:` … `Original token count:` / `Output:`.
    CodexExec,
    /// Codex (Responses): JSON envelope `{"output":…,"metadata":{…}}`.
    CodexJson,
    /// Codex (Responses): `exec_command` whose output Codex cut to its budget: a warning, `Total
    /// output lines: N`, the first and last 5,000 bytes, `…N chars truncated…` between them.
    CodexCut,
    /// An MCP tool's text parts (Anthropic `tool_result`, tool `mcp__shell__run`).
    McpParts,
}

pub const SHAPES: [Shape; 10] = [
    Shape::CcString,
    Shape::CcParts,
    Shape::CcTruncated,
    Shape::CcError,
    Shape::OpenAiChat,
    Shape::CodexShell,
    Shape::CodexExec,
    Shape::CodexJson,
    Shape::CodexCut,
    Shape::McpParts,
];

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::CcString => "cc_string",
            Shape::CcParts => "cc_parts",
            Shape::CcTruncated => "cc_truncated",
            Shape::CcError => "cc_is_error",
            Shape::OpenAiChat => "openai_chat",
            Shape::CodexShell => "codex_shell",
            Shape::CodexExec => "codex_exec",
            Shape::CodexJson => "codex_json",
            Shape::CodexCut => "codex_cut",
            Shape::McpParts => "mcp_parts",
        }
    }
    pub fn api(self) -> Api {
        match self {
            Shape::OpenAiChat => Api::OpenAiChat,
            Shape::CodexShell | Shape::CodexExec | Shape::CodexJson | Shape::CodexCut => {
                Api::OpenAiResponses
            }
            _ => Api::AnthropicMessages,
        }
    }
}

/// Claude Code's Bash tool cut: the first 30,000 characters (at a line end) and a marker
/// naming the lines left out. Outputs that short are cut at two thirds of their lines.
pub fn claude_truncate(out: &str) -> String {
    const MAX: usize = 30_000;
    let lines: Vec<&str> = out.lines().collect();
    let keep = if out.len() > MAX {
        let mut size = 0;
        lines
            .iter()
            .take_while(|l| {
                size += l.len() + 1;
                size <= MAX
            })
            .count()
    } else {
        (lines.len() * 2 / 3).max(1)
    };
    let cut = lines.len().saturating_sub(keep);
    if cut == 0 {
        return out.to_owned();
    }
    format!(
        "{}\n\n... [{cut} lines truncated] ...",
        lines[..keep].join("\n")
    )
}

/// Codex's cut of an output over its budget, as Codex 0.171 sent it in the real sessions:
/// `Warning: truncated output (original token count: N)`, `Total output lines: L`, a blank
/// line, then the first and last 5,000 bytes with the middle replaced by `…N chars
/// truncated…` (at char boundaries, usually mid-line). Shorter outputs go as they are.
pub fn codex_truncate(out: &str) -> String {
    const BUDGET: usize = 10_000;
    if out.len() <= BUDGET {
        return out.to_owned();
    }
    let mut left = BUDGET / 2;
    while !out.is_char_boundary(left) {
        left -= 1;
    }
    let mut right = out.len() - BUDGET / 2;
    while !out.is_char_boundary(right) {
        right += 1;
    }
    format!(
        "Warning: truncated output (original token count: {})\nTotal output lines: {}\n\n{}…{} chars truncated…{}",
        out.len() / 4,
        out.lines().count(),
        &out[..left],
        out[left..right].chars().count(),
        &out[right..]
    )
}

/// The tool-output text exactly as the client puts it into the request.
pub fn wrapped_text(e: &Entry, shape: Shape) -> String {
    let out = &e.output;
    let code = e.exit_code;
    let secs = 1.0 + (out.len() % 900) as f64 / 100.0;
    match shape {
        Shape::CcTruncated => claude_truncate(out),
        Shape::CodexShell => format!("Exit code: {code}\nWall time: {secs:.1} seconds\nOutput:\n{out}"),
        Shape::CodexExec => format!(
            "Chunk ID: {:06x}\nWall time: {secs:.4} seconds\nProcess exited with code {code}\nOriginal token count: {}\nOutput:\n{out}",
            out.len() % 0xffffff,
            out.len() / 4
        ),
        Shape::CodexJson => json!({"output": out, "metadata": {"exit_code": code, "duration_seconds": secs}}).to_string(),
        Shape::CodexCut => format!(
            "Chunk ID: {:06x}\nWall time: {secs:.4} seconds\nProcess exited with code {code}\nOriginal token count: {}\nOutput:\n{}",
            out.len() % 0xffffff,
            out.len() / 4,
            codex_truncate(out)
        ),
        _ => out.clone(),
    }
}

/// A whole request carrying `e`'s output in `shape`, preceded by the user's question and the
/// tool call that produced it.
pub fn request(e: &Entry, shape: Shape) -> Vec<u8> {
    let question = e
        .question
        .clone()
        .unwrap_or_else(|| format!("run `{}` and tell me what you find", e.command));
    let text = wrapped_text(e, shape);
    let system = "You are a coding agent working in a repository. Use the tools to inspect it.";
    let v = match shape {
        Shape::CcString
        | Shape::CcParts
        | Shape::CcTruncated
        | Shape::CcError
        | Shape::McpParts => {
            let (tool, input) = if shape == Shape::McpParts {
                ("mcp__shell__run", json!({"command": e.command}))
            } else {
                (
                    "Bash",
                    json!({"command": e.command, "description": "Run the command"}),
                )
            };
            let content = if matches!(shape, Shape::CcParts | Shape::McpParts) {
                json!([{"type": "text", "text": text}])
            } else {
                json!(text)
            };
            let mut result =
                json!({"type": "tool_result", "tool_use_id": "toolu_01", "content": content});
            if shape == Shape::CcError {
                result["is_error"] = json!(true);
            }
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 8192,
                "system": system,
                "tools": [{"name": tool, "description": "Run a shell command", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}],
                "messages": [
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01", "name": tool, "input": input}]},
                    {"role": "user", "content": [result]}
                ]
            })
        }
        Shape::OpenAiChat => json!({
            "model": "gpt-4.1",
            "tools": [{"type": "function", "function": {"name": "shell", "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}}],
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": question},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "shell", "arguments": json!({"command": e.command}).to_string()}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": text}
            ]
        }),
        Shape::CodexShell | Shape::CodexExec | Shape::CodexJson | Shape::CodexCut => {
            let (name, args) = if matches!(shape, Shape::CodexExec | Shape::CodexCut) {
                ("exec_command", json!({"cmd": e.command}))
            } else {
                ("shell", json!({"command": ["bash", "-lc", e.command]}))
            };
            json!({
                "model": "gpt-5-codex",
                "instructions": system,
                "tools": [{"type": "function", "name": name, "parameters": {"type": "object"}}],
                "input": [
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": question}]},
                    {"type": "function_call", "call_id": "call_1", "name": name, "arguments": args.to_string()},
                    {"type": "function_call_output", "call_id": "call_1", "output": text}
                ]
            })
        }
    };
    serde_json::to_vec(&v).unwrap()
}

/// The tool output as the model will see it in a forwarded body (envelopes opened).
pub fn forwarded_text(shape: Shape, body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).expect("forwarded body is JSON");
    let raw = match shape.api() {
        Api::AnthropicMessages => {
            let c = &v["messages"][2]["content"][0]["content"];
            match c {
                Value::String(s) => s.clone(),
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => String::new(),
            }
        }
        Api::OpenAiChat => v["messages"][3]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        Api::OpenAiResponses => v["input"][2]["output"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    };
    if shape == Shape::CodexJson {
        if let Ok(inner) = serde_json::from_str::<Value>(&raw) {
            if let Some(s) = inner["output"].as_str() {
                return s.to_owned();
            }
        }
    }
    raw
}

pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\x1b' && it.peek() == Some(&'[') {
            it.next();
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Is `fact` visible in `view`? Whitespace-insensitive, so re-indentation and minified JSON
/// still count, and ANSI colours do not matter.
pub struct View {
    plain: String,
    squashed: String,
}

impl View {
    pub fn new(text: &str) -> View {
        let plain = strip_ansi(text);
        let squashed = squash(&plain);
        View { plain, squashed }
    }
    pub fn has(&self, fact: &str) -> bool {
        self.plain.contains(fact) || self.squashed.contains(&squash(fact))
    }

    /// Does the input hold `fact` as itself, not inside a longer word? (A client's cut can
    /// leave `cfb` only inside a checksum; that is no package name to keep.)
    pub fn names(&self, fact: &str) -> bool {
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let bounded = self.plain.match_indices(fact).any(|(at, _)| {
            (!word(fact.chars().next()) || !word(self.plain[..at].chars().next_back()))
                && (!word(fact.chars().next_back())
                    || !word(self.plain[at + fact.len()..].chars().next()))
        });
        bounded || (fact.contains(char::is_whitespace) && self.squashed.contains(&squash(fact)))
    }
}

/// The measured result of one entry in one shape.
#[derive(Debug, Clone)]
pub struct Run {
    pub entry: usize,
    pub shape: Shape,
    pub kind: &'static str,
    pub request_tokens_before: u64,
    pub request_tokens_after: u64,
    pub output_tokens_before: u64,
    pub output_tokens_after: u64,
    pub output_bytes: usize,
    /// Tool-output tokens by the crate's table-free heuristic (fast in debug builds: the
    /// test's baseline uses these).
    pub heuristic_before: f64,
    pub heuristic_after: f64,
    pub facts_total: usize,
    pub facts_kept: usize,
    pub lost_facts: Vec<String>,
    pub details_total: usize,
    pub details_kept: usize,
    pub lost_details: Vec<String>,
    pub time: Duration,
}

pub fn count(text: &str) -> u64 {
    tiktoken_rs::cl100k_base_singleton()
        .encode_with_special_tokens(text)
        .len() as u64
}

fn heuristic(text: &str) -> f64 {
    headroom_compress::Tokenizer::Heuristic.count_parts(&[text.as_bytes()])
}

/// `exact`: count `cl100k_base` tokens (slow in debug builds); otherwise those fields are 0.
pub fn run(entries: &[Entry], idx: usize, shape: Shape, repeats: usize, exact: bool) -> Run {
    let count = |t: &str| if exact { count(t) } else { 0 };
    let e = &entries[idx];
    let body = request(e, shape);
    let options = Options {
        count_tokens: false,
        ..Options::default()
    };
    let mut best = Duration::MAX;
    let mut out = Outcome::default();
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        out = compress_request(shape.api(), &body, &options);
        best = best.min(t.elapsed());
    }
    let forwarded = out.body.clone().unwrap_or_else(|| body.clone());
    let before_text = forwarded_text(shape, &body);
    let after_text = forwarded_text(shape, &forwarded);
    let view = View::new(&after_text);
    let input_view = View::new(&before_text);
    // Facts the (possibly truncated) input still holds.
    let facts: Vec<&String> = e.facts.iter().filter(|f| input_view.names(f)).collect();
    let details: Vec<&String> = e.details.iter().filter(|f| input_view.has(f)).collect();
    let lost_facts: Vec<String> = facts
        .iter()
        .filter(|f| !view.has(f))
        .map(|f| f.to_string())
        .collect();
    // A retained original is the tool output as sent: open the JSON envelope.
    let retained: Vec<View> = out
        .retained
        .iter()
        .map(|r| match serde_json::from_str::<Value>(&r.original) {
            Ok(v) if v["output"].is_string() => View::new(v["output"].as_str().unwrap_or_default()),
            _ => View::new(&r.original),
        })
        .collect();
    let lost_details: Vec<String> = details
        .iter()
        .filter(|f| !view.has(f) && !retained.iter().any(|r| r.has(f)))
        .map(|f| f.to_string())
        .collect();
    let raw_before = match shape {
        Shape::CodexJson => wrapped_text(e, shape),
        _ => before_text.clone(),
    };
    let raw_after = match (shape, &out.body) {
        (Shape::CodexJson, Some(b)) => {
            let v: Value = serde_json::from_slice(b).unwrap();
            v["input"][2]["output"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
        (Shape::CodexJson, None) => raw_before.clone(),
        _ => after_text.clone(),
    };
    Run {
        entry: idx,
        shape,
        kind: out.blocks.first().map(|b| b.kind.name()).unwrap_or("none"),
        request_tokens_before: count(&String::from_utf8_lossy(&body)),
        request_tokens_after: count(&String::from_utf8_lossy(&forwarded)),
        output_tokens_before: count(&raw_before),
        output_tokens_after: count(&raw_after),
        output_bytes: raw_before.len(),
        heuristic_before: heuristic(&raw_before),
        heuristic_after: heuristic(&raw_after),
        facts_total: facts.len(),
        facts_kept: facts.len() - lost_facts.len(),
        lost_facts,
        details_total: details.len(),
        details_kept: details.len() - lost_details.len(),
        lost_details,
        time: best,
    }
}

pub fn run_all(entries: &[Entry], repeats: usize, exact: bool) -> Vec<Run> {
    let mut runs = Vec::new();
    for i in 0..entries.len() {
        for s in SHAPES {
            runs.push(run(entries, i, s, repeats, exact));
        }
    }
    runs
}

/// Per-group totals: (request before, request after, output before, output after, facts kept,
/// facts total, details kept, details total, n).
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    pub req_before: u64,
    pub req_after: u64,
    pub out_before: u64,
    pub out_after: u64,
    pub facts_kept: usize,
    pub facts: usize,
    pub details_kept: usize,
    pub details: usize,
    pub n: usize,
    pub bytes: usize,
    pub time: Duration,
    pub h_before: f64,
    pub h_after: f64,
}

impl Totals {
    pub fn add(&mut self, r: &Run) {
        self.req_before += r.request_tokens_before;
        self.req_after += r.request_tokens_after;
        self.out_before += r.output_tokens_before;
        self.out_after += r.output_tokens_after;
        self.facts_kept += r.facts_kept;
        self.facts += r.facts_total;
        self.details_kept += r.details_kept;
        self.details += r.details_total;
        self.n += 1;
        self.bytes += r.output_bytes;
        self.time += r.time;
        self.h_before += r.heuristic_before;
        self.h_after += r.heuristic_after;
    }
    /// % of tool-output tokens saved by the heuristic count.
    pub fn heuristic_saved(&self) -> f64 {
        if self.h_before == 0.0 {
            0.0
        } else {
            100.0 * (self.h_before - self.h_after) / self.h_before
        }
    }
    pub fn req_saved(&self) -> f64 {
        pct(self.req_before, self.req_after)
    }
    pub fn out_saved(&self) -> f64 {
        pct(self.out_before, self.out_after)
    }
}

pub fn pct(before: u64, after: u64) -> f64 {
    if before == 0 {
        0.0
    } else {
        100.0 * (before as f64 - after as f64) / before as f64
    }
}

pub fn by<K: Ord + Clone>(runs: &[Run], key: impl Fn(&Run) -> K) -> Vec<(K, Totals)> {
    let mut m: std::collections::BTreeMap<K, Totals> = Default::default();
    for r in runs {
        m.entry(key(r)).or_default().add(r);
    }
    m.into_iter().collect()
}

/// The recorded per-class baseline (`corpus/baseline.json`: class → % of tool-output tokens
/// saved, by the heuristic count the test can afford in a debug build).
pub fn baseline(path: &Path) -> Vec<(String, f64)> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let v: Value = serde_json::from_slice(&bytes).expect("baseline.json is JSON");
    v["heuristic_output_saved_pct"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0)))
                .collect()
        })
        .unwrap_or_default()
}
