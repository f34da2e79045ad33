//! The group coordinator: classic consumer groups, committed offsets in `__consumer_offsets`; the KIP-848
//! consumer protocol's groups live in [`consumer`].
//!
//! # Layout
//! - `classic`: the classic protocol's state machine on one group, pure (no I/O, no clock of its own).
//! - `offsets`: OffsetCommit, OffsetFetch, OffsetDelete and transactional offsets.
//! - `records`: Kafka's key and value schemas of `__consumer_offsets` records.
//! - `store`: the `__consumer_offsets` topic: group -> partition, appends, replay.
//! - `load`: cluster mode: loading a partition's groups when this broker becomes its leader, dropping them
//!   when it stops being the leader.
//! - `timer`: one tokio task per group with members, sleeping until its next deadline.
//!
//! All groups sit behind one mutex, held only for in-memory transitions and the `__consumer_offsets` append
//! that makes them durable (a page-cache write), so the log order of a group's records is its memory order.
//! Joins and syncs that must wait for the rest of the group wait on a oneshot channel, outside the lock.
//!
//! In cluster mode this broker serves only the groups of the `__consumer_offsets` partitions it leads (others
//! answer NOT_COORDINATOR; see `coordinator::ownership`), and answers a request that wrote only once
//! the followers have the write (the partition's high watermark passed it), so a failover never loses a
//! commit that was acknowledged. In single-node mode the high watermark is the log end: nothing waits.

mod classic;
#[cfg(test)]
mod cluster_tests;
pub mod consumer;
mod load;
mod offsets;
mod records;
mod store;
#[cfg(test)]
mod tests;
mod timer;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;

use self::classic::{ClassicGroup, Effects, GroupState, Reply, Settings};
use self::store::OffsetsLog;
use crate::controller::Controller;
use crate::coordinator::cluster::{ClusterHandles, ClusterView};
use crate::coordinator::ownership::{self, Mark, Ownership, REPLICATION_TIMEOUT};
use crate::replica::ReplicaManager;
use crate::topics::TopicRegistry;
use crate::{BrokerConfig, BrokerError};

pub use self::offsets::CommitOffset;
pub(crate) use self::offsets::FetchedOffset;
pub(crate) use self::store::OFFSETS_TOPIC;


/// A JoinGroup request, in the coordinator's terms.
#[derive(Debug, Clone)]
pub(crate) struct JoinRequest {
    pub(crate) group_id: String,
    pub(crate) member_id: String,
    pub(crate) group_instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) session_timeout_ms: i32,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) protocol_type: String,
    pub(crate) protocols: Vec<(String, Bytes)>,
    /// v4+: a member without id first gets MEMBER_ID_REQUIRED and its id (KIP-394).
    pub(crate) require_known_member_id: bool,
    /// v9+: the leader can be told to skip computing an assignment (KIP-814).
    pub(crate) supports_skip_assignment: bool,
}

/// One member as the leader sees it in the JoinGroup answer.
#[derive(Debug, Clone)]
pub(crate) struct JoinedMember {
    pub(crate) member_id: String,
    pub(crate) group_instance_id: Option<String>,
    pub(crate) metadata: Bytes,
}

/// The JoinGroup answer.
#[derive(Debug, Clone)]
pub(crate) struct JoinAnswer {
    pub(crate) error: Option<ResponseError>,
    pub(crate) generation: i32,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) leader: String,
    pub(crate) member_id: String,
    pub(crate) skip_assignment: bool,
    pub(crate) members: Vec<JoinedMember>,
}

/// A SyncGroup request.
#[derive(Debug, Clone)]
pub(crate) struct SyncRequest {
    pub(crate) group_id: String,
    pub(crate) member_id: String,
    pub(crate) group_instance_id: Option<String>,
    pub(crate) generation: i32,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    /// The leader's assignment, member id -> bytes; empty from followers.
    pub(crate) assignments: HashMap<String, Bytes>,
}

