//! ISR changes: the periodic shrink check of every led partition, and sending AlterPartition proposals to the
//! controller on their own tasks, so no produce or fetch ever waits for the quorum.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::partition::{IsrProposal, Replica};
use super::source::MetadataSource;
use super::ReplicaManager;
use crate::controller::CommandResult;

/// Checks every `lag_max / 2` (as Kafka does) whether a led partition has ISR members that stopped catching up.
pub(super) fn spawn_shrink_checks(manager: Arc<ReplicaManager>, mut shutdown: watch::Receiver<bool>) {
    let lag_max = manager.settings.lag_max;
    let period = (lag_max / 2).max(Duration::from_millis(10));
    // A weak handle: the check must not keep a stopped broker's manager alive.
    let manager = Arc::downgrade(&manager);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            let Some(manager) = manager.upgrade() else { return };
            let led: Vec<Arc<Replica>> = manager
                .replicas
                .read()
                .values()
                .flat_map(|parts| parts.values())
                .filter(|r| r.leader_epoch().is_some())
                .cloned()
                .collect();
            let now = Instant::now();
            for replica in led {
                if let Some(proposal) = replica.shrink_check(now, lag_max) {
                    tracing::info!(
                        topic = %replica.topic,
                        partition = replica.partition,
                        command = ?proposal.command,
                        "a follower fell behind for longer than replica_lag_time_max_ms: shrinking the ISR"
                    );
                    propose(manager.source.clone(), replica, proposal);
                }
            }
        }
    });
}

/// Sends `proposal` on its own task and tells the replica how it went.
pub(super) fn propose(source: Arc<dyn MetadataSource>, replica: Arc<Replica>, proposal: IsrProposal) {
    tokio::spawn(async move {
        let result = source.propose(proposal.command.clone()).await;
        let ok = match &result {
            Ok(CommandResult::Ok) => true,
            Ok(other) => {
                // Refused: usually a stale partition epoch, the newer image is on its way.
                tracing::info!(topic = %replica.topic, partition = replica.partition, answer = ?other, "AlterPartition refused");
                false
            }
            Err(e) => {
                tracing::warn!(topic = %replica.topic, partition = replica.partition, error = %e, "AlterPartition failed");
                false
            }
        };
        replica.end_proposal(proposal.leader_epoch, ok, Instant::now());
    });
}
