//! The transaction coordinator and producer ids: hands out producer ids and epochs (InitProducerId), tracks each
//! transactional id's transaction (the partitions and groups in it), and ends transactions by writing COMMIT or
//! ABORT markers to every partition in them and to the `__consumer_offsets` partition of every group in them.
//! State lives in the compacted `__transaction_state` topic, one record per change, replayed at open; a
//! transactional id belongs to partition `abs(hashCode) % n`, as in Kafka.
//!
//! # Layout
//! - [`state`]: one transactional id's metadata and its state machine (pure).
//! - `records`: the `__transaction_state` record format.
//! - `background`: transaction timeouts, unfinished completions, producer id expiry.
//!
//! Every change happens under one lock, inside the blocking pool: validate, change, persist. Writing markers
//! happens outside the lock; meanwhile the transaction is in PrepareCommit/PrepareAbort, which answers
//! CONCURRENT_TRANSACTIONS to anyone else touching it.

mod background;
mod records;
pub mod state;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kafka_protocol::ResponseError;
use parking_lot::Mutex;
use tokio::sync::watch;

use self::records::StateRecord;
use self::state::{Completion, EndAction, TxnMetadata, TxnState};
use crate::coordinator::group::GroupCoordinator;
use crate::log::{AppendError, PartitionLog};
use crate::maintenance::now_ms;
use crate::topics::TopicRegistry;
use crate::{BrokerConfig, BrokerError};

/// The internal topic holding transaction state.
pub const TOPIC: &str = "__transaction_state";
/// Producer ids reserved in `__transaction_state` at a time, so allocating one rarely writes.
const ID_BLOCK: i64 = 1000;
/// The coordinator epoch written into markers: one coordinator, never moved.
const COORDINATOR_EPOCH: i32 = 0;

/// A transaction as DescribeTransactions and ListTransactions show it.
#[derive(Debug, Clone)]
pub struct TxnListing {
    /// The transactional id.
    pub transactional_id: String,
    /// Its metadata.
    pub metadata: TxnMetadata,
}

/// Producer ids and transactions.
#[derive(Debug)]
pub struct TxnCoordinator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    topics: Arc<TopicRegistry>,
    /// Partitions of `__transaction_state`.
    partitions: i32,
    max_timeout_ms: i64,
    state: Mutex<State>,
    /// Where a transaction's offsets get their marker and are made visible or dropped when it ends, by whichever
    /// path ends it (EndTxn, a fencing InitProducerId, the timeout task, recovery at start).
    groups: Arc<GroupCoordinator>,
}

#[derive(Debug, Default)]
struct State {
    txns: HashMap<String, TxnMetadata>,
    next_producer_id: i64,
    /// Ids below this are reserved in `__transaction_state`.
    block_end: i64,
}

fn internal(e: impl std::fmt::Display) -> BrokerError {
    BrokerError::Io(std::io::Error::other(e.to_string()))
}

