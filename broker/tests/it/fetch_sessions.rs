//! Fetch sessions (KIP-227) on the wire, on one broker: consumers asking for one are declined and answered in
//! full, session errors answer at once with their code, and a follower's session answers only what changed.

use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse};

use crate::support::{
    create_topic, fetch_request, fetched, now_ms, produce_raw, record, topic_name, RawClient,
    TestBroker, FETCH_VERSION,
};

const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
const INVALID_FETCH_SESSION_EPOCH: i16 = 71;
/// Bound on every answer: a session error must never wait out a long poll.
const ANSWER: Duration = Duration::from_secs(5);

async fn send(client: &mut RawClient, request: &FetchRequest) -> FetchResponse {
    tokio::time::timeout(ANSWER, client.send(FETCH_VERSION, request))
        .await
        .expect("answered without waiting out the long poll")
        .expect("Fetch")
}

/// A broker with topic `s` (one partition) holding three records.
async fn broker_with_records() -> TestBroker {
    let broker = TestBroker::start(|_| {}).await;
    create_topic(broker.addr, "s", 1, &[]).await;
    let mut client = RawClient::connect(broker.addr).await.expect("connect");
    let records: Vec<_> = (0..3)
        .map(|i| record(None, Some(format!("v{i}").as_bytes()), now_ms()))
        .collect();
    let (code, base) = produce_raw(&mut client, "s", 0, &records)
        .await
        .expect("Produce");
    assert_eq!((code, base), (0, 0));
    broker
}

/// A follower-style request (replica id 7) for partition 0 of `s` at `offset`, within a session.
fn follower_fetch(session_id: i32, epoch: i32, offset: Option<i64>) -> FetchRequest {
    let topics = offset
        .map(|offset| {
            vec![FetchTopic::default()
                .with_topic(topic_name("s"))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(offset)
                    .with_current_leader_epoch(-1)
                    .with_partition_max_bytes(1024 * 1024)])]
        })
        .unwrap_or_default();
    FetchRequest::default()
        .with_replica_id(BrokerId(7))
        .with_max_wait_ms(100)
        .with_min_bytes(1)
        .with_max_bytes(1024 * 1024)
        .with_session_id(session_id)
        .with_session_epoch(epoch)
        .with_topics(topics)
}

#[tokio::test]
async fn a_consumer_asking_for_a_session_is_declined_and_answered_in_full() {
    let broker = broker_with_records().await;
    let mut client = RawClient::connect(broker.addr).await.expect("connect");
    let request = fetch_request("s", 0, 0, 0, 1).with_session_epoch(0);
    for round in 0..2 {
        let response = send(&mut client, &request).await;
        assert_eq!(response.session_id, 0, "round {round}: no session for consumers");
        let answer = fetched(&response).expect("a full answer");
        assert_eq!(answer.error_code, 0);
        assert_eq!(answer.high_watermark, 3);
        assert_eq!(answer.records.len(), 3, "round {round}: every record, every time");
    }
    broker.stop().await;
}

#[tokio::test]
async fn session_errors_answer_at_once_with_their_code_and_no_partitions() {
    let broker = broker_with_records().await;
    let mut client = RawClient::connect(broker.addr).await.expect("connect");
    // An incremental fetch of a session that never existed, from a consumer and from a follower.
    let mut unknown = fetch_request("s", 0, 3, 10_000, 1_000_000)
        .with_session_id(12345)
        .with_session_epoch(1);
    for replica in [-1, 7] {
        unknown.replica_id = BrokerId(replica);
        let response = send(&mut client, &unknown).await;
        assert_eq!(response.error_code, FETCH_SESSION_ID_NOT_FOUND, "replica {replica}");
        assert_eq!(response.session_id, 0);
        assert!(response.responses.is_empty());
    }
    // A real session, asked with a wrong epoch.
    let response = send(&mut client, &follower_fetch(0, 0, Some(3))).await;
    let id = response.session_id;
    assert!(id > 0, "a follower gets a session");
    let response = send(&mut client, &follower_fetch(id, 5, None)).await;
    assert_eq!(response.error_code, INVALID_FETCH_SESSION_EPOCH);
    assert!(response.responses.is_empty());
    // The broker keeps serving, the session included.
    let response = send(&mut client, &follower_fetch(id, 1, None)).await;
    assert_eq!((response.error_code, response.session_id), (0, id));
    broker.stop().await;
}

#[tokio::test]
async fn a_session_answers_only_partitions_with_news() {
    let broker = broker_with_records().await;
    let mut client = RawClient::connect(broker.addr).await.expect("connect");
    let response = send(&mut client, &follower_fetch(0, 0, Some(0))).await;
    let id = response.session_id;
    assert!(id > 0);
    assert_eq!(fetched(&response).expect("full").records.len(), 3);
    // Epoch 1 moves the fetch offset to the end: nothing new to say, so an empty answer after the wait.
    let response = send(&mut client, &follower_fetch(id, 1, Some(3))).await;
    assert_eq!((response.error_code, response.session_id), (0, id));
    assert!(response.responses.is_empty(), "{:?}", response.responses);
    // Epoch 2 names nothing, yet the session's partition is fetched at 3: a new record answers it.
    let mut producer = RawClient::connect(broker.addr).await.expect("connect");
    let (code, base) = produce_raw(&mut producer, "s", 0, &[record(None, Some(b"v3"), now_ms())])
        .await
        .expect("Produce");
    assert_eq!((code, base), (0, 3));
    let response = send(&mut client, &follower_fetch(id, 2, None)).await;
    let answer = fetched(&response).expect("the partition answers");
    assert_eq!(answer.records.len(), 1);
    assert_eq!(answer.records[0].offset, 3);
    assert_eq!(answer.high_watermark, 4);
    broker.stop().await;
}

/// A follower may ask for a partition before its leader has the topic (the leader applies the metadata later):
/// the session keeps it by name, and fetches it once the topic is there, without the follower naming it again.
#[tokio::test]
async fn a_session_keeps_a_topic_the_broker_does_not_know_yet() {
    let broker = TestBroker::start(|c| c.auto_create_topics = false).await;
    let mut client = RawClient::connect(broker.addr).await.expect("connect");
    let response = send(&mut client, &follower_fetch(0, 0, Some(0))).await;
    let id = response.session_id;
    assert!(id > 0);
    let p = &response.responses[0].partitions[0];
    assert_eq!(p.error_code, 3, "UNKNOWN_TOPIC_OR_PARTITION");
    create_topic(broker.addr, "s", 1, &[]).await;
    let response = send(&mut client, &follower_fetch(id, 1, None)).await;
    let answer = fetched(&response).expect("the partition answers once its topic exists");
    assert_eq!((answer.error_code, answer.high_watermark), (0, 0));
    broker.stop().await;
}
