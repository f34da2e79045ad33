//! [`Settings`]: one transform's or predicate's settings (`transforms.a.*` without the prefix), read with
//! Kafka's `ConfigDef` parsing rules (lists split on commas and trimmed, booleans `true`/`false`) and with
//! errors naming the full key. It remembers which keys were read so unknown ones can be reported.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use crate::error::ConnectError;

pub(crate) struct Settings {
    /// `transforms.a.` or `predicates.p.`.
    prefix: String,
    values: BTreeMap<String, String>,
    read: RefCell<BTreeSet<String>>,
}

impl Settings {
    pub(crate) fn new(prefix: impl Into<String>, values: BTreeMap<String, String>) -> Settings {
        Settings { prefix: prefix.into(), values, read: RefCell::new(BTreeSet::new()) }
    }

    /// A config error on `key` (given without the prefix).
    pub(crate) fn error(&self, key: &str, message: impl Into<String>) -> ConnectError {
        ConnectError::config(format!("{}{key}", self.prefix), message)
    }

    /// The value, if set, trimmed as Kafka's `ConfigDef` trims string settings.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.read.borrow_mut().insert(key.to_string());
        self.values.get(key).map(|v| v.trim())
    }

    /// A string with no default: missing is an error.
    pub(crate) fn required(&self, key: &str) -> Result<String, ConnectError> {
        self.get(key).map(str::to_string).ok_or_else(|| {
            self.error(key, format!("Missing required configuration \"{key}\" which has no default value."))
        })
    }

    pub(crate) fn string_or(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or(default).to_string()
    }

    /// A list (`a, b,c`); missing or empty is an empty list.
    pub(crate) fn list(&self, key: &str) -> Vec<String> {
        self.get(key).map(parse_list).unwrap_or_default()
    }

    /// A list that must be set and have at least one item.
    pub(crate) fn required_list(&self, key: &str) -> Result<Vec<String>, ConnectError> {
        let raw = self.required(key)?;
        let items = parse_list(&raw);
        if items.is_empty() {
            return Err(self.error(key, "Empty list"));
        }
        Ok(items)
    }

    pub(crate) fn bool_or(&self, key: &str, default: bool) -> Result<bool, ConnectError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_bool(v)
                .ok_or_else(|| self.error(key, format!("Expected value to be either true or false, got {v:?}"))),
        }
    }

    /// One of a fixed set of strings (compared exactly, as Kafka's `ValidString` does).
    pub(crate) fn one_of(&self, key: &str, default: Option<&str>, allowed: &[&str]) -> Result<String, ConnectError> {
        let value = match (self.get(key), default) {
            (Some(v), _) => v.to_string(),
            (None, Some(d)) => d.to_string(),
            (None, None) => return self.required(key),
        };
        if allowed.contains(&value.as_str()) {
            Ok(value)
        } else {
            Err(self.error(
                key,
                format!("Invalid value {value} for configuration {key}: String must be one of: {}", allowed.join(", ")),
            ))
        }
    }

    /// An optional int.
    pub(crate) fn int(&self, key: &str) -> Result<Option<i32>, ConnectError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => {
                v.trim().parse().map(Some).map_err(|_| self.error(key, format!("Not a number of type INT: {v:?}")))
            }
        }
    }

    /// Keys that are set but were never read: settings this transform does not have (typos, usually).
    pub(crate) fn unknown_keys(&self) -> Vec<String> {
        let read = self.read.borrow();
        self.values.keys().filter(|k| !read.contains(*k)).map(|k| format!("{}{k}", self.prefix)).collect()
    }
}

/// Kafka's LIST parsing: split on commas, trim each item; an empty (or all-space) string is an empty list.
pub(crate) fn parse_list(raw: &str) -> Vec<String> {
    if raw.trim().is_empty() {
        return Vec::new();
    }
    raw.split(',').map(|s| s.trim().to_string()).collect()
}

/// Kafka's BOOLEAN parsing: `true` or `false`, any case.
pub(crate) fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}
