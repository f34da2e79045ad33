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
        let results = request
            .groups_names
            .into_iter()
            .map(|id| {
                let code = match shared.groups.delete_group(id.0.as_str()) {
                    Ok(()) => 0,
                    Err(error) => {
                        tracing::info!(group = %id.0.as_str(), ?error, "DeleteGroups refused");
                        error.code()
                    }
                };
                DeletableGroupResult::default().with_group_id(id).with_error_code(code)
            })
            .collect();
        Reply::Message(ResponseKind::DeleteGroups(DeleteGroupsResponse::default().with_results(results)))
    }
}
