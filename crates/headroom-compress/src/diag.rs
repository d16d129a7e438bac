//! Compiler and linter diagnostics, grouped. A build with warnings repeats a few kinds of
//! diagnostic hundreds of times, each with the same code frame shape and notes; what an agent
//! needs is each kind once in full and *every* location (a fix touches all of them). So each
//! group (same severity and lint code, or the same message once quoted names and numbers are
//! set aside) keeps its first diagnostic whole and lists the others one per location with
//! their own message; errors with a code frame are never grouped.
//!
//! Recognised: rustc/clippy and ruff (`level[: code] message` then `--> path:line:col`),
//! javac/gcc/clang/mypy (`path:line[:col]: error|warning|note: message`), tsc
//! (`path(line,col): error TSnnnn: message`), ruff/flake8/pylint one-liners
//! (`path:line:col: CODE message`).

use regex::Regex;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Locations with the group's own message are packed this many to a line.
const PER_LINE: usize = 6;
/// A diagnostic block longer than this is not a diagnostic.
const MAX_BLOCK: usize = 80;

fn arrow_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| Regex::new(r"^\s*-->\s+(\S+:\d+(?::\d+)?)").expect("valid regex"))
}

fn located_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(
            r"^([^\s:(]+:\d+(?::\d+)?):\s+(error|warning|note|fatal error):\s+(\[[\w:-]+\]\s*)?(.*)$",
        )
        .expect("valid regex")
    })
}

fn tsc_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(r"^(\S+\(\d+,\d+\)):\s+(error|warning)\s+(TS\d+):\s*(.*)$").expect("valid regex")
    })
}

fn coded_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(r"^([^\s:]+:\d+:\d+):\s+([A-Z]{1,4}\d{2,4})\b:?\s*(.*)$").expect("valid regex")
    })
}

fn header_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // `warning: msg`, `error[E0308]: msg`, `warning[clippy::x]: msg`, ruff's `F401 msg`.
    RE.get_or_init(|| {
        Regex::new(r"^(?:(error|warning|note|help)(\[[\w:-]+\])?:\s+|([A-Z]{1,4}\d{2,4})\s+)(.*)$")
            .expect("valid regex")
    })
}

struct Record {
    start: usize,
    end: usize,
    key: String,
    loc: String,
    msg: String,
    /// An error with a code frame: kept whole where it is.
    keep_whole: bool,
    /// A one-line format (`path:line:col: CODE message`, tsc): a grouped member may be
    /// written as only what differs from the group's first message. Formats with a code
    /// frame keep each member's message as the compiler wrote it.
    one_line: bool,
}

/// Quoted names and numbers set aside, so `unused variable: \`a\`` and `\`b\`` group.
fn template(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut quote: Option<char> = None;
    for c in msg.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) => {}
            None if c == '`' || c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c.is_ascii_digit() => {
                if !out.ends_with('0') {
                    out.push('0');
                }
            }
            None => out.push(c),
        }
    }
    out
}

/// A message split into its words and its slots: quoted names and stand-alone numbers
/// (`(86 > 79)`, not the `501` of `E501`), in order. The skeleton marks each slot with `\0`.
fn slots(msg: &str) -> (String, Vec<&str>) {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut skeleton = String::with_capacity(msg.len());
    let mut out = Vec::new();
    let mut i = 0;
    while i < msg.len() {
        let rest = &msg[i..];
        let c = rest.chars().next().unwrap_or(' ');
        if c == '`' || c == '\'' || c == '"' {
            if let Some(close) = rest[1..].find(c) {
                out.push(&rest[..close + 2]);
                skeleton.push('\0');
                i += close + 2;
                continue;
            }
        }
        if c.is_ascii_digit() && !word(msg[..i].chars().next_back()) {
            let len = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if !word(rest[len..].chars().next()) {
                out.push(&rest[..len]);
                skeleton.push('\0');
                i += len;
                continue;
            }
        }
        skeleton.push(c);
        i += c.len_utf8();
    }
    (skeleton, out)
}

/// A member's message written as only its slots (`` `y` ``, `86, 79`) when everything else
/// is the same as in the group's first message, so nothing is lost.
fn difference(first: &str, msg: &str) -> Option<String> {
    let (a, _) = slots(first);
    let (b, parts) = slots(msg);
    (a == b && !parts.is_empty()).then(|| parts.join(", "))
}

/// Part of a block: indented, or a numbered code-frame line (`12 |     let x = 1;`).
fn indented(l: &str) -> bool {
    if l.starts_with([' ', '\t', '|', '^', '=']) {
        return true;
    }
    let rest = l.trim_start_matches(|c: char| c.is_ascii_digit());
    rest.len() < l.len() && rest.trim_start().starts_with('|')
}

