//! Partition replication in cluster mode: which partitions this broker leads or follows, the followers'
//! fetchers, the leaders' view of their followers (ISR, high watermark) and acks=all waits.
//!
//! Driven by the controller's [`MetadataImage`]: every applied image is reconciled against the local logs and
//! roles.
//!
//! # Layout
//! - `manager`: the task applying each image: local topics (through the registry), then each partition's role.
//! - `partition`: one replica's role behind a lock that appends hold, so no batch is written under a stale role.
//! - `leader`: a leader's bookkeeping of its followers: caught-up times, ISR shrink and expand, high watermark.
//! - `hw_checkpoint`: the periodic high watermark checkpoint of every held partition.
//! - `isr`: the periodic ISR shrink check and the AlterPartition proposals, off the request path.
//! - `produce`: appends as leader: `min.insync.replicas`, acks=all waits.
//! - `fetcher`: one task per leader this broker follows, fetching with the Kafka Fetch API.
//! - `fetch_session`: a fetcher's incremental fetch session (KIP-227) with its leader.
//! - `truncation`: OffsetForLeaderEpoch before fetching from a new leader, removing a divergent tail.
//! - `source`: the metadata the manager follows (the controller, or a plain channel in unit tests).

mod fetch_session;
mod fetcher;
mod hw_checkpoint;
mod isr;
mod leader;
mod manager;
mod partition;
mod produce;
mod source;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
mod truncation;

pub use produce::PendingAcks;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use parking_lot::RwLock;
use tokio::sync::{broadcast, watch};

use self::partition::Replica;
use self::source::MetadataSource;
use crate::controller::{Controller, MetadataImage, NO_LEADER};
use crate::log::{AppendInfo, PartitionLog};
use crate::topics::TopicRegistry;
use crate::BrokerConfig;

pub(crate) use self::partition::check_epoch;

/// This broker became or stopped being the leader of a partition (coordinators load and unload state on it).
///
/// A broker re-elected at a newer epoch gets a second `leader: true` event with the new epoch and no `false` in
/// between. Events before a subscription are not replayed: subscribe first, then read
/// [`ReplicaManager::leaderships`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadershipChange {
    pub topic: String,
    pub partition: i32,
    /// True: this broker now leads the partition (at `leader_epoch`); false: it no longer does.
    pub leader: bool,
    pub leader_epoch: i32,
}

/// A partition-level refusal: the Kafka error code and a message for the client.
#[derive(Debug, Clone)]
pub struct ReplicaError {
    pub code: ResponseError,
    pub message: String,
}

