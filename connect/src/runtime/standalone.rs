//! [`StandaloneWorker`]: a single worker (Kafka's `connect-standalone`): connectors from files and the REST API,
//! source offsets in a local file, status in memory, and, when `config.storage.file.filename` is set, connector
//! configs and target states in a JSON file so that a restarted worker brings its connectors back.
//!
//! - `herder_impl`: the [`Herder`] methods the REST API calls.
//! - `status`: connector and task states and used topics, fed by the herder and the task runners.
//! - `validate`: the checks a connector config must pass before anything starts.
//! - `offsets`: `/offsets` for sources (the offset file) and sinks (the `connect-<name>` consumer group).
//! - `persist`: the optional connector file.
//! - `loggers`: `/admin/loggers` levels and how they reach `tracing`.
//!
//! One change at a time: every operation that starts or stops something holds the `ops` lock for its whole
//! length, while reads (status, configs) only take the short `state` lock and never wait for a task to stop.

mod herder_impl;
pub(crate) use self::herder_impl::plugin_infos;
pub mod loggers;
pub(crate) mod offsets;
mod persist;
mod status;
#[cfg(test)]
mod tests;
pub(crate) mod validate;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;

use self::loggers::LogLevels;
use self::persist::{ConnectorFile, Saved};
use self::status::StatusBoard;
use super::herder::{ConnectorInfo, Herder, State, TargetState, TaskId};
use super::offsets::FileOffsetStore;
use super::task::{start_sink_task, start_source_task, TaskHandle, TaskSpec, WorkerContext};
use super::worker_config::{properties, WorkerConfig};
use crate::connector::{Config, ConnectorType, Plugin};
use crate::error::{ApiError, ConnectError};

/// How long the worker waits at start for the Kafka cluster to answer (Kafka's standalone worker also refuses
/// to start without reaching it).
const CLUSTER_ID_TIMEOUT: Duration = Duration::from_secs(30);

/// One connector the worker knows.
struct Entry {
    /// The config as the user gave it (what `GET .../config` shows).
    config: Config,
    target: TargetState,
    connector_type: Option<ConnectorType>,
    /// The task configs the connector last generated; empty while STOPPED or failed.
    task_configs: Vec<Config>,
    /// The running tasks, by index.
    tasks: BTreeMap<usize, TaskHandle>,
}

/// A standalone Connect worker; implements [`Herder`] for the REST API.
pub struct StandaloneWorker {
    config: WorkerConfig,
    ctx: Arc<WorkerContext>,
    status: Arc<StatusBoard>,
    cluster_id: Option<String>,
    loggers: LogLevels,
    file: Option<ConnectorFile>,
    /// Held for the whole of any change (create, update, pause, restart, delete, offsets, shutdown).
    ops: tokio::sync::Mutex<()>,
    state: parking_lot::Mutex<BTreeMap<String, Entry>>,
}

impl std::fmt::Debug for StandaloneWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandaloneWorker").field("worker_id", &self.ctx.worker_id).finish_non_exhaustive()
    }
}

impl StandaloneWorker {
    /// Starts a worker: opens the offsets file, looks up the Kafka cluster (failing when it cannot be reached),
    /// and brings back the connectors of the connector file, if one is set. `worker_id` is the `host:port` of
    /// the REST listener, as status answers name it.
    pub async fn start(
        config: WorkerConfig,
        worker_id: String,
        loggers: LogLevels,
    ) -> Result<Arc<StandaloneWorker>, ConnectError> {
        config.validate_standalone()?;
        for (key, reason) in &config.ignored {
            tracing::warn!(setting = %key, "worker setting ignored: {reason}");
        }
        let offset_file = config.offset_file.clone().expect("validate_standalone checked the offsets file");
        let offsets = Arc::new(FileOffsetStore::open(&offset_file)?);
        let cluster_id = lookup_cluster_id(&config).await?;
        let status = Arc::new(StatusBoard::new(worker_id.clone()));
        let ctx = Arc::new(WorkerContext {
            worker_id,
            bootstrap_servers: config.bootstrap_servers.clone(),
            client_config: config.client.clone(),
            offsets,
            status: status.clone(),
            progress: Default::default(),
        });
        let file = config.config_file.as_deref().map(ConnectorFile::new);
        let saved = match &file {
            Some(file) => file.load()?,
            None => BTreeMap::new(),
        };
        let worker = Arc::new(StandaloneWorker {
            config,
            ctx,
            status,
            cluster_id: Some(cluster_id),
            loggers,
            file,
            ops: tokio::sync::Mutex::new(()),
            state: parking_lot::Mutex::new(BTreeMap::new()),
        });
        let ops = worker.ops.lock().await;
        for (name, Saved { config, target_state }) in saved {
            tracing::info!(connector = %name, target = ?target_state, "restoring connector from the connector file");
            worker.insert(&name, config, target_state);
            worker.start_connector(&name).await;
        }
        drop(ops);
        Ok(worker)
    }

