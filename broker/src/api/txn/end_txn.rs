//! EndTxn (key 26): commits or aborts the producer's transaction: COMMIT/ABORT markers go to every partition in
//! it and the groups' transactional offsets are completed before the answer. v5 (KIP-890) also bumps the epoch.

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, EndTxnRequest, EndTxnResponse, RequestHeader, ResponseKind};

use super::{fenced_for, Handler, Reply};
use crate::server::Shared;

pub(crate) struct EndTxn;

impl Handler for EndTxn {
    type Request = EndTxnRequest;
    const KEY: ApiKey = ApiKey::EndTxn;
    const VERSIONS: (i16, i16) = (0, 5);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: EndTxnRequest) -> Reply {
        let version = header.request_api_version;
        let id = request.transactional_id.0.as_str();
        let result = shared
            .txns
            .end_txn(id, request.producer_id.0, request.producer_epoch, request.committed, version >= 5)
            .await;
        let mut response = EndTxnResponse::default();
        match result {
            Ok((producer_id, epoch)) if version >= 5 => {
                response.producer_id = producer_id.into();
                response.producer_epoch = epoch;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::debug!(transactional_id = id, error = ?error, committed = request.committed, "EndTxn refused");
                response.error_code = fenced_for(version, 2, error).code();
            }
        }
        Reply::Message(ResponseKind::EndTxn(response))
    }
}
