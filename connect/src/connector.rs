//! The connector API: a connector splits its job into task configs; source tasks poll records from a system,
//! sink tasks receive records and flush them durably before their offsets are committed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::ConfigDef;
use crate::error::ConnectError;
use crate::record::{SinkRecord, SourceMap, SourceRecord, TopicPartition};

/// A connector's or task's configuration: string keys and values, as Kafka Connect passes them.
pub type Config = BTreeMap<String, String>;

/// Whether a connector reads from a system into Kafka or writes from Kafka into a system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorType {
    Source,
    Sink,
}

/// The part of a connector that runs once per connector: checks its config and splits the work.
pub trait Connector: Send + Sync {
    /// The connector's version, shown by `/connector-plugins`.
    fn version(&self) -> &str;
    fn connector_type(&self) -> ConnectorType;
    /// Every setting the connector understands, with types, defaults and docs; `validate` checks against it.
    fn config_def(&self) -> ConfigDef;
    /// Checks beyond [`Connector::config_def`] (fields that depend on each other); per-field messages.
    fn validate(&self, config: &Config) -> Vec<(String, String)> {
        let _ = config;
        Vec::new()
    }
    /// The configs of at most `max_tasks` tasks that together do the connector's work.
    fn task_configs(&self, config: &Config, max_tasks: usize) -> Result<Vec<Config>, ConnectError>;
}

/// What a source task can ask the runtime.
#[async_trait]
pub trait SourceTaskContext: Send + Sync {
    /// The last committed offset of a source partition, to resume from.
    async fn offset(&self, partition: &SourceMap) -> Result<Option<SourceMap>, ConnectError>;
    /// Reports how far the task is through a bounded piece of work, such as a snapshot of existing rows
    /// before streaming changes: `done` of `total` units (`None` when the total is unknown), `unit` naming
    /// them ("rows", "records"). The worker shows it in metrics and the CLI's progress line; a task reports
    /// as often as it likes (the runtime keeps only the latest), and reports `done == total` when finished.
    fn progress(&self, what: &str, unit: &str, done: u64, total: Option<u64>) {
        let _ = (what, unit, done, total);
    }
    /// A handle on [`SourceTaskContext::progress`] that the task may keep past `start` (the context is only
    /// lent to `start`), to report work done in `poll`. Discards reports by default.
    fn progress_reporter(&self) -> ProgressReporter {
        ProgressReporter::default()
    }
}

/// Where a source task sends progress reports after `start`; see [`SourceTaskContext::progress_reporter`].
#[derive(Clone, Default)]
pub struct ProgressReporter(Option<Arc<ReportFn>>);

/// `(what, unit, done, total)`, as [`SourceTaskContext::progress`] takes them.
type ReportFn = dyn Fn(&str, &str, u64, Option<u64>) + Send + Sync;

impl ProgressReporter {
    /// A reporter calling `report(what, unit, done, total)`.
    pub fn new(report: impl Fn(&str, &str, u64, Option<u64>) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(report)))
    }

    /// Same meaning as [`SourceTaskContext::progress`].
    pub fn report(&self, what: &str, unit: &str, done: u64, total: Option<u64>) {
        if let Some(report) = &self.0 {
            report(what, unit, done, total);
        }
    }
}

impl std::fmt::Debug for ProgressReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "ProgressReporter" } else { "ProgressReporter(discard)" })
    }
}

/// Reads records from a system.
#[async_trait]
pub trait SourceTask: Send {
    async fn start(&mut self, config: &Config, context: &dyn SourceTaskContext) -> Result<(), ConnectError>;
    /// The next records; an empty vector when there is nothing now (the runtime polls again). Should return
    /// within about a second so pause and stop are prompt.
    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError>;
    /// Called after the records' offsets are committed (a source may acknowledge upstream).
    async fn commit(&mut self) -> Result<(), ConnectError> {
        Ok(())
    }
    async fn stop(&mut self) -> Result<(), ConnectError>;
    /// Whether this task can take part in exactly-once delivery (records and offsets in one transaction):
    /// true when its offsets alone say where to resume.
    fn supports_exactly_once(&self) -> bool {
        true
    }
}

/// Writes records into a system.
#[async_trait]
pub trait SinkTask: Send {
    async fn start(&mut self, config: &Config) -> Result<(), ConnectError>;
    /// Partitions newly assigned to this task, before any of their records is put. A sink that stores its
    /// own offsets atomically with its data (the way to exactly-once into a system without transactions)
    /// answers where to resume for some of them: the runtime starts those partitions there instead of at
    /// the group's committed offset (Kafka Connect's `SinkTaskContext.offset` in `open`).
    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<HashMap<TopicPartition, i64>, ConnectError> {
        let _ = partitions;
        Ok(HashMap::new())
    }
    /// Partitions taken away from this task (a rebalance or the task stopping), after their last flush;
    /// the task drops what it holds for them.
    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<(), ConnectError> {
        let _ = partitions;
        Ok(())
    }
    /// Hands over records; may buffer them until [`SinkTask::flush`].
    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<(), ConnectError>;
    /// Makes everything put so far durable. Offsets (next offset to read per partition) are committed only
    /// after this returns Ok.
    async fn flush(&mut self, offsets: &HashMap<TopicPartition, i64>) -> Result<(), ConnectError>;
    async fn stop(&mut self) -> Result<(), ConnectError>;
}

/// A connector plugin: its class name (and aliases) and how to make its connector and tasks.
pub trait Plugin: Send + Sync {
    /// The full class name users put in `connector.class`, e.g. `io.sluice.connect.datagen.DatagenConnector`.
    fn class(&self) -> &str;
    /// Short names also accepted in `connector.class` (e.g. `DatagenConnector`, `datagen`).
    fn aliases(&self) -> Vec<String> {
        Vec::new()
    }
    fn connector(&self) -> Box<dyn Connector>;
    /// A new source task (source plugins only).
    fn source_task(&self) -> Option<Box<dyn SourceTask>> {
        None
    }
    /// A new sink task (sink plugins only).
    fn sink_task(&self) -> Option<Box<dyn SinkTask>> {
        None
    }
}

/// Task-level counters a task may report for metrics (records, errors), keyed by name.
pub type TaskMetrics = HashMap<String, u64>;
