//! Content router: detects what kind of tool output a text is and runs the matching transform.
//!
//! Detection is cheap and conservative: a misdetected log or search result only means a
//! weaker transform runs, while anything not clearly recognised gets lossless whitespace
//! normalisation only.

use crate::{text, Options};
use regex::Regex;
use std::cell::OnceCell;
use std::sync::OnceLock;

/// What the router decided a tool output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentKind {
    /// JSON whose bulk is an array of objects (search results, listings, rows).
    JsonTable,
    /// Other JSON (minified losslessly).
    Json,
    /// Build / test / CI output.
    Log,
    /// `path:line:text` search output (grep, ripgrep).
    Search,
    /// Unified diff (`git diff`).
    Diff,
    /// Directory listing (`find`, `ls -R`, `git ls-files`).
    Listing,
    /// Compiler and linter diagnostics (rustc/clippy, tsc, javac, ruff, gcc, mypy…).
    Diagnostics,
    /// Column-aligned or delimited rows (`ls -la`, `ps`, `docker ps`, `dpkg -l`, CSV).
    Table,
    /// `git log` (medium format, optionally with `--stat`).
    GitLog,
    /// A lockfile printed through a shell (`Cargo.lock`, `poetry.lock`, `uv.lock`, `go.sum`,
    /// `yarn.lock`).
    Lockfile,
    /// Anything else (whitespace normalisation only).
    Text,
}

impl ContentKind {
    pub fn name(self) -> &'static str {
        match self {
            ContentKind::JsonTable => "json_table",
            ContentKind::Json => "json",
            ContentKind::Log => "log",
            ContentKind::Search => "search",
            ContentKind::Diff => "diff",
            ContentKind::Listing => "listing",
            ContentKind::Diagnostics => "diagnostics",
            ContentKind::Table => "table",
            ContentKind::GitLog => "git_log",
            ContentKind::Lockfile => "lockfile",
            ContentKind::Text => "text",
        }
    }
}

/// Per-block context handed to the transforms.
pub struct Ctx<'a> {
    /// The latest user text before this tool output, if any.
    pub question: Option<&'a str>,
    pub options: &'a Options,
    /// Lazily computed retrieval key (only hashed when a transform drops something).
    pub key: &'a OnceCell<String>,
    pub original: &'a str,
}

/// Run `f` with a default-options context for `text` (unit tests of the transforms); also
/// returns the retrieval key if a transform computed one.
#[cfg(test)]
pub(crate) fn with_default_ctx<R>(text: &str, f: impl FnOnce(&Ctx) -> R) -> (R, Option<String>) {
    with_ctx(text, None, true, f)
}

/// [`with_default_ctx`] with the user's question and lossy or lossless transforms.
#[cfg(test)]
pub(crate) fn with_ctx<R>(
    text: &str,
    question: Option<&str>,
    lossy: bool,
    f: impl FnOnce(&Ctx) -> R,
) -> (R, Option<String>) {
    let options = Options {
        lossy,
        ..Options::default()
    };
    let key = OnceCell::new();
    let r = f(&Ctx {
        question,
        options: &options,
        key: &key,
        original: text,
    });
    (r, key.into_inner())
}

impl Ctx<'_> {
    pub fn key(&self) -> &str {
        self.key.get_or_init(|| crate::retrieval_key(self.original))
    }

    /// Omission marker naming the retrieval key.
    pub fn marker(&self, what: &str) -> String {
        text::marker(what, self.key())
    }
}

fn search_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    // A path starts with a letter, `.`, `/`, `_`, `~` or `@` and holds no spaces or commas:
    // timestamps (`2024-05-01 10:00:00`) and CSV rows are not search hits.
    RE.get_or_init(|| Regex::new(r"^[A-Za-z_./~@][^\s:,]{0,300}?[:-]\d+[:-]").expect("valid regex"))
}

fn log_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(
            r"(?x)
            ^\s*(Compiling|Checking|Finished|Running|Downloaded|Downloading|Fresh|Building|Installing|Collecting|Fetching|Resolving|Updating|Doc-tests)\s
            | \.\.\.\s*(ok|FAILED|ignored|passed|failed|skipped)(?-u:\b)
            | (?-u:\b)(PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS)(?-u:\b)
            | ^\s*(error|warning|note|help)(\[\w+\])?:
            | ^\s*\[?\s*\d{1,3}%\]?
            | ^\[?\d{4}-\d\d-\d\d[T\s]\d\d:\d\d
            | ^\s*(INFO|WARN|WARNING|DEBUG|TRACE|ERROR|FATAL)(?-u:\b)
            | ^\s*(npm|yarn|pnpm)\s+(ERR|WARN|info|notice)
            | ^(=+|-+|_+)\s.*\s(=+|-+|_+)$
            | ^\s*(at\s+\S+\s*\(|File\s+\x22)
            | ^\#\d+\s
            | ^\s*test\s+\S+\s
            | ^\s*(not\ )?ok\ \d+\ -\ | ^\s*duration_ms:\ | ^\#\ (tests|pass|fail|suites)\ \d+
            | ^\s*[✔✖ℹ]\ 
            | ^(Selecting\ previously\ unselected|Preparing\ to\ unpack|Unpacking|Setting\ up|Processing\ triggers\ for|\(Reading\ database)\ 
            ",
        )
        .expect("valid regex")
    })
}

fn path_line_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| Regex::new(r"^\.{0,2}/?[\w@+.\-]+(/[\w@+.\- ]+)*/?$").expect("valid regex"))
}

/// Non-empty lines sampled from each of the head, the middle and the tail of a text for
/// line-based detection. A first-N-lines vote misclassified outputs whose start is not
/// typical of the rest (a `cargo test` run opening with compiler warnings).
const SAMPLE: usize = 150;

fn diag_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(
            r"(?x)
            ^\s*-->\s+\S+:\d+
            | ^(error|warning)(\[[\w:-]+\])?:\s
            | ^\S+\(\d+,\d+\):\s+(error|warning)\s+\w+
            | ^[^\s:]+:\d+(:\d+)?:\s+(error|warning|note|fatal\ error):\s
            | ^[^\s:]+:\d+:\d+:\s+[A-Z]{1,4}\d{2,4}\b
            ",
        )
        .expect("valid regex")
    })
}

/// Lines of a diagnostic's code frame (rustc, clippy, ruff, javac).
fn frame_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(r"^\s*(\d+\s*)?\|(\s|$)|^\s*=\s(note|help):|^\s*\^[\^~-]*\s*$")
            .expect("valid regex")
    })
}

/// One-line diagnostics that also look like `path:line:` search hits.
fn diag_line_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(r"^[^\s:]+:\d+(:\d+)?:\s+((error|warning|note):|[A-Z]{1,4}\d{2,4}\b)")
            .expect("valid regex")
    })
}

