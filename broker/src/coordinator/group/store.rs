//! `__consumer_offsets`: the compacted internal topic holding committed offsets and group metadata. Writes
//! go through [`PartitionLog::append`] as ordinary v2 batches, except TxnOffsetCommit's, which are
//! transactional batches of the producer ended by the transaction coordinator's markers. A partition is
//! replayed as a read_committed reader would see it: every partition at start in single-node mode, each one
//! when this broker becomes its leader in cluster mode.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kafka_protocol::ResponseError;

use super::now_ms;
use super::records::{self, GroupValue, OffsetValue, PendingOffset, RecordKey};
use crate::coordinator::internal_topics::InternalTopic;
use crate::coordinator::ownership::{Mark, Ownership};
use crate::log::{AppendError, PartitionLog};
use crate::topics::TopicRegistry;
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
    /// Offsets of transactions with no marker yet, per group and producer id.
    pub(crate) pending: BTreeMap<String, records::PendingByProducer>,
}

/// The `__consumer_offsets` topic. In single-node mode it is created at open and every partition is ours; in
/// cluster mode the controller creates it and only the partitions [`Ownership`] holds are written.
#[derive(Debug)]
pub(crate) struct OffsetsLog {
    topics: Arc<TopicRegistry>,
    /// The topic's partition count (the configured one until the topic exists): the mapping of groups to
    /// partitions depends on it.
    partitions: AtomicI32,
    pub(crate) ownership: Arc<Ownership>,
}

/// Kafka's mapping of a group to its offsets partition: `abs(groupId.hashCode()) % n`, where `hashCode` is
/// Java's `String.hashCode` over UTF-16 code units and `abs(Integer.MIN_VALUE)` counts as 0.
pub(crate) fn partition_for(group_id: &str, partitions: i32) -> i32 {
    crate::coordinator::internal_topics::partition_for(group_id, partitions)
}

impl OffsetsLog {
    /// Opens the topic. In single-node mode (no cluster in `ownership`) it is created (compacted, `partitions`
    /// partitions) on the first start; in cluster mode it appears when the controller creates it.
    pub(crate) async fn open(
        topics: &Arc<TopicRegistry>,
        partitions: i32,
        ownership: Arc<Ownership>,
    ) -> Result<Self, BrokerError> {
        let existing = match topics.get(OFFSETS_TOPIC) {
            Some(topic) => Some(topic),
            None if ownership.cluster().is_none() => {
                let configs = InternalTopic { name: OFFSETS_TOPIC, partitions, replication_factor: 1 }.configs();
                let topic = topics.create(OFFSETS_TOPIC, partitions, configs, false).await.map_err(|e| {
                    BrokerError::Io(std::io::Error::other(format!("cannot create {OFFSETS_TOPIC}: {e}")))
                })?;
                Some(topic)
            }
            None => None,
        };
        let count = existing.map_or(partitions, |t| t.partition_count());
        if count != partitions {
            // The mapping of groups to partitions depends on the count, so the topic's own count wins.
            tracing::warn!(
                configured = partitions,
                existing = count,
                "{OFFSETS_TOPIC} already exists with a different partition count; keeping the existing one"
            );
        }
        Ok(Self { topics: topics.clone(), partitions: AtomicI32::new(count), ownership })
    }

    /// The partition holding `group_id`'s records.
    pub(crate) fn partition_of(&self, group_id: &str) -> i32 {
        partition_for(group_id, self.partitions.load(Ordering::Relaxed))
    }

    /// Takes the topic's partition count again (cluster mode: the topic appeared after open).
    pub(crate) fn refresh_partition_count(&self) {
        if let Some(topic) = self.topics.get(OFFSETS_TOPIC) {
            self.partitions.store(topic.partition_count(), Ordering::Relaxed);
        }
    }

