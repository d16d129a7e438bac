//! Search output (`grep -rn`, `rg`, `git grep -n`) and directory listings.
//!
//! Search hits repeat the file path on every line and usually carry context lines the agent
//! did not ask for. Grouping hits under their path, dropping leading indentation and context
//! lines, and merging identical hits in the same file keeps every match line that carries
//! information while removing most of the repetition. Listings are grouped by directory,
//! which is lossless.

use crate::router::Ctx;
use crate::text;
use regex::Regex;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Match lines longer than this are cut (the original stays retrievable).
const MAX_LINE: usize = 240;

fn match_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| Regex::new(r"^([^\s:][^:\n]*?):(\d+):(.*)$").expect("valid regex"))
}

/// A hit without a line number (`rg PATTERN` piped, `grep -r` without `-n`): `path:text`, the
/// path ending in a file extension (not `path::name`, a pytest node id).
pub fn plain_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(r"^([A-Za-z0-9_./~@][^\s:,]*\.[A-Za-z0-9]{1,10}):([^:].*)?$")
            .expect("valid regex")
    })
}

fn context_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| Regex::new(r"^([^\s:][^:\n]*?)-(\d+)-(.*)$").expect("valid regex"))
}

struct FileHits<'a> {
    path: &'a str,
    /// (text, line numbers) in first-appearance order; identical texts merged.
    hits: Vec<(&'a str, Vec<&'a str>)>,
    /// text → index in `hits` (keeps merging linear for huge outputs).
    seen: HashMap<&'a str, usize>,
}

pub fn compress_search(t: &str, ctx: &Ctx<'_>) -> Option<String> {
    let cleaned = text::strip_ansi(t);
    let mut files: Vec<FileHits<'_>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut other: Vec<&str> = Vec::new();
    let mut context_dropped = 0usize;
    let mut cut = 0usize;
    let mut total = 0usize;
    // Characters Codex cut from the middle: the search is judged by the output it came from.
    let mut cut_away = 0usize;
    for line in cleaned.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(n) = crate::router::codex_cut_chars(line) {
            cut_away += n;
            total += 1;
            other.push(line);
            continue;
        }
        if line.trim().is_empty() || line == "--" {
            continue;
        }
        total += 1;
        if let Some(c) = match_re().captures(line) {
            let (Some(path), Some(no), Some(txt)) = (c.get(1), c.get(2), c.get(3)) else {
                continue;
            };
            let path = path.as_str();
            let i = *index.entry(path).or_insert_with(|| {
                files.push(FileHits {
                    path,
                    hits: Vec::new(),
                    seen: HashMap::new(),
                });
                files.len() - 1
            });
            let txt = txt.as_str().trim();
            let f = &mut files[i];
            match f.seen.get(txt) {
                Some(&h) => f.hits[h].1.push(no.as_str()),
                None => {
                    f.seen.insert(txt, f.hits.len());
                    f.hits.push((txt, vec![no.as_str()]));
                }
            }
        } else if let Some(c) = plain_re().captures(line) {
            let (Some(path), txt) = (c.get(1), c.get(2)) else {
                continue;
            };
            let path = path.as_str();
            let i = *index.entry(path).or_insert_with(|| {
                files.push(FileHits {
                    path,
                    hits: Vec::new(),
                    seen: HashMap::new(),
                });
                files.len() - 1
            });
            // No line number to merge identical hits under: each stays.
            files[i]
                .hits
                .push((txt.map_or("", |m| m.as_str()).trim(), Vec::new()));
        } else if context_re().is_match(line) {
            if !ctx.options.lossy {
                // Context lines can only be dropped, not regrouped: leave lossless mode alone.
                return None;
            }
            context_dropped += 1;
        } else {
            other.push(line);
        }
    }
    // Not really search output if much of it did not parse.
    if files.is_empty() || other.len() * 10 > total {
        return None;
    }
    // About one hit per file and nothing dropped: the grouping would not pay for its header.
    let hits: usize = files.iter().map(|f| f.hits.len()).sum();
    if context_dropped == 0 && hits * 2 < files.len() * 3 {
        return None;
    }
    let scale = (cleaned.len() + cut_away) as f64 / cleaned.len().max(1) as f64;
    let keep = survey_sample(&files, hits, scale, ctx);
    let mut sampled = 0usize;
    let mut out = String::with_capacity(t.len() / 2);
    for (fi, f) in files.iter().enumerate() {
        out.push_str(f.path);
        let shown = keep.as_ref().map(|k| &k[fi]);
        if let Some(shown) = shown {
            let more = f.hits.len() - shown.iter().filter(|&&b| b).count();
            if more > 0 {
                out.push_str(&format!(" (+{more})"));
                sampled += more;
            }
        }
        out.push('\n');
        for (hi, (txt, nos)) in f.hits.iter().enumerate() {
            if shown.is_some_and(|s| !s[hi]) {
                continue;
            }
            out.push_str("  ");
            if !nos.is_empty() {
                out.push_str(&nos.join(","));
                out.push_str(": ");
            }
            if ctx.options.lossy && txt.len() > MAX_LINE {
                out.push_str(text::truncate_chars(txt, MAX_LINE));
                out.push('…');
                cut += 1;
            } else {
                out.push_str(txt);
            }
            out.push('\n');
        }
    }
    for l in &other {
        out.push_str(l);
        out.push('\n');
    }
    let mut what = Vec::new();
    if context_dropped > 0 {
        what.push(format!(
            "{} context lines omitted",
            text::fmt_count(context_dropped)
        ));
    }
    if cut > 0 {
        what.push(format!("{} long lines cut", text::fmt_count(cut)));
    }
    if sampled > 0 {
        what.push(format!(
            "{} of {} hits not shown (\"(+N)\" after a path)",
            text::fmt_count(sampled),
            text::fmt_count(hits)
        ));
    }
    let header = if sampled > 0 {
        "[headroom: hits grouped by file, \"line: text\"; a survey: every file, its first hits and the hits naming the question's terms]\n"
    } else {
        "[headroom: hits grouped by file, \"line: text\"]\n"
    };
    let mut s = String::with_capacity(out.len() + 200);
    s.push_str(header);
    s.push_str(out.trim_end());
    if !what.is_empty() {
        s.push('\n');
        s.push_str(&ctx.marker(&what.join(", ")));
    }
    Some(s)
}

