//! The reconciler: one loop per worker that brings what runs here in line with the config topic and this
//! worker's slots. It wakes up when the config view changes, when the slots change, and on commands; each
//! round it (re)computes the task configs of the connectors it owns, stops the tasks it should no longer run
//! (they commit their offsets as they stop), and starts the ones it gained.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use super::config_log::{task_records, ConfigLog, ConnectorConfig, RestartRequest};
use super::status_log::{connector_key, task_key, StatusLog};
use super::work::{connector_slot, describe, task_slot, WorkEvent};
use crate::connector::Config;
use crate::runtime::herder::{State, TargetState, TaskId};
use crate::runtime::standalone::{effective_config, plugin_for, validate};
use crate::runtime::task::{start_sink_task, start_source_task, TaskHandle, TaskSpec, WorkerContext};
use crate::runtime::worker_config::WorkerConfig;

/// A task running on this worker, with the configs it was started from.
pub(super) struct RunningTask {
    pub(super) handle: TaskHandle,
    connector_config: Config,
    task_config: Config,
    target: TargetState,
}

/// What the herder and the reconciler share.
pub(super) struct Shared {
    pub(super) worker: WorkerConfig,
    pub(super) group_id: String,
    pub(super) ctx: Arc<WorkerContext>,
    pub(super) configs: Arc<ConfigLog>,
    pub(super) statuses: Arc<StatusLog>,
    pub(super) tasks: Mutex<BTreeMap<TaskId, RunningTask>>,
}

impl Shared {
    /// The config runners get: the worker's defaults, and transactional ids prefixed with the group id, as
    /// Kafka Connect names them (`<group>-<connector>-<task>`), so a task restarted on another worker fences
    /// its predecessor.
    pub(super) fn effective(&self, config: &Config) -> Config {
        let mut out = effective_config(&self.worker, config);
        out.entry("transactional.id.prefix".into()).or_insert_with(|| self.group_id.clone());
        out
    }
}

/// Requests to the reconciler.
pub(super) enum Command {
    /// Restart a task if it runs here; answers whether it did.
    RestartTask(TaskId, oneshot::Sender<bool>),
    /// Stop everything that runs here (each task commits), then end.
    Stop(oneshot::Sender<()>),
}

/// A connector this worker owns, as it was last brought up.
struct Owned {
    config: Config,
    target: TargetState,
    tasks: usize,
}

struct Reconciler {
    shared: Arc<Shared>,
    slots: BTreeSet<i32>,
    connectors: BTreeMap<String, Owned>,
    /// Restart requests seen per connector; requests from before this worker saw the connector are history.
    handled_restarts: BTreeMap<String, u64>,
}

/// Runs the reconciler until a [`Command::Stop`] (or until aborted).
pub(super) async fn run(
    shared: Arc<Shared>,
    mut events: mpsc::UnboundedReceiver<WorkEvent>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut changes = shared.configs.changes();
    let mut me =
        Reconciler { shared, slots: BTreeSet::new(), connectors: BTreeMap::new(), handled_restarts: BTreeMap::new() };
    loop {
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            Some(event) = events.recv() => {
                me.shared.statuses.generation.fetch_add(1, Ordering::SeqCst);
                match event {
                    WorkEvent::Assigned(slots) => {
                        me.slots.extend(slots);
                        tracing::info!(slots = %describe(&me.slots), "work slots assigned");
                    }
                    WorkEvent::Revoked(slots, ack) => {
                        for slot in slots {
                            me.slots.remove(&slot);
                        }
                        tracing::info!(slots = %describe(&me.slots), "work slots revoked");
                        me.reconcile().await;
                        let _ = ack.send(());
                        continue;
                    }
                }
            }
            Some(command) = commands.recv() => match command {
                Command::RestartTask(id, answer) => {
                    let _ = answer.send(me.restart_task(&id).await);
                    continue;
                }
                Command::Stop(done) => {
                    me.slots.clear();
                    me.reconcile().await;
                    let _ = done.send(());
                    return;
                }
            },
        }
        me.reconcile().await;
    }
}

