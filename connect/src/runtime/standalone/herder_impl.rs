//! The [`Herder`] methods of [`StandaloneWorker`]: what each REST call does to the worker's connectors, with
//! Kafka Connect's answers and error messages.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{plugin_for, validate, StandaloneWorker};
use crate::connector::{Config, ConnectorType};
use crate::error::ApiError;
use crate::runtime::herder::{
    ConfigInfos, ConnectorInfo, ConnectorOffsets, ConnectorStateInfo, Herder, PluginInfo, State, TargetState, TaskId,
    TaskInfo, TaskMetricsInfo, TaskStateInfo, Upserted,
};
use crate::runtime::herder_common::{self, ConnectorEntry, OffsetHome};

impl StandaloneWorker {
    fn info(&self, name: &str) -> Result<ConnectorInfo, ApiError> {
        let state = self.state.lock();
        let entry = state.get(name).ok_or_else(|| Self::not_found(name))?;
        Ok(ConnectorInfo {
            name: name.to_string(),
            config: entry.config.clone(),
            tasks: (0..entry.task_configs.len()).map(|task| TaskId { connector: name.to_string(), task }).collect(),
            connector_type: entry.connector_type,
        })
    }

    fn target_and_type(&self, name: &str) -> Result<(TargetState, Option<ConnectorType>, Config), ApiError> {
        let state = self.state.lock();
        let entry = state.get(name).ok_or_else(|| Self::not_found(name))?;
        Ok((entry.target, entry.connector_type, entry.config.clone()))
    }

    /// The connector as the offsets API needs it.
    fn offsets_entry<'a>(&self, name: &'a str) -> Result<ConnectorEntry<'a>, ApiError> {
        let (target, connector_type, config) = self.target_and_type(name)?;
        Ok(ConnectorEntry { name, config, target, connector_type })
    }

    fn offset_home(&self) -> OffsetHome<'_> {
        OffsetHome { worker: &self.config, store: self.ctx.offsets.as_ref() }
    }

    /// Restarts the connector object: asks it for task configs again and restarts every task when they changed
    /// (or the connector had failed). Answers whether the tasks were restarted.
    async fn restart_connector_instance(&self, name: &str) -> bool {
        let Some((config, target, old, running)) =
            self.state.lock().get(name).map(|e| (e.config.clone(), e.target, e.task_configs.clone(), e.tasks.len()))
        else {
            return false;
        };
        if target == TargetState::Stopped {
            self.status.set_connector(name, State::Stopped, None);
            return false;
        }
        let was_failed = self.status.connector_state(name).is_some_and(|o| o.state == State::Failed);
        let unchanged = plugin_for(&config).ok().and_then(|plugin| {
            let effective = self.effective_config(&config);
            let max = validate::tasks_max(&config).ok()?;
            plugin.connector().task_configs(&effective, max).ok()
        });
        if !was_failed && unchanged.as_ref() == Some(&old) && running == old.len() {
            let state = if target == TargetState::Paused { State::Paused } else { State::Running };
            self.status.set_connector(name, state, None);
            return false;
        }
        self.stop_tasks(name).await;
        self.start_connector(name).await;
        true
    }
}

#[async_trait]
impl Herder for StandaloneWorker {
    fn worker_id(&self) -> String {
        self.ctx.worker_id.clone()
    }

    fn kafka_cluster_id(&self) -> Option<String> {
        self.cluster_id.clone()
    }

    async fn connectors(&self) -> Vec<String> {
        self.state.lock().keys().cloned().collect()
    }

    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, ApiError> {
        self.info(name)
    }

    async fn connector_config(&self, name: &str) -> Result<Config, ApiError> {
        self.state.lock().get(name).map(|e| e.config.clone()).ok_or_else(|| Self::not_found(name))
    }