/// A search with more than this many distinct hits whose grouped text is over
/// [`SURVEY_BYTES`] is a survey (`grep -rn 'fn '` over a tree): it is cut to a sample.
const SURVEY_HITS: usize = 150;
const SURVEY_BYTES: usize = 10_000;
/// Hits a survey keeps in view, spread over its files (at least [`SURVEY_PER_FILE`] each).
const SURVEY_KEEP: usize = 100;
const SURVEY_PER_FILE: usize = 2;
/// Hits kept for naming a rare question term.
const SURVEY_ASKED: usize = 40;

/// Hits that report a problem stay in a survey like everywhere else.
fn problem_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(r"(?i)(?-u:\b)(error|failed|failure|panicked)(?-u:\b)|FAILED")
            .expect("valid regex")
    })
}

/// Which hits a survey keeps (`None`: not a survey, every hit stays). A search another tool
/// already cut (Codex keeps ~10 KB of a long output) counts as the search it was cut from:
/// `scale` is its original size over what is left. Every file keeps its
/// first hits — the same number for each, so the sample reads as an outline of the tree — and
/// every hit naming a question term that is rare among the hits (the one the user asked
/// about) or reporting a problem (`error`, `failed`, `panicked`) is kept wherever it is. Deterministic: a function of the output and the question.
fn survey_sample(
    files: &[FileHits<'_>],
    hits: usize,
    scale: f64,
    ctx: &Ctx<'_>,
) -> Option<Vec<Vec<bool>>> {
    if !ctx.options.lossy || (hits as f64 * scale) as usize <= SURVEY_HITS {
        return None;
    }
    let bytes: usize = files
        .iter()
        .map(|f| {
            f.path.len()
                + 1
                + f.hits
                    .iter()
                    .map(|(t, n)| {
                        t.len().min(MAX_LINE) + 4 + n.iter().map(|x| x.len() + 1).sum::<usize>()
                    })
                    .sum::<usize>()
        })
        .sum();
    if (bytes as f64 * scale) as usize <= SURVEY_BYTES {
        return None;
    }
    // As many per file as the whole output would keep (a cut one shows fewer of its files).
    let per_file =
        ((SURVEY_KEEP as f64 / (files.len().max(1) as f64 * scale)) as usize).max(SURVEY_PER_FILE);
    let limit = (hits / 20).max(5);
    let terms: Vec<String> = ctx
        .question
        .map(text::query_terms)
        .unwrap_or_default()
        .into_iter()
        .filter(|term| {
            let n = files
                .iter()
                .flat_map(|f| f.hits.iter())
                .filter(|(t, _)| t.to_ascii_lowercase().contains(term.as_str()))
                .take(limit + 1)
                .count();
            n > 0 && n <= limit
        })
        .collect();
    let mut asked = 0usize;
    let keep = files
        .iter()
        .map(|f| {
            f.hits
                .iter()
                .enumerate()
                .map(|(i, (t, _))| {
                    if i < per_file || problem_re().is_match(t) {
                        return true;
                    }
                    if asked < SURVEY_ASKED && !terms.is_empty() {
                        let lower = t.to_ascii_lowercase();
                        if terms.iter().any(|term| lower.contains(term.as_str())) {
                            asked += 1;
                            return true;
                        }
                    }
                    false
                })
                .collect()
        })
        .collect();
    Some(keep)
}

/// Directory listings: one line per directory, `dir/: name, name, …`. Lossless.
pub fn compress_listing(t: &str, ctx: &Ctx<'_>) -> Option<String> {
    let mut dirs: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for line in t.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let trimmed = line.strip_suffix('/').unwrap_or(line);
        let (dir, name) = match trimmed.rfind('/') {
            Some(i) => (&trimmed[..=i], &line[i + 1..]),
            None => ("", line),
        };
        if name.contains(", ") || name.is_empty() {
            return None;
        }
        let i = *index.entry(dir).or_insert_with(|| {
            dirs.push((dir, Vec::new()));
            dirs.len() - 1
        });
        dirs[i].1.push(name);
    }
    let folds = if ctx.options.lossy {
        fold_siblings(&dirs)
    } else {
        Vec::new()
    };
    let mut out = String::from("[headroom: paths grouped by directory as \"dir/: name, name\"");
    if !folds.is_empty() {
        out.push_str(
            "; sibling dirs holding the same names as \"parent/{a, b, c}/: name\" (each of parent/a/, parent/b/, parent/c/ holds name)",
        );
    }
    out.push_str("]\n");
    let mut chains = 0;
    let mut folded = vec![None; dirs.len()];
    for (group, members) in folds.iter().enumerate() {
        for &m in members {
            folded[m] = Some(group);
        }
    }
    for (i, (dir, names)) in dirs.iter().enumerate() {
        match folded[i] {
            // A fold is printed where its first member was.
            Some(g) if folds[g][0] == i => {
                let parent = parent_of(dir);
                let children: Vec<&str> = folds[g]
                    .iter()
                    .map(|&m| &dirs[m].0[parent.len()..dirs[m].0.len() - 1])
                    .collect();
                out.push_str(&format!("{parent}{{{}}}/: ", children.join(", ")));
            }
            Some(_) => continue,
            None => out.push_str(if dir.is_empty() { "./" } else { dir }),
        }
        if folded[i].is_none() {
            out.push_str(": ");
        }
        if ctx.options.lossy {
            let (joined, n) = join_chains(names);
            chains += n;
            out.push_str(&joined);
        } else {
            out.push_str(&names.join(", "));
        }
        out.push('\n');
    }
    if chains > 0 {
        out.insert_str(
            out.find("]\n").unwrap_or(0),
            "; names that extend the one before as \"name{,.1,.1.2}\" (name, name.1, name.1.2)",
        );
    }
    let mut out = out.trim_end().to_string();
    if !folds.is_empty() || chains > 0 {
        // Lossless, but a path is no longer in view as one string: the original stays
        // retrievable for an agent that wants to copy paths.
        out.push('\n');
        let dirs_folded: usize = folds.iter().map(Vec::len).sum();
        let what = match (dirs_folded, chains) {
            (0, c) => format!("{} name chains folded", text::fmt_count(c)),
            (d, 0) => format!("{} sibling directories folded", text::fmt_count(d)),
            (d, c) => format!(
                "{} sibling directories and {} name chains folded",
                text::fmt_count(d),
                text::fmt_count(c)
            ),
        };
        out.push_str(&ctx.marker(&what));
    }
    Some(out)
}

