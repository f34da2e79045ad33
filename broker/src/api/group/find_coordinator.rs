//! FindCoordinator (key 10): which broker coordinates a group or a transactional id. A single broker
//! coordinates everything; in a cluster it is the leader of the key's partition of `__consumer_offsets` or
//! `__transaction_state`, the topic being created on first need (COORDINATOR_NOT_AVAILABLE meanwhile, and while
//! the partition has no leader: clients retry).

use std::sync::Arc;

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    ApiKey, BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, RequestHeader, ResponseKind,
};
use kafka_protocol::ResponseError;

use crate::api::{util, Handler, Reply};
use crate::controller::Controller;
use crate::coordinator::internal_topics::{self, CoordinatorAddress, InternalTopic};
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
        if let Some(controller) = &shared.controller {
            return in_cluster(shared, controller, header, request).await;
        }
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

/// Cluster mode: each key's coordinator is the leader of its partition of the internal topic.
async fn in_cluster(
    shared: &Shared,
    controller: &Controller,
    header: &RequestHeader,
    request: FindCoordinatorRequest,
) -> Reply {
    let topic = match request.key_type {
        0 => Some(InternalTopic::offsets(&shared.config)),
        1 => Some(InternalTopic::transactions(&shared.config)),
        _ => None,
    };
    let unsupported = || (ResponseError::InvalidRequest, format!("unsupported key type {}", request.key_type));
    let mut answers = Vec::new();
    let keys: Vec<_> =
        if header.request_api_version >= 4 { request.coordinator_keys.clone() } else { vec![request.key.clone()] };
    for key in keys {
        let answer = match &topic {
            None => Err(unsupported()),
            Some(topic) => internal_topics::find_coordinator(controller, topic, key.as_str())
                .await
                .map_err(|e| (e, format!("no coordinator available for {:?} yet", key.as_str()))),
        };
        if let Err((error, _)) = &answer {
            tracing::debug!(key = %key.as_str(), key_type = request.key_type, ?error, "FindCoordinator found none");
        }
        answers.push((key, answer));
    }
    let mut response = FindCoordinatorResponse::default();
    if header.request_api_version >= 4 {
        response.coordinators = answers
            .into_iter()
            .map(|(key, answer)| {
                let c = Coordinator::default().with_key(key);
                match answer {
                    Ok(a) => c.with_node_id(BrokerId(a.node_id)).with_host(util::str_bytes(a.host)).with_port(a.port),
                    Err((error, message)) => c
                        .with_node_id(BrokerId(-1))
                        .with_port(-1)
                        .with_error_code(error.code())
                        .with_error_message(Some(util::str_bytes(message))),
                }
            })
            .collect();
    } else {
        match answers.pop().map(|(_, a)| a) {
            Some(Ok(CoordinatorAddress { node_id, host, port })) => {
                response.node_id = BrokerId(node_id);
                response.host = util::str_bytes(host);
                response.port = port;
            }
            Some(Err((error, message))) => {
                response.node_id = BrokerId(-1);
                response.port = -1;
                response.error_code = error.code();
                response.error_message = Some(util::str_bytes(message));
            }
            None => {}
        }
    }
    Reply::Message(ResponseKind::FindCoordinator(response))
}
