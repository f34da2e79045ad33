//! Transaction markers: ending a prepared transaction by writing its COMMIT or ABORT marker to every partition in
//! it and to the `__consumer_offsets` partition of every group in it, and the receiving side of WriteTxnMarkers.
//!
//! In single-node mode every marker is a local append, as before clusters existed. In cluster mode a partition
//! this broker leads gets its marker locally (then the followers must have it: the high watermark passes it),
//! and a partition led elsewhere gets it through WriteTxnMarkers (key 27) sent to its leader, whose handler does
//! the same local append and wait. A refusal that may pass (a leader moving, a group partition loading, a slow
//! follower) is retried with the leadership read again, within [`DELIVERY_DEADLINE`]; past it the transaction
//! stays prepared and the timer finishes it later.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::write_txn_markers_request::{WritableTxnMarker, WritableTxnMarkerTopic};
use kafka_protocol::messages::{TopicName, WriteTxnMarkersRequest};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use parking_lot::Mutex;
use tokio::time::Instant;

use super::state::Completion;
use super::Inner;
use crate::coordinator::cluster::ClusterView;
use crate::coordinator::group::OFFSETS_TOPIC;
use crate::coordinator::ownership::{await_high_watermark, REPLICATION_TIMEOUT};
use crate::log::{AppendError, PartitionLog};
use crate::maintenance::now_ms;
use crate::net::client::KafkaClient;
use crate::topics::TopicRegistry;

/// How long one attempt to end a transaction keeps retrying its markers.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(10);
/// Connecting to another broker, and its answer beyond its own wait for followers.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The WriteTxnMarkers version sent (the only one Kafka 4 and this broker serve).
const WRITE_TXN_MARKERS_VERSION: i16 = 1;

/// A partition that gets a marker.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// A data partition of the transaction.
    Data(String, i32),
    /// The `__consumer_offsets` partition of groups in the transaction: the group coordinator writes the marker
    /// and completes the staged offsets together.
    Offsets(i32),
}

impl Target {
    fn topic_partition(&self) -> (String, i32) {
        match self {
            Self::Data(t, p) => (t.clone(), *p),
            Self::Offsets(p) => (OFFSETS_TOPIC.to_string(), *p),
        }
    }
}

/// Where one marker goes this round.
enum Route {
    Local,
    Remote(i32, String),
    /// No usable leader right now (election under way, or the replica manager has not taken the role yet).
    Later,
    /// The partition is gone (its topic was deleted): nothing to end there.
    Skip,
}

/// What one local marker write came to.
enum Written {
    Done(Option<Arc<PartitionLog>>),
    Retry,
    Skipped,
}

/// Connections to other brokers, one per broker, reused across transactions.
#[derive(Debug, Default)]
pub(super) struct Channels {
    slots: Mutex<HashMap<i32, Arc<tokio::sync::Mutex<Option<KafkaClient>>>>>,
}

impl Inner {
    /// Writes every marker of `c` (coordinator epoch `coordinator_epoch`) and completes the groups' offsets.
    /// Errors: KAFKA_STORAGE_ERROR (or UNKNOWN_TOPIC_OR_PARTITION for a group's partition) from a local write,
    /// as in single-node mode; COORDINATOR_NOT_AVAILABLE when markers are still missing at the deadline.
    pub(super) async fn deliver_markers(
        self: &Arc<Self>,
        transactional_id: &str,
        c: &Completion,
        coordinator_epoch: i32,
    ) -> Result<(), ResponseError> {
        let offsets: BTreeSet<i32> = c.groups.iter().map(|g| self.groups.offsets_partition(g)).collect();
        let mut pending: Vec<Target> = c.partitions.iter().map(|(t, p)| Target::Data(t.clone(), *p)).collect();
        pending.extend(offsets.into_iter().map(Target::Offsets));
        let deadline = Instant::now() + DELIVERY_DEADLINE;
        let mut backoff = Duration::from_millis(50);
        loop {
            let mut local = Vec::new();
            let mut remote: BTreeMap<(i32, String), Vec<Target>> = BTreeMap::new();
            let mut later = Vec::new();
            for target in pending {
                match self.route(&target) {
                    Route::Local => local.push(target),
                    Route::Remote(id, addr) => remote.entry((id, addr)).or_default().push(target),
                    Route::Later => later.push(target),
                    Route::Skip => {
                        tracing::warn!(
                            transactional_id,
                            ?target,
                            "skipped a transaction marker: the partition no longer exists"
                        )
                    }
                }
            }
            let (local_later, remote_later) = tokio::join!(
                self.write_local(transactional_id, c, coordinator_epoch, local),
                self.send_remote(c, coordinator_epoch, remote)
            );
            later.extend(local_later?);
            later.extend(remote_later);
            if later.is_empty() {
                return Ok(());
            }
            if Instant::now() + backoff > deadline {
                tracing::warn!(transactional_id, missing = ?later, "transaction markers not written in time; will retry");
                return Err(ResponseError::CoordinatorNotAvailable);
            }
            tracing::debug!(transactional_id, missing = ?later, "retrying transaction markers");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
            pending = later;
        }
    }

