//! Compression of tool outputs inside LLM request bodies. Pure functions only: the proxy owns
//! all I/O, so everything here is deterministic and cache-safe by construction.
//!
//! The proxy calls [`compress_request`] once per request body. The contract it relies on:
//! * `body` is `Some` only when the rewritten request is strictly smaller; every byte outside
//!   the replaced tool-output strings is identical to the input (we splice by byte offsets,
//!   never re-serialise);
//! * the same input always gives the same output (prompt-cache safety): a tool output is
//!   compressed as a function of its own text, of the tool call and user text that preceded
//!   it in the conversation, and of the conversation's `tools` (see
//!   [`RequestFacts::redeemable`]) — never of later messages, of where `cache_control` sits or
//!   of `tool_choice`. So it is compressed the first time it is seen, marked or not, and every
//!   later turn sends the same bytes the prompt cache stored;
//! * it never panics, whatever the bytes (malformed JSON gives `body: None`).
//!
//! How the pieces fit: [`json`] parses the body keeping byte spans, [`walk`] finds the tool
//! outputs per API and decides what is protected, [`router`] detects what kind of output a
//! block is and runs the matching transform, and [`tokens`] does the accounting. See
//! `docs/compression.md` for the user-facing description.

mod cargojson;
mod diag;
mod diff;
mod gitlog;
mod json;
mod jsonbig;
mod lockfile;
mod log;
pub mod retrieval;
mod router;
mod rows;
mod search;
mod table;
mod text;
mod tokens;
mod walk;

use std::cell::OnceCell;

pub use router::ContentKind;
pub use tokens::Tokenizer;

/// Name of the retrieval tool the compressed markers point to (the proxy answers it).
pub const RETRIEVE_TOOL_NAME: &str = "headroom_retrieve";

/// Tool names whose outputs are never touched: reading and editing files needs exact text.
/// Matched case-insensitively, also against the last `__` segment of MCP tool names.
pub const DEFAULT_PROTECTED_TOOLS: &[&str] = &[
    "Read",
    "Edit",
    "MultiEdit",
    "Write",
    "NotebookRead",
    "NotebookEdit",
    "read_file",
    "read_many_files",
    "read_text_file",
    "view_file",
    "write_file",
    "edit_file",
    "create_file",
    "str_replace_editor",
    "str_replace_based_edit_tool",
    "apply_patch",
    "replace",
];

/// Which provider API the body belongs to (decides where tool outputs live).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// Anthropic `POST /v1/messages`: `tool_result` blocks.
    AnthropicMessages,
    /// OpenAI `POST /v1/chat/completions`: `role: "tool"` messages.
    OpenAiChat,
    /// OpenAI `POST /v1/responses`: `function_call_output` items.
    OpenAiResponses,
}

/// Knobs the proxy passes through from its configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// Tool outputs smaller than this many bytes are never touched.
    pub min_bytes: usize,
    /// Allow transforms that drop content (the original goes to [`Outcome::retained`] and the
    /// output names the retrieval key). When false only lossless rewrites are applied — use
    /// that when the client cannot call `headroom_retrieve`.
    pub lossy: bool,
    /// Drop content only in requests where the model can ask for it back (see
    /// [`RequestFacts::redeemable`]); other requests get lossless rewrites only. Decided from
    /// this one parse of the body, so a proxy that offers `headroom_retrieve` never compresses
    /// a request twice.
    pub lossy_only_if_redeemable: bool,
    /// Tools whose outputs pass through unchanged (see [`DEFAULT_PROTECTED_TOOLS`]).
    pub protected_tools: Vec<String>,
    /// JSON arrays longer than this are reduced to a selection of at most this many rows.
    pub max_rows: usize,
    /// Fill [`Outcome::tokens_before`]/[`Outcome::tokens_after`] (costs ~1 ms per request;
    /// see `tokens.rs`).
    pub count_tokens: bool,
    /// Count with the real BPE (`o200k_base` / `cl100k_base`, tables cost 24–46 MiB of RSS
    /// once loaded). When false, a table-free heuristic calibrated against `cl100k_base` is
    /// used instead ([`Tokenizer::Heuristic`]).
    pub exact_tokens: bool,
    /// Count with the real BPE whenever this request was actually compressed, even if
    /// `exact_tokens` is false: the savings users see are exact, while passthrough requests
    /// never load the tables.
    pub exact_tokens_if_compressed: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            min_bytes: 500,
            lossy: true,
            lossy_only_if_redeemable: false,
            protected_tools: DEFAULT_PROTECTED_TOOLS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            max_rows: 30,
            count_tokens: true,
            exact_tokens: true,
            exact_tokens_if_compressed: true,
        }
    }
}

