//! The coordinator's timer: aborts transactions open past their timeout (bumping the epoch, so their producer is
//! fenced), finishes transactions left prepared (a crash between EndTxn and the last marker, or a storage error),
//! and expires idle producer ids in every partition (`producer_id_expiration_ms`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::state::Completion;
use super::Inner;
use crate::coordinator::ownership::{Mark, REPLICATION_TIMEOUT};
use crate::maintenance::now_ms;
use crate::BrokerConfig;

/// How long a prepared transaction may wait for its EndTxn to finish it before this task does.
const STUCK_AFTER_MS: i64 = 10_000;

pub(super) fn spawn(inner: Arc<Inner>, config: &BrokerConfig, single_node: bool, mut shutdown: watch::Receiver<bool>) {
    let interval = Duration::from_millis(config.transaction_abort_check_interval_ms.max(10));
    let expiration_ms = i64::try_from(config.producer_id_expiration_ms).unwrap_or(i64::MAX);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // In cluster mode nothing is loaded at start: each partition's loader resumes its prepared transactions.
        let mut first = single_node;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            let startup = std::mem::replace(&mut first, false);
            run_once(&inner, startup, expiration_ms).await;
        }
    });
}

/// One pass of the timer. `startup` finishes every prepared transaction (nothing else can be finishing it).
async fn run_once(inner: &Arc<Inner>, startup: bool, expiration_ms: i64) {
    let scan = inner.clone();
    let work = tokio::task::spawn_blocking(move || due(&scan, startup));
    let work = match work.await {
        Ok(work) => work,
        Err(e) => {
            tracing::error!(error = %e, "transaction timer pass panicked (a bug)");
            return;
        }
    };
    for (id, c, mark) in work {
        // A timeout's abort decision reaches the followers before its markers go out.
        if let Err(e) = mark.replicated(REPLICATION_TIMEOUT).await {
            tracing::warn!(transactional_id = %id, error = ?e, "a timeout abort is not replicated yet; will retry");
            continue;
        }
        // Markers, then the groups' offsets (a timed-out transaction's staged offsets are dropped here, not at
        // the next request), then the completed state.
        if let Err(e) = inner.finish(&id, &c).await {
            tracing::warn!(transactional_id = %id, error = ?e, "could not finish a transaction; will retry");
        }
    }
    let scan = inner.clone();
    let expired = tokio::task::spawn_blocking(move || {
        let now = now_ms();
        let mut expired = 0;
        for topic in scan.topics.list() {
            for log in topic.partitions() {
                expired += log.expire_producers(now, expiration_ms);
            }
        }
        expired
    })
    .await
    .unwrap_or(0);
    if expired > 0 {
        tracing::debug!(expired, "expired idle producer ids");
    }
}

/// The transactions to end now: open ones past their timeout (fenced and persisted as PrepareAbort here) and
/// prepared ones stuck (or all prepared ones at `startup`), each with the mark to wait on before its markers.
fn due(inner: &Inner, startup: bool) -> Vec<(String, Completion, Mark)> {
    let now = now_ms();
    let mut work = Vec::new();
    let mut state = inner.state.lock();
    for (id, m) in state.txns.iter_mut() {
        if m.timed_out(now) {
            tracing::info!(
                transactional_id = %id,
                producer_id = m.producer_id,
                timeout_ms = m.timeout_ms,
                "aborting a transaction open past its timeout"
            );
            let mark = inner.log.mark(id);
            let c = m.fence(now);
            if let Err(e) = inner.log.persist(id, m) {
                tracing::error!(transactional_id = %id, error = ?e, "cannot persist a timeout abort");
            }
            work.push((id.clone(), c, mark));
        } else if startup || now.saturating_sub(m.last_update_ms) > STUCK_AFTER_MS {
            if let Some(c) = m.pending_completion() {
                work.push((id.clone(), c, Mark::none()));
            }
        }
    }
    work
}
