//! The coordinators' internal topics, `__consumer_offsets` and `__transaction_state`: their settings, their
//! creation through the controller in cluster mode, and FindCoordinator's answer (the leader of the key's
//! partition).
//!
//! In cluster mode the topics are created lazily, on the first FindCoordinator that needs one, as Kafka does:
//! by then every broker of a freshly started cluster has usually registered, so the replication factor
//! `min(configured, live brokers)` is the configured one. Several brokers may propose the creation at once; the
//! controller applies the first and refuses the others with TOPIC_ALREADY_EXISTS, which is fine.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError;
use uuid::Uuid;

use crate::controller::{CommandResult, Controller, MetadataCommand, NO_LEADER};
use crate::BrokerConfig;

/// One internal topic's name and creation settings.
#[derive(Debug, Clone)]
pub(crate) struct InternalTopic {
    pub(crate) name: &'static str,
    pub(crate) partitions: i32,
    pub(crate) replication_factor: i16,
}

impl InternalTopic {
    /// `__consumer_offsets`.
    pub(crate) fn offsets(config: &BrokerConfig) -> Self {
        Self {
            name: super::group::OFFSETS_TOPIC,
            partitions: config.offsets_topic_num_partitions,
            replication_factor: config.offsets_topic_replication_factor,
        }
    }

    /// `__transaction_state`.
    pub(crate) fn transactions(config: &BrokerConfig) -> Self {
        Self {
            name: super::txn::TOPIC,
            partitions: config.transaction_state_num_partitions,
            replication_factor: config.transaction_state_replication_factor,
        }
    }

    /// The topic's config overrides: compacted (the last record per key is the state), and for the transaction
    /// log Kafka's smaller segments, so compaction gets to run.
    pub(crate) fn configs(&self) -> BTreeMap<String, String> {
        let mut configs = BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]);
        if self.name == super::txn::TOPIC {
            configs.insert("segment.bytes".to_string(), (100 * 1024 * 1024).to_string());
        }
        configs
    }
}

/// Kafka's mapping of a group id or transactional id to its partition: `abs(key.hashCode()) % n`, where
/// `hashCode` is Java's `String.hashCode` over UTF-16 code units and `abs(Integer.MIN_VALUE)` counts as 0.
pub(crate) fn partition_for(key: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for unit in key.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

/// Where a coordinator runs: node id, host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CoordinatorAddress {
    pub(crate) node_id: i32,
    pub(crate) host: String,
    pub(crate) port: i32,
}

/// FindCoordinator in cluster mode: the leader of `key`'s partition of `topic`, creating the topic first if the
/// image does not have it. COORDINATOR_NOT_AVAILABLE while the topic cannot be created (no quorum) or the
/// partition has no live leader: clients retry.
pub(crate) async fn find_coordinator(
    controller: &Controller,
    topic: &InternalTopic,
    key: &str,
) -> Result<CoordinatorAddress, ResponseError> {
    if !controller.image().topics.contains_key(topic.name) {
        create(controller, topic).await;
    }
    let image = controller.image();
    let record = image.topics.get(topic.name).ok_or(ResponseError::CoordinatorNotAvailable)?;
    let count = i32::try_from(record.partitions.len()).unwrap_or(i32::MAX);
    let partition = partition_for(key, count);
    let leader = image.partition(topic.name, partition).map_or(NO_LEADER, |p| p.leader);
    if leader == NO_LEADER {
        return Err(ResponseError::CoordinatorNotAvailable);
    }
    let broker = image.brokers.get(&leader).filter(|b| !b.fenced).ok_or(ResponseError::CoordinatorNotAvailable)?;
    Ok(CoordinatorAddress { node_id: broker.id, host: broker.host.clone(), port: broker.port })
}

/// Proposes the creation of `topic`, with the replication factor capped by the live brokers. Failures are
/// logged: the caller answers COORDINATOR_NOT_AVAILABLE and the client's retry tries again.
async fn create(controller: &Controller, topic: &InternalTopic) {
    // One proposal at a time from this process: a burst of FindCoordinators waits for the first creation instead
    // of sending the quorum one doomed duplicate each.
    static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = CREATING.lock().await;
    let image = controller.image();
    if image.topics.contains_key(topic.name) {
        return;
    }
    let live = i16::try_from(image.live_brokers().len()).unwrap_or(i16::MAX);
    if live == 0 {
        tracing::info!(topic = topic.name, "no live broker registered yet; cannot create the internal topic");
        return;
    }
    let replication_factor = topic.replication_factor.clamp(1, live);
    if replication_factor < topic.replication_factor {
        tracing::warn!(
            topic = topic.name,
            configured = topic.replication_factor,
            live,
            "creating an internal topic with fewer replicas than configured: not enough live brokers"
        );
    }
    let command = MetadataCommand::CreateTopic {
        name: topic.name.to_string(),
        id: Uuid::new_v4(),
        partitions: topic.partitions,
        replication_factor,
        assignments: None,
        configs: topic.configs(),
    };
    match controller.propose(command).await {
        Ok(CommandResult::Ok) => {
            tracing::info!(
                topic = topic.name,
                partitions = topic.partitions,
                replication_factor,
                "created internal topic"
            )
        }
        Ok(CommandResult::Refused { code, .. }) if code == ResponseError::TopicAlreadyExists.code() => {}
        Ok(other) => tracing::warn!(topic = topic.name, ?other, "the controller refused to create an internal topic"),
        Err(e) => tracing::warn!(topic = topic.name, error = %e, "cannot create an internal topic"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_like_kafka() {
        // Java: "group".hashCode() = 98629247; 98629247 % 50 = 47; "hello".hashCode() = 99162322.
        assert_eq!(partition_for("group", 50), 47);
        assert_eq!(partition_for("hello", 50), 99_162_322 % 50);
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE: Kafka's abs gives 0.
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        assert_eq!(partition_for("", 50), 0);
        assert_eq!(partition_for("anything", 1), 0);
        // Never negative, whatever the hash.
        assert!((0..1000).all(|i| (0..7).contains(&partition_for(&format!("k{i}"), 7))));
    }

    #[test]
    fn internal_topics_are_compacted() {
        let config = BrokerConfig::default();
        assert_eq!(
            InternalTopic::offsets(&config).configs().get("cleanup.policy").map(String::as_str),
            Some("compact")
        );
        let txn = InternalTopic::transactions(&config).configs();
        assert_eq!(txn.get("segment.bytes").map(String::as_str), Some("104857600"));
    }
}