/// The SyncGroup answer.
#[derive(Debug, Clone)]
pub(crate) struct SyncAnswer {
    pub(crate) error: Option<ResponseError>,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) assignment: Bytes,
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone)]
pub(crate) struct GroupDescription {
    pub(crate) state: String,
    pub(crate) protocol_type: String,
    pub(crate) protocol: String,
    pub(crate) members: Vec<MemberDescription>,
}

/// A member as DescribeGroups shows it.
#[derive(Debug, Clone)]
pub(crate) struct MemberDescription {
    pub(crate) member_id: String,
    pub(crate) group_instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) metadata: Bytes,
    pub(crate) assignment: Bytes,
}

/// A group as ListGroups shows it.
#[derive(Debug, Clone)]
pub(crate) struct ListedGroup {
    pub(crate) group_id: String,
    pub(crate) protocol_type: String,
    pub(crate) state: String,
    /// "classic" or "consumer".
    pub(crate) group_type: &'static str,
}

/// Milliseconds since the Unix epoch, for commit and state timestamps.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// What the timer tasks and the request paths share.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) groups: Mutex<HashMap<String, ClassicGroup>>,
    pub(crate) store: Arc<OffsetsLog>,
    pub(crate) settings: Settings,
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl Inner {
    /// Whether `group_id` is served here now: NOT_COORDINATOR when another broker leads its partition,
    /// COORDINATOR_LOAD_IN_PROGRESS while its partition is being loaded. Checked under the groups lock by
    /// whatever could create or change a group, so nothing lands in a partition being dropped.
    fn owner(&self, group_id: &str) -> Result<(), ResponseError> {
        self.store.ownership.check(self.store.partition_of(group_id))
    }

    /// Makes a transition's effects happen: its records are appended first, then the waiting requests are
    /// answered (a sync is only answered once the assignment is durable). Called with the groups lock held.
    fn settle(&self, group_id: &str, fx: Effects) {
        let mut syncs = fx.syncs;
        if let Err(error) = self.store.append(group_id, fx.writes) {
            for (_, answer) in &mut syncs {
                answer.error.get_or_insert(error);
            }
        }
        for (tx, answer) in fx.joins {
            let _ = tx.send(answer);
        }
        for (tx, answer) in syncs {
            let _ = tx.send(answer);
        }
    }
}

/// Consumer groups and their committed offsets.
#[derive(Debug)]
pub struct GroupCoordinator {
    /// Groups of the KIP-848 consumer protocol.
    pub consumer: Arc<consumer::ConsumerGroups>,
    inner: Arc<Inner>,
}

