//! Per-topic settings (being built).
use std::collections::BTreeMap;

/// Where a config value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource { Default, StaticBroker, Topic }

/// One described config.
#[derive(Debug, Clone)]
pub struct TopicConfigEntry;

/// Typed topic config.
#[derive(Debug, Clone)]
pub struct TopicConfig;

impl TopicConfig {
    /// Builds from defaults and overrides.
    pub fn from_overrides(_d: &BTreeMap<String, String>, _o: &BTreeMap<String, String>) -> Result<Self, String> { Ok(Self) }
}
