//! Cluster mode: the transactional ids of one `__transaction_state` partition, loaded when this broker becomes
//! its leader and dropped when it stops being it.
//!
//! A coordinator that takes a partition over finishes what the previous one left half done: transactions in
//! PrepareCommit or PrepareAbort get their markers again at once (the decision is in the log; markers already
//! written are harmless twice). Ongoing transactions are left to the timer, which aborts them past their timeout
//! as it always does.

use std::sync::Arc;

use super::{Inner, State};
use crate::coordinator::ownership::{PartitionLoader, Role};

/// Loads and drops the transactional ids of one partition.
#[derive(Debug)]
pub(super) struct TxnLoader {
    pub(super) inner: Arc<Inner>,
}

impl PartitionLoader for TxnLoader {
    fn load(&self, partition: i32, epoch: i32) {
        let log = &self.inner.log;
        log.refresh_partition_count();
        let mut loaded = State::default();
        if let Err(e) = log.replay_partition(partition, &mut loaded) {
            // What was read before the bad spot is served; the rest is logged for the operator.
            tracing::error!(partition, error = %e, "cannot read all of a transaction state partition");
        }
        let mut resume = Vec::new();
        {
            let mut state = self.inner.state.lock();
            if log.ownership.role(partition) != Some(Role::Loading(epoch)) {
                return;
            }
            state.txns.retain(|id, _| log.partition_of(id) != partition);
            for (id, m) in loaded.txns {
                if let Some(c) = m.pending_completion() {
                    resume.push((id.clone(), c));
                }
                state.txns.insert(id, m);
            }
            log.ownership.finish_loading(partition, epoch);
        }
        tracing::info!(partition, resumed = resume.len(), "loaded the transactional ids of a partition");
        for (id, c) in resume {
            let inner = self.inner.clone();
            // The blocking pool runs inside the runtime: the markers go out from a task of their own.
            tokio::spawn(async move {
                tracing::info!(transactional_id = %id, commit = c.commit, "resuming a transaction left prepared by the previous coordinator");
                if let Err(e) = inner.finish(&id, &c).await {
                    tracing::warn!(transactional_id = %id, error = ?e, "could not finish a resumed transaction; the timer retries");
                }
            });
        }
    }

    fn unload(&self, partition: i32) {
        let log = &self.inner.log;
        let mut state = self.inner.state.lock();
        log.ownership.release(partition);
        let before = state.txns.len();
        state.txns.retain(|id, _| log.partition_of(id) != partition);
        tracing::info!(partition, dropped = before - state.txns.len(), "dropped the transactional ids of a partition");
    }
}
