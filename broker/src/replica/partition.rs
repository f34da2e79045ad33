//! One partition this broker is a replica of: its log and its role (leader tracking its followers, follower of a
//! given leader and epoch, or waiting for a leader). The role sits behind a lock that leader appends and follower
//! appends hold (shared) while they write, and role changes take (exclusive): a batch is never appended under a
//! role the partition no longer has.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;
use parking_lot::{RwLock, RwLockReadGuard};
use tokio::sync::watch;
use tokio::time::Instant;
use uuid::Uuid;

use super::leader::LeaderState;
use crate::controller::{MetadataCommand, PartitionRecord};
use crate::log::PartitionLog;

/// What this broker is for the partition.
#[derive(Debug)]
pub(crate) enum Role {
    /// It leads, at `LeaderState::epoch`.
    Leader(LeaderState),
    /// It copies from `leader`, which leads at `epoch`.
    Follower { leader: i32, epoch: i32 },
    /// No leader is elected (no live ISR member).
    Leaderless,
    /// It is no longer a replica here (reassigned away or topic deleted): stale users must let go.
    Gone,
}

/// An ISR change to propose for a led partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IsrProposal {
    pub(crate) leader_epoch: i32,
    pub(crate) command: MetadataCommand,
}

/// One partition this broker holds a replica of.
#[derive(Debug)]
pub(crate) struct Replica {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) topic_id: Uuid,
    pub(crate) log: Arc<PartitionLog>,
    role: RwLock<Role>,
    /// Some(epoch) while this broker leads: waits for the high watermark stop when it changes.
    leading: watch::Sender<Option<i32>>,
}

/// Kafka's answer to a request naming leader epoch `requested` (-1: no check) when the partition is at `current`.
pub(crate) fn check_epoch(requested: i32, current: i32) -> Result<(), ResponseError> {
    if requested < 0 || requested == current {
        Ok(())
    } else if requested < current {
        Err(ResponseError::FencedLeaderEpoch)
    } else {
        Err(ResponseError::UnknownLeaderEpoch)
    }
}

impl Replica {
    pub(crate) fn new(topic: &str, partition: i32, topic_id: Uuid, log: Arc<PartitionLog>) -> Self {
        // From now on only the replication protocol moves the high watermark, whatever the role.
        log.set_replicated(true);
        Self {
            topic: topic.to_string(),
            partition,
            topic_id,
            log,
            role: RwLock::new(Role::Leaderless),
            leading: watch::channel(None).0,
        }
    }

    /// The leader epoch while this broker leads.
    pub(crate) fn leader_epoch(&self) -> Option<i32> {
        *self.leading.borrow()
    }

    /// Watches leadership: Some(epoch) while leading.
    pub(crate) fn subscribe_leading(&self) -> watch::Receiver<Option<i32>> {
        self.leading.subscribe()
    }

