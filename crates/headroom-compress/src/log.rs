//! Build, test and CI logs. Most of a log is the same line again with a different crate, test
//! name or percentage; what the agent needs is every error, warning, failure, panic and stack
//! trace, the shape of the rest, and the tail. So: strip ANSI and terminal redraws, keep every
//! line that reports a problem together with the block that follows it (code frame, traceback,
//! assertion values), keep failure sections whole, collapse runs of near-identical lines into
//! one line plus a count, and keep the head and the tail.

use crate::router::Ctx;
use crate::text;
use regex::Regex;
use std::sync::OnceLock;

const HEAD: usize = 3;
const TAIL: usize = 15;
/// Lines following a problem line that are kept with it (until a blank line).
const BLOCK: usize = 40;
/// Runs of at least this many near-identical lines are collapsed.
const MIN_RUN: usize = 3;
/// Unremarkable lines that are neither in a run nor in head/tail: at most this many are kept
/// (half from the start, half from the end).
const SINGLES: usize = 60;
/// Lines naming a rare term of the user's question that are kept wherever they are.
const QUESTION_LINES: usize = 12;

fn dpkg_line_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (startup|status|install|upgrade|remove|purge|configure|trigproc|conffile) ")
            .expect("valid regex")
    })
}

/// Fields after date and time: action, then package and versions.
fn dpkg_fields(l: &str) -> Vec<&str> {
    l.split(' ').skip(2).collect()
}

/// dpkg's own log (`/var/log/dpkg.log`) records every package's passage through
/// `half-installed`, `unpacked`, `half-configured` and `triggers-pending` plus a `configure`
/// and `trigproc` step before the one line that says what happened to it: two thirds of the
/// log restate what the outcome line says. Which lines are such intermediate steps: `None`
/// unless most lines of `lines` are dpkg log lines. An `install P <none> V` followed later by
/// `status installed P V` is an intermediate step too (a first install); installs over an
/// older version, upgrades, removals and purges are kept.
fn dpkg_steps(lines: &[&str]) -> Option<Vec<bool>> {
    let non_empty = lines.iter().filter(|l| !l.is_empty()).count();
    let dpkg = lines.iter().filter(|l| dpkg_line_re().is_match(l)).count();
    if non_empty < 20 || dpkg * 10 < non_empty * 8 {
        return None;
    }
    let installed: std::collections::HashSet<(&str, &str)> = lines
        .iter()
        .filter(|l| dpkg_line_re().is_match(l))
        .filter_map(|l| match dpkg_fields(l).as_slice() {
            ["status", "installed", pkg, ver] => Some((*pkg, *ver)),
            _ => None,
        })
        .collect();
    Some(
        lines
            .iter()
            .map(|l| {
                if !dpkg_line_re().is_match(l) {
                    return false;
                }
                match dpkg_fields(l).as_slice() {
                    [
                        "status",
                        "half-installed" | "unpacked" | "half-configured" | "triggers-pending"
                        | "triggers-awaited",
                        ..,
                    ] => true,
                    ["configure" | "trigproc", ..] => true,
                    ["install", pkg, "<none>", ver] => installed.contains(&(*pkg, *ver)),
                    _ => false,
                }
            })
            .collect(),
    )
}

fn important_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(
            r"(?x)
            (?i:(?-u:\b)(error|errors|fail|failed|failure|failures|failing|panic|panicked|fatal|exception|traceback|assert|assertion|warning|warnings|warn|critical|abort|aborted|segfault|segmentation\ fault|killed|timeout|timed\ out|denied|refused|cannot|undefined|unresolved|broken)(?-u:\b))
            | \w(Error|Exception|Failure)(?-u:\b)
            | ^E\s
            | ^\s*-->\s
            | ^\s*Caused\ by
            | (?-u:\b)FAILED(?-u:\b) | (?-u:\b)ERROR(?-u:\b)
            | ^\s*at\s.+:\d+
            | ^\s*not\ ok(?-u:\b) | ^\s*✖
            | ^\s*\S{0,2}\s*(tests?|pass|passed|fail|failed|suites|skipped|cancelled|todo)\s+\d+\s*$
            ",
        )
        .expect("valid regex")
    })
}

