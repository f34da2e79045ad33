//! KIP-848 consumer groups: librdkafka consumers with `group.protocol=consumer` sharing a topic, and the
//! ConsumerGroupHeartbeat / ConsumerGroupDescribe answers on the wire.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse, GroupId, MetadataRequest, OffsetFetchRequest,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use rdkafka::ClientConfig;
use tokio::task::JoinHandle;

use crate::support::{create_topic, producer, topic_name, wait_until, RawClient, TestBroker};

const TOPIC: &str = "kip848";
const GROUP: &str = "kip848-group";
/// Long enough for a few 5 s heartbeat rounds of revocation and assignment.
const REBALANCE_TIMEOUT: Duration = Duration::from_secs(90);

/// A consumer of the new protocol; session and heartbeat timing come from the broker.
fn group_consumer(bootstrap: &str) -> StreamConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("group.id", GROUP)
        .set("group.protocol", "consumer")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "200")
        .set("fetch.wait.max.ms", "100")
        .set("log_level", "4")
        .create()
        .expect("create a group.protocol=consumer consumer")
}

/// A subscribed consumer polled by its own task; what it reads lands in `seen`.
struct Running {
    consumer: Arc<StreamConsumer>,
    task: JoinHandle<()>,
}

impl Running {
    fn start(bootstrap: &str, seen: Arc<Mutex<BTreeSet<(i32, i64)>>>) -> Self {
        Self::start_counting(bootstrap, seen, Arc::new(Mutex::new(Vec::new())))
    }

    /// [`Running::start`] that also keeps every delivery in `all`, so duplicates show.
    fn start_counting(
        bootstrap: &str,
        seen: Arc<Mutex<BTreeSet<(i32, i64)>>>,
        all: Arc<Mutex<Vec<(i32, i64)>>>,
    ) -> Self {
        let consumer = Arc::new(group_consumer(bootstrap));
        consumer.subscribe(&[TOPIC]).expect("subscribe");
        let polled = consumer.clone();
        let task = tokio::spawn(async move {
            loop {
                match polled.recv().await {
                    Ok(m) => {
                        seen.lock()
                            .expect("seen lock")
                            .insert((m.partition(), m.offset()));
                        all.lock()
                            .expect("all lock")
                            .push((m.partition(), m.offset()));
                    }
                    Err(e) => tracing::warn!("consumer error: {e}"),
                }
            }
        });
        Self { consumer, task }
    }

