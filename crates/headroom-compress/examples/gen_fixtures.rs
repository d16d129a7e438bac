//! Write the fixture request bodies (and their compressed forms) to a directory, for
//! inspection and as fuzz seeds: `cargo run -p headroom-compress --example gen_fixtures -- DIR`.
//! Token numbers printed are the compressor's own (sampled) counts.

#[path = "../fixtures/generate.rs"]
mod generate;

use headroom_compress::{compress_request, Options};

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fixtures-out".into());
    std::fs::create_dir_all(&dir)?;
    // HEADROOM_LOSSLESS=1 shows what `Options { lossy: false, .. }` does.
    let options = Options {
        lossy: std::env::var_os("HEADROOM_LOSSLESS").is_none(),
        ..Options::default()
    };
    for f in generate::all() {
        std::fs::write(format!("{dir}/{}.json", f.name), &f.body)?;
        let out = compress_request(f.api, &f.body, &options);
        if let Some(b) = &out.body {
            std::fs::write(format!("{dir}/{}.out.json", f.name), b)?;
        }
        println!(
            "{:<30} {:>8} -> {:>8} bytes  tokens {:>7} -> {:>7}  blocks {:?}",
            f.name,
            f.body.len(),
            out.body.as_ref().map_or(f.body.len(), |b| b.len()),
            out.tokens_before,
            out.tokens_after,
            out.blocks
                .iter()
                .map(|b| (b.kind.name(), b.action))
                .collect::<Vec<_>>()
        );
    }
    Ok(())
}
