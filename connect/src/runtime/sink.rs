//! The sink task runner: a consumer in group `connect-<connector>` reads `topics` / `topics.regex`; each batch
//! goes through key/value converters and transforms to the task's `put`. Every `offset.flush.interval.ms`, at
//! stop and before partitions are revoked, the task flushes and only then are the consumer's offsets (the
//! next offset to read) committed, so a record is acknowledged only once the task has made it durable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};

use super::errors::{backoff_delay, kafka_error, DeadLetterQueue, ErrorConfig, ErrorHandler, OriginalRecord, Stage};
use super::herder::State;
use super::source::failure_trace;
use super::task::{apply_overrides, client_config, flush_interval, RunnerControl, Target, TaskSpec, WorkerContext};
use crate::connector::{Config, SinkTask};
use crate::converters::Converter;
use crate::data::Value;
use crate::error::ConnectError;
use crate::record::{ConnectRecord, Header, SinkRecord, TopicPartition};
use crate::transforms::Chain;

/// Most records handed to one `put` (Kafka's `max.poll.records` default).
const MAX_BATCH: usize = 500;

/// What the runner and the consumer's rebalance callbacks share.
struct Shared {
    task: tokio::sync::Mutex<Box<dyn SinkTask>>,
    /// Next offset to read per partition, for records already put.
    positions: Mutex<HashMap<TopicPartition, i64>>,
    /// What was last committed per partition.
    committed: Mutex<HashMap<TopicPartition, i64>>,
    paused: AtomicBool,
    /// Set once the task is stopped: late callbacks (the consumer closing) must not touch it.
    closed: AtomicBool,
    connector: String,
    task_id: usize,
}

impl Shared {
    /// Offsets put but not yet committed, among `partitions` (all when `None`).
    fn uncommitted(&self, partitions: Option<&[TopicPartition]>) -> HashMap<TopicPartition, i64> {
        let positions = self.positions.lock();
        let committed = self.committed.lock();
        positions
            .iter()
            .filter(|(tp, _)| partitions.is_none_or(|ps| ps.contains(tp)))
            .filter(|(tp, offset)| committed.get(*tp) != Some(*offset))
            .map(|(tp, offset)| (tp.clone(), *offset))
            .collect()
    }
}

fn offsets_list(offsets: &HashMap<TopicPartition, i64>) -> Result<TopicPartitionList, ConnectError> {
    let mut tpl = TopicPartitionList::new();
    for (tp, offset) in offsets {
        tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*offset))
            .map_err(|e| kafka_error("building an offset commit", e))?;
    }
    Ok(tpl)
}

fn partitions_of(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements().iter().map(|e| TopicPartition { topic: e.topic().to_string(), partition: e.partition() }).collect()
}

/// The consumer's callbacks: before partitions are revoked, flush the task and commit their offsets (Kafka
/// Connect does the same in `onPartitionsRevoked`); keep newly assigned partitions paused while paused.
struct SinkConsumerContext {
    shared: Arc<Shared>,
}

impl ClientContext for SinkConsumerContext {}

impl ConsumerContext for SinkConsumerContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(tpl) = rebalance else { return };
        let revoked = partitions_of(tpl);
        let offsets = self.shared.uncommitted(Some(&revoked));
        if !offsets.is_empty() && !self.shared.closed.load(Ordering::SeqCst) {
            self.flush_before_revoke(consumer, &offsets);
        }
        let mut positions = self.shared.positions.lock();
        let mut committed = self.shared.committed.lock();
        for tp in &revoked {
            positions.remove(tp);
            committed.remove(tp);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            if self.shared.paused.load(Ordering::SeqCst) {
                if let Err(e) = consumer.pause(tpl) {
                    tracing::warn!(connector = %self.shared.connector, error = %e, "pausing newly assigned partitions failed");
                }
            }
        }
    }
}

impl SinkConsumerContext {
    fn flush_before_revoke(&self, consumer: &BaseConsumer<Self>, offsets: &HashMap<TopicPartition, i64>) {
        // The callback runs inside the consumer's poll on a runtime thread; flushing is async, so it needs a
        // multi-threaded runtime to block on. Without one, the records are simply redelivered to the next
        // owner (at-least-once still holds).
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            tracing::debug!(connector = %self.shared.connector, "no multi-threaded runtime: not flushing before revoke");
            return;
        }
        let shared = &self.shared;
        tokio::task::block_in_place(|| {
            let flushed = handle.block_on(async { shared.task.lock().await.flush(offsets).await });
            match flushed.and_then(|()| offsets_list(offsets)) {
                Ok(tpl) => match consumer.commit(&tpl, CommitMode::Sync) {
                    Ok(()) => shared.committed.lock().extend(offsets.iter().map(|(tp, o)| (tp.clone(), *o))),
                    Err(e) => tracing::warn!(connector = %shared.connector, task = shared.task_id, error = %e,
                        "committing offsets of revoked partitions failed; their records will be redelivered"),
                },
                Err(e) => tracing::warn!(connector = %shared.connector, task = shared.task_id, error = %e,
                    "flushing before partitions were revoked failed; their records will be redelivered"),
            }
        });
    }
}

