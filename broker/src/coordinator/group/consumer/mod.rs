//! Groups of the KIP-848 consumer protocol (being built).

use kafka_protocol::ResponseError;

/// The consumer-protocol groups, keyed by group id.
#[derive(Debug, Default)]
pub struct ConsumerGroups;

impl ConsumerGroups {
    /// For OffsetCommit: `None` when `group_id` is not a consumer-protocol group, else whether a commit by
    /// `member_id` at `member_epoch` is allowed (STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID otherwise).
    pub fn check_commit(&self, group_id: &str, member_id: &str, member_epoch: i32) -> Option<Result<(), ResponseError>> {
        let _ = (group_id, member_id, member_epoch);
        None
    }

    /// For ListGroups and DescribeGroups: every consumer-protocol group id with its state name.
    pub fn list(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}
