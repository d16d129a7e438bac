//! Lockfiles printed through a shell (`cat Cargo.lock`, `poetry.lock`, `uv.lock`, `go.sum`,
//! `yarn.lock`).
//!
//! Why lossy: a lockfile is generated data the agent does not edit by hand; what it asks of
//! one is *which packages, at which versions, depending on what*. Checksums, integrity hashes,
//! download URLs and the same `source = "registry+…"` on every package are most of its bytes
//! and none of those answers, so each package becomes one line `name version: deps` and the
//! rest is retrievable through the marker. Only outputs that reach the router are touched: a
//! `Read` of a lockfile (the agent may be about to edit it) is a protected tool output and
//! never gets here.

use crate::router::Ctx;

/// What kind of lockfile `t` is, if it is one.
pub fn detect(t: &str) -> Option<Kind> {
    let cut = (0..=t.len().min(4000))
        .rev()
        .find(|&i| t.is_char_boundary(i))
        .unwrap_or(0);
    let head = &t[..cut];
    if head.contains("# yarn lockfile v1") {
        return Some(Kind::Yarn);
    }
    // SIMD search, stopping at the third table: this runs on every line-based output.
    let packages = memchr::memmem::find_iter(t.as_bytes(), b"\n[[package]]\n")
        .take(3)
        .count()
        + usize::from(t.starts_with("[[package]]\n"));
    if packages >= 3 && t.contains("\nname = \"") && t.contains("\nversion = \"") {
        return Some(Kind::Toml);
    }
    // go.sum: `module version[/go.mod] h1:base64=` on every line.
    let mut lines = 0;
    for l in t.lines().filter(|l| !l.is_empty()).take(50) {
        let mut f = l.split(' ');
        let ok = matches!((f.next(), f.next(), f.next(), f.next()),
            (Some(m), Some(v), Some(h), None) if !m.is_empty() && v.starts_with('v') && h.starts_with("h1:"));
        if !ok {
            return None;
        }
        lines += 1;
    }
    (lines >= 5).then_some(Kind::GoSum)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `[[package]]` tables: Cargo.lock, poetry.lock, uv.lock.
    Toml,
    /// `go.sum`.
    GoSum,
    /// yarn v1 `yarn.lock`.
    Yarn,
}

pub fn compress(t: &str, kind: Kind, ctx: &Ctx<'_>) -> Option<String> {
    if !ctx.options.lossy {
        return None;
    }
    let (legend, body) = match kind {
        Kind::Toml => (
            "lockfile: one line per [[package]], \"name version: dependencies\" (non-registry sources in parentheses); checksums, hashes, registry sources, file lists and metadata dropped",
            toml(t),
        ),
        Kind::GoSum => (
            "go.sum: one line per module, \"module version, …\"; the h1: hashes and /go.mod lines dropped",
            go_sum(t),
        ),
        Kind::Yarn => (
            "yarn.lock: one line per entry, \"specs -> version: dependencies\"; resolved URLs and integrity hashes dropped",
            yarn(t),
        ),
    };
    let mut out = String::with_capacity(body.len() + 200);
    out.push_str(&ctx.marker(legend));
    out.push('\n');
    out.push_str(&body);
    Some(out)
}

/// A `package-lock.json` / `npm-shrinkwrap.json` with a `packages` map (lockfileVersion ≥ 2).
pub fn is_package_lock(t: &str, root: &crate::json::Node) -> bool {
    let src = t.as_bytes();
    root.get_in(src, "lockfileVersion").is_some()
        && root
            .get_in(src, "packages")
            .and_then(|p| p.as_object())
            .is_some_and(|p| p.len() >= 3)
}

