//! Tabular text and the generic fallback.
//!
//! Tables (`ls -la`, `ps`, `docker ps`, `kubectl get`, `dpkg -l`, `df`, CSV/TSV) are long lists
//! of rows of one shape; an agent asks about a few of them. Long tables keep their header and
//! first rows, their last rows, the rows that name something the user asked about (terms rare
//! in the table, so "installed" in a list of installed packages does not count) and rows that
//! report a problem; the rest is counted, and the original is retrievable.
//!
//! The generic fallback, for any other large text that is not source code: runs of lines of
//! the same shape (same sequence of words, numbers and punctuation classes) keep their first
//! two and last line, so nothing large passes at 0 % without a reason.

use crate::router::Ctx;
use crate::text;
use regex::Regex;
use std::sync::OnceLock;

/// Tables shorter than this are kept whole.
const MIN_ROWS: usize = 60;
const HEAD: usize = 20;
const TAIL: usize = 8;
/// Rows kept for matching the question, and for reporting a problem.
const MATCHES: usize = 40;
/// Runs of at least this many same-shaped lines are collapsed by the fallback.
const MIN_RUN: usize = 6;
/// The fallback leaves texts smaller than this alone.
const MIN_FALLBACK: usize = 4096;

fn problem_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(r"(?i)(?-u:\b)(error|errors|failed|failure|fatal|exited|unhealthy|crashloopbackoff|restarting|denied|killed|oomkilled|panic|critical)(?-u:\b)")
            .expect("valid regex")
    })
}

fn mode(counts: &[usize]) -> (usize, usize) {
    let mut freq: std::collections::HashMap<usize, usize> = Default::default();
    for &c in counts {
        *freq.entry(c).or_default() += 1;
    }
    freq.into_iter()
        .max_by_key(|&(c, f)| (f, c))
        .unwrap_or((0, 0))
}

/// Rows of one shape: delimited (`,` `;` tab `|` with a constant count per line) or
/// whitespace-aligned columns where some column holds numbers or one repeated value in most
/// rows (so prose, whose word counts also cluster, is not a table).
pub fn is_table(lines: &[&str]) -> bool {
    let n = lines.len();
    if n < 10 {
        return false;
    }
    for (d, min) in [(',', 2), ('\t', 1), (';', 2), ('|', 2)] {
        let counts: Vec<usize> = lines.iter().map(|l| l.matches(d).count()).collect();
        let (m, f) = mode(&counts);
        if m >= min && f * 10 >= n * 8 {
            return true;
        }
        // A last column only some rows fill (`zone1970.tab`'s comments): the separator count
        // most rows reach, or one more.
        let mut sorted = counts.clone();
        sorted.sort_unstable();
        let least = sorted[n / 5];
        let fit = counts
            .iter()
            .filter(|&&c| c == least || c == least + 1)
            .count();
        if least >= min && fit * 10 >= n * 9 {
            return true;
        }
    }
    let fields: Vec<Vec<&str>> = lines
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    // Columns every row has: the field count most rows reach (a last free-text column, like
    // a package description or a command line, adds words).
    let mut counts: Vec<usize> = fields.iter().map(Vec::len).collect();
    counts.sort_unstable();
    let m = counts[n / 5];
    if !(4..=40).contains(&m) {
        return false;
    }
    let near: Vec<&Vec<&str>> = fields.iter().filter(|f| f.len() >= m).collect();
    if near.len() * 10 < n * 8 {
        return false;
    }
    (0..m).any(|c| {
        let numeric = near
            .iter()
            .filter(|f| f[c].starts_with(|ch: char| ch.is_ascii_digit()))
            .count();
        let first = near[0][c];
        let same = near.iter().filter(|f| f[c] == first).count();
        numeric * 10 >= near.len() * 9 || same * 10 >= near.len() * 8
    })
}

