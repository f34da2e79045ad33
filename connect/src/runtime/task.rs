//! Task runners: the loops that move records between a task and Kafka. The herder starts one per assigned
//! task ([`start_source_task`], [`start_sink_task`]) and stops, pauses or resumes it through its
//! [`TaskHandle`]; runners report state changes to a [`StatusListener`]. The loops live in
//! [`super::source`] and [`super::sink`]; error handling in [`super::errors`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::errors::{MetricsSnapshot, TaskCounters};
use super::herder::{State, TaskId};
use crate::connector::{Config, SinkTask, SourceTask};
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
    /// The Kafka topic holding these offsets, when they live in one: exactly-once sources write their offset
    /// records there inside their own transactions (see [`super::offsets::produce_offsets`]). `None` for
    /// stores that cannot take part in a transaction (a local file).
    fn offsets_topic(&self) -> Option<&str> {
        None
    }
}

/// Told whenever a task's state changes (RUNNING, PAUSED, FAILED with a trace, ...).
pub trait StatusListener: Send + Sync {
    fn task_state(&self, id: &TaskId, state: State, trace: Option<String>);
    /// Told that a task of `connector` produced records to or consumed records from `topic`, for
    /// `GET /connectors/{name}/topics`. Called per record or per batch; listeners deduplicate, so runners need
    /// not remember what they reported.
    fn topic_used(&self, connector: &str, topic: &str) {
        let _ = (connector, topic);
    }
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
    /// Progress reports of this worker's tasks (see [`super::progress`]).
    pub progress: Arc<super::progress::ProgressBoard>,
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

/// How long [`TaskHandle::stop`] waits for a runner to finish before abandoning it (Kafka Connect's
/// `task.shutdown.graceful.timeout.ms` default); overridable per connector with that key.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_millis(5000);

/// What the herder asks of a runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Run,
    Pause,
    Stop,
}

/// The runner's side of its handle: the herder's wishes, and where to report state.
pub(crate) struct RunnerControl {
    pub(crate) id: TaskId,
    pub(crate) target: watch::Receiver<Target>,
    state: Arc<Mutex<(State, Option<String>)>>,
    status: Arc<dyn StatusListener>,
    pub(crate) counters: Arc<TaskCounters>,
}

impl RunnerControl {
    /// Records and reports a state change (only real changes reach the listener).
    pub(crate) fn report(&self, state: State, trace: Option<String>) {
        {
            let mut current = self.state.lock();
            if current.0 == state && current.1 == trace {
                return;
            }
            *current = (state, trace.clone());
        }
        if let Some(trace) = &trace {
            tracing::error!(connector = %self.id.connector, task = self.id.task, trace = %trace, "task failed");
        } else {
            tracing::info!(connector = %self.id.connector, task = self.id.task, ?state, "task state");
        }
        self.status.task_state(&self.id, state, trace);
    }

    /// The herder's current wish; a dropped handle means stop (nobody can stop the task any more).
    pub(crate) fn target(&self) -> Target {
        if self.target.has_changed().is_err() {
            return Target::Stop;
        }
        *self.target.borrow()
    }
}

/// A running task: pause, resume or stop it; read its state and counters.
pub struct TaskHandle {
    id: TaskId,
    target: watch::Sender<Target>,
    state: Arc<Mutex<(State, Option<String>)>>,
    status: Arc<dyn StatusListener>,
    counters: Arc<TaskCounters>,
    stop_timeout: Duration,
    join: JoinHandle<()>,
}

impl std::fmt::Debug for TaskHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskHandle").field("id", &self.id).field("state", &self.state()).finish_non_exhaustive()
    }
}

impl TaskHandle {
    pub fn id(&self) -> &TaskId {
        &self.id
    }

    /// The task's state now: UNASSIGNED until started, RUNNING, PAUSED, or FAILED.
    pub fn state(&self) -> State {
        self.state.lock().0
    }

    /// The failure trace, when FAILED.
    pub fn trace(&self) -> Option<String> {
        self.state.lock().1.clone()
    }

    /// Stops handing records to or from the task until [`TaskHandle::resume`]; the runner reports PAUSED.
    pub fn pause(&self) {
        self.target.send_if_modified(|t| std::mem::replace(t, Target::Pause) == Target::Run);
    }

    /// Resumes a paused task; the runner reports RUNNING.
    pub fn resume(&self) {
        self.target.send_if_modified(|t| std::mem::replace(t, Target::Run) == Target::Pause);
    }

