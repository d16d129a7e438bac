//! Finds the tool outputs inside a request body, per provider API, with everything the router
//! needs to decide about them (tool name, protection, the question that preceded them).
//!
//! Only string values are ever candidates; their spans come from [`crate::json`], so replacing
//! them leaves every other byte of the body untouched.

use crate::json::{Kind, Node};
use crate::Api;
use std::collections::HashMap;
use std::ops::Range;

/// Why a tool output is passed through untouched.
///
/// `cache_control` is deliberately not a reason: a marked block is compressed like any other
/// (the marker stays, only the text changes), so the bytes cached in the turn a block first
/// appears are the bytes every later turn sends. Protecting it would forward it whole while
/// marked and compressed once the marker moved on — a cache miss on every turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protect {
    /// The producing tool reads or edits files (exact text matters to the agent).
    FileTool,
    /// The output of our own `headroom_retrieve` tool (re-compressing it would loop).
    Retrieve,
}

#[derive(Debug, Clone)]
pub struct Candidate {
    /// Span of the JSON string literal (with quotes) in the body.
    pub span: Range<usize>,
    pub tool_name: Option<String>,
    pub protect: Option<Protect>,
    /// Index into [`Walk::questions`]: the latest user text before this output.
    pub question: Option<usize>,
    /// Only transforms that keep every problem line may run: the result is an error
    /// (`is_error: true`), or a `Read` of a log or of the client's own persisted tool output.
    pub problems_only: bool,
    /// The file a read tool read (`input.file_path` / `path`), when it could be found.
    pub read_path: Option<String>,
}

#[derive(Debug, Default)]
pub struct Walk {
    pub candidates: Vec<Candidate>,
    pub questions: Vec<String>,
    pub model: Option<String>,
}

pub fn walk(api: Api, root: &Node, src: &[u8], protected_tools: &[String]) -> Walk {
    let mut w = Walk {
        model: root.get_in(src, "model").and_then(|m| m.str_value(src)),
        ..Walk::default()
    };
    match api {
        Api::AnthropicMessages => anthropic(root, src, &mut w),
        Api::OpenAiChat => openai_chat(root, src, &mut w),
        Api::OpenAiResponses => openai_responses(root, src, &mut w),
    }
    for c in &mut w.candidates {
        if c.protect.is_none() {
            if let Some(name) = &c.tool_name {
                if name == crate::RETRIEVE_TOOL_NAME {
                    c.protect = Some(Protect::Retrieve);
                } else if is_protected_tool(name, protected_tools) {
                    if c.read_path.as_deref().is_some_and(is_log_like_path) && is_read_tool(name) {
                        c.problems_only = true;
                    } else {
                        c.protect = Some(Protect::FileTool);
                    }
                }
            }
        }
    }
    w
}

/// Case-insensitive match on the tool name, also on the last segment of MCP-style names
/// (`mcp__filesystem__read_file` matches `read_file`).
pub fn is_protected_tool(name: &str, protected: &[String]) -> bool {
    let last = name.rsplit("__").next().unwrap_or(name);
    protected
        .iter()
        .any(|p| p.eq_ignore_ascii_case(name) || p.eq_ignore_ascii_case(last))
}

/// Tools that only read a file (the agent never edits through their output).
fn is_read_tool(name: &str) -> bool {
    let last = name.rsplit("__").next().unwrap_or(name);
    ["Read", "read_file", "read_text_file", "view_file"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(last))
}

/// Files whose text is output, not something the agent edits: logs (`*.log`, `*.log.1`,
/// `*.log.gz` is binary and never arrives as text) and Claude Code's persisted tool outputs
/// (`<config>/projects/<project>/<session>/tool-results/<tool_use_id>.txt`, named in its
/// `<persisted-output>` preview). Anything else a read tool returns stays byte-exact: when in
/// doubt, protect.
pub fn is_log_like_path(path: &str) -> bool {
    let p = path.replace('\\', "/");
    let file = p.rsplit('/').next().unwrap_or(&p);
    let lower = file.to_ascii_lowercase();
    if lower.ends_with(".log") {
        return true;
    }
    // Rotated logs: `app.log.1`, `syslog.2`.
    if let Some((stem, n)) = lower.rsplit_once('.') {
        if !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && (stem.ends_with(".log") || stem.ends_with("log"))
        {
            return true;
        }
    }
    let segs: Vec<&str> = p.split('/').collect();
    let n = segs.len();
    n >= 5 && lower.ends_with(".txt") && segs[n - 2] == "tool-results" && segs[n - 5] == "projects"
}

fn push_question(w: &mut Walk, text: String) -> Option<usize> {
    if text.trim().is_empty() {
        return w.questions.len().checked_sub(1);
    }
    w.questions.push(text);
    Some(w.questions.len() - 1)
}

