//! The leader's view of one partition: each follower's progress, the in-sync replica set (committed and
//! proposed) and what the high watermark may advance to. Pure bookkeeping, no I/O: the caller passes the
//! leader's log end offset and the time.
//!
//! Follows Kafka's rules: a follower is caught up when its fetch offset reached the leader's log end offset as it
//! was at that fetch (`lastCaughtUpTimeMs`); the high watermark is the smallest log end offset over the maximal
//! ISR (the committed one plus any member being added, so a proposed expansion can never make the HW run ahead
//! of a replica the controller may already count as in sync).

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::controller::PartitionRecord;

/// A follower's log end offset nobody knows yet (it has not fetched since this leadership began).
const UNKNOWN: i64 = -1;

/// What the leader knows about one follower.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FollowerProgress {
    /// The follower's log end offset: its last fetch offset (it has every record below it).
    pub(crate) leo: i64,
    /// When the follower last had everything the leader had (see the module doc); None: never in this leadership.
    pub(crate) last_caught_up: Option<Instant>,
    /// The leader's log end offset at the follower's previous fetch, and when that fetch came.
    last_fetch_leader_leo: i64,
    last_fetch_time: Option<Instant>,
}

impl FollowerProgress {
    fn new(in_sync: bool, leader_leo: i64, now: Instant) -> Self {
        // Kafka gives ISR members a fresh caught-up time when a leadership begins: they were in sync under the
        // previous leader, and must get replica_lag_time_max_ms to show they still are.
        Self {
            leo: UNKNOWN,
            last_caught_up: in_sync.then_some(now),
            last_fetch_leader_leo: leader_leo,
            last_fetch_time: in_sync.then_some(now),
        }
    }

    fn caught_up(&self, leader_leo: i64, now: Instant, lag_max: Duration) -> bool {
        self.leo == leader_leo || self.last_caught_up.is_some_and(|t| now.saturating_duration_since(t) <= lag_max)
    }
}

/// An AlterPartition in flight.
#[derive(Debug, Clone)]
struct Pending {
    isr: Vec<i32>,
}

/// One led partition.
#[derive(Debug)]
pub(crate) struct LeaderState {
    node_id: i32,
    /// The leader epoch of this leadership.
    pub(crate) epoch: i32,
    /// The partition epoch of the last record seen: AlterPartition must name it.
    pub(crate) partition_epoch: i32,
    pub(crate) replicas: Vec<i32>,
    /// The committed ISR (what the image says).
    pub(crate) isr: Vec<i32>,
    /// The leader's log end offset when this leadership began: a follower joins the ISR only once it has it.
    pub(crate) epoch_start_offset: i64,
    followers: BTreeMap<i32, FollowerProgress>,
    pending: Option<Pending>,
    /// After a refused or failed proposal, no new one before this.
    quiet_until: Option<Instant>,
}

/// How long after a refused or failed AlterPartition the leader waits before proposing again.
const PROPOSAL_BACKOFF: Duration = Duration::from_millis(500);

impl LeaderState {
    /// A new leadership of `record` (whose leader is `node_id`) starting at log end offset `leader_leo`.
    pub(crate) fn new(node_id: i32, record: &PartitionRecord, leader_leo: i64, now: Instant) -> Self {
        let followers = record
            .replicas
            .iter()
            .filter(|&&r| r != node_id)
            .map(|&r| (r, FollowerProgress::new(record.isr.contains(&r), leader_leo, now)))
            .collect();
        Self {
            node_id,
            epoch: record.leader_epoch,
            partition_epoch: record.partition_epoch,
            replicas: record.replicas.clone(),
            isr: record.isr.clone(),
            epoch_start_offset: leader_leo,
            followers,
            pending: None,
            quiet_until: None,
        }
    }

    /// A newer record of the same leadership (ISR or replicas changed): keeps the followers' progress.
    pub(crate) fn update(&mut self, record: &PartitionRecord, leader_leo: i64, now: Instant) {
        if record.partition_epoch != self.partition_epoch {
            // Whatever was in flight was applied or overtaken: either way the image is now the truth.
            self.pending = None;
        }
        self.partition_epoch = record.partition_epoch;
        self.isr = record.isr.clone();
        self.replicas = record.replicas.clone();
        self.followers.retain(|r, _| record.replicas.contains(r));
        for &r in record.replicas.iter().filter(|&&r| r != self.node_id) {
            self.followers.entry(r).or_insert_with(|| FollowerProgress::new(false, leader_leo, now));
        }
    }