    /// The worker's settings.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// Creates (or, when it exists, updates) the connector described by a `.properties` or `.json` file, as
    /// `connect-standalone` does with the files named after the worker's. A JSON file holds what
    /// `POST /connectors` takes (`{"name", "config", "initial_state"?}`) or a flat config with `name`.
    pub async fn create_from_file(&self, path: &Path) -> Result<ConnectorInfo, ConnectError> {
        let (name, config, initial_state) = read_connector_file(path)?;
        let upserted = self
            .put_connector_config(&name, config, initial_state, false)
            .await
            .map_err(|e| ConnectError::config(path.display().to_string(), e.message))?;
        Ok(upserted.info)
    }

    /// Stops every task (each commits its offsets as it stops). The connectors stay in the connector file.
    pub async fn shutdown(&self) {
        let _ops = self.ops.lock().await;
        let names: Vec<String> = self.state.lock().keys().cloned().collect();
        for name in names {
            self.stop_tasks(&name).await;
        }
        tracing::info!("standalone worker stopped");
    }

    /// Adds or replaces an entry (tasks must have been stopped).
    fn insert(&self, name: &str, config: Config, target: TargetState) {
        let mut state = self.state.lock();
        match state.get_mut(name) {
            Some(entry) => {
                entry.config = config;
                entry.target = target;
            }
            None => {
                state.insert(
                    name.to_string(),
                    Entry { config, target, connector_type: None, task_configs: Vec::new(), tasks: BTreeMap::new() },
                );
            }
        }
    }

    /// The connector's config with what the worker adds for its runners: its converters, offset flush
    /// interval, stop timeout and client settings, each only where the connector sets none.
    fn effective_config(&self, config: &Config) -> Config {
        effective_config(&self.config, config)
    }

    /// Brings a connector to its target state from a state with no tasks: STOPPED records that; otherwise the
    /// connector splits its work into task configs and one task per config starts (paused when PAUSED). A
    /// failure leaves the connector FAILED with the reason as trace, as Kafka shows a connector that failed.
    async fn start_connector(&self, name: &str) {
        let Some((config, target)) = self.state.lock().get(name).map(|e| (e.config.clone(), e.target)) else {
            return;
        };
        let plugin = match plugin_for(&config) {
            Ok(plugin) => plugin,
            Err(trace) => return self.fail_connector(name, None, trace),
        };
        let connector = plugin.connector();
        let connector_type = connector.connector_type();
        if let Some(entry) = self.state.lock().get_mut(name) {
            entry.connector_type = Some(connector_type);
        }
        if target == TargetState::Stopped {
            self.status.set_connector(name, State::Stopped, None);
            if let Some(entry) = self.state.lock().get_mut(name) {
                entry.task_configs.clear();
            }
            return;
        }
        let effective = self.effective_config(&config);
        let task_configs = validate::tasks_max(&config).and_then(|max| {
            let configs = connector.task_configs(&effective, max).map_err(|e| e.to_string())?;
            if configs.len() > max {
                return Err(format!(
                    "The connector {name} has generated {} tasks, which is greater than {max}, the maximum number of \
                     tasks it is configured to create.",
                    configs.len()
                ));
            }
            Ok(configs)
        });
        let task_configs = match task_configs {
            Ok(configs) => configs,
            Err(trace) => return self.fail_connector(name, Some(connector_type), trace),
        };
        let connector_state = if target == TargetState::Paused { State::Paused } else { State::Running };
        self.status.set_connector(name, connector_state, None);
        if let Some(entry) = self.state.lock().get_mut(name) {
            entry.task_configs = task_configs.clone();
        }
        for (index, task_config) in task_configs.into_iter().enumerate() {
            self.start_task(name, index, plugin.as_ref(), &effective, task_config, target);
        }
    }

