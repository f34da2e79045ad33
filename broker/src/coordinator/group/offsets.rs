//! Committed offsets: OffsetCommit (with the classic group's generation checks, or the consumer protocol's
//! via `ConsumerGroups::check_commit`), OffsetFetch, OffsetDelete, and offsets staged by transactions.
//!
//! Transactional offsets are appended to `__consumer_offsets` at once, as a transactional batch of the producer,
//! and kept staged in memory; the transaction's COMMIT or ABORT marker in the same partition ends them, in the
//! log (replay) as in memory, so a broker restart in the middle of a transaction keeps them pending.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::ConsumerProtocolSubscription;
use kafka_protocol::protocol::Decodable;
use kafka_protocol::ResponseError;
use tokio::time::Instant;

use super::classic::{ClassicGroup, GroupState};
use super::records::{self, OffsetValue, PendingOffset};
use super::{now_ms, GroupCoordinator};

/// One partition's offset in an OffsetCommit.
#[derive(Debug, Clone)]
pub struct CommitOffset {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The committed offset.
    pub offset: i64,
    /// The leader epoch the consumer saw, or -1.
    pub leader_epoch: i32,
    /// Client metadata stored with the offset.
    pub metadata: Option<String>,
}

/// One partition's answer to OffsetFetch.
#[derive(Debug, Clone)]
pub(crate) struct FetchedOffset {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    /// -1 when nothing is committed.
    pub(crate) offset: i64,
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: String,
    pub(crate) error: Option<ResponseError>,
}

/// Kafka's rule for who may commit to a classic group: anyone with generation -1 while the group has no
/// members ("simple" commits by consumers that assign partitions themselves), else a current member at the
/// current generation, and never while the group waits for an assignment.
fn check_classic(
    group: &ClassicGroup,
    member_id: &str,
    instance_id: Option<&str>,
    generation: i32,
) -> Result<(), ResponseError> {
    if instance_id.and_then(|i| group.static_members.get(i)).is_some_and(|id| id != member_id) {
        return Err(ResponseError::FencedInstanceId);
    }
    if generation < 0 && group.state == GroupState::Empty {
        return Ok(());
    }
    if group.state == GroupState::CompletingRebalance {
        return Err(ResponseError::RebalanceInProgress);
    }
    if !group.members.contains_key(member_id) {
        return Err(ResponseError::UnknownMemberId);
    }
    if generation != group.generation {
        return Err(ResponseError::IllegalGeneration);
    }
    Ok(())
}

/// The topics a consumer-protocol member subscribed to, read from its JoinGroup metadata.
fn subscribed_topics(metadata: &Bytes) -> Vec<String> {
    let mut buf = metadata.clone();
    if buf.remaining() < 2 {
        return Vec::new();
    }
    let version = buf.get_i16();
    if !(0..=3).contains(&version) {
        return Vec::new();
    }
    ConsumerProtocolSubscription::decode(&mut buf, version)
        .map(|s| s.topics.into_iter().map(|t| t.to_string()).collect())
        .unwrap_or_default()
}

/// A record of `key` at `position` in the group's partition supersedes the pending transactional offsets of
/// that key written before it (see [`PendingOffset`]); `i64::MAX` for a record just appended, after them all.
pub(super) fn supersede(group: &mut ClassicGroup, key: &(String, i32), position: i64) {
    for staged in group.txn_offsets.values_mut() {
        if staged.get(key).is_some_and(|p| p.position < position) {
            staged.remove(key);
        }
    }
}

