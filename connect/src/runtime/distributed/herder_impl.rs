//! The [`Herder`] methods of [`DistributedWorker`]: reads answer from this worker's views of the config and
//! status topics; writes append to the config topic and answer once this worker has read them back, whichever
//! worker runs the connector.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::config_log::{connector_record, restart_record, target_record, RestartRequest};
use super::reconcile::Command;
use super::status_log::{connector_key, task_key};
use super::DistributedWorker;
use crate::connector::{Config, ConnectorType};
use crate::error::{ApiError, ConnectError};
use crate::runtime::herder::{
    ConfigInfos, ConnectorInfo, ConnectorOffsets, ConnectorStateInfo, Herder, PluginInfo, State, StateInfo,
    TargetState, TaskId, TaskInfo, TaskMetricsInfo, TaskStateInfo, Upserted,
};
use crate::runtime::herder_common::{self, ConnectorEntry, OffsetHome};
use crate::runtime::standalone::{plugin_for, plugin_infos, validate};

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("Connector {name} not found"))
}

fn kafka_failed(e: ConnectError) -> ApiError {
    ApiError::new(500, format!("could not write to the config topic: {e}"))
}

fn connector_type(config: &Config) -> Option<ConnectorType> {
    plugin_for(config).ok().map(|p| p.connector().connector_type())
}

impl DistributedWorker {
    fn entry(&self, name: &str) -> Result<super::config_log::ConnectorConfig, ApiError> {
        self.shared.configs.connector(name).ok_or_else(|| not_found(name))
    }

    fn info(&self, name: &str) -> Result<ConnectorInfo, ApiError> {
        let entry = self.entry(name)?;
        Ok(ConnectorInfo {
            name: name.to_string(),
            tasks: (0..entry.tasks.len()).map(|task| TaskId { connector: name.to_string(), task }).collect(),
            connector_type: connector_type(&entry.config),
            config: entry.config,
        })
    }

    fn status_of(&self, name: &str) -> Result<ConnectorStateInfo, ApiError> {
        let entry = self.entry(name)?;
        let connector = self.shared.statuses.get(&connector_key(name)).map_or_else(
            || StateInfo { state: State::Unassigned, worker_id: String::new(), trace: None },
            |s| s.info(),
        );
        let tasks = self
            .shared
            .statuses
            .tasks(name, entry.tasks.len())
            .into_iter()
            .map(|(id, s)| TaskStateInfo { id, state: s.info() })
            .collect();
        Ok(ConnectorStateInfo {
            name: name.to_string(),
            connector,
            tasks,
            connector_type: connector_type(&entry.config),
        })
    }

    /// The connector as the offsets API needs it.
    fn offsets_entry<'a>(&self, name: &'a str) -> Result<ConnectorEntry<'a>, ApiError> {
        let entry = self.entry(name)?;
        Ok(ConnectorEntry {
            name,
            connector_type: connector_type(&entry.config),
            config: entry.config,
            target: entry.target,
        })
    }

    fn offset_home(&self) -> OffsetHome<'_> {
        OffsetHome { worker: &self.shared.worker, store: self.shared.ctx.offsets.as_ref() }
    }
}

#[async_trait]
impl Herder for DistributedWorker {
    fn worker_id(&self) -> String {
        self.worker_id.clone()
    }

    fn kafka_cluster_id(&self) -> Option<String> {
        self.cluster_id.clone()
    }

    async fn connectors(&self) -> Vec<String> {
        self.shared.configs.names()
    }

    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, ApiError> {
        self.info(name)
    }

    async fn connector_config(&self, name: &str) -> Result<Config, ApiError> {
        Ok(self.entry(name)?.config)
    }

    async fn put_connector_config(
        &self,
        name: &str,
        config: Config,
        initial_state: Option<TargetState>,
        create_only: bool,
    ) -> Result<Upserted, ApiError> {
        let config = validate::checked_config(name, config)?;
        let exists = self.shared.configs.connector(name).is_some();
        if exists && create_only {
            return Err(ApiError::conflict(format!("Connector {name} already exists")));
        }
        let mut records = Vec::new();
        if !exists {
            // The target state first, so no worker ever starts a connector created PAUSED or STOPPED.
            records.push(target_record(name, Some(initial_state.unwrap_or(TargetState::Started))));
        }
        records.push(connector_record(name, Some(&config)));
        self.shared.configs.write(records).await.map_err(kafka_failed)?;
        tracing::info!(connector = %name, created = !exists, "connector config stored");
        Ok(Upserted { created: !exists, info: self.info(name)? })
    }

