//! The task runners against a real in-process broker, driven directly (no worker): source records land in
//! Kafka with their offsets committed; a sink gets every record and its offsets are committed only after its
//! flush; a poison record goes to the DLQ with context headers (`errors.tolerance=all`) or fails the task
//! (`none`); an exactly-once source commits records and offsets together across a task restart. The tasks
//! here are small test implementations of our own traits.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::json;
use sluice_connect::connector::{Config, SinkTask, SourceTask, SourceTaskContext};
use sluice_connect::data::Value;
use sluice_connect::error::ConnectError;
use sluice_connect::record::{ConnectRecord, SinkRecord, SourceMap, SourceRecord, TopicPartition};
use sluice_connect::runtime::herder::{State, TaskId};
use sluice_connect::runtime::offsets::{FileOffsetStore, KafkaOffsetStore, OffsetsTopicConfig};
use sluice_connect::runtime::task::{
    start_sink_task, start_source_task, OffsetStore, StatusListener, TaskSpec, WorkerContext,
};
use tokio::sync::Semaphore;

use crate::support::{produce, read_topic, wait_until, TestBroker, WAIT};

const STRING_CONVERTER: &str = "org.apache.kafka.connect.storage.StringConverter";
const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
const POISON: &[u8] = b"this is {not json";

/// Every state change reported, in order.
#[derive(Default)]
struct Statuses(Mutex<Vec<(TaskId, State, Option<String>)>>);

impl StatusListener for Statuses {
    fn task_state(&self, id: &TaskId, state: State, trace: Option<String>) {
        self.0.lock().push((id.clone(), state, trace));
    }
}

impl Statuses {
    fn last(&self) -> Option<(State, Option<String>)> {
        self.0.lock().last().map(|(_, s, t)| (*s, t.clone()))
    }

    async fn wait_for(&self, state: State) -> Option<String> {
        wait_until(WAIT, &format!("the task reports {state:?}"), || async {
            match self.last() {
                Some((s, trace)) if s == state => Ok(trace),
                other => Err(format!("{other:?}")),
            }
        })
        .await
    }
}

fn context(broker: &TestBroker, offsets: Arc<dyn OffsetStore>, status: Arc<Statuses>) -> Arc<WorkerContext> {
    Arc::new(WorkerContext {
        worker_id: "127.0.0.1:0".to_string(),
        bootstrap_servers: broker.bootstrap.clone(),
        client_config: BTreeMap::new(),
        offsets,
        status,
        progress: Default::default(),
    })
}

fn spec(connector: &str, pairs: &[(&str, &str)]) -> TaskSpec {
    TaskSpec {
        id: TaskId { connector: connector.to_string(), task: 0 },
        connector_config: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        task_config: Config::new(),
    }
}

fn map(v: serde_json::Value) -> SourceMap {
    v.as_object().expect("an object").clone()
}

/// Emits `v<n>` records to `topic`, `batch` per poll, up to `until` (exclusive), resuming after its committed
/// offset `{"n": last}` of partition `{"p": "counter"}`; `fail_at` makes the poll that would emit it fail.
struct CountingSource {
    topic: String,
    next: u64,
    until: u64,
    batch: u64,
    fail_at: Option<u64>,
    commits: Arc<Mutex<u64>>,
}

impl CountingSource {
    fn new(topic: &str, until: u64, batch: u64) -> CountingSource {
        CountingSource { topic: topic.to_string(), next: 0, until, batch, fail_at: None, commits: Arc::default() }
    }
}

fn counter_partition() -> SourceMap {
    map(json!({"p": "counter"}))
}

