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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protect {
    /// `is_error: true` on the tool result.
    Error,
    /// The block (or its tool result) carries `cache_control`.
    CacheControl,
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
                    c.protect = Some(Protect::FileTool);
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
    for m in messages {
        if let Some(blocks) = m.get_in(src, "content").and_then(Node::as_array) {
            for b in blocks {
                let ty = b.get_in(src, "type").and_then(|t| t.str_value(src));
                if matches!(ty.as_deref(), Some("tool_use" | "server_tool_use")) {
                    if let (Some(id), Some(name)) = (
                        b.get_in(src, "id").and_then(|v| v.str_value(src)),
                        b.get_in(src, "name").and_then(|v| v.str_value(src)),
                    ) {
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
                        Some("tool_result") => tool_result(b, src, &names, question, w),
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

fn tool_result(
    b: &Node,
    src: &[u8],
    names: &HashMap<String, String>,
    question: Option<usize>,
    w: &mut Walk,
) {
    let tool_name = b
        .get_in(src, "tool_use_id")
        .and_then(|v| v.str_value(src))
        .and_then(|id| names.get(&id).cloned());
    let protect = if b.get_in(src, "cache_control").is_some() {
        Some(Protect::CacheControl)
    } else if b.get_in(src, "is_error").is_some_and(Node::is_true) {
        Some(Protect::Error)
    } else {
        None
    };
    let Some(content) = b.get_in(src, "content") else {
        return;
    };
    match &content.kind {
        Kind::Str { .. } => w.candidates.push(Candidate {
            span: content.span.clone(),
            tool_name,
            protect,
            question,
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
                let protect = protect.or(p
                    .get_in(src, "cache_control")
                    .map(|_| Protect::CacheControl));
                w.candidates.push(Candidate {
                    span: text.span.clone(),
                    tool_name: tool_name.clone(),
                    protect,
                    question,
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
            .filter(|p| p.get_in(src, "cache_control").is_none())
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
    for m in messages {
        if let Some(calls) = m.get_in(src, "tool_calls").and_then(Node::as_array) {
            for c in calls {
                let id = c.get_in(src, "id").and_then(|v| v.str_value(src));
                let name = c
                    .get_in(src, "function")
                    .and_then(|f| f.get_in(src, "name"))
                    .and_then(|v| v.str_value(src));
                if let (Some(id), Some(name)) = (id, name) {
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
                let tool_name = m
                    .get_in(src, "tool_call_id")
                    .and_then(|v| v.str_value(src))
                    .and_then(|id| names.get(&id).cloned())
                    .or_else(|| m.get_in(src, "name").and_then(|n| n.str_value(src)));
                for span in openai_text_spans(content, src, &["text"]) {
                    w.candidates.push(Candidate {
                        span,
                        tool_name: tool_name.clone(),
                        protect: None,
                        question,
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
    for it in items {
        let ty = it.get_in(src, "type").and_then(|t| t.str_value(src));
        if matches!(ty.as_deref(), Some("function_call" | "custom_tool_call")) {
            if let (Some(id), Some(name)) = (
                it.get_in(src, "call_id").and_then(|v| v.str_value(src)),
                it.get_in(src, "name").and_then(|v| v.str_value(src)),
            ) {
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
                let tool_name = it
                    .get_in(src, "call_id")
                    .and_then(|v| v.str_value(src))
                    .and_then(|id| names.get(&id).cloned());
                let Some(output) = it.get_in(src, "output") else {
                    continue;
                };
                for span in openai_text_spans(output, src, &["input_text", "output_text", "text"]) {
                    w.candidates.push(Candidate {
                        span,
                        tool_name: tool_name.clone(),
                        protect: None,
                        question,
                    });
                }
            }
            _ => {}
        }
    }
}