    /// The role, held for reading (appends hold it across the write).
    pub(crate) fn role(&self) -> RwLockReadGuard<'_, Role> {
        self.role.read()
    }

    /// Takes the leadership described by `record`. Returns true when a leadership begins (false: this broker
    /// already led at that epoch and only the ISR or replicas changed). The high watermark stays where it was.
    pub(crate) fn become_leader(&self, node_id: i32, record: &PartitionRecord, now: Instant) -> bool {
        let mut role = self.role.write();
        if let Role::Leader(state) = &mut *role {
            if state.epoch == record.leader_epoch {
                state.update(record, self.log.log_end_offset(), now);
                return false;
            }
        }
        self.log.set_leader_epoch(record.leader_epoch);
        *role = Role::Leader(LeaderState::new(node_id, record, self.log.log_end_offset(), now));
        self.leading.send_replace(Some(record.leader_epoch));
        true
    }

    /// Takes a role other than leader: follower, leaderless, or gone. Returns the epoch of the leadership this ended, if this broker led, and whether anything
    /// changed.
    pub(crate) fn become_other(&self, next: Role) -> (Option<i32>, bool) {
        let mut role = self.role.write();
        let same = match (&*role, &next) {
            (Role::Follower { leader: a, epoch: e }, Role::Follower { leader: b, epoch: f }) => a == b && e == f,
            (Role::Leaderless, Role::Leaderless) | (Role::Gone, Role::Gone) => true,
            _ => false,
        };
        if same {
            return (None, false);
        }
        let ended = match &*role {
            Role::Leader(state) => Some(state.epoch),
            _ => None,
        };
        if let Role::Follower { epoch, .. } = &next {
            // Nothing is appended through `append` on a follower; the epoch matters once it leads again.
            self.log.set_leader_epoch(*epoch);
        }
        *role = next;
        self.leading.send_replace(None);
        (ended, true)
    }

    /// Moves the high watermark up to what the ISR has, if this broker leads. Monotone, so racing callers are
    /// harmless: each sets a value that was true when it looked.
    pub(crate) fn advance_high_watermark(&self) {
        let role = self.role.read();
        if let Role::Leader(state) = &*role {
            self.raise_hw(state);
        }
    }

    fn raise_hw(&self, state: &LeaderState) {
        if let Some(hw) = state.high_watermark(self.log.log_end_offset()) {
            if hw > self.log.high_watermark() {
                self.log.set_high_watermark(hw);
            }
        }
    }

    /// A follower's fetch (from the Fetch handler): checks this broker leads at `current_leader_epoch`, records
    /// the follower's progress, advances the high watermark, and returns an ISR expansion to propose if the
    /// follower just caught up.
    pub(crate) fn on_follower_fetch(
        &self,
        replica: i32,
        current_leader_epoch: i32,
        fetch_offset: i64,
        now: Instant,
    ) -> Result<Option<IsrProposal>, ResponseError> {
        let mut role = self.role.write();
        let Role::Leader(state) = &mut *role else { return Err(ResponseError::NotLeaderOrFollower) };
        check_epoch(current_leader_epoch, state.epoch)?;
        let leo = self.log.log_end_offset();
        // A fetch offset beyond the end is answered OFFSET_OUT_OF_RANGE by the read; it says nothing of progress.
        if fetch_offset > leo {
            return Ok(None);
        }
        if !state.on_fetch(replica, fetch_offset, leo, now) {
            return Err(ResponseError::NotLeaderOrFollower);
        }
        self.raise_hw(state);
        let hw = self.log.high_watermark();
        Ok(state.expansion(replica, hw, now).map(|isr| {
            state.begin_proposal(isr.clone());
            self.proposal(state, isr)
        }))
    }

    /// An ISR shrink to propose, if a follower has not caught up for longer than `lag_max`.
    pub(crate) fn shrink_check(&self, now: Instant, lag_max: Duration) -> Option<IsrProposal> {
        let mut role = self.role.write();
        let Role::Leader(state) = &mut *role else { return None };
        let isr = state.shrink(self.log.log_end_offset(), now, lag_max)?;
        state.begin_proposal(isr.clone());
        Some(self.proposal(state, isr))
    }

    fn proposal(&self, state: &LeaderState, isr: Vec<i32>) -> IsrProposal {
        IsrProposal {
            leader_epoch: state.epoch,
            command: MetadataCommand::AlterPartition {
                topic: self.topic.clone(),
                partition: self.partition,
                leader: state.node_id(),
                leader_epoch: state.epoch,
                partition_epoch: state.partition_epoch,
                isr,
            },
        }
    }

    /// The proposal made at `leader_epoch` was answered.
    pub(crate) fn end_proposal(&self, leader_epoch: i32, ok: bool, now: Instant) {
        if let Role::Leader(state) = &mut *self.role.write() {
            if state.epoch == leader_epoch {
                state.end_proposal(ok, now);
            }
        }
    }

    /// The committed ISR size; 0 when not leading.
    pub(crate) fn isr_len(&self) -> usize {
        match &*self.role.read() {
            Role::Leader(state) => state.isr.len(),
            _ => 0,
        }
    }
}