fn records(lines: &[&str]) -> Vec<Record> {
    let mut out = Vec::new();
    let n = lines.len();
    let mut i = 0;
    while i < n {
        let l = lines[i];
        // Header then `-->` within two lines (rustc, clippy, ruff full).
        if !indented(l) {
            if let Some(h) = header_re().captures(l) {
                let arrow = (i + 1..(i + 3).min(n)).find_map(|j| {
                    arrow_re()
                        .captures(lines[j])
                        .and_then(|c| c.get(1))
                        .map(|m| m.as_str())
                });
                if let Some(loc) = arrow {
                    let mut j = i + 1;
                    // The code frame and notes are indented; anything else ends the block.
                    while j < n
                        && j < i + MAX_BLOCK
                        && !lines[j].trim().is_empty()
                        && indented(lines[j])
                    {
                        j += 1;
                    }
                    let level = h.get(1).map_or("", |m| m.as_str());
                    let code = h
                        .get(2)
                        .or(h.get(3))
                        .map_or(String::new(), |m| m.as_str().to_owned());
                    let msg = h.get(4).map_or("", |m| m.as_str()).to_owned();
                    let key = if h.get(3).is_some() {
                        code.clone()
                    } else {
                        format!("{level}{code}: {}", template(&msg))
                    };
                    out.push(Record {
                        start: i,
                        end: j,
                        key,
                        loc: loc.to_owned(),
                        msg: if h.get(3).is_some() {
                            format!("{code} {msg}")
                        } else {
                            msg
                        },
                        one_line: false,
                        keep_whole: level == "error",
                    });
                    i = j;
                    continue;
                }
            }
        }
        if let Some(c) = tsc_re().captures(l) {
            out.push(Record {
                start: i,
                end: i + 1,
                key: format!("{} {}", &c[2], &c[3]),
                loc: c[1].to_owned(),
                msg: format!("{} {}: {}", &c[2], &c[3], &c[4]),
                one_line: true,
                keep_whole: false,
            });
            i += 1;
            continue;
        }
        if let Some(c) = located_re().captures(l) {
            // javac/gcc: the source line and caret follow, then indented notes.
            let mut j = i + 1;
            while j < n
                && j < i + MAX_BLOCK
                && !lines[j].trim().is_empty()
                && !located_re().is_match(lines[j])
                && (indented(lines[j]) || j <= i + 2)
            {
                j += 1;
            }
            let level = &c[2];
            let lint = c.get(3).map_or("", |m| m.as_str().trim());
            let msg = &c[4];
            out.push(Record {
                start: i,
                end: j,
                key: if lint.is_empty() {
                    format!("{level}: {}", template(msg))
                } else {
                    format!("{level} {lint}")
                },
                loc: c[1].to_owned(),
                msg: format!(
                    "{level}: {lint}{}{msg}",
                    if lint.is_empty() { "" } else { " " }
                ),
                one_line: false,
                keep_whole: level.contains("error") && j > i + 1,
            });
            i = j;
            continue;
        }
        if let Some(c) = coded_re().captures(l) {
            out.push(Record {
                start: i,
                end: i + 1,
                key: c[2].to_owned(),
                loc: c[1].to_owned(),
                msg: format!("{} {}", &c[2], &c[3]),
                one_line: true,
                keep_whole: false,
            });
            i += 1;
            continue;
        }
        i += 1;
    }
    out
}

