//! DeleteRecords (key 21): advances a partition's log start offset, dropping what lies before it.
//!
//! In cluster mode only the leader deletes, and never past the high watermark (-1 means the high watermark);
//! followers follow the leader's log start offset from their fetch answers. The answer does not wait for them.

use std::sync::Arc;

use kafka_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
use kafka_protocol::messages::{ApiKey, DeleteRecordsRequest, DeleteRecordsResponse, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use super::{util, Handler, Reply};
use crate::log::ReadError;
use crate::server::Shared;

pub(crate) struct DeleteRecords;

fn t_name(topic: &Option<std::sync::Arc<crate::topics::Topic>>) -> &str {
    topic.as_ref().map_or("", |t| t.name.as_str())
}

impl Handler for DeleteRecords {
    type Request = DeleteRecordsRequest;
    const KEY: ApiKey = ApiKey::DeleteRecords;
    const VERSIONS: (i16, i16) = (0, 2);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: DeleteRecordsRequest) -> Reply {
        let mut jobs = Vec::new();
        let mut response = DeleteRecordsResponse::default();
        for topic in request.topics {
            let found = shared.topics.get(topic.name.0.as_str());
            let mut t = DeleteRecordsTopicResult::default();
            t.name = topic.name;
            response.topics.push(t);
            for p in topic.partitions {
                let log = found.as_ref().and_then(|t| t.partition(p.partition_index));
                // Cluster mode: only the leader deletes.
                let refused = shared.replicas.as_ref().and_then(|replicas| {
                    replicas.leader_epoch(t_name(&found), p.partition_index).err()
                });
                jobs.push((response.topics.len() - 1, p.partition_index, p.offset, log, refused, shared.replicas.is_some()));
            }
        }
        // Deleting segments is file I/O; keep it off the async workers.
        let done = tokio::task::spawn_blocking(move || {
            jobs.into_iter()
                .map(|(t, partition, offset, log, refused, cluster)| {
                    let mut r = DeleteRecordsPartitionResult::default();
                    r.partition_index = partition;
                    r.low_watermark = -1;
                    if let (Some(error), Some(_)) = (refused, &log) {
                        r.error_code = util::code(error);
                        return (t, r);
                    }
                    let delete = |log: std::sync::Arc<crate::log::PartitionLog>| {
                        if !cluster {
                            return log.delete_records_before(offset);
                        }
                        // Only what every in-sync replica has may go: beyond the high watermark is out of range.
                        let hw = log.high_watermark();
                        match offset {
                            -1 => log.delete_records_before(hw),
                            o if o > hw => Err(ReadError::OffsetOutOfRange {
                                requested: o,
                                log_start: log.log_start_offset(),
                                log_end: hw,
                            }),
                            o => log.delete_records_before(o),
                        }
                    };
                    match log.map(delete) {
                        None => r.error_code = util::code(ResponseError::UnknownTopicOrPartition),
                        Some(Ok(low)) => r.low_watermark = low,
                        Some(Err(ReadError::OffsetOutOfRange { .. })) => {
                            r.error_code = util::code(ResponseError::OffsetOutOfRange)
                        }
                        Some(Err(e)) => {
                            tracing::warn!(partition, error = %e, "DeleteRecords failed");
                            r.error_code = util::code(ResponseError::KafkaStorageError);
                        }
                    }
                    (t, r)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        for (t, r) in done {
            response.topics[t].partitions.push(r);
        }
        Reply::Message(ResponseKind::DeleteRecords(response))
    }
}
