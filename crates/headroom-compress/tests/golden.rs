//! Golden tests over the generated fixture corpus: the forwarded body of every fixture is
//! committed under `fixtures/golden/`. Regenerate with
//! `UPDATE_GOLDEN=1 cargo test -p headroom-compress --test golden`.

#[path = "../fixtures/generate.rs"]
mod generate;

use headroom_compress::{compress_request, Action, ContentKind, Options};
use serde_json::Value;
use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/golden")
}

/// Every tool-output string in a body, by API, in order.
fn tool_outputs(api: headroom_compress::Api, body: &[u8]) -> Vec<String> {
    let v: Value = serde_json::from_slice(body).expect("valid JSON");
    let mut out = Vec::new();
    match api {
        headroom_compress::Api::AnthropicMessages => {
            for m in v["messages"].as_array().unwrap() {
                if let Some(blocks) = m["content"].as_array() {
                    for b in blocks {
                        if b["type"] == "tool_result" {
                            out.push(b["content"].as_str().unwrap().to_string());
                        }
                    }
                }
            }
        }
        headroom_compress::Api::OpenAiChat => {
            for m in v["messages"].as_array().unwrap() {
                if m["role"] == "tool" {
                    out.push(m["content"].as_str().unwrap().to_string());
                }
            }
        }
        headroom_compress::Api::OpenAiResponses => {
            for it in v["input"].as_array().unwrap() {
                if it["type"] == "function_call_output" {
                    out.push(it["output"].as_str().unwrap().to_string());
                }
            }
        }
    }
    out
}

/// Remove the tool outputs from a parsed body so the rest can be compared.
fn without_tool_outputs(api: headroom_compress::Api, body: &[u8]) -> Value {
    let mut v: Value = serde_json::from_slice(body).expect("valid JSON");
    let blank = Value::String(String::new());
    match api {
        headroom_compress::Api::AnthropicMessages => {
            for m in v["messages"].as_array_mut().unwrap() {
                if let Some(blocks) = m["content"].as_array_mut() {
                    for b in blocks {
                        if b["type"] == "tool_result" {
                            b["content"] = blank.clone();
                        }
                    }
                }
            }
        }
        headroom_compress::Api::OpenAiChat => {
            for m in v["messages"].as_array_mut().unwrap() {
                if m["role"] == "tool" {
                    m["content"] = blank.clone();
                }
            }
        }
        headroom_compress::Api::OpenAiResponses => {
            for it in v["input"].as_array_mut().unwrap() {
                if it["type"] == "function_call_output" {
                    it["output"] = blank.clone();
                }
            }
        }
    }
    v
}

#[test]
fn fixtures_match_golden_outputs() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let options = Options::default();
    std::fs::create_dir_all(golden_dir()).unwrap();
    let mut mismatches = Vec::new();
    for f in generate::all() {
        let out = compress_request(f.api, &f.body, &options);
        let forwarded = out.body.clone().unwrap_or_else(|| f.body.clone());
        let path = golden_dir().join(format!("{}.json", f.name));
        if update {
            std::fs::write(&path, &forwarded).unwrap();
            continue;
        }
        let want = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "missing golden {} ({e}); run with UPDATE_GOLDEN=1",
                path.display()
            )
        });
        if want != forwarded {
            mismatches.push(f.name.clone());
        }
    }
    assert!(
        mismatches.is_empty(),
        "forwarded bodies differ from golden files for {mismatches:?}; if the change is intended, \
         rerun with UPDATE_GOLDEN=1 and review the diff"
    );
}

