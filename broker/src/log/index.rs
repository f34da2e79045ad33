//! The sparse offset index and time index of one segment: kept in memory, stored beside the segment's log file.
//!
//! Both are small (one entry per `index.interval.bytes` of log), so lookups are binary searches over a `Vec`.
//! The active segment's indexes live only in memory and are rebuilt by the scan at open; they are written when the
//! segment is rolled or the log closed. Formats are documented in FORMAT.md.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Bytes of one offset index entry: relative offset u32 BE, file position u32 BE.
pub(crate) const OFFSET_ENTRY: usize = 8;
/// Bytes of one time index entry: timestamp i64 BE, relative offset u32 BE.
pub(crate) const TIME_ENTRY: usize = 12;

/// Both indexes of one segment plus the bookkeeping that decides when to add entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct SegmentIndex {
    /// (relative base offset of a batch, position of that batch), both strictly increasing.
    pub(crate) offsets: Vec<(u32, u32)>,
    /// (largest timestamp of the segment up to and including a batch, that batch's relative base offset);
    /// timestamps strictly increasing.
    pub(crate) times: Vec<(i64, u32)>,
    /// Log bytes appended since the last offset index entry.
    bytes_since_entry: u64,
    /// Largest record timestamp in the segment, -1 when none is known.
    pub(crate) max_timestamp: i64,
    /// Relative base offset of the last batch, to seal the time index with.
    last_batch_rel: u32,
}

impl SegmentIndex {
    /// An empty index for a new segment.
    pub(crate) fn new() -> Self {
        Self { max_timestamp: -1, ..Self::default() }
    }

    /// Records one batch appended at `position`: adds index entries once `interval` bytes passed since the last.
    pub(crate) fn on_batch(&mut self, rel: u32, position: u32, size: u64, max_timestamp: i64, interval: u32) {
        self.max_timestamp = self.max_timestamp.max(max_timestamp);
        self.last_batch_rel = rel;
        if self.bytes_since_entry >= u64::from(interval) {
            self.offsets.push((rel, position));
            self.bytes_since_entry = 0;
            self.push_time(rel);
        }
        self.bytes_since_entry += size;
    }

    fn push_time(&mut self, rel: u32) {
        if self.max_timestamp >= 0 && self.times.last().is_none_or(|&(ts, _)| self.max_timestamp > ts) {
            self.times.push((self.max_timestamp, rel));
        }
    }

    /// Adds the final time index entry so the segment's largest timestamp is on disk once it is closed.
    pub(crate) fn seal(&mut self) {
        self.push_time(self.last_batch_rel);
    }

    /// The segment is cut at `position`, where the batch of relative offset `rel` started: drops the entries of
    /// that batch and later ones. Returns the position from which the caller passes every kept batch to
    /// [`SegmentIndex::on_kept_batch`] (the last kept indexed batch, or 0), to restore the counters.
    pub(crate) fn cut(&mut self, position: u64, rel: u32) -> u64 {
        self.offsets.retain(|&(_, p)| u64::from(p) < position);
        self.times.retain(|&(_, r)| r < rel);
        // Up to the last kept indexed batch the largest timestamp is the last kept time entry's: an entry is added
        // with every offset entry whenever the maximum grew.
        self.max_timestamp = self.times.last().map_or(-1, |&(ts, _)| ts);
        self.bytes_since_entry = 0;
        self.last_batch_rel = 0;
        self.offsets.last().map_or(0, |&(_, p)| u64::from(p))
    }

    /// A batch kept by [`SegmentIndex::cut`], from the position it returned on, in order.
    pub(crate) fn on_kept_batch(&mut self, rel: u32, size: u64, max_timestamp: i64) {
        self.max_timestamp = self.max_timestamp.max(max_timestamp);
        self.last_batch_rel = rel;
        self.bytes_since_entry += size;
    }

    /// Position of the last indexed batch starting at or before relative offset `rel` (0 if none).
    pub(crate) fn position_for(&self, rel: u32) -> u32 {
        let i = self.offsets.partition_point(|&(r, _)| r <= rel);
        if i == 0 {
            0
        } else {
            self.offsets[i - 1].1
        }
    }

    /// Relative offset from which to scan for the first record with timestamp >= `ts`: every batch before the
    /// returned one holds only smaller timestamps.
    pub(crate) fn scan_start_for_timestamp(&self, ts: i64) -> u32 {
        let i = self.times.partition_point(|&(t, _)| t < ts);
        if i == 0 {
            0
        } else {
            self.times[i - 1].1
        }
    }