    /// The partitions librdkafka currently has assigned.
    fn partitions(&self) -> BTreeSet<i32> {
        self.consumer
            .assignment()
            .map(|list| list.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default()
    }

    /// Stops polling and closes the consumer, which leaves the group.
    async fn close(self) {
        self.task.abort();
        let _ = self.task.await;
        let consumer = self.consumer;
        // Dropping the last handle runs librdkafka's blocking close (final commit, leave heartbeat).
        tokio::task::spawn_blocking(move || drop(consumer))
            .await
            .expect("close the consumer");
    }
}

/// Produces `per_partition` records to each of the 6 partitions; returns every (partition, offset).
async fn produce_round(
    bootstrap: &str,
    round: usize,
    per_partition: usize,
) -> BTreeSet<(i32, i64)> {
    let producer = producer(bootstrap);
    let mut out = BTreeSet::new();
    for partition in 0..6 {
        for i in 0..per_partition {
            let value = format!("round-{round}-p{partition}-{i}");
            let delivery = producer
                .send(
                    FutureRecord::<(), _>::to(TOPIC)
                        .partition(partition)
                        .payload(&value),
                    Duration::from_secs(30),
                )
                .await
                .unwrap_or_else(|(e, _)| panic!("produce {value}: {e}"));
            out.insert((delivery.partition, delivery.offset));
        }
    }
    out
}

async fn wait_for_split(consumers: &[&Running], sizes: usize, what: &str) {
    wait_until(REBALANCE_TIMEOUT, what, || async {
        let assigned: Vec<BTreeSet<i32>> = consumers.iter().map(|c| c.partitions()).collect();
        let union: BTreeSet<i32> = assigned.iter().flatten().copied().collect();
        let total: usize = assigned.iter().map(BTreeSet::len).sum();
        if assigned.iter().all(|a| a.len() == sizes) && union.len() == 6 && total == 6 {
            Ok(())
        } else {
            Err(format!("assignments {assigned:?}"))
        }
    })
    .await
}

async fn wait_for_records(
    seen: &Arc<Mutex<BTreeSet<(i32, i64)>>>,
    expected: &BTreeSet<(i32, i64)>,
    what: &str,
) {
    wait_until(REBALANCE_TIMEOUT, what, || async {
        let seen = seen.lock().expect("seen lock");
        let missing: Vec<_> = expected.difference(&seen).take(10).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} of {} records missing, e.g. {missing:?}",
                expected.difference(&seen).count(),
                expected.len()
            ))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_consumers_share_six_partitions_and_take_over_when_one_closes() {
    let broker = TestBroker::start(|c| c.auto_create_topics = false).await;
    create_topic(broker.addr, TOPIC, 6, &[]).await;
    let bootstrap = broker.bootstrap();
    let first = produce_round(&bootstrap, 1, 20).await;

    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let a = Running::start(&bootstrap, seen.clone());
    let b = Running::start(&bootstrap, seen.clone());
    let c = Running::start(&bootstrap, seen.clone());
    wait_for_split(&[&a, &b, &c], 2, "three consumers own two partitions each").await;
    wait_for_records(
        &seen,
        &first,
        "the three consumers have read the first round",
    )
    .await;

    c.close().await;
    wait_for_split(
        &[&a, &b],
        3,
        "the two remaining consumers own three partitions each",
    )
    .await;
    let second = produce_round(&bootstrap, 2, 20).await;
    wait_for_records(
        &seen,
        &second,
        "the two remaining consumers have read the second round",
    )
    .await;

    let mut describe = RawClient::connect(broker.addr).await.expect("connect");
    let described = describe
        .send(
            1,
            &ConsumerGroupDescribeRequest::default()
                .with_group_ids(vec![GroupId(StrBytes::from_static_str(GROUP))]),
        )
        .await
        .expect("ConsumerGroupDescribe answered");
    let group = &described.groups[0];
    assert_eq!(group.error_code, 0);
    assert_eq!(group.members.len(), 2);
    assert_eq!(group.assignor_name.as_str(), "uniform");

    a.close().await;
    b.close().await;
    broker.stop().await;
}

/// Joins `member` with a v1 heartbeat subscribed to the test topic.
fn join(member: &str) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("raw-group")))
        .with_member_id(StrBytes::from_string(member.to_string()))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![topic_name(TOPIC)]))
        .with_topic_partitions(Some(Vec::new()))
}

fn heartbeat(
    member: &str,
    epoch: i32,
    owned: Option<Vec<TopicPartitions>>,
) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("raw-group")))
        .with_member_id(StrBytes::from_string(member.to_string()))
        .with_member_epoch(epoch)
        .with_rebalance_timeout_ms(-1)
        .with_topic_partitions(owned)
}

fn owned(response: &ConsumerGroupHeartbeatResponse) -> Vec<TopicPartitions> {
    let assignment = response
        .assignment
        .as_ref()
        .expect("an assignment in the answer");
    assignment
        .topic_partitions
        .iter()
        .map(|t| {
            TopicPartitions::default()
                .with_topic_id(t.topic_id)
                .with_partitions(t.partitions.clone())
        })
        .collect()
}

