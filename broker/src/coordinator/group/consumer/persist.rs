//! Durability of consumer-protocol groups: a group's state as `__consumer_offsets` records, the difference
//! to write after a change, and the group rebuilt from replayed records at start.
//!
//! Each group remembers the records last written for it (`Group::persisted`). After a transition the whole
//! group is rendered again and only records whose bytes differ are appended, plus tombstones for records
//! that no longer exist (a member gone, a group deleted). Rendering the whole group keeps one source of truth
//! (the in-memory state) instead of a hand-written record per transition that could drift from it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;

use super::assignor::Assignor;
use super::group::{Group, Member};
use super::records::{self, ConsumerKey, CurrentValue, MemberValue};
use super::reconcile::{MemberState, Reconciled};
use super::{Assignment, Config, TopicMeta};

/// One record to write: a key and a value, or a tombstone.
pub(crate) type Write = (Bytes, Option<Bytes>);

/// Where the records of a group go: the `__consumer_offsets` partition of the group.
pub(crate) trait Journal: Send + Sync + std::fmt::Debug {
    /// Appends `writes` for `group_id` as one batch; returns once they are in the log file.
    fn append(&self, group_id: &str, writes: Vec<Write>) -> Result<(), ResponseError>;
}

/// A journal shared by the coordinator and the consumer groups.
pub(crate) type SharedJournal = Arc<dyn Journal>;

/// What replaying `__consumer_offsets` found of one group (the last record per key wins).
#[derive(Debug, Default)]
pub(crate) struct LoadedGroup {
    /// The group epoch; `None` when the metadata record is absent or deleted (then the group is not restored).
    epoch: Option<i32>,
    topics: BTreeMap<String, TopicMeta>,
    assignment_epoch: i32,
    members: BTreeMap<String, MemberValue>,
    targets: BTreeMap<String, Assignment>,
    current: BTreeMap<String, CurrentValue>,
}

/// Folds one replayed record of `group` into `loaded`; unreadable values are logged and skipped.
pub(crate) fn apply(loaded: &mut BTreeMap<String, LoadedGroup>, group: String, key: ConsumerKey, value: Option<Bytes>) {
    let entry = loaded.entry(group.clone()).or_default();
    let result = match (key, value) {
        (ConsumerKey::Metadata, None) => {
            entry.epoch = None;
            Ok(())
        }
        (ConsumerKey::Metadata, Some(v)) => records::decode_epoch_value(v).map(|e| entry.epoch = Some(e)),
        (ConsumerKey::PartitionMetadata, None) => {
            entry.topics.clear();
            Ok(())
        }
        (ConsumerKey::PartitionMetadata, Some(v)) => {
            records::decode_partition_metadata_value(v).map(|t| entry.topics = t)
        }
        (ConsumerKey::TargetMetadata, None) => {
            entry.assignment_epoch = 0;
            Ok(())
        }
        (ConsumerKey::TargetMetadata, Some(v)) => {
            records::decode_epoch_value(v).map(|e| entry.assignment_epoch = e)
        }
        (ConsumerKey::Member(m), None) => {
            entry.members.remove(&m);
            Ok(())
        }
        (ConsumerKey::Member(m), Some(v)) => records::decode_member_value(v).map(|value| {
            entry.members.insert(m, value);
        }),
        (ConsumerKey::TargetMember(m), None) => {
            entry.targets.remove(&m);
            Ok(())
        }
        (ConsumerKey::TargetMember(m), Some(v)) => records::decode_target_member_value(v).map(|value| {
            entry.targets.insert(m, value);
        }),
        (ConsumerKey::Current(m), None) => {
            entry.current.remove(&m);
            Ok(())
        }
        (ConsumerKey::Current(m), Some(v)) => records::decode_current_value(v).map(|value| {
            entry.current.insert(m, value);
        }),
    };
    if let Err(e) = result {
        tracing::warn!(group, error = %e, "skipping an unreadable consumer group record");
    }
}

