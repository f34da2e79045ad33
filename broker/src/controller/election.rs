//! Broker lifecycle and leader election rules of the metadata state machine: registration, fencing and
//! unfencing, and the ElectLeaders command.
//!
//! Invariants kept here: a partition's leader is a live member of its ISR or [`NO_LEADER`]; the ISR is never
//! empty; a fenced broker stays in an ISR only as its last member (unclean election is off, so that broker is
//! the only one known to have every committed record and must lead again when it returns). Every leader change
//! bumps `leader_epoch`; every change of a partition record bumps `partition_epoch`.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use uuid::Uuid;

use super::command::{refused, CommandResult};
use super::image::{BrokerRecord, MetadataImage, PartitionRecord, TopicRecord, NO_LEADER};

/// Is broker `id` registered and unfenced?
pub(crate) fn is_live(brokers: &BTreeMap<i32, BrokerRecord>, id: i32) -> bool {
    brokers.get(&id).is_some_and(|b| !b.fenced)
}

/// The first replica, in replica order, that is in the ISR and live: the leader an election picks.
pub(crate) fn electable(partition: &PartitionRecord, brokers: &BTreeMap<i32, BrokerRecord>) -> i32 {
    partition
        .replicas
        .iter()
        .copied()
        .find(|id| partition.isr.contains(id) && is_live(brokers, *id))
        .unwrap_or(NO_LEADER)
}

/// Sets the leader, bumping the leader epoch if it changes. Returns whether it changed.
pub(crate) fn set_leader(partition: &mut PartitionRecord, leader: i32) -> bool {
    if partition.leader == leader {
        return false;
    }
    partition.leader = leader;
    partition.leader_epoch += 1;
    true
}

pub(crate) fn register_broker(
    image: &mut MetadataImage,
    index: u64,
    id: i32,
    incarnation: Uuid,
    host: &str,
    port: i32,
    rack: Option<&str>,
) -> CommandResult {
    if id < 0 {
        return refused(ResponseError::InvalidRequest, format!("broker id {id} is negative"));
    }
    match image.brokers.get(&id) {
        // A retried proposal of the same registration: already done.
        Some(b) if b.incarnation == incarnation => return CommandResult::Ok,
        // A restart: whatever the old process led or was in sync for is not to be trusted until the new one
        // proves it (a restarted broker may have lost unflushed records), so fence the old incarnation first.
        Some(_) => fence(image, id),
        None => {}
    }
    image.brokers.insert(
        id,
        BrokerRecord {
            id,
            incarnation,
            epoch: index,
            host: host.to_string(),
            port,
            rack: rack.map(str::to_string),
            fenced: false,
        },
    );
    elect_returning(image, id);
    CommandResult::Ok
}

pub(crate) fn fence_broker(image: &mut MetadataImage, id: i32, incarnation: Uuid) -> CommandResult {
    match current(image, id, incarnation) {
        Err(refusal) => refusal,
        Ok(true) => CommandResult::Ok,
        Ok(false) => {
            fence(image, id);
            CommandResult::Ok
        }
    }
}

pub(crate) fn unfence_broker(image: &mut MetadataImage, id: i32, incarnation: Uuid) -> CommandResult {
    match current(image, id, incarnation) {
        Err(refusal) => refusal,
        Ok(false) => CommandResult::Ok,
        Ok(true) => {
            if let Some(broker) = image.brokers.get_mut(&id) {
                broker.fenced = false;
            }
            elect_returning(image, id);
            CommandResult::Ok
        }
    }
}

/// Whether broker `id` with `incarnation` is the registered one (then: is it fenced?), else the refusal.
fn current(image: &MetadataImage, id: i32, incarnation: Uuid) -> Result<bool, CommandResult> {
    match image.brokers.get(&id) {
        None => Err(refused(ResponseError::BrokerIdNotRegistered, format!("broker {id} is not registered"))),
        Some(b) if b.incarnation != incarnation => Err(refused(
            ResponseError::StaleBrokerEpoch,
            format!("broker {id} incarnation {incarnation} was replaced by {}", b.incarnation),
        )),
        Some(b) => Ok(b.fenced),
    }
}

