//! Kafka's file stream connectors: the sink appends each record's value as a line to a file (or stdout), the
//! source sends each line appended to a file (or stdin) as a string record. Same class names, aliases and
//! settings as Kafka's, so configs written for Kafka Connect work unchanged.
//!
//! - [`render`]: a value as a line.
//! - [`sink`]: the sink task.
//! - [`source`]: the source task, with byte-position offsets.

use crate::config::{ConfigDef, ConfigKey, ConfigType, Importance, Validator, Width};
use crate::connector::{Config, Connector, ConnectorType, Plugin, SinkTask, SourceTask};
use crate::error::ConnectError;

mod render;
mod sink;
mod source;

/// The sink's class name.
pub const SINK_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSinkConnector";
/// The source's class name.
pub const SOURCE_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";

const FILE: &str = "file";
const TOPIC: &str = "topic";
const BATCH_SIZE: &str = "batch.size";

fn file_key(doc: &str) -> ConfigKey {
    ConfigKey::new(FILE, ConfigType::String, Importance::High, doc).optional().width(Width::Long)
}

/// The path in `file`; `None` (absent, empty or `-`) means stdout for the sink, stdin for the source.
fn target(config: &Config) -> Option<&str> {
    config.get(FILE).map(|f| f.trim()).filter(|f| !f.is_empty() && *f != "-")
}

/// The file sink plugin.
#[derive(Debug, Clone, Copy)]
pub struct FileStreamSinkPlugin;

impl Plugin for FileStreamSinkPlugin {
    fn class(&self) -> &str {
        SINK_CLASS
    }
    fn aliases(&self) -> Vec<String> {
        vec!["FileStreamSink".into(), "FileStreamSinkConnector".into(), "file".into()]
    }
    fn connector(&self) -> Box<dyn Connector> {
        Box::new(FileStreamSinkConnector)
    }
    fn sink_task(&self) -> Option<Box<dyn SinkTask>> {
        Some(Box::new(sink::FileSinkTask::default()))
    }
}

/// The file sink connector.
#[derive(Debug, Clone, Copy)]
pub struct FileStreamSinkConnector;

impl Connector for FileStreamSinkConnector {
    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }
    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Sink
    }
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new().define(file_key("Destination filename. If not specified, the standard output will be used"))
    }
    fn task_configs(&self, config: &Config, max_tasks: usize) -> Result<Vec<Config>, ConnectError> {
        // As Kafka's: every task appends to the same file (lines of different tasks may interleave).
        let task: Config = config.iter().filter(|(k, _)| *k == FILE).map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(vec![task; max_tasks.max(1)])
    }
}

/// The file source plugin.
#[derive(Debug, Clone, Copy)]
pub struct FileStreamSourcePlugin;

impl Plugin for FileStreamSourcePlugin {
    fn class(&self) -> &str {
        SOURCE_CLASS
    }
    fn aliases(&self) -> Vec<String> {
        vec!["FileStreamSource".into(), "FileStreamSourceConnector".into()]
    }
    fn connector(&self) -> Box<dyn Connector> {
        Box::new(FileStreamSourceConnector)
    }
    fn source_task(&self) -> Option<Box<dyn SourceTask>> {
        Some(Box::new(source::FileSourceTask::default()))
    }
}

/// The file source connector.
#[derive(Debug, Clone, Copy)]
pub struct FileStreamSourceConnector;

/// The file source's settings, checked.
struct SourceSettings {
    topic: String,
    batch_size: usize,
}

impl SourceSettings {
    fn parse(config: &Config) -> Result<SourceSettings, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let topic = config.get(TOPIC).map(|t| t.trim().to_string()).unwrap_or_default();
        if topic.contains(',') {
            errors.extend(FileStreamSourceConnector.validate(config));
        }
        if topic.is_empty() {
            errors
                .push((TOPIC.into(), "Missing required configuration \"topic\": the topic to publish lines to".into()));
        }
        let batch_size = match config.get(BATCH_SIZE) {
            None => source::DEFAULT_BATCH_SIZE,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    errors.push((BATCH_SIZE.into(), format!("Invalid value {v}: must be a positive number of lines")));
                    0
                }
            },
        };
        if errors.is_empty() {
            Ok(SourceSettings { topic, batch_size })
        } else {
            Err(errors)
        }
    }
}

impl Connector for FileStreamSourceConnector {
    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }
    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Source
    }
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(file_key("Source filename. If not specified, the standard input will be used"))
            .define(
                ConfigKey::new(TOPIC, ConfigType::String, Importance::High, "The topic to publish data to")
                    .validator(Validator::NonEmpty),
            )
            .define(
                ConfigKey::new(
                    BATCH_SIZE,
                    ConfigType::Int,
                    Importance::Low,
                    "The maximum number of records the source task can read from the file each time it is polled",
                )
                .default_value(source::DEFAULT_BATCH_SIZE.to_string())
                .validator(Validator::at_least(1.0)),
            )
    }
    /// Only what [`Connector::config_def`] cannot say: one topic, not a list.
    fn validate(&self, config: &Config) -> Vec<(String, String)> {
        match config.get(TOPIC) {
            Some(topic) if topic.contains(',') => {
                vec![(TOPIC.into(), format!("Invalid value {topic}: the file source writes to one topic only"))]
            }
            _ => Vec::new(),
        }
    }
    fn task_configs(&self, config: &Config, _max_tasks: usize) -> Result<Vec<Config>, ConnectError> {
        // One file, one reader: a single task whatever tasks.max says, as in Kafka.
        if let Err(mut e) = SourceSettings::parse(config) {
            let (k, m) = e.remove(0);
            return Err(ConnectError::config(k, m));
        }
        let task: Config = config
            .iter()
            .filter(|(k, _)| [FILE, TOPIC, BATCH_SIZE].contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(vec![task])
    }
}
