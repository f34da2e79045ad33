//! Topic and config administration through rdkafka's AdminClient (and the raw client where rdkafka has no call).

use std::time::Duration;

use kafka_protocol::messages::alter_configs_request::{
    AlterConfigsResource as LegacyResource, AlterableConfig as LegacyConfig,
};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    AlterConfigsRequest, IncrementalAlterConfigsRequest, MetadataRequest,
};
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigResource, ConfigSource, NewPartitions, NewTopic,
    ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::Consumer;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::support::{
    configs, produce_raw, record, topic_name, watermark_client, watermarks, RawClient, TestBroker,
};

fn options() -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(Duration::from_secs(20)))
        .operation_timeout(Some(Duration::from_secs(10)))
}

async fn describe(admin: &AdminClient<DefaultClientContext>, topic: &str) -> ConfigResource {
    let results = admin
        .describe_configs(&[ResourceSpecifier::Topic(topic)], &options())
        .await
        .expect("DescribeConfigs request");
    assert_eq!(results.len(), 1);
    results
        .into_iter()
        .next()
        .unwrap()
        .unwrap_or_else(|e| panic!("DescribeConfigs {topic}: {e:?}"))
}

/// `(value, source)` of one config entry; panics naming the key when it is missing.
fn entry(resource: &ConfigResource, key: &str) -> (Option<String>, String) {
    let e = resource
        .get(key)
        .unwrap_or_else(|| panic!("config {key} missing from {:?}", resource.entries));
    (e.value.clone(), format!("{:?}", e.source))
}

