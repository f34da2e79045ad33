//! Classic consumer groups through librdkafka (JoinGroup/SyncGroup/Heartbeat/LeaveGroup, committed offsets)
//! and the group APIs on the wire: FindCoordinator, static membership, ListGroups/DescribeGroups/DeleteGroups.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_fetch_request::{OffsetFetchRequestGroup, OffsetFetchRequestTopics};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId, HeartbeatRequest, JoinGroupRequest,
    ListGroupsRequest, OffsetFetchRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::FutureRecord;
use rdkafka::ClientConfig;
use sluice_broker::BrokerConfig;
use tokio::task::JoinHandle;

use crate::support::{create_topic, producer, topic_name, wait_until, RawClient, TestBroker};

/// Generous bound for a rebalance with 6 s sessions (a dropped member is noticed within one session).
const REBALANCE_WAIT: Duration = Duration::from_secs(60);

/// Brokers for these tests: no initial rebalance delay and short sessions allowed.
async fn broker() -> TestBroker {
    TestBroker::start(tweak).await
}

fn tweak(c: &mut BrokerConfig) {
    c.group_initial_rebalance_delay_ms = 0;
    c.group_min_session_timeout_ms = 1_000;
    c.offsets_topic_num_partitions = 5;
}

fn group_consumer(bootstrap: &str, group: &str, extra: &[(&str, &str)]) -> StreamConsumer {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("group.id", group)
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "300")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "100")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .set("log_level", "4");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    config.create().expect("create a group consumer")
}

/// (partition, offset, value) of a consumed record.
type Seen = Arc<Mutex<Vec<(i32, i64, Vec<u8>)>>>;

/// A subscribed consumer polled by its own task, committing every record synchronously before noting it.
struct Running {
    consumer: Arc<StreamConsumer>,
    task: JoinHandle<()>,
}

impl Running {
    fn start(bootstrap: &str, group: &str, topic: &str, extra: &[(&str, &str)], seen: Seen) -> Self {
        let consumer = Arc::new(group_consumer(bootstrap, group, extra));
        consumer.subscribe(&[topic]).expect("subscribe");
        let polled = consumer.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok(m) = polled.recv().await else { continue };
                let row = (m.partition(), m.offset(), m.payload().unwrap_or_default().to_vec());
                let _ = polled.commit_message(&m, CommitMode::Async);
                seen.lock().expect("seen lock").push(row);
            }
        });
        Self { consumer, task }
    }

    /// The partitions of `topic` assigned to this consumer now.
    fn assigned(&self) -> BTreeSet<i32> {
        self.consumer
            .assignment()
            .map(|tpl| tpl.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default()
    }

    /// Stops polling and closes the consumer (off the async workers: closing blocks).
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        let consumer = self.consumer;
        tokio::task::spawn_blocking(move || drop(consumer)).await.expect("close the consumer");
    }
}

/// Waits until the running consumers' assignments are disjoint, cover `partitions` and match `sizes`.
async fn wait_for_split(members: &[&Running], partitions: i32, sizes: &[usize]) -> Vec<BTreeSet<i32>> {
    wait_until(REBALANCE_WAIT, "the group splits the partitions", || async {
        let sets: Vec<BTreeSet<i32>> = members.iter().map(|m| m.assigned()).collect();
        let mut counts: Vec<usize> = sets.iter().map(BTreeSet::len).collect();
        counts.sort_unstable();
        let union: BTreeSet<i32> = sets.iter().flatten().copied().collect();
        let total: usize = counts.iter().sum();
        let mut want = sizes.to_vec();
        want.sort_unstable();
        if counts == want && total == union.len() && union == (0..partitions).collect() {
            Ok(sets)
        } else {
            Err(format!("assignments {sets:?}"))
        }
    })
    .await
}