impl GroupCoordinator {
    /// Opens the coordinator in single-node mode: loads every group and offset from `__consumer_offsets`,
    /// creating the topic on first start. Background tasks (session expiry) stop when `shutdown` turns true.
    pub async fn open(
        topics: &Arc<TopicRegistry>,
        config: &BrokerConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, BrokerError> {
        Self::open_with_cluster(topics, config, None, None, shutdown).await
    }

    /// Opens the coordinator. Without `controller` and `replicas`: single-node mode, as
    /// [`GroupCoordinator::open`]. With both (cluster mode): starts empty and follows the replica manager,
    /// loading the groups of each `__consumer_offsets` partition this broker comes to lead and dropping them
    /// when it stops. Background tasks (session expiry, the leadership watcher) stop when `shutdown` turns true.
    pub async fn open_with_cluster(
        topics: &Arc<TopicRegistry>,
        config: &BrokerConfig,
        controller: Option<Arc<Controller>>,
        replicas: Option<Arc<ReplicaManager>>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, BrokerError> {
        let cluster = ClusterHandles::from_parts(controller, replicas, config);
        let coordinator = Self::open_with(topics, config, cluster, shutdown.clone()).await?;
        coordinator.watch_leadership(topics, shutdown);
        Ok(coordinator)
    }

    /// [`GroupCoordinator::open_with_cluster`] with any cluster view, without starting the leadership watcher (tests drive
    /// loads with [`GroupCoordinator::reconcile`]).
    pub(crate) async fn open_with(
        topics: &Arc<TopicRegistry>,
        config: &BrokerConfig,
        cluster: Option<Arc<dyn ClusterView>>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, BrokerError> {
        let single_node = cluster.is_none();
        let ownership = Arc::new(Ownership::new(OFFSETS_TOPIC, cluster));
        let store = Arc::new(OffsetsLog::open(topics, config.offsets_topic_num_partitions, ownership).await?);
        let clamp = |ms: u64| i32::try_from(ms).unwrap_or(i32::MAX);
        let settings = Settings {
            min_session_ms: clamp(config.group_min_session_timeout_ms),
            max_session_ms: clamp(config.group_max_session_timeout_ms),
            initial_delay: Duration::from_millis(config.group_initial_rebalance_delay_ms),
        };
        let consumer_config = consumer::Config {
            session_timeout: std::time::Duration::from_millis(config.group_consumer_session_timeout_ms),
            heartbeat_interval: std::time::Duration::from_millis(config.group_consumer_heartbeat_interval_ms),
        };
        let journal: consumer::persist::SharedJournal = store.clone();
        let (groups, loaded_consumer) = if single_node {
            load::classic_groups(store.replay(), "loaded consumer groups from __consumer_offsets")
        } else {
            Default::default()
        };
        let consumer = Arc::new(consumer::ConsumerGroups::restored(consumer_config, journal, loaded_consumer));
        let inner = Inner { groups: Mutex::new(groups), store, settings, shutdown };
        Ok(Self { consumer, inner: Arc::new(inner) })
    }

    /// Cluster mode: starts following the replica manager's leaderships of `__consumer_offsets`.
    fn watch_leadership(&self, topics: &Arc<TopicRegistry>, shutdown: watch::Receiver<bool>) {
        ownership::spawn_watcher(self.inner.store.ownership.clone(), topics.clone(), self.loader(), shutdown);
    }

    fn loader(&self) -> Arc<dyn ownership::PartitionLoader> {
        Arc::new(load::GroupLoader { inner: self.inner.clone(), consumer: self.consumer.clone() })
    }

    /// One pass of the leadership watcher: load what this broker now leads, drop what it no longer leads.
    #[cfg(test)]
    pub(crate) async fn reconcile(&self, topics: &TopicRegistry) {
        ownership::reconcile(&self.inner.store.ownership, topics, &self.loader()).await;
    }

    /// The `__consumer_offsets` partition holding `group_id`.
    pub fn offsets_partition(&self, group_id: &str) -> i32 {
        self.inner.store.partition_of(group_id)
    }

    /// Whether `group_id` is served by this broker now (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS).
    pub(crate) fn check_coordinator(&self, group_id: &str) -> Result<(), ResponseError> {
        self.inner.owner(group_id)
    }

    /// Where `group_id`'s partition ends before an operation; pass it to [`GroupCoordinator::replicated`].
    pub(crate) fn mark(&self, group_id: &str) -> Mark {
        self.inner.store.mark(group_id)
    }

    /// Waits until the followers have what the operation since `mark` appended (cluster mode); the error to
    /// answer when they do not in time.
    pub(crate) async fn replicated(&self, mark: Mark) -> Result<(), ResponseError> {
        mark.replicated(REPLICATION_TIMEOUT).await
    }

    /// Why a waiting join or sync lost its group: the partition moved away (NOT_COORDINATOR), or the member
    /// was removed (`otherwise`).
    fn lost(&self, group_id: &str, otherwise: ResponseError) -> ResponseError {
        self.inner.owner(group_id).err().unwrap_or(otherwise)
    }

    fn is_consumer_group(&self, group_id: &str) -> bool {
        self.consumer.contains(group_id)
    }

    /// JoinGroup: answers when the rebalance completes (or at once for errors and static rejoins).
    pub(crate) async fn join(&self, req: JoinRequest) -> JoinAnswer {
        let reject = |error: ResponseError, member_id: &str| JoinAnswer {
            error: Some(error),
            generation: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            member_id: member_id.to_string(),
            skip_assignment: false,
            members: Vec::new(),
        };
        if req.group_id.is_empty() {
            return reject(ResponseError::InvalidGroupId, &req.member_id);
        }
        if self.is_consumer_group(&req.group_id) {
            return reject(ResponseError::InconsistentGroupProtocol, &req.member_id);
        }
        let member_id = req.member_id.clone();
        let group_id = req.group_id.clone();
        let mark = self.mark(&group_id);
        let reply = {
            let mut groups = self.inner.groups.lock();
            if let Err(error) = self.inner.owner(&req.group_id) {
                return reject(error, &req.member_id);
            }
            if !groups.contains_key(&req.group_id) && !req.member_id.is_empty() {
                return reject(ResponseError::UnknownMemberId, &req.member_id);
            }
            let group = groups.entry(group_id.clone()).or_insert_with(|| ClassicGroup::new(&group_id));
            let mut fx = Effects::default();
            let reply = group.join(req, Instant::now(), &self.inner.settings, &mut fx);
            timer::ensure(&self.inner, group);
            self.inner.settle(&group_id, fx);
            reply
        };
        let mut answer = match reply {
            Reply::Now(answer) => answer,
            Reply::Wait(rx) => rx
                .await
                .unwrap_or_else(|_| reject(self.lost(&group_id, ResponseError::UnknownMemberId), &member_id)),
        };
        if answer.error.is_none() {
            if let Err(error) = self.replicated(mark).await {
                answer.error = Some(error);
            }
        }
        answer
    }

    /// SyncGroup: followers wait for the leader's assignment.
    pub(crate) async fn sync(&self, req: SyncRequest) -> SyncAnswer {
        let reject = |error| SyncAnswer { error: Some(error), protocol_type: None, protocol_name: None, assignment: Bytes::new() };
        if req.group_id.is_empty() {
            return reject(ResponseError::InvalidGroupId);
        }
        let group_id = req.group_id.clone();
        let mark = self.mark(&group_id);
        let reply = {
            let mut groups = self.inner.groups.lock();
            if let Err(error) = self.inner.owner(&group_id) {
                return reject(error);
            }
            let Some(group) = groups.get_mut(&req.group_id) else {
                return reject(ResponseError::UnknownMemberId);
            };
            let mut fx = Effects::default();
            let reply = group.sync(req, Instant::now(), &mut fx);
            timer::ensure(&self.inner, group);
            self.inner.settle(&group_id, fx);
            reply
        };
        let mut answer = match reply {
            Reply::Now(answer) => answer,
            Reply::Wait(rx) => rx.await.unwrap_or_else(|_| reject(self.lost(&group_id, ResponseError::UnknownMemberId))),
        };
        // The assignment is answered only once the followers have it: a new coordinator must know it too.
        if answer.error.is_none() {
            if let Err(error) = self.replicated(mark).await {
                answer.error = Some(error);
            }
        }
        answer
    }

    /// Heartbeat.
    pub(crate) fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), ResponseError> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId);
        }
        let mut groups = self.inner.groups.lock();
        self.inner.owner(group_id)?;
        let group = groups.get_mut(group_id).ok_or(ResponseError::UnknownMemberId)?;
        group.heartbeat(member_id, instance_id, generation, Instant::now())
    }

    /// LeaveGroup: one result per (member id, instance id) asked, in order.
    pub(crate) fn leave(
        &self,
        group_id: &str,
        leaving: &[(String, Option<String>)],
    ) -> Result<Vec<Result<String, ResponseError>>, ResponseError> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId);
        }
        let mut groups = self.inner.groups.lock();
        self.inner.owner(group_id)?;
        let Some(group) = groups.get_mut(group_id) else {
            return Err(ResponseError::UnknownMemberId);
        };
        let now = Instant::now();
        let mut fx = Effects::default();
        let results = leaving
            .iter()
            .map(|(member, instance)| group.leave(member, instance.as_deref(), now, &self.inner.settings, &mut fx))
            .collect();
        timer::ensure(&self.inner, group);
        self.inner.settle(group_id, fx);
        Ok(results)
    }

    /// DescribeGroups for one group; `None` when no such group exists.
    pub(crate) fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        if let Some((_, state)) = self.consumer.list().into_iter().find(|(id, _)| id == group_id) {
            return Some(GroupDescription {
                state,
                protocol_type: "consumer".into(),
                protocol: String::new(),
                members: Vec::new(),
            });
        }
        let groups = self.inner.groups.lock();
        let group = groups.get(group_id)?;
        // As Kafka: protocol, metadata and assignments only mean something once the group is Stable.
        let stable = group.state == GroupState::Stable;
        let protocol = group.protocol.clone().unwrap_or_default();
        Some(GroupDescription {
            state: group.state.name().to_string(),
            protocol_type: group.protocol_type.clone().unwrap_or_default(),
            protocol: if stable { protocol.clone() } else { String::new() },
            members: group
                .members
                .values()
                .map(|m| MemberDescription {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable { m.metadata_for(&protocol) } else { Bytes::new() },
                    assignment: if stable { m.assignment.clone() } else { Bytes::new() },
                })
                .collect(),
        })
    }

    /// ListGroups: classic groups and the consumer protocol's, sorted by id.
    pub(crate) fn list(&self) -> Vec<ListedGroup> {
        let consumer = self.consumer.list();
        let mut out: Vec<ListedGroup> = {
            let groups = self.inner.groups.lock();
            groups
                .values()
                .filter(|g| !consumer.iter().any(|(id, _)| *id == g.id))
                .map(|g| ListedGroup {
                    group_id: g.id.clone(),
                    protocol_type: g.protocol_type.clone().unwrap_or_default(),
                    state: g.state.name().to_string(),
                    group_type: "classic",
                })
                .collect()
        };
        out.extend(consumer.into_iter().map(|(group_id, state)| ListedGroup {
            group_id,
            protocol_type: "consumer".into(),
            state,
            group_type: "consumer",
        }));
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    /// DeleteGroups for one group: only an empty group goes, with tombstones for its offsets and metadata
    /// (for a consumer-protocol group, its records of every kind).
    pub(crate) fn delete_group(&self, group_id: &str) -> Result<(), ResponseError> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId);
        }
        self.inner.owner(group_id)?;
        // The consumer-protocol side goes first, under its own lock; its committed offsets live with the
        // classic groups below, where a consumer group may have no entry at all (nothing committed yet).
        let consumer_deleted = match self.consumer.delete(group_id) {
            None => false,
            Some(Ok(())) => true,
            Some(Err(error)) => return Err(error),
        };
        let mut groups = self.inner.groups.lock();
        self.inner.owner(group_id)?;
        let Some(group) = groups.get(group_id) else {
            if consumer_deleted {
                tracing::info!(group = group_id, "deleted consumer group");
                return Ok(());
            }
            return Err(ResponseError::GroupIdNotFound);
        };
        if group.state != GroupState::Empty || !group.members.is_empty() {
            return Err(ResponseError::NonEmptyGroup);
        }
        let mut writes: Vec<store::Write> = group
            .offsets
            .keys()
            .map(|(topic, partition)| (records::offset_key(group_id, topic, *partition), None))
            .collect();
        // A consumer-protocol group never wrote classic metadata; a tombstone for it would be noise.
        if !consumer_deleted {
            writes.push((records::group_key(group_id), None));
        }
        self.inner.store.append(group_id, writes)?;
        // Offsets of open transactions are in the log, where their marker decides: keep them for it.
        let mut pending = HashMap::new();
        if let Some(mut old) = groups.remove(group_id) {
            let tombstoned: Vec<(String, i32)> = old.offsets.keys().cloned().collect();
            for key in &tombstoned {
                offsets::supersede(&mut old, key, i64::MAX);
            }
            pending = old.txn_offsets;
            pending.retain(|_, staged| !staged.is_empty());
        }
        if !pending.is_empty() {
            let mut kept = ClassicGroup::new(group_id);
            kept.txn_offsets = pending;
            groups.insert(group_id.to_string(), kept);
        }
        tracing::info!(group = group_id, "deleted group");
        Ok(())
    }
}
