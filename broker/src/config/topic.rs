//! Per-topic settings under Kafka's own key names (`retention.ms`, `cleanup.policy`, ...), typed and validated.
//!
//! A topic's effective settings are, lowest first: Kafka's defaults, the broker's `topic_defaults`, the topic's
//! own overrides. [`TopicConfig::describe`] reports each key with the layer it came from, as DescribeConfigs needs.

use std::collections::BTreeMap;

/// Where an effective config value comes from (DescribeConfigs `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Kafka's built-in default.
    Default,
    /// The broker's `topic_defaults` setting.
    StaticBroker,
    /// The topic's own override.
    Topic,
}

impl ConfigSource {
    /// The DescribeConfigs source code: DEFAULT_CONFIG=5, STATIC_BROKER_CONFIG=4, TOPIC_CONFIG=1.
    pub fn kafka_code(self) -> i8 {
        match self {
            ConfigSource::Default => 5,
            ConfigSource::StaticBroker => 4,
            ConfigSource::Topic => 1,
        }
    }
}

/// One config as DescribeConfigs reports it.
#[derive(Debug, Clone)]
pub struct TopicConfigEntry {
    /// Kafka's key, e.g. `retention.ms`.
    pub name: &'static str,
    /// The effective value, as text.
    pub value: String,
    /// Which layer the value came from.
    pub source: ConfigSource,
    /// What the setting does (DescribeConfigs `documentation`).
    pub doc: &'static str,
    /// Kafka ConfigType: BOOLEAN=1 STRING=2 INT=3 SHORT=4 LONG=5 DOUBLE=6 LIST=7.
    pub config_type: i8,
}

/// Which timestamp records carry in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// The producer's timestamp is kept.
    CreateTime,
    /// The broker stamps each batch with the time it was appended.
    LogAppendTime,
}

/// The typed settings of one topic; every partition log of the topic uses them.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    /// `cleanup.policy` contains `delete`: old segments are removed by time and size.
    pub cleanup_delete: bool,
    /// `cleanup.policy` contains `compact`: only the latest record per key is kept.
    pub cleanup_compact: bool,
    /// `retention.ms`: segments whose newest record is older than this are deleted; -1 keeps them forever.
    pub retention_ms: i64,
    /// `retention.bytes`: oldest segments are deleted while the partition stays above this size; -1 is unlimited.
    pub retention_bytes: i64,
    /// `segment.bytes`: a new segment is started when the active one would grow past this.
    pub segment_bytes: u64,
    /// `segment.ms`: a new segment is started when the active one is older than this.
    pub segment_ms: i64,
    /// `index.interval.bytes`: bytes of log between two offset index entries.
    pub index_interval_bytes: u32,
    /// `max.message.bytes`: largest record batch accepted.
    pub max_message_bytes: u32,
    /// `min.insync.replicas`: replicas that must have a batch before acks=all is answered.
    pub min_insync_replicas: i32,
    /// `message.timestamp.type`.
    pub message_timestamp_type: TimestampType,
    /// `delete.retention.ms`: how long tombstones survive compaction.
    pub delete_retention_ms: i64,
    /// `min.compaction.lag.ms`: records younger than this are never compacted.
    pub min_compaction_lag_ms: i64,
    /// `min.cleanable.dirty.ratio`: the share of uncompacted log that makes the cleaner run.
    pub min_cleanable_dirty_ratio: f64,
    /// `flush.messages`: fsync after this many records (1 = fsync every append).
    pub flush_messages: i64,
    /// `flush.ms`: fsync when the last fsync is older than this.
    pub flush_ms: i64,
    /// `compression.type`: only `producer` (batches are stored as the producer compressed them).
    pub compression_type: String,
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self {
            cleanup_delete: true,
            cleanup_compact: false,
            retention_ms: 604_800_000,
            retention_bytes: -1,
            segment_bytes: 1_073_741_824,
            segment_ms: 604_800_000,
            index_interval_bytes: 4096,
            max_message_bytes: 1_048_588,
            min_insync_replicas: 1,
            message_timestamp_type: TimestampType::CreateTime,
            delete_retention_ms: 86_400_000,
            min_compaction_lag_ms: 0,
            min_cleanable_dirty_ratio: 0.5,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            compression_type: "producer".to_string(),
        }
    }
}

