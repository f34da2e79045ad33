//! LeaveGroup (key 13): members leave a classic group (one per request before v3, a batch from v3).

use std::sync::Arc;

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{ApiKey, LeaveGroupRequest, LeaveGroupResponse, RequestHeader, ResponseKind};

use crate::api::{util, Handler, Reply};
use crate::server::Shared;

pub(crate) struct LeaveGroup;

impl Handler for LeaveGroup {
    type Request = LeaveGroupRequest;
    const KEY: ApiKey = ApiKey::LeaveGroup;
    const VERSIONS: (i16, i16) = (0, 5);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: LeaveGroupRequest) -> Reply {
        let group = request.group_id.0.to_string();
        let batched = header.request_api_version >= 3;
        let leaving: Vec<(String, Option<String>)> = if batched {
            request
                .members
                .iter()
                .map(|m| (m.member_id.to_string(), m.group_instance_id.as_ref().map(|s| s.to_string())))
                .collect()
        } else {
            vec![(request.member_id.to_string(), None)]
        };
        let mut response = LeaveGroupResponse::default();
        let mark = shared.groups.mark(&group);
        let result = match shared.groups.leave(&group, &leaving) {
            Ok(results) => shared.groups.replicated(mark).await.map(|()| results),
            Err(error) => Err(error),
        };
        match result {
            Err(error) => response.error_code = error.code(),
            Ok(results) if !batched => {
                response.error_code = results.first().and_then(|r| r.as_ref().err()).map_or(0, |e| e.code());
            }
            Ok(results) => {
                response.members = leaving
                    .into_iter()
                    .zip(results)
                    .map(|((member_id, instance), result)| {
                        // Kafka echoes the member id as asked (empty for a static member named by instance id).
                        MemberResponse::default()
                            .with_member_id(util::str_bytes(member_id))
                            .with_group_instance_id(instance.map(util::str_bytes))
                            .with_error_code(result.err().map_or(0, |e| e.code()))
                    })
                    .collect();
            }
        }
        Reply::Message(ResponseKind::LeaveGroup(response))
    }
}
