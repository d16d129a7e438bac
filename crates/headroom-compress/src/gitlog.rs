//! `git log` (medium format, with or without `--stat`), `git show --stat` and `git diff --stat`.
//!
//! Each commit spends lines on layout: a repeated `Author:` line, blank separators, a
//! four-space indent on every message line. With `--stat` most of the bytes are the per-file
//! lines ` path<padding> | 12 ++++--`: alignment padding and a `+`/`-` bar that only draws the
//! count beside it, and long directory prefixes repeated file after file.
//!
//! Every commit keeps its full hash, date, subject and its `N files changed, …` summary; the
//! author is written only when it changes, the indent and blank lines go, and message bodies
//! longer than [`BODY`] lines are cut, as are message lines (a subject that is a paragraph)
//! longer than [`MSG_LINE`] characters. Stat lines lose padding and bar and are grouped by
//! directory (`dir/: a.rs 12, b.rs 3`); a block of more than [`STAT_FILES`] files keeps the
//! first ones and counts the rest. Everything dropped is retrievable by the marker's key.

use crate::router::Ctx;
use crate::text;
use regex::Regex;
use std::sync::OnceLock;

/// Message lines kept per commit.
const BODY: usize = 8;
/// Message lines longer than this are cut (a subject that is a whole paragraph: its start
/// says what the commit did; the rest is retrievable).
const MSG_LINE: usize = 200;
/// File lines of one `--stat` block kept in view.
const STAT_FILES: usize = 30;

/// ` path | 12 ++--`, ` path | Bin 0 -> 12 bytes`, ` path | 0`.
fn stat_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(r"^ (\S.*?) +\| +(\d+(?: [+-]*)?|Bin(?: \d+ -> \d+ bytes)?)$")
            .expect("valid regex")
    })
}

/// Whether a line is a `--stat` file line.
pub fn is_stat_line(l: &str) -> bool {
    l.starts_with(' ') && l.contains(" | ") && stat_re().is_match(l)
}

/// The ` N files changed, …` summary closing a `--stat` block.
pub fn is_stat_summary(l: &str) -> bool {
    let t = l.trim_start();
    t.split_once(' ')
        .is_some_and(|(n, rest)| n.bytes().all(|b| b.is_ascii_digit()) && rest.starts_with("file"))
        && t.contains(" changed")
}

/// One stat file line: (path, count) with the bar dropped.
fn parse_stat(l: &str) -> Option<(&str, &str)> {
    let c = stat_re().captures(l)?;
    let path = c.get(1)?.as_str();
    let v = c.get(2)?.as_str();
    let count = v.split(' ').next().unwrap_or(v);
    let count = if count == "Bin" { v } else { count };
    Some((path, count))
}

#[derive(Default)]
struct Stats {
    bars: usize,
    files_cut: usize,
}

/// Writes a block of stat lines grouped by directory (consecutive files sharing a directory
/// share a line; order is kept).
fn flush_stat(block: &mut Vec<(&str, &str)>, out: &mut String, st: &mut Stats) {
    if block.is_empty() {
        return;
    }
    st.bars += block.len();
    let keep = if block.len() > STAT_FILES {
        STAT_FILES
    } else {
        block.len()
    };
    let mut cur_dir: Option<&str> = None;
    for (path, count) in &block[..keep] {
        // Renames (`a => b`, `{a => b}/c`) and `...`-shortened paths stay whole.
        let (dir, name) = match path.rfind('/') {
            Some(i) if !path.contains(" => ") => (&path[..=i], &path[i + 1..]),
            _ => ("", *path),
        };
        if cur_dir == Some(dir) && !dir.is_empty() {
            out.push_str(", ");
        } else {
            if cur_dir.is_some() {
                out.push('\n');
            }
            out.push(' ');
            if !dir.is_empty() {
                out.push_str(dir);
                out.push_str(": ");
            }
            cur_dir = Some(dir);
        }
        out.push_str(name);
        out.push(' ');
        out.push_str(count);
        if dir.is_empty() {
            // A file at the top level has its own line.
            cur_dir = Some("");
        }
    }
    out.push('\n');
    if block.len() > keep {
        let more = block.len() - keep;
        st.files_cut += more;
        out.push_str(&format!(" … {} more files\n", text::fmt_count(more)));
    }
    block.clear();
}

/// `git blame`: `hash [path] (author date tz   N) code`.
fn blame_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(r"^(\^?[0-9a-f]{7,40}(?: [^\s(]+)?) \((.*?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4})\s+(\d+)\) ?(.*)$")
            .expect("valid regex")
    })
}

