//! One segment: a log file of record batches named by its base offset, plus its in-memory indexes.
//!
//! Opening a segment is where recovery happens: closed segments trust their index files after checking them,
//! the active segment is scanned batch by batch and cut at the first torn or corrupt batch, unless the broker
//! shut down cleanly, when its index files are checked and trusted as a closed segment's are.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::batch::{self, BatchHeader, HEADER_LEN};
use super::error::LogError;
use super::index::SegmentIndex;
use super::txn_index::AbortedTxn;

/// File name of a segment's log, index or time index: the base offset as 20 zero-padded digits.
pub(crate) fn segment_path(dir: &Path, base_offset: i64, ext: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{ext}"))
}

/// One segment of a partition log.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) base_offset: i64,
    /// Shared with readers, who keep reading this inode even after compaction swaps or retention deletes it.
    pub(crate) file: Arc<File>,
    /// Bytes of whole batches; appends go here.
    pub(crate) size: u64,
    /// One past the last offset this segment may hold.
    pub(crate) next_offset: i64,
    pub(crate) index: SegmentIndex,
    /// When the segment received its first batch (the producer's timestamp after recovery), for `segment.ms`.
    pub(crate) first_append_ms: Option<i64>,
    /// Written since the last fsync.
    pub(crate) dirty: bool,
    pub(crate) log_path: PathBuf,
    /// Transactions whose ABORT marker lies in this segment, in marker order (the `.txnindex` file).
    pub(crate) aborted: Vec<AbortedTxn>,
}

/// Leader epoch changes seen in a segment, as (epoch, base offset of its first batch there).
pub(crate) type EpochStarts = Vec<(i32, i64)>;

/// A header read from a file, with where it starts.
pub(crate) fn read_header_at(file: &File, position: u64) -> std::io::Result<Option<BatchHeader>> {
    let mut buf = [0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        let n = file.read_at(&mut buf[filled..], position + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    if filled < HEADER_LEN {
        return Ok(None);
    }
    Ok(batch::parse_header(&buf).ok())
}

/// Reads the whole batch at `position` whose header is `header`.
pub(crate) fn read_batch_at(file: &File, position: u64, header: &BatchHeader) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; header.size()];
    file.read_exact_at(&mut buf, position)?;
    Ok(buf)
}

/// Where a scan stopped early, and why.
pub(crate) struct Cut {
    pub(crate) position: u64,
    pub(crate) reason: String,
}

/// Walks the batches of `file` from the start, checking header and CRC, calling `each` for every valid batch.
/// Returns the length of the valid prefix and, if the scan stopped before the end, where and why.
pub(crate) fn scan(file: &File, mut each: impl FnMut(&BatchHeader, u64)) -> std::io::Result<(u64, Option<Cut>)> {
    let len = file.metadata()?.len();
    let mut pos = 0u64;
    let mut buf = Vec::new();
    while pos < len {
        let header = match read_header_at(file, pos)? {
            Some(h) => h,
            None => {
                let reason = if len - pos < HEADER_LEN as u64 {
                    format!("{} trailing bytes cannot hold a batch header", len - pos)
                } else {
                    "malformed batch header".to_string()
                };
                return Ok((pos, Some(Cut { position: pos, reason })));
            }
        };
        let size = header.size() as u64;
        if size > len - pos {
            let reason = format!("batch of {size} bytes but only {} bytes remain", len - pos);
            return Ok((pos, Some(Cut { position: pos, reason })));
        }
        buf.resize(size as usize, 0);
        file.read_exact_at(&mut buf, pos)?;
        if let Err(e) = batch::check_batch(&buf) {
            return Ok((pos, Some(Cut { position: pos, reason: e.to_string() })));
        }
        each(&header, pos);
        pos += size;
    }
    Ok((pos, None))
}