type SinkConsumer = StreamConsumer<SinkConsumerContext>;

/// Runs one sink task until stopped or failed; always stops the task it started.
pub(crate) async fn run(ctx: Arc<WorkerContext>, spec: TaskSpec, task: Box<dyn SinkTask>, mut control: RunnerControl) {
    let shared = Arc::new(Shared {
        task: tokio::sync::Mutex::new(task),
        positions: Mutex::new(HashMap::new()),
        committed: Mutex::new(HashMap::new()),
        paused: AtomicBool::new(false),
        closed: AtomicBool::new(false),
        connector: spec.id.connector.clone(),
        task_id: spec.id.task,
    });
    let mut started = false;
    let mut consumer = None;
    let result = run_task(&ctx, &spec, &shared, &mut control, &mut started, &mut consumer).await;
    shared.closed.store(true, Ordering::SeqCst);
    if started {
        if let Err(e) = shared.task.lock().await.stop().await {
            tracing::warn!(connector = %spec.id.connector, task = spec.id.task, error = %e, "sink task stop failed");
        }
    }
    // Leaving the group blocks while librdkafka closes the consumer.
    if let Some(consumer) = consumer {
        let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
    }
    if let Err(e) = result {
        control.report(State::Failed, Some(failure_trace(&e)));
    }
}

struct Runner<'a> {
    ctx: &'a WorkerContext,
    spec: &'a TaskSpec,
    shared: &'a Arc<Shared>,
    consumer: Arc<SinkConsumer>,
    errors: ErrorHandler,
    chain: Chain,
    key_converter: Arc<dyn Converter>,
    value_converter: Arc<dyn Converter>,
    key_class: String,
    value_class: String,
    task_class: String,
}

/// The subscription of a sink: `topics` (a comma list) or `topics.regex`, exactly one of them.
fn subscription(config: &Config) -> Result<Vec<String>, ConnectError> {
    let topics: Vec<String> = config
        .get("topics")
        .map(|t| t.split(',').map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect())
        .unwrap_or_default();
    let regex = config.get("topics.regex").map(|r| r.trim()).filter(|r| !r.is_empty());
    match (topics.is_empty(), regex) {
        (false, None) => Ok(topics),
        (true, Some(regex)) => {
            regex::Regex::new(regex)
                .map_err(|e| ConnectError::config("topics.regex", format!("not a regular expression: {e}")))?;
            // librdkafka treats a subscription starting with `^` as a regex; Kafka matches the whole name.
            Ok(vec![format!("^({regex})$")])
        }
        (false, Some(_)) => Err(ConnectError::config("topics", "set `topics` or `topics.regex`, not both")),
        (true, None) => Err(ConnectError::config("topics", "a sink connector needs `topics` or `topics.regex`")),
    }
}

