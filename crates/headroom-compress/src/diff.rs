//! `git diff` output (also `git show`, `git log -p`, `diff -u`). Every added and removed line
//! and every hunk's position is kept; what goes is the repetition around them: unchanged
//! context is trimmed from three lines to one on each side, and to none in large diffs, where
//! it is most of the unchanged bulk (hunks are split and their `@@` headers recomputed, so the
//! result still reads as a unified diff; a gap of at most [`MERGE_GAP`] unchanged lines between
//! two changes is kept rather than paid for with another header), `index` lines and the
//! `--- a/p` / `+++ b/p` lines that repeat the `diff --git a/p b/p` paths are dropped, and
//! lock-file hunks are replaced by a count. A hunk that does not match its header (the output
//! was cut in the middle of it) is kept verbatim.

use crate::router::Ctx;
use crate::text;
use regex::Regex;
use std::sync::OnceLock;

/// Context lines kept on each side of a change.
const CONTEXT: usize = 1;
/// Diffs larger than this keep no context at all.
const LARGE: usize = 8_000;
/// Unchanged lines between two changes kept in place of a new hunk header.
const MERGE_GAP: usize = 2;
const LOCKFILES: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "uv.lock",
    "Gemfile.lock",
    "composer.lock",
    "go.sum",
    "Pipfile.lock",
];

fn hunk_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$").expect("valid regex")
    })
}

struct Hunk<'a> {
    old_start: usize,
    new_start: usize,
    tail: &'a str,
    lines: Vec<&'a str>,
}

fn emit_hunk(h: &Hunk<'_>, context: usize, out: &mut String) -> usize {
    // Positions: old/new line number of each line.
    let n = h.lines.len();
    let mut old_no = Vec::with_capacity(n);
    let mut new_no = Vec::with_capacity(n);
    let (mut o, mut nn) = (h.old_start, h.new_start);
    for l in &h.lines {
        old_no.push(o);
        new_no.push(nn);
        match l.as_bytes().first() {
            Some(b'+') => nn += 1,
            Some(b'-') => o += 1,
            Some(b'\\') => {}
            _ => {
                o += 1;
                nn += 1;
            }
        }
    }
    let changed = |i: usize| matches!(h.lines[i].as_bytes().first(), Some(b'+' | b'-'));
    let mut keep = vec![false; n];
    let mut last_changed: Option<usize> = None;
    for i in 0..n {
        if changed(i) {
            let lo = i.saturating_sub(context);
            let hi = (i + context).min(n - 1);
            for k in keep.iter_mut().take(hi + 1).skip(lo) {
                *k = true;
            }
            // A short unchanged gap costs less than the header a split would add.
            if let Some(p) = last_changed {
                if i - p - 1 <= MERGE_GAP {
                    for k in keep.iter_mut().take(i).skip(p + 1) {
                        *k = true;
                    }
                }
            }
            last_changed = Some(i);
        }
    }
    // Context windows count context lines only: widen over changed lines already handled
    // above; a "\ No newline" marker follows whatever precedes it.
    for i in 1..n {
        if h.lines[i].starts_with('\\') {
            keep[i] = keep[i - 1];
        }
    }
    let mut dropped = 0;
    let mut i = 0;
    while i < n {
        if !keep[i] {
            dropped += 1;
            i += 1;
            continue;
        }
        let start = i;
        while i < n && keep[i] {
            i += 1;
        }
        let seg = &h.lines[start..i];
        let old_count = seg
            .iter()
            .filter(|l| !l.starts_with('+') && !l.starts_with('\\'))
            .count();
        let new_count = seg
            .iter()
            .filter(|l| !l.starts_with('-') && !l.starts_with('\\'))
            .count();
        let os = if old_count == 0 {
            old_no[start].saturating_sub(1)
        } else {
            old_no[start]
        };
        let ns = if new_count == 0 {
            new_no[start].saturating_sub(1)
        } else {
            new_no[start]
        };
        out.push_str(&format!(
            "@@ -{os},{old_count} +{ns},{new_count} @@{}\n",
            h.tail
        ));
        for l in seg {
            out.push_str(l);
            out.push('\n');
        }
    }
    dropped
}

/// Whether a file header line (`diff --git a/x b/x`, `--- a/x`, `+++ b/x`) names a lock file.
fn names_lockfile(l: &str) -> bool {
    let path = l.rsplit(' ').next().unwrap_or("");
    let base = path.rsplit('/').next().unwrap_or(path);
    LOCKFILES.contains(&base)
}