    /// The leader's node id.
    pub(crate) fn node_id(&self) -> i32 {
        self.node_id
    }

    /// Records a fetch of follower `replica` at `fetch_offset` when the leader's log ends at `leader_leo`.
    /// False when `replica` is not an assigned replica of the partition.
    pub(crate) fn on_fetch(&mut self, replica: i32, fetch_offset: i64, leader_leo: i64, now: Instant) -> bool {
        let Some(f) = self.followers.get_mut(&replica) else { return false };
        if fetch_offset >= leader_leo {
            f.last_caught_up = Some(now);
        } else if fetch_offset >= f.last_fetch_leader_leo {
            // It now has what the leader had at its previous fetch: it was caught up as of then.
            f.last_caught_up = f.last_fetch_time.max(f.last_caught_up);
        }
        f.leo = fetch_offset;
        f.last_fetch_leader_leo = leader_leo;
        f.last_fetch_time = Some(now);
        true
    }

    /// The progress of `replica`, if it is a follower of this partition.
    #[cfg(test)]
    pub(crate) fn follower(&self, replica: i32) -> Option<&FollowerProgress> {
        self.followers.get(&replica)
    }

    /// The committed ISR plus members a pending proposal adds.
    fn maximal_isr(&self) -> impl Iterator<Item = i32> + '_ {
        let added = self.pending.iter().flat_map(|p| p.isr.iter().copied()).filter(|r| !self.isr.contains(r));
        self.isr.iter().copied().chain(added)
    }

    /// What the high watermark may be: the smallest log end offset over the maximal ISR (the leader's own
    /// included); None while a member's log end offset is unknown.
    pub(crate) fn high_watermark(&self, leader_leo: i64) -> Option<i64> {
        let mut hw = leader_leo;
        for r in self.maximal_isr().filter(|&r| r != self.node_id) {
            // An ISR member that is not an assigned replica cannot happen in a consistent image; it holds nothing.
            let leo = self.followers.get(&r).map_or(UNKNOWN, |f| f.leo);
            if leo == UNKNOWN {
                return None;
            }
            hw = hw.min(leo);
        }
        Some(hw)
    }

    /// Committed ISR members caught up within `lag_max`, the leader included: what `min.insync.replicas` is
    /// checked against before an acks=all append.
    pub(crate) fn live_isr(&self, leader_leo: i64, now: Instant, lag_max: Duration) -> usize {
        self.isr
            .iter()
            .filter(|&&r| {
                r == self.node_id || self.followers.get(&r).is_some_and(|f| f.caught_up(leader_leo, now, lag_max))
            })
            .count()
    }

    fn may_propose(&self, now: Instant) -> bool {
        self.pending.is_none() && self.quiet_until.is_none_or(|t| now >= t)
    }

    /// The ISR to propose if `replica` may join it: it is a follower outside the ISR whose log reaches the high
    /// watermark `hw` and the start of this leadership, and no other proposal is in flight.
    pub(crate) fn expansion(&self, replica: i32, hw: i64, now: Instant) -> Option<Vec<i32>> {
        let f = self.followers.get(&replica)?;
        if self.isr.contains(&replica) || !self.may_propose(now) || f.leo < hw || f.leo < self.epoch_start_offset {
            return None;
        }
        let mut isr = self.isr.clone();
        isr.push(replica);
        Some(isr)
    }

    /// The ISR to propose without the members that have not caught up for longer than `lag_max`, if any.
    pub(crate) fn shrink(&self, leader_leo: i64, now: Instant, lag_max: Duration) -> Option<Vec<i32>> {
        if !self.may_propose(now) {
            return None;
        }
        let keep: Vec<i32> = self
            .isr
            .iter()
            .copied()
            .filter(|&r| {
                r == self.node_id || self.followers.get(&r).is_some_and(|f| f.caught_up(leader_leo, now, lag_max))
            })
            .collect();
        (keep.len() < self.isr.len()).then_some(keep)
    }

    /// Notes a proposal of `isr` sent: no other until it is answered.
    pub(crate) fn begin_proposal(&mut self, isr: Vec<i32>) {
        self.pending = Some(Pending { isr });
    }

    /// The proposal was answered. Applied (`ok`): it stays pending until the image carrying it arrives (that
    /// image clears it). Refused or failed: the next one waits a little.
    pub(crate) fn end_proposal(&mut self, ok: bool, now: Instant) {
        if !ok {
            self.pending = None;
            self.quiet_until = Some(now + PROPOSAL_BACKOFF);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(replicas: &[i32], isr: &[i32]) -> PartitionRecord {
        PartitionRecord {
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader: 1,
            leader_epoch: 3,
            partition_epoch: 7,
            adding_replicas: vec![],
            removing_replicas: vec![],
        }
    }

    const LAG: Duration = Duration::from_secs(10);

    #[test]
    fn high_watermark_waits_for_every_isr_member() {
        let now = Instant::now();
        let mut s = LeaderState::new(1, &record(&[1, 2, 3], &[1, 2, 3]), 10, now);
        assert_eq!(s.high_watermark(10), None, "followers' ends unknown at the start of a leadership");
        s.on_fetch(2, 10, 10, now);
        assert_eq!(s.high_watermark(10), None);
        s.on_fetch(3, 8, 10, now);
        assert_eq!(s.high_watermark(10), Some(8));
        s.on_fetch(3, 10, 12, now);
        assert_eq!(s.high_watermark(12), Some(10));
        // Outside the ISR a follower holds nothing back.
        s.update(&PartitionRecord { partition_epoch: 8, ..record(&[1, 2, 3], &[1, 2]) }, 12, now);
        assert_eq!(s.high_watermark(12), Some(10));
        s.on_fetch(2, 12, 12, now);
        assert_eq!(s.high_watermark(12), Some(12));
    }

    #[test]
    fn a_lagging_follower_is_shrunk_and_a_caught_up_one_expands() {
        let start = Instant::now();
        let mut s = LeaderState::new(1, &record(&[1, 2, 3], &[1, 2, 3]), 0, start);
        s.on_fetch(2, 0, 0, start);
        s.on_fetch(3, 0, 0, start);
        assert_eq!(s.shrink(0, start + LAG, LAG), None);
        // 2 keeps up with appends, 3 stops fetching.
        s.on_fetch(2, 0, 5, start + LAG / 2);
        s.on_fetch(2, 5, 9, start + LAG);
        let later = start + LAG + Duration::from_millis(1);
        assert_eq!(s.live_isr(9, later, LAG), 2);
        assert_eq!(s.shrink(9, later, LAG), Some(vec![1, 2]));
        s.begin_proposal(vec![1, 2]);
        assert_eq!(s.shrink(9, later, LAG), None, "one proposal at a time");
        s.update(&PartitionRecord { partition_epoch: 8, ..record(&[1, 2, 3], &[1, 2]) }, 9, later);
        // 3 comes back: below the HW it stays out, at the HW it joins.
        s.on_fetch(2, 9, 9, later);
        let hw = s.high_watermark(9).expect("known");
        assert_eq!(hw, 9);
        s.on_fetch(3, 4, 9, later);
        assert_eq!(s.expansion(3, hw, later), None);
        s.on_fetch(3, 9, 9, later);
        assert_eq!(s.expansion(3, hw, later), Some(vec![1, 2, 3]));
        s.begin_proposal(vec![1, 2, 3]);
        // While 3 is being added, the HW waits for it too.
        assert_eq!(s.high_watermark(11), Some(9));
        s.end_proposal(false, later);
        assert_eq!(s.expansion(3, hw, later), None, "backs off after a refusal");
        assert!(s.expansion(3, hw, later + PROPOSAL_BACKOFF).is_some());
    }

    #[test]
    fn caught_up_time_is_the_previous_fetch_when_the_follower_reaches_that_end() {
        let start = Instant::now();
        let mut s = LeaderState::new(1, &record(&[1, 2], &[1]), 0, start);
        let t1 = start + Duration::from_secs(1);
        // At t1 the leader ends at 10; the follower is at 3.
        s.on_fetch(2, 3, 10, t1);
        assert_eq!(s.follower(2).and_then(|f| f.last_caught_up), None);
        // At t2 the follower has 10 (what the leader had at t1) while the leader moved on to 20.
        s.on_fetch(2, 10, 20, t1 + Duration::from_secs(1));
        assert_eq!(s.follower(2).and_then(|f| f.last_caught_up), Some(t1));
    }
}
