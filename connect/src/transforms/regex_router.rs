//! `org.apache.kafka.connect.transforms.RegexRouter`: when `regex` matches the whole topic name, the topic
//! becomes `replacement` with Java's group references (`$1`, `${name}`, `\$` for a dollar).

use regex::Regex;

use super::settings::Settings;
use super::Transform;
use crate::error::ConnectError;
use crate::record::ConnectRecord;

pub(super) fn build(s: &Settings) -> Result<Box<dyn Transform>, ConnectError> {
    let pattern = s.required("regex")?;
    let regex = full_match_regex(&pattern).map_err(|e| s.error("regex", e))?;
    let replacement = s.required("replacement")?;
    let replacement = java_replacement(&replacement, &regex).map_err(|e| s.error("replacement", e))?;
    Ok(Box::new(RegexRouter { regex, replacement }))
}

/// Compiles a Java pattern to match whole strings only (Java's `Matcher.matches`).
pub(super) fn full_match_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!(r"\A(?:{pattern})\z"))
        .map_err(|e| format!("Invalid regex {pattern:?} (Java-only constructs such as look-around and back-references are not supported): {e}"))
}

/// Translates a Java replacement string to the `regex` crate's syntax: `$12` takes as many digits as name an
/// existing group (as Java does), `${name}` a named group, a backslash quotes the next character.
pub(super) fn java_replacement(java: &str, regex: &Regex) -> Result<String, String> {
    let groups = regex.captures_len() - 1;
    let chars: Vec<char> = java.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let next = chars.get(i + 1).ok_or("character to be escaped is missing")?;
                if *next == '$' {
                    out.push_str("$$");
                } else {
                    out.push(*next);
                }
                i += 2;
            }
            '$' => {
                i += 1;
                match chars.get(i) {
                    Some('{') => {
                        let end = chars[i..]
                            .iter()
                            .position(|c| *c == '}')
                            .ok_or("named capturing group is missing trailing '}'")?;
                        let name: String = chars[i + 1..i + end].iter().collect();
                        if regex.capture_names().flatten().all(|n| n != name) {
                            return Err(format!("No group with name {{{name}}}"));
                        }
                        out.push_str(&format!("${{{name}}}"));
                        i += end + 1;
                    }
                    Some(c) if c.is_ascii_digit() => {
                        let mut group = c.to_digit(10).unwrap_or(0) as usize;
                        if group > groups {
                            return Err(format!("No group {group}"));
                        }
                        i += 1;
                        while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                            let longer = group * 10 + d as usize;
                            if longer > groups {
                                break;
                            }
                            group = longer;
                            i += 1;
                        }
                        out.push_str(&format!("${{{group}}}"));
                    }
                    _ => return Err("Illegal group reference".into()),
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

struct RegexRouter {
    regex: Regex,
    replacement: String,
}

impl Transform for RegexRouter {
    fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>, ConnectError> {
        if let Some(caps) = self.regex.captures(&record.topic) {
            let mut topic = String::new();
            caps.expand(&self.replacement, &mut topic);
            record.topic = topic;
        }
        Ok(Some(record))
    }
}
