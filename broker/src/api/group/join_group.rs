//! JoinGroup (key 11): a member joins or rejoins a classic group; the answer waits for the rebalance.

use std::sync::Arc;

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{ApiKey, JoinGroupRequest, JoinGroupResponse, RequestHeader, ResponseKind};

use super::code_of;
use crate::api::{util, Handler, Reply};
use crate::coordinator::group::JoinRequest;
use crate::server::Shared;

pub(crate) struct JoinGroup;

impl Handler for JoinGroup {
    type Request = JoinGroupRequest;
    const KEY: ApiKey = ApiKey::JoinGroup;
    // v0 and v1 are gone in Kafka 4.0 (KIP-896).
    const VERSIONS: (i16, i16) = (2, 9);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: JoinGroupRequest) -> Reply {
        let version = header.request_api_version;
        let req = JoinRequest {
            group_id: request.group_id.0.to_string(),
            member_id: request.member_id.to_string(),
            group_instance_id: request.group_instance_id.map(|s| s.to_string()),
            client_id: header.client_id.as_ref().map(|s| s.to_string()).unwrap_or_default(),
            client_host: crate::net::client_host(),
            session_timeout_ms: request.session_timeout_ms,
            rebalance_timeout_ms: request.rebalance_timeout_ms,
            protocol_type: request.protocol_type.to_string(),
            protocols: request.protocols.into_iter().map(|p| (p.name.to_string(), p.metadata)).collect(),
            require_known_member_id: version >= 4,
            supports_skip_assignment: version >= 9,
        };
        let group = req.group_id.clone();
        let answer = shared.groups.join(req).await;
        if let Some(error) = answer.error {
            tracing::debug!(group, member = %answer.member_id, ?error, "JoinGroup answered an error");
        }
        let mut response = JoinGroupResponse::default()
            .with_error_code(code_of(answer.error))
            .with_generation_id(answer.generation)
            .with_protocol_type(answer.protocol_type.map(util::str_bytes))
            .with_leader(util::str_bytes(answer.leader))
            .with_skip_assignment(answer.skip_assignment)
            .with_member_id(util::str_bytes(answer.member_id))
            .with_members(
                answer
                    .members
                    .into_iter()
                    .map(|m| {
                        JoinGroupResponseMember::default()
                            .with_member_id(util::str_bytes(m.member_id))
                            .with_group_instance_id(m.group_instance_id.map(util::str_bytes))
                            .with_metadata(m.metadata)
                    })
                    .collect(),
            );
        // The protocol name is nullable only from v7.
        response.protocol_name = match answer.protocol_name {
            Some(name) => Some(util::str_bytes(name)),
            None if version < 7 => Some(util::str_bytes("")),
            None => None,
        };
        Reply::Message(ResponseKind::JoinGroup(response))
    }
}