    async fn put_connector_config(
        &self,
        name: &str,
        config: Config,
        initial_state: Option<TargetState>,
        create_only: bool,
    ) -> Result<Upserted, ApiError> {
        let config = validate::checked_config(name, config)?;

        let _ops = self.ops.lock().await;
        let existing = self.state.lock().get(name).map(|e| e.target);
        let target = match existing {
            Some(_) if create_only => return Err(ApiError::conflict(format!("Connector {name} already exists"))),
            Some(target) => {
                self.stop_tasks(name).await;
                target
            }
            None => initial_state.unwrap_or(TargetState::Started),
        };
        self.insert(name, config, target);
        self.start_connector(name).await;
        self.persist();
        tracing::info!(connector = %name, created = existing.is_none(), "connector config stored");
        Ok(Upserted { created: existing.is_none(), info: self.info(name)? })
    }

    async fn delete_connector(&self, name: &str) -> Result<(), ApiError> {
        let _ops = self.ops.lock().await;
        if !self.state.lock().contains_key(name) {
            return Err(Self::not_found(name));
        }
        self.stop_tasks(name).await;
        self.state.lock().remove(name);
        self.status.remove(name);
        self.persist();
        tracing::info!(connector = %name, "connector deleted");
        Ok(())
    }

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, ApiError> {
        let (_, connector_type, _) = self.target_and_type(name)?;
        Ok(self.status.connector_info(name, connector_type))
    }

    async fn task_infos(&self, name: &str) -> Result<Vec<TaskInfo>, ApiError> {
        let state = self.state.lock();
        let entry = state.get(name).ok_or_else(|| Self::not_found(name))?;
        Ok(entry
            .task_configs
            .iter()
            .enumerate()
            .map(|(task, config)| TaskInfo { id: TaskId { connector: name.to_string(), task }, config: config.clone() })
            .collect())
    }

    async fn task_status(&self, name: &str, task: usize) -> Result<TaskStateInfo, ApiError> {
        self.target_and_type(name)?;
        self.status
            .task_info(name, task)
            .ok_or_else(|| ApiError::not_found(format!("No status found for task {name}-{task}")))
    }

    async fn set_target_state(&self, name: &str, target: TargetState) -> Result<(), ApiError> {
        let _ops = self.ops.lock().await;
        let (current, _, _) = self.target_and_type(name)?;
        if current == target {
            return Ok(());
        }
        if let Some(entry) = self.state.lock().get_mut(name) {
            entry.target = target;
        }
        let connector = self.status.connector_state(name).map(|o| o.state);
        match (current, target) {
            (_, TargetState::Stopped) => {
                self.stop_tasks(name).await;
                if let Some(entry) = self.state.lock().get_mut(name) {
                    entry.task_configs.clear();
                }
                self.status.set_connector(name, State::Stopped, None);
            }
            (TargetState::Stopped, _) => self.start_connector(name).await,
            (TargetState::Started, TargetState::Paused) => {
                if let Some(entry) = self.state.lock().get(name) {
                    entry.tasks.values().for_each(|t| t.pause());
                }
                if connector == Some(State::Running) {
                    self.status.set_connector(name, State::Paused, None);
                }
            }
            (TargetState::Paused, TargetState::Started) => {
                if let Some(entry) = self.state.lock().get(name) {
                    entry.tasks.values().for_each(|t| t.resume());
                }
                if connector == Some(State::Paused) {
                    self.status.set_connector(name, State::Running, None);
                }
            }
            (TargetState::Started, TargetState::Started) | (TargetState::Paused, TargetState::Paused) => {}
        }
        self.persist();
        tracing::info!(connector = %name, ?target, "connector target state changed");
        Ok(())
    }

