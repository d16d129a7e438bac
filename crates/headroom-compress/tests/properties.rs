//! Property tests: whatever the tool outputs contain, compression never panics, is
//! deterministic, never grows the body, leaves every byte outside the replaced tool outputs
//! identical, passes protected outputs through untouched, and keeps every error/failure line.

use headroom_compress::{
    compress_request, compress_request_unguarded, Action, Api, ContentKind, Options,
};
use proptest::prelude::*;

fn lit(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..5000).prop_map(|n| format!("test module::tests::case_{n} ... ok")),
        (0u32..500).prop_map(|n| format!("   Compiling crate{n} v1.{n}.0")),
        (0u32..500).prop_map(|n| format!("error[E0308]: mismatched types in item {n}")),
        (0u32..500).prop_map(|n| format!("warning: unused variable `x{n}`")),
        (0u32..500).prop_map(|n| format!("thread 'main' panicked at src/m{n}.rs:{n}:5:")),
        (0u32..500).prop_map(|n| format!("FAILED tests/test_{n}.py::test_x - AssertionError")),
        (0u32..500).prop_map(|n| format!("\x1b[32mPASSED\x1b[0m tests/t.py::case_{n}")),
        (0u32..500, 1u32..900)
            .prop_map(|(n, l)| format!("src/dir/file{n}.rs:{l}:    let x = y.unwrap();")),
        (0u32..100).prop_map(|n| format!("Downloading {n}%\r Downloading {}%", n + 1)),
        "[ -~]{0,120}",
        "\\PC{0,60}",
        Just(String::new()),
        Just("  --> src/lib.rs:1:1".to_string()),
        Just("{\"id\": 1, \"name\": \"x\\\"y\", \"v\": [1,2]}".to_string()),
    ]
}

fn tool_output() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(line(), 0..400).prop_map(|v| v.join("\n")),
        1 => prop::collection::vec((0u32..1000, "[a-z ]{0,40}", prop::bool::ANY), 0..120).prop_map(|rows| {
            let items: Vec<String> = rows
                .iter()
                .map(|(i, s, e)| {
                    if *e && i % 7 == 0 {
                        format!("{{\"id\":{i},\"status\":\"error\",\"msg\":{}}}", lit(s))
                    } else {
                        format!("{{\"id\":{i},\"status\":\"ok\",\"msg\":{}}}", lit(s))
                    }
                })
                .collect();
            format!("[{}]", items.join(",\n  "))
        }),
        1 => "\\PC{0,2000}",
    ]
}

/// An Anthropic body built from pieces so the test knows exactly which bytes are tool outputs.
struct Built {
    body: Vec<u8>,
    /// The fixed pieces between tool-output literals.
    pieces: Vec<String>,
}