/// Question terms that are rare in the rows (in at most a fifth of them, or five).
pub(crate) fn rare_terms(rows: &[&str], ctx: &Ctx<'_>) -> Vec<String> {
    let Some(q) = ctx.question else {
        return Vec::new();
    };
    let limit = (rows.len() / 5).max(5);
    text::query_terms(q)
        .into_iter()
        .filter(|t| {
            let hits = rows
                .iter()
                .filter(|r| r.to_ascii_lowercase().contains(t.as_str()))
                .take(limit + 1)
                .count();
            hits > 0 && hits <= limit
        })
        .collect()
}

pub fn compress(t: &str, ctx: &Ctx<'_>) -> Option<String> {
    if !ctx.options.lossy {
        return None;
    }
    let lines: Vec<&str> = t.lines().collect();
    let rows = lines.iter().filter(|l| !l.trim().is_empty()).count();
    if rows < MIN_ROWS {
        return None;
    }
    let keep = head_tail_and_asked(&lines, HEAD, TAIL, ctx);
    Some(render(&lines, &keep, "rows", ctx))
}

/// Which lines to keep: the first `head` and last `tail`, and up to [`MATCHES`] lines naming a
/// rare question term and [`MATCHES`] naming a problem in between.
fn head_tail_and_asked(lines: &[&str], head: usize, tail: usize, ctx: &Ctx<'_>) -> Vec<bool> {
    let terms = rare_terms(lines, ctx);
    let n = lines.len();
    let mut keep = vec![false; n];
    for (i, k) in keep.iter_mut().enumerate() {
        *k = i < head || i + tail >= n;
    }
    let (mut matched, mut problems) = (0, 0);
    for i in head..n.saturating_sub(tail) {
        let lower = lines[i].to_ascii_lowercase();
        if matched < MATCHES && terms.iter().any(|t| lower.contains(t.as_str())) {
            keep[i] = true;
            matched += 1;
        } else if problems < MATCHES && problem_re().is_match(lines[i]) {
            keep[i] = true;
            problems += 1;
        }
    }
    keep
}

/// Kept lines in order, each omitted stretch as `… N <what> …`, then the marker.
fn render(lines: &[&str], keep: &[bool], what: &str, ctx: &Ctx<'_>) -> String {
    let mut out = String::with_capacity(lines.len() * 20);
    let mut gap = 0usize;
    let mut omitted = 0usize;
    for (l, &k) in lines.iter().zip(keep) {
        if k {
            if gap > 0 {
                out.push_str(&format!("… {} {what} …\n", text::fmt_count(gap)));
                gap = 0;
            }
            out.push_str(l.trim_end());
            out.push('\n');
        } else {
            gap += 1;
            omitted += 1;
        }
    }
    if gap > 0 {
        out.push_str(&format!("… {} {what} …\n", text::fmt_count(gap)));
    }
    out.push_str(&ctx.marker(&format!(
        "{} of {} {what} omitted",
        text::fmt_count(omitted),
        text::fmt_count(lines.len())
    )));
    out
}

/// [`looks_like_source`] over a whole text.
pub fn looks_like_source_text(t: &str) -> bool {
    let lines: Vec<&str> = t.lines().filter(|l| !l.trim().is_empty()).collect();
    lines.len() >= 5 && looks_like_source(&lines)
}

/// Looks like program source: an agent may edit by it, so the fallback leaves it alone.
fn looks_like_source(lines: &[&str]) -> bool {
    let code = lines
        .iter()
        .filter(|l| {
            let t = l.trim();
            t.ends_with(['{', '}', ';', ')', ',', ':', '(', '['])
                || t.starts_with("//")
                || t.starts_with('#')
                || t.starts_with("* ")
                || t.starts_with("def ")
                || t.starts_with("fn ")
                || t.starts_with("import ")
                || t.starts_with("use ")
                || t.starts_with("return")
        })
        .count();
    code * 10 >= lines.len() * 3
}

