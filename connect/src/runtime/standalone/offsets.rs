//! `/connectors/{name}/offsets` for a standalone worker: a source connector's offsets live in the worker's
//! [`OffsetStore`]; a sink connector's are its consumer group's (`connect-<name>`) committed offsets, read and
//! changed through rdkafka as any Kafka client would.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::{json, Value};

use crate::connector::Config;
use crate::error::ApiError;
use crate::record::SourceMap;
use crate::runtime::herder::{ConnectorOffsets, PartitionOffset};
use crate::runtime::task::OffsetStore;

/// How long one Kafka request of the offsets API may take.
const KAFKA_TIMEOUT: Duration = Duration::from_secs(30);

/// Kafka Connect's answers to a successful PATCH and DELETE: the framework's offsets changed, and a connector
/// that also keeps offsets elsewhere must be changed there by hand.
pub(crate) const ALTERED: &str =
    "The Connect framework-managed offsets for this connector have been altered successfully. \
     However, if this connector manages offsets externally, they will need to be manually altered in the system that \
     the connector uses.";
pub(crate) const RESET: &str =
    "The Connect framework-managed offsets for this connector have been reset successfully. \
     However, if this connector manages offsets externally, they will need to be manually reset in the system that \
     the connector uses.";

/// The consumer group of a sink connector: `connect-<name>` unless its config overrides `group.id`.
pub(crate) fn sink_group(name: &str, config: &Config) -> String {
    config.get("consumer.override.group.id").cloned().unwrap_or_else(|| format!("connect-{name}"))
}

pub(crate) async fn source_offsets(store: &dyn OffsetStore, name: &str) -> Result<ConnectorOffsets, ApiError> {
    let all =
        store.all(name).await.map_err(|e| ApiError::new(500, format!("cannot read the offsets of {name}: {e}")))?;
    let mut offsets: Vec<PartitionOffset> =
        all.into_iter().map(|(partition, offset)| PartitionOffset { partition, offset: Some(offset) }).collect();
    offsets.sort_by_key(|p| Value::Object(p.partition.clone()).to_string());
    Ok(ConnectorOffsets { offsets })
}

pub(crate) async fn alter_source(
    store: &dyn OffsetStore,
    name: &str,
    offsets: ConnectorOffsets,
    reset: bool,
) -> Result<(), ApiError> {
    let entries: Vec<(SourceMap, Option<SourceMap>)> = if reset {
        let all =
            store.all(name).await.map_err(|e| ApiError::new(500, format!("cannot read the offsets of {name}: {e}")))?;
        all.into_iter().map(|(partition, _)| (partition, None)).collect()
    } else {
        offsets.offsets.into_iter().map(|p| (p.partition, p.offset)).collect()
    };
    if entries.is_empty() {
        return Ok(());
    }
    store.put(name, entries).await.map_err(|e| ApiError::new(500, format!("cannot write the offsets of {name}: {e}")))
}

/// librdkafka settings for a client of the offsets API.
fn client(bootstrap: &str, settings: &BTreeMap<String, String>, group: Option<&str>) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    for (k, v) in settings {
        config.set(k, v);
    }
    if let Some(group) = group {
        config.set("group.id", group).set("enable.auto.commit", "false");
    }
    config
}

fn kafka_failed(doing: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(500, format!("Kafka request failed while {doing}: {e}"))
}

/// The topics a sink consumes now: `topics`, or the cluster's topics `topics.regex` matches in full.
fn sink_topics(consumer: &BaseConsumer, config: &Config) -> Result<Vec<String>, ApiError> {
    if let Some(topics) = config.get("topics").filter(|t| !t.trim().is_empty()) {
        return Ok(topics.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect());
    }
    let Some(pattern) = config.get("topics.regex") else { return Ok(Vec::new()) };
    let regex = regex::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| ApiError::bad_request(format!("topics.regex {pattern:?} is not a regular expression: {e}")))?;
    let metadata = consumer.fetch_metadata(None, KAFKA_TIMEOUT).map_err(|e| kafka_failed("listing topics", e))?;
    Ok(metadata.topics().iter().map(|t| t.name().to_string()).filter(|t| regex.is_match(t)).collect())
}

/// The committed offsets of a sink's group, for the partitions of the topics it is configured to read.
pub(crate) async fn sink_offsets(
    bootstrap: String,
    settings: BTreeMap<String, String>,
    group: String,
    config: Config,
) -> Result<ConnectorOffsets, ApiError> {
    run_blocking(move || {
        let consumer: BaseConsumer =
            client(&bootstrap, &settings, Some(&group)).create().map_err(|e| kafka_failed("creating a consumer", e))?;
        let mut tpl = TopicPartitionList::new();
        for topic in sink_topics(&consumer, &config)? {
            let metadata = consumer
                .fetch_metadata(Some(&topic), KAFKA_TIMEOUT)
                .map_err(|e| kafka_failed(&format!("describing topic {topic}"), e))?;
            for t in metadata.topics() {
                for p in t.partitions() {
                    tpl.add_partition(t.name(), p.id());
                }
            }
        }
        if tpl.count() == 0 {
            return Ok(ConnectorOffsets::default());
        }
        let committed = consumer
            .committed_offsets(tpl, KAFKA_TIMEOUT)
            .map_err(|e| kafka_failed(&format!("reading the offsets of group {group}"), e))?;
        let offsets = committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(offset) => Some(PartitionOffset {
                    partition: sink_partition(e.topic(), e.partition()),
                    offset: Some(object(json!({ "kafka_offset": offset }))),
                }),
                _ => None,
            })
            .collect();
        Ok(ConnectorOffsets { offsets })
    })
    .await
}

