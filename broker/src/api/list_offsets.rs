//! ListOffsets (key 2): earliest, latest, max-timestamp and by-timestamp offsets of partitions.
//!
//! In cluster mode only the leader answers, and nothing past what consumers may read (the high watermark, or
//! the last stable offset for read_committed) is ever named.

use std::sync::Arc;

use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::{ApiKey, ListOffsetsRequest, ListOffsetsResponse, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use super::{util, Handler, Reply};
use crate::log::PartitionLog;
use crate::server::Shared;

pub(crate) struct ListOffsets;

/// The special timestamps of ListOffsets.
const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

impl Handler for ListOffsets {
    type Request = ListOffsetsRequest;
    const KEY: ApiKey = ApiKey::ListOffsets;
    const VERSIONS: (i16, i16) = (1, 10);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: ListOffsetsRequest) -> Reply {
        let version = header.request_api_version;
        // read_committed consumers must not be told of offsets past the last stable offset.
        let read_committed = request.isolation_level == 1;
        let mut jobs = Vec::new();
        let mut response = ListOffsetsResponse::default();
        for topic in request.topics {
            let found = shared.topics.get(topic.name.0.as_str());
            let name = topic.name.clone();
            let mut t = ListOffsetsTopicResponse::default();
            t.name = topic.name;
            response.topics.push(t);
            for p in topic.partitions {
                let log = found.as_ref().and_then(|t| t.partition(p.partition_index));
                // Cluster mode: Some(leader epoch) when this broker leads, else the refusal.
                let leads = shared.replicas.as_ref().map(|replicas| {
                    replicas.check_leader(name.0.as_str(), p.partition_index, p.current_leader_epoch)
                });
                jobs.push((response.topics.len() - 1, p.partition_index, p.timestamp, log, leads));
            }
        }
        // Timestamp look-ups read segment files; keep them off the async workers.
        let answered = tokio::task::spawn_blocking(move || {
            jobs.into_iter()
                .map(|(t, partition, timestamp, log, leads)| {
                    let mut r = ListOffsetsPartitionResponse::default();
                    r.partition_index = partition;
                    r.timestamp = -1;
                    r.offset = -1;
                    // leader_epoch exists from v4 on; the codec refuses a set field on older versions.
                    if version >= 4 {
                        r.leader_epoch = 0;
                    }
                    let cluster = leads.is_some();
                    match (log, leads) {
                        (None, _) => r.error_code = util::code(ResponseError::UnknownTopicOrPartition),
                        (Some(_), Some(Err(error))) => r.error_code = util::code(error),
                        (Some(log), leads) => match lookup(&log, timestamp, read_committed, cluster) {
                            Ok((offset, ts)) => {
                                r.offset = offset;
                                r.timestamp = ts;
                                if let (Some(Ok(epoch)), true) = (leads, version >= 4) {
                                    r.leader_epoch = epoch;
                                }
                            }
                            Err(error) => r.error_code = util::code(error),
                        },
                    }
                    (t, r)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for (t, r) in answered {
            response.topics[t].partitions.push(r);
        }
        Reply::Message(ResponseKind::ListOffsets(response))
    }
}

/// Offset and timestamp answered for one partition; no match by timestamp answers offset -1. In cluster mode
/// (`cluster`) the latest offset is the high watermark and look-ups never name an offset at or past it.
fn lookup(log: &PartitionLog, timestamp: i64, read_committed: bool, cluster: bool) -> Result<(i64, i64), ResponseError> {
    let storage = |e: crate::log::LogError| {
        tracing::warn!(error = %e, "ListOffsets look-up failed");
        ResponseError::KafkaStorageError
    };
    let latest = match (cluster, read_committed) {
        (false, true) => log.last_stable_offset(),
        (false, false) => log.log_end_offset(),
        (true, true) => log.last_stable_offset().min(log.high_watermark()),
        (true, false) => log.high_watermark(),
    };
    let visible = |found: Option<(i64, i64)>| found.filter(|&(offset, _)| !cluster || offset < latest).unwrap_or((-1, -1));
    match timestamp {
        LATEST | LATEST_TIERED => Ok((latest, -1)),
        EARLIEST | EARLIEST_LOCAL => Ok((log.log_start_offset(), -1)),
        MAX_TIMESTAMP => Ok(visible(log.max_timestamp().map_err(storage)?)),
        ts if ts >= 0 => Ok(visible(log.offset_for_timestamp(ts).map_err(storage)?)),
        _ => Err(ResponseError::InvalidRequest),
    }
}
