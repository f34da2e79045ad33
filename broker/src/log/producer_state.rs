//! Per-partition producer state, as Kafka's producer state manager keeps it: for each idempotent or
//! transactional producer id, its epoch, the last five batches it appended (to answer retries with the original
//! offsets) and its open transaction, if any. Also the partition's open transactions, which give the last stable
//! offset.
//!
//! The checks here are pure: [`ProducerStates::stage`] decides what to do with one batch against a staging copy
//! of the entries it touches; the partition log commits the staging copy only once the batches are in the file.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};

use super::batch::BatchHeader;
use super::error::AppendError;

/// Batches remembered per producer for duplicate detection; Kafka clients keep at most five in flight.
pub(crate) const DEDUP_WINDOW: usize = 5;

/// One remembered batch of a producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchMeta {
    pub(crate) first_seq: i32,
    pub(crate) last_seq: i32,
    pub(crate) first_offset: i64,
    pub(crate) last_offset: i64,
}

/// What the partition knows about one producer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProducerEntry {
    pub(crate) epoch: i16,
    /// Oldest first, at most [`DEDUP_WINDOW`], all of the current epoch.
    pub(crate) batches: VecDeque<BatchMeta>,
    /// When it last appended (after recovery: its last batch's largest timestamp), for expiry and
    /// DescribeProducers.
    pub(crate) last_timestamp: i64,
    /// Coordinator epoch of the last marker, -1 if none.
    pub(crate) coordinator_epoch: i32,
    /// First offset of its open transaction in this partition.
    pub(crate) txn_first_offset: Option<i64>,
}

impl ProducerEntry {
    fn new(epoch: i16) -> Self {
        Self { epoch, batches: VecDeque::new(), last_timestamp: -1, coordinator_epoch: -1, txn_first_offset: None }
    }

    /// Sequence number of the last record appended in this epoch, -1 if none.
    pub(crate) fn last_seq(&self) -> i32 {
        self.batches.back().map_or(-1, |b| b.last_seq)
    }

    fn set_epoch(&mut self, epoch: i16) {
        if epoch != self.epoch {
            // Sequences restart with every epoch; batches of the old one can no longer be retried.
            self.epoch = epoch;
            self.batches.clear();
        }
    }

    fn push(&mut self, meta: BatchMeta) {
        if self.batches.len() == DEDUP_WINDOW {
            self.batches.pop_front();
        }
        self.batches.push_back(meta);
    }
}

/// A transaction that ended, as the marker append reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    /// The producer id.
    pub producer_id: i64,
    /// First offset of the transaction in this partition.
    pub first_offset: i64,
    /// Offset of the marker.
    pub last_offset: i64,
    /// Aborted (else committed).
    pub aborted: bool,
}

/// What to do with one batch of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Write it at the offset given.
    Append,
    /// A retry of a batch already in the log: write nothing, answer with its original offsets.
    Duplicate { first_offset: i64, last_offset: i64 },
}

/// Sequence number of the last record of a batch; sequences wrap from `i32::MAX` to 0.
pub(crate) fn last_seq_of(h: &BatchHeader) -> i32 {
    ((i64::from(h.base_sequence) + i64::from(h.last_offset_delta)) % (i64::from(i32::MAX) + 1)) as i32
}

fn in_sequence(last_seq: i32, next_seq: i32) -> bool {
    next_seq == last_seq.wrapping_add(1) || (next_seq == 0 && last_seq == i32::MAX)
}

/// The producer state of one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProducerStates {
    pub(crate) producers: HashMap<i64, ProducerEntry>,
    /// Open transactions by first offset: the smallest is the last stable offset.
    pub(crate) ongoing: BTreeMap<i64, i64>,
}

/// Entries changed by an append in progress, committed to [`ProducerStates`] once the write succeeded.
#[derive(Debug, Default)]
pub(crate) struct Staged {
    entries: HashMap<i64, ProducerEntry>,
    completed: Vec<CompletedTxn>,
    /// First offsets of open transactions forgotten without a marker (a follower resetting a stale entry).
    dropped: Vec<i64>,
}

