//! The transaction coordinator and producer ids: hands out producer ids and epochs (InitProducerId), tracks each
//! transactional id's transaction (the partitions and groups in it), and ends transactions by writing COMMIT or
//! ABORT markers to every partition in them and to the `__consumer_offsets` partition of every group in them.
//! State lives in the compacted `__transaction_state` topic, one record per change; a transactional id belongs
//! to partition `abs(hashCode) % n`, as in Kafka.
//!
//! # Layout
//! - [`state`]: one transactional id's metadata and its state machine (pure).
//! - `records`: the `__transaction_state` record format.
//! - `store`: the topic: appends, replay of a partition.
//! - `markers`: writing a transaction's markers, locally or through WriteTxnMarkers to other leaders.
//! - `load`: cluster mode: a partition's transactional ids loaded on becoming its leader, dropped on losing it.
//! - `background`: transaction timeouts, unfinished completions, producer id expiry.
//!
//! Every change happens under one lock, inside the blocking pool: validate, change, persist. Writing markers
//! happens outside the lock; meanwhile the transaction is in PrepareCommit/PrepareAbort, which answers
//! CONCURRENT_TRANSACTIONS to anyone else touching it.
//!
//! Single-node mode replays the whole topic at open and reserves producer ids in it. Cluster mode serves only
//! the transactional ids of the partitions this broker leads (NOT_COORDINATOR for the others), answers a
//! change only once the followers have it, and takes producer ids in blocks from the controller so they are
//! unique across the cluster.

mod background;
mod load;
mod markers;
mod records;
pub mod state;
mod store;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use parking_lot::Mutex;
use tokio::sync::watch;

use self::state::{Completion, EndAction, TxnMetadata, TxnState};
use self::store::TxnLog;
use crate::controller::Controller;
use crate::coordinator::cluster::{ClusterHandles, ClusterView};
use crate::coordinator::group::GroupCoordinator;
use crate::coordinator::ownership::{self, Mark, Ownership, REPLICATION_TIMEOUT};
use crate::coordinator::pid_blocks::PidBlocks;
use crate::maintenance::now_ms;
use crate::replica::ReplicaManager;
use crate::topics::TopicRegistry;
use crate::{BrokerConfig, BrokerError};

/// The internal topic holding transaction state.
pub const TOPIC: &str = "__transaction_state";
/// Single-node mode: producer ids reserved in `__transaction_state` at a time, so allocating one rarely writes.
const ID_BLOCK: i64 = 1000;

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
    /// `__transaction_state`, and which of its partitions this broker serves.
    log: TxnLog,
    max_timeout_ms: i64,
    state: Mutex<State>,
    /// Where a transaction's offsets get their marker and are made visible or dropped when it ends, by whichever
    /// path ends it (EndTxn, a fencing InitProducerId, the timeout task, recovery at start or takeover).
    groups: Arc<GroupCoordinator>,
    /// Cluster mode: producer ids from the controller.
    pids: Option<PidBlocks>,
    /// Cluster mode: connections to other partition leaders, for their markers.
    channels: markers::Channels,
}

#[derive(Debug, Default)]
struct State {
    txns: HashMap<String, TxnMetadata>,
    /// Single-node mode: the next producer id.
    next_producer_id: i64,
    /// Single-node mode: ids below this are reserved in `__transaction_state`.
    block_end: i64,
}

fn internal(e: impl std::fmt::Display) -> BrokerError {
    BrokerError::Io(std::io::Error::other(e.to_string()))
}

