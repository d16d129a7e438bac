//! JSON tool outputs. Arrays of objects (search hits, API listings, DB rows) repeat every key
//! in every item; writing the keys once and each item as a row of values is lossless and
//! usually removes a quarter to a half of the bytes. When the array is long even as a table,
//! a selection is kept — first and last items, error items, outliers and items matching the
//! user's question — and the rest is summarised per column, with the original retrievable.
//!
//! Values are copied from the original text (minified), never re-formatted, so numbers keep
//! their exact spelling and strings their escapes.

use crate::json::{self, Kind, Node};
use crate::router::Ctx;
use crate::text;
use regex::Regex;
use std::collections::HashMap;
use std::sync::OnceLock;

/// More distinct keys than this is not a table (sparse objects); it also bounds the
/// rows × columns cell matrix for hostile input.
const MAX_COLUMNS: usize = 256;
/// Arrays shorter than this are not worth a table.
const MIN_ITEMS: usize = 5;
/// A table of at most this many bytes is kept whole even if it has many rows.
const SMALL_TABLE: usize = 4096;
/// How far into the document to look for the array.
const MAX_DEPTH: usize = 4;
const HEAD: usize = 5;
const TAIL: usize = 3;
const RELEVANT: usize = 12;
const PLACEHOLDER: &str = "\"<table below>\"";

/// Where the table-worthy array is: its node and the key path to it.
struct Found<'n> {
    node: &'n Node,
    path: Vec<String>,
}

fn find<'n>(
    src: &[u8],
    n: &'n Node,
    depth: usize,
    path: &mut Vec<String>,
    best: &mut Option<Found<'n>>,
) {
    match &n.kind {
        Kind::Array(items)
            if items.len() >= MIN_ITEMS
                && items.iter().all(|i| matches!(i.kind, Kind::Object(_)))
                && best
                    .as_ref()
                    .is_none_or(|b| b.node.span.len() < n.span.len()) =>
        {
            *best = Some(Found {
                node: n,
                path: path.clone(),
            });
        }
        Kind::Object(members) if depth < MAX_DEPTH => {
            for (k, v) in members {
                path.push(k.text(src).into_owned());
                find(src, v, depth + 1, path, best);
                path.pop();
            }
        }
        _ => {}
    }
}

fn best_array<'n>(src: &[u8], root: &'n Node) -> Option<Found<'n>> {
    let mut best = None;
    find(src, root, 0, &mut Vec::new(), &mut best);
    // The table must be the bulk of the document, or rewriting around it is not worth it.
    best.filter(|b| b.node.span.len() * 10 >= root.span.len() * 3)
}

/// True if the document's bulk is an array of objects.
pub fn has_table(src: &[u8], root: &Node) -> bool {
    best_array(src, root).is_some()
}

fn error_value_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Constant pattern, known valid.
    RE.get_or_init(|| {
        Regex::new(r"(?i)(?-u:\b)(error|errors|errored|exception|fail|failed|failing|failure|fatal|panic|panicked|critical|crash(ed)?|timed? ?out|denied|refused|unhealthy|down)(?-u:\b)")
            .expect("valid regex")
    })
}

fn is_error_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    matches!(
        k.as_str(),
        "error" | "errors" | "err" | "exception" | "failure" | "failures" | "error_message"
    )
}

fn is_empty_value(n: &Node, src: &[u8]) -> bool {
    match &n.kind {
        Kind::Null | Kind::Bool(false) => true,
        Kind::Str { .. } => n.span.len() <= 2,
        Kind::Array(a) => a.is_empty(),
        Kind::Object(o) => o.is_empty(),
        Kind::Number => n.raw(src) == b"0",
        Kind::Bool(true) => false,
    }
}

fn is_status_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    matches!(
        k.as_str(),
        "status" | "state" | "level" | "severity" | "result" | "outcome" | "conclusion" | "health"
    )
}

/// An item is an error if an error-named key holds something, or a status-like key
/// (`status`, `level`, `conclusion`, …) holds a failure word. Free text mentioning "error"
/// (a title, a snippet) does not count.
fn is_error_item(item: &Node, src: &[u8]) -> bool {
    let Some(members) = item.as_object() else {
        return false;
    };
    members.iter().any(|(k, v)| {
        let k = k.text(src);
        (is_error_key(&k) && !is_empty_value(v, src))
            || (is_status_key(&k)
                && v.is_str()
                && v.span.len() <= 42
                && std::str::from_utf8(v.raw(src)).is_ok_and(|s| error_value_re().is_match(s)))
    })
}

/// Copy a value minified: scalars are already minimal, containers need whitespace removed.
fn push_value(v: &Node, src: &[u8], out: &mut Vec<u8>) {
    match v.kind {
        Kind::Array(_) | Kind::Object(_) => json::minify_into(v.raw(src), out),
        _ => out.extend_from_slice(v.raw(src)),
    }
}