#[async_trait]
impl SourceTask for CountingSource {
    async fn start(&mut self, _config: &Config, context: &dyn SourceTaskContext) -> Result<(), ConnectError> {
        if let Some(offset) = context.offset(&counter_partition()).await? {
            self.next = offset["n"].as_u64().expect("n is a number") + 1;
        }
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        if self.next >= self.until {
            // Nothing more now: answer within the poll budget so stop and pause stay prompt.
            tokio::time::sleep(Duration::from_millis(20)).await;
            return Ok(Vec::new());
        }
        let end = (self.next + self.batch).min(self.until);
        if self.fail_at.is_some_and(|f| (self.next..end).contains(&f)) {
            return Err(ConnectError::connector("the counter broke"));
        }
        let records = (self.next..end)
            .map(|n| SourceRecord {
                record: ConnectRecord::new(&self.topic, Value::String(format!("k{n}")), Value::String(format!("v{n}"))),
                source_partition: counter_partition(),
                source_offset: map(json!({"n": n})),
            })
            .collect();
        self.next = end;
        Ok(records)
    }

    async fn commit(&mut self) -> Result<(), ConnectError> {
        *self.commits.lock() += 1;
        Ok(())
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

/// What a recording sink saw.
#[derive(Default)]
struct Seen {
    values: Mutex<Vec<String>>,
    flushes: Mutex<Vec<HashMap<TopicPartition, i64>>>,
}

/// Keeps the value of every record put; each flush waits for a permit of `gate` (when given), so a test can
/// look at the committed offsets while a flush is pending.
struct RecordingSink {
    seen: Arc<Seen>,
    gate: Option<Arc<Semaphore>>,
}

#[async_trait]
impl SinkTask for RecordingSink {
    async fn start(&mut self, _config: &Config) -> Result<(), ConnectError> {
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), ConnectError> {
        let mut values = self.seen.values.lock();
        for r in records {
            values.push(match &r.record.value {
                Value::String(s) => s.clone(),
                other => format!("{other:?}"),
            });
        }
        Ok(())
    }

    async fn flush(&mut self, offsets: &HashMap<TopicPartition, i64>) -> Result<(), ConnectError> {
        self.seen.flushes.lock().push(offsets.clone());
        if let Some(gate) = &self.gate {
            gate.acquire().await.expect("the gate stays open").forget();
        }
        Ok(())
    }

    async fn stop(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
}

/// The committed offset of `topic`-0 for consumer group `group` (`None`: nothing committed).
async fn committed(bootstrap: &str, group: &str, topic: &str) -> Option<i64> {
    let (bootstrap, group, topic) = (bootstrap.to_string(), group.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", &group)
            .create()
            .expect("create a consumer");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&topic, 0);
        let offsets = consumer.committed_offsets(tpl, Duration::from_secs(10)).expect("read committed offsets");
        match offsets.find_partition(&topic, 0).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => Some(o),
            _ => None,
        }
    })
    .await
    .expect("reader thread")
}

