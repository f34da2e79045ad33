//! Unit tests of [`super::apply`]: every command's rules, refusals with their Kafka codes, and invariants kept
//! over random command sequences.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::controller::image::NO_LEADER;

/// Applies commands at successive indexes, like the state machine does.
struct Log {
    image: MetadataImage,
    index: u64,
}

impl Log {
    fn new() -> Self {
        Self { image: MetadataImage::default(), index: 0 }
    }

    /// A log with brokers `1..=n` registered (incarnation = id) and live.
    fn with_brokers(n: i32) -> Self {
        let mut log = Self::new();
        for id in 1..=n {
            assert_eq!(log.apply(register(id, inc(id))), CommandResult::Ok);
        }
        log
    }

    fn apply(&mut self, command: MetadataCommand) -> CommandResult {
        self.index += 1;
        let result = apply(&mut self.image, self.index, &command);
        assert_eq!(self.image.applied_index, self.index);
        result
    }

    fn partition(&self, topic: &str, partition: i32) -> PartitionRecord {
        self.image.partition(topic, partition).cloned().expect("partition exists")
    }

    /// Creates `name` with explicit replica lists.
    fn create(&mut self, name: &str, assignments: &[&[i32]]) {
        let lists = assignments.iter().map(|a| a.to_vec()).collect();
        let result = self.apply(create_assigned(name, lists));
        assert_eq!(result, CommandResult::Ok);
    }

    fn fence(&mut self, id: i32) -> CommandResult {
        self.apply(MetadataCommand::FenceBroker { id, incarnation: self.image.brokers[&id].incarnation })
    }

    fn unfence(&mut self, id: i32) -> CommandResult {
        self.apply(MetadataCommand::UnfenceBroker { id, incarnation: self.image.brokers[&id].incarnation })
    }

    /// AlterPartition from the current leader with the current epochs.
    fn alter_isr(&mut self, topic: &str, partition: i32, isr: &[i32]) -> CommandResult {
        let p = self.partition(topic, partition);
        self.apply(MetadataCommand::AlterPartition {
            topic: topic.into(),
            partition,
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            partition_epoch: p.partition_epoch,
            isr: isr.to_vec(),
        })
    }
}

fn inc(n: i32) -> Uuid {
    Uuid::from_u128(n as u128)
}

fn register(id: i32, incarnation: Uuid) -> MetadataCommand {
    MetadataCommand::RegisterBroker { id, incarnation, host: format!("host{id}"), port: 9092, rack: None }
}

fn create(name: &str, partitions: i32, replication_factor: i16) -> MetadataCommand {
    MetadataCommand::CreateTopic {
        name: name.into(),
        id: name_id(name),
        partitions,
        replication_factor,
        assignments: None,
        configs: BTreeMap::new(),
    }
}

fn create_assigned(name: &str, assignments: Vec<Vec<i32>>) -> MetadataCommand {
    MetadataCommand::CreateTopic {
        name: name.into(),
        id: name_id(name),
        partitions: -1,
        replication_factor: -1,
        assignments: Some(assignments),
        configs: BTreeMap::new(),
    }
}

/// A topic id derived from the name, so that re-creating the same command gives the same id.
fn name_id(name: &str) -> Uuid {
    Uuid::from_u128(name.bytes().fold(17u128, |h, b| h.wrapping_mul(31).wrapping_add(u128::from(b))))
}