impl Reconciler {
    fn statuses(&self) -> &StatusLog {
        &self.shared.statuses
    }

    async fn reconcile(&mut self) {
        let view = self.shared.configs.snapshot();
        let mut restarts: BTreeMap<String, RestartRequest> = BTreeMap::new();
        for (name, cc) in &view.connectors {
            let handled = self.handled_restarts.entry(name.clone()).or_insert(cc.restarts);
            if cc.restarts > *handled {
                let unhandled = cc.recent_restarts.iter().filter(|(seq, _)| *seq > *handled).map(|(_, r)| *r);
                if let Some(request) = unhandled.reduce(RestartRequest::merge) {
                    restarts.insert(name.clone(), request);
                }
                *handled = cc.restarts;
            }
        }
        self.handled_restarts.retain(|name, _| view.connectors.contains_key(name));

        // Connectors: forget the lost, (re)start the changed and the gained.
        let lost: Vec<String> = self
            .connectors
            .keys()
            .filter(|n| !view.connectors.contains_key(*n) || !self.slots.contains(&connector_slot(n)))
            .cloned()
            .collect();
        for name in lost {
            let owned = self.connectors.remove(&name).expect("listed above");
            if !view.connectors.contains_key(&name) {
                self.statuses().remove(&connector_key(&name));
                for task in 0..owned.tasks {
                    self.statuses().remove(&task_key(&name, task));
                }
                tracing::info!(connector = %name, "connector deleted");
            }
        }
        for (name, cc) in &view.connectors {
            if !self.slots.contains(&connector_slot(name)) {
                continue;
            }
            let changed = self.connectors.get(name).is_none_or(|o| o.config != cc.config || o.target != cc.target);
            let restart = restarts.get(name).is_some_and(|r| {
                !r.only_failed || self.statuses().get(&connector_key(name)).is_some_and(|s| s.state == State::Failed)
            });
            if changed || restart {
                self.start_connector(name, cc).await;
            }
        }

        // Tasks: what should run here now.
        let mut desired: BTreeMap<TaskId, (Config, Config, TargetState)> = BTreeMap::new();
        for (name, cc) in &view.connectors {
            if cc.target == TargetState::Stopped {
                continue;
            }
            let effective = self.shared.effective(&cc.config);
            for (task, task_config) in cc.tasks.iter().enumerate() {
                if self.slots.contains(&task_slot(name, task)) {
                    let id = TaskId { connector: name.clone(), task };
                    desired.insert(id, (effective.clone(), task_config.clone(), cc.target));
                }
            }
        }
        let mut stopping = Vec::new();
        {
            let mut tasks = self.shared.tasks.lock();
            let ids: Vec<TaskId> = tasks.keys().cloned().collect();
            for id in ids {
                let running = &tasks[&id];
                let restart = restarts
                    .get(&id.connector)
                    .is_some_and(|r| r.include_tasks && (!r.only_failed || running.handle.state() == State::Failed));
                match desired.get(&id) {
                    Some((cc, tc, _)) if !restart && running.connector_config == *cc && running.task_config == *tc => {
                        let target = desired[&id].2;
                        let running = tasks.get_mut(&id).expect("listed above");
                        if running.target != target {
                            match target {
                                TargetState::Paused => running.handle.pause(),
                                _ => running.handle.resume(),
                            }
                            running.target = target;
                        }
                    }
                    _ => stopping.push(tasks.remove(&id).expect("listed above")),
                }
            }
        }
        futures::future::join_all(stopping.into_iter().map(|r| r.handle.stop())).await;
        for (id, (cc, tc, target)) in desired {
            if !self.shared.tasks.lock().contains_key(&id) {
                self.start_task(id, cc, tc, target);
            }
        }
    }