/// Values of `topic`-0 read with `read_committed` from the start until the partition's end.
async fn committed_values(bootstrap: &str, topic: &str) -> Vec<String> {
    let (bootstrap, topic) = (bootstrap.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "runtime-it-eos-reader")
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .create()
            .expect("create a consumer");
        let (_, end) = consumer.fetch_watermarks(&topic, 0, Duration::from_secs(10)).expect("watermarks");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Beginning).expect("assign");
        consumer.assign(&tpl).expect("assign");
        let deadline = std::time::Instant::now() + WAIT;
        let mut out = Vec::new();
        loop {
            let position = consumer.position().expect("position");
            if matches!(position.find_partition(&topic, 0).map(|e| e.offset()), Some(Offset::Offset(o)) if o >= end) {
                return out;
            }
            assert!(std::time::Instant::now() < deadline, "timed out reading {topic} to {end}; got {out:?}");
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
            }
        }
    })
    .await
    .expect("reader thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn source_records_land_in_kafka_and_offsets_are_committed() {
    let broker = TestBroker::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let offsets: Arc<dyn OffsetStore> = Arc::new(FileOffsetStore::open(dir.path().join("offsets.json")).expect("open"));
    let status = Arc::new(Statuses::default());
    let ctx = context(&broker, offsets.clone(), status.clone());
    let config = [
        ("key.converter", STRING_CONVERTER),
        ("value.converter", STRING_CONVERTER),
        ("offset.flush.interval.ms", "100"),
    ];

    let task = CountingSource::new("counted", 10, 4);
    let commits = task.commits.clone();
    let handle = start_source_task(ctx.clone(), spec("counter", &config), Box::new(task));
    status.wait_for(State::Running).await;
    let values: Vec<_> = read_topic(&broker.bootstrap, "counted", 10).await.into_iter().map(|r| r.payload).collect();
    let expected: Vec<_> = (0..10).map(|n| Some(format!("v{n}").into_bytes())).collect();
    assert_eq!(values, expected);
    wait_until(WAIT, "the last offset is committed and the task told", || async {
        let offset = offsets.get("counter", &counter_partition()).await.map_err(|e| e.to_string())?;
        match offset {
            Some(o) if o == map(json!({"n": 9})) && *commits.lock() > 0 => Ok(()),
            other => Err(format!("offset {other:?}, commits {}", commits.lock())),
        }
    })
    .await;

    handle.pause();
    status.wait_for(State::Paused).await;
    assert_eq!(handle.state(), State::Paused);
    handle.resume();
    status.wait_for(State::Running).await;
    let metrics = handle.metrics();
    assert_eq!((metrics.records_read, metrics.records_processed, metrics.records_failed), (10, 10, 0));
    handle.stop().await;
    assert_eq!(status.last(), Some((State::Unassigned, None)));

    // A new task instance resumes after the committed offset: no record is written twice.
    let handle = start_source_task(ctx, spec("counter", &config), Box::new(CountingSource::new("counted", 15, 4)));
    let values: Vec<_> = read_topic(&broker.bootstrap, "counted", 15).await.into_iter().map(|r| r.payload).collect();
    let expected: Vec<_> = (0..15).map(|n| Some(format!("v{n}").into_bytes())).collect();
    assert_eq!(values, expected);
    handle.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sink_gets_every_record_and_offsets_are_committed_only_after_flush() {
    let broker = TestBroker::start().await;
    let payloads: Vec<Vec<u8>> = (0..20).map(|n| format!("\"r{n}\"").into_bytes()).collect();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    produce(&broker.bootstrap, "sink-in", &refs).await;

    let dir = tempfile::tempdir().expect("temp dir");
    let offsets: Arc<dyn OffsetStore> = Arc::new(FileOffsetStore::open(dir.path().join("o.json")).expect("open"));
    let status = Arc::new(Statuses::default());
    let seen = Arc::new(Seen::default());
    let gate = Arc::new(Semaphore::new(0));
    let task = RecordingSink { seen: seen.clone(), gate: Some(gate.clone()) };
    let config = [
        ("topics", "sink-in"),
        ("key.converter", STRING_CONVERTER),
        ("value.converter", JSON_CONVERTER),
        ("value.converter.schemas.enable", "false"),
        ("offset.flush.interval.ms", "200"),
    ];
    let handle = start_sink_task(context(&broker, offsets, status.clone()), spec("recorder", &config), Box::new(task));

    wait_until(WAIT, "the sink has every record and a flush started", || async {
        let (n, flushes) = (seen.values.lock().len(), seen.flushes.lock().len());
        if n == 20 && flushes > 0 {
            Ok(())
        } else {
            Err(format!("{n} records, {flushes} flushes"))
        }
    })
    .await;
    let expected: Vec<String> = (0..20).map(|n| format!("r{n}")).collect();
    assert_eq!(*seen.values.lock(), expected);
    // The flush has not returned yet, so nothing may be committed.
    assert_eq!(committed(&broker.bootstrap, "connect-recorder", "sink-in").await, None);

    gate.add_permits(1000);
    wait_until(WAIT, "the group's offset is committed after the flush", || async {
        match committed(&broker.bootstrap, "connect-recorder", "sink-in").await {
            Some(20) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let tp = TopicPartition { topic: "sink-in".to_string(), partition: 0 };
    assert!(seen.flushes.lock().iter().any(|f| f.get(&tp) == Some(&20)), "flushes: {:?}", seen.flushes.lock());

    handle.pause();
    status.wait_for(State::Paused).await;
    handle.resume();
    status.wait_for(State::Running).await;
    handle.stop().await;
    assert_eq!(status.last(), Some((State::Unassigned, None)));
    broker.stop().await;
}

fn poison_config<'a>(topic: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut config = vec![
        ("topics", topic),
        ("connector.class", "RecordingSink"),
        ("key.converter", STRING_CONVERTER),
        ("value.converter", JSON_CONVERTER),
        ("value.converter.schemas.enable", "false"),
        ("offset.flush.interval.ms", "100"),
    ];
    config.extend_from_slice(extra);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_record_goes_to_the_dlq_with_context_headers_and_the_pipeline_continues() {
    let broker = TestBroker::start().await;
    produce(&broker.bootstrap, "poisoned", &[b"\"a\"", POISON, b"\"b\""]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let offsets: Arc<dyn OffsetStore> = Arc::new(FileOffsetStore::open(dir.path().join("o.json")).expect("open"));
    let status = Arc::new(Statuses::default());
    let seen = Arc::new(Seen::default());
    let config = poison_config(
        "poisoned",
        &[
            ("errors.tolerance", "all"),
            ("errors.log.enable", "true"),
            ("errors.log.include.messages", "true"),
            ("errors.deadletterqueue.topic.name", "poisoned-dlq"),
            ("errors.deadletterqueue.topic.replication.factor", "3"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
        ],
    );
    let task = RecordingSink { seen: seen.clone(), gate: None };
    let handle = start_sink_task(context(&broker, offsets, status.clone()), spec("dlq-sink", &config), Box::new(task));

    wait_until(WAIT, "the good records reach the sink", || async {
        let values = seen.values.lock().clone();
        if values.len() == 2 {
            Ok(())
        } else {
            Err(format!("{values:?}"))
        }
    })
    .await;
    assert_eq!(*seen.values.lock(), ["a", "b"]);
    let dlq = read_topic(&broker.bootstrap, "poisoned-dlq", 1).await;
    assert_eq!(dlq[0].payload.as_deref(), Some(POISON));
    for (header, value) in [
        ("__connect.errors.topic", "poisoned"),
        ("__connect.errors.partition", "0"),
        ("__connect.errors.offset", "1"),
        ("__connect.errors.connector.name", "dlq-sink"),
        ("__connect.errors.task.id", "0"),
        ("__connect.errors.stage", "VALUE_CONVERTER"),
        ("__connect.errors.class.name", JSON_CONVERTER),
        ("__connect.errors.exception.class.name", "org.apache.kafka.connect.errors.DataException"),
    ] {
        assert_eq!(dlq[0].header(header), Some(value), "header {header} of {:?}", dlq[0].headers);
    }
    assert!(dlq[0].header("__connect.errors.exception.message").is_some_and(|m| !m.is_empty()));
    assert!(dlq[0].header("__connect.errors.exception.stacktrace").is_some());
    wait_until(WAIT, "all three offsets are committed", || async {
        match committed(&broker.bootstrap, "connect-dlq-sink", "poisoned").await {
            Some(3) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let metrics = handle.metrics();
    assert_eq!((metrics.records_sent_to_dlq, metrics.records_skipped, metrics.records_failed), (1, 1, 1));
    assert_eq!(metrics.to_map()["deadletterqueue-produce-requests"], 1);
    assert_eq!(handle.state(), State::Running);
    handle.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_no_tolerance_a_poison_record_fails_the_task_with_a_trace() {
    let broker = TestBroker::start().await;
    produce(&broker.bootstrap, "strict", &[b"\"a\"", POISON, b"\"b\""]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let offsets: Arc<dyn OffsetStore> = Arc::new(FileOffsetStore::open(dir.path().join("o.json")).expect("open"));
    let status = Arc::new(Statuses::default());
    let seen = Arc::new(Seen::default());
    let task = RecordingSink { seen: seen.clone(), gate: None };
    let config = poison_config("strict", &[]);
    let handle =
        start_sink_task(context(&broker, offsets, status.clone()), spec("strict-sink", &config), Box::new(task));

    let trace = status.wait_for(State::Failed).await.expect("a failed task has a trace");
    assert!(trace.contains("Tolerance exceeded"), "{trace}");
    assert!(trace.contains("VALUE_CONVERTER") && trace.contains("offset 1"), "{trace}");
    assert!(trace.contains("conversion failed"), "{trace}");
    assert_eq!(handle.state(), State::Failed);
    assert_eq!(handle.trace(), Some(trace));
    // The record after the poison one never reached the task.
    assert!(!seen.values.lock().contains(&"b".to_string()), "{:?}", seen.values.lock());
    handle.stop().await;
    broker.stop().await;
}

async fn offsets_topic(broker: &TestBroker) -> Arc<KafkaOffsetStore> {
    let config = OffsetsTopicConfig { topic: "connect-offsets".to_string(), partitions: 3, replication_factor: 3 };
    Arc::new(KafkaOffsetStore::open(&broker.bootstrap, &BTreeMap::new(), config).await.expect("open the offsets topic"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_exactly_once_source_commits_records_and_offsets_together() {
    let broker = TestBroker::start().await;
    let status = Arc::new(Statuses::default());
    let config = [
        ("key.converter", STRING_CONVERTER),
        ("value.converter", STRING_CONVERTER),
        ("exactly.once.support", "required"),
        ("transaction.boundary", "poll"),
    ];

    // The first run commits batches [0..4) and [4..8), then fails on the poll that would emit 8.
    let store = offsets_topic(&broker).await;
    let ctx = context(&broker, store.clone(), status.clone());
    let mut task = CountingSource::new("eos-out", 20, 4);
    task.fail_at = Some(9);
    let commits = task.commits.clone();
    let handle = start_source_task(ctx, spec("eos", &config), Box::new(task));
    let trace = status.wait_for(State::Failed).await.expect("a trace");
    assert!(trace.contains("the counter broke"), "{trace}");
    handle.stop().await;
    assert_eq!(*commits.lock(), 2, "one task commit per committed transaction");

    // A fresh store (another worker's view) sees the offset written inside the transactions.
    let fresh = offsets_topic(&broker).await;
    assert_eq!(fresh.get("eos", &counter_partition()).await.expect("read offsets"), Some(map(json!({"n": 7}))));

    // The restarted task resumes after the committed offset; each record is visible exactly once.
    let ctx = context(&broker, fresh.clone(), status.clone());
    let handle = start_source_task(ctx, spec("eos", &config), Box::new(CountingSource::new("eos-out", 20, 4)));
    wait_until(WAIT, "the restarted task commits its last batch", || async {
        match fresh.get("eos", &counter_partition()).await {
            Ok(Some(o)) if o == map(json!({"n": 19})) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    handle.stop().await;
    let values = committed_values(&broker.bootstrap, "eos-out").await;
    let expected: Vec<String> = (0..20).map(|n| format!("v{n}")).collect();
    assert_eq!(values, expected);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_needs_offsets_in_a_topic() {
    let broker = TestBroker::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let offsets: Arc<dyn OffsetStore> = Arc::new(FileOffsetStore::open(dir.path().join("o.json")).expect("open"));
    let status = Arc::new(Statuses::default());
    let config = [
        ("key.converter", STRING_CONVERTER),
        ("value.converter", STRING_CONVERTER),
        ("exactly.once.support", "required"),
    ];
    let handle = start_source_task(
        context(&broker, offsets, status.clone()),
        spec("eos-file", &config),
        Box::new(CountingSource::new("never", 1, 1)),
    );
    let trace = status.wait_for(State::Failed).await.expect("a trace");
    assert!(trace.contains("exactly.once.support") && trace.contains("Kafka topic"), "{trace}");
    handle.stop().await;
    broker.stop().await;
}