fn source(s: ConfigSource) -> String {
    format!("{s:?}")
}

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_and_configs_are_administered_through_rdkafka() {
    let broker = TestBroker::start(|c| {
        c.auto_create_topics = false;
        c.topic_defaults = configs(&[("retention.ms", "3600000")]);
    })
    .await;
    let admin = crate::support::admin(&broker.bootstrap());

    // Create with a config override.
    let new =
        NewTopic::new("managed", 2, TopicReplication::Fixed(1)).set("retention.bytes", "123456");
    let created = admin
        .create_topics(&[new], &options())
        .await
        .expect("CreateTopics request");
    assert_eq!(created, vec![Ok("managed".to_string())]);
    let again = admin
        .create_topics(
            &[NewTopic::new("managed", 2, TopicReplication::Fixed(1))],
            &options(),
        )
        .await
        .expect("CreateTopics request");
    assert_eq!(
        again,
        vec![Err((
            "managed".to_string(),
            RDKafkaErrorCode::TopicAlreadyExists
        ))]
    );

    // Each value reports where it comes from: the topic, the broker's topic_defaults, or Kafka's default.
    let described = describe(&admin, "managed").await;
    assert_eq!(
        entry(&described, "retention.bytes"),
        (some("123456"), source(ConfigSource::DynamicTopic))
    );
    assert_eq!(
        entry(&described, "retention.ms"),
        (some("3600000"), source(ConfigSource::StaticBroker))
    );
    assert_eq!(
        entry(&described, "segment.ms"),
        (some("604800000"), source(ConfigSource::Default))
    );
    assert_eq!(
        entry(&described, "cleanup.policy"),
        (some("delete"), source(ConfigSource::Default))
    );

    // AlterConfigs replaces the topic's whole set of overrides.
    let alter = AlterConfig::new(ResourceSpecifier::Topic("managed"))
        .set("cleanup.policy", "compact,delete");
    let altered = admin
        .alter_configs(&[alter], &options())
        .await
        .expect("AlterConfigs request");
    assert!(
        altered.iter().all(Result::is_ok),
        "AlterConfigs: {altered:?}"
    );
    let described = describe(&admin, "managed").await;
    assert_eq!(
        entry(&described, "cleanup.policy"),
        (some("compact,delete"), source(ConfigSource::DynamicTopic))
    );
    assert_eq!(
        entry(&described, "retention.bytes"),
        (some("-1"), source(ConfigSource::Default)),
        "AlterConfigs without retention.bytes removes its override"
    );

    // IncrementalAlterConfigs (rdkafka has no call for it): SET one key, DELETE another.
    let mut raw = RawClient::connect(broker.addr).await.unwrap();
    let op = |name: &'static str, operation: i8, value: Option<&'static str>| {
        AlterableConfig::default()
            .with_name(StrBytes::from_static_str(name))
            .with_config_operation(operation)
            .with_value(value.map(StrBytes::from_static_str))
    };
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_static_str("managed"))
            .with_configs(vec![
                op("segment.ms", 0, Some("1000")),
                op("cleanup.policy", 1, None),
            ]),
    ]);
    let response = raw
        .send(1, &request)
        .await
        .expect("IncrementalAlterConfigs v1");
    assert_eq!(
        response.responses[0].error_code, 0,
        "{:?}",
        response.responses[0].error_message
    );
    let described = describe(&admin, "managed").await;
    assert_eq!(
        entry(&described, "segment.ms"),
        (some("1000"), source(ConfigSource::DynamicTopic))
    );
    assert_eq!(
        entry(&described, "cleanup.policy"),
        (some("delete"), source(ConfigSource::Default))
    );
    assert_eq!(
        entry(&described, "retention.ms"),
        (some("3600000"), source(ConfigSource::StaticBroker))
    );

    // CreatePartitions grows the topic, and the new partition takes records.
    let grown = admin
        .create_partitions(&[NewPartitions::new("managed", 5)], &options())
        .await
        .expect("CreatePartitions");
    assert_eq!(grown, vec![Ok("managed".to_string())]);
    let wm = watermark_client(&broker.bootstrap());
    let metadata =
        tokio::task::block_in_place(|| wm.fetch_metadata(Some("managed"), Duration::from_secs(10)))
            .expect("metadata after CreatePartitions");
    assert_eq!(
        metadata.topics()[0].partitions().len(),
        5,
        "partitions after growing to 5"
    );
    let now = crate::support::now_ms();
    assert_eq!(
        produce_raw(
            &mut raw,
            "managed",
            4,
            &[record(Some(b"k"), Some(b"v"), now)]
        )
        .await
        .unwrap(),
        (0, 0)
    );
    let shrink = admin
        .create_partitions(&[NewPartitions::new("managed", 3)], &options())
        .await
        .expect("CreatePartitions");
    assert_eq!(
        shrink,
        vec![Err((
            "managed".to_string(),
            RDKafkaErrorCode::InvalidPartitions
        ))],
        "shrinking is refused"
    );

    // DeleteRecords moves the low watermark.
    for i in 0..10u8 {
        assert_eq!(
            produce_raw(
                &mut raw,
                "managed",
                0,
                &[record(Some(&[i]), Some(&[i]), now)]
            )
            .await
            .unwrap(),
            (0, i64::from(i))
        );
    }
    let mut upto = TopicPartitionList::new();
    upto.add_partition_offset("managed", 0, Offset::Offset(4))
        .unwrap();
    let deleted = admin
        .delete_records(&upto, &options())
        .await
        .expect("DeleteRecords");
    let element = deleted
        .find_partition("managed", 0)
        .expect("partition 0 in the DeleteRecords answer");
    assert_eq!(element.error(), Ok(()));
    assert_eq!(
        element.offset(),
        Offset::Offset(4),
        "low watermark after DeleteRecords"
    );
    assert_eq!(watermarks(&wm, "managed", 0).unwrap(), (4, 10));

    // DeleteTopics removes it.
    let deleted = admin
        .delete_topics(&["managed"], &options())
        .await
        .expect("DeleteTopics");
    assert_eq!(deleted, vec![Ok("managed".to_string())]);
    let metadata = raw
        .send(
            12,
            &MetadataRequest::default()
                .with_topics(Some(vec![
                    MetadataRequestTopic::default().with_name(Some(topic_name("managed")))
                ]))
                .with_allow_auto_topic_creation(false),
        )
        .await
        .unwrap();
    assert_eq!(
        metadata.topics[0].error_code, 3,
        "a deleted topic is UNKNOWN_TOPIC_OR_PARTITION"
    );
    let missing = admin
        .delete_topics(&["managed"], &options())
        .await
        .expect("DeleteTopics");
    assert_eq!(
        missing,
        vec![Err((
            "managed".to_string(),
            RDKafkaErrorCode::UnknownTopicOrPartition
        ))]
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_values_are_invalid_config() {
    let broker = TestBroker::start(|c| c.auto_create_topics = false).await;
    let admin = crate::support::admin(&broker.bootstrap());
    for (key, value) in [
        ("retention.ms", "soon"),
        ("cleanup.policy", "forever"),
        ("segment.bytes", "10"),
        ("no.such.config", "1"),
    ] {
        let topic = NewTopic::new("bad-config", 1, TopicReplication::Fixed(1)).set(key, value);
        let created = admin
            .create_topics(&[topic], &options())
            .await
            .expect("CreateTopics request");
        assert_eq!(
            created,
            vec![Err((
                "bad-config".to_string(),
                RDKafkaErrorCode::InvalidConfig
            ))],
            "CreateTopics with {key}={value}"
        );
    }
    let wm = watermark_client(&broker.bootstrap());
    let metadata =
        tokio::task::block_in_place(|| wm.fetch_metadata(None, Duration::from_secs(10))).unwrap();
    // Internal topics (`__consumer_offsets`, ...) exist from the first start.
    assert!(
        metadata.topics().iter().all(|t| t.name().starts_with("__")),
        "refused topics must not exist"
    );

    let created = admin
        .create_topics(
            &[NewTopic::new("good", 1, TopicReplication::Fixed(1)).set("retention.ms", "60000")],
            &options(),
        )
        .await
        .unwrap();
    assert_eq!(created, vec![Ok("good".to_string())]);
    // rdkafka 0.39's alter_configs reports every resource as Ok whatever the broker answered (it never reads
    // the per-resource error), so the error code is checked on the wire, at every AlterConfigs version.
    let alter = AlterConfig::new(ResourceSpecifier::Topic("good")).set("retention.ms", "-7");
    admin
        .alter_configs(&[alter], &options())
        .await
        .expect("AlterConfigs request");
    let mut raw = RawClient::connect(broker.addr).await.unwrap();
    for version in 0..=2 {
        let request =
            AlterConfigsRequest::default().with_resources(vec![LegacyResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("good"))
                .with_configs(vec![LegacyConfig::default()
                    .with_name(StrBytes::from_static_str("retention.ms"))
                    .with_value(Some(StrBytes::from_static_str("-7")))])]);
        let response = raw
            .send(version, &request)
            .await
            .expect("AlterConfigs answered");
        let r = &response.responses[0];
        assert_eq!(
            r.error_code, 40,
            "AlterConfigs v{version} retention.ms=-7 is INVALID_CONFIG: {:?}",
            r.error_message
        );
    }
    let described = describe(&admin, "good").await;
    assert_eq!(
        entry(&described, "retention.ms"),
        (some("60000"), source(ConfigSource::DynamicTopic)),
        "unchanged"
    );
    broker.stop().await;
}