fn region_start_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(r"^(failures:|=+ (FAILURES|ERRORS) =+|-+ Captured .*-+|stack backtrace:|Traceback \(most recent call last\):)\s*$")
            .expect("valid regex")
    })
}

fn region_end_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(r"^(test result:|=+ .*(passed|failed|error|short test summary).* =+$|error: test failed|error: could not compile)")
            .expect("valid regex")
    })
}

/// Some line reports a problem (error, failure, panic, traceback…); words inside paths
/// (`src/error.rs`) do not count.
pub fn has_problem(t: &str) -> bool {
    t.lines().any(|l| {
        important_re().is_match(l) && {
            let words: Vec<&str> = l.split_whitespace().filter(|w| !w.contains('/')).collect();
            important_re().is_match(&words.join(" "))
        }
    })
}

/// Clean one physical line: terminal redraws (`\r`) keep only what was finally shown.
fn clean_line(l: &str) -> &str {
    let l = l.strip_suffix('\r').unwrap_or(l);
    let l = match l.rfind('\r') {
        Some(i) => &l[i + 1..],
        None => l,
    };
    l.trim_end()
}

/// The "family" of a line: first token with digits normalised, cut before `::`, `(` or `[`.
fn family(tokens: &[&str]) -> String {
    let first = tokens.first().copied().unwrap_or("");
    let cut = first.find(['(', '[']).unwrap_or(first.len());
    let first = &first[..cut];
    let first = first.split("::").next().unwrap_or(first);
    norm_digits(first)
}

fn norm_digits(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_num = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_num {
                out.push('0');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(c);
        }
    }
    out
}

/// Near-identical: same family and at least half of the positions hold the same token (after
/// digit normalisation).
fn similar(a: &[String], b: &[String]) -> bool {
    if a.is_empty() || b.is_empty() || a[0] != b[0] {
        return false;
    }
    let longest = a.len().max(b.len());
    let same = a.iter().zip(b).skip(1).filter(|(x, y)| x == y).count() + 1;
    same * 2 >= longest
}

fn signature(l: &str) -> Vec<String> {
    let tokens: Vec<&str> = l.split_whitespace().collect();
    let mut sig = vec![family(&tokens)];
    sig.extend(tokens.iter().skip(1).map(|t| norm_digits(t)));
    sig
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Keep,
    Ordinary,
    /// Head of a run: how many near-identical lines follow it, and where the run ends.
    RunHead(usize, usize),
    Drop,
}