/// Rebuilds the groups replay found. Members' session timers start at `now`: they were not heartbeating
/// while the broker was down, and that must not count against them.
pub(crate) fn restore(loaded: BTreeMap<String, LoadedGroup>, now: Instant, config: &Config) -> BTreeMap<String, Group> {
    let mut out = BTreeMap::new();
    for (group_id, l) in loaded {
        let Some(epoch) = l.epoch else { continue };
        let mut group = Group { epoch, assignment_epoch: l.assignment_epoch, topics: l.topics, ..Group::default() };
        let mut current = l.current;
        for (member_id, m) in l.members {
            let reconciled = match current.remove(&member_id) {
                Some(c) => Reconciled {
                    state: c.state,
                    epoch: c.epoch,
                    previous_epoch: c.previous_epoch,
                    assigned: c.assigned,
                    revoking: c.revoking,
                },
                // Metadata without an assignment: written by a join whose reconciliation record never landed.
                None => Reconciled {
                    state: MemberState::Stable,
                    epoch: 0,
                    previous_epoch: 0,
                    assigned: Assignment::new(),
                    revoking: Assignment::new(),
                },
            };
            let rebalance_timeout = Duration::from_millis(u64::try_from(m.rebalance_timeout_ms).unwrap_or(0));
            let revocation_deadline =
                (reconciled.state == MemberState::UnrevokedPartitions).then(|| now + rebalance_timeout);
            group.members.insert(
                member_id,
                Member {
                    instance_id: m.instance_id,
                    rack_id: m.rack_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    subscribed: m.subscribed.into_iter().collect(),
                    assignor: m.server_assignor.as_deref().and_then(Assignor::from_name),
                    rebalance_timeout,
                    reconciled,
                    session_deadline: now + config.session_timeout,
                    revocation_deadline,
                },
            );
        }
        group.target = l.targets.into_iter().filter(|(id, _)| group.members.contains_key(id)).collect();
        group.assignor = group.chosen_assignor();
        // Orphans (records of members without metadata) are left out of `persisted` on purpose: seeding
        // `persisted` with them makes the next write of this group tombstone them.
        group.persisted = image(&group_id, &group);
        for orphan in current.keys() {
            group.persisted.insert(records::key(&group_id, &ConsumerKey::Current(orphan.clone())), Bytes::new());
        }
        out.insert(group_id, group);
    }
    out
}

/// Every record that describes `group` now.
pub(crate) fn image(group_id: &str, group: &Group) -> BTreeMap<Bytes, Bytes> {
    let key = |k: ConsumerKey| records::key(group_id, &k);
    let mut out = BTreeMap::new();
    out.insert(key(ConsumerKey::Metadata), records::epoch_value(group.epoch));
    out.insert(key(ConsumerKey::PartitionMetadata), records::partition_metadata_value(&group.topics));
    out.insert(key(ConsumerKey::TargetMetadata), records::epoch_value(group.assignment_epoch));
    for (id, m) in &group.members {
        let value = MemberValue {
            instance_id: m.instance_id.clone(),
            rack_id: m.rack_id.clone(),
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
            subscribed: m.subscribed.iter().cloned().collect(),
            rebalance_timeout_ms: i32::try_from(m.rebalance_timeout.as_millis()).unwrap_or(i32::MAX),
            server_assignor: m.assignor.map(|a| a.name().to_string()),
        };
        out.insert(key(ConsumerKey::Member(id.clone())), records::member_value(&value));
        let r = &m.reconciled;
        let current = CurrentValue {
            epoch: r.epoch,
            previous_epoch: r.previous_epoch,
            state: r.state,
            assigned: r.assigned.clone(),
            revoking: r.revoking.clone(),
        };
        out.insert(key(ConsumerKey::Current(id.clone())), records::current_value(&current));
    }
    for (id, target) in &group.target {
        out.insert(key(ConsumerKey::TargetMember(id.clone())), records::target_member_value(target));
    }
    out
}

/// The records that turn `before` into `after`: changed or new records, then tombstones, the group's own
/// metadata tombstone last as Kafka writes them (a reader that drops the group there loses nothing after it).
pub(crate) fn diff(before: &BTreeMap<Bytes, Bytes>, after: &BTreeMap<Bytes, Bytes>) -> Vec<Write> {
    let mut writes: Vec<Write> =
        after.iter().filter(|(k, v)| before.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
    let mut gone: Vec<&Bytes> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    // Keys start with their version; the metadata key (3) sorts first, so reversing puts it last.
    gone.sort();
    gone.reverse();
    writes.extend(gone.into_iter().map(|k| (k.clone(), None)));
    writes
}

/// Writes what changed in `group` since its last write; on success the group remembers what it wrote.
pub(crate) fn save(journal: Option<&SharedJournal>, group_id: &str, group: &mut Group) -> Result<(), ResponseError> {
    let Some(journal) = journal else { return Ok(()) };
    let after = image(group_id, group);
    let writes = diff(&group.persisted, &after);
    if writes.is_empty() {
        return Ok(());
    }
    journal.append(group_id, writes)?;
    group.persisted = after;
    Ok(())
}

/// Tombstones for every record `group` has written: the group is being deleted.
pub(crate) fn delete(journal: Option<&SharedJournal>, group_id: &str, group: &Group) -> Result<(), ResponseError> {
    let Some(journal) = journal else { return Ok(()) };
    journal.append(group_id, diff(&group.persisted, &BTreeMap::new()))
}
