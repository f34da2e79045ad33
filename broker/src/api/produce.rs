//! Produce (key 0): validates and appends record batches, answering once they are in the log.
//!
//! On a single node the appends happen right here. In cluster mode every partition goes through the
//! [`ReplicaManager`]: only its leader appends, and acks=all answers once the in-sync replicas have the batches.

use std::collections::BTreeSet;
use std::sync::Arc;

use kafka_protocol::messages::produce_response::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use super::{util, Handler, Reply};
use crate::log::PartitionLog;
use crate::maintenance::now_ms;
use crate::replica::ReplicaManager;
use crate::server::Shared;
use crate::topics::Topic;

pub(crate) struct Produce;

/// One partition's share of the request, resolved to its log before any appending starts.
struct Work {
    topic: usize,
    partition: i32,
    target: Result<(Arc<PartitionLog>, bytes::Bytes), ResponseError>,
}

/// Appends each partition's batches and builds its answer.
fn append_all(work: Vec<Work>) -> Vec<(usize, PartitionProduceResponse)> {
    let now = now_ms();
    work.into_iter()
        .map(|w| {
            let mut p = PartitionProduceResponse::default();
            p.index = w.partition;
            p.base_offset = -1;
            p.log_append_time_ms = -1;
            p.log_start_offset = -1;
            match w.target {
                Err(error) => p.error_code = util::code(error),
                Ok((log, records)) => match log.append(&records, now) {
                    Ok(info) => {
                        p.base_offset = info.base_offset;
                        p.log_append_time_ms = info.log_append_time;
                        p.log_start_offset = info.log_start_offset;
                    }
                    Err(e) => {
                        tracing::warn!(partition = w.partition, error = %e, "produce refused");
                        p.error_code = e.kafka_code();
                        p.error_message = Some(util::str_bytes(e.to_string()));
                    }
                },
            }
            (w.topic, p)
        })
        .collect()
}

/// An empty answer for `partition`, offsets unknown.
fn blank(partition: i32) -> PartitionProduceResponse {
    let mut p = PartitionProduceResponse::default();
    p.index = partition;
    p.base_offset = -1;
    p.log_append_time_ms = -1;
    p.log_start_offset = -1;
    p
}

/// Cluster mode: every partition through the replica manager. The appends happen here, in request order; for
/// acks=all the answer is the returned future, which waits for the in-sync replicas of all partitions at once (one
/// slow ISR must not hold the others back). Partitions refused with NOT_LEADER_OR_FOLLOWER name the leader (v10+,
/// KIP-951).
async fn replicate_all(
    replicas: &Arc<ReplicaManager>,
    version: i16,
    work: Vec<Work>,
    names: &[Option<Arc<Topic>>],
    acks: i16,
    timeout_ms: i32,
) -> impl std::future::Future<Output = (Vec<(usize, PartitionProduceResponse)>, Vec<NodeEndpoint>)> + Send + 'static {
    let mut appended = Vec::with_capacity(work.len());
    for w in work {
        let mut p = blank(w.partition);
        let topic = names.get(w.topic).and_then(Option::as_ref);
        // Only acks=all appends wait, and their refusal then needs the topic's name.
        let mut pending: Option<(Arc<Topic>, crate::replica::PendingAcks)> = None;
        match (w.target, topic) {
            (Err(error), _) => p.error_code = util::code(error),
            (Ok(_), None) => p.error_code = util::code(ResponseError::UnknownTopicOrPartition),
            (Ok((log, records)), Some(topic)) => {
                match replicas.append(&topic.name, w.partition, log, records, acks).await {
                    Ok((info, waiting)) => {
                        p.base_offset = info.base_offset;
                        p.log_append_time_ms = info.log_append_time;
                        p.log_start_offset = info.log_start_offset;
                        pending = waiting.map(|waiting| (topic.clone(), waiting));
                    }
                    Err(e) => refused(replicas, version, &topic.name, &mut p, e),
                }
            }
        }
        appended.push((w.topic, p, pending));
    }
    let replicas = replicas.clone();
    async move {
        let waits = appended.into_iter().map(|(topic, mut p, pending)| {
            let replicas = &replicas;
            async move {
                if let Some((name, pending)) = pending {
                    if let Err(e) = pending.wait(timeout_ms).await {
                        // The offsets of an append the replicas did not confirm are not reported.
                        p = blank(p.index);
                        refused(replicas, version, &name.name, &mut p, e);
                    }
                }
                (topic, p)
            }
        });
        let results = futures::future::join_all(waits).await;
        let leaders: BTreeSet<i32> = results
            .iter()
            .map(|(_, p)| p.current_leader.leader_id.0)
            // Leader ids below 0 (the default) mean "none named".
            .filter(|&id| id >= 0)
            .collect();
        let endpoints = leaders
            .into_iter()
            .filter_map(|id| {
                replicas.broker_address(id).map(|(host, port)| {
                    NodeEndpoint::default().with_node_id(id.into()).with_host(util::str_bytes(host)).with_port(port)
                })
            })
            .collect();
        (results, endpoints)
    }
}

