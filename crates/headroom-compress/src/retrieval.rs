//! Pure building blocks for answering `headroom_retrieve` calls (the proxy owns the I/O):
//! offering the tool in a request, recognising a response that only calls it, and building the
//! follow-up request that carries the retrieved originals.
//!
//! Everything splices bytes into the original body, like compression does: the tool definition
//! is appended at the end of `tools` with fixed bytes, so a session that keeps compressing
//! offers byte-identical tools every turn and the prompt cache keeps matching.

use crate::json::{self, Kind, Node};
use crate::{Api, RETRIEVE_TOOL_NAME};

const DESCRIPTION: &str = "Return the full original of a tool output that Headroom shortened. Call it with the key named in a [headroom: ...] note when you need the omitted part.";

/// The tool definition for `api`, as the exact bytes appended to `tools`.
pub fn tool_definition(api: Api) -> String {
    let schema = r#"{"type":"object","properties":{"key":{"type":"string","description":"The key named in the [headroom: …] note."}},"required":["key"]}"#;
    match api {
        Api::AnthropicMessages => format!(
            r#"{{"name":"{RETRIEVE_TOOL_NAME}","description":"{DESCRIPTION}","input_schema":{schema}}}"#
        ),
        Api::OpenAiChat => format!(
            r#"{{"type":"function","function":{{"name":"{RETRIEVE_TOOL_NAME}","description":"{DESCRIPTION}","parameters":{schema}}}}}"#
        ),
        Api::OpenAiResponses => format!(
            r#"{{"type":"function","name":"{RETRIEVE_TOOL_NAME}","description":"{DESCRIPTION}","parameters":{schema}}}"#
        ),
    }
}

fn tool_name(api: Api, tool: &Node, src: &[u8]) -> Option<String> {
    match api {
        Api::OpenAiChat => tool
            .get_in(src, "function")
            .and_then(|f| f.get_in(src, "name"))
            .and_then(|n| n.str_value(src)),
        _ => tool.get_in(src, "name").and_then(|n| n.str_value(src)),
    }
}

/// Whether `tool` (an element of a request's `tools`) is `headroom_retrieve`.
pub(crate) fn offers_retrieve(api: Api, tool: &Node, src: &[u8]) -> bool {
    tool_name(api, tool, src).as_deref() == Some(RETRIEVE_TOOL_NAME)
}

/// Insert `item` as the last element of the array `arr` (a node of `src`).
fn append_to_array(src: &[u8], arr: &Node, item: &str, out: &mut Vec<u8>) {
    let close = arr.span.end - 1;
    out.extend_from_slice(&src[..close]);
    let empty = arr.as_array().is_some_and(|a| a.is_empty());
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(item.as_bytes());
    out.extend_from_slice(&src[close..]);
}

/// Add `"key":value` as the last member of the root object.
fn append_member(src: &[u8], root: &Node, key: &str, value: &str) -> Vec<u8> {
    let close = root.span.end - 1;
    let mut out = Vec::with_capacity(src.len() + value.len() + key.len() + 4);
    out.extend_from_slice(&src[..close]);
    if root.as_object().is_some_and(|m| !m.is_empty()) {
        out.push(b',');
    }
    json::encode_str(key, &mut out);
    out.push(b':');
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(&src[close..]);
    out
}

/// The request body with the retrieve tool appended to `tools` (the key is added when
/// absent). `None` when the body is not a JSON object, `tools` is not an array, or the tool
/// is already offered.
pub fn inject_tool(api: Api, body: &[u8]) -> Option<Vec<u8>> {
    let root = json::parse(body).ok()?;
    root.as_object()?;
    let def = tool_definition(api);
    match root.get_in(body, "tools") {
        Some(tools) => {
            let list = tools.as_array()?;
            if list
                .iter()
                .any(|t| tool_name(api, t, body).as_deref() == Some(RETRIEVE_TOOL_NAME))
            {
                return None;
            }
            let mut out = Vec::with_capacity(body.len() + def.len() + 1);
            append_to_array(body, tools, &def, &mut out);
            Some(out)
        }
        None => Some(append_member(body, &root, "tools", &format!("[{def}]"))),
    }
}

