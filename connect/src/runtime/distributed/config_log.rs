//! [`ConfigLog`]: the config topic in Kafka Connect's layout, read into a [`ConfigView`] by every worker and
//! written by whichever worker a REST request reached:
//!
//! - `connector-<name>` → `{"properties": {...}}`; null deletes the connector.
//! - `target-state-<name>` → `{"state": "STARTED|PAUSED|STOPPED"}`.
//! - `task-<name>-<i>` → `{"properties": {...}}`, applied only when the following `commit-<name>` →
//!   `{"tasks": N}` arrives, so a task set is never seen half-written.
//! - `restart-connector-<name>` → `{"include-tasks": b, "only-failed": b}`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use serde_json::{json, Value as Json};
use tokio::sync::watch;

use super::tail::Tail;
use crate::connector::Config;
use crate::error::ConnectError;
use crate::runtime::errors::kafka_error;
use crate::runtime::herder::TargetState;

/// A restart request as the config topic holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RestartRequest {
    pub(super) include_tasks: bool,
    pub(super) only_failed: bool,
}

impl RestartRequest {
    /// One request covering both, when both arrive before a worker acts on either, so a full restart is never
    /// narrowed by a later, smaller request (the last one alone used to win). Where the two cannot be said as one
    /// (connector-only plus only-failed tasks) the answer restarts more, never less; Kafka Connect keeps just
    /// the request of greater impact.
    pub(super) fn merge(self, other: RestartRequest) -> RestartRequest {
        RestartRequest {
            include_tasks: self.include_tasks || other.include_tasks,
            only_failed: self.only_failed && other.only_failed,
        }
    }
}

/// How many recent restart requests a connector's entry keeps; a worker that fell further behind than this
/// merges only the newest (any of them is at least a connector restart).
const RECENT_RESTARTS: usize = 16;

/// What the config topic says about one connector.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ConnectorConfig {
    pub(super) config: Config,
    pub(super) target: TargetState,
    /// The committed task configs.
    pub(super) tasks: Vec<Config>,
    /// How many restart requests were read for it, and the most recent ones with their sequence numbers
    /// (1-based), so a worker can act on every request it has not handled yet.
    pub(super) restarts: u64,
    pub(super) recent_restarts: std::collections::VecDeque<(u64, RestartRequest)>,
}

/// Everything read from the config topic so far.
#[derive(Debug, Default, Clone)]
pub(super) struct ConfigView {
    pub(super) connectors: BTreeMap<String, ConnectorConfig>,
    /// Target states by connector; they may arrive before the connector's config.
    targets: BTreeMap<String, TargetState>,
    /// Task configs written but not yet committed.
    pending: BTreeMap<String, BTreeMap<usize, Config>>,
}

fn properties(value: &Json) -> Option<Config> {
    value
        .get("properties")?
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect())
}

fn parse_target(value: &Json) -> Option<TargetState> {
    serde_json::from_value(value.get("state.v2").or_else(|| value.get("state"))?.clone()).ok()
}

/// Splits `task-<name>-<i>` into name and index (names may contain dashes; the index is after the last).
fn task_key(rest: &str) -> Option<(&str, usize)> {
    let (name, index) = rest.rsplit_once('-')?;
    Some((name, index.parse().ok()?))
}

