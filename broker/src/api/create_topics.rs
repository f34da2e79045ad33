//! CreateTopics (key 19): creates topics with a partition count (or explicit replica assignments), a
//! replication factor and config overrides. Cluster mode proposes each creation to the controller; a single
//! broker creates the topic in its registry.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use kafka_protocol::messages::{ApiKey, CreateTopicsRequest, CreateTopicsResponse, RequestHeader, ResponseKind};
use kafka_protocol::ResponseError;

use super::cluster::admin::Refusal;
use super::cluster::create_topic::{self, Created, NewTopic};
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
            let outcome = match &shared.controller {
                Some(controller) => match cluster_request(&topic) {
                    Ok(new) => create_topic::create(shared, controller, new, request.validate_only).await,
                    Err(refusal) => Err(refusal),
                },
                None => create_one(shared, &topic, request.validate_only).await,
            };
            match outcome {
                Ok(created) => {
                    result.topic_id = created.id;
                    result.num_partitions = created.partitions;
                    result.replication_factor = created.replication_factor;
                    // v5+ returns the topic's effective configs so clients need not ask again.
                    if version >= 5 {
                        let entries = TopicConfig::describe(shared.topics.broker_defaults(), &created.configs);
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

/// The request's topic in the controller's terms: assignments in partition order (they must number the
/// partitions 0, 1, 2, ...), configs without null values (a null value means nothing at creation).
fn cluster_request(topic: &CreatableTopic) -> Result<NewTopic, Refusal> {
    let mut assignments: Vec<_> = topic.assignments.iter().collect();
    assignments.sort_by_key(|a| a.partition_index);
    for (expected, a) in (0..).zip(&assignments) {
        if a.partition_index != expected {
            return Err((
                ResponseError::InvalidReplicaAssignment,
                format!("replica assignments must number the partitions 0, 1, 2, ...; partition {expected} is missing or listed twice"),
            ));
        }
    }
    let mut configs = BTreeMap::new();
    for c in &topic.configs {
        match &c.value {
            Some(value) => configs.insert(c.name.to_string(), value.to_string()),
            None => {
                return Err((ResponseError::InvalidConfig, format!("config {}: a null value is not allowed", c.name)))
            }
        };
    }
    Ok(NewTopic {
        name: topic.name.0.to_string(),
        partitions: topic.num_partitions,
        replication_factor: topic.replication_factor,
        assignments: assignments.iter().map(|a| a.broker_ids.iter().map(|b| b.0).collect()).collect(),
        configs,
    })
}

/// A single broker: the topic goes straight into the local registry.
async fn create_one(shared: &Arc<Shared>, topic: &CreatableTopic, validate_only: bool) -> Result<Created, Refusal> {
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
    Ok(Created { id: created.id, partitions, replication_factor: 1, configs: created.overrides() })
}
