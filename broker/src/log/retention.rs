//! DeleteRecords and retention: moving the log start offset forward and deleting whole segments below it.
//!
//! Order matters for crashes: segments leave the in-memory list first (new reads no longer see them), then the
//! checkpoint is written, then files are unlinked. A crash in between leaves files that recovery reads again and
//! whose offsets the checkpoint hides; readers already holding a segment's file keep reading the unlinked inode.

use std::time::UNIX_EPOCH;

use super::checkpoint;
use super::error::{LogError, ReadError};
use super::partition::{LogState, PartitionLog};
use super::segment::Segment;

impl PartitionLog {
    /// DeleteRecords: advances the log start offset to `offset` (-1 means the log end), deletes the segments
    /// entirely below it and persists the checkpoint. Returns the new log start offset. An offset beyond the log
    /// end is [`ReadError::OffsetOutOfRange`]; one at or below the current start changes nothing.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, ReadError> {
        let _maintenance = self.maintenance.lock();
        let (removed, new_start) = {
            let mut state = self.lock_state();
            let (log_start, log_end) = (state.log_start, state.log_end());
            let target = if offset == -1 { log_end } else { offset };
            if target < 0 || target > log_end {
                return Err(ReadError::OffsetOutOfRange { requested: offset, log_start, log_end });
            }
            if target <= log_start {
                return Ok(log_start);
            }
            state.log_start = target;
            state.epochs.truncate_from_start(target);
            let n = below(&state, target);
            let removed: Vec<Segment> = state.segments.drain(..n).collect();
            (removed, target)
        };
        checkpoint::write(&self.dir, new_start).map_err(to_io)?;
        for s in &removed {
            tracing::info!(
                "deleting segment {} (offsets {}..{}): below the log start offset {new_start} set by DeleteRecords",
                s.log_path.display(),
                s.base_offset,
                s.next_offset
            );
            Segment::delete_files(&self.dir, s.base_offset)?;
        }
        Ok(new_start)
    }

    /// Retention, if `cleanup.policy` includes delete: deletes the oldest segments whose newest record is older
    /// than `now_ms - retention.ms` (rolling an expired, non-empty active segment first so the log end offset is
    /// kept), then the oldest segments while the rest still holds at least `retention.bytes`. Advances and
    /// persists the log start offset. Returns the number of segments deleted.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<usize, LogError> {
        let _maintenance = self.maintenance.lock();
        let (removed, new_start, why) = {
            let mut state = self.lock_state();
            let config = state.config.clone();
            if !config.cleanup_delete {
                return Ok(0);
            }
            let mut n = 0;
            let mut why = Vec::new();
            if config.retention_ms >= 0 {
                let cutoff = now_ms.saturating_sub(config.retention_ms);
                while n < state.segments.len() {
                    let s = &state.segments[n];
                    if s.size == 0 || largest_timestamp(s) >= cutoff {
                        break;
                    }
                    if n == state.segments.len() - 1 {
                        state.roll(&self.dir)?;
                    }
                    why.push(format!("its newest record is older than retention.ms {}", config.retention_ms));
                    n += 1;
                }
            }
            if config.retention_bytes >= 0 {
                let mut total: u64 = state.segments[n..].iter().map(|s| s.size).sum();
                let limit = config.retention_bytes as u64;
                while n + 1 < state.segments.len() && total - state.segments[n].size >= limit {
                    total -= state.segments[n].size;
                    why.push(format!("the partition is above retention.bytes {limit}"));
                    n += 1;
                }
            }
            if n == 0 {
                return Ok(0);
            }
            let removed: Vec<Segment> = state.segments.drain(..n).collect();
            let first_base = state.segments[0].base_offset;
            state.log_start = state.log_start.max(first_base);
            let start = state.log_start;
            state.epochs.truncate_from_start(start);
            (removed, start, why)
        };
        checkpoint::write(&self.dir, new_start)?;
        for (s, why) in removed.iter().zip(why) {
            tracing::info!(
                "deleting segment {} (offsets {}..{}): {why}; log start offset is now {new_start}",
                s.log_path.display(),
                s.base_offset,
                s.next_offset
            );
            Segment::delete_files(&self.dir, s.base_offset)?;
        }
        Ok(removed.len())
    }
}

/// How many leading segments lie entirely below `offset` (never the active one).
fn below(state: &LogState, offset: i64) -> usize {
    let segs = &state.segments;
    (0..segs.len() - 1).take_while(|&i| segs[i + 1].base_offset <= offset).count()
}

/// The segment's largest record timestamp; the file's modification time when no record carries one.
fn largest_timestamp(s: &Segment) -> i64 {
    if s.index.max_timestamp >= 0 {
        return s.index.max_timestamp;
    }
    s.file
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(i64::MAX, |d| d.as_millis() as i64)
}

fn to_io(e: LogError) -> ReadError {
    match e {
        LogError::Io(e) => ReadError::Io(e),
        other => ReadError::Io(std::io::Error::other(other.to_string())),
    }
}
