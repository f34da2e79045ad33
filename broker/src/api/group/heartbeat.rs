//! Heartbeat (key 12): keeps a classic group member alive; REBALANCE_IN_PROGRESS tells it to rejoin.

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, HeartbeatRequest, HeartbeatResponse, RequestHeader, ResponseKind};

use crate::api::{Handler, Reply};
use crate::server::Shared;

pub(crate) struct Heartbeat;

impl Handler for Heartbeat {
    type Request = HeartbeatRequest;
    const KEY: ApiKey = ApiKey::Heartbeat;
    const VERSIONS: (i16, i16) = (0, 4);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: HeartbeatRequest) -> Reply {
        let result = shared.groups.heartbeat(
            request.group_id.0.as_str(),
            request.member_id.as_str(),
            request.group_instance_id.as_ref().map(|s| s.as_str()),
            request.generation_id,
        );
        let response = HeartbeatResponse::default().with_error_code(result.err().map_or(0, |e| e.code()));
        Reply::Message(ResponseKind::Heartbeat(response))
    }
}
