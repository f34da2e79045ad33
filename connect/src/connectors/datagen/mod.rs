//! The datagen source connector, like Confluent's `DatagenConnector`: generates records of a built-in shape
//! (`quickstart`: orders, users, pageviews) or of an Avro record schema (`schema.string`), with keys, at
//! `max.interval` ms apart, `iterations` in total over all tasks.
//!
//! - [`config`]: the settings, typed.
//! - [`schema`]: shapes and field generators.
//! - [`task`]: the source task and its offsets (`{"position": N}` per source partition `{"task": i}`); with
//!   `iterations` set it reports its progress towards its share ("generating orders into t", records).

use crate::config::{ConfigDef, ConfigKey, ConfigType, Importance, Validator, Width};
use crate::connector::{Config, Connector, ConnectorType, Plugin, SourceTask};
use crate::error::ConnectError;

mod config;
mod schema;
mod task;

/// The header holding each record's sequence number (also in orders' `orderid`, pageviews' `viewtime`).
pub use task::SEQUENCE_HEADER;

/// The connector's class name.
pub const CLASS: &str = "io.sluice.connect.datagen.DatagenConnector";

/// The datagen plugin.
#[derive(Debug, Clone, Copy)]
pub struct DatagenPlugin;

impl Plugin for DatagenPlugin {
    fn class(&self) -> &str {
        CLASS
    }
    fn aliases(&self) -> Vec<String> {
        vec!["DatagenConnector".into(), "datagen".into()]
    }
    fn connector(&self) -> Box<dyn Connector> {
        Box::new(DatagenConnector)
    }
    fn source_task(&self) -> Option<Box<dyn SourceTask>> {
        Some(Box::new(task::DatagenTask::default()))
    }
}

/// The connector half: checks the settings and gives each task its slot.
#[derive(Debug, Clone, Copy)]
pub struct DatagenConnector;

impl Connector for DatagenConnector {
    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Source
    }

    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    /// The checks [`config_def`] cannot express: the shape (quickstart or schema) and its key field. Types,
    /// ranges and required settings are the definition's, so each problem is reported once.
    fn validate(&self, config: &Config) -> Vec<(String, String)> {
        let shape_keys = [config::QUICKSTART, config::SCHEMA_STRING, config::SCHEMA_FILENAME, config::SCHEMA_KEYFIELD];
        DatagenConfig::parse(config)
            .err()
            .unwrap_or_default()
            .into_iter()
            .filter(|(key, _)| shape_keys.contains(&key.as_str()))
            .collect()
    }

    fn task_configs(&self, config: &Config, max_tasks: usize) -> Result<Vec<Config>, ConnectError> {
        let parsed = DatagenConfig::parse(config).map_err(|mut errors| {
            let (key, message) = errors.remove(0);
            ConnectError::config(key, message)
        })?;
        // More tasks than records would leave some with nothing to do.
        let count = match parsed.iterations {
            Some(n) => (max_tasks as u64).min(n.max(1)),
            None => max_tasks as u64,
        }
        .max(1);
        Ok((0..count)
            .map(|index| {
                let mut c = config.clone();
                c.insert(config::TASK_INDEX.into(), index.to_string());
                c.insert(config::TASK_COUNT.into(), count.to_string());
                c
            })
            .collect())
    }
}

use config::DatagenConfig;

/// Every datagen setting, with Confluent's datagen defaults.
fn config_def() -> ConfigDef {
    const GROUP: &str = "Datagen";
    let key = |name: &str, t: ConfigType, importance: Importance, doc: &str, order: i32| {
        ConfigKey::new(name, t, importance, doc).group(GROUP, order)
    };
    ConfigDef::new()
        .define(
            key(config::KAFKA_TOPIC, ConfigType::String, Importance::High, "The topic to write records to.", 1)
                .validator(Validator::NonEmpty)
                .width(Width::Medium),
        )
        .define(
            key(
                config::MAX_INTERVAL,
                ConfigType::Long,
                Importance::Medium,
                "Milliseconds between records of one task; 0 generates as fast as they are taken.",
                2,
            )
            .default_value(config::DEFAULT_MAX_INTERVAL_MS.to_string())
            .validator(Validator::at_least(0.0)),
        )
        .define(
            key(
                config::ITERATIONS,
                ConfigType::Long,
                Importance::Medium,
                "Records to generate over all tasks (sequence numbers 0 to N-1); -1 for no end.",
                3,
            )
            .default_value("-1")
            .validator(Validator::at_least(-1.0)),
        )
        .define(
            key(
                config::QUICKSTART,
                ConfigType::String,
                Importance::High,
                "A built-in shape: orders, users or pageviews. Set this or schema.string.",
                4,
            )
            .optional()
            .recommended(schema::QUICKSTARTS),
        )
        .define(
            key(
                config::SCHEMA_STRING,
                ConfigType::String,
                Importance::High,
                "An Avro record schema (JSON) to generate records of, with optional arg.properties per field \
                 (options, range, iteration, length, prefix).",
                5,
            )
            .optional()
            .width(Width::Long),
        )
        .define(
            key(
                config::SCHEMA_FILENAME,
                ConfigType::String,
                Importance::Medium,
                "A file holding the Avro record schema, instead of schema.string.",
                6,
            )
            .optional(),
        )
        .define(
            key(
                config::SCHEMA_KEYFIELD,
                ConfigType::String,
                Importance::Medium,
                "The top-level field whose value is the record key. Defaults to the quickstart's key field; \
                 with a custom schema and none set, the key is the sequence number.",
                7,
            )
            .optional(),
        )
        .define(
            key(
                config::RANDOM_SEED,
                ConfigType::Long,
                Importance::Low,
                "A seed for reproducible data: the same seed and sequence number give the same record.",
                8,
            )
            .optional(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_each_task_its_slot() {
        let config: Config = [("kafka.topic", "t"), ("quickstart", "users"), ("iterations", "2")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let tasks = DatagenConnector.task_configs(&config, 4).unwrap();
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[1]["datagen.task.index"], "1");
        assert_eq!(tasks[1]["datagen.task.count"], "2");
        assert!(DatagenConnector.validate(&config).is_empty());
    }
}
