//! Commands: the entries of the metadata Raft log, and the deterministic function that applies one to the
//! image. Every decision that must be the same on every node (leader election, ISR changes on fencing, replica
//! placement) is made here, from the image alone, so replaying the log always rebuilds the same image.
//!
//! [`apply`] dispatches; topic-level commands live here, broker lifecycle and leader election in
//! `controller/election.rs`, ISR changes and reassignments in `controller/isr.rs`, replica placement in
//! [`super::placement`].

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::image::{MetadataImage, PartitionRecord, TopicRecord};
use super::{election, isr, placement};

/// One metadata change, proposed to the Raft leader and applied by every node once committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataCommand {
    /// A broker starts (or restarts: a new `incarnation`). A restart first fences the old incarnation (moving its
    /// leaderships, dropping it from ISRs) and then registers it unfenced; it then elects it for partitions that
    /// are leaderless and have it in their ISR.
    RegisterBroker { id: i32, incarnation: Uuid, host: String, port: i32, rack: Option<String> },
    /// The broker stopped heartbeating (decided by the controller leader): it leads nothing and leaves every ISR
    /// where it is not the last member. Ignored unless `incarnation` is the registered one.
    FenceBroker { id: i32, incarnation: Uuid },
    /// A fenced broker heartbeats again with the same incarnation.
    UnfenceBroker { id: i32, incarnation: Uuid },
    /// Creates a topic. `assignments` (one replica list per partition) when the client gave them, else placed
    /// rack-aware over the live brokers with `replication_factor`.
    CreateTopic {
        name: String,
        id: Uuid,
        partitions: i32,
        replication_factor: i16,
        assignments: Option<Vec<Vec<i32>>>,
        configs: BTreeMap<String, String>,
    },
    /// Deletes a topic.
    DeleteTopic { name: String },
    /// Grows a topic to `total` partitions (new ones placed like CreateTopic unless `assignments` is given).
    CreatePartitions { name: String, total: i32, assignments: Option<Vec<Vec<i32>>> },
    /// Replaces a topic's config overrides with `configs`.
    AlterTopicConfigs { name: String, configs: BTreeMap<String, String> },
    /// A partition leader changes its ISR (shrink when a follower lags, expand when it caught up). Refused
    /// (FENCED_LEADER_EPOCH / INVALID_UPDATE_VERSION) unless `leader_epoch` and `partition_epoch` are current.
    /// When a reassignment's new replicas are all in the ISR, the reassignment completes here.
    AlterPartition {
        topic: String,
        partition: i32,
        leader: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        isr: Vec<i32>,
    },
    /// Elects leaders: `preferred` moves leadership to the first replica when it is live and in the ISR;
    /// otherwise elects any live ISR member for leaderless partitions.
    ElectLeaders { partitions: Vec<(String, i32)>, preferred: bool },
    /// Starts (Some) or cancels (None) reassignments of the given partitions.
    AlterReassignments { changes: Vec<(String, i32, Option<Vec<i32>>)> },
    /// Hands a block of `count` producer ids to broker `broker`.
    AllocateProducerIds { broker: i32, count: i64 },
}

/// What applying a command produced, returned to the proposer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResult {
    /// Applied.
    Ok,
    /// Refused: the Kafka error code to answer and a message for humans. The image is unchanged.
    Refused { code: i16, message: String },
    /// Per-partition outcomes (ElectLeaders, AlterReassignments): (topic, partition, error code, message).
    Partitions(Vec<(String, i32, i16, Option<String>)>),
    /// The first id of an allocated producer id block.
    ProducerIds { first: i64, count: i64 },
}

