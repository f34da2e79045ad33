//! A three-node cluster in this process: every node answers from the controller's metadata image.

use std::net::SocketAddr;
use std::time::Duration;

use kafka_protocol::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::create_topics_request::{CreatableReplicaAssignment, CreatableTopic};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterPartitionReassignmentsRequest, BrokerId, CreateTopicsRequest,
    DeleteTopicsRequest, DescribeClusterRequest, DescribeConfigsRequest, DescribeQuorumRequest,
    ListPartitionReassignmentsRequest, MetadataRequest, MetadataResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::*;
use crate::support::{reserved_port, topic_name, wait_until, RawClient, TestBroker};

/// Three brokers forming one cluster (every node a broker and a controller), default replication factor 2.
async fn start_cluster() -> Vec<TestBroker> {
    let quorum = (1..=3)
        .map(|id| format!("{id}@127.0.0.1:{}", reserved_port()))
        .collect::<Vec<_>>()
        .join(",");
    let start = |id: i32| {
        let quorum = quorum.clone();
        TestBroker::start(move |c| {
            c.node_id = id;
            c.controller_quorum = Some(quorum);
            c.default_replication_factor = 2;
            c.broker_heartbeat_interval_ms = 200;
        })
    };
    // Each start returns once its broker is registered, which needs a quorum: start them together.
    let (a, b, c) = tokio::join!(start(1), start(2), start(3));
    vec![a, b, c]
}

/// Metadata v12 for `topics` (None: all) from one node, through a fresh connection.
async fn metadata(addr: SocketAddr, topics: Option<&[&str]>) -> Result<MetadataResponse, String> {
    let mut client = RawClient::connect(addr)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let topics = topics.map(|list| {
        list.iter()
            .map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t))))
            .collect()
    });
    let request = MetadataRequest::default()
        .with_topics(topics)
        .with_allow_auto_topic_creation(true);
    client
        .send(12, &request)
        .await
        .map_err(|e| format!("{e:#}"))
}

/// (partition, leader, replicas, isr) per partition.
type Layout = Vec<(i32, i32, Vec<i32>, Vec<i32>)>;

/// The layout of `topic` in `response`, by partition.
fn layout(response: &MetadataResponse, topic: &str) -> Option<Layout> {
    let t = response
        .topics
        .iter()
        .find(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == topic) && t.error_code == NONE)?;
    let mut parts: Vec<_> = t
        .partitions
        .iter()
        .map(|p| {
            let ids = |v: &[BrokerId]| v.iter().map(|b| b.0).collect::<Vec<_>>();
            (
                p.partition_index,
                p.leader_id.0,
                ids(&p.replica_nodes),
                ids(&p.isr_nodes),
            )
        })
        .collect();
    parts.sort();
    Some(parts)
}

/// CreateTopics v7 of one topic: ((error, replication factor, partitions), error message).
async fn create(
    addr: SocketAddr,
    topic: CreatableTopic,
    validate_only: bool,
) -> ((i16, i16, i32), String) {
    let mut client = RawClient::connect(addr).await.unwrap();
    let request = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(10_000)
        .with_validate_only(validate_only);
    let response = client.send(7, &request).await.unwrap();
    let r = &response.topics[0];
    let message = r.error_message.as_ref().map(|m| m.to_string());
    (
        (r.error_code, r.replication_factor, r.num_partitions),
        message.unwrap_or_default(),
    )
}

