//! The source task runner: poll the task → transforms → key/value/header converters → an idempotent producer
//! (creating topics first when the connector sets `topic.creation.*`, see [`super::topic_creation`]),
//! committing the source offsets of delivered records every `offset.flush.interval.ms` and at stop. With
//! `exactly.once.support=required|requested` each poll batch is one transaction holding the records and their
//! offset records (`transaction.boundary=poll`), so a restart resumes exactly after the last committed batch.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::FutureExt;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tokio::time::Instant;

use super::errors::{exception_class, kafka_error, ErrorConfig, ErrorHandler, Stage};
use super::herder::{State, TaskId};
use super::offsets::{offsets_producer_config, produce_offsets};
use super::progress::ProgressBoard;
use super::task::{
    apply_overrides, client_config, flush_interval, OffsetStore, RunnerControl, Target, TaskSpec, WorkerContext,
};
use super::topic_creation::TopicCreator;
use crate::connector::{Config, ProgressReporter, SourceTask, SourceTaskContext};
use crate::converters::{Converter, HeaderConverter};
use crate::error::ConnectError;
use crate::record::{ConnectRecord, SourceMap, SourceRecord};
use crate::transforms::Chain;

/// How long one transaction call (init, commit, abort) may block.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the runner waits before polling again after a poll returned nothing, so an idle task does not spin.
const IDLE_POLL_BACKOFF: Duration = Duration::from_millis(100);

/// Most poll batches whose deliveries may be outstanding at once (at-least-once mode). The runner polls the
/// task again while earlier batches are still on their way to the brokers, as Kafka Connect does; waiting for
/// each batch's acknowledgements first held one task to about one batch per `linger.ms` plus a round trip.
const MAX_BATCHES_IN_FLIGHT: usize = 16;

/// How long to wait before retrying to enqueue a record when the producer's queue is full and no earlier batch
/// is outstanding to wait for instead (a backoff, not synchronisation).
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(10);

/// The default of `offset.flush.timeout.ms`: how long a commit at pause or stop waits for outstanding records.
const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_millis(5_000);

/// Runs one source task until stopped or failed; always stops the task it started.
pub(crate) async fn run(
    ctx: Arc<WorkerContext>,
    spec: TaskSpec,
    mut task: Box<dyn SourceTask>,
    mut control: RunnerControl,
) {
    let mut started = false;
    let result = run_task(&ctx, &spec, task.as_mut(), &mut control, &mut started).await;
    if started {
        if let Err(e) = task.stop().await {
            tracing::warn!(connector = %spec.id.connector, task = spec.id.task, error = %e, "source task stop failed");
        }
    }
    // A stopped task's work is no longer under way here (a restart or another worker reports afresh).
    ctx.progress.remove(&spec.id);
    if let Err(e) = result {
        control.report(State::Failed, Some(failure_trace(&e)));
    }
}

/// The trace a FAILED status shows: the exception class Kafka Connect would name, then the error chain.
pub(crate) fn failure_trace(error: &ConnectError) -> String {
    format!("{}: {error}", exception_class(error))
}

/// Whether this connector asks for exactly-once delivery (`exactly.once.support`), and its transaction
/// boundary (only `poll` is supported).
/// `offset.flush.timeout.ms` from the connector config (the worker fills in its own).
fn flush_timeout(config: &Config) -> Result<Duration, ConnectError> {
    match config.get("offset.flush.timeout.ms") {
        None => Ok(DEFAULT_FLUSH_TIMEOUT),
        Some(v) => v.trim().parse::<u64>().ok().filter(|ms| *ms > 0).map(Duration::from_millis).ok_or_else(|| {
            ConnectError::config("offset.flush.timeout.ms", format!("`{v}` is not a positive number of milliseconds"))
        }),
    }
}

