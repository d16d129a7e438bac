//! Arbitrary text as the tool output inside fixed request bodies for all three APIs: every
//! byte outside the tool output is unchanged, the output is never empty, never larger, and
//! every error/failure line of a log survives.
#![no_main]

use headroom_compress::{compress_request_unguarded, Api, ContentKind, Options};
use libfuzzer_sys::fuzz_target;

const BODIES: [(Api, &str, &str); 3] = [
    (
        Api::AnthropicMessages,
        r#"{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"why?"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"make"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"#,
        r#"}]}],"stream":true}"#,
    ),
    (
        Api::OpenAiChat,
        r#"{"model":"gpt-4o","messages":[{"role":"user","content":"why?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"shell","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"#,
        r#"}]}"#,
    ),
    (
        Api::OpenAiResponses,
        r#"{"model":"gpt-5","input":[{"type":"function_call","call_id":"c1","name":"shell","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"#,
        r#"}]}"#,
    ),
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let options = Options {
        min_bytes: 64,
        count_tokens: false,
        ..Options::default()
    };
    // Every line the log transform treats as a problem line matches this (a subset of it).
    let problem = regex::Regex::new(r"\b(FAILED|error|panicked)\b").unwrap();
    for (api, pre, post) in BODIES {
        let body = format!("{pre}{}{post}", serde_json::to_string(text).unwrap());
        let a = compress_request_unguarded(api, body.as_bytes(), &options);
        let b = compress_request_unguarded(api, body.as_bytes(), &options);
        assert_eq!(a.body, b.body, "not deterministic");
        let Some(out) = a.body else { continue };
        assert!(out.len() < body.len(), "grew");
        let out = std::str::from_utf8(&out).expect("UTF-8");
        assert!(out.starts_with(pre) && out.ends_with(post), "bytes outside the tool output changed");
        let lit = &out[pre.len()..out.len() - post.len()];
        let new: String = serde_json::from_str(lit).expect("replacement is a JSON string");
        assert!(!new.trim().is_empty(), "blanked a tool output");
        if a.blocks[0].kind == ContentKind::Log {
            for line in text.split('\n') {
                let l = line.strip_suffix('\r').unwrap_or(line);
                let l = l.rsplit('\r').next().unwrap_or(l);
                if l.contains('\x1b') {
                    continue;
                }
                let l = l.trim();
                if problem.is_match(l) {
                    assert!(new.contains(l), "lost failure line {l:?}");
                }
            }
        }
        for r in &a.retained {
            assert_eq!(r.original, text);
            assert!(new.contains(&r.key));
        }
    }
});