fn creatable(name: &str, partitions: i32, replication_factor: i16) -> CreatableTopic {
    CreatableTopic::default()
        .with_name(topic_name(name))
        .with_num_partitions(partitions)
        .with_replication_factor(replication_factor)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_three_node_cluster_describes_itself_and_creates_topics_through_the_controller() {
    let nodes = start_cluster().await;
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let ids = |v: &[BrokerId]| v.iter().map(|b| b.0).collect::<Vec<_>>();

    // Every node lists the three brokers and names the same controller.
    let controller = wait_until(
        Duration::from_secs(30),
        "every node agrees on brokers and controller",
        || {
            let addrs = addrs.clone();
            async move {
                let mut seen = Vec::new();
                for addr in addrs {
                    let m = metadata(addr, None).await?;
                    let mut brokers = ids(&m.brokers.iter().map(|b| b.node_id).collect::<Vec<_>>());
                    brokers.sort();
                    seen.push((brokers, m.controller_id.0));
                }
                let controller = seen[0].1;
                let agreed = seen.iter().all(|s| s == &(vec![1, 2, 3], controller));
                if agreed && controller > 0 {
                    Ok(controller)
                } else {
                    Err(format!("{seen:?}"))
                }
            }
        },
    )
    .await;
    let mut client = RawClient::connect(addrs[1]).await.unwrap();
    let cluster = client
        .send(2, &DescribeClusterRequest::default())
        .await
        .unwrap();
    let mut brokers: Vec<(i32, i32)> = cluster
        .brokers
        .iter()
        .map(|b| (b.broker_id.0, b.port))
        .collect();
    brokers.sort();
    let expected: Vec<(i32, i32)> = (1..=3)
        .zip(addrs.iter().map(|a| i32::from(a.port())))
        .collect();
    assert_eq!(brokers, expected);
    assert_eq!(cluster.controller_id.0, controller);

    // A replicated topic created on node 3 is described by node 1 with three in-sync replicas per partition.
    assert_eq!(
        create(addrs[2], creatable("replicated", 3, 3), false)
            .await
            .0,
        (NONE, 3, 3)
    );
    let parts = wait_until(
        Duration::from_secs(10),
        "node 1 describes the new topic",
        || async {
            layout(
                &metadata(addrs[0], Some(&["replicated"])).await?,
                "replicated",
            )
            .ok_or("not yet".to_string())
        },
    )
    .await;
    for (partition, leader, mut replicas, mut isr) in parts {
        assert!(
            replicas.contains(&leader),
            "partition {partition} leader {leader} in {replicas:?}"
        );
        replicas.sort();
        isr.sort();
        assert_eq!(
            (replicas, isr),
            (vec![1, 2, 3], vec![1, 2, 3]),
            "partition {partition}"
        );
    }
    // Refusals carry Kafka codes; -1 takes the broker defaults; validate_only creates nothing.
    let too_wide = create(addrs[0], creatable("too-wide", 1, 4), false).await;
    assert_eq!(too_wide.0 .0, INVALID_REPLICATION_FACTOR, "{too_wide:?}");
    assert_eq!(
        create(addrs[0], creatable("defaulted", -1, -1), false)
            .await
            .0,
        (NONE, 2, 1)
    );
    assert_eq!(
        create(addrs[1], creatable("replicated", 1, 1), false)
            .await
            .0
             .0,
        TOPIC_ALREADY_EXISTS
    );
    assert_eq!(
        create(addrs[1], creatable("validated", 2, 2), true).await.0,
        (NONE, 2, 2)
    );
    let assigned = |lists: &[&[i32]]| {
        creatable("placed", -1, -1).with_assignments(
            lists
                .iter()
                .zip(0..)
                .map(|(l, i)| {
                    CreatableReplicaAssignment::default()
                        .with_partition_index(i)
                        .with_broker_ids(l.iter().copied().map(BrokerId).collect())
                })
                .collect(),
        )
    };
    assert_eq!(
        create(addrs[0], assigned(&[&[3, 9]]), false).await.0 .0,
        INVALID_REPLICA_ASSIGNMENT
    );
    assert_eq!(
        create(addrs[0], assigned(&[&[3, 1], &[2, 3]]), false)
            .await
            .0,
        (NONE, 2, 2)
    );
    let placed = layout(
        &metadata(addrs[0], Some(&["placed"])).await.unwrap(),
        "placed",
    )
    .unwrap();
    assert_eq!(
        placed,
        vec![
            (0, 3, vec![3, 1], vec![3, 1]),
            (1, 2, vec![2, 3], vec![2, 3])
        ]
    );
    let listed = metadata(addrs[0], None).await.unwrap();
    assert!(
        listed
            .topics
            .iter()
            .all(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() != "validated")),
        "validate_only created a topic"
    );

    // Auto-creation: LEADER_NOT_AVAILABLE while the topic is being created, then two replicas (the default).
    let first = metadata(addrs[1], Some(&["auto"])).await.unwrap();
    assert_eq!(first.topics[0].error_code, LEADER_NOT_AVAILABLE);
    let auto = wait_until(
        Duration::from_secs(10),
        "the auto-created topic is described",
        || async {
            layout(&metadata(addrs[2], Some(&["auto"])).await?, "auto").ok_or("not yet".to_string())
        },
    )
    .await;
    assert_eq!(auto.len(), 1);
    assert_eq!(auto[0].2.len(), 2, "{auto:?}");

    // The quorum: three voters led by the controller every node names.
    let quorum = client
        .send(
            1,
            &DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
                .with_topic_name(topic_name("__cluster_metadata"))
                .with_partitions(vec![PartitionData::default()])]),
        )
        .await
        .unwrap();
    let p = &quorum.topics[0].partitions[0];
    let mut voters = ids(&p
        .current_voters
        .iter()
        .map(|v| v.replica_id)
        .collect::<Vec<_>>());
    voters.sort();
    assert_eq!(
        (p.error_code, p.leader_id.0, voters),
        (NONE, controller, vec![1, 2, 3])
    );
    assert!(p.high_watermark > 0, "committed index {}", p.high_watermark);

    // Configs altered on node 1 are described by node 2; a deleted topic disappears everywhere.
    let alter =
        AlterConfigsRequest::default().with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_static_str("replicated"))
            .with_configs(vec![AlterableConfig::default()
                .with_name(StrBytes::from_static_str("retention.ms"))
                .with_value(Some(StrBytes::from_static_str("3600000")))])]);
    let altered = RawClient::connect(addrs[0])
        .await
        .unwrap()
        .send(2, &alter)
        .await
        .unwrap();
    assert_eq!(
        altered.responses[0].error_code, NONE,
        "{:?}",
        altered.responses[0].error_message
    );
    let describe =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_static_str("replicated"))
            .with_configuration_keys(Some(vec![StrBytes::from_static_str("retention.ms")]))]);
    let node_2 = addrs[1];
    wait_until(
        Duration::from_secs(10),
        "node 2 describes the altered config",
        || {
            let describe = describe.clone();
            async move {
                let mut c = RawClient::connect(node_2)
                    .await
                    .map_err(|e| e.to_string())?;
                let r = c.send(4, &describe).await.map_err(|e| e.to_string())?;
                let value = r.results[0]
                    .configs
                    .first()
                    .and_then(|c| c.value.as_ref().map(|v| v.to_string()));
                if value.as_deref() == Some("3600000") {
                    Ok(())
                } else {
                    Err(format!("{value:?}"))
                }
            }
        },
    )
    .await;
    let delete = DeleteTopicsRequest::default()
        .with_topic_names(vec![topic_name("defaulted")])
        .with_timeout_ms(10_000);
    let deleted = RawClient::connect(addrs[2])
        .await
        .unwrap()
        .send(5, &delete)
        .await
        .unwrap();
    assert_eq!(deleted.responses[0].error_code, NONE);
    wait_until(
        Duration::from_secs(10),
        "every node forgets the deleted topic",
        || {
            let addrs = addrs.clone();
            async move {
                for addr in addrs {
                    let m = metadata(addr, None).await?;
                    if m.topics
                        .iter()
                        .any(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == "defaulted"))
                    {
                        return Err(format!("{addr} still lists it"));
                    }
                }
                Ok(())
            }
        },
    )
    .await;

    let (a, b, c) = {
        let mut it = nodes.into_iter();
        (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
    };
    tokio::join!(a.stop(), b.stop(), c.stop());
}

