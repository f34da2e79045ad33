//! A broker without a controller quorum answers the cluster APIs as a one-broker cluster.

use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, BrokerId, DescribeQuorumRequest,
    DescribeTopicPartitionsResponse, ListPartitionReassignmentsRequest,
};

use super::*;
use crate::support::{
    assert_serving, create_topic, now_ms, produce_raw, record, topic_name, RawClient, TestBroker,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_for_leader_epoch_answers_as_the_leader_of_everything() {
    let broker = TestBroker::start(|_| {}).await;
    create_topic(broker.addr, "epochs", 2, &[]).await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    let records = [
        record(None, Some(b"a"), now_ms()),
        record(None, Some(b"b"), now_ms()),
    ];
    for _ in 0..2 {
        assert_eq!(
            produce_raw(&mut client, "epochs", 0, &records)
                .await
                .unwrap()
                .0,
            NONE
        );
    }

    for version in 2..=4 {
        let c = &mut client;
        // The current epoch (0) ends at the log end; -1 asks not to check the client's epoch.
        assert_eq!(
            ask(c, version, ("epochs", 0), 0, 0).await,
            (NONE, 0, 4),
            "v{version}"
        );
        assert_eq!(
            ask(c, version, ("epochs", 0), -1, 0).await,
            (NONE, 0, 4),
            "v{version}"
        );
        // An epoch the leader never had is undefined.
        assert_eq!(
            ask(c, version, ("epochs", 0), 0, 3).await,
            (NONE, -1, -1),
            "v{version}"
        );
        // A client ahead of the leader's epoch: UNKNOWN_LEADER_EPOCH.
        assert_eq!(
            ask(c, version, ("epochs", 0), 1, 0).await.0,
            UNKNOWN_LEADER_EPOCH,
            "v{version}"
        );
        // The empty partition's epoch 0 ends at 0.
        assert_eq!(
            ask(c, version, ("epochs", 1), 0, 0).await,
            (NONE, 0, 0),
            "v{version}"
        );
        for target in [("epochs", 2), ("epochs", -1), ("no-such-topic", 0)] {
            assert_eq!(
                ask(c, version, target, 0, 0).await,
                (UNKNOWN_TOPIC_OR_PARTITION, -1, -1),
                "v{version} {target:?}"
            );
        }
    }
    assert_serving(broker.addr, "OffsetForLeaderEpoch with bad partitions").await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elect_leaders_is_never_needed_on_one_broker() {
    let broker = TestBroker::start(|_| {}).await;
    create_topic(broker.addr, "elect", 1, &[]).await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    let wanted: &[(&str, i32)] = &[("elect", 0), ("elect", 5), ("missing", 0)];
    for version in 0..=2 {
        let types: &[i8] = if version == 0 { &[0] } else { &[0, 1] };
        for &election_type in types {
            let response = client
                .send(version, &elect_request(election_type, Some(wanted)))
                .await
                .unwrap();
            assert_eq!(response.error_code, NONE);
            let codes: Vec<(String, i32, i16)> = response
                .replica_election_results
                .iter()
                .flat_map(|t| {
                    t.partition_result
                        .iter()
                        .map(move |p| (t.topic.0.to_string(), p.partition_id, p.error_code))
                })
                .collect();
            assert_eq!(
                codes,
                vec![
                    ("elect".to_string(), 0, ELECTION_NOT_NEEDED),
                    ("elect".to_string(), 5, UNKNOWN_TOPIC_OR_PARTITION),
                    ("missing".to_string(), 0, UNKNOWN_TOPIC_OR_PARTITION),
                ],
                "v{version} type {election_type}"
            );
        }
        // Every partition: Kafka lists only partitions where an election happened or failed.
        let response = client.send(version, &elect_request(0, None)).await.unwrap();
        assert!(
            response.replica_election_results.is_empty(),
            "v{version}: {:?}",
            response.replica_election_results
        );
    }
    // An election type that does not exist.
    let response = client
        .send(2, &elect_request(7, Some(&[("elect", 0)])))
        .await
        .unwrap();
    assert_eq!(response.error_code, INVALID_REQUEST);
    assert_eq!(
        response.replica_election_results[0].partition_result[0].error_code,
        INVALID_REQUEST
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reassignments_on_one_broker_can_only_target_itself() {
    let broker = TestBroker::start(|c| c.node_id = 4).await;
    create_topic(broker.addr, "moving", 1, &[]).await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    let cases: Vec<(ReassignableTopic, i16)> = vec![
        (reassign("moving", 0, Some(vec![4])), NONE),
        (
            reassign("moving", 0, Some(vec![4, 5])),
            INVALID_REPLICA_ASSIGNMENT,
        ),
        (
            reassign("moving", 0, Some(vec![])),
            INVALID_REPLICA_ASSIGNMENT,
        ),
        (reassign("moving", 0, None), NO_REASSIGNMENT_IN_PROGRESS),
        (
            reassign("moving", 3, Some(vec![4])),
            UNKNOWN_TOPIC_OR_PARTITION,
        ),
        (
            reassign("missing", 0, Some(vec![4])),
            UNKNOWN_TOPIC_OR_PARTITION,
        ),
    ];
    for version in 0..=1 {
        let request = AlterPartitionReassignmentsRequest::default()
            .with_timeout_ms(10_000)
            .with_topics(cases.iter().map(|(t, _)| t.clone()).collect());
        let response = client.send(version, &request).await.unwrap();
        assert_eq!(response.error_code, NONE);
        let codes: Vec<i16> = response
            .responses
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect();
        let expected: Vec<i16> = cases.iter().map(|(_, code)| *code).collect();
        assert_eq!(codes, expected, "v{version}: {:?}", response.responses);
    }
    // v1 can forbid replication factor changes.
    let request = AlterPartitionReassignmentsRequest::default()
        .with_allow_replication_factor_change(false)
        .with_topics(vec![reassign("moving", 0, Some(vec![4, 5]))]);
    let response = client.send(1, &request).await.unwrap();
    assert!(!response.allow_replication_factor_change);
    assert_eq!(
        response.responses[0].partitions[0].error_code,
        INVALID_REPLICATION_FACTOR
    );

    // Nothing is ever moving, whether asked for everything, a topic, or a topic that does not exist.
    let all = client
        .send(
            0,
            &ListPartitionReassignmentsRequest::default().with_topics(None),
        )
        .await
        .unwrap();
    assert_eq!((all.error_code, all.topics.len()), (NONE, 0));
    let some = ListPartitionReassignmentsRequest::default().with_topics(Some(vec![
        ListPartitionReassignmentsTopics::default()
            .with_name(topic_name("moving"))
            .with_partition_indexes(vec![0, 9]),
        ListPartitionReassignmentsTopics::default()
            .with_name(topic_name("missing"))
            .with_partition_indexes(vec![0]),
    ]));
    let some = client.send(0, &some).await.unwrap();
    assert_eq!((some.error_code, some.topics.len()), (NONE, 0));
    assert_serving(broker.addr, "reassignment requests").await;
    broker.stop().await;
}

/// (topic, error, partition indexes) per topic, and the next cursor.
type Page = (Vec<(String, i16, Vec<i32>)>, Option<(String, i32)>);

fn page(response: &DescribeTopicPartitionsResponse) -> Page {
    let topics = response
        .topics
        .iter()
        .map(|t| {
            let name = t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
            (
                name,
                t.error_code,
                t.partitions.iter().map(|p| p.partition_index).collect(),
            )
        })
        .collect();
    let cursor = response
        .next_cursor
        .as_ref()
        .map(|c| (c.topic_name.0.to_string(), c.partition_index));
    (topics, cursor)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_topic_partitions_pages_with_a_cursor() {
    let broker = TestBroker::start(|c| c.node_id = 2).await;
    create_topic(broker.addr, "page-a", 3, &[]).await;
    create_topic(broker.addr, "page-b", 2, &[]).await;
    create_topic(broker.addr, "page-c", 1, &[]).await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    let s = |x: &str| x.to_string();
    // Asked out of order: answered in name order; an unknown name is listed with its error.
    let topics = ["page-c", "page-missing", "page-b", "page-a"];

    let first = client
        .send(0, &describe_partitions(&topics, 4, None))
        .await
        .unwrap();
    assert_eq!(
        page(&first),
        (
            vec![
                (s("page-a"), NONE, vec![0, 1, 2]),
                (s("page-b"), NONE, vec![0])
            ],
            Some((s("page-b"), 1))
        )
    );
    let p = &first.topics[0].partitions[1];
    assert_eq!(
        (
            p.leader_id,
            p.leader_epoch,
            p.replica_nodes.clone(),
            p.isr_nodes.clone()
        ),
        (BrokerId(2), 0, vec![BrokerId(2)], vec![BrokerId(2)])
    );
    assert!(!first.topics[0].topic_id.is_nil());

    let second = client
        .send(0, &describe_partitions(&topics, 4, Some(("page-b", 1))))
        .await
        .unwrap();
    assert_eq!(
        page(&second),
        (
            vec![
                (s("page-b"), NONE, vec![1]),
                (s("page-c"), NONE, vec![0]),
                (s("page-missing"), UNKNOWN_TOPIC_OR_PARTITION, vec![]),
            ],
            None
        )
    );

    // A limit reached exactly at the end of a topic points the cursor at the next topic.
    let exact = client
        .send(0, &describe_partitions(&topics, 3, None))
        .await
        .unwrap();
    assert_eq!(
        page(&exact),
        (
            vec![(s("page-a"), NONE, vec![0, 1, 2])],
            Some((s("page-b"), 0))
        )
    );

    // A cursor outside the asked-for topics, or before partition 0, refuses the request.
    for cursor in [("page-z", 0), ("page-a", -1)] {
        let refused = client
            .send(
                0,
                &describe_partitions(&["page-a", "page-b"], 10, Some(cursor)),
            )
            .await
            .unwrap();
        assert_eq!(
            page(&refused).0,
            vec![
                (s("page-a"), INVALID_REQUEST, vec![]),
                (s("page-b"), INVALID_REQUEST, vec![])
            ],
            "cursor {cursor:?}"
        );
    }
    let bad_name = client
        .send(0, &describe_partitions(&["no/slashes"], 10, None))
        .await
        .unwrap();
    assert_eq!(
        page(&bad_name).0,
        vec![(s("no/slashes"), INVALID_TOPIC_EXCEPTION, vec![])]
    );

    // Everything: internal topics included, every user topic complete.
    let all = client
        .send(0, &describe_partitions(&[], 2000, None))
        .await
        .unwrap();
    let (listed, cursor) = page(&all);
    assert_eq!(cursor, None);
    for (name, count) in [("page-a", 3), ("page-b", 2), ("page-c", 1)] {
        let found = listed
            .iter()
            .find(|t| t.0 == name)
            .unwrap_or_else(|| panic!("{name} listed"));
        assert_eq!(found.2.len(), count, "{name}");
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_quorum_shows_the_single_broker_as_sole_voter() {
    let broker = TestBroker::start(|c| c.node_id = 9).await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    let request = |topic: &str, partition: i32| {
        DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
            .with_topic_name(topic_name(topic))
            .with_partitions(vec![
                PartitionData::default().with_partition_index(partition)
            ])])
    };
    for version in 0..=2 {
        let response = client
            .send(version, &request("__cluster_metadata", 0))
            .await
            .unwrap();
        assert_eq!(response.error_code, NONE);
        let p = &response.topics[0].partitions[0];
        assert_eq!(
            (p.error_code, p.leader_id),
            (NONE, BrokerId(9)),
            "v{version}"
        );
        let voters: Vec<BrokerId> = p.current_voters.iter().map(|v| v.replica_id).collect();
        assert_eq!(voters, vec![BrokerId(9)], "v{version}");
        assert!(p.observers.is_empty());

        for (topic, partition) in [("__cluster_metadata", 1), ("other", 0)] {
            let response = client
                .send(version, &request(topic, partition))
                .await
                .unwrap();
            assert_eq!(
                response.topics[0].partitions[0].error_code, UNKNOWN_TOPIC_OR_PARTITION,
                "v{version} {topic}-{partition}"
            );
        }
    }
    broker.stop().await;
}