impl ConfigView {
    /// Applies one record of the config topic.
    pub(super) fn apply(&mut self, key: &str, value: Option<&Json>) {
        if let Some(name) = key.strip_prefix("connector-") {
            match value.and_then(properties) {
                Some(config) => {
                    let target = self.targets.get(name).copied().unwrap_or(TargetState::Started);
                    let entry = self.connectors.entry(name.to_string()).or_insert_with(|| ConnectorConfig {
                        config: Config::new(),
                        target,
                        tasks: Vec::new(),
                        restarts: 0,
                        recent_restarts: Default::default(),
                    });
                    entry.config = config;
                }
                None => {
                    self.connectors.remove(name);
                    self.targets.remove(name);
                    self.pending.remove(name);
                }
            }
        } else if let Some(name) = key.strip_prefix("target-state-") {
            match value.and_then(parse_target) {
                Some(target) => {
                    self.targets.insert(name.to_string(), target);
                    if let Some(entry) = self.connectors.get_mut(name) {
                        entry.target = target;
                    }
                }
                None => {
                    self.targets.remove(name);
                }
            }
        } else if let Some(rest) = key.strip_prefix("task-") {
            if let (Some((name, index)), Some(config)) = (task_key(rest), value.and_then(properties)) {
                self.pending.entry(name.to_string()).or_default().insert(index, config);
            }
        } else if let Some(name) = key.strip_prefix("commit-") {
            let Some(count) = value.and_then(|v| v.get("tasks")).and_then(Json::as_u64) else { return };
            let count = count as usize;
            let mut pending = self.pending.remove(name).unwrap_or_default();
            let Some(entry) = self.connectors.get_mut(name) else { return };
            let tasks: Option<Vec<Config>> = (0..count).map(|i| pending.remove(&i)).collect();
            match tasks {
                Some(tasks) => entry.tasks = tasks,
                None => tracing::warn!(connector = %name, count,
                    "a task commit names tasks whose configs were not written first; ignoring it"),
            }
        } else if let Some(name) = key.strip_prefix("restart-connector-") {
            let Some(value) = value else { return };
            let flag = |k: &str| value.get(k).and_then(Json::as_bool).unwrap_or(false);
            if let Some(entry) = self.connectors.get_mut(name) {
                entry.restarts += 1;
                let request = RestartRequest { include_tasks: flag("include-tasks"), only_failed: flag("only-failed") };
                entry.recent_restarts.push_back((entry.restarts, request));
                if entry.recent_restarts.len() > RECENT_RESTARTS {
                    entry.recent_restarts.pop_front();
                }
            }
        }
    }
}

/// Record builders, in Kafka Connect's layout.
pub(super) fn connector_record(name: &str, config: Option<&Config>) -> (String, Option<Json>) {
    (format!("connector-{name}"), config.map(|c| json!({ "properties": c })))
}

pub(super) fn target_record(name: &str, target: Option<TargetState>) -> (String, Option<Json>) {
    (format!("target-state-{name}"), target.map(|t| json!({ "state": t })))
}

pub(super) fn task_records(name: &str, tasks: &[Config]) -> Vec<(String, Option<Json>)> {
    let mut records: Vec<(String, Option<Json>)> =
        tasks.iter().enumerate().map(|(i, c)| (format!("task-{name}-{i}"), Some(json!({ "properties": c })))).collect();
    records.push((format!("commit-{name}"), Some(json!({ "tasks": tasks.len() }))));
    records
}

pub(super) fn restart_record(name: &str, request: RestartRequest) -> (String, Option<Json>) {
    (
        format!("restart-connector-{name}"),
        Some(json!({ "include-tasks": request.include_tasks, "only-failed": request.only_failed })),
    )
}

/// The config topic: the view every worker reads, and the producer a worker writes with.
pub(super) struct ConfigLog {
    topic: String,
    view: Arc<Mutex<ConfigView>>,
    /// Bumped after every applied record, so the reconciler wakes up.
    changed: watch::Receiver<u64>,
    producer: FutureProducer,
    tail: Tail,
}

impl std::fmt::Debug for ConfigLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigLog").field("topic", &self.topic).finish_non_exhaustive()
    }
}

