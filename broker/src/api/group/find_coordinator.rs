//! FindCoordinator (key 10): this single broker coordinates every group and every transactional id.

use std::sync::Arc;

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    ApiKey, BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, RequestHeader, ResponseKind,
};
use kafka_protocol::ResponseError;

use crate::api::{util, Handler, Reply};
use crate::server::Shared;

pub(crate) struct FindCoordinator;

/// Key types: 0 = consumer group, 1 = transactional id. Share groups (2) are not served.
fn known_key_type(key_type: i8) -> bool {
    key_type == 0 || key_type == 1
}

impl Handler for FindCoordinator {
    type Request = FindCoordinatorRequest;
    const KEY: ApiKey = ApiKey::FindCoordinator;
    const VERSIONS: (i16, i16) = (0, 6);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: FindCoordinatorRequest) -> Reply {
        let node = BrokerId(shared.config.node_id);
        let host = util::str_bytes(shared.advertised_host.clone());
        let port = shared.advertised_port;
        let mut response = FindCoordinatorResponse::default();
        let known = known_key_type(request.key_type);
        if header.request_api_version >= 4 {
            // v4+ (KIP-699) batches keys; every key gets the same answer on one broker.
            response.coordinators = request
                .coordinator_keys
                .into_iter()
                .map(|key| {
                    let mut c = Coordinator::default().with_key(key);
                    if known {
                        c = c.with_node_id(node).with_host(host.clone()).with_port(port);
                    } else {
                        c = c
                            .with_node_id(BrokerId(-1))
                            .with_port(-1)
                            .with_error_code(ResponseError::InvalidRequest.code())
                            .with_error_message(Some(util::str_bytes(format!("unsupported key type {}", request.key_type))));
                    }
                    c
                })
                .collect();
        } else if known {
            response.node_id = node;
            response.host = host;
            response.port = port;
        } else {
            tracing::info!(key_type = request.key_type, "FindCoordinator for an unsupported key type");
            response.node_id = BrokerId(-1);
            response.port = -1;
            response.error_code = ResponseError::InvalidRequest.code();
            response.error_message = Some(util::str_bytes(format!("unsupported key type {}", request.key_type)));
        }
        Reply::Message(ResponseKind::FindCoordinator(response))
    }
}
