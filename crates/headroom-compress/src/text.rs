//! Small text helpers shared by the transforms: ANSI stripping, lossless whitespace
//! normalisation, the omission marker, and query-term extraction.

use regex::Regex;
use std::sync::OnceLock;

/// ANSI CSI / OSC escape sequences (colours, cursor moves, hyperlinks).
fn ansi_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // The pattern is a compile-time constant that is known to be valid.
    RE.get_or_init(|| {
        Regex::new(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
            .expect("valid regex")
    })
}

pub fn strip_ansi(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('\x1b') {
        return std::borrow::Cow::Borrowed(s);
    }
    ansi_re().replace_all(s, "")
}

/// Lossless whitespace normalisation: trailing spaces/tabs removed from each line, CRLF → LF,
/// runs of more than two blank lines reduced to two. Leading indentation is kept.
pub fn normalize_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank_run = 0usize;
    let mut first = true;
    for line in s.split('\n') {
        let line = line.trim_end_matches([' ', '\t', '\r']);
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 2 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        if !first {
            out.push('\n');
        }
        first = false;
        out.push_str(line);
    }
    out
}

/// The line that tells the model what was left out and how to get it back.
pub fn marker(what: &str, key: &str) -> String {
    format!(
        "[headroom: {what}; call {} with key \"{key}\" to get the full original]",
        crate::RETRIEVE_TOOL_NAME
    )
}

const STOPWORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "her", "was", "one",
    "our", "out", "has", "have", "how", "its", "what", "when", "where", "which", "who", "why",
    "with", "this", "that", "from", "they", "will", "would", "there", "their", "about", "into",
    "than", "then", "them", "these", "those", "your", "please", "could", "should", "does", "did",
    "just", "also", "some", "find", "show", "tell", "give", "get", "let", "make", "need", "use",
    "using", "like", "look", "check", "see", "why", "file", "files", "code", "there", "here",
];

/// Lower-cased distinct terms (≥ 3 chars, not stopwords) of the user's question, sorted so the
/// result does not depend on word order.
pub fn query_terms(q: &str) -> Vec<String> {
    let mut terms: Vec<String> = q
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'))
        .map(|t| {
            t.trim_matches(|c: char| c == '.' || c == '-')
                .to_ascii_lowercase()
        })
        .filter(|t| t.chars().count() >= 3 && !STOPWORDS.contains(&t.as_str()))
        .collect();
    terms.sort();
    terms.dedup();
    terms.truncate(32);
    terms
}

/// `text` holds `word` as a whole word (`ripgrep:amd64` and `serde_json@1.0` name `ripgrep`
/// and `serde_json`; `runtime` does not name `run`, nor `metadata_version` `version`).
pub fn names_word(text: &str, word: &str) -> bool {
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    text.match_indices(word).any(|(at, _)| {
        !is_word(text[..at].chars().next_back()) && !is_word(text[at + word.len()..].chars().next())
    })
}

/// Thousands separators for counts in markers ("1,843").
pub fn fmt_count(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Cut `s` to at most `max` bytes on a char boundary.
pub fn truncate_chars(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_and_whitespace() {
        assert_eq!(strip_ansi("\x1b[1;31merror\x1b[0m: x"), "error: x");
        assert_eq!(normalize_whitespace("a  \r\nb\t\n\n\n\n\nc"), "a\nb\n\n\nc");
        assert_eq!(fmt_count(1843), "1,843");
        assert_eq!(fmt_count(12), "12");
        assert_eq!(
            query_terms("Why does the tokio runtime panic?"),
            vec!["panic", "runtime", "tokio"]
        );
    }

    #[test]
    fn question_terms_match_whole_words() {
        assert!(names_word(
            "2025 status installed ripgrep:amd64 13.0",
            "ripgrep"
        ));
        assert!(!names_word(
            "test config::tests::metrics_runtime_10 ... ok",
            "run"
        ));
        assert!(names_word("run", "run"));
    }
}
