//! One transactional id's metadata and its state machine, as Kafka's transaction coordinator runs it. Pure: the
//! coordinator persists each result and writes the markers these transitions ask for.

use std::collections::BTreeSet;

use kafka_protocol::ResponseError;

/// Where a transaction stands; the numbers are Kafka's, also used in `__transaction_state` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnState {
    /// No transaction open (a fresh or re-initialised producer).
    Empty = 0,
    /// Partitions or groups were added; records may be in the logs.
    Ongoing = 1,
    /// EndTxn(commit) accepted; markers being written.
    PrepareCommit = 2,
    /// EndTxn(abort) or a timeout accepted; markers being written.
    PrepareAbort = 3,
    /// The last transaction committed.
    CompleteCommit = 4,
    /// The last transaction aborted.
    CompleteAbort = 5,
    /// The transactional id expired (not produced by this coordinator; kept for the numbering).
    Dead = 6,
    /// An epoch fence in progress (not produced by this coordinator; kept for the numbering).
    PrepareEpochFence = 7,
}

impl TxnState {
    /// The state of a stored number.
    pub fn from_i8(n: i8) -> Option<Self> {
        Some(match n {
            0 => Self::Empty,
            1 => Self::Ongoing,
            2 => Self::PrepareCommit,
            3 => Self::PrepareAbort,
            4 => Self::CompleteCommit,
            5 => Self::CompleteAbort,
            6 => Self::Dead,
            7 => Self::PrepareEpochFence,
            _ => return None,
        })
    }

    /// The name DescribeTransactions and ListTransactions use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::Ongoing => "Ongoing",
            Self::PrepareCommit => "PrepareCommit",
            Self::PrepareAbort => "PrepareAbort",
            Self::CompleteCommit => "CompleteCommit",
            Self::CompleteAbort => "CompleteAbort",
            Self::Dead => "Dead",
            Self::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// Every state, for ListTransactions filters.
    pub const ALL: [TxnState; 8] = [
        Self::Empty,
        Self::Ongoing,
        Self::PrepareCommit,
        Self::PrepareAbort,
        Self::CompleteCommit,
        Self::CompleteAbort,
        Self::Dead,
        Self::PrepareEpochFence,
    ];

    fn is_preparing(self) -> bool {
        matches!(self, Self::PrepareCommit | Self::PrepareAbort | Self::PrepareEpochFence)
    }
}

/// One transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    /// The producer id of this transactional id.
    pub producer_id: i64,
    /// Its current epoch.
    pub epoch: i16,
    /// The epoch before the last bump, so a producer fenced by a timeout can resume (KIP-360); -1 if none.
    pub last_epoch: i16,
    /// Transaction timeout the producer asked for.
    pub timeout_ms: i32,
    /// Where the transaction stands.
    pub state: TxnState,
    /// Partitions in the current transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// Consumer groups whose offsets the current transaction commits.
    pub groups: BTreeSet<String>,
    /// When the current transaction started (first partition or group added), -1 if none.
    pub start_ms: i64,
    /// When the metadata last changed.
    pub last_update_ms: i64,
}

/// The markers a transition asks the coordinator to write, then complete with [`TxnMetadata::complete`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The producer.
    pub producer_id: i64,
    /// The epoch the markers carry.
    pub epoch: i16,
    /// Commit (else abort).
    pub commit: bool,
    /// Partitions to write a marker to.
    pub partitions: Vec<(String, i32)>,
    /// Groups whose transactional offsets to complete.
    pub groups: Vec<String>,
}

/// What EndTxn should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndAction {
    /// Write these markers, then complete.
    Complete(Completion),
    /// A retry of an EndTxn that already finished: answer success.
    AlreadyDone,
}

impl TxnMetadata {
    /// A new transactional id with a fresh producer id, epoch 0.
    pub fn new(producer_id: i64, timeout_ms: i32, now_ms: i64) -> Self {
        Self {
            producer_id,
            epoch: 0,
            last_epoch: -1,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            groups: BTreeSet::new(),
            start_ms: -1,
            last_update_ms: now_ms,
        }
    }

    /// Checks that a request comes from the current producer: another producer id is
    /// INVALID_PRODUCER_ID_MAPPING, another epoch PRODUCER_FENCED.
    pub fn check_producer(&self, producer_id: i64, epoch: i16) -> Result<(), ResponseError> {
        if producer_id != self.producer_id {
            return Err(ResponseError::InvalidProducerIdMapping);
        }
        if epoch != self.epoch {
            return Err(ResponseError::ProducerFenced);
        }
        Ok(())
    }

