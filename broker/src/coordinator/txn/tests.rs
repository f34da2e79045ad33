//! Unit tests of the transaction coordinator in cluster mode, on real internal topics in a temporary data dir and
//! a fake cluster whose leaderships the test sets: ownership of transactional ids, unload and reload, resuming
//! prepared transactions on takeover, producer id blocks, and markers sent to another broker over
//! WriteTxnMarkers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;
use tokio::sync::watch;

use super::load::TxnLoader;
use super::state::{TxnMetadata, TxnState};
use super::*;
use crate::coordinator::cluster::fake::FakeCluster;
use crate::coordinator::group::{CommitOffset, OFFSETS_TOPIC};
use crate::coordinator::ownership::{self, PartitionLoader};

struct Fixture {
    dir: tempfile::TempDir,
    topics: Arc<TopicRegistry>,
    cluster: Arc<FakeCluster>,
    groups: Arc<GroupCoordinator>,
    txns: TxnCoordinator,
    _shutdown: watch::Sender<bool>,
}

impl Fixture {
    /// Cluster mode over 2 `__transaction_state` partitions, 1 `__consumer_offsets` partition and a topic `t`
    /// of 2 partitions, none led yet. The topics are created as the replica manager would from the image.
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let topics = Arc::new(TopicRegistry::open(dir.path(), BTreeMap::new()).expect("registry"));
        for (name, partitions) in [(TOPIC, 2), (OFFSETS_TOPIC, 1), ("t", 2)] {
            topics.create(name, partitions, BTreeMap::new(), false).await.expect("topic");
        }
        let config = BrokerConfig {
            transaction_state_num_partitions: 2,
            offsets_topic_num_partitions: 1,
            ..BrokerConfig::default()
        };
        let cluster = FakeCluster::new(1);
        let view: Arc<dyn ClusterView> = cluster.clone();
        let (tx, rx) = watch::channel(false);
        let groups =
            Arc::new(GroupCoordinator::open_with(&topics, &config, Some(view.clone()), rx).await.expect("groups"));
        let txns = TxnCoordinator::open_with(&topics, &config, groups.clone(), Some(view)).await.expect("txns");
        Self { dir, topics, cluster, groups, txns, _shutdown: tx }
    }

    /// The replica manager makes this broker the leader of `topic`/`partition`; the coordinators follow.
    async fn lead(&self, topic: &str, partition: i32, epoch: i32) {
        self.cluster.lead(topic, partition, epoch);
        self.reconcile().await;
    }

    async fn resign(&self, topic: &str, partition: i32) {
        self.cluster.resign(topic, partition);
        self.reconcile().await;
    }

    async fn reconcile(&self) {
        let loader: Arc<dyn PartitionLoader> = Arc::new(TxnLoader { inner: self.txns.inner.clone() });
        ownership::reconcile(&self.txns.inner.log.ownership, &self.topics, &loader).await;
        self.groups.reconcile(&self.topics).await;
    }

    fn end_offset(&self, topic: &str, partition: i32) -> i64 {
        self.topics.get(topic).and_then(|t| t.partition(partition)).expect("partition").log_end_offset()
    }

    fn state_of(&self, id: &str) -> Result<TxnState, ResponseError> {
        self.txns.describe(&[id.to_string()]).remove(0).map(|m| m.state)
    }
}

/// Polls `done` every 10 ms for up to 5 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn transactions_survive_unload_and_reload() {
    let fx = Fixture::new().await;
    let p = fx.txns.inner.log.partition_of("tx");
    let init = fx.txns.init_producer_id(Some("tx".into()), 60_000, None).await;
    assert_eq!(init, Err(ResponseError::NotCoordinator), "another broker coordinates it");
    fx.lead(TOPIC, p, 1).await;
    let (pid, epoch) = fx.txns.init_producer_id(Some("tx".into()), 60_000, None).await.expect("init");
    assert_eq!((pid, epoch), (5000, 0), "the first id of the controller's block");
    let (idempotent, _) = fx.txns.init_producer_id(None, 0, None).await.expect("idempotent init");
    assert_eq!(idempotent, 5001, "idempotent producers take ids from the same block");
    fx.txns.add_partitions("tx", pid, epoch, vec![("t".into(), 0)]).await.expect("add");

    fx.resign(TOPIC, p).await;
    assert_eq!(fx.state_of("tx"), Err(ResponseError::NotCoordinator));
    assert!(fx.txns.list().is_empty());
    let add = fx.txns.add_partitions("tx", pid, epoch, vec![("t".into(), 1)]).await;
    assert_eq!(add, Err(ResponseError::NotCoordinator));

    fx.lead(TOPIC, p, 2).await;
    let m = fx.txns.describe(&["tx".to_string()]).remove(0).expect("reloaded");
    assert_eq!((m.producer_id, m.epoch, m.state), (pid, epoch, TxnState::Ongoing));
    assert_eq!(m.partitions.iter().cloned().collect::<Vec<_>>(), vec![("t".to_string(), 0)]);

    fx.lead("t", 0, 1).await;
    fx.txns.end_txn("tx", pid, epoch, true, false).await.expect("commit");
    assert_eq!(fx.state_of("tx"), Ok(TxnState::CompleteCommit));
    assert_eq!(fx.end_offset("t", 0), 1, "the COMMIT marker is in the local leader's log");
}

