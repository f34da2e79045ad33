//! [`PartitionLog`]: one partition's segmented log: open with recovery, append, read, offsets, flush.
//!
//! Concurrency: the append state (segments, offsets) sits behind one `parking_lot::Mutex`, held only for
//! bookkeeping and the single `write` of an append. Reads take the lock just long enough to copy the file handles
//! and positions they need, then read without it. Maintenance (retention, DeleteRecords, compaction) is serialized
//! by a second mutex and takes the append lock only to swap segment lists.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};
use tokio::sync::watch;

use super::batch;
use super::checkpoint;
use super::epoch::{self, EpochCache};
use super::error::{AppendError, LogError, ReadError};
use super::hw_checkpoint::{self, HwCheckpoint};
use super::producer_state::{CompletedTxn, ProducerStates, Staged, Verdict};
use super::records;
use super::segment::{self, Segment};
use super::txn_index::{self, AbortedTxn};
use crate::config::topic::TimestampType;
use crate::config::TopicConfig;

/// What an append did, for the Produce response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset given to the first record.
    pub base_offset: i64,
    /// Offset given to the last record.
    pub last_offset: i64,
    /// The append time stamped on the batches; -1 unless the topic uses LogAppendTime.
    pub log_append_time: i64,
    /// The log start offset after the append.
    pub log_start_offset: i64,
    /// Records appended.
    pub record_count: i64,
}

/// A byte range of a segment file holding whole batches, sent to the client as is (sendfile when possible).
#[derive(Debug, Clone)]
pub struct FileSlice {
    /// The segment file; an `Arc` so the range stays readable even if the segment is deleted or compacted.
    pub file: Arc<File>,
    /// Where the range starts.
    pub position: u64,
    /// Bytes in the range.
    pub len: u32,
}

impl FileSlice {
    /// Reads the range into memory (for connections that cannot use sendfile, and for tests).
    pub fn read_to_bytes(&self) -> std::io::Result<Bytes> {
        let mut buf = vec![0u8; self.len as usize];
        self.file.read_exact_at(&mut buf, self.position)?;
        Ok(Bytes::from(buf))
    }
}

/// What a read found: whole batches, in offset order.
#[derive(Debug, Clone)]
pub struct ReadResult {
    /// At most one slice per segment, contiguous within it.
    pub slices: Vec<FileSlice>,
    /// Sum of the slices' lengths.
    pub total_len: u32,
    /// The log start offset when the read was planned.
    pub log_start_offset: i64,
    /// The high watermark when the read was planned: the log end offset on a single node, what the replica
    /// manager set in cluster mode.
    pub high_watermark: i64,
    /// The last stable offset when the read was planned: the first offset of the earliest open transaction, or
    /// the high watermark when none is open; never above the high watermark.
    pub last_stable_offset: i64,
}

/// Mutable state of a partition log, behind the append lock.
#[derive(Debug)]
pub(crate) struct LogState {
    /// Never empty; the last one is the active segment.
    pub(crate) segments: Vec<Segment>,
    pub(crate) log_start: i64,
    pub(crate) config: TopicConfig,
    /// Records appended since the last fsync, for `flush.messages`.
    pub(crate) unflushed: i64,
    pub(crate) last_flush_ms: i64,
    /// Idempotent and transactional producers of this partition.
    pub(crate) producers: ProducerStates,
    /// Where each leader epoch starts.
    pub(crate) epochs: EpochCache,
    /// Replicated partitions keep the producer state as of the active segment's base (taken at roll, at open, at
    /// truncation) so truncating the active segment replays only part of it.
    pub(crate) keep_tail_snapshot: bool,
    pub(crate) tail_snapshot: Option<(i64, ProducerStates)>,
}

