//! ApiVersions, Metadata and DescribeCluster: what the broker says about itself.

use std::collections::BTreeSet;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, BrokerId, DescribeClusterRequest, MetadataRequest,
    ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, StrBytes};

use crate::support::{topic_name, RawClient, TestBroker};

/// (API key, min version, max version) the broker advertises, and nothing else. Produce is advertised from
/// v0 as Kafka 4.0 does (KAFKA-18659: old librdkafka detects gzip/snappy/lz4 support from Produce v0), while
/// v0-v2 requests are refused (see bad_input.rs).
const SERVED: &[(i16, i16, i16)] = &[
    (0, 0, 13), // Produce
    (1, 4, 18), // Fetch
    (2, 1, 10), // ListOffsets
    (3, 0, 13), // Metadata
    (8, 2, 9),  // OffsetCommit
    (9, 1, 9),  // OffsetFetch
    (10, 0, 6), // FindCoordinator
    (11, 2, 9), // JoinGroup
    (12, 0, 4), // Heartbeat
    (13, 0, 5), // LeaveGroup
    (14, 0, 5), // SyncGroup
    (15, 0, 6), // DescribeGroups
    (16, 0, 5), // ListGroups
    (18, 0, 4), // ApiVersions
    (19, 2, 7), // CreateTopics
    (20, 1, 6), // DeleteTopics
    (21, 0, 2), // DeleteRecords
    (22, 0, 5), // InitProducerId
    (23, 2, 4), // OffsetForLeaderEpoch
    (24, 0, 5), // AddPartitionsToTxn
    (25, 0, 4), // AddOffsetsToTxn
    (26, 0, 5), // EndTxn
    (27, 1, 1), // WriteTxnMarkers
    (28, 0, 5), // TxnOffsetCommit
    (32, 1, 4), // DescribeConfigs
    (33, 0, 2), // AlterConfigs
    (37, 0, 3), // CreatePartitions
    (42, 0, 2), // DeleteGroups
    (43, 0, 2), // ElectLeaders
    (44, 0, 1), // IncrementalAlterConfigs
    (45, 0, 1), // AlterPartitionReassignments
    (46, 0, 0), // ListPartitionReassignments
    (47, 0, 0), // OffsetDelete
    (55, 0, 2), // DescribeQuorum
    (60, 0, 2), // DescribeCluster
    (61, 0, 0), // DescribeProducers
    (65, 0, 0), // DescribeTransactions
    (66, 0, 2), // ListTransactions
    (68, 0, 1), // ConsumerGroupHeartbeat
    (69, 0, 1), // ConsumerGroupDescribe
    (75, 0, 0), // DescribeTopicPartitions
];

fn expected_ranges() -> BTreeSet<(i16, i16, i16)> {
    SERVED.iter().copied().collect()
}

