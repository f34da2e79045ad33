//! Config definitions: the settings a connector (or the runtime) accepts, with types, defaults, docs and
//! validators, answered by `/connector-plugins/{type}/config/validate` with per-field errors. Modelled on
//! Kafka's `ConfigDef`: same types, importance levels, widths, groups and error texts.
//!
//! - this file: [`ConfigDef`], [`ConfigKey`] and their parts; validation and typed parsing live in `parse.rs`.
//! - `connector.rs`: the settings every connector has (Kafka's `ConnectorConfig`, `SinkConnectorConfig`,
//!   `SourceConnectorConfig`).
//! - `infos.rs`: [`to_config_infos`], the validate answer in Kafka Connect's JSON shape.

use std::fmt;
use std::sync::Arc;

mod connector;
mod infos;
mod parse;
#[cfg(test)]
mod tests;

pub use connector::{
    common_sink_def, common_source_def, sink_topic_errors, CONNECTOR_CLASS, ERRORS_TOLERANCE, HEADER_CONVERTER,
    KEY_CONVERTER, NAME, PREDICATES, TASKS_MAX, TOPICS, TOPICS_REGEX, TRANSFORMS, VALUE_CONVERTER,
};
pub use infos::to_config_infos;
pub use parse::{ConfigErrors, ConfigValue, ParsedConfig, TypedValue};

/// The type of a setting, as Kafka names it in validate answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigType {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    /// Comma-separated, items trimmed.
    List,
    /// A class name (a plugin's full name or alias).
    Class,
    /// A secret: shown as `[hidden]` in answers.
    Password,
}

impl ConfigType {
    pub fn name(self) -> &'static str {
        match self {
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Short => "SHORT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
            ConfigType::Password => "PASSWORD",
        }
    }
}

/// How much a user should care about a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Importance {
    High,
    Medium,
    Low,
}

impl Importance {
    pub fn name(self) -> &'static str {
        match self {
            Importance::High => "HIGH",
            Importance::Medium => "MEDIUM",
            Importance::Low => "LOW",
        }
    }
}

/// How wide a UI should draw a setting's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Width {
    #[default]
    None,
    Short,
    Medium,
    Long,
}

impl Width {
    pub fn name(self) -> &'static str {
        match self {
            Width::None => "NONE",
            Width::Short => "SHORT",
            Width::Medium => "MEDIUM",
            Width::Long => "LONG",
        }
    }
}

/// What a setting is when the config does not set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultValue {
    /// The setting must be given.
    Required,
    /// Optional, with no value (Kafka's `null` default).
    Null,
    /// This text, parsed like a given value.
    Value(String),
}

/// A custom check of a parsed value: `Err(reason)` fails it.
pub type Check = dyn Fn(&TypedValue) -> Result<(), String> + Send + Sync;

/// A check a parsed value must pass; the message says what is allowed.
#[derive(Clone)]
pub enum Validator {
    /// Numbers (INT, SHORT, LONG, DOUBLE) within bounds, inclusive.
    Range { min: Option<f64>, max: Option<f64> },
    /// One of these strings, ignoring case (each item, for a LIST).
    OneOf(Vec<String>),
    /// A string (or every list item) that is not empty after trimming.
    NonEmpty,
    /// A string that is a valid regular expression.
    Regex,
    /// Any other check: `Err(reason)` fails the value.
    Custom(Arc<Check>),
}

impl Validator {
    pub fn at_least(min: f64) -> Validator {
        Validator::Range { min: Some(min), max: None }
    }

    pub fn between(min: f64, max: f64) -> Validator {
        Validator::Range { min: Some(min), max: Some(max) }
    }

    pub fn one_of(values: &[&str]) -> Validator {
        Validator::OneOf(values.iter().map(|v| v.to_string()).collect())
    }

