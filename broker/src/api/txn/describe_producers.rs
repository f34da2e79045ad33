//! DescribeProducers (key 61): the idempotent and transactional producers each partition knows, with their
//! epochs, last sequences and open transactions (`kafka-transactions.sh describe-producers`).

use std::sync::Arc;

use kafka_protocol::messages::describe_producers_response::{PartitionResponse, ProducerState, TopicResponse};
use kafka_protocol::messages::{
    ApiKey, DescribeProducersRequest, DescribeProducersResponse, RequestHeader, ResponseKind,
};
use kafka_protocol::ResponseError;

use super::{Handler, Reply};
use crate::server::Shared;

pub(crate) struct DescribeProducers;

impl Handler for DescribeProducers {
    type Request = DescribeProducersRequest;
    const KEY: ApiKey = ApiKey::DescribeProducers;
    const VERSIONS: (i16, i16) = (0, 0);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: DescribeProducersRequest) -> Reply {
        let mut response = DescribeProducersResponse::default();
        for t in request.topics {
            let topic = shared.topics.get(t.name.0.as_str());
            let mut partitions = Vec::new();
            for index in t.partition_indexes {
                let mut p = PartitionResponse::default().with_partition_index(index);
                match topic.as_ref().and_then(|topic| topic.partition(index)) {
                    None => p.error_code = ResponseError::UnknownTopicOrPartition.code(),
                    Some(log) => {
                        p.active_producers = log
                            .producers()
                            .into_iter()
                            .map(|s| {
                                ProducerState::default()
                                    .with_producer_id(s.producer_id.into())
                                    .with_producer_epoch(i32::from(s.epoch))
                                    .with_last_sequence(s.last_sequence)
                                    .with_last_timestamp(s.last_timestamp)
                                    .with_coordinator_epoch(s.coordinator_epoch)
                                    .with_current_txn_start_offset(s.current_txn_start_offset)
                            })
                            .collect();
                    }
                }
                partitions.push(p);
            }
            response.topics.push(TopicResponse::default().with_name(t.name).with_partitions(partitions));
        }
        Reply::Message(ResponseKind::DescribeProducers(response))
    }
}