/// The shape of a line: classes of its characters (letters, digits, spaces collapse to one
/// symbol per run; punctuation is kept), capped so long lines compare by their start.
fn shape(l: &str) -> String {
    let mut s = String::with_capacity(24);
    let mut last = ' ';
    let mut first = true;
    for c in l.chars() {
        let k = if c.is_alphabetic() || c == '_' {
            'a'
        } else if c.is_ascii_digit() {
            '0'
        } else if c.is_whitespace() {
            ' '
        } else {
            c
        };
        if first || k != last || !matches!(k, 'a' | '0' | ' ') {
            s.push(k);
        }
        first = false;
        last = k;
        if s.len() >= 24 {
            break;
        }
    }
    s
}

/// Generic fallback: collapse runs of same-shaped lines in a large text.
/// A line longer than this is cut (lossy mode): a package list on one line (`apt`'s
/// history.log `Install:` lines run to 7 KB), a minified bundle, a base64 blob.
const LONG_LINE: usize = 1_000;
/// What stays of a cut line: its start (where the line says what it is)…
const LONG_LINE_HEAD: usize = 240;
/// …and this much either side of each question term in it (at most three windows).
const LONG_LINE_WINDOW: usize = 80;

/// Cuts every line longer than [`LONG_LINE`] bytes to its first [`LONG_LINE_HEAD`] bytes
/// plus a window around each rare question term it names, saying how much of the line was
/// cut; the original stays retrievable (one marker at the end). `None` when no line is that
/// long, or for source code (a long line there is code the agent may need verbatim).
pub fn cut_long_lines(t: &str, ctx: &Ctx<'_>) -> Option<String> {
    cut_long_lines_except(t, ctx, |_| false)
}

/// [`cut_long_lines`], leaving whole every line `keep` says must stay (a line reporting a
/// problem, in an error result).
pub fn cut_long_lines_except(
    t: &str,
    ctx: &Ctx<'_>,
    keep: impl Fn(&str) -> bool,
) -> Option<String> {
    let long = |l: &str| l.len() > LONG_LINE && !keep(l);
    if !ctx.options.lossy || !t.lines().any(long) || looks_like_source_text(t) {
        return None;
    }
    let lines: Vec<&str> = t.lines().collect();
    let terms = rare_terms(&lines, ctx);
    let mut out = String::with_capacity(t.len() / 2);
    let mut cut_lines = 0;
    for l in &lines {
        if !long(l) {
            out.push_str(l);
            out.push('\n');
            continue;
        }
        cut_lines += 1;
        let mut spans = vec![(0, floor(l, LONG_LINE_HEAD))];
        let lower = l.to_ascii_lowercase();
        for term in &terms {
            for (at, _) in lower.match_indices(term.as_str()).take(3) {
                let from = floor(l, at.saturating_sub(LONG_LINE_WINDOW));
                let to = floor(l, (at + term.len() + LONG_LINE_WINDOW).min(l.len()));
                spans.push((from, to));
            }
        }
        spans.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (a, b) in spans {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        let mut shown = 0;
        let mut end = 0;
        for (a, b) in merged {
            if a > end {
                out.push_str(" … ");
            }
            out.push_str(&l[a..b]);
            shown += b - a;
            end = b;
        }
        out.push_str(&format!(
            " … [{} more bytes of this line cut]\n",
            text::fmt_count(l.len() - shown)
        ));
    }
    if !t.ends_with('\n') {
        out.pop();
    }
    if !out.contains(ctx.key()) {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&ctx.marker(&format!(
            "{} long {} cut",
            text::fmt_count(cut_lines),
            if cut_lines == 1 { "line" } else { "lines" }
        )));
    }
    (out.len() < t.len()).then_some(out)
}

/// The largest char boundary of `s` at or below `at`.
fn floor(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}
/// A text at least this big that no transform could shorten gets [`head_and_tail`].
const MIN_LAST_RESORT: usize = 24 * 1024;
/// Lines [`head_and_tail`] keeps from the start and the end.
const LAST_RESORT_HEAD: usize = 40;
const LAST_RESORT_TAIL: usize = 20;

