//! Error handling for task runners, as Kafka Connect does it: `errors.tolerance` (fail on the first bad record,
//! or skip and count it), retries of retriable failures with capped exponential backoff (`errors.retry.*`),
//! the error log (`errors.log.*`) and the sink-side dead-letter queue (`errors.deadletterqueue.*`), which
//! receives the record's original bytes with `__connect.errors.*` context headers.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use tokio::time::Instant;

use super::herder::{TaskId, TaskMetricsInfo};
use super::task::WorkerContext;
use crate::connector::{Config, TaskMetrics};
use crate::error::ConnectError;

/// Kafka Connect's first retry delay; later ones double up to `errors.retry.delay.max.ms`.
pub const RETRY_DELAY_MIN: Duration = Duration::from_millis(300);

/// How long a DLQ topic creation or a DLQ write may take before it counts as failed.
const DLQ_TIMEOUT: Duration = Duration::from_secs(30);

/// `errors.tolerance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    /// The first failing record fails the task.
    None,
    /// Failing records are skipped (and logged / sent to the DLQ when configured).
    All,
}

/// The `errors.*` settings of one connector.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorConfig {
    pub tolerance: Tolerance,
    /// `errors.retry.timeout`: how long retriable failures are retried (0: never).
    pub retry_timeout: Duration,
    /// `errors.retry.delay.max.ms`: the cap of the exponential backoff between retries.
    pub retry_delay_max: Duration,
    /// `errors.log.enable`.
    pub log_enable: bool,
    /// `errors.log.include.messages`: whether the log shows the record's key and value.
    pub log_include_messages: bool,
    /// `errors.deadletterqueue.topic.name` (sink connectors only).
    pub dlq_topic: Option<String>,
    /// `errors.deadletterqueue.topic.replication.factor`, capped at the broker count when creating the topic.
    pub dlq_replication_factor: i16,
    /// `errors.deadletterqueue.context.headers.enable`.
    pub dlq_context_headers: bool,
}

impl Default for ErrorConfig {
    fn default() -> Self {
        ErrorConfig {
            tolerance: Tolerance::None,
            retry_timeout: Duration::ZERO,
            retry_delay_max: Duration::from_millis(60_000),
            log_enable: false,
            log_include_messages: false,
            dlq_topic: None,
            dlq_replication_factor: 3,
            dlq_context_headers: false,
        }
    }
}

impl ErrorConfig {
    /// Reads the `errors.*` settings of a connector config, with Kafka Connect's defaults.
    pub fn from_config(config: &Config) -> Result<ErrorConfig, ConnectError> {
        let mut out = ErrorConfig::default();
        if let Some(v) = config.get("errors.tolerance") {
            out.tolerance = match v.trim() {
                "none" => Tolerance::None,
                "all" => Tolerance::All,
                other => {
                    return Err(ConnectError::config(
                        "errors.tolerance",
                        format!("`{other}` is not a tolerance; use `none` (fail on the first error) or `all` (skip)"),
                    ))
                }
            };
        }
        if let Some(ms) = parse_i64(config, "errors.retry.timeout")? {
            // Kafka Connect reads -1 as "retry forever".
            out.retry_timeout = if ms < 0 { Duration::MAX } else { Duration::from_millis(ms as u64) };
        }
        if let Some(ms) = parse_i64(config, "errors.retry.delay.max.ms")? {
            if ms < 0 {
                return Err(ConnectError::config("errors.retry.delay.max.ms", "must be zero or more milliseconds"));
            }
            out.retry_delay_max = Duration::from_millis(ms as u64);
        }
        out.log_enable = parse_bool(config, "errors.log.enable")?.unwrap_or(false);
        out.log_include_messages = parse_bool(config, "errors.log.include.messages")?.unwrap_or(false);
        out.dlq_topic =
            config.get("errors.deadletterqueue.topic.name").map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        if let Some(rf) = parse_i64(config, "errors.deadletterqueue.topic.replication.factor")? {
            out.dlq_replication_factor =
                i16::try_from(rf).ok().filter(|rf| *rf >= 1 || *rf == -1).ok_or_else(|| {
                    ConnectError::config(
                        "errors.deadletterqueue.topic.replication.factor",
                        "must be a positive replica count (or -1 for the broker default)",
                    )
                })?;
        }
        out.dlq_context_headers = parse_bool(config, "errors.deadletterqueue.context.headers.enable")?.unwrap_or(false);
        Ok(out)
    }
}