/// Fills a partition's answer for a refused append or a failed wait; NOT_LEADER_OR_FOLLOWER names the leader.
fn refused(
    replicas: &ReplicaManager,
    version: i16,
    topic: &str,
    p: &mut PartitionProduceResponse,
    e: crate::replica::ReplicaError,
) {
    p.error_code = util::code(e.code);
    p.error_message = Some(util::str_bytes(e.message));
    if e.code == ResponseError::NotLeaderOrFollower && version >= 10 {
        if let Some((leader, epoch)) = replicas.leader_of(topic, p.index) {
            p.current_leader = LeaderIdAndEpoch::default().with_leader_id(leader.into()).with_leader_epoch(epoch);
        }
    }
}

impl Handler for Produce {
    type Request = ProduceRequest;
    const KEY: ApiKey = ApiKey::Produce;
    const VERSIONS: (i16, i16) = (3, 13);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: ProduceRequest) -> Reply {
        let version = header.request_api_version;
        let acks = request.acks;
        let mut response = ProduceResponse::default();
        let mut work = Vec::new();
        let mut names = Vec::new();
        for (i, topic_data) in request.topic_data.into_iter().enumerate() {
            // v13 names topics by id (KIP-516); earlier versions by name.
            let topic = if version >= 13 {
                shared.topics.get_by_id(topic_data.topic_id).ok_or(ResponseError::UnknownTopicId)
            } else {
                shared.topics.get(topic_data.name.0.as_str()).ok_or(ResponseError::UnknownTopicOrPartition)
            };
            names.push(topic.as_ref().ok().cloned());
            let mut topic_response = TopicProduceResponse::default();
            topic_response.name = topic_data.name.clone();
            topic_response.topic_id = topic_data.topic_id;
            response.responses.push(topic_response);
            for partition_data in topic_data.partition_data {
                let target = if !matches!(acks, -1..=1) {
                    Err(ResponseError::InvalidRequiredAcks)
                } else {
                    topic.clone().and_then(|t| {
                        t.partition(partition_data.index).ok_or(ResponseError::UnknownTopicOrPartition)
                    })
                    .and_then(|log| match partition_data.records {
                        Some(records) if !records.is_empty() => Ok((log, records)),
                        _ => Err(ResponseError::InvalidRecord),
                    })
                };
                work.push(Work { topic: i, partition: partition_data.index, target });
            }
        }

        if let Some(replicas) = &shared.replicas {
            let answer = replicate_all(replicas, version, work, &names, acks, request.timeout_ms).await;
            let finish = move |(results, endpoints): (Vec<(usize, PartitionProduceResponse)>, Vec<NodeEndpoint>)| {
                for (topic, p) in results {
                    response.responses[topic].partition_responses.push(p);
                }
                if version >= 10 {
                    response.node_endpoints = endpoints;
                }
                Reply::Message(ResponseKind::Produce(response))
            };
            return match acks {
                0 => Reply::Nothing,
                // The records are in the log: the connection may append its next Produce while this one waits.
                -1 => Reply::Deferred(Box::pin(async move { finish(answer.await) })),
                _ => finish(answer.await),
            };
        }

        // An append is a page-cache write of microseconds: handing it to the blocking pool costs more
        // (thread wake-ups dominated produce latency in `sluice bench e2e`). Only appends that may fsync
        // (a flush.messages policy) leave the async worker.
        let may_sync = work.iter().any(|w| matches!(&w.target, Ok((log, _)) if log.may_sync_on_append()));
        let results = if may_sync {
            match tokio::task::spawn_blocking(move || append_all(work)).await {
                Ok(results) => results,
                Err(e) => {
                    tracing::error!(error = %e, "produce task failed (a bug)");
                    return Reply::Nothing;
                }
            }
        } else {
            append_all(work)
        };
        if acks == 0 {
            return Reply::Nothing;
        }
        for (topic, p) in results {
            response.responses[topic].partition_responses.push(p);
        }
        Reply::Message(ResponseKind::Produce(response))
    }
}