fn code(result: &CommandResult) -> i16 {
    match result {
        CommandResult::Refused { code, .. } => *code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn codes(result: &CommandResult) -> Vec<i16> {
    match result {
        CommandResult::Partitions(list) => list.iter().map(|(_, _, code, _)| *code).collect(),
        other => panic!("expected per-partition results, got {other:?}"),
    }
}

/// Applies a refused command and checks the image did not change (beyond `applied_index`).
fn assert_refused(log: &mut Log, command: MetadataCommand, error: ResponseError) {
    let before = log.image.clone();
    let result = log.apply(command);
    assert_eq!(code(&result), error.code(), "{result:?}");
    let mut after = log.image.clone();
    after.applied_index = before.applied_index;
    assert_eq!(after, before, "a refused command must not change the image");
}

// --- brokers -----------------------------------------------------------------------------------------------

#[test]
fn registration_records_the_broker_with_its_log_index_as_epoch() {
    let mut log = Log::new();
    log.index = 41;
    let result = log.apply(MetadataCommand::RegisterBroker {
        id: 7,
        incarnation: inc(1),
        host: "h".into(),
        port: 1234,
        rack: Some("r1".into()),
    });
    assert_eq!(result, CommandResult::Ok);
    let b = &log.image.brokers[&7];
    assert_eq!((b.epoch, b.host.as_str(), b.port, b.rack.as_deref(), b.fenced), (42, "h", 1234, Some("r1"), false));
    assert_eq!(log.image.live_brokers(), vec![7]);
}

#[test]
fn a_retried_registration_changes_nothing() {
    let mut log = Log::with_brokers(1);
    let before = log.image.brokers.clone();
    assert_eq!(log.apply(register(1, inc(1))), CommandResult::Ok);
    assert_eq!(log.image.brokers, before);
}

#[test]
fn negative_broker_ids_are_refused() {
    let mut log = Log::new();
    assert_refused(&mut log, register(-1, inc(1)), ResponseError::InvalidRequest);
}

#[test]
fn fencing_moves_leadership_to_the_next_isr_member_in_replica_order() {
    let mut log = Log::with_brokers(3);
    log.create("t", &[&[1, 3, 2]]);
    assert_eq!(log.fence(1), CommandResult::Ok);
    let p = log.partition("t", 0);
    assert_eq!(p.leader, 3, "replica order prefers 3 over 2");
    assert_eq!(p.isr, vec![3, 2]);
    assert_eq!((p.leader_epoch, p.partition_epoch), (1, 1));
    assert!(log.image.brokers[&1].fenced);
    assert_eq!(log.image.live_brokers(), vec![2, 3]);
}

#[test]
fn fencing_a_follower_only_shrinks_the_isr() {
    let mut log = Log::with_brokers(3);
    log.create("t", &[&[1, 2, 3]]);
    log.fence(2);
    let p = log.partition("t", 0);
    assert_eq!((p.leader, p.isr.clone(), p.leader_epoch, p.partition_epoch), (1, vec![1, 3], 0, 1));
}

#[test]
fn fencing_the_last_isr_member_leaves_the_partition_leaderless_with_its_isr() {
    let mut log = Log::with_brokers(2);
    log.create("t", &[&[1, 2]]);
    log.fence(2);
    log.fence(1);
    let p = log.partition("t", 0);
    assert_eq!(p.leader, NO_LEADER);
    assert_eq!(p.isr, vec![1], "unclean election is off: the last in-sync replica stays");
    assert_eq!((p.leader_epoch, p.partition_epoch), (1, 2));
    // The other replica coming back does not make it leader: it may miss records.
    log.unfence(2);
    assert_eq!(log.partition("t", 0).leader, NO_LEADER);
    // The last in-sync replica coming back leads again.
    log.unfence(1);
    let p = log.partition("t", 0);
    assert_eq!((p.leader, p.isr.clone(), p.leader_epoch, p.partition_epoch), (1, vec![1], 2, 3));
}

#[test]
fn fencing_twice_is_harmless() {
    let mut log = Log::with_brokers(2);
    log.create("t", &[&[1, 2]]);
    log.fence(1);
    let before = log.image.topics.clone();
    assert_eq!(log.fence(1), CommandResult::Ok);
    assert_eq!(log.image.topics, before);
    assert_eq!(log.unfence(2), CommandResult::Ok, "unfencing a live broker is a no-op");
    assert_eq!(log.image.topics, before);
}

#[test]
fn fencing_and_unfencing_check_the_incarnation() {
    let mut log = Log::with_brokers(2);
    log.create("t", &[&[1, 2]]);
    assert_refused(
        &mut log,
        MetadataCommand::FenceBroker { id: 1, incarnation: inc(99) },
        ResponseError::StaleBrokerEpoch,
    );
    assert_refused(
        &mut log,
        MetadataCommand::FenceBroker { id: 9, incarnation: inc(9) },
        ResponseError::BrokerIdNotRegistered,
    );
    log.fence(1);
    assert_refused(
        &mut log,
        MetadataCommand::UnfenceBroker { id: 1, incarnation: inc(99) },
        ResponseError::StaleBrokerEpoch,
    );
    assert_refused(
        &mut log,
        MetadataCommand::UnfenceBroker { id: 9, incarnation: inc(9) },
        ResponseError::BrokerIdNotRegistered,
    );
}

#[test]
fn a_restart_fences_the_old_incarnation_then_registers_the_new_one() {
    let mut log = Log::with_brokers(3);
    log.create("led", &[&[1, 2, 3]]);
    log.create("alone", &[&[1]]);
    let result = log.apply(register(1, inc(101)));
    assert_eq!(result, CommandResult::Ok);
    let b = &log.image.brokers[&1];
    assert_eq!((b.incarnation, b.epoch, b.fenced), (inc(101), log.index, false));
    let led = log.partition("led", 0);
    assert_eq!((led.leader, led.isr.clone(), led.leader_epoch), (2, vec![2, 3], 1), "its leaderships moved");
    let alone = log.partition("alone", 0);
    assert_eq!(
        (alone.leader, alone.isr.clone(), alone.leader_epoch),
        (1, vec![1], 2),
        "the last in-sync replica lost its leadership and got it back with a new epoch"
    );
    // The old incarnation can no longer be fenced or unfenced.
    assert_refused(
        &mut log,
        MetadataCommand::FenceBroker { id: 1, incarnation: inc(1) },
        ResponseError::StaleBrokerEpoch,
    );
}

// --- topics ------------------------------------------------------------------------------------------------

#[test]
fn created_topics_are_placed_over_live_brokers() {
    let mut log = Log::with_brokers(3);
    let mut command = create("t", 6, 3);
    if let MetadataCommand::CreateTopic { configs, .. } = &mut command {
        configs.insert("cleanup.policy".into(), "compact".into());
    }
    assert_eq!(log.apply(command), CommandResult::Ok);
    let topic = &log.image.topics["t"];
    assert_eq!(topic.partitions.len(), 6);
    assert_eq!(topic.configs["cleanup.policy"], "compact");
    let mut leaders = BTreeMap::new();
    for p in &topic.partitions {
        assert_eq!(p.replicas.len(), 3);
        assert_eq!(p.isr, p.replicas);
        assert_eq!(p.leader, p.replicas[0]);
        assert_eq!((p.leader_epoch, p.partition_epoch), (0, 0));
        *leaders.entry(p.leader).or_insert(0) += 1;
    }
    assert_eq!(leaders, BTreeMap::from([(1, 2), (2, 2), (3, 2)]));
    assert_eq!(log.image.topic_by_id(topic.id).map(|t| t.name.as_str()), Some("t"));
}

#[test]
fn create_topic_refusals_carry_kafka_codes() {
    let mut log = Log::with_brokers(2);
    assert_eq!(log.apply(create("t", 1, 1)), CommandResult::Ok);
    // Same name, another id: a different request.
    let mut other = create("t", 1, 1);
    if let MetadataCommand::CreateTopic { id, .. } = &mut other {
        *id = Uuid::from_u128(5);
    }
    assert_refused(&mut log, other, ResponseError::TopicAlreadyExists);
    assert_refused(&mut log, create("u", 1, 3), ResponseError::InvalidReplicationFactor);
    assert_refused(&mut log, create("u", 1, 0), ResponseError::InvalidReplicationFactor);
    assert_refused(&mut log, create("u", 0, 1), ResponseError::InvalidPartitions);
    assert_refused(&mut log, create("bad/name", 1, 1), ResponseError::InvalidTopicException);
    assert_refused(&mut log, create("..", 1, 1), ResponseError::InvalidTopicException);
    assert_refused(&mut log, create_assigned("u", vec![vec![1, 1]]), ResponseError::InvalidReplicaAssignment);
    assert_refused(&mut log, create_assigned("u", vec![vec![1, 9]]), ResponseError::InvalidReplicaAssignment);
    assert_refused(&mut log, create_assigned("u", vec![vec![]]), ResponseError::InvalidReplicaAssignment);
    assert_refused(&mut log, create_assigned("u", vec![]), ResponseError::InvalidReplicaAssignment);
    assert_refused(&mut log, create_assigned("u", vec![vec![1, 2], vec![2]]), ResponseError::InvalidReplicaAssignment);
    let mut mismatched = create_assigned("u", vec![vec![1]]);
    if let MetadataCommand::CreateTopic { partitions, .. } = &mut mismatched {
        *partitions = 2;
    }
    assert_refused(&mut log, mismatched, ResponseError::InvalidReplicaAssignment);
    log.fence(1);
    log.fence(2);
    assert_refused(&mut log, create_assigned("u", vec![vec![1, 2]]), ResponseError::InvalidReplicaAssignment);
}

#[test]
fn a_retried_create_topic_succeeds_without_change() {
    let mut log = Log::with_brokers(1);
    assert_eq!(log.apply(create("t", 1, 1)), CommandResult::Ok);
    let before = log.image.topics.clone();
    assert_eq!(log.apply(create("t", 1, 1)), CommandResult::Ok);
    assert_eq!(log.image.topics, before);
}

#[test]
fn assigned_topics_start_with_the_live_replicas_in_sync() {
    let mut log = Log::with_brokers(3);
    log.fence(1);
    log.create("t", &[&[1, 2, 3], &[3, 1, 2]]);
    let p0 = log.partition("t", 0);
    assert_eq!((p0.replicas.clone(), p0.isr.clone(), p0.leader), (vec![1, 2, 3], vec![2, 3], 2));
    let p1 = log.partition("t", 1);
    assert_eq!((p1.isr.clone(), p1.leader), (vec![3, 2], 3));
}

#[test]
fn topics_are_deleted_and_reconfigured() {
    let mut log = Log::with_brokers(1);
    log.create("t", &[&[1]]);
    let configs = BTreeMap::from([("retention.ms".to_string(), "1000".to_string())]);
    assert_eq!(
        log.apply(MetadataCommand::AlterTopicConfigs { name: "t".into(), configs: configs.clone() }),
        CommandResult::Ok
    );
    assert_eq!(log.image.topics["t"].configs, configs);
    assert_eq!(log.apply(MetadataCommand::DeleteTopic { name: "t".into() }), CommandResult::Ok);
    assert!(log.image.topics.is_empty());
    assert_refused(&mut log, MetadataCommand::DeleteTopic { name: "t".into() }, ResponseError::UnknownTopicOrPartition);
    assert_refused(
        &mut log,
        MetadataCommand::AlterTopicConfigs { name: "t".into(), configs: BTreeMap::new() },
        ResponseError::UnknownTopicOrPartition,
    );
}

#[test]
fn partitions_are_added_with_the_topic_replication_factor() {
    let mut log = Log::with_brokers(3);
    log.create("t", &[&[1, 2]]);
    let grow = |total, assignments| MetadataCommand::CreatePartitions { name: "t".into(), total, assignments };
    assert_eq!(log.apply(grow(3, None)), CommandResult::Ok);
    let topic = &log.image.topics["t"];
    assert_eq!(topic.partitions.len(), 3);
    assert!(topic.partitions.iter().all(|p| p.replicas.len() == 2 && p.isr == p.replicas));
    assert_eq!(log.apply(grow(4, Some(vec![vec![3, 1]]))), CommandResult::Ok);
    assert_eq!(log.partition("t", 3).replicas, vec![3, 1]);
    assert_refused(&mut log, grow(4, None), ResponseError::InvalidPartitions);
    assert_refused(&mut log, grow(2, None), ResponseError::InvalidPartitions);
    assert_refused(&mut log, grow(6, Some(vec![vec![1, 2]])), ResponseError::InvalidReplicaAssignment);
    assert_refused(&mut log, grow(5, Some(vec![vec![1, 7]])), ResponseError::InvalidReplicaAssignment);
    log.fence(2);
    log.fence(3);
    assert_refused(&mut log, grow(5, None), ResponseError::InvalidReplicationFactor);
    assert_refused(
        &mut log,
        MetadataCommand::CreatePartitions { name: "nope".into(), total: 2, assignments: None },
        ResponseError::UnknownTopicOrPartition,
    );
}

// --- AlterPartition ----------------------------------------------------------------------------------------

#[test]
fn alter_partition_shrinks_and_expands_the_isr() {
    let mut log = Log::with_brokers(3);
    log.create("t", &[&[1, 2, 3]]);
    assert_eq!(log.alter_isr("t", 0, &[1, 3]), CommandResult::Ok);
    let p = log.partition("t", 0);
    assert_eq!((p.isr.clone(), p.leader_epoch, p.partition_epoch), (vec![1, 3], 0, 1));
    assert_eq!(log.alter_isr("t", 0, &[3, 2, 1]), CommandResult::Ok);
    assert_eq!(log.partition("t", 0).isr, vec![1, 2, 3], "kept in replica order");
}

#[test]
fn alter_partition_refusals() {
    let mut log = Log::with_brokers(4);
    log.create("t", &[&[1, 2, 3]]);
    log.fence(1); // leader 2, leader epoch 1, partition epoch 1
    let alter = |leader, leader_epoch, partition_epoch, isr: &[i32]| MetadataCommand::AlterPartition {
        topic: "t".into(),
        partition: 0,
        leader,
        leader_epoch,
        partition_epoch,
        isr: isr.to_vec(),
    };
    assert_refused(&mut log, alter(2, 0, 1, &[2, 3]), ResponseError::FencedLeaderEpoch);
    assert_refused(&mut log, alter(2, 1, 0, &[2, 3]), ResponseError::InvalidUpdateVersion);
    assert_refused(&mut log, alter(3, 1, 1, &[2, 3]), ResponseError::NotLeaderOrFollower);
    assert_refused(&mut log, alter(2, 1, 1, &[3]), ResponseError::IneligibleReplica);
    assert_refused(&mut log, alter(2, 1, 1, &[2, 1]), ResponseError::IneligibleReplica);
    assert_refused(&mut log, alter(2, 1, 1, &[2, 4]), ResponseError::IneligibleReplica);
    assert_refused(&mut log, alter(2, 1, 1, &[2, 2]), ResponseError::IneligibleReplica);
    assert_refused(&mut log, alter(2, 1, 1, &[]), ResponseError::IneligibleReplica);
    let mut unknown = alter(2, 1, 1, &[2]);
    if let MetadataCommand::AlterPartition { partition, .. } = &mut unknown {
        *partition = 5;
    }
    assert_refused(&mut log, unknown, ResponseError::UnknownTopicOrPartition);
    assert_eq!(log.apply(alter(2, 1, 1, &[2])), CommandResult::Ok);
    assert_refused(&mut log, alter(2, 1, 1, &[2, 3]), ResponseError::InvalidUpdateVersion);
}

// --- reassignments -----------------------------------------------------------------------------------------

fn reassign(topic: &str, partition: i32, target: Option<&[i32]>) -> MetadataCommand {
    MetadataCommand::AlterReassignments { changes: vec![(topic.into(), partition, target.map(<[i32]>::to_vec))] }
}

#[test]
fn a_reassignment_completes_when_the_new_replicas_are_in_sync() {
    let mut log = Log::with_brokers(4);
    log.create("t", &[&[1, 2, 3]]);
    assert_eq!(codes(&log.apply(reassign("t", 0, Some(&[4, 2, 3])))), vec![0]);
    let p = log.partition("t", 0);
    assert_eq!(p.replicas, vec![4, 2, 3, 1]);
    assert_eq!((p.adding_replicas.clone(), p.removing_replicas.clone()), (vec![4], vec![1]));
    assert_eq!((p.leader, p.isr.clone(), p.partition_epoch), (1, vec![2, 3, 1], 1));
    // The leader (being removed) brings 4 into the ISR: the reassignment completes and leadership moves.
    assert_eq!(log.alter_isr("t", 0, &[1, 2, 3, 4]), CommandResult::Ok);
    let p = log.partition("t", 0);
    assert_eq!(p.replicas, vec![4, 2, 3]);
    assert_eq!(p.isr, vec![4, 2, 3]);
    assert!(p.adding_replicas.is_empty() && p.removing_replicas.is_empty());
    assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (4, 1, 2));
}

#[test]
fn a_reassignment_that_only_removes_completes_at_once() {
    let mut log = Log::with_brokers(3);
    log.create("t", &[&[1, 2, 3]]);
    assert_eq!(codes(&log.apply(reassign("t", 0, Some(&[3, 2])))), vec![0]);
    let p = log.partition("t", 0);
    assert_eq!((p.replicas.clone(), p.isr.clone(), p.leader, p.leader_epoch), (vec![3, 2], vec![3, 2], 3, 1));
    assert!(p.adding_replicas.is_empty() && p.removing_replicas.is_empty());
}

#[test]
fn a_reassignment_can_be_cancelled_or_replaced() {
    let mut log = Log::with_brokers(5);
    log.create("t", &[&[1, 2, 3]]);
    log.apply(reassign("t", 0, Some(&[1, 2, 4])));
    assert_eq!(log.partition("t", 0).adding_replicas, vec![4]);
    // Replace: 4 is no longer wanted, 5 is.
    assert_eq!(codes(&log.apply(reassign("t", 0, Some(&[1, 2, 5])))), vec![0]);
    let p = log.partition("t", 0);
    assert_eq!(
        (p.replicas.clone(), p.adding_replicas.clone(), p.removing_replicas.clone()),
        (vec![1, 2, 5, 3], vec![5], vec![3])
    );
    // Cancel: back to the original replicas.
    assert_eq!(codes(&log.apply(reassign("t", 0, None))), vec![0]);
    let p = log.partition("t", 0);
    assert_eq!((p.replicas.clone(), p.isr.clone(), p.leader), (vec![1, 2, 3], vec![1, 2, 3], 1));
    assert!(p.adding_replicas.is_empty() && p.removing_replicas.is_empty());
    let result = log.apply(MetadataCommand::AlterReassignments {
        changes: vec![
            ("t".into(), 0, None),
            ("t".into(), 0, Some(vec![1, 9])),
            ("t".into(), 0, Some(vec![1, 1])),
            ("t".into(), 7, Some(vec![1])),
            ("nope".into(), 0, None),
        ],
    });
    let expected: Vec<i16> = [
        ResponseError::NoReassignmentInProgress,
        ResponseError::InvalidReplicaAssignment,
        ResponseError::InvalidReplicaAssignment,
        ResponseError::UnknownTopicOrPartition,
        ResponseError::UnknownTopicOrPartition,
    ]
    .iter()
    .map(ResponseError::code)
    .collect();
    assert_eq!(codes(&result), expected);
}

#[test]
fn a_reassignment_change_that_would_leave_no_in_sync_replica_is_refused() {
    let mut log = Log::with_brokers(4);
    log.create("t", &[&[1, 2]]);
    log.apply(reassign("t", 0, Some(&[3, 4])));
    assert_eq!(log.alter_isr("t", 0, &[1, 2, 3]), CommandResult::Ok);
    log.fence(1);
    log.fence(2);
    let p = log.partition("t", 0);
    assert_eq!((p.leader, p.isr.clone()), (3, vec![3]), "only a new replica is in sync now");
    let before = log.image.topics.clone();
    let result = log.apply(reassign("t", 0, None));
    assert_eq!(codes(&result), vec![ResponseError::InvalidReplicaAssignment.code()]);
    assert_eq!(log.image.topics, before);
}

// --- ElectLeaders ------------------------------------------------------------------------------------------

#[test]
fn preferred_election() {
    let mut log = Log::with_brokers(3);
    log.create("t", &[&[1, 2, 3], &[2, 3, 1], &[3, 1, 2]]);
    log.fence(1);
    log.unfence(1); // 1 is live but out of every ISR; partition 0 is led by 2
    log.alter_isr("t", 0, &[1, 2, 3]);
    log.fence(3); // partition 2: leader 1, preferred 3 fenced
    let all = vec![("t".to_string(), 0), ("t".to_string(), 1), ("t".to_string(), 2), ("t".to_string(), 9)];
    let result = log.apply(MetadataCommand::ElectLeaders { partitions: all, preferred: true });
    assert_eq!(
        codes(&result),
        vec![
            0,
            ResponseError::ElectionNotNeeded.code(),
            ResponseError::PreferredLeaderNotAvailable.code(),
            ResponseError::UnknownTopicOrPartition.code()
        ]
    );
    let p = log.partition("t", 0);
    assert_eq!((p.leader, p.leader_epoch), (1, 2));
}

#[test]
fn election_of_leaderless_partitions() {
    let mut log = Log::with_brokers(2);
    log.create("t", &[&[1, 2], &[2, 1]]);
    log.alter_isr("t", 0, &[1]);
    log.fence(1); // partition 0 leaderless, ISR [1]; partition 1 still led by 2
    let both = vec![("t".to_string(), 0), ("t".to_string(), 1)];
    let result = log.apply(MetadataCommand::ElectLeaders { partitions: both, preferred: false });
    assert_eq!(
        codes(&result),
        vec![ResponseError::EligibleLeadersNotAvailable.code(), ResponseError::ElectionNotNeeded.code()]
    );
    assert_eq!(log.partition("t", 0).leader, NO_LEADER);
}

// --- producer ids ------------------------------------------------------------------------------------------

#[test]
fn producer_id_blocks_do_not_overlap() {
    let mut log = Log::new();
    let allocate = |count| MetadataCommand::AllocateProducerIds { broker: 1, count };
    assert_eq!(log.apply(allocate(1000)), CommandResult::ProducerIds { first: 0, count: 1000 });
    assert_eq!(log.apply(allocate(10)), CommandResult::ProducerIds { first: 1000, count: 10 });
    assert_eq!(log.image.next_producer_id, 1010);
    assert_refused(&mut log, allocate(0), ResponseError::InvalidRequest);
    log.image.next_producer_id = i64::MAX - 5;
    assert_refused(&mut log, allocate(10), ResponseError::UnknownServerError);
}

// --- invariants over random histories ----------------------------------------------------------------------

/// One random step, interpreted against the current image (so it is valid often enough to be interesting).
#[derive(Debug, Clone)]
enum Step {
    Fence(i32),
    Unfence(i32),
    Restart(i32),
    Shrink(usize, i32),
    Expand(usize, i32),
    Elect(usize, bool),
    Reassign(usize, Vec<i32>),
    Cancel(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1..=4i32).prop_map(Step::Fence),
        (1..=4i32).prop_map(Step::Unfence),
        (1..=4i32).prop_map(Step::Restart),
        (0..6usize, 1..=4i32).prop_map(|(p, b)| Step::Shrink(p, b)),
        (0..6usize, 1..=4i32).prop_map(|(p, b)| Step::Expand(p, b)),
        (0..6usize, any::<bool>()).prop_map(|(p, preferred)| Step::Elect(p, preferred)),
        (0..6usize, proptest::sample::subsequence(vec![1, 2, 3, 4], 1..=3)).prop_map(|(p, t)| Step::Reassign(p, t)),
        (0..6usize).prop_map(Step::Cancel),
    ]
}