    /// Partition `partition`'s log, if it exists here.
    pub(crate) fn partition_log(&self, partition: i32) -> Option<Arc<PartitionLog>> {
        self.topics.get(OFFSETS_TOPIC).and_then(|t| t.partition(partition))
    }

    /// The log to append `group_id`'s records to: its partition must be ours, loaded, and still led here.
    fn log(&self, group_id: &str) -> Result<Arc<PartitionLog>, ResponseError> {
        let partition = self.partition_of(group_id);
        self.ownership.check_write(partition)?;
        self.partition_log(partition).ok_or(ResponseError::CoordinatorNotAvailable)
    }

    /// Where `group_id`'s partition ends now, to wait for the followers after an operation (cluster mode).
    pub(crate) fn mark(&self, group_id: &str) -> Mark {
        if self.ownership.cluster().is_none() {
            return Mark::none();
        }
        self.partition_log(self.partition_of(group_id)).map_or_else(Mark::none, Mark::of)
    }

    /// Appends `writes` for `group_id` as one batch; returns once it is in the log file.
    pub(crate) fn append(&self, group_id: &str, writes: Vec<Write>) -> Result<(), ResponseError> {
        if writes.is_empty() {
            return Ok(());
        }
        let log = self.log(group_id)?;
        let buf = encode(group_id, writes, None)?;
        log.append(&buf, now_ms()).map(|_| ()).map_err(|e| {
            tracing::error!(group = group_id, error = %e, "cannot append to {OFFSETS_TOPIC}");
            ResponseError::CoordinatorNotAvailable
        })
    }

    /// Appends the offsets of a transaction (TxnOffsetCommit) as one transactional batch of `producer_id` at
    /// `epoch`: replay ignores them until a COMMIT marker of that producer follows in the same partition. The
    /// batch goes through the partition's producer state like a producer's own, so it opens the producer's
    /// transaction there (the marker closes it) and a fenced epoch is refused. Callers hold the groups lock,
    /// the only writer of the topic, so the sequence read here is still the next one at the append. Answers the
    /// offset of the first record; `writes` must not be empty.
    pub(crate) fn append_txn(
        &self,
        group_id: &str,
        producer_id: i64,
        epoch: i16,
        writes: Vec<Write>,
    ) -> Result<i64, ResponseError> {
        let log = self.log(group_id)?;
        let sequence = {
            let state = log.lock_state();
            match state.producers.producers.get(&producer_id) {
                // Sequences restart at 0 with each epoch; an older epoch is refused by the append below.
                Some(entry) if entry.epoch == epoch => entry.last_seq().wrapping_add(1).max(0),
                _ => 0,
            }
        };
        let buf = encode(group_id, writes, Some((producer_id, epoch, sequence)))?;
        log.append(&buf, now_ms()).map(|info| info.base_offset).map_err(|e| match e {
            AppendError::InvalidProducerEpoch(_) => ResponseError::InvalidProducerEpoch,
            e => {
                tracing::error!(group = group_id, producer_id, error = %e, "cannot append transactional offsets to {OFFSETS_TOPIC}");
                ResponseError::CoordinatorNotAvailable
            }
        })
    }

    /// Reads every partition from its start (single-node mode, at open).
    pub(crate) fn replay(&self) -> Loaded {
        let mut loaded = Loaded::default();
        let count = self.topics.get(OFFSETS_TOPIC).map_or(0, |t| t.partition_count());
        for partition in 0..count {
            self.replay_partition(partition, &mut loaded);
        }
        loaded
    }

    /// Reads one partition from its start to its end and folds the records into `loaded`, the latest state per
    /// key winning. Unreadable records are logged and skipped: one bad record must not keep the groups down.
    pub(crate) fn replay_partition(&self, index: i32, loaded: &mut Loaded) {
        let Some(log) = self.partition_log(index) else { return };
        // Transactions are per partition: a marker ends its producer's records in its own partition only.
        let mut txns = PendingTxns::default();
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
                                txns.record(loaded, record);
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
        txns.finish(loaded);
    }
}

