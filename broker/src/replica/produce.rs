//! Appending as leader: leadership and `min.insync.replicas` checks, the append under the role lock, and the
//! acks=all wait for the high watermark.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;

use super::partition::{Replica, Role};
use super::{ReplicaError, ReplicaManager};
use crate::log::{AppendInfo, PartitionLog};
use crate::maintenance::now_ms;

/// An acks=all append that is in the log and waits for the in-sync replicas: what
/// [`ReplicaManager::append`] hands back so the wait can overlap later appends.
pub struct PendingAcks {
    log: Arc<PartitionLog>,
    replica: Arc<Replica>,
    info: AppendInfo,
    epoch: i32,
    leading: tokio::sync::watch::Receiver<Option<i32>>,
    min_isr: usize,
}

/// See [`ReplicaManager::produce`].
pub(super) async fn produce(
    manager: &ReplicaManager,
    topic: &str,
    partition: i32,
    log: Arc<PartitionLog>,
    records: Bytes,
    acks: i16,
    timeout_ms: i32,
) -> Result<AppendInfo, ReplicaError> {
    match append(manager, topic, partition, log, records, acks).await? {
        (info, None) => Ok(info),
        (_, Some(pending)) => pending.wait(timeout_ms).await,
    }
}

/// See [`ReplicaManager::append`].
pub(super) async fn append(
    manager: &ReplicaManager,
    topic: &str,
    partition: i32,
    log: Arc<PartitionLog>,
    records: Bytes,
    acks: i16,
) -> Result<(AppendInfo, Option<PendingAcks>), ReplicaError> {
    let not_leader =
        || ReplicaError::new(ResponseError::NotLeaderOrFollower, "this broker does not lead the partition");
    let replica = manager.replica(topic, partition).ok_or_else(|| {
        let code = manager.not_here(topic, partition);
        ReplicaError::new(code, format!("this broker holds no replica of {topic}-{partition}"))
    })?;
    // The caller resolved the log before this broker caught up with a delete-and-recreate of the topic.
    if !Arc::ptr_eq(&replica.log, &log) {
        return Err(not_leader());
    }
    let leading = replica.subscribe_leading();
    let min_isr = if acks == -1 { log.config().min_insync_replicas.max(1) as usize } else { 0 };
    let lag_max = manager.settings.lag_max;
    let (info, epoch) = if log.may_sync_on_append() {
        // An append that may fsync stays off the async workers.
        let replica = replica.clone();
        tokio::task::spawn_blocking(move || append_as_leader(&replica, &records, min_isr, lag_max))
            .await
            .map_err(|e| ReplicaError::new(ResponseError::UnknownServerError, format!("append task failed: {e}")))??
    } else {
        append_as_leader(&replica, &records, min_isr, lag_max)?
    };
    // Alone in the ISR, the leader's own append is what moves the high watermark.
    replica.advance_high_watermark();
    if acks != -1 {
        return Ok((info, None));
    }
    Ok((info, Some(PendingAcks { log, replica, info, epoch, leading, min_isr })))
}

impl PendingAcks {
    /// Waits up to `timeout_ms` until the high watermark passes the appended batches; fails if leadership moves
    /// first or the ISR shrank below `min.insync.replicas` meanwhile.
    pub async fn wait(mut self, timeout_ms: i32) -> Result<AppendInfo, ReplicaError> {
        let wait = Duration::from_millis(timeout_ms.max(0) as u64);
        let reached = tokio::select! {
            reached = self.log.wait_for_high_watermark(self.info.last_offset + 1, wait) => reached,
            () = lost_leadership(&mut self.leading, self.epoch) => {
                return Err(ReplicaError::new(
                    ResponseError::NotLeaderOrFollower,
                    "leadership moved before every in-sync replica had the records",
                ));
            }
        };
        if !reached {
            return Err(ReplicaError::new(
                ResponseError::RequestTimedOut,
                format!("the in-sync replicas did not all get the records within {timeout_ms} ms"),
            ));
        }
        let isr = self.replica.isr_len();
        if isr < self.min_isr {
            return Err(ReplicaError::new(
                ResponseError::NotEnoughReplicasAfterAppend,
                format!(
                    "the records are written but the ISR shrank to {isr}, below min.insync.replicas {}",
                    self.min_isr
                ),
            ));
        }
        Ok(self.info)
    }
}

/// Appends under the role lock so leadership cannot change halfway; checks `min_isr` live ISR members first
/// (0: no check). Returns what the append did and the leader epoch it was written under.
fn append_as_leader(
    replica: &Replica,
    records: &[u8],
    min_isr: usize,
    lag_max: Duration,
) -> Result<(AppendInfo, i32), ReplicaError> {
    let role = replica.role();
    let Role::Leader(state) = &*role else {
        return Err(ReplicaError::new(ResponseError::NotLeaderOrFollower, "this broker does not lead the partition"));
    };
    let epoch = state.epoch;
    if min_isr > 0 {
        let live = state.live_isr(replica.log.log_end_offset(), tokio::time::Instant::now(), lag_max);
        if live < min_isr {
            return Err(ReplicaError::new(
                ResponseError::NotEnoughReplicas,
                format!("{live} in-sync replicas are live, min.insync.replicas is {min_isr}"),
            ));
        }
    }
    match replica.log.append(records, now_ms()) {
        Ok(info) => Ok((info, epoch)),
        Err(e) => {
            tracing::warn!(topic = %replica.topic, partition = replica.partition, error = %e, "produce refused");
            let code = ResponseError::try_from_code(e.kafka_code()).unwrap_or(ResponseError::UnknownServerError);
            Err(ReplicaError::new(code, e.to_string()))
        }
    }
}

/// Resolves once this broker no longer leads at `epoch`.
async fn lost_leadership(leading: &mut tokio::sync::watch::Receiver<Option<i32>>, epoch: i32) {
    loop {
        if *leading.borrow_and_update() != Some(epoch) {
            return;
        }
        if leading.changed().await.is_err() {
            // The replica is gone altogether.
            return;
        }
    }
}
