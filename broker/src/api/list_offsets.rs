//! ListOffsets (key 2): earliest, latest, max-timestamp and by-timestamp offsets of partitions.

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
            let mut t = ListOffsetsTopicResponse::default();
            t.name = topic.name;
            response.topics.push(t);
            for p in topic.partitions {
                let log = found.as_ref().and_then(|t| t.partition(p.partition_index));
                jobs.push((response.topics.len() - 1, p.partition_index, p.timestamp, log));
            }
        }
        // Timestamp look-ups read segment files; keep them off the async workers.
        let answered = tokio::task::spawn_blocking(move || {
            jobs.into_iter()
                .map(|(t, partition, timestamp, log)| {
                    let mut r = ListOffsetsPartitionResponse::default();
                    r.partition_index = partition;
                    r.timestamp = -1;
                    r.offset = -1;
                    // leader_epoch exists from v4 on; the codec refuses a set field on older versions.
                    if version >= 4 {
                        r.leader_epoch = 0;
                    }
                    match log {
                        None => r.error_code = util::code(ResponseError::UnknownTopicOrPartition),
                        Some(log) => match lookup(&log, timestamp, read_committed) {
                            Ok((offset, ts)) => {
                                r.offset = offset;
                                r.timestamp = ts;
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

/// Offset and timestamp answered for one partition; no match by timestamp answers offset -1.
fn lookup(log: &PartitionLog, timestamp: i64, read_committed: bool) -> Result<(i64, i64), ResponseError> {
    let storage = |e: crate::log::LogError| {
        tracing::warn!(error = %e, "ListOffsets look-up failed");
        ResponseError::KafkaStorageError
    };
    match timestamp {
        LATEST | LATEST_TIERED if read_committed => Ok((log.last_stable_offset(), -1)),
        LATEST | LATEST_TIERED => Ok((log.log_end_offset(), -1)),
        EARLIEST | EARLIEST_LOCAL => Ok((log.log_start_offset(), -1)),
        MAX_TIMESTAMP => Ok(log.max_timestamp().map_err(storage)?.unwrap_or((-1, -1))),
        ts if ts >= 0 => Ok(log.offset_for_timestamp(ts).map_err(storage)?.unwrap_or((-1, -1))),
        _ => Err(ResponseError::InvalidRequest),
    }
}
