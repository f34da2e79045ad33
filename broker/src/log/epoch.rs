//! The leader epoch cache of a partition: for every leader epoch that wrote batches, the first offset it wrote
//! (`leader-epoch-checkpoint` in the partition directory). Followers ask the leader where their latest epoch ends
//! (OffsetForLeaderEpoch) and cut their log there, removing a tail the new leader never had.
//!
//! Durability without a cost per append: a new epoch changes only memory; the file is written when a segment
//! rolls (with fsync, before the new segment exists), on flush and close (without), and on truncation (with). At open the entries
//! starting inside the active segment are derived again from its batches (it is scanned anyway), so the file only
//! has to be right for the closed segments, which the roll guarantees. A missing or damaged file is rebuilt from
//! the batch headers of every segment.

use std::path::Path;

use super::error::LogError;
use super::index::write_atomic;
use super::segment::{read_header_at, Segment};

/// The file's name inside the partition directory.
pub(crate) const FILE_NAME: &str = "leader-epoch-checkpoint";

/// Epoch start offsets, both strictly increasing, plus whether the file is behind memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EpochCache {
    /// (leader epoch, first offset written in it).
    pub(crate) entries: Vec<(i32, i64)>,
    /// Memory differs from the file.
    dirty: bool,
    /// The file was written without fsync since the last fsync.
    unsynced: bool,
}

impl EpochCache {
    /// A cache holding `entries` (already checked), in step with the file.
    pub(crate) fn new(entries: Vec<(i32, i64)>) -> Self {
        Self { entries, dirty: false, unsynced: false }
    }

    /// The latest epoch that wrote batches.
    pub(crate) fn latest(&self) -> Option<i32> {
        self.entries.last().map(|&(e, _)| e)
    }

    /// A batch of `epoch` was appended at `offset`: records the epoch if it is newer than the latest. Called on
    /// every append, so the common case (same epoch) is one comparison. Older or negative epochs are ignored (a
    /// leader never writes below the latest epoch; -1 is "unknown").
    #[inline]
    pub(crate) fn assign(&mut self, epoch: i32, offset: i64) {
        match self.entries.last() {
            Some(&(latest, _)) if epoch <= latest => {}
            _ if epoch < 0 => {}
            _ => self.push(epoch, offset),
        }
    }

    #[cold]
    fn push(&mut self, epoch: i32, offset: i64) {
        // An epoch starting where the previous one did wrote nothing: it is replaced. Entries past `offset` cannot
        // exist (appends go to the log end and truncation removes later entries) but are dropped to stay monotonic.
        while self.entries.last().is_some_and(|&(_, start)| start >= offset) {
            self.entries.pop();
        }
        self.entries.push((epoch, offset));
        self.dirty = true;
    }

    /// The log was cut at `end`: epochs starting at or after it are forgotten.
    pub(crate) fn truncate_from_end(&mut self, end: i64) {
        let keep = self.entries.partition_point(|&(_, start)| start < end);
        if keep < self.entries.len() {
            self.entries.truncate(keep);
            self.dirty = true;
        }
    }

    /// The log now starts at `start`: epochs that ended before it are forgotten; the one covering `start` is kept,
    /// starting at `start` (as Kafka does, so the cache still answers for an emptied log).
    pub(crate) fn truncate_from_start(&mut self, start: i64) {
        let below = self.entries.partition_point(|&(_, s)| s < start);
        if below == 0 {
            return;
        }
        let covering_starts_later = self.entries.get(below).is_some_and(|&(_, s)| s == start);
        if covering_starts_later {
            self.entries.drain(..below);
        } else {
            self.entries.drain(..below - 1);
            self.entries[0].1 = start;
        }
        self.dirty = true;
    }

    /// Forgets every epoch (the log was emptied and restarted elsewhere).
    pub(crate) fn clear(&mut self) {
        if !self.entries.is_empty() {
            self.entries.clear();
            self.dirty = true;
        }
    }