fn advertised(response: &ApiVersionsResponse) -> BTreeSet<(i16, i16, i16)> {
    let ranges: BTreeSet<_> = response
        .api_keys
        .iter()
        .map(|k| (k.api_key, k.min_version, k.max_version))
        .collect();
    assert_eq!(
        ranges.len(),
        response.api_keys.len(),
        "an API key is listed twice: {:?}",
        response.api_keys
    );
    ranges
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_versions_lists_exactly_the_served_ranges_at_every_version() {
    let broker = TestBroker::start(|_| {}).await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    for version in 0..=4 {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("sluice-it"))
            .with_client_software_version(StrBytes::from_static_str("1.0"));
        let response = client
            .send(version, &request)
            .await
            .unwrap_or_else(|e| panic!("ApiVersions v{version}: {e:#}"));
        assert_eq!(response.error_code, 0, "ApiVersions v{version} error code");
        assert_eq!(
            advertised(&response),
            expected_ranges(),
            "ApiVersions v{version} ranges"
        );
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_versions_above_ours_answers_v0_with_unsupported_version() {
    let broker = TestBroker::start(|_| {}).await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    // A future client sends ApiVersions v99 with a flexible (v2) request header; we write it by hand because
    // no codec knows v99.
    let correlation_id = 0x5eed_i32;
    let mut frame = BytesMut::new();
    frame.put_i16(18);
    frame.put_i16(99);
    frame.put_i32(correlation_id);
    frame.put_i16(9);
    frame.put_slice(b"sluice-it");
    frame.put_u8(0); // header tagged fields
    frame.put_u8(10); // compact string "sluice-it" (length + 1)
    frame.put_slice(b"sluice-it");
    frame.put_u8(4); // compact string "1.0"
    frame.put_slice(b"1.0");
    frame.put_u8(0); // body tagged fields
    client.write_frame(&frame).await.unwrap();

    let mut answer = client
        .read_frame()
        .await
        .unwrap()
        .expect("an answer, not a closed connection");
    // KIP-511: the answer uses response header v0 (correlation id only) and an ApiVersions v0 body.
    let header = ResponseHeader::decode(&mut answer, 0).unwrap();
    assert_eq!(header.correlation_id, correlation_id);
    let body = ApiVersionsResponse::decode(&mut answer, 0).expect("a v0 ApiVersions body");
    assert!(
        answer.is_empty(),
        "{} bytes after the v0 body",
        answer.len()
    );
    assert_eq!(body.error_code, 35, "UNSUPPORTED_VERSION");
    assert_eq!(advertised(&body), expected_ranges());

    // The client then retries at a version both sides know, on the same connection.
    let retry = client
        .send(3, &ApiVersionsRequest::default())
        .await
        .expect("ApiVersions v3 after v99");
    assert_eq!(retry.error_code, 0);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_shows_the_advertised_address_and_auto_creates_topics() {
    let broker = TestBroker::start(|c| {
        c.node_id = 7;
        c.advertised_listener = Some("sluice.example:19092".to_string());
        c.auto_create_topics = true;
        c.num_partitions = 3;
    })
    .await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();

    for version in [0, 1, 4, 9, 12, 13] {
        let request = if version == 0 {
            MetadataRequest::default().with_topics(Some(vec![]))
        } else {
            MetadataRequest::default().with_topics(None)
        };
        let response = client
            .send(version, &request)
            .await
            .unwrap_or_else(|e| panic!("Metadata v{version}: {e:#}"));
        assert_eq!(response.brokers.len(), 1, "Metadata v{version} brokers");
        let b = &response.brokers[0];
        assert_eq!(
            (b.node_id, b.host.as_str(), b.port),
            (BrokerId(7), "sluice.example", 19092),
            "v{version}"
        );
        if version >= 1 {
            assert_eq!(
                response.controller_id,
                BrokerId(7),
                "Metadata v{version} controller"
            );
        }
    }

    // Allowed auto-creation creates the topic with num_partitions partitions led by this broker.
    let wanted = |name: &str| MetadataRequestTopic::default().with_name(Some(topic_name(name)));
    let response = client
        .send(
            12,
            &MetadataRequest::default()
                .with_topics(Some(vec![wanted("auto-created")]))
                .with_allow_auto_topic_creation(true),
        )
        .await
        .unwrap();
    let t = &response.topics[0];
    assert_eq!(t.error_code, 0, "auto-creation of a wanted topic");
    assert_eq!(t.name.as_ref().map(|n| n.0.as_str()), Some("auto-created"));
    assert!(!t.topic_id.is_nil(), "a created topic has an id");
    let mut partitions: Vec<(i32, BrokerId)> = t
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.leader_id))
        .collect();
    partitions.sort();
    assert_eq!(
        partitions,
        vec![(0, BrokerId(7)), (1, BrokerId(7)), (2, BrokerId(7))]
    );

    // A client that does not allow auto-creation gets UNKNOWN_TOPIC_OR_PARTITION (3) and nothing is created.
    let response = client
        .send(
            12,
            &MetadataRequest::default()
                .with_topics(Some(vec![wanted("not-wanted")]))
                .with_allow_auto_topic_creation(false),
        )
        .await
        .unwrap();
    assert_eq!(response.topics[0].error_code, 3);
    let all = client
        .send(12, &MetadataRequest::default().with_topics(None))
        .await
        .unwrap();
    // Internal topics (`__consumer_offsets`, ...) exist from the first start; only user topics count here.
    let names: Vec<&str> = all
        .topics
        .iter()
        .filter(|t| !t.is_internal)
        .filter_map(|t| t.name.as_ref())
        .map(|n| n.0.as_str())
        .collect();
    assert_eq!(
        names,
        vec!["auto-created"],
        "topics after one allowed and one refused auto-creation"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_does_not_auto_create_when_the_broker_forbids_it() {
    let broker = TestBroker::start(|c| c.auto_create_topics = false).await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    let request = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(topic_name("nope")))
        ]))
        .with_allow_auto_topic_creation(true);
    let response = client.send(12, &request).await.unwrap();
    assert_eq!(
        response.topics[0].error_code, 3,
        "UNKNOWN_TOPIC_OR_PARTITION"
    );
    let all = client
        .send(12, &MetadataRequest::default().with_topics(None))
        .await
        .unwrap();
    assert!(
        all.topics.iter().all(|t| t.is_internal),
        "no user topic may exist: {:?}",
        all.topics
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_cluster_returns_the_cluster_id() {
    let broker = TestBroker::start(|c| {
        c.cluster_id = "sluice-it-cluster".to_string();
        c.node_id = 3;
    })
    .await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    for version in 0..=2 {
        let response = client
            .send(version, &DescribeClusterRequest::default())
            .await
            .unwrap();
        assert_eq!(
            response.error_code, 0,
            "DescribeCluster v{version}: {:?}",
            response.error_message
        );
        assert_eq!(
            response.cluster_id.as_str(),
            "sluice-it-cluster",
            "v{version}"
        );
        assert_eq!(response.controller_id, BrokerId(3));
        let brokers: Vec<(BrokerId, String, i32)> = response
            .brokers
            .iter()
            .map(|b| (b.broker_id, b.host.to_string(), b.port))
            .collect();
        assert_eq!(
            brokers,
            vec![(
                BrokerId(3),
                "127.0.0.1".to_string(),
                i32::from(broker.addr.port())
            )]
        );
    }
    // Metadata reports the same cluster id.
    let metadata = client
        .send(12, &MetadataRequest::default().with_topics(None))
        .await
        .unwrap();
    assert_eq!(
        metadata.cluster_id.as_ref().map(|c| c.as_str()),
        Some("sluice-it-cluster")
    );
    broker.stop().await;
}
