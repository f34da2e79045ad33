//! ListOffsets lookups by timestamp: segment maxima and the time index narrow the search, then the candidate
//! batch is decoded (decompressing: this is not the hot path).

use std::fs::File;
use std::sync::Arc;

use super::batch::BatchHeader;
use super::error::LogError;
use super::partition::PartitionLog;
use super::records;
use super::segment::{read_batch_at, read_header_at};

/// A segment range to search outside the lock.
struct Candidate {
    file: Arc<File>,
    path: std::path::PathBuf,
    start: u64,
    size: u64,
}

impl PartitionLog {
    /// The first offset whose record timestamp is >= `ts`, with that record's timestamp; `None` if there is none.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        let (candidates, log_start) = {
            let state = self.lock_state();
            let log_start = state.log_start;
            let candidates: Vec<Candidate> = state
                .segments
                .iter()
                .filter(|s| s.index.max_timestamp >= ts && s.next_offset > log_start && s.size > 0)
                .map(|s| {
                    let by_time = s.index.position_for(s.index.scan_start_for_timestamp(ts));
                    let by_start = if log_start > s.base_offset { s.index.position_for(s.rel(log_start)) } else { 0 };
                    Candidate {
                        file: s.file.clone(),
                        path: s.log_path.clone(),
                        start: u64::from(by_time.max(by_start)),
                        size: s.size,
                    }
                })
                .collect();
            (candidates, log_start)
        };
        for c in candidates {
            let found = search(
                &c,
                |h| h.max_timestamp >= ts && h.last_offset() >= log_start,
                |offset, t| offset >= log_start && t >= ts,
            )?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// ListOffsets MAX_TIMESTAMP: the offset and timestamp of the (first) record with the largest timestamp;
    /// `None` when the log holds no record with a timestamp.
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        let (candidate, max, log_start) = {
            let state = self.lock_state();
            let log_start = state.log_start;
            let mut best: Option<&super::segment::Segment> = None;
            for s in state.segments.iter().filter(|s| s.next_offset > log_start && s.size > 0) {
                if best.is_none_or(|b| s.index.max_timestamp > b.index.max_timestamp) {
                    best = Some(s);
                }
            }
            let Some(s) = best else { return Ok(None) };
            if s.index.max_timestamp < 0 {
                return Ok(None);
            }
            let start = if log_start > s.base_offset { s.index.position_for(s.rel(log_start)) } else { 0 };
            let c = Candidate { file: s.file.clone(), path: s.log_path.clone(), start: u64::from(start), size: s.size };
            (c, s.index.max_timestamp, log_start)
        };
        search(
            &candidate,
            |h| h.max_timestamp == max && h.last_offset() >= log_start,
            |offset, t| offset >= log_start && t == max,
        )
    }
}

/// Scans the batches of one segment range; decodes those `batch_matches` accepts and returns the first record
/// `record_matches` accepts, as (offset, timestamp).
fn search(
    c: &Candidate,
    batch_matches: impl Fn(&BatchHeader) -> bool,
    record_matches: impl Fn(i64, i64) -> bool,
) -> Result<Option<(i64, i64)>, LogError> {
    let mut pos = c.start;
    while pos < c.size {
        let Some(h) = read_header_at(&c.file, pos)? else {
            return Err(LogError::Decode {
                path: c.path.clone(),
                position: pos,
                message: "no valid batch header below the segment's size".into(),
            });
        };
        if batch_matches(&h) && !h.is_control() {
            let bytes = read_batch_at(&c.file, pos, &h)?;
            let records = records::decode(&bytes, &h).map_err(|message| LogError::Decode {
                path: c.path.clone(),
                position: pos,
                message,
            })?;
            if let Some(r) = records.iter().find(|r| record_matches(r.offset, r.timestamp)) {
                return Ok(Some((r.offset, r.timestamp)));
            }
        }
        pos += h.size() as u64;
    }
    Ok(None)
}
