//! Unit tests of the group coordinator in cluster mode, on a real `__consumer_offsets` in a temporary data dir
//! and a fake cluster whose leaderships the test sets: which groups are served, loading a partition's groups on
//! becoming its leader, dropping them on losing it, fencing writes after a leadership move, and answers that
//! wait for the followers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;
use tokio::sync::watch;

use super::tests::{commit, offsets_of, stable_pair, txn_offset};
use super::*;
use crate::coordinator::cluster::fake::FakeCluster;
use crate::coordinator::ownership::Role;
use crate::maintenance::now_ms;

struct Fixture {
    _dir: tempfile::TempDir,
    topics: Arc<TopicRegistry>,
    cluster: Arc<FakeCluster>,
    coord: GroupCoordinator,
    _shutdown: watch::Sender<bool>,
}

impl Fixture {
    /// A cluster-mode coordinator over `partitions` offsets partitions, none of them led yet. The topic is
    /// created here as the replica manager would create it from the image.
    async fn new(partitions: i32) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let topics = Arc::new(TopicRegistry::open(dir.path(), BTreeMap::new()).expect("registry"));
        let configs = BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]);
        topics.create(OFFSETS_TOPIC, partitions, configs, false).await.expect("offsets topic");
        let config = BrokerConfig {
            offsets_topic_num_partitions: partitions,
            group_initial_rebalance_delay_ms: 0,
            group_min_session_timeout_ms: 1_000,
            ..BrokerConfig::default()
        };
        let cluster = FakeCluster::new(1);
        let (tx, rx) = watch::channel(false);
        let view: Arc<dyn ClusterView> = cluster.clone();
        let coord = GroupCoordinator::open_with(&topics, &config, Some(view), rx).await.expect("open");
        Self { _dir: dir, topics, cluster, coord, _shutdown: tx }
    }

    async fn lead(&self, partition: i32, epoch: i32) {
        self.cluster.lead(OFFSETS_TOPIC, partition, epoch);
        self.coord.reconcile(&self.topics).await;
    }

    async fn resign(&self, partition: i32) {
        self.cluster.resign(OFFSETS_TOPIC, partition);
        self.coord.reconcile(&self.topics).await;
    }

    fn log(&self, partition: i32) -> Arc<crate::log::PartitionLog> {
        self.topics.get(OFFSETS_TOPIC).and_then(|t| t.partition(partition)).expect("offsets partition")
    }
}

fn consumer_join(group: &str, member: &str) -> consumer::Heartbeat {
    consumer::Heartbeat {
        group_id: group.into(),
        member_id: member.into(),
        member_epoch: 0,
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(vec!["t".into()]),
        owned: Some(consumer::Assignment::new()),
        ..consumer::Heartbeat::default()
    }
}

/// Two group ids whose offsets partitions differ.
fn groups_in_different_partitions(partitions: i32) -> (String, String) {
    let first = "g0".to_string();
    let p = store::partition_for(&first, partitions);
    let second = (1..).map(|i| format!("g{i}")).find(|g| store::partition_for(g, partitions) != p).expect("some id");
    (first, second)
}

/// The heart of failover: a partition's groups, offsets, pending transactional offsets and consumer-protocol
/// groups are dropped when the leadership goes and come back, the same, when it returns.
#[tokio::test]
async fn unloading_and_reloading_a_partition_gives_the_same_state() {
    let fx = Fixture::new(1).await;
    let coord = &fx.coord;
    assert_eq!(coord.commit("g", "", None, -1, &[commit("t", 0, 1)]), Err(ResponseError::NotCoordinator));
    assert_eq!(coord.check_coordinator("g"), Err(ResponseError::NotCoordinator));
    fx.lead(0, 1).await;
    assert_eq!(coord.check_coordinator("g"), Ok(()));

    coord.commit("g", "", None, -1, &[commit("t", 0, 42), commit("t", 1, 7)]).expect("commit");
    coord.stage_txn_offsets("g", 9, 0, vec![txn_offset("u", 5)], || Ok(())).expect("staged");
    let (_, _, generation) = stable_pair(coord, "classic").await;
    let topic = consumer::TopicMeta { id: uuid::Uuid::from_u128(1), partitions: 2 };
    let lookup = move |name: &str| (name == "t").then_some(topic);
    coord.consumer.heartbeat(consumer_join("cg", "a"), &lookup).expect("a joins");
    let before_offsets = offsets_of(coord, "g");
    let before_consumer = coord.consumer.describe("cg").expect("consumer group");

    fx.resign(0).await;
    assert_eq!(coord.inner.store.ownership.role(0), None);
    assert_eq!(coord.check_coordinator("g"), Err(ResponseError::NotCoordinator));
    assert_eq!(coord.commit("g", "", None, -1, &[commit("t", 0, 43)]), Err(ResponseError::NotCoordinator));
    assert_eq!(coord.heartbeat("classic", "m", None, generation), Err(ResponseError::NotCoordinator));
    assert!(coord.list().is_empty(), "nothing of the lost partition stays in memory");
    assert!(!coord.consumer.contains("cg"));

    fx.lead(0, 2).await;
    assert_eq!(offsets_of(coord, "g"), before_offsets, "committed offsets come back from the log");
    let pending = coord.fetch("g", Some(vec![("u".into(), vec![0])]), true);
    assert_eq!(
        pending[0].error,
        Some(ResponseError::UnstableOffsetCommit),
        "the transaction's offsets are still pending"
    );
    let classic = coord.describe("classic").expect("the classic group comes back");
    assert_eq!(classic.state, "Empty", "members rejoin at the new coordinator");
    let after = coord.consumer.describe("cg").expect("the consumer group comes back");
    assert_eq!((after.epoch, after.members.len()), (before_consumer.epoch, before_consumer.members.len()));
    assert_eq!(after.members[0].assignment, before_consumer.members[0].assignment);

    // The transaction coordinator's marker (from wherever it runs) completes the pending offsets here.
    coord
        .finish_partition_transaction(0, 9, true, |(topic, partition)| {
            let log = fx.topics.get(topic).and_then(|t| t.partition(*partition)).expect("offsets partition");
            log.write_txn_marker(9, 0, true, 2, now_ms()).map(|_| ()).map_err(|_| ResponseError::KafkaStorageError)
        })
        .expect("marker written");
    assert_eq!(coord.fetch("g", Some(vec![("u".into(), vec![0])]), true)[0].offset, 5);
}

