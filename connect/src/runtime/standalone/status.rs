//! [`StatusBoard`]: what a standalone worker knows of its connectors' and tasks' states (from the herder's own
//! transitions and from runners' reports) and of the topics each connector has used.

use std::collections::{BTreeMap, BTreeSet};

use parking_lot::Mutex;

use crate::connector::ConnectorType;
use crate::runtime::herder::{ConnectorStateInfo, State, StateInfo, TaskId, TaskStateInfo};
use crate::runtime::task::StatusListener;

/// One state and, when failed, why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Observed {
    pub(crate) state: State,
    pub(crate) trace: Option<String>,
}

impl Observed {
    pub(crate) fn new(state: State) -> Self {
        Self { state, trace: None }
    }
}

#[derive(Debug, Default)]
struct Entry {
    connector: Option<Observed>,
    /// Only tasks the herder has registered: a report about another (a task already removed, still saying
    /// goodbye) is dropped rather than bringing it back.
    tasks: BTreeMap<usize, Observed>,
    topics: BTreeSet<String>,
}

/// Connector and task states by connector name; the worker id is the same for all (one worker).
#[derive(Debug)]
pub(crate) struct StatusBoard {
    worker_id: String,
    entries: Mutex<BTreeMap<String, Entry>>,
}

impl StatusBoard {
    pub(crate) fn new(worker_id: String) -> Self {
        Self { worker_id, entries: Mutex::new(BTreeMap::new()) }
    }

    pub(crate) fn set_connector(&self, name: &str, state: State, trace: Option<String>) {
        self.entries.lock().entry(name.to_string()).or_default().connector = Some(Observed { state, trace });
    }

    /// Registers a task (replacing what was known of it) before its runner starts reporting.
    pub(crate) fn set_task(&self, name: &str, task: usize, state: State, trace: Option<String>) {
        self.entries.lock().entry(name.to_string()).or_default().tasks.insert(task, Observed { state, trace });
    }

    /// Forgets every task of `name` (they were stopped for good: reconfiguration, STOPPED, deletion).
    pub(crate) fn clear_tasks(&self, name: &str) {
        if let Some(entry) = self.entries.lock().get_mut(name) {
            entry.tasks.clear();
        }
    }

    /// Forgets a connector, its tasks and its topics.
    pub(crate) fn remove(&self, name: &str) {
        self.entries.lock().remove(name);
    }

    pub(crate) fn connector_state(&self, name: &str) -> Option<Observed> {
        self.entries.lock().get(name).and_then(|e| e.connector.clone())
    }

    pub(crate) fn task_observed(&self, name: &str, task: usize) -> Option<Observed> {
        self.entries.lock().get(name).and_then(|e| e.tasks.get(&task).cloned())
    }

    fn info(&self, observed: &Observed) -> StateInfo {
        StateInfo { state: observed.state, worker_id: self.worker_id.clone(), trace: observed.trace.clone() }
    }

    pub(crate) fn task_info(&self, name: &str, task: usize) -> Option<TaskStateInfo> {
        self.task_observed(name, task).map(|o| TaskStateInfo { id: task, state: self.info(&o) })
    }

    /// `/status` of a connector; an unknown one is UNASSIGNED (not yet started).
    pub(crate) fn connector_info(&self, name: &str, connector_type: Option<ConnectorType>) -> ConnectorStateInfo {
        let entries = self.entries.lock();
        let entry = entries.get(name);
        let connector = entry.and_then(|e| e.connector.clone()).unwrap_or_else(|| Observed::new(State::Unassigned));
        let tasks = entry
            .map(|e| e.tasks.iter().map(|(&id, o)| TaskStateInfo { id, state: self.info(o) }).collect())
            .unwrap_or_default();
        ConnectorStateInfo { name: name.to_string(), connector: self.info(&connector), tasks, connector_type }
    }

    pub(crate) fn topics(&self, name: &str) -> Vec<String> {
        self.entries.lock().get(name).map(|e| e.topics.iter().cloned().collect()).unwrap_or_default()
    }

    pub(crate) fn reset_topics(&self, name: &str) {
        if let Some(entry) = self.entries.lock().get_mut(name) {
            entry.topics.clear();
        }
    }

    pub(crate) fn add_topic(&self, name: &str, topic: &str) {
        if let Some(entry) = self.entries.lock().get_mut(name) {
            if !entry.topics.contains(topic) {
                entry.topics.insert(topic.to_string());
            }
        }
    }
}

impl StatusListener for StatusBoard {
    fn task_state(&self, id: &TaskId, state: State, trace: Option<String>) {
        let mut entries = self.entries.lock();
        let Some(task) = entries.get_mut(&id.connector).and_then(|e| e.tasks.get_mut(&id.task)) else {
            tracing::debug!(connector = %id.connector, task = id.task, ?state, "status of a removed task dropped");
            return;
        };
        // A failed task stays failed until it is restarted: its runner's last words (stopping) must not hide why.
        if task.state == State::Failed && state != State::Running {
            return;
        }
        *task = Observed { state, trace };
    }

    fn topic_used(&self, connector: &str, topic: &str) {
        self.add_topic(connector, topic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(task: usize) -> TaskId {
        TaskId { connector: "c".into(), task }
    }

    #[test]
    fn reports_update_registered_tasks_only() {
        let board = StatusBoard::new("w:8083".into());
        board.set_connector("c", State::Running, None);
        board.set_task("c", 0, State::Unassigned, None);
        board.task_state(&id(0), State::Running, None);
        board.task_state(&id(1), State::Running, None);
        let info = board.connector_info("c", Some(ConnectorType::Source));
        assert_eq!(info.connector.state, State::Running);
        assert_eq!(info.connector.worker_id, "w:8083");
        assert_eq!(info.tasks.len(), 1, "task 1 was never registered");
        assert_eq!(info.tasks[0].state.state, State::Running);

        board.clear_tasks("c");
        board.task_state(&id(0), State::Unassigned, None);
        assert!(board.connector_info("c", None).tasks.is_empty(), "a late report does not revive a task");
    }

    #[test]
    fn a_failure_is_kept_until_the_task_runs_again() {
        let board = StatusBoard::new("w".into());
        board.set_connector("c", State::Running, None);
        board.set_task("c", 0, State::Running, None);
        board.task_state(&id(0), State::Failed, Some("boom".into()));
        board.task_state(&id(0), State::Unassigned, None);
        let task = board.task_info("c", 0).expect("task");
        assert_eq!((task.state.state, task.state.trace.as_deref()), (State::Failed, Some("boom")));
        board.set_task("c", 0, State::Unassigned, None);
        board.task_state(&id(0), State::Running, None);
        assert_eq!(board.task_observed("c", 0).map(|o| o.state), Some(State::Running));
    }

    #[test]
    fn topics_are_tracked_per_connector_until_reset() {
        let board = StatusBoard::new("w".into());
        board.add_topic("c", "ignored: no such connector");
        board.set_connector("c", State::Running, None);
        board.add_topic("c", "b");
        board.add_topic("c", "a");
        board.add_topic("c", "b");
        assert_eq!(board.topics("c"), vec!["a", "b"]);
        board.reset_topics("c");
        assert!(board.topics("c").is_empty());
        board.remove("c");
        assert_eq!(board.connector_info("c", None).connector.state, State::Unassigned);
    }
}
