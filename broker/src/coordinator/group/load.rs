//! Groups in memory from replayed `__consumer_offsets` records, and (cluster mode) one partition's groups loaded
//! when this broker becomes its leader and dropped when it stops being it.
//!
//! Dropping a partition drops its groups whole, members included, as Kafka does: the members' next request
//! gets NOT_COORDINATOR, they find the new coordinator, which replayed the partition, and rejoin there. Joins
//! and syncs waiting in a dropped group get NOT_COORDINATOR at once (their channel closes).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::classic::ClassicGroup;
use super::consumer::{self, persist::LoadedGroup};
use super::store::Loaded;
use super::Inner;
use crate::coordinator::ownership::{PartitionLoader, Role};

/// Builds the classic groups (with their offsets and pending transactional offsets) from replayed records;
/// hands back the consumer-protocol groups' records. Logs what it found under `what`.
pub(super) fn classic_groups(
    mut loaded: Loaded,
    what: &'static str,
) -> (HashMap<String, ClassicGroup>, BTreeMap<String, LoadedGroup>) {
    let loaded_consumer = std::mem::take(&mut loaded.consumer);
    let mut groups = HashMap::new();
    for (id, value) in &loaded.groups {
        groups.insert(id.clone(), ClassicGroup::restored(id, value));
    }
    let mut offsets = 0usize;
    for (id, committed) in loaded.offsets {
        if committed.is_empty() {
            continue;
        }
        offsets += committed.len();
        groups.entry(id.clone()).or_insert_with(|| ClassicGroup::new(&id)).offsets = committed;
    }
    let mut pending = 0usize;
    for (id, staged) in loaded.pending {
        pending += staged.len();
        groups.entry(id.clone()).or_insert_with(|| ClassicGroup::new(&id)).txn_offsets = staged;
    }
    tracing::info!(groups = groups.len(), offsets, pending_transactions = pending, "{what}");
    (groups, loaded_consumer)
}

/// Loads and drops the groups of one `__consumer_offsets` partition.
#[derive(Debug)]
pub(super) struct GroupLoader {
    pub(super) inner: Arc<Inner>,
    pub(super) consumer: Arc<consumer::ConsumerGroups>,
}

impl PartitionLoader for GroupLoader {
    fn load(&self, partition: i32, epoch: i32) {
        let store = &self.inner.store;
        // The topic may have appeared after open: its own partition count maps groups from now on.
        store.refresh_partition_count();
        let mut loaded = Loaded::default();
        store.replay_partition(partition, &mut loaded);
        let (classic, loaded_consumer) = classic_groups(loaded, "loaded the consumer groups of a partition");
        let mut groups = self.inner.groups.lock();
        // The role only changes under this lock or from the watcher running this load: checked here, it still
        // holds when it flips to loaded below, after both kinds of groups are in.
        if store.ownership.role(partition) != Some(Role::Loading(epoch)) {
            return;
        }
        // Whatever an earlier term here left (a group created by a request racing the unload) is replaced by the log.
        groups.retain(|id, _| store.partition_of(id) != partition);
        groups.extend(classic);
        self.consumer.install(loaded_consumer, |id| store.partition_of(id) == partition);
        store.ownership.finish_loading(partition, epoch);
    }

    fn unload(&self, partition: i32) {
        let store = &self.inner.store;
        let mut groups = self.inner.groups.lock();
        store.ownership.release(partition);
        let before = groups.len();
        groups.retain(|id, _| store.partition_of(id) != partition);
        let consumer = self.consumer.drop_where(|id| store.partition_of(id) == partition);
        tracing::info!(
            partition,
            classic = before - groups.len(),
            consumer,
            "dropped the consumer groups of a partition"
        );
    }
}
