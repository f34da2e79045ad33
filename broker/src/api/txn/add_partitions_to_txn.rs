//! AddPartitionsToTxn (key 24): adds partitions to the producer's transaction before it writes to them. v0-3 is
//! the clients' form (one transaction); v4+ is Kafka's batched inter-broker form (several transactions, and
//! `verify_only` to ask whether partitions are already in a transaction), served here too.

use std::sync::Arc;

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, RequestHeader, ResponseKind, TransactionalId,
};
use kafka_protocol::ResponseError;

use super::{fenced_for, Handler, Reply};
use crate::server::Shared;

pub(crate) struct AddPartitionsToTxn;

impl Handler for AddPartitionsToTxn {
    type Request = AddPartitionsToTxnRequest;
    const KEY: ApiKey = ApiKey::AddPartitionsToTxn;
    const VERSIONS: (i16, i16) = (0, 5);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: AddPartitionsToTxnRequest) -> Reply {
        let version = header.request_api_version;
        let mut response = AddPartitionsToTxnResponse::default();
        if version <= 3 {
            response.results_by_topic_v3_and_below = add(
                shared,
                version,
                &request.v3_and_below_transactional_id,
                request.v3_and_below_producer_id.0,
                request.v3_and_below_producer_epoch,
                false,
                &request.v3_and_below_topics,
            )
            .await;
        } else {
            for t in &request.transactions {
                let topic_results = add(
                    shared,
                    version,
                    &t.transactional_id,
                    t.producer_id.0,
                    t.producer_epoch,
                    t.verify_only,
                    &t.topics,
                )
                .await;
                response.results_by_transaction.push(
                    AddPartitionsToTxnResult::default()
                        .with_transactional_id(t.transactional_id.clone())
                        .with_topic_results(topic_results),
                );
            }
        }
        Reply::Message(ResponseKind::AddPartitionsToTxn(response))
    }
}

/// Adds (or with `verify_only` checks) one transaction's partitions; one answer per partition. Unknown partitions
/// fail with UNKNOWN_TOPIC_OR_PARTITION and the others, untouched, with OPERATION_NOT_ATTEMPTED, as Kafka does.
async fn add(
    shared: &Shared,
    version: i16,
    transactional_id: &TransactionalId,
    producer_id: i64,
    epoch: i16,
    verify_only: bool,
    topics: &[AddPartitionsToTxnTopic],
) -> Vec<AddPartitionsToTxnTopicResult> {
    let id = transactional_id.0.as_str();
    let wanted: Vec<(String, i32)> =
        topics.iter().flat_map(|t| t.partitions.iter().map(move |&p| (t.name.0.to_string(), p))).collect();
    let exists =
        |(topic, p): &(String, i32)| shared.topics.get(topic).is_some_and(|t| *p >= 0 && *p < t.partition_count());
    let any_unknown = wanted.iter().any(|tp| !exists(tp));
    let results: Vec<((String, i32), Result<(), ResponseError>)> = if any_unknown {
        wanted
            .into_iter()
            .map(|tp| {
                let error = if exists(&tp) {
                    ResponseError::OperationNotAttempted
                } else {
                    ResponseError::UnknownTopicOrPartition
                };
                (tp, Err(error))
            })
            .collect()
    } else if verify_only {
        wanted
            .into_iter()
            .map(|tp| {
                let result = shared.txns.verify_partitions(id, producer_id, epoch, &tp);
                (tp, result)
            })
            .collect()
    } else {
        let result = shared.txns.add_partitions(id, producer_id, epoch, wanted.clone()).await;
        if let Err(e) = &result {
            tracing::debug!(transactional_id = id, error = ?e, "AddPartitionsToTxn refused");
        }
        wanted.into_iter().map(|tp| (tp, result)).collect()
    };
    let mut out: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for ((topic, partition), result) in results {
        let code = result.err().map_or(0, |e| fenced_for(version, 2, e).code());
        let p = AddPartitionsToTxnPartitionResult::default()
            .with_partition_index(partition)
            .with_partition_error_code(code);
        match out.iter_mut().find(|t| t.name.0.as_str() == topic) {
            Some(t) => t.results_by_partition.push(p),
            None => out.push(
                AddPartitionsToTxnTopicResult::default()
                    .with_name(crate::api::util::topic_name(&topic))
                    .with_results_by_partition(vec![p]),
            ),
        }
    }
    out
}
