//! Unit tests of the consumer protocol: assignors, reconciliation, fencing and expiry, with a driven clock.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::assignor::{self, Assignor, MemberSpec};
use super::*;

const GROUP: &str = "g";

fn topic_id(name: &str) -> Uuid {
    // Fixed ids keep assignments readable in failures.
    match name {
        "t" => Uuid::from_u128(1),
        "u" => Uuid::from_u128(2),
        _ => Uuid::from_u128(99),
    }
}

/// A topic table the tests can change between heartbeats.
struct Topics(BTreeMap<String, i32>);

impl Topics {
    fn new(topics: &[(&str, i32)]) -> Self {
        Self(topics.iter().map(|(n, p)| (n.to_string(), *p)).collect())
    }

    fn lookup(&self) -> impl Fn(&str) -> Option<TopicMeta> + '_ {
        |name| self.0.get(name).map(|&partitions| TopicMeta { id: topic_id(name), partitions })
    }
}

fn parts(topic: &str, ps: &[i32]) -> Assignment {
    let mut a = Assignment::new();
    if !ps.is_empty() {
        a.insert(topic_id(topic), ps.iter().copied().collect());
    }
    a
}

fn count(a: &Assignment) -> usize {
    a.values().map(BTreeSet::len).sum()
}

fn join(member: &str, topics: &[&str]) -> Heartbeat {
    Heartbeat {
        group_id: GROUP.into(),
        member_id: member.into(),
        member_epoch: 0,
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(topics.iter().map(|t| t.to_string()).collect()),
        owned: Some(Assignment::new()),
        ..Heartbeat::default()
    }
}

fn beat(member: &str, epoch: i32, owned: Option<Assignment>) -> Heartbeat {
    Heartbeat {
        group_id: GROUP.into(),
        member_id: member.into(),
        member_epoch: epoch,
        rebalance_timeout_ms: -1,
        owned,
        ..Heartbeat::default()
    }
}

/// A group of members with their last answers, driven like clients drive it: each heartbeat reports the
/// assignment the member last received as owned.
struct Harness {
    groups: ConsumerGroups,
    topics: Topics,
    now: Instant,
    members: BTreeMap<String, HeartbeatAnswer>,
}

impl Harness {
    fn new(topics: &[(&str, i32)]) -> Self {
        Self {
            groups: ConsumerGroups::new(Config {
                session_timeout: Duration::from_secs(45),
                heartbeat_interval: Duration::from_secs(5),
            }),
            topics: Topics::new(topics),
            now: Instant::now(),
            members: BTreeMap::new(),
        }
    }

    fn send(&mut self, request: Heartbeat) -> Result<HeartbeatAnswer, Refusal> {
        let lookup = self.topics.lookup();
        let answer = self.groups.heartbeat_at(request.clone(), self.now, &lookup)?;
        let entry = self.members.entry(answer.member_id.clone()).or_insert_with(|| answer.clone());
        entry.member_epoch = answer.member_epoch;
        if let Some(a) = &answer.assignment {
            entry.assignment = Some(a.clone());
        }
        Ok(answer)
    }

    fn join(&mut self, member: &str, topics: &[&str]) -> HeartbeatAnswer {
        self.send(join(member, topics)).expect("join accepted")
    }

    /// One heartbeat reporting what the member owns.
    fn beat(&mut self, member: &str) -> HeartbeatAnswer {
        let last = self.members[member].clone();
        let owned = last.assignment.clone().unwrap_or_default();
        self.send(beat(member, last.member_epoch, Some(owned))).expect("heartbeat accepted")
    }

    /// Heartbeats every member in turn until the group is stable.
    fn settle(&mut self) {
        for _ in 0..10 {
            let ids: Vec<String> = self.members.keys().cloned().collect();
            for id in ids {
                self.beat(&id);
            }
            if self.groups.describe_at(GROUP, self.now).map(|g| g.state) == Some("Stable") {
                return;
            }
        }
        panic!("group did not settle: {:?}", self.groups.describe_at(GROUP, self.now));
    }

    fn owned(&self, member: &str) -> Assignment {
        self.members[member].assignment.clone().unwrap_or_default()
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
    }
}

