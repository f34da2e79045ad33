//! Small helpers shared by the handlers: names, error codes and messages in the codec's types.

use kafka_protocol::messages::{BrokerId, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

/// A topic name in the codec's type.
pub(crate) fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// A string in the codec's type.
pub(crate) fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// Node ids in the codec's type.
pub(crate) fn node_ids(nodes: &[i32]) -> Vec<BrokerId> {
    nodes.iter().copied().map(BrokerId).collect()
}

/// The wire code of a Kafka error.
pub(crate) fn code(error: ResponseError) -> i16 {
    error.code()
}

/// Kafka's "no error".
pub(crate) const NONE: i16 = 0;