pub fn compress(t: &str, ctx: &Ctx<'_>) -> Option<String> {
    if !ctx.options.lossy {
        return None;
    }
    let lines: Vec<&str> = t.split('\n').collect();
    let mut out = String::with_capacity(t.len());
    let mut context_dropped = 0usize;
    let mut index_dropped = 0usize;
    let mut lock_dropped = 0usize;
    let mut lock_total = 0usize;
    // Whether the current file is a lock file, and whether we are inside a file header.
    let mut in_lock = false;
    let mut in_header = false;
    // The `a/p b/p` paths of the current `diff --git` line, when it names one path twice.
    let mut git_paths: Option<(&str, &str)> = None;
    let mut paths_dropped = 0usize;
    let mut malformed = 0usize;
    let context = if t.len() > LARGE { 0 } else { CONTEXT };
    let mut i = 0;
    let n = lines.len();
    while i < n {
        let l = lines[i];
        if let Some(c) = hunk_re().captures(l) {
            let num = |k: usize| c.get(k).and_then(|m| m.as_str().parse::<usize>().ok());
            let (Some(os), Some(ns)) = (num(1), num(3)) else {
                return None;
            };
            let oc = num(2).unwrap_or(1);
            let nc = num(4).unwrap_or(1);
            let tail = c.get(5).map_or("", |m| m.as_str());
            // Collect exactly the lines the header announces (plus "\ No newline" markers).
            let (mut seen_old, mut seen_new) = (0usize, 0usize);
            let mut body = Vec::new();
            let mut j = i + 1;
            while j < n && (seen_old < oc || seen_new < nc || lines[j].starts_with('\\')) {
                let b = lines[j];
                match b.as_bytes().first() {
                    Some(b'+') => seen_new += 1,
                    Some(b'-') => seen_old += 1,
                    Some(b' ') => {
                        seen_old += 1;
                        seen_new += 1;
                    }
                    Some(b'\\') => {}
                    // Git writes an empty context line as " ", but some tools strip it.
                    None if j + 1 < n => {
                        seen_old += 1;
                        seen_new += 1;
                    }
                    _ => break, // not a hunk line: the hunk was cut short
                }
                body.push(b);
                j += 1;
            }
            in_header = false;
            if seen_old != oc || seen_new != nc {
                // Cut short (truncated output): keep what is there as it is.
                malformed += 1;
                out.push_str(l);
                out.push('\n');
                for b in &body {
                    out.push_str(b);
                    out.push('\n');
                }
                i = j;
                continue;
            }
            if in_lock {
                lock_dropped += body.len();
                lock_total += body.len();
            } else {
                let h = Hunk {
                    old_start: os,
                    new_start: ns,
                    tail,
                    lines: body,
                };
                context_dropped += emit_hunk(&h, context, &mut out);
            }
            i = j;
            continue;
        }
        if let Some(rest) = l.strip_prefix("diff --git ") {
            flush_lock(&mut out, &mut lock_dropped);
            in_lock = names_lockfile(l);
            in_header = true;
            git_paths = same_paths(rest);
        } else if l.starts_with("--- ") || l.starts_with("+++ ") {
            if !in_header {
                // A plain `diff -u` file header without a `diff --git` line.
                flush_lock(&mut out, &mut lock_dropped);
                in_lock = false;
                in_header = true;
                git_paths = None;
            }
            in_lock |= names_lockfile(l);
        }
        let repeats_path = in_header
            && git_paths.is_some_and(|(a, b)| {
                l.strip_prefix("--- ") == Some(a) || l.strip_prefix("+++ ") == Some(b)
            });
        if l.starts_with("index ") && in_header {
            index_dropped += 1;
        } else if repeats_path {
            paths_dropped += 1;
        } else {
            out.push_str(l);
            out.push('\n');
        }
        i += 1;
    }
    flush_lock(&mut out, &mut lock_dropped);
    while out.ends_with('\n') {
        out.pop();
    }
    if context_dropped == 0 && index_dropped == 0 && lock_total == 0 && paths_dropped == 0 {
        return None;
    }
    let mut what = Vec::new();
    if context_dropped > 0 {
        what.push(format!(
            "diff context trimmed to {context} line{} ({} context lines omitted)",
            if context == 1 { "" } else { "s" },
            text::fmt_count(context_dropped)
        ));
    }
    if paths_dropped > 0 {
        what.push(format!(
            "{} ---/+++ lines repeating the diff --git paths omitted",
            text::fmt_count(paths_dropped)
        ));
    }
    if malformed > 0 {
        what.push(format!(
            "{} cut-short hunks kept as they are",
            text::fmt_count(malformed)
        ));
    }
    if lock_total > 0 {
        what.push(format!(
            "{} lock-file diff lines omitted",
            text::fmt_count(lock_total)
        ));
    }
    if index_dropped > 0 {
        what.push(format!(
            "{} index lines omitted",
            text::fmt_count(index_dropped)
        ));
    }
    out.push('\n');
    out.push_str(&ctx.marker(&what.join(", ")));
    Some(out)
}

