//! Producing and fetching: an rdkafka round trip, long-poll fetches, and ListOffsets.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, FetchResponse, ListOffsetsRequest};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::Offset;

use crate::support::{
    consume_until, create_topic, fetch_raw, fetch_request, fetched, produce_raw, producer, record,
    row, topic_name, watermark_client, watermarks, Consumed, RawClient, Row, TestBroker,
    FETCH_VERSION,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_records_round_trip_through_rdkafka_in_partition_order() {
    const COUNT: usize = 10_000;
    let broker = TestBroker::start(|c| c.auto_create_topics = false).await;
    create_topic(broker.addr, "round-trip", 3, &[]).await;
    let producer = producer(&broker.bootstrap());

    // Everything is queued first so librdkafka batches freely; delivery reports give each record's place.
    let mut deliveries = Vec::with_capacity(COUNT);
    for i in 0..COUNT {
        let key = format!("key-{i}");
        let value = format!("value-{i}-{}", "v".repeat(i % 50));
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "index",
                value: Some(&i.to_string()),
            })
            .insert(Header {
                key: "empty",
                value: None::<&[u8]>,
            });
        let future = producer
            .send_result(
                FutureRecord::to("round-trip")
                    .key(&key)
                    .payload(&value)
                    .headers(headers),
            )
            .unwrap_or_else(|(e, _)| panic!("queue record {i}: {e}"));
        deliveries.push((key, value, future));
    }
    let mut expected: BTreeMap<i32, Vec<Consumed>> = BTreeMap::new();
    for (i, (key, value, future)) in deliveries.into_iter().enumerate() {
        let delivery = tokio::time::timeout(Duration::from_secs(60), future)
            .await
            .unwrap_or_else(|_| panic!("record {i} not acknowledged within 60 s"))
            .expect("delivery future not cancelled")
            .unwrap_or_else(|(e, _)| panic!("record {i} refused: {e}"));
        expected
            .entry(delivery.partition)
            .or_default()
            .push(Consumed {
                partition: delivery.partition,
                offset: delivery.offset,
                key: Some(key.into_bytes()),
                value: Some(value.into_bytes()),
                headers: vec![
                    ("index".to_string(), Some(i.to_string().into_bytes())),
                    ("empty".to_string(), None),
                ],
            });
    }
    assert_eq!(
        expected.keys().copied().collect::<Vec<_>>(),
        vec![0, 1, 2],
        "keys spread over all partitions"
    );
    for (partition, records) in &mut expected {
        records.sort_by_key(|r| r.offset);
        let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
        let dense: Vec<i64> = (0..records.len() as i64).collect();
        assert_eq!(
            offsets, dense,
            "partition {partition}: acknowledged offsets are 0..n without gaps"
        );
    }

    let ranges: Vec<(i32, Offset, i64)> = expected
        .iter()
        .map(|(&p, records)| (p, Offset::Beginning, records.len() as i64))
        .collect();
    let consumed = consume_until(
        &broker.bootstrap(),
        "round-trip",
        &ranges,
        Duration::from_secs(90),
    )
    .await;
    let mut got: BTreeMap<i32, Vec<Consumed>> = BTreeMap::new();
    for c in consumed {
        got.entry(c.partition).or_default().push(c);
    }
    for (partition, want) in &expected {
        let have = got.get(partition).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            have.len(),
            want.len(),
            "partition {partition}: record count"
        );
        for (h, w) in have.iter().zip(want) {
            assert_eq!(
                h, w,
                "partition {partition}: record at offset {} differs",
                w.offset
            );
        }
    }
    let wm = watermark_client(&broker.bootstrap());
    for (partition, want) in &expected {
        assert_eq!(
            watermarks(&wm, "round-trip", *partition).unwrap(),
            (0, want.len() as i64)
        );
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_fetch_returns_the_record_produced_while_it_waits() {
    let broker = TestBroker::start(|_| {}).await;
    create_topic(broker.addr, "long-poll", 1, &[]).await;
    let mut producer_conn = RawClient::connect(broker.addr).await.unwrap();
    let mut fetcher = RawClient::connect(broker.addr).await.unwrap();

    // With nothing to read, a short long-poll ends empty.
    let empty: FetchResponse = fetcher
        .send(FETCH_VERSION, &fetch_request("long-poll", 0, 0, 200, 1))
        .await
        .unwrap();
    let empty = fetched(&empty).unwrap();
    assert_eq!(
        (empty.error_code, empty.records.len(), empty.high_watermark),
        (0, 0, 0)
    );

    // Park a fetch for up to 5 s, then produce from another connection while it waits.
    let correlation_id = fetcher
        .send_only(FETCH_VERSION, &fetch_request("long-poll", 0, 0, 5000, 1))
        .await
        .unwrap();
    let now = crate::support::now_ms();
    let (code, base) = produce_raw(
        &mut producer_conn,
        "long-poll",
        0,
        &[record(Some(b"wake"), Some(b"up"), now)],
    )
    .await
    .unwrap();
    assert_eq!((code, base), (0, 0));
    let response = fetcher
        .receive::<kafka_protocol::messages::FetchRequest>(FETCH_VERSION, correlation_id)
        .await
        .expect("the parked fetch is answered");
    let answer = fetched(&response).unwrap();
    assert_eq!(answer.error_code, 0);
    assert_eq!(answer.high_watermark, 1);
    let got: Vec<Row> = answer.records.iter().map(row).collect();
    assert_eq!(
        got,
        vec![(0, Some(b"wake".to_vec()), Some(b"up".to_vec()))],
        "the parked fetch carries the new record"
    );
    broker.stop().await;
}

async fn list_offset(client: &mut RawClient, topic: &str, timestamp: i64) -> (i16, i64, i64) {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(timestamp)])]);
    let response = client.send(7, &request).await.expect("ListOffsets v7");
    let p = &response.topics[0].partitions[0];
    (p.error_code, p.offset, p.timestamp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_offsets_answers_earliest_latest_and_by_timestamp() {
    let broker = TestBroker::start(|_| {}).await;
    create_topic(broker.addr, "offsets", 1, &[]).await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    // Three batches of two records: offsets 0..6 at t, t+1 / t+1000, t+1001 / t+2000, t+2001 ms. The timestamps
    // are recent so that the default seven-day retention cannot delete them during the test.
    let t = crate::support::now_ms() - 600_000;
    for (i, base_ts) in [t, t + 1000, t + 2000].into_iter().enumerate() {
        let batch = [
            record(Some(b"a"), Some(b"1"), base_ts),
            record(Some(b"b"), Some(b"2"), base_ts + 1),
        ];
        let (code, base) = produce_raw(&mut client, "offsets", 0, &batch)
            .await
            .unwrap();
        assert_eq!((code, base), (0, 2 * i as i64));
    }
    assert_eq!(list_offset(&mut client, "offsets", -2).await.0, 0);
    assert_eq!(
        list_offset(&mut client, "offsets", -2).await.1,
        0,
        "earliest"
    );
    assert_eq!(list_offset(&mut client, "offsets", -1).await.1, 6, "latest");
    // By timestamp: the first offset whose timestamp is at or after the one asked for.
    assert_eq!(list_offset(&mut client, "offsets", t - 1).await, (0, 0, t));
    assert_eq!(
        list_offset(&mut client, "offsets", t + 1).await,
        (0, 1, t + 1)
    );
    assert_eq!(
        list_offset(&mut client, "offsets", t + 500).await,
        (0, 2, t + 1000)
    );
    assert_eq!(
        list_offset(&mut client, "offsets", t + 1001).await,
        (0, 3, t + 1001)
    );
    assert_eq!(
        list_offset(&mut client, "offsets", t + 2001).await,
        (0, 5, t + 2001)
    );
    assert_eq!(
        list_offset(&mut client, "offsets", t + 2002).await,
        (0, -1, -1),
        "after every record: no offset"
    );
    // Max timestamp (-3, v7+): the record holding the largest timestamp.
    assert_eq!(
        list_offset(&mut client, "offsets", -3).await,
        (0, 5, t + 2001)
    );
    // An unknown partition is UNKNOWN_TOPIC_OR_PARTITION (3).
    assert_eq!(list_offset(&mut client, "no-such-topic", -1).await.0, 3);

    // The earliest offset follows DeleteRecords.
    assert_eq!(
        crate::support::delete_records_raw(&mut client, "offsets", 0, 4)
            .await
            .unwrap(),
        (0, 4)
    );
    assert_eq!(
        list_offset(&mut client, "offsets", -2).await.1,
        4,
        "earliest after DeleteRecords"
    );
    let f = fetch_raw(&mut client, "offsets", 0, 4).await.unwrap();
    assert_eq!(f.log_start_offset, 4);
    broker.stop().await;
}