#[test]
fn uniform_spreads_evenly_and_keeps_what_survivors_had() {
    let topics: BTreeMap<String, TopicMeta> = [("t".to_string(), TopicMeta { id: topic_id("t"), partitions: 6 })].into();
    let subs: BTreeSet<String> = ["t".to_string()].into();
    let specs: BTreeMap<&str, MemberSpec<'_>> =
        ["a", "b", "c"].iter().map(|m| (*m, MemberSpec { subscribed: &subs, previous: None })).collect();
    let first = assignor::assign(Assignor::Uniform, &specs, &topics);
    assert!(first.values().all(|a| count(a) == 2), "{first:?}");
    let all: BTreeSet<_> = first.values().flat_map(reconcile::partitions).collect();
    assert_eq!(all.len(), 6);

    // "c" leaves: "a" and "b" keep their two each and split c's.
    let specs: BTreeMap<&str, MemberSpec<'_>> =
        ["a", "b"].iter().map(|m| (*m, MemberSpec { subscribed: &subs, previous: first.get(*m) })).collect();
    let second = assignor::assign(Assignor::Uniform, &specs, &topics);
    for m in ["a", "b"] {
        assert_eq!(count(&second[m]), 3);
        assert!(reconcile::is_subset(&first[m], &second[m]), "{m} lost a partition it had: {second:?}");
    }
}

#[test]
fn uniform_balances_mixed_subscriptions() {
    let topics: BTreeMap<String, TopicMeta> = [
        ("t".to_string(), TopicMeta { id: topic_id("t"), partitions: 4 }),
        ("u".to_string(), TopicMeta { id: topic_id("u"), partitions: 2 }),
    ]
    .into();
    let both: BTreeSet<String> = ["t".to_string(), "u".to_string()].into();
    let only_u: BTreeSet<String> = ["u".to_string()].into();
    let specs: BTreeMap<&str, MemberSpec<'_>> = [
        ("a", MemberSpec { subscribed: &both, previous: None }),
        ("b", MemberSpec { subscribed: &only_u, previous: None }),
    ]
    .into();
    let out = assignor::assign(Assignor::Uniform, &specs, &topics);
    assert_eq!(out["b"], parts("u", &[0, 1]), "b can only take u: {out:?}");
    assert_eq!(out["a"], parts("t", &[0, 1, 2, 3]));
}

#[test]
fn range_gives_contiguous_ranges_per_topic() {
    let topics: BTreeMap<String, TopicMeta> = [("t".to_string(), TopicMeta { id: topic_id("t"), partitions: 7 })].into();
    let subs: BTreeSet<String> = ["t".to_string()].into();
    let specs: BTreeMap<&str, MemberSpec<'_>> =
        ["a", "b", "c"].iter().map(|m| (*m, MemberSpec { subscribed: &subs, previous: None })).collect();
    let out = assignor::assign(Assignor::Range, &specs, &topics);
    assert_eq!(out["a"], parts("t", &[0, 1, 2]));
    assert_eq!(out["b"], parts("t", &[3, 4]));
    assert_eq!(out["c"], parts("t", &[5, 6]));
}

#[test]
fn a_member_gets_partitions_only_after_their_owner_revokes_them() {
    let mut h = Harness::new(&[("t", 6)]);
    let a = h.join("a", &["t"]);
    assert_eq!(a.member_epoch, 1);
    assert_eq!(a.assignment, Some(parts("t", &[0, 1, 2, 3, 4, 5])));

    // b joins: the target gives it half, but a still owns everything.
    let b = h.join("b", &["t"]);
    assert_eq!(b.member_epoch, 2);
    assert_eq!(b.assignment, Some(Assignment::new()));
    assert_eq!(h.groups.describe_at(GROUP, h.now).map(|g| g.state), Some("Reconciling"));

    // a is told to give up three partitions and keeps its epoch until it does.
    let a = h.beat("a");
    assert_eq!(a.member_epoch, 1);
    let kept = a.assignment.clone().expect("a's assignment changed");
    assert_eq!(count(&kept), 3);
    // Commits at the old epoch stay valid while a revokes.
    assert_eq!(h.groups.check_commit_at(GROUP, "a", 1, h.now), Some(Ok(())));

    // b heartbeats before a has acknowledged: still nothing.
    let b = h.beat("b");
    assert_eq!(b.assignment, None);

    // a acknowledges: it moves to epoch 2; then b receives the released partitions.
    let a = h.beat("a");
    assert_eq!(a.member_epoch, 2);
    let b = h.beat("b");
    let got = b.assignment.expect("b gets partitions");
    assert_eq!(count(&got), 3);
    assert!(reconcile::partitions(&got).is_disjoint(&reconcile::partitions(&kept)));
    assert_eq!(h.groups.describe_at(GROUP, h.now).map(|g| g.state), Some("Stable"));
}

