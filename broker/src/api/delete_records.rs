//! DeleteRecords (key 21): advances a partition's log start offset, dropping what lies before it.

use std::sync::Arc;

use kafka_protocol::messages::delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
use kafka_protocol::messages::{ApiKey, DeleteRecordsRequest, DeleteRecordsResponse, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use super::{util, Handler, Reply};
use crate::log::ReadError;
use crate::server::Shared;

pub(crate) struct DeleteRecords;

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
                jobs.push((response.topics.len() - 1, p.partition_index, p.offset, log));
            }
        }
        // Deleting segments is file I/O; keep it off the async workers.
        let done = tokio::task::spawn_blocking(move || {
            jobs.into_iter()
                .map(|(t, partition, offset, log)| {
                    let mut r = DeleteRecordsPartitionResult::default();
                    r.partition_index = partition;
                    r.low_watermark = -1;
                    match log.map(|log| log.delete_records_before(offset)) {
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
