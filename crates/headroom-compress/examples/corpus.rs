//! `cargo run --release -p headroom-compress --example corpus` — the corpus report.
//!
//! Every real output in `corpus/outputs/` (see `corpus/generate.py`) is sent in every client
//! shape (Claude Code string / parts / truncated / `is_error`, OpenAI chat, Codex shell and
//! exec text envelopes and JSON envelope, MCP parts) through `compress_request`, and the report
//! prints `cl100k_base` tokens saved per class and per shape (of the whole request and of the
//! tool outputs alone), the facts kept in view, the details kept in view or retrievable, and
//! the compression time. Markdown, so it goes into docs/compression.md as is.
//!
//! Flags: `--entries` adds one line per entry (cc_string shape, or `--entries-shape NAME`), `--lost` lists lost facts, `--show NAME [--shape SHAPE]` prints one forwarded output,
//! `--show NAME` prints that entry's forwarded tool output (Claude Code string shape) and its
//! best compression time per shape, and exits, `--write-baseline` records the per-class savings in `corpus/baseline.json` for the test.

#[path = "../corpus/harness.rs"]
mod harness;

use harness::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    let entries = load();
    if let Some(i) = args.iter().position(|a| a == "--show") {
        let name = args.get(i + 1).expect("--show NAME");
        let e = entries
            .iter()
            .find(|e| &e.name == name)
            .unwrap_or_else(|| panic!("no corpus entry {name}"));
        // `--shape NAME` shows it as that client shape sends it (default cc_string).
        let shape = args
            .iter()
            .position(|a| a == "--shape")
            .and_then(|i| args.get(i + 1))
            .map(|n| {
                *SHAPES
                    .iter()
                    .find(|s| s.name() == n)
                    .unwrap_or_else(|| panic!("no client shape {n}"))
            })
            .unwrap_or(Shape::CcString);
        let body = request(e, shape);
        let out = headroom_compress::compress_request(
            shape.api(),
            &body,
            &headroom_compress::Options::default(),
        );
        let fwd = out.body.unwrap_or(body);
        println!("{}", forwarded_text(shape, &fwd));
        let idx = entries.iter().position(|x| x.name == e.name).unwrap_or(0);
        if let Ok(n) = std::env::var("CORPUS_LOOP") {
            // For a profiler: the is_error shape in a loop.
            for _ in 0..n.parse::<usize>().unwrap_or(100) {
                run(&entries, idx, Shape::CcError, 1, false);
            }
        }
        for shape in SHAPES {
            let r = run(&entries, idx, shape, 20, false);
            eprintln!(
                "{}: best {:.2} ms ({:.2} ms per 300 KB)",
                shape.name(),
                r.time.as_secs_f64() * 1000.0,
                r.time.as_secs_f64() * 1000.0 * 300_000.0 / r.output_bytes.max(1) as f64
            );
        }
        return;
    }
    let runs = run_all(&entries, 3, true);

    let total_bytes: usize = entries.iter().map(|e| e.output.len()).sum();
    println!(
        "Corpus: {} outputs of real commands ({:.2} MB), {} shapes, {} requests.\n",
        entries.len(),
        total_bytes as f64 / 1e6,
        SHAPES.len(),
        runs.len()
    );

    let header = "| {} | n | request tokens before | after | saved | tool-output tokens saved | facts kept (in view) | details kept (view or retrieve) | compress time (ms, total) |";
    let print_table = |title: &str, rows: Vec<(String, Totals)>| {
        println!("{}", header.replace("{}", title));
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        let mut all = Totals::default();
        for (k, t) in &rows {
            row(k, t);
            all.req_before += t.req_before;
            all.req_after += t.req_after;
            all.out_before += t.out_before;
            all.out_after += t.out_after;
            all.facts += t.facts;
            all.facts_kept += t.facts_kept;
            all.details += t.details;
            all.details_kept += t.details_kept;
            all.n += t.n;
            all.time += t.time;
        }
        row("**all**", &all);
        println!();
    };
    print_table("class", by(&runs, |r| entries[r.entry].class.clone()));
    print_table("client shape", by(&runs, |r| r.shape.name().to_owned()));

    // Time per 300 KB: the slowest entry, scaled to 300 KB of tool output.
    let worst = runs
        .iter()
        .filter(|r| r.output_bytes > 20_000)
        .map(|r| {
            (
                r.time.as_secs_f64() * 1000.0 * 300_000.0 / r.output_bytes as f64,
                r,
            )
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let total_ms: f64 = runs.iter().map(|r| r.time.as_secs_f64() * 1000.0).sum();
    let total_mb: f64 = runs.iter().map(|r| r.output_bytes as f64).sum::<f64>() / 1e6;
    println!(
        "Compression time: {total_ms:.1} ms for {total_mb:.1} MB of tool output ({:.0} MB/s).",
        total_mb / (total_ms / 1000.0)
    );
    if let Some((ms, r)) = worst {
        println!(
            "Slowest per byte: {} ({}, {} KB) at {ms:.2} ms per 300 KB.",
            entries[r.entry].name,
            r.shape.name(),
            r.output_bytes / 1000
        );
    }

    if flag("--entries") {
        println!("\n| entry | class | kind | bytes | tokens before | after | saved | facts |");
        println!("|---|---|---|---:|---:|---:|---:|---:|");
        // `--entries-shape NAME` lists another shape than the Claude Code string.
        let shape = args
            .iter()
            .position(|a| a == "--entries-shape")
            .and_then(|i| args.get(i + 1))
            .and_then(|n| SHAPES.into_iter().find(|s| s.name() == n))
            .unwrap_or(Shape::CcString);
        for r in runs.iter().filter(|r| r.shape == shape) {
            let e = &entries[r.entry];
            println!(
                "| {} | {} | {} | {} | {} | {} | {:.1} % | {}/{} |",
                e.name,
                e.class,
                r.kind,
                r.output_bytes,
                r.output_tokens_before,
                r.output_tokens_after,
                pct(r.output_tokens_before, r.output_tokens_after),
                r.facts_kept,
                r.facts_total
            );
        }
    }
    if flag("--lost") {
        for r in &runs {
            if !r.lost_facts.is_empty() || !r.lost_details.is_empty() {
                println!(
                    "LOST {} / {}: facts {:?} details {:?}",
                    entries[r.entry].name,
                    r.shape.name(),
                    r.lost_facts.iter().take(5).collect::<Vec<_>>(),
                    r.lost_details.iter().take(5).collect::<Vec<_>>()
                );
            }
        }
    }
    if flag("--write-baseline") {
        let classes = by(&runs, |r| entries[r.entry].class.clone());
        let round = |x: f64| serde_json::json!((x * 10.0).round() / 10.0);
        let exact: serde_json::Map<String, serde_json::Value> = classes
            .iter()
            .map(|(k, t)| (k.clone(), round(t.out_saved())))
            .collect();
        let heur: serde_json::Map<String, serde_json::Value> = classes
            .iter()
            .map(|(k, t)| (k.clone(), round(t.heuristic_saved())))
            .collect();
        let v = serde_json::json!({
            "about": "per-class % of tool-output tokens saved over all client shapes (cl100k, and the heuristic count tests/corpus.rs compares: it fails if a class drops more than 1 point below)",
            "output_tokens_saved_pct": exact,
            "heuristic_output_saved_pct": heur,
        });
        let path = corpus_dir().join("baseline.json");
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
        println!("\nwrote {}", path.display());
    }
}

fn row(k: &str, t: &Totals) {
    println!(
        "| {k} | {} | {} | {} | {:.1} % | {:.1} % | {}/{} | {}/{} | {:.1} |",
        t.n,
        t.req_before,
        t.req_after,
        t.req_saved(),
        t.out_saved(),
        t.facts_kept,
        t.facts,
        t.details_kept,
        t.details,
        t.time.as_secs_f64() * 1000.0
    );
}