#[test]
fn three_members_get_two_each_and_a_leave_moves_its_partitions() {
    let mut h = Harness::new(&[("t", 6)]);
    for m in ["a", "b", "c"] {
        h.join(m, &["t"]);
    }
    h.settle();
    for m in ["a", "b", "c"] {
        assert_eq!(count(&h.owned(m)), 2, "{m}: {:?}", h.owned(m));
    }
    let answer = h.send(beat("c", -1, None)).expect("leave accepted");
    assert_eq!(answer.member_epoch, -1);
    h.members.remove("c");
    h.settle();
    assert_eq!(count(&h.owned("a")) + count(&h.owned("b")), 6);
    assert_eq!(count(&h.owned("a")), 3);
}

#[test]
fn a_silent_member_is_fenced_after_the_session_timeout() {
    let mut h = Harness::new(&[("t", 4)]);
    h.join("a", &["t"]);
    h.join("b", &["t"]);
    h.settle();
    // Only a keeps heartbeating; b's 45 s session ends on a's ninth heartbeat.
    for _ in 0..8 {
        h.advance(Duration::from_secs(5));
        h.beat("a");
    }
    assert_eq!(count(&h.owned("a")), 2, "b is still in its session");
    h.advance(Duration::from_secs(5));
    let a = h.beat("a");
    assert_eq!(a.assignment, Some(parts("t", &[0, 1, 2, 3])), "b's partitions move to a once b is fenced");
    let b_epoch = h.members["b"].member_epoch;
    let refused = h.send(beat("b", b_epoch, None)).expect_err("b is gone");
    assert_eq!(refused.error, ResponseError::UnknownMemberId);
    assert_eq!(h.groups.check_commit_at(GROUP, "b", b_epoch, h.now), Some(Err(ResponseError::UnknownMemberId)));
}

#[test]
fn a_member_that_does_not_revoke_in_time_is_fenced() {
    let mut h = Harness::new(&[("t", 2)]);
    h.join("a", &["t"]);
    h.join("b", &["t"]);
    // a is asked to revoke and then never acknowledges (it heartbeats without reporting owned partitions).
    h.beat("a");
    for _ in 0..7 {
        h.advance(Duration::from_secs(5));
        let _ = h.send(beat("a", 1, None));
        h.beat("b");
    }
    let refused = h.send(beat("a", 1, None)).expect_err("a was fenced");
    assert_eq!(refused.error, ResponseError::UnknownMemberId);
    assert_eq!(count(&h.beat("b").assignment.unwrap_or_else(|| h.owned("b"))), 2);
}

#[test]
fn epochs_are_checked() {
    let mut h = Harness::new(&[("t", 2)]);
    h.join("a", &["t"]);
    let wrong = h.send(beat("a", 7, None)).expect_err("future epoch");
    assert_eq!(wrong.error, ResponseError::FencedMemberEpoch);
    let unknown = h.send(beat("nobody", 1, None)).expect_err("unknown member");
    assert_eq!(unknown.error, ResponseError::UnknownMemberId);
    assert_eq!(h.groups.check_commit_at(GROUP, "a", 1, h.now), Some(Ok(())));
    assert_eq!(h.groups.check_commit_at(GROUP, "a", 0, h.now), Some(Err(ResponseError::StaleMemberEpoch)));
    assert_eq!(h.groups.check_commit_at(GROUP, "", -1, h.now), Some(Err(ResponseError::UnknownMemberId)));
    assert_eq!(h.groups.check_commit_at("classic", "a", 1, h.now), None);
    // After everyone leaves, tools may commit with epoch -1.
    h.send(beat("a", -1, None)).expect("leave");
    assert_eq!(h.groups.check_commit_at(GROUP, "", -1, h.now), Some(Ok(())));
    assert_eq!(h.groups.list_at(h.now), vec![(GROUP.to_string(), "Empty".to_string())]);
}

