//! Partition replication across three in-process brokers in cluster mode (every node a broker and a
//! controller): acks=all records survive the loss of their leader, only leaders serve consumers, followers
//! that stop are dropped from the ISR (and `min.insync.replicas` then refuses acks=all) and rejoin it once they
//! have caught up after a restart.

use std::net::SocketAddr;
use std::time::Duration;

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
    MetadataRequest, MetadataResponse, ProduceResponse,
};
use kafka_protocol::protocol::StrBytes;
use sluice_broker::{Broker, BrokerConfig, BrokerHandle};
use tempfile::TempDir;

use crate::support::{
    encode_batch, fetch_request, fetched, init_tracing, now_ms, produce_request, read_partition,
    record, reserved_port, row, topic_name, wait_until, FETCH_VERSION, PRODUCE_VERSION, RawClient,
    Row,
};

/// Elections, fencing and catching up on a loaded 2-core machine.
const WAIT: Duration = Duration::from_secs(30);

const NONE: i16 = 0;
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const NOT_ENOUGH_REPLICAS: i16 = 19;
const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;

/// One cluster node: a broker (and controller) in this process, which can be stopped and started again on its
/// data dir.
struct Node {
    config: BrokerConfig,
    handle: Option<BrokerHandle>,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Node {
    async fn start(id: i32, quorum: String) -> Self {
        let dir = TempDir::new().expect("a data dir");
        let config = BrokerConfig {
            listen: "127.0.0.1:0".into(),
            data_dir: dir.path().join("data"),
            node_id: id,
            controller_quorum: Some(quorum),
            bind_outbound: Some("127.0.0.1".into()),
            controller_election_timeout_ms: 500,
            controller_heartbeat_interval_ms: 100,
            broker_heartbeat_interval_ms: 200,
            broker_session_timeout_ms: 2_000,
            replica_fetch_wait_max_ms: 100,
            ..BrokerConfig::default()
        };
        let handle = Broker::start(config.clone())
            .await
            .expect("the node starts");
        Self {
            addr: handle.local_addr(),
            config,
            handle: Some(handle),
            _dir: dir,
        }
    }

    async fn stop(&mut self) {
        let handle = self.handle.take().expect("the node is running");
        tokio::time::timeout(WAIT, handle.shutdown())
            .await
            .expect("the node stops in time")
            .expect("the node stops cleanly");
    }

    /// Starts the node again on its data dir (with a new Kafka port).
    async fn start_again(&mut self) {
        let handle = Broker::start(self.config.clone())
            .await
            .expect("the node starts again");
        self.addr = handle.local_addr();
        self.handle = Some(handle);
    }
}

/// Three nodes forming one cluster, tuned so that a stopped broker is fenced within seconds.
async fn start_cluster() -> Vec<Node> {
    init_tracing();
    let quorum = (1..=3)
        .map(|id| format!("{id}@127.0.0.1:{}", reserved_port()))
        .collect::<Vec<_>>()
        .join(",");
    // Each start returns once its broker is registered, which needs a quorum: start them together.
    let (a, b, c) = tokio::join!(
        Node::start(1, quorum.clone()),
        Node::start(2, quorum.clone()),
        Node::start(3, quorum)
    );
    vec![a, b, c]
}

async fn stop_all(nodes: Vec<Node>) {
    for mut node in nodes {
        if node.handle.is_some() {
            node.stop().await;
        }
    }
}

fn addr(nodes: &[Node], id: i32) -> SocketAddr {
    nodes[(id - 1) as usize].addr
}

/// Creates `name` with one partition on every node, with `configs`.
async fn create_replicated(addr: SocketAddr, name: &str, configs: &[(&str, &str)]) {
    let mut client = RawClient::connect(addr).await.expect("connect");
    let topic = CreatableTopic::default()
        .with_name(topic_name(name))
        .with_num_partitions(1)
        .with_replication_factor(3)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(StrBytes::from_string(k.to_string()))
                        .with_value(Some(StrBytes::from_string(v.to_string())))
                })
                .collect(),
        );
    let request = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(10_000);
    let response = client.send(7, &request).await.expect("CreateTopics");
    let r = &response.topics[0];
    assert_eq!(
        r.error_code, NONE,
        "CreateTopics {name}: {:?}",
        r.error_message
    );
}