    async fn delete_connector(&self, name: &str) -> Result<(), ApiError> {
        self.entry(name)?;
        let records = vec![connector_record(name, None), target_record(name, None)];
        self.shared.configs.write(records).await.map_err(kafka_failed)?;
        tracing::info!(connector = %name, "connector deleted");
        Ok(())
    }

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, ApiError> {
        self.status_of(name)
    }

    async fn task_infos(&self, name: &str) -> Result<Vec<TaskInfo>, ApiError> {
        let entry = self.entry(name)?;
        Ok(entry
            .tasks
            .into_iter()
            .enumerate()
            .map(|(task, config)| TaskInfo { id: TaskId { connector: name.to_string(), task }, config })
            .collect())
    }

    async fn task_status(&self, name: &str, task: usize) -> Result<TaskStateInfo, ApiError> {
        self.entry(name)?;
        self.shared
            .statuses
            .get(&task_key(name, task))
            .map(|s| TaskStateInfo { id: task, state: s.info() })
            .ok_or_else(|| ApiError::not_found(format!("No status found for task {name}-{task}")))
    }

    async fn set_target_state(&self, name: &str, state: TargetState) -> Result<(), ApiError> {
        let entry = self.entry(name)?;
        if entry.target != state {
            self.shared.configs.write(vec![target_record(name, Some(state))]).await.map_err(kafka_failed)?;
            tracing::info!(connector = %name, target = ?state, "connector target state changed");
        }
        Ok(())
    }

    async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<Option<ConnectorStateInfo>, ApiError> {
        let mut plan = self.status_of(name)?;
        let request = RestartRequest { include_tasks, only_failed };
        self.shared.configs.write(vec![restart_record(name, request)]).await.map_err(kafka_failed)?;
        if !include_tasks && !only_failed {
            return Ok(None);
        }
        // KIP-745: the answer shows the instances to be restarted as RESTARTING.
        if !only_failed || plan.connector.state == State::Failed {
            plan.connector.state = State::Restarting;
            plan.connector.trace = None;
        }
        for task in plan.tasks.iter_mut() {
            if include_tasks && (!only_failed || task.state.state == State::Failed) {
                task.state.state = State::Restarting;
                task.state.trace = None;
            }
        }
        Ok(Some(plan))
    }

    async fn restart_task(&self, name: &str, task: usize) -> Result<(), ApiError> {
        if self.entry(name)?.tasks.len() <= task {
            return Err(ApiError::not_found(format!("Task {name}-{task} not found")));
        }
        let id = TaskId { connector: name.to_string(), task };
        let (answer, restarted) = tokio::sync::oneshot::channel();
        if self.commands.send(Command::RestartTask(id, answer)).is_ok() && restarted.await.unwrap_or(false) {
            return Ok(());
        }
        // Another worker runs it: ask that worker, as Kafka Connect forwards the request.
        let owner = self.shared.statuses.get(&task_key(name, task)).map(|s| s.worker_id);
        let Some(owner) = owner.filter(|w| *w != self.worker_id && !w.is_empty()) else {
            return Err(ApiError::conflict(
                "Cannot complete request because of a conflicting operation (e.g. worker rebalance)",
            ));
        };
        let url = format!("http://{owner}/connectors/{name}/tasks/{task}/restart");
        let response = reqwest::Client::new()
            .post(&url)
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| ApiError::new(500, format!("could not forward the restart to {owner}: {e}")))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(ApiError::new(response.status().as_u16(), format!("{owner} refused the restart of {name}-{task}")))
        }
    }

    async fn connector_topics(&self, name: &str) -> Result<Vec<String>, ApiError> {
        self.entry(name)?;
        Ok(self.shared.statuses.topics(name))
    }

    async fn reset_connector_topics(&self, name: &str) -> Result<(), ApiError> {
        self.entry(name)?;
        self.shared.statuses.reset_topics(name);
        Ok(())
    }

    async fn offsets(&self, name: &str) -> Result<ConnectorOffsets, ApiError> {
        herder_common::offsets(self.offset_home(), self.offsets_entry(name)?).await
    }

    async fn alter_offsets(&self, name: &str, offsets: ConnectorOffsets, reset: bool) -> Result<String, ApiError> {
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
        self.shared.tasks.lock().iter().map(|(id, running)| running.handle.metrics().to_info(id.clone())).collect()
    }

    fn progress(&self) -> Vec<(TaskId, crate::runtime::progress::Progress)> {
        self.shared.ctx.progress.snapshot()
    }
}
