//! Large JSON that is not a table: package-manager documents (`npm view --json`: thousands of
//! versions in an array and a version → date map), dependency trees, config dumps. Minifying
//! them is lossless but leaves most of the tokens; what an agent reads is the shape, the
//! small members, and the few entries of a long list or map that its question names.
//!
//! So the document is written minified, and every array of more than [`LONG`] scalars and
//! every object of more than [`LONG`] members keeps its first [`HEAD`] and last [`TAIL`]
//! entries plus the entries matching the user's question (or holding an error word); the rest
//! is one `"…"` entry counting what was left out, and the original is retrievable. Nested
//! containers are treated the same way at every depth, so the output stays valid JSON.

use crate::json::{self, Kind, Node};
use crate::router::Ctx;
use crate::text;

/// Containers with more entries than this are elided.
const LONG: usize = 40;
const HEAD: usize = 12;
const TAIL: usize = 6;
/// At most this many extra entries matching the question are kept per container.
pub const MATCHES: usize = 24;
/// Every matching entry is kept (for results the tool marked as errors).
pub const ALL: usize = usize::MAX;
/// Documents smaller than this (minified) are only minified.
const MIN_BYTES: usize = 3000;

struct State<'a> {
    src: &'a [u8],
    terms: Vec<String>,
    omitted: usize,
    /// Most entries kept per container for matching the question or naming a problem.
    matches: usize,
}

/// `None` if nothing was elided (the caller then minifies).
pub fn compress(t: &str, root: &Node, ctx: &Ctx<'_>) -> Option<String> {
    compress_with(t, root, ctx, MATCHES)
}

/// For a result the tool marked as an error (`is_error`): the same, but every entry that
/// names a problem (or the question) is kept, however many there are.
pub fn compress_problems(t: &str, root: &Node, ctx: &Ctx<'_>) -> Option<String> {
    compress_with(t, root, ctx, ALL)
}

fn compress_with(t: &str, root: &Node, ctx: &Ctx<'_>, matches: usize) -> Option<String> {
    if !ctx.options.lossy || t.len() < MIN_BYTES {
        return None;
    }
    let mut st = State {
        src: t.as_bytes(),
        terms: ctx.question.map(text::query_terms).unwrap_or_default(),
        omitted: 0,
        matches,
    };
    let mut out = Vec::with_capacity(t.len() / 3);
    emit(root, &mut st, &mut out);
    if st.omitted == 0 {
        return None;
    }
    let mut s = String::from_utf8(out).ok()?;
    s.push('\n');
    s.push_str(&omitted_note(st.omitted, ctx));
    Some(s)
}