/// Applies `command`, the Raft log entry at `index`, to `image`. Pure and deterministic: the same image, index
/// and command give the same result and image on every node. A refused command leaves the image as it was,
/// except `applied_index`, which is `index` afterwards whatever the outcome.
pub fn apply(image: &mut MetadataImage, index: u64, command: &MetadataCommand) -> CommandResult {
    let result = match command {
        MetadataCommand::RegisterBroker { id, incarnation, host, port, rack } => {
            election::register_broker(image, index, *id, *incarnation, host, *port, rack.as_deref())
        }
        MetadataCommand::FenceBroker { id, incarnation } => election::fence_broker(image, *id, *incarnation),
        MetadataCommand::UnfenceBroker { id, incarnation } => election::unfence_broker(image, *id, *incarnation),
        MetadataCommand::CreateTopic { name, id, partitions, replication_factor, assignments, configs } => {
            create_topic(image, name, *id, *partitions, *replication_factor, assignments.as_deref(), configs)
        }
        MetadataCommand::DeleteTopic { name } => match image.topics.remove(name) {
            Some(_) => CommandResult::Ok,
            None => unknown_topic(name),
        },
        MetadataCommand::CreatePartitions { name, total, assignments } => {
            create_partitions(image, name, *total, assignments.as_deref())
        }
        MetadataCommand::AlterTopicConfigs { name, configs } => match image.topics.get_mut(name) {
            Some(topic) => {
                topic.configs = configs.clone();
                CommandResult::Ok
            }
            None => unknown_topic(name),
        },
        MetadataCommand::AlterPartition { topic, partition, leader, leader_epoch, partition_epoch, isr } => {
            isr::alter_partition(image, topic, *partition, *leader, *leader_epoch, *partition_epoch, isr)
        }
        MetadataCommand::ElectLeaders { partitions, preferred } => {
            election::elect_leaders(image, partitions, *preferred)
        }
        MetadataCommand::AlterReassignments { changes } => isr::alter_reassignments(image, changes),
        MetadataCommand::AllocateProducerIds { broker: _, count } => allocate_producer_ids(image, *count),
    };
    image.applied_index = index;
    result
}

/// A refusal with `error`'s Kafka code.
pub(crate) fn refused(error: ResponseError, message: impl Into<String>) -> CommandResult {
    CommandResult::Refused { code: error.code(), message: message.into() }
}

fn unknown_topic(name: &str) -> CommandResult {
    refused(ResponseError::UnknownTopicOrPartition, format!("topic {name:?} does not exist"))
}

/// Kafka's topic name rules: 1 to 249 characters of `[a-zA-Z0-9._-]`, and not `.` or `..`.
fn check_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(format!("{name:?} is not a valid topic name"));
    }
    if name.len() > 249 {
        return Err(format!("topic name is {} characters long, at most 249 are allowed", name.len()));
    }
    match name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        Some(c) => {
            Err(format!("topic name {name:?} contains {c:?}; only ASCII letters, digits, '.', '_' and '-' are allowed"))
        }
        None => Ok(()),
    }
}

fn create_topic(
    image: &mut MetadataImage,
    name: &str,
    id: Uuid,
    partitions: i32,
    replication_factor: i16,
    assignments: Option<&[Vec<i32>]>,
    configs: &BTreeMap<String, String>,
) -> CommandResult {
    if let Some(existing) = image.topics.get(name) {
        // The same proposal retried after a lost answer carries the same id: it already succeeded.
        if existing.id == id {
            return CommandResult::Ok;
        }
        return refused(ResponseError::TopicAlreadyExists, format!("topic {name:?} already exists"));
    }
    if let Err(message) = check_topic_name(name) {
        return refused(ResponseError::InvalidTopicException, message);
    }
    if let Some(other) = image.topic_by_id(id) {
        return refused(
            ResponseError::TopicAlreadyExists,
            format!("topic id {id} is already used by {:?}", other.name),
        );
    }
    let records = match assignments {
        Some(lists) => {
            if partitions > 0 && usize::try_from(partitions).ok() != Some(lists.len()) {
                return refused(
                    ResponseError::InvalidReplicaAssignment,
                    format!("{} replica assignments given for {partitions} partitions", lists.len()),
                );
            }
            match assigned_partitions(image, lists) {
                Ok(records) => records,
                Err(message) => return refused(ResponseError::InvalidReplicaAssignment, message),
            }
        }
        None => match placement::place(image, partitions, replication_factor) {
            Ok(lists) => lists.into_iter().map(new_partition).collect(),
            Err(e) => return CommandResult::Refused { code: e.code, message: e.message },
        },
    };
    image.topics.insert(
        name.to_string(),
        TopicRecord { name: name.to_string(), id, configs: configs.clone(), partitions: records },
    );
    CommandResult::Ok
}