    /// Brings up a connector this worker owns: records its state and, unless STOPPED, writes the task configs
    /// it generates when they differ from the committed ones (STOPPED commits an empty task set, as Kafka does).
    async fn start_connector(&mut self, name: &str, cc: &ConnectorConfig) {
        let key = connector_key(name);
        let mut owned = Owned { config: cc.config.clone(), target: cc.target, tasks: cc.tasks.len() };
        let plugin = match plugin_for(&cc.config) {
            Ok(plugin) => plugin,
            Err(trace) => {
                self.statuses().put(&key, State::Failed, Some(trace));
                self.connectors.insert(name.to_string(), owned);
                return;
            }
        };
        let generated = if cc.target == TargetState::Stopped {
            Ok(Vec::new())
        } else {
            let effective = self.shared.effective(&cc.config);
            validate::tasks_max(&cc.config).and_then(|max| {
                let configs = plugin.connector().task_configs(&effective, max).map_err(|e| e.to_string())?;
                if configs.len() > max {
                    return Err(format!(
                        "The connector {name} has generated {} tasks, which is greater than {max}, the maximum \
                         number of tasks it is configured to create.",
                        configs.len()
                    ));
                }
                Ok(configs)
            })
        };
        match generated {
            Err(trace) => {
                tracing::error!(connector = %name, %trace, "connector failed");
                self.statuses().put(&key, State::Failed, Some(trace));
            }
            Ok(configs) => {
                if configs != cc.tasks {
                    if let Err(e) = self.shared.configs.write(task_records(name, &configs)).await {
                        tracing::error!(connector = %name, error = %e, "could not write the task configs");
                        self.statuses().put(&key, State::Failed, Some(e.to_string()));
                        self.connectors.insert(name.to_string(), owned);
                        return;
                    }
                }
                owned.tasks = owned.tasks.max(configs.len());
                let state = match cc.target {
                    TargetState::Started => State::Running,
                    TargetState::Paused => State::Paused,
                    TargetState::Stopped => State::Stopped,
                };
                self.statuses().put(&key, state, None);
            }
        }
        self.connectors.insert(name.to_string(), owned);
    }

    fn start_task(&self, id: TaskId, connector_config: Config, task_config: Config, target: TargetState) {
        let plugin = match plugin_for(&connector_config) {
            Ok(plugin) => plugin,
            Err(trace) => return self.statuses().put(&task_key(&id.connector, id.task), State::Failed, Some(trace)),
        };
        let spec =
            TaskSpec { id: id.clone(), connector_config: connector_config.clone(), task_config: task_config.clone() };
        let ctx = self.shared.ctx.clone();
        let handle = match (plugin.source_task(), plugin.sink_task()) {
            (Some(task), _) => start_source_task(ctx, spec, task),
            (None, Some(task)) => start_sink_task(ctx, spec, task),
            (None, None) => {
                let trace = format!("bug: plugin {} makes neither source nor sink tasks", plugin.class());
                return self.statuses().put(&task_key(&id.connector, id.task), State::Failed, Some(trace));
            }
        };
        if let Some(topics) = connector_config.get("topics") {
            use crate::runtime::task::StatusListener;
            for topic in topics.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                self.statuses().topic_used(&id.connector, topic);
            }
        }
        if target == TargetState::Paused {
            handle.pause();
        }
        tracing::info!(connector = %id.connector, task = id.task, "task started on this worker");
        self.shared.tasks.lock().insert(id, RunningTask { handle, connector_config, task_config, target });
    }

    async fn restart_task(&mut self, id: &TaskId) -> bool {
        let Some(running) = self.shared.tasks.lock().remove(id) else { return false };
        let RunningTask { handle, connector_config, task_config, target } = running;
        handle.stop().await;
        self.start_task(id.clone(), connector_config, task_config, target);
        true
    }
}
