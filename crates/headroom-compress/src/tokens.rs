//! Token accounting for `/stats` and the `x-headroom-tokens-*` headers.
//!
//! Exact BPE over a whole 300 KB body costs tens of milliseconds, more than the whole
//! compression budget, so large texts are *sampled*: up to [`SAMPLE_WINDOWS`] windows of
//! [`WINDOW`] bytes, evenly spaced and cut at whitespace, are tokenised exactly and the
//! tokens-per-byte rate is scaled to the full length. Texts up to [`EXACT_LIMIT`] bytes are
//! counted exactly. Sampling is deterministic (fixed positions), so the same body always gives
//! the same count. The BPE tables are built once per process (`tiktoken-rs` singletons).
//!
//! Claude has no public tokenizer; for Claude models we count with `cl100k_base` and scale by
//! [`CLAUDE_FACTOR`] (see docs/compression.md for how that number was chosen).

use tiktoken_rs::CoreBPE;

/// Texts at most this long are tokenised exactly.
pub const EXACT_LIMIT: usize = 8 * 1024;
/// Number of sample windows for longer texts.
pub const SAMPLE_WINDOWS: usize = 8;
/// Size of one sample window in bytes.
pub const WINDOW: usize = 1024;
/// Claude tokens per cl100k token (estimate; documented in docs/compression.md).
pub const CLAUDE_FACTOR: f64 = 1.15;

/// Which tokenizer the counts in an [`crate::Outcome`] come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tokenizer {
    /// `o200k_base` (GPT-4o, GPT-4.1, GPT-5, o-series, Codex models).
    O200k,
    /// `cl100k_base` (GPT-4, GPT-3.5 and unknown OpenAI-compatible models).
    #[default]
    Cl100k,
    /// Claude estimate: `cl100k_base` × [`CLAUDE_FACTOR`].
    ClaudeEstimate,
    /// Table-free heuristic calibrated against `cl100k_base` (see [`estimate`]); used when
    /// [`crate::Options::exact_tokens`] is false, so no BPE tables are ever loaded.
    Heuristic,
}

impl Tokenizer {
    /// Pick the tokenizer for a request from its `model` field and API.
    pub fn for_model(api: crate::Api, model: Option<&str>) -> Tokenizer {
        let m = model.unwrap_or("").to_ascii_lowercase();
        // Strip provider prefixes like "openai/" or "anthropic/".
        let m = m.rsplit('/').next().unwrap_or("");
        if m.starts_with("claude") {
            return Tokenizer::ClaudeEstimate;
        }
        if m.starts_with("gpt-4o")
            || m.starts_with("gpt-4.1")
            || m.starts_with("gpt-4.5")
            || m.starts_with("gpt-5")
            || m.starts_with("chatgpt-4o")
            || m.starts_with("o1")
            || m.starts_with("o3")
            || m.starts_with("o4")
            || m.contains("codex")
        {
            return Tokenizer::O200k;
        }
        if m.starts_with("gpt-4") || m.starts_with("gpt-3.5") {
            return Tokenizer::Cl100k;
        }
        match api {
            crate::Api::AnthropicMessages => Tokenizer::ClaudeEstimate,
            crate::Api::OpenAiResponses => Tokenizer::O200k,
            crate::Api::OpenAiChat => Tokenizer::Cl100k,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tokenizer::O200k => "o200k_base",
            Tokenizer::Cl100k => "cl100k_base",
            Tokenizer::ClaudeEstimate => "claude-estimate",
            Tokenizer::Heuristic => "heuristic",
        }
    }

    fn bpe(self) -> &'static CoreBPE {
        match self {
            Tokenizer::O200k => tiktoken_rs::o200k_base_singleton(),
            Tokenizer::Cl100k | Tokenizer::ClaudeEstimate | Tokenizer::Heuristic => {
                tiktoken_rs::cl100k_base_singleton()
            }
        }
    }

    fn scale(self, n: f64) -> f64 {
        match self {
            Tokenizer::ClaudeEstimate => n * CLAUDE_FACTOR,
            _ => n,
        }
    }

    /// Exact count of `text` with this tokenizer (Claude: scaled estimate).
    pub fn count_exact(self, text: &str) -> u64 {
        if self == Tokenizer::Heuristic {
            return estimate(text.as_bytes()).round() as u64;
        }
        let n = self.bpe().encode_ordinary(text).len() as f64;
        self.scale(n).round() as u64
    }

    /// Count a text that is the concatenation of `parts`: exactly when short, sampled when
    /// long. Unrounded, so callers can sum several estimates before rounding.
    pub fn count_parts(self, parts: &[&[u8]]) -> f64 {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total == 0 {
            return 0.0;
        }
        if self == Tokenizer::Heuristic {
            return parts.iter().map(|p| estimate(p)).sum();
        }
        let bpe = self.bpe();
        if total <= EXACT_LIMIT {
            let n: usize = parts
                .iter()
                .map(|p| bpe.encode_ordinary(&String::from_utf8_lossy(p)).len())
                .sum();
            return self.scale(n as f64);
        }
        let stride = total / SAMPLE_WINDOWS;
        let mut sampled_bytes = 0usize;
        let mut sampled_tokens = 0usize;
        for k in 0..SAMPLE_WINDOWS {
            let at = k * stride + stride.saturating_sub(WINDOW) / 2;
            let window = virtual_slice(parts, at, WINDOW);
            let window = trim_to_whitespace(&window);
            if window.is_empty() {
                continue;
            }
            sampled_bytes += window.len();
            sampled_tokens += bpe.encode_ordinary(&String::from_utf8_lossy(window)).len();
        }
        if sampled_bytes == 0 {
            return self.scale(total as f64 / 4.0);
        }
        self.scale(sampled_tokens as f64 * total as f64 / sampled_bytes as f64)
    }
}