/// `a/p b/p` of a `diff --git` line naming the same path twice: (`a/p`, `b/p`). Paths with
/// spaces or quotes are ambiguous here; they keep their `---`/`+++` lines.
fn same_paths(rest: &str) -> Option<(&str, &str)> {
    let (a, b) = rest.split_once(' ')?;
    if b.contains(' ') || a.contains('"') {
        return None;
    }
    (a.strip_prefix("a/")? == b.strip_prefix("b/")?).then_some((a, b))
}

fn flush_lock(out: &mut String, dropped: &mut usize) {
    if *dropped > 0 {
        out.push_str(&format!(
            "… lock file: {} diff lines omitted …\n",
            text::fmt_count(*dropped)
        ));
    }
    *dropped = 0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::with_default_ctx;

    #[test]
    fn trims_context_and_recomputes_headers() {
        let t = "diff --git a/x.rs b/x.rs\nindex 111..222 100644\n--- a/x.rs\n+++ b/x.rs\n@@ -10,8 +10,8 @@ fn f()\n a\n b\n c\n-d\n+D\n e\n f\n g\n h";
        let out = with_default_ctx(t, |ctx| compress(t, ctx)).0.unwrap();
        assert!(
            out.starts_with("diff --git a/x.rs b/x.rs\n@@ -12,3 +12,3 @@ fn f()\n c\n-d\n+D\n e\n"),
            "{out}"
        );
        assert!(out.contains("5 context lines omitted"));
        assert!(out.contains("2 ---/+++ lines repeating"));
    }

    #[test]
    fn large_diffs_keep_no_context_but_short_gaps() {
        let mut t = String::from("--- a/big.txt\n+++ b/big.txt\n@@ -1,400 +1,400 @@\n");
        for i in 0..400 {
            match i {
                100 | 102 | 300 => t.push_str(&format!("-line {i}\n+LINE {i}\n")),
                _ => t.push_str(&format!(
                    " line {i} with some text to make the diff large\n"
                )),
            }
        }
        let out = with_default_ctx(&t, |ctx| compress(&t, ctx)).0.unwrap();
        assert!(
            out.contains("@@ -101,3 +101,3 @@\n-line 100\n+LINE 100\n line 101 with some text to make the diff large\n-line 102\n+LINE 102\n@@ -301,1 +301,1 @@\n-line 300\n+LINE 300\n"),
            "{out}"
        );
        assert!(out.contains("diff context trimmed to 0 lines (396 context lines omitted)"));
    }

    #[test]
    fn a_cut_short_last_hunk_is_kept_verbatim_and_the_rest_compressed() {
        let full = "diff --git a/x.rs b/x.rs\nindex 111..222 100644\n--- a/x.rs\n+++ b/x.rs\n@@ -10,8 +10,8 @@ fn f()\n a\n b\n c\n-d\n+D\n e\n f\n g\n h\ndiff --git a/y.rs b/y.rs\n--- a/y.rs\n+++ b/y.rs\n@@ -1,9 +1,9 @@\n a\n b\n c\n-d\n+D";
        let out = with_default_ctx(full, |ctx| compress(full, ctx)).0.unwrap();
        assert!(
            out.contains("@@ -12,3 +12,3 @@ fn f()\n c\n-d\n+D\n e\n"),
            "{out}"
        );
        assert!(
            out.contains("diff --git a/y.rs b/y.rs\n@@ -1,9 +1,9 @@\n a\n b\n c\n-d\n+D\n"),
            "{out}"
        );
        assert!(out.contains("1 cut-short hunks kept as they are"));
    }
}
