//! Group coordinator APIs: FindCoordinator, the classic group protocol, committed offsets; the KIP-848
//! consumer protocol lives in [`consumer`]. One file per API key; the logic is in `coordinator::group`.

mod consumer;
mod delete_groups;
mod describe_groups;
mod find_coordinator;
mod heartbeat;
mod join_group;
mod leave_group;
mod list_groups;
mod offset_commit;
mod offset_delete;
mod offset_fetch;
mod sync_group;
mod txn_offset_commit;

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};

use super::{Handler, Reply};
use crate::server::Shared;

/// The classic group and offset APIs served, with their versions.
const CLASSIC: &[(ApiKey, i16, i16)] = &[
    served!(find_coordinator::FindCoordinator),
    served!(join_group::JoinGroup),
    served!(sync_group::SyncGroup),
    served!(heartbeat::Heartbeat),
    served!(leave_group::LeaveGroup),
    served!(offset_commit::OffsetCommit),
    served!(offset_fetch::OffsetFetch),
    served!(offset_delete::OffsetDelete),
    served!(describe_groups::DescribeGroups),
    served!(list_groups::ListGroups),
    served!(delete_groups::DeleteGroups),
    served!(txn_offset_commit::TxnOffsetCommit),
];

/// Every group API served: the classic ones and the KIP-848 consumer protocol's.
pub(crate) static SUPPORTED: std::sync::LazyLock<Vec<(ApiKey, i16, i16)>> =
    std::sync::LazyLock::new(|| CLASSIC.iter().chain(consumer::SUPPORTED).copied().collect());

/// Answers a group request, or hands back a request that is not one.
pub(crate) async fn dispatch(
    shared: &Arc<Shared>,
    header: &RequestHeader,
    request: RequestKind,
) -> Result<Reply, RequestKind> {
    Ok(match request {
        RequestKind::FindCoordinator(r) => find_coordinator::FindCoordinator::handle(shared, header, r).await,
        RequestKind::JoinGroup(r) => join_group::JoinGroup::handle(shared, header, r).await,
        RequestKind::SyncGroup(r) => sync_group::SyncGroup::handle(shared, header, r).await,
        RequestKind::Heartbeat(r) => heartbeat::Heartbeat::handle(shared, header, r).await,
        RequestKind::LeaveGroup(r) => leave_group::LeaveGroup::handle(shared, header, r).await,
        RequestKind::OffsetCommit(r) => offset_commit::OffsetCommit::handle(shared, header, r).await,
        RequestKind::OffsetFetch(r) => offset_fetch::OffsetFetch::handle(shared, header, r).await,
        RequestKind::OffsetDelete(r) => offset_delete::OffsetDelete::handle(shared, header, r).await,
        RequestKind::DescribeGroups(r) => describe_groups::DescribeGroups::handle(shared, header, r).await,
        RequestKind::ListGroups(r) => list_groups::ListGroups::handle(shared, header, r).await,
        RequestKind::DeleteGroups(r) => delete_groups::DeleteGroups::handle(shared, header, r).await,
        RequestKind::TxnOffsetCommit(r) => txn_offset_commit::TxnOffsetCommit::handle(shared, header, r).await,
        other => return consumer::dispatch(shared, header, other).await,
    })
}

/// The wire code of an optional Kafka error.
fn code_of(error: Option<kafka_protocol::ResponseError>) -> i16 {
    error.map_or(0, |e| e.code())
}

/// Does `topic` have partition `partition` on this broker?
fn partition_exists(shared: &Shared, topic: &str, partition: i32) -> bool {
    shared.topics.get(topic).is_some_and(|t| partition >= 0 && partition < t.partition_count())
}

/// Kafka's `offset.metadata.max.bytes` default: longer commit metadata is refused.
const MAX_METADATA_BYTES: usize = 4096;

/// Checks one partition of an OffsetCommit or TxnOffsetCommit: the refusal to answer for it, or `None`
/// once the offset has joined `accepted`.
fn accept_offset(
    shared: &Shared,
    accepted: &mut Vec<crate::coordinator::group::CommitOffset>,
    offset: crate::coordinator::group::CommitOffset,
) -> Option<kafka_protocol::ResponseError> {
    if !partition_exists(shared, &offset.topic, offset.partition) {
        return Some(kafka_protocol::ResponseError::UnknownTopicOrPartition);
    }
    if offset.metadata.as_ref().is_some_and(|m| m.len() > MAX_METADATA_BYTES) {
        return Some(kafka_protocol::ResponseError::OffsetMetadataTooLarge);
    }
    accepted.push(offset);
    None
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::Message;

    use super::*;

    /// Every advertised range lies inside the codec's and at or above Kafka 4.0's floors (KIP-896).
    #[test]
    fn advertised_versions_are_within_the_codec() {
        fn check<M: Message>(key: ApiKey, floor: i16) {
            let &(_, min, max) = CLASSIC.iter().find(|(k, _, _)| *k == key).expect("served");
            assert!(min >= M::VERSIONS.min && max <= M::VERSIONS.max, "{key:?} v{min}-{max} vs codec {}", M::VERSIONS);
            assert!(min >= floor, "{key:?} below the Kafka 4.0 floor");
        }
        check::<FindCoordinatorRequest>(ApiKey::FindCoordinator, 0);
        check::<JoinGroupRequest>(ApiKey::JoinGroup, 2);
        check::<SyncGroupRequest>(ApiKey::SyncGroup, 0);
        check::<HeartbeatRequest>(ApiKey::Heartbeat, 0);
        check::<LeaveGroupRequest>(ApiKey::LeaveGroup, 0);
        check::<OffsetCommitRequest>(ApiKey::OffsetCommit, 2);
        check::<OffsetFetchRequest>(ApiKey::OffsetFetch, 1);
        check::<OffsetDeleteRequest>(ApiKey::OffsetDelete, 0);
        check::<DescribeGroupsRequest>(ApiKey::DescribeGroups, 0);
        check::<ListGroupsRequest>(ApiKey::ListGroups, 0);
        check::<DeleteGroupsRequest>(ApiKey::DeleteGroups, 0);
        check::<TxnOffsetCommitRequest>(ApiKey::TxnOffsetCommit, 0);
        assert_eq!(CLASSIC.len(), 12);
    }
}