/// A topic setting that was refused, naming the key and what it accepts.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{key}: {message}")]
pub struct TopicConfigError {
    /// The offending key.
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

const STRING: i8 = 2;
const INT: i8 = 3;
const LONG: i8 = 5;
const DOUBLE: i8 = 6;
const LIST: i8 = 7;

/// Every key we know, its Kafka type, its default as text and its documentation. Sorted by name so that
/// `describe` needs no sort.
const KEYS: &[(&str, i8, &str, &str)] = &[
    ("cleanup.policy", LIST, "delete", "delete, compact or compact,delete: how old segments are cleaned up."),
    ("compression.type", STRING, "producer", "Only producer: batches are stored as the producer compressed them."),
    ("delete.retention.ms", LONG, "86400000", "How long compaction keeps tombstones (records with a null value)."),
    ("flush.messages", LONG, "9223372036854775807", "Fsync the log after this many records; 1 fsyncs every append."),
    ("flush.ms", LONG, "9223372036854775807", "Fsync the log when the last fsync is older than this."),
    ("index.interval.bytes", INT, "4096", "Bytes of log between two entries of the sparse offset index."),
    ("max.message.bytes", INT, "1048588", "The largest record batch accepted, in bytes."),
    (
        "message.timestamp.type",
        STRING,
        "CreateTime",
        "CreateTime keeps the producer's timestamps; LogAppendTime stamps batches on append.",
    ),
    (
        "min.cleanable.dirty.ratio",
        DOUBLE,
        "0.5",
        "The share of not yet compacted log that makes the cleaner compact a partition.",
    ),
    ("min.compaction.lag.ms", LONG, "0", "Records younger than this are never compacted."),
    ("min.insync.replicas", INT, "1", "Replicas that must have a batch before an acks=all produce is answered."),
    (
        "retention.bytes",
        LONG,
        "-1",
        "Oldest segments are deleted while the partition stays above this size; -1 is unlimited.",
    ),
    (
        "retention.ms",
        LONG,
        "604800000",
        "Segments whose newest record is older than this are deleted; -1 keeps them forever.",
    ),
    (
        "segment.bytes",
        INT,
        "1073741824",
        "A new segment file is started when the active one would grow past this size.",
    ),
    ("segment.ms", LONG, "604800000", "A new segment file is started when the active one is older than this."),
];

impl TopicConfig {
    /// Builds the effective settings: Kafka's defaults, then `broker_defaults`, then `topic_overrides` (same keys).
    /// Unknown keys and bad values are errors naming the key and what is allowed.
    pub fn from_overrides(
        broker_defaults: &BTreeMap<String, String>,
        topic_overrides: &BTreeMap<String, String>,
    ) -> Result<Self, TopicConfigError> {
        let mut config = Self::default();
        for (key, value) in broker_defaults.iter().chain(topic_overrides.iter()) {
            config.apply(key, value)?;
        }
        Ok(config)
    }

    /// Checks one override (CreateTopics, AlterConfigs) without building a config.
    pub fn validate_override(key: &str, value: &str) -> Result<(), TopicConfigError> {
        Self::default().apply(key, value)
    }

    /// Every known key with its effective value and source, sorted by name. Invalid values are shown as given:
    /// they were refused when they were set, so this only describes.
    pub fn describe(
        broker_defaults: &BTreeMap<String, String>,
        topic_overrides: &BTreeMap<String, String>,
    ) -> Vec<TopicConfigEntry> {
        KEYS.iter()
            .map(|&(name, config_type, default, doc)| {
                let (value, source) = if let Some(v) = topic_overrides.get(name) {
                    (v.clone(), ConfigSource::Topic)
                } else if let Some(v) = broker_defaults.get(name) {
                    (v.clone(), ConfigSource::StaticBroker)
                } else {
                    (default.to_string(), ConfigSource::Default)
                };
                TopicConfigEntry { name, value, source, doc, config_type }
            })
            .collect()
    }

