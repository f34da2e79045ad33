//! The replication and cluster-administration APIs: OffsetForLeaderEpoch, ElectLeaders, partition
//! reassignments, DescribeTopicPartitions and DescribeQuorum. On a broker without a controller quorum they answer
//! as a one-broker cluster would.
//!
//! Also the pieces the core admin handlers (Metadata, CreateTopics, ...) share for cluster mode:
//! - `view`: one read-only view of topics, partitions and brokers for both modes.
//! - `admin`: proposing metadata commands and mapping their outcome to Kafka error codes; assignment checks.
//! - `create_topic`: topic creation through the controller (CreateTopics and Metadata auto-creation).
//! - `topic_configs`: reading and replacing topic config overrides in either mode.

pub(crate) mod admin;
mod alter_partition_reassignments;
pub(crate) mod create_topic;
mod describe_quorum;
mod describe_topic_partitions;
mod elect_leaders;
mod list_partition_reassignments;
mod offset_for_leader_epoch;
pub(crate) mod topic_configs;
pub(crate) mod view;

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};

use super::{Handler, Reply};
use crate::server::Shared;

/// The APIs of this module, with the versions implemented.
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    served!(offset_for_leader_epoch::OffsetForLeaderEpoch),
    served!(elect_leaders::ElectLeaders),
    served!(alter_partition_reassignments::AlterPartitionReassignments),
    served!(list_partition_reassignments::ListPartitionReassignments),
    served!(describe_quorum::DescribeQuorum),
    served!(describe_topic_partitions::DescribeTopicPartitions),
];

/// Answers `request` if it belongs to this module; hands it back otherwise.
pub(crate) async fn dispatch(
    shared: &Arc<Shared>,
    header: &RequestHeader,
    request: RequestKind,
) -> Result<Reply, RequestKind> {
    Ok(match request {
        RequestKind::OffsetForLeaderEpoch(r) => {
            offset_for_leader_epoch::OffsetForLeaderEpoch::handle(shared, header, r).await
        }
        RequestKind::ElectLeaders(r) => elect_leaders::ElectLeaders::handle(shared, header, r).await,
        RequestKind::AlterPartitionReassignments(r) => {
            alter_partition_reassignments::AlterPartitionReassignments::handle(shared, header, r).await
        }
        RequestKind::ListPartitionReassignments(r) => {
            list_partition_reassignments::ListPartitionReassignments::handle(shared, header, r).await
        }
        RequestKind::DescribeQuorum(r) => describe_quorum::DescribeQuorum::handle(shared, header, r).await,
        RequestKind::DescribeTopicPartitions(r) => {
            describe_topic_partitions::DescribeTopicPartitions::handle(shared, header, r).await
        }
        other => return Err(other),
    })
}
