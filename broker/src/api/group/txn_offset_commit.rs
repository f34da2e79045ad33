//! TxnOffsetCommit (key 28): offsets committed inside a transaction, written to `__consumer_offsets` at once as
//! the producer's transactional records and visible once the transaction's marker commits them.

use std::sync::Arc;

use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, RequestHeader, ResponseKind, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use kafka_protocol::ResponseError;

use super::accept_offset;
use crate::api::{Handler, Reply};
use crate::coordinator::group::CommitOffset;
use crate::server::Shared;

pub(crate) struct TxnOffsetCommit;

impl Handler for TxnOffsetCommit {
    type Request = TxnOffsetCommitRequest;
    const KEY: ApiKey = ApiKey::TxnOffsetCommit;
    const VERSIONS: (i16, i16) = (0, 5);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: TxnOffsetCommitRequest) -> Reply {
        let group = request.group_id.0.to_string();
        let mut verdicts: Vec<Vec<Option<ResponseError>>> = Vec::with_capacity(request.topics.len());
        let mut staged = Vec::new();
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
                    accept_offset(shared, &mut staged, offset)
                })
                .collect();
            verdicts.push(verdict);
        }
        let member_check = shared.groups.check_txn_member(
            &group,
            request.member_id.as_str(),
            request.group_instance_id.as_ref().map(|s| s.as_str()),
            request.generation_id,
        );
        let group_error = match member_check {
            Err(error) => Some(error),
            Ok(()) => {
                let transactional_id = request.transactional_id.as_str();
                let (producer_id, epoch) = (request.producer_id.0, request.producer_epoch);
                let check = || shared.txns.verify_group(transactional_id, producer_id, epoch, &group);
                let mark = shared.groups.mark(&group);
                match shared.groups.stage_txn_offsets(&group, producer_id, epoch, staged, check) {
                    Ok(()) => shared.groups.replicated(mark).await.err(),
                    Err(error) => Some(error),
                }
            }
        };
        if let Some(error) = group_error {
            tracing::info!(group, producer_id = request.producer_id.0, ?error, "TxnOffsetCommit refused");
        }
        let topics = request
            .topics
            .into_iter()
            .zip(verdicts)
            .map(|(topic, verdict)| {
                TxnOffsetCommitResponseTopic::default().with_name(topic.name).with_partitions(
                    topic
                        .partitions
                        .iter()
                        .zip(verdict)
                        .map(|(p, own)| {
                            TxnOffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(own.or(group_error).map_or(0, |e| e.code()))
                        })
                        .collect(),
                )
            })
            .collect();
        Reply::Message(ResponseKind::TxnOffsetCommit(TxnOffsetCommitResponse::default().with_topics(topics)))
    }
}
