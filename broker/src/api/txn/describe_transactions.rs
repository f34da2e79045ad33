//! DescribeTransactions (key 65): the state, producer, timeout and partitions of transactional ids
//! (`kafka-transactions.sh describe`).

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    ApiKey, DescribeTransactionsRequest, DescribeTransactionsResponse, RequestHeader, ResponseKind,
};

use super::{Handler, Reply};
use crate::api::util;
use crate::server::Shared;

pub(crate) struct DescribeTransactions;

impl Handler for DescribeTransactions {
    type Request = DescribeTransactionsRequest;
    const KEY: ApiKey = ApiKey::DescribeTransactions;
    const VERSIONS: (i16, i16) = (0, 0);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: DescribeTransactionsRequest) -> Reply {
        let ids: Vec<String> = request.transactional_ids.iter().map(|t| t.0.to_string()).collect();
        let found = shared.txns.describe(&ids);
        let mut response = DescribeTransactionsResponse::default();
        for (id, metadata) in request.transactional_ids.into_iter().zip(found) {
            let mut s = TransactionState::default().with_transactional_id(id);
            match metadata {
                Err(error) => {
                    // TRANSACTIONAL_ID_NOT_FOUND, or NOT_COORDINATOR for an id another broker coordinates.
                    s.error_code = error.code();
                    s.transaction_state = util::str_bytes("");
                }
                Ok(m) => {
                    let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                    for (topic, partition) in &m.partitions {
                        topics.entry(topic.clone()).or_default().push(*partition);
                    }
                    s.transaction_state = util::str_bytes(m.state.name());
                    s.transaction_timeout_ms = m.timeout_ms;
                    s.transaction_start_time_ms = m.start_ms;
                    s.producer_id = m.producer_id.into();
                    s.producer_epoch = m.epoch;
                    s.topics = topics
                        .into_iter()
                        .map(|(t, partitions)| {
                            TopicData::default().with_topic(util::topic_name(&t)).with_partitions(partitions)
                        })
                        .collect();
                }
            }
            response.transaction_states.push(s);
        }
        Reply::Message(ResponseKind::DescribeTransactions(response))
    }
}
