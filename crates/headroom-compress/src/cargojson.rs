//! `cargo build/check/test --message-format=json` (and `cargo clippy` with it): one JSON
//! object per line.
//!
//! Why: each `compiler-message` line carries its diagnostic twice — as the human `rendered`
//! text and as a tree of spans, children and suggestion texts several times its size — and
//! `compiler-artifact` / `build-script-executed` lines list every output file of every
//! dependency. Detected as neither JSON (many documents) nor a log, the whole stream passed
//! unchanged. It is sent as what `cargo` would have printed without the flag: every
//! `rendered` diagnostic (then grouped and kept like any diagnostics), the plain lines, the
//! `build-finished` result, and a count of the messages dropped; the JSON stays retrievable.

use crate::router::Ctx;

/// `Some` when at least 60 % of the non-empty lines (and at least 3) are cargo JSON messages.
pub fn compress(t: &str, ctx: &Ctx<'_>) -> Option<String> {
    if !ctx.options.lossy {
        return None;
    }
    let mut messages = 0usize;
    let mut lines = 0usize;
    for l in t.lines().filter(|l| !l.trim().is_empty()) {
        lines += 1;
        if l.starts_with("{\"reason\":\"") {
            messages += 1;
        }
    }
    if messages < 3 || messages * 5 < lines * 3 {
        return None;
    }
    let mut out = String::with_capacity(t.len() / 4);
    let mut dropped = 0usize;
    for l in t.lines() {
        if !l.starts_with("{\"reason\":\"") {
            out.push_str(l);
            out.push('\n');
            continue;
        }
        let Ok(root) = crate::json::parse_str(l) else {
            out.push_str(l);
            out.push('\n');
            continue;
        };
        let src = l.as_bytes();
        let reason = root
            .get_in(src, "reason")
            .and_then(|r| r.str_value(src))
            .unwrap_or_default();
        match reason.as_str() {
            "compiler-message" => {
                match root
                    .get_in(src, "message")
                    .and_then(|m| m.get_in(src, "rendered"))
                    .and_then(|r| r.str_value(src))
                {
                    Some(rendered) => {
                        out.push_str(rendered.trim_end());
                        out.push_str("\n\n");
                    }
                    None => dropped += 1,
                }
            }
            "build-finished" => {
                let ok = root.get_in(src, "success").is_some_and(|s| s.is_true());
                out.push_str(if ok {
                    "build-finished: success\n"
                } else {
                    "build-finished: failed\n"
                });
            }
            _ => dropped += 1,
        }
    }
    let rendered = out;
    let body = crate::log::compress(&rendered, ctx).unwrap_or(rendered);
    let mut what = String::from(
        "cargo JSON messages shown as their rendered diagnostics; the JSON fields (spans, children, suggestions)",
    );
    if dropped > 0 {
        what.push_str(&format!(
            " and {} artifact/build-script messages",
            crate::text::fmt_count(dropped)
        ));
    }
    what.push_str(" dropped");
    let mut s = ctx.marker(&what);
    s.push('\n');
    s.push_str(body.trim_end());
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::with_default_ctx;

    #[test]
    fn compiler_messages_become_their_rendered_text() {
        let msg = |code: &str, line: u32| {
            serde_json::json!({
                "reason": "compiler-message",
                "package_id": "path+file:///tmp/x#x@0.1.0",
                "message": {
                    "rendered": format!("error[{code}]: cannot find value `y` in this scope\n --> src/lib.rs:{line}:5\n  |\n{line} |     y\n  |     ^ not found\n\n"),
                    "spans": [{"file_name": "src/lib.rs", "line_start": line, "text": [{"text": "    y"}]}],
                    "children": [],
                    "level": "error"
                }
            })
            .to_string()
        };
        let artifact = r#"{"reason":"compiler-artifact","package_id":"registry+https://github.com/rust-lang/crates.io-index#memchr@2.7.4","filenames":["/tmp/target/debug/deps/libmemchr.rlib"],"fresh":true}"#;
        let t = format!(
            "    Checking x v0.1.0\n{artifact}\n{artifact}\n{}\n{}\n{{\"reason\":\"build-finished\",\"success\":false}}\nerror: could not compile `x` (lib) due to 2 previous errors\n",
            msg("E0425", 3),
            msg("E0308", 9)
        );
        let (out, key) = with_default_ctx(&t, |ctx| compress(&t, ctx));
        let out = out.unwrap();
        assert!(
            out.contains("error[E0425]: cannot find value `y` in this scope"),
            "{out}"
        );
        assert!(out.contains("src/lib.rs:9:5"), "{out}");
        assert!(out.contains("E0308"), "{out}");
        assert!(out.contains("build-finished: failed"), "{out}");
        assert!(out.contains("error: could not compile `x`"), "{out}");
        assert!(
            out.contains("2 artifact/build-script messages dropped"),
            "{out}"
        );
        assert!(!out.contains("libmemchr"), "{out}");
        assert!(out.contains(&key.unwrap()));
        assert!(out.len() < t.len());
    }
}