    fn fail_connector(&self, name: &str, connector_type: Option<ConnectorType>, trace: String) {
        tracing::error!(connector = %name, %trace, "connector failed");
        self.status.set_connector(name, State::Failed, Some(trace));
        if let Some(entry) = self.state.lock().get_mut(name) {
            entry.task_configs.clear();
            if connector_type.is_some() {
                entry.connector_type = connector_type;
            }
        }
    }

    /// Starts one task's runner (the previous one, if any, must have been stopped).
    fn start_task(
        &self,
        name: &str,
        index: usize,
        plugin: &dyn Plugin,
        effective: &Config,
        task_config: Config,
        target: TargetState,
    ) {
        let id = TaskId { connector: name.to_string(), task: index };
        self.status.set_task(name, index, State::Unassigned, None);
        let spec = TaskSpec { id: id.clone(), connector_config: effective.clone(), task_config };
        let handle = match (plugin.source_task(), plugin.sink_task()) {
            (Some(task), _) => start_source_task(self.ctx.clone(), spec, task),
            (None, Some(task)) => start_sink_task(self.ctx.clone(), spec, task),
            (None, None) => {
                let trace = format!("bug: plugin {} makes neither source nor sink tasks", plugin.class());
                self.status.set_task(name, index, State::Failed, Some(trace));
                return;
            }
        };
        // Sink tasks report the topics they read as records arrive; naming the configured ones at once lets
        // `/topics` answer before the first record.
        if let Some(topics) = effective.get("topics") {
            for topic in topics.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                self.status.add_topic(name, topic);
            }
        }
        if target == TargetState::Paused {
            handle.pause();
        }
        if let Some(entry) = self.state.lock().get_mut(name) {
            entry.tasks.insert(index, handle);
        }
    }

    /// Starts task `index` again from its current config, in the connector's target state.
    async fn restart_one_task(&self, name: &str, index: usize) {
        let handle = self.state.lock().get_mut(name).and_then(|e| e.tasks.remove(&index));
        if let Some(handle) = handle {
            handle.stop().await;
        }
        let Some((config, target, task_config)) = self
            .state
            .lock()
            .get(name)
            .and_then(|e| Some((e.config.clone(), e.target, e.task_configs.get(index)?.clone())))
        else {
            return;
        };
        match plugin_for(&config) {
            Ok(plugin) => {
                let effective = self.effective_config(&config);
                self.start_task(name, index, plugin.as_ref(), &effective, task_config, target);
            }
            Err(trace) => self.status.set_task(name, index, State::Failed, Some(trace)),
        }
    }

    /// Stops every task of `name` and forgets them (their configs stay until regenerated).
    async fn stop_tasks(&self, name: &str) {
        let handles = self.state.lock().get_mut(name).map(|e| std::mem::take(&mut e.tasks)).unwrap_or_default();
        futures::future::join_all(handles.into_values().map(TaskHandle::stop)).await;
        self.status.clear_tasks(name);
    }

    /// Saves every connector's config and target state to the connector file, if there is one. A failure is
    /// logged: the change has happened, it just would not survive a restart.
    fn persist(&self) {
        let Some(file) = &self.file else { return };
        let saved = self
            .state
            .lock()
            .iter()
            .map(|(name, e)| (name.clone(), Saved { config: e.config.clone(), target_state: e.target }))
            .collect();
        if let Err(e) = file.save(saved) {
            tracing::error!(error = %e, "could not save the connector file; changes since the last save would be lost on restart");
        }
    }

    fn not_found(name: &str) -> ApiError {
        ApiError::not_found(format!("Connector {name} not found"))
    }
}

/// A connector's config with what the worker adds for its runners: its converters, offset flush interval, stop
/// timeout and client settings, each only where the connector sets none (shared with the distributed worker).
pub(crate) fn effective_config(worker: &WorkerConfig, config: &Config) -> Config {
    let mut out = worker.connector_config_with_defaults(config);
    let mut default = |key: String, value: String| {
        out.entry(key).or_insert(value);
    };
    default("offset.flush.interval.ms".into(), worker.offset_flush_interval_ms.to_string());
    default("offset.flush.timeout.ms".into(), worker.offset_flush_timeout_ms.to_string());
    default("task.shutdown.graceful.timeout.ms".into(), worker.task_shutdown_timeout_ms.to_string());
    for (key, value) in &worker.producer {
        default(format!("producer.override.{key}"), value.clone());
    }
    for (key, value) in &worker.consumer {
        default(format!("consumer.override.{key}"), value.clone());
    }
    out
}