impl ConfigLog {
    /// Starts reading `topic` and waits until what it holds now has been read.
    pub(super) async fn open(client: &ClientConfig, topic: &str) -> Result<ConfigLog, ConnectError> {
        let view = Arc::new(Mutex::new(ConfigView::default()));
        let (tx, changed) = watch::channel(0u64);
        let applier = view.clone();
        let tail = Tail::start(client, topic, move |message: &BorrowedMessage<'_>| {
            let Some(key) = message.key().and_then(|k| std::str::from_utf8(k).ok()) else { return };
            let value = match message.payload().map(serde_json::from_slice::<Json>) {
                None => None,
                Some(Ok(v)) => Some(v),
                Some(Err(e)) => {
                    tracing::warn!(%key, error = %e, "skipping a config record that is not JSON");
                    return;
                }
            };
            applier.lock().apply(key, value.as_ref());
            tx.send_modify(|v| *v += 1);
        })
        .await?;
        let producer: FutureProducer = client
            .clone()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "0")
            .create()
            .map_err(|e| kafka_error("creating the config topic producer", e))?;
        tail.catch_up().await?;
        Ok(ConfigLog { topic: topic.to_string(), view, changed, producer, tail })
    }

    /// A copy of the view now.
    pub(super) fn snapshot(&self) -> ConfigView {
        self.view.lock().clone()
    }

    pub(super) fn connector(&self, name: &str) -> Option<ConnectorConfig> {
        self.view.lock().connectors.get(name).cloned()
    }

    pub(super) fn names(&self) -> Vec<String> {
        self.view.lock().connectors.keys().cloned().collect()
    }

    pub(super) fn changes(&self) -> watch::Receiver<u64> {
        self.changed.clone()
    }

    /// Appends `records` in order and waits until this worker's reader has applied the last one.
    pub(super) async fn write(&self, records: Vec<(String, Option<Json>)>) -> Result<(), ConnectError> {
        let mut last = None;
        for (key, value) in records {
            let bytes = value.map(|v| serde_json::to_vec(&v).expect("JSON values always serialize"));
            let mut record = FutureRecord::<str, [u8]>::to(&self.topic).key(&key);
            if let Some(bytes) = &bytes {
                record = record.payload(bytes.as_slice());
            }
            let delivered = self
                .producer
                .send(record, Duration::from_secs(30))
                .await
                .map_err(|(e, _)| kafka_error(&format!("writing `{key}` to `{}`", self.topic), e))?;
            last = Some((delivered.partition, delivered.offset));
        }
        match last {
            Some((partition, offset)) => self.tail.wait_applied(partition, offset).await,
            None => Ok(()),
        }
    }

    pub(super) fn stop(&self) {
        self.tail.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn apply(view: &mut ConfigView, (key, value): (String, Option<Json>)) {
        view.apply(&key, value.as_ref());
    }

    #[test]
    fn task_configs_apply_only_when_committed() {
        let mut view = ConfigView::default();
        apply(&mut view, target_record("my-conn", Some(TargetState::Paused)));
        apply(&mut view, connector_record("my-conn", Some(&config(&[("a", "1")]))));
        let entry = view.connectors.get("my-conn").expect("connector");
        assert_eq!(entry.target, TargetState::Paused, "a target written first is kept");
        let tasks = vec![config(&[("t", "0")]), config(&[("t", "1")])];
        let records = task_records("my-conn", &tasks);
        for record in records[..2].iter().cloned() {
            apply(&mut view, record);
        }
        assert!(view.connectors["my-conn"].tasks.is_empty(), "not committed yet");
        apply(&mut view, records[2].clone());
        assert_eq!(view.connectors["my-conn"].tasks, tasks);

        apply(&mut view, restart_record("my-conn", RestartRequest { include_tasks: true, only_failed: false }));
        assert_eq!(view.connectors["my-conn"].restarts, 1);
        apply(&mut view, connector_record("my-conn", None));
        assert!(view.connectors.is_empty());
    }

    #[test]
    fn restart_requests_are_kept_with_their_sequence_and_merge_to_the_most_impactful() {
        let mut view = ConfigView::default();
        apply(&mut view, connector_record("c", Some(&config(&[("k", "v")]))));
        let full = RestartRequest { include_tasks: true, only_failed: false };
        let failed_tasks = RestartRequest { include_tasks: true, only_failed: true };
        let connector_only = RestartRequest { include_tasks: false, only_failed: false };
        for request in [full, failed_tasks, connector_only] {
            apply(&mut view, restart_record("c", request));
        }
        let entry = &view.connectors["c"];
        assert_eq!(entry.restarts, 3);
        assert_eq!(
            entry.recent_restarts.iter().copied().collect::<Vec<_>>(),
            [(1, full), (2, failed_tasks), (3, connector_only)]
        );
        // A worker that handled none restarts everything; one that handled the first only what the others ask.
        assert_eq!(entry.recent_restarts.iter().map(|(_, r)| *r).reduce(RestartRequest::merge), Some(full));
        let after_first = entry.recent_restarts.iter().filter(|(seq, _)| *seq > 1).map(|(_, r)| *r);
        assert_eq!(
            after_first.reduce(RestartRequest::merge),
            Some(RestartRequest { include_tasks: true, only_failed: false })
        );
        assert_eq!(failed_tasks.merge(failed_tasks), failed_tasks);
        for _ in 0..40 {
            apply(&mut view, restart_record("c", failed_tasks));
        }
        assert_eq!(view.connectors["c"].recent_restarts.len(), RECENT_RESTARTS, "bounded");
    }

    #[test]
    fn records_use_kafka_connects_layout() {
        assert_eq!(target_record("c", Some(TargetState::Stopped)).1, Some(json!({"state": "STOPPED"})));
        assert_eq!(task_key("my-conn-12"), Some(("my-conn", 12)));
        let (key, value) = connector_record("c", Some(&config(&[("k", "v")])));
        assert_eq!((key.as_str(), value), ("connector-c", Some(json!({"properties": {"k": "v"}}))));
    }
}
