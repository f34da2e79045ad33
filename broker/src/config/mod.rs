//! Configuration: the broker's own settings and the per-topic settings stored with each topic.

pub mod broker;
pub mod topic;

pub use broker::{BrokerConfig, ConfigError};
pub use topic::{ConfigSource, TopicConfig, TopicConfigEntry};
