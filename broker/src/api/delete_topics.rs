//! DeleteTopics (key 20): deletes topics, by name or (v6+) by id, with their data.

use std::sync::Arc;

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{ApiKey, DeleteTopicsRequest, DeleteTopicsResponse, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use super::{util, Handler, Reply};
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
                None => shared.topics.get_by_id(id).map(|t| t.name.clone()),
            };
            match name {
                None => result.error_code = util::code(ResponseError::UnknownTopicId),
                Some(name) => {
                    result.name = Some(util::topic_name(&name));
                    match shared.topics.delete(&name).await {
                        Ok(deleted_id) => result.topic_id = deleted_id,
                        Err(e) => {
                            result.error_code = util::code(e.code);
                            result.error_message = Some(util::str_bytes(e.message));
                        }
                    }
                }
            }
            response.responses.push(result);
        }
        Reply::Message(ResponseKind::DeleteTopics(response))
    }
}
