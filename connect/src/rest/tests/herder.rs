//! A small in-memory [`Herder`] for the REST tests: it keeps configs, target states, topics, offsets and logger
//! levels in maps and answers as a worker would, so the tests exercise the HTTP layer alone.

use std::collections::BTreeMap;

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::connector::{Config, ConnectorType};
use crate::error::ApiError;
use crate::runtime::herder::{
    ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigValueInfo, ConnectorInfo, ConnectorOffsets, ConnectorStateInfo,
    Herder, PluginInfo, State, StateInfo, TargetState, TaskId, TaskInfo, TaskMetricsInfo, TaskStateInfo, Upserted,
};

pub(super) const WORKER: &str = "127.0.0.1:8083";
pub(super) const SOURCE_CLASS: &str = "org.example.DataGenSourceConnector";
pub(super) const SINK_CLASS: &str = "org.example.FileSinkConnector";

#[derive(Debug, Clone)]
struct Connector {
    config: Config,
    target: TargetState,
    topics: Vec<String>,
    offsets: ConnectorOffsets,
}

impl Connector {
    fn tasks(&self) -> usize {
        self.config.get("tasks.max").and_then(|n| n.parse().ok()).unwrap_or(1)
    }
    fn kind(&self) -> ConnectorType {
        if self.config.get("connector.class").is_some_and(|c| c.contains("Sink")) {
            ConnectorType::Sink
        } else {
            ConnectorType::Source
        }
    }
    fn state(&self) -> State {
        match self.target {
            TargetState::Started => State::Running,
            TargetState::Paused => State::Paused,
            TargetState::Stopped => State::Stopped,
        }
    }
}

fn running(state: State) -> StateInfo {
    StateInfo { state, worker_id: WORKER.to_string(), trace: None }
}

fn unknown(name: &str) -> ApiError {
    ApiError::not_found(format!("Connector {name} not found"))
}

/// The test herder; `calls` records what the REST layer asked of it.
#[derive(Debug, Default)]
pub(super) struct MemoryHerder {
    connectors: Mutex<BTreeMap<String, Connector>>,
    loggers: Mutex<BTreeMap<String, String>>,
    pub(super) calls: Mutex<Vec<String>>,
}

impl MemoryHerder {
    pub(super) fn new() -> Self {
        let herder = Self::default();
        herder.loggers.lock().insert("root".to_string(), "INFO".to_string());
        herder
    }

    fn with<T>(&self, name: &str, f: impl FnOnce(&mut Connector) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut connectors = self.connectors.lock();
        let connector = connectors.get_mut(name).ok_or_else(|| unknown(name))?;
        f(connector)
    }

    fn record(&self, call: String) {
        self.calls.lock().push(call);
    }

    /// Sets the topics a connector "used", as a running task would.
    pub(super) fn set_topics(&self, name: &str, topics: &[&str]) {
        self.with(name, |c| {
            c.topics = topics.iter().map(|t| t.to_string()).collect();
            Ok(())
        })
        .unwrap();
    }

    fn status_of(name: &str, connector: &Connector, task_state: State) -> ConnectorStateInfo {
        let tasks = if connector.target == TargetState::Stopped {
            Vec::new()
        } else {
            (0..connector.tasks()).map(|id| TaskStateInfo { id, state: running(task_state) }).collect()
        };
        ConnectorStateInfo {
            name: name.to_string(),
            connector: running(connector.state()),
            tasks,
            connector_type: Some(connector.kind()),
        }
    }

    fn info_of(name: &str, connector: &Connector) -> ConnectorInfo {
        let tasks = if connector.target == TargetState::Stopped { 0 } else { connector.tasks() };
        ConnectorInfo {
            name: name.to_string(),
            config: connector.config.clone(),
            tasks: (0..tasks).map(|task| TaskId { connector: name.to_string(), task }).collect(),
            connector_type: Some(connector.kind()),
        }
    }
}