fn create_partitions(
    image: &mut MetadataImage,
    name: &str,
    total: i32,
    assignments: Option<&[Vec<i32>]>,
) -> CommandResult {
    let Some(topic) = image.topics.get(name) else { return unknown_topic(name) };
    let current = topic.partitions.len();
    let Some(wanted) = usize::try_from(total).ok().filter(|&t| t > current) else {
        return refused(
            ResponseError::InvalidPartitions,
            format!("topic {name:?} has {current} partitions; the new total must be larger, got {total}"),
        );
    };
    let added = wanted - current;
    let records = match assignments {
        Some(lists) => {
            if lists.len() != added {
                return refused(
                    ResponseError::InvalidReplicaAssignment,
                    format!("{} replica assignments given for {added} new partitions", lists.len()),
                );
            }
            match assigned_partitions(image, lists) {
                Ok(records) => records,
                Err(message) => return refused(ResponseError::InvalidReplicaAssignment, message),
            }
        }
        None => {
            // New partitions get the replication factor the topic has (its target, during a reassignment).
            let rf = topic.partitions.first().map(|p| p.replicas.len() - p.removing_replicas.len()).unwrap_or(1);
            let rf = i16::try_from(rf).unwrap_or(i16::MAX);
            let count = i32::try_from(added).unwrap_or(i32::MAX);
            match placement::place(image, count, rf) {
                Ok(lists) => lists.into_iter().map(new_partition).collect(),
                Err(e) => return CommandResult::Refused { code: e.code, message: e.message },
            }
        }
    };
    if let Some(topic) = image.topics.get_mut(name) {
        topic.partitions.extend(records);
    }
    CommandResult::Ok
}

/// Partition records for client-given replica lists: every list non-empty, of one length, without duplicates,
/// naming registered brokers, at least one of them live (it becomes the leader; the live ones form the ISR).
fn assigned_partitions(image: &MetadataImage, lists: &[Vec<i32>]) -> Result<Vec<PartitionRecord>, String> {
    if lists.is_empty() {
        return Err("no replica assignment given".into());
    }
    let mut records = Vec::with_capacity(lists.len());
    for (partition, replicas) in lists.iter().enumerate() {
        check_replica_list(image, replicas).map_err(|e| format!("partition {partition}: {e}"))?;
        if replicas.len() != lists[0].len() {
            return Err(format!(
                "partition {partition} has {} replicas, partition 0 has {}; all partitions need the same number",
                replicas.len(),
                lists[0].len()
            ));
        }
        let isr: Vec<i32> = replicas.iter().copied().filter(|id| election::is_live(&image.brokers, *id)).collect();
        let Some(&leader) = isr.first() else {
            return Err(format!("partition {partition}: none of the replicas {replicas:?} is a live broker"));
        };
        records.push(PartitionRecord {
            replicas: replicas.clone(),
            isr,
            leader,
            leader_epoch: 0,
            partition_epoch: 0,
            adding_replicas: Vec::new(),
            removing_replicas: Vec::new(),
        });
    }
    Ok(records)
}

/// A replica list is non-empty, has no duplicates and names registered brokers only.
pub(crate) fn check_replica_list(image: &MetadataImage, replicas: &[i32]) -> Result<(), String> {
    if replicas.is_empty() {
        return Err("the replica list is empty".into());
    }
    for (i, id) in replicas.iter().enumerate() {
        if replicas[..i].contains(id) {
            return Err(format!("broker {id} is listed twice in {replicas:?}"));
        }
        if !image.brokers.contains_key(id) {
            return Err(format!("broker {id} is not registered"));
        }
    }
    Ok(())
}

/// A fresh partition on placed (hence live) replicas: all in sync, the first leads.
fn new_partition(replicas: Vec<i32>) -> PartitionRecord {
    PartitionRecord {
        isr: replicas.clone(),
        leader: replicas[0],
        replicas,
        leader_epoch: 0,
        partition_epoch: 0,
        adding_replicas: Vec::new(),
        removing_replicas: Vec::new(),
    }
}

fn allocate_producer_ids(image: &mut MetadataImage, count: i64) -> CommandResult {
    if count < 1 {
        return refused(ResponseError::InvalidRequest, format!("a producer id block needs at least 1 id, got {count}"));
    }
    let first = image.next_producer_id;
    match first.checked_add(count) {
        Some(next) => {
            image.next_producer_id = next;
            CommandResult::ProducerIds { first, count }
        }
        None => refused(ResponseError::UnknownServerError, "the producer id space is exhausted"),
    }
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