#[test]
fn a_lost_answer_is_tolerated_one_epoch_back() {
    let mut h = Harness::new(&[("t", 2)]);
    h.join("a", &["t"]);
    h.join("b", &["t"]);
    h.beat("a"); // revoke
    let moved = h.beat("a"); // acknowledge: a moves from epoch 1 to 2, say this answer is lost
    assert_eq!(moved.member_epoch, 2);
    let owned = h.owned("a");
    let again = h.send(beat("a", 1, Some(owned.clone()))).expect("previous epoch with owned subset");
    assert_eq!(again.member_epoch, 2);
    // One epoch back while claiming a partition it was not given is fenced.
    let all = parts("t", &[0, 1]);
    let refused = h.send(beat("a", 1, Some(all))).expect_err("owns too much");
    assert_eq!(refused.error, ResponseError::FencedMemberEpoch);
}

#[test]
fn new_partitions_give_a_new_target() {
    let mut h = Harness::new(&[("t", 2)]);
    h.join("a", &["t"]);
    let epoch = h.members["a"].member_epoch;
    h.topics.0.insert("t".into(), 3);
    let a = h.beat("a");
    assert!(a.member_epoch > epoch);
    assert_eq!(a.assignment, Some(parts("t", &[0, 1, 2])));
}

#[test]
fn a_subscription_to_a_topic_created_later_is_assigned_when_it_appears() {
    let mut h = Harness::new(&[]);
    let a = h.join("a", &["u"]);
    assert_eq!(a.assignment, Some(Assignment::new()));
    h.topics.0.insert("u".into(), 1);
    assert_eq!(h.beat("a").assignment, Some(parts("u", &[0])));
}

#[test]
fn range_can_be_chosen_and_unknown_assignors_are_refused() {
    let mut h = Harness::new(&[("t", 3)]);
    let mut request = join("a", &["t"]);
    request.server_assignor = Some("range".into());
    h.send(request).expect("range accepted");
    assert_eq!(h.groups.describe_at(GROUP, h.now).map(|g| g.assignor), Some("range"));
    let mut request = join("b", &["t"]);
    request.server_assignor = Some("sticky-ish".into());
    assert_eq!(h.send(request).map(|_| ()).unwrap_err().error, ResponseError::UnsupportedAssignor);
}

#[test]
fn malformed_heartbeats_are_invalid_requests() {
    let mut h = Harness::new(&[("t", 1)]);
    let mut regex = join("a", &[]);
    regex.subscribed_topic_regex = Some("t.*".into());
    let mut no_subscription = join("a", &[]);
    no_subscription.subscribed_topic_names = None;
    let mut no_timeout = join("a", &["t"]);
    no_timeout.rebalance_timeout_ms = -1;
    let mut no_group = join("a", &["t"]);
    no_group.group_id.clear();
    let static_leave_without_instance = beat("a", -2, None);
    for request in [regex, no_subscription, no_timeout, no_group, static_leave_without_instance] {
        let refused = h.send(request.clone()).map(|_| ()).unwrap_err();
        assert_eq!(refused.error, ResponseError::InvalidRequest, "{request:?}");
    }
}

#[test]
fn a_v0_join_gets_a_broker_generated_member_id() {
    let mut h = Harness::new(&[("t", 1)]);
    let answer = h.join("", &["t"]);
    assert!(Uuid::parse_str(&answer.member_id).is_ok(), "{answer:?}");
    assert_eq!(answer.member_epoch, 1);
}

#[test]
fn a_static_member_keeps_its_partitions_across_a_restart() {
    let mut h = Harness::new(&[("t", 2)]);
    let mut request = join("a1", &["t"]);
    request.instance_id = Some("i".into());
    h.send(request).expect("join");
    h.join("b", &["t"]);
    h.settle();
    let had = h.owned("a1");
    let epoch_before = h.groups.describe_at(GROUP, h.now).expect("group").epoch;
    let mut leave = beat("a1", -2, None);
    leave.instance_id = Some("i".into());
    assert_eq!(h.send(leave).expect("static leave").member_epoch, -2);

    // The returning instance takes over the assignment without a rebalance.
    let mut back = join("a2", &["t"]);
    back.instance_id = Some("i".into());
    let answer = h.send(back).expect("rejoin");
    assert_eq!(answer.assignment.map(|a| reconcile::is_subset(&a, &had)), Some(true));
    assert_eq!(h.groups.describe_at(GROUP, h.now).expect("group").epoch, epoch_before);

    // A second process with the same instance id may not take it while the first holds it.
    let mut duplicate = join("a3", &["t"]);
    duplicate.instance_id = Some("i".into());
    assert_eq!(h.send(duplicate).map(|_| ()).unwrap_err().error, ResponseError::UnreleasedInstanceId);
}