fn count(response: &ConsumerGroupHeartbeatResponse) -> usize {
    response.assignment.as_ref().map_or(0, |a| {
        a.topic_partitions.iter().map(|t| t.partitions.len()).sum()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_on_the_wire_revoke_before_they_assign() {
    let broker = TestBroker::start(|c| c.auto_create_topics = false).await;
    create_topic(broker.addr, TOPIC, 4, &[]).await;
    let mut client = RawClient::connect(broker.addr).await.expect("connect");
    let metadata = client
        .send(12, &MetadataRequest::default().with_topics(None))
        .await
        .expect("Metadata answered");
    let topic_id = metadata
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(TOPIC))
        .expect("topic")
        .topic_id;

    let a = client.send(1, &join("member-a")).await.expect("a joins");
    assert_eq!(a.error_code, 0, "{:?}", a.error_message);
    assert_eq!(a.member_id.as_ref().map(|m| m.as_str()), Some("member-a"));
    assert_eq!(a.member_epoch, 1);
    assert_eq!(a.heartbeat_interval_ms, 5_000);
    assert_eq!(count(&a), 4);
    assert_eq!(
        owned(&a)[0].topic_id,
        topic_id,
        "assignments name topics by id"
    );

    // A v0 join leaves the member id to the broker.
    let b = client.send(0, &join("")).await.expect("b joins");
    assert_eq!(b.error_code, 0, "{:?}", b.error_message);
    let b_id = b
        .member_id
        .clone()
        .expect("a broker-generated member id")
        .to_string();
    assert!(!b_id.is_empty());
    assert_eq!(count(&b), 0, "a still owns everything");

    let a2 = client
        .send(1, &heartbeat("member-a", 1, None))
        .await
        .expect("a heartbeats");
    assert_eq!(
        (a2.member_epoch, count(&a2)),
        (1, 2),
        "a is told to revoke two partitions"
    );
    let a3 = client
        .send(1, &heartbeat("member-a", 1, Some(owned(&a2))))
        .await
        .expect("a acknowledges");
    assert_eq!(a3.member_epoch, b.member_epoch);
    let b2 = client
        .send(1, &heartbeat(&b_id, b.member_epoch, Some(Vec::new())))
        .await
        .expect("b heartbeats");
    assert_eq!(count(&b2), 2, "b receives what a released");

    let stale = client
        .send(1, &heartbeat("member-a", 99, None))
        .await
        .expect("answered");
    assert_eq!(stale.error_code, ResponseError::FencedMemberEpoch.code());
    let unknown = client
        .send(1, &heartbeat("nobody", 1, None))
        .await
        .expect("answered");
    assert_eq!(unknown.error_code, ResponseError::UnknownMemberId.code());
    let regex = client
        .send(
            1,
            &join("member-c").with_subscribed_topic_regex(Some(StrBytes::from_static_str("k.*"))),
        )
        .await
        .expect("answered");
    assert_eq!(regex.error_code, ResponseError::InvalidRequest.code());

    for version in 0..=1 {
        let described = client
            .send(
                version,
                &ConsumerGroupDescribeRequest::default().with_group_ids(vec![
                    GroupId(StrBytes::from_static_str("raw-group")),
                    GroupId(StrBytes::from_static_str("no-such-group")),
                ]),
            )
            .await
            .expect("ConsumerGroupDescribe answered");
        let group = &described.groups[0];
        assert_eq!(group.error_code, 0);
        assert_eq!(group.group_state.as_str(), "Stable");
        let members: BTreeMap<String, usize> = group
            .members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.assignment
                        .topic_partitions
                        .iter()
                        .map(|t| t.partitions.len())
                        .sum(),
                )
            })
            .collect();
        assert_eq!(
            members,
            BTreeMap::from([("member-a".to_string(), 2), (b_id.clone(), 2)])
        );
        assert!(group
            .members
            .iter()
            .all(|m| m
                .assignment
                .topic_partitions
                .iter()
                .all(|t| t.topic_name.0.as_str() == TOPIC)));
        assert_eq!(
            described.groups[1].error_code,
            ResponseError::GroupIdNotFound.code()
        );
    }

    let left = client
        .send(1, &heartbeat("member-a", -1, None))
        .await
        .expect("a leaves");
    assert_eq!((left.error_code, left.member_epoch), (0, -1));
    let b3 = client
        .send(1, &heartbeat(&b_id, b2.member_epoch, Some(owned(&b2))))
        .await
        .expect("b heartbeats");
    assert_eq!(count(&b3), 4, "b takes over what a left");
    broker.stop().await;
}

