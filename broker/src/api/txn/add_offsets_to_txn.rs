//! AddOffsetsToTxn (key 25): adds a consumer group to the transaction, so that the offsets the producer then
//! commits with TxnOffsetCommit become visible when (and only if) the transaction commits.

use std::sync::Arc;

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, ApiKey, RequestHeader, ResponseKind};

use super::{fenced_for, Handler, Reply};
use crate::server::Shared;

pub(crate) struct AddOffsetsToTxn;

impl Handler for AddOffsetsToTxn {
    type Request = AddOffsetsToTxnRequest;
    const KEY: ApiKey = ApiKey::AddOffsetsToTxn;
    const VERSIONS: (i16, i16) = (0, 4);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: AddOffsetsToTxnRequest) -> Reply {
        let version = header.request_api_version;
        let result = shared
            .txns
            .add_offsets(
                request.transactional_id.0.as_str(),
                request.producer_id.0,
                request.producer_epoch,
                request.group_id.0.to_string(),
            )
            .await;
        let code = result.err().map_or(0, |e| fenced_for(version, 2, e).code());
        Reply::Message(ResponseKind::AddOffsetsToTxn(AddOffsetsToTxnResponse::default().with_error_code(code)))
    }
}