async fn run_task(
    ctx: &WorkerContext,
    spec: &TaskSpec,
    shared: &Arc<Shared>,
    control: &mut RunnerControl,
    started: &mut bool,
    consumer_slot: &mut Option<Arc<SinkConsumer>>,
) -> Result<(), ConnectError> {
    let config = &spec.connector_config;
    let flush_every = flush_interval(config)?;
    let topics = subscription(config)?;
    let error_config = ErrorConfig::from_config(config)?;
    let dlq = DeadLetterQueue::open(ctx, &error_config).await?;
    let mut errors = ErrorHandler::new(error_config, &spec.id.connector, spec.id.task, control.counters.clone())
        .with_transform_classes(config);
    if let Some(dlq) = dlq {
        errors = errors.with_dlq(dlq);
    }
    let chain = Chain::from_config(config)?;
    let key_converter = crate::converters::build(config, "key.converter")?;
    let value_converter = crate::converters::build(config, "value.converter")?;

    let mut consumer_config = client_config(ctx);
    consumer_config
        .set("group.id", format!("connect-{}", spec.id.connector))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest");
    apply_overrides(&mut consumer_config, config, "consumer.override.");
    let consumer: SinkConsumer = consumer_config
        .create_with_context(SinkConsumerContext { shared: shared.clone() })
        .map_err(|e| kafka_error("creating the sink task's consumer", e))?;
    let consumer = Arc::new(consumer);
    *consumer_slot = Some(consumer.clone());
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&names).map_err(|e| kafka_error(&format!("subscribing to {names:?}"), e))?;

    *started = true;
    shared.task.lock().await.start(&spec.task_config).await?;

    let mut runner = Runner {
        spec,
        shared,
        ctx,
        consumer,
        errors,
        chain,
        key_class: config.get("key.converter").cloned().unwrap_or_default(),
        value_class: config.get("value.converter").cloned().unwrap_or_default(),
        task_class: config.get("connector.class").cloned().unwrap_or_default(),
        key_converter,
        value_converter,
    };
    control.report(State::Running, None);
    let mut flush_timer = tokio::time::interval_at(tokio::time::Instant::now() + flush_every, flush_every);
    flush_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = control.target.changed() => {
                let target = if changed.is_err() { Target::Stop } else { control.target() };
                match target {
                    Target::Stop => break,
                    Target::Pause => runner.set_paused(true, control)?,
                    Target::Run => runner.set_paused(false, control)?,
                }
            }
            _ = flush_timer.tick() => runner.flush_and_commit(control).await?,
            message = runner.consumer.recv() => {
                let first = match message {
                    Ok(m) => m.detach(),
                    Err(e) => {
                        tracing::warn!(connector = %spec.id.connector, task = spec.id.task, error = %e,
                            "consumer error; the client retries");
                        continue;
                    }
                };
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match runner.consumer.recv().now_or_never() {
                        Some(Ok(m)) => batch.push(m.detach()),
                        _ => break,
                    }
                }
                control.counters.add_read(batch.len() as u64);
                runner.process(batch, control).await?;
            }
        }
    }
    runner.flush_and_commit(control).await
}

