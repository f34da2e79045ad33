//! [`StatusLog`]: the status topic. The worker running a connector or task writes its state
//! (`status-connector-<name>`, `status-task-<name>-<i>` → `{"state", "trace", "worker_id", "generation"}`)
//! and the topics it uses (`topic-<topic>-connector-<name>`); every worker reads the topic to answer `/status`
//! for all of them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::tail::Tail;
use crate::error::ConnectError;
use crate::runtime::errors::kafka_error;
use crate::runtime::herder::{State, StateInfo, TaskId};
use crate::runtime::task::StatusListener;

/// One status record's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct StatusRecord {
    pub(super) state: State,
    #[serde(default)]
    pub(super) trace: Option<String>,
    pub(super) worker_id: String,
    #[serde(default)]
    pub(super) generation: u64,
}

impl StatusRecord {
    pub(super) fn info(&self) -> StateInfo {
        StateInfo { state: self.state, worker_id: self.worker_id.clone(), trace: self.trace.clone() }
    }
}

#[derive(Debug, Default)]
struct View {
    statuses: BTreeMap<String, StatusRecord>,
    topics: BTreeMap<String, BTreeSet<String>>,
}

pub(super) fn connector_key(name: &str) -> String {
    format!("status-connector-{name}")
}

pub(super) fn task_key(name: &str, task: usize) -> String {
    format!("status-task-{name}-{task}")
}

fn topic_key(topic: &str, connector: &str) -> String {
    format!("topic-{topic}-connector-{connector}")
}

/// The status topic: what this worker writes and what every worker has written.
pub(super) struct StatusLog {
    topic: String,
    worker_id: String,
    /// Bumped at every assignment change of this worker, written with each status.
    pub(super) generation: AtomicU64,
    /// Set when the worker is killed: a dead worker writes nothing more.
    pub(super) dead: AtomicBool,
    /// Whether a connector still exists: statuses of deleted connectors are not written.
    exists: Box<dyn Fn(&str) -> bool + Send + Sync>,
    view: Arc<Mutex<View>>,
    /// Topics this worker has reported, so each is written once.
    reported: Mutex<BTreeSet<(String, String)>>,
    producer: FutureProducer,
    tail: Tail,
}

impl std::fmt::Debug for StatusLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusLog").field("topic", &self.topic).finish_non_exhaustive()
    }
}

impl StatusLog {
    pub(super) async fn open(
        client: &ClientConfig,
        topic: &str,
        worker_id: String,
        exists: Box<dyn Fn(&str) -> bool + Send + Sync>,
    ) -> Result<StatusLog, ConnectError> {
        let view = Arc::new(Mutex::new(View::default()));
        let applier = view.clone();
        let tail = Tail::start(client, topic, move |message: &BorrowedMessage<'_>| {
            let Some(key) = message.key().and_then(|k| std::str::from_utf8(k).ok()) else { return };
            let mut view = applier.lock();
            if let Some(rest) = key.strip_prefix("topic-") {
                let Some((topic, connector)) = rest.split_once("-connector-") else { return };
                match message.payload() {
                    Some(_) => {
                        view.topics.entry(connector.to_string()).or_default().insert(topic.to_string());
                    }
                    None => {
                        if let Some(set) = view.topics.get_mut(connector) {
                            set.remove(topic);
                        }
                    }
                }
                return;
            }
            match message.payload().map(serde_json::from_slice::<StatusRecord>) {
                None => {
                    view.statuses.remove(key);
                }
                Some(Ok(record)) => {
                    view.statuses.insert(key.to_string(), record);
                }
                Some(Err(e)) => tracing::warn!(%key, error = %e, "skipping a status record that is not a status"),
            }
        })
        .await?;
        let producer: FutureProducer = client
            .clone()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "0")
            .create()
            .map_err(|e| kafka_error("creating the status topic producer", e))?;
        tail.catch_up().await?;
        Ok(StatusLog {
            topic: topic.to_string(),
            worker_id,
            generation: AtomicU64::new(0),
            dead: AtomicBool::new(false),
            exists,
            view,
            reported: Mutex::new(BTreeSet::new()),
            producer,
            tail,
        })
    }

    pub(super) fn get(&self, key: &str) -> Option<StatusRecord> {
        self.view.lock().statuses.get(key).cloned()
    }

    /// Every task status of `name` with an index below `count`.
    pub(super) fn tasks(&self, name: &str, count: usize) -> Vec<(usize, StatusRecord)> {
        let view = self.view.lock();
        (0..count).filter_map(|i| view.statuses.get(&task_key(name, i)).map(|r| (i, r.clone()))).collect()
    }

    pub(super) fn topics(&self, name: &str) -> Vec<String> {
        self.view.lock().topics.get(name).map(|t| t.iter().cloned().collect()).unwrap_or_default()
    }

    /// Writes a record without waiting for it (status updates come from synchronous callbacks).
    fn send(&self, key: &str, value: Option<Vec<u8>>) {
        if self.dead.load(Ordering::SeqCst) {
            return;
        }
        let mut record = FutureRecord::<str, [u8]>::to(&self.topic).key(key);
        if let Some(value) = &value {
            record = record.payload(value.as_slice());
        }
        if let Err((e, _)) = self.producer.send_result(record) {
            tracing::warn!(%key, error = %e, "could not write a status record");
        }
    }

    /// Writes a state of this worker's instance. An UNASSIGNED state (the instance stopped here) is only written
    /// while the current status is this worker's, so a slow goodbye never hides the new owner's state.
    pub(super) fn put(&self, key: &str, state: State, trace: Option<String>) {
        if state == State::Unassigned {
            if let Some(current) = self.get(key) {
                if current.worker_id != self.worker_id {
                    return;
                }
            }
        }
        let record = StatusRecord {
            state,
            trace,
            worker_id: self.worker_id.clone(),
            generation: self.generation.load(Ordering::SeqCst),
        };
        self.send(key, Some(serde_json::to_vec(&record).expect("statuses always serialize")));
    }

    /// Forgets a status (its connector was deleted).
    pub(super) fn remove(&self, key: &str) {
        self.send(key, None);
    }

    /// Forgets the topics a connector has used.
    pub(super) fn reset_topics(&self, name: &str) {
        for topic in self.topics(name) {
            self.send(&topic_key(&topic, name), None);
        }
        self.reported.lock().retain(|(_, c)| c != name);
    }

    pub(super) fn stop(&self) {
        self.tail.stop();
    }
}

impl StatusListener for StatusLog {
    fn task_state(&self, id: &TaskId, state: State, trace: Option<String>) {
        if !(self.exists)(&id.connector) {
            return;
        }
        self.put(&task_key(&id.connector, id.task), state, trace);
    }

    fn topic_used(&self, connector: &str, topic: &str) {
        if !self.reported.lock().insert((topic.to_string(), connector.to_string())) {
            return;
        }
        if self.view.lock().topics.get(connector).is_some_and(|t| t.contains(topic)) {
            return;
        }
        let value = json!({"topic": {"name": topic, "connector": connector, "task": null,
            "discoverTimestamp": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64).unwrap_or_default()}});
        self.send(&topic_key(topic, connector), Some(value.to_string().into_bytes()));
    }
}
