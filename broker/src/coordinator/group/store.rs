//! `__consumer_offsets`: the compacted internal topic holding committed offsets and group metadata. Writes
//! go through [`PartitionLog::append`] as ordinary v2 batches; at start the whole topic is replayed.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kafka_protocol::ResponseError;

use super::now_ms;
use super::records::{self, GroupValue, OffsetValue, RecordKey};
use crate::log::PartitionLog;
use crate::topics::{Topic, TopicRegistry};
use crate::BrokerError;

/// The internal topic's name, as Kafka names it.
pub(crate) const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// One record to write: a key and a value, or a tombstone (`None`).
pub(crate) type Write = (Bytes, Option<Bytes>);

/// What replaying the topic found, in log order (later entries win).
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// Committed offsets per group: (topic, partition) -> value.
    pub(crate) offsets: BTreeMap<String, BTreeMap<(String, i32), OffsetValue>>,
    /// Group metadata per group.
    pub(crate) groups: BTreeMap<String, GroupValue>,
    /// The records of consumer-protocol groups, per group.
    pub(crate) consumer: BTreeMap<String, super::consumer::persist::LoadedGroup>,
}

/// The `__consumer_offsets` topic, opened (or created) once at start.
#[derive(Debug)]
pub(crate) struct OffsetsLog {
    topic: Arc<Topic>,
    partitions: i32,
}

/// Kafka's mapping of a group to its offsets partition: `abs(groupId.hashCode()) % n`, where `hashCode` is
/// Java's `String.hashCode` over UTF-16 code units and `abs(Integer.MIN_VALUE)` counts as 0.
pub(crate) fn partition_for(group_id: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for unit in group_id.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

impl OffsetsLog {
    /// Opens the topic, creating it (compacted, `partitions` partitions) on the first start.
    pub(crate) async fn open(topics: &Arc<TopicRegistry>, partitions: i32) -> Result<Self, BrokerError> {
        let topic = match topics.get(OFFSETS_TOPIC) {
            Some(topic) => topic,
            None => {
                let configs = BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]);
                topics.create(OFFSETS_TOPIC, partitions, configs, false).await.map_err(|e| {
                    BrokerError::Io(std::io::Error::other(format!("cannot create {OFFSETS_TOPIC}: {e}")))
                })?
            }
        };
        let existing = topic.partition_count();
        if existing != partitions {
            // The mapping of groups to partitions depends on the count, so the topic's own count wins.
            tracing::warn!(
                configured = partitions,
                existing,
                "{OFFSETS_TOPIC} already exists with a different partition count; keeping the existing one"
            );
        }
        Ok(Self { topic, partitions: existing })
    }

    /// The partition holding `group_id`'s records.
    pub(crate) fn partition_of(&self, group_id: &str) -> i32 {
        partition_for(group_id, self.partitions)
    }

    fn log(&self, group_id: &str) -> Result<Arc<PartitionLog>, ResponseError> {
        self.topic.partition(self.partition_of(group_id)).ok_or(ResponseError::CoordinatorNotAvailable)
    }

    /// Appends `writes` for `group_id` as one batch; returns once it is in the log file.
    pub(crate) fn append(&self, group_id: &str, writes: Vec<Write>) -> Result<(), ResponseError> {
        if writes.is_empty() {
            return Ok(());
        }
        let log = self.log(group_id)?;
        let now = now_ms();
        let batch: Vec<Record> = writes
            .into_iter()
            .enumerate()
            .map(|(i, (key, value))| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: -1,
                timestamp: now,
                key: Some(key),
                value,
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions { version: 2, compression: Compression::None };
        if let Err(e) = RecordBatchEncoder::encode(&mut buf, &batch, &options) {
            tracing::error!(group = group_id, error = %e, "cannot encode a {OFFSETS_TOPIC} batch (a bug)");
            return Err(ResponseError::UnknownServerError);
        }
        log.append(&buf, now).map(|_| ()).map_err(|e| {
            tracing::error!(group = group_id, error = %e, "cannot append to {OFFSETS_TOPIC}");
            ResponseError::CoordinatorNotAvailable
        })
    }

    /// Reads every partition from its start and folds the records into the latest state per key. Unreadable
    /// records are logged and skipped: one bad record must not keep the broker down.
    pub(crate) fn replay(&self) -> Loaded {
        let mut loaded = Loaded::default();
        for (index, log) in self.topic.partitions().iter().enumerate() {
            let mut offset = log.log_start_offset();
            let end = log.log_end_offset();
            while offset < end {
                let read = match log.read(offset, 1 << 20, end) {
                    Ok(read) => read,
                    Err(e) => {
                        tracing::error!(partition = index, offset, error = %e, "cannot read {OFFSETS_TOPIC}; skipping the rest of the partition");
                        break;
                    }
                };
                let mut progressed = false;
                for slice in &read.slices {
                    let mut bytes = match slice.read_to_bytes() {
                        Ok(bytes) => bytes,
                        Err(e) => {
                            tracing::error!(partition = index, error = %e, "cannot read {OFFSETS_TOPIC} segment");
                            break;
                        }
                    };
                    while bytes.len() >= 12 {
                        let len = i32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]).max(0) as usize;
                        if bytes.len() < 12 + len {
                            break;
                        }
                        let mut one = bytes.split_to(12 + len);
                        if one.len() >= 27 {
                            let base = i64::from_be_bytes(one[0..8].try_into().unwrap_or_default());
                            let delta = i32::from_be_bytes(one[23..27].try_into().unwrap_or_default());
                            let next = base + i64::from(delta) + 1;
                            if next > offset {
                                offset = next;
                                progressed = true;
                            }
                        }
                        match RecordBatchDecoder::decode(&mut one) {
                            Ok(set) => {
                                for record in set.records {
                                    if !record.control {
                                        apply(&mut loaded, record.key, record.value);
                                    }
                                }
                            }
                            Err(e) => {
                                tracing::warn!(partition = index, error = %e, "skipping an unreadable {OFFSETS_TOPIC} batch");
                            }
                        }
                    }
                }
                if !progressed {
                    // Nothing readable below the end: stop rather than spin.
                    break;
                }
            }
        }
        loaded
    }
}