    /// Writes `<base>.index` and `<base>.timeindex` atomically (tmp file, fsync, rename).
    pub(crate) fn write_files(&self, index_path: &Path, time_path: &Path) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(self.offsets.len() * OFFSET_ENTRY);
        for &(rel, pos) in &self.offsets {
            buf.extend_from_slice(&rel.to_be_bytes());
            buf.extend_from_slice(&pos.to_be_bytes());
        }
        write_atomic(index_path, &buf)?;
        let mut buf = Vec::with_capacity(self.times.len() * TIME_ENTRY);
        for &(ts, rel) in &self.times {
            buf.extend_from_slice(&ts.to_be_bytes());
            buf.extend_from_slice(&rel.to_be_bytes());
        }
        write_atomic(time_path, &buf)
    }

    /// Loads index files of a closed segment and checks them against the segment's `log_size` and relative
    /// offset span. The caller still checks that the last entry points at a batch with the right base offset.
    pub(crate) fn load(index_bytes: &[u8], time_bytes: &[u8], log_size: u64, rel_span: u64) -> Result<Self, String> {
        if index_bytes.len() % OFFSET_ENTRY != 0 {
            return Err(format!("offset index size {} is not a multiple of {OFFSET_ENTRY}", index_bytes.len()));
        }
        if time_bytes.len() % TIME_ENTRY != 0 {
            return Err(format!("time index size {} is not a multiple of {TIME_ENTRY}", time_bytes.len()));
        }
        let mut index = Self::new();
        for chunk in index_bytes.chunks_exact(OFFSET_ENTRY) {
            let rel = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let pos = u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
            if let Some(&(last_rel, last_pos)) = index.offsets.last() {
                if rel <= last_rel || pos <= last_pos {
                    return Err(format!("offset index entry ({rel}, {pos}) does not follow ({last_rel}, {last_pos})"));
                }
            }
            if u64::from(pos) >= log_size || u64::from(rel) >= rel_span.max(1) {
                return Err(format!("offset index entry ({rel}, {pos}) points outside the segment"));
            }
            index.offsets.push((rel, pos));
        }
        for chunk in time_bytes.chunks_exact(TIME_ENTRY) {
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&chunk[..8]);
            let ts = i64::from_be_bytes(ts);
            let rel = u32::from_be_bytes([chunk[8], chunk[9], chunk[10], chunk[11]]);
            if let Some(&(last_ts, last_rel)) = index.times.last() {
                if ts <= last_ts || rel < last_rel {
                    return Err(format!("time index entry ({ts}, {rel}) does not follow ({last_ts}, {last_rel})"));
                }
            }
            if u64::from(rel) >= rel_span.max(1) {
                return Err(format!("time index entry ({ts}, {rel}) points outside the segment"));
            }
            index.times.push((ts, rel));
        }
        if let Some(&(ts, rel)) = index.times.last() {
            index.max_timestamp = ts;
            index.last_batch_rel = rel;
        }
        Ok(index)
    }
}

/// Replaces `path` with `data` so that a crash leaves either the old or the new content: tmp file, fsync, rename.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut file = File::create(&tmp)?;
    file.write_all(data)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_follow_the_interval_and_lookups_floor() {
        let mut ix = SegmentIndex::new();
        // Batches of 100 bytes, 10 records each, interval 250: an entry once 250 bytes passed since the last.
        for b in 0..10u32 {
            ix.on_batch(b * 10, b * 100, 100, 1000 + i64::from(b), 250);
        }
        assert_eq!(ix.offsets, vec![(30, 300), (60, 600), (90, 900)]);
        assert_eq!(ix.position_for(0), 0);
        assert_eq!(ix.position_for(29), 0);
        assert_eq!(ix.position_for(30), 300);
        assert_eq!(ix.position_for(59), 300);
        assert_eq!(ix.position_for(75), 600);
        assert_eq!(ix.max_timestamp, 1009);
        ix.seal();
        assert_eq!(ix.times.last(), Some(&(1009, 90)));
        assert_eq!(ix.scan_start_for_timestamp(1000), 0);
        assert_eq!(ix.scan_start_for_timestamp(1006), 30);
        assert_eq!(ix.scan_start_for_timestamp(1008), 60);
    }

    #[test]
    fn load_round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let (ip, tp) = (dir.path().join("a.index"), dir.path().join("a.timeindex"));
        let mut ix = SegmentIndex::new();
        for b in 0..10u32 {
            ix.on_batch(b * 10, b * 100, 100, 1000 + i64::from(b), 0);
        }
        ix.seal();
        ix.write_files(&ip, &tp).unwrap();
        let (ib, tb) = (std::fs::read(&ip).unwrap(), std::fs::read(&tp).unwrap());
        let loaded = SegmentIndex::load(&ib, &tb, 1000, 100).unwrap();
        assert_eq!(loaded.offsets, ix.offsets);
        assert_eq!(loaded.times, ix.times);
        assert_eq!(loaded.max_timestamp, 1009);
        assert!(SegmentIndex::load(&ib[..7], &tb, 1000, 100).is_err());
        assert!(SegmentIndex::load(&ib, &tb, 500, 100).is_err());
        let mut swapped = ib.clone();
        swapped[..8].copy_from_slice(&ib[8..16]);
        assert!(SegmentIndex::load(&swapped, &tb, 1000, 100).is_err());
    }
}