fn parse_i64(config: &Config, key: &str) -> Result<Option<i64>, ConnectError> {
    config
        .get(key)
        .map(|v| v.trim().parse::<i64>().map_err(|_| ConnectError::config(key, format!("`{v}` is not a whole number"))))
        .transpose()
}

fn parse_bool(config: &Config, key: &str) -> Result<Option<bool>, ConnectError> {
    config
        .get(key)
        .map(|v| match v.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ConnectError::config(key, format!("`{v}` is not `true` or `false`"))),
        })
        .transpose()
}

/// The delay before retry number `attempt` (1 for the first retry): 300 ms doubling each time, capped at
/// `max`, and never past `remaining` (the time left before `errors.retry.timeout` runs out).
pub fn backoff_delay(attempt: u32, max: Duration, remaining: Duration) -> Duration {
    let doubled = RETRY_DELAY_MIN.saturating_mul(1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX));
    doubled.min(max).min(remaining)
}

/// Where in the pipeline a record failed; the names are Kafka Connect's (`__connect.errors.stage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    Transformation,
    TaskPut,
    TaskPoll,
    KafkaProduce,
    KafkaConsume,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::HeaderConverter => "HEADER_CONVERTER",
            Stage::Transformation => "TRANSFORMATION",
            Stage::TaskPut => "TASK_PUT",
            Stage::TaskPoll => "TASK_POLL",
            Stage::KafkaProduce => "KAFKA_PRODUCE",
            Stage::KafkaConsume => "KAFKA_CONSUME",
        }
    }
}

/// The Java exception class Kafka Connect would report for this error (`__connect.errors.exception.class.name`),
/// so tools that read DLQ headers see familiar names.
pub fn exception_class(error: &ConnectError) -> &'static str {
    match error {
        ConnectError::Conversion(_) | ConnectError::Transform { .. } => "org.apache.kafka.connect.errors.DataException",
        ConnectError::Connector { retriable: true, .. } => "org.apache.kafka.connect.errors.RetriableException",
        ConnectError::Kafka { .. } => "org.apache.kafka.common.KafkaException",
        ConnectError::Config { .. } => "org.apache.kafka.common.config.ConfigException",
        _ => "org.apache.kafka.connect.errors.ConnectException",
    }
}

/// A record as it came from Kafka, before conversion: what the DLQ receives and the error log names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OriginalRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Per-task counters; Kafka Connect's `task-error-metrics` names in [`MetricsSnapshot::to_map`].
#[derive(Debug, Default)]
pub struct TaskCounters {
    read: AtomicU64,
    processed: AtomicU64,
    offset_commits: AtomicU64,
    offset_commit_failures: AtomicU64,
    failed: AtomicU64,
    failures: AtomicU64,
    skipped: AtomicU64,
    retries: AtomicU64,
    logged: AtomicU64,
    dlq: AtomicU64,
    dlq_failures: AtomicU64,
}

/// A copy of a task's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Records polled from a source task, or read from Kafka by a sink runner.
    pub records_read: u64,
    /// Offset commits that completed.
    pub offset_commits: u64,
    /// Offset commits that failed (the records are retried or redelivered).
    pub offset_commit_failures: u64,
    /// Records fully handled: written to Kafka (source) or handed to `put` (sink).
    pub records_processed: u64,
    /// Records that failed after any retries (Kafka: `total-record-errors`).
    pub records_failed: u64,
    /// Failed attempts, retries included (Kafka: `total-record-failures`).
    pub record_failures: u64,
    /// Records skipped under `errors.tolerance=all`.
    pub records_skipped: u64,
    pub retries: u64,
    pub errors_logged: u64,
    /// Records written to the dead-letter queue.
    pub records_sent_to_dlq: u64,
    pub dlq_produce_failures: u64,
}

