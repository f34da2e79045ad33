//! DescribeGroups (key 15): state, protocol and members (with their metadata and assignment) of groups.

use std::sync::Arc;

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{ApiKey, DescribeGroupsRequest, DescribeGroupsResponse, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use crate::api::{util, Handler, Reply};
use crate::server::Shared;

pub(crate) struct DescribeGroups;

/// Without ACLs every client may READ (3), DELETE (6) and DESCRIBE (8) a group: Kafka's bit per operation.
const ALL_GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);
/// What Kafka answers when authorized operations were not asked for.
const OPERATIONS_NOT_ASKED: i32 = i32::MIN;

impl Handler for DescribeGroups {
    type Request = DescribeGroupsRequest;
    const KEY: ApiKey = ApiKey::DescribeGroups;
    const VERSIONS: (i16, i16) = (0, 6);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: DescribeGroupsRequest) -> Reply {
        let version = header.request_api_version;
        let operations = if request.include_authorized_operations { ALL_GROUP_OPERATIONS } else { OPERATIONS_NOT_ASKED };
        let groups = request
            .groups
            .into_iter()
            .map(|id| {
                let name = id.0.to_string();
                let mut described = DescribedGroup::default().with_group_id(id).with_authorized_operations(operations);
                if let Err(error) = shared.groups.check_coordinator(&name) {
                    // Another broker leads the group's partition (or this one is still loading it).
                    described.error_code = error.code();
                    return described;
                }
                match shared.groups.describe(&name) {
                    Some(d) => {
                        described.group_state = util::str_bytes(d.state);
                        described.protocol_type = util::str_bytes(d.protocol_type);
                        described.protocol_data = util::str_bytes(d.protocol);
                        described.members = d
                            .members
                            .into_iter()
                            .map(|m| {
                                DescribedGroupMember::default()
                                    .with_member_id(util::str_bytes(m.member_id))
                                    .with_group_instance_id(m.group_instance_id.map(util::str_bytes))
                                    .with_client_id(util::str_bytes(m.client_id))
                                    .with_client_host(util::str_bytes(m.client_host))
                                    .with_member_metadata(m.metadata)
                                    .with_member_assignment(m.assignment)
                            })
                            .collect();
                    }
                    None => {
                        // Before v6 an unknown group is described as Dead without error; v6 says it is not there.
                        described.group_state = util::str_bytes("Dead");
                        if version >= 6 {
                            described.error_code = ResponseError::GroupIdNotFound.code();
                            described.error_message = Some(util::str_bytes(format!("group {name} not found")));
                        }
                    }
                }
                described
            })
            .collect();
        Reply::Message(ResponseKind::DescribeGroups(DescribeGroupsResponse::default().with_groups(groups)))
    }
}
