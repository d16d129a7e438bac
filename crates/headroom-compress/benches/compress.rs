//! `cargo bench -p headroom-compress` — savings and speed per fixture class.
//!
//! For every fixture (5 classes × 3 APIs) it prints: request size, exact `cl100k_base` tokens of
//! the whole request body before and after (the same yardstick as the Python Headroom
//! numbers), the saving, and the wall time of `compress_request` (median of repeated runs)
//! with and without token accounting, plus throughput in MB/s of request body. It also times
//! the token accounting alone and a cold (first-call) run that includes building the BPE.
//! A plain harness rather than criterion so the output is one table that goes into
//! docs/compression.md as is.

#[path = "../fixtures/generate.rs"]
mod generate;

use headroom_compress::{compress_request, Options};
use std::time::{Duration, Instant};

fn median_time(mut f: impl FnMut(), min_runs: usize, budget: Duration) -> Duration {
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < min_runs || (start.elapsed() < budget && times.len() < 500) {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects fixtures by name.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let fixtures = generate::all();

    // Cold call: includes building the BPE tables and compiling the regexes once.
    let cold = {
        let f = &fixtures[0];
        let t = Instant::now();
        let _ = compress_request(f.api, &f.body, &Options::default());
        t.elapsed()
    };
    let bpe = tiktoken_rs::cl100k_base_singleton();

    println!(
        "| fixture | request bytes | cl100k before | cl100k after | saved | compress (ms) | with accounting (ms) | MB/s | outcome tokens before→after | heuristic before (error vs cl100k) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut per_class: Vec<(&str, u64, u64)> = Vec::new();
    for f in &fixtures {
        if filter.as_deref().is_some_and(|p| !f.name.contains(p)) {
            continue;
        }
        let options = Options::default();
        let no_count = Options {
            count_tokens: false,
            ..Options::default()
        };
        let out = compress_request(f.api, &f.body, &options);
        let forwarded = out.body.clone().unwrap_or_else(|| f.body.clone());
        let before = bpe
            .encode_ordinary(std::str::from_utf8(&f.body).unwrap())
            .len() as u64;
        let after = bpe
            .encode_ordinary(std::str::from_utf8(&forwarded).unwrap())
            .len() as u64;
        let t_plain = median_time(
            || {
                std::hint::black_box(compress_request(f.api, &f.body, &no_count));
            },
            20,
            Duration::from_millis(1500),
        );
        let t_count = median_time(
            || {
                std::hint::black_box(compress_request(f.api, &f.body, &options));
            },
            20,
            Duration::from_millis(1500),
        );
        let heur = compress_request(
            f.api,
            &f.body,
            &Options {
                exact_tokens: false,
                ..Options::default()
            },
        );
        let heur_err = 100.0 * (heur.tokens_before as f64 - before as f64) / before as f64;
        let saved = 100.0 * (before as f64 - after as f64) / before as f64;
        let mbps = f.body.len() as f64 / t_plain.as_secs_f64() / 1e6;
        println!(
            "| {} | {} | {} | {} | {:.1}% | {:.3} | {:.3} | {:.0} | {}→{} ({}) | {} ({:+.1}%) |",
            f.name,
            f.body.len(),
            before,
            after,
            saved,
            ms(t_plain),
            ms(t_count),
            mbps,
            out.tokens_before,
            out.tokens_after,
            out.tokenizer.name(),
            heur.tokens_before,
            heur_err
        );
        match per_class.iter_mut().find(|(c, _, _)| *c == f.class) {
            Some(e) => {
                e.1 += before;
                e.2 += after;
            }
            None => per_class.push((f.class, before, after)),
        }
    }
    println!();
    println!("| class | saved (cl100k, whole request, 3 APIs) |");
    println!("|---|---:|");
    for (c, b, a) in &per_class {
        println!(
            "| {c} | {:.1}% |",
            100.0 * (*b as f64 - *a as f64) / *b as f64
        );
    }
    println!();
    // Token accounting alone, on the largest body: exact full-body BPE vs what we do.
    if let Some(f) = fixtures
        .iter()
        .find(|f| f.name == "json_search.openai_chat")
    {
        let text = std::str::from_utf8(&f.body).unwrap();
        let exact = median_time(
            || {
                std::hint::black_box(bpe.encode_ordinary(text).len());
            },
            5,
            Duration::from_millis(1500),
        );
        println!(
            "exact cl100k over the whole {} KB body: {:.2} ms (what we avoid on the request path)",
            f.body.len() / 1024,
            ms(exact)
        );
    }
    println!(
        "cold first call (BPE tables + regexes built once per process): {:.1} ms",
        ms(cold)
    );
}