/// First cell of a nested table's key row (a list of objects inside a cell).
const NESTED_KEYS: &str = "@keys";

/// A cell holding a list of at least three objects that all have the same keys in the same
/// order (`cargo metadata`'s `dependencies`): written as rows, the first one the keys behind
/// [`NESTED_KEYS`]. Lossless; `false` (nothing written) when the cell is not such a list.
fn push_nested_table(v: &Node, src: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(items) = v.as_array() else {
        return false;
    };
    let Some(first) = items.first().and_then(Node::as_object) else {
        return false;
    };
    let same = |o: &Node| {
        o.as_object().is_some_and(|m| {
            m.len() == first.len()
                && m.iter()
                    .zip(first)
                    .all(|((a, _), (b, _))| src[a.span.clone()] == src[b.span.clone()])
        })
    };
    if items.len() < 3 || first.len() < 2 || !items.iter().all(same) {
        return false;
    }
    out.extend_from_slice(b"[[");
    json::encode_str(NESTED_KEYS, out);
    for (k, _) in first {
        out.push(b',');
        out.extend_from_slice(&src[k.span.start - 1..k.span.end + 1]);
    }
    out.push(b']');
    for item in items {
        out.extend_from_slice(b",[");
        for (i, (_, value)) in item.as_object().unwrap_or_default().iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_value(value, src, out);
        }
        out.push(b']');
    }
    out.push(b']');
    true
}

/// A table whose rows are bigger than this on average has cells worth shortening
/// (`cargo metadata`'s packages, `pip inspect`'s installed distributions).
const WIDE_ROW: usize = 400;
/// A cell (or a container inside one) bigger than this, minified, is shortened.
const BIG_CELL: usize = 240;
/// Characters of names listed in a shortened list.
const NAMES: usize = 160;

/// A name for an object in a shortened list: its `name`-like member, else its first string.
fn object_name(o: &Node, src: &[u8]) -> Option<String> {
    let members = o.as_object()?;
    let pick = members
        .iter()
        .find(|(k, v)| {
            v.is_str()
                && matches!(
                    k.text(src).as_ref(),
                    "name" | "id" | "title" | "key" | "package" | "crate" | "path" | "file"
                )
        })
        .or_else(|| members.iter().find(|(_, v)| v.is_str()))?;
    pick.1
        .str_value(src)
        .map(|s| text::truncate_chars(&s, 60).to_owned())
}

/// A scalar as the model reads it: strings decoded, others as written.
fn scalar_text(v: &Node, src: &[u8]) -> String {
    v.str_value(src)
        .unwrap_or_else(|| String::from_utf8_lossy(v.raw(src)).into_owned())
}

/// Writes a big cell shortened, still JSON: an object keeps every key with its scalars and
/// small values, its big values shortened in turn; a long list becomes one string counting
/// its items and naming them (`"… 9 objects: serde, serde_json, …"`). Returns how many
/// containers were shortened (0: the cell was written whole).
fn shrink_into(v: &Node, src: &[u8], terms: &[String], out: &mut Vec<u8>) -> usize {
    let mut whole = Vec::new();
    push_value(v, src, &mut whole);
    let matches = || {
        let s = String::from_utf8_lossy(&whole).to_ascii_lowercase();
        terms.iter().any(|t| text::names_word(&s, t))
    };
    if whole.len() <= BIG_CELL || matches() {
        out.extend_from_slice(&whole);
        return 0;
    }
    match &v.kind {
        Kind::Object(members) => {
            let mut n = 0;
            out.push(b'{');
            for (i, (k, m)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&src[k.span.start - 1..k.span.end + 1]);
                out.push(b':');
                n += shrink_into(m, src, terms, out);
            }
            out.push(b'}');
            n
        }
        Kind::Array(items) => {
            let objects = items.iter().all(|i| i.as_object().is_some());
            let names: Vec<String> = items
                .iter()
                .filter_map(|i| {
                    if objects {
                        object_name(i, src)
                    } else if i.as_array().is_none() {
                        Some(text::truncate_chars(&scalar_text(i, src), 60).to_owned())
                    } else {
                        None
                    }
                })
                .collect();
            let mut s = format!(
                "… {} {}",
                text::fmt_count(items.len()),
                match (objects, items.len()) {
                    (true, 1) => "object",
                    (true, _) => "objects",
                    (false, 1) => "item",
                    (false, _) => "items",
                }
            );
            // As many names as fit in [`NAMES`] characters (at least one).
            let mut shown = 0;
            let mut len = 0;
            for name in &names {
                if shown > 0 && len + name.len() > NAMES {
                    break;
                }
                len += name.len() + 2;
                shown += 1;
            }
            if shown > 0 {
                s.push_str(": ");
                s.push_str(&names[..shown].join(", "));
                if names.len() > shown {
                    s.push_str(&format!(", +{} more", names.len() - shown));
                }
            }
            json::encode_str(&s, out);
            1
        }
        // A long string was already cut by the caller's route; a scalar is never big.
        _ => {
            out.extend_from_slice(&whole);
            0
        }
    }
}