/// The grouped text, the indices of its lines that must be kept, and how many diagnostic
/// lines were dropped (code frames of repeated diagnostics). `None` when nothing groups.
pub fn group(lines: &[&str]) -> Option<(String, Vec<bool>, usize)> {
    let recs = records(lines);
    if recs.len() < 3 {
        return None;
    }
    // Groups in first-appearance order.
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (r, rec) in recs.iter().enumerate() {
        if rec.keep_whole {
            continue;
        }
        let g = *index.entry(rec.key.as_str()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(r);
    }
    if groups.iter().all(|g| g.len() < 2) {
        return None;
    }
    // What happens at each record's start: emit the group (first member) or skip (others).
    let mut at_start: HashMap<usize, Option<usize>> = HashMap::new();
    for (g, members) in groups.iter().enumerate() {
        at_start.insert(recs[members[0]].start, Some(g));
        for &m in &members[1..] {
            at_start.insert(recs[m].start, None);
        }
    }
    let rec_at: HashMap<usize, usize> =
        recs.iter().enumerate().map(|(r, x)| (x.start, r)).collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len() / 2);
    let mut keep: Vec<bool> = Vec::with_capacity(lines.len() / 2);
    let mut dropped = 0usize;
    let mut i = 0;
    while i < lines.len() {
        let Some(&r) = rec_at.get(&i) else {
            out.push(lines[i].to_owned());
            keep.push(false);
            i += 1;
            continue;
        };
        let rec = &recs[r];
        match at_start.get(&i) {
            Some(Some(g)) => {
                let members = &groups[*g];
                for l in &lines[rec.start..rec.end] {
                    out.push((*l).to_owned());
                    keep.push(true);
                }
                if members.len() > 1 {
                    let varied = members[1..].iter().any(|&m| {
                        recs[m].one_line
                            && recs[m].msg != rec.msg
                            && difference(&rec.msg, &recs[m].msg).is_some()
                    });
                    out.push(format!(
                        "  [{} more like this at{}:]",
                        crate::text::fmt_count(members.len() - 1),
                        if varied {
                            " — \"loc (a, b)\": the same message with its quoted names and numbers a, b"
                        } else {
                            ""
                        }
                    ));
                    keep.push(true);
                    let mut same: Vec<String> = Vec::new();
                    let flush =
                        |same: &mut Vec<String>, out: &mut Vec<String>, keep: &mut Vec<bool>| {
                            for chunk in same.chunks(PER_LINE) {
                                out.push(format!("  {}", chunk.join(", ")));
                                keep.push(true);
                            }
                            same.clear();
                        };
                    for &m in &members[1..] {
                        let x = &recs[m];
                        dropped += x.end - x.start;
                        if x.msg == rec.msg {
                            same.push(x.loc.clone());
                        } else if let Some(d) =
                            x.one_line.then(|| difference(&rec.msg, &x.msg)).flatten()
                        {
                            same.push(format!("{} ({d})", x.loc));
                        } else {
                            flush(&mut same, &mut out, &mut keep);
                            out.push(format!("  {}: {}", x.loc, x.msg));
                            keep.push(true);
                        }
                    }
                    flush(&mut same, &mut out, &mut keep);
                }
                i = rec.end;
            }
            Some(None) => {
                i = rec.end;
                // The blank line closing a dropped block goes with it.
                if i < lines.len() && lines[i].trim().is_empty() && rec.end > rec.start + 1 {
                    i += 1;
                }
            }
            None => {
                for l in &lines[rec.start..rec.end] {
                    out.push((*l).to_owned());
                    keep.push(true);
                }
                i = rec.end;
            }
        }
    }
    Some((out.join("\n"), keep, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_rust_warnings_keeping_every_location_and_errors_whole() {
        let mut log = String::from("   Compiling demo v0.1.0\n");
        for i in 0..20 {
            log.push_str(&format!(
                "warning: unused variable: `x{i}`\n --> src/lib.rs:{}:9\n  |\n{} |     let x{i} = 1;\n  |         ^^ help: prefix it with an underscore\n\n",
                i + 3,
                i + 3
            ));
        }
        log.push_str("error[E0308]: mismatched types\n --> src/main.rs:4:18\n  |\n4 |     let a: u32 = \"s\";\n  |            ---   ^^^ expected `u32`, found `&str`\n\n");
        log.push_str(
            "error: could not compile `demo` (lib) due to 1 previous error; 20 warnings emitted\n",
        );
        let lines: Vec<&str> = log.split('\n').collect();
        let (out, _, dropped) = group(&lines).unwrap();
        // Every location, each with its message as rustc wrote it.
        for i in 0..20 {
            assert!(out.contains(&format!("src/lib.rs:{}:9", i + 3)), "{out}");
            assert!(out.contains(&format!("unused variable: `x{i}`")), "{out}");
        }
        assert!(out.contains("let a: u32 = \"s\";"));
        assert!(out.contains("[19 more like this at:]"));
        assert!(dropped > 50);
        assert!(out.len() * 2 < log.len());
    }

    #[test]
    fn a_member_message_is_written_as_what_differs() {
        assert_eq!(
            difference(
                "E501 Line too long (80 > 79)",
                "E501 Line too long (86 > 79)"
            )
            .as_deref(),
            Some("86, 79")
        );
        assert_eq!(
            difference("ANN001 argument `x`", "ANN001 argument `iterable`").as_deref(),
            Some("`iterable`")
        );
        // Other words: written whole by the caller.
        assert_eq!(
            difference("F401 `a` imported but unused", "F401 `a` redefined"),
            None
        );
        assert_eq!(
            difference("D103 Missing docstring", "D103 Missing docstring!"),
            None
        );
    }

    #[test]
    fn groups_one_line_diagnostics_by_code() {
        let mut t = String::new();
        for i in 0..30 {
            t.push_str(&format!(
                "pkg/m{}.py:{}:1: D103 Missing docstring in public function\n",
                i % 3,
                i + 1
            ));
            t.push_str(&format!(
                "src/a.ts({},5): error TS7006: Parameter 'p{i}' implicitly has an 'any' type.\n",
                i + 1
            ));
        }
        let lines: Vec<&str> = t.split('\n').collect();
        let (out, _, _) = group(&lines).unwrap();
        assert!(out.contains("pkg/m2.py:30:1"));
        assert!(
            out.contains(
                "src/a.ts(1,5): error TS7006: Parameter 'p0' implicitly has an 'any' type."
            ),
            "{out}"
        );
        assert!(out.contains("src/a.ts(30,5) ('p29', 'any')"), "{out}");
        assert!(out.len() < t.len());
    }
}
