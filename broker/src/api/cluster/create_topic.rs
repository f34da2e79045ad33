//! Creating a topic through the controller (cluster mode), for CreateTopics and Metadata's auto-creation: every
//! check that needs only the request and the current image happens here, before anything is proposed, so a
//! refusal names its cause; the controller's apply re-checks existence at commit time.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::admin::{self, Refusal, MAX_PARTITIONS};
use crate::config::TopicConfig;
use crate::controller::{Controller, MetadataCommand};
use crate::server::Shared;
use crate::topics::validate_topic_name;

/// A topic to create, as the client asked for it (-1 = the broker's default).
#[derive(Debug, Clone)]
pub(crate) struct NewTopic {
    pub(crate) name: String,
    pub(crate) partitions: i32,
    pub(crate) replication_factor: i16,
    /// One replica list per partition, in partition order; empty when the controller places replicas.
    pub(crate) assignments: Vec<Vec<i32>>,
    pub(crate) configs: BTreeMap<String, String>,
}

/// What was (or, validating only, would be) created.
#[derive(Debug, Clone)]
pub(crate) struct Created {
    /// Nil when only validating.
    pub(crate) id: Uuid,
    pub(crate) partitions: i32,
    pub(crate) replication_factor: i16,
    pub(crate) configs: BTreeMap<String, String>,
}

/// Checks `topic` against the current image and, unless `validate_only`, proposes its creation.
pub(crate) async fn create(
    shared: &Shared,
    controller: &Controller,
    topic: NewTopic,
    validate_only: bool,
) -> Result<Created, Refusal> {
    let image = controller.image();
    validate_topic_name(&topic.name).map_err(|m| (ResponseError::InvalidTopicException, m))?;
    let (partitions, replication_factor) = if topic.assignments.is_empty() {
        let partitions = if topic.partitions == -1 { shared.config.num_partitions } else { topic.partitions };
        let rf = if topic.replication_factor == -1 {
            shared.config.default_replication_factor
        } else {
            topic.replication_factor
        };
        admin::check_replication_factor(&image, rf, validate_only)?;
        (partitions, rf)
    } else {
        if topic.partitions != -1 || topic.replication_factor != -1 {
            return Err((
                ResponseError::InvalidRequest,
                "give either a partition count and replication factor or replica assignments, not both".into(),
            ));
        }
        admin::check_assignments(&image, &topic.assignments, None, validate_only)?;
        let rf = i16::try_from(topic.assignments[0].len()).unwrap_or(i16::MAX);
        (i32::try_from(topic.assignments.len()).unwrap_or(i32::MAX), rf)
    };
    if !(1..=MAX_PARTITIONS).contains(&partitions) {
        return Err((
            ResponseError::InvalidPartitions,
            format!("partition count must be between 1 and {MAX_PARTITIONS}, got {partitions}"),
        ));
    }
    TopicConfig::from_overrides(shared.topics.broker_defaults(), &topic.configs)
        .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
    if image.topics.contains_key(&topic.name) {
        return Err((ResponseError::TopicAlreadyExists, format!("topic {:?} already exists", topic.name)));
    }
    if validate_only {
        return Ok(Created { id: Uuid::nil(), partitions, replication_factor, configs: topic.configs });
    }
    let id = Uuid::new_v4();
    let command = MetadataCommand::CreateTopic {
        name: topic.name.clone(),
        id,
        partitions,
        replication_factor,
        assignments: (!topic.assignments.is_empty()).then_some(topic.assignments),
        configs: topic.configs.clone(),
    };
    admin::propose_simple(controller, command).await?;
    tracing::info!(topic = %topic.name, partitions, replication_factor, "created topic through the controller");
    Ok(Created { id, partitions, replication_factor, configs: topic.configs })
}

/// Metadata's auto-creation: the broker's partition count, and its default replication factor capped at the
/// live brokers so that a cluster short of brokers still gets the topic (Kafka caps it the same way only for
/// its internal topics; doing it here keeps auto-created topics usable while a broker is down).
pub(crate) async fn auto_create(shared: &Arc<Shared>, controller: &Controller, name: &str) -> Result<(), Refusal> {
    let live = controller.image().live_brokers().len();
    let replication_factor =
        shared.config.default_replication_factor.min(i16::try_from(live).unwrap_or(i16::MAX)).max(1);
    let topic = NewTopic {
        name: name.to_string(),
        partitions: shared.config.num_partitions,
        replication_factor,
        assignments: Vec::new(),
        configs: BTreeMap::new(),
    };
    create(shared, controller, topic, false).await.map(|_| ())
}
