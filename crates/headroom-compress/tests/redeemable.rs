//! The compressor reads what retrieval needs (`stream`, `tools`, `tool_choice`) in its one
//! parse, and with `lossy_only_if_redeemable` drops content only in conversations where
//! `headroom_retrieve` is offered: those whose client sends a non-empty `tools` array (the
//! proxy appends the tool to it on every request). Only facts that hold for the whole
//! conversation decide, so a block compresses to the same bytes in every turn: `tool_choice`,
//! which changes from turn to turn, does not.

use headroom_compress::{compress_request, Api, Options, RequestFacts, ToolsField};
use serde_json::json;

/// An Anthropic request whose tool output is a 200-row JSON listing (lossy compression
/// samples rows and retains the original), with `extra` merged into the top level.
fn anthropic(extra: serde_json::Value) -> Vec<u8> {
    let rows: Vec<_> = (0..200)
        .map(|i| json!({"id": i, "name": format!("item-{i}"), "status": if i % 7 == 0 {"failed"} else {"ok"}}))
        .collect();
    let mut body = json!({
        "model": "claude-sonnet-4",
        "max_tokens": 1024,
        "messages": [
            {"role": "user", "content": "list the items"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "list_items", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                "content": serde_json::to_string_pretty(&rows).unwrap()}]}
        ]
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    serde_json::to_vec(&body).unwrap()
}

fn options() -> Options {
    Options {
        lossy_only_if_redeemable: true,
        count_tokens: false,
        ..Options::default()
    }
}

#[test]
fn facts_are_read_from_the_top_level() {
    let o = compress_request(
        Api::AnthropicMessages,
        &anthropic(json!({"stream": true})),
        &options(),
    );
    assert_eq!(
        o.request,
        RequestFacts {
            stream: true,
            tools: ToolsField::Absent,
            calls_forbidden: false,
            client_offers_retrieve: false
        }
    );
    let o = compress_request(
        Api::AnthropicMessages,
        &anthropic(
            json!({"tools": [{"name": "headroom_retrieve", "input_schema": {}}], "tool_choice": {"type": "auto"}}),
        ),
        &options(),
    );
    assert_eq!(o.request.tools, ToolsField::Array);
    assert!(o.request.client_offers_retrieve);
    assert!(!o.request.calls_forbidden);
    let chat = serde_json::to_vec(&json!({
        "model": "gpt-4o", "messages": [], "tool_choice": "none",
        "tools": [{"type": "function", "function": {"name": "headroom_retrieve"}}]
    }))
    .unwrap();
    let o = compress_request(Api::OpenAiChat, &chat, &options());
    assert!(o.request.calls_forbidden && o.request.client_offers_retrieve);
    assert!(
        o.request.redeemable(),
        "tool_choice changes per turn: it must not change how a block compresses"
    );
    let o = compress_request(
        Api::AnthropicMessages,
        &anthropic(json!({"tools": []})),
        &options(),
    );
    assert_eq!(o.request.tools, ToolsField::Empty);
    assert!(!o.request.redeemable());
    let o = compress_request(
        Api::AnthropicMessages,
        &anthropic(json!({"tools": null})),
        &options(),
    );
    assert_eq!(o.request.tools, ToolsField::Other);
    assert!(!o.request.redeemable());
}

#[test]
fn content_is_dropped_only_where_it_can_be_retrieved() {
    let tools = json!([{"name": "list_items", "input_schema": {"type": "object"}}]);
    // Redeemable: rows are sampled and the original is retained for retrieval.
    for extra in [
        json!({"tools": tools}),
        json!({"tools": tools, "tool_choice": {"type": "auto"}}),
        json!({"tools": tools, "tool_choice": {"type": "none"}}),
    ] {
        let o = compress_request(
            Api::AnthropicMessages,
            &anthropic(extra.clone()),
            &options(),
        );
        assert!(
            !o.retained.is_empty(),
            "{extra}: expected lossy compression"
        );
    }
    // Not redeemable: still compressed, but nothing is dropped (no marker, nothing retained).
    for extra in [json!({}), json!({"tools": []}), json!({"tools": null})] {
        let body = anthropic(extra.clone());
        let o = compress_request(Api::AnthropicMessages, &body, &options());
        assert!(o.retained.is_empty(), "{extra}: nothing may be retained");
        let lossless = compress_request(
            Api::AnthropicMessages,
            &body,
            &Options {
                lossy: false,
                ..options()
            },
        );
        assert_eq!(o.body, lossless.body, "{extra}: same as a lossless run");
    }
    // Without the option the library keeps its old contract: lossy whenever `lossy` is set.
    let o = compress_request(
        Api::AnthropicMessages,
        &anthropic(json!({"tools": null})),
        &Options {
            lossy_only_if_redeemable: false,
            ..options()
        },
    );
    assert!(!o.retained.is_empty());
}
