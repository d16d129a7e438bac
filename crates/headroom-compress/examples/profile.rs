//! Runs one fixture in a loop for profiling: `cargo run --release --example profile -- json_search.openai_chat`.
#[path = "../fixtures/generate.rs"]
mod generate;

fn main() {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "json_search.openai_chat".into());
    let count = std::env::args().nth(2).is_some();
    let f = generate::all()
        .into_iter()
        .find(|f| f.name == name)
        .expect("fixture");
    let o = headroom_compress::Options {
        count_tokens: count,
        ..Default::default()
    };
    for _ in 0..300 {
        std::hint::black_box(headroom_compress::compress_request(f.api, &f.body, &o));
    }
}