fn git_log_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| Regex::new(r"^commit [0-9a-f]{40}\b").expect("valid regex"))
}

fn short_log_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| Regex::new(r"^[*|\\/ ]*[0-9a-f]{7,12}[ ,]").expect("valid regex"))
}

/// Head, middle and tail samples of the non-empty lines (each line once).
fn sample(t: &str) -> Vec<&str> {
    let all: Vec<&str> = t
        .lines()
        .filter(|l| !l.trim().is_empty() && *l != "--")
        .collect();
    if all.len() <= 3 * SAMPLE {
        return all;
    }
    let mid = all.len() / 2 - SAMPLE / 2;
    let mut s = Vec::with_capacity(3 * SAMPLE);
    s.extend_from_slice(&all[..SAMPLE]);
    s.extend_from_slice(&all[mid..mid + SAMPLE]);
    s.extend_from_slice(&all[all.len() - SAMPLE..]);
    s
}

/// Detect the kind of `t`; for JSON also returns the parsed document.
pub fn detect(t: &str) -> (ContentKind, Option<crate::json::Node>) {
    let trimmed = t.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        if let Ok(root) = crate::json::parse_str(t) {
            let kind = if crate::table::has_table(t.as_bytes(), &root) {
                ContentKind::JsonTable
            } else {
                ContentKind::Json
            };
            return (kind, Some(root));
        }
    }
    (detect_lines(t), None)
}

fn detect_lines(t: &str) -> ContentKind {
    let trimmed = t.trim_start();
    if trimmed.starts_with("diff --git ")
        || t.contains("\ndiff --git ")
        || (t.contains("\n--- ") && t.contains("\n+++ ") && t.contains("\n@@ "))
        || (trimmed.starts_with("--- ") && t.contains("\n+++ ") && t.contains("\n@@ "))
    {
        return ContentKind::Diff;
    }
    if crate::lockfile::detect(t).is_some() {
        return ContentKind::Lockfile;
    }
    let lines = sample(t);
    if lines.len() < 3 {
        return ContentKind::Text;
    }
    let n = lines.len() as f64;
    let share = |f: &dyn Fn(&str) -> bool| lines.iter().filter(|l| f(l)).count() as f64 / n;
    let plain: Vec<std::borrow::Cow<'_, str>> = lines.iter().map(|l| text::strip_ansi(l)).collect();
    let pshare = |f: &dyn Fn(&str) -> bool| plain.iter().filter(|l| f(l)).count() as f64 / n;

    let commits = lines.iter().filter(|l| git_log_re().is_match(l)).count();
    // `git show --stat`: one commit, its header first.
    if commits == 1
        && git_log_re().is_match(lines[0])
        && lines[1..3].iter().any(|l| l.starts_with("Author: "))
    {
        return ContentKind::GitLog;
    }
    if commits >= 2
        && share(&|l| {
            git_log_re().is_match(l) || l.starts_with("Author: ") || l.starts_with("Date: ")
        }) >= 0.08
    {
        return ContentKind::GitLog;
    }
    // `git diff --stat`: file lines and their summary.
    if share(&|l| crate::gitlog::is_stat_line(l) || crate::gitlog::is_stat_summary(l)) >= 0.6 {
        return ContentKind::GitLog;
    }
    // One line per commit (`--oneline`, `--graph`, `--format='%h …'`): every row is a fact.
    if share(&|l| short_log_re().is_match(l)) >= 0.6 {
        return ContentKind::GitLog;
    }
    let diag_lines = pshare(&|l| diag_line_re().is_match(l));
    let diag = pshare(&|l| diag_re().is_match(l) || frame_re().is_match(l));
    let diag_heads = plain.iter().filter(|l| diag_re().is_match(l)).count();
    if diag_lines >= 0.5 || (diag >= 0.35 && diag_heads >= 3) {
        return ContentKind::Diagnostics;
    }
    if pshare(&|l| search_re().is_match(l)) >= 0.6 {
        return ContentKind::Search;
    }
    let logish = pshare(&|l| log_re().is_match(l));
    if t.contains('\x1b') || logish >= 0.25 || (logish + diag >= 0.3 && diag_heads >= 3) {
        return ContentKind::Log;
    }
    // Hits without line numbers: the same files named again and again.
    let plain_hits: Vec<&str> = plain
        .iter()
        .filter_map(|l| crate::search::plain_re().captures(l))
        .filter_map(|c| c.get(1).map(|m| m.as_str()))
        .collect();
    if plain_hits.len() as f64 >= 0.8 * n {
        let mut distinct = plain_hits.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() * 2 <= plain_hits.len() {
            return ContentKind::Search;
        }
    }
    let paths = share(&|l| path_line_re().is_match(l.trim_end()) && l.contains(['/', '.']));
    if lines.len() >= 10 && paths >= 0.8 {
        return ContentKind::Listing;
    }
    if lines.len() >= 10 && crate::rows::is_table(&lines) {
        return ContentKind::Table;
    }
    ContentKind::Text
}

/// Where a JSON document starts after at most [`PRELUDE`] short non-JSON lines, if the rest
/// parses.
fn json_after_prelude(t: &str) -> Option<usize> {
    let mut at = 0;
    for (i, line) in t.split_inclusive('\n').enumerate() {
        if i > PRELUDE {
            return None;
        }
        let l = line.trim_start();
        if i > 0 && (l.starts_with('{') || l.starts_with('[')) {
            let rest = &t[at..];
            return crate::json::parse_str(rest.trim_end())
                .is_ok()
                .then_some(at);
        }
        if line.len() > 400 {
            return None;
        }
        at += line.len();
    }
    None
}

/// Where a pretty-printed JSON document that status lines follow ends (npm's `npm notice …`
/// on stderr after `npm ls --json`): just after its closing line, the first line that is a
/// bare `}` or `]`. `None` unless that much parses and at most [`PRELUDE`] lines follow.
fn json_before_epilogue(t: &str) -> Option<usize> {
    // Checked for every text that is not JSON: only a JSON-looking start is scanned.
    if !t.trim_start().starts_with(['{', '[']) {
        return None;
    }
    let at = top_level_close(t)?;
    let rest = &t[at..];
    (!rest.trim().is_empty()
        && !rest.trim_start().starts_with(['{', '['])
        && rest.lines().count() <= PRELUDE
        && crate::json::parse_str(&t[..at]).is_ok())
    .then_some(at)
}

/// Just after the first line that is a bare `}` or `]`: in pretty-printed JSON only the
/// top-level document closes at column 0.
fn top_level_close(t: &str) -> Option<usize> {
    let mut at = 0;
    for line in t.split_inclusive('\n') {
        at += line.len();
        if matches!(line.trim_end(), "}" | "]") && !line.starts_with([' ', '\t']) {
            return Some(at);
        }
    }
    None
}