    /// The task's counters.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.counters.snapshot()
    }

    /// Whether the runner has ended (stopped, or failed).
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }

    /// Abandons the task at once, as a crashed worker would: nothing is committed, flushed or reported. For
    /// an abrupt exit (and tests of failover); everything else stops tasks with [`TaskHandle::stop`].
    pub fn abort(self) {
        self.join.abort();
    }

    /// Stops the task: the runner commits what it can, calls the task's `stop`, and ends; after
    /// `task.shutdown.graceful.timeout.ms` it is abandoned. Reports UNASSIGNED: the task no longer runs here.
    pub async fn stop(self) {
        let _ = self.target.send(Target::Stop);
        let mut join = self.join;
        if tokio::time::timeout(self.stop_timeout, &mut join).await.is_err() {
            tracing::warn!(connector = %self.id.connector, task = self.id.task, timeout = ?self.stop_timeout,
                "task did not stop in time; abandoning it");
            join.abort();
        }
        *self.state.lock() = (State::Unassigned, None);
        self.status.task_state(&self.id, State::Unassigned, None);
    }
}

/// Spawns a runner: `run` gets the control half; the handle keeps the other.
fn spawn_runner<F, Fut>(ctx: &WorkerContext, spec: &TaskSpec, run: F) -> TaskHandle
where
    F: FnOnce(RunnerControl) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (target, receiver) = watch::channel(Target::Run);
    let state = Arc::new(Mutex::new((State::Unassigned, None)));
    let counters = Arc::new(TaskCounters::default());
    let control = RunnerControl {
        id: spec.id.clone(),
        target: receiver,
        state: state.clone(),
        status: ctx.status.clone(),
        counters: counters.clone(),
    };
    let stop_timeout = spec
        .connector_config
        .get("task.shutdown.graceful.timeout.ms")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_STOP_TIMEOUT, Duration::from_millis);
    let join = tokio::spawn(run(control));
    TaskHandle { id: spec.id.clone(), target, state, status: ctx.status.clone(), counters, stop_timeout, join }
}

/// Starts a source task's runner: poll → transform → convert → produce, committing source offsets every
/// `offset.flush.interval.ms` (or per poll batch inside a transaction when exactly-once is on).
pub fn start_source_task(ctx: Arc<WorkerContext>, spec: TaskSpec, task: Box<dyn SourceTask>) -> TaskHandle {
    let runner_spec = spec.clone();
    let runner_ctx = ctx.clone();
    spawn_runner(&ctx, &spec, move |control| super::source::run(runner_ctx, runner_spec, task, control))
}

/// Starts a sink task's runner: consume → convert → transform → put, flushing the task and committing the
/// consumer's offsets every `offset.flush.interval.ms`, at stop and before partitions are revoked.
pub fn start_sink_task(ctx: Arc<WorkerContext>, spec: TaskSpec, task: Box<dyn SinkTask>) -> TaskHandle {
    let runner_spec = spec.clone();
    let runner_ctx = ctx.clone();
    spawn_runner(&ctx, &spec, move |control| super::sink::run(runner_ctx, runner_spec, task, control))
}

/// `offset.flush.interval.ms` from the connector config (Kafka Connect's default: 60 s).
pub(crate) fn flush_interval(config: &Config) -> Result<Duration, ConnectError> {
    match config.get("offset.flush.interval.ms") {
        None => Ok(Duration::from_millis(60_000)),
        Some(v) => v.trim().parse::<u64>().ok().filter(|ms| *ms > 0).map(Duration::from_millis).ok_or_else(|| {
            ConnectError::config("offset.flush.interval.ms", format!("`{v}` is not a positive number of milliseconds"))
        }),
    }
}

/// librdkafka settings for a client of this worker.
/// Applies a connector's client overrides (`producer.override.linger.ms=10` sets `linger.ms` on its
/// producer), as Kafka Connect does; the worker puts its own `producer.*`/`consumer.*` settings there too.
pub(crate) fn apply_overrides(client: &mut rdkafka::ClientConfig, config: &Config, prefix: &str) {
    for (key, value) in config.range(prefix.to_string()..) {
        let Some(setting) = key.strip_prefix(prefix) else { break };
        if !setting.is_empty() {
            client.set(setting, value);
        }
    }
}

pub(crate) fn client_config(ctx: &WorkerContext) -> rdkafka::ClientConfig {
    let mut c = rdkafka::ClientConfig::new();
    c.set("bootstrap.servers", &ctx.bootstrap_servers);
    for (k, v) in &ctx.client_config {
        c.set(k, v);
    }
    c
}
