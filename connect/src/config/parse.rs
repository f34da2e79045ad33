//! Checking a config against a [`ConfigDef`]: [`ConfigDef::validate`] reports every setting with its errors
//! (what the validate endpoint shows), [`ConfigDef::parse`] yields typed values or every error at once. Error
//! texts are Kafka's, so users searching them find the same answers.

use std::collections::BTreeMap;
use std::fmt;

use super::{ConfigDef, ConfigKey, ConfigType, DefaultValue, Validator};
use crate::connector::Config;
use crate::error::ConnectError;

/// A parsed setting.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedValue {
    Boolean(bool),
    String(String),
    Int(i32),
    Short(i16),
    Long(i64),
    Double(f64),
    List(Vec<String>),
    Class(String),
    Password(String),
}

impl TypedValue {
    fn as_f64(&self) -> Option<f64> {
        match self {
            TypedValue::Int(v) => Some(f64::from(*v)),
            TypedValue::Short(v) => Some(f64::from(*v)),
            TypedValue::Long(v) => Some(*v as f64),
            TypedValue::Double(v) => Some(*v),
            _ => None,
        }
    }

    /// The strings a string-like value holds (one, or a list's items).
    fn strings(&self) -> Vec<&str> {
        match self {
            TypedValue::String(s) | TypedValue::Class(s) | TypedValue::Password(s) => vec![s.as_str()],
            TypedValue::List(items) => items.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// One setting as validation saw it (Kafka's `ConfigValue`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigValue {
    pub name: String,
    /// The text given, or the default's when none was.
    pub value: Option<String>,
    /// The parsed value when it parsed; `None` also for an unset optional setting.
    pub parsed: Option<TypedValue>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}

/// Every error of a config, by setting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigErrors(pub Vec<(String, String)>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let messages: Vec<&str> = self.0.iter().map(|(_, m)| m.as_str()).collect();
        write!(f, "{}", messages.join("; "))
    }
}

impl From<ConfigErrors> for ConnectError {
    fn from(errors: ConfigErrors) -> Self {
        let keys: Vec<&str> = errors.0.iter().map(|(k, _)| k.as_str()).collect();
        ConnectError::config(keys.join(", "), errors.to_string())
    }
}

/// Typed values of a config that passed [`ConfigDef::parse`]. The getters answer `None` for an unset optional
/// setting (and for a name or type the definition does not have, which is a bug in the caller).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedConfig {
    values: BTreeMap<String, TypedValue>,
}

impl ParsedConfig {
    pub fn get(&self, name: &str) -> Option<&TypedValue> {
        self.values.get(name)
    }

    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            TypedValue::Boolean(v) => Some(*v),
            _ => None,
        }
    }

    /// A STRING, CLASS or PASSWORD setting.
    pub fn string(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            TypedValue::String(v) | TypedValue::Class(v) | TypedValue::Password(v) => Some(v),
            _ => None,
        }
    }

    /// An INT or SHORT setting.
    pub fn int(&self, name: &str) -> Option<i32> {
        match self.get(name)? {
            TypedValue::Int(v) => Some(*v),
            TypedValue::Short(v) => Some(i32::from(*v)),
            _ => None,
        }
    }

    /// A LONG, INT or SHORT setting.
    pub fn long(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            TypedValue::Long(v) => Some(*v),
            TypedValue::Int(v) => Some(i64::from(*v)),
            TypedValue::Short(v) => Some(i64::from(*v)),
            _ => None,
        }
    }

    pub fn double(&self, name: &str) -> Option<f64> {
        self.get(name)?.as_f64()
    }

    pub fn list(&self, name: &str) -> Option<&[String]> {
        match self.get(name)? {
            TypedValue::List(v) => Some(v),
            _ => None,
        }
    }
}

fn invalid(name: &str, value: &str, reason: &str) -> String {
    format!("Invalid value {value} for configuration {name}: {reason}")
}