/// A coordinator that takes a partition over finishes the transactions its predecessor left prepared: the
/// markers go out (and the group's staged offsets are committed) without any client asking.
#[tokio::test]
async fn prepared_transactions_are_finished_by_the_new_coordinator() {
    let fx = Fixture::new().await;
    let p = fx.txns.inner.log.partition_of("tx");
    fx.lead(TOPIC, p, 1).await;
    fx.lead(OFFSETS_TOPIC, 0, 1).await;
    // The previous coordinator's last words: the commit decision, persisted before any marker went out.
    let mut m = TxnMetadata::new(77, 60_000, 0);
    m.add_partitions(77, 0, [("t".to_string(), 0)], 1).expect("add partitions");
    m.add_group(77, 0, "grp".into(), 1).expect("add group");
    let offset = CommitOffset { topic: "u".into(), partition: 0, offset: 5, leader_epoch: -1, metadata: None };
    fx.groups.stage_txn_offsets("grp", 77, 0, vec![offset], || Ok(())).expect("staged");
    m.end(77, 0, true, 2).expect("prepare");
    fx.txns.inner.log.persist("tx", &m).expect("persisted");
    fx.resign(TOPIC, p).await;
    assert_eq!(fx.end_offset("t", 0), 0);

    fx.lead("t", 0, 1).await;
    fx.lead(TOPIC, p, 2).await;
    eventually("the resumed transaction completes", || fx.state_of("tx") == Ok(TxnState::CompleteCommit)).await;
    assert_eq!(fx.end_offset("t", 0), 1, "the COMMIT marker was written");
    let fetched = fx.groups.fetch("grp", None, true);
    assert_eq!(fetched.iter().map(|f| (f.offset, f.error)).collect::<Vec<_>>(), vec![(5, None)]);
}

/// A partition led by another broker gets its marker through WriteTxnMarkers to that broker; the receiving
/// side refuses partitions it does not lead.
#[tokio::test]
async fn markers_for_partitions_led_elsewhere_go_to_their_leader() {
    let fx = Fixture::new().await;
    // The other broker: a real one (single-node mode), with its own topic `t`.
    let remote_dir = fx.dir.path().join("remote");
    {
        let registry = TopicRegistry::open(&remote_dir, BTreeMap::new()).expect("remote registry");
        registry.create("t", 2, BTreeMap::new(), false).await.expect("remote topic");
        registry.close_all();
    }
    let config = BrokerConfig { listen: "127.0.0.1:0".into(), data_dir: remote_dir.clone(), ..BrokerConfig::default() };
    let remote = crate::Broker::start(config).await.expect("remote broker");
    fx.cluster.remote.lock().insert(("t".to_string(), 1), (2, remote.local_addr().to_string()));

    let p = fx.txns.inner.log.partition_of("tx");
    fx.lead(TOPIC, p, 1).await;
    fx.lead("t", 0, 1).await;
    let (pid, epoch) = fx.txns.init_producer_id(Some("tx".into()), 60_000, None).await.expect("init");
    fx.txns.add_partitions("tx", pid, epoch, vec![("t".into(), 0), ("t".into(), 1)]).await.expect("add");
    fx.txns.end_txn("tx", pid, epoch, true, false).await.expect("commit");
    assert_eq!(fx.end_offset("t", 0), 1, "local marker");

    // This broker leads t-0 but not t-1: WriteTxnMarkers sent here for both answers accordingly.
    let answers = fx.txns.write_markers(pid, epoch, false, 1, vec![("t".into(), 0), ("t".into(), 1)]).await;
    assert_eq!(answers[0], (("t".to_string(), 0), Ok(())));
    assert_eq!(answers[1], (("t".to_string(), 1), Err(ResponseError::NotLeaderOrFollower)));

    remote.shutdown().await.expect("remote stops");
    let registry = TopicRegistry::open(&remote_dir, BTreeMap::new()).expect("remote registry again");
    let log = registry.get("t").and_then(|t| t.partition(1)).expect("remote t-1");
    assert_eq!(log.log_end_offset(), 1, "the remote leader wrote the marker it was sent");
    registry.close_all();
}
