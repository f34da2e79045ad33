//! CreatePartitions (key 37): grows a topic's partition count.

use std::sync::Arc;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{
    ApiKey, CreatePartitionsRequest, CreatePartitionsResponse, RequestHeader, ResponseKind,
};

use super::{util, Handler, Reply};
use crate::server::Shared;

pub(crate) struct CreatePartitions;

impl Handler for CreatePartitions {
    type Request = CreatePartitionsRequest;
    const KEY: ApiKey = ApiKey::CreatePartitions;
    const VERSIONS: (i16, i16) = (0, 3);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: CreatePartitionsRequest) -> Reply {
        let mut response = CreatePartitionsResponse::default();
        for topic in request.topics {
            let mut result = CreatePartitionsTopicResult::default();
            result.name = topic.name.clone();
            if let Err(e) = shared.topics.add_partitions(topic.name.0.as_str(), topic.count, request.validate_only).await {
                result.error_code = util::code(e.code);
                result.error_message = Some(util::str_bytes(e.message));
            }
            response.results.push(result);
        }
        Reply::Message(ResponseKind::CreatePartitions(response))
    }
}
