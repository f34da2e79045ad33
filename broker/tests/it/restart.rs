//! Restarting on the same data dir: every record, offset, topic config and the cluster id survive.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::DescribeClusterRequest;
use rdkafka::admin::{AdminOptions, ConfigSource, ResourceSpecifier};
use rdkafka::producer::FutureRecord;
use rdkafka::Offset;

use crate::support::{
    consume_until, create_topic, now_ms, produce_raw, producer, record, watermark_client,
    watermarks, Consumed, RawClient, TestBroker,
};

const TOPIC: &str = "durable";
const PARTITIONS: i32 = 2;

async fn cluster_id(broker: &TestBroker) -> String {
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    client
        .send(0, &DescribeClusterRequest::default())
        .await
        .unwrap()
        .cluster_id
        .to_string()
}

/// Produces `count` records numbered from `first` through rdkafka; the acknowledged records by partition.
async fn produce_numbered(
    broker: &TestBroker,
    first: usize,
    count: usize,
    into: &mut BTreeMap<i32, Vec<Consumed>>,
) {
    let producer = producer(&broker.bootstrap());
    let mut pending = Vec::new();
    for i in first..first + count {
        let key = format!("key-{i}");
        let value = format!("value-{i}");
        let future = producer
            .send_result(FutureRecord::to(TOPIC).key(&key).payload(&value))
            .unwrap_or_else(|(e, _)| panic!("queue record {i}: {e}"));
        pending.push((key, value, future));
    }
    for (key, value, future) in pending {
        let d = tokio::time::timeout(Duration::from_secs(60), future)
            .await
            .expect("acknowledged within 60 s")
            .expect("not cancelled")
            .unwrap_or_else(|(e, _)| panic!("{key} refused: {e}"));
        into.entry(d.partition).or_default().push(Consumed {
            partition: d.partition,
            offset: d.offset,
            key: Some(key.into_bytes()),
            value: Some(value.into_bytes()),
            headers: vec![],
        });
    }
    for records in into.values_mut() {
        records.sort_by_key(|r| r.offset);
    }
}