impl MetricsSnapshot {
    /// The counters under Kafka Connect's metric names.
    pub fn to_map(&self) -> TaskMetrics {
        [
            ("records-read", self.records_read),
            ("records-processed", self.records_processed),
            ("offset-commit-completion-total", self.offset_commits),
            ("offset-commit-skip-total", self.offset_commit_failures),
            ("total-record-errors", self.records_failed),
            ("total-record-failures", self.record_failures),
            ("total-records-skipped", self.records_skipped),
            ("total-retries", self.retries),
            ("total-errors-logged", self.errors_logged),
            ("deadletterqueue-produce-requests", self.records_sent_to_dlq),
            ("deadletterqueue-produce-failures", self.dlq_produce_failures),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The counters in the REST API's `/metrics` shape.
    pub fn to_info(&self, id: TaskId) -> TaskMetricsInfo {
        TaskMetricsInfo {
            records_read: self.records_read,
            records_written: self.records_processed,
            offset_commits: self.offset_commits,
            offset_commit_failures: self.offset_commit_failures,
            record_errors: self.records_failed,
            record_failures: self.record_failures,
            records_skipped: self.records_skipped,
            retries: self.retries,
            errors_logged: self.errors_logged,
            dlq_records: self.records_sent_to_dlq,
            dlq_failures: self.dlq_produce_failures,
            ..TaskMetricsInfo::new(id)
        }
    }
}

impl TaskCounters {
    pub fn add_read(&self, n: u64) {
        self.read.fetch_add(n, Ordering::Relaxed);
    }
    pub fn add_offset_commit(&self, ok: bool) {
        let counter = if ok { &self.offset_commits } else { &self.offset_commit_failures };
        counter.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add_processed(&self, n: u64) {
        self.processed.fetch_add(n, Ordering::Relaxed);
    }
    pub fn add_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        self.failures.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add_skipped(&self, n: u64) {
        self.skipped.fetch_add(n, Ordering::Relaxed);
    }
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            records_read: get(&self.read),
            offset_commits: get(&self.offset_commits),
            offset_commit_failures: get(&self.offset_commit_failures),
            records_processed: get(&self.processed),
            records_failed: get(&self.failed),
            record_failures: get(&self.failures),
            records_skipped: get(&self.skipped),
            retries: get(&self.retries),
            errors_logged: get(&self.logged),
            records_sent_to_dlq: get(&self.dlq),
            dlq_produce_failures: get(&self.dlq_failures),
        }
    }
}

/// Runs each stage of a record's trip with retries and tolerance, and reports what finally failed.
pub struct ErrorHandler {
    config: ErrorConfig,
    connector: String,
    task: usize,
    counters: Arc<TaskCounters>,
    dlq: Option<DeadLetterQueue>,
    /// `transforms.<name>.type` by transform name, to name the class of a failed transform.
    transform_classes: std::collections::HashMap<String, String>,
}

impl std::fmt::Debug for ErrorHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorHandler").field("config", &self.config).finish_non_exhaustive()
    }
}

impl ErrorHandler {
    pub fn new(config: ErrorConfig, connector: &str, task: usize, counters: Arc<TaskCounters>) -> ErrorHandler {
        ErrorHandler {
            config,
            connector: connector.to_string(),
            task,
            counters,
            dlq: None,
            transform_classes: Default::default(),
        }
    }

