//! Malformed, oversized and refused requests: the broker closes the offending connection or answers a Kafka
//! error code, and keeps serving everyone else.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::{ApiVersionsRequest, CreateTopicsRequest, ProduceResponse};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::support::{
    assert_serving, create_topic, delete_records_raw, encode_batch, fetch_raw, produce_raw,
    produce_request, record, topic_name, RawClient, TestBroker, PRODUCE_VERSION,
};

/// A request frame body: the fixed header fields, a null client id, then `body`.
fn frame(key: i16, version: i16, body: &[u8]) -> Bytes {
    let mut f = BytesMut::new();
    f.put_i16(key);
    f.put_i16(version);
    f.put_i32(42);
    f.put_i16(-1); // client id: null
    f.put_slice(body);
    f.freeze()
}

/// Sends `bytes` on a new connection (next to an idle bystander connection), expects that connection to be
/// closed without an answer, then proves both the bystander and a fresh connection are still served.
async fn expect_close(broker: &TestBroker, what: &str, bytes: &[u8]) {
    let mut bystander = RawClient::connect(broker.addr).await.unwrap();
    bystander
        .send(3, &ApiVersionsRequest::default())
        .await
        .expect("bystander served before");
    let mut offender = RawClient::connect(broker.addr).await.unwrap();
    offender
        .write_raw(bytes)
        .await
        .unwrap_or_else(|e| panic!("writing {what}: {e}"));
    offender.expect_closed(what).await;
    let answer = bystander.send(3, &ApiVersionsRequest::default()).await;
    assert!(
        answer.is_ok_and(|r| r.error_code == 0),
        "after {what}, an open bystander connection is no longer served"
    );
    assert_serving(broker.addr, what).await;
}

