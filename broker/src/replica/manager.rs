//! The reconciliation task: for every metadata image, first the local topics (created, wiped, deleted, grown,
//! reconfigured through the registry), then each partition's role: leader, follower of a leader at an epoch
//! (handed to that leader's fetcher), leaderless, or no replica here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::fetcher::Fetchers;
use super::partition::{Replica, Role};
use super::ReplicaManager;
use crate::controller::{MetadataImage, PartitionRecord, TopicRecord, NO_LEADER};

/// After a topic could not be brought in line (disk trouble), how long until the next try without a new image.
const RETRY_AFTER: Duration = Duration::from_secs(1);

pub(super) fn spawn(manager: Arc<ReplicaManager>, shutdown: watch::Receiver<bool>) {
    let images = manager.source.subscribe();
    tokio::spawn(run(manager, images, shutdown));
}

async fn run(
    manager: Arc<ReplicaManager>,
    mut images: watch::Receiver<Arc<MetadataImage>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut fetchers = Fetchers::new(manager.node_id, manager.settings.clone(), images.clone(), shutdown.clone());
    let mut previous: Option<Arc<MetadataImage>> = None;
    let mut retry = false;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let image = images.borrow_and_update().clone();
        retry = match apply(&manager, &image, previous.as_deref(), retry, &mut fetchers).await {
            Applied::Done => {
                previous = Some(image);
                false
            }
            Applied::Stale => false,
            // The next pass looks at every topic again.
            Applied::Retry => true,
        };
        tokio::select! {
            changed = images.changed() => if changed.is_err() { break },
            _ = shutdown.changed() => {}
            () = tokio::time::sleep(RETRY_AFTER), if retry => {}
        }
    }
    fetchers.stop_all();
    // Leaderships end with the broker: waiting produces answer NOT_LEADER_OR_FOLLOWER instead of hanging.
    let all: Vec<Arc<Replica>> = manager.replicas.write().drain().flat_map(|(_, parts)| parts.into_values()).collect();
    for replica in all {
        replica.become_other(Role::Gone);
    }
}

enum Applied {
    /// Everything matches the image.
    Done,
    /// The image is older than the local topics: nothing was done.
    Stale,
    /// Some topic could not be brought in line; try again.
    Retry,
}

/// Whether two images describe the same topics (names, ids, partition counts, configs): the registry has
/// nothing to do then.
fn same_topics(a: &MetadataImage, b: &MetadataImage) -> bool {
    a.topics.len() == b.topics.len()
        && a.topics.values().zip(b.topics.values()).all(|(x, y)| {
            x.name == y.name && x.id == y.id && x.partitions.len() == y.partitions.len() && x.configs == y.configs
        })
}

async fn apply(
    manager: &Arc<ReplicaManager>,
    image: &Arc<MetadataImage>,
    previous: Option<&MetadataImage>,
    force: bool,
    fetchers: &mut Fetchers,
) -> Applied {
    let topics_changed = force || previous.is_none_or(|p| !same_topics(p, image));
    let mut outcome = Applied::Done;
    if topics_changed {
        if image.applied_index < manager.topics.reconciled_index() {
            return Applied::Stale;
        }
        // Roles end before their logs go: no fetcher or producer may write into a deleted (or recreated) dir.
        drop_absent(manager, image, fetchers);
        let (registry, img) = (manager.topics.clone(), image.clone());
        let reconciled = match tokio::task::spawn_blocking(move || registry.reconcile(&img)).await {
            Ok(reconciled) => reconciled,
            Err(e) => {
                tracing::error!(error = %e, "topic reconciliation task failed (a bug)");
                return Applied::Retry;
            }
        };
        if !reconciled.applied {
            return Applied::Stale;
        }
        if !reconciled.failed.is_empty() {
            outcome = Applied::Retry;
        }
    }
    *manager.image.write() = image.clone();
    let now = Instant::now();
    for topic in image.topics.values() {
        let Some(local) = manager.topics.get(&topic.name).filter(|t| t.id == topic.id) else {
            continue;
        };
        let before = previous.and_then(|p| p.topics.get(&topic.name)).filter(|t| t.id == topic.id);
        for (index, record) in topic.partitions.iter().enumerate() {
            let partition = index as i32;
            let Some(log) = local.partition(partition) else { continue };
            let unchanged = before.and_then(|t| t.partitions.get(index)) == Some(record);
            let held = manager.replica(&topic.name, partition);
            let is_replica = record.replicas.contains(&manager.node_id);
            let in_place = held.as_ref().map_or(!is_replica, |r| is_replica && Arc::ptr_eq(&r.log, &log));
            if unchanged && in_place && !topics_changed {
                continue;
            }
            if !is_replica {
                if held.is_some() {
                    remove(manager, &topic.name, partition, fetchers);
                }
                continue;
            }
            let replica = match held {
                Some(r) if Arc::ptr_eq(&r.log, &log) => r,
                stale => {
                    if stale.is_some() {
                        remove(manager, &topic.name, partition, fetchers);
                    }
                    let fresh = Arc::new(Replica::new(&topic.name, partition, topic.id, log));
                    manager.replicas.write().entry(topic.name.clone()).or_default().insert(partition, fresh.clone());
                    fresh
                }
            };
            take_role(manager, &replica, record, now, fetchers);
        }
    }
    outcome
}