/// Fences broker `id`: it leaves every ISR it is not the last member of, and its leaderships move to the next
/// live ISR member in replica order, or to nobody.
fn fence(image: &mut MetadataImage, id: i32) {
    let MetadataImage { brokers, topics, .. } = image;
    if let Some(broker) = brokers.get_mut(&id) {
        broker.fenced = true;
    }
    for_each_partition(topics, |partition| {
        let mut changed = false;
        if partition.isr.len() > 1 && partition.isr.contains(&id) {
            partition.isr.retain(|&r| r != id);
            changed = true;
        }
        if partition.leader == id {
            set_leader(partition, electable(partition, brokers));
            changed = true;
        }
        if changed {
            partition.partition_epoch += 1;
        }
    });
}

/// Broker `id` is live again: it leads the leaderless partitions whose ISR holds it.
fn elect_returning(image: &mut MetadataImage, id: i32) {
    let MetadataImage { brokers, topics, .. } = image;
    for_each_partition(topics, |partition| {
        if partition.leader == NO_LEADER
            && partition.isr.contains(&id)
            && set_leader(partition, electable(partition, brokers))
        {
            partition.partition_epoch += 1;
        }
    });
}

fn for_each_partition(topics: &mut BTreeMap<String, TopicRecord>, mut f: impl FnMut(&mut PartitionRecord)) {
    for topic in topics.values_mut() {
        for partition in &mut topic.partitions {
            f(partition);
        }
    }
}

pub(crate) fn elect_leaders(image: &mut MetadataImage, partitions: &[(String, i32)], preferred: bool) -> CommandResult {
    let MetadataImage { brokers, topics, .. } = image;
    let mut results = Vec::with_capacity(partitions.len());
    for (topic, index) in partitions {
        let record =
            topics.get_mut(topic).and_then(|t| usize::try_from(*index).ok().and_then(|i| t.partitions.get_mut(i)));
        let outcome = match record {
            None => Err((ResponseError::UnknownTopicOrPartition, format!("{topic}-{index} does not exist"))),
            Some(partition) if preferred => elect_preferred(partition, brokers),
            Some(partition) => elect_any(partition, brokers),
        };
        let (code, message) = match outcome {
            Ok(()) => (0, None),
            Err((error, message)) => (error.code(), Some(message)),
        };
        results.push((topic.clone(), *index, code, message));
    }
    CommandResult::Partitions(results)
}

/// An election's outcome for one partition: done, or why not.
type Outcome = Result<(), (ResponseError, String)>;

fn elect_preferred(partition: &mut PartitionRecord, brokers: &BTreeMap<i32, BrokerRecord>) -> Outcome {
    let Some(&preferred) = partition.replicas.first() else {
        return Err((ResponseError::PreferredLeaderNotAvailable, "the partition has no replicas".into()));
    };
    if partition.leader == preferred {
        return Err((ResponseError::ElectionNotNeeded, format!("broker {preferred} already leads")));
    }
    if !partition.isr.contains(&preferred) || !is_live(brokers, preferred) {
        return Err((
            ResponseError::PreferredLeaderNotAvailable,
            format!("preferred leader {preferred} is not a live in-sync replica"),
        ));
    }
    set_leader(partition, preferred);
    partition.partition_epoch += 1;
    Ok(())
}

fn elect_any(partition: &mut PartitionRecord, brokers: &BTreeMap<i32, BrokerRecord>) -> Outcome {
    if partition.leader != NO_LEADER {
        return Err((ResponseError::ElectionNotNeeded, format!("broker {} leads", partition.leader)));
    }
    let leader = electable(partition, brokers);
    if leader == NO_LEADER {
        return Err((
            ResponseError::EligibleLeadersNotAvailable,
            format!("no member of the ISR {:?} is live (unclean election is off)", partition.isr),
        ));
    }
    set_leader(partition, leader);
    partition.partition_epoch += 1;
    Ok(())
}