    /// InitProducerId for an existing transactional id (no transaction in flight: see [`TxnMetadata::fence`]).
    /// `expected` is the (producer id, epoch) a KIP-360 producer says it has, or None. Bumps the epoch, or moves
    /// to a new producer id from `allocate` when the epoch is exhausted.
    pub fn reinit(
        &mut self,
        expected: Option<(i64, i16)>,
        timeout_ms: i32,
        now_ms: i64,
        allocate: impl FnOnce() -> Result<i64, ResponseError>,
    ) -> Result<(), ResponseError> {
        if self.state.is_preparing() || self.state == TxnState::Ongoing {
            return Err(ResponseError::ConcurrentTransactions);
        }
        if let Some((pid, epoch)) = expected {
            // The current producer, or one fenced by a timeout abort (its epoch is the one before the bump).
            let current = pid == self.producer_id && (epoch == self.epoch || epoch == self.last_epoch);
            if !current {
                return Err(ResponseError::ProducerFenced);
            }
        }
        if self.epoch >= i16::MAX - 1 {
            self.producer_id = allocate()?;
            self.last_epoch = -1;
            self.epoch = 0;
        } else {
            self.last_epoch = self.epoch;
            self.epoch += 1;
        }
        self.timeout_ms = timeout_ms;
        self.state = TxnState::Empty;
        self.partitions.clear();
        self.groups.clear();
        self.start_ms = -1;
        self.last_update_ms = now_ms;
        Ok(())
    }

    fn begin_or_continue(&mut self, now_ms: i64) -> Result<(), ResponseError> {
        match self.state {
            TxnState::Ongoing => {}
            s if s.is_preparing() => return Err(ResponseError::ConcurrentTransactions),
            TxnState::Dead => return Err(ResponseError::InvalidTxnState),
            _ => {
                self.state = TxnState::Ongoing;
                self.partitions.clear();
                self.groups.clear();
                self.start_ms = now_ms;
            }
        }
        self.last_update_ms = now_ms;
        Ok(())
    }

    /// AddPartitionsToTxn.
    pub fn add_partitions(
        &mut self,
        producer_id: i64,
        epoch: i16,
        partitions: impl IntoIterator<Item = (String, i32)>,
        now_ms: i64,
    ) -> Result<(), ResponseError> {
        self.check_producer(producer_id, epoch)?;
        self.begin_or_continue(now_ms)?;
        self.partitions.extend(partitions);
        Ok(())
    }

    /// AddOffsetsToTxn.
    pub fn add_group(&mut self, producer_id: i64, epoch: i16, group: String, now_ms: i64) -> Result<(), ResponseError> {
        self.check_producer(producer_id, epoch)?;
        self.begin_or_continue(now_ms)?;
        self.groups.insert(group);
        Ok(())
    }

    /// EndTxn: moves to PrepareCommit/PrepareAbort and names the markers to write.
    pub fn end(&mut self, producer_id: i64, epoch: i16, commit: bool, now_ms: i64) -> Result<EndAction, ResponseError> {
        self.check_producer(producer_id, epoch)?;
        match (self.state, commit) {
            (TxnState::Ongoing, _) => Ok(EndAction::Complete(self.prepare(commit, now_ms))),
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(EndAction::AlreadyDone),
            (s, _) if s.is_preparing() => Err(ResponseError::ConcurrentTransactions),
            _ => Err(ResponseError::InvalidTxnState),
        }
    }

    /// Bumps the epoch and aborts the ongoing transaction (a timeout, or a new producer with the same
    /// transactional id): the old producer's next request is fenced, and the markers carry the new epoch so
    /// the partitions fence it too.
    pub fn fence(&mut self, now_ms: i64) -> Completion {
        self.last_epoch = self.epoch;
        self.epoch = self.epoch.saturating_add(1);
        self.prepare(false, now_ms)
    }