impl Staged {
    /// Transactions ended by markers of this append.
    pub(crate) fn completed(&self) -> &[CompletedTxn] {
        &self.completed
    }
}

impl ProducerStates {
    /// The first offset of the earliest open transaction, if any.
    pub(crate) fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    fn entry<'a>(&self, staged: &'a mut Staged, producer_id: i64) -> Option<&'a mut ProducerEntry> {
        match staged.entries.entry(producer_id) {
            Entry::Occupied(e) => Some(e.into_mut()),
            Entry::Vacant(v) => Some(v.insert(self.producers.get(&producer_id)?.clone())),
        }
    }

    /// Checks a producer's data batch that would be appended at `offset` and records it in `staged`. Batches
    /// without producer id pass untouched. Errors are the answers Kafka gives: a stale epoch, a sequence gap,
    /// a non-transactional write in the middle of a transaction.
    /// `now_ms` is the append time, which idle producers expire from (producer clocks may be far off).
    pub(crate) fn stage(
        &self,
        staged: &mut Staged,
        h: &BatchHeader,
        offset: i64,
        now_ms: i64,
    ) -> Result<Verdict, AppendError> {
        let pid = h.producer_id;
        if pid < 0 {
            return Ok(Verdict::Append);
        }
        let epoch = h.producer_epoch;
        let last_seq = last_seq_of(h);
        let meta = BatchMeta {
            first_seq: h.base_sequence,
            last_seq,
            first_offset: offset,
            last_offset: offset + i64::from(h.last_offset_delta),
        };
        let Some(entry) = self.entry(staged, pid) else {
            // Unknown producer (new, or its state expired or was removed with the log's start): since Kafka 2.5
            // any sequence is accepted, so a producer whose records were deleted can go on.
            let mut entry = ProducerEntry::new(epoch);
            entry.push(meta);
            entry.last_timestamp = now_ms;
            if h.is_transactional() {
                entry.txn_first_offset = Some(offset);
            }
            staged.entries.insert(pid, entry);
            return Ok(Verdict::Append);
        };
        if epoch < entry.epoch {
            return Err(AppendError::InvalidProducerEpoch(format!(
                "producer {pid} wrote with epoch {epoch}, but epoch {} is current: a newer producer fenced it",
                entry.epoch
            )));
        }
        if epoch == entry.epoch {
            if let Some(dup) = entry.batches.iter().find(|b| b.first_seq == h.base_sequence && b.last_seq == last_seq) {
                return Ok(Verdict::Duplicate { first_offset: dup.first_offset, last_offset: dup.last_offset });
            }
            let last = entry.last_seq();
            if !in_sequence(last, h.base_sequence) {
                return Err(AppendError::OutOfOrderSequence(format!(
                    "producer {pid} epoch {epoch} sent sequence {} after {last}",
                    h.base_sequence
                )));
            }
        } else if h.base_sequence != 0 {
            return Err(AppendError::OutOfOrderSequence(format!(
                "producer {pid} started epoch {epoch} at sequence {}, not 0",
                h.base_sequence
            )));
        }
        match (h.is_transactional(), entry.txn_first_offset) {
            (true, None) => entry.txn_first_offset = Some(offset),
            (false, Some(first)) => {
                return Err(AppendError::InvalidTxnState(format!(
                    "producer {pid} wrote a non-transactional batch inside its transaction open since offset {first}"
                )))
            }
            _ => {}
        }
        entry.set_epoch(epoch);
        entry.push(meta);
        entry.last_timestamp = now_ms;
        Ok(Verdict::Append)
    }

    /// Checks a transaction marker that would be appended at `offset` and records its effect in `staged`.
    pub(crate) fn stage_marker(
        &self,
        staged: &mut Staged,
        h: &BatchHeader,
        commit: bool,
        coordinator_epoch: i32,
        offset: i64,
        now_ms: i64,
    ) -> Result<(), AppendError> {
        let pid = h.producer_id;
        if pid < 0 {
            return Err(AppendError::InvalidRecord("a transaction marker without producer id".into()));
        }
        let entry = match self.entry(staged, pid) {
            Some(e) => e,
            None => staged.entries.entry(pid).or_insert_with(|| ProducerEntry::new(h.producer_epoch)),
        };
        if h.producer_epoch < entry.epoch {
            return Err(AppendError::InvalidProducerEpoch(format!(
                "marker for producer {pid} has epoch {}, but epoch {} is current",
                h.producer_epoch, entry.epoch
            )));
        }
        entry.set_epoch(h.producer_epoch);
        entry.coordinator_epoch = coordinator_epoch;
        entry.last_timestamp = now_ms;
        if let Some(first) = entry.txn_first_offset.take() {
            staged.completed.push(CompletedTxn {
                producer_id: pid,
                first_offset: first,
                last_offset: offset,
                aborted: !commit,
            });
        }
        Ok(())
    }

    /// Records a batch a follower copies from its leader, at `offset`, as the leader recorded it: never refuses
    /// (the leader checked sequences and epochs). `marker` is (commit, coordinator epoch) for a control batch. When
    /// the entry held here disagrees with what the leader accepted (it expired here, or this replica's state is
    /// stale), it is replaced by a fresh one, as recovery does.
    pub(crate) fn stage_replica(
        &self,
        staged: &mut Staged,
        h: &BatchHeader,
        marker: Option<(bool, i32)>,
        offset: i64,
        now_ms: i64,
    ) {
        if h.producer_id < 0 {
            return;
        }
        let pid = h.producer_id;
        let recorded = match marker {
            Some((commit, coordinator_epoch)) => {
                self.stage_marker(staged, h, commit, coordinator_epoch, offset, now_ms).is_ok()
            }
            None => matches!(self.stage(staged, h, offset, now_ms), Ok(Verdict::Append)),
        };
        if recorded {
            return;
        }
        // Refused, or taken for a retry: start the producer afresh from this batch, as for an unknown producer.
        let previous = staged.entries.remove(&pid).or_else(|| self.producers.get(&pid).cloned());
        if let Some(first) = previous.and_then(|e| e.txn_first_offset) {
            staged.dropped.push(first);
        }
        let mut entry = ProducerEntry::new(h.producer_epoch);
        entry.last_timestamp = now_ms;
        match marker {
            Some((_, coordinator_epoch)) => entry.coordinator_epoch = coordinator_epoch,
            None => {
                entry.push(BatchMeta {
                    first_seq: h.base_sequence,
                    last_seq: last_seq_of(h),
                    first_offset: offset,
                    last_offset: offset + i64::from(h.last_offset_delta),
                });
                if h.is_transactional() {
                    entry.txn_first_offset = Some(offset);
                }
            }
        }
        staged.entries.insert(pid, entry);
    }

    /// Makes an append's staged changes current.
    pub(crate) fn commit(&mut self, staged: Staged) {
        for first in staged.dropped {
            self.ongoing.remove(&first);
        }
        for (pid, entry) in staged.entries {
            if let Some(first) = entry.txn_first_offset {
                self.ongoing.insert(first, pid);
            }
            self.producers.insert(pid, entry);
        }
        for done in staged.completed {
            self.ongoing.remove(&done.first_offset);
        }
    }

    /// Forgets one producer (recovery, when the log holds a batch its remembered state would refuse).
    pub(crate) fn forget(&mut self, producer_id: i64) {
        if let Some(e) = self.producers.remove(&producer_id) {
            if let Some(first) = e.txn_first_offset {
                self.ongoing.remove(&first);
            }
        }
    }

    /// Forgets producers idle since before `cutoff_ms` that have no open transaction; returns how many.
    pub(crate) fn expire(&mut self, cutoff_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| e.txn_first_offset.is_some() || e.last_timestamp >= cutoff_ms);
        before - self.producers.len()
    }
}