/// The plugin `connector.class` names, or why there is none.
pub(crate) fn plugin_for(config: &Config) -> Result<Arc<dyn Plugin>, String> {
    let class = config.get("connector.class").map(|c| c.trim()).unwrap_or_default();
    crate::connectors::find(class).ok_or_else(|| {
        let available: Vec<String> = crate::connectors::plugins().iter().map(|p| p.class().to_string()).collect();
        format!(
            "Failed to find any class that implements Connector and which name matches {class}, available connectors \
             are: {}",
            available.join(", ")
        )
    })
}

/// Looks up the Kafka cluster id, which also proves the cluster can be reached.
pub(crate) async fn lookup_cluster_id(config: &WorkerConfig) -> Result<String, ConnectError> {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.bootstrap_servers);
    for (k, v) in config.admin_config() {
        client.set(k, v);
    }
    let bootstrap = config.bootstrap_servers.clone();
    let kafka = |message: String| ConnectError::Kafka { doing: "looking up the Kafka cluster id".into(), message };
    let admin: AdminClient<DefaultClientContext> = client.create().map_err(|e| kafka(e.to_string()))?;
    tokio::task::spawn_blocking(move || admin.inner().fetch_cluster_id(CLUSTER_ID_TIMEOUT))
        .await
        .map_err(|e| kafka(format!("bug: the lookup panicked: {e}")))?
        .ok_or_else(|| {
            kafka(format!(
                "no answer from {bootstrap} within {}s; check `bootstrap.servers` and that the cluster is up",
                CLUSTER_ID_TIMEOUT.as_secs()
            ))
        })
}

/// Reads a connector file: `.json` (the body of `POST /connectors`, or a flat config) or Java properties.
fn read_connector_file(path: &Path) -> Result<(String, Config, Option<TargetState>), ConnectError> {
    let at = path.display().to_string();
    let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let (config, initial_state) = if is_json {
        let text = std::fs::read_to_string(path).map_err(|e| ConnectError::Io(format!("cannot read {at}: {e}")))?;
        parse_json_connector(&text).map_err(|message| ConnectError::config(&at, message))?
    } else {
        let mut config = Config::new();
        for p in properties::read(path)? {
            config.insert(p.key, p.value);
        }
        (config, None)
    };
    let name = config
        .get("name")
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ConnectError::config(&at, "the connector has no `name`; add `name=...`"))?;
    Ok((name, config, initial_state))
}

/// `{"name": .., "config": {..}, "initial_state": ..}` or a flat config object; scalar values become strings.
fn parse_json_connector(text: &str) -> Result<(Config, Option<TargetState>), String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let serde_json::Value::Object(mut top) = value else { return Err("expected a JSON object".into()) };
    let mut initial_state = None;
    let fields = match top.remove("config") {
        Some(serde_json::Value::Object(config)) => {
            if let Some(state) = top.remove("initial_state").filter(|s| !s.is_null()) {
                initial_state = Some(match state.as_str().map(str::to_ascii_uppercase).as_deref() {
                    Some("RUNNING") => TargetState::Started,
                    Some("PAUSED") => TargetState::Paused,
                    Some("STOPPED") => TargetState::Stopped,
                    _ => return Err(format!("`initial_state` must be RUNNING, PAUSED or STOPPED, got {state}")),
                });
            }
            let mut config = config;
            if let Some(name) = top.remove("name") {
                config.entry("name").or_insert(name);
            }
            config
        }
        Some(other) => return Err(format!("`config` must be an object, got {other}")),
        None => top,
    };
    let mut config = Config::new();
    for (key, value) in fields {
        let text = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => continue,
            serde_json::Value::Bool(_) | serde_json::Value::Number(_) => value.to_string(),
            other => return Err(format!("setting `{key}` must be a string, number or boolean, got {other}")),
        };
        config.insert(key, text);
    }
    Ok((config, initial_state))
}