/// A cut pretty-printed document (Claude Code's or Codex's cut, `head -c`) cannot be parsed,
/// but its long lists and maps are still visible as runs of lines at one indentation, each
/// holding one scalar entry (`"4.17.21": "2021-02-20T15:42:16.891Z",`). Each run longer than
/// [`LONG`] keeps its first [`HEAD`] and last [`TAIL`] lines and up to `matches` lines naming
/// the question or a problem; the others become one `"…": "… N more",` line (`"… N more",` in
/// an array). Returns the text, still pretty, and how many entries went; `None` if none did.
pub fn elide_pretty_runs(t: &str, ctx: &Ctx<'_>, matches: usize) -> Option<(String, usize)> {
    if !ctx.options.lossy {
        return None;
    }
    let st = State {
        src: t.as_bytes(),
        terms: ctx.question.map(text::query_terms).unwrap_or_default(),
        omitted: 0,
        matches,
    };
    let lines: Vec<&str> = t.split_inclusive('\n').collect();
    // A scalar entry: not opening or closing a container.
    let entry = |l: &str| {
        let c = l.trim();
        !c.is_empty()
            && !c.starts_with(['}', ']'])
            && !c.ends_with(['{', '['])
            && !c.ends_with("{,")
            && !c.ends_with("[,")
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = String::with_capacity(t.len());
    let mut omitted = 0;
    let mut i = 0;
    while i < lines.len() {
        let mut j = i;
        if entry(lines[i]) && indent(lines[i]) > 0 {
            while j < lines.len() && entry(lines[j]) && indent(lines[j]) == indent(lines[i]) {
                j += 1;
            }
        }
        if j - i <= LONG {
            out.push_str(lines[i]);
            i += 1;
            continue;
        }
        let run = &lines[i..j];
        let keep = selection(run.len(), st.matches, |k| wanted(&st, run[k].as_bytes()));
        let pad = &run[0][..indent(run[0])];
        let member = run[0].trim_start().starts_with('"') && run[0].contains("\":");
        let mut skipped = 0;
        for (l, k) in run.iter().zip(&keep) {
            if !k {
                skipped += 1;
                continue;
            }
            if skipped > 0 {
                let count = text::fmt_count(skipped);
                out.push_str(&if member {
                    format!("{pad}\"…\": \"… {count} more\",\n")
                } else {
                    format!("{pad}\"… {count} more\",\n")
                });
                omitted += skipped;
                skipped = 0;
            }
            out.push_str(l);
        }
        // The run's last line is always kept (the tail), so no gap is left open.
        i = j;
    }
    (omitted > 0).then_some((out, omitted))
}

/// The note ending a document whose long lists and maps lost `n` entries.
pub fn omitted_note(n: usize, ctx: &Ctx<'_>) -> String {
    ctx.marker(&format!(
        "{} entries of long JSON arrays and objects omitted (each shown as \"…\")",
        text::fmt_count(n)
    ))
}

fn is_scalar(n: &Node) -> bool {
    !matches!(n.kind, Kind::Array(_) | Kind::Object(_))
}

fn wanted(st: &State<'_>, raw: &[u8]) -> bool {
    if raw.len() > 400 {
        return false;
    }
    let s = String::from_utf8_lossy(raw).to_ascii_lowercase();
    st.terms.iter().any(|t| s.contains(t.as_str()))
        || ["error", "fail", "deprecat", "latest"]
            .iter()
            .any(|w| s.contains(w))
}

/// Which of `n` entries to keep: head, tail, and up to `cap` wanted ones.
fn selection(n: usize, cap: usize, want: impl Fn(usize) -> bool) -> Vec<bool> {
    let mut keep = vec![false; n];
    for (i, k) in keep.iter_mut().enumerate() {
        *k = i < HEAD || i + TAIL >= n;
    }
    let mut extra = 0;
    for (i, k) in keep.iter_mut().enumerate() {
        if !*k && extra < cap && want(i) {
            *k = true;
            extra += 1;
        }
    }
    keep
}

fn gap(out: &mut Vec<u8>, count: usize, first: &mut bool, in_object: bool) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    let s = format!("\"… {} more\"", text::fmt_count(count));
    if in_object {
        out.extend_from_slice("\"…\":".as_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

fn emit(n: &Node, st: &mut State<'_>, out: &mut Vec<u8>) {
    match &n.kind {
        Kind::Array(items) => {
            let long = items.len() > LONG && items.iter().all(is_scalar);
            let keep = if long {
                selection(items.len(), st.matches, |i| {
                    wanted(st, items[i].raw(st.src))
                })
            } else {
                vec![true; items.len()]
            };
            out.push(b'[');
            let mut first = true;
            let mut skipped = 0;
            for (item, k) in items.iter().zip(&keep) {
                if !k {
                    skipped += 1;
                    continue;
                }
                if skipped > 0 {
                    gap(out, skipped, &mut first, false);
                    st.omitted += skipped;
                    skipped = 0;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                emit(item, st, out);
            }
            if skipped > 0 {
                gap(out, skipped, &mut first, false);
                st.omitted += skipped;
            }
            out.push(b']');
        }
        Kind::Object(members) => {
            let long = members.len() > LONG;
            let keep = if long {
                selection(members.len(), st.matches, |i| {
                    let (k, v) = &members[i];
                    wanted(st, &st.src[k.span.clone()])
                        || (is_scalar(v) && wanted(st, v.raw(st.src)))
                })
            } else {
                vec![true; members.len()]
            };
            out.push(b'{');
            let mut first = true;
            let mut skipped = 0;
            for ((k, v), keep) in members.iter().zip(&keep) {
                if !keep {
                    skipped += 1;
                    continue;
                }
                if skipped > 0 {
                    gap(out, skipped, &mut first, true);
                    st.omitted += skipped;
                    skipped = 0;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                // Key with its quotes, verbatim.
                out.extend_from_slice(&st.src[k.span.start - 1..k.span.end + 1]);
                out.push(b':');
                emit(v, st, out);
            }
            if skipped > 0 {
                gap(out, skipped, &mut first, true);
                st.omitted += skipped;
            }
            out.push(b'}');
        }
        _ => json::minify_into(n.raw(st.src), out),
    }
}

/// A JSON string longer than this (raw bytes) is cut: a package's whole README in `pip
/// inspect`, a file's content or a patch in an API answer.
const LONG_STRING: usize = 1_000;
/// What stays of a cut string.
const STRING_HEAD: usize = 240;

/// The document with every string longer than [`LONG_STRING`] bytes cut to its first
/// [`STRING_HEAD`] bytes and a note of what was cut (still valid JSON, every other byte
/// unchanged), and how many strings were cut; `None` if none is that long. Strings holding a
/// problem report (see [`names_problem`]) are kept whole.
pub fn cut_long_strings(t: &str, root: &Node) -> Option<(String, usize)> {
    let mut spans = Vec::new();
    long_strings(root, t.as_bytes(), &mut spans);
    if spans.is_empty() {
        return None;
    }
    let src = t.as_bytes();
    let mut out = String::with_capacity(t.len() / 2);
    let mut at = 0;
    for span in &spans {
        out.push_str(&t[at..span.start]);
        // Inside the quotes: stop at a char boundary that is not inside an escape.
        let inner = span.start + 1..span.end - 1;
        let mut i = inner.start;
        while i < inner.end && i - inner.start < STRING_HEAD {
            i += match src[i] {
                b'\\' if src.get(i + 1) == Some(&b'u') => 6,
                b'\\' => 2,
                _ => 1,
            };
            while i < inner.end && !t.is_char_boundary(i) {
                i += 1;
            }
        }
        let i = i.min(inner.end);
        out.push('"');
        out.push_str(&t[inner.start..i]);
        out.push_str(&format!(
            " … [{} more bytes cut]\"",
            text::fmt_count(inner.end - i)
        ));
        at = span.end;
    }
    out.push_str(&t[at..]);
    Some((out, spans.len()))
}

/// A string holding a problem report: under a key that says so, or with a line that opens
/// like one (`Traceback`, `ValueError:`, `error[E0308]:`, `FAILED`, a Rust panic). Prose
/// that mentions errors (a README's "automatic error correction") is not one.
fn names_problem(key: Option<&str>, raw: &[u8]) -> bool {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    // Constant pattern, known valid. `\n` also matches the escaped newline of raw JSON text.
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"(?:^|\\n|\n)\s*(?:Traceback\b|[\w.]*(?:Error|Exception)\b:|error(?:\[\w+\])?:|FAIL(?:ED)?\b|thread '[^']*' panicked)",
        )
        .expect("valid regex")
    });
    let problem_key = key.is_some_and(|k| {
        matches!(
            k.to_ascii_lowercase().as_str(),
            "error"
                | "errors"
                | "err"
                | "stderr"
                | "exception"
                | "traceback"
                | "stack"
                | "stacktrace"
                | "stack_trace"
                | "backtrace"
                | "failure"
                | "failures"
                | "log"
                | "logs"
        )
    });
    let raw = &raw[1..raw.len().saturating_sub(1).max(1)];
    problem_key || re.is_match(&String::from_utf8_lossy(raw))
}

fn long_strings(n: &Node, src: &[u8], spans: &mut Vec<std::ops::Range<usize>>) {
    walk_strings(n, None, src, spans);
}

fn walk_strings(n: &Node, key: Option<&str>, src: &[u8], spans: &mut Vec<std::ops::Range<usize>>) {
    match &n.kind {
        Kind::Str { .. } if n.span.len() > LONG_STRING && !names_problem(key, n.raw(src)) => {
            spans.push(n.span.clone());
        }
        Kind::Array(items) => items.iter().for_each(|i| walk_strings(i, key, src, spans)),
        Kind::Object(members) => members
            .iter()
            .for_each(|(k, v)| walk_strings(v, Some(&k.text(src)), src, spans)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::{with_ctx, with_default_ctx};

    #[test]
    fn long_scalar_arrays_and_maps_keep_head_tail_and_valid_json() {
        let versions: Vec<String> = (0..300).map(|i| format!("1.{i}.0")).collect();
        let time: serde_json::Map<String, serde_json::Value> = versions
            .iter()
            .map(|v| (v.clone(), serde_json::json!("2020-01-01T00:00:00.000Z")))
            .collect();
        let doc = serde_json::to_string_pretty(&serde_json::json!({
            "name": "pkg", "license": "MIT", "versions": versions, "time": time,
        }))
        .unwrap();
        let root = crate::json::parse_str(&doc).unwrap();
        let (out, key) = with_default_ctx(&doc, |ctx| compress(&doc, &root, ctx));
        let out = out.unwrap();
        let body = out.lines().next().unwrap();
        let v: serde_json::Value = serde_json::from_str(body).expect("valid JSON");
        assert_eq!(v["license"], "MIT");
        assert_eq!(v["versions"][0], "1.0.0");
        assert_eq!(v["versions"].as_array().unwrap().last().unwrap(), "1.299.0");
        assert!(v["time"]["…"].as_str().unwrap().contains("more"));
        assert!(out.contains(key.as_deref().unwrap()));
        assert!(out.len() * 5 < doc.len());
    }

    #[test]
    fn error_results_keep_every_entry_naming_a_problem() {
        let runs: serde_json::Map<String, serde_json::Value> = (0..200)
            .map(|i| {
                let state = if i % 5 == 0 { "failed: exit 1" } else { "ok" };
                (format!("job{i}"), serde_json::json!(state))
            })
            .collect();
        let doc = serde_json::to_string_pretty(&serde_json::json!({ "runs": runs })).unwrap();
        let root = crate::json::parse_str(&doc).unwrap();
        let failed = |out: &str| out.matches("failed: exit 1").count();
        let all = with_default_ctx(&doc, |ctx| compress_problems(&doc, &root, ctx))
            .0
            .unwrap();
        assert_eq!(failed(&all), 40, "{all}");
        let some = with_default_ctx(&doc, |ctx| compress(&doc, &root, ctx))
            .0
            .unwrap();
        assert!(failed(&some) < 40, "{some}");
        assert!(all.len() * 2 < doc.len());
    }

    #[test]
    fn long_strings_are_cut_to_valid_json_and_problems_kept_whole() {
        let readme = format!("caf\u{e9} \"quoted\"\n{}", "word ".repeat(400));
        let trace = format!("Traceback: {}", "frame ".repeat(300));
        let doc = serde_json::to_string_pretty(&serde_json::json!({
            "name": "pkg", "description": readme, "log": trace, "short": "x",
        }))
        .unwrap();
        let root = crate::json::parse_str(&doc).unwrap();
        let (cut, n) = cut_long_strings(&doc, &root).unwrap();
        assert_eq!(n, 1);
        let v: serde_json::Value = serde_json::from_str(&cut).expect("valid JSON");
        let d = v["description"].as_str().unwrap();
        assert!(d.starts_with("caf\u{e9} \"quoted\"\nword word"), "{d}");
        assert!(d.ends_with("more bytes cut]"), "{d}");
        assert!(d.len() < 300, "{}", d.len());
        assert_eq!(v["log"], serde_json::json!(trace));
        assert_eq!(v["short"], "x");
        // Every cut point is checked: escapes and multi-byte characters are never split.
        for k in 0..12 {
            let s = format!("{}{}", "\u{e9}\\\"".repeat(k), "\u{e9}a\\".repeat(300));
            let doc = serde_json::to_string(&serde_json::json!({ "s": s })).unwrap();
            let root = crate::json::parse_str(&doc).unwrap();
            let (cut, _) = cut_long_strings(&doc, &root).unwrap();
            serde_json::from_str::<serde_json::Value>(&cut).expect("valid JSON");
        }
        let small = r#"{"a":"b"}"#;
        assert!(cut_long_strings(small, &crate::json::parse_str(small).unwrap()).is_none());
    }
    #[test]
    fn cut_pretty_documents_lose_the_middle_of_long_runs_but_not_the_asked_entry() {
        // `npm view react time --json` cut by Claude Code or Codex: it no longer parses.
        let mut doc =
            String::from("{\n  \"created\": \"2011-10-26T17:46:21.942Z\",\n  \"versions\": {\n");
        for i in 0..400 {
            doc.push_str(&format!(
                "    \"0.{i}.0\": \"2020-01-01T00:00:{:02}Z\",\n",
                i % 60
            ));
        }
        doc.push_str("    \"0.400");
        let ((out, n), key) = with_ctx(&doc, Some("when was 0.321.0 published?"), true, |ctx| {
            elide_pretty_runs(&doc, ctx, MATCHES).unwrap()
        });
        assert!(key.is_none(), "the caller writes the note, with the key");
        // 401 entry lines (the cut half-line is one), less head, tail and the asked one.
        assert_eq!(n, 401 - HEAD - TAIL - 1);
        assert!(
            out.contains("    \"0.321.0\": \"2020-01-01T00:00:21Z\",\n"),
            "{out}"
        );
        assert!(
            out.contains("    \"0.0.0\"") && out.contains("    \"0.399.0\""),
            "{out}"
        );
        assert!(
            out.contains(&format!("    \"…\": \"… {} more\",\n", 321 - HEAD)),
            "{out}"
        );
        assert!(
            out.ends_with("    \"0.400"),
            "the cut half-line stays: {out}"
        );
        assert!(out.starts_with("{\n  \"created\""), "{out}");
        // Arrays of scalars get an item, not a member; short runs and lossless mode nothing.
        let list = format!("[\n{}  1\n]", "  1,\n".repeat(100));
        let (out, _) = with_ctx(&list, None, true, |ctx| {
            elide_pretty_runs(&list, ctx, MATCHES)
        });
        assert!(out.unwrap().0.contains("  \"… 83 more\",\n"));
        let (none, _) = with_ctx(&list, None, false, |ctx| {
            elide_pretty_runs(&list, ctx, MATCHES)
        });
        assert!(none.is_none());
        let short = format!("[\n{}  1\n]", "  1,\n".repeat(30));
        let (none, _) = with_ctx(&short, None, true, |ctx| {
            elide_pretty_runs(&short, ctx, MATCHES)
        });
        assert!(none.is_none());
    }

    #[test]
    fn prose_mentioning_errors_is_cut_but_problem_reports_stay_whole() {
        let readme = format!(
            "# Ruff\nFix support, for automatic error correction.\n{}",
            "word ".repeat(300)
        );
        let tb = format!(
            "Traceback (most recent call last):\n{}",
            "  File x\n".repeat(200)
        );
        let panic = format!(
            "{}\nthread 'main' panicked at src/main.rs:3:5",
            "line\n".repeat(300)
        );
        let under_key = "frame ".repeat(300);
        let doc = serde_json::to_string(&serde_json::json!({
            "description": readme, "output": tb, "log": under_key, "text": panic,
        }))
        .unwrap();
        let root = crate::json::parse_str(&doc).unwrap();
        let (cut, n) = cut_long_strings(&doc, &root).unwrap();
        assert_eq!(n, 1, "{cut}");
        let v: serde_json::Value = serde_json::from_str(&cut).unwrap();
        assert!(v["description"]
            .as_str()
            .unwrap()
            .ends_with("more bytes cut]"));
        assert_eq!(v["output"], serde_json::json!(tb));
        assert_eq!(v["log"], serde_json::json!(under_key));
        assert_eq!(v["text"], serde_json::json!(panic));
    }
}
