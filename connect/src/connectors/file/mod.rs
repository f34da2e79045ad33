//! Kafka's file stream connectors: the sink appends each record's value as a line to a file (or stdout), the
//! source sends each line appended to a file (or stdin) as a string record. Same class names, aliases and
//! settings as Kafka's, so configs written for Kafka Connect work unchanged.
//!
//! - [`render`]: a value as a line.
//! - [`sink`]: the sink task.
//! - [`sidecar`]: the exactly-once sink's record of the durable length and offsets, `<file>.offsets`.
//! - [`source`]: the source task, with byte-position offsets.

use crate::config::{ConfigDef, ConfigKey, ConfigType, Importance, Validator, Width};
use crate::connector::{Config, Connector, ConnectorType, Plugin, SinkTask, SourceTask};
use crate::error::ConnectError;

mod render;
mod sidecar;
mod sink;
mod source;

/// The sink's class name.
pub const SINK_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSinkConnector";
/// The source's class name.
pub const SOURCE_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";

const FILE: &str = "file";
const TOPIC: &str = "topic";
const BATCH_SIZE: &str = "batch.size";
const EXACTLY_ONCE: &str = "exactly.once";
const ISOLATION_LEVEL: &str = "consumer.override.isolation.level";

/// `exactly.once` as a boolean (false when absent), or what is wrong with it.
fn exactly_once(config: &Config) -> Result<bool, String> {
    match config.get(EXACTLY_ONCE).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v.is_empty() || v == "false" => Ok(false),
        Some(v) if v == "true" => Ok(true),
        Some(v) => Err(format!(
            "Invalid value {v} for configuration {EXACTLY_ONCE}: Expected value to be either true or false"
        )),
    }
}

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
        ConfigDef::new()
            .define(file_key("Destination filename. If not specified, the standard output will be used"))
            .define(
                ConfigKey::new(
                    EXACTLY_ONCE,
                    ConfigType::Boolean,
                    Importance::Medium,
                    "Write each record to the file exactly once, across crashes and restarts. The task keeps \
                     `<file>.offsets` beside the file (its length after the last durable flush and the next offset \
                     per partition), truncates the file back to that length when it starts (dropping lines a \
                     killed task wrote after its last flush) and resumes reading there. Needs `file` and \
                     `consumer.override.isolation.level=read_committed`, and runs a single task whatever \
                     `tasks.max` says: truncating is only safe with one writer per file",
                )
                .default_value("false"),
            )
    }
    /// Only what [`Connector::config_def`] cannot say: what exactly-once mode needs from other settings.
    fn validate(&self, config: &Config) -> Vec<(String, String)> {
        let Ok(true) = exactly_once(config) else { return Vec::new() };
        let mut errors = Vec::new();
        if target(config).is_none() {
            errors.push((
                FILE.into(),
                "exactly.once=true needs a file: standard output cannot be truncated back to the last durable flush"
                    .into(),
            ));
        }
        let isolation = config.get(ISOLATION_LEVEL).map(|v| v.trim());
        if isolation != Some("read_committed") {
            errors.push((
                ISOLATION_LEVEL.into(),
                format!(
                    "exactly.once=true needs {ISOLATION_LEVEL}=read_committed (got {}), so records of aborted \
                     transactions never reach the file",
                    isolation.unwrap_or("nothing")
                ),
            ));
        }
        errors
    }
    fn task_configs(&self, config: &Config, max_tasks: usize) -> Result<Vec<Config>, ConnectError> {
        let exactly_once = exactly_once(config).map_err(|m| ConnectError::config(EXACTLY_ONCE, m))?;
        if let Some((key, message)) = self.validate(config).into_iter().next() {
            return Err(ConnectError::config(key, message));
        }
        let task: Config = config
            .iter()
            .filter(|(k, _)| [FILE, EXACTLY_ONCE].contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if exactly_once {
            // One writer per file: a task truncating the file back to its last durable flush would cut lines
            // another task wrote (and committed) since.
            return Ok(vec![task]);
        }
        // As Kafka's: every task appends to the same file (lines of different tasks may interleave).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn exactly_once_needs_a_file_and_read_committed_and_runs_one_task() {
        let sink = FileStreamSinkConnector;
        let errors = sink.validate(&config(&[("exactly.once", "true"), ("file", "-")]));
        let fields: Vec<&str> = errors.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(fields, [FILE, ISOLATION_LEVEL], "{errors:?}");
        assert!(errors[1].1.contains("read_committed"), "{errors:?}");
        let wrong = config(&[("exactly.once", "true"), ("file", "/tmp/x"), (ISOLATION_LEVEL, "read_uncommitted")]);
        assert_eq!(sink.validate(&wrong).len(), 1);
        assert!(sink.task_configs(&wrong, 3).is_err());

        let good = config(&[("exactly.once", "TRUE"), ("file", "/tmp/x"), (ISOLATION_LEVEL, "read_committed")]);
        assert!(sink.validate(&good).is_empty());
        let tasks = sink.task_configs(&good, 3).unwrap();
        assert_eq!(tasks.len(), 1, "one writer per file");
        assert_eq!(tasks[0].get(EXACTLY_ONCE).map(String::as_str), Some("TRUE"));
        // The default mode is Kafka's: no extra checks, a task per tasks.max.
        assert!(sink.validate(&config(&[])).is_empty());
        assert_eq!(sink.task_configs(&config(&[("file", "/tmp/x")]), 3).unwrap().len(), 3);
        assert!(sink.task_configs(&config(&[("exactly.once", "maybe")]), 1).is_err());
    }

    #[test]
    fn exactly_once_is_defined_and_checked_as_a_boolean() {
        let infos = crate::config::to_config_infos(
            SINK_CLASS,
            &[&FileStreamSinkConnector.config_def()],
            &config(&[("exactly.once", "maybe")]),
            FileStreamSinkConnector.validate(&config(&[("exactly.once", "maybe")])),
        );
        let info = infos.configs.iter().find(|c| c.definition.name == EXACTLY_ONCE).expect("exactly.once defined");
        assert_eq!(info.definition.default_value.as_deref(), Some("false"));
        assert_eq!(infos.error_count, 1, "{:?}", info.value.errors);
    }
}
