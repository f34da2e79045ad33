//! The sink task runner: a consumer in group `connect-<connector>` reads `topics` / `topics.regex`; each batch
//! goes through key/value converters and transforms to the task's `put`. Every `offset.flush.interval.ms`, at
//! stop and before partitions are revoked, the task flushes and only then are the consumer's offsets (the
//! next offset to read) committed, so a record is acknowledged only once the task has made it durable.
//!
//! Partitions are opened on the task when assigned (before any of their records is put) and closed when
//! revoked or at stop. Offsets the task answers in `open` (a sink that stores its offsets with its data) are
//! where those partitions start: they are written into the assignment itself, so no record before them is
//! ever fetched.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol, StreamConsumer};
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};

use super::errors::{backoff_delay, kafka_error, DeadLetterQueue, ErrorConfig, ErrorHandler, OriginalRecord, Stage};
use super::herder::State;
use super::source::failure_trace;
use super::task::{apply_overrides, client_config, flush_interval, RunnerControl, Target, TaskSpec, WorkerContext};
use crate::connector::{Config, SinkTask};
use crate::converters::{Converter, HeaderConverter};
use crate::error::ConnectError;
use crate::record::{ConnectRecord, SinkRecord, TopicPartition};
use crate::transforms::Chain;

/// Most records handed to one `put` (Kafka's `max.poll.records` default).
const MAX_BATCH: usize = 500;

/// The librdkafka setting (and our default for it, unless the worker's or the connector's settings give one)
/// for how long a partition with a full prefetch queue waits before it is fetched again.
const FETCH_QUEUE_BACKOFF: &str = "fetch.queue.backoff.ms";
const FETCH_QUEUE_BACKOFF_MS: &str = "10";

/// What the runner and the consumer's rebalance callbacks share.
struct Shared {
    task: tokio::sync::Mutex<Box<dyn SinkTask>>,
    /// Next offset to read per partition, for records already put (or where `open` said to resume).
    positions: Mutex<HashMap<TopicPartition, i64>>,
    /// What was last committed per partition.
    committed: Mutex<HashMap<TopicPartition, i64>>,
    /// Partitions opened on the task and not closed since.
    opened: Mutex<HashSet<TopicPartition>>,
    /// Without a multi-threaded runtime the callbacks cannot wait for the task: partitions assigned (to open,
    /// then seek) and revoked (to close) wait here for the run loop, which handles them before any put.
    pending_open: Mutex<Vec<TopicPartition>>,
    pending_close: Mutex<Vec<TopicPartition>>,
    /// A failure inside a callback (`open` refused, the assignment failed), for the run loop to fail the task.
    failure: Mutex<Option<ConnectError>>,
    /// Wakes the run loop when a callback left it something to do.
    wake: tokio::sync::Notify,
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

    /// Partitions the task resumes where it said: that is where they stand, and the next flush commits it to
    /// the group (whatever the group had is older than the sink's own record).
    fn resume_at(&self, offsets: &HashMap<TopicPartition, i64>) {
        let mut positions = self.positions.lock();
        let mut committed = self.committed.lock();
        for (tp, offset) in offsets {
            positions.insert(tp.clone(), *offset);
            committed.remove(tp);
        }
    }

    fn fail(&self, error: ConnectError) {
        tracing::error!(connector = %self.connector, task = self.task_id, error = %error, "sink task failed in a rebalance");
        self.failure.lock().get_or_insert(error);
        self.wake.notify_one();
    }

    fn take_failure(&self) -> Result<(), ConnectError> {
        self.failure.lock().take().map_or(Ok(()), Err)
    }
}

/// The offsets `open` answered, kept to the partitions asked about (anything else is the task's mistake).
fn resume_offsets(
    connector: &str,
    asked: &[TopicPartition],
    answered: HashMap<TopicPartition, i64>,
) -> HashMap<TopicPartition, i64> {
    answered
        .into_iter()
        .filter(|(tp, offset)| {
            let keep = asked.contains(tp) && *offset >= 0;
            if !keep {
                tracing::warn!(connector, topic = %tp.topic, partition = tp.partition, offset,
                    "ignoring an offset from open for a partition not being opened (or negative)");
            }
            keep
        })
        .collect()
}