    fn prepare(&mut self, commit: bool, now_ms: i64) -> Completion {
        self.state = if commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort };
        self.last_update_ms = now_ms;
        Completion {
            producer_id: self.producer_id,
            epoch: self.epoch,
            commit,
            partitions: self.partitions.iter().cloned().collect(),
            groups: self.groups.iter().cloned().collect(),
        }
    }

    /// The markers a prepared transaction still needs (PrepareCommit, PrepareAbort), for whoever finishes it
    /// after its EndTxn could not: the timer, or a coordinator that took over the partition.
    pub fn pending_completion(&self) -> Option<Completion> {
        let commit = match self.state {
            TxnState::PrepareCommit => true,
            TxnState::PrepareAbort => false,
            _ => return None,
        };
        Some(Completion {
            producer_id: self.producer_id,
            epoch: self.epoch,
            commit,
            partitions: self.partitions.iter().cloned().collect(),
            groups: self.groups.iter().cloned().collect(),
        })
    }

    /// The markers are written: the transaction is complete.
    pub fn complete(&mut self, commit: bool, now_ms: i64) {
        self.state = if commit { TxnState::CompleteCommit } else { TxnState::CompleteAbort };
        self.partitions.clear();
        self.groups.clear();
        self.start_ms = -1;
        self.last_update_ms = now_ms;
    }

    /// Whether the ongoing transaction outlived its timeout at `now_ms`.
    pub fn timed_out(&self, now_ms: i64) -> bool {
        self.state == TxnState::Ongoing && now_ms.saturating_sub(self.start_ms) > i64::from(self.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ongoing() -> TxnMetadata {
        let mut m = TxnMetadata::new(7, 60_000, 0);
        m.add_partitions(7, 0, [("t".to_string(), 0), ("t".to_string(), 1)], 10).unwrap();
        m
    }

    #[test]
    fn commit_and_abort_go_through_prepare_to_complete() {
        let mut m = ongoing();
        assert_eq!((m.state, m.start_ms), (TxnState::Ongoing, 10));
        let EndAction::Complete(c) = m.end(7, 0, true, 20).unwrap() else { panic!("expected markers") };
        assert_eq!(c.partitions, vec![("t".to_string(), 0), ("t".to_string(), 1)]);
        assert!(c.commit);
        assert_eq!(m.state, TxnState::PrepareCommit);
        assert_eq!(m.add_partitions(7, 0, [("t".to_string(), 2)], 21), Err(ResponseError::ConcurrentTransactions));
        assert_eq!(m.end(7, 0, true, 21), Err(ResponseError::ConcurrentTransactions));
        m.complete(true, 22);
        assert_eq!(m.state, TxnState::CompleteCommit);
        assert!(m.partitions.is_empty());
        // A retried commit succeeds; an abort now is out of place.
        assert_eq!(m.end(7, 0, true, 23), Ok(EndAction::AlreadyDone));
        assert_eq!(m.end(7, 0, false, 23), Err(ResponseError::InvalidTxnState));
        // The next transaction starts afresh.
        m.add_group(7, 0, "g".into(), 30).unwrap();
        assert_eq!((m.state, m.start_ms, m.partitions.len()), (TxnState::Ongoing, 30, 0));
    }

    #[test]
    fn wrong_producers_are_refused() {
        let mut m = ongoing();
        assert_eq!(m.add_partitions(8, 0, [], 11), Err(ResponseError::InvalidProducerIdMapping));
        assert_eq!(m.end(7, 1, true, 11), Err(ResponseError::ProducerFenced));
        assert_eq!(TxnMetadata::new(1, 1, 0).end(1, 0, true, 1), Err(ResponseError::InvalidTxnState));
    }

    #[test]
    fn fencing_bumps_the_epoch_and_aborts() {
        let mut m = ongoing();
        assert_eq!(m.reinit(None, 1000, 50, || Ok(99)), Err(ResponseError::ConcurrentTransactions));
        let c = m.fence(50);
        assert_eq!((c.epoch, c.commit, m.state), (1, false, TxnState::PrepareAbort));
        m.complete(false, 51);
        // The fenced producer is refused; it may resume with its old epoch through InitProducerId (KIP-360).
        assert_eq!(m.end(7, 0, false, 52), Err(ResponseError::ProducerFenced));
        m.reinit(Some((7, 0)), 1000, 53, || Ok(99)).unwrap();
        assert_eq!((m.producer_id, m.epoch, m.state), (7, 2, TxnState::Empty));
        assert_eq!(m.reinit(Some((7, 0)), 1000, 54, || Ok(99)), Err(ResponseError::ProducerFenced));
        // An exhausted epoch moves to a new producer id.
        m.epoch = i16::MAX - 1;
        m.reinit(None, 1000, 55, || Ok(99)).unwrap();
        assert_eq!((m.producer_id, m.epoch), (99, 0));
    }

    #[test]
    fn timeouts_count_from_the_first_add() {
        let m = ongoing();
        assert!(!m.timed_out(60_010));
        assert!(m.timed_out(60_011));
        assert!(!TxnMetadata::new(1, 0, 0).timed_out(i64::MAX));
    }
}