#[test]
fn fixture_invariants_hold() {
    let options = Options::default();
    for f in generate::all() {
        let out = compress_request(f.api, &f.body, &options);
        match f.class {
            "file_read" | "short_chat" => {
                assert!(
                    out.body.is_none(),
                    "{} must be forwarded byte-identical",
                    f.name
                );
                assert_eq!(out.tokens_before, out.tokens_after, "{}", f.name);
                assert!(out.retained.is_empty());
            }
            _ => {
                let body = out
                    .body
                    .as_ref()
                    .unwrap_or_else(|| panic!("{} was not compressed", f.name));
                assert!(body.len() < f.body.len());
                assert!(out.tokens_after < out.tokens_before, "{}", f.name);
                // Everything but the tool outputs is semantically identical...
                assert_eq!(
                    without_tool_outputs(f.api, body),
                    without_tool_outputs(f.api, &f.body),
                    "{}",
                    f.name
                );
                // ...and every retained original is one of the request's tool outputs, named
                // by its key in the compressed text.
                let originals = tool_outputs(f.api, &f.body);
                let compressed = tool_outputs(f.api, body).join("\n");
                for r in &out.retained {
                    assert!(originals.contains(&r.original), "{}", f.name);
                    assert_eq!(r.key, headroom_compress::retrieval_key(&r.original));
                    assert!(compressed.contains(&r.key), "{}", f.name);
                }
            }
        }
        match f.class {
            "json_search" => {
                assert_eq!(out.blocks[0].kind, ContentKind::JsonTable);
                let text = tool_outputs(f.api, out.body.as_ref().unwrap()).join("\n");
                // The two error items and the relevant ones survive.
                assert_eq!(
                    text.matches("timeout while fetching").count(),
                    2,
                    "{}",
                    f.name
                );
                assert!(text.contains("Configuring tokio runtime worker threads"));
                assert!(text.contains("rows omitted"));
            }
            "build_log" => {
                assert_eq!(out.blocks[0].kind, ContentKind::Log);
                let text = tool_outputs(f.api, out.body.as_ref().unwrap()).join("\n");
                let must = generate::must_keep_lines(&generate::build_log_output());
                assert!(must.len() >= 10);
                for line in must {
                    assert!(text.contains(&line), "{}: lost line {line:?}", f.name);
                }
            }
            "diff_grep" => {
                assert_eq!(out.blocks[0].kind, ContentKind::Diff);
                assert_eq!(out.blocks[1].kind, ContentKind::Search);
                let text = tool_outputs(f.api, out.body.as_ref().unwrap()).join("\n");
                // Every changed diff line survives, except the lock file's.
                let diff = generate::git_diff_output();
                let lock_at = diff.find("diff --git a/Cargo.lock").unwrap();
                for l in diff[..lock_at].lines() {
                    if (l.starts_with('+') || l.starts_with('-'))
                        && !l.starts_with("+++")
                        && !l.starts_with("---")
                    {
                        assert!(text.contains(l), "{}: lost diff line {l:?}", f.name);
                    }
                }
                // Every file with hits stays in view; a survey (hundreds of hits) shows each
                // file's first hits and keeps the rest retrievable under the marker's key.
                let grep = generate::grep_output();
                let survey = text.contains("hits not shown");
                for l in grep.lines() {
                    let mut parts = l.splitn(3, ':');
                    let path = parts.next().unwrap();
                    let hit = parts.nth(1).unwrap().trim();
                    assert!(text.contains(path), "{}: lost file {path:?}", f.name);
                    if survey {
                        assert!(
                            text.contains(hit)
                                || out.retained.iter().any(|r| r.original.contains(hit)),
                            "{}: hit {hit:?} neither in view nor retrievable",
                            f.name
                        );
                    } else {
                        assert!(text.contains(hit), "{}: lost hit {hit:?}", f.name);
                    }
                }
            }
            "file_read" => assert_eq!(out.blocks[0].action, Action::ProtectedFileTool),
            _ => {}
        }
    }
}

#[test]
fn compression_is_deterministic_and_stable_across_turns() {
    let options = Options::default();
    for f in generate::all() {
        let a = compress_request(f.api, &f.body, &options);
        let b = compress_request(f.api, &f.body, &options);
        assert_eq!(a.body, b.body, "{}", f.name);
        assert_eq!(a.retained, b.retained, "{}", f.name);
        assert_eq!(
            (a.tokens_before, a.tokens_after),
            (b.tokens_before, b.tokens_after)
        );
    }
    // A later turn (one more exchange appended) compresses the earlier tool output to the
    // same bytes, so the provider's prompt cache still matches the prefix.
    let f = generate::build(
        "build_log",
        headroom_compress::Api::AnthropicMessages,
        "anthropic",
    );
    let first = compress_request(f.api, &f.body, &options).body.unwrap();
    let mut v: Value = serde_json::from_slice(&f.body).unwrap();
    v["messages"].as_array_mut().unwrap().push(serde_json::json!({"role": "assistant", "content": [{"type": "text", "text": "Two tests fail."}]}));
    v["messages"].as_array_mut().unwrap().push(serde_json::json!({"role": "user", "content": [{"type": "text", "text": "Fix the pagination one."}]}));
    let later_body = serde_json::to_vec(&v).unwrap();
    let later = compress_request(f.api, &later_body, &options).body.unwrap();
    // The first request's bytes up to the end of its last message are a prefix of the later one.
    let cut = first.len() - r#"],"stream":true}"#.len();
    assert_eq!(&later[..cut], &first[..cut]);
}

#[test]
fn lossless_mode_never_drops_anything() {
    let options = Options {
        lossy: false,
        ..Options::default()
    };
    for f in generate::all() {
        let out = compress_request(f.api, &f.body, &options);
        assert!(out.retained.is_empty(), "{}", f.name);
        let Some(body) = &out.body else { continue };
        let text = tool_outputs(f.api, body).join("\n");
        assert!(!text.contains("headroom_retrieve"), "{}", f.name);
        if f.class == "json_search" {
            // All 500 rows are still there, as a table.
            assert_eq!(text.matches("\n[\"doc-").count(), 500, "{}", f.name);
        }
        if f.class == "build_log" {
            for line in generate::must_keep_lines(&generate::build_log_output()) {
                assert!(text.contains(&line), "{}: lost {line:?}", f.name);
            }
        }
    }
}

#[test]
fn savings_are_counted_with_the_real_tokenizer_and_passthrough_never_loads_it() {
    let options = Options {
        exact_tokens: false,
        ..Options::default()
    };
    for f in generate::all() {
        let out = compress_request(f.api, &f.body, &options);
        if out.body.is_some() {
            assert_ne!(
                out.tokenizer,
                headroom_compress::Tokenizer::Heuristic,
                "{}: a compressed request must be counted with the real tokenizer",
                f.name
            );
            assert!(out.tokens_after < out.tokens_before, "{}", f.name);
        } else {
            assert_eq!(
                out.tokenizer,
                headroom_compress::Tokenizer::Heuristic,
                "{}: an unchanged request must not load the BPE tables",
                f.name
            );
            assert_eq!(out.tokens_after, out.tokens_before, "{}", f.name);
        }
    }
}