/// The last resort for a big output no transform recognised (a symbol table, a package
/// database dump, a manual page): its first [`LAST_RESORT_HEAD`] and last [`LAST_RESORT_TAIL`]
/// lines, every line naming a rare term of the question or a problem (up to [`MATCHES`] of
/// each), and a count of the rest, which stays retrievable. Never for source code, config or
/// prose (a README, a design doc: an agent may be about to edit them) — those go whole.
pub fn head_and_tail(t: &str, ctx: &Ctx<'_>) -> Option<String> {
    if !ctx.options.lossy || t.len() < MIN_LAST_RESORT {
        return None;
    }
    let lines: Vec<&str> = t.lines().collect();
    let n = lines.len();
    if n < (LAST_RESORT_HEAD + LAST_RESORT_TAIL) * 2
        || looks_like_source(&lines)
        || looks_like_prose(&lines)
    {
        return None;
    }
    let keep = head_tail_and_asked(&lines, LAST_RESORT_HEAD, LAST_RESORT_TAIL, ctx);
    Some(render(&lines, &keep, "lines", ctx))
}

/// A document: at least a third of the non-blank lines are sentences (five or more words that
/// are mostly letters) or Markdown structure (headings, list items, table rows, fences,
/// quotes) — a README, a design doc or a manual page, `cat`-ed to be read or edited.
fn looks_like_prose(lines: &[&str]) -> bool {
    let (mut total, mut prose) = (0usize, 0usize);
    for l in lines.iter().filter(|l| !l.trim().is_empty()) {
        total += 1;
        let t = l.trim_start();
        let numbered = t
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if t.starts_with(['#', '|', '>'])
            || t.starts_with("- ")
            || t.starts_with("* ")
            || t.starts_with("```")
            || numbered
        {
            prose += 1;
            continue;
        }
        let words: Vec<&str> = l.split_whitespace().collect();
        let wordy = words
            .iter()
            .filter(|w| {
                let w = w.trim_matches(|c: char| c.is_ascii_punctuation());
                !w.is_empty() && w.chars().all(char::is_alphabetic)
            })
            .count();
        if words.len() >= 5 && wordy * 10 >= words.len() * 7 {
            prose += 1;
        }
    }
    total > 0 && prose * 3 >= total
}

/// Records of more lines than this are not looked for.
const MAX_PERIOD: usize = 12;
/// Records kept from the start and the end of a run of records.
const RECORD_HEAD: usize = 3;
const RECORD_TAIL: usize = 1;
/// Fewer records than this are all kept.
const MIN_RECORDS: usize = 16;
/// At most this many other records are kept for naming the question or a problem.
const RECORD_MATCHES: usize = 12;

/// What a line starts with, as a record's field label: its first word with digits set aside
/// (`Size:`, `Access:`, `inet`, `link/ether`), or nothing for a blank line.
fn label(l: &str) -> String {
    l.split_whitespace()
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .collect()
}

