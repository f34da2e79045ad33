//! IncrementalAlterConfigs (key 44): sets, deletes, appends to or subtracts from single topic configs (the
//! resulting set goes through the controller in cluster mode).

use std::sync::Arc;

use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{
    ApiKey, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, RequestHeader, ResponseKind,
};
use kafka_protocol::ResponseError;

use super::cluster::topic_configs;
use super::describe_configs::RESOURCE_TOPIC;
use super::{util, Handler, Reply};
use crate::server::Shared;

pub(crate) struct IncrementalAlterConfigs;

const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

impl Handler for IncrementalAlterConfigs {
    type Request = IncrementalAlterConfigsRequest;
    const KEY: ApiKey = ApiKey::IncrementalAlterConfigs;
    const VERSIONS: (i16, i16) = (0, 1);

    async fn handle(shared: &Arc<Shared>, _header: &RequestHeader, request: IncrementalAlterConfigsRequest) -> Reply {
        let mut response = IncrementalAlterConfigsResponse::default();
        for resource in request.resources {
            let mut result = AlterConfigsResourceResponse::default();
            result.resource_type = resource.resource_type;
            result.resource_name = resource.resource_name.clone();
            if let Err((error, message)) = apply(shared, &resource, request.validate_only).await {
                result.error_code = util::code(error);
                result.error_message = Some(util::str_bytes(message));
            }
            response.responses.push(result);
        }
        Reply::Message(ResponseKind::IncrementalAlterConfigs(response))
    }
}

async fn apply(
    shared: &Arc<Shared>,
    resource: &AlterConfigsResource,
    validate_only: bool,
) -> Result<(), (ResponseError, String)> {
    if resource.resource_type != RESOURCE_TOPIC {
        return Err((ResponseError::InvalidRequest, "only topic configs (resource type 2) can be altered".into()));
    }
    let name = resource.resource_name.as_str();
    let mut overrides = topic_configs::overrides(shared, name)?;
    for c in &resource.configs {
        let key = c.name.to_string();
        let value = c.value.as_ref().map(|v| v.to_string());
        // List configs (cleanup.policy) take APPEND and SUBTRACT of comma-separated items.
        let items = |overrides: &std::collections::BTreeMap<String, String>| -> Vec<String> {
            overrides
                .get(&key)
                .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
                .unwrap_or_default()
        };
        match (c.config_operation, value) {
            (SET, Some(v)) => {
                overrides.insert(key, v);
            }
            (DELETE, _) => {
                overrides.remove(&key);
            }
            (APPEND, Some(v)) => {
                let mut list = items(&overrides);
                if !list.contains(&v) {
                    list.push(v);
                }
                overrides.insert(key, list.join(","));
            }
            (SUBTRACT, Some(v)) => {
                let list: Vec<String> = items(&overrides).into_iter().filter(|i| *i != v).collect();
                overrides.insert(key, list.join(","));
            }
            (op, _) => {
                return Err((
                    ResponseError::InvalidRequest,
                    format!("config {key}: operation {op} needs a value, or is not one of 0 (set), 1 (delete), 2 (append), 3 (subtract)"),
                ))
            }
        }
    }
    topic_configs::replace(shared, name, overrides, validate_only).await
}
