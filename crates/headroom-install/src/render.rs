//! Quoting rules per consumer. Each artefact format has its own escaping; getting one wrong is
//! how the Python tool broke `sc.exe` and systemd paths with spaces, so they live together and
//! are unit-tested together.

/// POSIX shell single-quoting; bare when the word is plainly safe.
pub fn sh_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'/' | b'.' | b'_' | b'-' | b':' | b'=' | b',' | b'@' | b'+'
                )
        });
    if safe {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// fish quoting: single quotes, with `\` and `'` backslash-escaped.
pub fn fish_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', r"\\").replace('\'', r"\'"))
}

/// PowerShell single-quoted string literal.
pub fn ps_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// One word of a systemd `ExecStart=`: double-quoted, with `\`, `"` escaped, and `%`/`$`
/// doubled so systemd does not expand specifiers or variables.
pub fn systemd_word(s: &str) -> String {
    let escaped = s
        .replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('%', "%%")
        .replace('$', "$$");
    format!("\"{escaped}\"")
}

/// A value in a systemd `Environment="K=V"` assignment (specifiers are expanded there too).
pub fn systemd_env(key: &str, value: &str) -> String {
    systemd_word(&format!("{key}={value}"))
}

/// XML text/attribute escaping (plists, Task Scheduler XML).
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// One argument on a Windows command line, quoted the way `CommandLineToArgvW` splits it back.
pub fn windows_arg(s: &str) -> String {
    if !s.is_empty() && !s.contains([' ', '\t', '"', '\n']) {
        return s.to_owned();
    }
    let mut out = String::from("\"");
    let mut backslashes = 0usize;
    for c in s.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                out.push_str(&"\\".repeat(backslashes * 2 + 1));
                out.push('"');
                backslashes = 0;
            }
            c => {
                out.push_str(&"\\".repeat(backslashes));
                out.push(c);
                backslashes = 0;
            }
        }
    }
    out.push_str(&"\\".repeat(backslashes * 2));
    out.push('"');
    out
}

/// A crontab command word: shell-quoted, with `%` escaped (cron turns bare `%` into newlines).
pub fn cron_word(s: &str) -> String {
    sh_quote(s).replace('%', r"\%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_handles_spaces_quotes_and_percent() {
        assert_eq!(sh_quote("/usr/bin/headroom"), "/usr/bin/headroom");
        assert_eq!(sh_quote("/home/a b/it's"), r"'/home/a b/it'\''s'");
        assert_eq!(fish_quote(r"a'b\c"), r"'a\'b\\c'");
        assert_eq!(ps_quote("it's"), "'it''s'");
        assert_eq!(systemd_word("/a b/100%$x"), "\"/a b/100%%$$x\"");
        assert_eq!(xml_escape("a<b&\"c\""), "a&lt;b&amp;&quot;c&quot;");
        assert_eq!(
            windows_arg(r"C:\Program Files\h.exe"),
            r#""C:\Program Files\h.exe""#
        );
        assert_eq!(windows_arg(r#"say "hi"\"#), r#""say \"hi\"\\""#);
        assert_eq!(windows_arg("plain"), "plain");
        assert_eq!(cron_word("/x/100%"), r"'/x/100\%'");
    }
}