fn exactly_once(config: &Config) -> Result<bool, ConnectError> {
    let wanted = match config.get("exactly.once.support").map(|v| v.trim()) {
        None | Some("") => false,
        Some("required") | Some("requested") => true,
        Some(other) => {
            return Err(ConnectError::config(
                "exactly.once.support",
                format!("`{other}` is not `required` or `requested`"),
            ))
        }
    };
    match config.get("transaction.boundary").map(|v| v.trim()) {
        None | Some("") | Some("poll") => Ok(wanted),
        Some(other) if wanted => Err(ConnectError::config(
            "transaction.boundary",
            format!("`{other}` is not supported; use `poll` (one transaction per poll batch)"),
        )),
        Some(_) => Ok(wanted),
    }
}

/// The transactional id of a task: `<prefix>-<connector>-<task>` (Kafka Connect prefixes the worker group id),
/// or `<connector>-<task>` without a prefix. The prefix is `transactional.id.prefix` in the connector config,
/// which the herder fills from the worker.
fn transactional_id(spec: &TaskSpec) -> String {
    match spec.connector_config.get("transactional.id.prefix").map(|p| p.trim()).filter(|p| !p.is_empty()) {
        Some(prefix) => format!("{prefix}-{}-{}", spec.id.connector, spec.id.task),
        None => format!("{}-{}", spec.id.connector, spec.id.task),
    }
}

/// What a source task can ask: its committed offsets; and where its progress reports go.
struct OffsetReader {
    id: TaskId,
    offsets: Arc<dyn OffsetStore>,
    progress: Arc<ProgressBoard>,
}

#[async_trait]
impl SourceTaskContext for OffsetReader {
    async fn offset(&self, partition: &SourceMap) -> Result<Option<SourceMap>, ConnectError> {
        self.offsets.get(&self.id.connector, partition).await
    }

    fn progress(&self, what: &str, unit: &str, done: u64, total: Option<u64>) {
        self.progress.report(&self.id, what, unit, done, total);
    }

    fn progress_reporter(&self) -> ProgressReporter {
        let (id, board) = (self.id.clone(), self.progress.clone());
        ProgressReporter::new(move |what, unit, done, total| board.report(&id, what, unit, done, total))
    }
}

struct Runner<'a> {
    ctx: &'a WorkerContext,
    spec: &'a TaskSpec,
    errors: ErrorHandler,
    chain: Chain,
    key_converter: Arc<dyn Converter>,
    value_converter: Arc<dyn Converter>,
    key_class: String,
    value_class: String,
    header_converter: HeaderConverter,
    header_class: String,
    /// Creates topics before their first record (`topic.creation.*`).
    topics: TopicCreator,
    producer: FutureProducer,
    /// The offsets topic, when each batch's offsets go into its transaction.
    transactional_offsets: Option<String>,
    /// Offsets of delivered records not yet committed, by partition JSON.
    pending: BTreeMap<String, (SourceMap, SourceMap)>,
    /// Poll batches sent but not yet all acknowledged, oldest first (at-least-once mode only: an exactly-once
    /// batch is one transaction and completes before the next poll). In a mutex only so the runner is `Sync`
    /// (it is borrowed across awaits); reached through `get_mut`, never locked.
    in_flight: Mutex<VecDeque<BoxFuture<'static, Delivered>>>,
    /// `offset.flush.timeout.ms`.
    flush_timeout: Duration,
}

/// One poll batch once every record of it has been acknowledged or has failed.
struct Delivered {
    /// Each sent record's topic and delivery outcome, in poll order.
    results: Vec<(String, Result<(), KafkaError>)>,
    /// The batch's last source offset per source partition, by partition JSON.
    offsets: BTreeMap<String, (SourceMap, SourceMap)>,
}

/// A record ready for the producer.
struct Outgoing {
    topic: String,
    partition: Option<i32>,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
    timestamp: Option<i64>,
}

