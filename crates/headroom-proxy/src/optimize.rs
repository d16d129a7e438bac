//! The one place the proxy calls the compressor. Everything about *how* to call it lives here:
//! fail-open on panic, and keeping large bodies off the async worker threads so `/livez` and
//! other streams stay responsive while a big request is examined.

use std::sync::Arc;

use bytes::Bytes;
use headroom_compress::{compress_request, Api, Options, Outcome};

use crate::config::Config;

/// The compressor options for this proxy, built once at start-up.
pub(crate) fn options(config: &Config) -> Arc<Options> {
    Arc::new(Options {
        exact_tokens: config.exact_tokens,
        // Markers are redeemed through `headroom_retrieve`, which the proxy offers and answers.
        lossy_only_if_redeemable: true,
        ..Options::default()
    })
}

/// Bodies at least this large are compressed on the blocking pool instead of inline: the
/// thread hand-off costs microseconds, while compressing a real agent request (hundreds of KiB)
/// takes milliseconds that would otherwise stall every other stream on the event loop.
const BLOCKING_THRESHOLD: usize = 64 * 1024;

/// Run the compressor over `body`. `None` means it failed (panicked): forward the original.
pub(crate) async fn run(api: Api, body: Bytes, options: Arc<Options>) -> Option<Outcome> {
    if body.len() < BLOCKING_THRESHOLD {
        return guarded(api, &body, &options);
    }
    tokio::task::spawn_blocking(move || guarded(api, &body, &options))
        .await
        .ok()
        .flatten()
}

fn guarded(api: Api, body: &[u8], options: &Options) -> Option<Outcome> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        compress_request(api, body, options)
    })) {
        Ok(outcome) => Some(outcome),
        Err(_) => {
            tracing::warn!(?api, "compressor panicked; forwarding the original body");
            None
        }
    }
}
