//! The coordinator's timer: aborts transactions open past their timeout (bumping the epoch, so their producer is
//! fenced), finishes transactions left prepared (a crash between EndTxn and the last marker, or a storage error),
//! and expires idle producer ids in every partition (`producer_id_expiration_ms`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::state::{Completion, TxnState};
use super::Inner;
use crate::maintenance::now_ms;
use crate::BrokerConfig;

/// How long a prepared transaction may wait for its EndTxn to finish it before this task does.
const STUCK_AFTER_MS: i64 = 10_000;

pub(super) fn spawn(inner: Arc<Inner>, config: &BrokerConfig, mut shutdown: watch::Receiver<bool>) {
    let interval = Duration::from_millis(config.transaction_abort_check_interval_ms.max(10));
    let expiration_ms = i64::try_from(config.producer_id_expiration_ms).unwrap_or(i64::MAX);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut first = true;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            let inner = inner.clone();
            let startup = std::mem::replace(&mut first, false);
            let pass = tokio::task::spawn_blocking(move || run_once(&inner, startup, expiration_ms));
            if let Err(e) = pass.await {
                tracing::error!(error = %e, "transaction timer pass panicked (a bug)");
            }
        }
    });
}

/// One pass of the timer. `startup` finishes every prepared transaction (nothing else can be finishing it).
fn run_once(inner: &Inner, startup: bool, expiration_ms: i64) {
    let now = now_ms();
    let mut work: Vec<(String, Completion)> = Vec::new();
    {
        let mut state = inner.state.lock();
        for (id, m) in state.txns.iter_mut() {
            if m.timed_out(now) {
                tracing::info!(
                    transactional_id = %id,
                    producer_id = m.producer_id,
                    timeout_ms = m.timeout_ms,
                    "aborting a transaction open past its timeout"
                );
                let c = m.fence(now);
                if let Err(e) = inner.persist(id, m) {
                    tracing::error!(transactional_id = %id, error = ?e, "cannot persist a timeout abort");
                }
                work.push((id.clone(), c));
            } else if matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort)
                && (startup || now.saturating_sub(m.last_update_ms) > STUCK_AFTER_MS)
            {
                let c = Completion {
                    producer_id: m.producer_id,
                    epoch: m.epoch,
                    commit: m.state == TxnState::PrepareCommit,
                    partitions: m.partitions.iter().cloned().collect(),
                    groups: m.groups.iter().cloned().collect(),
                };
                work.push((id.clone(), c));
            }
        }
    }
    for (id, c) in work {
        // Markers, then the groups' offsets (a timed-out transaction's staged offsets are dropped here, not at
        // the next request), then the completed state.
        if let Err(e) = inner.finish(&id, &c) {
            tracing::warn!(transactional_id = %id, error = ?e, "could not finish a transaction; will retry");
        }
    }
    let mut expired = 0;
    for topic in inner.topics.list() {
        for log in topic.partitions() {
            expired += log.expire_producers(now, expiration_ms);
        }
    }
    if expired > 0 {
        tracing::debug!(expired, "expired idle producer ids");
    }
}
