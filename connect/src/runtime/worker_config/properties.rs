//! A parser for Java `.properties` files, the format of Kafka Connect's worker and connector files: `key=value`,
//! `key: value` or `key value`, `#`/`!` comments, backslash line continuations and escapes (`\t`, `\n`, `\uXXXX`,
//! `\=` ...), as `java.util.Properties.load` reads them.

use std::path::Path;

use crate::error::ConnectError;

/// One setting of a properties file, with the line (from 1) its logical line starts on, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Reads and parses a properties file; errors name the file and the line.
pub fn read(path: &Path) -> Result<Vec<Property>, ConnectError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConnectError::Io(format!("cannot read properties file {}: {e}", path.display())))?;
    parse(&text)
        .map_err(|(line, message)| ConnectError::config(path.display().to_string(), format!("line {line}: {message}")))
}

/// Parses properties text into settings in file order (a repeated key appears twice; the caller decides, and
/// Java's rule is that the last one wins). An error is the line it is on and what is wrong.
pub fn parse(text: &str) -> Result<Vec<Property>, (usize, String)> {
    let mut out = Vec::new();
    let mut lines = split_lines(text).enumerate().map(|(i, l)| (i + 1, l)).peekable();
    while let Some((number, line)) = lines.next() {
        let start = line.trim_start_matches(is_blank);
        if start.is_empty() || start.starts_with('#') || start.starts_with('!') {
            // Comments end at the line's end even if it ends with a backslash.
            continue;
        }
        let mut logical = String::from(start);
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.next() {
                // A continuation line's leading whitespace is not part of the value.
                Some((_, next)) => logical.push_str(next.trim_start_matches(is_blank)),
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        let key = unescape(key).map_err(|m| (number, m))?;
        let value = unescape(value).map_err(|m| (number, m))?;
        out.push(Property { key, value, line: number });
    }
    Ok(out)
}

/// Whitespace as Java's properties format counts it (not newlines: lines are already split).
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

/// Lines ended by `\n`, `\r\n` or a lone `\r`, as Java accepts all three.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        match text.find(['\n', '\r']) {
            Some(i) => {
                let skip = if text[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&text[i + skip..]);
                Some(&text[..i])
            }
            None => {
                rest = None;
                (!text.is_empty()).then_some(text)
            }
        }
    })
}

fn ends_with_odd_backslashes(line: &str) -> bool {
    line.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Splits at the first unescaped `=`, `:` or whitespace; whitespace around the separator and one `=` or `:`
/// after whitespace belong to neither side. Both sides are still escaped.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || is_blank(c) {
            key_end = i;
            break;
        }
    }
    let key = &line[..key_end];
    let mut rest = line[key_end..].trim_start_matches(is_blank);
    if let Some(after) = rest.strip_prefix(['=', ':']) {
        rest = after.trim_start_matches(is_blank);
    }
    (key, rest)
}

/// Resolves backslash escapes: `\t \n \r \f`, `\uXXXX`, and any other escaped character stands for itself.
fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let unit = (hex.len() == 4)
                    .then(|| u16::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| format!("malformed \\uXXXX escape `\\u{hex}`: expected four hex digits"))?;
                push_utf16_unit(&mut out, unit, &mut chars)?;
            }
            Some(other) => out.push(other),
            // A trailing lone backslash (the file's last line) stands for nothing, as in Java.
            None => {}
        }
    }
    Ok(out)
}

