//! The classic group protocol's state machine (Empty, PreparingRebalance, CompletingRebalance, Stable): joins,
//! syncs, heartbeats, leaves and deadlines, as pure transitions on one group. No I/O: every transition
//! records what must be written to `__consumer_offsets` and which waiting requests to answer in [`Effects`],
//! which the coordinator applies (write first, then answer).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

mod rebalance;

use super::records::{self, GroupValue, OffsetValue, StoredMember};
use super::store::Write;
use super::{JoinAnswer, JoinRequest, JoinedMember, SyncAnswer, SyncRequest};

/// Where a classic group is in its rebalance cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupState {
    /// No members (offsets may remain).
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Assigned; members heartbeat.
    Stable,
}

impl GroupState {
    /// Kafka's name for the state, as DescribeGroups and ListGroups report it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// Timing settings from the broker config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) min_session_ms: i32,
    pub(crate) max_session_ms: i32,
    pub(crate) initial_delay: Duration,
}

/// One member of a classic group.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) session_timeout: Duration,
    pub(crate) rebalance_timeout: Duration,
    /// (protocol name, metadata), in the member's order of preference.
    pub(crate) protocols: Vec<(String, Bytes)>,
    pub(crate) assignment: Bytes,
    join_waiter: Option<oneshot::Sender<JoinAnswer>>,
    sync_waiter: Option<oneshot::Sender<SyncAnswer>>,
    session_deadline: Instant,
    /// Join order, so the first member to join leads when the leader leaves.
    seq: u64,
}

impl Member {
    /// The metadata this member sent for `protocol`.
    pub(crate) fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols.iter().find(|(name, _)| name == protocol).map(|(_, m)| m.clone()).unwrap_or_default()
    }
}

/// Writes to make and requests to answer after a transition.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub(crate) writes: Vec<Write>,
    pub(crate) joins: Vec<(oneshot::Sender<JoinAnswer>, JoinAnswer)>,
    pub(crate) syncs: Vec<(oneshot::Sender<SyncAnswer>, SyncAnswer)>,
}

/// An answer now, or one to wait for (the join or sync completes when the rebalance does).
#[derive(Debug)]
pub(crate) enum Reply<T> {
    Now(T),
    Wait(oneshot::Receiver<T>),
}

/// One group: its classic membership (possibly none) and its committed offsets.
#[derive(Debug)]
pub(crate) struct ClassicGroup {
    pub(crate) id: String,
    pub(crate) state: GroupState,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol: Option<String>,
    pub(crate) generation: i32,
    pub(crate) leader: Option<String>,
    pub(crate) members: BTreeMap<String, Member>,
    /// group.instance.id -> member id of static members.
    pub(crate) static_members: HashMap<String, String>,
    /// KIP-394: member ids handed out with MEMBER_ID_REQUIRED, and until when they may come back.
    pending: HashMap<String, Instant>,
    /// PreparingRebalance ends at this point whether or not everyone rejoined.
    join_deadline: Option<Instant>,
    /// The initial rebalance delay of a group leaving Empty: (ends at, may be pushed back until).
    initial_delay: Option<(Instant, Instant)>,
    next_seq: u64,
    /// Committed offsets: (topic, partition) -> offset.
    pub(crate) offsets: BTreeMap<(String, i32), OffsetValue>,
    /// Offsets of open transactions, by producer id; invisible until the transaction's marker commits them.
    pub(crate) txn_offsets: records::PendingByProducer,
    /// Wakes the group's timer task when a deadline moves earlier.
    pub(crate) notify: Arc<Notify>,
    pub(crate) timer_running: bool,
}

fn error_join(error: ResponseError, member_id: &str) -> JoinAnswer {
    JoinAnswer {
        error: Some(error),
        generation: -1,
        protocol_type: None,
        protocol_name: None,
        leader: String::new(),
        member_id: member_id.to_string(),
        skip_assignment: false,
        members: Vec::new(),
    }
}

fn error_sync(error: ResponseError) -> SyncAnswer {
    SyncAnswer { error: Some(error), protocol_type: None, protocol_name: None, assignment: Bytes::new() }
}