/// The runtime to block on from inside a consumer callback, when there is a multi-threaded one: callbacks run
/// inside the consumer's poll on a runtime thread, and the task's methods are async.
fn blocking_handle() -> Option<tokio::runtime::Handle> {
    let handle = tokio::runtime::Handle::try_current().ok()?;
    (handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread).then_some(handle)
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

/// The consumer's rebalance callback, in place of rdkafka's default so the task's `open` can set where the
/// assigned partitions start before they are assigned. Before partitions are revoked, the task flushes and
/// their offsets are committed (Kafka Connect's `onPartitionsRevoked`), then they are closed; newly assigned
/// partitions stay paused while the task is paused.
struct SinkConsumerContext {
    shared: Arc<Shared>,
}

impl ClientContext for SinkConsumerContext {}

impl ConsumerContext for SinkConsumerContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        // As rdkafka's default: the eager protocol replaces the whole assignment, the cooperative one changes
        // it by the partitions given.
        let cooperative = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let opened = self.open_assigned(tpl);
                let assigned = if cooperative { consumer.incremental_assign(tpl) } else { consumer.assign(tpl) };
                if let Err(e) = assigned {
                    self.shared.fail(kafka_error("assigning partitions", e));
                }
                // A task that could not open them must not get their records while it fails.
                if self.shared.paused.load(Ordering::SeqCst) || !opened {
                    if let Err(e) = consumer.pause(tpl) {
                        tracing::warn!(connector = %self.shared.connector, error = %e, "pausing newly assigned partitions failed");
                    }
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.revoke(consumer, &partitions_of(tpl));
                let unassigned = if cooperative { consumer.incremental_unassign(tpl) } else { consumer.unassign() };
                if let Err(e) = unassigned {
                    tracing::warn!(connector = %self.shared.connector, error = %e, "unassigning revoked partitions failed");
                }
            }
            other => {
                tracing::warn!(connector = %self.shared.connector, error = ?other, "rebalance error; dropping the assignment");
                let _ = if cooperative { consumer.incremental_unassign(tpl) } else { consumer.unassign() };
            }
        }
    }
}

impl SinkConsumerContext {
    /// Opens newly assigned partitions on the task and writes the offsets it answers into `tpl`, so the
    /// consumer starts there. Without a multi-threaded runtime the run loop opens them instead (and seeks).
    /// False when the task refused (the run loop then fails it).
    fn open_assigned(&self, tpl: &mut TopicPartitionList) -> bool {
        let shared = &self.shared;
        if shared.closed.load(Ordering::SeqCst) {
            return true;
        }
        let assigned = partitions_of(tpl);
        let Some(handle) = blocking_handle() else {
            tracing::debug!(connector = %shared.connector, "no multi-threaded runtime: opening partitions from the run loop");
            shared.pending_open.lock().extend(assigned);
            shared.wake.notify_one();
            return true;
        };
        let answered =
            tokio::task::block_in_place(|| handle.block_on(async { shared.task.lock().await.open(&assigned).await }));
        let offsets = match answered {
            Ok(answered) => resume_offsets(&shared.connector, &assigned, answered),
            Err(e) => {
                shared.fail(e);
                return false;
            }
        };
        for (tp, offset) in &offsets {
            if let Err(e) = tpl.set_partition_offset(&tp.topic, tp.partition, Offset::Offset(*offset)) {
                shared.fail(kafka_error("starting a partition where the sink task said", e));
                return false;
            }
            tracing::info!(connector = %shared.connector, task = shared.task_id, topic = %tp.topic,
                partition = tp.partition, offset, "resuming where the sink task recorded");
        }
        shared.resume_at(&offsets);
        shared.opened.lock().extend(assigned);
        true
    }