    async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<ConnectorStateInfo>, ApiError> {
        let _ops = self.ops.lock().await;
        let (_, connector_type, _) = self.target_and_type(name)?;
        if !include_tasks && !only_failed {
            self.restart_connector_instance(name).await;
            return Ok(None);
        }
        // KIP-745: the plan is what is restarted; the answer shows those instances as RESTARTING.
        let mut plan = self.status.connector_info(name, connector_type);
        let restart_connector = !only_failed || plan.connector.state == State::Failed;
        let tasks: Vec<usize> = plan
            .tasks
            .iter()
            .filter(|t| include_tasks && (!only_failed || t.state.state == State::Failed))
            .map(|t| t.id)
            .collect();
        if restart_connector {
            plan.connector.state = State::Restarting;
            plan.connector.trace = None;
        }
        for task in plan.tasks.iter_mut().filter(|t| tasks.contains(&t.id)) {
            task.state.state = State::Restarting;
            task.state.trace = None;
        }
        let tasks_restarted = restart_connector && self.restart_connector_instance(name).await;
        if !tasks_restarted {
            for task in tasks {
                self.restart_one_task(name, task).await;
            }
        }
        Ok(Some(plan))
    }

    async fn restart_task(&self, name: &str, task: usize) -> Result<(), ApiError> {
        let _ops = self.ops.lock().await;
        let has_task = {
            let state = self.state.lock();
            state.get(name).ok_or_else(|| Self::not_found(name))?.task_configs.len() > task
        };
        if !has_task {
            return Err(ApiError::not_found(format!("Task {name}-{task} not found")));
        }
        self.restart_one_task(name, task).await;
        Ok(())
    }

    async fn connector_topics(&self, name: &str) -> Result<Vec<String>, ApiError> {
        self.target_and_type(name)?;
        Ok(self.status.topics(name))
    }

    async fn reset_connector_topics(&self, name: &str) -> Result<(), ApiError> {
        self.target_and_type(name)?;
        self.status.reset_topics(name);
        Ok(())
    }

    async fn offsets(&self, name: &str) -> Result<ConnectorOffsets, ApiError> {
        herder_common::offsets(self.offset_home(), self.offsets_entry(name)?).await
    }

    async fn alter_offsets(&self, name: &str, offsets: ConnectorOffsets, reset: bool) -> Result<String, ApiError> {
        let _ops = self.ops.lock().await;
        herder_common::alter_offsets(self.offset_home(), self.offsets_entry(name)?, offsets, reset).await
    }

    fn plugins(&self) -> Vec<PluginInfo> {
        plugin_infos()
    }

    fn validate(&self, plugin: &str, config: &Config) -> Result<ConfigInfos, ApiError> {
        herder_common::validate(plugin, config)
    }

    fn loggers(&self) -> BTreeMap<String, String> {
        herder_common::loggers(&self.loggers)
    }

    fn set_logger(&self, name: &str, level: &str) -> Result<Vec<String>, ApiError> {
        herder_common::set_logger(&self.loggers, name, level)
    }

    fn metrics(&self) -> Vec<TaskMetricsInfo> {
        let state = self.state.lock();
        state
            .values()
            .flat_map(|entry| entry.tasks.values())
            .map(|handle| {
                let m = handle.metrics();
                let mut info = TaskMetricsInfo::new(handle.id().clone());
                info.records_read = m.records_read;
                info.records_written = m.records_processed;
                info.offset_commits = m.offset_commits;
                info.offset_commit_failures = m.offset_commit_failures;
                info.record_errors = m.records_failed;
                info.record_failures = m.record_failures;
                info.records_skipped = m.records_skipped;
                info.retries = m.retries;
                info.errors_logged = m.errors_logged;
                info.dlq_records = m.records_sent_to_dlq;
                info.dlq_failures = m.dlq_produce_failures;
                info
            })
            .collect()
    }

    fn progress(&self) -> Vec<(TaskId, crate::runtime::progress::Progress)> {
        self.ctx.progress.snapshot()
    }
}

/// Every built-in plugin, sorted by class (`GET /connector-plugins`; shared with the distributed worker).
pub(crate) fn plugin_infos() -> Vec<PluginInfo> {
    let mut plugins: Vec<PluginInfo> = crate::connectors::plugins()
        .iter()
        .map(|plugin| {
            let connector = plugin.connector();
            PluginInfo {
                class_name: plugin.class().to_string(),
                plugin_type: connector.connector_type(),
                version: connector.version().to_string(),
            }
        })
        .collect();
    plugins.sort_by(|a, b| a.class_name.cmp(&b.class_name));
    plugins
}