/// Scale of [`estimate`]'s raw piece count to `cl100k_base` tokens (fitted on the fixture
/// corpus; the bench prints the per-fixture error).
pub const HEURISTIC_SCALE: f64 = 0.93;

/// Table-free token estimate, shaped like the `cl100k_base` pre-tokenizer: a run of letters
/// is one token per ~8 letters, digits go in groups of three, punctuation costs about one
/// token per three characters, a newline run one token, and a non-ASCII character about one
/// token. One linear pass, no allocation.
pub fn estimate(b: &[u8]) -> f64 {
    let mut n = 0usize;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_alphabetic() {
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            n += 1 + (i - start - 1) / 8;
        } else if c.is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            n += (i - start).div_ceil(3);
        } else if c == b' ' || c == b'\t' {
            // A single space joins the next word; longer runs are a token of their own.
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            if i - start > 1 {
                n += 1;
            }
        } else if c == b'\n' || c == b'\r' {
            while i < b.len() && (b[i] == b'\n' || b[i] == b'\r') {
                i += 1;
            }
            n += 1;
        } else if c >= 0x80 {
            // One UTF-8 character.
            i += 1;
            while i < b.len() && (b[i] & 0xC0) == 0x80 {
                i += 1;
            }
            n += 1;
        } else {
            while i < b.len() && b[i].is_ascii_punctuation() {
                i += 1;
            }
            if i == start {
                i += 1; // control character
            }
            n += (i - start).div_ceil(3);
        }
    }
    n as f64 * HEURISTIC_SCALE
}

/// Bytes `[at, at+len)` of the virtual concatenation of `parts`.
fn virtual_slice(parts: &[&[u8]], at: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut offset = 0usize;
    for p in parts {
        let end = offset + p.len();
        if end > at && out.len() < len {
            let from = at.saturating_sub(offset);
            let take = (len - out.len()).min(p.len() - from);
            out.extend_from_slice(&p[from..from + take]);
        }
        offset = end;
        if out.len() >= len {
            break;
        }
    }
    out
}

/// Cut a window so it starts after and ends before a whitespace/punctuation boundary, so the
/// sample does not split tokens (or UTF-8 sequences) at its edges.
fn trim_to_whitespace(w: &[u8]) -> &[u8] {
    let is_cut = |b: &u8| matches!(b, b' ' | b'\n' | b'\t' | b',' | b'"');
    let start = w.iter().position(is_cut).map(|i| i + 1).unwrap_or(w.len());
    let end = w.iter().rposition(is_cut).unwrap_or(0);
    if start >= end {
        return &[];
    }
    &w[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_is_idempotent() {
        crate::warm_up(&[Tokenizer::Cl100k, Tokenizer::Heuristic]);
        crate::warm_up(&[Tokenizer::Cl100k]);
    }

    #[test]
    fn model_mapping() {
        use crate::Api;
        assert_eq!(
            Tokenizer::for_model(Api::OpenAiChat, Some("gpt-4o-mini")),
            Tokenizer::O200k
        );
        assert_eq!(
            Tokenizer::for_model(Api::OpenAiChat, Some("gpt-4-turbo")),
            Tokenizer::Cl100k
        );
        assert_eq!(
            Tokenizer::for_model(Api::AnthropicMessages, Some("claude-sonnet-4-5")),
            Tokenizer::ClaudeEstimate
        );
        assert_eq!(
            Tokenizer::for_model(Api::OpenAiResponses, Some("gpt-5-codex")),
            Tokenizer::O200k
        );
    }

    #[test]
    fn sampled_count_is_close_to_exact() {
        let mut text = String::new();
        for i in 0..4000 {
            text.push_str(&format!(
                "{{\"id\":{i},\"title\":\"Result number {i} about tokio runtime\"}},\n"
            ));
        }
        let exact = Tokenizer::Cl100k.count_exact(&text) as f64;
        let est = Tokenizer::Cl100k.count_parts(&[text.as_bytes()]);
        assert!(
            (est - exact).abs() / exact < 0.05,
            "exact {exact} est {est}"
        );
    }

    #[test]
    fn heuristic_is_in_the_right_range() {
        let text = "fn main() {\n    let answer = compute_the_answer(42, \"hello world\");\n    println!(\"{answer}\");\n}\n".repeat(50);
        let exact = Tokenizer::Cl100k.count_exact(&text) as f64;
        let est = estimate(text.as_bytes());
        assert!(
            (est - exact).abs() / exact < 0.25,
            "exact {exact} est {est}"
        );
        assert_eq!(estimate(b""), 0.0);
    }

    #[test]
    fn virtual_slice_spans_parts() {
        let parts: [&[u8]; 3] = [b"abc", b"defg", b"hij"];
        assert_eq!(virtual_slice(&parts, 2, 4), b"cdef");
        assert_eq!(virtual_slice(&parts, 0, 100), b"abcdefghij");
        assert_eq!(virtual_slice(&parts, 8, 5), b"ij");
    }
}