fn apply(loaded: &mut Loaded, key: Option<Bytes>, value: Option<Bytes>) {
    let Some(key) = key else { return };
    let key = match records::decode_key(key) {
        Ok(key) => key,
        Err(e) => {
            tracing::warn!(error = %e, "skipping a {OFFSETS_TOPIC} record with an unreadable key");
            return;
        }
    };
    match (key, value) {
        (RecordKey::Consumer { group, key }, value) => super::consumer::persist::apply(&mut loaded.consumer, group, key, value),
        (RecordKey::Offset { group, topic, partition }, None) => {
            if let Some(offsets) = loaded.offsets.get_mut(&group) {
                offsets.remove(&(topic, partition));
            }
        }
        (RecordKey::Offset { group, topic, partition }, Some(value)) => match records::decode_offset_value(value) {
            Ok(v) => {
                loaded.offsets.entry(group).or_default().insert((topic, partition), v);
            }
            Err(e) => tracing::warn!(group, error = %e, "skipping an unreadable offset commit record"),
        },
        // As in Kafka, a group tombstone drops the membership only; offsets go with their own tombstones.
        (RecordKey::Group { group }, None) => {
            loaded.groups.remove(&group);
        }
        (RecordKey::Group { group }, Some(value)) => match records::decode_group_value(value) {
            Ok(v) => {
                loaded.groups.insert(group, v);
            }
            Err(e) => tracing::warn!(group, error = %e, "skipping an unreadable group metadata record"),
        },
    }
}

impl super::consumer::persist::Journal for OffsetsLog {
    fn append(&self, group_id: &str, writes: Vec<Write>) -> Result<(), ResponseError> {
        OffsetsLog::append(self, group_id, writes)
    }
}

#[cfg(test)]
mod tests {
    use super::partition_for;

    /// Values from Java: `Math.abs("my-group".hashCode()) % 50` and friends.
    #[test]
    fn partition_matches_java_string_hash_code() {
        // "a".hashCode() = 97; "ab".hashCode() = 97*31+98 = 3105.
        assert_eq!(partition_for("a", 50), 97 % 50);
        assert_eq!(partition_for("ab", 50), 3105 % 50);
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE, which Kafka's Utils.abs maps to 0.
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        assert_eq!(partition_for("", 50), 0);
    }
}
