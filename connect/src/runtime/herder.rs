//! [`Herder`]: what a worker offers the REST API, with answers in Kafka Connect's JSON shapes. Standalone and
//! distributed workers implement it; the REST layer only turns HTTP into these calls.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::connector::{Config, ConnectorType};
use crate::error::ApiError;

/// The state a user asked a connector to be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
}

/// A connector's or task's observed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Stopped,
    Failed,
    Restarting,
}

/// `{"connector": "name", "task": 0}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskId {
    pub connector: String,
    pub task: usize,
}

/// `GET /connectors/{name}` and the answer of create/update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: Config,
    pub tasks: Vec<TaskId>,
    #[serde(rename = "type")]
    pub connector_type: Option<ConnectorType>,
}

/// The state of a connector or task, as `/status` shows it; `trace` only when failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateInfo {
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// One task in `/status`: its id and state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskStateInfo {
    pub id: usize,
    #[serde(flatten)]
    pub state: StateInfo,
}

/// `GET /connectors/{name}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorStateInfo {
    pub name: String,
    pub connector: StateInfo,
    pub tasks: Vec<TaskStateInfo>,
    #[serde(rename = "type")]
    pub connector_type: Option<ConnectorType>,
}

/// One entry of `GET /connectors/{name}/tasks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub id: TaskId,
    pub config: Config,
}

/// One partition's offset in `/offsets`: for a source, the connector's own partition and offset maps; for a
/// sink, `{"kafka_topic", "kafka_partition"}` and `{"kafka_offset"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionOffset {
    pub partition: serde_json::Map<String, serde_json::Value>,
    /// `null` in a PATCH resets this partition.
    pub offset: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `GET|PATCH /connectors/{name}/offsets`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConnectorOffsets {
    pub offsets: Vec<PartitionOffset>,
}

/// `GET /connector-plugins`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginInfo {
    #[serde(rename = "class")]
    pub class_name: String,
    #[serde(rename = "type")]
    pub plugin_type: ConnectorType,
    pub version: String,
}

/// `PUT /connector-plugins/{type}/config/validate`: Kafka Connect's `ConfigInfos`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigInfos {
    pub name: String,
    pub error_count: usize,
    pub groups: Vec<String>,
    pub configs: Vec<ConfigInfo>,
}

/// One setting in a validation answer: its definition and its value with errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigInfo {
    pub definition: ConfigKeyInfo,
    pub value: ConfigValueInfo,
}

/// How a setting is defined (Kafka Connect's `ConfigKeyInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigKeyInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub config_type: String,
    pub required: bool,
    pub default_value: Option<String>,
    pub importance: String,
    pub documentation: String,
    pub group: Option<String>,
    pub order_in_group: i32,
    pub width: String,
    pub display_name: String,
    pub dependents: Vec<String>,
}

/// A setting's value and what is wrong with it (Kafka Connect's `ConfigValueInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigValueInfo {
    pub name: String,
    pub value: Option<String>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}

/// The outcome of a create-or-update (`PUT /connectors/{name}/config`).
#[derive(Debug, Clone, PartialEq)]
pub struct Upserted {
    pub created: bool,
    pub info: ConnectorInfo,
}

/// One task's counters for `GET /metrics`: totals since the task last started on this worker, named after
/// Kafka Connect's source-task, sink-task and task-error metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskMetricsInfo {
    pub id: TaskId,
    /// Source: records polled from the task (`source-record-poll-total`); sink: records read from Kafka
    /// (`sink-record-read-total`).
    pub records_read: u64,
    /// Source: records written to Kafka (`source-record-write-total`); sink: records put to the task
    /// (`sink-record-send-total`).
    pub records_written: u64,
    /// Offset commits that completed (`offset-commit-completion-total`).
    pub offset_commits: u64,
    /// Offset commits that failed or were skipped (`offset-commit-skip-total`).
    pub offset_commit_failures: u64,
    /// Records that failed in some stage, whether tolerated or not (`total-record-errors`).
    pub record_errors: u64,
    /// Failed attempts, retries included (`total-record-failures`).
    pub record_failures: u64,
    /// Records dropped because `errors.tolerance=all` (`total-records-skipped`).
    pub records_skipped: u64,
    /// Retries of retriable failures (`total-retries`).
    pub retries: u64,
    /// Errors written to the log by `errors.log.enable` (`total-errors-logged`).
    pub errors_logged: u64,
    /// Records sent to the dead-letter queue (`deadletterqueue-produce-requests`).
    pub dlq_records: u64,
    /// Dead-letter queue writes that failed (`deadletterqueue-produce-failures`).
    pub dlq_failures: u64,
    /// Sink only: the largest lag, in records, of the task's partitions behind their log end, when known.
    pub lag: Option<u64>,
}