/// Names joined with ", ", each run of versioned names that extend the run's first name
/// written once as `first{,rest1,rest2}` (`libz.so.1`, `libz.so.1.2.13` → `libz.so.1{,.2.13}`):
/// shared libraries and their versioned links. The first name must end in a digit and each
/// rest start with `.` and hold only digits and dots, so every name a user types (`libz.so`,
/// `libz.so.1`) stays in view whole. Also returns how many runs.
fn join_chains(names: &[&str]) -> (String, usize) {
    let mut out = String::new();
    let mut runs = 0;
    let mut i = 0;
    while i < names.len() {
        let first = names[i];
        let mut j = i + 1;
        let versioned = first.ends_with(|c: char| c.is_ascii_digit());
        while versioned
            && j < names.len()
            && names[j].len() > first.len()
            && names[j].starts_with(first)
            && names[j][first.len()..].starts_with('.')
            && names[j][first.len()..]
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.')
        {
            j += 1;
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(first);
        if j > i + 1 {
            runs += 1;
            out.push_str("{,");
            let rests: Vec<&str> = names[i + 1..j].iter().map(|n| &n[first.len()..]).collect();
            out.push_str(&rests.join(","));
            out.push('}');
        } else {
            for n in &names[i + 1..j] {
                out.push_str(", ");
                out.push_str(n);
            }
        }
        i = j;
    }
    (out, runs)
}

/// `dir/` without its last component: `a/b/c/` → `a/b/`; `""` when it has one component.
fn parent_of(dir: &str) -> &str {
    let inner = dir.strip_suffix('/').unwrap_or(dir);
    match inner.rfind('/') {
        Some(i) => &dir[..=i],
        None => "",
    }
}

/// Groups of at least [`MIN_FOLD`] directories with one parent whose names are the same
/// (`/usr/share/doc/*/copyright`), in order of first appearance.
fn fold_siblings(dirs: &[(&str, Vec<&str>)]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<(&str, &[&str]), usize> = HashMap::new();
    for (i, (dir, names)) in dirs.iter().enumerate() {
        let parent = parent_of(dir);
        let child = &dir[parent.len()..dir.len().saturating_sub(1)];
        if dir.is_empty() || child.is_empty() || child.contains(", ") || child.contains(['{', '}'])
        {
            continue;
        }
        let g = *index.entry((parent, names.as_slice())).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups.retain(|g| g.len() >= MIN_FOLD);
    groups
}

/// Sibling directories with the same names are folded from this many on.
const MIN_FOLD: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::with_default_ctx;

    #[test]
    fn groups_hits_and_drops_context() {
        let t = "src/a.rs:12:    let x = y.unwrap();\nsrc/a.rs-13-    more\n--\nsrc/a.rs:40:    let x = y.unwrap();\nsrc/b-c.rs:3:fn main() {}\n";
        let out = with_default_ctx(t, |ctx| compress_search(t, ctx))
            .0
            .unwrap();
        assert!(
            out.contains("src/a.rs\n  12,40: let x = y.unwrap();\nsrc/b-c.rs\n  3: fn main() {}\n")
        );
        assert!(out.contains("1 context lines omitted"));
    }

    #[test]
    fn hits_without_line_numbers_are_grouped_too() {
        let mut t = String::new();
        for i in 0..20 {
            t.push_str(&format!("docs/guide.md:`compress_request` call {i}\n"));
            t.push_str(&format!(
                "src/lib.rs:    pub fn compress_request_{i}() {{}}\n"
            ));
        }
        let (kind, _) = crate::router::detect(&t);
        assert_eq!(kind, crate::router::ContentKind::Search);
        let out = with_default_ctx(&t, |ctx| compress_search(&t, ctx))
            .0
            .unwrap();
        assert!(out
            .contains("docs/guide.md\n  `compress_request` call 0\n  `compress_request` call 1\n"));
        assert!(out.contains("src/lib.rs\n  pub fn compress_request_0() {}\n"));
        // A pytest node id is not a hit.
        assert!(plain_re()
            .captures("tests/test_a.py::test_x PASSED")
            .is_none());
    }

    #[test]
    fn listing_folds_sibling_dirs_with_the_same_names() {
        let mut t = String::new();
        for pkg in ["git", "gzip", "libc6", "zlib1g", "tar"] {
            t.push_str(&format!("/usr/share/doc/{pkg}/copyright\n"));
        }
        t.push_str("/usr/share/doc/bash/README\n/etc/hosts\n");
        let (out, key) = with_default_ctx(&t, |ctx| compress_listing(&t, ctx));
        let out = out.unwrap();
        assert!(
            out.contains("\n/usr/share/doc/{git, gzip, libc6, zlib1g, tar}/: copyright\n/usr/share/doc/bash/: README\n/etc/: hosts\n"),
            "{out}"
        );
        assert!(out.contains(key.as_deref().unwrap()), "{out}");
        let libs = "libz.so\nlibz.so.1\nlibz.so.1.2.13\nlibzstd.so.1\nx\nx.bak\n";
        let out = with_default_ctx(libs, |ctx| compress_listing(libs, ctx))
            .0
            .unwrap();
        assert!(
            out.contains("\n./: libz.so, libz.so.1{,.2.13}, libzstd.so.1, x, x.bak\n"),
            "{out}"
        );
        // Three siblings are not enough, and lossless mode never folds.
        let few = "/d/a/x\n/d/b/x\n/d/c/x\n";
        let out = with_default_ctx(few, |ctx| compress_listing(few, ctx))
            .0
            .unwrap();
        assert!(out.ends_with("/d/a/: x\n/d/b/: x\n/d/c/: x"), "{out}");
        let (out, _) = crate::router::with_ctx(&t, None, false, |ctx| compress_listing(&t, ctx));
        assert!(!out.unwrap().contains('{'));
    }

    #[test]
    fn listing_groups_by_dir() {
        let t = "./src/a.rs\n./src/b.rs\n./docs/x.md\n./src/c/\n";
        assert_eq!(
            with_default_ctx(t, |ctx| compress_listing(t, ctx)).0.unwrap(),
            "[headroom: paths grouped by directory as \"dir/: name, name\"]\n./src/: a.rs, b.rs, c/\n./docs/: x.md"
        );
    }

    #[test]
    fn a_survey_keeps_every_file_its_first_hits_the_asked_and_the_failing_ones() {
        let mut t = String::new();
        for f in 0..20 {
            for l in 0..12 {
                let name = match (f, l) {
                    (7, 9) => "text_envelope".to_owned(),
                    (3, 5) => "parse_error_failed".to_owned(),
                    _ => format!("helper_{f}_{l}"),
                };
                t.push_str(&format!(
                    "crates/core/src/module_{f}.rs:{}:    pub fn {name}(input: &str) -> Option<String> {{\n",
                    10 + l * 7
                ));
            }
        }
        let question = Some("where is text_envelope defined?");
        let (out, key) =
            crate::router::with_ctx(&t, question, true, |ctx| compress_search(&t, ctx));
        let out = out.unwrap();
        for f in 0..20 {
            assert!(out.contains(&format!("module_{f}.rs")), "file {f} in view");
            assert!(
                out.contains(&format!("pub fn helper_{f}_0(")),
                "first hit of {f}"
            );
        }
        assert!(out.contains("pub fn text_envelope("), "{out}");
        assert!(out.contains("pub fn parse_error_failed("), "{out}");
        assert!(!out.contains("helper_12_11"), "{out}");
        assert!(out.contains("module_12.rs (+"), "{out}");
        assert!(out.contains(&format!("key \"{}\"", key.unwrap())));
        assert!(out.len() * 3 < t.len(), "{} of {}", out.len(), t.len());
        // Lossless mode keeps every hit.
        let (all, _) = crate::router::with_ctx(&t, question, false, |ctx| compress_search(&t, ctx));
        let all = all.unwrap();
        assert!(all.contains("helper_12_11"));
    }

    #[test]
    fn a_search_codex_cut_is_judged_by_the_output_it_was_cut_from() {
        // 80 hits left around Codex's cut of a 600-hit `grep -rn 'fn '`: by itself it is not a
        // survey (every hit stays); with the 40,000 characters the marker says were cut it is.
        let hit = |f: usize, l: usize| {
            format!("crates/core/src/module_{f}.rs:{}:    pub fn helper_{f}_{l}(input: &str) -> Option<String> {{\n", 10 + l * 7)
        };
        let mut left = String::new();
        for f in 0..4 {
            for l in 0..10 {
                left.push_str(&hit(f, l));
            }
        }
        let mut right = String::new();
        for f in 46..50 {
            for l in 0..10 {
                right.push_str(&hit(f, l));
            }
        }
        let plain = format!("{left}{right}");
        let cut = format!("{left}…40000 chars truncated…\n{right}");
        let (out, _) = crate::router::with_default_ctx(&plain, |ctx| compress_search(&plain, ctx));
        assert!(
            out.unwrap().contains("helper_2_9("),
            "not a survey on its own"
        );
        let (out, _) = crate::router::with_default_ctx(&cut, |ctx| compress_search(&cut, ctx));
        let out = out.unwrap();
        assert!(out.contains("…40000 chars truncated…"), "{out}");
        assert!(!out.contains("helper_2_9("), "{out}");
        for f in [0, 3, 46, 49] {
            assert!(out.contains(&format!("pub fn helper_{f}_0(")), "{out}");
        }
    }
}