/// Tables with fewer rows than this keep every column in every row.
const FACTOR_ROWS: usize = 8;
/// Key columns are looked for among the first this many columns (bounds the pairs tried).
const FACTOR_COLUMNS: usize = 48;

/// Columns written once instead of in every row: `constant[c]` when every object holds the
/// same scalar there (`"severity": "error"` in a lint report); `derived[c]` when its scalar
/// follows from the `key` column's (a lint's `name` and `url` from its `code`). The key
/// column has at most a third as many distinct values as there are rows.
struct Factored {
    constant: Vec<bool>,
    key: Option<usize>,
    derived: Vec<bool>,
}

fn factor_columns(cells: &[Vec<Option<&Node>>], ncols: usize, src: &[u8]) -> Factored {
    let n = cells.len();
    let none = Factored {
        constant: vec![false; ncols],
        key: None,
        derived: vec![false; ncols],
    };
    if n < FACTOR_ROWS || ncols < 2 {
        return none;
    }
    // A column's raw scalar per row, if every row has a scalar there.
    let column = |c: usize| -> Option<Vec<&[u8]>> {
        cells
            .iter()
            .map(|row| {
                row[c]
                    .filter(|v| !matches!(v.kind, Kind::Array(_) | Kind::Object(_)))
                    .map(|v| v.raw(src))
            })
            .collect()
    };
    let cols: Vec<Option<Vec<&[u8]>>> = (0..ncols).map(column).collect();
    let constant: Vec<bool> = cols
        .iter()
        .map(|c| c.as_ref().is_some_and(|v| v.iter().all(|x| *x == v[0])))
        .collect();
    let follows = |a: &[&[u8]], b: &[&[u8]]| {
        let mut map: HashMap<&[u8], &[u8]> = HashMap::new();
        a.iter()
            .zip(b)
            .all(|(x, y)| *map.entry(x).or_insert(y) == *y)
            .then_some(map.len())
    };
    let mut best: Option<(usize, Vec<bool>, usize)> = None;
    for (a, col_a) in cols.iter().enumerate().take(FACTOR_COLUMNS) {
        let Some(col_a) = col_a.as_ref().filter(|_| !constant[a]) else {
            continue;
        };
        // Ids, titles, timestamps: too many values to key anything (checked first, as most
        // columns are like that).
        let mut distinct: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
        if col_a.iter().any(|v| {
            distinct.insert(v);
            distinct.len() * 3 > n
        }) {
            continue;
        }
        let mut derived = vec![false; ncols];
        let mut count = 0;
        for (b, col_b) in cols.iter().enumerate() {
            let Some(col_b) = col_b.as_ref().filter(|_| b != a && !constant[b]) else {
                continue;
            };
            if follows(col_a, col_b).is_some_and(|distinct| distinct * 3 <= n) {
                derived[b] = true;
                count += 1;
            }
        }
        if count > 0 && best.as_ref().is_none_or(|(_, _, c)| count > *c) {
            best = Some((a, derived, count));
        }
    }
    match best {
        Some((key, derived, _)) => Factored {
            constant,
            key: Some(key),
            derived,
        },
        None => Factored { constant, ..none },
    }
}