fn sink_partition(topic: &str, partition: i32) -> SourceMap {
    object(json!({ "kafka_topic": topic, "kafka_partition": partition }))
}

fn object(value: Value) -> SourceMap {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("bug: json!({{...}}) is always an object"),
    }
}

/// Reads a sink partition `{"kafka_topic": "t", "kafka_partition": 0}` and offset `{"kafka_offset": 5}`.
fn parse_sink_entry(entry: &PartitionOffset) -> Result<(String, i32, Option<i64>), ApiError> {
    let topic = entry.partition.get("kafka_topic").and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Sink connector offsets need partitions with a string `kafka_topic` and an integer `kafka_partition`; got {}",
            Value::Object(entry.partition.clone())
        ))
    })?;
    let partition = entry
        .partition
        .get("kafka_partition")
        .and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
        .and_then(|p| i32::try_from(p).ok())
        .filter(|p| *p >= 0)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "Sink connector offsets need a non-negative integer `kafka_partition`; got {}",
                Value::Object(entry.partition.clone())
            ))
        })?;
    let offset = match &entry.offset {
        None => None,
        Some(offset) => Some(
            offset
                .get("kafka_offset")
                .and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
                .filter(|o| *o >= 0)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Sink connector offsets need a non-negative integer `kafka_offset`; got {}",
                        Value::Object(offset.clone())
                    ))
                })?,
        ),
    };
    Ok((topic.to_string(), partition, offset))
}

/// Commits the given offsets for the sink's (empty: the connector is stopped) group.
pub(crate) async fn alter_sink(
    bootstrap: String,
    settings: BTreeMap<String, String>,
    group: String,
    offsets: ConnectorOffsets,
) -> Result<(), ApiError> {
    let mut tpl = TopicPartitionList::new();
    for entry in &offsets.offsets {
        let (topic, partition, offset) = parse_sink_entry(entry)?;
        let Some(offset) = offset else {
            // Forgetting one partition's offset needs DeleteConsumerGroupOffsets, which rdkafka does not offer.
            return Err(ApiError::bad_request(format!(
                "resetting single partitions of a sink connector (a null offset for {topic}-{partition}) is not \
                 supported yet; reset all of them with DELETE /connectors/{{name}}/offsets, or set an explicit \
                 `kafka_offset`"
            )));
        };
        tpl.add_partition_offset(&topic, partition, Offset::Offset(offset))
            .map_err(|e| ApiError::bad_request(format!("bad offset for {topic}-{partition}: {e}")))?;
    }
    if tpl.count() == 0 {
        return Ok(());
    }
    run_blocking(move || {
        let consumer: BaseConsumer =
            client(&bootstrap, &settings, Some(&group)).create().map_err(|e| kafka_failed("creating a consumer", e))?;
        consumer
            .commit(&tpl, CommitMode::Sync)
            .map_err(|e| kafka_failed(&format!("committing offsets for group {group}"), e))
    })
    .await
}

/// Deletes the sink's consumer group, as Kafka Connect resets a sink's offsets.
pub(crate) async fn reset_sink(
    bootstrap: String,
    settings: BTreeMap<String, String>,
    group: String,
) -> Result<(), ApiError> {
    let admin: AdminClient<DefaultClientContext> =
        client(&bootstrap, &settings, None).create().map_err(|e| kafka_failed("creating an admin client", e))?;
    let options = AdminOptions::new().request_timeout(Some(KAFKA_TIMEOUT));
    let results = admin
        .delete_groups(&[group.as_str()], &options)
        .await
        .map_err(|e| kafka_failed(&format!("deleting group {group}"), e))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::GroupIdNotFound)) => {}
            Err((_, RDKafkaErrorCode::NonEmptyGroup)) => {
                return Err(ApiError::bad_request(format!(
                    "the consumer group {group} of this connector still has members; wait until its tasks have \
                     left the group, then retry"
                )))
            }
            Err((_, code)) => return Err(kafka_failed(&format!("deleting group {group}"), code)),
        }
    }
    Ok(())
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::new(500, format!("bug: the offsets request panicked: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(partition: Value, offset: Option<Value>) -> PartitionOffset {
        PartitionOffset { partition: object(partition), offset: offset.map(object) }
    }

    #[test]
    fn sink_entries_need_topic_partition_and_offset() {
        let ok = entry(json!({"kafka_topic": "t", "kafka_partition": 2}), Some(json!({"kafka_offset": 7})));
        assert_eq!(parse_sink_entry(&ok).expect("valid"), ("t".to_string(), 2, Some(7)));
        let null = entry(json!({"kafka_topic": "t", "kafka_partition": 0}), None);
        assert_eq!(parse_sink_entry(&null).expect("valid"), ("t".to_string(), 0, None));
        for bad in [
            entry(json!({"kafka_partition": 0}), Some(json!({"kafka_offset": 1}))),
            entry(json!({"kafka_topic": "t", "kafka_partition": -1}), Some(json!({"kafka_offset": 1}))),
            entry(json!({"kafka_topic": "t", "kafka_partition": 0}), Some(json!({"offset": 1}))),
            entry(json!({"kafka_topic": "t", "kafka_partition": 0}), Some(json!({"kafka_offset": -5}))),
        ] {
            assert_eq!(parse_sink_entry(&bad).expect_err("invalid").error_code, 400, "{bad:?}");
        }
    }

    #[test]
    fn the_sink_group_is_connect_name_unless_overridden() {
        assert_eq!(sink_group("s", &Config::new()), "connect-s");
        let config = Config::from([("consumer.override.group.id".to_string(), "mine".to_string())]);
        assert_eq!(sink_group("s", &config), "mine");
    }
}