/// `text` as a value of `key`'s type.
fn parse_value(key: &ConfigKey, text: &str) -> Result<TypedValue, String> {
    let trimmed = text.trim();
    let not_a = |t: &str| invalid(&key.name, text, &format!("Not a number of type {t}"));
    Ok(match key.config_type {
        ConfigType::Boolean if trimmed.eq_ignore_ascii_case("true") => TypedValue::Boolean(true),
        ConfigType::Boolean if trimmed.eq_ignore_ascii_case("false") => TypedValue::Boolean(false),
        ConfigType::Boolean => {
            return Err(invalid(&key.name, text, "Expected value to be either true or false"));
        }
        ConfigType::String => TypedValue::String(trimmed.to_string()),
        ConfigType::Password => TypedValue::Password(text.to_string()),
        ConfigType::Class => TypedValue::Class(trimmed.to_string()),
        ConfigType::Int => TypedValue::Int(trimmed.parse().map_err(|_| not_a("INT"))?),
        ConfigType::Short => TypedValue::Short(trimmed.parse().map_err(|_| not_a("SHORT"))?),
        ConfigType::Long => TypedValue::Long(trimmed.parse().map_err(|_| not_a("LONG"))?),
        ConfigType::Double => TypedValue::Double(trimmed.parse().map_err(|_| not_a("DOUBLE"))?),
        ConfigType::List if trimmed.is_empty() => TypedValue::List(Vec::new()),
        ConfigType::List => TypedValue::List(trimmed.split(',').map(|s| s.trim().to_string()).collect()),
    })
}

/// The reason `value` fails `validator`, in Kafka's words.
fn check(validator: &Validator, value: &TypedValue) -> Result<(), String> {
    match validator {
        Validator::Range { min, max } => {
            let Some(v) = value.as_f64() else { return Ok(()) };
            let show = |bound: f64| if bound.fract() == 0.0 { format!("{}", bound as i64) } else { bound.to_string() };
            if let Some(min) = min.filter(|&min| v < min) {
                return Err(format!("Value must be at least {}", show(min)));
            }
            if let Some(max) = max.filter(|&max| v > max) {
                return Err(format!("Value must be no more than {}", show(max)));
            }
            Ok(())
        }
        Validator::OneOf(allowed) => {
            match value.strings().into_iter().find(|s| !allowed.iter().any(|a| a.eq_ignore_ascii_case(s))) {
                Some(_) => Err(format!("String must be one of: {}", allowed.join(", "))),
                None => Ok(()),
            }
        }
        Validator::NonEmpty => match value.strings().iter().any(|s| s.trim().is_empty()) {
            true => Err("String must be non-empty".to_string()),
            false => Ok(()),
        },
        Validator::Regex => value
            .strings()
            .into_iter()
            .try_for_each(|s| regex::Regex::new(s).map(drop).map_err(|e| format!("Invalid regex: {e}"))),
        Validator::Custom(f) => f(value),
    }
}

impl ConfigDef {
    /// Every defined setting with its value and errors, in definition order. Settings the definition does not
    /// know are left alone, as Kafka leaves them (connectors pass extra settings through to libraries).
    pub fn validate(&self, config: &Config) -> Vec<ConfigValue> {
        self.keys.iter().map(|key| validate_key(key, config)).collect()
    }

    /// The typed values of `config`, or every error at once.
    pub fn parse(&self, config: &Config) -> Result<ParsedConfig, ConfigErrors> {
        let mut values = BTreeMap::new();
        let mut errors = Vec::new();
        for result in self.validate(config) {
            if result.errors.is_empty() {
                if let Some(parsed) = result.parsed {
                    values.insert(result.name, parsed);
                }
            } else {
                errors.extend(result.errors.into_iter().map(|e| (result.name.clone(), e)));
            }
        }
        if errors.is_empty() {
            Ok(ParsedConfig { values })
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

fn validate_key(key: &ConfigKey, config: &Config) -> ConfigValue {
    let mut result = ConfigValue {
        name: key.name.clone(),
        value: None,
        parsed: None,
        recommended_values: key.recommended_values.clone(),
        errors: Vec::new(),
        visible: true,
    };
    let text = match (config.get(&key.name), &key.default) {
        (Some(text), _) => text.clone(),
        (None, DefaultValue::Value(default)) => default.clone(),
        (None, DefaultValue::Null) => return result,
        (None, DefaultValue::Required) => {
            result.errors.push(format!("Missing required configuration \"{}\" which has no default value.", key.name));
            return result;
        }
    };
    result.value = Some(text.clone());
    match parse_value(key, &text) {
        Ok(parsed) => {
            for validator in &key.validators {
                if let Err(reason) = check(validator, &parsed) {
                    let shown = if key.config_type == ConfigType::Password { "[hidden]" } else { text.as_str() };
                    result.errors.push(invalid(&key.name, shown, &reason));
                }
            }
            result.parsed = Some(parsed);
        }
        Err(message) => result.errors.push(message),
    }
    result
}
