//! Committed offsets: OffsetCommit (with the classic group's generation checks, or the consumer protocol's
//! via `ConsumerGroups::check_commit`), OffsetFetch, OffsetDelete, and offsets staged by transactions.
//!
//! Staged transactional offsets live in memory only and are written to `__consumer_offsets` when the
//! transaction commits; a broker restart in the middle of a transaction forgets them, as an abort would.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::ConsumerProtocolSubscription;
use kafka_protocol::protocol::Decodable;
use kafka_protocol::ResponseError;
use tokio::time::Instant;

use super::classic::{ClassicGroup, GroupState};
use super::records::{self, OffsetValue};
use super::{now_ms, GroupCoordinator, TxnOffset};

/// One partition's offset in an OffsetCommit.
#[derive(Debug, Clone)]
pub(crate) struct CommitOffset {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: Option<String>,
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
        group.offsets.extend(values);
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

    pub(super) fn stage_txn(
        &self,
        group_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        offsets: Vec<TxnOffset>,
    ) -> Result<(), ResponseError> {
        if group_id.is_empty() {
            return Err(ResponseError::InvalidGroupId);
        }
        let timestamp = now_ms();
        let mut groups = self.inner.groups.lock();
        let group = groups.entry(group_id.to_string()).or_insert_with(|| ClassicGroup::new(group_id));
        let staged = group.txn_offsets.entry(producer_id).or_default();
        for o in offsets {
            staged.insert(
                (o.topic, o.partition),
                OffsetValue {
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata: o.metadata.unwrap_or_default(),
                    commit_timestamp: timestamp,
                },
            );
        }
        tracing::debug!(group = group_id, producer_id, producer_epoch, "staged transactional offsets");
        Ok(())
    }

    pub(super) fn finish_txn(&self, group_id: &str, producer_id: i64, commit: bool) -> Result<(), ResponseError> {
        let mut groups = self.inner.groups.lock();
        let Some(group) = groups.get_mut(group_id) else { return Ok(()) };
        let Some(staged) = group.txn_offsets.remove(&producer_id) else { return Ok(()) };
        if !commit {
            if group.is_forgettable() {
                groups.remove(group_id);
            }
            return Ok(());
        }
        let writes = staged
            .iter()
            .map(|((topic, partition), v)| (records::offset_key(group_id, topic, *partition), Some(records::offset_value(v))))
            .collect();
        if let Err(e) = self.inner.store.append(group_id, writes) {
            // Keep them staged so a retried EndTxn can still make them visible.
            group.txn_offsets.insert(producer_id, staged);
            return Err(e);
        }
        group.offsets.extend(staged);
        Ok(())
    }
}