    /// Applies one key; the value is parsed and range-checked.
    fn apply(&mut self, key: &str, value: &str) -> Result<(), TopicConfigError> {
        let err = |message: String| TopicConfigError { key: key.to_string(), message };
        let value = value.trim();
        match key {
            "cleanup.policy" => {
                let mut delete = false;
                let mut compact = false;
                for part in value.split(',').map(str::trim) {
                    match part {
                        "delete" => delete = true,
                        "compact" => compact = true,
                        _ => {
                            return Err(err(format!("{value:?} is not allowed; use delete, compact or compact,delete")))
                        }
                    }
                }
                self.cleanup_delete = delete;
                self.cleanup_compact = compact;
            }
            "compression.type" => {
                if value != "producer" {
                    return Err(err(format!(
                        "{value:?} is not supported; only producer (batches are stored as the producer sent them)"
                    )));
                }
                self.compression_type = value.to_string();
            }
            "delete.retention.ms" => self.delete_retention_ms = long(value, 0, i64::MAX).map_err(err)?,
            "flush.messages" => self.flush_messages = long(value, 1, i64::MAX).map_err(err)?,
            "flush.ms" => self.flush_ms = long(value, 0, i64::MAX).map_err(err)?,
            "index.interval.bytes" => self.index_interval_bytes = long(value, 0, i32::MAX as i64).map_err(err)? as u32,
            "max.message.bytes" => self.max_message_bytes = long(value, 0, i32::MAX as i64).map_err(err)? as u32,
            "message.timestamp.type" => {
                self.message_timestamp_type = match value {
                    "CreateTime" => TimestampType::CreateTime,
                    "LogAppendTime" => TimestampType::LogAppendTime,
                    _ => return Err(err(format!("{value:?} is not allowed; use CreateTime or LogAppendTime"))),
                }
            }
            "min.cleanable.dirty.ratio" => {
                let ratio: f64 =
                    value.parse().map_err(|_| err(format!("{value:?} is not a number; use a value from 0 to 1")))?;
                if !(0.0..=1.0).contains(&ratio) {
                    return Err(err(format!("{value} is out of range; use a value from 0 to 1")));
                }
                self.min_cleanable_dirty_ratio = ratio;
            }
            "min.compaction.lag.ms" => self.min_compaction_lag_ms = long(value, 0, i64::MAX).map_err(err)?,
            "min.insync.replicas" => self.min_insync_replicas = long(value, 1, i32::MAX as i64).map_err(err)? as i32,
            "retention.bytes" => self.retention_bytes = long(value, -1, i64::MAX).map_err(err)?,
            "retention.ms" => self.retention_ms = long(value, -1, i64::MAX).map_err(err)?,
            // Far below Kafka's minimum so tests can roll segments after a few batches; the upper bound keeps
            // file positions within the u32 of the offset index.
            "segment.bytes" => self.segment_bytes = long(value, 100, i32::MAX as i64).map_err(err)? as u64,
            "segment.ms" => self.segment_ms = long(value, 1, i64::MAX).map_err(err)?,
            _ => {
                let known: Vec<&str> = KEYS.iter().map(|k| k.0).collect();
                return Err(err(format!("unknown topic config; known keys are {}", known.join(", "))));
            }
        }
        Ok(())
    }

    /// The `cleanup.policy` value as Kafka spells it.
    pub fn cleanup_policy(&self) -> &'static str {
        match (self.cleanup_compact, self.cleanup_delete) {
            (true, true) => "compact,delete",
            (true, false) => "compact",
            _ => "delete",
        }
    }
}

