//! OffsetFetch (key 9): a group's committed offsets; one group before v8, several from v8.

use std::sync::Arc;

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    ApiKey, GroupId, OffsetFetchRequest, OffsetFetchResponse, RequestHeader, ResponseKind,
};
use kafka_protocol::ResponseError;

use crate::api::{util, Handler, Reply};
use crate::coordinator::group::FetchedOffset;
use crate::server::Shared;

pub(crate) struct OffsetFetch;

/// The committed offsets grouped by topic, in the order first asked (or found).
fn by_topic(offsets: Vec<FetchedOffset>) -> Vec<(String, Vec<FetchedOffset>)> {
    let mut out: Vec<(String, Vec<FetchedOffset>)> = Vec::new();
    for o in offsets {
        match out.iter_mut().find(|(t, _)| *t == o.topic) {
            Some((_, list)) => list.push(o),
            None => out.push((o.topic.clone(), vec![o])),
        }
    }
    out
}

impl Handler for OffsetFetch {
    type Request = OffsetFetchRequest;
    const KEY: ApiKey = ApiKey::OffsetFetch;
    // v0 (offsets kept in ZooKeeper) is gone in Kafka 4.0 (KIP-896).
    const VERSIONS: (i16, i16) = (1, 9);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: OffsetFetchRequest) -> Reply {
        let version = header.request_api_version;
        let require_stable = version >= 7 && request.require_stable;
        let mut response = OffsetFetchResponse::default();
        if version < 8 {
            let group = request.group_id.0.to_string();
            if let Err(error) = shared.groups.check_coordinator(&group) {
                // v1 has no group-level error code; its clients look the coordinator up again on their next try.
                response.error_code = error.code();
                return Reply::Message(ResponseKind::OffsetFetch(response));
            }
            let asked = request
                .topics
                .map(|ts| ts.into_iter().map(|t| (t.name.0.to_string(), t.partition_indexes)).collect());
            let offsets = shared.groups.fetch(&group, asked, require_stable);
            response.topics = by_topic(offsets)
                .into_iter()
                .map(|(topic, list)| {
                    OffsetFetchResponseTopic::default().with_name(util::topic_name(&topic)).with_partitions(
                        list.into_iter()
                            .map(|o| {
                                OffsetFetchResponsePartition::default()
                                    .with_partition_index(o.partition)
                                    .with_committed_offset(o.offset)
                                    .with_committed_leader_epoch(o.leader_epoch)
                                    .with_metadata(Some(util::str_bytes(o.metadata)))
                                    .with_error_code(o.error.map_or(0, |e| e.code()))
                            })
                            .collect(),
                    )
                })
                .collect();
            return Reply::Message(ResponseKind::OffsetFetch(response));
        }
        for g in request.groups {
            let group = g.group_id.0.to_string();
            // KIP-848 members name themselves and their epoch; a stale one must not read offsets.
            let member_check = match &g.member_id {
                Some(member) if g.member_epoch >= 0 => shared.groups.consumer.check_commit(&group, member, g.member_epoch),
                _ => None,
            };
            let mut answer = OffsetFetchResponseGroup::default().with_group_id(GroupId(util::str_bytes(group.clone())));
            if let Err(error) = shared.groups.check_coordinator(&group) {
                answer.error_code = error.code();
                response.groups.push(answer);
                continue;
            }
            if let Some(Err(error)) = member_check {
                answer.error_code = error.code();
                response.groups.push(answer);
                continue;
            }
            let asked = g.topics.map(|ts| ts.into_iter().map(|t| (t.name.0.to_string(), t.partition_indexes)).collect());
            let offsets = shared.groups.fetch(&group, asked, require_stable);
            answer.topics = by_topic(offsets)
                .into_iter()
                .map(|(topic, list)| {
                    OffsetFetchResponseTopics::default().with_name(util::topic_name(&topic)).with_partitions(
                        list.into_iter()
                            .map(|o| {
                                OffsetFetchResponsePartitions::default()
                                    .with_partition_index(o.partition)
                                    .with_committed_offset(o.offset)
                                    .with_committed_leader_epoch(o.leader_epoch)
                                    .with_metadata(Some(util::str_bytes(o.metadata)))
                                    .with_error_code(o.error.map_or(0, |e: ResponseError| e.code()))
                            })
                            .collect(),
                    )
                })
                .collect();
            response.groups.push(answer);
        }
        Reply::Message(ResponseKind::OffsetFetch(response))
    }
}