/// (leader, isr) of partition 0 of `topic` as node `addr` sees it.
async fn partition_state(addr: SocketAddr, topic: &str) -> Result<(i32, Vec<i32>), String> {
    let mut client = RawClient::connect(addr)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let request = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(topic_name(topic))),
    ]));
    let response: MetadataResponse = client
        .send(12, &request)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let p = response
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or("no partition in the answer")?;
    let mut isr: Vec<i32> = p.isr_nodes.iter().map(|b| b.0).collect();
    isr.sort_unstable();
    Ok((p.leader_id.0, isr))
}

/// Waits until node `addr` names a leader of `topic` other than `not`, with an ISR satisfying `isr_ok`.
async fn wait_for_leader(
    addr: SocketAddr,
    topic: &str,
    not: i32,
    isr_ok: impl Fn(&[i32]) -> bool,
) -> i32 {
    wait_until(
        WAIT,
        &format!("{topic} has a leader other than {not}"),
        || {
            let isr_ok = &isr_ok;
            async move {
                match partition_state(addr, topic).await? {
                    (leader, isr) if leader >= 0 && leader != not && isr_ok(&isr) => Ok(leader),
                    state => Err(format!("(leader, isr) = {state:?}")),
                }
            }
        },
    )
    .await
}

/// Produces a batch of `values` to partition 0 of `topic` with `acks`; the partition's error code and base offset.
async fn produce(addr: SocketAddr, topic: &str, acks: i16, values: &[String]) -> (i16, i64) {
    let mut client = RawClient::connect(addr).await.expect("connect");
    let records: Vec<_> = values
        .iter()
        .map(|v| record(None, Some(v.as_bytes()), now_ms()))
        .collect();
    let request = produce_request(topic, 0, acks, encode_batch(&records));
    let response: ProduceResponse = client
        .send(PRODUCE_VERSION, &request)
        .await
        .expect("Produce");
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// Produces until the leader at `addr` accepts (it may still be taking the role); returns the base offset.
async fn produce_accepted(addr: SocketAddr, topic: &str, values: &[String]) -> i64 {
    wait_until(WAIT, "the leader accepts an acks=all produce", || async {
        match produce(addr, topic, -1, values).await {
            (NONE, base) => Ok(base),
            (code, _) => Err(format!("error {code}")),
        }
    })
    .await
}

fn values(from: usize, n: usize) -> Vec<String> {
    (from..from + n).map(|i| format!("value-{i}")).collect()
}

fn rows(values: &[String], base: i64) -> Vec<Row> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (base + i as i64, None, Some(v.as_bytes().to_vec())))
        .collect()
}