    pub fn custom(check: impl Fn(&TypedValue) -> Result<(), String> + Send + Sync + 'static) -> Validator {
        Validator::Custom(Arc::new(check))
    }
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validator::Range { min, max } => f.debug_struct("Range").field("min", min).field("max", max).finish(),
            Validator::OneOf(values) => f.debug_tuple("OneOf").field(values).finish(),
            Validator::NonEmpty => f.write_str("NonEmpty"),
            Validator::Regex => f.write_str("Regex"),
            Validator::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// The definition of one setting. Build with [`ConfigKey::new`] and the `with_*`-style methods.
#[derive(Debug, Clone)]
pub struct ConfigKey {
    pub name: String,
    pub config_type: ConfigType,
    pub default: DefaultValue,
    pub importance: Importance,
    pub documentation: String,
    pub group: Option<String>,
    /// Position within the group, from 1; -1 when unordered.
    pub order_in_group: i32,
    pub width: Width,
    /// Shown by UIs; the name unless set.
    pub display_name: String,
    pub validators: Vec<Validator>,
    pub recommended_values: Vec<String>,
    /// Settings whose meaning depends on this one.
    pub dependents: Vec<String>,
}

impl ConfigKey {
    /// A required setting (see [`ConfigKey::default_value`] and [`ConfigKey::optional`]).
    pub fn new(name: &str, config_type: ConfigType, importance: Importance, documentation: &str) -> ConfigKey {
        ConfigKey {
            name: name.to_string(),
            config_type,
            default: DefaultValue::Required,
            importance,
            documentation: documentation.to_string(),
            group: None,
            order_in_group: -1,
            width: Width::None,
            display_name: name.to_string(),
            validators: Vec::new(),
            recommended_values: Vec::new(),
            dependents: Vec::new(),
        }
    }

    pub fn default_value(mut self, value: impl Into<String>) -> ConfigKey {
        self.default = DefaultValue::Value(value.into());
        self
    }

    /// Optional with no default value.
    pub fn optional(mut self) -> ConfigKey {
        self.default = DefaultValue::Null;
        self
    }

    pub fn group(mut self, group: &str, order: i32) -> ConfigKey {
        self.group = Some(group.to_string());
        self.order_in_group = order;
        self
    }

    pub fn width(mut self, width: Width) -> ConfigKey {
        self.width = width;
        self
    }

    pub fn display(mut self, display_name: &str) -> ConfigKey {
        self.display_name = display_name.to_string();
        self
    }

    pub fn validator(mut self, validator: Validator) -> ConfigKey {
        self.validators.push(validator);
        self
    }

    pub fn recommended(mut self, values: &[&str]) -> ConfigKey {
        self.recommended_values = values.iter().map(|v| v.to_string()).collect();
        self
    }

    pub fn dependents(mut self, names: &[&str]) -> ConfigKey {
        self.dependents = names.iter().map(|v| v.to_string()).collect();
        self
    }

    pub fn is_required(&self) -> bool {
        self.default == DefaultValue::Required
    }
}

/// The definition of a set of settings, in definition order.
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    keys: Vec<ConfigKey>,
}

impl ConfigDef {
    pub fn new() -> ConfigDef {
        ConfigDef::default()
    }

    /// Adds a setting; a later definition of the same name replaces the earlier one (as Kafka's `define` refuses
    /// duplicates, replacing keeps a connector free to tighten a common setting).
    pub fn define(mut self, key: ConfigKey) -> ConfigDef {
        match self.keys.iter_mut().find(|k| k.name == key.name) {
            Some(existing) => *existing = key,
            None => self.keys.push(key),
        }
        self
    }

    /// Every setting of `other` after this one's (replacing same-named ones).
    pub fn merge(mut self, other: &ConfigDef) -> ConfigDef {
        for key in &other.keys {
            self = self.define(key.clone());
        }
        self
    }

    pub fn keys(&self) -> &[ConfigKey] {
        &self.keys
    }

    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Group names in the order their first setting was defined.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = Vec::new();
        for group in self.keys.iter().filter_map(|k| k.group.as_ref()) {
            if !groups.contains(group) {
                groups.push(group.clone());
            }
        }
        groups
    }
}