fn anthropic_body(outputs: &[(String, bool, &str)]) -> Built {
    // (output, is_error, tool name)
    let mut pieces = Vec::new();
    let mut uses = Vec::new();
    for (i, (_, _, name)) in outputs.iter().enumerate() {
        uses.push(format!(
            r#"{{"type":"tool_use","id":"t{i}","name":"{name}","input":{{}}}}"#
        ));
    }
    let head = format!(
        r#"{{"model":"claude-x","system":"sys prompt with tool_result text","messages":[{{"role":"user","content":"why does it fail?"}},{{"role":"assistant","content":[{}]}},{{"role":"user","content":["#,
        uses.join(",")
    );
    let mut cur = head;
    for (i, (_, err, _)) in outputs.iter().enumerate() {
        if i > 0 {
            cur.push(',');
        }
        let e = if *err { r#","is_error":true"# } else { "" };
        cur.push_str(&format!(
            r#"{{"type":"tool_result","tool_use_id":"t{i}"{e},"content":"#
        ));
        pieces.push(std::mem::take(&mut cur));
        cur.push('}');
    }
    cur.push_str(r#"]}],"tools":[{"name":"Bash","input_schema":{}}]}"#);
    pieces.push(cur);
    let mut body = String::new();
    for (i, p) in pieces.iter().enumerate() {
        body.push_str(p);
        if i < outputs.len() {
            body.push_str(&lit(&outputs[i].0));
        }
    }
    Built {
        body: body.into_bytes(),
        pieces,
    }
}

/// Split a body at the fixed pieces; returns the decoded tool outputs between them.
fn outputs_between(body: &[u8], pieces: &[String]) -> Vec<String> {
    let s = std::str::from_utf8(body).unwrap();
    assert!(s.starts_with(&pieces[0]), "prefix changed");
    let mut rest = &s[pieces[0].len()..];
    let mut outs = Vec::new();
    for p in &pieces[1..] {
        // The literal is a JSON string: find its end by parsing.
        let mut de = serde_json::Deserializer::from_str(rest).into_iter::<String>();
        let v = de.next().unwrap().unwrap();
        let used = de.byte_offset();
        outs.push(v);
        rest = &rest[used..];
        assert!(
            rest.starts_with(p.as_str()),
            "bytes between tool outputs changed"
        );
        rest = &rest[p.len()..];
    }
    assert!(rest.is_empty());
    outs
}

fn failure_lines(t: &str) -> Vec<String> {
    let re = regex::Regex::new(r"(?i)\b(error|failed|failure|panicked)\b|FAILED").unwrap();
    let ansi = regex::Regex::new(r"\x1b\[[0-9;]*m").unwrap();
    t.split('\n')
        .map(|l| {
            let l = l.strip_suffix('\r').unwrap_or(l);
            let l = l.rsplit('\r').next().unwrap_or(l);
            ansi.replace_all(l, "").trim().to_string()
        })
        .filter(|l| re.is_match(l))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        for api in [Api::AnthropicMessages, Api::OpenAiChat, Api::OpenAiResponses] {
            let out = compress_request_unguarded(api, &bytes, &Options::default());
            prop_assert!(out.body.is_none() || out.body.as_ref().unwrap().len() < bytes.len());
        }
    }

    #[test]
    fn tool_outputs_compress_safely(
        outs in prop::collection::vec((tool_output(), prop::bool::weighted(0.2), prop_oneof![Just("Bash"), Just("Read"), Just("mcp__x__search")]), 1..4)
    ) {
        let b = anthropic_body(&outs);
        let options = Options::default();
        let a = compress_request_unguarded(Api::AnthropicMessages, &b.body, &options);
        let again = compress_request_unguarded(Api::AnthropicMessages, &b.body, &options);
        prop_assert_eq!(&a.body, &again.body);
        prop_assert_eq!(&a.retained, &again.retained);
        prop_assert_eq!(a.blocks.len(), outs.len());
        let forwarded = a.body.clone().unwrap_or_else(|| b.body.clone());
        prop_assert!(forwarded.len() <= b.body.len());
        prop_assert!(a.tokens_after <= a.tokens_before);
        // Only the tool-output literals changed; everything else is byte-identical.
        let got = outputs_between(&forwarded, &b.pieces);
        for (i, ((orig, is_err, name), new)) in outs.iter().zip(&got).enumerate() {
            let report = &a.blocks[i];
            if *name == "Read" {
                prop_assert_eq!(new, orig, "protected output changed");
                prop_assert_eq!(report.action, Action::ProtectedFileTool);
                continue;
            }
            if orig.len() < options.min_bytes {
                prop_assert_eq!(new, orig);
                continue;
            }
            prop_assert!(!new.trim().is_empty() || orig.trim().is_empty());
            if new != orig {
                prop_assert_eq!(report.action, Action::Compressed);
                // Error results keep every problem line (JSON ones are only minified, losslessly).
                let json = matches!(report.kind, ContentKind::Json | ContentKind::JsonTable);
                if (*is_err && !json) || matches!(report.kind, ContentKind::Log | ContentKind::Text | ContentKind::Search) {
                    for l in failure_lines(orig) {
                        let text = l.splitn(3, ':').nth(2).filter(|_| report.kind == ContentKind::Search).unwrap_or(&l).trim();
                        prop_assert!(new.contains(text), "lost failure line {:?}", text);
                    }
                }
                // Anything dropped is retrievable by the key the output names.
                for r in &a.retained {
                    if new.contains(&r.key) {
                        prop_assert_eq!(&r.original, orig);
                    }
                }
                if new.contains("call headroom_retrieve with key") {
                    prop_assert!(a.retained.iter().any(|r| &r.original == orig));
                }
            }
        }
    }

    #[test]
    fn openai_bodies_keep_other_bytes(out in tool_output()) {
        // Chat: a tool message between fixed bytes.
        let pre = r#"{"model":"gpt-4o","messages":[{"role":"system","content":"s"},{"role":"user","content":"q"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"shell","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"#;
        let post = r#"}],"stream":true}"#;
        let body = format!("{pre}{}{post}", lit(&out));
        let a = compress_request(Api::OpenAiChat, body.as_bytes(), &Options::default());
        if let Some(b) = &a.body {
            let s = std::str::from_utf8(b).unwrap();
            prop_assert!(s.starts_with(pre) && s.ends_with(post));
            prop_assert!(b.len() < body.len());
        }
        // Responses: function_call_output.
        let pre = r#"{"model":"gpt-5","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"q"}]},{"type":"function_call","call_id":"c1","name":"shell","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"#;
        let body = format!("{pre}{}{post}", lit(&out));
        let a = compress_request(Api::OpenAiResponses, body.as_bytes(), &Options::default());
        if let Some(b) = &a.body {
            let s = std::str::from_utf8(b).unwrap();
            prop_assert!(s.starts_with(pre) && s.ends_with(post));
        }
    }
}
