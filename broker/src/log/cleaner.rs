//! Compaction: in closed segments, keep only the latest record per key and drop old tombstones.
//! Transaction markers are kept, records of aborted transactions dropped, and nothing at or after the last stable
//! offset is touched (an open transaction's records may yet be aborted).
//!
//! Closed segments are immutable, so the heavy work (decoding, building the key map, writing the cleaned file)
//! happens without the append lock; only the final swap of each segment takes it, and produce and fetch go on.
//! Readers that hold the old segment's file keep reading its inode after the rename.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions};

use super::batch::{self, BatchHeader};
use super::checkpoint;
use super::error::LogError;
use super::index::SegmentIndex;
use super::partition::PartitionLog;
use super::records;
use super::segment::{self, read_batch_at, read_header_at, segment_path};
use super::txn_index::AbortedTxn;

/// What a compaction run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactStats {
    /// Segments rewritten.
    pub segments_cleaned: usize,
    /// Records kept in the rewritten segments.
    pub records_kept: u64,
    /// Records removed (superseded values and expired tombstones).
    pub records_removed: u64,
}

/// What the previous run saw, so a run with nothing new to do costs nothing.
#[derive(Debug, Default)]
pub(crate) struct CleanerMemo {
    /// End offset of the range the last run cleaned.
    cleaned_end: i64,
    /// When the next kept tombstone becomes old enough to drop (`i64::MAX` if none).
    next_tombstone_expiry: i64,
}

/// A closed segment chosen for cleaning.
struct Cleanable {
    base_offset: i64,
    file: Arc<File>,
    size: u64,
    path: PathBuf,
}

impl PartitionLog {
    /// Compacts, if `cleanup.policy` includes compact: every closed segment whose newest record is at least
    /// `min.compaction.lag.ms` old is rewritten keeping only the latest record per key (offsets preserved) and
    /// dropping tombstones older than `delete.retention.ms`.
    pub fn compact(&self, now_ms: i64) -> Result<CompactStats, LogError> {
        let mut memo = self.maintenance.lock();
        let (config, cleanable, aborted) = {
            let state = self.lock_state();
            let config = state.config.clone();
            if !config.cleanup_compact {
                return Ok(CompactStats::default());
            }
            let lag_cutoff = now_ms.saturating_sub(config.min_compaction_lag_ms);
            // Records of open transactions may still be aborted: clean only below the last stable offset.
            let stable = state.last_stable_offset().min(self.high_watermark_of(&state));
            let closed = &state.segments[..state.segments.len() - 1];
            let cleanable: Vec<Cleanable> = closed
                .iter()
                .take_while(|s| s.index.max_timestamp <= lag_cutoff && s.next_offset <= stable)
                .map(|s| Cleanable {
                    base_offset: s.base_offset,
                    file: s.file.clone(),
                    size: s.size,
                    path: s.log_path.clone(),
                })
                .collect();
            let end = state.segments.get(cleanable.len()).map_or(0, |s| s.base_offset);
            if cleanable.is_empty() || (end == memo.cleaned_end && now_ms < memo.next_tombstone_expiry) {
                return Ok(CompactStats::default());
            }
            memo.cleaned_end = end;
            let aborted: Vec<AbortedTxn> = state.segments.iter().flat_map(|s| s.aborted.iter().copied()).collect();
            (config, cleanable, aborted)
        };
        // Records of aborted transactions never count as a key's latest value, so they go and never shadow a
        // committed one.
        let is_aborted = |h: &BatchHeader, offset: i64| {
            h.is_transactional()
                && aborted.iter().any(|t| t.producer_id == h.producer_id && (t.first_offset..=t.last_offset).contains(&offset))
        };
        let tombstone_cutoff = now_ms.saturating_sub(config.delete_retention_ms);

        // Pass 1: the latest offset of every key in the cleanable range.
        let mut latest: HashMap<Bytes, i64> = HashMap::new();
        for c in &cleanable {
            for_each_batch(c, |h, _, records| {
                if !h.is_control() {
                    for r in records.iter().filter(|r| !is_aborted(h, r.offset)) {
                        if let Some(k) = &r.key {
                            latest.insert(k.clone(), r.offset);
                        }
                    }
                }
                Ok(())
            })?;
        }

        // Pass 2: rewrite each segment, then swap it in.
        let mut stats = CompactStats::default();
        let mut next_expiry = i64::MAX;
        for c in &cleanable {
            let cleaned_path = segment_path(&self.dir, c.base_offset, "log.cleaned");
            let mut out = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&cleaned_path)?;
            let mut changed = false;
            for_each_batch(c, |h, bytes, records| {
                if h.is_control() {
                    out.write_all(bytes)?;
                    return Ok(());
                }
                let keep: Vec<Record> = records
                    .into_iter()
                    .filter(|r| {
                        let is_latest = r.key.as_ref().and_then(|k| latest.get(k)) == Some(&r.offset);
                        let expired_tombstone = r.value.is_none() && r.timestamp < tombstone_cutoff;
                        if is_latest && r.value.is_none() && !expired_tombstone {
                            next_expiry = next_expiry.min(r.timestamp.saturating_add(config.delete_retention_ms));
                        }
                        is_latest && !expired_tombstone
                    })
                    .collect();
                let removed = h.record_count.max(0) as u64 - keep.len() as u64;
                stats.records_kept += keep.len() as u64;
                stats.records_removed += removed;
                if removed == 0 {
                    out.write_all(bytes)?;
                } else if !keep.is_empty() {
                    changed = true;
                    out.write_all(&reencode(h, &keep).map_err(|message| LogError::Decode {
                        path: c.path.clone(),
                        position: 0,
                        message,
                    })?)?;
                } else {
                    changed = true;
                }
                Ok(())
            })?;
            if !changed {
                drop(out);
                segment::remove_if_exists(&cleaned_path)?;
                continue;
            }
            out.sync_all()?;
            self.swap_in(c, out, &cleaned_path)?;
            stats.segments_cleaned += 1;
        }
        memo.next_tombstone_expiry = next_expiry;
        if stats.segments_cleaned > 0 {
            tracing::info!(
                "compacted {} segments of {}: kept {} records, removed {}",
                stats.segments_cleaned,
                self.dir.display(),
                stats.records_kept,
                stats.records_removed
            );
        }
        Ok(stats)
    }

    /// Replaces segment `c` with the cleaned file: indexes are built first (from the new file, without the lock),
    /// then, under the lock, old index files go, the cleaned file is renamed over the log, the segment points at
    /// it. A crash at any point leaves a log file whose indexes are either valid or missing (and then rebuilt).
    fn swap_in(&self, c: &Cleanable, cleaned: File, cleaned_path: &std::path::Path) -> Result<(), LogError> {
        let interval = self.lock_state().config.index_interval_bytes;
        let mut index = SegmentIndex::new();
        let (size, cut) = segment::scan(&cleaned, |h, pos| {
            let rel = (h.base_offset - c.base_offset).clamp(0, i64::from(u32::MAX)) as u32;
            index.on_batch(rel, pos as u32, h.size() as u64, h.max_timestamp, interval);
        })?;
        if let Some(cut) = cut {
            return Err(LogError::File {
                path: cleaned_path.to_path_buf(),
                message: format!(
                    "the cleaner wrote an invalid batch at position {} ({}); this is a bug",
                    cut.position, cut.reason
                ),
            });
        }
        index.seal();
        {
            let mut state = self.lock_state();
            let Some(s) = state.segments.iter_mut().find(|s| s.base_offset == c.base_offset) else {
                segment::remove_if_exists(cleaned_path)?;
                return Ok(());
            };
            for ext in ["index", "timeindex"] {
                segment::remove_if_exists(&segment_path(&self.dir, c.base_offset, ext))?;
            }
            std::fs::rename(cleaned_path, &s.log_path)?;
            s.file = Arc::new(cleaned);
            s.size = size;
            // Keep the largest timestamp: retention must not see the segment as older than its data was.
            let max_ts = s.index.max_timestamp;
            s.index = index;
            s.index.max_timestamp = s.index.max_timestamp.max(max_ts);
            s.write_index_files()?;
        }
        checkpoint::sync_dir(&self.dir)?;
        Ok(())
    }
}