    /// Learns the transform classes of `connector_config`, so failures name them.
    pub fn with_transform_classes(mut self, connector_config: &Config) -> ErrorHandler {
        self.transform_classes = connector_config
            .iter()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix("transforms.")?.strip_suffix(".type")?;
                Some((name.to_string(), v.clone()))
            })
            .collect();
        self
    }

    /// Sends records that finally failed to `dlq` too.
    pub fn with_dlq(mut self, dlq: DeadLetterQueue) -> ErrorHandler {
        self.dlq = Some(dlq);
        self
    }

    pub fn config(&self) -> &ErrorConfig {
        &self.config
    }

    pub fn counters(&self) -> &Arc<TaskCounters> {
        &self.counters
    }

    /// Runs `op` for `stage`, retrying retriable failures within `errors.retry.timeout`. `Ok(Some(_))` is
    /// success; `Ok(None)` means the record failed and is tolerated (skip it); `Err` fails the task, with a
    /// message that names the stage, the record and the cause. `class_name` names the converter, transform
    /// or task class that failed (`__connect.errors.class.name`).
    pub async fn execute<T, F, Fut>(
        &self,
        stage: Stage,
        class_name: &str,
        original: Option<&OriginalRecord>,
        mut op: F,
    ) -> Result<Option<T>, ConnectError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ConnectError>>,
    {
        let deadline = Instant::now().checked_add(self.config.retry_timeout);
        let mut attempt = 0u32;
        loop {
            let error = match op().await {
                Ok(value) => return Ok(Some(value)),
                Err(e) => e,
            };
            self.counters.failures.fetch_add(1, Ordering::Relaxed);
            let remaining = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if error.is_retriable() && !remaining.is_zero() {
                attempt += 1;
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
                let delay = backoff_delay(attempt, self.config.retry_delay_max, remaining);
                tracing::debug!(connector = %self.connector, task = self.task, stage = stage.name(), attempt,
                    ?delay, error = %error, "retrying a retriable failure");
                tokio::time::sleep(delay).await;
                continue;
            }
            return self.failed(stage, class_name, original, error).await.map(|()| None);
        }
    }

    /// A record finally failed at `stage`: counts, logs, sends it to the DLQ; `Ok` when tolerated.
    pub async fn failed(
        &self,
        stage: Stage,
        class_name: &str,
        original: Option<&OriginalRecord>,
        error: ConnectError,
    ) -> Result<(), ConnectError> {
        let class_name = match &error {
            ConnectError::Transform { name, .. } if class_name.is_empty() => {
                // The chain names a failure `<transform> (transforms.<alias>)`.
                let alias =
                    name.rsplit_once("(transforms.").map_or(name.as_str(), |(_, rest)| rest.trim_end_matches(')'));
                self.transform_classes.get(alias).map_or(name.as_str(), String::as_str)
            }
            _ => class_name,
        };
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
        if self.config.log_enable {
            self.counters.logged.fetch_add(1, Ordering::Relaxed);
            self.log(stage, class_name, original, &error);
        }
        if self.config.tolerance == Tolerance::None {
            return Err(tolerance_exceeded(stage, class_name, original, &error));
        }
        if let (Some(dlq), Some(original)) = (&self.dlq, original) {
            match dlq.send(&self.connector, self.task, stage, class_name, original, &error).await {
                Ok(()) => {
                    self.counters.dlq.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    // Kafka Connect fails the task when the DLQ cannot take a record: skipping it silently
                    // would lose it.
                    self.counters.dlq_failures.fetch_add(1, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        self.counters.skipped.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn log(&self, stage: Stage, class_name: &str, original: Option<&OriginalRecord>, error: &ConnectError) {
        let (topic, partition, offset) =
            original.map(|r| (r.topic.as_str(), r.partition, r.offset)).unwrap_or(("", -1, -1));
        if self.config.log_include_messages {
            let text = |b: &Option<Vec<u8>>| b.as_deref().map(|b| String::from_utf8_lossy(b).into_owned());
            tracing::warn!(connector = %self.connector, task = self.task, stage = stage.name(), class = class_name,
                topic, partition, offset, key = ?original.and_then(|r| text(&r.key)),
                value = ?original.and_then(|r| text(&r.value)), error = %error, "error handling a record");
        } else {
            tracing::warn!(connector = %self.connector, task = self.task, stage = stage.name(), class = class_name,
                topic, partition, offset, error = %error, "error handling a record");
        }
    }
}

/// The error a task fails with when `errors.tolerance=none` meets a failure; its text becomes the trace.
pub fn tolerance_exceeded(
    stage: Stage,
    class_name: &str,
    original: Option<&OriginalRecord>,
    error: &ConnectError,
) -> ConnectError {
    let place = match original {
        Some(r) => format!(" (topic {}, partition {}, offset {})", r.topic, r.partition, r.offset),
        None => String::new(),
    };
    ConnectError::connector(format!(
        "Tolerance exceeded in error handler\nCaused by: error in stage {} ({class_name}){place}: {error} [{}]",
        stage.name(),
        exception_class(error),
    ))
}

/// The sink-side dead-letter queue: a topic that receives the original bytes of records that failed.
#[derive(Clone)]
pub struct DeadLetterQueue {
    topic: String,
    context_headers: bool,
    producer: FutureProducer,
}

impl std::fmt::Debug for DeadLetterQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetterQueue").field("topic", &self.topic).finish_non_exhaustive()
    }
}

impl DeadLetterQueue {
    /// Connects to the DLQ topic of `config`, creating it when missing; `None` when no DLQ is configured.
    pub async fn open(ctx: &WorkerContext, config: &ErrorConfig) -> Result<Option<DeadLetterQueue>, ConnectError> {
        let Some(topic) = config.dlq_topic.clone() else { return Ok(None) };
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", &ctx.bootstrap_servers);
        for (k, v) in &ctx.client_config {
            client.set(k, v);
        }
        ensure_topic(&client, &topic, 1, config.dlq_replication_factor, &[]).await?;
        let producer: FutureProducer = client
            .clone()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create()
            .map_err(|e| kafka_error("creating the dead-letter queue producer", e))?;
        Ok(Some(DeadLetterQueue { topic, context_headers: config.dlq_context_headers, producer }))
    }

    /// Writes `original` as it was read, with the `__connect.errors.*` headers when enabled.
    pub async fn send(
        &self,
        connector: &str,
        task: usize,
        stage: Stage,
        class_name: &str,
        original: &OriginalRecord,
        error: &ConnectError,
    ) -> Result<(), ConnectError> {
        let mut headers = OwnedHeaders::new();
        for (key, value) in &original.headers {
            headers = headers.insert(KafkaHeader { key, value: value.as_deref() });
        }
        if self.context_headers {
            let context = [
                ("__connect.errors.topic", original.topic.clone()),
                ("__connect.errors.partition", original.partition.to_string()),
                ("__connect.errors.offset", original.offset.to_string()),
                ("__connect.errors.connector.name", connector.to_string()),
                ("__connect.errors.task.id", task.to_string()),
                ("__connect.errors.stage", stage.name().to_string()),
                ("__connect.errors.class.name", class_name.to_string()),
                ("__connect.errors.exception.class.name", exception_class(error).to_string()),
                ("__connect.errors.exception.message", error.to_string()),
                ("__connect.errors.exception.stacktrace", format!("{}: {error}", exception_class(error))),
            ];
            for (key, value) in &context {
                headers = headers.insert(KafkaHeader { key, value: Some(value.as_bytes()) });
            }
        }
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).headers(headers);
        if let Some(key) = &original.key {
            record = record.key(key.as_slice());
        }
        if let Some(value) = &original.value {
            record = record.payload(value.as_slice());
        }
        if let Some(ts) = original.timestamp {
            record = record.timestamp(ts);
        }
        self.producer.send(record, DLQ_TIMEOUT).await.map(|_| ()).map_err(|(e, _)| {
            kafka_error(&format!("writing a failed record to the dead-letter queue `{}`", self.topic), e)
        })
    }
}

/// Creates `topic` when missing, with `replication_factor` capped at the number of brokers (-1: the broker's
/// default) and the given topic configs.
pub(crate) async fn ensure_topic(
    client: &ClientConfig,
    topic: &str,
    partitions: i32,
    replication_factor: i16,
    configs: &[(&str, &str)],
) -> Result<(), ConnectError> {
    let (exists, brokers) = {
        let client = client.clone();
        let topic = topic.to_string();
        // Metadata calls block; keep them off the runtime's threads.
        tokio::task::spawn_blocking(move || -> Result<(bool, usize), ConnectError> {
            let probe: BaseConsumer = client.create().map_err(|e| kafka_error("creating a metadata client", e))?;
            let metadata =
                probe.fetch_metadata(None, DLQ_TIMEOUT).map_err(|e| kafka_error("reading cluster metadata", e))?;
            let exists = metadata.topics().iter().any(|t| t.name() == topic && t.error().is_none());
            Ok((exists, metadata.brokers().len().max(1)))
        })
        .await
        .map_err(|e| ConnectError::Io(format!("metadata lookup did not finish: {e}")))??
    };
    if exists {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> =
        client.create().map_err(|e| kafka_error("creating an admin client", e))?;
    let replicas = if replication_factor < 0 { -1 } else { i32::from(replication_factor).min(brokers as i32) };
    let mut new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(replicas));
    for (k, v) in configs {
        new_topic = new_topic.set(k, v);
    }
    let results = admin
        .create_topics([&new_topic], &AdminOptions::new().operation_timeout(Some(DLQ_TIMEOUT)))
        .await
        .map_err(|e| kafka_error(&format!("creating topic `{topic}`"), e))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => {
                return Err(ConnectError::Kafka {
                    doing: format!("creating topic `{topic}`"),
                    message: code.to_string(),
                })
            }
        }
    }
    Ok(())
}