/// The latest offset of partition 0 of `topic` per ListOffsets at `addr`: (error, offset).
async fn latest_offset(addr: SocketAddr, topic: &str) -> (i16, i64) {
    let mut client = RawClient::connect(addr).await.expect("connect");
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-1)])]);
    let response: ListOffsetsResponse = client.send(7, &request).await.expect("ListOffsets");
    let p = &response.topics[0].partitions[0];
    (p.error_code, p.offset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acks_all_records_survive_the_loss_of_their_leader() {
    let mut nodes = start_cluster().await;
    create_replicated(addr(&nodes, 1), "replicated", &[]).await;
    let leader = wait_for_leader(addr(&nodes, 1), "replicated", -1, |isr| isr.len() == 3).await;
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");

    let mut produced = Vec::new();
    let first = values(0, 5);
    let base = produce_accepted(addr(&nodes, leader), "replicated", &first).await;
    assert_eq!(base, 0);
    produced.extend(rows(&first, base));
    for round in 1..4 {
        let more = values(round * 5, 5);
        let (code, base) = produce(addr(&nodes, leader), "replicated", -1, &more).await;
        assert_eq!(code, NONE, "acks=all produce {round}");
        produced.extend(rows(&more, base));
    }

    // Only the leader serves consumers; a follower names the leader (Fetch v12+).
    let mut at_follower = RawClient::connect(addr(&nodes, follower))
        .await
        .expect("connect");
    let response: FetchResponse = at_follower
        .send(FETCH_VERSION, &fetch_request("replicated", 0, 0, 0, 1))
        .await
        .expect("Fetch");
    let p = &response.responses[0].partitions[0];
    assert_eq!(p.error_code, NOT_LEADER_OR_FOLLOWER);
    assert_eq!(p.current_leader.leader_id.0, leader);
    assert_eq!(
        latest_offset(addr(&nodes, follower), "replicated").await.0,
        NOT_LEADER_OR_FOLLOWER
    );
    // The leader's latest offset is its high watermark: every acks=all record is below it.
    assert_eq!(
        latest_offset(addr(&nodes, leader), "replicated").await,
        (NONE, 20)
    );
    // A broker that is not a replica may not fetch as one.
    let mut at_leader = RawClient::connect(addr(&nodes, leader))
        .await
        .expect("connect");
    let response: FetchResponse = at_leader
        .send(
            FETCH_VERSION,
            &fetch_request("replicated", 0, 0, 0, 1).with_replica_id(BrokerId(42)),
        )
        .await
        .expect("Fetch");
    assert_eq!(
        fetched(&response).expect("answer").error_code,
        NOT_LEADER_OR_FOLLOWER
    );
    let read = read_partition(&mut at_leader, "replicated", 0, 0)
        .await
        .expect("read from the leader");
    assert_eq!(read.iter().map(row).collect::<Vec<_>>(), produced);

    // The leader stops; once it is fenced another ISR member leads, with every acknowledged record.
    nodes[(leader - 1) as usize].stop().await;
    let next = wait_for_leader(addr(&nodes, follower), "replicated", leader, |_| true).await;
    let mut at_next = RawClient::connect(addr(&nodes, next))
        .await
        .expect("connect");
    let read = wait_until(WAIT, "the new leader serves every record", || async {
        let mut client = RawClient::connect(addr(&nodes, next))
            .await
            .map_err(|e| format!("{e:#}"))?;
        let read = read_partition(&mut client, "replicated", 0, 0)
            .await
            .map_err(|e| format!("{e:#}"))?;
        if read.len() == produced.len() {
            Ok(read)
        } else {
            Err(format!("{} of {} records", read.len(), produced.len()))
        }
    })
    .await;
    assert_eq!(read.iter().map(row).collect::<Vec<_>>(), produced);

    // Writing goes on with the two that are left.
    let more = values(100, 3);
    let base = produce_accepted(addr(&nodes, next), "replicated", &more).await;
    assert_eq!(base, 20);
    produced.extend(rows(&more, base));
    let read = read_partition(&mut at_next, "replicated", 0, 0)
        .await
        .expect("read from the new leader");
    assert_eq!(read.iter().map(row).collect::<Vec<_>>(), produced);
    stop_all(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_follower_leaves_the_isr_and_rejoins_after_catching_up() {
    let mut nodes = start_cluster().await;
    create_replicated(addr(&nodes, 1), "guarded", &[("min.insync.replicas", "3")]).await;
    let leader = wait_for_leader(addr(&nodes, 1), "guarded", -1, |isr| isr.len() == 3).await;
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");
    let mut produced = Vec::new();
    let first = values(0, 4);
    let base = produce_accepted(addr(&nodes, leader), "guarded", &first).await;
    produced.extend(rows(&first, base));

    // The follower stops: fenced, it leaves the ISR, and acks=all can no longer reach 3 replicas.
    nodes[(follower - 1) as usize].stop().await;
    wait_for_leader(addr(&nodes, leader), "guarded", -1, |isr| {
        isr.len() == 2 && !isr.contains(&follower)
    })
    .await;
    assert_eq!(
        produce(addr(&nodes, leader), "guarded", -1, &values(50, 1))
            .await
            .0,
        NOT_ENOUGH_REPLICAS
    );
    // acks=1 does not wait for anyone.
    let more = values(10, 3);
    let (code, base) = produce(addr(&nodes, leader), "guarded", 1, &more).await;
    assert_eq!(code, NONE);
    produced.extend(rows(&more, base));

    // Back on its own data dir, it catches up and rejoins; acks=all works again.
    nodes[(follower - 1) as usize].start_again().await;
    wait_for_leader(addr(&nodes, leader), "guarded", -1, |isr| isr.len() == 3).await;
    let last = values(20, 2);
    let base = produce_accepted(addr(&nodes, leader), "guarded", &last).await;
    produced.extend(rows(&last, base));
    let mut at_leader = RawClient::connect(addr(&nodes, leader))
        .await
        .expect("connect");
    let read = read_partition(&mut at_leader, "guarded", 0, 0)
        .await
        .expect("read from the leader");
    assert_eq!(read.iter().map(row).collect::<Vec<_>>(), produced);
    stop_all(nodes).await;
}

/// Writes an acks=all Produce of one record with `value` to partition 0 of "piped"; its correlation id.
async fn send_value(client: &mut RawClient, value: &str) -> i32 {
    let batch = encode_batch(&[record(None, Some(value.as_bytes()), now_ms())]);
    client
        .send_only(PRODUCE_VERSION, &produce_request("piped", 0, -1, batch))
        .await
        .expect("send Produce")
}

/// A connection's acks=all Produce requests overlap: each is appended as soon as it is read, while earlier ones
/// wait for the in-sync replicas, and the answers still come in request order, as does a Metadata answer sent
/// behind them. Kafka instead reads nothing more from the connection until the first answer is out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipelined_acks_all_produces_overlap_and_answer_in_order() {
    let mut nodes = start_cluster().await;
    create_replicated(addr(&nodes, 1), "piped", &[("min.insync.replicas", "3")]).await;
    let leader = wait_for_leader(addr(&nodes, 1), "piped", -1, |isr| isr.len() == 3).await;
    produce_accepted(addr(&nodes, leader), "piped", &values(0, 1)).await;
    let mut client = RawClient::connect(addr(&nodes, leader))
        .await
        .expect("connect");
    let answer = |p: &ProduceResponse| {
        let p = &p.responses[0].partition_responses[0];
        (p.error_code, p.base_offset)
    };

    // Healthy ISR: fifty requests written back to back all succeed, in order.
    let mut sent = Vec::new();
    for i in 0..50 {
        sent.push(send_value(&mut client, &format!("healthy-{i}")).await);
    }
    let mut last = 0;
    for (i, id) in sent.into_iter().enumerate() {
        let response = client
            .receive::<kafka_protocol::messages::ProduceRequest>(PRODUCE_VERSION, id)
            .await
            .expect("answers come in request order");
        let (code, base) = answer(&response);
        assert_eq!(code, NONE, "request {i}");
        assert!(base > last, "request {i} appended after the one before: {base} <= {last}");
        last = base;
    }

    // A follower stops. Its ISR entry stays until it is fenced (seconds), so acks=all cannot complete meanwhile.
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");
    nodes[(follower - 1) as usize].stop().await;
    let first = send_value(&mut client, "waits-1").await;
    let second = send_value(&mut client, "waits-2").await;
    let metadata = client
        .send_only(
            12,
            &MetadataRequest::default().with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(topic_name("piped"))),
            ])),
        )
        .await
        .expect("send Metadata");
    let first = client
        .receive::<kafka_protocol::messages::ProduceRequest>(PRODUCE_VERSION, first)
        .await
        .expect("the first answer");
    let second = client
        .receive::<kafka_protocol::messages::ProduceRequest>(PRODUCE_VERSION, second)
        .await
        .expect("the second answer, after the first");
    client
        .receive::<MetadataRequest>(12, metadata)
        .await
        .expect("the Metadata answer, after both");
    // Both were appended before the ISR shrank: both learn it only after their append. Served one at a time,
    // the second would have been refused before appending (NOT_ENOUGH_REPLICAS) once the first was answered.
    let (first, second) = (answer(&first), answer(&second));
    assert_eq!(
        (first.0, second.0),
        (NOT_ENOUGH_REPLICAS_AFTER_APPEND, NOT_ENOUGH_REPLICAS_AFTER_APPEND),
        "answers: {first:?}, {second:?}"
    );
    let mut at_leader = RawClient::connect(addr(&nodes, leader))
        .await
        .expect("connect");
    let read = read_partition(&mut at_leader, "piped", 0, last + 1)
        .await
        .expect("read from the leader");
    let values: Vec<_> = read.iter().filter_map(|r| r.value.clone()).collect();
    assert_eq!(values, vec!["waits-1".as_bytes(), "waits-2".as_bytes()]);
    stop_all(nodes).await;
}

