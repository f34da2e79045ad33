//! Rebalance rounds of a classic group: entering PreparingRebalance, completing the join (generation,
//! protocol vote, leader), removing members, and the deadlines that drive all of it.

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::time::Instant;

use super::{error_join, error_sync, ClassicGroup, Effects, GroupState, Member, Settings};

impl ClassicGroup {
    pub(super) fn prepare_rebalance(&mut self, now: Instant, settings: &Settings, fx: &mut Effects) {
        if self.state == GroupState::CompletingRebalance {
            // The assignment being waited for belongs to a generation that will never be Stable.
            for member in self.members.values_mut() {
                member.assignment = Bytes::new();
                if let Some(tx) = member.sync_waiter.take() {
                    fx.syncs.push((tx, error_sync(ResponseError::RebalanceInProgress)));
                }
            }
        }
        let rebalance_timeout = self.members.values().map(|m| m.rebalance_timeout).max().unwrap_or_default();
        let was_empty = self.state == GroupState::Empty;
        self.state = GroupState::PreparingRebalance;
        self.join_deadline = Some(now + rebalance_timeout);
        self.initial_delay = (was_empty && !settings.initial_delay.is_zero())
            .then(|| ((now + settings.initial_delay).min(now + rebalance_timeout), now + rebalance_timeout));
        tracing::debug!(group = %self.id, generation = self.generation, "preparing rebalance");
    }

    fn all_joined(&self) -> bool {
        self.pending.is_empty() && self.members.values().all(|m| m.join_waiter.is_some())
    }

    pub(super) fn try_complete_join(&mut self, now: Instant, fx: &mut Effects) {
        if self.state == GroupState::PreparingRebalance && self.initial_delay.is_none() && self.all_joined() {
            self.complete_join(now, fx);
        }
    }

    /// Ends PreparingRebalance: members that did not rejoin are dropped, the generation advances, a protocol
    /// and a leader are chosen and every waiting join is answered.
    fn complete_join(&mut self, now: Instant, fx: &mut Effects) {
        let absent: Vec<String> =
            self.members.values().filter(|m| m.join_waiter.is_none()).map(|m| m.id.clone()).collect();
        for id in absent {
            tracing::info!(group = %self.id, member = %id, "member did not rejoin within the rebalance timeout; removed");
            self.forget_member(&id, fx);
        }
        self.join_deadline = None;
        self.initial_delay = None;
        self.generation = self.generation.wrapping_add(1);
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol = None;
            self.leader = None;
            fx.writes.push(self.metadata_write(crate::coordinator::group::now_ms()));
            tracing::info!(group = %self.id, generation = self.generation, "group is empty");
            return;
        }
        self.protocol = self.select_protocol();
        if !self.leader.as_ref().is_some_and(|l| self.members.contains_key(l)) {
            self.leader = self.members.values().min_by_key(|m| m.seq).map(|m| m.id.clone());
        }
        self.state = GroupState::CompletingRebalance;
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let answer = self.current_join_answer(&id);
            if let Some(member) = self.members.get_mut(&id) {
                member.session_deadline = now + member.session_timeout;
                if let Some(tx) = member.join_waiter.take() {
                    fx.joins.push((tx, answer));
                }
            }
        }
        tracing::info!(
            group = %self.id,
            generation = self.generation,
            members = self.members.len(),
            protocol = ?self.protocol,
            "rebalance: members joined"
        );
    }

    /// Kafka's vote: among the protocols every member supports, each member votes for its most preferred
    /// one; the most votes win (ties go to the earliest member's preference).
    fn select_protocol(&self) -> Option<String> {
        let mut by_seq: Vec<&Member> = self.members.values().collect();
        by_seq.sort_by_key(|m| m.seq);
        let first = by_seq.first()?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(name, _)| name)
            .filter(|name| by_seq.iter().all(|m| m.protocols.iter().any(|(n, _)| n == *name)))
            .collect();
        let mut votes: HashMap<&String, usize> = HashMap::new();
        for m in &by_seq {
            if let Some((name, _)) = m.protocols.iter().find(|(n, _)| candidates.contains(&n)) {
                *votes.entry(name).or_default() += 1;
            }
        }
        let best = candidates.iter().map(|c| votes.get(c).copied().unwrap_or(0)).max()?;
        candidates.into_iter().find(|c| votes.get(c).copied().unwrap_or(0) == best).cloned()
    }

    pub(super) fn forget_member(&mut self, id: &str, fx: &mut Effects) {
        if let Some(mut member) = self.members.remove(id) {
            if let Some(instance) = &member.instance_id {
                if self.static_members.get(instance).is_some_and(|m| m == id) {
                    self.static_members.remove(instance);
                }
            }
            if let Some(tx) = member.join_waiter.take() {
                fx.joins.push((tx, error_join(ResponseError::UnknownMemberId, id)));
            }
            if let Some(tx) = member.sync_waiter.take() {
                fx.syncs.push((tx, error_sync(ResponseError::UnknownMemberId)));
            }
        }
    }

    pub(super) fn remove_member(&mut self, id: &str, now: Instant, settings: &Settings, fx: &mut Effects) {
        self.forget_member(id, fx);
        if matches!(self.state, GroupState::Stable | GroupState::CompletingRebalance) {
            self.prepare_rebalance(now, settings, fx);
        }
        self.try_complete_join(now, fx);
    }

    /// Applies every deadline that has passed at `now`: expired sessions, pending member ids, the end of
    /// the initial delay or of the rebalance timeout.
    pub(crate) fn on_timer(&mut self, now: Instant, settings: &Settings, fx: &mut Effects) {
        let before = self.pending.len();
        self.pending.retain(|_, deadline| *deadline > now);
        if self.pending.len() != before {
            self.try_complete_join(now, fx);
        }
        let expired: Vec<String> =
            self.members.values().filter(|m| m.session_deadline <= now).map(|m| m.id.clone()).collect();
        for id in expired {
            let Some(member) = self.members.get_mut(&id) else { continue };
            // A member waiting for its join or sync answer is alive; the rebalance deadline bounds that wait.
            if member.join_waiter.is_some() || member.sync_waiter.is_some() {
                member.session_deadline = now + member.session_timeout;
                continue;
            }
            tracing::info!(group = %self.id, member = %id, "member session expired; removed");
            self.remove_member(&id, now, settings, fx);
        }
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        if let Some((at, _)) = self.initial_delay {
            if at <= now {
                self.initial_delay = None;
                self.complete_join(now, fx);
            }
        } else if self.join_deadline.is_some_and(|d| d <= now) {
            self.complete_join(now, fx);
        }
    }
}