/// Output made of multi-line records of one shape — `stat` over many files, `ip addr`,
/// `apt-cache show`, `pip show a b c`, `kubectl describe`, `systemctl status` of several units
/// — where no run of same-shaped lines shows. The first [`RECORD_HEAD`] records, the last, and
/// every record naming a rare question term or a problem are kept whole; the others are
/// counted, the original retrievable.
pub fn collapse_records(t: &str, ctx: &Ctx<'_>) -> Option<String> {
    if !ctx.options.lossy || t.len() < MIN_FALLBACK {
        return None;
    }
    let lines: Vec<&str> = t.lines().collect();
    if looks_like_source(&lines) {
        return None;
    }
    let spans = periodic_records(&lines).or_else(|| paragraph_records(&lines))?;
    // A few records (`apt-cache show a b c`) were each asked for: they stay.
    let count = spans.len();
    if count < MIN_RECORDS {
        return None;
    }
    let records: Vec<String> = spans.iter().map(|r| lines[r.clone()].join("\n")).collect();
    // Terms of the question few records name (`size` is in every `stat` record).
    let records_ref: Vec<&str> = records.iter().map(String::as_str).collect();
    let terms = rare_terms(&records_ref, ctx);
    let mut keep = vec![true; lines.len()];
    let mut matched = 0;
    for r in RECORD_HEAD..count - RECORD_TAIL {
        let lower = records[r].to_ascii_lowercase();
        let wanted = matched < RECORD_MATCHES
            && (terms.iter().any(|t| lower.contains(t.as_str()))
                || problem_re().is_match(&records[r]));
        if wanted {
            matched += 1;
            continue;
        }
        for k in &mut keep[spans[r].clone()] {
            *k = false;
        }
    }
    let dropped = keep.iter().filter(|k| !**k).count();
    if dropped * 10 < lines.len() * 3 {
        return None;
    }
    Some(render(&lines, &keep, "lines of similar records", ctx))
}

/// Records of a fixed number of lines: the shortest period at which nine lines in ten repeat
/// their label, with at least two different labels in a record (one label throughout is a
/// run, not a record). `stat`: `File:`, `Size:`, `Device:`, `Access:` ×2, `Modify:`, …
fn periodic_records(lines: &[&str]) -> Option<Vec<std::ops::Range<usize>>> {
    let n = lines.len();
    let keys: Vec<String> = lines.iter().map(|l| label(l)).collect();
    let period = (2..=MAX_PERIOD).find(|&p| {
        if n < p * 8 {
            return false;
        }
        let same = (0..n - p).filter(|&i| keys[i] == keys[i + p]).count();
        let distinct: std::collections::HashSet<&String> = keys[..p].iter().collect();
        same * 10 >= (n - p) * 9 && distinct.len() > 1
    })?;
    let start = (0..n - 2 * period)
        .find(|&i| keys[i] == keys[i + period] && keys[i] == keys[i + 2 * period])?;
    Some(
        (0..(n - start) / period)
            .map(|r| start + r * period..start + (r + 1) * period)
            .collect(),
    )
}

/// Records of any length, one per paragraph (with the blank lines after it), when at least
/// four in five paragraphs open with the same label (`Package:` in `apt-cache show`, `Name:` in
/// `pip show`, `●` in `systemctl status`) and none opens with a date.
fn paragraph_records(lines: &[&str]) -> Option<Vec<std::ops::Range<usize>>> {
    let mut spans: Vec<std::ops::Range<usize>> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            if let Some(last) = spans.last_mut() {
                last.end = i + 1;
            }
            i += 1;
            continue;
        }
        let start = i;
        while i < lines.len() && !lines[i].trim().is_empty() {
            i += 1;
        }
        spans.push(start..i);
    }
    let first = |r: &std::ops::Range<usize>| label(lines[r.start]);
    let opening = first(spans.get(1)?);
    let same = spans.iter().filter(|r| first(r) == opening).count();
    // Paragraphs that open with a date are events of a log (`apt/history.log`'s `Start-Date:`),
    // each one of them a fact.
    let dated = spans.iter().any(|r| {
        let l = lines[r.start].as_bytes();
        l.windows(10).any(|w| {
            w[..4].iter().all(u8::is_ascii_digit)
                && w[4] == b'-'
                && w[5..7].iter().all(u8::is_ascii_digit)
                && w[7] == b'-'
                && w[8..].iter().all(u8::is_ascii_digit)
        })
    });
    (spans.len() >= 8 && same * 5 >= spans.len() * 4 && !opening.is_empty() && !dated)
        .then_some(spans)
}