fn definition(name: &str, required: bool) -> ConfigKeyInfo {
    ConfigKeyInfo {
        name: name.to_string(),
        config_type: "STRING".to_string(),
        required,
        default_value: None,
        importance: "HIGH".to_string(),
        documentation: format!("The {name}."),
        group: Some("Common".to_string()),
        order_in_group: 1,
        width: "NONE".to_string(),
        display_name: name.to_string(),
        dependents: Vec::new(),
    }
}

#[async_trait]
impl Herder for MemoryHerder {
    fn worker_id(&self) -> String {
        WORKER.to_string()
    }

    fn kafka_cluster_id(&self) -> Option<String> {
        Some("test-cluster-id".to_string())
    }

    async fn connectors(&self) -> Vec<String> {
        self.connectors.lock().keys().cloned().collect()
    }

    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, ApiError> {
        self.with(name, |c| Ok(Self::info_of(name, c)))
    }

    async fn connector_config(&self, name: &str) -> Result<Config, ApiError> {
        self.with(name, |c| Ok(c.config.clone()))
    }

    async fn put_connector_config(
        &self,
        name: &str,
        config: Config,
        initial_state: Option<TargetState>,
        create_only: bool,
    ) -> Result<Upserted, ApiError> {
        self.record(format!("put {name} {config:?} {initial_state:?} {create_only}"));
        if !config.contains_key("connector.class") {
            return Err(ApiError::bad_request(
                "Connector configuration is invalid and contains the following 1 error(s):\nMissing required \
                 configuration \"connector.class\" which has no default value.",
            ));
        }
        let mut connectors = self.connectors.lock();
        let created = match connectors.get_mut(name) {
            Some(_) if create_only => return Err(ApiError::conflict(format!("Connector {name} already exists"))),
            Some(existing) => {
                existing.config = config;
                false
            }
            None => {
                let connector = Connector {
                    config,
                    target: initial_state.unwrap_or(TargetState::Started),
                    topics: Vec::new(),
                    offsets: ConnectorOffsets::default(),
                };
                connectors.insert(name.to_string(), connector);
                true
            }
        };
        Ok(Upserted { created, info: Self::info_of(name, &connectors[name]) })
    }

    async fn delete_connector(&self, name: &str) -> Result<(), ApiError> {
        self.connectors.lock().remove(name).map(drop).ok_or_else(|| unknown(name))
    }

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, ApiError> {
        self.with(name, |c| Ok(Self::status_of(name, c, c.state())))
    }

    async fn task_infos(&self, name: &str) -> Result<Vec<TaskInfo>, ApiError> {
        self.with(name, |c| {
            Ok((0..c.tasks())
                .map(|task| TaskInfo {
                    id: TaskId { connector: name.to_string(), task },
                    config: Config::from([("task.id".to_string(), task.to_string())]),
                })
                .collect())
        })
    }

    async fn task_status(&self, name: &str, task: usize) -> Result<TaskStateInfo, ApiError> {
        self.with(name, |c| {
            Self::status_of(name, c, c.state())
                .tasks
                .into_iter()
                .find(|t| t.id == task)
                .ok_or_else(|| ApiError::not_found(format!("No status found for task {name}-{task}")))
        })
    }

    async fn set_target_state(&self, name: &str, state: TargetState) -> Result<(), ApiError> {
        self.with(name, |c| {
            c.target = state;
            Ok(())
        })
    }

    async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<ConnectorStateInfo>, ApiError> {
        self.record(format!("restart {name} {include_tasks} {only_failed}"));
        self.with(name, |c| {
            if !include_tasks && !only_failed {
                return Ok(None);
            }
            let mut status = Self::status_of(name, c, State::Restarting);
            status.connector.state = State::Restarting;
            Ok(Some(status))
        })
    }