/// `root` is the already parsed document `t` (the router parsed it to detect JSON).
pub fn compress(t: &str, root: &Node, ctx: &Ctx<'_>) -> Option<String> {
    let src = t.as_bytes();
    let Some(found) = best_array(src, root) else {
        let mut out = Vec::with_capacity(src.len());
        json::minify_into(root.raw(src), &mut out);
        return String::from_utf8(out).ok();
    };
    let items = found.node.as_array()?;
    let n = items.len();

    // Columns in first-appearance order, identified by the raw key text. Objects of one
    // array nearly always list their keys in the same order, so try the position first.
    let mut columns: Vec<&[u8]> = Vec::new();
    let mut col_keys: Vec<&json::Key> = Vec::new();
    let mut col_index: HashMap<&[u8], usize> = HashMap::new();
    // cells[row][col] = the value, if the key is present.
    let mut cells: Vec<Vec<Option<&Node>>> = Vec::with_capacity(n);
    // Size of the lossless table (cells at their raw size, an upper bound of the minified).
    let mut approx = 0usize;
    for it in items {
        let members = it.as_object()?;
        let mut row: Vec<Option<&Node>> = vec![None; columns.len()];
        for (j, (k, v)) in members.iter().enumerate() {
            let raw = &src[k.span.clone()];
            let c = if columns.get(j) == Some(&raw) {
                j
            } else if let Some(&c) = col_index.get(raw) {
                c
            } else {
                if columns.len() >= MAX_COLUMNS {
                    let mut out = Vec::with_capacity(src.len());
                    json::minify_into(root.raw(src), &mut out);
                    return String::from_utf8(out).ok();
                }
                col_index.insert(raw, columns.len());
                columns.push(raw);
                col_keys.push(k);
                row.push(None);
                columns.len() - 1
            };
            if row[c].is_some() {
                return None; // duplicate key: no lossless table form
            }
            row[c] = Some(v);
            approx += v.span.len() + 1;
        }
        cells.push(row);
    }
    for row in &mut cells {
        row.resize(columns.len(), None);
    }
    approx += n * (columns.len() + 3);
    let factored = if ctx.options.lossy {
        factor_columns(&cells, columns.len(), src)
    } else {
        factor_columns(&[], columns.len(), src)
    };
    let shown = |c: usize| !factored.constant[c] && !factored.derived[c];

    let nested_tables = std::cell::Cell::new(false);
    // Rows this wide carry big nested cells (a package's targets, dependencies, metadata):
    // those are shortened to their shape and names unless they match the question.
    let wide = ctx.options.lossy && approx > SMALL_TABLE && approx / n.max(1) > WIDE_ROW;
    // Only terms that pick rows out: one that a third of the rows name (`version` in a
    // package list) would keep every cell.
    let terms: Vec<String> = if wide {
        let rows: Vec<String> = items
            .iter()
            .map(|it| String::from_utf8_lossy(it.raw(src)).to_ascii_lowercase())
            .collect();
        ctx.question
            .map(text::query_terms)
            .unwrap_or_default()
            .into_iter()
            .filter(|t| rows.iter().filter(|r| text::names_word(r, t)).count() * 3 <= n)
            .collect()
    } else {
        Vec::new()
    };
    let shortened = std::cell::Cell::new(0usize);
    // A failing item is shown whole.
    let error_rows: Vec<bool> = if wide {
        items.iter().map(|it| is_error_item(it, src)).collect()
    } else {
        Vec::new()
    };
    let render_row = |r: usize, out: &mut Vec<u8>| {
        out.push(b'[');
        let mut small = Vec::new();
        let mut first = true;
        for (c, cell) in cells[r].iter().enumerate() {
            if !shown(c) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            if let Some(v) = cell {
                small.clear();
                let cut = if wide && !error_rows[r] {
                    shrink_into(v, src, &terms, &mut small)
                } else {
                    0
                };
                if cut > 0 {
                    out.extend_from_slice(&small);
                    shortened.set(shortened.get() + cut);
                } else if ctx.options.lossy && push_nested_table(v, src, out) {
                    nested_tables.set(true);
                } else {
                    push_value(v, src, out);
                }
            }
        }
        out.extend_from_slice(b"]\n");
    };

    let mut out: Vec<u8> = Vec::with_capacity(src.len() / 2);
    // Anything around the array, minified, with the array replaced by a placeholder.
    let what = if found.path.is_empty() {
        "the JSON array".to_string()
    } else {
        json::minify_into(&src[root.span.start..found.node.span.start], &mut out);
        out.extend_from_slice(PLACEHOLDER.as_bytes());
        json::minify_into(&src[found.node.span.end..root.span.end], &mut out);
        out.push(b'\n');
        format!(
            "\"{}\" (shown as {PLACEHOLDER} above)",
            found.path.join(".")
        )
    };
    let header_at = out.len();
    let intro = format!(
        "[headroom: {what} holds {n} objects, written as a table: the first row lists the keys, each later row is one object's values in that order; an empty cell means the key is absent]\n",
    );
    out.extend_from_slice(intro.as_bytes());
    // Said in the intro only when some cell was written as a nested table.
    let intro_end = header_at + intro.len() - 2;
    let explain = |buf: &mut Vec<u8>| {
        let mut note = String::new();
        if nested_tables.get() {
            note.push_str(&format!(
                "; a cell holding a list of objects with the same keys is written the same way, as rows whose first one is \"{NESTED_KEYS}\" and the keys"
            ));
        }
        if shortened.get() > 0 {
            note.push_str(
                "; a long list inside a cell is shortened to one string, \"… N objects: names\" or \"… N items: values\"",
            );
        }
        buf.splice(intro_end..intro_end, note.into_bytes());
    };
    write_factored(&factored, &cells, &col_keys, src, &mut out);
    out.extend_from_slice(b"[");
    let mut first = true;
    for (c, k) in col_keys.iter().enumerate() {
        if !shown(c) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        json::encode_str(&k.text(src), &mut out);
    }
    out.extend_from_slice(b"]\n");

    let lossy = ctx.options.lossy && n > ctx.options.max_rows && approx > SMALL_TABLE;
    if !lossy {
        for r in 0..n {
            render_row(r, &mut out);
        }
        if shortened.get() > 0 {
            out.extend_from_slice(
                ctx.marker(&format!(
                    "{} long lists in cells shortened",
                    text::fmt_count(shortened.get())
                ))
                .as_bytes(),
            );
        }
        while out.last() == Some(&b'\n') {
            out.pop();
        }
        explain(&mut out);
        return String::from_utf8(out).ok();
    }

    let keep = select_rows(items, &cells, columns.len(), src, ctx);
    let mut s = out;
    let mut prev: Option<usize> = None;
    let mut omitted_rows = Vec::new();
    for (r, &k) in keep.iter().enumerate() {
        if !k {
            omitted_rows.push(r);
            continue;
        }
        let gap = r - prev.map_or(0, |p| p + 1);
        if gap > 0 {
            s.extend_from_slice(format!("… {} rows …\n", text::fmt_count(gap)).as_bytes());
        }
        render_row(r, &mut s);
        prev = Some(r);
    }
    let tail_gap = n - prev.map_or(0, |p| p + 1);
    if tail_gap > 0 {
        s.extend_from_slice(format!("… {} rows …\n", text::fmt_count(tail_gap)).as_bytes());
    }
    // Factored columns are already said once; an empty name is left out of the summary.
    let names: Vec<String> = col_keys
        .iter()
        .enumerate()
        .map(|(c, k)| {
            if shown(c) {
                k.text(src).into_owned()
            } else {
                String::new()
            }
        })
        .collect();
    let summary = summarize(&omitted_rows, &cells, &names, src);
    if !summary.is_empty() {
        s.extend_from_slice(b"omitted rows: ");
        s.extend_from_slice(summary.as_bytes());
        s.push(b'\n');
    }
    let m = ctx.marker(&format!(
        "{} of {} rows omitted{}",
        text::fmt_count(omitted_rows.len()),
        text::fmt_count(n),
        match shortened.get() {
            0 => String::new(),
            k => format!(", {} long lists in cells shortened", text::fmt_count(k)),
        }
    ));
    s.extend_from_slice(m.as_bytes());
    explain(&mut s);
    String::from_utf8(s).ok()
}