impl GroupCoordinator {
    /// OffsetCommit: checks the committer, appends the offsets to `__consumer_offsets` and only then makes
    /// them visible. The error applies to every partition of the request.
    pub(crate) fn commit(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        offsets: &[CommitOffset],
    ) -> Result<(), ResponseError> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId);
        }
        let consumer_check = self.consumer.check_commit(group_id, member_id, generation);
        let mut groups = self.inner.groups.lock();
        self.inner.owner(group_id)?;
        match (consumer_check, groups.get_mut(group_id)) {
            (Some(answer), _) => answer?,
            (None, Some(group)) => {
                check_classic(group, member_id, instance_id, generation)?;
                group.touch(member_id, Instant::now());
            }
            // An unknown group accepts simple commits only; a generation means a group that no longer exists.
            (None, None) if generation < 0 => {}
            (None, None) => return Err(ResponseError::IllegalGeneration),
        }
        let timestamp = now_ms();
        let values: Vec<((String, i32), OffsetValue)> = offsets
            .iter()
            .map(|o| {
                let value = OffsetValue {
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata: o.metadata.clone().unwrap_or_default(),
                    commit_timestamp: timestamp,
                };
                ((o.topic.clone(), o.partition), value)
            })
            .collect();
        let writes = values
            .iter()
            .map(|((topic, partition), v)| (records::offset_key(group_id, topic, *partition), Some(records::offset_value(v))))
            .collect();
        self.inner.store.append(group_id, writes)?;
        let group = groups.entry(group_id.to_string()).or_insert_with(|| ClassicGroup::new(group_id));
        for (key, value) in values {
            supersede(group, &key, i64::MAX);
            group.offsets.insert(key, value);
        }
        Ok(())
    }

    /// OffsetFetch for one group: the asked partitions (all committed ones when `partitions` is `None`).
    /// With `require_stable`, a partition with a pending transactional offset answers UNSTABLE_OFFSET_COMMIT.
    pub(crate) fn fetch(
        &self,
        group_id: &str,
        partitions: Option<Vec<(String, Vec<i32>)>>,
        require_stable: bool,
    ) -> Vec<FetchedOffset> {
        let groups = self.inner.groups.lock();
        let group = groups.get(group_id);
        let wanted: Vec<(String, i32)> = match partitions {
            Some(topics) => topics.into_iter().flat_map(|(t, ps)| ps.into_iter().map(move |p| (t.clone(), p))).collect(),
            None => group.map(|g| g.offsets.keys().cloned().collect()).unwrap_or_default(),
        };
        wanted
            .into_iter()
            .map(|(topic, partition)| {
                let key = (topic, partition);
                let unstable = require_stable
                    && group.is_some_and(|g| g.txn_offsets.values().any(|staged| staged.contains_key(&key)));
                let committed = group.and_then(|g| g.offsets.get(&key));
                let (topic, partition) = key;
                match (unstable, committed) {
                    (true, _) => FetchedOffset {
                        topic,
                        partition,
                        offset: -1,
                        leader_epoch: -1,
                        metadata: String::new(),
                        error: Some(ResponseError::UnstableOffsetCommit),
                    },
                    (false, Some(v)) => FetchedOffset {
                        topic,
                        partition,
                        offset: v.offset,
                        leader_epoch: v.leader_epoch,
                        metadata: v.metadata.clone(),
                        error: None,
                    },
                    (false, None) => FetchedOffset {
                        topic,
                        partition,
                        offset: -1,
                        leader_epoch: -1,
                        metadata: String::new(),
                        error: None,
                    },
                }
            })
            .collect()
    }

    /// OffsetDelete: removes committed offsets, except of topics the group's members subscribe to.
    pub(crate) fn delete_offsets(
        &self,
        group_id: &str,
        partitions: &[(String, i32)],
    ) -> Result<Vec<Result<(), ResponseError>>, ResponseError> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId);
        }
        let mut groups = self.inner.groups.lock();
        self.inner.owner(group_id)?;
        let group = groups.get_mut(group_id).ok_or(ResponseError::GroupIdNotFound)?;
        let subscribed: Vec<String> = if group.members.is_empty() {
            Vec::new()
        } else if group.protocol_type.as_deref() == Some("consumer") {
            group.member_subscriptions().iter().flat_map(subscribed_topics).collect()
        } else {
            return Err(ResponseError::NonEmptyGroup);
        };
        let results: Vec<Result<(), ResponseError>> = partitions
            .iter()
            .map(|(topic, _)| {
                if subscribed.contains(topic) {
                    Err(ResponseError::GroupSubscribedToTopic)
                } else {
                    Ok(())
                }
            })
            .collect();
        let doomed: Vec<(String, i32)> = partitions
            .iter()
            .zip(&results)
            .filter(|(key, r)| r.is_ok() && group.offsets.contains_key(*key))
            .map(|(key, _)| key.clone())
            .collect();
        let writes = doomed.iter().map(|(t, p)| (records::offset_key(group_id, t, *p), None)).collect();
        self.inner.store.append(group_id, writes)?;
        for key in &doomed {
            supersede(group, key, i64::MAX);
            group.offsets.remove(key);
        }
        Ok(results)
    }

    /// TxnOffsetCommit v3+ names the member: Kafka's checks for transactional commits by a group member.
    pub(crate) fn check_txn_member(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<(), ResponseError> {
        self.inner.owner(group_id)?;
        if member_id.is_empty() && generation < 0 {
            return Ok(());
        }
        if let Some(answer) = self.consumer.check_commit(group_id, member_id, generation) {
            return answer;
        }
        let groups = self.inner.groups.lock();
        let Some(group) = groups.get(group_id) else {
            return if member_id.is_empty() { Ok(()) } else { Err(ResponseError::UnknownMemberId) };
        };
        if instance_id.and_then(|i| group.static_members.get(i)).is_some_and(|id| id != member_id) {
            return Err(ResponseError::FencedInstanceId);
        }
        if !member_id.is_empty() && !group.members.contains_key(member_id) {
            return Err(ResponseError::UnknownMemberId);
        }
        if generation >= 0 && generation != group.generation {
            return Err(ResponseError::IllegalGeneration);
        }
        Ok(())
    }

    /// TxnOffsetCommit: appends offsets of a transaction to `__consumer_offsets` as a transactional batch of
    /// the producer; they stay invisible to OffsetFetch until the transaction's marker commits them
    /// ([`GroupCoordinator::finish_transaction_offsets`]). `check` runs under the groups lock, right before the
    /// append: the transaction coordinator's word that the transaction is open with this group, which cannot
    /// change before the append (its marker waits for the lock).
    pub fn stage_txn_offsets(
        &self,
        group_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        offsets: Vec<CommitOffset>,
        check: impl FnOnce() -> Result<(), ResponseError>,
    ) -> Result<(), ResponseError> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId);
        }
        let timestamp = now_ms();
        let values: Vec<((String, i32), OffsetValue)> = offsets
            .into_iter()
            .map(|o| {
                let value = OffsetValue {
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata: o.metadata.unwrap_or_default(),
                    commit_timestamp: timestamp,
                };
                ((o.topic, o.partition), value)
            })
            .collect();
        let writes = values
            .iter()
            .map(|((topic, partition), v)| (records::offset_key(group_id, topic, *partition), Some(records::offset_value(v))))
            .collect();
        if values.is_empty() {
            return Ok(());
        }
        let mut groups = self.inner.groups.lock();
        self.inner.owner(group_id)?;
        check()?;
        // In the log before the answer: a crash from here on keeps them pending until the transaction's marker.
        let first = self.inner.store.append_txn(group_id, producer_id, producer_epoch, writes)?;
        let group = groups.entry(group_id.to_string()).or_insert_with(|| ClassicGroup::new(group_id));
        let staged = group.txn_offsets.entry(producer_id).or_default();
        for (position, (key, value)) in (first..).zip(values) {
            staged.insert(key, PendingOffset { position, value });
        }
        tracing::debug!(group = group_id, producer_id, producer_epoch, "staged transactional offsets");
        Ok(())
    }

    /// Ends `producer_id`'s transaction in `group_id`'s `__consumer_offsets` partition: `write_marker` appends the
    /// COMMIT or ABORT marker there, then the staged offsets of every group of that partition become committed or
    /// are dropped, under the groups lock. If `write_marker` fails nothing changes and its error is answered.
    pub fn finish_transaction_offsets(
        &self,
        group_id: &str,
        producer_id: i64,
        commit: bool,
        write_marker: impl FnOnce(&(String, i32)) -> Result<(), ResponseError>,
    ) -> Result<(), ResponseError> {
        self.finish_partition_transaction(self.inner.store.partition_of(group_id), producer_id, commit, write_marker)
    }

    /// Ends `producer_id`'s transaction in `__consumer_offsets` partition `partition`: `write_marker` appends
    /// the COMMIT or ABORT marker there, then the staged offsets of every group of that partition become
    /// committed or are dropped, as replay will do from the marker. Both happen under the groups lock, the only
    /// writer of the topic, so no offset commit can slip between the marker and its effect in memory. If
    /// `write_marker` fails, nothing changes (the offsets stay pending, as in the log) and its error is
    /// answered. In cluster mode the partition must be loaded and led here (NOT_COORDINATOR,
    /// COORDINATOR_LOAD_IN_PROGRESS otherwise: the marker's sender retries).
    pub(crate) fn finish_partition_transaction(
        &self,
        partition: i32,
        producer_id: i64,
        commit: bool,
        write_marker: impl FnOnce(&(String, i32)) -> Result<(), ResponseError>,
    ) -> Result<(), ResponseError> {
        let mut groups = self.inner.groups.lock();
        self.inner.store.ownership.check_write(partition)?;
        write_marker(&(super::store::OFFSETS_TOPIC.to_string(), partition))?;
        let ended: Vec<String> = groups
            .iter()
            .filter(|(id, g)| g.txn_offsets.contains_key(&producer_id) && self.inner.store.partition_of(id) == partition)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ended {
            let Some(group) = groups.get_mut(&id) else { continue };
            let Some(staged) = group.txn_offsets.remove(&producer_id) else { continue };
            if commit {
                for (key, pending) in staged {
                    supersede(group, &key, pending.position);
                    group.offsets.insert(key, pending.value);
                }
            } else if group.is_forgettable() {
                groups.remove(&id);
            }
        }
        Ok(())
    }
}
