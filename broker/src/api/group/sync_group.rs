//! SyncGroup (key 14): the leader hands out the assignment; every member receives its own.

use std::sync::Arc;

use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseKind, SyncGroupRequest, SyncGroupResponse};

use super::code_of;
use crate::api::{util, Handler, Reply};
use crate::coordinator::group::SyncRequest;
use crate::server::Shared;

pub(crate) struct SyncGroup;

impl Handler for SyncGroup {
    type Request = SyncGroupRequest;
    const KEY: ApiKey = ApiKey::SyncGroup;
    const VERSIONS: (i16, i16) = (0, 5);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: SyncGroupRequest) -> Reply {
        let req = SyncRequest {
            group_id: request.group_id.0.to_string(),
            member_id: request.member_id.to_string(),
            group_instance_id: request.group_instance_id.map(|s| s.to_string()),
            generation: request.generation_id,
            protocol_type: request.protocol_type.map(|s| s.to_string()),
            protocol_name: request.protocol_name.map(|s| s.to_string()),
            assignments: request.assignments.into_iter().map(|a| (a.member_id.to_string(), a.assignment)).collect(),
        };
        let answer = shared.groups.sync(req).await;
        let response = SyncGroupResponse::default()
            .with_error_code(code_of(answer.error))
            .with_protocol_type(answer.protocol_type.map(util::str_bytes))
            .with_protocol_name(answer.protocol_name.map(util::str_bytes))
            .with_assignment(answer.assignment);
        Reply::Message(ResponseKind::SyncGroup(response))
    }
}