/// Calls `f` with every batch of a cleanable segment: its header, its bytes and its decoded records.
fn for_each_batch(
    c: &Cleanable,
    mut f: impl FnMut(&BatchHeader, &[u8], Vec<Record>) -> Result<(), LogError>,
) -> Result<(), LogError> {
    let mut pos = 0u64;
    while pos < c.size {
        let decode_err = |message: String| LogError::Decode { path: c.path.clone(), position: pos, message };
        let h = read_header_at(&c.file, pos)?.ok_or_else(|| decode_err("no valid batch header".into()))?;
        let bytes = read_batch_at(&c.file, pos, &h)?;
        let records = if h.is_control() { Vec::new() } else { records::decode(&bytes, &h).map_err(decode_err)? };
        f(&h, &bytes, records)?;
        pos += h.size() as u64;
    }
    Ok(())
}

/// Encodes the kept records of a batch as one batch with the original compression and offsets, then restores the
/// header fields the encoder does not carry over.
fn reencode(h: &BatchHeader, keep: &[Record]) -> Result<Vec<u8>, String> {
    let compression = match h.compression() {
        1 => Compression::Gzip,
        2 => Compression::Snappy,
        3 => Compression::Lz4,
        4 => Compression::Zstd,
        _ => Compression::None,
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, keep, &RecordEncodeOptions { version: 2, compression })
        .map_err(|e| format!("cannot re-encode kept records: {e}"))?;
    let mut out = buf.to_vec();
    let base_sequence = match keep.first() {
        Some(r) if h.base_sequence >= 0 => r.sequence,
        _ => -1,
    };
    batch::patch_header(&mut out, h.is_log_append_time().then_some(h.max_timestamp), base_sequence);
    batch::check_batch(&out).map_err(|e| format!("re-encoded batch does not validate: {e}"))?;
    Ok(out)
}