fn run_step(log: &mut Log, step: &Step, restarts: &mut u128) {
    let partition = |p: usize| i32::try_from(p).unwrap();
    match step {
        Step::Fence(id) => drop(log.fence(*id)),
        Step::Unfence(id) => drop(log.unfence(*id)),
        Step::Restart(id) => {
            *restarts += 1;
            drop(log.apply(register(*id, Uuid::from_u128(1000 + *restarts))));
        }
        Step::Shrink(p, id) => {
            let current = log.partition("t", partition(*p));
            let isr: Vec<i32> = current.isr.iter().copied().filter(|r| r != id).collect();
            drop(log.alter_isr("t", partition(*p), &isr));
        }
        Step::Expand(p, id) => {
            let mut isr = log.partition("t", partition(*p)).isr;
            isr.push(*id);
            drop(log.alter_isr("t", partition(*p), &isr));
        }
        Step::Elect(p, preferred) => drop(log.apply(MetadataCommand::ElectLeaders {
            partitions: vec![("t".into(), partition(*p))],
            preferred: *preferred,
        })),
        Step::Reassign(p, target) => drop(log.apply(reassign("t", partition(*p), Some(target)))),
        Step::Cancel(p) => drop(log.apply(reassign("t", partition(*p), None))),
    }
}