/// Encodes `writes` as one v2 batch: plain, or transactional for (producer id, epoch, first sequence).
fn encode(group_id: &str, writes: Vec<Write>, txn: Option<(i64, i16, i32)>) -> Result<BytesMut, ResponseError> {
    let now = now_ms();
    let (producer_id, producer_epoch, sequence) = txn.unwrap_or((-1, -1, -1));
    let batch: Vec<Record> = writes
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| Record {
            transactional: txn.is_some(),
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: if txn.is_some() { sequence.wrapping_add(i as i32) } else { -1 },
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
    Ok(buf)
}

/// A control record's type, from its key `version i16 | type i16` (0 ABORT, 1 COMMIT); `None` if unreadable.
fn marker_commits(key: Option<&Bytes>) -> Option<bool> {
    match key.map(|k| k.as_ref()) {
        Some([_, _, 0, 0, ..]) => Some(false),
        Some([_, _, 0, 1, ..]) => Some(true),
        _ => None,
    }
}

/// One transactional record waiting for its marker: its offset, key and value.
type PendingRecord = (i64, Bytes, Option<Bytes>);

/// Transactional records of one partition not yet ended by a marker, per producer id, in log order.
#[derive(Debug, Default)]
pub(crate) struct PendingTxns {
    open: HashMap<i64, Vec<PendingRecord>>,
}

impl PendingTxns {
    /// Folds one record read from the partition: plain records apply at once, transactional ones wait for their
    /// producer's marker, which applies them (COMMIT) or drops them (ABORT), as a read_committed reader sees them.
    /// A record supersedes the pending ones of the same key before it (see [`PendingOffset`]).
    pub(crate) fn record(&mut self, loaded: &mut Loaded, record: Record) {
        match (record.control, record.transactional) {
            (true, _) => {
                let writes = self.open.remove(&record.producer_id).unwrap_or_default();
                match marker_commits(record.key.as_ref()) {
                    Some(true) => {
                        for (position, key, value) in writes {
                            self.supersede(&key, position);
                            apply(loaded, Some(key), value);
                        }
                    }
                    Some(false) => {}
                    None => tracing::warn!(
                        producer_id = record.producer_id,
                        "unreadable transaction marker in {OFFSETS_TOPIC}; dropping its transaction's offsets"
                    ),
                }
            }
            (false, true) => {
                if let Some(key) = record.key {
                    self.open.entry(record.producer_id).or_default().push((record.offset, key, record.value));
                }
            }
            (false, false) => {
                if let Some(key) = &record.key {
                    self.supersede(key, record.offset);
                }
                apply(loaded, record.key, record.value)
            }
        }
    }

    /// Drops pending records of `key` that lie before `position`.
    fn supersede(&mut self, key: &Bytes, position: i64) {
        for writes in self.open.values_mut() {
            writes.retain(|(at, k, _)| k != key || *at >= position);
        }
    }

    /// The end of the partition: transactions without marker stay pending; the transaction coordinator ends
    /// them (its recovery writes the marker of a prepared transaction; a timeout aborts an open one).
    pub(crate) fn finish(self, loaded: &mut Loaded) {
        for (producer_id, writes) in self.open {
            for (position, key, value) in writes {
                let decoded = records::decode_key(key).map_err(|e| e.to_string());
                let value = value.map(|v| records::decode_offset_value(v).map_err(|e| e.to_string()));
                match (decoded, value) {
                    (Ok(RecordKey::Offset { group, topic, partition }), Some(Ok(value))) => {
                        let staged = loaded.pending.entry(group).or_default().entry(producer_id).or_default();
                        staged.insert((topic, partition), PendingOffset { position, value });
                    }
                    (key, value) => tracing::warn!(
                        producer_id,
                        ?key,
                        ?value,
                        "skipping a pending transactional record of {OFFSETS_TOPIC} that is not an offset commit"
                    ),
                }
            }
        }
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