fn sized(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_over_max_request_bytes_close_the_connection() {
    let broker = TestBroker::start(|c| c.max_request_bytes = 1024).await;
    // A real (Metadata v0) request padded past the limit: refused by size alone.
    let mut big = frame(3, 0, &0i32.to_be_bytes()).to_vec();
    big.resize(2048, 0);
    expect_close(
        &broker,
        "a 2048-byte frame over a 1024-byte limit",
        &sized(&big),
    )
    .await;
    // Only the size prefix: the broker must refuse it without waiting for the body.
    expect_close(
        &broker,
        "a size prefix of 1 GiB",
        &(1i32 << 30).to_be_bytes(),
    )
    .await;
    expect_close(&broker, "a negative size prefix", &(-5i32).to_be_bytes()).await;
    // Small frames are still served.
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    let response = client
        .send(0, &ApiVersionsRequest::default())
        .await
        .unwrap();
    assert_eq!(response.error_code, 0);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_the_connection() {
    let broker = TestBroker::start(|_| {}).await;
    expect_close(
        &broker,
        "an HTTP request",
        b"GET / HTTP/1.1\r\nHost: sluice\r\n\r\n",
    )
    .await;
    expect_close(
        &broker,
        "a frame too short for a header",
        &sized(&[0, 18, 0]),
    )
    .await;
    expect_close(
        &broker,
        "a TLS ClientHello",
        &[
            0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
        ],
    )
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_api_keys_close_the_connection() {
    let broker = TestBroker::start(|_| {}).await;
    expect_close(&broker, "API key 999", &sized(&frame(999, 0, &[]))).await;
    expect_close(&broker, "API key -1", &sized(&frame(-1, 0, &[]))).await;
    // Real Kafka APIs this broker does not serve: SaslHandshake and DescribeAcls.
    expect_close(&broker, "SaslHandshake v1", &sized(&frame(17, 1, &[0; 16]))).await;
    expect_close(
        &broker,
        "DescribeAcls v2",
        &sized(&frame(29, 2, &[0; 16])),
    )
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_versions_of_served_apis_close_the_connection() {
    let broker = TestBroker::start(|_| {}).await;
    for (key, version, name) in [
        (0, 2, "Produce v2"),
        (0, 14, "Produce v14"),
        (1, 3, "Fetch v3"),
        (1, 19, "Fetch v19"),
        (2, 0, "ListOffsets v0"),
        (3, 14, "Metadata v14"),
        (19, 1, "CreateTopics v1"),
        (32, 0, "DescribeConfigs v0"),
        (60, 3, "DescribeCluster v3"),
    ] {
        expect_close(&broker, name, &sized(&frame(key, version, &[0; 32]))).await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_bodies_close_the_connection() {
    let broker = TestBroker::start(|_| {}).await;
    // Metadata v1 claiming five topics and carrying none.
    expect_close(
        &broker,
        "a truncated Metadata v1 body",
        &sized(&frame(3, 1, &5i32.to_be_bytes())),
    )
    .await;
    // CreateTopics v2 whose first topic name claims 300 bytes of a 4-byte body.
    let mut body = 1i32.to_be_bytes().to_vec();
    body.extend_from_slice(&300i16.to_be_bytes());
    body.extend_from_slice(b"abcd");
    expect_close(
        &broker,
        "a truncated CreateTopics v2 body",
        &sized(&frame(19, 2, &body)),
    )
    .await;
    // A header cut inside its client id.
    let mut cut = BytesMut::new();
    cut.put_i16(3);
    cut.put_i16(1);
    cut.put_i32(1);
    cut.put_i16(40);
    cut.put_slice(b"short");
    expect_close(&broker, "a header cut inside its client id", &sized(&cut)).await;
    broker.stop().await;
}

/// Found by `random_frames_never_kill_the_broker`: a frame of a few bytes whose array count claims two billion
/// elements must be refused like any other undecodable body, not make the broker reserve memory for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_array_counts_in_small_frames_close_the_connection() {
    let broker = TestBroker::start(|_| {}).await;
    // DescribeConfigs v1: resources array of i32::MAX entries, none present.
    expect_close(
        &broker,
        "DescribeConfigs v1 claiming 2^31-1 resources",
        &sized(&frame(32, 1, &i32::MAX.to_be_bytes())),
    )
    .await;
    // Metadata v1: topics array of i32::MAX entries.
    expect_close(
        &broker,
        "Metadata v1 claiming 2^31-1 topics",
        &sized(&frame(3, 1, &i32::MAX.to_be_bytes())),
    )
    .await;
    // Metadata v9 (flexible): header v2 with empty tagged fields, topics as a compact array of 2^31 - 2 entries.
    let mut body = vec![0u8]; // header tagged fields
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x07]); // unsigned varint 2^31 - 1 = count + 1
    expect_close(
        &broker,
        "Metadata v9 claiming 2^31-2 topics",
        &sized(&frame(3, 9, &body)),
    )
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_with_a_bad_crc_is_corrupt_message() {
    let broker = TestBroker::start(|_| {}).await;
    create_topic(broker.addr, "crc", 1, &[]).await;
    let mut batch =
        encode_batch(&[record(Some(b"k"), Some(b"value"), crate::support::now_ms())]).to_vec();
    let last = batch.len() - 1;
    batch[last] ^= 0xff; // inside the CRC-covered records
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    let response: ProduceResponse = client
        .send(
            PRODUCE_VERSION,
            &produce_request("crc", 0, -1, Bytes::from(batch)),
        )
        .await
        .expect("a bad CRC is answered, not a closed connection");
    assert_eq!(
        response.responses[0].partition_responses[0].error_code, 2,
        "CORRUPT_MESSAGE"
    );
    // Nothing was appended, and the same connection still works.
    let fetched = fetch_raw(&mut client, "crc", 0, 0).await.unwrap();
    assert_eq!(
        (fetched.error_code, fetched.high_watermark),
        (0, 0),
        "the corrupt batch must not be in the log"
    );
    assert_serving(broker.addr, "a corrupt batch").await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_over_max_message_bytes_is_message_too_large() {
    let broker = TestBroker::start(|_| {}).await;
    create_topic(broker.addr, "small", 1, &[("max.message.bytes", "1000")]).await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    let big = vec![b'x'; 2000];
    let (code, _) = produce_raw(
        &mut client,
        "small",
        0,
        &[record(Some(b"k"), Some(&big), crate::support::now_ms())],
    )
    .await
    .unwrap();
    assert_eq!(code, 10, "MESSAGE_TOO_LARGE");
    // A batch under the limit is accepted at offset 0: the refused one took no offset.
    let (code, base) = produce_raw(
        &mut client,
        "small",
        0,
        &[record(Some(b"k"), Some(b"fits"), crate::support::now_ms())],
    )
    .await
    .unwrap();
    assert_eq!((code, base), (0, 0));
    assert_serving(broker.addr, "an oversized batch").await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_without_a_key_to_a_compacted_topic_is_invalid_record() {
    let broker = TestBroker::start(|_| {}).await;
    create_topic(
        broker.addr,
        "compacted",
        1,
        &[("cleanup.policy", "compact")],
    )
    .await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    let now = crate::support::now_ms();
    let (code, _) = produce_raw(
        &mut client,
        "compacted",
        0,
        &[record(None, Some(b"no key"), now)],
    )
    .await
    .unwrap();
    assert_eq!(code, 87, "INVALID_RECORD");
    // One keyless record spoils the whole batch.
    let mixed = [
        record(Some(b"k"), Some(b"v"), now),
        record(None, Some(b"no key"), now),
    ];
    let (code, _) = produce_raw(&mut client, "compacted", 0, &mixed)
        .await
        .unwrap();
    assert_eq!(
        code, 87,
        "INVALID_RECORD for a batch with one keyless record"
    );
    let (code, base) = produce_raw(
        &mut client,
        "compacted",
        0,
        &[record(Some(b"k"), Some(b"v"), now)],
    )
    .await
    .unwrap();
    assert_eq!(
        (code, base),
        (0, 0),
        "a keyed record is accepted at offset 0"
    );
    assert_serving(broker.addr, "keyless records to a compacted topic").await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_topics_with_invalid_names_is_invalid_topic_exception() {
    let broker = TestBroker::start(|_| {}).await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    let long = "x".repeat(250);
    let names = ["bad/name", "..", ".", long.as_str(), "spaces here", ""];
    let topics = names
        .iter()
        .map(|n| {
            CreatableTopic::default()
                .with_name(topic_name(n))
                .with_num_partitions(1)
                .with_replication_factor(1)
        })
        .collect();
    let response = client
        .send(
            7,
            &CreateTopicsRequest::default()
                .with_topics(topics)
                .with_timeout_ms(5000),
        )
        .await
        .unwrap();
    assert_eq!(response.topics.len(), names.len());
    for (name, result) in names.iter().zip(&response.topics) {
        assert_eq!(result.name.0.as_str(), *name);
        assert_eq!(
            result.error_code, 17,
            "INVALID_TOPIC_EXCEPTION for {name:?}: {:?}",
            result.error_message
        );
    }
    // 249 characters is the longest legal name.
    let ok = "y".repeat(249);
    create_topic(broker.addr, &ok, 1, &[]).await;
    assert_serving(broker.addr, "invalid topic names").await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_outside_the_log_is_offset_out_of_range() {
    let broker = TestBroker::start(|_| {}).await;
    create_topic(broker.addr, "range", 1, &[]).await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    let now = crate::support::now_ms();
    for i in 0..5u8 {
        let (code, base) = produce_raw(
            &mut client,
            "range",
            0,
            &[record(Some(&[i]), Some(&[i]), now)],
        )
        .await
        .unwrap();
        assert_eq!((code, base), (0, i64::from(i)));
    }
    let beyond = fetch_raw(&mut client, "range", 0, 6).await.unwrap();
    assert_eq!(
        beyond.error_code, 1,
        "fetch at 6 with log end 5: OFFSET_OUT_OF_RANGE"
    );
    // At the log end is not out of range: an empty answer.
    let at_end = fetch_raw(&mut client, "range", 0, 5).await.unwrap();
    assert_eq!(
        (
            at_end.error_code,
            at_end.records.len(),
            at_end.high_watermark
        ),
        (0, 0, 5)
    );

    assert_eq!(
        delete_records_raw(&mut client, "range", 0, 3)
            .await
            .unwrap(),
        (0, 3),
        "DeleteRecords to 3"
    );
    let below = fetch_raw(&mut client, "range", 0, 1).await.unwrap();
    assert_eq!(
        below.error_code, 1,
        "fetch at 1 with log start 3: OFFSET_OUT_OF_RANGE"
    );
    let from_start = fetch_raw(&mut client, "range", 0, 3).await.unwrap();
    assert_eq!(from_start.error_code, 0);
    assert_eq!(from_start.log_start_offset, 3);
    let offsets: Vec<i64> = from_start
        .records
        .iter()
        .map(|r| r.offset)
        .filter(|&o| o >= 3)
        .collect();
    assert_eq!(offsets, vec![3, 4]);
    assert_serving(broker.addr, "out-of-range fetches").await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_with_bad_acks_is_invalid_required_acks() {
    let broker = TestBroker::start(|_| {}).await;
    create_topic(broker.addr, "acks", 1, &[]).await;
    let mut client = RawClient::connect(broker.addr).await.unwrap();
    for acks in [2i16, -2, 5] {
        let batch = encode_batch(&[record(Some(b"k"), Some(b"v"), crate::support::now_ms())]);
        let response: ProduceResponse = client
            .send(PRODUCE_VERSION, &produce_request("acks", 0, acks, batch))
            .await
            .unwrap_or_else(|e| panic!("acks={acks} must be answered: {e:#}"));
        assert_eq!(
            response.responses[0].partition_responses[0].error_code, 21,
            "INVALID_REQUIRED_ACKS for acks={acks}"
        );
    }
    let fetched = fetch_raw(&mut client, "acks", 0, 0).await.unwrap();
    assert_eq!(
        fetched.high_watermark, 0,
        "refused batches must not be appended"
    );
    // acks=0 gets no answer at all; the next request on the connection is answered in turn.
    let correlation = client
        .send_only(
            PRODUCE_VERSION,
            &produce_request(
                "acks",
                0,
                0,
                encode_batch(&[record(Some(b"k"), Some(b"v"), crate::support::now_ms())]),
            ),
        )
        .await
        .unwrap();
    let response = client
        .send(3, &ApiVersionsRequest::default())
        .await
        .expect("the request after an acks=0 produce");
    assert_eq!(response.error_code, 0);
    let _ = correlation;
    let fetched = fetch_raw(&mut client, "acks", 0, 0).await.unwrap();
    assert_eq!(fetched.high_watermark, 1, "the acks=0 batch is in the log");
    assert_serving(broker.addr, "bad acks").await;
    broker.stop().await;
}

/// One frame a hostile or broken client might send.
fn hostile_frame() -> impl Strategy<Value = Vec<u8>> {
    let served: Vec<(i16, i16, i16)> = vec![
        (0, 3, 13),
        (1, 4, 18),
        (2, 1, 10),
        (3, 0, 13),
        (18, 0, 4),
        (19, 2, 7),
        (20, 1, 6),
        (21, 0, 2),
        (32, 1, 4),
        (33, 0, 2),
        (37, 0, 3),
        (44, 0, 1),
        (60, 0, 2),
    ];
    prop_oneof![
        // Anything at all, sent raw.
        proptest::collection::vec(any::<u8>(), 0..64),
        // A well-sized frame of random bytes.
        proptest::collection::vec(any::<u8>(), 0..256).prop_map(|b| sized(&b)),
        // A served API at a served version, with a null client id and a random body.
        (
            proptest::sample::select(served),
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..256)
        )
            .prop_map(|((key, min, max), pick, body)| {
                let version = min + (pick % (max - min + 1) as u16) as i16;
                sized(&frame(key, version, &body))
            }),
    ]
}

/// Random frames, sent on one connection per case, never stop the broker from serving new connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_frames_never_kill_the_broker() {
    let broker = TestBroker::start(|c| c.max_request_bytes = 64 * 1024).await;
    create_topic(broker.addr, "victim", 2, &[]).await;
    let addr = broker.addr;
    let runtime = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 32,
        failure_persistence: None,
        ..Config::default()
    });
    let result = tokio::task::block_in_place(|| {
        runner.run(
            &proptest::collection::vec(hostile_frame(), 1..8),
            |frames| {
                runtime.block_on(async {
                    let mut client = RawClient::connect(addr).await.expect("connect");
                    for f in &frames {
                        // The broker may close the connection half-way: later writes may fail, which is fine.
                        if client.write_raw(f).await.is_err() {
                            break;
                        }
                    }
                    drop(client);
                    assert_serving(addr, &format!("random frames {frames:?}")).await;
                });
                Ok(())
            },
        )
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    broker.stop().await;
}
