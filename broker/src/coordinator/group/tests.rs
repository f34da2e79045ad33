//! Unit tests of the classic group state machine and the offset store, on a real `__consumer_offsets` in a
//! temporary data dir. Time is paused, so session and rebalance timeouts are exact.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::sync::watch;

use super::*;

struct Fixture {
    _dir: tempfile::TempDir,
    topics: Arc<TopicRegistry>,
    config: BrokerConfig,
    _shutdown: watch::Sender<bool>,
    rx: watch::Receiver<bool>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let topics = Arc::new(TopicRegistry::open(dir.path(), BTreeMap::new()).expect("registry"));
        let config = BrokerConfig {
            offsets_topic_num_partitions: 3,
            group_initial_rebalance_delay_ms: 0,
            group_min_session_timeout_ms: 1_000,
            ..BrokerConfig::default()
        };
        let (tx, rx) = watch::channel(false);
        Self { _dir: dir, topics, config, _shutdown: tx, rx }
    }

    async fn open(&self) -> GroupCoordinator {
        GroupCoordinator::open(&self.topics, &self.config, self.rx.clone()).await.expect("open")
    }
}

pub(super) fn join_req(group: &str, member: &str, instance: Option<&str>) -> JoinRequest {
    JoinRequest {
        group_id: group.into(),
        member_id: member.into(),
        group_instance_id: instance.map(str::to_string),
        client_id: "client".into(),
        client_host: String::new(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(b"meta"))],
        require_known_member_id: true,
        supports_skip_assignment: false,
    }
}

