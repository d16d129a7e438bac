//! Peak memory of the tokenizer tables: `cargo run --release --example rss -- cl100k|o200k|both|none`.
fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    if which == "cl100k" || which == "both" {
        std::hint::black_box(
            tiktoken_rs::cl100k_base_singleton()
                .encode_ordinary("hello")
                .len(),
        );
    }
    if which == "o200k" || which == "both" {
        std::hint::black_box(
            tiktoken_rs::o200k_base_singleton()
                .encode_ordinary("hello")
                .len(),
        );
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for l in status
        .lines()
        .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
    {
        println!("{which}: {l}");
    }
}
