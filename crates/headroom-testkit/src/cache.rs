//! Anthropic's prompt cache as a cost model, for tests and benchmarks that must show a session
//! costs less through Headroom — not merely that it sends fewer bytes. Compression that changes
//! a block the cache already holds can cost more than it saves, so savings are only real when
//! weighed the way Anthropic bills them: cache reads ×0.1, cache writes ×1.25, the rest ×1.

use std::collections::HashSet;

use serde_json::Value;

/// Cache-order segments of a Messages request (tools, then system, then each message block),
/// each with whether it carries a breakpoint. `cache_control` itself is not content: stripped.
pub fn segments(body: &Value) -> Vec<(String, bool)> {
    let strip = |v: &Value| -> (String, bool) {
        let mut v = v.clone();
        let marked = v
            .as_object_mut()
            .and_then(|o| o.remove("cache_control"))
            .is_some();
        (v.to_string(), marked)
    };
    let mut out = Vec::new();
    for t in body["tools"].as_array().into_iter().flatten() {
        out.push(strip(t));
    }
    match &body["system"] {
        Value::String(s) => out.push((s.clone(), false)),
        system => {
            for s in system.as_array().into_iter().flatten() {
                out.push(strip(s));
            }
        }
    }
    for m in body["messages"].as_array().into_iter().flatten() {
        out.push((format!("<{}>", m["role"]), false));
        match &m["content"] {
            Value::String(s) => out.push((s.clone(), false)),
            content => {
                for b in content.as_array().into_iter().flatten() {
                    out.push(strip(b));
                }
            }
        }
    }
    out
}

/// What a sequence of requests costs under Anthropic's prefix cache, in byte-units.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CacheCost {
    /// Bytes read from the cache (billed ×0.1).
    pub read: u64,
    /// Bytes written to the cache (billed ×1.25).
    pub written: u64,
    /// Bytes billed at the full input price.
    pub uncached: u64,
}

impl CacheCost {
    /// The billed total, in full-price byte-units.
    pub fn weighted(&self) -> f64 {
        self.read as f64 * 0.1 + self.written as f64 * 1.25 + self.uncached as f64
    }

    /// Every input byte sent, whatever its price.
    pub fn total(&self) -> u64 {
        self.read + self.written + self.uncached
    }
}

/// Replay `bodies` (in order) against one cache: a request reads the longest cached prefix
/// ending at a block boundary, writes up to its last breakpoint, and pays full price for the
/// rest; what it wrote is cached for the requests after it.
pub fn anthropic_cost(bodies: &[Value]) -> CacheCost {
    let mut cache: HashSet<String> = HashSet::new();
    let mut cost = CacheCost::default();
    for body in bodies {
        let mut prefix = String::new();
        let mut hit = 0usize;
        let mut last_breakpoint = 0usize;
        let mut written = Vec::new();
        for (seg, marked) in segments(body) {
            prefix.push_str(&seg);
            if cache.contains(&prefix) {
                hit = prefix.len();
            }
            if marked {
                last_breakpoint = prefix.len();
                written.push(prefix.clone());
            }
        }
        let total = prefix.len();
        cost.read += hit as u64;
        cost.written += last_breakpoint.saturating_sub(hit) as u64;
        cost.uncached += (total - hit.max(last_breakpoint)) as u64;
        cache.extend(written);
    }
    cost
}

/// Segments of an OpenAI Responses request in prompt order: tools, instructions, then each
/// input item.
fn openai_segments(body: &Value) -> Vec<String> {
    let mut out: Vec<String> = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(Value::to_string)
        .collect();
    if let Some(i) = body["instructions"].as_str() {
        out.push(i.to_owned());
    }
    match &body["input"] {
        Value::String(s) => out.push(s.clone()),
        input => out.extend(input.as_array().into_iter().flatten().map(Value::to_string)),
    }
    out
}

/// OpenAI's automatic prefix caching: each request reads the longest prefix (at an item
/// boundary) that an earlier request already sent, billed ×0.1 with no write premium, and pays
/// full price for the rest.
pub fn openai_cost(bodies: &[Value]) -> CacheCost {
    let mut seen: HashSet<String> = HashSet::new();
    let mut cost = CacheCost::default();
    for body in bodies {
        let mut prefix = String::new();
        let mut hit = 0usize;
        let mut prefixes = Vec::new();
        for seg in openai_segments(body) {
            prefix.push_str(&seg);
            prefix.push('\u{1e}');
            if seen.contains(&prefix) {
                hit = prefix.len();
            }
            prefixes.push(prefix.clone());
        }
        cost.read += hit as u64;
        cost.uncached += (prefix.len() - hit) as u64;
        seen.extend(prefixes);
    }
    cost
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(outputs: &[&str]) -> Value {
        let mut messages = Vec::new();
        for (i, o) in outputs.iter().enumerate() {
            let mut block =
                json!({"type": "tool_result", "tool_use_id": format!("t{i}"), "content": o});
            if i + 1 == outputs.len() {
                block["cache_control"] = json!({"type": "ephemeral"});
            }
            messages.push(json!({"role": "user", "content": [block]}));
        }
        json!({"tools": [{"name": "Bash"}], "system": [{"type": "text", "text": "sys"}], "messages": messages})
    }

    #[test]
    fn a_stable_prefix_is_read_and_a_changed_one_is_written_again() {
        let big = "x".repeat(10_000);
        let stable = anthropic_cost(&[req(&[&big]), req(&[&big, "y"])]);
        assert!(stable.read >= 10_000, "{stable:?}");
        let changed = anthropic_cost(&[req(&[&big]), req(&["short", "y"])]);
        assert_eq!(changed.read, 0, "{changed:?}");
        assert!(stable.weighted() < changed.weighted() + big.len() as f64);
    }
}