pub(super) fn sync_req(group: &str, member: &str, generation: i32, assignments: &[(&str, &'static [u8])]) -> SyncRequest {
    SyncRequest {
        group_id: group.into(),
        member_id: member.into(),
        group_instance_id: None,
        generation,
        protocol_type: None,
        protocol_name: None,
        assignments: assignments.iter().map(|(m, a)| (m.to_string(), Bytes::from_static(a))).collect::<HashMap<_, _>>(),
    }
}

/// KIP-394: the first join hands out an id; the second one joins with it.
pub(super) async fn member_id(coord: &GroupCoordinator, group: &str) -> String {
    let first = coord.join(join_req(group, "", None)).await;
    assert_eq!(first.error, Some(ResponseError::MemberIdRequired));
    first.member_id
}

/// Two members join and sync; returns (leader, follower, generation).
pub(super) async fn stable_pair(coord: &GroupCoordinator, group: &str) -> (String, String, i32) {
    let a = member_id(coord, group).await;
    let b = member_id(coord, group).await;
    let (ja, jb) = tokio::join!(coord.join(join_req(group, &a, None)), coord.join(join_req(group, &b, None)));
    assert_eq!((ja.error, jb.error), (None, None));
    assert_eq!(ja.generation, jb.generation);
    assert_eq!(ja.protocol_name.as_deref(), Some("range"));
    let (leader, follower) = if ja.leader == a { (a, b) } else { (b, a) };
    let leader_view = if ja.member_id == leader { &ja } else { &jb };
    assert_eq!(leader_view.members.len(), 2, "the leader sees every member");
    let generation = ja.generation;
    let assignments: Vec<(&str, &'static [u8])> = vec![(leader.as_str(), b"L"), (follower.as_str(), b"F")];
    let (sl, sf) = tokio::join!(
        coord.sync(sync_req(group, &leader, generation, &assignments)),
        coord.sync(sync_req(group, &follower, generation, &[]))
    );
    assert_eq!((sl.error, sf.error), (None, None));
    assert_eq!((&sl.assignment[..], &sf.assignment[..]), (&b"L"[..], &b"F"[..]));
    (leader, follower, generation)
}

#[tokio::test(start_paused = true)]
async fn members_join_sync_and_heartbeat() {
    let fx = Fixture::new();
    let coord = fx.open().await;
    let (leader, follower, generation) = stable_pair(&coord, "g").await;
    assert_eq!(generation, 1);
    assert_eq!(coord.heartbeat("g", &leader, None, generation), Ok(()));
    assert_eq!(coord.heartbeat("g", &follower, None, generation + 1), Err(ResponseError::IllegalGeneration));
    assert_eq!(coord.heartbeat("g", "nobody", None, generation), Err(ResponseError::UnknownMemberId));
    let d = coord.describe("g").expect("described");
    assert_eq!(d.state, "Stable");
    assert_eq!(d.members.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_expired_session_removes_the_member_and_rebalances() {
    let fx = Fixture::new();
    let coord = fx.open().await;
    let (leader, _follower, generation) = stable_pair(&coord, "g").await;
    // Only the leader heartbeats; the follower's 10 s session runs out.
    let mut answer = Ok(());
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        answer = coord.heartbeat("g", &leader, None, generation);
        if answer.is_err() {
            break;
        }
    }
    assert_eq!(answer, Err(ResponseError::RebalanceInProgress));
    let rejoin = coord.join(join_req("g", &leader, None)).await;
    assert_eq!(rejoin.error, None);
    assert_eq!(rejoin.generation, generation + 1);
    assert_eq!(rejoin.members.len(), 1, "only the live member is left");
}

#[tokio::test(start_paused = true)]
async fn members_that_miss_the_rebalance_timeout_are_dropped() {
    let fx = Fixture::new();
    let coord = fx.open().await;
    let (leader, follower, generation) = stable_pair(&coord, "g").await;
    // The leader rejoining starts a rebalance; the follower keeps heartbeating (so its 10 s session stays
    // alive) but never rejoins, so the 30 s rebalance timeout ends the round without it.
    let started = tokio::time::Instant::now();
    let rejoin = coord.join(join_req("g", &leader, None));
    let heartbeats = async {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = coord.heartbeat("g", &follower, None, generation);
        }
    };
    let rejoin = tokio::select! {
        answer = rejoin => answer,
        () = heartbeats => unreachable!("the heartbeat loop never ends"),
    };
    assert!(started.elapsed() >= Duration::from_secs(30));
    assert_eq!(rejoin.generation, generation + 1);
    assert_eq!(rejoin.members.len(), 1);
    assert_eq!(coord.heartbeat("g", &follower, None, generation), Err(ResponseError::UnknownMemberId));
}

#[tokio::test(start_paused = true)]
async fn a_static_member_rejoins_with_its_assignment_and_no_rebalance() {
    let fx = Fixture::new();
    let coord = fx.open().await;
    let a = coord.join(join_req("g", "", Some("inst-a"))).await;
    assert_eq!(a.error, None, "static members skip MEMBER_ID_REQUIRED");
    let s = coord.sync(sync_req("g", &a.member_id, a.generation, &[(&a.member_id, b"A")])).await;
    assert_eq!(s.error, None);
    // The instance restarts: same instance id, no member id.
    let again = coord.join(join_req("g", "", Some("inst-a"))).await;
    assert_eq!(again.error, None);
    assert_eq!(again.generation, a.generation, "no new generation");
    assert_ne!(again.member_id, a.member_id);
    let s2 = coord.sync(sync_req("g", &again.member_id, again.generation, &[])).await;
    assert_eq!(&s2.assignment[..], b"A");
    assert_eq!(
        coord.heartbeat("g", &a.member_id, Some("inst-a"), a.generation),
        Err(ResponseError::FencedInstanceId),
        "the old incarnation is fenced"
    );
    assert_eq!(coord.describe("g").map(|d| d.state), Some("Stable".to_string()));
}

#[tokio::test(start_paused = true)]
async fn leaving_members_trigger_a_rebalance_and_an_empty_group_can_be_deleted() {
    let fx = Fixture::new();
    let coord = fx.open().await;
    let (leader, follower, generation) = stable_pair(&coord, "g").await;
    assert_eq!(coord.delete_group("g"), Err(ResponseError::NonEmptyGroup));
    let left = coord.leave("g", &[(follower.clone(), None)]).expect("group exists");
    assert_eq!(left, vec![Ok(follower)]);
    assert_eq!(coord.heartbeat("g", &leader, None, generation), Err(ResponseError::RebalanceInProgress));
    coord.leave("g", &[(leader, None)]).expect("group exists");
    assert_eq!(coord.describe("g").map(|d| d.state), Some("Empty".to_string()));
    assert_eq!(coord.delete_group("g"), Ok(()));
    assert_eq!(coord.delete_group("g"), Err(ResponseError::GroupIdNotFound));
}

pub(super) fn commit(topic: &str, partition: i32, offset: i64) -> CommitOffset {
    CommitOffset { topic: topic.into(), partition, offset, leader_epoch: 3, metadata: Some("m".into()) }
}

#[tokio::test(start_paused = true)]
async fn offsets_are_checked_stored_and_survive_a_reopen() {
    let fx = Fixture::new();
    {
        let coord = fx.open().await;
        assert_eq!(coord.commit("simple", "", None, -1, &[commit("t", 0, 42)]), Ok(()));
        assert_eq!(coord.commit("gone", "m", None, 4, &[commit("t", 0, 1)]), Err(ResponseError::IllegalGeneration));
        let (leader, _, generation) = stable_pair(&coord, "g").await;
        assert_eq!(coord.commit("g", &leader, None, generation + 1, &[commit("t", 1, 7)]), Err(ResponseError::IllegalGeneration));
        assert_eq!(coord.commit("g", "stranger", None, generation, &[commit("t", 1, 7)]), Err(ResponseError::UnknownMemberId));
        assert_eq!(coord.commit("g", "", None, -1, &[commit("t", 1, 7)]), Err(ResponseError::UnknownMemberId));
        assert_eq!(coord.commit("g", &leader, None, generation, &[commit("t", 1, 7)]), Ok(()));
        assert_eq!(coord.commit("doomed", "", None, -1, &[commit("t", 0, 5)]), Ok(()));
        assert_eq!(coord.delete_group("doomed"), Ok(()));
        // Each group keeps its own offsets.
        let fetched = coord.fetch("simple", Some(vec![("t".into(), vec![0, 1])]), false);
        assert_eq!(fetched.iter().map(|f| f.offset).collect::<Vec<_>>(), vec![42, -1]);
    }
    let coord = fx.open().await;
    let simple = coord.fetch("simple", None, false);
    assert_eq!(simple.len(), 1);
    assert_eq!((simple[0].offset, simple[0].leader_epoch, simple[0].metadata.as_str()), (42, 3, "m"));
    assert_eq!(coord.fetch("g", None, false).iter().map(|f| f.offset).collect::<Vec<_>>(), vec![7]);
    assert!(coord.fetch("doomed", None, false).is_empty(), "deleted groups stay deleted");
    assert_eq!(coord.describe("g").map(|d| d.state), Some("Empty".to_string()), "groups come back empty");
}

/// Ends `producer_id`'s transaction in `group`'s offsets partition as the transaction coordinator does: its
/// marker in the partition, then the staged offsets completed.
fn end_txn(fx: &Fixture, coord: &GroupCoordinator, group: &str, producer_id: i64, epoch: i16, commit: bool) {
    coord
        .finish_transaction_offsets(group, producer_id, commit, |(topic, partition)| {
            let log = fx.topics.get(topic).and_then(|t| t.partition(*partition)).expect("offsets partition");
            log.write_txn_marker(producer_id, epoch, commit, 0, now_ms()).expect("marker written");
            Ok(())
        })
        .expect("transaction ended");
}

pub(super) fn txn_offset(topic: &str, offset: i64) -> CommitOffset {
    CommitOffset { topic: topic.into(), partition: 0, offset, leader_epoch: -1, metadata: None }
}

pub(super) fn offsets_of(coord: &GroupCoordinator, group: &str) -> Vec<(String, i64, Option<ResponseError>)> {
    coord.fetch(group, None, true).into_iter().map(|f| (f.topic, f.offset, f.error)).collect()
}

#[tokio::test(start_paused = true)]
async fn transactional_offsets_appear_on_commit_and_vanish_on_abort() {
    let fx = Fixture::new();
    let coord = fx.open().await;
    coord.stage_txn_offsets("g", 7, 0, vec![txn_offset("t", 10)], || Ok(())).expect("staged");
    let unstable = coord.fetch("g", Some(vec![("t".into(), vec![0])]), true);
    assert_eq!(unstable[0].error, Some(ResponseError::UnstableOffsetCommit));
    assert_eq!(coord.fetch("g", Some(vec![("t".into(), vec![0])]), false)[0].offset, -1);
    end_txn(&fx, &coord, "g", 7, 0, true);
    assert_eq!(coord.fetch("g", None, true)[0].offset, 10);
    coord.stage_txn_offsets("g", 8, 0, vec![txn_offset("t", 20)], || Ok(())).expect("staged");
    end_txn(&fx, &coord, "g", 8, 0, false);
    assert_eq!(coord.fetch("g", None, true)[0].offset, 10);
    let refused = coord.stage_txn_offsets("g", 9, 0, vec![txn_offset("t", 30)], || Err(ResponseError::InvalidTxnState));
    assert_eq!(refused, Err(ResponseError::InvalidTxnState));
    drop(coord);
    let coord = fx.open().await;
    assert_eq!(offsets_of(&coord, "g"), [("t".to_string(), 10, None)], "replay matches: committed kept, aborted dropped");
}

/// Transactional offsets are in `__consumer_offsets` from TxnOffsetCommit on: replay keeps them pending per
/// producer until that producer's marker in the partition, which commits or drops them; a marker written after
/// the restart (the transaction coordinator's recovery) completes what replay left pending. A later plain
/// commit of the same partition wins over a pending offset, in memory and at replay, as compaction would.
#[tokio::test(start_paused = true)]
async fn replay_keeps_transactional_offsets_pending_until_their_marker() {
    let fx = Fixture::new();
    {
        let coord = fx.open().await;
        coord.stage_txn_offsets("g", 1, 0, vec![txn_offset("a", 5)], || Ok(())).expect("staged");
        coord.stage_txn_offsets("g", 2, 3, vec![txn_offset("b", 6)], || Ok(())).expect("staged");
        coord.stage_txn_offsets("g", 3, 0, vec![txn_offset("c", 7)], || Ok(())).expect("staged");
        coord.stage_txn_offsets("g", 4, 0, vec![txn_offset("d", 8)], || Ok(())).expect("staged");
        let plain = CommitOffset { topic: "d".into(), partition: 0, offset: 9, leader_epoch: -1, metadata: None };
        coord.commit("g", "", None, -1, &[plain]).expect("plain commit");
        end_txn(&fx, &coord, "g", 1, 0, true);
        end_txn(&fx, &coord, "g", 2, 3, false);
        end_txn(&fx, &coord, "g", 4, 0, true);
        assert_eq!(
            offsets_of(&coord, "g"),
            [("a".to_string(), 5, None), ("d".to_string(), 9, None)],
            "a committed, b aborted, c pending and invisible, d superseded by the later plain commit"
        );
    }
    let coord = fx.open().await;
    assert_eq!(offsets_of(&coord, "g"), [("a".to_string(), 5, None), ("d".to_string(), 9, None)]);
    let c = coord.fetch("g", Some(vec![("c".into(), vec![0])]), true);
    assert_eq!(c[0].error, Some(ResponseError::UnstableOffsetCommit), "c is still pending after the restart");
    end_txn(&fx, &coord, "g", 3, 0, true);
    let committed = [("a".to_string(), 5, None), ("c".to_string(), 7, None), ("d".to_string(), 9, None)];
    assert_eq!(offsets_of(&coord, "g"), committed);
    drop(coord);
    let coord = fx.open().await;
    assert_eq!(offsets_of(&coord, "g"), committed, "the marker written after the restart is what replay sees");
}

/// A consumer-protocol group comes back from `__consumer_offsets` with its members, epochs and assignments;
/// a member carries on with its epoch; DeleteGroups of the emptied group writes tombstones that keep it gone.
#[tokio::test(start_paused = true)]
async fn consumer_groups_are_replayed_and_deleted_with_tombstones() {
    let fx = Fixture::new();
    let topic = consumer::TopicMeta { id: uuid::Uuid::from_u128(1), partitions: 4 };
    let lookup = move |name: &str| (name == "t").then_some(topic);
    let join = |member: &str| consumer::Heartbeat {
        group_id: "cg".into(),
        member_id: member.into(),
        member_epoch: 0,
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(vec!["t".into()]),
        owned: Some(consumer::Assignment::new()),
        ..consumer::Heartbeat::default()
    };
    let before = {
        let coord = fx.open().await;
        let a = coord.consumer.heartbeat(join("a"), &lookup).expect("a joins");
        assert_eq!((a.member_epoch, a.assignment.map(|x| x[&topic.id].len())), (1, Some(4)));
        assert_eq!(coord.delete_group("cg"), Err(ResponseError::NonEmptyGroup));
        coord.consumer.describe("cg").expect("described")
    };
    let coord = fx.open().await;
    let after = coord.consumer.describe("cg").expect("the group is back");
    assert_eq!((after.epoch, after.assignment_epoch), (before.epoch, before.assignment_epoch));
    assert_eq!(after.members.len(), 1);
    assert_eq!(after.members[0].member_epoch, before.members[0].member_epoch);
    assert_eq!(after.members[0].assignment, before.members[0].assignment);
    let hb = consumer::Heartbeat {
        group_id: "cg".into(),
        member_id: "a".into(),
        member_epoch: 1,
        rebalance_timeout_ms: -1,
        ..consumer::Heartbeat::default()
    };
    let answer = coord.consumer.heartbeat(hb.clone(), &lookup).expect("a carries on after the restart");
    assert_eq!(answer.member_epoch, 1);
    let left = coord.consumer.heartbeat(consumer::Heartbeat { member_epoch: -1, ..hb }, &lookup).expect("a leaves");
    assert_eq!(left.member_epoch, -1);
    drop(coord);
    let coord = fx.open().await;
    assert_eq!(coord.consumer.describe("cg").map(|d| d.members.len()), Some(0), "the leave was persisted");
    coord.delete_group("cg").expect("an empty consumer group is deleted");
    assert!(!coord.consumer.contains("cg"));
    drop(coord);
    let coord = fx.open().await;
    assert!(!coord.consumer.contains("cg"), "tombstones keep the deleted group gone");
    assert_eq!(coord.delete_group("cg"), Err(ResponseError::GroupIdNotFound));
}
