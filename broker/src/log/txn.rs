//! What the log does for idempotent and transactional producers beyond the append checks: writing transaction
//! markers, the last stable offset, the aborted transactions a read_committed fetch must report, producer expiry,
//! DescribeProducers, and rebuilding producer state at open.
//!
//! Recovery starts from the `producer-state` snapshot written at clean close (taken at some log end offset) and
//! replays the batch headers after it; without a usable snapshot it replays the whole log. Headers are enough:
//! only control batches are read further, for the few bytes that say COMMIT or ABORT; nothing is decompressed.

use std::path::Path;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

use super::batch::{self, CONTROL_ABORT, CONTROL_COMMIT};
use super::error::{AppendError, LogError};
use super::index::write_atomic;
use super::partition::{AppendInfo, LogState, PartitionLog};
use super::producer_state::{snapshot, CompletedTxn, ProducerStates, Staged, Verdict};
use super::segment::{read_batch_at, read_header_at, segment_path};
use super::txn_index::{self, AbortedTxn};

/// One producer as DescribeProducers reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerInfo {
    /// The producer id.
    pub producer_id: i64,
    /// Its current epoch.
    pub epoch: i16,
    /// Sequence of its last record in this epoch, -1 if none.
    pub last_sequence: i32,
    /// Timestamp of its last write.
    pub last_timestamp: i64,
    /// Coordinator epoch of its last marker, -1 if none.
    pub coordinator_epoch: i32,
    /// First offset of its open transaction, -1 if none.
    pub current_txn_start_offset: i64,
}

/// Encodes one control batch: a COMMIT or ABORT marker of `producer_id` at `epoch`.
pub(crate) fn marker_batch(
    producer_id: i64,
    epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
    now_ms: i64,
) -> Result<Bytes, AppendError> {
    // Control record key: version 0, type; value (EndTxnMarker): version 0, coordinator epoch.
    let kind = if commit { CONTROL_COMMIT } else { CONTROL_ABORT };
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&kind.to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&coordinator_epoch.to_be_bytes());
    let record = Record {
        transactional: true,
        control: true,
        partition_leader_epoch: -1,
        producer_id,
        producer_epoch: epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: now_ms,
        key: Some(Bytes::from(key)),
        value: Some(Bytes::from(value)),
        headers: Default::default(),
        delete_horizon: false,
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &[record],
        &RecordEncodeOptions { version: 2, compression: Compression::None },
    )
    .map_err(|e| AppendError::Corrupt(format!("cannot encode a transaction marker (a bug): {e}")))?;
    Ok(buf.freeze())
}

impl PartitionLog {
    /// Appends a COMMIT or ABORT marker for `producer_id` (WriteTxnMarkers, EndTxn, transaction timeouts). It ends
    /// the producer's open transaction here, if any (an aborted one goes to the aborted transaction index), and
    /// fences older epochs. A marker with an epoch older than the partition's is refused.
    pub fn write_txn_marker(
        &self,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        now_ms: i64,
    ) -> Result<(AppendInfo, Vec<CompletedTxn>), AppendError> {
        let batch = marker_batch(producer_id, epoch, commit, coordinator_epoch, now_ms)?;
        self.append_as(&batch, now_ms, Some((commit, coordinator_epoch)))
    }

    /// The first offset of the earliest open transaction, or the high watermark when none is open: read_committed
    /// consumers read up to here.
    pub fn last_stable_offset(&self) -> i64 {
        let state = self.lock_state();
        state.last_stable_offset().min(self.high_watermark_of(&state))
    }

    /// Aborted transactions a read_committed fetch of `[from, upper)` must report: those whose marker is at or
    /// after `from` and whose first offset is before `upper`, ordered by first offset.
    pub fn aborted_transactions(&self, from: i64, upper: i64) -> Vec<AbortedTxn> {
        let state = self.lock_state();
        let first = state.segment_index_for(from);
        let mut out: Vec<AbortedTxn> = state.segments[first..]
            .iter()
            .flat_map(|s| s.aborted.iter())
            .filter(|t| t.last_offset >= from && t.first_offset < upper)
            .copied()
            .collect();
        out.sort_by_key(|t| t.first_offset);
        out
    }

    /// Forgets producers idle for `max_idle_ms` without an open transaction (`producer.id.expiration.ms`).
    pub fn expire_producers(&self, now_ms: i64, max_idle_ms: i64) -> usize {
        self.lock_state().producers.expire(now_ms.saturating_sub(max_idle_ms))
    }

    /// Every producer this partition knows, by producer id.
    pub fn producers(&self) -> Vec<ProducerInfo> {
        let state = self.lock_state();
        let mut out: Vec<ProducerInfo> = state
            .producers
            .producers
            .iter()
            .map(|(&producer_id, e)| ProducerInfo {
                producer_id,
                epoch: e.epoch,
                last_sequence: e.last_seq(),
                last_timestamp: e.last_timestamp,
                coordinator_epoch: e.coordinator_epoch,
                current_txn_start_offset: e.txn_first_offset.unwrap_or(-1),
            })
            .collect();
        out.sort_by_key(|p| p.producer_id);
        out
    }
}

/// Writes the producer state snapshot (clean close).
pub(crate) fn write_snapshot(dir: &Path, state: &LogState) -> Result<(), LogError> {
    let bytes = snapshot::encode(&state.producers, state.log_end());
    write_atomic(&dir.join(snapshot::FILE_NAME), &bytes)?;
    Ok(())
}

