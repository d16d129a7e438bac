//! Minimal-splice editing of JSON and JSONC files. Tools' settings files are hand-edited: key
//! order, indentation and (in JSONC) comments are the user's. We parse to find byte spans, then
//! insert or replace the smallest span, so everything we did not mean to change stays
//! byte-identical and `remove` can splice it back out.

use serde_json::Value;

/// A parsed JSON value with its byte span in the source.
#[derive(Debug, Clone)]
pub enum Node {
    Object {
        start: usize,
        end: usize,
        members: Vec<Member>,
    },
    Array {
        start: usize,
        end: usize,
    },
    Scalar {
        start: usize,
        end: usize,
    },
}

#[derive(Debug, Clone)]
pub struct Member {
    pub key: String,
    pub key_start: usize,
    pub value: Node,
}

impl Node {
    pub fn span(&self) -> (usize, usize) {
        match self {
            Node::Object { start, end, .. }
            | Node::Array { start, end }
            | Node::Scalar { start, end } => (*start, *end),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

/// Parse `text` (JSON with optional comments and trailing commas). The error names the line.
pub fn parse(text: &str) -> Result<Node, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    if p.s.starts_with(b"\xEF\xBB\xBF") {
        p.i = 3;
    }
    p.ws()?;
    let node = p.value()?;
    p.ws()?;
    if p.i != p.s.len() {
        return Err(p.err("unexpected content after the JSON value"));
    }
    // Cross-check with a strict parser on a comment-free copy so we never accept what JSON
    // readers reject (bad escapes, numbers…).
    let stripped = strip_comments(text);
    serde_json::from_str::<Value>(&stripped).map_err(|e| e.to_string())?;
    Ok(node)
}

impl Parser<'_> {
    fn err(&self, msg: &str) -> String {
        let line = self.s[..self.i.min(self.s.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        format!("{msg} at line {line}")
    }

    fn ws(&mut self) -> Result<(), String> {
        loop {
            match self.s.get(self.i) {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.i += 1,
                Some(b'/') if self.s.get(self.i + 1) == Some(&b'/') => {
                    while self.i < self.s.len() && self.s[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                Some(b'/') if self.s.get(self.i + 1) == Some(&b'*') => {
                    self.i += 2;
                    loop {
                        if self.i + 1 >= self.s.len() {
                            return Err(self.err("unterminated comment"));
                        }
                        if self.s[self.i] == b'*' && self.s[self.i + 1] == b'/' {
                            self.i += 2;
                            break;
                        }
                        self.i += 1;
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self) -> Result<Node, String> {
        match self.s.get(self.i) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => {
                let start = self.i;
                self.string()?;
                Ok(Node::Scalar { start, end: self.i })
            }
            Some(_) => {
                let start = self.i;
                while let Some(&b) = self.s.get(self.i) {
                    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.') {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                if start == self.i {
                    return Err(self.err("expected a JSON value"));
                }
                Ok(Node::Scalar { start, end: self.i })
            }
            None => Err(self.err("unexpected end of file")),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let start = self.i;
        self.i += 1;
        while let Some(&b) = self.s.get(self.i) {
            match b {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    let raw = std::str::from_utf8(&self.s[start..self.i])
                        .map_err(|_| self.err("invalid UTF-8"))?;
                    return serde_json::from_str::<String>(raw)
                        .map_err(|_| self.err("invalid string"));
                }
                b'\n' => return Err(self.err("newline in string")),
                _ => self.i += 1,
            }
        }
        Err(self.err("unterminated string"))
    }

    fn object(&mut self) -> Result<Node, String> {
        let start = self.i;
        self.i += 1;
        let mut members = Vec::new();
        loop {
            self.ws()?;
            match self.s.get(self.i) {
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Node::Object {
                        start,
                        end: self.i,
                        members,
                    });
                }
                Some(b'"') => {
                    let key_start = self.i;
                    let key = self.string()?;
                    self.ws()?;
                    if self.s.get(self.i) != Some(&b':') {
                        return Err(self.err("expected ':'"));
                    }
                    self.i += 1;
                    self.ws()?;
                    let value = self.value()?;
                    members.push(Member {
                        key,
                        key_start,
                        value,
                    });
                    self.ws()?;
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {}
                        _ => return Err(self.err("expected ',' or '}'")),
                    }
                }
                _ => return Err(self.err("expected a key or '}'")),
            }
        }
    }

    fn array(&mut self) -> Result<Node, String> {
        let start = self.i;
        self.i += 1;
        loop {
            self.ws()?;
            match self.s.get(self.i) {
                Some(b']') => {
                    self.i += 1;
                    return Ok(Node::Array { start, end: self.i });
                }
                Some(_) => {
                    self.value()?;
                    self.ws()?;
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {}
                        _ => return Err(self.err("expected ',' or ']'")),
                    }
                }
                None => return Err(self.err("unexpected end of file")),
            }
        }
    }
}

/// Replace comments by spaces and drop trailing commas, keeping byte offsets of everything else.
pub fn strip_comments(text: &str) -> String {
    let s = text.as_bytes();
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    let mut in_str = false;
    while i < s.len() {
        let b = s[i];
        if in_str {
            out.push(b);
            if b == b'\\' && i + 1 < s.len() {
                out.push(s[i + 1]);
                i += 2;
                continue;
            }
            if b == b'"' {
                in_str = false;
            }
            i += 1;
        } else if b == b'"' {
            in_str = true;
            out.push(b);
            i += 1;
        } else if b == b'/' && s.get(i + 1) == Some(&b'/') {
            while i < s.len() && s[i] != b'\n' {
                out.push(b' ');
                i += 1;
            }
        } else if b == b'/' && s.get(i + 1) == Some(&b'*') {
            while i < s.len() && !(s[i] == b'*' && s.get(i + 1) == Some(&b'/')) {
                out.push(if s[i] == b'\n' { b'\n' } else { b' ' });
                i += 1;
            }
            out.extend_from_slice(b"  ");
            i += 2;
        } else {
            out.push(b);
            i += 1;
        }
    }
    // Trailing commas: a ',' followed only by whitespace before '}' or ']'.
    let mut j = 0;
    let mut in_str = false;
    while j < out.len() {
        let b = out[j];
        if in_str {
            if b == b'\\' {
                j += 2;
                continue;
            }
            if b == b'"' {
                in_str = false;
            }
        } else if b == b'"' {
            in_str = true;
        } else if b == b',' {
            let mut k = j + 1;
            while k < out.len() && out[k].is_ascii_whitespace() {
                k += 1;
            }
            if k < out.len() && (out[k] == b'}' || out[k] == b']') {
                out[j] = b' ';
            }
        }
        j += 1;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The node at `path` (object keys only), if present.
pub fn find<'n>(root: &'n Node, path: &[&str]) -> Option<&'n Node> {
    let mut cur = root;
    for key in path {
        match cur {
            Node::Object { members, .. } => {
                cur = &members.iter().rev().find(|m| m.key == *key)?.value;
            }
            _ => return None,
        }
    }
    Some(cur)
}

/// The raw source text of the value at `path`.
pub fn get_raw(text: &str, path: &[&str]) -> Result<Option<String>, String> {
    let root = parse(text)?;
    Ok(find(&root, path).map(|n| {
        let (s, e) = n.span();
        text[s..e].to_owned()
    }))
}

fn line_start(text: &str, pos: usize) -> usize {
    text[..pos].rfind('\n').map(|i| i + 1).unwrap_or(0)
}

fn indent_of_line(text: &str, pos: usize) -> String {
    let ls = line_start(text, pos);
    text[ls..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

/// The file's indentation unit, guessed from the root object's first member.
fn indent_unit(text: &str, root: &Node) -> String {
    if let Node::Object { members, .. } = root {
        if let Some(m) = members.first() {
            let ind = indent_of_line(text, m.key_start);
            let ls = line_start(text, m.key_start);
            if !ind.is_empty() && ls + ind.len() == m.key_start {
                return ind;
            }
        }
    }
    "  ".to_owned()
}

/// Pretty-print `value` for insertion at `indent`, one level of `unit` per nesting level.
fn render_value(value: &Value, indent: &str, unit: &str, eol: &str) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(unit.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    // Serialising a serde_json::Value into a Vec cannot fail.
    let _ = serde::Serialize::serialize(value, &mut ser);
    let s = String::from_utf8(buf).unwrap_or_default();
    s.replace('\n', &format!("{eol}{indent}"))
}

/// Set the value at `path` to `value`, creating missing objects on the way. Existing values are
/// replaced in place; new members are appended to their object in the file's own style.
pub fn set(text: &str, path: &[&str], value: &Value) -> Result<String, String> {
    let eol = crate::fsx::line_ending(text);
    if text.trim().is_empty() {
        let mut nested = value.clone();
        for key in path.iter().rev() {
            let mut map = serde_json::Map::new();
            map.insert((*key).to_owned(), nested);
            nested = Value::Object(map);
        }
        return Ok(format!("{}{eol}", render_value(&nested, "", "  ", eol)));
    }
    let root = parse(text)?;
    let unit = indent_unit(text, &root);
    // Walk down as far as the path exists.
    let mut cur = &root;
    let mut depth = 0;
    while depth < path.len() {
        match cur {
            Node::Object { members, .. } => {
                match members.iter().rev().find(|m| m.key == path[depth]) {
                    Some(m) => {
                        cur = &m.value;
                        depth += 1;
                    }
                    None => break,
                }
            }
            _ => return Err(format!("`{}` is not an object", path[..depth].join("."))),
        }
    }
    if depth == path.len() {
        let (s, e) = cur.span();
        let ind = indent_of_line(text, s);
        let rendered = render_value(value, &ind, &unit, eol);
        return Ok(format!("{}{}{}", &text[..s], rendered, &text[e..]));
    }
    let Node::Object {
        start,
        end,
        members,
    } = cur
    else {
        return Err(format!("`{}` is not an object", path[..depth].join(".")));
    };
    // Build the remaining nesting as one new member.
    let mut nested = value.clone();
    for key in path[depth + 1..].iter().rev() {
        let mut map = serde_json::Map::new();
        map.insert((*key).to_owned(), nested);
        nested = Value::Object(map);
    }
    let key_json = serde_json::to_string(path[depth]).unwrap_or_default();
    match members.last() {
        Some(last) => {
            let ind = indent_of_line(text, last.key_start);
            let same_line = line_start(text, last.key_start) + ind.len() != last.key_start;
            let (_, vend) = last.value.span();
            // Is there already a comma after the last value?
            let after = &text[vend..*end - 1];
            let comma_rel = after
                .char_indices()
                .find(|(_, c)| !c.is_whitespace())
                .filter(|(_, c)| *c == ',')
                .map(|(i, _)| i);
            if same_line {
                // Compact object: `{"a": 1}` → `{"a": 1, "k": v}`.
                let rendered = render_value(&nested, "", "", "");
                let ins = match comma_rel {
                    Some(i) => vend + i + 1,
                    None => vend,
                };
                let prefix = if comma_rel.is_some() { " " } else { ", " };
                let suffix = if comma_rel.is_some() { "," } else { "" };
                return Ok(format!(
                    "{}{prefix}{key_json}: {rendered}{suffix}{}",
                    &text[..ins],
                    &text[ins..]
                ));
            }
            let rendered = render_value(&nested, &ind, &unit, eol);
            // Insert at the end of the last member's line (after any trailing comment).
            let search_from = match comma_rel {
                Some(i) => vend + i + 1,
                None => vend,
            };
            let line_end = text[search_from..]
                .find('\n')
                .map(|i| search_from + i)
                .unwrap_or(text.len());
            let line_end = if text[..line_end].ends_with('\r') {
                line_end - 1
            } else {
                line_end
            };
            let rest_of_line = &text[search_from..line_end];
            let rest = rest_of_line.trim();
            let rest_is_trivia = rest.is_empty()
                || rest.starts_with("//")
                || (rest.starts_with("/*")
                    && rest.ends_with("*/")
                    && rest.matches("*/").count() == 1);
            let ins = if rest_is_trivia && line_end < *end {
                line_end
            } else {
                search_from
            };
            let member = format!("{eol}{ind}{key_json}: {rendered}");
            Ok(match comma_rel {
                Some(_) => format!("{}{member},{}", &text[..ins], &text[ins..]),
                None => format!(
                    "{},{}{member}{}",
                    &text[..vend],
                    &text[vend..ins],
                    &text[ins..]
                ),
            })
        }
        None => {
            let close_ind = indent_of_line(text, *start);
            let ind = format!("{close_ind}{unit}");
            let rendered = render_value(&nested, &ind, &unit, eol);
            let inner = &text[start + 1..end - 1];
            if inner.trim().is_empty() {
                Ok(format!(
                    "{}{eol}{ind}{key_json}: {rendered}{eol}{close_ind}{}",
                    &text[..start + 1],
                    &text[end - 1..]
                ))
            } else {
                Ok(format!(
                    "{}{eol}{ind}{key_json}: {rendered}{}",
                    &text[..start + 1],
                    &text[start + 1..]
                ))
            }
        }
    }
}

/// Remove the member at `path` (and its comma and its line when it sits alone on one).
/// Missing paths are left alone.
pub fn remove(text: &str, path: &[&str]) -> Result<String, String> {
    let root = parse(text)?;
    let Some((last_key, parent_path)) = path.split_last() else {
        return Ok(text.to_owned());
    };
    let Some(Node::Object { end, members, .. }) = find(&root, parent_path) else {
        return Ok(text.to_owned());
    };
    let Some(idx) = members.iter().rposition(|m| m.key == *last_key) else {
        return Ok(text.to_owned());
    };
    let m = &members[idx];
    let (_, vend) = m.value.span();
    let mut s = m.key_start;
    let mut e = vend;
    // Swallow our trailing comma if any.
    let after = &text[vend..end - 1];
    if let Some((i, ',')) = after.char_indices().find(|(_, c)| !c.is_whitespace()) {
        e = vend + i + 1;
    } else if idx > 0 {
        // Last member: drop the comma that separated us from the previous member.
        let (_, prev_end) = members[idx - 1].value.span();
        let between = &text[prev_end..s];
        if let Some(ci) = between.find(',') {
            let only_ws_after_comma = between[ci + 1..].trim().is_empty();
            if only_ws_after_comma {
                s = prev_end + ci;
                // Keep the line layout: remove from the comma to the end of our value.
                return Ok(format!("{}{}", &text[..s], &text[e..]));
            }
            // Comments between: remove the comma, and our member with its own line.
            let ls = line_start(text, s);
            let mut cut = s;
            if ls > prev_end + ci && text[ls..s].trim().is_empty() {
                cut = ls - 1;
                if cut > 0 && text.as_bytes()[cut - 1] == b'\r' {
                    cut -= 1;
                }
            }
            let mut out = String::new();
            out.push_str(&text[..prev_end + ci]);
            out.push_str(&text[prev_end + ci + 1..cut]);
            out.push_str(&text[e..]);
            return Ok(out);
        }
    }
    // Whole line?
    let ls = line_start(text, s);
    let le = text[e..].find('\n').map(|i| e + i + 1);
    if text[ls..s].trim().is_empty() {
        if let Some(le) = le {
            if text[e..le].trim().is_empty() {
                s = ls;
                e = le;
            }
        }
    } else {
        // Same line as something else: also eat one following space.
        if text[e..].starts_with(' ') {
            e += 1;
        }
    }
    Ok(format!("{}{}", &text[..s], &text[e..]))
}

/// Whether the object at `path` exists and has no members.
pub fn is_empty_object(text: &str, path: &[&str]) -> bool {
    parse(text)
        .ok()
        .and_then(|root| match find(&root, path) {
            Some(Node::Object { members, .. }) => Some(members.is_empty()),
            _ => None,
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_then_remove_round_trips_pretty_file() {
        let before = "{\n  \"model\": \"opus\",\n  \"env\": {\n    \"FOO\": \"1\"\n  }\n}\n";
        let after = set(before, &["env", "ANTHROPIC_BASE_URL"], &json!("http://x")).unwrap();
        assert_eq!(
            after,
            "{\n  \"model\": \"opus\",\n  \"env\": {\n    \"FOO\": \"1\",\n    \"ANTHROPIC_BASE_URL\": \"http://x\"\n  }\n}\n"
        );
        assert_eq!(
            remove(&after, &["env", "ANTHROPIC_BASE_URL"]).unwrap(),
            before
        );
    }

    #[test]
    fn creates_missing_parent_and_keeps_comments() {
        let before = "// my settings\n{\n  \"a\": 1 // keep\n}\n";
        let after = set(before, &["env", "K"], &json!("v")).unwrap();
        assert_eq!(
            after,
            "// my settings\n{\n  \"a\": 1, // keep\n  \"env\": {\n    \"K\": \"v\"\n  }\n}\n"
        );
        assert_eq!(remove(&after, &["env"]).unwrap(), before);
    }

    #[test]
    fn replaces_existing_value_in_place() {
        let before = "{\"env\": {\"K\": \"old\", \"Z\": 1}}";
        let after = set(before, &["env", "K"], &json!("new")).unwrap();
        assert_eq!(after, "{\"env\": {\"K\": \"new\", \"Z\": 1}}");
    }

    #[test]
    fn empty_and_compact_objects() {
        assert_eq!(set("{}", &["a"], &json!(1)).unwrap(), "{\n  \"a\": 1\n}");
        assert_eq!(
            set("", &["a", "b"], &json!(1)).unwrap(),
            "{\n  \"a\": {\n    \"b\": 1\n  }\n}\n"
        );
        assert_eq!(
            set("{\"x\": 1}", &["a"], &json!(1)).unwrap(),
            "{\"x\": 1, \"a\": 1}"
        );
        assert_eq!(
            remove("{\"x\": 1, \"a\": 1}", &["a"]).unwrap(),
            "{\"x\": 1}"
        );
    }

    #[test]
    fn crlf_and_trailing_commas() {
        let before = "{\r\n  \"a\": 1,\r\n}\r\n";
        let after = set(before, &["b"], &json!(2)).unwrap();
        assert_eq!(after, "{\r\n  \"a\": 1,\r\n  \"b\": 2,\r\n}\r\n");
        assert_eq!(remove(&after, &["b"]).unwrap(), before);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("{\"a\": }").is_err());
        assert!(parse("{\"a\": 1} x").is_err());
        assert!(parse("[1, 2").is_err());
    }
}