/// The snapshot file of a partition's producer state, written at clean close (FORMAT.md: `producer-state`).
pub(crate) mod snapshot {
    use super::*;

    /// File name inside the partition directory.
    pub(crate) const FILE_NAME: &str = "producer-state";
    const VERSION: i16 = 0;

    /// Encodes the state as of log end offset `offset`.
    pub(crate) fn encode(states: &ProducerStates, offset: i64) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + states.producers.len() * 64);
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&offset.to_be_bytes());
        out.extend_from_slice(&(states.producers.len() as u32).to_be_bytes());
        let mut pids: Vec<_> = states.producers.keys().copied().collect();
        pids.sort_unstable();
        for pid in pids {
            let e = &states.producers[&pid];
            out.extend_from_slice(&pid.to_be_bytes());
            out.extend_from_slice(&e.epoch.to_be_bytes());
            out.extend_from_slice(&e.last_timestamp.to_be_bytes());
            out.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            out.extend_from_slice(&e.txn_first_offset.unwrap_or(-1).to_be_bytes());
            out.push(e.batches.len() as u8);
            for b in &e.batches {
                out.extend_from_slice(&b.first_seq.to_be_bytes());
                out.extend_from_slice(&b.last_seq.to_be_bytes());
                out.extend_from_slice(&b.first_offset.to_be_bytes());
                out.extend_from_slice(&b.last_offset.to_be_bytes());
            }
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    struct Reader<'a>(&'a [u8]);
    impl Reader<'_> {
        fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
            if self.0.len() < N {
                return Err("the file ends early".into());
            }
            let (head, rest) = self.0.split_at(N);
            self.0 = rest;
            let mut a = [0u8; N];
            a.copy_from_slice(head);
            Ok(a)
        }
        fn i16(&mut self) -> Result<i16, String> {
            self.take().map(i16::from_be_bytes)
        }
        fn i32(&mut self) -> Result<i32, String> {
            self.take().map(i32::from_be_bytes)
        }
        fn i64(&mut self) -> Result<i64, String> {
            self.take().map(i64::from_be_bytes)
        }
    }

    /// Decodes a snapshot: the state and the log end offset it was taken at.
    pub(crate) fn decode(bytes: &[u8]) -> Result<(ProducerStates, i64), String> {
        if bytes.len() < 4 {
            return Err("too short for a checksum".into());
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if crc32c::crc32c(body).to_be_bytes() != crc {
            return Err("checksum mismatch".into());
        }
        let mut r = Reader(body);
        let version = r.i16()?;
        if version != VERSION {
            return Err(format!("unknown version {version}"));
        }
        let offset = r.i64()?;
        let count = r.i32()? as u32;
        let mut states = ProducerStates::default();
        for _ in 0..count {
            let pid = r.i64()?;
            let mut e = ProducerEntry::new(r.i16()?);
            e.last_timestamp = r.i64()?;
            e.coordinator_epoch = r.i32()?;
            let first = r.i64()?;
            e.txn_first_offset = (first >= 0).then_some(first);
            let [n] = r.take::<1>()?;
            for _ in 0..n {
                e.batches.push_back(BatchMeta {
                    first_seq: r.i32()?,
                    last_seq: r.i32()?,
                    first_offset: r.i64()?,
                    last_offset: r.i64()?,
                });
            }
            if let Some(first) = e.txn_first_offset {
                states.ongoing.insert(first, pid);
            }
            states.producers.insert(pid, e);
        }
        if !r.0.is_empty() {
            return Err(format!("{} bytes after the last entry", r.0.len()));
        }
        Ok((states, offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, n: i32, txn: bool) -> BatchHeader {
        BatchHeader {
            base_offset: 0,
            batch_length: 49,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: if txn { 1 << 4 } else { 0 },
            last_offset_delta: n - 1,
            base_timestamp: 1,
            max_timestamp: 1,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            record_count: n,
        }
    }

    /// Stages and commits one batch at `offset`.
    fn append(s: &mut ProducerStates, h: BatchHeader, offset: i64) -> Result<Verdict, AppendError> {
        let mut staged = Staged::default();
        let v = s.stage(&mut staged, &h, offset, offset)?;
        s.commit(staged);
        Ok(v)
    }

    #[test]
    fn duplicates_answer_the_original_offsets() {
        let mut s = ProducerStates::default();
        assert_eq!(append(&mut s, header(7, 0, 0, 3, false), 10).unwrap(), Verdict::Append);
        assert_eq!(append(&mut s, header(7, 0, 3, 2, false), 13).unwrap(), Verdict::Append);
        assert_eq!(
            append(&mut s, header(7, 0, 0, 3, false), 99).unwrap(),
            Verdict::Duplicate { first_offset: 10, last_offset: 12 }
        );
        assert_eq!(s.producers[&7].last_seq(), 4);
        // Only the last five batches are remembered.
        for i in 0..5 {
            append(&mut s, header(7, 0, 5 + i, 1, false), 15 + i64::from(i)).unwrap();
        }
        assert!(matches!(append(&mut s, header(7, 0, 0, 3, false), 99), Err(AppendError::OutOfOrderSequence(_))));
    }

    #[test]
    fn gaps_and_stale_epochs_are_refused() {
        let mut s = ProducerStates::default();
        append(&mut s, header(1, 3, 0, 1, false), 0).unwrap();
        assert!(matches!(append(&mut s, header(1, 3, 2, 1, false), 1), Err(AppendError::OutOfOrderSequence(_))));
        assert!(matches!(append(&mut s, header(1, 2, 1, 1, false), 1), Err(AppendError::InvalidProducerEpoch(_))));
        // A new epoch must start at sequence 0, and then resets the sequence.
        assert!(matches!(append(&mut s, header(1, 4, 5, 1, false), 1), Err(AppendError::OutOfOrderSequence(_))));
        append(&mut s, header(1, 4, 0, 1, false), 1).unwrap();
        assert_eq!((s.producers[&1].epoch, s.producers[&1].last_seq()), (4, 0));
        // Unknown producers are accepted at any sequence (Kafka 2.5+).
        append(&mut s, header(2, 0, 42, 1, false), 2).unwrap();
        // Sequences wrap.
        append(&mut s, header(3, 0, i32::MAX, 1, false), 3).unwrap();
        append(&mut s, header(3, 0, 0, 1, false), 4).unwrap();
    }

    #[test]
    fn transactions_open_and_markers_close_them() {
        let mut s = ProducerStates::default();
        append(&mut s, header(5, 0, 0, 2, true), 100).unwrap();
        append(&mut s, header(5, 0, 2, 2, true), 102).unwrap();
        append(&mut s, header(6, 0, 0, 1, true), 104).unwrap();
        assert_eq!(s.first_unstable_offset(), Some(100));
        assert!(matches!(append(&mut s, header(5, 0, 4, 1, false), 105), Err(AppendError::InvalidTxnState(_))));
        let mut staged = Staged::default();
        s.stage_marker(&mut staged, &header(5, 0, -1, 1, true), false, 0, 105, 9).unwrap();
        assert_eq!(
            staged.completed(),
            &[CompletedTxn { producer_id: 5, first_offset: 100, last_offset: 105, aborted: true }]
        );
        s.commit(staged);
        assert_eq!(s.first_unstable_offset(), Some(104));
        // A marker with a bumped epoch fences the old epoch.
        let mut staged = Staged::default();
        s.stage_marker(&mut staged, &header(6, 1, -1, 1, true), false, 0, 106, 9).unwrap();
        s.commit(staged);
        assert_eq!(s.first_unstable_offset(), None);
        assert!(matches!(append(&mut s, header(6, 0, 1, 1, true), 107), Err(AppendError::InvalidProducerEpoch(_))));
        append(&mut s, header(6, 1, 0, 1, true), 107).unwrap();
    }

    #[test]
    fn expiry_keeps_open_transactions() {
        let mut s = ProducerStates::default();
        append(&mut s, header(1, 0, 0, 1, false), 0).unwrap();
        append(&mut s, header(2, 0, 0, 1, true), 1).unwrap();
        assert_eq!(s.expire(100), 1);
        assert!(s.producers.contains_key(&2));
    }

    #[test]
    fn snapshots_round_trip_and_detect_damage() {
        let mut s = ProducerStates::default();
        append(&mut s, header(1, 2, 0, 3, false), 0).unwrap();
        append(&mut s, header(9, 0, 0, 1, true), 3).unwrap();
        let bytes = snapshot::encode(&s, 4);
        assert_eq!(snapshot::decode(&bytes).unwrap(), (s.clone(), 4));
        let mut bad = bytes.clone();
        bad[5] ^= 1;
        assert!(snapshot::decode(&bad).is_err());
        assert!(snapshot::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