/// Status lines allowed before a JSON document: `cargo metadata` prints `Updating …`,
/// `Downloading crates …` and one `Downloaded x v1.2.3` per crate it fetched.
const PRELUDE: usize = 40;

/// Claude Code's cut of a long Bash output: `... [N lines truncated] ...` as the last line.
/// Returns the output before it and the marker (with the blank lines before it).
fn split_truncation(t: &str) -> Option<(&str, &str)> {
    let body = t.trim_end();
    let last_start = body.rfind('\n').map_or(0, |i| i + 1);
    let last = &body[last_start..];
    let inner = last
        .strip_prefix("... [")?
        .strip_suffix(" lines truncated] ...")?;
    if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let head = body[..last_start].trim_end_matches(['\n', '\r']);
    Some((head, &t[head.len()..]))
}

/// Codex's cut of a long output: the middle is replaced by `…N chars truncated…` (Codex 0.171;
/// other versions count tokens), usually in the middle of a line. Returns the text before the marker, the marker, and the text after.
fn split_codex_truncation(t: &str) -> Option<(&str, &str, &str)> {
    const OPEN: &str = "…";
    [" chars truncated…", " tokens truncated…"]
        .iter()
        .find_map(|close| {
            let end = t.find(close)? + close.len();
            let start = t[..end - close.len()].rfind(OPEN)?;
            let count = &t[start + OPEN.len()..end - close.len()];
            if count.is_empty()
                || !count.bytes().all(|b| b.is_ascii_digit())
                || t[end..].contains(close)
            {
                return None;
            }
            Some((&t[..start], &t[start..end], &t[end..]))
        })
}

/// Is `l` Codex's cut marker alone on its line (where [`around_codex_cut`] puts it)?
pub(crate) fn is_codex_cut_line(l: &str) -> bool {
    codex_cut_chars(l).is_some()
}

/// How many characters Codex cut at `l`, when `l` is its cut marker alone on its line
/// (`…N chars truncated…`; a count of tokens is taken as four characters each).
pub(crate) fn codex_cut_chars(l: &str) -> Option<usize> {
    let (head, cut, tail) = split_codex_truncation(l.trim_end())?;
    if !head.is_empty() || !tail.is_empty() {
        return None;
    }
    let inner = cut.trim_start_matches('…').trim_end_matches('…');
    let (n, unit) = inner.split_once(' ')?;
    let n: usize = n.parse().ok()?;
    Some(if unit.starts_with("tokens") { n * 4 } else { n })
}

/// Compresses a text holding Codex's cut with `f`; `None` when `t` holds no such cut, or the
/// marker is already on a line of its own (then `t` goes the ordinary way). The marker is moved
/// onto a line of its own so the transforms see whole lines (the half-lines around it become
/// lines too). A cut JSON document is only minified (its transforms need it whole); a cut lockfile keeps the entries the cut runs through.
/// If the transform dropped the marker (a survey or a table sample keeps only some lines),
/// each side is compressed on its own instead, with the half-lines and the marker kept
/// between them; if neither side can be, the whole-text result gets the marker at its end.
fn around_codex_cut(
    t: &str,
    ctx: &Ctx<'_>,
    matches: usize,
    f: impl Fn(&str) -> (ContentKind, Option<String>),
) -> Option<(ContentKind, Option<String>)> {
    let (head, cut, tail) = split_codex_truncation(t)?;
    let whole_lines = |s: &str, at_end: bool| {
        s.is_empty()
            || if at_end {
                s.ends_with('\n')
            } else {
                s.starts_with('\n')
            }
    };
    if head.trim_start().starts_with(['{', '[']) {
        // JSON Lines (cargo's `--message-format=json`: a document per line) are lines like
        // any others: the cut one stays as it came.
        let json_lines = head.lines().filter(|l| l.starts_with('{')).take(3).count() >= 3;
        if !json_lines {
            return Some((
                ContentKind::Json,
                json_around_cut(head, cut, tail, ctx, matches),
            ));
        }
    }
    if whole_lines(head, true) && whole_lines(tail, false) {
        return None;
    }
    let fragile = |k: ContentKind| {
        matches!(
            k,
            ContentKind::Json | ContentKind::JsonTable | ContentKind::Lockfile
        )
    };
    let lead = if whole_lines(head, true) { "" } else { "\n" };
    let trail = if whole_lines(tail, false) { "" } else { "\n" };
    let (kind, out) = f(&format!("{head}{lead}{cut}{trail}{tail}"));
    if kind == ContentKind::Lockfile {
        return Some((kind, lockfile_around_cut(head, cut, tail, &f)));
    }
    if fragile(kind) {
        return Some((kind, None));
    }
    if out.as_deref().is_none_or(|o| o.contains(cut)) {
        return Some((kind, out));
    }
    // Each side on its own.
    let (head_lines, head_part) = head.split_at(head.rfind('\n').map_or(0, |i| i + 1));
    let (tail_part, tail_lines) = tail.split_at(tail.find('\n').map_or(tail.len(), |i| i + 1));
    let side = |text: &str| match f(text) {
        _ if text.trim().is_empty() => None,
        (k, _) if fragile(k) => None,
        (_, new) => new,
    };
    let (new_head, new_tail) = (side(head_lines), side(tail_lines));
    if new_head.is_none() && new_tail.is_none() {
        // Too little on either side for its transform: the whole-text result, with the
        // marker after it (the rows it kept still show where they were).
        return Some((kind, out.map(|o| format!("{}\n{cut}", o.trim_end()))));
    }
    let mut joined = String::with_capacity(t.len() / 2);
    match &new_head {
        // A compressed side ends with its own note: what follows starts on a new line.
        Some(h) => {
            joined.push_str(h);
            joined.push('\n');
        }
        None => joined.push_str(head_lines),
    }
    joined.push_str(head_part);
    joined.push_str(cut);
    joined.push_str(tail_part);
    if !tail_part.ends_with('\n') && new_tail.is_some() {
        joined.push('\n');
    }
    joined.push_str(new_tail.as_deref().unwrap_or(tail_lines));
    Some((kind, Some(joined)))
}

/// Pretty-printed JSON that does not parse because it was cut (by Codex, `head -c`, a pager):
/// its transforms need the whole document, so it is only minified — whitespace between tokens
/// goes, every key and value stays byte for byte. Only for text that is visibly indented JSON,
/// never JSON Lines (one document per line: joining them would make one invalid text).
fn pretty_json_fragment(t: &str) -> bool {
    if !t.trim_start().starts_with(['{', '[']) {
        return false;
    }
    let lines: Vec<&str> = t.lines().take(200).collect();
    let indented = lines
        .iter()
        .filter(|l| l.starts_with([' ', '\t']) || matches!(l.trim_end(), "}" | "]" | "}," | "],"))
        .count();
    lines.len() >= 8 && indented * 10 >= lines.len() * 8
}