impl ReplicaError {
    fn new(code: ResponseError, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// The replication settings taken from the broker config.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// A follower not caught up for this long leaves the ISR, and no longer counts as live.
    pub(crate) lag_max: Duration,
    /// How long a follower's fetch waits at the leader.
    pub(crate) fetch_wait_max: Duration,
    /// Bytes per partition and fetch.
    pub(crate) fetch_max_bytes: i32,
    /// Local address of outbound connections.
    pub(crate) bind: Option<IpAddr>,
}

impl Settings {
    fn from_config(config: &BrokerConfig) -> Self {
        let bind = config.bind_outbound.as_deref().and_then(|s| match s.parse() {
            Ok(ip) => Some(ip),
            Err(e) => {
                tracing::warn!(bind_outbound = s, error = %e, "bind_outbound is not an IP address; connecting from any");
                None
            }
        });
        Self {
            lag_max: Duration::from_millis(config.replica_lag_time_max_ms.max(1)),
            fetch_wait_max: Duration::from_millis(config.replica_fetch_wait_max_ms),
            fetch_max_bytes: config.replica_fetch_max_bytes.max(1),
            bind,
        }
    }
}

/// Replication for every partition of this broker.
#[derive(Debug)]
pub struct ReplicaManager {
    node_id: i32,
    settings: Settings,
    source: Arc<dyn MetadataSource>,
    topics: Arc<TopicRegistry>,
    /// The last image whose roles were applied.
    image: RwLock<Arc<MetadataImage>>,
    /// The partitions this broker is a replica of, by topic and partition.
    replicas: RwLock<HashMap<String, HashMap<i32, Arc<Replica>>>>,
    changes: broadcast::Sender<LeadershipChange>,
}

impl ReplicaManager {
    /// Starts reconciling: creates/deletes local logs as topics appear and go, takes leader or follower roles,
    /// runs follower fetchers, the ISR check and the high watermark checkpoint.
    pub fn start(
        config: &BrokerConfig,
        controller: Arc<Controller>,
        topics: Arc<TopicRegistry>,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Self> {
        Self::start_with(config.node_id, Settings::from_config(config), controller, topics, shutdown)
    }

    /// [`ReplicaManager::start`] from any metadata source.
    pub(crate) fn start_with(
        node_id: i32,
        settings: Settings,
        source: Arc<dyn MetadataSource>,
        topics: Arc<TopicRegistry>,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let manager = Arc::new(Self {
            node_id,
            settings,
            source,
            topics,
            image: RwLock::new(Arc::new(MetadataImage::default())),
            replicas: RwLock::new(HashMap::new()),
            changes: broadcast::channel(4096).0,
        });
        manager::spawn(manager.clone(), shutdown.clone());
        hw_checkpoint::spawn(manager.clone(), shutdown.clone());
        isr::spawn_shrink_checks(manager.clone(), shutdown);
        manager
    }

    /// Ok(leader epoch) when this broker leads `topic`/`partition`; NOT_LEADER_OR_FOLLOWER when another broker
    /// does (or none); UNKNOWN_TOPIC_OR_PARTITION when the partition does not exist.
    pub fn leader_epoch(&self, topic: &str, partition: i32) -> Result<i32, ResponseError> {
        if let Some(epoch) = self.replica(topic, partition).and_then(|r| r.leader_epoch()) {
            return Ok(epoch);
        }
        match self.image.read().partition(topic, partition) {
            Some(_) => Err(ResponseError::NotLeaderOrFollower),
            None => Err(ResponseError::UnknownTopicOrPartition),
        }
    }

    /// Like [`ReplicaManager::leader_epoch`], also checking a client's `current_leader_epoch` (-1: no check):
    /// FENCED_LEADER_EPOCH when the client is behind, UNKNOWN_LEADER_EPOCH when it is ahead of this broker.
    pub fn check_leader(&self, topic: &str, partition: i32, current_leader_epoch: i32) -> Result<i32, ResponseError> {
        let epoch = self.leader_epoch(topic, partition)?;
        check_epoch(current_leader_epoch, epoch)?;
        Ok(epoch)
    }

    /// The partition's leader and leader epoch as of the last applied image (for `current_leader` answers);
    /// None when the partition is unknown or leaderless.
    pub fn leader_of(&self, topic: &str, partition: i32) -> Option<(i32, i32)> {
        let image = self.image.read();
        let record = image.partition(topic, partition)?;
        (record.leader != NO_LEADER).then_some((record.leader, record.leader_epoch))
    }

    /// The advertised `host:port` of broker `id` as of the last applied image.
    pub fn broker_address(&self, id: i32) -> Option<(String, i32)> {
        self.image.read().brokers.get(&id).map(|b| (b.host.clone(), b.port))
    }

    /// Appends a producer's batches as leader: checks leadership and `min.insync.replicas` (for acks=all),
    /// appends, and for acks=all waits until every ISR member has the batches (the high watermark passed them),
    /// up to `timeout_ms`.
    pub async fn produce(
        &self,
        topic: &str,
        partition: i32,
        log: Arc<PartitionLog>,
        records: Bytes,
        acks: i16,
        timeout_ms: i32,
    ) -> Result<AppendInfo, ReplicaError> {
        produce::produce(self, topic, partition, log, records, acks, timeout_ms).await
    }

    /// The first half of [`ReplicaManager::produce`]: the checks and the append. For acks=all it also returns
    /// what to wait on, so a connection can append its next Produce request while this one's replicas catch up.
    pub async fn append(
        &self,
        topic: &str,
        partition: i32,
        log: Arc<PartitionLog>,
        records: Bytes,
        acks: i16,
    ) -> Result<(AppendInfo, Option<PendingAcks>), ReplicaError> {
        produce::append(self, topic, partition, log, records, acks).await
    }

    /// Records a follower's fetch (Fetch with a replica id) of `topic`/`partition` at `fetch_offset`: checks this
    /// broker leads at `current_leader_epoch`, advances the high watermark and proposes an ISR expansion when the
    /// follower caught up. The error is the partition's answer.
    pub fn follower_fetch(
        &self,
        topic: &str,
        partition: i32,
        replica_id: i32,
        current_leader_epoch: i32,
        fetch_offset: i64,
    ) -> Result<(), ResponseError> {
        let replica = self.replica(topic, partition).ok_or_else(|| self.not_here(topic, partition))?;
        let now = tokio::time::Instant::now();
        if let Some(proposal) = replica.on_follower_fetch(replica_id, current_leader_epoch, fetch_offset, now)? {
            let alive = self.image.read().brokers.get(&replica_id).is_some_and(|b| !b.fenced);
            if alive {
                isr::propose(self.source.clone(), replica, proposal);
            } else {
                replica.end_proposal(proposal.leader_epoch, false, now);
            }
        }
        Ok(())
    }

    /// Leadership changes of this broker, for the group and transaction coordinators.
    pub fn leadership_changes(&self) -> broadcast::Receiver<LeadershipChange> {
        self.changes.subscribe()
    }

    /// The partitions this broker leads now, as `leader: true` changes (for a coordinator that just
    /// subscribed to [`ReplicaManager::leadership_changes`]).
    pub fn leaderships(&self) -> Vec<LeadershipChange> {
        let replicas = self.replicas.read();
        let mut all: Vec<LeadershipChange> = replicas
            .values()
            .flat_map(|parts| parts.values())
            .filter_map(|r| {
                r.leader_epoch().map(|leader_epoch| LeadershipChange {
                    topic: r.topic.clone(),
                    partition: r.partition,
                    leader: true,
                    leader_epoch,
                })
            })
            .collect();
        all.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        all
    }

    /// The last metadata image whose roles this broker applied.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.read().clone()
    }

    /// This node's id.
    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    pub(crate) fn replica(&self, topic: &str, partition: i32) -> Option<Arc<Replica>> {
        self.replicas.read().get(topic).and_then(|parts| parts.get(&partition)).cloned()
    }

    /// The error for a partition this broker holds no replica of.
    fn not_here(&self, topic: &str, partition: i32) -> ResponseError {
        match self.image.read().partition(topic, partition) {
            Some(_) => ResponseError::NotLeaderOrFollower,
            None => ResponseError::UnknownTopicOrPartition,
        }
    }

    fn emit(&self, replica: &Replica, leader: bool, leader_epoch: i32) {
        tracing::info!(
            topic = %replica.topic,
            partition = replica.partition,
            leader_epoch,
            "{}",
            if leader { "became leader" } else { "stopped leading" }
        );
        // No subscriber is fine: the coordinators may not have started yet, and read `leaderships` when they do.
        let _ = self.changes.send(LeadershipChange {
            topic: replica.topic.clone(),
            partition: replica.partition,
            leader,
            leader_epoch,
        });
    }
}
