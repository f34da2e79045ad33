//! DeleteTopics (key 20): deletes topics, by name or (v6+) by id, with their data. Cluster mode proposes each
//! deletion to the controller (every broker then drops its logs); a single broker deletes from its registry.

use std::sync::Arc;

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{ApiKey, DeleteTopicsRequest, DeleteTopicsResponse, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use super::cluster::admin::{self, Refusal};
use super::cluster::view::ClusterView;
use super::{util, Handler, Reply};
use crate::controller::MetadataCommand;
use crate::server::Shared;

pub(crate) struct DeleteTopics;

impl Handler for DeleteTopics {
    type Request = DeleteTopicsRequest;
    const KEY: ApiKey = ApiKey::DeleteTopics;
    const VERSIONS: (i16, i16) = (1, 6);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: DeleteTopicsRequest) -> Reply {
        let version = header.request_api_version;
        // v6 names topics in `topics` (by name or id); earlier versions list names in `topic_names`.
        let wanted: Vec<(Option<String>, uuid::Uuid)> = if version >= 6 {
            request.topics.into_iter().map(|t| (t.name.map(|n| n.0.to_string()), t.topic_id)).collect()
        } else {
            request.topic_names.into_iter().map(|n| (Some(n.0.to_string()), uuid::Uuid::nil())).collect()
        };
        let mut response = DeleteTopicsResponse::default();
        for (name, id) in wanted {
            let mut result = DeletableTopicResult::default();
            result.topic_id = id;
            let name = match name {
                Some(name) => Some(name),
                None => ClusterView::of(shared).topic_by_id(id).map(|t| t.name),
            };
            match name {
                None => result.error_code = util::code(ResponseError::UnknownTopicId),
                Some(name) => {
                    result.name = Some(util::topic_name(&name));
                    match delete(shared, &name).await {
                        Ok(deleted_id) => result.topic_id = deleted_id,
                        Err((code, message)) => {
                            result.error_code = util::code(code);
                            result.error_message = Some(util::str_bytes(message));
                        }
                    }
                }
            }
            response.responses.push(result);
        }
        Reply::Message(ResponseKind::DeleteTopics(response))
    }
}

/// Deletes `name`; returns its id.
async fn delete(shared: &Shared, name: &str) -> Result<uuid::Uuid, Refusal> {
    let Some(controller) = &shared.controller else {
        return shared.topics.delete(name).await.map_err(|e| (e.code, e.message));
    };
    let id = controller
        .image()
        .topics
        .get(name)
        .map(|t| t.id)
        .ok_or_else(|| (ResponseError::UnknownTopicOrPartition, format!("topic {name:?} does not exist")))?;
    admin::propose_simple(controller, MetadataCommand::DeleteTopic { name: name.to_string() }).await?;
    tracing::info!(topic = name, "deleted topic through the controller");
    Ok(id)
}
