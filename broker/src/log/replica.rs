//! What a partition log does for replication: the high watermark, appends of batches copied from the leader,
//! cutting a divergent tail, and leader epoch queries.
//!
//! Single-node mode (the default) is untouched: the high watermark is the log end and nothing here runs on the
//! produce path. In replicated mode the replica manager sets the high watermark; consumers read below it.
//!
//! Truncation is ordered for crashes: the producer state snapshot goes first (it may describe the tail), then the
//! later segments, newest first (a crash leaves a prefix of the log, which opens as is), then the cut of the
//! segment holding the offset (fsynced), then the rewritten `.txnindex`, epoch checkpoint and a fresh producer
//! state snapshot, and the directory is fsynced before the append lock is released, so nothing appended after
//! the truncation can meet a stale file after a crash.

use std::sync::atomic::Ordering;
use std::time::Duration;

use parking_lot::MutexGuard;
use tokio::sync::watch;

use super::batch::{self, BatchHeader, CONTROL_COMMIT};
use super::checkpoint;
use super::error::{AppendError, LogError};
use super::hw_checkpoint;
use super::partition::{LogState, PartitionLog};
use super::producer_state::{snapshot, ProducerStates, Staged};
use super::segment::{self, Segment};
use super::txn_index;

impl PartitionLog {
    /// The high watermark: the log end offset on a single node; in replicated mode the last value the replica
    /// manager set (within the log), the offset below which every in-sync replica has the records.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark_of(&self.lock_state())
    }

    pub(crate) fn high_watermark_of(&self, state: &LogState) -> i64 {
        let end = state.log_end();
        if self.replicated.load(Ordering::Acquire) {
            (*self.hw_tx.borrow()).clamp(state.log_start.min(end), end)
        } else {
            end
        }
    }

    /// Whether the partition is in replicated mode.
    pub fn is_replicated(&self) -> bool {
        self.replicated.load(Ordering::Acquire)
    }

    /// Turns replicated mode on (the replica manager, when this broker takes a leader or follower role in cluster
    /// mode) or off. On, the high watermark is what [`PartitionLog::set_high_watermark`] last set (at first the
    /// `high-watermark-checkpoint` read at open, clamped to the log, else the log start offset: nothing is known
    /// to be replicated); off, it is the log end. Waiters on the high watermark are woken so they watch the right
    /// value.
    pub fn set_replicated(&self, on: bool) {
        {
            let mut state = self.lock_state();
            state.keep_tail_snapshot = on;
            if !on {
                state.tail_snapshot = None;
            }
            // The first time on: start from the checkpoint (append lock, then checkpoint lock).
            let loaded = if on { self.hw_checkpoint.lock().loaded.take() } else { None };
            if let Some(hw) = loaded {
                let end = state.log_end();
                let hw = hw.clamp(state.log_start.min(end), end);
                self.hw_tx.send_if_modified(|current| {
                    if hw > *current {
                        *current = hw;
                        true
                    } else {
                        false
                    }
                });
            }
        }
        if self.replicated.swap(on, Ordering::AcqRel) != on {
            self.end_tx.send_modify(|_| {});
            self.hw_tx.send_modify(|_| {});
        }
    }

    /// Sets the high watermark (replicated mode): clamped to [log start, log end], and never moved backwards (only
    /// a truncation lowers it). Wakes [`PartitionLog::subscribe_high_watermark`] receivers when it moved.
    pub fn set_high_watermark(&self, hw: i64) {
        let state = self.lock_state();
        let end = state.log_end();
        let hw = hw.clamp(state.log_start.min(end), end);
        self.hw_tx.send_if_modified(|current| {
            if hw > *current {
                *current = hw;
                true
            } else {
                false
            }
        });
    }

    /// Writes the `high-watermark-checkpoint` file (replicated mode only) when the high watermark changed since the
    /// last write; otherwise a cheap no-op. Called periodically by the replica manager and by `close`. The file
    /// is a lower bound of the high watermark, so no fsync: a lost write only costs a larger refetch.
    pub fn checkpoint_high_watermark(&self) -> Result<(), LogError> {
        if !self.is_replicated() {
            return Ok(());
        }
        let state = self.lock_state();
        let hw = self.high_watermark_of(&state);
        // Taken before the append lock is released: a truncation lowering the high watermark after this read
        // waits for this write, then lowers the file again (see `cap_hw_checkpoint`).
        let mut checkpoint = self.hw_checkpoint.lock();
        drop(state);
        if checkpoint.written == Some(hw) {
            return Ok(());
        }
        hw_checkpoint::write(&self.dir, hw)?;
        checkpoint.written = Some(hw);
        Ok(())
    }

    /// A truncation: the checkpointed high watermark must not stay above `cap` (the truncation offset, then the
    /// new log end). Called under the append lock, so nothing is appended before the file is lowered: once the
    /// log grows back past the old value a stale checkpoint would look valid after a crash. A crash before this
    /// runs leaves the checkpoint above the log end, which `open` lowers before anything is appended.
    fn cap_hw_checkpoint(&self, cap: i64) -> Result<(), LogError> {
        let mut checkpoint = self.hw_checkpoint.lock();
        if let Some(loaded) = checkpoint.loaded.as_mut() {
            *loaded = (*loaded).min(cap);
        }
        if checkpoint.written.is_none_or(|w| w <= cap) {
            return Ok(());
        }
        let cap = cap.max(0);
        if let Err(e) = hw_checkpoint::write(&self.dir, cap) {
            tracing::warn!("cannot lower the high watermark checkpoint of {}: {e}; removing it", self.dir.display());
            segment::remove_if_exists(&self.dir.join(hw_checkpoint::FILE_NAME))?;
            checkpoint.written = None;
            return Ok(());
        }
        checkpoint.written = Some(cap);
        Ok(())
    }

    /// Watches the high watermark (acks=all waits, consumer fetches that long-poll). In single-node mode this is
    /// the log end watch of [`PartitionLog::subscribe`]. A receiver taken before [`PartitionLog::set_replicated`]
    /// changed the mode is woken once by the change and should then be taken again.
    pub fn subscribe_high_watermark(&self) -> watch::Receiver<i64> {
        if self.replicated.load(Ordering::Acquire) {
            self.hw_tx.subscribe()
        } else {
            self.end_tx.subscribe()
        }
    }

    /// Waits until the high watermark reaches `offset` (true), or `timeout` passes (false).
    pub async fn wait_for_high_watermark(&self, offset: i64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Subscribe before checking, so a move between the check and the wait is not missed.
            let mut rx = self.subscribe_high_watermark();
            if self.high_watermark() >= offset {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                // Timed out (or the sender is gone, which cannot happen while `self` lives).
                _ => return self.high_watermark() >= offset,
            }
        }
    }

    /// The latest leader epoch that wrote batches to this log, if any.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.lock_state().epochs.latest()
    }

    /// OffsetForLeaderEpoch: the largest epoch at or below `epoch` that wrote batches here, and its end offset
    /// (where the next larger epoch starts, or the log end offset when it is the latest); (-1, -1) (UNDEFINED) when
    /// `epoch` is below every known epoch or the log never had batches. A leader answering for its current epoch
    /// before writing in it gets its previous epoch with the log end offset.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        let state = self.lock_state();
        state.epochs.end_offset_for(epoch, state.log_end())
    }

    /// A follower appends batches fetched from its leader, keeping their offsets and leader epochs. Every batch
    /// is checked (header, CRC); base offsets must be at or after the log end and increase (gaps are allowed: a
    /// compacted leader has them); control batches are welcome. Sequences and producer epochs are not checked (the
    /// leader did), but the producer state, aborted transaction index, offset and time indexes and leader epoch
    /// cache are updated as the leader's were, so this replica answers retries and read_committed fetches alike
    /// once it leads. Returns the new log end offset. Nothing is written if any batch is refused; empty `records`
    /// change nothing.
    pub fn append_replica(&self, records: &[u8], now_ms: i64) -> Result<i64, AppendError> {
        let mut batches: Vec<Fetched> = Vec::new();
        let mut pos = 0usize;
        while pos < records.len() {
            let h = batch::check_batch(&records[pos..])?;
            let marker = if h.is_control() {
                // Only the type and coordinator epoch matter; a malformed control record is stored, but recorded
                // as no marker, as recovery would.
                batch::control_marker(&records[pos..pos + h.size()]).map(|(kind, ce)| (kind == CONTROL_COMMIT, ce))
            } else {
                None
            };
            batches.push(Fetched { pos, h, marker });
            pos += h.size();
        }

        let mut state = self.lock_state();
        let end = state.log_end();
        let mut expected = end;
        for Fetched { h, .. } in &batches {
            if h.base_offset < expected {
                return Err(AppendError::InvalidRecord(format!(
                    "replicated batch at offset {} is below {expected} (the log end {end} or the previous batch's \
                     end): the follower's log and the leader's disagree; truncate first",
                    h.base_offset
                )));
            }
            expected = h.next_offset();
        }
        if batches.is_empty() {
            return Ok(end);
        }

        let (segment_bytes, segment_ms, interval, flush_messages) = {
            let c = &state.config;
            (c.segment_bytes, c.segment_ms, c.index_interval_bytes, c.flush_messages)
        };
        let mut i = 0;
        let mut record_count = 0i64;
        while i < batches.len() {
            // Roll as the leader would before batch `i`; a jump too far for relative offsets starts the new
            // segment at the batch itself.
            let first = batches[i].h;
            let active = state.active();
            let too_big = active.size + first.size() as u64 > segment_bytes;
            let too_old = active.first_append_ms.is_some_and(|t| now_ms.saturating_sub(t) >= segment_ms);
            let rel_overflow = first.last_offset() - active.base_offset > i64::from(u32::MAX);
            if rel_overflow {
                roll_at(&mut state, &self.dir, first.base_offset)?;
            } else if active.size > 0 && (too_big || too_old) {
                let end = state.log_end();
                roll_at(&mut state, &self.dir, end)?;
            }
            // The run of batches that fit in the active segment without another roll: one write.
            let active = state.active();
            let (base, mut size, mut j) = (active.base_offset, active.size, i);
            while j < batches.len() {
                let h = batches[j].h;
                let fits = size + h.size() as u64 <= segment_bytes && h.last_offset() - base <= i64::from(u32::MAX);
                if j > i && !fits {
                    break;
                }
                size += h.size() as u64;
                j += 1;
            }
            let run = &batches[i..j];
            let mut staged = Staged::default();
            for Fetched { h, marker, .. } in run {
                if h.is_control() && marker.is_none() {
                    continue;
                }
                state.producers.stage_replica(&mut staged, h, *marker, h.base_offset, now_ms);
            }
            let last = &run[run.len() - 1];
            let (from, to) = (run[0].pos, last.pos + last.h.size());
            let active = state.active();
            if let Err(e) = std::os::unix::fs::FileExt::write_all_at(&*active.file, &records[from..to], active.size) {
                let _ = active.file.set_len(active.size);
                // Earlier runs are in: publish them before failing.
                let end = active.next_offset;
                self.end_tx.send_replace(end);
                return Err(AppendError::Io(e));
            }
            let mut at = active.size;
            for Fetched { h, .. } in run {
                let rel = active.rel(h.base_offset);
                active.index.on_batch(rel, at as u32, h.size() as u64, h.max_timestamp, interval);
                at += h.size() as u64;
                record_count += i64::from(h.last_offset_delta) + 1;
            }
            active.size = at;
            active.next_offset = last.h.next_offset();
            active.first_append_ms.get_or_insert(now_ms);
            active.dirty = true;
            super::partition::index_aborted(&self.dir, active, staged.completed());
            state.producers.commit(staged);
            for Fetched { h, .. } in run {
                state.epochs.assign(h.partition_leader_epoch, h.base_offset);
            }
            i = j;
        }
        let new_end = state.log_end();
        state.unflushed += record_count;
        let to_sync = if state.unflushed >= flush_messages {
            state.last_flush_ms = now_ms;
            state.take_dirty()
        } else {
            Vec::new()
        };
        self.end_tx.send_replace(new_end);
        drop(state);
        for file in to_sync {
            file.sync_data()?;
        }
        Ok(new_end)
    }

    /// Removes every batch at or after `offset`: a follower's divergent tail. Later segments are deleted, the
    /// segment holding `offset` is cut before the first batch ending at or after it (whole batches only, so the log
    /// may end a little before `offset` when a batch straddles it), the producer state and aborted transactions
    /// are rebuilt as of the new end, the leader epoch cache loses epochs starting there, and the high watermark is
    /// lowered to the new end if above. An offset at or beyond the log end changes nothing; one below the log
    /// start empties the log, which then starts at `offset` (as Kafka does).
    pub fn truncate_to(&self, offset: i64) -> Result<(), LogError> {
        let _maintenance = self.maintenance.lock();
        let mut state = self.lock_state();
        let (log_start, end) = (state.log_start, state.log_end());
        if offset >= end {
            return Ok(());
        }
        // First the checkpoint: the high watermark will end at or below `offset`.
        self.cap_hw_checkpoint(offset)?;
        if offset < log_start {
            return self.reset_locked(&mut state, offset);
        }
        tracing::info!("truncating {} from offset {offset} (log end {end})", self.dir.display());
        self.rewritten.store(true, Ordering::Relaxed);
        let on_disk = take_snapshot(&self.dir)?;
        let keep = state.segment_index_for(offset);
        while state.segments.len() > keep + 1 {
            let Some(s) = state.segments.pop() else { break };
            tracing::info!(
                "deleting segment {} (offsets {}..{}): truncated",
                s.log_path.display(),
                s.base_offset,
                s.next_offset
            );
            Segment::delete_files(&self.dir, s.base_offset)?;
        }
        let new_end = state.active().truncate_from(offset)?;
        if new_end < state.log_start {
            // A batch straddling the log start went: nothing readable remains.
            let start = state.log_start;
            return self.reset_locked(&mut state, start);
        }
        self.lower_marks(new_end);
        self.cap_hw_checkpoint(new_end)?;
        let active = state.active();
        txn_index::write_all(&segment::segment_path(&self.dir, active.base_offset, "txnindex"), &active.aborted)?;
        state.epochs.truncate_from_end(new_end);
        state.epochs.write_if_needed(&self.dir, true)?;
        // Replay from the latest known producer state at or below the new end.
        let start = [state.tail_snapshot.take(), on_disk]
            .into_iter()
            .flatten()
            .filter(|(at, _)| *at <= new_end)
            .max_by_key(|(at, _)| *at);
        super::txn::rebuild(&self.dir, &mut state, start)?;
        super::txn::write_snapshot(&self.dir, &state)?;
        if state.keep_tail_snapshot {
            state.tail_snapshot = Some((new_end, state.producers.clone()));
        }
        checkpoint::sync_dir(&self.dir)?;
        Ok(())
    }

    /// Empties the log and restarts it at `offset` (a follower whose log ends below the leader's log start):
    /// every segment is deleted, producer state and epochs are forgotten, log start and end become `offset`.
    pub fn truncate_fully_and_start_at(&self, offset: i64) -> Result<(), LogError> {
        let _maintenance = self.maintenance.lock();
        let mut state = self.lock_state();
        self.reset_locked(&mut state, offset)
    }

    fn reset_locked(&self, state: &mut MutexGuard<'_, LogState>, offset: i64) -> Result<(), LogError> {
        let offset = offset.max(0);
        tracing::info!("emptying {} and restarting it at offset {offset}", self.dir.display());
        self.rewritten.store(true, Ordering::Relaxed);
        self.cap_hw_checkpoint(offset)?;
        remove_snapshot(&self.dir)?;
        // Newest first: a crash leaves a prefix of the old log. Memory stays valid whatever fails.
        let mut failed = None;
        while state.segments.len() > 1 {
            let Some(s) = state.segments.pop() else { break };
            if let Err(e) = Segment::delete_files(&self.dir, s.base_offset) {
                failed.get_or_insert(e);
            }
        }
        if let Some(e) = failed {
            return Err(e.into());
        }
        let old = state.segments[0].base_offset;
        Segment::delete_files(&self.dir, old)?;
        // Epochs before the fresh segment exists: a crash in between opens an empty log with no epochs.
        state.epochs.clear();
        state.epochs.write_if_needed(&self.dir, true)?;
        state.segments[0] = Segment::create(&self.dir, offset)?;
        state.log_start = offset;
        checkpoint::write(&self.dir, offset)?;
        state.producers = ProducerStates::default();
        state.tail_snapshot = state.keep_tail_snapshot.then(|| (offset, ProducerStates::default()));
        state.unflushed = 0;
        self.hw_tx.send_replace(offset);
        self.end_tx.send_replace(offset);
        Ok(())
    }

    /// After a truncation to `new_end`: the high watermark comes down if above, log end waiters are told.
    fn lower_marks(&self, new_end: i64) {
        self.hw_tx.send_if_modified(|hw| {
            if *hw > new_end {
                *hw = new_end;
                true
            } else {
                false
            }
        });
        self.end_tx.send_replace(new_end);
    }
}