/// The minified fragment; the first line of a fragment that starts in the middle of a line
/// (after Codex's cut) is kept as it is: whether it starts inside a string is unknown. A JSON
/// string never holds a raw newline, so every later line starts outside one.
fn minify_fragment(t: &str, starts_mid_line: bool) -> String {
    let (first, rest) = if starts_mid_line {
        t.split_at(t.find('\n').map_or(t.len(), |i| i + 1))
    } else {
        ("", t)
    };
    // Whatever follows the document's closing line is not part of it.
    let (json, after) = rest.split_at(top_level_close(rest).unwrap_or(rest.len()));
    let mut out = Vec::with_capacity(t.len());
    out.extend_from_slice(first.as_bytes());
    crate::json::minify_into(json.as_bytes(), &mut out);
    if !after.is_empty() {
        out.push(b'\n');
        out.extend_from_slice(after.as_bytes());
    }
    String::from_utf8(out).unwrap_or_else(|_| t.to_owned())
}

/// A cut JSON document: each side minified, the marker kept on its own line between them.
/// Long lists and maps on each side lose their middle entries (see
/// [`crate::jsonbig::elide_pretty_runs`]); `matches` caps the entries kept for the question.
fn json_around_cut(
    head: &str,
    cut: &str,
    tail: &str,
    ctx: &Ctx<'_>,
    matches: usize,
) -> Option<String> {
    if !pretty_json_fragment(head) {
        return None;
    }
    let mut omitted = 0;
    let mut elide = |s: &str| match crate::jsonbig::elide_pretty_runs(s, ctx, matches) {
        Some((e, n)) => {
            omitted += n;
            e
        }
        None => s.to_owned(),
    };
    let (head, tail_text) = (elide(head), elide(tail));
    let head = minify_fragment(&head, false);
    let tail = minify_fragment(&tail_text, !tail_text.starts_with('\n'));
    let mut out = format!("{head}\n{cut}\n{}", tail.trim_start_matches('\n'));
    if omitted > 0 {
        out.push('\n');
        out.push_str(&crate::jsonbig::omitted_note(omitted, ctx));
    }
    Some(out)
}

/// A lockfile Codex cut: the entries the cut runs through (from the last blank line before it
/// to the first one after it) stay as they were; the whole entries on either side are
/// compressed as lockfiles of their own.
fn lockfile_around_cut(
    head: &str,
    cut: &str,
    tail: &str,
    f: &impl Fn(&str) -> (ContentKind, Option<String>),
) -> Option<String> {
    let (head_body, head_rest) = head.split_at(head.rfind("\n\n").map_or(0, |i| i + 2));
    let (tail_rest, tail_body) = tail.split_at(tail.find("\n\n").map_or(tail.len(), |i| i + 2));
    let side = |text: &str| match f(text) {
        (ContentKind::Lockfile, Some(new)) => Some(new),
        _ => None,
    };
    let (new_head, new_tail) = (side(head_body), side(tail_body));
    if new_head.is_none() && new_tail.is_none() {
        return None;
    }
    let mut out = String::with_capacity(head.len() / 2 + tail.len() / 2);
    match &new_head {
        Some(h) => {
            out.push_str(h.trim_end());
            out.push_str("\n\n");
        }
        None => out.push_str(head_body),
    }
    out.push_str(head_rest);
    out.push_str(cut);
    out.push_str(tail_rest);
    out.push_str(new_tail.as_deref().unwrap_or(tail_body));
    Some(out)
}

/// Detect and transform. `None` means the transform found nothing to do; the caller still
/// checks that any result is actually smaller.
pub fn compress_text(t: &str, ctx: &Ctx<'_>) -> (ContentKind, Option<String>) {
    compress_text_at(t, ctx, 0)
}