/// The leader of `topic`-`partition` per node `addr`'s metadata, with its epoch.
async fn leader_of(addr: SocketAddr, topic: &str, partition: i32) -> Result<(i32, i32), String> {
    let m = metadata(addr, Some(&[topic])).await?;
    let p = m.topics[0]
        .partitions
        .iter()
        .find(|p| p.partition_index == partition)
        .ok_or_else(|| format!("{topic}-{partition} not described: {:?}", m.topics[0]))?;
    if p.error_code != NONE || p.leader_id.0 < 0 {
        return Err(format!("no leader yet: {p:?}"));
    }
    Ok((p.leader_id.0, p.leader_epoch))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_three_node_cluster_serves_the_partition_apis() {
    let nodes = start_cluster().await;
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let assignment =
        CreatableReplicaAssignment::default().with_broker_ids(vec![BrokerId(2), BrokerId(3)]);
    let topic = creatable("moved", -1, -1).with_assignments(vec![assignment]);
    assert_eq!(create(addrs[0], topic, false).await.0, (NONE, 2, 1));
    let (leader, epoch) = wait_until(Duration::from_secs(10), "moved-0 has a leader", || async {
        leader_of(addrs[0], "moved", 0).await
    })
    .await;
    assert_eq!((leader, epoch), (2, 0));

    // OffsetForLeaderEpoch: the leader answers (its log may still be opening: retry), a follower refuses.
    let leader_addr = addrs[1];
    let answered = wait_until(
        Duration::from_secs(10),
        "the leader answers OffsetForLeaderEpoch",
        || async {
            let mut c = RawClient::connect(leader_addr)
                .await
                .map_err(|e| e.to_string())?;
            match ask(&mut c, 4, ("moved", 0), 0, 0).await {
                (NONE, epoch, offset) => Ok((epoch, offset)),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert_eq!(answered, (0, 0));
    // The follower may not have applied the topic's creation yet (UNKNOWN_TOPIC_OR_PARTITION, as a lagging
    // Kafka broker answers too); once it has, it refuses as a follower.
    let follower_addr = addrs[2];
    wait_until(Duration::from_secs(10), "the follower refuses OffsetForLeaderEpoch", || async {
        let mut c = RawClient::connect(follower_addr).await.map_err(|e| e.to_string())?;
        match ask(&mut c, 4, ("moved", 0), 0, 0).await.0 {
            NOT_LEADER_OR_FOLLOWER => Ok(()),
            other => Err(format!("error code {other}")),
        }
    })
    .await;
    let mut leader_client = RawClient::connect(leader_addr).await.unwrap();
    assert_eq!(
        ask(&mut leader_client, 4, ("moved", 0), 1, 0).await.0,
        UNKNOWN_LEADER_EPOCH
    );

    // The preferred replica already leads: nothing to elect.
    let mut client = RawClient::connect(addrs[0]).await.unwrap();
    let elected = client
        .send(2, &elect_request(0, Some(&[("moved", 0), ("moved", 1)])))
        .await
        .unwrap();
    let codes: Vec<i16> = elected.replica_election_results[0]
        .partition_result
        .iter()
        .map(|p| p.error_code)
        .collect();
    assert_eq!(codes, vec![ELECTION_NOT_NEEDED, UNKNOWN_TOPIC_OR_PARTITION]);

    // Reassignment to brokers 1 and 2: refused for unknown brokers and for cancelling nothing; accepted, it
    // completes once broker 1 has caught up (an empty log: at once), leaving replicas [1, 2].
    let bad = AlterPartitionReassignmentsRequest::default().with_topics(vec![
        reassign("moved", 0, Some(vec![1, 9])),
        reassign("moved", 0, None),
    ]);
    let refused = client.send(0, &bad).await.unwrap();
    let codes: Vec<i16> = refused
        .responses
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect();
    assert_eq!(
        codes,
        vec![INVALID_REPLICA_ASSIGNMENT, NO_REASSIGNMENT_IN_PROGRESS]
    );
    let good = AlterPartitionReassignmentsRequest::default().with_topics(vec![reassign(
        "moved",
        0,
        Some(vec![1, 2]),
    )]);
    let accepted = client.send(1, &good).await.unwrap();
    assert_eq!(
        accepted.responses[0].partitions[0].error_code, NONE,
        "{:?}",
        accepted.responses
    );
    let node_3 = addrs[2];
    wait_until(
        Duration::from_secs(30),
        "the reassignment completes",
        || async move {
            let m = metadata(node_3, Some(&["moved"])).await?;
            let replicas: Vec<i32> = m.topics[0].partitions[0]
                .replica_nodes
                .iter()
                .map(|b| b.0)
                .collect();
            let mut c = RawClient::connect(node_3)
                .await
                .map_err(|e| e.to_string())?;
            let listed = c
                .send(
                    0,
                    &ListPartitionReassignmentsRequest::default().with_topics(None),
                )
                .await
                .map_err(|e| e.to_string())?;
            if replicas == vec![1, 2] && listed.topics.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "replicas {replicas:?}, ongoing {:?}",
                    listed.topics
                ))
            }
        },
    )
    .await;

    // DescribeTopicPartitions from any node shows the image, once that node has applied the reassignment (it
    // was seen complete on node 3, whose image may be ahead of node 1's).
    let node_1 = addrs[0];
    wait_until(Duration::from_secs(10), "node 1 describes the reassigned partition", || async move {
        let mut c = RawClient::connect(node_1).await.map_err(|e| e.to_string())?;
        let described =
            c.send(0, &describe_partitions(&["moved"], 10, None)).await.map_err(|e| e.to_string())?;
        let p = &described.topics[0].partitions[0];
        let mut replicas: Vec<i32> = p.replica_nodes.iter().map(|b| b.0).collect();
        replicas.sort();
        if (p.error_code, &replicas) == (NONE, &vec![1, 2]) {
            Ok(())
        } else {
            Err(format!("error code {}, replicas {replicas:?}", p.error_code))
        }
    })
    .await;

    let (a, b, c) = {
        let mut it = nodes.into_iter();
        (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
    };
    tokio::join!(a.stop(), b.stop(), c.stop());
}