/// `git blame` written once per run of lines from the same commit: a `hash (author date)`
/// header, then `N) code` for each line, the code byte-exact. Lossless: only the repeated
/// commit, author and date and the alignment padding go. `None` unless ≥ 90 % of the lines
/// are blame lines.
fn blame(t: &str) -> Option<String> {
    // Cheap rejection of every other git output: the first line must be a blame line.
    if !blame_re().is_match(t.lines().next()?) {
        return None;
    }
    let mut out = String::with_capacity(t.len() / 2);
    let mut last: Option<(&str, &str)> = None;
    let (mut lines, mut matched) = (0usize, 0usize);
    for l in t.lines() {
        lines += 1;
        let Some(c) = blame_re().captures(l) else {
            out.push_str(l);
            out.push('\n');
            last = None;
            continue;
        };
        matched += 1;
        let (Some(hash), Some(meta), Some(no), Some(code)) =
            (c.get(1), c.get(2), c.get(3), c.get(4))
        else {
            continue;
        };
        let key = (hash.as_str(), meta.as_str().trim_end());
        if last != Some(key) {
            out.push_str(key.0);
            out.push_str(" (");
            out.push_str(key.1);
            out.push_str(")\n");
            last = Some(key);
        }
        out.push_str(no.as_str());
        out.push_str(") ");
        out.push_str(code.as_str());
        out.push('\n');
    }
    (lines >= 3 && matched * 10 >= lines * 9).then(|| {
        format!(
            "[headroom: git blame grouped by commit: \"hash (author date)\" once per run of lines, then \"line) code\"]\n{}",
            out.trim_end()
        )
    })
}