/// The factored columns, before the key row: one line naming what every object holds, and
/// one JSON object mapping each value of the key column to the derived columns' values.
fn write_factored(
    f: &Factored,
    cells: &[Vec<Option<&Node>>],
    keys: &[&json::Key],
    src: &[u8],
    out: &mut Vec<u8>,
) {
    let name = |c: usize| {
        let mut b = Vec::new();
        json::encode_str(&keys[c].text(src), &mut b);
        String::from_utf8(b).unwrap_or_default()
    };
    let constants: Vec<String> = (0..keys.len())
        .filter(|&c| f.constant[c])
        .filter_map(|c| {
            let v = cells.first()?[c]?;
            Some(format!(
                "{}: {}",
                name(c),
                String::from_utf8_lossy(v.raw(src))
            ))
        })
        .collect();
    if !constants.is_empty() {
        out.extend_from_slice(
            format!(
                "[headroom: every object has {}; those keys are left out of the rows]\n",
                constants.join(", ")
            )
            .as_bytes(),
        );
    }
    let Some(key) = f.key else {
        return;
    };
    let derived: Vec<usize> = (0..keys.len()).filter(|&c| f.derived[c]).collect();
    let list: Vec<String> = derived.iter().map(|&c| name(c)).collect();
    out.extend_from_slice(
        format!(
            "[headroom: {} follow{} from {}, so {} left out of the rows; the next line maps each {} to {}]\n",
            list.join(", "),
            if list.len() == 1 { "s" } else { "" },
            name(key),
            if list.len() == 1 { "it is" } else { "they are" },
            name(key),
            if list.len() == 1 { "its value".to_string() } else { format!("[{}]", list.join(", ")) },
        )
        .as_bytes(),
    );
    out.push(b'{');
    let mut seen: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
    for row in cells {
        let Some(k) = row[key] else { continue };
        let raw = k.raw(src);
        if !seen.is_empty() && seen.contains(raw) {
            continue;
        }
        if !seen.is_empty() {
            out.push(b',');
        }
        seen.insert(raw);
        if k.is_str() {
            out.extend_from_slice(raw);
        } else {
            json::encode_str(&String::from_utf8_lossy(raw), out);
        }
        out.push(b':');
        if derived.len() > 1 {
            out.push(b'[');
        }
        for (i, &c) in derived.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if let Some(v) = row[c] {
                out.extend_from_slice(v.raw(src));
            }
        }
        if derived.len() > 1 {
            out.push(b']');
        }
    }
    out.extend_from_slice(b"}\n");
}