/// The original text of something a transform dropped, so the proxy can store it and answer
/// `headroom_retrieve` for `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retained {
    /// 24 hex characters of the SHA-256 of `original` (stable across turns and processes).
    pub key: String,
    /// The tool output exactly as the client sent it (decoded from its JSON string).
    pub original: String,
}

/// What happened to one tool output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Replaced by a smaller rewrite.
    Compressed,
    /// Smaller than [`Options::min_bytes`].
    Small,
    /// Output of a file read/edit tool.
    ProtectedFileTool,
    /// Output of `headroom_retrieve`.
    ProtectedRetrieve,
    /// No transform made it smaller.
    Unchanged,
}

/// Per-tool-output report (in body order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockReport {
    pub tool_name: Option<String>,
    pub kind: ContentKind,
    pub action: Action,
    /// Size of the JSON string literal in the body before and after.
    pub bytes_before: usize,
    pub bytes_after: usize,
}

/// What a request's top-level fields say about redeeming markers with `headroom_retrieve`,
/// read in the compressor's single parse so the proxy need not parse the body again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestFacts {
    /// `"stream": true`.
    pub stream: bool,
    /// What `tools` holds.
    pub tools: ToolsField,
    /// `tool_choice` forbids tool calls in this turn (`"none"` / `{"type":"none"}`). Not part
    /// of [`RequestFacts::redeemable`]: a turn that forbids calls still sends the same `tools`,
    /// and its markers can be redeemed in a later turn.
    pub calls_forbidden: bool,
    /// The client itself offers a tool named `headroom_retrieve` (its calls go to the client).
    pub client_offers_retrieve: bool,
}

/// The shape of a request's `tools` member.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ToolsField {
    #[default]
    Absent,
    /// `[]`: the client has no tools.
    Empty,
    /// A non-empty array.
    Array,
    /// `null` or anything else: no tool can be added.
    Other,
}

impl RequestFacts {
    fn of(api: Api, root: &json::Node, body: &[u8]) -> RequestFacts {
        let choice = root.get_in(body, "tool_choice");
        let calls_forbidden = choice.is_some_and(|c| {
            c.str_value(body).as_deref() == Some("none")
                || c.get_in(body, "type")
                    .and_then(|t| t.str_value(body))
                    .as_deref()
                    == Some("none")
        });
        let (tools, client_offers_retrieve) = match root.get_in(body, "tools") {
            None => (ToolsField::Absent, false),
            Some(t) => match t.as_array() {
                Some([]) => (ToolsField::Empty, false),
                Some(list) => (
                    ToolsField::Array,
                    list.iter()
                        .any(|t| retrieval::offers_retrieve(api, t, body)),
                ),
                None => (ToolsField::Other, false),
            },
        };
        RequestFacts {
            stream: root.get_in(body, "stream").is_some_and(|n| n.is_true()),
            tools,
            calls_forbidden,
            client_offers_retrieve,
        }
    }

    /// The conversation can redeem markers: the client sends a non-empty `tools` array, to
    /// which `headroom_retrieve` is appended on every request (or the client offers it).
    ///
    /// Only facts that stay the same for a whole conversation count: a block's compressed
    /// bytes must not depend on the turn it is sent in, or the prompt cache misses.
    /// `tool_choice` can change from turn to turn, so it does not count; a client without
    /// tools gets lossless rewrites only, because adding `tools` to it would change the
    /// request's meaning (and, added late, bust its cache).
    pub fn redeemable(&self) -> bool {
        self.tools == ToolsField::Array || self.client_offers_retrieve
    }
}