async fn describe_group(addr: std::net::SocketAddr) -> Result<ConsumerGroupDescribeResponse, String> {
    let mut client = RawClient::connect(addr).await.map_err(|e| e.to_string())?;
    client
        .send(
            1,
            &ConsumerGroupDescribeRequest::default()
                .with_group_ids(vec![GroupId(StrBytes::from_static_str(GROUP))]),
        )
        .await
        .map_err(|e| e.to_string())
}

/// (group epoch, member id -> member epoch) of a described group.
fn epochs(described: &ConsumerGroupDescribeResponse) -> (i32, BTreeMap<String, i32>) {
    let group = &described.groups[0];
    let members = group
        .members
        .iter()
        .map(|m| (m.member_id.to_string(), m.member_epoch))
        .collect();
    (group.group_epoch, members)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_keep_their_ids_epochs_and_partitions_across_a_broker_restart() {
    let mut broker = TestBroker::start(|c| c.auto_create_topics = false).await;
    // The consumers must find the restarted broker where they left it.
    broker.config.listen = broker.addr.to_string();
    create_topic(broker.addr, TOPIC, 6, &[]).await;
    let bootstrap = broker.bootstrap();
    let first = produce_round(&bootstrap, 1, 10).await;

    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let all = Arc::new(Mutex::new(Vec::new()));
    let a = Running::start_counting(&bootstrap, seen.clone(), all.clone());
    let b = Running::start_counting(&bootstrap, seen.clone(), all.clone());
    wait_for_split(&[&a, &b], 3, "two consumers own three partitions each").await;
    wait_for_records(&seen, &first, "the consumers have read the first round").await;
    let addr = broker.addr;
    wait_until(REBALANCE_TIMEOUT, "the first round is committed", || async move {
        let mut client = RawClient::connect(addr).await.map_err(|e| e.to_string())?;
        let fetched = client
            .send(
                7,
                &OffsetFetchRequest::default()
                    .with_group_id(GroupId(StrBytes::from_static_str(GROUP)))
                    .with_topics(None),
            )
            .await
            .map_err(|e| e.to_string())?;
        let offsets: Vec<i64> = fetched
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.committed_offset))
            .collect();
        if offsets.len() == 6 && offsets.iter().all(|o| *o == 10) {
            Ok(())
        } else {
            Err(format!("committed {offsets:?}"))
        }
    })
    .await;
    let stable = |d: &ConsumerGroupDescribeResponse| {
        let (epoch, members) = epochs(d);
        d.groups[0].group_state.as_str() == "Stable" && members.len() == 2 && members.values().all(|e| *e == epoch)
    };
    let before = wait_until(REBALANCE_TIMEOUT, "the group is stable", || async move {
        let d = describe_group(addr).await?;
        if stable(&d) {
            Ok(epochs(&d))
        } else {
            Err(format!("{:?}", epochs(&d)))
        }
    })
    .await;
    let owned_before = (a.partitions(), b.partitions());

    let broker = broker.restart().await;
    assert_eq!(broker.addr, addr, "the broker listens where it did");
    let described = describe_group(addr).await.expect("ConsumerGroupDescribe answered");
    assert_eq!(epochs(&described), before, "the group's members and epochs are back from the log");

    let second = produce_round(&bootstrap, 2, 10).await;
    wait_for_records(&seen, &second, "both consumers read the second round after the restart").await;
    let after = describe_group(addr).await.expect("ConsumerGroupDescribe answered");
    assert_eq!(epochs(&after), before, "the members carried on: no rejoin, no new epoch");
    assert_eq!((a.partitions(), b.partitions()), owned_before, "each member kept its partitions");
    let all = all.lock().expect("all lock").clone();
    let unique: BTreeSet<(i32, i64)> = all.iter().copied().collect();
    assert_eq!(all.len(), unique.len(), "no record was delivered twice");
    let expected: BTreeSet<(i32, i64)> = first.union(&second).copied().collect();
    assert_eq!(unique, expected, "every record was delivered, nothing else");

    a.close().await;
    b.close().await;
    let closed = describe_group(addr).await.expect("ConsumerGroupDescribe answered");
    assert!(closed.groups[0].members.is_empty(), "closed consumers left the group");
    broker.stop().await;
}