impl LogState {
    pub(crate) fn log_end(&self) -> i64 {
        self.segments.last().map_or(0, |s| s.next_offset)
    }
    /// The first offset of the earliest open transaction, else the log end.
    pub(crate) fn last_stable_offset(&self) -> i64 {
        let end = self.log_end();
        self.producers.first_unstable_offset().map_or(end, |first| first.min(end))
    }
    pub(crate) fn active(&mut self) -> &mut Segment {
        let last = self.segments.len() - 1;
        &mut self.segments[last]
    }
    /// Index of the segment holding `offset` (the last one whose base is <= offset).
    pub(crate) fn segment_index_for(&self, offset: i64) -> usize {
        self.segments.partition_point(|s| s.base_offset <= offset).saturating_sub(1)
    }
    /// Seals the active segment and starts a new one at the log end.
    pub(crate) fn roll(&mut self, dir: &Path) -> Result<(), LogError> {
        let end = self.log_end();
        let active = self.active();
        active.write_index_files()?;
        tracing::debug!("rolled segment {} at offset {end}", active.log_path.display());
        // Epochs of closed segments are never derived again at open: they must be on disk before the roll.
        self.epochs.write_if_needed(dir, true)?;
        if self.keep_tail_snapshot {
            self.tail_snapshot = Some((end, self.producers.clone()));
        }
        let fresh = Segment::create(dir, end)?;
        self.segments.push(fresh);
        Ok(())
    }
    /// Files written since the last fsync; clears their dirty marks.
    pub(crate) fn take_dirty(&mut self) -> Vec<Arc<File>> {
        self.unflushed = 0;
        self.segments
            .iter_mut()
            .filter_map(|s| std::mem::replace(&mut s.dirty, false).then(|| s.file.clone()))
            .collect()
    }
}

/// One partition's log: a directory of segments. `Send + Sync`; share it with an `Arc`.
#[derive(Debug)]
pub struct PartitionLog {
    pub(crate) dir: PathBuf,
    pub(crate) state: Mutex<LogState>,
    /// Serializes retention, DeleteRecords and compaction of this partition.
    pub(crate) maintenance: Mutex<super::cleaner::CleanerMemo>,
    pub(crate) end_tx: watch::Sender<i64>,
    leader_epoch: AtomicI32,
    /// Cluster mode: the high watermark is what the replica manager set, not the log end.
    pub(crate) replicated: AtomicBool,
    /// The high watermark in replicated mode (ignored otherwise).
    pub(crate) hw_tx: watch::Sender<i64>,
    /// The `high-watermark-checkpoint` file: what it held at open and what it holds now.
    pub(crate) hw_checkpoint: Mutex<HwCheckpoint>,
    /// The log end offset when the partition was opened: `close` has nothing to write while it is unchanged.
    end_at_open: i64,
    /// A truncation rewrote the log since open (the log end may be back at `end_at_open` with other batches), or
    /// the open scanned a non-empty active segment: either way the files on disk do not describe the log, so
    /// `close` must write them even when nothing was appended.
    pub(crate) rewritten: AtomicBool,
}

impl PartitionLog {
    /// Opens (creating if missing) the partition directory `dir` and recovers it: closed segments are loaded with
    /// their checked indexes, the active segment is scanned and its torn tail cut, the start offset checkpoint is
    /// read.
    pub fn open(dir: &Path, config: TopicConfig) -> Result<Self, LogError> {
        Self::open_with(dir, config, false)
    }