/// What [`compress_request`] decided for one request body.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The rewritten body, or `None` to forward the original bytes unchanged.
    pub body: Option<Vec<u8>>,
    /// Tokens in the request before compression (see the crate docs for how they are counted).
    pub tokens_before: u64,
    /// Tokens in the request as forwarded.
    pub tokens_after: u64,
    /// Number of tool outputs that were replaced.
    pub blocks_compressed: u32,
    /// Originals of anything dropped, for retrieval (one per key, in body order).
    pub retained: Vec<Retained>,
    /// Which tokenizer produced the counts.
    pub tokenizer: Tokenizer,
    /// One entry per tool output found in the body.
    pub blocks: Vec<BlockReport>,
    /// The request's `stream` / `tools` / `tool_choice`, as far as retrieval cares.
    pub request: RequestFacts,
    /// The request's `model`, for the savings ledger's per-model breakdown and prices.
    pub model: Option<String>,
}

/// Compress the tool outputs inside one request body.
///
/// Never panics: an unexpected internal failure is contained and reported as "no change".
pub fn compress_request(api: Api, body: &[u8], options: &Options) -> Outcome {
    std::panic::catch_unwind(|| compress_request_unguarded(api, body, options)).unwrap_or_default()
}

/// [`compress_request`] without the panic guard, for fuzzing (a panic here is a bug).
#[doc(hidden)]
pub fn compress_request_unguarded(api: Api, body: &[u8], options: &Options) -> Outcome {
    let pick = |model: Option<&str>, compressed: bool| {
        if options.exact_tokens || (compressed && options.exact_tokens_if_compressed) {
            Tokenizer::for_model(api, model)
        } else {
            Tokenizer::Heuristic
        }
    };
    let Ok(root) = json::parse(body) else {
        let tokenizer = pick(None, false);
        let n = if options.count_tokens {
            tokenizer.count_parts(&[body]).round() as u64
        } else {
            0
        };
        return Outcome {
            tokens_before: n,
            tokens_after: n,
            tokenizer,
            ..Outcome::default()
        };
    };
    let w = walk::walk(api, &root, body, &options.protected_tools);
    let mut out = Outcome {
        request: RequestFacts::of(api, &root, body),
        model: w.model.clone(),
        ..Outcome::default()
    };
    // A marker nobody can redeem would promise what nobody can deliver: drop nothing then.
    let lossless;
    let options = if options.lossy && options.lossy_only_if_redeemable && !out.request.redeemable()
    {
        lossless = Options {
            lossy: false,
            ..options.clone()
        };
        &lossless
    } else {
        options
    };
    // (span, replacement literal)
    let mut edits: Vec<(std::ops::Range<usize>, Vec<u8>)> = Vec::new();
    for c in &w.candidates {
        let before = c.span.len();
        let mut report = BlockReport {
            tool_name: c.tool_name.clone(),
            kind: ContentKind::Text,
            action: Action::Unchanged,
            bytes_before: before,
            bytes_after: before,
        };
        if let Some(p) = c.protect {
            report.action = match p {
                walk::Protect::FileTool => Action::ProtectedFileTool,
                walk::Protect::Retrieve => Action::ProtectedRetrieve,
            };
            out.blocks.push(report);
            continue;
        }
        // The literal is at least as long as the text, so this is a cheap pre-filter.
        if before < options.min_bytes + 2 {
            report.action = Action::Small;
            out.blocks.push(report);
            continue;
        }
        let raw = &body[c.span.start + 1..c.span.end - 1];
        let Some(text) = json::decode_str(raw) else {
            out.blocks.push(report);
            continue;
        };
        if text.len() < options.min_bytes {
            report.action = Action::Small;
            out.blocks.push(report);
            continue;
        }
        let key = OnceCell::new();
        let ctx = router::Ctx {
            question: c
                .question
                .and_then(|q| w.questions.get(q))
                .map(|s| s.as_str()),
            options,
            key: &key,
            original: &text,
        };
        let (kind, result) = if c.problems_only {
            router::compress_problems(&text, &ctx)
        } else {
            router::compress_text(&text, &ctx)
        };
        report.kind = kind;
        if let Some(new_text) = result {
            // Never blank a non-empty output (Anthropic rejects empty tool results).
            if !new_text.trim().is_empty() {
                let mut lit = Vec::with_capacity(new_text.len() + 16);
                json::encode_str(&new_text, &mut lit);
                // Fewer bytes is not always fewer tokens (a header on a few short hits).
                if lit.len() < before
                    && tokens::estimate(new_text.as_bytes()) < tokens::estimate(text.as_bytes())
                {
                    report.action = Action::Compressed;
                    report.bytes_after = lit.len();
                    if let Some(k) = key.get() {
                        if new_text.contains(k.as_str())
                            && !out.retained.iter().any(|r| &r.key == k)
                        {
                            out.retained.push(Retained {
                                key: k.clone(),
                                original: text.clone(),
                            });
                        }
                    }
                    edits.push((c.span.clone(), lit));
                }
            }
        }
        out.blocks.push(report);
    }
    edits.sort_by_key(|(r, _)| r.start);
    out.blocks_compressed = edits.len() as u32;

    if !edits.is_empty() {
        let removed: usize = edits.iter().map(|(r, _)| r.len()).sum();
        let added: usize = edits.iter().map(|(_, l)| l.len()).sum();
        let mut new_body = Vec::with_capacity(body.len() - removed + added);
        let mut at = 0;
        for (r, lit) in &edits {
            new_body.extend_from_slice(&body[at..r.start]);
            new_body.extend_from_slice(lit);
            at = r.end;
        }
        new_body.extend_from_slice(&body[at..]);
        out.body = Some(new_body);
    }

    let tokenizer = pick(w.model.as_deref(), !edits.is_empty());
    out.tokenizer = tokenizer;
    if options.count_tokens {
        // Unchanged bytes are counted once and shared by both sides, so the saving is exactly
        // the difference between the replaced spans.
        let mut rest: Vec<&[u8]> = Vec::with_capacity(edits.len() + 1);
        let mut at = 0;
        for (r, _) in &edits {
            rest.push(&body[at..r.start]);
            at = r.end;
        }
        rest.push(&body[at..]);
        let old: Vec<&[u8]> = edits.iter().map(|(r, _)| &body[r.clone()]).collect();
        let new: Vec<&[u8]> = edits.iter().map(|(_, l)| l.as_slice()).collect();
        let t_rest = tokenizer.count_parts(&rest);
        let t_old = tokenizer.count_parts(&old);
        let t_new = tokenizer.count_parts(&new);
        out.tokens_before = (t_rest + t_old).round() as u64;
        out.tokens_after = ((t_rest + t_new).round() as u64).min(out.tokens_before);
    }
    out
}

/// Build the BPE tables for `tokenizers` and compile the transforms' regexes now, so the first
/// request does not pay for it (~100 ms for `cl100k_base`). Call it from a background thread at
/// startup; it is idempotent.
pub fn warm_up(tokenizers: &[Tokenizer]) {
    for t in tokenizers {
        let _ = t.count_exact("warm up");
    }
    let options = Options {
        count_tokens: false,
        ..Options::default()
    };
    // A tiny body that reaches every detector.
    let body = br#"{"messages":[{"role":"tool","content":"src/a.rs:1:x
src/b.rs:2:y
src/c.rs:3:z
error: x
[31mtest a ... ok[0m
"}]}"#;
    let _ = compress_request(
        Api::OpenAiChat,
        body,
        &Options {
            min_bytes: 0,
            ..options
        },
    );
}

/// SHA-256 of `text`, first 12 bytes as hex: the retrieval key.
pub fn retrieval_key(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(text.as_bytes());
    hex::encode(&d[..12])
}