async fn run_task(
    ctx: &WorkerContext,
    spec: &TaskSpec,
    task: &mut dyn SourceTask,
    control: &mut RunnerControl,
    started: &mut bool,
) -> Result<(), ConnectError> {
    let config = &spec.connector_config;
    let flush_every = flush_interval(config)?;
    let eos = exactly_once(config)?;
    let errors = ErrorHandler::new(
        ErrorConfig::from_config(config)?,
        &spec.id.connector,
        spec.id.task,
        control.counters.clone(),
    )
    .with_transform_classes(config);
    let chain = Chain::from_config(config)?;
    let key_converter = crate::converters::build(config, "key.converter")?;
    let value_converter = crate::converters::build(config, "value.converter")?;
    let header_converter = HeaderConverter::from_config(config, "header.converter")?;
    let topics = TopicCreator::new(config, client_config(ctx))?;

    let transactional_offsets = if eos {
        if !task.supports_exactly_once() {
            return Err(ConnectError::config(
                "exactly.once.support",
                "this connector's tasks cannot take part in exactly-once delivery; remove `exactly.once.support`",
            ));
        }
        let Some(topic) = ctx.offsets.offsets_topic() else {
            return Err(ConnectError::config(
                "exactly.once.support",
                "exactly-once source delivery needs offsets in a Kafka topic (a distributed worker); this worker \
                 keeps them in a file",
            ));
        };
        Some(topic.to_string())
    } else {
        None
    };
    let mut producer_config = offsets_producer_config(&client_config(ctx));
    producer_config.set("linger.ms", "5");
    apply_overrides(&mut producer_config, &spec.connector_config, "producer.override.");
    if eos {
        producer_config
            .set("transactional.id", transactional_id(spec))
            .set("transaction.timeout.ms", TRANSACTION_TIMEOUT.as_millis().to_string());
    }
    let producer: FutureProducer =
        producer_config.create().map_err(|e| kafka_error("creating the source task's producer", e))?;
    if eos {
        // Fences older producers of this task and aborts their open transaction before the task reads its
        // offsets, so it resumes after the last committed batch.
        blocking(&producer, |p| p.init_transactions(TRANSACTION_TIMEOUT))
            .await
            .map_err(|e| kafka_error("initialising transactions (is another worker running this task?)", e))?;
    }

    let context = OffsetReader { id: spec.id.clone(), offsets: ctx.offsets.clone(), progress: ctx.progress.clone() };
    *started = true;
    task.start(&spec.task_config, &context).await?;

    let mut runner = Runner {
        ctx,
        spec,
        errors,
        chain,
        key_class: config.get("key.converter").cloned().unwrap_or_default(),
        value_class: config.get("value.converter").cloned().unwrap_or_default(),
        key_converter,
        value_converter,
        header_class: config.get("header.converter").cloned().unwrap_or_default(),
        header_converter,
        topics,
        producer,
        transactional_offsets,
        pending: BTreeMap::new(),
        in_flight: Mutex::new(VecDeque::new()),
        flush_timeout: flush_timeout(config)?,
    };
    let outcome = runner.run_loop(task, control, flush_every).await;
    // Delivered records keep their offsets even when the task failed, so a restart repeats as little as it
    // can; the failure stays the one reported.
    let drained = runner.drain_in_flight(control).await;
    let committed = runner.commit_offsets(task, control).await;
    outcome.and(drained).and(committed)
}

impl Runner<'_> {
    async fn run_loop(
        &mut self,
        task: &mut dyn SourceTask,
        control: &mut RunnerControl,
        flush_every: Duration,
    ) -> Result<(), ConnectError> {
        let spec = self.spec;
        let mut last_flush = Instant::now();
        loop {
            match control.target() {
                Target::Stop => return Ok(()),
                Target::Pause => {
                    control.report(State::Paused, None);
                    // Commit what was delivered before pausing, then wait for the herder.
                    self.drain_in_flight(control).await?;
                    self.commit_offsets(task, control).await?;
                    let _ = control.target.changed().await;
                    continue;
                }
                Target::Run => control.report(State::Running, None),
            }
            if self.transactional_offsets.is_none() && last_flush.elapsed() >= flush_every {
                // Offsets of batches still in flight wait for the next commit, as in Kafka Connect.
                self.finish_ready().await?;
                self.commit_offsets(task, control).await?;
                last_flush = Instant::now();
            }
            let records = match task.poll().await {
                Ok(records) => records,
                Err(e) if e.is_retriable() => {
                    tracing::warn!(connector = %spec.id.connector, task = spec.id.task, error = %e,
                        "retriable failure polling the source task; polling again");
                    Vec::new()
                }
                Err(e) => return Err(e),
            };
            if records.is_empty() {
                self.finish_ready().await?;
                tokio::select! {
                    _ = tokio::time::sleep(IDLE_POLL_BACKOFF) => {}
                    _ = control.target.changed() => {}
                }
                continue;
            }
            control.counters.add_read(records.len() as u64);
            self.send_batch(records, task, control).await?;
        }
    }
}