    /// [`PartitionLog::open`], trusting the active segment's index files when `clean_shutdown` says the broker's
    /// last stop closed every log (the caller's marker; see FORMAT.md, "Clean shutdown"). Without it, or when the
    /// files do not check out, the active segment is scanned.
    pub fn open_with(dir: &Path, config: TopicConfig, clean_shutdown: bool) -> Result<Self, LogError> {
        std::fs::create_dir_all(dir)?;
        let mut bases = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".tmp") || name.ends_with(".cleaned") {
                // A write that never completed (checkpoint, index or compaction output): the original is intact.
                tracing::info!("removing unfinished file {}", entry.path().display());
                segment::remove_if_exists(&entry.path())?;
                continue;
            }
            if let Some(stem) = name.strip_suffix(".log") {
                if stem.len() == 20 {
                    if let Ok(base) = stem.parse::<i64>() {
                        bases.push(base);
                    }
                }
            }
        }
        bases.sort_unstable();
        let checkpoint = checkpoint::read(dir)?;
        let interval = config.index_interval_bytes;
        let mut segments = Vec::with_capacity(bases.len().max(1));
        let mut active_epochs = Vec::new();
        let mut scanned = false;
        for (i, &base) in bases.iter().enumerate() {
            match bases.get(i + 1) {
                Some(&next) => segments.push(Segment::open_closed(dir, base, next, interval)?),
                None => {
                    let trusted = if clean_shutdown { Segment::open_active_trusted(dir, base)? } else { None };
                    let (active, epochs) = match trusted {
                        Some(opened) => opened,
                        None => {
                            if clean_shutdown {
                                tracing::debug!("scanning the active segment of {}: no usable index files", dir.display());
                            }
                            let opened = Segment::open_active(dir, base, interval)?;
                            // What the scan found is in memory only: the next clean close must write it all.
                            scanned = opened.0.size > 0;
                            opened
                        }
                    };
                    segments.push(active);
                    active_epochs = epochs;
                }
            }
        }
        if segments.is_empty() {
            segments.push(Segment::create(dir, checkpoint.unwrap_or(0).max(0))?);
        }
        let first_base = segments[0].base_offset;
        let mut state = LogState {
            segments,
            log_start: first_base,
            config,
            unflushed: 0,
            last_flush_ms: 0,
            producers: ProducerStates::default(),
            epochs: EpochCache::default(),
            keep_tail_snapshot: false,
            tail_snapshot: None,
        };
        let end = state.log_end();
        state.log_start = checkpoint.unwrap_or(first_base).clamp(first_base, end);
        super::txn::recover(dir, &mut state)?;
        let loaded = epoch::read(dir)?;
        state.epochs = epoch::recover(dir, &state.segments, &active_epochs, loaded, state.log_start)?;
        tracing::debug!(
            "opened {} with {} segments, offsets {}..{end}",
            dir.display(),
            state.segments.len(),
            state.log_start
        );
        let (end_tx, _) = watch::channel(end);
        let (hw_tx, _) = watch::channel(state.log_start);
        let mut hw_written = hw_checkpoint::read(dir)?;
        if let Some(hw) = hw_written.filter(|&hw| hw > end) {
            // A crash during a truncation, before the checkpoint was lowered: lower it now, before anything is
            // appended, or the log growing back past it would make the stale value look valid.
            tracing::info!("high watermark checkpoint {hw} is beyond the log end {end}: lowering it");
            hw_checkpoint::write(dir, end)?;
            hw_written = Some(end);
        }
        let hw_checkpoint =
            HwCheckpoint { loaded: hw_written.map(|hw| hw.clamp(state.log_start.min(end), end)), written: hw_written };
        Ok(Self {
            dir: dir.to_path_buf(),
            state: Mutex::new(state),
            maintenance: Mutex::new(Default::default()),
            end_tx,
            leader_epoch: AtomicI32::new(0),
            replicated: AtomicBool::new(false),
            hw_tx,
            hw_checkpoint: Mutex::new(hw_checkpoint),
            end_at_open: end,
            rewritten: AtomicBool::new(scanned),
        })
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Replaces the topic settings (AlterConfigs); they apply from the next append or maintenance run.
    pub fn set_config(&self, config: TopicConfig) {
        self.state.lock().config = config;
    }

    /// The topic settings in use.
    /// Whether an append may fsync before returning (a `flush.messages` policy is set). Callers keep such
    /// appends off async workers; an ordinary append is a page-cache write of microseconds.
    pub fn may_sync_on_append(&self) -> bool {
        self.state.lock().config.flush_messages != i64::MAX
    }

    pub fn config(&self) -> TopicConfig {
        self.state.lock().config.clone()
    }

    /// The leader epoch stamped into appended batches (`partitionLeaderEpoch`).
    pub fn set_leader_epoch(&self, epoch: i32) {
        self.leader_epoch.store(epoch, Ordering::Relaxed);
    }

    /// Appends `records`, one or more v2 batches exactly as the producer sent them. Validates all first (nothing
    /// is written if any is bad), checks idempotent producers' sequences and epochs, assigns offsets from the log
    /// end, writes with one write call, indexes each batch, rolls the segment when `segment.bytes`/`segment.ms` say
    /// so, fsyncs when `flush.messages` is reached, and wakes fetches waiting on [`PartitionLog::subscribe`].
    ///
    /// A batch a producer retries (same producer, epoch and sequences as one of its last five) is not written
    /// again: the answer carries the offsets it got the first time. Control batches are refused: only the
    /// transaction coordinator writes them, through [`PartitionLog::write_txn_marker`].
    pub fn append(&self, records: &[u8], now_ms: i64) -> Result<AppendInfo, AppendError> {
        self.append_as(records, now_ms, None).map(|(info, _)| info)
    }

    /// [`PartitionLog::append`] for producers (`marker` None) and for the coordinator's transaction markers
    /// (`marker` = (commit, coordinator epoch), `records` one control batch). Also returns the transactions the
    /// markers ended.
    pub(crate) fn append_as(
        &self,
        records: &[u8],
        now_ms: i64,
        marker: Option<(bool, i32)>,
    ) -> Result<(AppendInfo, Vec<CompletedTxn>), AppendError> {
        let (max_bytes, compacted, log_append_time) = {
            let state = self.state.lock();
            let c = &state.config;
            (c.max_message_bytes, c.cleanup_compact, c.message_timestamp_type == TimestampType::LogAppendTime)
        };
        let headers = batch::validate_batches(records, max_bytes)?;
        match marker {
            None if headers.iter().any(|h| h.is_control()) => {
                return Err(AppendError::InvalidRecord(
                    "control batches are written by the transaction coordinator, not by producers".into(),
                ))
            }
            Some(_) if headers.len() != 1 || !headers[0].is_control() => {
                let message = "a transaction marker is exactly one control batch (a bug)";
                return Err(AppendError::InvalidRecord(message.into()));
            }
            _ => {}
        }
        if compacted {
            records::check_keys(records, &headers)?;
        }
        // The only copy of the hot path: the request buffer is borrowed, and offsets must be written into it.
        let mut buf = records.to_vec();
        let epoch = self.leader_epoch.load(Ordering::Relaxed);
        let mut pos = 0usize;
        for h in &headers {
            let one = &mut buf[pos..pos + h.size()];
            batch::set_partition_leader_epoch(one, epoch);
            if log_append_time {
                batch::set_log_append_time(one, now_ms);
            }
            pos += h.size();
        }

        let mut state = self.state.lock();
        let end = state.log_end();
        // Decide each batch's fate against the producer state before anything is written.
        let mut staged = Staged::default();
        let mut verdicts = Vec::with_capacity(headers.len());
        let mut offset = end;
        for h in &headers {
            let verdict = match marker {
                Some((commit, coordinator_epoch)) => {
                    state.producers.stage_marker(&mut staged, h, commit, coordinator_epoch, offset, now_ms)?;
                    Verdict::Append
                }
                None => state.producers.stage(&mut staged, h, offset, now_ms)?,
            };
            if verdict == Verdict::Append {
                offset += i64::from(h.last_offset_delta) + 1;
            }
            verdicts.push(verdict);
        }
        let first = match verdicts[0] {
            Verdict::Duplicate { first_offset, .. } => first_offset,
            Verdict::Append => end,
        };
        if verdicts.iter().all(|v| *v != Verdict::Append) {
            let last = match verdicts[verdicts.len() - 1] {
                Verdict::Duplicate { last_offset, .. } => last_offset,
                Verdict::Append => end - 1,
            };
            tracing::debug!("producer retried batches already at offsets {first}..={last}; nothing appended");
            let info = AppendInfo {
                base_offset: first,
                last_offset: last,
                log_append_time: -1,
                log_start_offset: state.log_start,
                record_count: 0,
            };
            return Ok((info, Vec::new()));
        }

        let (mut buf, headers) = if verdicts.iter().all(|v| *v == Verdict::Append) {
            (buf, headers)
        } else {
            // Some batches are retries already in the log: write only the others.
            let mut kept_buf = Vec::with_capacity(buf.len());
            let mut kept = Vec::with_capacity(headers.len());
            let mut pos = 0usize;
            for (h, v) in headers.iter().zip(&verdicts) {
                if *v == Verdict::Append {
                    kept_buf.extend_from_slice(&buf[pos..pos + h.size()]);
                    kept.push(*h);
                }
                pos += h.size();
            }
            (kept_buf, kept)
        };
        let record_count: i64 = headers.iter().map(|h| i64::from(h.last_offset_delta) + 1).sum();
        let total = buf.len() as u64;

        let (segment_bytes, segment_ms, interval, flush_messages) = {
            let c = &state.config;
            (c.segment_bytes, c.segment_ms, c.index_interval_bytes, c.flush_messages)
        };
        let active = state.active();
        let too_big = active.size + total > segment_bytes;
        let too_old = active.first_append_ms.is_some_and(|t| now_ms.saturating_sub(t) >= segment_ms);
        let rel_overflow = end + record_count - active.base_offset > i64::from(u32::MAX);
        if active.size > 0 && (too_big || too_old || rel_overflow) {
            state.roll(&self.dir).map_err(|e| match e {
                LogError::Io(e) => AppendError::Io(e),
                other => AppendError::Io(std::io::Error::other(other.to_string())),
            })?;
        }
        let active = state.active();
        let mut offset = end;
        let mut pos = 0usize;
        for h in &headers {
            batch::set_base_offset(&mut buf[pos..pos + h.size()], offset);
            offset += i64::from(h.last_offset_delta) + 1;
            pos += h.size();
        }
        if let Err(e) = active.file.write_all_at(&buf, active.size) {
            // Leave no partial batch behind for the next append to follow.
            let _ = active.file.set_len(active.size);
            return Err(AppendError::Io(e));
        }
        let mut offset = end;
        let mut pos = active.size;
        for h in &headers {
            let rel = active.rel(offset);
            active.index.on_batch(
                rel,
                pos as u32,
                h.size() as u64,
                if log_append_time { now_ms } else { h.max_timestamp },
                interval,
            );
            offset += i64::from(h.last_offset_delta) + 1;
            pos += h.size() as u64;
        }
        active.size += total;
        active.next_offset = offset;
        active.first_append_ms.get_or_insert(now_ms);
        active.dirty = true;
        let completed = staged.completed().to_vec();
        index_aborted(&self.dir, active, &completed);
        state.producers.commit(staged);
        state.epochs.assign(epoch, end);
        state.unflushed += record_count;
        let to_sync = if state.unflushed >= flush_messages {
            state.last_flush_ms = now_ms;
            state.take_dirty()
        } else {
            Vec::new()
        };
        let info = AppendInfo {
            base_offset: first,
            last_offset: offset - 1,
            log_append_time: if log_append_time { now_ms } else { -1 },
            log_start_offset: state.log_start,
            record_count,
        };
        self.end_tx.send_replace(offset);
        drop(state);
        for file in to_sync {
            file.sync_data()?;
        }
        Ok((info, completed))
    }

    /// Whole batches from the one holding `offset`, up to `max_bytes` in total but always at least one batch if one
    /// lies below `upper_bound` (exclusive: the high watermark, or the last stable offset for read_committed).
    /// `offset` equal to the log end gives an empty result; below the log start or beyond the log end is
    /// [`ReadError::OffsetOutOfRange`].
    pub fn read(&self, offset: i64, max_bytes: u32, upper_bound: i64) -> Result<ReadResult, ReadError> {
        // Plan under the lock: which files, from where, up to which size, and the index entries that let the walk
        // below skip runs of batches without reading their headers. No I/O here: appends wait on this lock.
        let (plan, log_start, log_end, hw, lso) = {
            let state = self.state.lock();
            let (log_start, log_end) = (state.log_start, state.log_end());
            let hw = self.high_watermark_of(&state);
            let lso = state.last_stable_offset().min(hw);
            if offset < log_start || offset > log_end {
                return Err(ReadError::OffsetOutOfRange { requested: offset, log_start, log_end });
            }
            let mut plan = Vec::new();
            let end = log_end.min(upper_bound);
            if offset < end {
                let first = state.segment_index_for(offset);
                for (i, s) in state.segments.iter().enumerate().skip(first) {
                    plan.push(plan_segment(s, (i == first).then_some(offset), max_bytes, end));
                }
            }
            (plan, log_start, log_end, hw, lso)
        };
        let end = log_end.min(upper_bound);
        let mut slices = Vec::new();
        let mut total: u64 = 0;
        'segments: for seg in plan {
            let SegmentPlan { file, start, size, marks } = seg;
            let mut pos = start;
            let mut slice_start = None;
            while pos < size {
                if total > 0 {
                    // Every batch before a mark ends below the mark's offset, so if the mark is at or below `end`
                    // and the bytes up to it fit, the walk would take all those batches: jump instead of reading
                    // one header per batch.
                    let budget = u64::from(max_bytes).saturating_sub(total);
                    let fits = marks.partition_point(|&(o, p)| o <= end && p <= pos.saturating_add(budget));
                    if let Some(&(_, p)) = fits.checked_sub(1).and_then(|k| marks.get(k)) {
                        if p > pos {
                            slice_start.get_or_insert(pos);
                            total += p - pos;
                            pos = p;
                            continue;
                        }
                    }
                }
                let Some(h) = segment::read_header_at(&file, pos)? else {
                    return Err(ReadError::Io(std::io::Error::other(format!(
                        "no valid batch header at position {pos} of a segment below its size {size}"
                    ))));
                };
                let batch_size = h.size() as u64;
                if h.next_offset() <= offset {
                    pos += batch_size;
                    continue;
                }
                if h.last_offset() >= end || (total > 0 && total + batch_size > u64::from(max_bytes)) {
                    push_slice(&mut slices, &file, slice_start, pos);
                    break 'segments;
                }
                slice_start.get_or_insert(pos);
                total += batch_size;
                pos += batch_size;
            }
            push_slice(&mut slices, &file, slice_start, pos);
        }
        Ok(ReadResult {
            slices,
            total_len: total.min(u64::from(u32::MAX)) as u32,
            log_start_offset: log_start,
            high_watermark: hw,
            last_stable_offset: lso,
        })
    }

    /// The first offset still readable.
    pub fn log_start_offset(&self) -> i64 {
        self.state.lock().log_start
    }

    /// The next offset to assign; also the high watermark on a single node.
    pub fn log_end_offset(&self) -> i64 {
        self.state.lock().log_end()
    }

    /// Watches the log end offset so Fetch can long-poll.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.end_tx.subscribe()
    }

    /// `flush.ms` policy: fsyncs when the last fsync is older than `flush.ms`.
    pub fn maybe_flush(&self, now_ms: i64) -> Result<(), LogError> {
        let files = {
            let mut state = self.state.lock();
            if now_ms.saturating_sub(state.last_flush_ms) < state.config.flush_ms {
                return Ok(());
            }
            state.last_flush_ms = now_ms;
            state.take_dirty()
        };
        for file in files {
            file.sync_data()?;
        }
        Ok(())
    }

    /// Fsyncs every segment written since the last fsync, and the directory.
    pub fn flush(&self) -> Result<(), LogError> {
        let files = {
            let mut state = self.state.lock();
            // No fsync needed: entries inside the active segment are derived again at open (see `epoch`).
            state.epochs.write_if_needed(&self.dir, false)?;
            state.take_dirty()
        };
        for file in files {
            file.sync_data()?;
        }
        checkpoint::sync_dir(&self.dir)?;
        Ok(())
    }

    /// Clean shutdown: checkpoints the high watermark (replicated mode), flushes, writes the active segment's
    /// index files and the producer state snapshot.
    pub fn close(&self) -> Result<(), LogError> {
        self.checkpoint_high_watermark()?;
        // Nothing appended since a trusting open: the files already say everything, so skip the fsyncs. Stopping a
        // broker with 10,000 idle partitions took 10 s without this.
        if self.log_end_offset() == self.end_at_open && !self.rewritten.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.flush()?;
        let mut state = self.state.lock();
        state.active().write_index_files()?;
        super::txn::write_snapshot(&self.dir, &state)?;
        Ok(())
    }

    /// Bytes of all segment files.
    pub fn size_bytes(&self) -> u64 {
        self.state.lock().segments.iter().map(|s| s.size).sum()
    }

    /// Number of segments (for tests and metrics).
    pub fn segment_count(&self) -> usize {
        self.state.lock().segments.len()
    }

    pub(crate) fn lock_state(&self) -> MutexGuard<'_, LogState> {
        self.state.lock()
    }
}