/// Parses an integer within `[min, max]`, with a message naming the allowed range.
fn long(value: &str, min: i64, max: i64) -> Result<i64, String> {
    let n: i64 = value.parse().map_err(|_| format!("{value:?} is not an integer; use {min}..={max}"))?;
    if n < min || n > max {
        return Err(format!("{n} is out of range; use {min}..={max}"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_match_kafka() {
        let c = TopicConfig::from_overrides(&BTreeMap::new(), &BTreeMap::new()).unwrap();
        assert_eq!(c, TopicConfig::default());
        assert!(c.cleanup_delete && !c.cleanup_compact);
        assert_eq!(c.retention_ms, 604_800_000);
        assert_eq!(c.max_message_bytes, 1_048_588);
        assert_eq!(c.flush_messages, i64::MAX);
        // Every default in KEYS parses and gives the same config as Default.
        let all: BTreeMap<String, String> = KEYS.iter().map(|k| (k.0.to_string(), k.2.to_string())).collect();
        assert_eq!(TopicConfig::from_overrides(&BTreeMap::new(), &all).unwrap(), TopicConfig::default());
    }

    #[test]
    fn topic_overrides_win_over_broker_defaults() {
        let broker = map(&[("retention.ms", "1000"), ("segment.bytes", "2000")]);
        let topic = map(&[("retention.ms", "5"), ("cleanup.policy", "delete,compact")]);
        let c = TopicConfig::from_overrides(&broker, &topic).unwrap();
        assert_eq!(c.retention_ms, 5);
        assert_eq!(c.segment_bytes, 2000);
        assert!(c.cleanup_compact && c.cleanup_delete);
        assert_eq!(c.cleanup_policy(), "compact,delete");
    }

    #[test]
    fn parses_every_kind() {
        let c = TopicConfig::from_overrides(
            &BTreeMap::new(),
            &map(&[
                ("cleanup.policy", "compact"),
                ("message.timestamp.type", "LogAppendTime"),
                ("min.cleanable.dirty.ratio", "0.25"),
                ("retention.bytes", "-1"),
                ("flush.messages", "1"),
                ("segment.bytes", "100"),
            ]),
        )
        .unwrap();
        assert!(c.cleanup_compact && !c.cleanup_delete);
        assert_eq!(c.message_timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(c.min_cleanable_dirty_ratio, 0.25);
        assert_eq!(c.flush_messages, 1);
        assert_eq!(c.segment_bytes, 100);
    }

    #[test]
    fn errors_name_the_key_and_what_is_allowed() {
        let e = TopicConfig::validate_override("retention.ms", "soon").unwrap_err();
        assert_eq!(e.key, "retention.ms");
        assert!(e.message.contains("not an integer"), "{e}");
        let e = TopicConfig::validate_override("segment.bytes", "10").unwrap_err();
        assert!(e.to_string().starts_with("segment.bytes: 10 is out of range"), "{e}");
        let e = TopicConfig::validate_override("cleanup.policy", "forever").unwrap_err();
        assert!(e.message.contains("compact,delete"), "{e}");
        let e = TopicConfig::validate_override("compression.type", "gzip").unwrap_err();
        assert!(e.message.contains("producer"), "{e}");
        let e = TopicConfig::validate_override("no.such.key", "1").unwrap_err();
        assert!(e.message.contains("unknown topic config"), "{e}");
        let e = TopicConfig::validate_override("min.cleanable.dirty.ratio", "1.5").unwrap_err();
        assert!(e.message.contains("0 to 1"), "{e}");
        let e = TopicConfig::validate_override("message.timestamp.type", "Now").unwrap_err();
        assert!(e.message.contains("LogAppendTime"), "{e}");
        assert!(TopicConfig::validate_override("flush.messages", "0").is_err());
        // A bad broker default is reported too.
        assert!(TopicConfig::from_overrides(&map(&[("retention.ms", "x")]), &BTreeMap::new()).is_err());
    }

    #[test]
    fn describe_reports_sources_sorted() {
        let broker = map(&[("retention.ms", "1000")]);
        let topic = map(&[("cleanup.policy", "compact")]);
        let entries = TopicConfig::describe(&broker, &topic);
        assert_eq!(entries.len(), KEYS.len());
        let names: Vec<&str> = entries.iter().map(|e| e.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        let get = |n: &str| entries.iter().find(|e| e.name == n).unwrap();
        assert_eq!(get("cleanup.policy").source, ConfigSource::Topic);
        assert_eq!(get("cleanup.policy").value, "compact");
        assert_eq!(get("retention.ms").source, ConfigSource::StaticBroker);
        assert_eq!(get("retention.ms").source.kafka_code(), 4);
        assert_eq!(get("segment.ms").source, ConfigSource::Default);
        assert_eq!(get("segment.ms").value, "604800000");
        assert_eq!(get("min.cleanable.dirty.ratio").config_type, 6);
    }
}