pub fn compress(t: &str, ctx: &Ctx<'_>) -> Option<String> {
    let stripped = text::strip_ansi(t);
    let mut raw_lines: Vec<&str> = stripped.split('\n').map(clean_line).collect();
    let total = raw_lines.iter().filter(|l| !l.is_empty()).count();
    // dpkg's intermediate steps go first: what is left is one line per package and action.
    let mut steps_dropped = 0;
    if ctx.options.lossy {
        if let Some(steps) = dpkg_steps(&raw_lines) {
            steps_dropped = steps.iter().filter(|&&s| s).count();
            let mut i = 0;
            raw_lines.retain(|_| {
                i += 1;
                !steps[i - 1]
            });
        }
    }
    // Compiler and linter diagnostics first: each kind once in full, every location kept.
    let grouped = if ctx.options.lossy {
        crate::diag::group(&raw_lines)
    } else {
        None
    };
    let (lines, forced, diag_dropped): (Vec<&str>, Vec<bool>, usize) = match &grouped {
        Some((g, keep, d)) => (g.split('\n').collect(), keep.clone(), *d),
        None => (raw_lines.clone(), vec![false; raw_lines.len()], 0),
    };
    let n = lines.len();
    let mut marks: Vec<Mark> = forced
        .iter()
        .map(|&f| if f { Mark::Keep } else { Mark::Ordinary })
        .collect();

    for m in marks.iter_mut().take(HEAD) {
        *m = Mark::Keep;
    }
    // The lines the user asked about ("when was ripgrep installed?").
    if ctx.options.lossy {
        let terms = crate::rows::rare_terms(&lines, ctx);
        if !terms.is_empty() {
            let mut kept = 0;
            for (i, l) in lines.iter().enumerate() {
                if kept >= QUESTION_LINES {
                    break;
                }
                let lower = l.to_ascii_lowercase();
                if terms.iter().any(|t| text::names_word(&lower, t)) {
                    marks[i] = Mark::Keep;
                    kept += 1;
                }
            }
        }
    }
    // The tail: last TAIL non-empty lines.
    let mut tail_seen = 0;
    for i in (0..n).rev() {
        if tail_seen >= TAIL {
            break;
        }
        marks[i] = Mark::Keep;
        if !lines[i].is_empty() {
            tail_seen += 1;
        }
    }
    let mut i = 0;
    while i < n {
        let l = lines[i];
        if region_start_re().is_match(l) {
            // Failure sections are kept whole up to their end marker — or up to Codex's cut,
            // which took the end marker away (else everything after the cut, pytest's hundreds
            // of `PASSED` lines, would count as the failure's text).
            let mut j = i;
            while j < n {
                marks[j] = Mark::Keep;
                if j > i
                    && (region_end_re().is_match(lines[j])
                        || crate::router::is_codex_cut_line(lines[j]))
                {
                    break;
                }
                j += 1;
            }
            i = j + 1;
            continue;
        }
        if crate::router::is_codex_cut_line(l) {
            // Where Codex cut the output stays in view.
            marks[i] = Mark::Keep;
            i += 1;
            continue;
        }
        if important_re().is_match(l) {
            marks[i] = Mark::Keep;
            let mut j = i + 1;
            while j < n && j <= i + BLOCK && !lines[j].is_empty() {
                // A following line that is itself a problem starts its own block.
                if important_re().is_match(lines[j]) || region_start_re().is_match(lines[j]) {
                    break;
                }
                // Stop at the next ordinary record of the log (e.g. the next `test … ok`).
                let indented = lines[j].starts_with([' ', '\t', '|', '=', '^', '~']);
                if !indented
                    && !lines[j].contains(" | ")
                    && j > i + 1
                    && !looks_like_message(lines[j])
                {
                    break;
                }
                marks[j] = Mark::Keep;
                j += 1;
            }
            i = j;
            continue;
        }
        i += 1;
    }

    // Collapse runs of near-identical ordinary lines.
    let sigs: Vec<Option<Vec<String>>> = (0..n)
        .map(|i| (marks[i] == Mark::Ordinary && !lines[i].is_empty()).then(|| signature(lines[i])))
        .collect();
    let mut i = 0;
    while i < n {
        let Some(head) = &sigs[i] else {
            i += 1;
            continue;
        };
        let mut j = i + 1;
        while j < n {
            match &sigs[j] {
                Some(s) if similar(head, s) => j += 1,
                // Blank lines inside a run do not break it.
                None if marks[j] == Mark::Ordinary && lines[j].is_empty() => j += 1,
                _ => break,
            }
        }
        // Do not swallow trailing blank lines into the run.
        while j > i + 1 && lines[j - 1].is_empty() {
            j -= 1;
        }
        let members = (i..j).filter(|&k| sigs[k].is_some()).count();
        if members >= MIN_RUN {
            marks[i] = Mark::RunHead(members - 1, j);
            for m in marks.iter_mut().take(j).skip(i + 1) {
                *m = Mark::Drop;
            }
        }
        i = j;
    }

    // Budget for the remaining unremarkable lines.
    let singles: Vec<usize> = (0..n)
        .filter(|&i| marks[i] == Mark::Ordinary && !lines[i].is_empty())
        .collect();
    if ctx.options.lossy && singles.len() > SINGLES {
        for &i in &singles[SINGLES / 2..singles.len() - SINGLES / 2] {
            marks[i] = Mark::Drop;
        }
    }
    if !ctx.options.lossy {
        // Lossless mode: only the ANSI / redraw / whitespace cleanup.
        let out = text::normalize_whitespace(&lines.join("\n"));
        return (out.len() < t.len()).then_some(out);
    }

    let mut out = String::with_capacity(t.len() / 4);
    let mut dropped_total = diag_dropped + steps_dropped;
    let mut pending_drop = 0usize;
    let flush = |out: &mut String, pending: &mut usize| {
        if *pending > 0 {
            out.push_str(&format!(
                "… {} lines omitted …\n",
                text::fmt_count(*pending)
            ));
            *pending = 0;
        }
    };
    let mut i = 0;
    while i < n {
        match marks[i] {
            Mark::Keep | Mark::Ordinary => {
                flush(&mut out, &mut pending_drop);
                out.push_str(lines[i]);
                out.push('\n');
            }
            Mark::RunHead(more, end) => {
                flush(&mut out, &mut pending_drop);
                out.push_str(lines[i]);
                out.push('\n');
                out.push_str(&format!(
                    "  … {} more similar lines\n",
                    text::fmt_count(more)
                ));
                dropped_total += more;
                // Skip the run's members (and blank lines inside it).
                i = end;
                continue;
            }
            Mark::Drop => {
                if !lines[i].is_empty() {
                    pending_drop += 1;
                    dropped_total += 1;
                }
            }
        }
        i += 1;
    }
    flush(&mut out, &mut pending_drop);
    while out.ends_with('\n') {
        out.pop();
    }
    if dropped_total > 0 {
        out.push('\n');
        out.push_str(&ctx.marker(&format!(
            "{} of {} log lines omitted",
            text::fmt_count(dropped_total),
            text::fmt_count(total)
        )));
    }
    Some(out)
}

