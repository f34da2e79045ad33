//! [`DistributedWorker`]: Kafka's `connect-distributed`: workers sharing a group (`group.id`) keep connector
//! configs, statuses and source offsets in compacted topics, and share the connectors and tasks among them.
//!
//! - `config_log`: the config topic (`config.storage.topic`, default `connect-configs`) in Kafka Connect's
//!   layout; every worker reads it into a view; a REST write is appended by whichever worker got the request
//!   and answered once that worker's own reader has applied it (read your writes).
//! - `status_log`: the status topic (`status.storage.topic`, default `connect-status`): the running worker
//!   writes each instance's state; every worker reads it to answer `/status`.
//! - offsets: the `offset.storage.topic` (default `connect-offsets`) through [`KafkaOffsetStore`], so
//!   exactly-once sources write their offsets inside their transactions as in standalone mode.
//! - `work`: who runs what. Connector `c` runs on the worker owning slot `h(c) % 32`, task `(c, i)` on the one
//!   owning `(h(c) + 1 + 13 i) % 32` (`h` = FNV-1a of the name); slots are the partitions of a work topic
//!   (`<config.storage.topic>-assignments`) that each worker's group member is assigned.
//! - `reconcile`: the loop that starts and stops instances as the config view and the slots change.
//! - `herder_impl`: the [`Herder`] answers.
//!
//! Why slots of a consumer group rather than Kafka Connect's own group protocol: the assignment is left to an
//! ordinary consumer group with the `cooperative-sticky` assignor, which every Kafka-compatible cluster and
//! client library already implement (librdkafka offers no way to plug in Connect's protocol). Membership,
//! failure detection (`session.timeout.ms`), incremental moves and stickiness come with it; hashing names to
//! slots gives every worker the same answer to "who runs this" without a leader, and the cooperative protocol
//! revokes a slot (its owner stops what ran there, committing offsets) before it is given to another. The price:
//! balance is per slot, not per task, so with few tasks the spread depends on the hash; 32 slots keep it close.

mod config_log;
mod herder_impl;
mod reconcile;
mod status_log;
mod tail;
mod work;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rdkafka::ClientConfig;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use self::config_log::ConfigLog;
use self::reconcile::{Command, Shared};
use self::status_log::StatusLog;
use self::work::{Membership, WorkGroup, WORK_PARTITIONS};
use super::errors::ensure_topic;
use super::offsets::{KafkaOffsetStore, OffsetsTopicConfig};
use super::standalone::loggers::LogLevels;
use super::standalone::lookup_cluster_id;
use super::task::WorkerContext;
use super::worker_config::WorkerConfig;
use crate::error::ConnectError;

/// How long a clean stop waits for the tasks to stop (each has its own graceful timeout as well).
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// The topics a distributed worker uses, with Kafka Connect's defaults.
#[derive(Debug, Clone)]
struct Topics {
    config: String,
    status: String,
    offsets: String,
    work: String,
}

impl Topics {
    fn of(config: &WorkerConfig) -> Topics {
        let config_topic = config.config_storage_topic.clone().unwrap_or_else(|| "connect-configs".into());
        Topics {
            work: format!("{config_topic}-assignments"),
            config: config_topic,
            status: config.status_storage_topic.clone().unwrap_or_else(|| "connect-status".into()),
            offsets: config.offset_storage_topic.clone().unwrap_or_else(|| "connect-offsets".into()),
        }
    }
}

/// A distributed Connect worker; implements [`Herder`] for the REST API.
pub struct DistributedWorker {
    shared: Arc<Shared>,
    worker_id: String,
    cluster_id: Option<String>,
    loggers: LogLevels,
    commands: mpsc::UnboundedSender<Command>,
    reconciler: Mutex<Option<JoinHandle<()>>>,
    work: Mutex<Option<WorkGroup>>,
    /// Set when killed: the work group member answers no revocation any more.
    dead: Arc<AtomicBool>,
}

impl std::fmt::Debug for DistributedWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedWorker").field("worker_id", &self.worker_id).finish_non_exhaustive()
    }
}

fn storage_setting(config: &WorkerConfig, key: &str, default: i32) -> i32 {
    config.storage_topic_settings.get(key).and_then(|v| v.parse().ok()).unwrap_or(default)
}