    async fn restart_task(&self, name: &str, task: usize) -> Result<(), ApiError> {
        self.record(format!("restart-task {name} {task}"));
        self.with(name, |c| {
            if task < c.tasks() {
                Ok(())
            } else {
                Err(ApiError::not_found(format!("Task {name}-{task} not found")))
            }
        })
    }

    async fn connector_topics(&self, name: &str) -> Result<Vec<String>, ApiError> {
        self.with(name, |c| Ok(c.topics.clone()))
    }

    async fn reset_connector_topics(&self, name: &str) -> Result<(), ApiError> {
        self.with(name, |c| {
            c.topics.clear();
            Ok(())
        })
    }

    async fn offsets(&self, name: &str) -> Result<ConnectorOffsets, ApiError> {
        self.with(name, |c| Ok(c.offsets.clone()))
    }

    async fn alter_offsets(&self, name: &str, offsets: ConnectorOffsets, reset: bool) -> Result<String, ApiError> {
        self.with(name, |c| {
            if c.target != TargetState::Stopped {
                return Err(ApiError::bad_request(format!(
                    "Connectors must be in the STOPPED state before their offsets can be modified. This can be done \
                     for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
                )));
            }
            if reset {
                c.offsets = ConnectorOffsets::default();
                return Ok("The offsets for this connector have been reset successfully".to_string());
            }
            for change in offsets.offsets {
                c.offsets.offsets.retain(|o| o.partition != change.partition);
                if change.offset.is_some() {
                    c.offsets.offsets.push(change);
                }
            }
            Ok("The offsets for this connector have been altered successfully".to_string())
        })
    }

    fn plugins(&self) -> Vec<PluginInfo> {
        vec![
            PluginInfo { class_name: SINK_CLASS.to_string(), plugin_type: ConnectorType::Sink, version: "1.0".into() },
            PluginInfo {
                class_name: SOURCE_CLASS.to_string(),
                plugin_type: ConnectorType::Source,
                version: "1.0".into(),
            },
        ]
    }

    fn validate(&self, plugin: &str, config: &Config) -> Result<ConfigInfos, ApiError> {
        let class = [SOURCE_CLASS, SINK_CLASS]
            .into_iter()
            .find(|c| *c == plugin || c.ends_with(&format!(".{plugin}")))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Failed to find any class that implements Connector and which name matches {plugin}"
                ))
            })?;
        let value = |name: &str, errors: Vec<String>| ConfigValueInfo {
            name: name.to_string(),
            value: config.get(name).cloned(),
            recommended_values: Vec::new(),
            errors,
            visible: true,
        };
        let topic_errors = if config.contains_key("topic") {
            Vec::new()
        } else {
            vec!["Missing required configuration \"topic\" which has no default value.".to_string()]
        };
        let error_count = topic_errors.len();
        Ok(ConfigInfos {
            name: class.to_string(),
            error_count,
            groups: vec!["Common".to_string()],
            configs: vec![
                ConfigInfo { definition: definition("connector.class", true), value: value("connector.class", vec![]) },
                ConfigInfo { definition: definition("topic", true), value: value("topic", topic_errors) },
            ],
        })
    }

    fn loggers(&self) -> BTreeMap<String, String> {
        self.loggers.lock().clone()
    }

    fn set_logger(&self, name: &str, level: &str) -> Result<Vec<String>, ApiError> {
        self.loggers.lock().insert(name.to_string(), level.to_string());
        Ok(vec![name.to_string()])
    }

    fn metrics(&self) -> Vec<TaskMetricsInfo> {
        let connectors = self.connectors.lock();
        let mut out = Vec::new();
        for (name, connector) in connectors.iter() {
            for task in 0..connector.tasks() {
                let mut metrics = TaskMetricsInfo::new(TaskId { connector: name.clone(), task });
                metrics.records_read = 10;
                metrics.records_written = 9;
                metrics.record_errors = 1;
                metrics.dlq_records = 1;
                metrics.lag = (connector.kind() == ConnectorType::Sink).then_some(5);
                out.push(metrics);
            }
        }
        out
    }
}