/// Takes the role `record` gives this broker (a replica of it).
fn take_role(
    manager: &Arc<ReplicaManager>,
    replica: &Arc<Replica>,
    record: &PartitionRecord,
    now: Instant,
    fetchers: &mut Fetchers,
) {
    let key = (replica.topic.clone(), replica.partition);
    if record.leader == manager.node_id {
        fetchers.remove(&key);
        if replica.become_leader(manager.node_id, record, now) {
            manager.emit(replica, true, record.leader_epoch);
            spawn_high_watermark_watch(replica.clone(), record.leader_epoch);
        }
        // The ISR may have shrunk, letting the high watermark move.
        replica.advance_high_watermark();
        return;
    }
    let next = if record.leader == NO_LEADER {
        fetchers.remove(&key);
        Role::Leaderless
    } else {
        Role::Follower { leader: record.leader, epoch: record.leader_epoch }
    };
    let (ended, changed) = replica.become_other(next);
    if let Some(epoch) = ended {
        manager.emit(replica, false, epoch);
    }
    if changed && record.leader != NO_LEADER {
        fetchers.assign(replica.clone(), record.leader, record.leader_epoch);
    }
}

/// Forgets the replica of `topic`/`partition`: it was reassigned away, or its topic was deleted or recreated.
fn remove(manager: &ReplicaManager, topic: &str, partition: i32, fetchers: &mut Fetchers) {
    let removed = {
        let mut replicas = manager.replicas.write();
        let removed = replicas.get_mut(topic).and_then(|parts| parts.remove(&partition));
        if replicas.get(topic).is_some_and(HashMap::is_empty) {
            replicas.remove(topic);
        }
        removed
    };
    fetchers.remove(&(topic.to_string(), partition));
    if let Some(replica) = removed {
        if let (Some(epoch), _) = replica.become_other(Role::Gone) {
            manager.emit(&replica, false, epoch);
        }
    }
}

/// Forgets replicas of topics the image no longer has (or has under another id, or with fewer partitions).
fn drop_absent(manager: &ReplicaManager, image: &MetadataImage, fetchers: &mut Fetchers) {
    let present = |name: &str, id, partition: i32| {
        image.topics.get(name).is_some_and(|t: &TopicRecord| {
            t.id == id && usize::try_from(partition).is_ok_and(|p| p < t.partitions.len())
        })
    };
    let absent: Vec<(String, i32)> = manager
        .replicas
        .read()
        .values()
        .flat_map(|parts| parts.values())
        .filter(|r| !present(&r.topic, r.topic_id, r.partition))
        .map(|r| (r.topic.clone(), r.partition))
        .collect();
    for (topic, partition) in absent {
        remove(manager, &topic, partition, fetchers);
    }
}

/// While this broker leads at `epoch`, moves the high watermark whenever the log grows, whoever appended
/// (producers go through `produce`, but coordinators and transaction markers append directly): a partition
/// whose ISR is the leader alone must still see its high watermark follow its log end.
fn spawn_high_watermark_watch(replica: Arc<Replica>, epoch: i32) {
    tokio::spawn(async move {
        let mut end = replica.log.subscribe();
        let mut leading = replica.subscribe_leading();
        loop {
            if *leading.borrow_and_update() != Some(epoch) {
                return;
            }
            end.borrow_and_update();
            replica.advance_high_watermark();
            tokio::select! {
                changed = end.changed() => if changed.is_err() { return },
                changed = leading.changed() => if changed.is_err() { return },
            }
        }
    });
}