fn select_rows(
    items: &[Node],
    cells: &[Vec<Option<&Node>>],
    ncols: usize,
    src: &[u8],
    ctx: &Ctx<'_>,
) -> Vec<bool> {
    let n = items.len();
    let max = ctx.options.max_rows.max(HEAD + TAIL);
    let mut keep = vec![false; n];
    let mut count = 0usize;
    let take = |r: usize, keep: &mut Vec<bool>, count: &mut usize| {
        if !keep[r] {
            keep[r] = true;
            *count += 1;
        }
    };
    // Errors are never dropped.
    for (r, it) in items.iter().enumerate() {
        if is_error_item(it, src) {
            take(r, &mut keep, &mut count);
        }
    }
    for r in (0..HEAD.min(n)).chain(n.saturating_sub(TAIL)..n) {
        take(r, &mut keep, &mut count);
    }
    // Items matching the user's question, weighted by term rarity (a term found in more than
    // half of the items, like the site's own domain, says nothing about relevance).
    if let Some(q) = ctx.question {
        let terms = text::query_terms(q);
        if !terms.is_empty() {
            // ASCII lower-casing keeps byte offsets, so item spans index the copy directly.
            let lowered = src.to_ascii_lowercase();
            let finders: Vec<memchr::memmem::Finder<'_>> = terms
                .iter()
                .map(|t| memchr::memmem::Finder::new(t.as_bytes()))
                .collect();
            // Bit i of masks[r]: item r contains term i (at most 32 terms).
            let masks: Vec<u32> = items
                .iter()
                .map(|it| {
                    let row = &lowered[it.span.clone()];
                    finders
                        .iter()
                        .enumerate()
                        .filter(|(_, f)| f.find(row).is_some())
                        .fold(0u32, |m, (i, _)| m | (1 << i))
                })
                .collect();
            let weights: Vec<f64> = (0..terms.len())
                .map(|i| {
                    let df = masks.iter().filter(|m| *m & (1 << i) != 0).count();
                    if df == 0 || df * 2 > n {
                        0.0
                    } else {
                        (n as f64 / df as f64).ln()
                    }
                })
                .collect();
            let mut scored: Vec<(f64, usize)> = masks
                .iter()
                .enumerate()
                .filter(|(r, _)| !keep[*r])
                .filter_map(|(r, m)| {
                    let score: f64 = weights
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| m & (1 << i) != 0)
                        .map(|(_, w)| *w)
                        .sum();
                    (score > 0.0).then_some((score, r))
                })
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for &(_, r) in scored.iter().take(RELEVANT) {
                if count < max {
                    take(r, &mut keep, &mut count);
                }
            }
        }
    }
    // Outliers: rare categorical values and numeric values far from the mean.
    for c in 0..ncols {
        if count >= max {
            break;
        }
        for r in outliers(cells, c, src) {
            if count >= max {
                break;
            }
            take(r, &mut keep, &mut count);
        }
    }
    keep
}

