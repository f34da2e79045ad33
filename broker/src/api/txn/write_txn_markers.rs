//! WriteTxnMarkers (key 27): writes COMMIT or ABORT markers to partitions this broker leads. A transaction
//! coordinator sends it for the partitions of a transaction led by another broker (its own it writes
//! directly); `__consumer_offsets` partitions go through the group coordinator, which completes the
//! transaction's staged offsets with the marker. In cluster mode the answer waits for the followers.

use std::sync::Arc;

use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseKind, WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use super::{Handler, Reply};
use crate::server::Shared;

pub(crate) struct WriteTxnMarkers;

impl Handler for WriteTxnMarkers {
    type Request = WriteTxnMarkersRequest;
    const KEY: ApiKey = ApiKey::WriteTxnMarkers;
    const VERSIONS: (i16, i16) = (1, 1);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: WriteTxnMarkersRequest) -> Reply {
        let mut response = WriteTxnMarkersResponse::default();
        for marker in request.markers {
            let partitions: Vec<(String, i32)> = marker
                .topics
                .iter()
                .flat_map(|t| t.partition_indexes.iter().map(move |&p| (t.name.0.to_string(), p)))
                .collect();
            let results = shared
                .txns
                .write_markers(
                    marker.producer_id.0,
                    marker.producer_epoch,
                    marker.transaction_result,
                    marker.coordinator_epoch,
                    partitions,
                )
                .await;
            let mut topics: Vec<WritableTxnMarkerTopicResult> = Vec::new();
            for ((topic, partition), result) in results {
                let p = WritableTxnMarkerPartitionResult::default()
                    .with_partition_index(partition)
                    .with_error_code(result.err().map_or(0, |e| e.code()));
                match topics.iter_mut().find(|t| t.name.0.as_str() == topic) {
                    Some(t) => t.partitions.push(p),
                    None => topics.push(
                        WritableTxnMarkerTopicResult::default()
                            .with_name(crate::api::util::topic_name(&topic))
                            .with_partitions(vec![p]),
                    ),
                }
            }
            response
                .markers
                .push(WritableTxnMarkerResult::default().with_producer_id(marker.producer_id).with_topics(topics));
        }
        Reply::Message(ResponseKind::WriteTxnMarkers(response))
    }
}