fn compress_text_at(t: &str, ctx: &Ctx<'_>, depth: usize) -> (ContentKind, Option<String>) {
    // Also inside a JSON envelope (`{"output":"Exit code: 0\n…"}`).
    if depth <= 1 {
        if let Some((head, body)) = text_envelope(t) {
            let (kind, new) = compress_text_at(body, ctx, 2);
            return (kind, new.map(|new| format!("{head}{new}")));
        }
        if let Some((head, body, tail)) = shell_envelope(t) {
            let (kind, new) = compress_text_at(body, ctx, 2);
            return (
                kind,
                new.map(|new| format!("{head}{}{tail}", new.trim_end())),
            );
        }
    }
    // A cut output: compress what is there, keep the marker verbatim.
    if let Some((body, cut)) = split_truncation(t) {
        let (kind, new) = compress_text_at(body, ctx, depth.max(2));
        return (kind, new.map(|new| format!("{new}{cut}")));
    }
    // Codex cut the middle out: each side is compressed on its own, the marker kept between.
    if let Some(out) = around_codex_cut(t, ctx, crate::jsonbig::MATCHES, |side| {
        compress_text_at(side, ctx, depth.max(2))
    }) {
        return out;
    }
    // `cargo … --message-format=json`: one JSON document per line, sent as rendered text.
    if let Some(out) = cargo_json(t, ctx) {
        return (ContentKind::Diagnostics, Some(out));
    }
    let (kind, root) = detect(t);
    if root.is_none() && depth <= 2 {
        if let Some(at) = json_before_epilogue(t) {
            let (k, new) = compress_text_at(&t[..at], ctx, 2);
            return (
                k,
                new.map(|new| format!("{}\n{}", new.trim_end(), &t[at..])),
            );
        }
    }
    // A document that ends here and is followed by more (a second document) is not a cut one.
    if root.is_none()
        && pretty_json_fragment(t)
        && top_level_close(t).is_none_or(|at| t[at..].trim().is_empty())
    {
        let out = match crate::jsonbig::elide_pretty_runs(t, ctx, crate::jsonbig::MATCHES) {
            Some((elided, n)) => format!(
                "{}\n{}",
                minify_fragment(&elided, false),
                crate::jsonbig::omitted_note(n, ctx)
            ),
            None => minify_fragment(t, false),
        };
        return (ContentKind::Json, (out.len() < t.len()).then_some(out));
    }
    // JSON printed after a few status lines (`cargo metadata` after `Updating index`).
    if root.is_none() && depth <= 2 {
        if let Some(at) = json_after_prelude(t) {
            let (k, new) = compress_text_at(&t[at..], ctx, 2);
            if matches!(k, ContentKind::Json | ContentKind::JsonTable) {
                return (k, new.map(|new| format!("{}{new}", &t[..at])));
            }
        }
    }
    // Long strings (a README per package in `pip inspect`) are cut first; the shorter
    // document then takes the same route.
    // Not a wrapper: its one big string is the output itself, handled below.
    if let (true, ContentKind::Json | ContentKind::JsonTable, Some(r)) =
        (ctx.options.lossy, kind, &root)
    {
        let wrapper =
            depth == 0 && kind == ContentKind::Json && wrapped_member(t, r, ctx).is_some();
        if let Some((cut, n)) = (!wrapper)
            .then(|| crate::jsonbig::cut_long_strings(t, r))
            .flatten()
        {
            let (k, new) = compress_text_at(&cut, ctx, depth.max(1));
            let mut out = new.unwrap_or_else(|| {
                crate::json::parse_str(&cut)
                    .map(|r| {
                        let mut m = Vec::with_capacity(cut.len());
                        crate::json::minify_into(r.raw(cut.as_bytes()), &mut m);
                        String::from_utf8(m).unwrap_or_else(|_| cut.clone())
                    })
                    .unwrap_or_else(|_| cut.clone())
            });
            if !out.contains(ctx.key()) {
                out.push('\n');
                out.push_str(&ctx.marker(&format!(
                    "{} long JSON {} cut",
                    text::fmt_count(n),
                    if n == 1 { "string" } else { "strings" }
                )));
            }
            return (k, Some(out));
        }
    }
    let out = match (kind, &root) {
        (ContentKind::Json | ContentKind::JsonTable, Some(root))
            if crate::lockfile::is_package_lock(t, root) =>
        {
            return (
                ContentKind::Lockfile,
                crate::lockfile::package_lock(t, root, ctx),
            );
        }
        (ContentKind::Json, Some(root)) if depth == 0 => wrapped_text(t, root, ctx)
            .or_else(|| crate::jsonbig::compress(t, root, ctx))
            .or_else(|| crate::table::compress(t, root, ctx)),
        (ContentKind::Json, Some(root)) => {
            crate::jsonbig::compress(t, root, ctx).or_else(|| crate::table::compress(t, root, ctx))
        }
        (ContentKind::JsonTable, Some(root)) => crate::table::compress(t, root, ctx),
        (ContentKind::JsonTable | ContentKind::Json, None) => None,
        (ContentKind::Log | ContentKind::Diagnostics, _) => crate::log::compress(t, ctx),
        (ContentKind::Search, _) => crate::search::compress_search(t, ctx),
        (ContentKind::Listing, _) => crate::search::compress_listing(t, ctx),
        (ContentKind::Diff, _) => crate::diff::compress(t, ctx),
        (ContentKind::Table, _) => crate::rows::compress(t, ctx),
        (ContentKind::GitLog, _) => crate::gitlog::compress(t, ctx),
        (ContentKind::Lockfile, _) => {
            crate::lockfile::detect(t).and_then(|k| crate::lockfile::compress(t, k, ctx))
        }
        (ContentKind::Text, _) => {
            let runs = crate::rows::collapse_runs(t, ctx)
                .or_else(|| crate::rows::collapse_records(t, ctx));
            let base = runs.as_deref().unwrap_or(t);
            crate::rows::cut_long_lines(base, ctx).or(runs)
        }
    };
    // A big line-oriented output nothing could shorten by a tenth keeps its head, tail and
    // the lines the question or a problem names (not diffs, JSON or lockfiles: their
    // transforms keep what matters in them).
    let out = match kind {
        ContentKind::Diff | ContentKind::Json | ContentKind::JsonTable | ContentKind::Lockfile => {
            out
        }
        _ if out.as_ref().is_none_or(|o| o.len() * 10 > t.len() * 9) => {
            crate::rows::head_and_tail(t, ctx).or(out)
        }
        _ => out,
    };
    // Line-oriented kinds fall back to the lossless normalisation. Not diffs (a context line
    // holding a single space is significant) and not JSON (minified by its own transform).
    let out = match kind {
        ContentKind::Diff | ContentKind::Json | ContentKind::JsonTable => out,
        _ => out.or_else(|| {
            let n = text::normalize_whitespace(t);
            (n.len() < t.len()).then_some(n)
        }),
    };
    (kind, out)
}

/// For outputs whose every problem line matters (`is_error` results, logs and persisted
/// outputs read from files): the log transform keeps every error, warning, failure, panic and
/// traceback line with its block, failure sections and summaries, head and tail, and collapses
/// the passing noise around them. JSON tables are only minified (a row sample could drop the
/// failing row); long lists and maps of scalars keep every entry naming a problem; diffs keep
/// every changed line anyway.
pub fn compress_problems(t: &str, ctx: &Ctx<'_>) -> (ContentKind, Option<String>) {
    if let Some((head, body)) = text_envelope(t) {
        let (kind, new) = compress_problems(body, ctx);
        return (kind, new.map(|new| format!("{head}{new}")));
    }
    if let Some((head, body, tail)) = shell_envelope(t) {
        let (kind, new) = compress_problems(body, ctx);
        return (
            kind,
            new.map(|new| format!("{head}{}{tail}", new.trim_end())),
        );
    }
    if let Some((body, cut)) = split_truncation(t) {
        let (kind, new) = compress_problems(body, ctx);
        return (kind, new.map(|new| format!("{new}{cut}")));
    }
    if let Some(out) = around_codex_cut(t, ctx, crate::jsonbig::ALL, |side| {
        compress_problems(side, ctx)
    }) {
        return out;
    }
    // Every rendered diagnostic stays; the log transform keeps every problem line of it.
    if let Some(out) = cargo_json(t, ctx) {
        return (ContentKind::Diagnostics, Some(out));
    }
    let (kind, root) = detect(t);
    // Long lists and maps of scalars (`npm view --json` in a failing run) keep every entry
    // that names a problem; nothing else is cut.
    if let (ContentKind::Json, Some(r)) = (kind, &root) {
        if let Some(out) = (!crate::lockfile::is_package_lock(t, r))
            .then(|| crate::jsonbig::compress_problems(t, r, ctx))
            .flatten()
        {
            return (kind, Some(out));
        }
    }
    match (kind, &root) {
        (ContentKind::Json | ContentKind::JsonTable, Some(root))
            if crate::lockfile::is_package_lock(t, root) =>
        {
            (
                ContentKind::Lockfile,
                crate::lockfile::package_lock(t, root, ctx),
            )
        }
        (ContentKind::Json | ContentKind::JsonTable, Some(root)) => {
            let lossless = Options {
                lossy: false,
                ..ctx.options.clone()
            };
            let ctx = Ctx {
                options: &lossless,
                ..*ctx
            };
            (kind, crate::table::compress(t, root, &ctx))
        }
        // Every added and removed line stays.
        (ContentKind::Diff, _) => (kind, crate::diff::compress(t, ctx)),
        // Outputs that are not logs keep their own transform: it keeps every search hit,
        // every commit, the asked and failing rows of a table.
        (
            ContentKind::Search
            | ContentKind::Listing
            | ContentKind::GitLog
            | ContentKind::Table
            | ContentKind::Lockfile,
            _,
        ) => compress_text_at(t, ctx, 2),
        (ContentKind::Text, _) if crate::rows::looks_like_source_text(t) => {
            let n = text::normalize_whitespace(t);
            (kind, (n.len() < t.len()).then_some(n))
        }
        // Nothing failed in it: the ordinary route.
        (ContentKind::Text, _) if !crate::log::has_problem(t) => compress_text_at(t, ctx, 2),
        _ => {
            let out = crate::log::compress(t, ctx).or_else(|| {
                let n = text::normalize_whitespace(t);
                (n.len() < t.len()).then_some(n)
            });
            // A package list on one line is not a problem line: cut it like anywhere else.
            let base = out.as_deref().unwrap_or(t);
            let cut = crate::rows::cut_long_lines_except(base, ctx, crate::log::has_problem);
            (ContentKind::Log, cut.or(out))
        }
    }
}