pub fn collapse_runs(t: &str, ctx: &Ctx<'_>) -> Option<String> {
    if !ctx.options.lossy || t.len() < MIN_FALLBACK {
        return None;
    }
    let lines: Vec<&str> = t.lines().collect();
    if lines.len() < 2 * MIN_RUN || looks_like_source(&lines) {
        return None;
    }
    let shapes: Vec<String> = lines.iter().map(|l| shape(l)).collect();
    let mut keep = vec![true; lines.len()];
    let mut i = 0;
    let mut dropped = 0;
    while i < lines.len() {
        let mut j = i + 1;
        while j < lines.len() && shapes[j] == shapes[i] && !lines[i].trim().is_empty() {
            j += 1;
        }
        if j - i >= MIN_RUN {
            for k in keep.iter_mut().take(j - 1).skip(i + 2) {
                *k = false;
                dropped += 1;
            }
        }
        i = j;
    }
    if dropped * 10 < lines.len() {
        return None;
    }
    Some(render(&lines, &keep, "similar lines", ctx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::{with_ctx, with_default_ctx};

    #[test]
    fn ls_la_is_a_table_and_keeps_asked_rows() {
        let mut t = String::from("total 1234\n");
        for i in 0..300 {
            t.push_str(&format!(
                "-rwxr-xr-x 1 root root {:>8} Jan  3 12:00 tool{i}\n",
                1000 + i * 37
            ));
        }
        t.push_str("-rwxr-xr-x 1 root root  4242424 Jan  3 12:00 git\n");
        for i in 300..400 {
            t.push_str(&format!(
                "-rwxr-xr-x 1 root root {:>8} Jan  3 12:00 tool{i}\n",
                1000 + i * 37
            ));
        }
        let lines: Vec<&str> = t.lines().collect();
        assert!(is_table(&lines));
        let out =
            crate::router::with_ctx(&t, Some("is git installed?"), true, |ctx| compress(&t, ctx))
                .0
                .unwrap();
        assert!(out.contains("4242424 Jan  3 12:00 git"), "{out}");
        assert!(out.len() * 4 < t.len());
        let prose = "The quick brown fox jumps over the lazy dog today.\n".repeat(3)
            + "A different sentence with other words in it here.\n";
        let plines: Vec<&str> = prose.lines().cycle().take(40).collect();
        let _ = with_default_ctx(&prose, |_| ());
        assert!(!is_table(&plines[..3]));
    }
    #[test]
    fn a_last_column_only_some_rows_fill_still_makes_a_table() {
        // zone1970.tab: code, coordinates, zone, and a comment on some rows.
        let mut t = String::new();
        for i in 0..120 {
            t.push_str(&format!("C{i}\t+4230+00131\tEurope/Zone{i}"));
            if i % 3 == 0 {
                t.push_str("\tsome comment");
            }
            t.push('\n');
        }
        let lines: Vec<&str> = t.lines().collect();
        assert!(is_table(&lines));
        // Prose with a comma here and there is not.
        let words = [
            "the proxy",
            "a cache, warm",
            "its key",
            "every tool, then",
            "one port",
        ];
        let prose: Vec<String> = (0..60)
            .map(|i| {
                format!(
                    "{} reads {}{}",
                    words[i % 5],
                    words[(i * 3) % 5],
                    ", and another".repeat(i % 4)
                )
            })
            .collect();
        let prose: Vec<&str> = prose.iter().map(String::as_str).collect();
        assert!(!is_table(&prose));
    }
    #[test]
    fn multi_line_records_keep_the_first_last_and_asked_ones() {
        // `stat` over many files: eight labelled lines per file, no run of one shape.
        let mut t = String::new();
        for i in 0..200 {
            t.push_str(&format!(
                "  File: /usr/bin/tool{i}\n  Size: {}\tBlocks: 8   IO Block: 4096   regular file\nDevice: 254,0\tInode: {}   Links: 1\nAccess: (0755/-rwxr-xr-x)  Uid: (    0/    root)   Gid: (    0/    root)\nAccess: 2026-12-04 05:27:28.{i:09} +0000\nModify: 2026-05-09 07:29:29.000000000 +0000\nChange: 2026-05-09 07:29:29.000000000 +0000\n Birth: -\n",
                1000 + i * 7,
                5000 + i
            ));
        }
        let (out, key) = with_ctx(&t, Some("what size is tool117?"), true, |ctx| {
            collapse_records(&t, ctx)
        });
        let out = out.unwrap();
        assert!(key.is_some(), "the original is retrievable");
        for kept in [
            "/usr/bin/tool0\n",
            "/usr/bin/tool2\n",
            "/usr/bin/tool117\n",
            "/usr/bin/tool199\n",
        ] {
            assert!(out.contains(kept), "{kept} missing: {out}");
        }
        assert!(!out.contains("/usr/bin/tool50\n"));
        assert!(
            out.contains("Size: 1819\t"),
            "the asked record whole: {out}"
        );
        assert!(out.len() * 10 < t.len());
        // A log whose every line has the same kind of start is not made of records.
        let log: String = (0..400)
            .map(|i| format!("2026-12-04 10:00:{:02} INFO step {i} done\n", i % 60))
            .collect();
        assert!(
            with_ctx(&log, None, true, |ctx| collapse_records(&log, ctx))
                .0
                .is_none()
        );
    }
    #[test]
    fn big_unrecognised_output_keeps_head_tail_and_asked_lines_but_documents_go_whole() {
        // `nm -D libc.so.6`: hex addresses make every line's shape different.
        let mut t = String::new();
        for i in 0..3000u64 {
            t.push_str(&format!(
                "{:016x} T symbol_{i}@@GLIBC_2.2.5\n",
                0xa1b20 + i * 0x1f3
            ));
        }
        let (out, key) = with_ctx(&t, Some("is symbol_1234 exported?"), true, |ctx| {
            head_and_tail(&t, ctx)
        });
        let out = out.unwrap();
        assert!(key.is_some());
        assert!(out.contains(" T symbol_1234@@GLIBC_2.2.5\n"), "{out}");
        assert!(out.contains(" T symbol_0@@") && out.contains(" T symbol_2999@@"));
        assert!(out.len() * 10 < t.len());
        // A Markdown document or a page of prose is left whole, however big.
        let doc: String = (0..1200)
            .map(|i| match i % 4 {
                0 => format!("## Section {i}\n"),
                1 => "| key | value | notes |\n".to_owned(),
                2 => format!("- item {i}: `code_{i}()`\n"),
                _ => format!(
                    "The proxy forwards request {i} to its upstream and keeps the cache warm.\n"
                ),
            })
            .collect();
        assert!(doc.len() > MIN_LAST_RESORT);
        assert!(with_ctx(&doc, None, true, |ctx| head_and_tail(&doc, ctx))
            .0
            .is_none());
    }
    #[test]
    fn paragraph_records_of_any_length_keep_the_asked_one() {
        // `/var/lib/dpkg/status`: one stanza per package, of varying length.
        let mut t = String::new();
        for i in 0..60 {
            t.push_str(&format!(
                "Package: pkg{i}\nStatus: install ok installed\nVersion: 1.{i}\n"
            ));
            for d in 0..(i % 5) {
                t.push_str(&format!("Depends: dep{d}\n"));
            }
            t.push_str("Description: a package\n\n");
        }
        let (out, _) = with_ctx(&t, Some("which version of pkg42?"), true, |ctx| {
            collapse_records(&t, ctx)
        });
        let out = out.unwrap();
        assert!(
            out.contains("Package: pkg42\nStatus: install ok installed\nVersion: 1.42\n"),
            "{out}"
        );
        assert!(out.contains("Package: pkg0\n") && out.contains("Package: pkg59\n"));
        assert!(!out.contains("Package: pkg30\n"));
        // A handful of records (each named on the command line) all stay.
        let few: String = t.split_inclusive("\n\n").take(10).collect();
        assert!(
            with_ctx(&few, None, true, |ctx| collapse_records(&few, ctx))
                .0
                .is_none()
        );
    }
}