async fn assert_everything_there(
    broker: &TestBroker,
    expected: &BTreeMap<i32, Vec<Consumed>>,
    when: &str,
) {
    let wm = watermark_client(&broker.bootstrap());
    for p in 0..PARTITIONS {
        let n = expected.get(&p).map_or(0, Vec::len) as i64;
        assert_eq!(
            watermarks(&wm, TOPIC, p).unwrap(),
            (0, n),
            "{when}: watermarks of partition {p}"
        );
    }
    let ranges: Vec<(i32, Offset, i64)> = (0..PARTITIONS)
        .map(|p| {
            (
                p,
                Offset::Beginning,
                expected.get(&p).map_or(0, Vec::len) as i64,
            )
        })
        .collect();
    let consumed =
        consume_until(&broker.bootstrap(), TOPIC, &ranges, Duration::from_secs(60)).await;
    let mut got: BTreeMap<i32, Vec<Consumed>> = BTreeMap::new();
    for c in consumed {
        got.entry(c.partition).or_default().push(c);
    }
    for (p, want) in expected {
        let have = got.get(p).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            have.len(),
            want.len(),
            "{when}: record count of partition {p}"
        );
        for (h, w) in have.iter().zip(want) {
            assert_eq!(h, w, "{when}: partition {p} offset {}", w.offset);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_offsets_and_configs_survive_a_restart() {
    let broker = TestBroker::start(|c| c.auto_create_topics = false).await;
    // Small segments so recovery has many segments and indexes to reopen.
    create_topic(
        broker.addr,
        TOPIC,
        PARTITIONS,
        &[
            ("segment.bytes", "4096"),
            ("retention.ms", "123456789"),
            ("cleanup.policy", "compact,delete"),
        ],
    )
    .await;
    let first_cluster_id = cluster_id(&broker).await;
    assert!(
        !first_cluster_id.is_empty(),
        "a fresh data dir gets a cluster id"
    );

    let mut expected = BTreeMap::new();
    produce_numbered(&broker, 0, 2000, &mut expected).await;
    let broker = broker.restart().await;

    assert_eq!(
        cluster_id(&broker).await,
        first_cluster_id,
        "the cluster id is kept in the data dir"
    );
    assert_everything_there(&broker, &expected, "after the first restart").await;
    let admin = crate::support::admin(&broker.bootstrap());
    let described = admin
        .describe_configs(&[ResourceSpecifier::Topic(TOPIC)], &AdminOptions::new())
        .await
        .expect("DescribeConfigs")
        .pop()
        .unwrap()
        .expect("DescribeConfigs of the topic");
    for (key, value) in [
        ("segment.bytes", "4096"),
        ("retention.ms", "123456789"),
        ("cleanup.policy", "compact,delete"),
    ] {
        let e = described
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing after restart"));
        assert_eq!(
            (e.value.as_deref(), &e.source),
            (Some(value), &ConfigSource::DynamicTopic),
            "{key} after restart"
        );
    }

    // Appending continues at the old log end, and a second restart keeps both generations.
    produce_numbered(&broker, 2000, 500, &mut expected).await;
    let broker = broker.restart().await;
    assert_everything_there(&broker, &expected, "after the second restart").await;
    broker.stop().await;
}

/// After a clean stop the next start trusts the active segments' index files instead of scanning them; the
/// marker that allows it must be written by the stop, consumed by the start, and never hide a torn tail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_is_marked_and_the_mark_never_hides_a_torn_tail() {
    let broker = TestBroker::start(|c| c.auto_create_topics = false).await;
    create_topic(broker.addr, TOPIC, PARTITIONS, &[]).await;
    let mut expected = BTreeMap::new();
    produce_numbered(&broker, 0, 500, &mut expected).await;
    let marker = broker.config.data_dir.join(".clean-shutdown");
    assert!(!marker.exists(), "a running broker has no clean-shutdown marker");
    let broker = broker
        .restart_with(|data_dir| {
            assert!(
                data_dir.join(".clean-shutdown").exists(),
                "a clean stop writes the clean-shutdown marker"
            );
            // Garbage after the last batch of partition 0, as a write torn by a power loss would leave.
            let dir = data_dir.join(format!("{TOPIC}-0"));
            let mut logs: Vec<_> = std::fs::read_dir(&dir)
                .expect("partition 0's directory")
                .map(|e| e.expect("directory entry").path())
                .filter(|p| p.extension().is_some_and(|e| e == "log"))
                .collect();
            logs.sort();
            let active = logs.pop().expect("partition 0 has a segment");
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&active)
                .expect("open the active segment");
            std::io::Write::write_all(&mut file, &[0xAB; 100]).expect("append garbage");
        })
        .await;
    assert!(
        !marker.exists(),
        "the start consumed the marker, so a crash from now on reads as unclean"
    );
    assert_everything_there(&broker, &expected, "after a clean restart with a torn tail").await;
    // Appends continue at the log end the start found, and index entries added after a trusted start still work.
    produce_numbered(&broker, 500, 300, &mut expected).await;
    let broker = broker.restart().await;
    assert_everything_there(&broker, &expected, "after a second clean restart").await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_start_offset_survives_a_restart() {
    let broker = TestBroker::start(|_| {}).await;
    create_topic(broker.addr, "trimmed", 1, &[("segment.bytes", "200")]).await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    for i in 0..20u8 {
        let (code, base) = produce_raw(
            &mut client,
            "trimmed",
            0,
            &[record(Some(&[i]), Some(&[i; 50]), now_ms())],
        )
        .await
        .unwrap();
        assert_eq!((code, base), (0, i64::from(i)));
    }
    assert_eq!(
        crate::support::delete_records_raw(&mut client, "trimmed", 0, 7)
            .await
            .unwrap(),
        (0, 7)
    );
    drop(client);
    let broker = broker.restart().await;
    let wm = watermark_client(&broker.bootstrap());
    assert_eq!(
        watermarks(&wm, "trimmed", 0).unwrap(),
        (7, 20),
        "DeleteRecords is remembered across a restart"
    );
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    let records = crate::support::read_partition(&mut client, "trimmed", 0, 7)
        .await
        .unwrap();
    let got: Vec<(i64, Vec<u8>)> = records
        .iter()
        .map(|r| (r.offset, r.value.as_ref().unwrap().to_vec()))
        .collect();
    let want: Vec<(i64, Vec<u8>)> = (7..20u8).map(|i| (i64::from(i), vec![i; 50])).collect();
    assert_eq!(got, want);
    broker.stop().await;
}
