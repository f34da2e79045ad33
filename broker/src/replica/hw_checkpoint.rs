//! The periodic high watermark checkpoint (Kafka's `replica.high.watermark.checkpoint.interval.ms`): every
//! partition this broker holds writes its `high-watermark-checkpoint` when its high watermark moved, so a restarted
//! follower does not fall back to truncating its whole log.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::ReplicaManager;
use crate::log::PartitionLog;

/// How often the high watermarks are checkpointed (Kafka's default).
const INTERVAL: Duration = Duration::from_secs(5);

/// Checkpoints every held partition's high watermark every [`INTERVAL`] until shutdown, on a blocking thread
/// (it writes files).
pub(super) fn spawn(manager: Arc<ReplicaManager>, mut shutdown: watch::Receiver<bool>) {
    // A weak handle: the task must not keep a stopped broker's manager alive.
    let manager = Arc::downgrade(&manager);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate: nothing moved yet.
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            let Some(manager) = manager.upgrade() else { return };
            let logs: Vec<Arc<PartitionLog>> =
                manager.replicas.read().values().flat_map(|parts| parts.values()).map(|r| r.log.clone()).collect();
            drop(manager);
            let written = tokio::task::spawn_blocking(move || {
                for log in logs {
                    if let Err(e) = log.checkpoint_high_watermark() {
                        tracing::warn!(dir = %log.dir().display(), error = %e, "cannot checkpoint the high watermark");
                    }
                }
            });
            if let Err(e) = written.await {
                tracing::error!(error = %e, "high watermark checkpoint task failed (a bug)");
            }
        }
    });
}
