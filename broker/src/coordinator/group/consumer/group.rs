//! One consumer-protocol group: its members, the group epoch, the target assignment of that epoch, and the
//! heartbeat state machine (join with epoch 0, leave with -1 or -2, heartbeat, fence).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_protocol::ResponseError;

use super::assignor::{self, Assignor, MemberSpec};
use super::reconcile::{self, MemberState, Reconciled};
use super::{Assignment, Config, Heartbeat, HeartbeatAnswer, Refusal, TopicMeta};

/// The member epoch a client sends to join, and gets back after leaving.
pub(crate) const JOIN_EPOCH: i32 = 0;
/// The member epoch of a leave.
pub(crate) const LEAVE_EPOCH: i32 = -1;
/// The member epoch of a static member's temporary leave (it keeps its partitions until its session ends).
pub(crate) const STATIC_LEAVE_EPOCH: i32 = -2;

/// One member of a group.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) instance_id: Option<String>,
    pub(crate) rack_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) subscribed: BTreeSet<String>,
    pub(crate) assignor: Option<Assignor>,
    pub(crate) rebalance_timeout: Duration,
    pub(crate) reconciled: Reconciled,
    /// When the member is fenced unless it heartbeats again.
    pub(crate) session_deadline: Instant,
    /// When a member that has not given up its revoked partitions is fenced.
    pub(crate) revocation_deadline: Option<Instant>,
}

/// A consumer-protocol group.
#[derive(Debug, Default, Clone)]
pub(crate) struct Group {
    /// Bumped by every change that needs a new target assignment.
    pub(crate) epoch: i32,
    /// The group epoch the current target assignment was computed for.
    pub(crate) assignment_epoch: i32,
    pub(crate) members: BTreeMap<String, Member>,
    pub(crate) target: BTreeMap<String, Assignment>,
    /// The subscribed topics as they were when the target was computed; a change (topic created, deleted,
    /// partitions added) needs a new target.
    pub(crate) topics: BTreeMap<String, TopicMeta>,
    pub(crate) assignor: Option<Assignor>,
    /// The `__consumer_offsets` records last written for this group, by key (see `persist`).
    pub(crate) persisted: BTreeMap<bytes::Bytes, bytes::Bytes>,
}

/// A group's state as ConsumerGroupDescribe and ListGroups name it.
pub(crate) fn state_name(group: &Group) -> &'static str {
    if group.members.is_empty() {
        "Empty"
    } else if group.assignment_epoch < group.epoch {
        "Assigning"
    } else if group
        .members
        .values()
        .any(|m| m.reconciled.epoch != group.assignment_epoch || m.reconciled.state != MemberState::Stable)
    {
        "Reconciling"
    } else {
        "Stable"
    }
}

impl Group {
    /// Answers one heartbeat of this group; `lookup` resolves topic names to ids and partition counts.
    pub(crate) fn heartbeat(
        &mut self,
        request: Heartbeat,
        now: Instant,
        config: &Config,
        lookup: &dyn Fn(&str) -> Option<TopicMeta>,
    ) -> Result<HeartbeatAnswer, Refusal> {
        let interval = config.heartbeat_interval.as_millis().min(i32::MAX as u128) as i32;
        let assignor = match request.server_assignor.as_deref() {
            None | Some("") => None,
            Some(name) => Some(Assignor::from_name(name).ok_or_else(|| {
                Refusal::new(ResponseError::UnsupportedAssignor, format!("unknown server assignor {name:?}; this broker has uniform and range"))
            })?),
        };
        match request.member_epoch {
            LEAVE_EPOCH | STATIC_LEAVE_EPOCH => return self.leave(&request, config, lookup),
            JOIN_EPOCH => self.join(&request, assignor, now, config)?,
            _ => self.update(&request, assignor)?,
        }
        let full = request.member_epoch == JOIN_EPOCH
            || (request.rebalance_timeout_ms != -1 && request.subscribed_topic_names.is_some() && request.owned.is_some());
        self.refresh_target(lookup);
        let member_id = request.member_id.clone();
        let before = self.members.get(&member_id).map(|m| m.reconciled.assigned.clone());
        self.reconcile(&member_id, request.owned.as_ref(), now);
        let member = self
            .members
            .get_mut(&member_id)
            .ok_or_else(|| Refusal::new(ResponseError::UnknownServerError, "member vanished during a heartbeat (a bug)"))?;
        member.session_deadline = now + config.session_timeout;
        let assigned = reconcile::normalized(&member.reconciled.assigned);
        let changed = before.as_ref().map(reconcile::normalized) != Some(assigned.clone());
        Ok(HeartbeatAnswer {
            member_id,
            member_epoch: member.reconciled.epoch,
            heartbeat_interval_ms: interval,
            assignment: (full || changed).then_some(assigned),
        })
    }