fn push_slice(slices: &mut Vec<FileSlice>, file: &Arc<File>, start: Option<u64>, end: u64) {
    if let Some(start) = start {
        if end > start {
            let len = (end - start).min(u64::from(u32::MAX)) as u32;
            slices.push(FileSlice { file: file.clone(), position: start, len });
        }
    }
}

/// What [`PartitionLog::read`] copies out of one segment under the lock.
struct SegmentPlan {
    file: Arc<File>,
    /// Where the walk starts: the indexed batch at or before the requested offset, or 0.
    start: u64,
    size: u64,
    /// Batch starts after `start` as (absolute base offset, position), both increasing, ending with the segment's
    /// end as (next offset, size): the places the walk may jump to.
    marks: Vec<(i64, u64)>,
}

/// Plans the read of segment `s`: from the batch holding `offset` when it is the first segment read (`Some`), else
/// from its start. Only the index entries a read of `max_bytes` below `end` could jump to are copied, so the time
/// under the lock grows with `max_bytes` / `index.interval.bytes`, not with the segment. Fewer marks only make the
/// walk read more headers; they never change its result.
fn plan_segment(s: &Segment, offset: Option<i64>, max_bytes: u32, end: i64) -> SegmentPlan {
    let entries = &s.index.offsets;
    let (start, from, reach) = match offset {
        Some(offset) => {
            let rel = s.rel(offset);
            let after = entries.partition_point(|&(r, _)| r <= rel);
            let start = after.checked_sub(1).and_then(|i| entries.get(i)).map_or(0, |&(_, p)| u64::from(p));
            // The first batch returned starts at or before the next indexed batch (whose base is above `offset`), and
            // nothing is jumped to beyond max_bytes past the first batch.
            let first_by = entries.get(after).map_or(s.size, |&(_, p)| u64::from(p));
            (start, after, first_by)
        }
        None => (0, 0, 0),
    };
    let limit = reach.saturating_add(u64::from(max_bytes));
    let mut marks = Vec::new();
    for &(rel, p) in entries.get(from..).unwrap_or_default() {
        let (o, p) = (s.base_offset + i64::from(rel), u64::from(p));
        if o > end || p > limit || p >= s.size {
            break;
        }
        if p > start {
            marks.push((o, p));
        }
    }
    marks.push((s.next_offset, s.size));
    SegmentPlan { file: s.file.clone(), start, size: s.size, marks }
}

/// Records the transactions `completed` ended by abort in `active`'s aborted-transaction index (memory and file),
/// for leader appends and follower appends alike.
pub(crate) fn index_aborted(dir: &Path, active: &mut Segment, completed: &[CompletedTxn]) {
    for done in completed.iter().filter(|d| d.aborted) {
        let entry =
            AbortedTxn { producer_id: done.producer_id, first_offset: done.first_offset, last_offset: done.last_offset };
        active.aborted.push(entry);
        let path = segment::segment_path(dir, active.base_offset, "txnindex");
        if let Err(e) = txn_index::append(&path, &entry) {
            // The marker is in the log; recovery re-derives the entry from it if the producer state is rescanned.
            tracing::error!("cannot append to {}: {e}", path.display());
        }
    }
}