impl TxnCoordinator {
    /// Loads transaction state from `__transaction_state`, creating the topic on first start, finishes
    /// transactions a crash left half-ended, and starts the background task (timeouts, producer expiry) that
    /// stops when `shutdown` turns true. Ending a transaction completes its offsets in `groups`.
    pub async fn open(
        topics: &Arc<TopicRegistry>,
        config: &BrokerConfig,
        groups: Arc<GroupCoordinator>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, BrokerError> {
        let topic = match topics.get(TOPIC) {
            Some(t) => t,
            None => {
                let configs: BTreeMap<String, String> = [
                    ("cleanup.policy".to_string(), "compact".to_string()),
                    ("segment.bytes".to_string(), (100 * 1024 * 1024).to_string()),
                ]
                .into();
                topics
                    .create(TOPIC, config.transaction_state_num_partitions, configs, false)
                    .await
                    .map_err(|e| internal(format!("cannot create {TOPIC}: {e}")))?
            }
        };
        let partitions = topic.partitions();
        let loaded = tokio::task::spawn_blocking(move || replay(&partitions))
            .await
            .map_err(|e| internal(format!("loading {TOPIC} failed: {e}")))??;
        tracing::info!(
            transactional_ids = loaded.txns.len(),
            next_producer_id = loaded.next_producer_id,
            "loaded {TOPIC}"
        );
        let inner = Arc::new(Inner {
            topics: topics.clone(),
            partitions: topic.partition_count(),
            max_timeout_ms: i64::try_from(config.transaction_max_timeout_ms).unwrap_or(i64::MAX),
            state: Mutex::new(loaded),
            groups,
        });
        background::spawn(inner.clone(), config, shutdown);
        Ok(Self { inner })
    }

    /// InitProducerId: a fresh producer id for an idempotent producer (`transactional_id` None), or the
    /// transactional id's producer id with a bumped epoch, fencing the previous producer and aborting its open
    /// transaction. `expected` is the producer id and epoch a KIP-360 producer already holds.
    pub async fn init_producer_id(
        &self,
        transactional_id: Option<String>,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), ResponseError> {
        let Some(id) = transactional_id else {
            let inner = self.inner.clone();
            return blocking(move || inner.allocate(&mut inner.state.lock()).map(|pid| (pid, 0))).await;
        };
        if id.is_empty() {
            return Err(ResponseError::InvalidRequest);
        }
        if timeout_ms <= 0 || i64::from(timeout_ms) > self.inner.max_timeout_ms {
            return Err(ResponseError::InvalidTransactionTimeout);
        }
        let inner = self.inner.clone();
        let key = id.clone();
        // An open transaction is aborted first, with a bumped epoch that fences its producer.
        let fenced = blocking(move || {
            let mut state = inner.state.lock();
            let Some(m) = state.txns.get_mut(&key) else { return Ok(None) };
            if m.state != TxnState::Ongoing {
                return Ok(None);
            }
            if let Some((pid, epoch)) = expected {
                m.check_producer(pid, epoch)?;
            }
            let c = m.fence(now_ms());
            let m = m.clone();
            inner.persist(&key, &m)?;
            Ok(Some(c))
        })
        .await?;
        if let Some(c) = fenced {
            tracing::info!(
                transactional_id = %id,
                producer_id = c.producer_id,
                "a new producer fenced an open transaction; aborting it"
            );
            self.finish(&id, c).await?;
        }
        let inner = self.inner.clone();
        blocking(move || {
            let mut guard = inner.state.lock();
            let state = &mut *guard;
            let now = now_ms();
            let m = match state.txns.get(&id).cloned() {
                Some(mut m) => {
                    // After the fence above, the producer that held the aborted transaction may resume with the
                    // epoch it had (KIP-360): `reinit` accepts the epoch before the last bump.
                    m.reinit(expected, timeout_ms, now, || inner.allocate(state))?;
                    m
                }
                None => TxnMetadata::new(inner.allocate(state)?, timeout_ms, now),
            };
            inner.persist(&id, &m)?;
            let answer = (m.producer_id, m.epoch);
            state.txns.insert(id, m);
            Ok(answer)
        })
        .await
    }

    /// AddPartitionsToTxn: adds partitions to the transaction, starting it if none is open.
    pub async fn add_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: Vec<(String, i32)>,
    ) -> Result<(), ResponseError> {
        self.update(transactional_id, move |m, now| m.add_partitions(producer_id, epoch, partitions, now)).await
    }