/// One batch of a follower's append: where it starts in the request, its header, and for a control batch
/// (commit, coordinator epoch).
struct Fetched {
    pos: usize,
    h: BatchHeader,
    marker: Option<(bool, i32)>,
}

/// Seals the active segment and starts the next at `base` (>= the log end).
fn roll_at(state: &mut LogState, dir: &std::path::Path, base: i64) -> Result<(), AppendError> {
    // The gap below `base` belongs to the sealed segment, as it will when the log is opened again.
    state.active().next_offset = base;
    state.roll(dir).map_err(|e| match e {
        LogError::Io(e) => AppendError::Io(e),
        other => AppendError::Io(std::io::Error::other(other.to_string())),
    })
}

/// Removes the producer state snapshot durably: after a truncation it may describe batches that are gone, and a
/// log growing back past its offset would make it look valid.
fn remove_snapshot(dir: &std::path::Path) -> Result<(), LogError> {
    take_snapshot(dir).map(|_| ())
}

/// [`remove_snapshot`], returning the snapshot's state and offset when it was readable.
fn take_snapshot(dir: &std::path::Path) -> Result<Option<(i64, ProducerStates)>, LogError> {
    let path = dir.join(snapshot::FILE_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    segment::remove_if_exists(&path)?;
    checkpoint::sync_dir(dir)?;
    Ok(snapshot::decode(&bytes).ok().map(|(states, at)| (at, states)))
}