/// Unindented lines that still belong to a problem block: panic messages, assertion values,
/// `note:`/`help:` lines, Python exception lines.
fn looks_like_message(l: &str) -> bool {
    let t = l.trim_start();
    t.starts_with("note:")
        || t.starts_with("help:")
        || t.starts_with("left:")
        || t.starts_with("right:")
        || t.starts_with("assertion")
        || t.starts_with("called `")
        || t.starts_with("stack backtrace")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::with_default_ctx;

    #[test]
    fn collapses_runs_and_keeps_failures() {
        let mut log = String::from("$ cargo test\n");
        for i in 0..300 {
            log.push_str(&format!("\x1b[32m   Compiling\x1b[0m crate{i} v0.{i}.1\n"));
        }
        for i in 0..500 {
            log.push_str(&format!("test module::tests::case_{i} ... ok\n"));
            if i == 250 {
                log.push_str("test module::tests::broken ... FAILED\n");
            }
        }
        log.push_str("\nfailures:\n\n---- module::tests::broken stdout ----\nthread 'module::tests::broken' panicked at src/lib.rs:10:9:\nassertion `left == right` failed\n  left: 1\n right: 2\n\nfailures:\n    module::tests::broken\n\ntest result: FAILED. 500 passed; 1 failed; 0 ignored\n");
        let (out, k) = with_default_ctx(&log, |ctx| compress(&log, ctx));
        let out = out.unwrap();
        for must in [
            "test module::tests::broken ... FAILED",
            "thread 'module::tests::broken' panicked at src/lib.rs:10:9:",
            "assertion `left == right` failed",
            "  left: 1",
            "test result: FAILED. 500 passed; 1 failed; 0 ignored",
        ] {
            assert!(out.contains(must), "missing {must:?} in\n{out}");
        }
        assert!(!out.contains('\x1b'));
        assert!(out.contains("more similar lines"));
        assert!(out.len() * 10 < log.len(), "{}", out.len());
        assert!(out.contains(k.as_deref().unwrap()));
    }

    fn dpkg_log() -> String {
        let mut log = String::new();
        for i in 0..60 {
            let p = if i == 37 {
                "ripgrep".to_string()
            } else {
                format!("lib{i}")
            };
            let t = format!("2025-06-24 14:42:{:02}", i % 60);
            log.push_str(&format!("{t} install {p}:amd64 <none> 1.{i}-1\n"));
            log.push_str(&format!("{t} status half-installed {p}:amd64 1.{i}-1\n"));
            log.push_str(&format!("{t} status unpacked {p}:amd64 1.{i}-1\n"));
            log.push_str(&format!("{t} configure {p}:amd64 1.{i}-1 <none>\n"));
            log.push_str(&format!("{t} status half-configured {p}:amd64 1.{i}-1\n"));
            log.push_str(&format!("{t} status installed {p}:amd64 1.{i}-1\n"));
        }
        log.push_str("2025-06-25 09:00:00 upgrade tzdata:all 2025a-1 2025b-1\n");
        log.push_str("2025-06-25 09:00:01 status unpacked tzdata:all 2025b-1\n");
        log.push_str("2025-06-25 09:00:02 status installed tzdata:all 2025b-1\n");
        log.push_str("2025-06-25 09:00:03 remove oldpkg:amd64 2.0 <none>\n");
        log
    }

    #[test]
    fn dpkg_log_keeps_outcomes_and_the_package_asked_about() {
        let log = dpkg_log();
        let out = crate::router::with_ctx(&log, Some("when was ripgrep installed?"), true, |ctx| {
            compress(&log, ctx)
        })
        .0
        .unwrap();
        assert!(
            out.contains("2025-06-24 14:42:37 status installed ripgrep:amd64 1.37-1"),
            "{out}"
        );
        assert!(out.contains("upgrade tzdata:all 2025a-1 2025b-1"), "{out}");
        assert!(out.contains("status installed tzdata:all 2025b-1"), "{out}");
        assert!(out.contains("remove oldpkg:amd64 2.0 <none>"), "{out}");
        for step in [
            "half-installed",
            "unpacked",
            "half-configured",
            " configure ",
            "install lib",
        ] {
            assert!(!out.contains(step), "{step:?} kept in\n{out}");
        }
        assert!(out.contains("of 364 log lines omitted"), "{out}");
        assert!(out.len() * 8 < log.len(), "{} of {}", out.len(), log.len());
    }

    #[test]
    fn dpkg_steps_only_for_dpkg_logs_and_never_in_lossless_mode() {
        let log = dpkg_log();
        let lines: Vec<&str> = log.lines().collect();
        let steps = dpkg_steps(&lines).unwrap();
        assert_eq!(steps.iter().filter(|&&s| s).count(), 60 * 5 + 1);
        // An install over an older version is an action, not a step.
        assert_eq!(
            dpkg_steps(
                &[
                    &["2025-06-24 14:42:00 install a:amd64 1.0 1.1"; 20][..],
                    &["x"][..]
                ]
                .concat()
            ),
            Some(vec![false; 21])
        );
        let mixed: Vec<&str> = lines
            .iter()
            .copied()
            .zip(std::iter::repeat("compiling x"))
            .flat_map(|(a, b)| [a, b])
            .collect();
        assert_eq!(dpkg_steps(&mixed), None);
        let (out, _) = crate::router::with_ctx(&log, None, false, |ctx| compress(&log, ctx));
        assert!(out.is_none_or(|o| o.contains("half-installed")));
    }
}
