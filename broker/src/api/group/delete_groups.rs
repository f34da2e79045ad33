//! DeleteGroups (key 42): deletes empty groups and their committed offsets.

use std::sync::Arc;

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{ApiKey, DeleteGroupsRequest, DeleteGroupsResponse, RequestHeader, ResponseKind};

use crate::api::{Handler, Reply};
use crate::server::Shared;

pub(crate) struct DeleteGroups;

impl Handler for DeleteGroups {
    type Request = DeleteGroupsRequest;
    const KEY: ApiKey = ApiKey::DeleteGroups;
    const VERSIONS: (i16, i16) = (0, 2);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: DeleteGroupsRequest) -> Reply {
        let mut results = Vec::with_capacity(request.groups_names.len());
        for id in request.groups_names {
            let group = id.0.as_str();
            let mark = shared.groups.mark(group);
            let result = match shared.groups.delete_group(group) {
                // The tombstones reach the followers before the answer: a new coordinator keeps the group gone.
                Ok(()) => shared.groups.replicated(mark).await,
                Err(error) => Err(error),
            };
            let code = match result {
                Ok(()) => 0,
                Err(error) => {
                    tracing::info!(group, ?error, "DeleteGroups refused");
                    error.code()
                }
            };
            results.push(DeletableGroupResult::default().with_group_id(id).with_error_code(code));
        }
        Reply::Message(ResponseKind::DeleteGroups(DeleteGroupsResponse::default().with_results(results)))
    }
}
