//! `__transaction_state`: one record per change of a transactional id (and, in single-node mode, the producer
//! id block record), replayed into memory: every partition at open in single-node mode, each partition when this
//! broker becomes its leader in cluster mode. Writes go only to partitions this broker serves (see
//! [`Ownership`]); in cluster mode their callers then wait for the followers ([`TxnLog::mark`]).

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kafka_protocol::ResponseError;

use super::records::{self, StateRecord};
use super::state::TxnMetadata;
use super::{internal, State, TOPIC};
use crate::coordinator::internal_topics::{self, InternalTopic};
use crate::coordinator::ownership::{Mark, Ownership};
use crate::log::PartitionLog;
use crate::maintenance::now_ms;
use crate::topics::TopicRegistry;
use crate::{BrokerConfig, BrokerError};

/// The `__transaction_state` topic as the coordinator uses it.
#[derive(Debug)]
pub(super) struct TxnLog {
    topics: Arc<TopicRegistry>,
    /// The topic's partition count (the configured one until the topic exists).
    partitions: AtomicI32,
    pub(super) ownership: Arc<Ownership>,
}

impl TxnLog {
    /// Opens the topic; in single-node mode (no cluster in `ownership`) creates it on the first start.
    pub(super) async fn open(
        topics: &Arc<TopicRegistry>,
        config: &BrokerConfig,
        ownership: Arc<Ownership>,
    ) -> Result<Self, BrokerError> {
        let existing = match topics.get(TOPIC) {
            Some(t) => Some(t),
            None if ownership.cluster().is_none() => {
                let settings = InternalTopic::transactions(config);
                let topic = topics
                    .create(TOPIC, settings.partitions, settings.configs(), false)
                    .await
                    .map_err(|e| internal(format!("cannot create {TOPIC}: {e}")))?;
                Some(topic)
            }
            None => None,
        };
        let count = existing.map_or(config.transaction_state_num_partitions, |t| t.partition_count());
        Ok(Self { topics: topics.clone(), partitions: AtomicI32::new(count), ownership })
    }

    /// The partition of `transactional_id`.
    pub(super) fn partition_of(&self, transactional_id: &str) -> i32 {
        internal_topics::partition_for(transactional_id, self.partitions.load(Ordering::Relaxed))
    }

    /// Takes the topic's partition count again (cluster mode: the topic appeared after open).
    pub(super) fn refresh_partition_count(&self) {
        if let Some(topic) = self.topics.get(TOPIC) {
            self.partitions.store(topic.partition_count(), Ordering::Relaxed);
        }
    }

    fn partition_log(&self, partition: i32) -> Option<Arc<PartitionLog>> {
        self.topics.get(TOPIC).and_then(|t| t.partition(partition))
    }

    /// Whether `transactional_id` is served here now (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS).
    pub(super) fn check(&self, transactional_id: &str) -> Result<(), ResponseError> {
        self.ownership.check(self.partition_of(transactional_id))
    }

    /// The coordinator epoch markers of `transactional_id`'s transactions carry: its partition's leader epoch
    /// (0 in single-node mode). NOT_COORDINATOR when this broker no longer leads the partition.
    pub(super) fn coordinator_epoch(&self, transactional_id: &str) -> Result<i32, ResponseError> {
        self.ownership.check_write(self.partition_of(transactional_id))
    }

    /// Where `transactional_id`'s partition ends before an operation (cluster mode; nothing to wait for in
    /// single-node mode).
    pub(super) fn mark(&self, transactional_id: &str) -> Mark {
        if self.ownership.cluster().is_none() {
            return Mark::none();
        }
        self.partition_log(self.partition_of(transactional_id)).map_or_else(Mark::none, Mark::of)
    }

    /// Persists a transactional id's metadata.
    pub(super) fn persist(&self, transactional_id: &str, m: &TxnMetadata) -> Result<(), ResponseError> {
        let partition = self.partition_of(transactional_id);
        self.append(partition, records::txn_key(transactional_id), Some(records::txn_value(m)))
    }

    /// Appends one record to `partition`, which must be ours.
    pub(super) fn append(&self, partition: i32, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<(), ResponseError> {
        self.ownership.check_write(partition)?;
        let log = self.partition_log(partition).ok_or(ResponseError::CoordinatorNotAvailable)?;
        let record = Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: 0,
            sequence: -1,
            timestamp: now_ms(),
            key: Some(Bytes::from(key)),
            value: value.map(Bytes::from),
            headers: Default::default(),
            delete_horizon: false,
        };
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &[record],
            &RecordEncodeOptions { version: 2, compression: Compression::None },
        )
        .map_err(|e| {
            tracing::error!(error = %e, "cannot encode a {TOPIC} record (a bug)");
            ResponseError::CoordinatorNotAvailable
        })?;
        log.append(&buf, now_ms()).map(|_| ()).map_err(|e| {
            tracing::error!(partition, error = %e, "cannot write to {TOPIC}");
            ResponseError::CoordinatorNotAvailable
        })
    }

    /// Single-node mode: every partition, last value per key winning.
    pub(super) fn replay_all(&self) -> Result<State, BrokerError> {
        let mut state = State::default();
        let count = self.topics.get(TOPIC).map_or(0, |t| t.partition_count());
        for p in 0..count {
            self.replay_partition(p, &mut state)?;
        }
        // Ids of replayed transactional ids were handed out even if their block record was compacted away.
        let highest = state.txns.values().map(|m| m.producer_id + 1).max().unwrap_or(0);
        state.next_producer_id = state.next_producer_id.max(highest);
        state.block_end = state.next_producer_id;
        Ok(state)
    }

    /// Reads partition `p` from its start into `state`, last value per key winning.
    pub(super) fn replay_partition(&self, p: i32, state: &mut State) -> Result<(), BrokerError> {
        let Some(log) = self.partition_log(p) else { return Ok(()) };
        let mut offset = log.log_start_offset();
        loop {
            let read = log.read(offset, 1 << 20, i64::MAX).map_err(internal)?;
            if read.slices.is_empty() {
                break;
            }
            let mut bytes = BytesMut::new();
            for s in &read.slices {
                bytes.extend_from_slice(&s.read_to_bytes()?);
            }
            let mut bytes = bytes.freeze();
            // Compaction may have emptied the end of a batch: continue after the batches, not their last record.
            let mut next = offset;
            let mut pos = 0;
            while pos < bytes.len() {
                let Ok(h) = crate::log::batch::parse_header(&bytes[pos..]) else { break };
                next = next.max(h.next_offset());
                pos += h.size();
            }
            let sets = RecordBatchDecoder::decode_all(&mut bytes)
                .map_err(|e| internal(format!("cannot decode {TOPIC}-{p} from offset {offset}: {e}")))?;
            for r in sets.into_iter().flat_map(|s| s.records) {
                if r.control {
                    continue;
                }
                let Some(key) = &r.key else { continue };
                match records::decode(key, r.value.as_deref()) {
                    Ok(StateRecord::Txn(id, Some(m))) => {
                        state.txns.insert(id, m);
                    }
                    Ok(StateRecord::Txn(id, None)) => {
                        state.txns.remove(&id);
                    }
                    Ok(StateRecord::ProducerIdBlock(end)) => {
                        state.next_producer_id = state.next_producer_id.max(end);
                    }
                    Err(e) => tracing::warn!("skipping a record of {TOPIC}-{p} at offset {}: {e}", r.offset),
                }
            }
            if next <= offset {
                break;
            }
            offset = next;
        }
        Ok(())
    }
}