impl TxnCoordinator {
    /// Opens the coordinator in single-node mode: loads `__transaction_state`, creating it on first start, and
    /// starts the background task (timeouts, producer expiry, finishing transactions a crash left half-ended),
    /// which stops when `shutdown` turns true. Ending a transaction completes its offsets in `groups`.
    pub async fn open(
        topics: &Arc<TopicRegistry>,
        config: &BrokerConfig,
        groups: Arc<GroupCoordinator>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, BrokerError> {
        Self::open_with_cluster(topics, config, groups, None, None, shutdown).await
    }

    /// Opens the coordinator. Without `controller` and `replicas`: single-node mode, as
    /// [`TxnCoordinator::open`]. With both (cluster mode): starts empty and follows the replica manager, loading
    /// each `__transaction_state` partition this broker comes to lead (resuming its half-ended transactions) and
    /// dropping the ones it stops leading; producer ids come in blocks from the controller.
    pub async fn open_with_cluster(
        topics: &Arc<TopicRegistry>,
        config: &BrokerConfig,
        groups: Arc<GroupCoordinator>,
        controller: Option<Arc<Controller>>,
        replicas: Option<Arc<ReplicaManager>>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, BrokerError> {
        let cluster = ClusterHandles::from_parts(controller, replicas, config);
        let coordinator = Self::open_with(topics, config, groups, cluster).await?;
        let inner = &coordinator.inner;
        let single_node = inner.log.ownership.cluster().is_none();
        background::spawn(inner.clone(), config, single_node, shutdown.clone());
        if !single_node {
            let loader = Arc::new(load::TxnLoader { inner: inner.clone() });
            ownership::spawn_watcher(inner.log.ownership.clone(), topics.clone(), loader, shutdown);
        }
        Ok(coordinator)
    }

    /// [`TxnCoordinator::open_with_cluster`] with any cluster view, without background tasks (tests drive them).
    async fn open_with(
        topics: &Arc<TopicRegistry>,
        config: &BrokerConfig,
        groups: Arc<GroupCoordinator>,
        cluster: Option<Arc<dyn ClusterView>>,
    ) -> Result<Self, BrokerError> {
        let pids = cluster.clone().map(PidBlocks::new);
        let ownership = Arc::new(Ownership::new(TOPIC, cluster));
        let log = TxnLog::open(topics, config, ownership).await?;
        let single_node = pids.is_none();
        let inner = Arc::new(Inner {
            topics: topics.clone(),
            log,
            max_timeout_ms: i64::try_from(config.transaction_max_timeout_ms).unwrap_or(i64::MAX),
            state: Mutex::new(State::default()),
            groups,
            pids,
            channels: markers::Channels::default(),
        });
        if single_node {
            let reader = inner.clone();
            let loaded = tokio::task::spawn_blocking(move || reader.log.replay_all())
                .await
                .map_err(|e| internal(format!("loading {TOPIC} failed: {e}")))??;
            tracing::info!(
                transactional_ids = loaded.txns.len(),
                next_producer_id = loaded.next_producer_id,
                "loaded {TOPIC}"
            );
            *inner.state.lock() = loaded;
        }
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
            if let Some(pids) = &self.inner.pids {
                return pids.next().await.map(|pid| (pid, 0));
            }
            let inner = self.inner.clone();
            return blocking(move || inner.allocate(&mut inner.state.lock(), &mut None).map(|pid| (pid, 0))).await;
        };
        if id.is_empty() {
            return Err(ResponseError::InvalidRequest);
        }
        if timeout_ms <= 0 || i64::from(timeout_ms) > self.inner.max_timeout_ms {
            return Err(ResponseError::InvalidTransactionTimeout);
        }
        let inner = self.inner.clone();
        let key = id.clone();
        let mark = self.inner.log.mark(&id);
        // An open transaction is aborted first, with a bumped epoch that fences its producer.
        let fenced = blocking(move || {
            let mut state = inner.state.lock();
            inner.log.check(&key)?;
            let Some(m) = state.txns.get_mut(&key) else { return Ok(None) };
            if m.state != TxnState::Ongoing {
                return Ok(None);
            }
            if let Some((pid, epoch)) = expected {
                m.check_producer(pid, epoch)?;
            }
            let c = m.fence(now_ms());
            let m = m.clone();
            inner.log.persist(&key, &m)?;
            Ok(Some(c))
        })
        .await?;
        if let Some(c) = fenced {
            // The abort decision must survive a failover before any marker says so.
            replicated(mark).await?;
            tracing::info!(
                transactional_id = %id,
                producer_id = c.producer_id,
                "a new producer fenced an open transaction; aborting it"
            );
            self.inner.finish(&id, &c).await?;
        }
        let mut spare = self.spare_producer_id(&id).await?;
        let inner = self.inner.clone();
        let mark = self.inner.log.mark(&id);
        let answer = blocking(move || {
            let mut guard = inner.state.lock();
            let state = &mut *guard;
            inner.log.check(&id)?;
            let now = now_ms();
            let m = match state.txns.get(&id).cloned() {
                Some(mut m) => {
                    // After the fence above, the producer that held the aborted transaction may resume with the
                    // epoch it had (KIP-360): `reinit` accepts the epoch before the last bump.
                    m.reinit(expected, timeout_ms, now, || inner.allocate(state, &mut spare))?;
                    m
                }
                None => TxnMetadata::new(inner.allocate(state, &mut spare)?, timeout_ms, now),
            };
            inner.log.persist(&id, &m)?;
            let answer = (m.producer_id, m.epoch);
            state.txns.insert(id, m);
            Ok(answer)
        })
        .await?;
        replicated(mark).await?;
        Ok(answer)
    }

    /// Cluster mode: a producer id fetched ahead, when the transactional id will need a new one (it is new, or
    /// its epoch is exhausted): the controller cannot be asked under the state lock.
    async fn spare_producer_id(&self, transactional_id: &str) -> Result<Option<i64>, ResponseError> {
        let Some(pids) = &self.inner.pids else { return Ok(None) };
        let needed = self.inner.state.lock().txns.get(transactional_id).is_none_or(|m| m.epoch >= i16::MAX - 1);
        if needed {
            pids.next().await.map(Some)
        } else {
            Ok(None)
        }
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
        self.inner.log.check(transactional_id)?;
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
    /// it compaction) back. In cluster mode the transactional id may be coordinated by another broker; then the
    /// commit is accepted unchecked, as Kafka's group coordinator accepts it (the partition's producer state
    /// still refuses a fenced epoch).
    pub fn verify_group(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        group_id: &str,
    ) -> Result<(), ResponseError> {
        let state = self.inner.state.lock();
        if self.inner.log.check(transactional_id).is_err() {
            return Ok(());
        }
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
        let mark = self.inner.log.mark(transactional_id);
        let action = blocking(move || {
            let mut state = inner.state.lock();
            inner.log.check(&id)?;
            let m = state.txns.get_mut(&id).ok_or(ResponseError::InvalidProducerIdMapping)?;
            let action = m.end(producer_id, epoch, commit, now_ms())?;
            if matches!(action, EndAction::Complete(_)) {
                let m = m.clone();
                inner.log.persist(&id, &m)?;
            }
            Ok(action)
        })
        .await?;
        if let EndAction::Complete(c) = action {
            // The decision is durable (on the followers too) before the first marker carries it.
            replicated(mark).await?;
            self.inner.finish(transactional_id, &c).await?;
        }
        if !bump_epoch {
            return Ok((producer_id, epoch));
        }
        let mut spare = self.spare_producer_id(transactional_id).await?;
        let inner = self.inner.clone();
        let id = transactional_id.to_string();
        let mark = self.inner.log.mark(transactional_id);
        let answer = blocking(move || {
            let mut guard = inner.state.lock();
            let state = &mut *guard;
            inner.log.check(&id)?;
            let mut m = state.txns.get(&id).cloned().ok_or(ResponseError::InvalidProducerIdMapping)?;
            let timeout = m.timeout_ms;
            m.reinit(Some((producer_id, epoch)), timeout, now_ms(), || inner.allocate(state, &mut spare))?;
            inner.log.persist(&id, &m)?;
            let answer = (m.producer_id, m.epoch);
            state.txns.insert(id, m);
            Ok(answer)
        })
        .await?;
        replicated(mark).await?;
        Ok(answer)
    }

    /// The transactional ids asked for: TRANSACTIONAL_ID_NOT_FOUND for unknown ones, NOT_COORDINATOR (or
    /// COORDINATOR_LOAD_IN_PROGRESS) for those another broker serves.
    pub fn describe(&self, ids: &[String]) -> Vec<Result<TxnMetadata, ResponseError>> {
        let state = self.inner.state.lock();
        ids.iter()
            .map(|id| {
                self.inner.log.check(id)?;
                state.txns.get(id).cloned().ok_or(ResponseError::TransactionalIdNotFound)
            })
            .collect()
    }

    /// Every transactional id this broker serves, sorted.
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
        self.inner.receive_markers(producer_id, epoch, commit, coordinator_epoch, partitions).await
    }

    /// Runs `change` on a transactional id's metadata and persists the result.
    async fn update(
        &self,
        transactional_id: &str,
        change: impl FnOnce(&mut TxnMetadata, i64) -> Result<(), ResponseError> + Send + 'static,
    ) -> Result<(), ResponseError> {
        let inner = self.inner.clone();
        let id = transactional_id.to_string();
        let mark = self.inner.log.mark(transactional_id);
        blocking(move || {
            let mut state = inner.state.lock();
            inner.log.check(&id)?;
            let current = state.txns.get(&id).ok_or(ResponseError::InvalidProducerIdMapping)?;
            let mut m = current.clone();
            change(&mut m, now_ms())?;
            if &m != current {
                inner.log.persist(&id, &m)?;
                state.txns.insert(id, m);
            }
            Ok(())
        })
        .await?;
        replicated(mark).await
    }
}

impl Inner {
    /// A producer id: in cluster mode the one fetched ahead into `spare` (CONCURRENT_TRANSACTIONS, retriable,
    /// if none was: the transactional id changed between the look-ahead and now); in single-node mode the next
    /// one, reserving a new block in `__transaction_state` when needed.
    fn allocate(&self, state: &mut State, spare: &mut Option<i64>) -> Result<i64, ResponseError> {
        if self.pids.is_some() {
            return spare.take().ok_or(ResponseError::ConcurrentTransactions);
        }
        if state.next_producer_id >= state.block_end {
            let end = state.next_producer_id + ID_BLOCK;
            self.log.append(0, records::producer_ids_key(), Some(records::producer_ids_value(end)))?;
            state.block_end = end;
        }
        let pid = state.next_producer_id;
        state.next_producer_id += 1;
        Ok(pid)
    }