    fn join(
        &mut self,
        request: &Heartbeat,
        assignor: Option<Assignor>,
        now: Instant,
        config: &Config,
    ) -> Result<(), Refusal> {
        let subscribed: BTreeSet<String> =
            request.subscribed_topic_names.iter().flatten().cloned().collect();
        let rebalance_timeout = Duration::from_millis(u64::try_from(request.rebalance_timeout_ms).unwrap_or(0));
        // A static member coming back takes over what its previous incarnation held, without a rebalance.
        if let Some(instance) = &request.instance_id {
            let holder = self
                .members
                .iter()
                .find(|(id, m)| m.instance_id.as_deref() == Some(instance) && **id != request.member_id)
                .map(|(id, m)| (id.clone(), m.reconciled.epoch));
            if let Some((old_id, old_epoch)) = holder {
                if old_epoch != STATIC_LEAVE_EPOCH {
                    return Err(Refusal::new(
                        ResponseError::UnreleasedInstanceId,
                        format!("static member {instance:?} is still held by member {old_id}"),
                    ));
                }
                let mut member = self.members.remove(&old_id).ok_or_else(|| {
                    Refusal::new(ResponseError::UnknownServerError, "static member vanished (a bug)")
                })?;
                member.reconciled.epoch = member.reconciled.previous_epoch;
                member.client_id = request.client_id.clone();
                member.client_host = request.client_host.clone();
                member.rack_id = request.rack_id.clone();
                member.rebalance_timeout = rebalance_timeout;
                if let Some(target) = self.target.remove(&old_id) {
                    self.target.insert(request.member_id.clone(), target);
                }
                if member.subscribed != subscribed || member.assignor != assignor {
                    member.subscribed = subscribed;
                    member.assignor = assignor;
                    self.epoch += 1;
                }
                self.members.insert(request.member_id.clone(), member);
                return Ok(());
            }
        }
        // Joining again with a known id (after being fenced, or a restart): the old incarnation's partitions
        // are gone with it.
        self.members.remove(&request.member_id);
        self.members.insert(
            request.member_id.clone(),
            Member {
                instance_id: request.instance_id.clone(),
                rack_id: request.rack_id.clone(),
                client_id: request.client_id.clone(),
                client_host: request.client_host.clone(),
                subscribed,
                assignor,
                rebalance_timeout,
                reconciled: Reconciled {
                    state: MemberState::Stable,
                    epoch: 0,
                    previous_epoch: 0,
                    assigned: Assignment::new(),
                    revoking: Assignment::new(),
                },
                session_deadline: now + config.session_timeout,
                revocation_deadline: None,
            },
        );
        self.epoch += 1;
        Ok(())
    }

    fn update(&mut self, request: &Heartbeat, assignor: Option<Assignor>) -> Result<(), Refusal> {
        let member = self.members.get_mut(&request.member_id).ok_or_else(|| {
            Refusal::new(ResponseError::UnknownMemberId, format!("member {} is not in the group", request.member_id))
        })?;
        let current = member.reconciled.epoch;
        let received = request.member_epoch;
        // A member may be one epoch behind when our last answer was lost, provided it owns nothing it was
        // not given; anything else means it missed a rebalance and must rejoin.
        let lost_answer = received == member.reconciled.previous_epoch
            && request.owned.as_ref().is_some_and(|owned| reconcile::is_subset(owned, &member.reconciled.assigned));
        if received != current && !lost_answer {
            return Err(Refusal::new(
                ResponseError::FencedMemberEpoch,
                format!("member {} sent epoch {received}, its epoch is {current}", request.member_id),
            ));
        }
        if request.rebalance_timeout_ms > 0 {
            member.rebalance_timeout = Duration::from_millis(request.rebalance_timeout_ms as u64);
        }
        if request.rack_id.is_some() {
            member.rack_id = request.rack_id.clone();
        }
        let mut bump = false;
        if let Some(names) = &request.subscribed_topic_names {
            let subscribed: BTreeSet<String> = names.iter().cloned().collect();
            if subscribed != member.subscribed {
                member.subscribed = subscribed;
                bump = true;
            }
        }
        if request.server_assignor.is_some() && assignor != member.assignor {
            member.assignor = assignor;
            bump = true;
        }
        if bump {
            self.epoch += 1;
        }
        Ok(())
    }

