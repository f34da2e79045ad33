//! The replication and cluster-administration APIs (OffsetForLeaderEpoch, ElectLeaders, reassignments,
//! DescribeTopicPartitions, DescribeQuorum) and the cluster-mode answers of the core admin APIs.
//!
//! - `single_node`: a broker without a controller quorum answers as a one-broker cluster whose only node leads
//!   every partition at leader epoch 0; bad input (unknown topics, partitions out of range, impossible
//!   assignments) gets Kafka error codes, and the broker keeps serving.
//! - `three_nodes`: a three-node cluster in this process: Metadata, DescribeCluster, DescribeQuorum, topic
//!   administration and the partition APIs answered from the controller's metadata image on every node.

mod single_node;
mod three_nodes;

use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeTopicPartitionsRequest, ElectLeadersRequest, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
};

use crate::support::{topic_name, RawClient};

const NONE: i16 = 0;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const LEADER_NOT_AVAILABLE: i16 = 5;
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const INVALID_TOPIC_EXCEPTION: i16 = 17;
const TOPIC_ALREADY_EXISTS: i16 = 36;
const INVALID_REPLICATION_FACTOR: i16 = 38;
const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
const INVALID_REQUEST: i16 = 42;
const UNKNOWN_LEADER_EPOCH: i16 = 75;
const ELECTION_NOT_NEEDED: i16 = 84;
const NO_REASSIGNMENT_IN_PROGRESS: i16 = 85;

/// An OffsetForLeaderEpoch request for one partition.
fn epoch_request(
    topic: &str,
    partition: i32,
    current: i32,
    epoch: i32,
) -> OffsetForLeaderEpochRequest {
    OffsetForLeaderEpochRequest::default().with_topics(vec![OffsetForLeaderTopic::default()
        .with_topic(topic_name(topic))
        .with_partitions(vec![OffsetForLeaderPartition::default()
            .with_partition(partition)
            .with_current_leader_epoch(current)
            .with_leader_epoch(epoch)])])
}

/// Asks for one partition's epoch end: (error, epoch, end offset).
async fn ask(
    client: &mut RawClient,
    version: i16,
    (topic, partition): (&str, i32),
    current: i32,
    epoch: i32,
) -> (i16, i32, i64) {
    let response: OffsetForLeaderEpochResponse = client
        .send(version, &epoch_request(topic, partition, current, epoch))
        .await
        .unwrap_or_else(|e| panic!("OffsetForLeaderEpoch v{version}: {e:#}"));
    let p = &response.topics[0].partitions[0];
    (p.error_code, p.leader_epoch, p.end_offset)
}

fn elect_request(election_type: i8, partitions: Option<&[(&str, i32)]>) -> ElectLeadersRequest {
    let topic_partitions = partitions.map(|list| {
        list.iter()
            .map(|(t, p)| {
                TopicPartitions::default()
                    .with_topic(topic_name(t))
                    .with_partitions(vec![*p])
            })
            .collect()
    });
    ElectLeadersRequest::default()
        .with_election_type(election_type)
        .with_topic_partitions(topic_partitions)
        .with_timeout_ms(10_000)
}

fn reassign(topic: &str, partition: i32, replicas: Option<Vec<i32>>) -> ReassignableTopic {
    ReassignableTopic::default()
        .with_name(topic_name(topic))
        .with_partitions(vec![ReassignablePartition::default()
            .with_partition_index(partition)
            .with_replicas(replicas.map(|r| r.into_iter().map(BrokerId).collect()))])
}

fn describe_partitions(
    topics: &[&str],
    limit: i32,
    cursor: Option<(&str, i32)>,
) -> DescribeTopicPartitionsRequest {
    DescribeTopicPartitionsRequest::default()
        .with_topics(
            topics
                .iter()
                .map(|t| TopicRequest::default().with_name(topic_name(t)))
                .collect(),
        )
        .with_response_partition_limit(limit)
        .with_cursor(cursor.map(|(t, p)| {
            Cursor::default()
                .with_topic_name(topic_name(t))
                .with_partition_index(p)
        }))
}