/// Java strings are UTF-16, so a character outside the BMP is written as two `\u` escapes (a surrogate pair).
fn push_utf16_unit(out: &mut String, unit: u16, chars: &mut std::str::Chars<'_>) -> Result<(), String> {
    if let Some(c) = char::from_u32(u32::from(unit)) {
        out.push(c);
        return Ok(());
    }
    let bad = || format!("\\u{unit:04x} is half of a surrogate pair without its other half");
    if !(0xD800..0xDC00).contains(&unit) {
        return Err(bad());
    }
    let rest = chars.as_str();
    let low = rest
        .strip_prefix("\\u")
        .and_then(|r| r.get(..4))
        .and_then(|h| u16::from_str_radix(h, 16).ok())
        .filter(|low| (0xDC00..0xE000).contains(low))
        .ok_or_else(bad)?;
    *chars = rest[6..].chars();
    let code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
    out.push(char::from_u32(code).ok_or_else(bad)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String, usize)> {
        parse(text).expect("valid properties").into_iter().map(|p| (p.key, p.value, p.line)).collect()
    }

    fn one(text: &str) -> (String, String) {
        let mut all = pairs(text);
        assert_eq!(all.len(), 1, "{text:?} gives {all:?}");
        let (k, v, _) = all.remove(0);
        (k, v)
    }

    #[test]
    fn separators_equals_colon_and_whitespace() {
        for text in ["a=b", "a = b", "a:b", "a : b", "a b", "  a\t=\tb", "a  b", "a=b\n"] {
            assert_eq!(one(text), ("a".into(), "b".into()), "{text:?}");
        }
        // Only one separator is consumed; a second one belongs to the value.
        assert_eq!(one("a==b"), ("a".into(), "=b".into()));
        assert_eq!(one("a = :b"), ("a".into(), ":b".into()));
        // Trailing whitespace is part of the value, as in Java.
        assert_eq!(one("a=b  "), ("a".into(), "b  ".into()));
        assert_eq!(one("key"), ("key".into(), String::new()));
        assert_eq!(one("key="), ("key".into(), String::new()));
        assert_eq!(one("url=http://h:8083/x=y"), ("url".into(), "http://h:8083/x=y".into()));
    }

    #[test]
    fn comments_and_blank_lines_are_skipped_with_line_numbers_kept() {
        let text = "# comment\n! also a comment\n\n   \nname=one\n  # indented comment\ntasks.max=2\r\nx=y\rz=w";
        assert_eq!(
            pairs(text),
            vec![
                ("name".into(), "one".into(), 5),
                ("tasks.max".into(), "2".into(), 7),
                ("x".into(), "y".into(), 8),
                ("z".into(), "w".into(), 9),
            ]
        );
        // A comment ending in a backslash does not swallow the next line.
        assert_eq!(pairs("# c \\\na=b"), vec![("a".into(), "b".into(), 2)]);
        // `#` inside a value is not a comment.
        assert_eq!(one("a=b # c"), ("a".into(), "b # c".into()));
    }

    #[test]
    fn continuations_join_lines_and_drop_leading_whitespace() {
        let text = "topics=a,\\\n       b,\\\n\tc\nnext=1";
        assert_eq!(pairs(text), vec![("topics".into(), "a,b,c".into(), 1), ("next".into(), "1".into(), 4)]);
        // An even number of backslashes is an escaped backslash, not a continuation.
        assert_eq!(pairs("path=C:\\\\\nb=c"), vec![("path".into(), "C:\\".into(), 1), ("b".into(), "c".into(), 2)]);
        // A continuation at the end of the file ends the value.
        assert_eq!(one("a=b\\"), ("a".into(), "b".into()));
    }

    #[test]
    fn escapes_in_keys_and_values() {
        assert_eq!(one("a\\=b=c"), ("a=b".into(), "c".into()));
        assert_eq!(one("a\\ b c"), ("a b".into(), "c".into()));
        assert_eq!(one("a\\:b:c"), ("a:b".into(), "c".into()));
        assert_eq!(one("v=tab\\there\\nnl\\r\\f"), ("v".into(), "tab\there\nnl\r\x0c".into()));
        assert_eq!(one("v=\\u00e9t\\u00E9"), ("v".into(), "été".into()));
        assert_eq!(one("v=\\q\\#\\!"), ("v".into(), "q#!".into()));
        assert_eq!(one("v=\\ud83d\\ude00"), ("v".into(), "😀".into()));
        assert_eq!(one("v=é 😀"), ("v".into(), "é 😀".into()), "UTF-8 text passes through");
    }

    #[test]
    fn malformed_unicode_escapes_are_errors_naming_the_line() {
        for text in ["a=1\nb=\\u12", "a=1\nb=\\uzzzz", "a=1\nb=\\ud83d", "a=1\nb=\\ude00x"] {
            let (line, message) = parse(text).expect_err(text);
            assert_eq!(line, 2, "{text:?}");
            assert!(message.contains("\\u"), "{message}");
        }
    }

    #[test]
    fn read_names_the_file_in_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.properties");
        std::fs::write(&path, "ok=1\n\nbad=\\uXYZ\n").expect("write");
        let err = read(&path).expect_err("bad escape").to_string();
        assert!(err.contains("bad.properties") && err.contains("line 3"), "{err}");
        let err = read(&dir.path().join("missing.properties")).expect_err("missing").to_string();
        assert!(err.contains("missing.properties"), "{err}");
    }

    proptest::proptest! {
        /// Any key and value written with Java's escaping rules reads back unchanged.
        #[test]
        fn escaped_pairs_round_trip(key in "[^\u{0}]{1,12}", value in "[^\u{0}]{0,20}") {
            let text = format!("{}={}\n", escape(&key, true), escape(&value, false));
            let parsed = parse(&text).expect("valid");
            proptest::prop_assert_eq!(parsed.len(), 1);
            proptest::prop_assert_eq!(&parsed[0].key, &key);
            proptest::prop_assert_eq!(&parsed[0].value, &value);
        }
    }

    /// What `Properties.store` writes: separators, comment starters and a leading space escaped.
    fn escape(text: &str, is_key: bool) -> String {
        let mut out = String::new();
        for (i, c) in text.chars().enumerate() {
            match c {
                '\\' | '=' | ':' | '#' | '!' => {
                    out.push('\\');
                    out.push(c);
                }
                ' ' if is_key || i == 0 => out.push_str("\\ "),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\x0c' => out.push_str("\\f"),
                _ => out.push(c),
            }
        }
        out
    }
}