    fn leave(
        &mut self,
        request: &Heartbeat,
        config: &Config,
        lookup: &dyn Fn(&str) -> Option<TopicMeta>,
    ) -> Result<HeartbeatAnswer, Refusal> {
        let interval = config.heartbeat_interval.as_millis().min(i32::MAX as u128) as i32;
        let answer = |epoch| HeartbeatAnswer {
            member_id: request.member_id.clone(),
            member_epoch: epoch,
            heartbeat_interval_ms: interval,
            assignment: None,
        };
        let Some(member) = self.members.get_mut(&request.member_id) else {
            return Err(Refusal::new(
                ResponseError::UnknownMemberId,
                format!("member {} is not in the group", request.member_id),
            ));
        };
        if request.member_epoch == STATIC_LEAVE_EPOCH && member.instance_id.is_some() {
            // Static leave: the partitions stay reserved for the same instance until its session ends.
            if member.reconciled.epoch != STATIC_LEAVE_EPOCH {
                member.reconciled.previous_epoch = member.reconciled.epoch;
                member.reconciled.epoch = STATIC_LEAVE_EPOCH;
            }
            return Ok(answer(STATIC_LEAVE_EPOCH));
        }
        self.remove_member(&request.member_id, lookup);
        Ok(answer(LEAVE_EPOCH))
    }

    /// Removes a member (leave or fenced) and computes the target without it.
    pub(crate) fn remove_member(&mut self, member_id: &str, lookup: &dyn Fn(&str) -> Option<TopicMeta>) {
        if self.members.remove(member_id).is_some() {
            self.target.remove(member_id);
            self.epoch += 1;
            self.refresh_target(lookup);
        }
    }

    /// Computes a new target assignment when the group epoch moved or a subscribed topic changed.
    fn refresh_target(&mut self, lookup: &dyn Fn(&str) -> Option<TopicMeta>) {
        let names: BTreeSet<&String> = self.members.values().flat_map(|m| &m.subscribed).collect();
        let topics: BTreeMap<String, TopicMeta> =
            names.into_iter().filter_map(|name| lookup(name).map(|meta| (name.clone(), meta))).collect();
        if topics != self.topics {
            self.topics = topics;
            // One bump per change: a join that also brings a new topic is one new epoch, not two.
            if self.assignment_epoch == self.epoch {
                self.epoch += 1;
            }
        }
        if self.assignment_epoch == self.epoch {
            return;
        }
        self.assignor = self.chosen_assignor();
        let specs: BTreeMap<&str, MemberSpec<'_>> = self
            .members
            .iter()
            .map(|(id, m)| (id.as_str(), MemberSpec { subscribed: &m.subscribed, previous: self.target.get(id) }))
            .collect();
        let target = assignor::assign(self.assignor.unwrap_or(Assignor::Uniform), &specs, &self.topics);
        self.target = target;
        self.assignment_epoch = self.epoch;
    }

    /// The assignor most members ask for (ties and no preference: uniform, the default).
    pub(crate) fn chosen_assignor(&self) -> Option<Assignor> {
        let mut votes: BTreeMap<Assignor, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some(a) = m.assignor {
                *votes.entry(a).or_default() += 1;
            }
        }
        let best = votes.iter().map(|(a, n)| (*n, std::cmp::Reverse(*a))).max()?;
        Some(best.1 .0)
    }

    /// Moves `member_id` one step towards its target.
    fn reconcile(&mut self, member_id: &str, owned: Option<&Assignment>, now: Instant) {
        let owners: BTreeMap<(uuid::Uuid, i32), &str> = self
            .members
            .iter()
            .filter(|(id, _)| id.as_str() != member_id)
            .flat_map(|(id, m)| {
                let held = reconcile::partitions(&m.reconciled.assigned);
                let revoking = reconcile::partitions(&m.reconciled.revoking);
                held.into_iter().chain(revoking).map(move |tp| (tp, id.as_str()))
            })
            .collect();
        let taken = |topic: uuid::Uuid, p: i32| owners.contains_key(&(topic, p));
        let empty = Assignment::new();
        let target = self.target.get(member_id).unwrap_or(&empty);
        let Some(member) = self.members.get(member_id) else { return };
        let next = reconcile::next(&member.reconciled, self.assignment_epoch, target, owned, &taken);
        let Some(member) = self.members.get_mut(member_id) else { return };
        if next.state == MemberState::UnrevokedPartitions {
            if member.revocation_deadline.is_none() {
                member.revocation_deadline = Some(now + member.rebalance_timeout);
            }
        } else {
            member.revocation_deadline = None;
        }
        member.reconciled = next;
    }

    /// Fences members whose session or revocation time ran out; returns their ids.
    pub(crate) fn expire(&mut self, now: Instant, lookup: &dyn Fn(&str) -> Option<TopicMeta>) -> Vec<String> {
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.session_deadline <= now || m.revocation_deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            self.remove_member(id, lookup);
        }
        expired
    }
}
