//! OffsetCommit (key 8): stores a group's consumed positions in `__consumer_offsets`; answers once written.

use std::sync::Arc;

use kafka_protocol::messages::offset_commit_response::{OffsetCommitResponsePartition, OffsetCommitResponseTopic};
use kafka_protocol::messages::{ApiKey, OffsetCommitRequest, OffsetCommitResponse, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use super::accept_offset;
use crate::api::{Handler, Reply};
use crate::coordinator::group::CommitOffset;
use crate::server::Shared;

pub(crate) struct OffsetCommit;

impl Handler for OffsetCommit {
    type Request = OffsetCommitRequest;
    const KEY: ApiKey = ApiKey::OffsetCommit;
    // v0 and v1 are gone in Kafka 4.0 (KIP-896); v9 is the first that knows consumer-protocol groups.
    const VERSIONS: (i16, i16) = (2, 9);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: OffsetCommitRequest) -> Reply {
        let group = request.group_id.0.to_string();
        // Per-partition refusals first; the rest is committed in one append.
        let mut verdicts: Vec<Vec<Option<ResponseError>>> = Vec::with_capacity(request.topics.len());
        let mut accepted = Vec::new();
        for topic in &request.topics {
            let name = topic.name.0.to_string();
            let verdict = topic
                .partitions
                .iter()
                .map(|p| {
                    let offset = CommitOffset {
                        topic: name.clone(),
                        partition: p.partition_index,
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                    };
                    accept_offset(shared, &mut accepted, offset)
                })
                .collect();
            verdicts.push(verdict);
        }
        let mark = shared.groups.mark(&group);
        let committed = shared.groups.commit(
            &group,
            request.member_id.as_str(),
            request.group_instance_id.as_ref().map(|s| s.as_str()),
            request.generation_id_or_member_epoch,
            &accepted,
        );
        // Acknowledged only once the followers have the offsets: a failover must not lose a commit.
        let group_error = match committed {
            Ok(()) => shared.groups.replicated(mark).await.err(),
            Err(error) => Some(error),
        };
        if let Some(error) = group_error {
            tracing::debug!(group, member = %request.member_id, ?error, "OffsetCommit refused");
        }
        let topics = request
            .topics
            .into_iter()
            .zip(verdicts)
            .map(|(topic, verdict)| {
                OffsetCommitResponseTopic::default().with_name(topic.name).with_partitions(
                    topic
                        .partitions
                        .iter()
                        .zip(verdict)
                        .map(|(p, own)| {
                            let error = own.or(group_error);
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(error.map_or(0, |e| e.code()))
                        })
                        .collect(),
                )
            })
            .collect();
        Reply::Message(ResponseKind::OffsetCommit(OffsetCommitResponse::default().with_topics(topics)))
    }
}
