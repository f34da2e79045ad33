//! Which partitions of a coordinator's internal topic this broker serves, and the task that follows the replica
//! manager's leaderships: a coordinator serves the groups (or transactional ids) of exactly the partitions of
//! its topic that this broker leads, as in Kafka.
//!
//! A partition moves through three roles: not ours (requests answer NOT_COORDINATOR, which sends clients back to
//! FindCoordinator), loading (COORDINATOR_LOAD_IN_PROGRESS: the log is being replayed) and loaded. The role
//! changes under the coordinator's own lock together with its in-memory state, so a request that checks the role
//! under that lock never sees a half-loaded or half-dropped partition.
//!
//! Leadership notices are only a trigger: every notice (and a slow timer, and a lagged channel) re-reads the
//! replica manager's roles for every partition, so a notice sent before the coordinator subscribed, or lost to
//! a full channel, still ends up loaded or unloaded.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;
use parking_lot::Mutex;
use tokio::sync::{broadcast, watch};

use super::cluster::ClusterView;
use crate::log::PartitionLog;
use crate::topics::TopicRegistry;

/// How long a coordinator's write may wait for the followers (Kafka's `offsets.commit.timeout.ms` default);
/// past it the client gets COORDINATOR_NOT_AVAILABLE, as Kafka answers a replication timeout, and retries.
pub(crate) const REPLICATION_TIMEOUT: Duration = Duration::from_millis(5_000);

/// A safety net under the leadership notices: how often the roles are re-read without one.
const RESYNC_EVERY: Duration = Duration::from_secs(5);

/// Where one partition of the topic stands on this broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// This broker leads it at this epoch; its state is being replayed.
    Loading(i32),
    /// This broker leads it at this epoch; its state is in memory.
    Loaded(i32),
}

impl Role {
    fn epoch(self) -> i32 {
        match self {
            Self::Loading(e) | Self::Loaded(e) => e,
        }
    }
}

/// The roles of one internal topic's partitions on this broker.
#[derive(Debug)]
pub(crate) struct Ownership {
    topic: &'static str,
    /// `None` in single-node mode: every partition is ours and loaded at open.
    cluster: Option<Arc<dyn ClusterView>>,
    roles: Mutex<BTreeMap<i32, Role>>,
}

impl Ownership {
    pub(crate) fn new(topic: &'static str, cluster: Option<Arc<dyn ClusterView>>) -> Self {
        Self { topic, cluster, roles: Mutex::new(BTreeMap::new()) }
    }

    /// The cluster, in cluster mode.
    pub(crate) fn cluster(&self) -> Option<&Arc<dyn ClusterView>> {
        self.cluster.as_ref()
    }

    /// The internal topic's name.
    pub(crate) fn topic(&self) -> &'static str {
        self.topic
    }

    /// Whether requests for keys of `partition` are served here now.
    pub(crate) fn check(&self, partition: i32) -> Result<(), ResponseError> {
        if self.cluster.is_none() {
            return Ok(());
        }
        match self.roles.lock().get(&partition) {
            Some(Role::Loaded(_)) => Ok(()),
            Some(Role::Loading(_)) => Err(ResponseError::CoordinatorLoadInProgress),
            None => Err(ResponseError::NotCoordinator),
        }
    }

    /// Before appending to `partition`: it is loaded here and the replica manager still leads it at the loaded
    /// epoch. A coordinator that lost the leadership a moment ago must not write into what is now a follower's
    /// log. Answers the coordinator epoch (the partition's leader epoch; 0 in single-node mode).
    pub(crate) fn check_write(&self, partition: i32) -> Result<i32, ResponseError> {
        let Some(cluster) = &self.cluster else { return Ok(0) };
        let loaded = match self.roles.lock().get(&partition) {
            Some(Role::Loaded(epoch)) => *epoch,
            Some(Role::Loading(_)) => return Err(ResponseError::CoordinatorLoadInProgress),
            None => return Err(ResponseError::NotCoordinator),
        };
        match cluster.local_leader_epoch(self.topic, partition) {
            Ok(epoch) if epoch == loaded => Ok(epoch),
            _ => Err(ResponseError::NotCoordinator),
        }
    }

    /// The role of `partition`, `None` when it is not ours.
    pub(crate) fn role(&self, partition: i32) -> Option<Role> {
        self.roles.lock().get(&partition).copied()
    }

    /// `partition` is ours at `epoch`; its replay starts.
    pub(crate) fn start_loading(&self, partition: i32, epoch: i32) {
        self.roles.lock().insert(partition, Role::Loading(epoch));
    }

    /// The replay of `partition` at `epoch` is done: true if it is still wanted (the caller then installs the
    /// state, holding its lock across both), false if the partition was lost or moved epoch meanwhile.
    pub(crate) fn finish_loading(&self, partition: i32, epoch: i32) -> bool {
        let mut roles = self.roles.lock();
        match roles.get(&partition) {
            Some(Role::Loading(e)) if *e == epoch => {
                roles.insert(partition, Role::Loaded(epoch));
                true
            }
            _ => false,
        }
    }

    /// `partition` is no longer ours (the caller drops its state under its lock).
    pub(crate) fn release(&self, partition: i32) {
        self.roles.lock().remove(&partition);
    }

    fn partitions_with_roles(&self) -> Vec<(i32, Role)> {
        self.roles.lock().iter().map(|(p, r)| (*p, *r)).collect()
    }
}

