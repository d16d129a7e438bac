//! `git log` (medium format, with or without `--stat`). Each commit spends lines on layout: a
//! repeated `Author:` line, blank separators, a four-space indent on every message line.
//! Every commit keeps its full hash, date, subject and stats; the author is written only when
//! it changes, the indent and blank lines go, and message bodies longer than [`BODY`] lines
//! are cut (retrievable).

use crate::router::Ctx;
use crate::text;

/// Message lines kept per commit.
const BODY: usize = 8;

pub fn compress(t: &str, ctx: &Ctx<'_>) -> Option<String> {
    if !ctx.options.lossy {
        return None;
    }
    let mut out = String::with_capacity(t.len());
    let mut last_author: Option<&str> = None;
    let mut msg_lines = 0usize;
    let mut cut = 0usize;
    let mut authors_dropped = 0usize;
    for l in t.lines() {
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
            out.push_str(m);
            out.push('\n');
        } else if l.trim().is_empty() {
            continue;
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    let mut what = vec![];
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
}
