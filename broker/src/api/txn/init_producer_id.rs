//! InitProducerId (key 22): a producer id and epoch for an idempotent or transactional producer; for a
//! transactional id it bumps the epoch, fencing the previous producer and aborting its open transaction.

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, InitProducerIdRequest, InitProducerIdResponse, RequestHeader, ResponseKind};

use super::{fenced_for, Handler, Reply};
use crate::server::Shared;

pub(crate) struct InitProducerId;

impl Handler for InitProducerId {
    type Request = InitProducerIdRequest;
    const KEY: ApiKey = ApiKey::InitProducerId;
    const VERSIONS: (i16, i16) = (0, 5);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: InitProducerIdRequest) -> Reply {
        let version = header.request_api_version;
        let transactional_id = request.transactional_id.map(|t| t.0.to_string());
        // KIP-360 (v3+): a producer that already holds an id says which, so only it can bump the epoch.
        let expected = (request.producer_id.0 >= 0).then_some((request.producer_id.0, request.producer_epoch));
        let result =
            shared.txns.init_producer_id(transactional_id.clone(), request.transaction_timeout_ms, expected).await;
        let mut response = InitProducerIdResponse::default();
        match result {
            Ok((producer_id, epoch)) => {
                response.producer_id = producer_id.into();
                response.producer_epoch = epoch;
            }
            Err(error) => {
                tracing::debug!(transactional_id = ?transactional_id, error = ?error, "InitProducerId refused");
                response.error_code = fenced_for(version, 4, error).code();
                response.producer_epoch = -1;
            }
        }
        Reply::Message(ResponseKind::InitProducerId(response))
    }
}