fn text_of_parts(parts: &[Node], src: &[u8], types: &[&str]) -> String {
    let mut s = String::new();
    for p in parts {
        let ty = p.get_in(src, "type").and_then(|t| t.str_value(src));
        if ty.as_deref().is_some_and(|t| types.contains(&t)) {
            if let Some(t) = p.get_in(src, "text").and_then(|t| t.str_value(src)) {
                if !s.is_empty() {
                    s.push('\n');
                }
                s.push_str(&t);
            }
        }
    }
    s
}

fn anthropic(root: &Node, src: &[u8], w: &mut Walk) {
    let Some(messages) = root.get_in(src, "messages").and_then(Node::as_array) else {
        return;
    };
    let mut names: HashMap<String, String> = HashMap::new();
    let mut paths: HashMap<String, String> = HashMap::new();
    for m in messages {
        if let Some(blocks) = m.get_in(src, "content").and_then(Node::as_array) {
            for b in blocks {
                let ty = b.get_in(src, "type").and_then(|t| t.str_value(src));
                if matches!(ty.as_deref(), Some("tool_use" | "server_tool_use")) {
                    if let (Some(id), Some(name)) = (
                        b.get_in(src, "id").and_then(|v| v.str_value(src)),
                        b.get_in(src, "name").and_then(|v| v.str_value(src)),
                    ) {
                        if let Some(p) = b.get_in(src, "input").and_then(|i| path_arg(i, src)) {
                            paths.insert(id.clone(), p);
                        }
                        names.insert(id, name);
                    }
                }
            }
        }
    }
    let mut question: Option<usize> = None;
    for m in messages {
        let role = m.get_in(src, "role").and_then(|r| r.str_value(src));
        let is_user = role.as_deref() == Some("user");
        let content = m.get_in(src, "content");
        let mut texts = String::new();
        match content.map(|c| &c.kind) {
            Some(Kind::Str { .. }) if is_user => {
                texts = content.and_then(|c| c.str_value(src)).unwrap_or_default();
            }
            Some(Kind::Array(blocks)) if is_user => {
                for b in blocks {
                    let ty = b.get_in(src, "type").and_then(|t| t.str_value(src));
                    match ty.as_deref() {
                        Some("text") => {
                            if let Some(t) = b.get_in(src, "text").and_then(|t| t.str_value(src)) {
                                texts.push_str(&t);
                                texts.push('\n');
                            }
                        }
                        Some("tool_result") => tool_result(b, src, &names, &paths, question, w),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        if is_user && !texts.trim().is_empty() {
            question = push_question(w, texts);
        }
    }
}

/// The file path argument of a read tool call (`file_path`, `path`, `filename`), from a JSON
/// object or from OpenAI's JSON-encoded `arguments` string.
fn path_arg(input: &Node, src: &[u8]) -> Option<String> {
    const KEYS: [&str; 3] = ["file_path", "path", "filename"];
    match &input.kind {
        Kind::Object(_) => KEYS
            .iter()
            .find_map(|k| input.get_in(src, k).and_then(|v| v.str_value(src))),
        Kind::Str { .. } => {
            let args: serde_json::Value = serde_json::from_str(&input.str_value(src)?).ok()?;
            KEYS.iter()
                .find_map(|k| args.get(k).and_then(|v| v.as_str()).map(str::to_owned))
        }
        _ => None,
    }
}

fn tool_result(
    b: &Node,
    src: &[u8],
    names: &HashMap<String, String>,
    paths: &HashMap<String, String>,
    question: Option<usize>,
    w: &mut Walk,
) {
    let id = b.get_in(src, "tool_use_id").and_then(|v| v.str_value(src));
    let tool_name = id.as_ref().and_then(|id| names.get(id).cloned());
    let read_path = id.as_ref().and_then(|id| paths.get(id).cloned());
    let protect = None;
    let problems_only = b.get_in(src, "is_error").is_some_and(Node::is_true);
    let Some(content) = b.get_in(src, "content") else {
        return;
    };
    match &content.kind {
        Kind::Str { .. } => w.candidates.push(Candidate {
            span: content.span.clone(),
            tool_name,
            protect,
            question,
            problems_only,
            read_path,
        }),
        Kind::Array(parts) => {
            for p in parts {
                if p.get_in(src, "type")
                    .and_then(|t| t.str_value(src))
                    .as_deref()
                    != Some("text")
                {
                    continue;
                }
                let Some(text) = p.get_in(src, "text").filter(|t| t.is_str()) else {
                    continue;
                };
                w.candidates.push(Candidate {
                    span: text.span.clone(),
                    tool_name: tool_name.clone(),
                    protect,
                    question,
                    problems_only,
                    read_path: read_path.clone(),
                });
            }
        }
        _ => {}
    }
}

/// Text parts of an OpenAI content value (string or array of `{type, text}` parts).
fn openai_text_spans(content: &Node, src: &[u8], part_types: &[&str]) -> Vec<Range<usize>> {
    match &content.kind {
        Kind::Str { .. } => vec![content.span.clone()],
        Kind::Array(parts) => parts
            .iter()
            .filter(|p| {
                p.get_in(src, "type")
                    .and_then(|t| t.str_value(src))
                    .is_some_and(|t| part_types.contains(&t.as_str()))
            })
            .filter_map(|p| {
                p.get_in(src, "text")
                    .filter(|t| t.is_str())
                    .map(|t| t.span.clone())
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn openai_chat(root: &Node, src: &[u8], w: &mut Walk) {
    let Some(messages) = root.get_in(src, "messages").and_then(Node::as_array) else {
        return;
    };
    let mut names: HashMap<String, String> = HashMap::new();
    let mut paths: HashMap<String, String> = HashMap::new();
    for m in messages {
        if let Some(calls) = m.get_in(src, "tool_calls").and_then(Node::as_array) {
            for c in calls {
                let id = c.get_in(src, "id").and_then(|v| v.str_value(src));
                let name = c
                    .get_in(src, "function")
                    .and_then(|f| f.get_in(src, "name"))
                    .and_then(|v| v.str_value(src));
                if let (Some(id), Some(name)) = (id, name) {
                    if let Some(p) = c
                        .get_in(src, "function")
                        .and_then(|f| f.get_in(src, "arguments"))
                        .and_then(|a| path_arg(a, src))
                    {
                        paths.insert(id.clone(), p);
                    }
                    names.insert(id, name);
                }
            }
        }
    }
    let mut question = None;
    for m in messages {
        let role = m.get_in(src, "role").and_then(|r| r.str_value(src));
        let Some(content) = m.get_in(src, "content") else {
            continue;
        };
        match role.as_deref() {
            Some("user") => {
                let t = match &content.kind {
                    Kind::Array(parts) => text_of_parts(parts, src, &["text"]),
                    _ => content.str_value(src).unwrap_or_default(),
                };
                if !t.trim().is_empty() {
                    question = push_question(w, t);
                }
            }
            Some("tool" | "function") => {
                let id = m.get_in(src, "tool_call_id").and_then(|v| v.str_value(src));
                let tool_name = id
                    .as_ref()
                    .and_then(|id| names.get(id).cloned())
                    .or_else(|| m.get_in(src, "name").and_then(|n| n.str_value(src)));
                let read_path = id.as_ref().and_then(|id| paths.get(id).cloned());
                for span in openai_text_spans(content, src, &["text"]) {
                    w.candidates.push(Candidate {
                        span,
                        tool_name: tool_name.clone(),
                        protect: None,
                        question,
                        problems_only: false,
                        read_path: read_path.clone(),
                    });
                }
            }
            _ => {}
        }
    }
}

fn openai_responses(root: &Node, src: &[u8], w: &mut Walk) {
    let Some(items) = root.get_in(src, "input").and_then(Node::as_array) else {
        return;
    };
    let mut names: HashMap<String, String> = HashMap::new();
    let mut paths: HashMap<String, String> = HashMap::new();
    for it in items {
        let ty = it.get_in(src, "type").and_then(|t| t.str_value(src));
        if matches!(ty.as_deref(), Some("function_call" | "custom_tool_call")) {
            if let (Some(id), Some(name)) = (
                it.get_in(src, "call_id").and_then(|v| v.str_value(src)),
                it.get_in(src, "name").and_then(|v| v.str_value(src)),
            ) {
                let args = it
                    .get_in(src, "arguments")
                    .or_else(|| it.get_in(src, "input"));
                if let Some(p) = args.and_then(|a| path_arg(a, src)) {
                    paths.insert(id.clone(), p);
                }
                names.insert(id, name);
            }
        }
    }
    let mut question = None;
    for it in items {
        let ty = it.get_in(src, "type").and_then(|t| t.str_value(src));
        let role = it.get_in(src, "role").and_then(|t| t.str_value(src));
        match (ty.as_deref(), role.as_deref()) {
            (Some("message") | None, Some("user")) => {
                if let Some(content) = it.get_in(src, "content") {
                    let t = match &content.kind {
                        Kind::Array(parts) => text_of_parts(parts, src, &["input_text", "text"]),
                        _ => content.str_value(src).unwrap_or_default(),
                    };
                    if !t.trim().is_empty() {
                        question = push_question(w, t);
                    }
                }
            }
            (Some("function_call_output" | "custom_tool_call_output"), _) => {
                let id = it.get_in(src, "call_id").and_then(|v| v.str_value(src));
                let tool_name = id.as_ref().and_then(|id| names.get(id).cloned());
                let read_path = id.as_ref().and_then(|id| paths.get(id).cloned());
                let Some(output) = it.get_in(src, "output") else {
                    continue;
                };
                for span in openai_text_spans(output, src, &["input_text", "output_text", "text"]) {
                    w.candidates.push(Candidate {
                        span,
                        tool_name: tool_name.clone(),
                        protect: None,
                        question,
                        problems_only: false,
                        read_path: read_path.clone(),
                    });
                }
            }
            _ => {}
        }
    }
}