/// Rows whose value in column `c` is unusual: a category seen in at most 2 % of rows (when the
/// column has few distinct values), or a number more than 3 standard deviations from the mean.
fn outliers(cells: &[Vec<Option<&Node>>], c: usize, src: &[u8]) -> Vec<usize> {
    let n = cells.len();
    let mut out = Vec::new();
    if n < 20 {
        return out;
    }
    let mut nums: Vec<(usize, f64)> = Vec::new();
    let mut cats: Vec<(&[u8], Vec<usize>)> = Vec::new();
    for (r, row) in cells.iter().enumerate() {
        let Some(v) = row[c] else { continue };
        match v.kind {
            Kind::Number => {
                if let Some(x) = std::str::from_utf8(v.raw(src))
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                {
                    nums.push((r, x));
                }
            }
            Kind::Str { .. } | Kind::Bool(_) | Kind::Null if v.span.len() <= 40 => {
                let raw = v.raw(src);
                match cats.iter_mut().find(|(k, _)| *k == raw) {
                    Some((_, rows)) => rows.push(r),
                    None => {
                        if cats.len() <= 8 {
                            cats.push((raw, vec![r]));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if (2..=8).contains(&cats.len()) {
        let total: usize = cats.iter().map(|(_, rows)| rows.len()).sum();
        if total * 10 >= n * 9 {
            for (_, rows) in &cats {
                if rows.len() * 50 <= n && rows.len() <= 3 {
                    out.extend(rows.iter().copied());
                }
            }
        }
    }
    if nums.len() >= 20 {
        let mean = nums.iter().map(|(_, x)| x).sum::<f64>() / nums.len() as f64;
        let var = nums.iter().map(|(_, x)| (x - mean).powi(2)).sum::<f64>() / nums.len() as f64;
        let sd = var.sqrt();
        if sd > 0.0 {
            let mut far: Vec<(usize, f64)> = nums
                .iter()
                .filter(|(_, x)| ((x - mean) / sd).abs() > 3.0)
                .map(|&(r, x)| (r, ((x - mean) / sd).abs()))
                .collect();
            far.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            out.extend(far.iter().take(5).map(|(r, _)| *r));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// One-line summary of the omitted rows: value counts for low-cardinality columns and ranges
/// for numeric ones.
fn summarize(
    rows: &[usize],
    cells: &[Vec<Option<&Node>>],
    columns: &[String],
    src: &[u8],
) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (c, name) in columns
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.is_empty())
        .take(16)
    {
        let vals: Vec<&Node> = rows.iter().filter_map(|&r| cells[r][c]).collect();
        if vals.is_empty() {
            continue;
        }
        if vals.iter().all(|v| matches!(v.kind, Kind::Number)) {
            let mut min: Option<(f64, &[u8])> = None;
            let mut max: Option<(f64, &[u8])> = None;
            for v in &vals {
                let raw = v.raw(src);
                let Some(x) = std::str::from_utf8(raw)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                else {
                    continue;
                };
                if min.is_none_or(|(m, _)| x < m) {
                    min = Some((x, raw));
                }
                if max.is_none_or(|(m, _)| x > m) {
                    max = Some((x, raw));
                }
            }
            if let (Some((_, lo)), Some((_, hi))) = (min, max) {
                parts.push(format!(
                    "{name} {}…{}",
                    String::from_utf8_lossy(lo),
                    String::from_utf8_lossy(hi)
                ));
            }
            continue;
        }
        let mut counts: Vec<(&[u8], usize)> = Vec::new();
        let mut too_many = false;
        for v in &vals {
            if v.span.len() > 40 || matches!(v.kind, Kind::Array(_) | Kind::Object(_)) {
                too_many = true;
                break;
            }
            let raw = v.raw(src);
            if let Some(slot) = counts.iter_mut().find(|(k, _)| *k == raw) {
                slot.1 += 1;
            } else if counts.len() < 6 {
                counts.push((raw, 1));
            } else {
                too_many = true;
                break;
            }
        }
        if too_many || counts.len() == vals.len() && vals.len() > 1 {
            continue;
        }
        counts.sort_by_key(|c| std::cmp::Reverse(c.1));
        let list: Vec<String> = counts
            .iter()
            .map(|(k, n)| format!("{}×{}", String::from_utf8_lossy(k), text::fmt_count(*n)))
            .collect();
        parts.push(format!("{name} {}", list.join(", ")));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Options;
    use std::cell::OnceCell;

    fn ctx<'a>(o: &'a Options, key: &'a OnceCell<String>, orig: &'a str) -> Ctx<'a> {
        Ctx {
            question: Some("which results mention tokio?"),
            options: o,
            key,
            original: orig,
        }
    }

    #[test]
    fn small_array_is_lossless_table() {
        let t = r#"[{"a": 1, "b": "x"}, {"a": 2, "b": "y"}, {"a": 3}, {"b": "z", "a": 4.50}, {"a": 5, "b": null}]"#;
        let o = Options::default();
        let k = OnceCell::new();
        let root = json::parse_str(t).unwrap();
        let out = compress(t, &root, &ctx(&o, &k, t)).unwrap();
        assert!(out.contains("[\"a\",\"b\"]\n[1,\"x\"]\n[2,\"y\"]\n[3,]\n[4.50,\"z\"]\n[5,null]"));
        assert!(k.get().is_none(), "nothing dropped, nothing hashed");
    }

    #[test]
    fn long_array_keeps_errors_anchors_and_relevant() {
        let mut items = Vec::new();
        for i in 0..200 {
            let status = if i == 77 { "error" } else { "ok" };
            let title = if i == 120 {
                "tokio runtime"
            } else {
                "other thing"
            };
            items.push(format!(
                r#"{{"id":{i},"status":"{status}","title":"{title} {i}","body":"lorem ipsum dolor sit amet {i}"}}"#
            ));
        }
        let t = format!("{{\"total\":200,\"items\":[{}]}}", items.join(","));
        let o = Options::default();
        let k = OnceCell::new();
        let root = json::parse_str(&t).unwrap();
        let out = compress(&t, &root, &ctx(&o, &k, &t)).unwrap();
        assert!(out.starts_with("{\"total\":200,\"items\":\"<table below>\"}\n"));
        assert!(out.contains("[77,\"error\""));
        assert!(out.contains("[120,\"ok\",\"tokio runtime 120\""));
        assert!(out.contains("[0,\"ok\"") && out.contains("[199,\"ok\""));
        assert!(out.contains(k.get().unwrap()));
        assert!(out.contains("rows omitted"));
        assert!(out.len() < t.len() / 3);
    }

    #[test]
    fn lists_of_same_keyed_objects_in_a_cell_become_nested_tables() {
        let rows: Vec<serde_json::Value> = (0..8)
            .map(|i| {
                serde_json::json!({
                    "name": format!("pkg{i}"),
                    "deps": [
                        {"name": "a", "req": "^1", "optional": false},
                        {"name": "b", "req": "^2", "optional": true},
                        {"name": "c", "req": "*", "optional": false},
                    ],
                    "odd": [{"x": 1}, {"y": 2}, {"x": 3}],
                })
            })
            .collect();
        let doc = serde_json::json!({ "packages": rows }).to_string();
        let root = crate::json::parse_str(&doc).unwrap();
        let o = Options::default();
        let key = OnceCell::new();
        let out = compress(&doc, &root, &ctx(&o, &key, &doc)).unwrap();
        assert!(
            out.contains(r#"[["@keys","name","req","optional"],["a","^1",false],["b","^2",true],["c","*",false]]"#),
            "{out}"
        );
        // Different keys: written as they were.
        assert!(out.contains(r#"[{"x":1},{"y":2},{"x":3}]"#), "{out}");
        assert!(
            out.contains(
                r#"is written the same way, as rows whose first one is "@keys" and the keys]"#
            ),
            "{out}"
        );
        // Lossless mode keeps the objects.
        let lossless = Options {
            lossy: false,
            ..Options::default()
        };
        let out = compress(&doc, &root, &ctx(&lossless, &key, &doc)).unwrap();
        assert!(!out.contains("@keys"), "{out}");
    }
    #[test]
    fn wide_rows_shorten_big_cells_except_the_asked_ones() {
        // `cargo metadata`: few packages, each with long lists of dependencies and targets.
        let pkg = |name: &str, deps: &[&str]| {
            serde_json::json!({
                "name": name, "version": "1.0.0",
                "dependencies": deps.iter().map(|d| serde_json::json!({
                    "name": d, "source": "registry+https://github.com/rust-lang/crates.io-index",
                    "req": "^1", "kind": null, "optional": false
                })).collect::<Vec<_>>(),
                "keywords": ["a", "b"],
                "features": {"default": ["std"], "std": (0..40).map(|i| format!("dep{i}/std")).collect::<Vec<_>>()},
            })
        };
        let doc = serde_json::to_string_pretty(&serde_json::json!({"packages": [
            pkg("alpha", &["itoa", "ryu", "memchr"]),
            pkg("beta", &["serde", "serde_json", "syn", "quote"]),
            pkg("gamma", &["libc", "cc", "bitflags"]),
            pkg("delta", &["regex", "aho-corasick"]),
            pkg("epsilon", &["rand", "rand_core", "getrandom"]),
        ]}))
        .unwrap();
        let o = Options::default();
        let k = OnceCell::new();
        let root = json::parse_str(&doc).unwrap();
        let mut c = ctx(&o, &k, &doc);
        c.question = Some("which crates depend on serde_json?");
        let out = compress(&doc, &root, &c).unwrap();
        assert!(out.contains("\"… 3 objects: itoa, ryu, memchr\""), "{out}");
        assert!(
            out.contains("\"… 2 objects: regex, aho-corasick\""),
            "{out}"
        );
        // The asked package's list stays whole; small cells and scalars are never touched.
        assert!(out.contains("[\"serde_json\",\"registry+"), "{out}");
        assert!(out.contains("[\"a\",\"b\"]") && out.contains("\"epsilon\",\"1.0.0\""));
        // An object keeps its keys; only its big members are shortened.
        assert!(
            out.contains("{\"default\":[\"std\"],\"std\":\"… 40 items: dep0/std, dep1/std"),
            "{out}"
        );
        assert!(
            out.contains("shortened to one string")
                && out.contains("long lists in cells shortened")
        );
        assert!(k.get().is_some(), "the original is retrievable");
        for row in out.lines().filter(|l| l.starts_with("[\"")) {
            serde_json::from_str::<serde_json::Value>(row).expect("each row is JSON");
        }
    }

    #[test]
    fn constant_and_derived_columns_are_written_once() {
        // A lint report: every row an error, each code with its own name and URL.
        let codes = [
            "F401", "E501", "F401", "B008", "E501", "F401", "F401", "E501", "B008", "F401",
        ];
        let rows: Vec<serde_json::Value> = codes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                serde_json::json!({
                    "code": c, "name": format!("name-of-{c}"), "url": format!("https://lint/{c}"),
                    "severity": "error", "row": i, "cell": null,
                })
            })
            .collect();
        let doc = serde_json::to_string(&rows).unwrap();
        let o = Options::default();
        let k = OnceCell::new();
        let root = json::parse_str(&doc).unwrap();
        let out = compress(&doc, &root, &ctx(&o, &k, &doc)).unwrap();
        assert!(
            out.contains("[headroom: every object has \"severity\": \"error\", \"cell\": null;"),
            "{out}"
        );
        assert!(
            out.contains("\"name\", \"url\" follow from \"code\""),
            "{out}"
        );
        assert!(out.contains("{\"F401\":[\"name-of-F401\",\"https://lint/F401\"],\"E501\":[\"name-of-E501\",\"https://lint/E501\"],\"B008\":[\"name-of-B008\",\"https://lint/B008\"]}\n"), "{out}");
        assert!(
            out.contains("\n[\"code\",\"row\"]\n[\"F401\",0]\n[\"E501\",1]\n"),
            "{out}"
        );
        assert!(k.get().is_none(), "nothing was dropped");
        // Lossless mode (an error result) keeps the plain table.
        let lossless = Options {
            lossy: false,
            ..Options::default()
        };
        let plain = compress(&doc, &root, &ctx(&lossless, &k, &doc)).unwrap();
        assert!(
            plain.contains("[\"code\",\"name\",\"url\",\"severity\",\"row\",\"cell\"]"),
            "{plain}"
        );
    }
}