    fn route(&self, target: &Target) -> Route {
        let Some(cluster) = self.log.ownership.cluster() else { return Route::Local };
        let (topic, partition) = target.topic_partition();
        if cluster.local_leader_epoch(&topic, partition).is_ok() {
            return Route::Local;
        }
        match cluster.leader_address(&topic, partition) {
            Ok(Some((id, addr))) if id != cluster.node_id() => Route::Remote(id, addr),
            Ok(_) => Route::Later,
            Err(_) => Route::Skip,
        }
    }

    /// Writes the local markers on the blocking pool, then (cluster mode) waits for their followers. Answers
    /// the targets to try again.
    async fn write_local(
        self: &Arc<Self>,
        transactional_id: &str,
        c: &Completion,
        coordinator_epoch: i32,
        targets: Vec<Target>,
    ) -> Result<Vec<Target>, ResponseError> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let inner = self.clone();
        let (id, c2) = (transactional_id.to_string(), c.clone());
        let written = tokio::task::spawn_blocking(move || {
            targets
                .into_iter()
                .map(|t| {
                    let w = inner.write_one(&id, &c2, coordinator_epoch, &t);
                    w.map(|w| (t, w))
                })
                .collect::<Result<Vec<_>, ResponseError>>()
        })
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "writing transaction markers failed (a bug)");
            Err(ResponseError::CoordinatorNotAvailable)
        })?;
        let mut later = Vec::new();
        let mut waits = Vec::new();
        for (target, w) in written {
            match w {
                Written::Done(Some(log)) => waits.push((target, log)),
                Written::Done(None) | Written::Skipped => {}
                Written::Retry => later.push(target),
            }
        }
        let waited = futures::future::join_all(waits.into_iter().map(|(target, log)| async move {
            let end = log.log_end_offset();
            (target, await_high_watermark(&log, end, REPLICATION_TIMEOUT).await)
        }))
        .await;
        // A marker the followers do not have yet is written again: a second marker of the same transaction
        // ends nothing more, and the new leader (if that is why) gets it.
        later.extend(waited.into_iter().filter(|(_, r)| r.is_err()).map(|(t, _)| t));
        Ok(later)
    }

    /// One local marker. Single-node semantics: a storage failure ends the attempt (the transaction stays
    /// prepared), any other refusal of a data partition (a newer producer epoch there) skips it.
    fn write_one(
        &self,
        id: &str,
        c: &Completion,
        coordinator_epoch: i32,
        target: &Target,
    ) -> Result<Written, ResponseError> {
        let cluster = self.log.ownership.cluster().is_some();
        let done = |log: Option<Arc<PartitionLog>>| Written::Done(if cluster { log } else { None });
        match target {
            Target::Data(topic, partition) => {
                let tp = (topic.clone(), *partition);
                match write_marker(&self.topics, &tp, c.producer_id, c.epoch, c.commit, coordinator_epoch) {
                    Ok(()) => Ok(done(self.topics.get(topic).and_then(|t| t.partition(*partition)))),
                    Err(ResponseError::KafkaStorageError) => Err(ResponseError::KafkaStorageError),
                    Err(e) => {
                        tracing::warn!(transactional_id = id, topic = %topic, partition, error = ?e, "skipped a transaction marker");
                        Ok(Written::Skipped)
                    }
                }
            }
            Target::Offsets(partition) => {
                let result = self.groups.finish_partition_transaction(*partition, c.producer_id, c.commit, |tp| {
                    write_marker(&self.topics, tp, c.producer_id, c.epoch, c.commit, coordinator_epoch)
                });
                match result {
                    Ok(()) => Ok(done(self.topics.get(OFFSETS_TOPIC).and_then(|t| t.partition(*partition)))),
                    // A storage failure leaves the transaction prepared (and the offsets pending) for a retry.
                    Err(e @ (ResponseError::KafkaStorageError | ResponseError::UnknownTopicOrPartition)) => {
                        tracing::warn!(transactional_id = id, partition, error = ?e, "could not complete a transaction's offsets");
                        Err(e)
                    }
                    // Cluster mode: the group coordinator is loading the partition, or just lost it.
                    Err(ResponseError::NotCoordinator | ResponseError::CoordinatorLoadInProgress) => Ok(Written::Retry),
                    Err(e) => {
                        // Refused (a newer epoch of the producer already wrote there): as for a data partition,
                        // skip it; the offsets stay as the log has them, for that newer epoch's marker to end.
                        tracing::warn!(transactional_id = id, partition, error = ?e, "skipped an offsets partition marker");
                        Ok(Written::Skipped)
                    }
                }
            }
        }
    }

    /// Sends WriteTxnMarkers to each leader, concurrently; answers the targets to try again.
    async fn send_remote(
        &self,
        c: &Completion,
        coordinator_epoch: i32,
        remote: BTreeMap<(i32, String), Vec<Target>>,
    ) -> Vec<Target> {
        let Some(cluster) = self.log.ownership.cluster() else { return Vec::new() };
        let sends = remote.into_iter().map(|((id, addr), targets)| async move {
            match self.send_one(cluster.as_ref(), id, &addr, c, coordinator_epoch, &targets).await {
                Ok(answers) => {
                    let mut later = Vec::new();
                    for target in targets {
                        match answers.get(&target.topic_partition()) {
                            Some(None) => {}
                            Some(Some(e)) if !e.is_retriable() => {
                                tracing::warn!(?target, broker = id, error = ?e, "a partition leader refused a transaction marker; skipped")
                            }
                            // Retriable, or missing from the answer.
                            _ => later.push(target),
                        }
                    }
                    later
                }
                Err(e) => {
                    tracing::info!(broker = id, %addr, error = %e, "cannot send transaction markers; will retry");
                    targets
                }
            }
        });
        futures::future::join_all(sends).await.into_iter().flatten().collect()
    }

    /// One WriteTxnMarkers exchange with broker `id`: the error per partition (None = written).
    async fn send_one(
        &self,
        cluster: &dyn ClusterView,
        id: i32,
        addr: &str,
        c: &Completion,
        coordinator_epoch: i32,
        targets: &[Target],
    ) -> Result<HashMap<(String, i32), Option<ResponseError>>, crate::net::client::ClientError> {
        let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for target in targets {
            let (topic, partition) = target.topic_partition();
            topics.entry(topic).or_default().push(partition);
        }
        let marker = WritableTxnMarker::default()
            .with_producer_id(c.producer_id.into())
            .with_producer_epoch(c.epoch)
            .with_transaction_result(c.commit)
            .with_coordinator_epoch(coordinator_epoch)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(t, ps)| {
                        WritableTxnMarkerTopic::default()
                            .with_name(TopicName(StrBytes::from_string(t)))
                            .with_partition_indexes(ps)
                    })
                    .collect(),
            );
        let request = WriteTxnMarkersRequest::default().with_markers(vec![marker]);
        let slot = self.channels.slots.lock().entry(id).or_default().clone();
        let mut client = slot.lock().await;
        let k = match client.take() {
            // The broker may have restarted on another address: the image's is the one to use.
            Some(k) if k.addr() == addr => client.insert(k),
            _ => {
                let client_id = format!("sluice-txn-coordinator-{}", cluster.node_id());
                client.insert(KafkaClient::connect(addr, cluster.bind(), &client_id, CONNECT_TIMEOUT).await?)
            }
        };
        let response = match k.send(WRITE_TXN_MARKERS_VERSION, &request, REPLICATION_TIMEOUT).await {
            Ok(r) => r,
            Err(e) => {
                // The connection's state is unknown after a failed exchange: start afresh next time.
                *client = None;
                return Err(e);
            }
        };
        let mut out = HashMap::new();
        for m in response.markers {
            for t in m.topics {
                for p in t.partitions {
                    out.insert((t.name.0.to_string(), p.partition_index), ResponseError::try_from_code(p.error_code));
                }
            }
        }
        Ok(out)
    }

    /// WriteTxnMarkers, receiving side: writes `producer_id`'s marker to each named partition this broker
    /// leads (NOT_LEADER_OR_FOLLOWER for the others), `__consumer_offsets` ones through the group coordinator so
    /// the staged offsets complete with their marker, and (cluster mode) answers once the followers have them.
    pub(super) async fn receive_markers(
        self: &Arc<Self>,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        partitions: Vec<(String, i32)>,
    ) -> Vec<((String, i32), Result<(), ResponseError>)> {
        let cluster = self.log.ownership.cluster().cloned();
        let inner = self.clone();
        let written = tokio::task::spawn_blocking(move || {
            partitions
                .into_iter()
                .map(|tp| {
                    let led = cluster.as_ref().map_or(Ok(0), |c| c.local_leader_epoch(&tp.0, tp.1));
                    let result = led.and_then(|_| {
                        let write = |tp: &(String, i32)| {
                            write_marker(&inner.topics, tp, producer_id, epoch, commit, coordinator_epoch)
                        };
                        if tp.0 == OFFSETS_TOPIC {
                            inner.groups.finish_partition_transaction(tp.1, producer_id, commit, write)
                        } else {
                            write(&tp)
                        }
                    });
                    (tp, result)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        if self.log.ownership.cluster().is_none() {
            return written;
        }
        let topics = &self.topics;
        futures::future::join_all(written.into_iter().map(|(tp, result)| async move {
            let Ok(()) = result else { return (tp, result) };
            let Some(log) = topics.get(&tp.0).and_then(|t| t.partition(tp.1)) else { return (tp, Ok(())) };
            let end = log.log_end_offset();
            // Kafka writes markers with acks=all; a timeout is its REQUEST_TIMED_OUT, which the sender retries.
            let replicated = await_high_watermark(&log, end, REPLICATION_TIMEOUT).await;
            (tp, replicated.map_err(|_| ResponseError::RequestTimedOut))
        }))
        .await
    }
}

/// Appends one marker to one local partition.
pub(super) fn write_marker(
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