fn millis(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl ClassicGroup {
    pub(crate) fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            state: GroupState::Empty,
            protocol_type: None,
            protocol: None,
            generation: 0,
            leader: None,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            pending: HashMap::new(),
            join_deadline: None,
            initial_delay: None,
            next_seq: 0,
            offsets: BTreeMap::new(),
            txn_offsets: HashMap::new(),
            notify: Arc::new(Notify::new()),
            timer_running: false,
        }
    }

    /// A group loaded from `__consumer_offsets`: Empty, with its last generation and protocol type.
    pub(crate) fn restored(id: &str, value: &GroupValue) -> Self {
        let mut group = Self::new(id);
        group.generation = value.generation;
        if !value.protocol_type.is_empty() {
            group.protocol_type = Some(value.protocol_type.clone());
        }
        group
    }

    /// True when nothing is left to remember: no members, no offsets, no open transactions.
    pub(crate) fn is_forgettable(&self) -> bool {
        self.members.is_empty() && self.pending.is_empty() && self.offsets.is_empty() && self.txn_offsets.is_empty()
    }

    /// The earliest moment something in this group times out, if anything can.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let sessions = self.members.values().map(|m| m.session_deadline);
        let pending = self.pending.values().copied();
        let rebalance = if self.state == GroupState::PreparingRebalance {
            self.initial_delay.map(|(at, _)| at).or(self.join_deadline)
        } else {
            None
        };
        sessions.chain(pending).chain(rebalance).min()
    }

    /// The record describing this group's membership now.
    pub(crate) fn metadata_write(&self, now_ms: i64) -> Write {
        let protocol = self.protocol.clone();
        let members = self
            .members
            .values()
            .map(|m| StoredMember {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                rebalance_timeout_ms: m.rebalance_timeout.as_millis() as i32,
                session_timeout_ms: m.session_timeout.as_millis() as i32,
                subscription: protocol.as_deref().map(|p| m.metadata_for(p)).unwrap_or_default(),
                assignment: m.assignment.clone(),
            })
            .collect();
        let value = GroupValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol,
            leader: self.leader.clone(),
            state_timestamp: now_ms,
            members,
        };
        (records::group_key(&self.id), Some(records::group_value(&value)))
    }

    fn is_fenced(&self, instance_id: Option<&str>, member_id: &str) -> bool {
        instance_id.and_then(|i| self.static_members.get(i)).is_some_and(|id| id != member_id)
    }

    /// Can a member speaking `protocol_type` with `protocols` join? Kafka's rule: an empty group takes any
    /// non-empty offer; otherwise the type must match and one protocol must be supported by every member.
    fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        protocols.iter().any(|(name, _)| self.members.values().all(|m| m.protocols.iter().any(|(n, _)| n == name)))
    }

    /// JoinGroup.
    pub(crate) fn join(
        &mut self,
        req: JoinRequest,
        now: Instant,
        settings: &Settings,
        fx: &mut Effects,
    ) -> Reply<JoinAnswer> {
        if req.session_timeout_ms < settings.min_session_ms || req.session_timeout_ms > settings.max_session_ms {
            return Reply::Now(error_join(ResponseError::InvalidSessionTimeout, &req.member_id));
        }
        let rejoining = self.members.get(&req.member_id);
        let offer_ok = match rejoining {
            // A lone member may change its protocols freely.
            Some(_) if self.members.len() == 1 => !req.protocol_type.is_empty() && !req.protocols.is_empty(),
            _ => self.supports(&req.protocol_type, &req.protocols),
        };
        if !offer_ok {
            return Reply::Now(error_join(ResponseError::InconsistentGroupProtocol, &req.member_id));
        }
        if req.member_id.is_empty() {
            self.join_new(req, now, settings, fx)
        } else {
            self.join_known(req, now, settings, fx)
        }
    }

    fn join_new(&mut self, req: JoinRequest, now: Instant, settings: &Settings, fx: &mut Effects) -> Reply<JoinAnswer> {
        if let Some(instance) = req.group_instance_id.clone() {
            if let Some(old_id) = self.static_members.get(&instance).cloned() {
                return self.replace_static(&old_id, req, now, settings, fx);
            }
            // Static members skip the MEMBER_ID_REQUIRED round: their instance id already names them.
            let id = format!("{instance}-{}", uuid::Uuid::new_v4());
            return Reply::Wait(self.add_member(id, req, now, settings, fx));
        }
        let id = format!("{}-{}", req.client_id, uuid::Uuid::new_v4());
        if req.require_known_member_id {
            // KIP-394: hand out the id first, so a client that times out and retries does not leave a
            // ghost member behind for a whole session.
            self.pending.insert(id.clone(), now + millis(req.session_timeout_ms));
            return Reply::Now(error_join(ResponseError::MemberIdRequired, &id));
        }
        Reply::Wait(self.add_member(id, req, now, settings, fx))
    }

    fn add_member(
        &mut self,
        id: String,
        req: JoinRequest,
        now: Instant,
        settings: &Settings,
        fx: &mut Effects,
    ) -> oneshot::Receiver<JoinAnswer> {
        let (tx, rx) = oneshot::channel();
        if self.members.is_empty() {
            self.protocol_type = Some(req.protocol_type.clone());
        }
        if let Some(instance) = &req.group_instance_id {
            self.static_members.insert(instance.clone(), id.clone());
        }
        self.pending.remove(&id);
        let seq = self.next_seq;
        self.next_seq += 1;
        let member = Member {
            id: id.clone(),
            instance_id: req.group_instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            session_timeout: millis(req.session_timeout_ms),
            rebalance_timeout: millis(req.rebalance_timeout_ms),
            protocols: req.protocols,
            assignment: Bytes::new(),
            join_waiter: Some(tx),
            sync_waiter: None,
            session_deadline: now + millis(req.session_timeout_ms),
            seq,
        };
        self.members.insert(id, member);
        match self.state {
            GroupState::PreparingRebalance => {
                // New members during the initial delay push it back, up to the rebalance timeout.
                if let Some((at, cap)) = &mut self.initial_delay {
                    *at = (now + settings.initial_delay).min(*cap).max(*at);
                }
            }
            _ => self.prepare_rebalance(now, settings, fx),
        }
        self.try_complete_join(now, fx);
        rx
    }

    /// A known group.instance.id joining with no member id: the static member restarted. As in Kafka, it
    /// takes a new member id and the old one is fenced; in a Stable group with unchanged protocols it gets
    /// the current generation and assignment back without a rebalance.
    fn replace_static(
        &mut self,
        old_id: &str,
        req: JoinRequest,
        now: Instant,
        settings: &Settings,
        fx: &mut Effects,
    ) -> Reply<JoinAnswer> {
        let Some(mut member) = self.members.remove(old_id) else {
            self.static_members.retain(|_, id| id != old_id);
            return self.join_new(req, now, settings, fx);
        };
        let instance = req.group_instance_id.clone().unwrap_or_default();
        let new_id = format!("{instance}-{}", uuid::Uuid::new_v4());
        if let Some(tx) = member.join_waiter.take() {
            fx.joins.push((tx, error_join(ResponseError::FencedInstanceId, old_id)));
        }
        if let Some(tx) = member.sync_waiter.take() {
            fx.syncs.push((tx, error_sync(ResponseError::FencedInstanceId)));
        }
        let unchanged = member.protocols == req.protocols;
        member.id = new_id.clone();
        member.client_id = req.client_id;
        member.client_host = req.client_host;
        member.session_timeout = millis(req.session_timeout_ms);
        member.rebalance_timeout = millis(req.rebalance_timeout_ms);
        member.protocols = req.protocols;
        member.session_deadline = now + member.session_timeout;
        self.static_members.insert(instance, new_id.clone());
        if self.leader.as_deref() == Some(old_id) {
            self.leader = Some(new_id.clone());
        }
        if self.state == GroupState::Stable && unchanged {
            self.members.insert(new_id.clone(), member);
            fx.writes.push(self.metadata_write(super::now_ms()));
            let mut answer = self.current_join_answer(&new_id);
            // KIP-814: a static leader that is told to skip assignment keeps the current one.
            answer.skip_assignment = req.supports_skip_assignment && self.leader.as_deref() == Some(new_id.as_str());
            return Reply::Now(answer);
        }
        let (tx, rx) = oneshot::channel();
        member.join_waiter = Some(tx);
        self.members.insert(new_id, member);
        if self.state != GroupState::PreparingRebalance {
            self.prepare_rebalance(now, settings, fx);
        }
        self.try_complete_join(now, fx);
        Reply::Wait(rx)
    }

    fn join_known(&mut self, req: JoinRequest, now: Instant, settings: &Settings, fx: &mut Effects) -> Reply<JoinAnswer> {
        let id = req.member_id.clone();
        if self.pending.contains_key(&id) {
            return Reply::Wait(self.add_member(id, req, now, settings, fx));
        }
        if self.is_fenced(req.group_instance_id.as_deref(), &id) {
            return Reply::Now(error_join(ResponseError::FencedInstanceId, &id));
        }
        let state = self.state;
        let is_leader = self.leader.as_deref() == Some(id.as_str());
        let Some(unchanged) = self.members.get(&id).map(|m| m.protocols == req.protocols) else {
            return Reply::Now(error_join(ResponseError::UnknownMemberId, &id));
        };
        match state {
            GroupState::Empty => return Reply::Now(error_join(ResponseError::UnknownMemberId, &id)),
            // A member that lost the join answer asks again: give it the same answer.
            GroupState::CompletingRebalance if unchanged => return Reply::Now(self.current_join_answer(&id)),
            GroupState::Stable if unchanged && !is_leader => return Reply::Now(self.current_join_answer(&id)),
            _ => {}
        }
        let Some(member) = self.members.get_mut(&id) else {
            return Reply::Now(error_join(ResponseError::UnknownMemberId, &id));
        };
        let (tx, rx) = oneshot::channel();
        member.protocols = req.protocols;
        member.session_timeout = millis(req.session_timeout_ms);
        member.rebalance_timeout = millis(req.rebalance_timeout_ms);
        member.session_deadline = now + member.session_timeout;
        member.join_waiter = Some(tx);
        if state != GroupState::PreparingRebalance {
            self.prepare_rebalance(now, settings, fx);
        }
        self.try_complete_join(now, fx);
        Reply::Wait(rx)
    }

    /// The join answer of the current generation for `member_id` (the leader also gets the members).
    fn current_join_answer(&self, member_id: &str) -> JoinAnswer {
        let protocol = self.protocol.clone().unwrap_or_default();
        let is_leader = self.leader.as_deref() == Some(member_id);
        JoinAnswer {
            error: None,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            member_id: member_id.to_string(),
            skip_assignment: false,
            members: if is_leader {
                self.members
                    .values()
                    .map(|m| JoinedMember {
                        member_id: m.id.clone(),
                        group_instance_id: m.instance_id.clone(),
                        metadata: m.metadata_for(&protocol),
                    })
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    /// SyncGroup.
    pub(crate) fn sync(&mut self, req: SyncRequest, now: Instant, fx: &mut Effects) -> Reply<SyncAnswer> {
        if self.is_fenced(req.group_instance_id.as_deref(), &req.member_id) {
            return Reply::Now(error_sync(ResponseError::FencedInstanceId));
        }
        if !self.members.contains_key(&req.member_id) || self.state == GroupState::Empty {
            return Reply::Now(error_sync(ResponseError::UnknownMemberId));
        }
        if req.generation != self.generation {
            return Reply::Now(error_sync(ResponseError::IllegalGeneration));
        }
        let type_mismatch = req.protocol_type.as_ref().is_some_and(|t| Some(t) != self.protocol_type.as_ref());
        let name_mismatch = req.protocol_name.as_ref().is_some_and(|n| Some(n) != self.protocol.as_ref());
        if type_mismatch || name_mismatch {
            return Reply::Now(error_sync(ResponseError::InconsistentGroupProtocol));
        }
        let ok = |assignment: Bytes, group: &Self| SyncAnswer {
            error: None,
            protocol_type: group.protocol_type.clone(),
            protocol_name: group.protocol.clone(),
            assignment,
        };
        match self.state {
            GroupState::Empty => Reply::Now(error_sync(ResponseError::UnknownMemberId)),
            GroupState::PreparingRebalance => Reply::Now(error_sync(ResponseError::RebalanceInProgress)),
            GroupState::Stable => {
                // The leader of a static rejoin may send a fresh assignment; the group keeps the current one.
                let member = self.members.get_mut(&req.member_id);
                let assignment = member.map(|m| {
                    m.session_deadline = now + m.session_timeout;
                    m.assignment.clone()
                });
                Reply::Now(ok(assignment.unwrap_or_default(), self))
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(member) = self.members.get_mut(&req.member_id) {
                    member.sync_waiter = Some(tx);
                    member.session_deadline = now + member.session_timeout;
                }
                if self.leader.as_deref() == Some(req.member_id.as_str()) {
                    let mut assignments = req.assignments;
                    for member in self.members.values_mut() {
                        member.assignment = assignments.remove(&member.id).unwrap_or_default();
                    }
                    self.state = GroupState::Stable;
                    fx.writes.push(self.metadata_write(super::now_ms()));
                    let answers: Vec<_> = self
                        .members
                        .values_mut()
                        .filter_map(|m| m.sync_waiter.take().map(|tx| (tx, m.assignment.clone())))
                        .collect();
                    for (tx, assignment) in answers {
                        fx.syncs.push((tx, ok(assignment, self)));
                    }
                    tracing::info!(group = %self.id, generation = self.generation, "group is stable");
                }
                Reply::Wait(rx)
            }
        }
    }

    /// Heartbeat: keeps a member alive and tells it whether to rejoin.
    pub(crate) fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> Result<(), ResponseError> {
        if self.is_fenced(instance_id, member_id) {
            return Err(ResponseError::FencedInstanceId);
        }
        if self.state == GroupState::Empty {
            return Err(ResponseError::UnknownMemberId);
        }
        let state = self.state;
        let group_generation = self.generation;
        let member = self.members.get_mut(member_id).ok_or(ResponseError::UnknownMemberId)?;
        if generation != group_generation {
            return Err(ResponseError::IllegalGeneration);
        }
        member.session_deadline = now + member.session_timeout;
        match state {
            GroupState::PreparingRebalance => Err(ResponseError::RebalanceInProgress),
            _ => Ok(()),
        }
    }

    /// Keeps a member alive after a valid OffsetCommit, as Kafka does.
    pub(crate) fn touch(&mut self, member_id: &str, now: Instant) {
        if let Some(member) = self.members.get_mut(member_id) {
            member.session_deadline = now + member.session_timeout;
        }
    }

    /// LeaveGroup for one member (by member id, or by instance id with an empty member id).
    pub(crate) fn leave(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        now: Instant,
        settings: &Settings,
        fx: &mut Effects,
    ) -> Result<String, ResponseError> {
        let id = match (member_id.is_empty(), instance_id) {
            (true, Some(instance)) => {
                self.static_members.get(instance).cloned().ok_or(ResponseError::UnknownMemberId)?
            }
            _ => {
                if self.is_fenced(instance_id, member_id) {
                    return Err(ResponseError::FencedInstanceId);
                }
                member_id.to_string()
            }
        };
        if self.pending.remove(&id).is_some() {
            self.try_complete_join(now, fx);
            return Ok(id);
        }
        if !self.members.contains_key(&id) {
            return Err(ResponseError::UnknownMemberId);
        }
        tracing::info!(group = %self.id, member = %id, "member left");
        self.remove_member(&id, now, settings, fx);
        Ok(id)
    }

    /// The selected protocol's metadata of every member (OffsetDelete reads the consumer subscriptions).
    pub(crate) fn member_subscriptions(&self) -> Vec<Bytes> {
        let protocol = self.protocol.clone().unwrap_or_default();
        self.members.values().map(|m| m.metadata_for(&protocol)).collect()
    }
}
