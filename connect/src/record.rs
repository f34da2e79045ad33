//! Records as connectors, converters and transforms see them: Connect values with schemas, plus what a source
//! record carries (source partition and offset) or a sink record (the Kafka position it was read from).

use std::sync::Arc;

use crate::data::{Schema, Value};

/// A source partition or offset: a small JSON object the connector defines (e.g. `{"file": "a.txt"}` and
/// `{"position": 42}`), stored as JSON in the offsets topic or file exactly as Kafka Connect stores it.
pub type SourceMap = serde_json::Map<String, serde_json::Value>;

/// One header of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub key: String,
    pub schema: Option<Arc<Schema>>,
    pub value: Value,
}

/// What every record has; transforms work on this.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectRecord {
    pub topic: String,
    /// `None` lets the producer's partitioner choose (by key).
    pub kafka_partition: Option<i32>,
    pub key_schema: Option<Arc<Schema>>,
    pub key: Value,
    pub value_schema: Option<Arc<Schema>>,
    pub value: Value,
    /// Milliseconds since the epoch.
    pub timestamp: Option<i64>,
    pub headers: Vec<Header>,
}

impl ConnectRecord {
    /// A schemaless record with this topic, key and value, no timestamp and no headers.
    pub fn new(topic: impl Into<String>, key: Value, value: Value) -> ConnectRecord {
        ConnectRecord {
            topic: topic.into(),
            kafka_partition: None,
            key_schema: None,
            key,
            value_schema: None,
            value,
            timestamp: None,
            headers: Vec::new(),
        }
    }
}

/// A record a source task produced, with where it came from in the source system.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    pub record: ConnectRecord,
    pub source_partition: SourceMap,
    pub source_offset: SourceMap,
}

/// A record a sink task receives, with the Kafka position it was read at.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    pub record: ConnectRecord,
    /// The partition it was read from (`record.kafka_partition` is always set too).
    pub kafka_partition: i32,
    pub kafka_offset: i64,
}

/// A topic and partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}