    /// Flushes and commits what was put for `revoked`, then closes them on the task and forgets them.
    fn revoke(&self, consumer: &BaseConsumer<Self>, revoked: &[TopicPartition]) {
        let shared = &self.shared;
        let live = !shared.closed.load(Ordering::SeqCst);
        let offsets = shared.uncommitted(Some(revoked));
        if live && !offsets.is_empty() {
            self.flush_before_revoke(consumer, &offsets);
        }
        // Never opened: nothing to close.
        shared.pending_open.lock().retain(|tp| !revoked.contains(tp));
        let to_close: Vec<TopicPartition> = {
            let mut opened = shared.opened.lock();
            revoked.iter().filter(|tp| opened.remove(*tp)).cloned().collect()
        };
        if live && !to_close.is_empty() {
            match blocking_handle() {
                Some(handle) => {
                    let closed = tokio::task::block_in_place(|| {
                        handle.block_on(async { shared.task.lock().await.close(&to_close).await })
                    });
                    if let Err(e) = closed {
                        tracing::warn!(connector = %shared.connector, task = shared.task_id, error = %e,
                            "closing revoked partitions failed");
                    }
                }
                None => {
                    shared.pending_close.lock().extend(to_close);
                    shared.wake.notify_one();
                }
            }
        }
        let mut positions = shared.positions.lock();
        let mut committed = shared.committed.lock();
        for tp in revoked {
            positions.remove(tp);
            committed.remove(tp);
        }
    }

    fn flush_before_revoke(&self, consumer: &BaseConsumer<Self>, offsets: &HashMap<TopicPartition, i64>) {
        // Without a multi-threaded runtime to block on, the records are simply redelivered to the next owner
        // (at-least-once still holds).
        let Some(handle) = blocking_handle() else {
            tracing::debug!(connector = %self.shared.connector, "no multi-threaded runtime: not flushing before revoke");
            return;
        };
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
        opened: Mutex::new(HashSet::new()),
        pending_open: Mutex::new(Vec::new()),
        pending_close: Mutex::new(Vec::new()),
        failure: Mutex::new(None),
        wake: tokio::sync::Notify::new(),
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
        // Every partition still open (after the final flush in `run_task`), and those revoked but not yet
        // closed by the run loop.
        let mut to_close: Vec<TopicPartition> = shared.opened.lock().drain().collect();
        to_close.append(&mut shared.pending_close.lock());
        to_close.sort();
        to_close.dedup();
        if !to_close.is_empty() {
            if let Err(e) = shared.task.lock().await.close(&to_close).await {
                tracing::warn!(connector = %spec.id.connector, task = spec.id.task, error = %e, "closing partitions at stop failed");
            }
        }
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
    header_converter: HeaderConverter,
    header_class: String,
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
    let header_converter = HeaderConverter::from_config(config, "header.converter")?;

    let mut consumer_config = client_config(ctx);
    consumer_config
        .set("group.id", format!("connect-{}", spec.id.connector))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest");
    // librdkafka stops fetching a partition whose prefetch queue is full (`queued.max.messages.kbytes`) and
    // looks again only after this backoff, 1 s by default: a task that drains the queue in less than that
    // then idles until the next fetch (a 1 KiB-record FileStreamSink ran at 85 MB/s on 0.3 cores). Kafka's
    // consumer fetches again as soon as there is room; a short backoff comes close at negligible cost.
    if consumer_config.get(FETCH_QUEUE_BACKOFF).is_none() {
        consumer_config.set(FETCH_QUEUE_BACKOFF, FETCH_QUEUE_BACKOFF_MS);
    }
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
        header_class: config.get("header.converter").cloned().unwrap_or_default(),
        header_converter,
    };
    control.report(State::Running, None);
    let mut flush_timer = tokio::time::interval_at(tokio::time::Instant::now() + flush_every, flush_every);
    flush_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        shared.take_failure()?;
        tokio::select! {
            () = shared.wake.notified() => runner.open_pending().await.map(drop)?,
            changed = control.target.changed() => {
                let target = if changed.is_err() { Target::Stop } else { control.target() };
                match target {
                    Target::Stop => break,
                    Target::Pause => runner.set_paused(true, control)?,
                    Target::Run => runner.set_paused(false, control)?,
                }
            }
            _ = flush_timer.tick() => {
                runner.open_pending().await?;
                runner.flush_and_commit(control).await?;
            }
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
                // A rebalance runs inside `recv`: the task must have opened (and the consumer sought) the
                // partitions of these records before any is put; records fetched before a seek are dropped.
                shared.take_failure()?;
                let sought = runner.open_pending().await?;
                batch.retain(|m| !sought.contains(&TopicPartition { topic: m.topic().to_string(), partition: m.partition() }));
                if !batch.is_empty() {
                    runner.process(batch, control).await?;
                }
            }
        }
    }
    runner.flush_and_commit(control).await
}

