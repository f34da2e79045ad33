//! Topic creation by source connectors (`topic.creation.*`, KIP-158) against a real broker: datagen sources
//! create their topics before the first record, with the default group's partitions or, for topics a group
//! includes, that group's partitions and topic configs (`cleanup.policy=compact`); a topic that already exists
//! keeps its partitions and configs. A group's -1 counts take the broker's defaults.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use serde_json::json;

use crate::support::{wait_until, TestBroker, TestWorker, WAIT};

const RECORDS: i64 = 5;

/// What the broker says of a topic: partitions, two of its configs, and records written over all partitions.
#[derive(Debug, PartialEq)]
struct TopicState {
    partitions: usize,
    cleanup_policy: String,
    retention_ms: String,
    records: i64,
}

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("create an admin client")
}

/// The topic's state, or why it cannot be read yet (it may not exist until the source's first record).
async fn topic_state(bootstrap: &str, topic: &str) -> Result<TopicState, String> {
    let configs = admin(bootstrap)
        .describe_configs([&ResourceSpecifier::Topic(topic)], &AdminOptions::new())
        .await
        .map_err(|e| format!("describe configs: {e}"))?;
    let resource = configs.into_iter().next().ok_or("no describe answer")?.map_err(|e| format!("describe: {e}"))?;
    let config =
        |name: &str| resource.get(name).and_then(|e| e.value.clone()).ok_or(format!("no {name} in the answer"));
    let (cleanup_policy, retention_ms) = (config("cleanup.policy")?, config("retention.ms")?);
    let (bootstrap, topic) = (bootstrap.to_string(), topic.to_string());
    let (partitions, records) = tokio::task::spawn_blocking(move || -> Result<(usize, i64), String> {
        let consumer: BaseConsumer =
            ClientConfig::new().set("bootstrap.servers", &bootstrap).create().map_err(|e| e.to_string())?;
        let timeout = Duration::from_secs(5);
        let metadata = consumer.fetch_metadata(Some(&topic), timeout).map_err(|e| format!("metadata: {e}"))?;
        let partitions = metadata.topics().first().map_or(0, |t| t.partitions().len());
        let mut records = 0;
        for partition in 0..partitions as i32 {
            let (low, high) =
                consumer.fetch_watermarks(&topic, partition, timeout).map_err(|e| format!("watermarks: {e}"))?;
            records += high - low;
        }
        Ok((partitions, records))
    })
    .await
    .expect("metadata thread")?;
    Ok(TopicState { partitions, cleanup_policy, retention_ms, records })
}

/// Waits until every record of a source reached `topic`; answers the topic's state then.
async fn wait_records(bootstrap: &str, topic: &str) -> TopicState {
    wait_until(WAIT, &format!("{RECORDS} records are in {topic}"), || async {
        match topic_state(bootstrap, topic).await {
            Ok(state) if state.records >= RECORDS => Ok(state),
            Ok(state) => Err(format!("{state:?}")),
            Err(e) => Err(e),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sources_create_their_topics_by_group_and_leave_existing_ones_alone() {
    let broker = TestBroker::start().await;
    let existing = NewTopic::new("kept", 2, TopicReplication::Fixed(1));
    let created = admin(&broker.bootstrap)
        .create_topics([&existing], &AdminOptions::new())
        .await
        .expect("create the existing topic");
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    let worker = TestWorker::start(&broker.bootstrap).await;

    let sources =
        [("gen-events", "events"), ("gen-state", "state-orders"), ("gen-logs", "logs-app"), ("gen-kept", "kept")];
    for (name, topic) in sources {
        worker
            .rest
            .create(
                name,
                json!({
                    "connector.class": "datagen",
                    "kafka.topic": topic,
                    "quickstart": "users",
                    "iterations": RECORDS.to_string(),
                    "max.interval": "1",
                    "topic.creation.default.replication.factor": "1",
                    "topic.creation.default.partitions": "3",
                    "topic.creation.groups": "compacted,logs",
                    "topic.creation.compacted.include": "state-.*",
                    "topic.creation.compacted.partitions": "2",
                    "topic.creation.compacted.cleanup.policy": "compact",
                    "topic.creation.logs.include": "logs-.*",
                    "topic.creation.logs.partitions": "-1",
                    "topic.creation.logs.replication.factor": "-1",
                    "topic.creation.logs.retention.ms": "3600000",
                }),
            )
            .await;
    }

    let events = wait_records(&broker.bootstrap, "events").await;
    assert_eq!((events.partitions, events.cleanup_policy.as_str()), (3, "delete"), "the default group: {events:?}");
    let state = wait_records(&broker.bootstrap, "state-orders").await;
    assert_eq!((state.partitions, state.cleanup_policy.as_str()), (2, "compact"), "the compacted group: {state:?}");
    let logs = wait_records(&broker.bootstrap, "logs-app").await;
    assert_eq!((logs.partitions, logs.retention_ms.as_str()), (1, "3600000"), "the broker's default count: {logs:?}");
    let kept = wait_records(&broker.bootstrap, "kept").await;
    assert_eq!((kept.partitions, kept.cleanup_policy.as_str()), (2, "delete"), "left as it was: {kept:?}");
    assert_eq!((events.retention_ms.as_str(), kept.retention_ms.as_str()), ("604800000", "604800000"));
    for (name, _) in sources {
        worker.rest.wait_state(name, "RUNNING", Some(1)).await;
    }

    // Bad settings are refused at create, naming the setting.
    let (code, body) = worker
        .rest
        .call(
            reqwest::Method::POST,
            "/connectors",
            Some(json!({"name": "bad", "config": {
                "connector.class": "datagen",
                "kafka.topic": "x",
                "quickstart": "users",
                "topic.creation.default.partitions": "0",
            }})),
        )
        .await;
    let message = body["message"].as_str().unwrap_or_default();
    assert_eq!(code, 400, "{body}");
    assert!(message.contains("topic.creation.default.partitions"), "{message}");
    assert!(message.contains("topic.creation.default.replication.factor"), "{message}");

    worker.stop().await;
    broker.stop().await;
}
