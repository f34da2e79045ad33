//! AlterConfigs (key 33): replaces a topic's config overrides with the given set (through the controller in
//! cluster mode).

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse, ApiKey, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use super::cluster::topic_configs;
use super::describe_configs::RESOURCE_TOPIC;
use super::{util, Handler, Reply};
use crate::server::Shared;

pub(crate) struct AlterConfigs;

impl Handler for AlterConfigs {
    type Request = AlterConfigsRequest;
    const KEY: ApiKey = ApiKey::AlterConfigs;
    const VERSIONS: (i16, i16) = (0, 2);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: AlterConfigsRequest) -> Reply {
        let mut response = AlterConfigsResponse::default();
        for resource in request.resources {
            let mut result = AlterConfigsResourceResponse::default();
            result.resource_type = resource.resource_type;
            result.resource_name = resource.resource_name.clone();
            if resource.resource_type != RESOURCE_TOPIC {
                result.error_code = util::code(ResponseError::InvalidRequest);
                result.error_message =
                    Some(util::str_bytes("only topic configs (resource type 2) can be altered on this broker"));
            } else {
                // Non-incremental semantics: the request is the whole new set of overrides.
                let overrides: BTreeMap<String, String> = resource
                    .configs
                    .iter()
                    .filter_map(|c| c.value.as_ref().map(|v| (c.name.to_string(), v.to_string())))
                    .collect();
                let name = resource.resource_name.as_str();
                if let Err((code, message)) =
                    topic_configs::replace(shared, name, overrides, request.validate_only).await
                {
                    result.error_code = util::code(code);
                    result.error_message = Some(util::str_bytes(message));
                }
            }
            response.responses.push(result);
        }
        Reply::Message(ResponseKind::AlterConfigs(response))
    }
}