    /// Whether `partitions` are all in the open transaction of the producer (AddPartitionsToTxn `verify_only`).
    pub fn verify_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partition: &(String, i32),
    ) -> Result<(), ResponseError> {
        let state = self.inner.state.lock();
        let m = state.txns.get(transactional_id).ok_or(ResponseError::InvalidProducerIdMapping)?;
        m.check_producer(producer_id, epoch)?;
        if m.state == TxnState::Ongoing && m.partitions.contains(partition) {
            Ok(())
        } else {
            Err(ResponseError::InvalidTxnState)
        }
    }

    /// TxnOffsetCommit's check: the producer's transaction is open and holds `group_id` (AddOffsetsToTxn came
    /// first), so the offsets it writes to `__consumer_offsets` get a marker when it ends. Without it, a stray
    /// commit would leave a transaction open in that partition forever, holding its last stable offset (and with
    /// it compaction) back.
    pub fn verify_group(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        group_id: &str,
    ) -> Result<(), ResponseError> {
        let state = self.inner.state.lock();
        let m = state.txns.get(transactional_id).ok_or(ResponseError::InvalidProducerIdMapping)?;
        m.check_producer(producer_id, epoch)?;
        if m.state == TxnState::Ongoing && m.groups.contains(group_id) {
            Ok(())
        } else {
            Err(ResponseError::InvalidTxnState)
        }
    }

    /// AddOffsetsToTxn: adds a consumer group whose offsets the transaction commits.
    pub async fn add_offsets(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        group_id: String,
    ) -> Result<(), ResponseError> {
        self.update(transactional_id, move |m, now| m.add_group(producer_id, epoch, group_id, now)).await
    }

    /// EndTxn: commits or aborts the open transaction: markers to every partition, the groups' transactional
    /// offsets completed, then the transaction is complete. With `bump_epoch` (EndTxn v5, KIP-890) the epoch is
    /// bumped afterwards and the new one returned.
    pub async fn end_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        bump_epoch: bool,
    ) -> Result<(i64, i16), ResponseError> {
        let inner = self.inner.clone();
        let id = transactional_id.to_string();
        let action = blocking(move || {
            let mut state = inner.state.lock();
            let m = state.txns.get_mut(&id).ok_or(ResponseError::InvalidProducerIdMapping)?;
            let action = m.end(producer_id, epoch, commit, now_ms())?;
            if matches!(action, EndAction::Complete(_)) {
                let m = m.clone();
                inner.persist(&id, &m)?;
            }
            Ok(action)
        })
        .await?;
        if let EndAction::Complete(c) = action {
            self.finish(transactional_id, c).await?;
        }
        if !bump_epoch {
            return Ok((producer_id, epoch));
        }
        let inner = self.inner.clone();
        let id = transactional_id.to_string();
        blocking(move || {
            let mut guard = inner.state.lock();
            let state = &mut *guard;
            let mut m = state.txns.get(&id).cloned().ok_or(ResponseError::InvalidProducerIdMapping)?;
            let timeout = m.timeout_ms;
            m.reinit(Some((producer_id, epoch)), timeout, now_ms(), || inner.allocate(state))?;
            inner.persist(&id, &m)?;
            let answer = (m.producer_id, m.epoch);
            state.txns.insert(id, m);
            Ok(answer)
        })
        .await
    }

    /// The transactional ids asked for, `None` for those unknown.
    pub fn describe(&self, ids: &[String]) -> Vec<Option<TxnMetadata>> {
        let state = self.inner.state.lock();
        ids.iter().map(|id| state.txns.get(id).cloned()).collect()
    }

    /// Every transactional id, sorted.
    pub fn list(&self) -> Vec<TxnListing> {
        let state = self.inner.state.lock();
        let mut out: Vec<TxnListing> =
            state.txns.iter().map(|(id, m)| TxnListing { transactional_id: id.clone(), metadata: m.clone() }).collect();
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        out
    }

    /// Writes markers for one producer to the partitions named (WriteTxnMarkers): one answer per partition.
    pub async fn write_markers(
        &self,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        partitions: Vec<(String, i32)>,
    ) -> Vec<((String, i32), Result<(), ResponseError>)> {
        let topics = self.inner.topics.clone();
        tokio::task::spawn_blocking(move || {
            partitions
                .into_iter()
                .map(|tp| {
                    let result = write_marker(&topics, &tp, producer_id, epoch, commit, coordinator_epoch);
                    (tp, result)
                })
                .collect()
        })
        .await
        .unwrap_or_default()
    }

    /// Runs `change` on a transactional id's metadata and persists the result.
    async fn update(
        &self,
        transactional_id: &str,
        change: impl FnOnce(&mut TxnMetadata, i64) -> Result<(), ResponseError> + Send + 'static,
    ) -> Result<(), ResponseError> {
        let inner = self.inner.clone();
        let id = transactional_id.to_string();
        blocking(move || {
            let mut state = inner.state.lock();
            let current = state.txns.get(&id).ok_or(ResponseError::InvalidProducerIdMapping)?;
            let mut m = current.clone();
            change(&mut m, now_ms())?;
            if &m != current {
                inner.persist(&id, &m)?;
                state.txns.insert(id, m);
            }
            Ok(())
        })
        .await
    }

    /// Writes a prepared transaction's markers and completes it.
    async fn finish(&self, transactional_id: &str, c: Completion) -> Result<(), ResponseError> {
        let inner = self.inner.clone();
        let id = transactional_id.to_string();
        blocking(move || inner.finish(&id, &c)).await
    }
}

impl Inner {
    /// Hands out the next producer id, reserving a new block in `__transaction_state` when needed.
    fn allocate(&self, state: &mut State) -> Result<i64, ResponseError> {
        if state.next_producer_id >= state.block_end {
            let end = state.next_producer_id + ID_BLOCK;
            self.append(0, records::producer_ids_key(), Some(records::producer_ids_value(end)))?;
            state.block_end = end;
        }
        let pid = state.next_producer_id;
        state.next_producer_id += 1;
        Ok(pid)
    }

    /// Persists a transactional id's metadata.
    fn persist(&self, transactional_id: &str, m: &TxnMetadata) -> Result<(), ResponseError> {
        let partition = records::partition_for(transactional_id, self.partitions);
        self.append(partition, records::txn_key(transactional_id), Some(records::txn_value(m)))
    }