    /// OffsetForLeaderEpoch as the broker answers it: the largest known epoch <= `epoch` and where it ends (the
    /// start of the next known epoch, or `log_end` when it is the latest); (-1, -1) when `epoch` is below every
    /// known epoch or none is known.
    pub(crate) fn end_offset_for(&self, epoch: i32, log_end: i64) -> (i32, i64) {
        let at_or_below = self.entries.partition_point(|&(e, _)| e <= epoch);
        let Some(&(floor, _)) = at_or_below.checked_sub(1).and_then(|i| self.entries.get(i)) else {
            return (-1, -1);
        };
        let end = self.entries.get(at_or_below).map_or(log_end, |&(_, start)| start);
        (floor, end)
    }

    /// Writes the file if it is behind memory (or, with `sync`, not yet durable). With `sync` it is fsynced before
    /// the rename, as a roll and a truncation need; otherwise a crash may lose it, which the next open repairs.
    pub(crate) fn write_if_needed(&mut self, dir: &Path, sync: bool) -> std::io::Result<()> {
        if self.dirty || (sync && self.unsynced) {
            write(dir, &self.entries, sync)?;
            self.dirty = false;
            self.unsynced = !sync;
        }
        Ok(())
    }

    /// Marks memory as ahead of the file (after a rebuild at open).
    pub(crate) fn mark_dirty(&mut self) {
        self.dirty = true;
    }
}

/// Encodes the file: Kafka's text layout, a version line `0`, a count line, then one `epoch offset` line per entry.
pub(crate) fn encode(entries: &[(i32, i64)]) -> String {
    let mut out = format!("0\n{}\n", entries.len());
    for (epoch, start) in entries {
        out.push_str(&format!("{epoch} {start}\n"));
    }
    out
}

/// Decodes the file; errors say what is wrong.
pub(crate) fn decode(text: &str) -> Result<Vec<(i32, i64)>, String> {
    let mut lines = text.lines();
    if lines.next() != Some("0") {
        return Err("unknown version (expected a first line `0`)".into());
    }
    let count: usize = lines.next().and_then(|l| l.trim().parse().ok()).ok_or("no entry count")?;
    let mut entries: Vec<(i32, i64)> = Vec::with_capacity(count.min(1024));
    for line in lines.by_ref().take(count) {
        let mut fields = line.split_whitespace();
        let epoch = fields.next().and_then(|f| f.parse::<i32>().ok());
        let start = fields.next().and_then(|f| f.parse::<i64>().ok());
        let (Some(epoch), Some(start), None) = (epoch, start, fields.next()) else {
            return Err(format!("bad entry line {line:?}"));
        };
        if epoch < 0 || start < 0 {
            return Err(format!("negative entry {epoch} {start}"));
        }
        if let Some(&(e, s)) = entries.last() {
            if epoch <= e || start <= s {
                return Err(format!("entry {epoch} {start} does not follow {e} {s}"));
            }
        }
        entries.push((epoch, start));
    }
    if entries.len() != count {
        return Err(format!("{} entries where the count says {count}", entries.len()));
    }
    if lines.any(|l| !l.trim().is_empty()) {
        return Err("text after the last entry".into());
    }
    Ok(entries)
}