/// Cheap pre-check (a `{"reason":"` line near the start) before the cargo JSON transform.
fn cargo_json(t: &str, ctx: &Ctx<'_>) -> Option<String> {
    let head = &t.as_bytes()[..t.len().min(2000)];
    if !head.starts_with(b"{\"reason\":\"")
        && memchr::memmem::find(head, b"\n{\"reason\":\"").is_none()
    {
        return None;
    }
    crate::cargojson::compress(t, ctx)
}

/// Lines Gemini CLI and Qwen Code put after a command's output in their shell tool's result.
const SHELL_TRAILER_KEYS: [&str; 6] = [
    "Error:",
    "Exit Code:",
    "Signal:",
    "Background PIDs:",
    "Process Group PGID:",
    "Process Group ID:",
];

/// The shell tool result of Gemini CLI and Qwen Code: `Command: …`, `Directory: …`, then
/// `Output: ` with the output's first line on the same line, then `Error: …`, `Exit Code: …`,
/// `Signal: …` and process ids. Returns the header (through `Output: `), the output, and the
/// trailer (from the newline before `Error:`), the header and trailer kept verbatim. Without
/// it the header and trailer were taken for lines of the output (moved around by grouping).
fn shell_envelope(t: &str) -> Option<(&str, &str, &str)> {
    if !t.starts_with("Command: ") {
        return None;
    }
    let mut at = 0;
    let mut body_start = None;
    for line in t.split_inclusive('\n').take(4) {
        if line.starts_with("Output: ") {
            body_start = Some(at + "Output: ".len());
            break;
        }
        if !(line.starts_with("Command: ") || line.starts_with("Directory: ")) {
            return None;
        }
        at += line.len();
    }
    let body_start = body_start?;
    // The trailer: the last `\nError:` after which every line is a trailer key.
    let mut search = t.len();
    while let Some(i) = t[body_start..search].rfind("\nError:") {
        let i = body_start + i;
        let trailer = &t[i + 1..];
        if trailer
            .lines()
            .all(|l| l.is_empty() || SHELL_TRAILER_KEYS.iter().any(|k| l.starts_with(k)))
        {
            return Some((&t[..body_start], &t[body_start..i], &t[i..]));
        }
        search = i;
    }
    None
}

/// Header lines Codex puts before a command's output in its text envelopes.
const ENVELOPE_KEYS: [&str; 6] = [
    "Exit code:",
    "Wall time:",
    "Total output lines:",
    "Chunk ID:",
    "Original token count:",
    "Process ",
];

/// Codex's text envelopes around a command's output: the shell tool's
/// `Exit code: N` / `Wall time: …` / `Output:` and `exec_command`'s `Chunk ID: …` /
/// `Process exited with code N` / `Original token count: N` / `Output:`. Without looking inside,
/// the router saw one text whose first lines are not JSON, a log or a diff, and left the whole
/// output alone. Returns the header (through the `Output:` line, kept verbatim) and the output.
fn text_envelope(t: &str) -> Option<(&str, &str)> {
    let mut offset = 0;
    for (known, line) in t.split_inclusive('\n').take(8).enumerate() {
        offset += line.len();
        let line = line.trim_end_matches(['\n', '\r']);
        if line == "Output:" {
            if known == 0 {
                return None;
            }
            // Codex puts its cut's header after `Output:`: `Warning: truncated output (…)`,
            // `Total output lines: N` and a blank line. It stays at the top, verbatim.
            let mut rest = &t[offset..];
            let mut absorbed = false;
            for key in ["Warning: truncated output", "Total output lines:"] {
                if rest.starts_with(key) {
                    let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
                    offset += end;
                    rest = &rest[end..];
                    absorbed = true;
                }
            }
            if absorbed && rest.starts_with('\n') {
                offset += 1;
            }
            return Some(t.split_at(offset));
        }
        if !ENVELOPE_KEYS.iter().any(|k| line.starts_with(k)) {
            return None;
        }
    }
    None
}

/// The string member that is most of a JSON object (`{"output":"…","metadata":…}`), if any.
fn wrapped_member<'n>(
    t: &str,
    root: &'n crate::json::Node,
    ctx: &Ctx<'_>,
) -> Option<&'n crate::json::Node> {
    let members = root.as_object()?;
    let (_, big) = members
        .iter()
        .filter(|(_, v)| v.is_str())
        .max_by_key(|(_, v)| v.span.len())?;
    (big.span.len() * 2 >= t.len() && big.span.len() >= ctx.options.min_bytes).then_some(big)
}

