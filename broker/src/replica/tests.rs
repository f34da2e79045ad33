//! Tests of the replica manager driven by a fake metadata source (no Raft quorum): the leader side (high
//! watermark, ISR shrink and expand, min.insync.replicas, acks=all, leadership changes) through the manager's
//! API, and the follower side (fetcher, truncation, log start reset) against a real single-node broker as leader,
//! over TCP with the Kafka protocol.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_records_request::{DeleteRecordsPartition, DeleteRecordsTopic};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{CreateTopicsRequest, DeleteRecordsRequest, FetchRequest, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use tempfile::TempDir;
use tokio::sync::watch;
use uuid::Uuid;

use super::testing::{batch, FakeSource};
use super::{LeadershipChange, ReplicaManager, Settings};
use crate::controller::{BrokerRecord, MetadataCommand, MetadataImage, PartitionRecord, TopicRecord, NO_LEADER};
use crate::log::PartitionLog;
use crate::net::client::KafkaClient;
use crate::topics::TopicRegistry;
use crate::{Broker, BrokerConfig, BrokerHandle};

const WAIT: Duration = Duration::from_secs(20);

/// Polls `probe` every 10 ms until it gives `Some`, failing after [`WAIT`] with `what` and the last state.
async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(state) if tokio::time::Instant::now() >= deadline => {
                panic!("timed out waiting until {what}; last seen: {state}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

fn settings(lag_ms: u64) -> Settings {
    Settings {
        lag_max: Duration::from_millis(lag_ms),
        fetch_wait_max: Duration::from_millis(100),
        fetch_max_bytes: 1024 * 1024,
        bind: None,
    }
}

fn broker(id: i32, host: &str, port: i32) -> BrokerRecord {
    BrokerRecord { id, incarnation: Uuid::new_v4(), epoch: 1, host: host.into(), port, rack: None, fenced: false }
}

fn partition(replicas: &[i32], isr: &[i32], leader: i32, leader_epoch: i32) -> PartitionRecord {
    PartitionRecord {
        replicas: replicas.to_vec(),
        isr: isr.to_vec(),
        leader,
        leader_epoch,
        partition_epoch: 0,
        adding_replicas: vec![],
        removing_replicas: vec![],
    }
}

fn image(brokers: Vec<BrokerRecord>, topic: &str, configs: &[(&str, &str)], p: PartitionRecord) -> MetadataImage {
    let record = TopicRecord {
        name: topic.into(),
        id: Uuid::new_v4(),
        configs: configs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        partitions: vec![p],
    };
    MetadataImage {
        applied_index: 1,
        brokers: brokers.into_iter().map(|b| (b.id, b)).collect(),
        topics: BTreeMap::from([(topic.to_string(), record)]),
        next_producer_id: 0,
    }
}

/// A replica manager for node `node_id` over its own data dir.
struct Node {
    manager: Arc<ReplicaManager>,
    topics: Arc<TopicRegistry>,
    _shutdown: watch::Sender<bool>,
    _dir: TempDir,
}

impl Node {
    fn start(node_id: i32, lag_ms: u64, source: Arc<FakeSource>) -> Self {
        let dir = TempDir::new().expect("temp dir");
        let topics = Arc::new(TopicRegistry::open(dir.path(), BTreeMap::new()).expect("registry"));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let manager = ReplicaManager::start_with(node_id, settings(lag_ms), source, topics.clone(), shutdown_rx);
        Self { manager, topics, _shutdown: shutdown, _dir: dir }
    }

    fn log(&self, topic: &str) -> Arc<PartitionLog> {
        self.topics.get(topic).and_then(|t| t.partition(0)).expect("the partition exists locally")
    }

    /// The partition's log, once the manager created it from the image.
    async fn log_when_created(&self, topic: &str) -> Arc<PartitionLog> {
        wait_for(&format!("{topic} exists locally"), || {
            let log = self.topics.get(topic).and_then(|t| t.partition(0));
            async move { log.ok_or_else(|| "missing".to_string()) }
        })
        .await
    }

    async fn leading(&self, topic: &str, epoch: i32) {
        let manager = self.manager.clone();
        wait_for(&format!("node {} leads {topic} at epoch {epoch}", manager.node_id()), || {
            let got = manager.leader_epoch(topic, 0);
            async move {
                if got == Ok(epoch) {
                    Ok(())
                } else {
                    Err(format!("{got:?}"))
                }
            }
        })
        .await
    }

    async fn produce(&self, topic: &str, acks: i16, timeout_ms: i32) -> Result<i64, ResponseError> {
        let log = self.log(topic);
        self.manager
            .produce(topic, 0, log, Bytes::from(batch(2)), acks, timeout_ms)
            .await
            .map(|info| info.last_offset)
            .map_err(|e| e.code)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_watermark_follows_the_slowest_isr_member_and_acks_all_waits_for_it() {
    let source = FakeSource::new(image(vec![], "t", &[], partition(&[1, 2], &[1, 2], 1, 4)));
    let node = Node::start(1, 60_000, source.clone());
    node.leading("t", 4).await;
    let log = node.log("t");

    assert_eq!(node.produce("t", 1, 1000).await, Ok(1), "acks=1 answers after the local append");
    assert_eq!(log.high_watermark(), 0, "the follower has nothing yet");
    assert_eq!(node.produce("t", -1, 50).await, Err(ResponseError::RequestTimedOut));

    // Follower fetches name the leader's epoch; stale and future ones are fenced.
    let m = &node.manager;
    assert_eq!(m.follower_fetch("t", 0, 2, 3, 0), Err(ResponseError::FencedLeaderEpoch));
    assert_eq!(m.follower_fetch("t", 0, 2, 5, 0), Err(ResponseError::UnknownLeaderEpoch));
    assert_eq!(m.follower_fetch("t", 0, 3, 4, 0), Err(ResponseError::NotLeaderOrFollower), "not a replica");
    m.follower_fetch("t", 0, 2, 4, 2).expect("follower fetch");
    assert_eq!(log.high_watermark(), 2);

    // An acks=all produce completes when the follower's next fetch shows it has the records.
    let waiting = {
        let log = log.clone();
        let manager = node.manager.clone();
        tokio::spawn(async move { manager.produce("t", 0, log, Bytes::from(batch(2)), -1, 20_000).await })
    };
    wait_for("the acks=all batch is in the leader's log", || {
        let end = log.log_end_offset();
        async move {
            if end == 6 {
                Ok(())
            } else {
                Err(format!("log end {end}"))
            }
        }
    })
    .await;
    assert!(!waiting.is_finished(), "acks=all must wait for the follower");
    m.follower_fetch("t", 0, 2, 4, 6).expect("follower fetch");
    let info = waiting.await.expect("task").expect("acks=all succeeds once the follower has the batch");
    assert_eq!(info.last_offset, 5);
    assert_eq!(log.high_watermark(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_follower_leaves_the_isr_and_rejoins_when_caught_up() {
    let source = FakeSource::new(image(
        vec![broker(1, "127.0.0.1", 1), broker(2, "127.0.0.1", 2)],
        "t",
        &[("min.insync.replicas", "2")],
        partition(&[1, 2], &[1, 2], 1, 0),
    ));
    // The follower is never reached at this address: only the leader side runs here.
    let node = Node::start(1, 200, source.clone());
    node.leading("t", 0).await;
    assert_eq!(node.produce("t", -1, 20_000).await.ok(), None, "cannot complete without the follower");

    let isr = |source: &FakeSource| source.images.borrow().partition("t", 0).map(|p| p.isr.clone()).unwrap_or_default();
    wait_for("the ISR shrinks to the leader", || {
        let now = isr(&source);
        async move {
            if now == vec![1] {
                Ok(())
            } else {
                Err(format!("isr {now:?}"))
            }
        }
    })
    .await;
    assert!(source.proposals.lock().iter().any(|c| matches!(c,
        MetadataCommand::AlterPartition { isr, leader: 1, leader_epoch: 0, .. } if *isr == vec![1])));
    // Alone in the ISR, the leader's log end is the high watermark; min.insync.replicas=2 refuses acks=all.
    let log = node.log("t");
    wait_for("the high watermark reaches the log end", || {
        let (hw, end) = (log.high_watermark(), log.log_end_offset());
        async move {
            if hw == end {
                Ok(())
            } else {
                Err(format!("hw {hw}, end {end}"))
            }
        }
    })
    .await;
    assert_eq!(node.produce("t", -1, 1000).await, Err(ResponseError::NotEnoughReplicas));
    assert_eq!(node.produce("t", 1, 1000).await.map(|_| ()), Ok(()), "acks=1 does not care");

    // The follower fetches from behind: not yet in sync. Then at the log end: it rejoins.
    node.manager.follower_fetch("t", 0, 2, 0, 0).expect("fetch");
    assert_eq!(isr(&source), vec![1]);
    let end = log.log_end_offset();
    node.manager.follower_fetch("t", 0, 2, 0, end).expect("fetch");
    wait_for("the follower rejoins the ISR", || {
        let now = isr(&source);
        async move {
            if now == vec![1, 2] {
                Ok(())
            } else {
                Err(format!("isr {now:?}"))
            }
        }
    })
    .await;
    wait_for("acks=all works again", || {
        let node = &node;
        async move {
            let log = node.log("t");
            let end = log.log_end_offset();
            let produced = tokio::join!(node.produce("t", -1, 5000), async {
                // Play the follower: fetch until the new batch is had.
                for _ in 0..500 {
                    if log.log_end_offset() > end {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                let _ = node.manager.follower_fetch("t", 0, 2, 0, log.log_end_offset());
            });
            produced.0.map(|_| ()).map_err(|e| format!("{e:?}"))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_leadership_is_announced_and_ends_waiting_produces() {
    let source = FakeSource::new(image(vec![], "t", &[], partition(&[1, 2], &[1, 2], 1, 0)));
    let node = Node::start(1, 60_000, source.clone());
    let mut changes = node.manager.leadership_changes();
    node.leading("t", 0).await;
    let first = tokio::time::timeout(WAIT, changes.recv()).await.expect("an event").expect("open");
    assert_eq!(first, LeadershipChange { topic: "t".into(), partition: 0, leader: true, leader_epoch: 0 });
    assert_eq!(node.manager.leaderships(), vec![first]);

    let waiting = {
        let (log, manager) = (node.log("t"), node.manager.clone());
        tokio::spawn(async move { manager.produce("t", 0, log, Bytes::from(batch(1)), -1, 20_000).await })
    };
    // Node 2 takes over (broker 2 is not registered here, so node 1's fetcher just waits for its address).
    source.update(|image| {
        let p = &mut image.topics.get_mut("t").expect("topic").partitions[0];
        p.leader = 2;
        p.leader_epoch = 1;
    });
    let lost = tokio::time::timeout(WAIT, changes.recv()).await.expect("an event").expect("open");
    assert_eq!(lost, LeadershipChange { topic: "t".into(), partition: 0, leader: false, leader_epoch: 0 });
    let refused = waiting.await.expect("task").expect_err("the waiting produce is refused");
    assert_eq!(refused.code, ResponseError::NotLeaderOrFollower);
    assert_eq!(node.produce("t", 1, 1000).await, Err(ResponseError::NotLeaderOrFollower));
    assert_eq!(node.manager.leader_of("t", 0), Some((2, 1)));

    // Leaderless, then deleted.
    source.update(|image| image.topics.get_mut("t").expect("topic").partitions[0].leader = NO_LEADER);
    wait_for("the partition is leaderless", || {
        let leader = node.manager.leader_of("t", 0);
        async move {
            if leader.is_none() {
                Ok(())
            } else {
                Err(format!("{leader:?}"))
            }
        }
    })
    .await;
    source.update(|image| {
        image.topics.clear();
    });
    wait_for("the topic is gone", || {
        let (known, local) = (node.manager.leader_epoch("t", 0), node.topics.get("t").is_some());
        async move {
            if known == Err(ResponseError::UnknownTopicOrPartition) && !local {
                Ok(())
            } else {
                Err(format!("{known:?}, local {local}"))
            }
        }
    })
    .await;
}

/// A single-node broker (the leader, node 1) and a client to it.
async fn leader_broker() -> (BrokerHandle, TempDir, KafkaClient) {
    let dir = TempDir::new().expect("temp dir");
    let config =
        BrokerConfig { listen: "127.0.0.1:0".into(), data_dir: dir.path().join("data"), ..BrokerConfig::default() };
    let handle = Broker::start(config).await.expect("leader broker starts");
    let client = KafkaClient::connect(&handle.local_addr().to_string(), None, "replica-test", WAIT)
        .await
        .expect("connect to the leader");
    (handle, dir, client)
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

async fn create_topic(client: &mut KafkaClient, topic: &str) {
    let mut t = CreatableTopic::default();
    t.name = name(topic);
    t.num_partitions = 1;
    t.replication_factor = 1;
    let mut request = CreateTopicsRequest::default();
    request.topics = vec![t];
    request.timeout_ms = 5000;
    let response = client.send(5, &request, Duration::ZERO).await.expect("CreateTopics");
    assert_eq!(response.topics[0].error_code, 0, "{:?}", response.topics[0].error_message);
}

async fn produce_to_leader(client: &mut KafkaClient, topic: &str, records: usize) -> i64 {
    let mut p = PartitionProduceData::default();
    p.index = 0;
    p.records = Some(Bytes::from(batch(records)));
    let mut t = TopicProduceData::default();
    t.name = name(topic);
    t.partition_data = vec![p];
    let mut request = ProduceRequest::default();
    request.acks = 1;
    request.timeout_ms = 5000;
    request.topic_data = vec![t];
    let response = client.send(9, &request, Duration::ZERO).await.expect("Produce");
    let answer = &response.responses[0].partition_responses[0];
    assert_eq!(answer.error_code, 0);
    answer.base_offset
}

/// Every record batch of `log`, as bytes.
fn contents(log: &PartitionLog) -> Vec<u8> {
    let read = log.read(log.log_start_offset(), u32::MAX, i64::MAX).expect("read");
    read.slices.iter().flat_map(|s| s.read_to_bytes().expect("slice").to_vec()).collect()
}

/// A follower (node 2) of the single-node broker at `addr` (node 1, epoch 0) for `topic`.
fn follower_image(addr: std::net::SocketAddr, topic: &str, leader: i32) -> MetadataImage {
    image(
        vec![broker(1, &addr.ip().to_string(), i32::from(addr.port())), broker(2, "127.0.0.1", 1)],
        topic,
        &[],
        partition(&[1, 2], &[1, 2], leader, 0),
    )
}

async fn caught_up(follower: &Node, topic: &str, end: i64) {
    let log = follower.log_when_created(topic).await;
    wait_for(&format!("the follower has {topic} up to {end}, high watermark included"), || {
        let (e, hw) = (log.log_end_offset(), log.high_watermark());
        async move {
            if e == end && hw == end {
                Ok(())
            } else {
                Err(format!("end {e}, hw {hw}"))
            }
        }
    })
    .await;
}

/// The leader's record batches from `from` on, as a consumer fetches them.
async fn leader_records(client: &mut KafkaClient, topic: &str, from: i64) -> Vec<u8> {
    let mut p = FetchPartition::default();
    p.partition = 0;
    p.fetch_offset = from;
    p.current_leader_epoch = -1;
    p.log_start_offset = -1;
    p.partition_max_bytes = 1024 * 1024;
    let mut t = FetchTopic::default();
    t.topic = name(topic);
    t.partitions = vec![p];
    let mut request = FetchRequest::default();
    request.max_wait_ms = 0;
    request.max_bytes = 1024 * 1024;
    request.session_epoch = -1;
    request.topics = vec![t];
    let response = client.send(12, &request, Duration::ZERO).await.expect("Fetch");
    let answer = &response.responses[0].partitions[0];
    assert_eq!(answer.error_code, 0, "fetch from the leader at {from}: {answer:?}");
    answer.records.clone().unwrap_or_default().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_cuts_a_tail_the_leader_never_had_and_copies_the_leader() {
    let (leader, _dir, mut client) = leader_broker().await;
    create_topic(&mut client, "t").await;
    produce_to_leader(&mut client, "t", 3).await;

    // The follower starts leaderless with a tail of its own, written as leader of a later epoch (5) the
    // single-node leader (epoch 0) never heard of.
    let source = FakeSource::new(follower_image(leader.local_addr(), "t", NO_LEADER));
    let follower = Node::start(2, 60_000, source.clone());
    let log = follower.log_when_created("t").await;
    log.set_leader_epoch(5);
    log.append(&batch(5), 0).expect("the follower's own tail");
    assert_eq!(log.latest_epoch(), Some(5));

    // Following the leader: it knows no epoch 5 (UNDEFINED), so the follower falls back to its high watermark
    // (nothing was committed here), then fetches everything.
    source.update(|image| image.topics.get_mut("t").expect("topic").partitions[0].leader = 1);
    caught_up(&follower, "t", 3).await;
    assert_eq!(contents(&log), leader_records(&mut client, "t", 0).await, "byte for byte, epochs included");
    assert_eq!(log.latest_epoch(), Some(0));

    // New records flow as they are produced.
    produce_to_leader(&mut client, "t", 2).await;
    caught_up(&follower, "t", 5).await;
    assert_eq!(contents(&log), leader_records(&mut client, "t", 0).await);
    leader.shutdown().await.expect("leader stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_the_leaders_log_start_starts_over_there() {
    let (leader, _dir, mut client) = leader_broker().await;
    create_topic(&mut client, "t").await;
    produce_to_leader(&mut client, "t", 4).await;
    let mut t = DeleteRecordsTopic::default();
    t.name = name("t");
    let mut p = DeleteRecordsPartition::default();
    p.partition_index = 0;
    p.offset = 3;
    t.partitions = vec![p];
    let mut request = DeleteRecordsRequest::default();
    request.topics = vec![t];
    request.timeout_ms = 5000;
    let response = client.send(2, &request, Duration::ZERO).await.expect("DeleteRecords");
    assert_eq!(response.topics[0].partitions[0].low_watermark, 3);

    let follower = Node::start(2, 60_000, FakeSource::new(follower_image(leader.local_addr(), "t", 1)));
    caught_up(&follower, "t", 4).await;
    let log = follower.log("t");
    wait_for("the follower restarts at the leader's log start", || {
        let start = log.log_start_offset();
        async move {
            if start == 3 {
                Ok(())
            } else {
                Err(format!("start {start}"))
            }
        }
    })
    .await;
    assert_eq!(contents(&follower.log("t")), leader_records(&mut client, "t", 3).await);

    // The leader's log start moving later is followed too.
    produce_to_leader(&mut client, "t", 2).await;
    caught_up(&follower, "t", 6).await;
    let mut request = request.clone();
    request.topics[0].partitions[0].offset = 5;
    client.send(2, &request, Duration::ZERO).await.expect("DeleteRecords");
    produce_to_leader(&mut client, "t", 1).await;
    caught_up(&follower, "t", 7).await;
    wait_for("the follower's log start follows the leader's", || {
        let start = log.log_start_offset();
        async move {
            if start == 5 {
                Ok(())
            } else {
                Err(format!("start {start}"))
            }
        }
    })
    .await;
    leader.shutdown().await.expect("leader stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_fetches_within_a_session_and_starts_over_when_it_is_lost() {
    let (leader, _dir, mut client) = leader_broker().await;
    create_topic(&mut client, "t").await;
    produce_to_leader(&mut client, "t", 3).await;
    let follower = Node::start(2, 60_000, FakeSource::new(follower_image(leader.local_addr(), "t", 1)));
    caught_up(&follower, "t", 3).await;

    // The follower's fetches after its first are incremental ones of one session: its epoch moves on.
    let sessions = leader.fetch_sessions();
    let (id, epoch) = wait_for("the follower fetches within a session", || {
        let session = sessions.session_of(2);
        async move {
            match session {
                Some((id, epoch, 1)) if epoch >= 3 => Ok((id, epoch)),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
    produce_to_leader(&mut client, "t", 2).await;
    caught_up(&follower, "t", 5).await;
    assert_eq!(contents(&follower.log("t")), leader_records(&mut client, "t", 0).await);
    let (still, later, _) = sessions.session_of(2).expect("the session lives on");
    assert_eq!(still, id, "records flowed within the same session");
    assert!(later > epoch, "{later} > {epoch}");

    // A session opened in node 2's name replaces the follower's: its next fetch is refused
    // (FETCH_SESSION_ID_NOT_FOUND) and it opens a new session at once.
    let mut request = FetchRequest::default();
    request.replica_id = 2.into();
    request.max_wait_ms = 0;
    request.min_bytes = 1;
    request.max_bytes = 1024;
    request.session_id = 0;
    request.session_epoch = 0;
    let response = client.send(12, &request, Duration::ZERO).await.expect("Fetch");
    let ours = response.session_id;
    assert!(ours > 0 && ours != id);
    wait_for("the follower opens a new session", || {
        let session = sessions.session_of(2);
        async move {
            match session {
                Some((new, _, 1)) if new != ours => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
    produce_to_leader(&mut client, "t", 2).await;
    caught_up(&follower, "t", 7).await;
    assert_eq!(contents(&follower.log("t")), leader_records(&mut client, "t", 0).await);
    leader.shutdown().await.expect("leader stops");
}