    /// Writes the markers of a prepared transaction, then marks it complete. A partition that refuses its marker
    /// (deleted topic, newer epoch) is logged and skipped; a storage failure, or markers still missing after
    /// retries, leave the transaction prepared for the background task to finish.
    async fn finish(self: &Arc<Self>, transactional_id: &str, c: &Completion) -> Result<(), ResponseError> {
        // Markers carry this coordinator's epoch; a coordinator that lost the partition stops here.
        let coordinator_epoch = self.log.coordinator_epoch(transactional_id)?;
        self.deliver_markers(transactional_id, c, coordinator_epoch).await?;
        let inner = self.clone();
        let id = transactional_id.to_string();
        let (commit, producer_id) = (c.commit, c.producer_id);
        let mark = self.log.mark(transactional_id);
        blocking(move || {
            let mut state = inner.state.lock();
            let Some(m) = state.txns.get_mut(&id) else { return Ok(()) };
            let expected = if commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort };
            if m.state != expected || m.producer_id != producer_id {
                return Ok(());
            }
            m.complete(commit, now_ms());
            let m = m.clone();
            inner.log.persist(&id, &m)
        })
        .await?;
        replicated(mark).await
    }
}

/// Waits for the followers to have what was appended since `mark` (cluster mode).
async fn replicated(mark: Mark) -> Result<(), ResponseError> {
    mark.replicated(REPLICATION_TIMEOUT).await
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