async fn produce(bootstrap: &str, topic: &str, values: impl IntoIterator<Item = String>) {
    let producer = producer(bootstrap);
    for (i, value) in values.into_iter().enumerate() {
        let key = format!("k{i}");
        producer
            .send(FutureRecord::to(topic).key(&key).payload(&value), Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .expect("produce");
    }
}

async fn wait_for_count(seen: &Seen, n: usize, what: &str) {
    wait_until(REBALANCE_WAIT, what, || async {
        let len = seen.lock().expect("seen lock").len();
        if len >= n {
            Ok(())
        } else {
            Err(format!("{len} of {n} records"))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_consumers_share_six_partitions_and_take_over_a_dropped_one() {
    let broker = broker().await;
    create_topic(broker.addr, "shared", 6, &[]).await;
    let seen: Seen = Arc::default();
    let a = Running::start(&broker.bootstrap(), "trio", "shared", &[], seen.clone());
    let b = Running::start(&broker.bootstrap(), "trio", "shared", &[], seen.clone());
    let c = Running::start(&broker.bootstrap(), "trio", "shared", &[], seen.clone());
    wait_for_split(&[&a, &b, &c], 6, &[2, 2, 2]).await;

    // The group is stable: every record goes to exactly one member.
    produce(&broker.bootstrap(), "shared", (0..120).map(|i| format!("v{i}"))).await;
    wait_for_count(&seen, 120, "the group consumes every record").await;
    let values: Vec<Vec<u8>> = seen.lock().expect("seen lock").iter().map(|(_, _, v)| v.clone()).collect();
    let distinct: BTreeSet<&Vec<u8>> = values.iter().collect();
    assert_eq!((values.len(), distinct.len()), (120, 120), "each record consumed exactly once");

    c.stop().await;
    wait_for_split(&[&a, &b], 6, &[3, 3]).await;
    a.stop().await;
    b.stop().await;

    // Everything was committed: a newcomer to the group starts after the last record.
    let late: Seen = Arc::default();
    let d = Running::start(&broker.bootstrap(), "trio", "shared", &[], late.clone());
    wait_for_split(&[&d], 6, &[6]).await;
    produce(&broker.bootstrap(), "shared", ["after".to_string()]).await;
    wait_for_count(&late, 1, "the newcomer reads the new record").await;
    let got: Vec<Vec<u8>> = late.lock().expect("seen lock").iter().map(|(_, _, v)| v.clone()).collect();
    assert_eq!(got, vec![b"after".to_vec()], "committed records are not read again");
    d.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_groups_each_read_everything() {
    let broker = broker().await;
    create_topic(broker.addr, "both", 2, &[]).await;
    produce(&broker.bootstrap(), "both", (0..20).map(|i| format!("v{i}"))).await;
    let (one, two): (Seen, Seen) = (Arc::default(), Arc::default());
    let a = Running::start(&broker.bootstrap(), "first", "both", &[], one.clone());
    let b = Running::start(&broker.bootstrap(), "second", "both", &[], two.clone());
    wait_for_count(&one, 20, "the first group reads everything").await;
    wait_for_count(&two, 20, "the second group reads everything").await;
    a.stop().await;
    b.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_rebalances_incrementally() {
    let broker = broker().await;
    create_topic(broker.addr, "coop", 4, &[]).await;
    let extra = [("partition.assignment.strategy", "cooperative-sticky")];
    let seen: Seen = Arc::default();
    let a = Running::start(&broker.bootstrap(), "coop", "coop", &extra, seen.clone());
    wait_for_split(&[&a], 4, &[4]).await;
    let b = Running::start(&broker.bootstrap(), "coop", "coop", &extra, seen.clone());
    let split = wait_for_split(&[&a, &b], 4, &[2, 2]).await;
    let c = Running::start(&broker.bootstrap(), "coop", "coop", &extra, seen.clone());
    let three = wait_for_split(&[&a, &b, &c], 4, &[1, 1, 2]).await;
    // Sticky: the old members kept partitions they had.
    assert!(three[0].is_subset(&split[0]) && three[1].is_subset(&split[1]), "{split:?} -> {three:?}");
    b.stop().await;
    wait_for_split(&[&a, &c], 4, &[2, 2]).await;
    produce(&broker.bootstrap(), "coop", (0..8).map(|i| format!("v{i}"))).await;
    wait_for_count(&seen, 8, "the cooperative group consumes").await;
    a.stop().await;
    c.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_a_restart() {
    let broker = broker().await;
    create_topic(broker.addr, "durable", 1, &[]).await;
    produce(&broker.bootstrap(), "durable", (0..10).map(|i| format!("v{i}"))).await;
    let seen: Seen = Arc::default();
    let a = Running::start(&broker.bootstrap(), "keeper", "durable", &[], seen.clone());
    wait_for_count(&seen, 10, "the group reads the first records").await;
    // The consumer commits as it goes; wait until the last commit is stored before restarting.
    wait_until(REBALANCE_WAIT, "offset 10 is committed", || async {
        match committed(broker.addr, "keeper", "durable").await {
            10 => Ok(()),
            other => Err(format!("committed offset {other}")),
        }
    })
    .await;
    a.stop().await;

    let broker = broker.restart().await;
    assert_eq!(committed(broker.addr, "keeper", "durable").await, 10, "the offset survives the restart");

    produce(&broker.bootstrap(), "durable", ["v10".to_string()]).await;
    let later: Seen = Arc::default();
    let b = Running::start(&broker.bootstrap(), "keeper", "durable", &[], later.clone());
    wait_for_count(&later, 1, "the group resumes after its committed offset").await;
    assert_eq!(later.lock().expect("seen lock")[0].1, 10, "resumes at offset 10");
    b.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_rejoins_with_its_assignment_without_a_rebalance() {
    let broker = broker().await;
    create_topic(broker.addr, "static", 4, &[]).await;
    let seen: Seen = Arc::default();
    let a = Running::start(&broker.bootstrap(), "statics", "static", &[("group.instance.id", "a")], seen.clone());
    let b = Running::start(&broker.bootstrap(), "statics", "static", &[("group.instance.id", "b")], seen.clone());
    let before = wait_for_split(&[&a, &b], 4, &[2, 2]).await;
    let members_before = describe_members(broker.addr, "statics").await;
    let generation_before = generation_of(broker.addr, "statics", &members_before[0].0).await;
    // A static member does not leave on close; it comes back before its session runs out.
    a.stop().await;
    let a2 = Running::start(&broker.bootstrap(), "statics", "static", &[("group.instance.id", "a")], seen.clone());
    let after = wait_for_split(&[&a2, &b], 4, &[2, 2]).await;
    assert_eq!(after, before, "both members keep their partitions");
    let members_after = describe_members(broker.addr, "statics").await;
    assert_eq!(members_after.len(), 2);
    let b_id = |m: &[(String, Option<String>)]| m.iter().find(|(_, i)| i.as_deref() == Some("b")).cloned();
    assert_eq!(b_id(&members_after), b_id(&members_before), "b was not disturbed");
    let b_member = b_id(&members_after).expect("b is a member").0;
    assert_eq!(generation_of(broker.addr, "statics", &b_member).await, generation_before, "no rebalance happened");
    a2.stop().await;
    b.stop().await;
    broker.stop().await;
}

/// The committed offset of partition 0 of `topic` for `group` (OffsetFetch v8), -1 if none.
async fn committed(addr: std::net::SocketAddr, group: &str, topic: &str) -> i64 {
    let mut client = RawClient::connect(addr).await.expect("connect");
    let request = OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
        .with_group_id(GroupId(StrBytes::from_string(group.into())))
        .with_topics(Some(vec![OffsetFetchRequestTopics::default()
            .with_name(topic_name(topic))
            .with_partition_indexes(vec![0])]))]);
    let fetched = client.send(8, &request).await.expect("OffsetFetch");
    fetched.groups[0].topics[0].partitions[0].committed_offset
}

/// The group's current generation, found by heartbeating as `member`: only the current one is not
/// ILLEGAL_GENERATION.
async fn generation_of(addr: std::net::SocketAddr, group: &str, member: &str) -> i32 {
    let mut client = RawClient::connect(addr).await.expect("connect");
    for generation in 1..=50 {
        let beat = HeartbeatRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group.into())))
            .with_generation_id(generation)
            .with_member_id(StrBytes::from_string(member.into()));
        let code = client.send(3, &beat).await.expect("Heartbeat").error_code;
        if code != ResponseError::IllegalGeneration.code() {
            return generation;
        }
    }
    panic!("no generation of {group} up to 50 accepts member {member}");
}

async fn describe_members(addr: std::net::SocketAddr, group: &str) -> Vec<(String, Option<String>)> {
    let mut client = RawClient::connect(addr).await.expect("connect");
    let request = DescribeGroupsRequest::default().with_groups(vec![GroupId(StrBytes::from_string(group.into()))]);
    let response = client.send(5, &request).await.expect("DescribeGroups");
    response.groups[0]
        .members
        .iter()
        .map(|m| (m.member_id.to_string(), m.group_instance_id.as_ref().map(|s| s.to_string())))
        .collect()
}

fn join_request(group: &str, member: &str, instance: Option<&str>) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.into())))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_member_id(StrBytes::from_string(member.into()))
        .with_group_instance_id(instance.map(|i| StrBytes::from_string(i.into())))
        .with_protocol_type(StrBytes::from_static_str("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(StrBytes::from_static_str("range"))
            .with_metadata(Bytes::from_static(b"m"))])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_apis_on_the_wire() {
    let broker = broker().await;
    let mut client = RawClient::connect(broker.addr).await.expect("connect");

    // FindCoordinator: this broker, for groups and transactional ids, batched from v4.
    let single = client
        .send(3, &FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g")))
        .await
        .expect("FindCoordinator v3");
    assert_eq!((single.error_code, single.port), (0, i32::from(broker.addr.port())));
    let batched = client
        .send(
            4,
            &FindCoordinatorRequest::default()
                .with_key_type(1)
                .with_coordinator_keys(vec![StrBytes::from_static_str("t1"), StrBytes::from_static_str("t2")]),
        )
        .await
        .expect("FindCoordinator v4");
    assert_eq!(batched.coordinators.len(), 2);
    assert!(batched.coordinators.iter().all(|c| c.error_code == 0 && c.port == i32::from(broker.addr.port())));

    // KIP-394 on v4+: the first join hands out a member id.
    let first = client.send(5, &join_request("wire", "", None)).await.expect("JoinGroup");
    assert_eq!(first.error_code, ResponseError::MemberIdRequired.code());
    let member = first.member_id.to_string();
    let joined = client.send(5, &join_request("wire", &member, None)).await.expect("JoinGroup");
    assert_eq!((joined.error_code, joined.generation_id, joined.leader.as_str()), (0, 1, member.as_str()));
    let sync = SyncGroupRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("wire")))
        .with_generation_id(1)
        .with_member_id(StrBytes::from_string(member.clone()))
        .with_assignments(vec![SyncGroupRequestAssignment::default()
            .with_member_id(StrBytes::from_string(member.clone()))
            .with_assignment(Bytes::from_static(b"mine"))]);
    let synced = client.send(3, &sync).await.expect("SyncGroup");
    assert_eq!((synced.error_code, &synced.assignment[..]), (0, &b"mine"[..]));
    let beat = HeartbeatRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("wire")))
        .with_generation_id(1)
        .with_member_id(StrBytes::from_string(member.clone()));
    assert_eq!(client.send(3, &beat).await.expect("Heartbeat").error_code, 0);
    assert_eq!(
        client.send(3, &beat.clone().with_generation_id(7)).await.expect("Heartbeat").error_code,
        ResponseError::IllegalGeneration.code()
    );

    // ListGroups with a state filter; DescribeGroups shows the member and its assignment.
    let listed = client
        .send(4, &ListGroupsRequest::default().with_states_filter(vec![StrBytes::from_static_str("stable")]))
        .await
        .expect("ListGroups");
    let names: Vec<&str> = listed.groups.iter().map(|g| g.group_id.0.as_str()).collect();
    assert_eq!(names, vec!["wire"]);
    let described = client
        .send(5, &DescribeGroupsRequest::default().with_groups(vec![GroupId(StrBytes::from_static_str("wire"))]))
        .await
        .expect("DescribeGroups");
    let g = &described.groups[0];
    assert_eq!((g.group_state.as_str(), g.protocol_data.as_str(), g.members.len()), ("Stable", "range", 1));
    assert_eq!(&g.members[0].member_assignment[..], b"mine");

    // DeleteGroups refuses a group with members, and deletes it once empty.
    let delete = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(StrBytes::from_static_str("wire"))]);
    let refused = client.send(2, &delete).await.expect("DeleteGroups");
    assert_eq!(refused.results[0].error_code, ResponseError::NonEmptyGroup.code());
    let leave = kafka_protocol::messages::LeaveGroupRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("wire")))
        .with_member_id(StrBytes::from_string(member.clone()));
    assert_eq!(client.send(1, &leave).await.expect("LeaveGroup").error_code, 0);
    let deleted = client.send(2, &delete).await.expect("DeleteGroups");
    assert_eq!(deleted.results[0].error_code, 0);
    let groups: BTreeMap<String, String> = client
        .send(4, &ListGroupsRequest::default())
        .await
        .expect("ListGroups")
        .groups
        .iter()
        .map(|g| (g.group_id.0.to_string(), g.group_state.to_string()))
        .collect();
    assert!(!groups.contains_key("wire"), "{groups:?}");

    // Static membership on the wire: the same instance id rejoining gets the same generation, no rebalance.
    let s1 = client.send(5, &join_request("static-wire", "", Some("inst"))).await.expect("JoinGroup");
    assert_eq!(s1.error_code, 0);
    let sync = sync
        .with_group_id(GroupId(StrBytes::from_static_str("static-wire")))
        .with_generation_id(s1.generation_id)
        .with_member_id(s1.member_id.clone())
        .with_group_instance_id(Some(StrBytes::from_static_str("inst")))
        .with_assignments(vec![SyncGroupRequestAssignment::default()
            .with_member_id(s1.member_id.clone())
            .with_assignment(Bytes::from_static(b"kept"))]);
    assert_eq!(client.send(3, &sync).await.expect("SyncGroup").error_code, 0);
    let s2 = client.send(5, &join_request("static-wire", "", Some("inst"))).await.expect("JoinGroup");
    assert_eq!((s2.error_code, s2.generation_id), (0, s1.generation_id));
    let resync = sync.with_member_id(s2.member_id.clone()).with_assignments(vec![]);
    let again = client.send(3, &resync).await.expect("SyncGroup");
    assert_eq!(&again.assignment[..], b"kept");
    broker.stop().await;
}
