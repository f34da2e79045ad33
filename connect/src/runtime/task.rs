//! Task runners: the loops that move records between a task and Kafka. The herder starts one per assigned
//! task and stops, pauses or resumes it; runners report state changes to a [`StatusListener`].
//!
//! (The loops themselves are being built; these are the contracts the herder and the runners share.)

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::herder::{State, TaskId};
use crate::connector::Config;
use crate::error::ConnectError;
use crate::record::SourceMap;

/// Where source offsets live: a local file (standalone) or the `connect-offsets` topic (distributed), keyed
/// by connector and source partition, in Kafka Connect's layout (`["<connector>", {partition}]` → `{offset}`).
#[async_trait]
pub trait OffsetStore: Send + Sync {
    /// The committed offset of one source partition of `connector`.
    async fn get(&self, connector: &str, partition: &SourceMap) -> Result<Option<SourceMap>, ConnectError>;
    /// Commits offsets durably; a `None` offset removes the partition's entry.
    async fn put(&self, connector: &str, entries: Vec<(SourceMap, Option<SourceMap>)>) -> Result<(), ConnectError>;
    /// Every committed partition and offset of `connector`.
    async fn all(&self, connector: &str) -> Result<Vec<(SourceMap, SourceMap)>, ConnectError>;
}

/// Told whenever a task's state changes (RUNNING, PAUSED, FAILED with a trace, ...).
pub trait StatusListener: Send + Sync {
    fn task_state(&self, id: &TaskId, state: State, trace: Option<String>);
}

/// What every runner of one worker shares.
pub struct WorkerContext {
    /// `host:port` of the worker's REST listener.
    pub worker_id: String,
    pub bootstrap_servers: String,
    /// Extra librdkafka properties for every client (`security.protocol`, ...).
    pub client_config: BTreeMap<String, String>,
    pub offsets: Arc<dyn OffsetStore>,
    pub status: Arc<dyn StatusListener>,
}

impl std::fmt::Debug for WorkerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerContext").field("worker_id", &self.worker_id).finish_non_exhaustive()
    }
}

/// One task to run: its id, its connector's config (converters, transforms, errors.*, topics) and its own
/// task config (what the connector's `task_configs` gave it).
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub id: TaskId,
    pub connector_config: Config,
    pub task_config: Config,
}