    fn append(&self, partition: i32, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<(), ResponseError> {
        let log = self
            .topics
            .get(TOPIC)
            .and_then(|t| t.partition(partition))
            .ok_or(ResponseError::CoordinatorNotAvailable)?;
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

    /// Writes the markers of a prepared transaction, then marks it complete. A partition that refuses its marker
    /// (deleted topic, newer epoch) is logged and skipped; a storage failure leaves the transaction prepared for
    /// the background task to finish.
    fn finish(&self, transactional_id: &str, c: &Completion) -> Result<(), ResponseError> {
        for tp in &c.partitions {
            match write_marker(&self.topics, tp, c.producer_id, c.epoch, c.commit, COORDINATOR_EPOCH) {
                Ok(()) => {}
                Err(ResponseError::KafkaStorageError) => return Err(ResponseError::KafkaStorageError),
                Err(e) => tracing::warn!(
                    transactional_id,
                    topic = %tp.0,
                    partition = tp.1,
                    error = ?e,
                    "skipped a transaction marker"
                ),
            }
        }
        for group in &c.groups {
            // The group's offsets partition gets its marker like any partition of the transaction; the group
            // coordinator writes it under its own lock and then completes the staged offsets. A marker that cannot
            // be written for lack of storage leaves the transaction prepared (and the offsets pending) for a retry.
            let written = self.groups.finish_transaction_offsets(group, c.producer_id, c.commit, |tp| {
                match write_marker(&self.topics, tp, c.producer_id, c.epoch, c.commit, COORDINATOR_EPOCH) {
                    Ok(()) => Ok(true),
                    Err(e @ (ResponseError::KafkaStorageError | ResponseError::UnknownTopicOrPartition)) => Err(e),
                    Err(e) => {
                        // Refused (a newer epoch of the producer already wrote there): as for a data partition,
                        // skip it; the offsets stay as the log has them, for that newer epoch's marker to end.
                        tracing::warn!(transactional_id, %group, error = ?e, "skipped an offsets partition marker");
                        Ok(false)
                    }
                }
            });
            if let Err(e) = written {
                tracing::warn!(transactional_id, %group, error = ?e, "could not complete a transaction's offsets");
                return Err(e);
            }
        }
        let mut state = self.state.lock();
        let Some(m) = state.txns.get_mut(transactional_id) else { return Ok(()) };
        let expected = if c.commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort };
        if m.state != expected || m.producer_id != c.producer_id {
            return Ok(());
        }
        m.complete(c.commit, now_ms());
        let m = m.clone();
        self.persist(transactional_id, &m)
    }
}

/// Appends one marker to one partition.
fn write_marker(
    topics: &TopicRegistry,
    (topic, partition): &(String, i32),
    producer_id: i64,
    epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
) -> Result<(), ResponseError> {
    let log: Arc<PartitionLog> =
        topics.get(topic).and_then(|t| t.partition(*partition)).ok_or(ResponseError::UnknownTopicOrPartition)?;
    match log.write_txn_marker(producer_id, epoch, commit, coordinator_epoch, now_ms()) {
        Ok(_) => Ok(()),
        Err(AppendError::InvalidProducerEpoch(_)) => Err(ResponseError::InvalidProducerEpoch),
        Err(AppendError::Io(e)) => {
            tracing::error!(topic, partition, error = %e, "cannot write a transaction marker");
            Err(ResponseError::KafkaStorageError)
        }
        Err(e) => {
            tracing::error!(topic, partition, error = %e, "transaction marker refused");
            Err(ResponseError::InvalidRecord)
        }
    }
}

/// Runs coordinator work (locks, file appends) on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ResponseError> + Send + 'static,
) -> Result<T, ResponseError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "transaction coordinator task failed (a bug)");
        Err(ResponseError::CoordinatorNotAvailable)
    })
}

/// Reads every record of `__transaction_state`, last value per key winning.
fn replay(partitions: &[Arc<PartitionLog>]) -> Result<State, BrokerError> {
    let mut state = State::default();
    for (p, log) in partitions.iter().enumerate() {
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
    }
    // Ids of replayed transactional ids were handed out even if their block record was compacted away.
    let highest = state.txns.values().map(|m| m.producer_id + 1).max().unwrap_or(0);
    state.next_producer_id = state.next_producer_id.max(highest);
    state.block_end = state.next_producer_id;
    Ok(state)
}