impl Runner<'_> {
    fn set_paused(&self, paused: bool, control: &RunnerControl) -> Result<(), ConnectError> {
        self.shared.paused.store(paused, Ordering::SeqCst);
        let assignment = self.consumer.assignment().map_err(|e| kafka_error("reading the assignment", e))?;
        if paused {
            self.consumer.pause(&assignment).map_err(|e| kafka_error("pausing the consumer", e))?;
            control.report(State::Paused, None);
        } else {
            self.consumer.resume(&assignment).map_err(|e| kafka_error("resuming the consumer", e))?;
            control.report(State::Running, None);
        }
        Ok(())
    }

    /// Converts, transforms and puts one batch; then its records count as processed.
    async fn process(&mut self, batch: Vec<OwnedMessage>, control: &RunnerControl) -> Result<(), ConnectError> {
        let mut records = Vec::with_capacity(batch.len());
        let mut originals = Vec::with_capacity(batch.len());
        let mut next = HashMap::new();
        for message in &batch {
            let original = original_record(message);
            // Listeners deduplicate; this is what `GET /connectors/{name}/topics` shows for topics.regex sinks.
            self.ctx.status.topic_used(&self.spec.id.connector, &original.topic);
            next.insert(
                TopicPartition { topic: original.topic.clone(), partition: original.partition },
                original.offset + 1,
            );
            if let Some(record) = self.convert(&original).await? {
                records.push(record);
                originals.push(original);
            }
        }
        if !records.is_empty() && !self.put(records, &originals, control).await? {
            // Stopping while a retriable put kept failing: these records were not taken, so their offsets
            // must not be committed.
            return Ok(());
        }
        self.errors.counters().add_processed(originals.len() as u64);
        self.shared.positions.lock().extend(next);
        Ok(())
    }

    /// Hands records to the task. Retriable failures are retried with backoff until they pass (as Kafka
    /// Connect does) or the task is stopped (`Ok(false)`); other failures fail the task, or with
    /// `errors.tolerance=all` send each record to the error log / DLQ at stage TASK_PUT.
    async fn put(
        &self,
        records: Vec<SinkRecord>,
        originals: &[OriginalRecord],
        control: &RunnerControl,
    ) -> Result<bool, ConnectError> {
        let mut attempt = 0u32;
        loop {
            let error = match self.shared.task.lock().await.put(records.clone()).await {
                Ok(()) => return Ok(true),
                Err(e) => e,
            };
            if error.is_retriable() {
                if control.target() == Target::Stop {
                    return Ok(false);
                }
                attempt += 1;
                control.counters.add_retry();
                let delay = backoff_delay(attempt, self.errors.config().retry_delay_max, Duration::MAX);
                tracing::warn!(connector = %self.spec.id.connector, task = self.spec.id.task, attempt, ?delay,
                    error = %error, "retriable failure in put; retrying the batch");
                let mut target = control.target.clone();
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = target.changed() => {}
                }
                continue;
            }
            for original in originals {
                self.errors.failed(Stage::TaskPut, &self.task_class, Some(original), error.clone()).await?;
            }
            return Ok(true);
        }
    }

    /// One record through the key and value converters and the transforms; `None` when skipped or dropped.
    async fn convert(&self, original: &OriginalRecord) -> Result<Option<SinkRecord>, ConnectError> {
        let topic = original.topic.as_str();
        let (key_converter, value_converter) = (&self.key_converter, &self.value_converter);
        let Some((key_schema, key)) = self
            .errors
            .execute(Stage::KeyConverter, &self.key_class, Some(original), move || {
                key_converter.to_connect(topic, true, original.key.as_deref())
            })
            .await?
        else {
            return Ok(None);
        };
        let Some((value_schema, value)) = self
            .errors
            .execute(Stage::ValueConverter, &self.value_class, Some(original), move || {
                value_converter.to_connect(topic, false, original.value.as_deref())
            })
            .await?
        else {
            return Ok(None);
        };
        let record = SinkRecord {
            record: ConnectRecord {
                topic: original.topic.clone(),
                kafka_partition: Some(original.partition),
                key_schema,
                key,
                value_schema,
                value,
                timestamp: original.timestamp,
                headers: original.headers.iter().map(|(k, v)| header_value(k, v.as_deref())).collect(),
            },
            kafka_partition: original.partition,
            kafka_offset: original.offset,
        };
        let chain = &self.chain;
        let transformed = self
            .errors
            .execute(Stage::Transformation, "", Some(original), || {
                let record = record.clone();
                async move { chain.apply_sink(record) }
            })
            .await?;
        Ok(transformed.flatten())
    }

    /// Flushes the task with the offsets put so far and, once it succeeded, commits them.
    async fn flush_and_commit(&mut self, control: &RunnerControl) -> Result<(), ConnectError> {
        let uncommitted = self.shared.uncommitted(None);
        if uncommitted.is_empty() {
            return Ok(());
        }
        let all = self.shared.positions.lock().clone();
        match self.shared.task.lock().await.flush(&all).await {
            Ok(()) => {}
            Err(e) if e.is_retriable() => {
                control.counters.add_offset_commit(false);
                tracing::warn!(connector = %self.spec.id.connector, task = self.spec.id.task, error = %e,
                    "flush failed; offsets stay uncommitted until the next flush");
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let tpl = offsets_list(&uncommitted)?;
        let consumer = self.consumer.clone();
        let committed = tokio::task::spawn_blocking(move || consumer.commit(&tpl, CommitMode::Sync))
            .await
            .map_err(|e| ConnectError::Io(format!("offset commit did not finish: {e}")))?;
        match committed {
            Ok(()) => {
                control.counters.add_offset_commit(true);
                self.shared.committed.lock().extend(uncommitted);
            }
            Err(e) => {
                // Typically a rebalance in progress: the next owner re-reads from the last commit.
                control.counters.add_offset_commit(false);
                tracing::warn!(connector = %self.spec.id.connector, task = self.spec.id.task, error = %e,
                    "committing consumer offsets failed; retrying at the next flush");
            }
        }
        Ok(())
    }
}

fn original_record(message: &OwnedMessage) -> OriginalRecord {
    OriginalRecord {
        topic: message.topic().to_string(),
        partition: message.partition(),
        offset: message.offset(),
        timestamp: message.timestamp().to_millis(),
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        headers: message
            .headers()
            .map(|hs| hs.iter().map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec))).collect())
            .unwrap_or_default(),
    }
}

/// A header as a Connect value: UTF-8 text as a string, other bytes as bytes, no value as null.
fn header_value(key: &str, bytes: Option<&[u8]>) -> Header {
    let value = match bytes {
        None => Value::Null,
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => Value::String(s.to_string()),
            Err(_) => Value::Bytes(b.to_vec()),
        },
    };
    Header { key: key.to_string(), schema: None, value }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn subscriptions() {
        assert_eq!(subscription(&config(&[("topics", "a, b,")])).unwrap(), ["a", "b"]);
        assert_eq!(subscription(&config(&[("topics.regex", "logs-.*")])).unwrap(), ["^(logs-.*)$"]);
        assert!(subscription(&config(&[])).is_err());
        assert!(subscription(&config(&[("topics", "a"), ("topics.regex", "b")])).is_err());
        assert!(subscription(&config(&[("topics.regex", "(")])).is_err());
    }

    #[test]
    fn headers_become_strings_or_bytes() {
        assert_eq!(header_value("h", Some(b"x")).value, Value::String("x".into()));
        assert_eq!(header_value("h", Some(&[0xff])).value, Value::Bytes(vec![0xff]));
        assert_eq!(header_value("h", None).value, Value::Null);
    }
}