fn check_invariants(image: &MetadataImage) -> Result<(), String> {
    for topic in image.topics.values() {
        for (i, p) in topic.partitions.iter().enumerate() {
            let at = format!("partition {i} {p:?}");
            if p.isr.is_empty() {
                return Err(format!("{at}: empty ISR"));
            }
            if !p.isr.iter().all(|r| p.replicas.contains(r)) {
                return Err(format!("{at}: ISR member not assigned"));
            }
            if p.leader != NO_LEADER {
                if !p.isr.contains(&p.leader) {
                    return Err(format!("{at}: leader not in ISR"));
                }
                if image.brokers[&p.leader].fenced {
                    return Err(format!("{at}: fenced leader"));
                }
            } else if p.isr.iter().any(|r| !image.brokers[r].fenced) {
                return Err(format!("{at}: leaderless although a live ISR member exists"));
            }
            let fenced_in_isr = p.isr.iter().filter(|r| image.brokers[r].fenced).count();
            if fenced_in_isr > 0 && p.isr.len() > 1 {
                return Err(format!("{at}: a fenced broker stays in a multi-member ISR"));
            }
            if !p.adding_replicas.iter().chain(&p.removing_replicas).all(|r| p.replicas.contains(r)) {
                return Err(format!("{at}: adding/removing replicas not assigned"));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_and_replay_is_deterministic(steps in proptest::collection::vec(step(), 1..60)) {
        let mut log = Log::with_brokers(4);
        log.create("t", &[&[1, 2, 3], &[2, 3, 4], &[3, 4, 1], &[4, 1, 2], &[1, 3, 4], &[2, 4, 1]]);
        let mut restarts = 0;
        let mut history = Vec::new();
        for step in &steps {
            let before_epochs: Vec<(i32, i32)> =
                log.image.topics["t"].partitions.iter().map(|p| (p.leader_epoch, p.partition_epoch)).collect();
            let before_leaders: Vec<i32> = log.image.topics["t"].partitions.iter().map(|p| p.leader).collect();
            let before_partitions = log.image.topics["t"].partitions.clone();
            run_step(&mut log, step, &mut restarts);
            history.push(log.image.clone());
            prop_assert!(check_invariants(&log.image).is_ok(), "{:?} after {:?}", check_invariants(&log.image), step);
            for (i, p) in log.image.topics["t"].partitions.iter().enumerate() {
                let (le, pe) = before_epochs[i];
                prop_assert!(p.leader_epoch >= le && p.partition_epoch >= pe, "epochs never go back");
                if p.leader != before_leaders[i] {
                    prop_assert!(p.leader_epoch > le, "a leader change bumps the leader epoch");
                }
                if *p != before_partitions[i] {
                    prop_assert!(p.partition_epoch > pe, "a record change bumps the partition epoch");
                }
            }
        }
        // Replaying the same log from scratch gives the same images.
        let mut replay = Log::with_brokers(4);
        replay.create("t", &[&[1, 2, 3], &[2, 3, 4], &[3, 4, 1], &[4, 1, 2], &[1, 3, 4], &[2, 4, 1]]);
        let mut restarts = 0;
        for (step, expected) in steps.iter().zip(&history) {
            run_step(&mut replay, step, &mut restarts);
            prop_assert_eq!(&replay.image, expected);
        }
    }
}