impl DistributedWorker {
    /// Starts a worker: creates the topics it needs when missing, reads the config and status topics to their
    /// end, and joins the worker group. `worker_id` is the `host:port` of the REST listener.
    pub async fn start(
        config: WorkerConfig,
        worker_id: String,
        loggers: LogLevels,
    ) -> Result<Arc<DistributedWorker>, ConnectError> {
        let group_id = config.group_id.clone().ok_or_else(|| {
            ConnectError::config("group.id", "a distributed worker needs `group.id`: the group its workers share")
        })?;
        for (key, reason) in &config.ignored {
            tracing::warn!(setting = %key, "worker setting ignored: {reason}");
        }
        let topics = Topics::of(&config);
        let cluster_id = lookup_cluster_id(&config).await?;
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", &config.bootstrap_servers);
        for (k, v) in &config.client {
            client.set(k, v);
        }
        let mut admin = client.clone();
        for (k, v) in config.admin_config() {
            admin.set(k, v);
        }
        let rf = |key: &str| storage_setting(&config, key, 3) as i16;
        let compact = [("cleanup.policy", "compact")];
        ensure_topic(&admin, &topics.config, 1, rf("config.storage.replication.factor"), &compact).await?;
        let status_partitions = storage_setting(&config, "status.storage.partitions", 5);
        ensure_topic(&admin, &topics.status, status_partitions, rf("status.storage.replication.factor"), &compact)
            .await?;
        ensure_topic(&admin, &topics.work, WORK_PARTITIONS, rf("config.storage.replication.factor"), &[]).await?;
        let offsets = Arc::new(
            KafkaOffsetStore::open(
                &config.bootstrap_servers,
                &config.client,
                OffsetsTopicConfig {
                    topic: topics.offsets.clone(),
                    partitions: storage_setting(&config, "offset.storage.partitions", 25),
                    replication_factor: rf("offset.storage.replication.factor"),
                },
            )
            .await?,
        );
        let configs = Arc::new(ConfigLog::open(&client, &topics.config).await?);
        let exists = {
            let configs = configs.clone();
            Box::new(move |name: &str| configs.connector(name).is_some())
        };
        let statuses = Arc::new(StatusLog::open(&client, &topics.status, worker_id.clone(), exists).await?);
        let ctx = Arc::new(WorkerContext {
            worker_id: worker_id.clone(),
            bootstrap_servers: config.bootstrap_servers.clone(),
            client_config: config.client.clone(),
            offsets,
            status: statuses.clone(),
            progress: Default::default(),
        });
        let dead = Arc::new(AtomicBool::new(false));
        let revoke_wait = Duration::from_millis(config.task_shutdown_timeout_ms) + Duration::from_secs(5);
        let instance = format!("{worker_id}-{}", uuid::Uuid::new_v4());
        let member = Membership {
            group: group_id.clone(),
            instance,
            topic: topics.work.clone(),
            session_timeout_ms: config.session_timeout_ms,
            heartbeat_interval_ms: config.heartbeat_interval_ms,
            revoke_wait,
        };
        let (work, events) = WorkGroup::join(&client, member, dead.clone())?;
        let shared =
            Arc::new(Shared { worker: config, group_id, ctx, configs, statuses, tasks: Mutex::new(BTreeMap::new()) });
        let (commands, command_rx) = mpsc::unbounded_channel();
        let reconciler = tokio::spawn(reconcile::run(shared.clone(), events, command_rx));
        tracing::info!(%worker_id, "distributed worker started");
        Ok(Arc::new(DistributedWorker {
            shared,
            worker_id,
            cluster_id: Some(cluster_id),
            loggers,
            commands,
            reconciler: Mutex::new(Some(reconciler)),
            work: Mutex::new(Some(work)),
            dead,
        }))
    }

    /// The worker's settings.
    pub fn config(&self) -> &WorkerConfig {
        &self.shared.worker
    }

    /// Stops cleanly: leaves the group (what ran here stops, committing offsets, and moves to the other
    /// workers at once), then stops reading the topics.
    pub async fn shutdown(&self) {
        let work = self.work.lock().take();
        if let Some(mut work) = work {
            work.leave().await;
        }
        let (done, stopped) = oneshot::channel();
        if self.commands.send(Command::Stop(done)).is_ok() && tokio::time::timeout(STOP_TIMEOUT, stopped).await.is_err()
        {
            tracing::warn!(timeout = ?STOP_TIMEOUT, "tasks did not stop in time");
        }
        self.shared.configs.stop();
        self.shared.statuses.stop();
        tracing::info!(worker_id = %self.worker_id, "distributed worker stopped");
    }

    /// Stops at once, as a crashed process would: tasks are abandoned without committing, nothing more is
    /// written, and the group is not told; the other workers take over this worker's share only after
    /// `session.timeout.ms`. For an emergency exit and for failover tests.
    pub fn kill(&self) {
        self.dead.store(true, Ordering::SeqCst);
        self.shared.statuses.dead.store(true, Ordering::SeqCst);
        if let Some(reconciler) = self.reconciler.lock().take() {
            reconciler.abort();
        }
        if let Some(mut work) = self.work.lock().take() {
            work.vanish();
        }
        let tasks = std::mem::take(&mut *self.shared.tasks.lock());
        for running in tasks.into_values() {
            running.handle.abort();
        }
        self.shared.configs.stop();
        self.shared.statuses.stop();
        tracing::warn!(worker_id = %self.worker_id, "distributed worker killed");
    }

    /// The tasks running on this worker now.
    pub fn running_tasks(&self) -> Vec<super::herder::TaskId> {
        self.shared.tasks.lock().keys().cloned().collect()
    }
}

/// Makes sure nothing of a dropped worker keeps running in the background.
impl Drop for DistributedWorker {
    fn drop(&mut self) {
        if let Some(reconciler) = self.reconciler.lock().take() {
            reconciler.abort();
        }
    }
}