/// Only the partition that moved is dropped; the other keeps serving.
#[tokio::test]
async fn losing_one_partition_keeps_the_others() {
    let fx = Fixture::new(2).await;
    let coord = &fx.coord;
    let (a, b) = groups_in_different_partitions(2);
    let (pa, pb) = (coord.offsets_partition(&a), coord.offsets_partition(&b));
    fx.lead(pa, 1).await;
    fx.lead(pb, 1).await;
    coord.commit(&a, "", None, -1, &[commit("t", 0, 1)]).expect("commit a");
    coord.commit(&b, "", None, -1, &[commit("t", 0, 2)]).expect("commit b");
    fx.resign(pa).await;
    assert_eq!(coord.check_coordinator(&a), Err(ResponseError::NotCoordinator));
    assert_eq!(coord.fetch(&b, None, false)[0].offset, 2);
    coord.commit(&b, "", None, -1, &[commit("t", 0, 3)]).expect("b is still served");
}

/// A partition being replayed answers COORDINATOR_LOAD_IN_PROGRESS; a write after the replica manager moved
/// the leadership on (before the coordinator heard of it) is refused rather than written into what is now a
/// follower's log.
#[tokio::test]
async fn loading_partitions_wait_and_stale_leaders_do_not_write() {
    let fx = Fixture::new(1).await;
    let coord = &fx.coord;
    coord.inner.store.ownership.start_loading(0, 1);
    assert_eq!(coord.check_coordinator("g"), Err(ResponseError::CoordinatorLoadInProgress));
    assert_eq!(coord.commit("g", "", None, -1, &[commit("t", 0, 1)]), Err(ResponseError::CoordinatorLoadInProgress));
    coord.inner.store.ownership.release(0);

    fx.lead(0, 1).await;
    coord.commit("g", "", None, -1, &[commit("t", 0, 1)]).expect("commit");
    let end = fx.log(0).log_end_offset();
    // The replica manager re-elected this broker at a new epoch (someone else may have led in between).
    fx.cluster.led.lock().insert((OFFSETS_TOPIC.to_string(), 0), 2);
    assert_eq!(coord.commit("g", "", None, -1, &[commit("t", 0, 2)]), Err(ResponseError::NotCoordinator));
    assert_eq!(fx.log(0).log_end_offset(), end, "nothing was written");
    coord.reconcile(&fx.topics).await;
    assert_eq!(coord.inner.store.ownership.role(0), Some(Role::Loaded(2)), "reloaded at the new epoch");
    coord.commit("g", "", None, -1, &[commit("t", 0, 2)]).expect("commit at the new epoch");
    assert_eq!(coord.fetch("g", None, false)[0].offset, 2);
}

/// A member waiting in a rebalance when the partition goes is told NOT_COORDINATOR, so it looks the new
/// coordinator up instead of starting over as an unknown member.
#[tokio::test]
async fn waiting_joins_hear_not_coordinator_when_the_partition_goes() {
    let fx = Fixture::new(1).await;
    let coord = &fx.coord;
    fx.lead(0, 1).await;
    let (leader, _follower, _) = stable_pair(coord, "g").await;
    // The leader rejoins: the rebalance waits for the follower, which never comes.
    let rejoin = coord.join(super::tests::join_req("g", &leader, None));
    tokio::pin!(rejoin);
    assert!(futures::poll!(&mut rejoin).is_pending());
    fx.resign(0).await;
    let answer = rejoin.await;
    assert_eq!(answer.error, Some(ResponseError::NotCoordinator));
}

/// In cluster mode an acknowledged write is one the followers have: the answer waits for the high watermark,
/// and a write that does not get there in time answers COORDINATOR_NOT_AVAILABLE (the client retries).
#[tokio::test(start_paused = true)]
async fn writes_wait_for_the_high_watermark() {
    let fx = Fixture::new(1).await;
    let coord = &fx.coord;
    fx.lead(0, 1).await;
    let log = fx.log(0);
    log.set_replicated(true);
    let mark = coord.mark("g");
    coord.commit("g", "", None, -1, &[commit("t", 0, 1)]).expect("commit");
    let replicated = coord.replicated(mark);
    tokio::pin!(replicated);
    assert!(futures::poll!(&mut replicated).is_pending(), "not acknowledged before the followers have it");
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(replicated.await, Ok(()));

    let mark = coord.mark("g");
    coord.commit("g", "", None, -1, &[commit("t", 0, 2)]).expect("commit");
    let started = tokio::time::Instant::now();
    assert_eq!(coord.replicated(mark).await, Err(ResponseError::CoordinatorNotAvailable));
    assert!(started.elapsed() >= Duration::from_secs(5));
    // Nothing written since a mark: nothing to wait for.
    assert_eq!(coord.replicated(coord.mark("g")).await, Ok(()));
}