/// Rebuilds the producer state and the aborted transaction indexes of a log just opened.
pub(crate) fn recover(dir: &Path, state: &mut LogState) -> Result<(), LogError> {
    let first_base = state.segments[0].base_offset;
    let end = state.log_end();
    let snapshot_path = dir.join(snapshot::FILE_NAME);
    let (mut producers, mut from) = match std::fs::read(&snapshot_path) {
        Ok(bytes) => match snapshot::decode(&bytes) {
            Ok((p, offset)) if (first_base..=end).contains(&offset) => (p, offset),
            Ok((_, offset)) => {
                tracing::warn!(
                    "producer state snapshot {} is at offset {offset}, outside the log {first_base}..{end}; \
                     rebuilding from the log",
                    snapshot_path.display()
                );
                (ProducerStates::default(), first_base)
            }
            Err(e) => {
                tracing::warn!(
                    "ignoring producer state snapshot {}: {e}; rebuilding from the log",
                    snapshot_path.display()
                );
                (ProducerStates::default(), first_base)
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (ProducerStates::default(), first_base),
        Err(e) => return Err(e.into()),
    };
    for s in &mut state.segments {
        let path = segment_path(dir, s.base_offset, "txnindex");
        match txn_index::load(&path, s.base_offset, s.next_offset) {
            Ok(found) => s.aborted = found.unwrap_or_default(),
            Err(e) => {
                tracing::warn!("rebuilding aborted transaction indexes from the log: {}: {e}", path.display());
                from = first_base;
                producers = ProducerStates::default();
            }
        }
    }
    replay_from(dir, state, producers, from)
}

/// Rebuilds the producer state and aborted transaction indexes from `start`, the producer state as of some offset
/// (else the log is replayed from its first segment): after a truncation.
pub(crate) fn rebuild(dir: &Path, state: &mut LogState, start: Option<(i64, ProducerStates)>) -> Result<(), LogError> {
    let (first_base, end) = (state.segments[0].base_offset, state.log_end());
    let (from, producers) = match start {
        Some((offset, producers)) if (first_base..=end).contains(&offset) => (offset, producers),
        _ => (first_base, ProducerStates::default()),
    };
    replay_from(dir, state, producers, from)
}

/// Replays the log from `from` onto `producers` (the state as of `from`), which then become the state; aborted
/// transaction entries of markers at or after `from` are derived again and their `.txnindex` files rewritten.
fn replay_from(dir: &Path, state: &mut LogState, mut producers: ProducerStates, from: i64) -> Result<(), LogError> {
    // Entries at or after the replay point are derived again by the replay.
    for s in &mut state.segments {
        s.aborted.retain(|t| t.last_offset < from);
    }
    let replayed = replay(state, &mut producers, from)?;
    state.producers = producers;
    for s in state.segments.iter().filter(|s| s.next_offset > from) {
        txn_index::write_all(&segment_path(dir, s.base_offset, "txnindex"), &s.aborted)?;
    }
    if replayed > 0 {
        tracing::debug!("replayed {replayed} producer batches of {} from offset {from}", dir.display());
    }
    Ok(())
}

/// Applies every producer batch at or after `from` to `producers`, adding aborted transactions to the segment of
/// their marker. Returns how many batches were applied.
fn replay(state: &mut LogState, producers: &mut ProducerStates, from: i64) -> Result<usize, LogError> {
    let mut applied = 0;
    for s in state.segments.iter_mut().filter(|s| s.next_offset > from) {
        let mut pos = if s.base_offset < from { u64::from(s.index.position_for(s.rel(from))) } else { 0 };
        while pos < s.size {
            let Some(h) = read_header_at(&s.file, pos)? else {
                return Err(LogError::Decode {
                    path: s.log_path.clone(),
                    position: pos,
                    message: "no valid batch header below the segment's size".into(),
                });
            };
            let at = pos;
            pos += h.size() as u64;
            if h.base_offset < from || h.producer_id < 0 {
                continue;
            }
            let mut staged = Staged::default();
            let result = if h.is_control() {
                let bytes = read_batch_at(&s.file, at, &h)?;
                match batch::control_marker(&bytes) {
                    Some((kind, coordinator_epoch)) => producers.stage_marker(
                        &mut staged,
                        &h,
                        kind == CONTROL_COMMIT,
                        coordinator_epoch,
                        h.base_offset,
                        h.max_timestamp,
                    ),
                    None => {
                        tracing::warn!("{}: unreadable control record at position {at}", s.log_path.display());
                        continue;
                    }
                }
            } else {
                let mut checked = producers.stage(&mut staged, &h, h.base_offset, h.max_timestamp);
                if checked.is_err() {
                    // The batch was accepted once, against state that has since expired: accept it as then.
                    producers.forget(h.producer_id);
                    staged = Staged::default();
                    checked = producers.stage(&mut staged, &h, h.base_offset, h.max_timestamp);
                }
                checked.map(|v| {
                    if v != Verdict::Append {
                        tracing::warn!(
                            "{}: batch at offset {} repeats an earlier one",
                            s.log_path.display(),
                            h.base_offset
                        );
                    }
                })
            };
            if let Err(e) = result {
                tracing::debug!("{}: replaying offset {}: {e}", s.log_path.display(), h.base_offset);
                continue;
            }
            for done in staged.completed().iter().filter(|d| d.aborted) {
                s.aborted.push(AbortedTxn {
                    producer_id: done.producer_id,
                    first_offset: done.first_offset,
                    last_offset: done.last_offset,
                });
            }
            producers.commit(staged);
            applied += 1;
        }
    }
    Ok(applied)
}