/// One `headroom_retrieve` call found in a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrieveCall {
    /// `tool_use.id` / `tool_calls[].id` / `function_call.call_id`.
    pub id: String,
    /// The requested key (empty if the model sent no usable key).
    pub key: String,
}

fn key_from_arguments(args: Option<String>) -> String {
    args.and_then(|a| serde_json::from_str::<serde_json::Value>(&a).ok())
        .and_then(|v| v.get("key").and_then(|k| k.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

/// The retrieve calls of a complete (non-streaming) response, if it calls tools and **every**
/// tool call is `headroom_retrieve`. Mixed with client tools → `None` (the client must see it).
pub fn retrieve_calls(api: Api, response: &[u8]) -> Option<Vec<RetrieveCall>> {
    let src = response;
    let root = json::parse(src).ok()?;
    let mut calls = Vec::new();
    let mut other = false;
    match api {
        Api::AnthropicMessages => {
            for b in root.get_in(src, "content")?.as_array()? {
                if b.get_in(src, "type")
                    .and_then(|t| t.str_value(src))
                    .as_deref()
                    != Some("tool_use")
                {
                    continue;
                }
                if b.get_in(src, "name")
                    .and_then(|n| n.str_value(src))
                    .as_deref()
                    != Some(RETRIEVE_TOOL_NAME)
                {
                    other = true;
                    continue;
                }
                let id = b.get_in(src, "id").and_then(|v| v.str_value(src))?;
                let key = b
                    .get_in(src, "input")
                    .and_then(|i| i.get_in(src, "key"))
                    .and_then(|k| k.str_value(src))
                    .unwrap_or_default();
                calls.push(RetrieveCall { id, key });
            }
        }
        Api::OpenAiChat => {
            let choices = root.get_in(src, "choices")?.as_array()?;
            if choices.len() != 1 {
                return None;
            }
            let msg = choices[0].get_in(src, "message")?;
            for c in msg.get_in(src, "tool_calls")?.as_array()? {
                let f = c.get_in(src, "function")?;
                if f.get_in(src, "name")
                    .and_then(|n| n.str_value(src))
                    .as_deref()
                    != Some(RETRIEVE_TOOL_NAME)
                {
                    other = true;
                    continue;
                }
                let id = c.get_in(src, "id").and_then(|v| v.str_value(src))?;
                let key =
                    key_from_arguments(f.get_in(src, "arguments").and_then(|a| a.str_value(src)));
                calls.push(RetrieveCall { id, key });
            }
        }
        Api::OpenAiResponses => {
            for it in root.get_in(src, "output")?.as_array()? {
                let ty = it.get_in(src, "type").and_then(|t| t.str_value(src));
                if !matches!(ty.as_deref(), Some("function_call" | "custom_tool_call")) {
                    continue;
                }
                if it
                    .get_in(src, "name")
                    .and_then(|n| n.str_value(src))
                    .as_deref()
                    != Some(RETRIEVE_TOOL_NAME)
                {
                    other = true;
                    continue;
                }
                let id = it.get_in(src, "call_id").and_then(|v| v.str_value(src))?;
                let key =
                    key_from_arguments(it.get_in(src, "arguments").and_then(|a| a.str_value(src)));
                calls.push(RetrieveCall { id, key });
            }
        }
    }
    (!other && !calls.is_empty()).then_some(calls)
}

/// The follow-up request: `request` with the response's assistant turn and one tool result per
/// `(call id, text)` appended to the conversation. Every byte of `request` before the end of
/// its message list is kept, so the prompt cache still matches the prefix.
pub fn continuation(
    api: Api,
    request: &[u8],
    response: &[u8],
    results: &[(String, String)],
) -> Option<Vec<u8>> {
    let req = json::parse(request).ok()?;
    let resp = json::parse(response).ok()?;
    let lit = |s: &str| {
        let mut v = Vec::new();
        json::encode_str(s, &mut v);
        String::from_utf8(v).unwrap_or_default()
    };
    let raw = |n: &Node| String::from_utf8_lossy(n.raw(response)).into_owned();
    let (list_key, items) = match api {
        Api::AnthropicMessages => {
            let content = resp.get_in(response, "content")?;
            let tool_results: Vec<String> = results
                .iter()
                .map(|(id, text)| {
                    format!(
                        r#"{{"type":"tool_result","tool_use_id":{},"content":{}}}"#,
                        lit(id),
                        lit(text)
                    )
                })
                .collect();
            (
                "messages",
                vec![
                    format!(r#"{{"role":"assistant","content":{}}}"#, raw(content)),
                    format!(
                        r#"{{"role":"user","content":[{}]}}"#,
                        tool_results.join(",")
                    ),
                ],
            )
        }
        Api::OpenAiChat => {
            let choices = resp.get_in(response, "choices")?.as_array()?;
            let msg = choices.first()?.get_in(response, "message")?;
            let mut v = vec![raw(msg)];
            for (id, text) in results {
                v.push(format!(
                    r#"{{"role":"tool","tool_call_id":{},"content":{}}}"#,
                    lit(id),
                    lit(text)
                ));
            }
            ("messages", v)
        }
        Api::OpenAiResponses => {
            let output = resp.get_in(response, "output")?.as_array()?;
            let mut v: Vec<String> = output.iter().map(raw).collect();
            for (id, text) in results {
                v.push(format!(
                    r#"{{"type":"function_call_output","call_id":{},"output":{}}}"#,
                    lit(id),
                    lit(text)
                ));
            }
            ("input", v)
        }
    };
    let list = req.get_in(request, list_key)?;
    let mut out = Vec::with_capacity(request.len() + items.iter().map(String::len).sum::<usize>());
    match &list.kind {
        Kind::Array(_) => append_to_array(request, list, &items.join(","), &mut out),
        // Responses also accepts `"input": "text"`: turn it into a user message first.
        Kind::Str { .. } if api == Api::OpenAiResponses => {
            out.extend_from_slice(&request[..list.span.start]);
            out.extend_from_slice(
                format!(
                    r#"[{{"type":"message","role":"user","content":{}}},{}]"#,
                    raw_req(request, list),
                    items.join(",")
                )
                .as_bytes(),
            );
            out.extend_from_slice(&request[list.span.end..]);
        }
        _ => return None,
    }
    Some(out)
}

fn raw_req(src: &[u8], n: &Node) -> String {
    String::from_utf8_lossy(n.raw(src)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn tool_definitions_are_valid_json() {
        for api in [
            Api::AnthropicMessages,
            Api::OpenAiChat,
            Api::OpenAiResponses,
        ] {
            let v: Value = serde_json::from_str(&tool_definition(api)).unwrap();
            assert!(v.to_string().contains(RETRIEVE_TOOL_NAME));
        }
    }

    #[test]
    fn inject_appends_once_and_keeps_prefix() {
        let body = br#"{"model":"m","tools":[{"name":"Bash","input_schema":{}}],"messages":[]}"#;
        let out = inject_tool(Api::AnthropicMessages, body).unwrap();
        let cut = body.iter().position(|&b| b == b']').unwrap();
        assert_eq!(&out[..cut], &body[..cut]);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["tools"][1]["name"], RETRIEVE_TOOL_NAME);
        assert!(
            inject_tool(Api::AnthropicMessages, &out).is_none(),
            "already offered"
        );
        // Same bytes every time.
        assert_eq!(inject_tool(Api::AnthropicMessages, body).unwrap(), out);
        // No tools key: added at the end.
        let out = inject_tool(Api::OpenAiChat, br#"{"model":"m","messages":[]}"#).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["tools"][0]["function"]["name"], RETRIEVE_TOOL_NAME);
        let out = inject_tool(Api::OpenAiResponses, br#"{"tools":[]}"#).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["tools"][0]["name"], RETRIEVE_TOOL_NAME);
    }

    #[test]
    fn retrieve_calls_only_when_all_calls_are_retrieve() {
        let only = json!({"content": [{"type": "text", "text": "let me look"}, {"type": "tool_use", "id": "tu1", "name": RETRIEVE_TOOL_NAME, "input": {"key": "abc"}}], "stop_reason": "tool_use"}).to_string();
        assert_eq!(
            retrieve_calls(Api::AnthropicMessages, only.as_bytes()).unwrap(),
            vec![RetrieveCall {
                id: "tu1".into(),
                key: "abc".into()
            }]
        );
        let mixed = json!({"content": [{"type": "tool_use", "id": "tu1", "name": RETRIEVE_TOOL_NAME, "input": {"key": "abc"}}, {"type": "tool_use", "id": "tu2", "name": "Bash", "input": {}}]}).to_string();
        assert!(retrieve_calls(Api::AnthropicMessages, mixed.as_bytes()).is_none());
        let none = json!({"content": [{"type": "text", "text": "done"}]}).to_string();
        assert!(retrieve_calls(Api::AnthropicMessages, none.as_bytes()).is_none());

        let chat = json!({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": RETRIEVE_TOOL_NAME, "arguments": "{\"key\":\"k1\"}"}}]}}]}).to_string();
        assert_eq!(
            retrieve_calls(Api::OpenAiChat, chat.as_bytes()).unwrap(),
            vec![RetrieveCall {
                id: "c1".into(),
                key: "k1".into()
            }]
        );
        let resp = json!({"output": [{"type": "reasoning", "id": "r1", "encrypted_content": "xx"}, {"type": "function_call", "call_id": "fc1", "name": RETRIEVE_TOOL_NAME, "arguments": "{\"key\":\"k2\"}"}]}).to_string();
        assert_eq!(
            retrieve_calls(Api::OpenAiResponses, resp.as_bytes()).unwrap(),
            vec![RetrieveCall {
                id: "fc1".into(),
                key: "k2".into()
            }]
        );
    }

    #[test]
    fn continuation_appends_turns_and_keeps_prefix() {
        let req = br#"{"model":"m","messages":[{"role":"user","content":"q"}],"stream":false}"#;
        let resp = json!({"content": [{"type": "tool_use", "id": "tu1", "name": RETRIEVE_TOOL_NAME, "input": {"key": "abc"}}]}).to_string();
        let out = continuation(
            Api::AnthropicMessages,
            req,
            resp.as_bytes(),
            &[("tu1".into(), "the \"original\"\n".into())],
        )
        .unwrap();
        let prefix = br#"{"model":"m","messages":[{"role":"user","content":"q"}"#;
        assert_eq!(&out[..prefix.len()], prefix);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["messages"][1]["role"], "assistant");
        assert_eq!(v["messages"][1]["content"][0]["id"], "tu1");
        assert_eq!(v["messages"][2]["content"][0]["tool_use_id"], "tu1");
        assert_eq!(
            v["messages"][2]["content"][0]["content"],
            "the \"original\"\n"
        );
        assert_eq!(v["stream"], false);

        let req = br#"{"model":"m","input":"hello"}"#;
        let resp = json!({"output": [{"type": "function_call", "call_id": "fc1", "name": RETRIEVE_TOOL_NAME, "arguments": "{}"}]}).to_string();
        let out = continuation(
            Api::OpenAiResponses,
            req,
            resp.as_bytes(),
            &[("fc1".into(), "x".into())],
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["input"][0]["content"], "hello");
        assert_eq!(v["input"][1]["call_id"], "fc1");
        assert_eq!(v["input"][2]["type"], "function_call_output");
    }
}