impl TaskMetricsInfo {
    /// All counters at zero, lag unknown.
    pub fn new(id: TaskId) -> Self {
        Self {
            id,
            records_read: 0,
            records_written: 0,
            offset_commits: 0,
            offset_commit_failures: 0,
            record_errors: 0,
            record_failures: 0,
            records_skipped: 0,
            retries: 0,
            errors_logged: 0,
            dlq_records: 0,
            dlq_failures: 0,
            lag: None,
        }
    }
}

/// What a worker offers the REST API. Every method answers in Kafka Connect's terms; errors are HTTP answers
/// (404 unknown connector, 409 already exists or rebalancing, 400 bad config).
#[async_trait]
pub trait Herder: Send + Sync {
    /// `host:port` of this worker's REST listener, as status answers name it.
    fn worker_id(&self) -> String;
    /// The Kafka cluster id, for `GET /`.
    fn kafka_cluster_id(&self) -> Option<String>;

    async fn connectors(&self) -> Vec<String>;
    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, ApiError>;
    async fn connector_config(&self, name: &str) -> Result<Config, ApiError>;
    /// Creates or updates; `create_only` (POST /connectors) refuses an existing name with 409. The config is
    /// validated first (400 with the errors). `initial_state` is honoured on creation only.
    async fn put_connector_config(
        &self,
        name: &str,
        config: Config,
        initial_state: Option<TargetState>,
        create_only: bool,
    ) -> Result<Upserted, ApiError>;
    async fn delete_connector(&self, name: &str) -> Result<(), ApiError>;
    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, ApiError>;
    async fn task_infos(&self, name: &str) -> Result<Vec<TaskInfo>, ApiError>;
    async fn task_status(&self, name: &str, task: usize) -> Result<TaskStateInfo, ApiError>;
    /// Pause, resume (Started) or stop.
    async fn set_target_state(&self, name: &str, state: TargetState) -> Result<(), ApiError>;
    /// `POST /connectors/{name}/restart`: with neither flag, the connector only (answer `None`, HTTP 204);
    /// otherwise the instances restarted, as a status with RESTARTING states (HTTP 202).
    async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<ConnectorStateInfo>, ApiError>;
    async fn restart_task(&self, name: &str, task: usize) -> Result<(), ApiError>;
    /// Topics the connector has used since its topics were last reset.
    async fn connector_topics(&self, name: &str) -> Result<Vec<String>, ApiError>;
    async fn reset_connector_topics(&self, name: &str) -> Result<(), ApiError>;
    async fn offsets(&self, name: &str) -> Result<ConnectorOffsets, ApiError>;
    /// PATCH (`reset` false) or DELETE (`reset` true) while the connector is STOPPED (else 400); answers
    /// Kafka Connect's message text.
    async fn alter_offsets(&self, name: &str, offsets: ConnectorOffsets, reset: bool) -> Result<String, ApiError>;
    fn plugins(&self) -> Vec<PluginInfo>;
    /// Validates a config for the plugin named by `plugin` (class or alias) with per-field errors.
    fn validate(&self, plugin: &str, config: &Config) -> Result<ConfigInfos, ApiError>;
    /// Admin loggers: current levels by logger name.
    fn loggers(&self) -> BTreeMap<String, String>;
    /// Sets a logger's level; answers the loggers changed.
    fn set_logger(&self, name: &str, level: &str) -> Result<Vec<String>, ApiError>;
    /// Counters of the tasks running on this worker, for `GET /metrics`; none by default.
    fn metrics(&self) -> Vec<TaskMetricsInfo> {
        Vec::new()
    }
    /// The latest progress report of each task running on this worker that has one (see
    /// [`super::progress`]), for `GET /metrics` and the CLI's progress line; none by default.
    fn progress(&self) -> Vec<(TaskId, super::progress::Progress)> {
        Vec::new()
    }
}
