//! A small strict JSON parser that remembers the byte span of every value.
//!
//! Why not `serde_json::Value`: cache safety requires replacing only the bytes of the tool-output
//! strings and forwarding every other byte unchanged, so we need to know where each value sits in
//! the original buffer. The same parser reads JSON tool outputs, where raw spans let us copy
//! scalars verbatim (no float reformatting, no escape changes) into the compact table form.
//!
//! Strictness matters: if this parser accepted a body the provider would reject, we could turn a
//! clear upstream 400 into something confusing; so it follows RFC 8259 (no trailing commas,
//! no comments, no leading zeros, control characters must be escaped) and refuses anything else.

use std::ops::Range;

/// Nesting deeper than this is refused (keeps recursion bounded for hostile input).
const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone)]
pub struct Node {
    /// Byte span of the whole value in the source buffer (for strings: including the quotes).
    pub span: Range<usize>,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Null,
    Bool(bool),
    Number,
    /// `escaped` is true when the raw text contains a backslash escape.
    Str {
        escaped: bool,
    },
    Array(Vec<Node>),
    Object(Vec<(Key, Node)>),
}

/// An object key: the span of its text (without quotes) and whether it has escapes. Keys are
/// not decoded up front: almost none have escapes, and allocating a `String` per key is the
/// biggest cost of parsing a large array of objects.
#[derive(Debug, Clone)]
pub struct Key {
    pub span: Range<usize>,
    pub escaped: bool,
}

impl Key {
    pub fn text<'a>(&self, src: &'a [u8]) -> std::borrow::Cow<'a, str> {
        let inner = &src[self.span.clone()];
        if self.escaped {
            std::borrow::Cow::Owned(decode_str(inner).unwrap_or_default())
        } else {
            // The document was validated as UTF-8 before parsing and the span sits between
            // two ASCII quotes, so it is a char boundary on both sides.
            std::borrow::Cow::Borrowed(std::str::from_utf8(inner).unwrap_or_default())
        }
    }

    pub fn is(&self, src: &[u8], name: &str) -> bool {
        if self.escaped {
            decode_str(&src[self.span.clone()]).is_some_and(|k| k == name)
        } else {
            &src[self.span.clone()] == name.as_bytes()
        }
    }
}

impl Node {
    /// Member `key` of an object (needs the source to compare keys).
    pub fn get_in<'n>(&'n self, src: &[u8], key: &str) -> Option<&'n Node> {
        match &self.kind {
            Kind::Object(members) => members.iter().find(|(k, _)| k.is(src, key)).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            Kind::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_str(&self) -> bool {
        matches!(self.kind, Kind::Str { .. })
    }

    /// Decoded string value, if this node is a string.
    pub fn str_value(&self, src: &[u8]) -> Option<String> {
        match self.kind {
            Kind::Str { escaped } => {
                let inner = &src[self.span.start + 1..self.span.end - 1];
                if escaped {
                    decode_str(inner)
                } else {
                    // The document was validated as UTF-8 before parsing.
                    std::str::from_utf8(inner).ok().map(str::to_owned)
                }
            }
            _ => None,
        }
    }

    /// True if this is the JSON literal `true`.
    pub fn is_true(&self) -> bool {
        matches!(self.kind, Kind::Bool(true))
    }

    pub fn raw<'a>(&self, src: &'a [u8]) -> &'a [u8] {
        &src[self.span.clone()]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError;

/// Parse a complete JSON document (surrounding whitespace allowed, nothing else).
pub fn parse(src: &[u8]) -> Result<Node, ParseError> {
    let text = std::str::from_utf8(src).map_err(|_| ParseError)?;
    parse_str(text)
}

/// [`parse`] for text already known to be UTF-8.
pub fn parse_str(text: &str) -> Result<Node, ParseError> {
    let src = text.as_bytes();
    let mut p = Parser { src, pos: 0 };
    p.ws();
    let node = p.value(0)?;
    p.ws();
    if p.pos != src.len() {
        return Err(ParseError);
    }
    Ok(node)
}

struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&b) = self.src.get(self.pos) {
            if b == b' ' || b == b'\n' || b == b'\r' || b == b'\t' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Node, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError);
        }
        let start = self.pos;
        match self.peek().ok_or(ParseError)? {
            b'{' => {
                self.pos += 1;
                let mut members = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        self.ws();
                        let kstart = self.pos;
                        let escaped = self.string()?;
                        let key = Key {
                            span: kstart + 1..self.pos - 1,
                            escaped,
                        };
                        self.ws();
                        if self.peek() != Some(b':') {
                            return Err(ParseError);
                        }
                        self.pos += 1;
                        self.ws();
                        let v = self.value(depth + 1)?;
                        members.push((key, v));
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b'}') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(ParseError),
                        }
                    }
                }
                Ok(Node {
                    span: start..self.pos,
                    kind: Kind::Object(members),
                })
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        self.ws();
                        items.push(self.value(depth + 1)?);
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(ParseError),
                        }
                    }
                }
                Ok(Node {
                    span: start..self.pos,
                    kind: Kind::Array(items),
                })
            }
            b'"' => {
                let escaped = self.string()?;
                Ok(Node {
                    span: start..self.pos,
                    kind: Kind::Str { escaped },
                })
            }
            b't' => self.literal(b"true", Kind::Bool(true)),
            b'f' => self.literal(b"false", Kind::Bool(false)),
            b'n' => self.literal(b"null", Kind::Null),
            b'-' | b'0'..=b'9' => {
                self.number()?;
                Ok(Node {
                    span: start..self.pos,
                    kind: Kind::Number,
                })
            }
            _ => Err(ParseError),
        }
    }

    fn literal(&mut self, lit: &[u8], kind: Kind) -> Result<Node, ParseError> {
        let start = self.pos;
        if self.src[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            Ok(Node {
                span: start..self.pos,
                kind,
            })
        } else {
            Err(ParseError)
        }
    }

    fn digits(&mut self) -> usize {
        let s = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - s
    }

    fn number(&mut self) -> Result<(), ParseError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(ParseError),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(ParseError);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(ParseError);
            }
        }
        Ok(())
    }

    /// Consume a string starting at `"`; returns whether it contained escapes.
    fn string(&mut self) -> Result<bool, ParseError> {
        if self.peek() != Some(b'"') {
            return Err(ParseError);
        }
        self.pos += 1;
        let mut escaped = false;
        loop {
            let rest = &self.src[self.pos..];
            let i = memchr::memchr3(b'"', b'\\', b'\n', rest).ok_or(ParseError)?;
            // Raw control characters are invalid inside strings. A branch-free fold so the
            // compiler can vectorise the scan of the chunk memchr skipped.
            if rest[..i].iter().fold(false, |acc, &b| acc | (b < 0x20)) {
                return Err(ParseError);
            }
            self.pos += i;
            match rest[i] {
                b'"' => {
                    // UTF-8 was validated for the whole document up front; escapes were
                    // checked for syntax above (lone surrogates fail later, when decoded).
                    self.pos += 1;
                    return Ok(escaped);
                }
                b'\\' => {
                    escaped = true;
                    match self.src.get(self.pos + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 2
                        }
                        Some(b'u') => {
                            let hex = self.src.get(self.pos + 2..self.pos + 6).ok_or(ParseError)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(ParseError);
                            }
                            self.pos += 6;
                        }
                        _ => return Err(ParseError),
                    }
                }
                _ => return Err(ParseError), // raw newline inside a string
            }
        }
    }
}

fn hex4(b: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(b.get(..4)?).ok()?;
    u32::from_str_radix(s, 16).ok()
}

/// Decode the inside of a JSON string literal (without quotes). `None` if invalid, including
/// invalid UTF-8 and lone surrogates (which cannot be represented in a Rust `String`).
pub fn decode_str(inner: &[u8]) -> Option<String> {
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let Some(j) = memchr::memchr(b'\\', &inner[i..]) else {
            out.extend_from_slice(&inner[i..]);
            break;
        };
        out.extend_from_slice(&inner[i..i + j]);
        i += j;
        let esc = *inner.get(i + 1)?;
        i += 2;
        match esc {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let hi = hex4(inner.get(i..)?)?;
                i += 4;
                let cp = if (0xD800..0xDC00).contains(&hi) {
                    if inner.get(i) != Some(&b'\\') || inner.get(i + 1) != Some(&b'u') {
                        return None;
                    }
                    let lo = hex4(inner.get(i + 2..)?)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00..0xE000).contains(&hi) {
                    return None;
                } else {
                    hi
                };
                let c = char::from_u32(cp)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// Encode `s` as a JSON string literal (with quotes), escaping only what JSON requires so the
/// output is as small as possible and deterministic.
pub fn encode_str(s: &str, out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&bytes[last..i]);
                out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
                last = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[last..i]);
        out.extend_from_slice(esc);
        last = i + 1;
    }
    out.extend_from_slice(&bytes[last..]);
    out.push(b'"');
}

/// Copy a JSON value's raw text without insignificant whitespace (lossless minification).
pub fn minify_into(raw: &[u8], out: &mut Vec<u8>) {
    let mut in_str = false;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if in_str {
            out.push(b);
            if b == b'\\' {
                if let Some(&n) = raw.get(i + 1) {
                    out.push(n);
                }
                i += 2;
                continue;
            }
            if b == b'"' {
                in_str = false;
            }
        } else if b == b'"' {
            in_str = true;
            out.push(b);
        } else if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            out.push(b);
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_values() {
        let src = br#" {"a": [1, "x\n", {"b": null}], "c": true} "#;
        let n = parse(src).unwrap();
        let a = n.get_in(src, "a").unwrap();
        assert_eq!(a.raw(src), br#"[1, "x\n", {"b": null}]"#);
        let items = a.as_array().unwrap();
        assert_eq!(items[1].str_value(src).unwrap(), "x\n");
        assert!(n.get_in(src, "c").unwrap().is_true());
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            &b"{"[..],
            b"[1,]",
            b"{\"a\":1,}",
            b"01",
            b"\"\\x\"",
            b"\"a\nb\"",
            b"[1] x",
            b"1.",
            b"nul",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn encode_decode_roundtrip() {
        for s in ["", "plain", "q\"b\\s\n\t\r\u{1}\u{8}é😀", "\u{7f}/"] {
            let mut out = Vec::new();
            encode_str(s, &mut out);
            let back: String = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, s);
            assert_eq!(decode_str(&out[1..out.len() - 1]).unwrap(), s);
        }
        assert_eq!(decode_str(br"\ud83d\ude00").unwrap(), "😀");
    }

    #[test]
    fn minify_keeps_strings() {
        let mut out = Vec::new();
        minify_into(br#"{ "a b" : [ 1 , "c \" d" ] }"#, &mut out);
        assert_eq!(out, br#"{"a b":[1,"c \" d"]}"#);
    }
}