pub fn compress(t: &str, ctx: &Ctx<'_>) -> Option<String> {
    if let Some(b) = blame(t) {
        return Some(b);
    }
    if !ctx.options.lossy {
        return None;
    }
    let mut out = String::with_capacity(t.len());
    let mut last_author: Option<&str> = None;
    let mut msg_lines = 0usize;
    let mut cut = 0usize;
    let mut authors_dropped = 0usize;
    let mut long = 0usize;
    let mut block: Vec<(&str, &str)> = Vec::new();
    let mut st = Stats::default();
    for l in t.lines() {
        if is_stat_line(l) {
            if let Some(p) = parse_stat(l) {
                block.push(p);
                continue;
            }
        }
        flush_stat(&mut block, &mut out, &mut st);
        if l.starts_with("commit ") {
            msg_lines = 0;
            out.push_str(l);
            out.push('\n');
        } else if let Some(a) = l.strip_prefix("Author: ") {
            if last_author == Some(a) {
                authors_dropped += 1;
            } else {
                out.push_str(l);
                out.push('\n');
                last_author = Some(a);
            }
        } else if let Some(d) = l.strip_prefix("Date:") {
            out.push_str("Date: ");
            out.push_str(d.trim());
            out.push('\n');
        } else if let Some(m) = l.strip_prefix("    ") {
            msg_lines += 1;
            if msg_lines > BODY {
                cut += 1;
                continue;
            }
            if m.len() > MSG_LINE + 20 {
                out.push_str(text::truncate_chars(m, MSG_LINE));
                out.push_str("…\n");
                long += 1;
                continue;
            }
            out.push_str(m);
            out.push('\n');
        } else if l.trim().is_empty() {
            continue;
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    flush_stat(&mut block, &mut out, &mut st);
    let mut what = vec![];
    if st.bars > 0 {
        what.push(format!(
            "--stat file lines grouped by directory as \"dir/: file lines-changed, …\" without their +/- bars{}",
            if st.files_cut > 0 {
                format!(
                    ", {} file lines beyond {STAT_FILES} per commit omitted",
                    text::fmt_count(st.files_cut)
                )
            } else {
                String::new()
            }
        ));
    }
    if authors_dropped > 0 {
        what.push(format!(
            "an Author line is written only when it changes ({} repeats omitted)",
            text::fmt_count(authors_dropped)
        ));
    }
    if cut > 0 {
        what.push(format!(
            "{} message lines beyond {BODY} per commit omitted",
            text::fmt_count(cut)
        ));
    }
    if long > 0 {
        what.push(format!(
            "{} message lines longer than {MSG_LINE} characters cut (…)",
            text::fmt_count(long)
        ));
    }
    if what.is_empty() {
        return (out.len() < t.len()).then_some(out.trim_end().to_owned());
    }
    out.push_str(&ctx.marker(&what.join("; ")));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::with_default_ctx;

    #[test]
    fn keeps_hashes_dates_and_subjects() {
        let mut t = String::new();
        for i in 0..10 {
            t.push_str(&format!("commit {:040x}\nAuthor: A Person <a@example.com>\nDate:   Mon Jan {} 10:00:00 2025 +0000\n\n    Subject number {i}\n\n", i, i + 1));
        }
        let (out, _) = with_default_ctx(&t, |ctx| compress(&t, ctx));
        let out = out.unwrap();
        for i in 0..10 {
            assert!(out.contains(&format!("commit {:040x}", i)));
            assert!(out.contains(&format!("Subject number {i}")));
        }
        assert_eq!(out.matches("Author:").count(), 1);
        assert!(out.len() < t.len());
    }

    #[test]
    fn stat_lines_are_grouped_by_directory_with_summaries_kept() {
        let t = "commit 5833375d352ade77b4a67a35819163d36cc834da\nAuthor: A <a@x>\nDate:   Thu Dec 3 06:08:19 2026 +0000\n\n    subject\n\n .ci/clients/package-lock.json                   | 131 ++++++++++\n crates/cli/src/wrap/ensure.rs | 180 +++++-----\n crates/cli/src/wrap/mod.rs    |  93 +++++++---\n docs/{old.md => new.md}       |   0\n Cargo.lock                    |   2 +-\n logo.png                      | Bin 0 -> 1234 bytes\n 6 files changed, 406 insertions(+), 10 deletions(-)\n";
        let (out, key) = with_default_ctx(t, |ctx| compress(t, ctx));
        let out = out.unwrap();
        assert!(
            out.contains(" .ci/clients/: package-lock.json 131\n crates/cli/src/wrap/: ensure.rs 180, mod.rs 93\n docs/{old.md => new.md} 0\n Cargo.lock 2\n logo.png Bin 0 -> 1234 bytes\n 6 files changed, 406 insertions(+), 10 deletions(-)\n"),
            "{out}"
        );
        assert!(out.contains(key.as_deref().unwrap()));
        assert!(!out.contains("+++"));
    }

    #[test]
    fn long_stat_blocks_keep_the_first_files() {
        let mut t = String::new();
        for i in 0..100 {
            t.push_str(&format!(" src/mod{i}/file.rs | {i} +++\n"));
        }
        t.push_str(" 100 files changed, 4950 insertions(+)\n");
        let out = with_default_ctx(&t, |ctx| compress(&t, ctx)).0.unwrap();
        assert!(out.contains(" src/mod29/: file.rs 29\n … 70 more files\n 100 files changed"));
        assert!(!out.contains("mod30/"));
    }

    #[test]
    fn paragraph_subjects_are_cut_with_the_start_kept() {
        let long = "Proxy: Responses over WebSocket compressed, ".repeat(10);
        let mut t = String::new();
        for i in 0..3 {
            t.push_str(&format!("commit {i:040x}\nAuthor: A <a@x>\nDate:   Thu Dec 3 06:08:19 2026 +0000\n\n    {long}{i}\n\n    short body line\n\n"));
        }
        let (out, key) = with_default_ctx(&t, |ctx| compress(&t, ctx));
        let out = out.unwrap();
        assert_eq!(out.matches(&long[..MSG_LINE]).count(), 3, "{out}");
        assert_eq!(out.matches("short body line").count(), 3);
        assert!(out.contains("3 message lines longer than 200 characters cut"));
        assert!(out.contains(&key.unwrap()));
    }

    #[test]
    fn blame_is_grouped_by_commit_losslessly() {
        let t = "eb77e964 (Seed maintainers 2026-11-21 08:22:13 +0000   1) //! Router\neb77e964 (Seed maintainers 2026-11-21 08:22:13 +0000   2) \neb77e964 (Seed maintainers 2026-11-21 08:22:13 +0000   3)     let x = 1;\n^1a2b3c4 (Other Person    2026-11-22 09:00:00 +0100  10) fn detect_lines(t: &str) {\neb77e964 (Seed maintainers 2026-11-21 08:22:13 +0000  11) }\n";
        let (out, _) = with_default_ctx(t, |ctx| compress(t, ctx));
        assert_eq!(
            out.unwrap(),
            "[headroom: git blame grouped by commit: \"hash (author date)\" once per run of lines, then \"line) code\"]\neb77e964 (Seed maintainers 2026-11-21 08:22:13 +0000)\n1) //! Router\n2) \n3)     let x = 1;\n^1a2b3c4 (Other Person    2026-11-22 09:00:00 +0100)\n10) fn detect_lines(t: &str) {\neb77e964 (Seed maintainers 2026-11-21 08:22:13 +0000)\n11) }"
        );
    }
}