/// Runs a blocking transactions call on a clone of the producer, off the runtime's threads.
async fn blocking<T: Send + 'static>(
    producer: &FutureProducer,
    call: impl FnOnce(&FutureProducer) -> rdkafka::error::KafkaResult<T> + Send + 'static,
) -> rdkafka::error::KafkaResult<T> {
    let producer = producer.clone();
    tokio::task::spawn_blocking(move || call(&producer)).await.expect("a transactions call does not panic")
}

impl Runner<'_> {
    /// Converts, sends and (exactly-once) commits one poll batch; remembers its offsets.
    async fn send_batch(
        &mut self,
        records: Vec<SourceRecord>,
        task: &mut dyn SourceTask,
        control: &RunnerControl,
    ) -> Result<(), ConnectError> {
        let Some(topic) = self.transactional_offsets.clone() else {
            let batch = self.send_records(records).await?;
            self.in_flight.get_mut().push_back(batch);
            self.finish_ready().await?;
            while self.in_flight.get_mut().len() > MAX_BATCHES_IN_FLIGHT {
                self.finish_oldest().await?;
            }
            return Ok(());
        };
        self.producer.begin_transaction().map_err(|e| kafka_error("beginning a transaction", e))?;
        let result = match self.send_records(records).await {
            Ok(batch) => self.finish(batch.await).await,
            Err(e) => Err(e),
        };
        let outcome = match result {
            Ok(batch_offsets) => {
                let entries: Vec<_> = batch_offsets.into_values().map(|(p, o)| (p, Some(o))).collect();
                match produce_offsets(&self.producer, &topic, &self.spec.id.connector, &entries).await {
                    Ok(()) => blocking(&self.producer, |p| p.commit_transaction(TRANSACTION_TIMEOUT))
                        .await
                        .map_err(|e| kafka_error("committing a transaction of records and offsets", e)),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            if let Err(abort) = blocking(&self.producer, |p| p.abort_transaction(TRANSACTION_TIMEOUT)).await {
                tracing::warn!(connector = %self.spec.id.connector, error = %abort, "aborting the transaction failed");
            }
            control.counters.add_offset_commit(false);
            return Err(e);
        }
        control.counters.add_offset_commit(true);
        task.commit().await
    }

    /// Converts a poll batch and hands its records to the producer in poll order; answers a future that
    /// completes once every record is acknowledged or failed, carrying the batch's last offset per source
    /// partition (skipped and filtered records count as handled, as in Kafka Connect).
    async fn send_records(
        &mut self,
        records: Vec<SourceRecord>,
    ) -> Result<BoxFuture<'static, Delivered>, ConnectError> {
        let mut outgoing = Vec::with_capacity(records.len());
        let mut offsets = BTreeMap::new();
        for record in records {
            let key = serde_json::Value::Object(record.source_partition.clone()).to_string();
            offsets.insert(key, (record.source_partition, record.source_offset));
            if let Some(out) = self.convert(record.record).await? {
                outgoing.push(out);
            }
        }
        self.topics.prepare(&outgoing.iter().map(|out| out.topic.as_str()).collect::<Vec<_>>()).await?;
        let mut deliveries = Vec::with_capacity(outgoing.len());
        for out in outgoing {
            let delivery = self.enqueue(&out).await?;
            deliveries.push((out.topic, delivery));
        }
        Ok(async move {
            let mut results = Vec::with_capacity(deliveries.len());
            for (topic, delivery) in deliveries {
                let result = match delivery {
                    Err(e) => Err(e),
                    Ok(future) => match future.await {
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err((e, _))) => Err(e),
                        // The producer went away with the record unsent.
                        Err(_) => Err(KafkaError::Canceled),
                    },
                };
                results.push((topic, result));
            }
            Delivered { results, offsets }
        }
        .boxed())
    }

    /// Hands one record to the producer. While its queue is full, waits for the oldest outstanding batch (or
    /// backs off briefly when none is outstanding) and tries again; any other refusal is that record's
    /// delivery failure.
    async fn enqueue(
        &mut self,
        out: &Outgoing,
    ) -> Result<Result<rdkafka::producer::DeliveryFuture, KafkaError>, ConnectError> {
        loop {
            let mut headers = OwnedHeaders::new_with_capacity(out.headers.len());
            for (key, value) in &out.headers {
                headers = headers.insert(KafkaHeader { key, value: value.as_deref() });
            }
            let mut record = FutureRecord::<[u8], [u8]>::to(&out.topic).headers(headers);
            if let Some(p) = out.partition {
                record = record.partition(p);
            }
            if let Some(k) = &out.key {
                record = record.key(k.as_slice());
            }
            if let Some(v) = &out.value {
                record = record.payload(v.as_slice());
            }
            if let Some(ts) = out.timestamp {
                record = record.timestamp(ts);
            }
            match self.producer.send_result(record) {
                Ok(delivery) => return Ok(Ok(delivery)),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    if self.in_flight.get_mut().is_empty() {
                        tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
                    } else {
                        self.finish_oldest().await?;
                    }
                }
                Err((e, _)) => return Ok(Err(e)),
            }
        }
    }

    /// Counts a completed batch: each delivered record is processed; a failed one goes to the error handler
    /// (which fails the task unless `errors.tolerance=all`; in exactly-once mode any failure fails the batch).
    /// Then the batch's offsets become committable.
    async fn finish(&mut self, delivered: Delivered) -> Result<BTreeMap<String, (SourceMap, SourceMap)>, ConnectError> {
        let transactional = self.transactional_offsets.is_some();
        for (topic, result) in delivered.results {
            match result {
                Ok(()) => {
                    self.errors.counters().add_processed(1);
                    self.ctx.status.topic_used(&self.spec.id.connector, &topic);
                }
                Err(e) => {
                    let error = kafka_error(&format!("writing a record to `{topic}`"), e);
                    if transactional {
                        return Err(error);
                    }
                    self.errors
                        .failed(Stage::KafkaProduce, "org.apache.kafka.clients.producer.KafkaProducer", None, error)
                        .await?;
                }
            }
        }
        Ok(delivered.offsets)
    }

    /// Waits for the oldest outstanding batch and makes its offsets committable.
    async fn finish_oldest(&mut self) -> Result<(), ConnectError> {
        let oldest = self.in_flight.get_mut().pop_front();
        if let Some(batch) = oldest {
            let offsets = self.finish(batch.await).await?;
            self.pending.extend(offsets);
        }
        Ok(())
    }

    /// Makes the offsets of every batch completed so far committable, oldest first, without waiting: a batch
    /// counts only once every batch before it has completed, so a commit never skips an unacknowledged record.
    async fn finish_ready(&mut self) -> Result<(), ConnectError> {
        loop {
            let in_flight = self.in_flight.get_mut();
            let Some(delivered) = in_flight.front_mut().and_then(|batch| batch.now_or_never()) else { break };
            in_flight.pop_front();
            let offsets = self.finish(delivered).await?;
            self.pending.extend(offsets);
        }
        Ok(())
    }

    /// Waits, up to `offset.flush.timeout.ms`, for every outstanding batch (before a commit at pause or stop).
    /// Batches still outstanding then keep their offsets uncommitted: their records may be sent again after a
    /// restart (at-least-once), never skipped.
    async fn drain_in_flight(&mut self, control: &RunnerControl) -> Result<(), ConnectError> {
        let deadline = Instant::now() + self.flush_timeout;
        while !self.in_flight.get_mut().is_empty() {
            match tokio::time::timeout_at(deadline, self.finish_oldest()).await {
                Ok(result) => result?,
                Err(_) => {
                    control.counters.add_offset_commit(false);
                    tracing::warn!(connector = %self.spec.id.connector, task = self.spec.id.task,
                        batches = self.in_flight.get_mut().len(), timeout = ?self.flush_timeout,
                        "records still unacknowledged after offset.flush.timeout.ms; their offsets stay uncommitted");
                    self.in_flight.get_mut().clear();
                    break;
                }
            }
        }
        Ok(())
    }

    /// Transforms and converts one record; `None` when a transform dropped it or a tolerated error skipped it.
    async fn convert(&self, record: ConnectRecord) -> Result<Option<Outgoing>, ConnectError> {
        let chain = &self.chain;
        let transformed = self
            .errors
            .execute(Stage::Transformation, "", None, || {
                let record = record.clone();
                async move { chain.apply(record) }
            })
            .await?;
        let Some(Some(record)) = transformed else { return Ok(None) };
        let topic = record.topic.as_str();
        let (key_converter, value_converter) = (&self.key_converter, &self.value_converter);
        let Some(key) = self
            .errors
            .execute(Stage::KeyConverter, &self.key_class, None, || {
                key_converter.from_connect(topic, true, record.key_schema.as_ref(), &record.key)
            })
            .await?
        else {
            return Ok(None);
        };
        let Some(value) = self
            .errors
            .execute(Stage::ValueConverter, &self.value_class, None, || {
                value_converter.from_connect(topic, false, record.value_schema.as_ref(), &record.value)
            })
            .await?
        else {
            return Ok(None);
        };
        let header_converter = &self.header_converter;
        let Some(headers) = self
            .errors
            .execute(Stage::HeaderConverter, &self.header_class, None, || async {
                let mut headers = Vec::with_capacity(record.headers.len());
                for h in &record.headers {
                    headers.push((h.key.clone(), header_converter.from_connect(topic, h).await?));
                }
                Ok(headers)
            })
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Outgoing {
            topic: record.topic.clone(),
            partition: record.kafka_partition,
            key,
            value,
            headers,
            timestamp: record.timestamp,
        }))
    }

    /// Commits the offsets of delivered records (at-least-once mode), then tells the task.
    async fn commit_offsets(&mut self, task: &mut dyn SourceTask, control: &RunnerControl) -> Result<(), ConnectError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let entries: Vec<_> = std::mem::take(&mut self.pending).into_values().map(|(p, o)| (p, Some(o))).collect();
        match self.ctx.offsets.put(&self.spec.id.connector, entries.clone()).await {
            Ok(()) => control.counters.add_offset_commit(true),
            Err(e) => {
                // Keep them for the next attempt: the records are in Kafka, only their offsets are not yet.
                control.counters.add_offset_commit(false);
                tracing::warn!(connector = %self.spec.id.connector, task = self.spec.id.task, error = %e,
                    "committing source offsets failed; retrying at the next flush");
                for (p, o) in entries {
                    let key = serde_json::Value::Object(p.clone()).to_string();
                    self.pending.entry(key).or_insert((p, o.expect("entries built with offsets")));
                }
                return Ok(());
            }
        }
        task.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn exactly_once_settings() {
        assert!(!exactly_once(&config(&[])).unwrap());
        assert!(exactly_once(&config(&[("exactly.once.support", "required")])).unwrap());
        assert!(exactly_once(&config(&[("exactly.once.support", "maybe")])).is_err());
        let err = exactly_once(&config(&[("exactly.once.support", "required"), ("transaction.boundary", "interval")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("transaction.boundary"), "{err}");
    }

    #[test]
    fn transactional_ids_name_connector_and_task() {
        let mut spec = TaskSpec {
            id: super::super::herder::TaskId { connector: "src".into(), task: 2 },
            connector_config: Config::new(),
            task_config: Config::new(),
        };
        assert_eq!(transactional_id(&spec), "src-2");
        spec.connector_config.insert("transactional.id.prefix".into(), "connect-cluster".into());
        assert_eq!(transactional_id(&spec), "connect-cluster-src-2");
    }
}