impl Segment {
    /// Creates an empty segment file (replacing a leftover empty one).
    pub(crate) fn create(dir: &Path, base_offset: i64) -> Result<Self, LogError> {
        let log_path = segment_path(dir, base_offset, "log");
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&log_path)?;
        // Stale index files of an older incarnation must not be trusted later.
        for ext in ["index", "timeindex", "txnindex"] {
            remove_if_exists(&segment_path(dir, base_offset, ext))?;
        }
        Ok(Self {
            base_offset,
            file: Arc::new(file),
            size: 0,
            next_offset: base_offset,
            index: SegmentIndex::new(),
            first_append_ms: None,
            dirty: true,
            log_path,
            aborted: Vec::new(),
        })
    }

    fn open_file(dir: &Path, base_offset: i64) -> Result<(File, PathBuf), LogError> {
        let log_path = segment_path(dir, base_offset, "log");
        let file = OpenOptions::new().read(true).write(true).open(&log_path)?;
        Ok((file, log_path))
    }

    /// Opens a closed segment that ends before `next_offset`: loads and checks its index files, rebuilding them
    /// from the log when missing or damaged.
    pub(crate) fn open_closed(dir: &Path, base_offset: i64, next_offset: i64, interval: u32) -> Result<Self, LogError> {
        let (file, log_path) = Self::open_file(dir, base_offset)?;
        let size = file.metadata()?.len();
        let index_path = segment_path(dir, base_offset, "index");
        let time_path = segment_path(dir, base_offset, "timeindex");
        let loaded = match (std::fs::read(&index_path), std::fs::read(&time_path)) {
            (Ok(ib), Ok(tb)) => {
                let span = (next_offset - base_offset).max(0) as u64;
                SegmentIndex::load(&ib, &tb, size, span)
                    .and_then(|ix| check_last_entry(&file, base_offset, &ix).map(|()| ix))
            }
            (Err(e), _) | (_, Err(e)) => Err(format!("cannot read index: {e}")),
        };
        let mut segment = Self {
            base_offset,
            file: Arc::new(file),
            size,
            next_offset,
            index: SegmentIndex::new(),
            first_append_ms: None,
            dirty: false,
            log_path,
            aborted: Vec::new(),
        };
        match loaded {
            Ok(ix) => segment.index = ix,
            Err(reason) => {
                tracing::warn!("rebuilding index of {} from the log: {reason}", segment.log_path.display());
                segment.rebuild(interval)?;
                segment.index.seal();
                segment.index.write_files(&index_path, &time_path)?;
            }
        }
        Ok(segment)
    }

    /// Opens the active (last) segment: scans every batch, truncates a torn or corrupt tail, rebuilds indexes.
    /// Also returns the leader epoch changes the scan saw, as (epoch, base offset of its first batch here).
    pub(crate) fn open_active(
        dir: &Path,
        base_offset: i64,
        interval: u32,
    ) -> Result<(Self, Vec<(i32, i64)>), LogError> {
        let (file, log_path) = Self::open_file(dir, base_offset)?;
        let mut segment = Self {
            base_offset,
            file: Arc::new(file),
            size: 0,
            next_offset: base_offset,
            index: SegmentIndex::new(),
            first_append_ms: None,
            dirty: false,
            log_path,
            aborted: Vec::new(),
        };
        let epochs = segment.rebuild(interval)?;
        Ok((segment, epochs))
    }

    /// Opens the active segment after a clean shutdown without scanning it: the index files written by `close`
    /// are loaded and checked as a closed segment's are, and only the batch headers after the last index entry
    /// (at most `index.interval.bytes` of log, give or take a batch) are read to find the segment's end, so a
    /// restart costs the same whatever the active segment holds. Returns `None` when anything does not check
    /// out (files missing, an index not matching the log, a header not ending exactly at the file's end): the
    /// caller then scans, as after a crash.
    pub(crate) fn open_active_trusted(
        dir: &Path,
        base_offset: i64,
    ) -> Result<Option<(Self, EpochStarts)>, LogError> {
        let (file, log_path) = Self::open_file(dir, base_offset)?;
        let size = file.metadata()?.len();
        if size == 0 || size > u64::from(u32::MAX) {
            // Empty: nothing to scan. Past u32 positions: the index cannot describe it; the scan decides.
            return Ok(None);
        }
        let (Ok(ib), Ok(tb)) = (
            std::fs::read(segment_path(dir, base_offset, "index")),
            std::fs::read(segment_path(dir, base_offset, "timeindex")),
        ) else {
            return Ok(None);
        };
        // The span is unknown until the end is found: check relative offsets against it below.
        let Ok(mut index) = SegmentIndex::load(&ib, &tb, size, u64::from(u32::MAX) + 1) else { return Ok(None) };
        if check_last_entry(&file, base_offset, &index).is_err() {
            return Ok(None);
        }
        let from = index.offsets.last().map_or(0, |&(_, p)| u64::from(p));
        let mut tail = Vec::new();
        let mut pos = from;
        while pos < size {
            let Some(h) = read_header_at(&file, pos)? else { return Ok(None) };
            if h.base_offset < base_offset || pos + h.size() as u64 > size {
                return Ok(None);
            }
            tail.push((pos, h));
            pos += h.size() as u64;
        }
        let Some(&(_, last)) = tail.last() else { return Ok(None) };
        let next_offset = last.next_offset();
        let span = next_offset - base_offset;
        if index.times.last().is_some_and(|&(_, rel)| i64::from(rel) >= span) || span > i64::from(u32::MAX) {
            return Ok(None);
        }
        let rel = |offset: i64| (offset - base_offset).clamp(0, i64::from(u32::MAX)) as u32;
        // Restore the counters that decide where the next index entry goes, as a truncation does.
        index.cut(size, rel(next_offset));
        for (_, h) in &tail {
            index.on_kept_batch(rel(h.base_offset), h.size() as u64, h.max_timestamp);
        }
        let first_append_ms = read_header_at(&file, 0)?.map(|h| h.max_timestamp);
        let segment = Self {
            base_offset,
            file: Arc::new(file),
            size,
            next_offset,
            index,
            first_append_ms,
            dirty: false,
            log_path,
            aborted: Vec::new(),
        };
        let epochs = super::epoch::segment_epochs(&segment)?;
        Ok(Some((segment, epochs)))
    }

    /// Rebuilds size, next offset and indexes by scanning; truncates the file at the first bad batch. Returns the
    /// leader epoch changes seen, as (epoch, base offset).
    fn rebuild(&mut self, interval: u32) -> Result<Vec<(i32, i64)>, LogError> {
        let mut index = SegmentIndex::new();
        let mut next = self.base_offset;
        let mut first_ts = None;
        let base = self.base_offset;
        let mut epochs: Vec<(i32, i64)> = Vec::new();
        let (valid, cut) = scan(&self.file, |h, pos| {
            let rel = (h.base_offset - base).clamp(0, i64::from(u32::MAX)) as u32;
            index.on_batch(rel, pos as u32, h.size() as u64, h.max_timestamp, interval);
            next = next.max(h.next_offset());
            first_ts.get_or_insert(h.max_timestamp);
            if epochs.last().is_none_or(|&(e, _)| e != h.partition_leader_epoch) {
                epochs.push((h.partition_leader_epoch, h.base_offset));
            }
        })?;
        if let Some(cut) = cut {
            tracing::warn!(
                "truncating torn tail of {} at offset {next} (position {}): {}",
                self.log_path.display(),
                cut.position,
                cut.reason
            );
            self.file.set_len(valid)?;
            self.file.sync_all()?;
        }
        self.size = valid;
        self.next_offset = self.next_offset.max(next);
        self.index = index;
        self.first_append_ms = first_ts;
        Ok(epochs)
    }

    /// Removes every batch whose last offset is at or after `offset` (at least `base_offset`): the file is cut at
    /// that batch's position and fsynced, the indexes and aborted transactions lose what lay beyond. The segment
    /// then ends at `offset` or, when a batch straddled it, at that batch's base offset (whole batches only).
    /// Returns the new next offset.
    pub(crate) fn truncate_from(&mut self, offset: i64) -> Result<i64, LogError> {
        let mut pos = u64::from(self.index.position_for(self.rel(offset)));
        let mut cut = (self.size, offset);
        while pos < self.size {
            let Some(h) = read_header_at(&self.file, pos)? else {
                return Err(LogError::Decode {
                    path: self.log_path.clone(),
                    position: pos,
                    message: "no valid batch header below the segment's size".into(),
                });
            };
            if h.last_offset() >= offset {
                cut = (pos, offset.min(h.base_offset));
                break;
            }
            pos += h.size() as u64;
        }
        let (position, next) = cut;
        let mut walk = self.index.cut(position, self.rel(next));
        while walk < position {
            let Some(h) = read_header_at(&self.file, walk)? else { break };
            self.index.on_kept_batch(self.rel(h.base_offset), h.size() as u64, h.max_timestamp);
            walk += h.size() as u64;
        }
        if position < self.size {
            self.file.set_len(position)?;
        }
        // Durable before anything is appended after the cut: the removed batches must not come back.
        self.file.sync_all()?;
        self.size = position;
        self.next_offset = next.max(self.base_offset);
        self.aborted.retain(|t| t.last_offset < self.next_offset);
        if self.size == 0 {
            self.first_append_ms = None;
        }
        Ok(self.next_offset)
    }

    /// Relative offset of `offset` within this segment, saturated into the index's u32.
    pub(crate) fn rel(&self, offset: i64) -> u32 {
        (offset - self.base_offset).clamp(0, i64::from(u32::MAX)) as u32
    }

    /// Writes this segment's index files (on roll and on close).
    pub(crate) fn write_index_files(&mut self) -> std::io::Result<()> {
        self.index.seal();
        let dir = self.log_path.parent().unwrap_or(Path::new("."));
        self.index.write_files(
            &segment_path(dir, self.base_offset, "index"),
            &segment_path(dir, self.base_offset, "timeindex"),
        )
    }

    /// Removes the segment's files; readers holding the `Arc<File>` keep reading the unlinked inode.
    pub(crate) fn delete_files(dir: &Path, base_offset: i64) -> std::io::Result<()> {
        for ext in ["log", "index", "timeindex", "txnindex"] {
            remove_if_exists(&segment_path(dir, base_offset, ext))?;
        }
        Ok(())
    }
}

/// Checks that the last offset index entry points at a batch with the base offset it claims.
fn check_last_entry(file: &File, base_offset: i64, index: &SegmentIndex) -> Result<(), String> {
    let Some(&(rel, pos)) = index.offsets.last() else { return Ok(()) };
    match read_header_at(file, u64::from(pos)) {
        Ok(Some(h)) if h.base_offset == base_offset + i64::from(rel) => Ok(()),
        Ok(Some(h)) => Err(format!(
            "last index entry says offset {} at position {pos} but the batch there starts at {}",
            base_offset + i64::from(rel),
            h.base_offset
        )),
        Ok(None) => Err(format!("last index entry points at position {pos}, where no batch header is")),
        Err(e) => Err(format!("cannot read the batch at position {pos}: {e}")),
    }
}

pub(crate) fn remove_if_exists(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