/// JSON envelopes around one big text, like Codex's shell results
/// (`{"output":"<the log>","metadata":{"exit_code":1,…}}`): compress the text by its own kind
/// and keep the envelope (minified). The marker inside names the key of the whole tool output.
fn wrapped_text(t: &str, root: &crate::json::Node, ctx: &Ctx<'_>) -> Option<String> {
    use crate::json::{self, Kind};
    let src = t.as_bytes();
    let big = wrapped_member(t, root, ctx)?;
    let Kind::Str { .. } = big.kind else {
        return None;
    };
    let inner = big.str_value(src)?;
    let (_, new) = compress_text_at(&inner, ctx, 1);
    let new = new?;
    let mut out = Vec::with_capacity(t.len() / 2);
    json::minify_into(&src[root.span.start..big.span.start], &mut out);
    json::encode_str(&new, &mut out);
    json::minify_into(&src[big.span.end..root.span.end], &mut out);
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_middle_cut_compresses_both_sides_and_keeps_the_marker() {
        let mut head = String::new();
        for i in 0..400 {
            head.push_str(&format!("crates/a/src/lib.rs:{i}:fn item_{i}() {{}}\n"));
        }
        let mut tail = String::new();
        for i in 600..1000 {
            tail.push_str(&format!("crates/b/src/main.rs:{i}:fn other_{i}() {{}}\n"));
        }
        let t = format!(
            "Chunk ID: e9b528\nWall time: 0.0000 seconds\nProcess exited with code 0\nOriginal token count: 6000\nOutput:\nWarning: truncated output (original token count: 6000)\nTotal output lines: 1000\n\n{}…14000 chars truncated…{}",
            &head[..head.len() - 10],
            &tail[12..]
        );
        let (out, _) = with_default_ctx(&t, |ctx| compress_text(&t, ctx));
        let out = out.1.unwrap();
        assert!(
            out.starts_with(
                "Chunk ID: e9b528\nWall time: 0.0000 seconds\nProcess exited with code 0\nOriginal token count: 6000\nOutput:\nWarning: truncated output (original token count: 6000)\nTotal output lines: 1000\n\n[headroom: hits grouped"
            ),
            "{out}"
        );
        // The marker on a line of its own (search results keep it after the grouped hits,
        // whose line numbers show the gap).
        assert!(out.contains("\n…14000 chars truncated…\n"), "{out}");
        assert!(
            out.contains("crates/a/src/lib.rs") && out.contains("crates/b/src/main.rs"),
            "{out}"
        );
        assert!(out.len() * 10 < t.len() * 7, "{} of {}", out.len(), t.len());
        assert_eq!(
            split_codex_truncation("a…12 tokens truncated…b…3 tokens truncated…c"),
            None
        );
        assert_eq!(split_codex_truncation("no cut here"), None);
        assert_eq!(
            split_codex_truncation("ab…7 tokens truncated…cd"),
            Some(("ab", "…7 tokens truncated…", "cd"))
        );
    }

    #[test]
    fn codex_text_envelopes_are_compressed_inside_with_the_header_kept() {
        let rows: Vec<_> = (0..200)
            .map(|i| serde_json::json!({"name": format!("pkg-{i}"), "version": "1.0.0", "license": "MIT"}))
            .collect();
        let json = serde_json::to_string_pretty(&rows).unwrap();
        for head in [
            "Exit code: 0\nWall time: 0.4 seconds\nOutput:\n".to_owned(),
            "Exit code: 0\nWall time: 0.4 seconds\nTotal output lines: 1400\nOutput:\n".to_owned(),
            "Chunk ID: 3f2a\nWall time: 0.2100 seconds\nProcess exited with code 0\nOriginal token count: 9120\nOutput:\n".to_owned(),
        ] {
            let t = format!("{head}{json}");
            let ((kind, out), _) = with_default_ctx(&t, |ctx| compress_text(&t, ctx));
            assert_eq!(kind, ContentKind::JsonTable, "{head}");
            let out = out.unwrap();
            assert!(out.starts_with(&head), "{out}");
            assert!(out.len() * 3 < t.len(), "{} of {}", out.len(), t.len());
        }
        // A text that merely mentions an exit code is not an envelope.
        assert!(text_envelope("Exit code: 1\nsomething else\nOutput:\nx").is_none());
        assert!(text_envelope("Output:\nno header").is_none());
    }

    /// `npm ls --json`-like pretty JSON, `n` packages.
    fn pretty_tree(n: usize) -> String {
        let mut t = String::from("{\n  \"name\": \"app\",\n  \"dependencies\": {\n");
        for i in 0..n {
            t.push_str(&format!(
                "    \"pkg-{i}\": {{\n      \"version\": \"1.{i}.0\",\n      \"overridden\": false,\n      \"note\": \"a b  c\"\n    }},\n"
            ));
        }
        t.push_str("    \"last\": {}\n  }\n}\n");
        t
    }

    #[test]
    fn cut_pretty_json_is_minified_with_every_token_kept() {
        let whole = pretty_tree(60);
        let cut = &whole[..whole.len() * 2 / 3];
        assert!(crate::json::parse_str(cut).is_err());
        let (kind, out) = with_default_ctx(cut, |ctx| compress_text(cut, ctx)).0;
        assert_eq!(kind, ContentKind::Json);
        let out = out.unwrap();
        let mut expected = Vec::new();
        crate::json::minify_into(cut.as_bytes(), &mut expected);
        assert_eq!(out.as_bytes(), expected);
        assert!(out.contains(r#""pkg-7":{"version":"1.7.0","overridden":false,"note":"a b  c"}"#));
        // JSON Lines are not joined into one text.
        let lines: String = (0..40)
            .map(|i| format!("{{\"id\": {i}, \"ok\": true}}\n"))
            .collect();
        let (_, out) = with_default_ctx(&lines, |ctx| compress_text(&lines, ctx)).0;
        assert!(out.is_none_or(|o| o.lines().count() >= 40));
    }

    #[test]
    fn json_followed_by_status_lines_is_compressed_as_json_with_the_lines_kept() {
        let notice = "npm notice\nnpm notice New minor version of npm available! 11.19.1 -> 11.21.3\nnpm notice To update run: npm install -g npm@11.21.3\nnpm notice\n";
        let whole = format!("{}{notice}", pretty_tree(60));
        let (kind, out) = with_default_ctx(&whole, |ctx| compress_text(&whole, ctx)).0;
        assert!(matches!(kind, ContentKind::Json | ContentKind::JsonTable));
        let out = out.unwrap();
        assert!(out.ends_with(notice), "{out}");
        assert!(out.len() < whole.len() / 2);
        // Cut by Codex: the notice after the document's end is kept as it was too.
        let (a, b) = (whole.len() / 3, whole.len() / 2);
        let t = format!("{}…{} chars truncated…{}", &whole[..a], b - a, &whole[b..]);
        let (_, out) = with_default_ctx(&t, |ctx| compress_text(&t, ctx)).0;
        assert!(out.unwrap().ends_with(notice));
    }

    #[test]
    fn a_failure_section_codex_cut_ends_at_the_cut() {
        // pytest -rA: the FAILURES section's end ("short test summary info") fell into the
        // middle Codex cut away; the PASSED lines after the cut are not the failure's text.
        let mut whole = String::from("============ test session starts ============\ncollected 200 items\n\n============ FAILURES ============\n____ test_fold ____\n\n    def test_fold():\n>       assert fold(add, range(10), 0, chunksize=2) == 45\nE       ValueError: planted\n\ntests/test_parallel.py:18: ValueError\n");
        for i in 0..40 {
            whole.push_str(&format!("    filler line {i} of the traceback context\n"));
        }
        whole.push_str("============ short test summary info ============\n");
        for i in 0..150 {
            whole.push_str(&format!("PASSED tests/test_itertoolz.py::test_case_{i}\n"));
        }
        whole.push_str("FAILED tests/test_parallel.py::test_fold - ValueError: planted\n==== 1 failed, 150 passed in 1.27s ====\n");
        let (a, b) = (
            whole.find("filler line 5 ").unwrap(),
            whole.find("test_case_40\n").unwrap(),
        );
        let t = format!("{}…{} chars truncated…{}", &whole[..a], b - a, &whole[b..]);
        let (kind, out) = with_default_ctx(&t, |ctx| compress_text(&t, ctx)).0;
        assert_eq!(kind, ContentKind::Log);
        let out = out.expect("compressed");
        assert!(
            out.contains(&format!("\n…{} chars truncated…\n", b - a)),
            "{out}"
        );
        assert!(out.contains("E       ValueError: planted"));
        assert!(out.contains("FAILED tests/test_parallel.py::test_fold"));
        assert!(out.contains("1 failed, 150 passed"));
        assert!(out.len() < t.len() / 2, "{out}");
    }

    #[test]
    fn codex_cut_json_keeps_the_marker_and_the_half_lines() {
        let whole = pretty_tree(80);
        let (a, b) = (whole.len() / 3 + 7, whole.len() * 2 / 3 + 5);
        let t = format!("{}…{} chars truncated…{}", &whole[..a], b - a, &whole[b..]);
        let (kind, out) = with_default_ctx(&t, |ctx| compress_text(&t, ctx)).0;
        assert_eq!(kind, ContentKind::Json);
        let out = out.unwrap();
        let marker = format!("\n…{} chars truncated…\n", b - a);
        let (head, tail) = out.split_once(&marker).expect("marker on its own line");
        let mut expected = Vec::new();
        crate::json::minify_into(&whole.as_bytes()[..a], &mut expected);
        assert_eq!(head.as_bytes(), expected);
        // The tail's first half-line as it came, the rest minified.
        let half = &whole[b..][..whole[b..].find('\n').unwrap() + 1];
        assert!(tail.starts_with(half), "{tail}");
        assert!(tail.len() < whole.len() - b);
        assert!(tail.ends_with("\"last\":{}}}"));
    }

    #[test]
    fn codex_cut_json_lines_are_compressed_as_lines() {
        // `cargo build --message-format=json` cut by Codex: the cut line stays as it came.
        let msg = |i: usize| {
            format!(
                "{{\"reason\":\"compiler-artifact\",\"package_id\":\"registry+https://github.com/rust-lang/crates.io-index#dep{i}@1.0.{i}\",\"filenames\":[\"/target/debug/deps/libdep{i}-0123456789abcdef.rlib\",\"/target/debug/deps/libdep{i}-0123456789abcdef.rmeta\"],\"fresh\":true}}\n"
            )
        };
        let whole: String = (0..60).map(msg).collect();
        let (a, b) = (whole.len() / 3 + 11, whole.len() * 2 / 3 + 3);
        let t = format!("{}…{} chars truncated…{}", &whole[..a], b - a, &whole[b..]);
        let (kind, out) = with_default_ctx(&t, |ctx| compress_text(&t, ctx)).0;
        assert_ne!(kind, ContentKind::Json);
        let out = out.expect("compressed");
        assert!(
            out.contains(&format!("…{} chars truncated…", b - a)),
            "{out}"
        );
        assert!(out.len() * 2 < t.len(), "{out}");
    }

    #[test]
    fn gemini_and_qwen_shell_results_are_compressed_inside_with_header_and_trailer_kept() {
        let mut out = String::new();
        for f in 0..30 {
            for l in 0..8 {
                out.push_str(&format!(
                    "src/module_{f}.rs:{}:pub fn item_{f}_{l}() {{}}\n",
                    l * 10 + 1
                ));
            }
        }
        let head = "Command: grep -rn 'fn ' src\nDirectory: (root)\nOutput: ";
        let tail = "\nError: (none)\nExit Code: 0\nSignal: 0\nBackground PIDs: (none)\nProcess Group PGID: 4242";
        let t = format!("{head}{}{tail}", out.trim_end());
        assert_eq!(shell_envelope(&t), Some((head, out.trim_end(), tail)));
        let (kind, new) = with_default_ctx(&t, |ctx| compress_text(&t, ctx)).0;
        assert_eq!(kind, ContentKind::Search);
        let new = new.unwrap();
        assert!(new.starts_with(head), "{new}");
        assert!(new.ends_with(tail), "{new}");
        assert!(new.len() < t.len());
        // Not an envelope: no `Output:` line, or a trailer holding other lines.
        assert!(shell_envelope("Command: ls\nsomething\nOutput: x\nError: (none)").is_none());
        assert!(shell_envelope("Command: ls\nOutput: x\nError: y\nmore output").is_none());
    }

    #[test]
    fn codex_shell_envelope_is_compressed_inside() {
        let mut log = String::new();
        for i in 0..300 {
            log.push_str(&format!("test suite::case_{i} ... ok\n"));
        }
        log.push_str("test suite::broken ... FAILED\nerror: test failed\n");
        let t = serde_json::json!({"output": log, "metadata": {"exit_code": 101, "duration_seconds": 3.2}})
            .to_string();
        let ((kind, out), k) = with_default_ctx(&t, |ctx| compress_text(&t, ctx));
        assert_eq!(kind, ContentKind::Json);
        let out = out.unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let inner = v["output"].as_str().unwrap();
        assert!(inner.contains("test suite::broken ... FAILED"));
        assert!(inner.contains("more similar lines"));
        assert!(inner.contains(k.as_deref().unwrap()));
        assert_eq!(v["metadata"]["exit_code"], 101);
        assert!(out.len() * 4 < t.len());
    }

    #[test]
    fn apt_and_dpkg_install_output_is_a_log() {
        let mut t = String::new();
        for i in 0..40 {
            t.push_str(&format!("Selecting previously unselected package lib{i}.\nPreparing to unpack .../{i:03}-lib{i}_1.{i}-1_amd64.deb ...\nUnpacking lib{i} (1.{i}-1) ...\n"));
        }
        for i in 0..40 {
            t.push_str(&format!("Setting up lib{i} (1.{i}-1) ...\n"));
        }
        assert_eq!(detect(&t).0, ContentKind::Log);
    }

    #[test]
    fn json_after_a_dozen_status_lines_is_json() {
        let mut t = String::from("    Updating crates.io index\n Downloading crates ...\n");
        for i in 0..10 {
            t.push_str(&format!("  Downloaded crate{i} v1.0.{i}\n"));
        }
        let rows: Vec<_> = (0..40)
            .map(|i| serde_json::json!({"name": format!("pkg-{i}"), "version": "1.0.0"}))
            .collect();
        t.push_str(&serde_json::to_string_pretty(&serde_json::json!({"packages": rows})).unwrap());
        let ((kind, out), _) = with_default_ctx(&t, |ctx| compress_text(&t, ctx));
        assert!(
            matches!(kind, ContentKind::Json | ContentKind::JsonTable),
            "{kind:?}"
        );
        let out = out.unwrap();
        assert!(out.starts_with("    Updating crates.io index\n"), "{out}");
        assert!(out.contains("pkg-39"));
    }
}