/// Followers fetch within fetch sessions (KIP-227), which the leader keeps one per follower id: a session opened
/// in a follower's name replaces the real follower's, whose next incremental fetch is then refused, and the
/// follower opening a new one in turn replaces ours. Followers fetching without sessions would never do that.
/// Replication goes on through all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn followers_fetch_within_sessions_and_recover_a_lost_one() {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::FetchRequest;
    const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;

    let nodes = start_cluster().await;
    create_replicated(addr(&nodes, 1), "sessions", &[]).await;
    let leader = wait_for_leader(addr(&nodes, 1), "sessions", -1, |isr| isr.len() == 3).await;
    let base = produce_accepted(addr(&nodes, leader), "sessions", &values(0, 3)).await;
    let end = base + 3;
    let follower = (1..=3).find(|&id| id != leader).expect("a follower");

    // A session in the follower's name, for the partition at the end the follower has (acks=all was answered).
    let fetch = |session_id: i32, epoch: i32, partitions: Vec<FetchPartition>| {
        let topics = if partitions.is_empty() {
            Vec::new()
        } else {
            vec![FetchTopic::default().with_topic(topic_name("sessions")).with_partitions(partitions)]
        };
        FetchRequest::default()
            .with_replica_id(BrokerId(follower))
            .with_max_wait_ms(50)
            .with_min_bytes(1)
            .with_max_bytes(1024 * 1024)
            .with_session_id(session_id)
            .with_session_epoch(epoch)
            .with_topics(topics)
    };
    let partition = FetchPartition::default()
        .with_partition(0)
        .with_fetch_offset(end)
        .with_current_leader_epoch(-1)
        .with_partition_max_bytes(1024 * 1024);
    let mut client = RawClient::connect(addr(&nodes, leader))
        .await
        .expect("connect");
    let response: FetchResponse = client
        .send(FETCH_VERSION, &fetch(0, 0, vec![partition]))
        .await
        .expect("Fetch");
    assert_eq!(response.error_code, NONE);
    let ours = response.session_id;
    assert!(ours > 0, "the leader opens sessions for followers");

    // The real follower's next fetch names its own (replaced) session and is refused; it opens a new one, which
    // replaces ours.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut epoch = 1;
    loop {
        // Each fetch waits up to its max_wait_ms for news: that paces the loop.
        let response: FetchResponse = client
            .send(FETCH_VERSION, &fetch(ours, epoch, Vec::new()))
            .await
            .expect("Fetch");
        if response.error_code == FETCH_SESSION_ID_NOT_FOUND {
            break;
        }
        assert_eq!((response.error_code, response.session_id), (NONE, ours), "epoch {epoch}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the real follower never replaced the session opened in its name: it fetches without sessions"
        );
        epoch += 1;
    }

    // Replication goes on: acks=all with every replica in the ISR, and the follower has every record.
    let more = values(3, 2);
    let (code, base) = produce(addr(&nodes, leader), "sessions", -1, &more).await;
    assert_eq!((code, base), (NONE, end));
    let (_, isr) = partition_state(addr(&nodes, leader), "sessions").await.expect("state");
    assert_eq!(isr, vec![1, 2, 3]);
    stop_all(nodes).await;
}
