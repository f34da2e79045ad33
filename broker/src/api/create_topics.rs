//! CreateTopics (key 19): creates topics with a partition count and config overrides.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use kafka_protocol::messages::{ApiKey, CreateTopicsRequest, CreateTopicsResponse, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use super::{util, Handler, Reply};
use crate::config::TopicConfig;
use crate::server::Shared;

pub(crate) struct CreateTopics;

impl Handler for CreateTopics {
    type Request = CreateTopicsRequest;
    const KEY: ApiKey = ApiKey::CreateTopics;
    const VERSIONS: (i16, i16) = (2, 7);

    async fn handle(shared: &Arc<Shared>, header: &RequestHeader, request: CreateTopicsRequest) -> Reply {
        let version = header.request_api_version;
        let mut response = CreateTopicsResponse::default();
        for topic in request.topics {
            let name = topic.name.0.to_string();
            let mut result = CreatableTopicResult::default();
            result.name = topic.name.clone();
            result.num_partitions = -1;
            result.replication_factor = -1;
            let outcome = create_one(shared, &topic, request.validate_only).await;
            match outcome {
                Ok((id, partitions, configs)) => {
                    result.topic_id = id;
                    result.num_partitions = partitions;
                    result.replication_factor = 1;
                    // v5+ returns the topic's effective configs so clients need not ask again.
                    if version >= 5 {
                        let entries = TopicConfig::describe(shared.topics.broker_defaults(), &configs);
                        result.configs = Some(
                            entries
                                .into_iter()
                                .map(|e| {
                                    let mut c = CreatableTopicConfigs::default();
                                    c.name = util::str_bytes(e.name);
                                    c.value = Some(util::str_bytes(e.value));
                                    c.config_source = e.source.kafka_code();
                                    c
                                })
                                .collect(),
                        );
                    }
                }
                Err((error, message)) => {
                    tracing::info!(topic = %name, error = ?error, %message, "CreateTopics refused");
                    result.error_code = util::code(error);
                    result.error_message = Some(util::str_bytes(message));
                }
            }
            response.topics.push(result);
        }
        Reply::Message(ResponseKind::CreateTopics(response))
    }
}

async fn create_one(
    shared: &Arc<Shared>,
    topic: &kafka_protocol::messages::create_topics_request::CreatableTopic,
    validate_only: bool,
) -> Result<(uuid::Uuid, i32, BTreeMap<String, String>), (ResponseError, String)> {
    // One broker holds one copy: a larger replication factor cannot be honoured, so refuse it.
    if topic.replication_factor > 1 {
        return Err((
            ResponseError::InvalidReplicationFactor,
            format!("replication factor {} is larger than the 1 available broker", topic.replication_factor),
        ));
    }
    let partitions = if !topic.assignments.is_empty() {
        topic.assignments.len() as i32
    } else if topic.num_partitions == -1 {
        shared.config.num_partitions
    } else {
        topic.num_partitions
    };
    let mut configs = BTreeMap::new();
    for c in &topic.configs {
        if let Some(value) = &c.value {
            configs.insert(c.name.to_string(), value.to_string());
        }
    }
    let created = shared
        .topics
        .create(topic.name.0.as_str(), partitions, configs, validate_only)
        .await
        .map_err(|e| (e.code, e.message))?;
    Ok((created.id, partitions, created.overrides()))
}
