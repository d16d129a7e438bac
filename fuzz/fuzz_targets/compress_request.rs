//! Arbitrary bytes as a request body: never panics, never grows, deterministic, and a
//! rewritten body is still valid JSON.
#![no_main]

use headroom_compress::{compress_request_unguarded, Api, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let api = match sel % 3 {
        0 => Api::AnthropicMessages,
        1 => Api::OpenAiChat,
        _ => Api::OpenAiResponses,
    };
    let options = Options {
        min_bytes: (sel as usize) * 4,
        count_tokens: sel & 0x80 != 0,
        lossy_only_if_redeemable: sel & 0x40 != 0,
        ..Options::default()
    };
    let a = compress_request_unguarded(api, body, &options);
    let b = compress_request_unguarded(api, body, &options);
    assert_eq!(a.body, b.body, "not deterministic");
    assert_eq!(a.retained, b.retained);
    if options.lossy_only_if_redeemable && !a.request.redeemable() {
        assert!(a.retained.is_empty(), "dropped content nobody can retrieve");
    }
    if let Some(out) = &a.body {
        assert!(out.len() < body.len(), "grew");
        assert!(serde_json::from_slice::<serde_json::Value>(out).is_ok() || serde_json::from_slice::<serde_json::Value>(body).is_err());
    }
    assert!(a.tokens_after <= a.tokens_before);
});