/// Reads the file: `Ok(None)` when it is missing or damaged (logged), so the caller rebuilds.
pub(crate) fn read(dir: &Path) -> Result<Option<Vec<(i32, i64)>>, LogError> {
    let path = dir.join(FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => match decode(&text) {
            Ok(entries) => Ok(Some(entries)),
            Err(e) => {
                tracing::warn!("rebuilding {} from the log: {e}", path.display());
                Ok(None)
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            tracing::warn!("rebuilding {} from the log: not UTF-8", path.display());
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Replaces the file (tmp file and rename; fsynced before the rename when `sync`).
fn write(dir: &Path, entries: &[(i32, i64)], sync: bool) -> std::io::Result<()> {
    let path = dir.join(FILE_NAME);
    if sync {
        return write_atomic(&path, encode(entries).as_bytes());
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, encode(entries))?;
    std::fs::rename(&tmp, &path)
}

/// The cache of a log just opened: `loaded` from the file (None: missing or damaged), `active_epochs` the epoch
/// changes the scan of the active segment saw, as (epoch, base offset of the first batch with it).
pub(crate) fn recover(
    dir: &Path,
    segments: &[Segment],
    active_epochs: &[(i32, i64)],
    loaded: Option<Vec<(i32, i64)>>,
    log_start: i64,
) -> Result<EpochCache, LogError> {
    let active_base = segments.last().map_or(0, |s| s.base_offset);
    let closed = &segments[..segments.len().saturating_sub(1)];
    let mut cache = match loaded {
        Some(entries) => {
            // Entries inside the active segment may be stale (lost, or from before a truncation): derive them again.
            let kept = entries.iter().copied().filter(|&(_, start)| start < active_base).collect();
            let mut cache = EpochCache::new(kept);
            for &(epoch, offset) in active_epochs {
                cache.assign(epoch, offset);
            }
            cache.dirty = cache.entries != entries;
            cache
        }
        None => {
            let mut cache = EpochCache::default();
            for s in closed {
                for (epoch, offset) in segment_epochs(s)? {
                    cache.assign(epoch, offset);
                }
            }
            let from_closed = !cache.entries.is_empty();
            for &(epoch, offset) in active_epochs {
                cache.assign(epoch, offset);
            }
            if !cache.entries.is_empty() {
                cache.mark_dirty();
            }
            if from_closed {
                // The closed segments' entries must be on disk before the active segment is rolled away, and an
                // idle partition would otherwise rebuild at every open.
                cache.write_if_needed(dir, true)?;
            }
            cache
        }
    };
    cache.truncate_from_start(log_start);
    Ok(cache)
}

/// The epoch changes of a closed segment, as (epoch, first offset). Epochs never decrease along a log, so when the
/// first and last batches agree the segment holds one epoch and only those two headers are read.
pub(crate) fn segment_epochs(s: &Segment) -> std::io::Result<Vec<(i32, i64)>> {
    let Some(first) = read_header_at(&s.file, 0)? else {
        return Ok(Vec::new());
    };
    let mut pos = s.index.offsets.last().map_or(0, |&(_, p)| u64::from(p));
    let mut last = first;
    while pos < s.size {
        let Some(h) = read_header_at(&s.file, pos)? else {
            break;
        };
        last = h;
        pos += h.size() as u64;
    }
    if last.partition_leader_epoch == first.partition_leader_epoch {
        return Ok(vec![(first.partition_leader_epoch, first.base_offset)]);
    }
    let mut out: Vec<(i32, i64)> = Vec::new();
    let mut pos = 0;
    while pos < s.size {
        let Some(h) = read_header_at(&s.file, pos)? else {
            break;
        };
        if out.last().is_none_or(|&(e, _)| e != h.partition_leader_epoch) {
            out.push((h.partition_leader_epoch, h.base_offset));
        }
        pos += h.size() as u64;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The answer by definition: every epoch with its first offset, in a plain list.
    fn reference(entries: &[(i32, i64)], epoch: i32, log_end: i64) -> (i32, i64) {
        let floor = entries.iter().filter(|&&(e, _)| e <= epoch).max_by_key(|&&(e, _)| e);
        match floor {
            None => (-1, -1),
            Some(&(e, _)) => {
                let next = entries.iter().filter(|&&(n, _)| n > e).min_by_key(|&&(n, _)| n);
                (e, next.map_or(log_end, |&(_, s)| s))
            }
        }
    }

    #[test]
    fn answers_offset_for_leader_epoch() {
        let c = EpochCache::new(vec![(1, 0), (3, 10), (4, 25)]);
        assert_eq!(c.end_offset_for(0, 40), (-1, -1));
        assert_eq!(c.end_offset_for(-1, 40), (-1, -1));
        assert_eq!(c.end_offset_for(1, 40), (1, 10));
        assert_eq!(c.end_offset_for(2, 40), (1, 10));
        assert_eq!(c.end_offset_for(3, 40), (3, 25));
        assert_eq!(c.end_offset_for(4, 40), (4, 40));
        assert_eq!(c.end_offset_for(9, 40), (4, 40));
        assert_eq!(EpochCache::default().end_offset_for(0, 0), (-1, -1));
    }

    #[test]
    fn truncation_from_both_ends() {
        let mut c = EpochCache::new(vec![(1, 0), (3, 10), (4, 25)]);
        c.truncate_from_end(25);
        assert_eq!(c.entries, vec![(1, 0), (3, 10)]);
        c.truncate_from_end(11);
        assert_eq!(c.entries, vec![(1, 0), (3, 10)]);
        c.truncate_from_start(5);
        assert_eq!(c.entries, vec![(1, 5), (3, 10)]);
        c.truncate_from_start(10);
        assert_eq!(c.entries, vec![(3, 10)]);
        c.truncate_from_start(50);
        assert_eq!(c.entries, vec![(3, 50)]);
        c.assign(2, 60);
        assert_eq!(c.entries, vec![(3, 50)], "older epochs are ignored");
        c.assign(5, 50);
        assert_eq!(c.entries, vec![(5, 50)], "an epoch that wrote nothing is replaced");
    }

    #[test]
    fn file_round_trips_and_damage_is_refused() {
        let entries = vec![(0, 0), (2, 17), (7, 1000)];
        let text = encode(&entries);
        assert_eq!(text, "0\n3\n0 0\n2 17\n7 1000\n");
        assert_eq!(decode(&text).unwrap(), entries);
        assert_eq!(decode("0\n0\n").unwrap(), vec![]);
        for bad in ["", "1\n0\n", "0\n2\n0 0\n", "0\n2\n0 5\n1 5\n", "0\n1\n0 x\n", "0\n1\n3 4 5\n", "0\n1\n1 1\n2 2\n"]
        {
            assert!(decode(bad).is_err(), "{bad:?} must be refused");
        }
    }

    proptest! {
        #[test]
        fn queries_match_the_reference(
            steps in proptest::collection::vec((0i32..20, 1i64..50), 0..30),
            queries in proptest::collection::vec(-2i32..25, 1..20),
            cut in 0i64..2000,
            start in 0i64..2000,
        ) {
            // Appends with increasing offsets and epochs that sometimes repeat or go back (ignored).
            let mut c = EpochCache::default();
            let mut model: Vec<(i32, i64)> = Vec::new();
            let mut offset = 0i64;
            for (epoch, n) in steps {
                c.assign(epoch, offset);
                if model.last().is_none_or(|&(e, _)| epoch > e) {
                    model.push((epoch, offset));
                }
                offset += n;
            }
            prop_assert_eq!(&c.entries, &model);
            for &q in &queries {
                prop_assert_eq!(c.end_offset_for(q, offset), reference(&model, q, offset));
            }
            // Truncating the tail then the head matches filtering the model.
            let end = cut.min(offset);
            c.truncate_from_end(end);
            model.retain(|&(_, s)| s < end);
            let start = start.min(end);
            c.truncate_from_start(start);
            if let Some(i) = model.iter().rposition(|&(_, s)| s <= start) {
                model.drain(..i);
                model[0].1 = model[0].1.max(start);
            }
            prop_assert_eq!(&c.entries, &model);
            for &q in &queries {
                prop_assert_eq!(c.end_offset_for(q, end), reference(&model, q, end));
            }
            let text = encode(&c.entries);
            prop_assert_eq!(decode(&text).unwrap(), c.entries.clone());
        }
    }
}