pub(crate) fn kafka_error(doing: &str, e: rdkafka::error::KafkaError) -> ConnectError {
    ConnectError::Kafka { doing: doing.to_string(), message: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(config: ErrorConfig) -> ErrorHandler {
        ErrorHandler::new(config, "c", 0, Arc::new(TaskCounters::default()))
    }

    #[test]
    fn backoff_doubles_from_300ms_and_is_capped() {
        let max = Duration::from_millis(1000);
        let far = Duration::from_secs(60);
        let delays: Vec<u128> = (1..=5).map(|a| backoff_delay(a, max, far).as_millis()).collect();
        assert_eq!(delays, [300, 600, 1000, 1000, 1000]);
        assert_eq!(backoff_delay(2, max, Duration::from_millis(50)), Duration::from_millis(50));
        assert_eq!(backoff_delay(64, Duration::MAX, Duration::MAX), RETRY_DELAY_MIN.saturating_mul(u32::MAX));
    }

    #[test]
    fn config_defaults_and_parsing() {
        assert_eq!(ErrorConfig::from_config(&Config::new()).unwrap(), ErrorConfig::default());
        let config: Config = [
            ("errors.tolerance", "all"),
            ("errors.retry.timeout", "-1"),
            ("errors.retry.delay.max.ms", "500"),
            ("errors.log.enable", "true"),
            ("errors.deadletterqueue.topic.name", "dlq"),
            ("errors.deadletterqueue.topic.replication.factor", "1"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let parsed = ErrorConfig::from_config(&config).unwrap();
        assert_eq!(parsed.tolerance, Tolerance::All);
        assert_eq!(parsed.retry_timeout, Duration::MAX);
        assert_eq!(parsed.retry_delay_max, Duration::from_millis(500));
        assert!(parsed.log_enable && parsed.dlq_context_headers && !parsed.log_include_messages);
        assert_eq!(parsed.dlq_topic.as_deref(), Some("dlq"));
        assert_eq!(parsed.dlq_replication_factor, 1);
        let bad: Config = [("errors.tolerance".to_string(), "some".to_string())].into_iter().collect();
        let err = ErrorConfig::from_config(&bad).unwrap_err().to_string();
        assert!(err.contains("errors.tolerance") && err.contains("none"), "{err}");
    }

    // Real time, with the backoff capped at a few milliseconds: the schedule itself is
    // `backoff_doubles_from_300ms_and_is_capped`.
    #[tokio::test]
    async fn retriable_failures_are_retried_until_success() {
        let h = handler(ErrorConfig {
            retry_timeout: Duration::from_secs(30),
            retry_delay_max: Duration::from_millis(2),
            ..ErrorConfig::default()
        });
        let mut calls = 0;
        let out = h
            .execute(Stage::TaskPut, "T", None, || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        Err(ConnectError::retriable("busy"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(out, Some(3));
        let m = h.counters().snapshot();
        assert_eq!((m.retries, m.record_failures, m.records_failed), (2, 2, 0));
    }

    #[tokio::test]
    async fn retries_stop_at_the_retry_timeout() {
        let h = handler(ErrorConfig {
            retry_timeout: Duration::from_millis(100),
            retry_delay_max: Duration::from_millis(10),
            ..ErrorConfig::default()
        });
        let started = Instant::now();
        let err = h
            .execute(Stage::TaskPut, "T", None, || async { Err::<(), _>(ConnectError::retriable("busy")) })
            .await
            .unwrap_err()
            .to_string();
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(100) && elapsed < Duration::from_secs(10), "{elapsed:?}");
        assert!(h.counters().snapshot().retries >= 5, "{:?}", h.counters().snapshot());
        assert!(err.contains("Tolerance exceeded") && err.contains("TASK_PUT") && err.contains("busy"), "{err}");
    }

    #[tokio::test]
    async fn non_retriable_failures_are_not_retried() {
        let h = handler(ErrorConfig { retry_timeout: Duration::from_secs(10), ..ErrorConfig::default() });
        let mut calls = 0;
        let out = h
            .execute(Stage::ValueConverter, "JsonConverter", None, || {
                calls += 1;
                async { Err::<(), _>(ConnectError::Conversion("bad json".into())) }
            })
            .await;
        assert_eq!(calls, 1);
        let err = out.unwrap_err().to_string();
        assert!(err.contains("VALUE_CONVERTER") && err.contains("bad json") && err.contains("DataException"), "{err}");
    }

    #[tokio::test]
    async fn tolerance_all_skips_and_counts() {
        let h = handler(ErrorConfig { tolerance: Tolerance::All, log_enable: true, ..ErrorConfig::default() });
        let original = OriginalRecord { topic: "t".into(), partition: 1, offset: 7, ..OriginalRecord::default() };
        let out = h
            .execute(Stage::Transformation, "Cast", Some(&original), || async {
                Err::<(), _>(ConnectError::Transform { name: "cast".into(), message: "no".into() })
            })
            .await
            .unwrap();
        assert_eq!(out, None);
        let m = h.counters().snapshot();
        assert_eq!((m.records_failed, m.records_skipped, m.errors_logged, m.records_sent_to_dlq), (1, 1, 1, 0));
        assert_eq!(m.to_map()["total-records-skipped"], 1);
    }

    #[test]
    fn tolerance_exceeded_names_the_record() {
        let original = OriginalRecord { topic: "t".into(), partition: 2, offset: 9, ..OriginalRecord::default() };
        let e = tolerance_exceeded(Stage::KeyConverter, "K", Some(&original), &ConnectError::Conversion("x".into()));
        let text = e.to_string();
        assert!(text.contains("KEY_CONVERTER") && text.contains("topic t, partition 2, offset 9"), "{text}");
        assert!(!e.is_retriable());
    }
}
