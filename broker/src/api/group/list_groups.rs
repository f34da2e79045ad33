//! ListGroups (key 16): every group, optionally filtered by state (v4+) and type (v5+).

use std::sync::Arc;

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{ApiKey, GroupId, ListGroupsRequest, ListGroupsResponse, RequestHeader, ResponseKind};

use crate::api::{util, Handler, Reply};
use crate::server::Shared;

pub(crate) struct ListGroups;

impl Handler for ListGroups {
    type Request = ListGroupsRequest;
    const KEY: ApiKey = ApiKey::ListGroups;
    const VERSIONS: (i16, i16) = (0, 5);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: ListGroupsRequest) -> Reply {
        // Kafka matches both filters without regard to case; an empty filter lets everything through.
        let states: Vec<String> = request.states_filter.iter().map(|s| s.to_lowercase()).collect();
        let types: Vec<String> = request.types_filter.iter().map(|s| s.to_lowercase()).collect();
        let groups = shared
            .groups
            .list()
            .into_iter()
            .filter(|g| states.is_empty() || states.contains(&g.state.to_lowercase()))
            .filter(|g| types.is_empty() || types.iter().any(|t| t == g.group_type))
            .map(|g| {
                ListedGroup::default()
                    .with_group_id(GroupId(util::str_bytes(g.group_id)))
                    .with_protocol_type(util::str_bytes(g.protocol_type))
                    .with_group_state(util::str_bytes(g.state))
                    .with_group_type(util::str_bytes(g.group_type))
            })
            .collect();
        Reply::Message(ResponseKind::ListGroups(ListGroupsResponse::default().with_groups(groups)))
    }
}