/// A coordinator's per-partition state.
pub(crate) trait PartitionLoader: Send + Sync + std::fmt::Debug + 'static {
    /// Replays `partition` and installs what it holds, calling [`Ownership::finish_loading`] under the
    /// coordinator's lock first (and installing nothing when it says false). Runs on the blocking pool.
    fn load(&self, partition: i32, epoch: i32);

    /// Drops `partition`'s state, calling [`Ownership::release`] under the coordinator's lock.
    fn unload(&self, partition: i32);
}

/// Follows the replica manager's leaderships of the topic's partitions until `shutdown`.
pub(crate) fn spawn_watcher(
    ownership: Arc<Ownership>,
    topics: Arc<TopicRegistry>,
    loader: Arc<dyn PartitionLoader>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(cluster) = ownership.cluster().cloned() else { return };
    // Subscribed before the first pass: a change after it is noticed, one before it is in the pass.
    let mut changes = cluster.leadership_changes();
    tokio::spawn(async move {
        loop {
            reconcile(&ownership, &topics, &loader).await;
            // Notices about other topics (the replica manager has one channel for all) wake nothing.
            let resync = tokio::time::sleep(RESYNC_EVERY);
            tokio::pin!(resync);
            loop {
                let relevant = tokio::select! {
                    change = changes.recv() => match change {
                        Ok(c) => c.topic == ownership.topic(),
                        Err(broadcast::error::RecvError::Lagged(_)) => true,
                        // The replica manager is gone: the broker is stopping.
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    () = &mut resync => true,
                    _ = shutdown.changed() => return,
                };
                if relevant {
                    break;
                }
            }
        }
    });
}

/// One pass: loads the partitions this broker now leads (or leads at a new epoch: someone else may have
/// written in between) and drops the ones it no longer leads.
pub(crate) async fn reconcile(ownership: &Arc<Ownership>, topics: &TopicRegistry, loader: &Arc<dyn PartitionLoader>) {
    let Some(cluster) = ownership.cluster() else { return };
    let count = topics.get(ownership.topic()).map_or(0, |t| t.partition_count());
    let mut wanted: BTreeMap<i32, i32> = BTreeMap::new();
    for p in 0..count {
        if let Ok(epoch) = cluster.local_leader_epoch(ownership.topic(), p) {
            wanted.insert(p, epoch);
        }
    }
    let mut to_load = Vec::new();
    for (p, role) in ownership.partitions_with_roles() {
        if wanted.get(&p) != Some(&role.epoch()) {
            tracing::info!(
                topic = ownership.topic(),
                partition = p,
                "no longer the coordinator of this partition; dropping its state"
            );
            loader.unload(p);
        }
    }
    for (&p, &epoch) in &wanted {
        if ownership.role(p).is_none() {
            // Marked first, all of them: requests for any of them hear "loading", not "ask elsewhere".
            ownership.start_loading(p, epoch);
            to_load.push((p, epoch));
        }
    }
    for (p, epoch) in to_load {
        let loader = loader.clone();
        let started = std::time::Instant::now();
        if let Err(e) = tokio::task::spawn_blocking(move || loader.load(p, epoch)).await {
            tracing::error!(topic = ownership.topic(), partition = p, error = %e, "loading a coordinator partition failed (a bug)");
            ownership.release(p);
            continue;
        }
        tracing::info!(
            topic = ownership.topic(),
            partition = p,
            leader_epoch = epoch,
            ms = started.elapsed().as_millis() as u64,
            "became the coordinator of this partition"
        );
    }
}

/// The end of a partition's log before an operation, so that afterwards the operation's answer can wait until
/// the followers have what it appended (in single-node mode nothing waits).
#[derive(Debug)]
pub(crate) struct Mark {
    log: Option<Arc<PartitionLog>>,
    before: i64,
}

impl Mark {
    /// Nothing to wait for (single-node mode, or no log).
    pub(crate) fn none() -> Self {
        Self { log: None, before: 0 }
    }

    /// The current end of `log`.
    pub(crate) fn of(log: Arc<PartitionLog>) -> Self {
        let before = log.log_end_offset();
        Self { log: Some(log), before }
    }

    /// Waits until the high watermark reaches the log end, when something was appended since the mark;
    /// COORDINATOR_NOT_AVAILABLE after `timeout` (Kafka's answer to a coordinator write that timed out).
    pub(crate) async fn replicated(self, timeout: Duration) -> Result<(), ResponseError> {
        let Some(log) = self.log else { return Ok(()) };
        let end = log.log_end_offset();
        if end <= self.before {
            return Ok(());
        }
        await_high_watermark(&log, end, timeout).await
    }
}

/// Waits until `log`'s high watermark reaches `end`; COORDINATOR_NOT_AVAILABLE after `timeout`.
pub(crate) async fn await_high_watermark(log: &PartitionLog, end: i64, timeout: Duration) -> Result<(), ResponseError> {
    if log.wait_for_high_watermark(end, timeout).await {
        Ok(())
    } else {
        tracing::warn!(end, high_watermark = log.high_watermark(), "a coordinator write was not replicated in time");
        Err(ResponseError::CoordinatorNotAvailable)
    }
}
