//! ISR changes proposed by partition leaders (AlterPartition) and partition reassignments
//! (AlterReassignments), rules of the metadata state machine.
//!
//! During a reassignment `replicas` is the target list followed by the replicas being removed, `adding_replicas`
//! are target replicas not in the original list and `removing_replicas` original replicas not in the target.
//! The new replicas catch up as followers; when all of them are in the ISR the reassignment completes (on the
//! AlterPartition that brings the last one in, or at once when nothing is added).

use kafka_protocol::error::ResponseError;

use super::command::{check_replica_list, refused, CommandResult};
use super::election::{electable, is_live, set_leader};
use super::image::{MetadataImage, PartitionRecord, NO_LEADER};

#[allow(clippy::too_many_arguments)]
pub(crate) fn alter_partition(
    image: &mut MetadataImage,
    topic: &str,
    partition: i32,
    leader: i32,
    leader_epoch: i32,
    partition_epoch: i32,
    isr: &[i32],
) -> CommandResult {
    let MetadataImage { brokers, topics, .. } = image;
    let Some(record) =
        topics.get_mut(topic).and_then(|t| usize::try_from(partition).ok().and_then(|i| t.partitions.get_mut(i)))
    else {
        return refused(ResponseError::UnknownTopicOrPartition, format!("{topic}-{partition} does not exist"));
    };
    if leader_epoch < record.leader_epoch {
        return refused(
            ResponseError::FencedLeaderEpoch,
            format!("leader epoch {leader_epoch} is older than the current {}", record.leader_epoch),
        );
    }
    if leader_epoch > record.leader_epoch {
        return refused(
            ResponseError::UnknownLeaderEpoch,
            format!("leader epoch {leader_epoch} is newer than the current {}", record.leader_epoch),
        );
    }
    if leader != record.leader {
        return refused(
            ResponseError::NotLeaderOrFollower,
            format!("broker {leader} does not lead {topic}-{partition}; {} does", record.leader),
        );
    }
    if partition_epoch != record.partition_epoch {
        return refused(
            ResponseError::InvalidUpdateVersion,
            format!("partition epoch {partition_epoch} is not the current {}", record.partition_epoch),
        );
    }
    if let Err(message) = check_isr(record, isr, |id| is_live(brokers, id)) {
        return refused(ResponseError::IneligibleReplica, message);
    }
    let mut next = record.clone();
    next.isr = record.replicas.iter().copied().filter(|id| isr.contains(id)).collect();
    complete_reassignment(&mut next, |id| is_live(brokers, id));
    next.partition_epoch += 1;
    *record = next;
    CommandResult::Ok
}

/// A proposed ISR holds the leader and only live assigned replicas, each once.
fn check_isr(record: &PartitionRecord, isr: &[i32], live: impl Fn(i32) -> bool) -> Result<(), String> {
    if !isr.contains(&record.leader) {
        return Err(format!("the ISR {isr:?} does not contain the leader {}", record.leader));
    }
    for (i, id) in isr.iter().enumerate() {
        if isr[..i].contains(id) {
            return Err(format!("broker {id} is listed twice in the ISR {isr:?}"));
        }
        if !record.replicas.contains(id) {
            return Err(format!("broker {id} is not a replica (replicas {:?})", record.replicas));
        }
        if !live(*id) {
            return Err(format!("broker {id} is fenced or not registered"));
        }
    }
    Ok(())
}

/// Completes an ongoing reassignment when every adding replica is in the ISR and a live target replica can
/// lead: the replicas become the target list, removed replicas leave the ISR, the leader moves if it was
/// removed. Returns whether it completed (the caller bumps the partition epoch).
fn complete_reassignment(record: &mut PartitionRecord, live: impl Fn(i32) -> bool) -> bool {
    if record.adding_replicas.is_empty() && record.removing_replicas.is_empty() {
        return false;
    }
    if !record.adding_replicas.iter().all(|id| record.isr.contains(id)) {
        return false;
    }
    let target: Vec<i32> =
        record.replicas.iter().copied().filter(|id| !record.removing_replicas.contains(id)).collect();
    let isr: Vec<i32> = target.iter().copied().filter(|id| record.isr.contains(id)).collect();
    let leader = if target.contains(&record.leader) {
        record.leader
    } else {
        target.iter().copied().find(|id| isr.contains(id) && live(*id)).unwrap_or(NO_LEADER)
    };
    if isr.is_empty() || leader == NO_LEADER {
        return false;
    }
    record.replicas = target;
    record.isr = isr;
    record.adding_replicas.clear();
    record.removing_replicas.clear();
    set_leader(record, leader);
    true
}

pub(crate) fn alter_reassignments(
    image: &mut MetadataImage,
    changes: &[(String, i32, Option<Vec<i32>>)],
) -> CommandResult {
    let mut results = Vec::with_capacity(changes.len());
    for (topic, partition, target) in changes {
        let outcome = reassign(image, topic, *partition, target.as_deref());
        let (code, message) = match outcome {
            Ok(()) => (0, None),
            Err((error, message)) => (error.code(), Some(message)),
        };
        results.push((topic.clone(), *partition, code, message));
    }
    CommandResult::Partitions(results)
}

fn reassign(
    image: &mut MetadataImage,
    topic: &str,
    partition: i32,
    target: Option<&[i32]>,
) -> Result<(), (ResponseError, String)> {
    if let Some(target) = target {
        check_replica_list(image, target).map_err(|m| (ResponseError::InvalidReplicaAssignment, m))?;
    }
    let MetadataImage { brokers, topics, .. } = image;
    let record = topics
        .get_mut(topic)
        .and_then(|t| usize::try_from(partition).ok().and_then(|i| t.partitions.get_mut(i)))
        .ok_or_else(|| (ResponseError::UnknownTopicOrPartition, format!("{topic}-{partition} does not exist")))?;
    let ongoing = !record.adding_replicas.is_empty() || !record.removing_replicas.is_empty();
    // The assignment before any reassignment: what cancelling returns to, and what a new target is measured from.
    let original: Vec<i32> =
        record.replicas.iter().copied().filter(|id| !record.adding_replicas.contains(id)).collect();
    let target = match target {
        Some(target) => target.to_vec(),
        None if ongoing => original.clone(),
        None => {
            return Err((
                ResponseError::NoReassignmentInProgress,
                format!("{topic}-{partition} is not being reassigned"),
            ))
        }
    };
    let mut next = record.clone();
    next.replicas = target.clone();
    next.replicas.extend(original.iter().copied().filter(|id| !target.contains(id)));
    next.adding_replicas = target.iter().copied().filter(|id| !original.contains(id)).collect();
    next.removing_replicas = original.iter().copied().filter(|id| !target.contains(id)).collect();
    // Replicas a replaced reassignment was adding are no longer assigned: they leave the ISR.
    next.isr = next.replicas.iter().copied().filter(|id| record.isr.contains(id)).collect();
    if next.isr.is_empty() {
        return Err((
            ResponseError::InvalidReplicaAssignment,
            format!("no in-sync replica of {topic}-{partition} (ISR {:?}) would remain assigned", record.isr),
        ));
    }
    if next.leader != NO_LEADER && !next.replicas.contains(&next.leader) {
        let leader = electable(&next, brokers);
        set_leader(&mut next, leader);
    }
    complete_reassignment(&mut next, |id| is_live(brokers, id));
    if next != *record {
        next.partition_epoch += 1;
        *record = next;
    }
    Ok(())
}