/// `package-lock.json` / `npm-shrinkwrap.json` (lockfileVersion 2 and 3: a `packages` map from
/// install path to package): one line per package, `path version [dev|optional]: deps`, with
/// the leading `node_modules/` left off the path. The root package (`""`) keeps its declared
/// ranges; `resolved`, `integrity`, `license`, `engines`, `bin`, `funding` are dropped.
pub fn package_lock(t: &str, root: &crate::json::Node, ctx: &Ctx<'_>) -> Option<String> {
    if !ctx.options.lossy {
        return None;
    }
    let src = t.as_bytes();
    root.get_in(src, "lockfileVersion")?;
    let packages = root.get_in(src, "packages")?.as_object()?;
    if packages.len() < 3 {
        return None;
    }
    let mut out = String::with_capacity(t.len() / 4);
    out.push_str(&ctx.marker(
        "package-lock.json: the top-level members, then one line per \"packages\" entry, \"path version [dev|optional]: dependencies\" (path without the leading node_modules/; the root \"\" with its declared ranges); resolved URLs, integrity hashes, licenses, engines and bins dropped",
    ));
    out.push('\n');
    // Top-level members other than the maps, minified.
    let mut head = Vec::new();
    head.push(b'{');
    for (k, v) in root.as_object()? {
        if k.is(src, "packages") || k.is(src, "dependencies") {
            continue;
        }
        if head.len() > 1 {
            head.push(b',');
        }
        crate::json::minify_into(&src[k.span.start - 1..k.span.end + 1], &mut head);
        head.push(b':');
        crate::json::minify_into(v.raw(src), &mut head);
    }
    head.push(b'}');
    out.push_str(&String::from_utf8_lossy(&head));
    out.push('\n');
    for (k, v) in packages {
        let path = k.text(src);
        let path = path.strip_prefix("node_modules/").unwrap_or(&path);
        out.push_str(if path.is_empty() { "\"\"" } else { path });
        let str_of = |name: &str| v.get_in(src, name).and_then(|n| n.str_value(src));
        if let Some(ver) = str_of("version") {
            out.push(' ');
            out.push_str(&ver);
        }
        if let Some(name) = str_of("name").filter(|n| *n != path) {
            out.push_str(&format!(" (name {name})"));
        }
        for flag in ["dev", "optional", "devOptional", "peer", "link"] {
            if v.get_in(src, flag).is_some_and(|n| n.is_true()) {
                out.push(' ');
                out.push_str(flag);
            }
        }
        if let Some(r) = str_of("resolved").filter(|_| v.get_in(src, "link").is_some()) {
            out.push_str(" -> ");
            out.push_str(&r);
        }
        let mut sep = ": ";
        for group in [
            "dependencies",
            "devDependencies",
            "optionalDependencies",
            "peerDependencies",
        ] {
            let Some(deps) = v.get_in(src, group).and_then(|d| d.as_object()) else {
                continue;
            };
            if group != "dependencies" && !deps.is_empty() {
                out.push_str(sep);
                out.push_str(group);
                sep = " ";
            }
            for (dk, dv) in deps {
                out.push_str(sep);
                sep = ", ";
                out.push_str(&dk.text(src));
                if path.is_empty() {
                    if let Some(range) = dv.str_value(src) {
                        out.push('@');
                        out.push_str(&range);
                    }
                }
            }
            sep = "; ";
        }
        out.push('\n');
    }
    Some(out)
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

/// A long run of hex digits or a `sha256:`/`sha512-` value: a hash.
fn has_hash(l: &str) -> bool {
    if l.contains("sha256:") || l.contains("sha512-") || l.contains("sha1-") {
        return true;
    }
    let mut run = 0;
    for b in l.bytes() {
        if b.is_ascii_hexdigit() {
            run += 1;
            if run >= 40 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

#[derive(Default)]
struct Pkg {
    name: String,
    version: String,
    source: String,
    deps: Vec<String>,
}

impl Pkg {
    fn write(&self, out: &mut String) {
        if self.name.is_empty() {
            return;
        }
        out.push_str(&self.name);
        if !self.version.is_empty() {
            out.push(' ');
            out.push_str(&self.version);
        }
        if !self.source.is_empty() {
            out.push_str(" (");
            out.push_str(&self.source);
            out.push(')');
        }
        if !self.deps.is_empty() {
            out.push_str(": ");
            out.push_str(&self.deps.join(", "));
        }
        out.push('\n');
    }
}

/// Names in one dependency-array item: `"serde"`, `"windows-sys 0.52.0"` (Cargo) or
/// `{ name = "idna", marker = "…" }` (uv).
fn dep_item(item: &str, deps: &mut Vec<String>) {
    let item = item.trim().trim_end_matches(',').trim();
    if item.is_empty() || item == "[" || item == "]" {
        return;
    }
    if let Some(i) = item.find("name = \"") {
        let rest = &item[i + 8..];
        if let Some(end) = rest.find('"') {
            deps.push(rest[..end].to_owned());
        }
        return;
    }
    // Inline `["a", "b"]`.
    for part in item.trim_matches(['[', ']']).split(',') {
        let p = unquote(part);
        if !p.is_empty() {
            deps.push(p.to_owned());
        }
    }
}

#[derive(PartialEq)]
enum Sec {
    /// Before the first table, or a table that is not a package: kept (hash lines dropped).
    Verbatim,
    Package,
    /// `[package.dependencies]` (poetry): keys are dependency names.
    PackageDeps,
    /// Any other `[package.…]` subtable: dropped.
    Dropped,
}

fn toml(t: &str) -> String {
    let mut out = String::with_capacity(t.len() / 4);
    let mut sec = Sec::Verbatim;
    let mut pkg = Pkg::default();
    // Inside a multi-line array value: `Some(is_dependencies)`.
    let mut array: Option<bool> = None;
    for line in t.lines() {
        let trimmed = line.trim();
        if let Some(deps) = array {
            if trimmed == "]" {
                array = None;
            } else if deps {
                dep_item(trimmed, &mut pkg.deps);
            }
            continue;
        }
        if trimmed.starts_with('[') && trimmed.ends_with(']') && !trimmed.contains('=') {
            if trimmed == "[[package]]" {
                pkg.write(&mut out);
                pkg = Pkg::default();
                sec = Sec::Package;
            } else if trimmed.starts_with("[package.") || trimmed.starts_with("[[package.") {
                sec = if trimmed == "[package.dependencies]" {
                    Sec::PackageDeps
                } else {
                    Sec::Dropped
                };
            } else {
                pkg.write(&mut out);
                pkg = Pkg::default();
                sec = Sec::Verbatim;
                out.push_str(line);
                out.push('\n');
            }
            continue;
        }
        let kv = trimmed.split_once(" = ");
        let opens_array = kv.is_some_and(|(_, v)| {
            v.trim_start().starts_with('[') && v.matches('[').count() > v.matches(']').count()
        });
        match sec {
            Sec::Verbatim => {
                if opens_array {
                    array = Some(false);
                }
                if !has_hash(line) {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            Sec::Dropped => {
                if opens_array {
                    array = Some(false);
                }
            }
            Sec::PackageDeps => {
                if let Some((k, _)) = kv {
                    pkg.deps.push(unquote(k).to_owned());
                }
                if opens_array {
                    array = Some(false);
                }
            }
            Sec::Package => {
                let Some((k, v)) = kv else { continue };
                match k.trim() {
                    "name" => pkg.name = unquote(v).to_owned(),
                    "version" => pkg.version = unquote(v).to_owned(),
                    "source" if !v.contains("registry") => {
                        pkg.source = v.trim().trim_matches('"').to_owned()
                    }
                    "dependencies" => {
                        if opens_array {
                            array = Some(true);
                            dep_item(v.trim_start().trim_start_matches('['), &mut pkg.deps);
                        } else {
                            dep_item(v, &mut pkg.deps);
                        }
                    }
                    _ if opens_array => array = Some(false),
                    _ => {}
                }
            }
        }
    }
    pkg.write(&mut out);
    out
}

fn go_sum(t: &str) -> String {
    let mut out = String::with_capacity(t.len() / 3);
    let mut last_module = "";
    let mut last_version = "";
    for l in t.lines() {
        let mut f = l.split(' ');
        let (Some(m), Some(v)) = (f.next(), f.next()) else {
            continue;
        };
        if m.is_empty() {
            continue;
        }
        let v = v.strip_suffix("/go.mod").unwrap_or(v);
        if m == last_module {
            if v == last_version {
                continue;
            }
            out.push_str(", ");
        } else {
            if !last_module.is_empty() {
                out.push('\n');
            }
            out.push_str(m);
            out.push(' ');
        }
        out.push_str(v);
        last_module = m;
        last_version = v;
    }
    out.push('\n');
    out
}

fn yarn(t: &str) -> String {
    let mut out = String::with_capacity(t.len() / 3);
    let mut specs = String::new();
    let mut version = String::new();
    let mut deps: Vec<String> = Vec::new();
    let mut in_deps = false;
    let flush =
        |out: &mut String, specs: &mut String, version: &mut String, deps: &mut Vec<String>| {
            if !specs.is_empty() {
                out.push_str(specs);
                if !version.is_empty() {
                    out.push_str(" -> ");
                    out.push_str(version);
                }
                if !deps.is_empty() {
                    out.push_str(": ");
                    out.push_str(&deps.join(", "));
                }
                out.push('\n');
            }
            specs.clear();
            version.clear();
            deps.clear();
        };
    for l in t.lines() {
        if l.trim().is_empty() {
            continue;
        }
        if l.starts_with('#') {
            out.push_str(l);
            out.push('\n');
            continue;
        }
        if !l.starts_with(' ') {
            flush(&mut out, &mut specs, &mut version, &mut deps);
            in_deps = false;
            specs = l.trim_end_matches(':').replace('"', "");
            continue;
        }
        let indent = l.len() - l.trim_start().len();
        let tl = l.trim();
        if indent <= 2 {
            in_deps = tl == "dependencies:" || tl == "optionalDependencies:";
            if let Some(v) = tl.strip_prefix("version ") {
                version = unquote(v).to_owned();
            }
        } else if in_deps {
            let (name, range) = tl.split_once(' ').unwrap_or((tl, ""));
            deps.push(format!("{}@{}", unquote(name), unquote(range)));
        }
    }
    flush(&mut out, &mut specs, &mut version, &mut deps);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::with_default_ctx;

    const CARGO: &str = "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n\n[[package]]\nname = \"addr2line\"\nversion = \"0.24.2\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"dfbe277e56a376000877090da837660b4427aad530e3028d44e0bffe4f89a1c1\"\ndependencies = [\n \"gimli\",\n]\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"addr2line\",\n \"windows-sys 0.52.0\",\n]\n\n[[package]]\nname = \"gimli\"\nversion = \"0.31.1\"\nsource = \"git+https://github.com/gimli-rs/gimli?rev=abc#abc\"\n\n[[package]]\nname = \"windows-sys\"\nversion = \"0.52.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"282be5f36a8ce781fad8c8ae18fa3f9beff57ec1b52cb3de0789201425d9a33d\"\n";

    #[test]
    fn cargo_lock_keeps_names_versions_dependencies_and_odd_sources() {
        assert_eq!(detect(CARGO), Some(Kind::Toml));
        let (out, key) = with_default_ctx(CARGO, |ctx| compress(CARGO, Kind::Toml, ctx));
        let out = out.unwrap();
        let body = out.split_once('\n').unwrap().1;
        assert_eq!(
            body,
            "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 4\n\naddr2line 0.24.2: gimli\napp 0.1.0: addr2line, windows-sys 0.52.0\ngimli 0.31.1 (git+https://github.com/gimli-rs/gimli?rev=abc#abc)\nwindows-sys 0.52.0\n"
        );
        assert!(out.contains(&key.unwrap()));
    }

    #[test]
    fn uv_and_poetry_dependencies_are_named() {
        let uv = "version = 1\nrequires-python = \">=3.9\"\n\n[[package]]\nname = \"a\"\nversion = \"1.0\"\nsource = { registry = \"https://pypi.org/simple\" }\ndependencies = [\n    { name = \"b\" },\n    { name = \"c\", marker = \"python_version < '3.11'\" },\n]\nsdist = { url = \"https://x/a.tar.gz\", hash = \"sha256:00\", size = 1 }\nwheels = [\n    { url = \"https://x/a.whl\", hash = \"sha256:00\", size = 1 },\n]\n\n[[package]]\nname = \"b\"\nversion = \"2.0\"\nsource = { registry = \"https://pypi.org/simple\" }\n\n[[package]]\nname = \"c\"\nversion = \"3.0\"\nsource = { editable = \".\" }\n";
        let (out, _) = with_default_ctx(uv, |ctx| compress(uv, detect(uv).unwrap(), ctx));
        let body = out.unwrap().split_once('\n').unwrap().1.to_owned();
        assert_eq!(body, "version = 1\nrequires-python = \">=3.9\"\n\na 1.0: b, c\nb 2.0\nc 3.0 ({ editable = \".\" })\n");
        let poetry = "[[package]]\nname = \"a\"\nversion = \"1.0\"\ndescription = \"x\"\nfiles = [\n    {file = \"a.whl\", hash = \"sha256:00\"},\n]\n\n[package.dependencies]\nb = \">=2\"\n\n[package.extras]\nx = [\"y\"]\n\n[[package]]\nname = \"b\"\nversion = \"2.0\"\n\n[[package]]\nname = \"c\"\nversion = \"3.0\"\n\n[metadata]\nlock-version = \"2.0\"\ncontent-hash = \"0123456789abcdef0123456789abcdef0123456789abcdef\"\n";
        let (out, _) =
            with_default_ctx(poetry, |ctx| compress(poetry, detect(poetry).unwrap(), ctx));
        let body = out.unwrap().split_once('\n').unwrap().1.to_owned();
        assert_eq!(
            body,
            "a 1.0: b\nb 2.0\nc 3.0\n[metadata]\nlock-version = \"2.0\"\n"
        );
    }

    #[test]
    fn go_sum_and_yarn_lock() {
        let go = "github.com/a/b v1.0.0 h1:AAAA=\ngithub.com/a/b v1.0.0/go.mod h1:BBBB=\ngithub.com/a/b v1.1.0/go.mod h1:CCCC=\ngolang.org/x/c v0.1.0 h1:DDDD=\ngolang.org/x/c v0.1.0/go.mod h1:EEEE=\n";
        assert_eq!(detect(go), Some(Kind::GoSum));
        assert_eq!(
            go_sum(go),
            "github.com/a/b v1.0.0, v1.1.0\ngolang.org/x/c v0.1.0\n"
        );
        let y = "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\n\"@babel/code@^7.0.0\", \"@babel/code@^7.1.0\":\n  version \"7.2.0\"\n  resolved \"https://registry.yarnpkg.com/x.tgz#abc\"\n  integrity sha512-AAAA==\n  dependencies:\n    chalk \"^2.0.0\"\n\nchalk@^2.0.0:\n  version \"2.4.2\"\n  resolved \"https://registry.yarnpkg.com/chalk.tgz#abc\"\n  integrity sha512-BBBB==\n";
        assert_eq!(detect(y), Some(Kind::Yarn));
        assert_eq!(yarn(y), "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n@babel/code@^7.0.0, @babel/code@^7.1.0 -> 7.2.0: chalk@^2.0.0\nchalk@^2.0.0 -> 2.4.2\n");
    }

    #[test]
    fn package_lock_keeps_paths_versions_and_dependencies() {
        let t = r#"{
  "name": "demo",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {"name": "demo", "version": "1.0.0", "dependencies": {"yargs": "^17.7.2"}},
    "node_modules/cliui": {"version": "8.0.1", "resolved": "https://registry.npmjs.org/cliui/-/cliui-8.0.1.tgz", "integrity": "sha512-AAAA", "license": "ISC", "dependencies": {"string-width": "^4.2.0"}, "engines": {"node": ">=12"}},
    "node_modules/yargs": {"version": "17.7.2", "resolved": "https://registry.npmjs.org/yargs/-/yargs-17.7.2.tgz", "integrity": "sha512-BBBB", "dependencies": {"cliui": "^8.0.1"}},
    "node_modules/yargs/node_modules/string-width": {"version": "4.2.3", "dev": true}
  }
}"#;
        let root = crate::json::parse_str(t).unwrap();
        assert!(is_package_lock(t, &root));
        let (out, _) = with_default_ctx(t, |ctx| package_lock(t, &root, ctx));
        let body = out.unwrap().split_once('\n').unwrap().1.to_owned();
        assert_eq!(
            body,
            "{\"name\":\"demo\",\"version\":\"1.0.0\",\"lockfileVersion\":3,\"requires\":true}\n\"\" 1.0.0 (name demo): yargs@^17.7.2\ncliui 8.0.1: string-width\nyargs 17.7.2: cliui\nyargs/node_modules/string-width 4.2.3 dev\n"
        );
    }
}