impl Runner<'_> {
    /// What the rebalance callbacks left to the run loop (without a multi-threaded runtime): closes revoked
    /// partitions, opens assigned ones and seeks those the task answered an offset for. Returns the sought
    /// partitions, whose records already fetched come from before the seek.
    async fn open_pending(&self) -> Result<HashSet<TopicPartition>, ConnectError> {
        let closing = std::mem::take(&mut *self.shared.pending_close.lock());
        if !closing.is_empty() {
            self.shared.task.lock().await.close(&closing).await?;
        }
        let opening = std::mem::take(&mut *self.shared.pending_open.lock());
        if opening.is_empty() {
            return Ok(HashSet::new());
        }
        let answered = self.shared.task.lock().await.open(&opening).await?;
        let offsets = resume_offsets(&self.spec.id.connector, &opening, answered);
        for (tp, offset) in &offsets {
            let consumer = self.consumer.clone();
            let (topic, partition, offset) = (tp.topic.clone(), tp.partition, *offset);
            tokio::task::spawn_blocking(move || {
                consumer.seek(&topic, partition, Offset::Offset(offset), Duration::from_secs(30))
            })
            .await
            .map_err(|e| ConnectError::Io(format!("seeking did not finish: {e}")))?
            .map_err(|e| {
                kafka_error(
                    &format!("starting {}-{} at offset {offset}, where the sink task said", tp.topic, partition),
                    e,
                )
            })?;
            tracing::info!(connector = %self.spec.id.connector, task = self.spec.id.task, topic = %tp.topic,
                partition, offset, "resuming where the sink task recorded");
        }
        self.shared.resume_at(&offsets);
        self.shared.opened.lock().extend(opening);
        Ok(offsets.into_keys().collect())
    }

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
        let header_converter = &self.header_converter;
        let Some(headers) = self
            .errors
            .execute(Stage::HeaderConverter, &self.header_class, Some(original), || async {
                let mut headers = Vec::with_capacity(original.headers.len());
                for (k, v) in &original.headers {
                    headers.push(header_converter.to_connect(topic, k, v.as_deref()).await?);
                }
                Ok(headers)
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
                headers,
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

    #[tokio::test]
    async fn headers_become_strings_or_bytes() {
        use crate::data::Value;
        // The default header converter (SimpleHeaderConverter): text stays text, other bytes stay bytes.
        let converter = HeaderConverter::from_config(&config(&[]), "header.converter").unwrap();
        let header = |bytes: Option<&'static [u8]>| converter.to_connect("t", "h", bytes);
        assert_eq!(header(Some(b"x")).await.unwrap().value, Value::String("x".into()));
        assert_eq!(header(Some(&[0xff])).await.unwrap().value, Value::Bytes(vec![0xff]));
        assert_eq!(header(None).await.unwrap().value, Value::Null);
    }
}
