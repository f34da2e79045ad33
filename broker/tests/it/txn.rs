//! Idempotent and transactional producers: librdkafka's idempotent producer across a broker restart, raw
//! retries and sequence gaps, transactions seen through read_committed and read_uncommitted consumers, zombie
//! fencing, transaction timeouts, and offsets committed inside a transaction.

use std::time::Duration;

use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, EndTxnRequest, GroupId, ProducerId, OffsetFetchRequest, TxnOffsetCommitRequest,
    DescribeTransactionsRequest, FetchRequest, FetchResponse, InitProducerIdRequest,
    ProduceResponse, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Record;
use kafka_protocol::ResponseError;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::support::{
    create_topic, decode_records, encode_batch, fetch_request, now_ms, produce_request, record,
    reserved_port, wait_until, FETCH_VERSION, PRODUCE_VERSION, RawClient, TestBroker,
};

const TIMEOUT: Duration = Duration::from_secs(30);

fn client_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("socket.timeout.ms", "20000")
        .set("log_level", "4");
    c
}

fn idempotent_producer(bootstrap: &str) -> FutureProducer {
    client_config(bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "60000")
        .set("reconnect.backoff.ms", "20")
        .set("reconnect.backoff.max.ms", "200")
        .create()
        .expect("create an idempotent producer")
}

fn transactional_producer(
    bootstrap: &str,
    transactional_id: &str,
    timeout_ms: u32,
) -> FutureProducer {
    client_config(bootstrap)
        .set("transactional.id", transactional_id)
        .set("transaction.timeout.ms", timeout_ms.to_string())
        .set("message.timeout.ms", timeout_ms.to_string())
        // librdkafka wants requests to time out before the transaction does.
        .set("socket.timeout.ms", timeout_ms.min(20_000).to_string())
        .set("linger.ms", "2")
        .create()
        .expect("create a transactional producer")
}

/// Runs a blocking rdkafka call (transactions API) without stalling the runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

async fn send(producer: &FutureProducer, topic: &str, value: &str) {
    producer
        .send(
            FutureRecord::<(), str>::to(topic)
                .partition(0)
                .payload(value),
            TIMEOUT,
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("delivering {value:?} to {topic}: {e}"));
}

/// Values of `topic`-0 from the start, read with `isolation.level`, until `last` arrives.
async fn values_until(bootstrap: &str, topic: &str, isolation: &str, last: &str) -> Vec<String> {
    let consumer: StreamConsumer = client_config(bootstrap)
        .set("group.id", "sluice-it-txn")
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("create a consumer");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .expect("assignment");
    consumer.assign(&assignment).expect("assign");
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let message = match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => panic!("consuming {topic} ({isolation}): {e}"),
            Err(_) => {
                panic!("timed out consuming {topic} ({isolation}) until {last:?}; got {out:?}")
            }
        };
        let value = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
        let done = value == last;
        out.push(value);
        if done {
            return out;
        }
    }
}

/// One raw read_committed (or read_uncommitted) fetch of `topic`-0 from `offset`: (high watermark, last stable
/// offset, aborted transactions as (producer id, first offset), records).
async fn fetch_isolated(
    client: &mut RawClient,
    topic: &str,
    offset: i64,
    read_committed: bool,
) -> (i64, i64, Option<Vec<(i64, i64)>>, Vec<Record>) {
    let request: FetchRequest =
        fetch_request(topic, 0, offset, 0, 1).with_isolation_level(i8::from(read_committed));
    let response: FetchResponse = client
        .send(FETCH_VERSION, &request)
        .await
        .expect("Fetch answered");
    let p = &response.responses[0].partitions[0];
    assert_eq!(p.error_code, 0, "Fetch error: {p:?}");
    let aborted = p.aborted_transactions.as_ref().map(|a| {
        a.iter()
            .map(|t| (t.producer_id.0, t.first_offset))
            .collect()
    });
    let records = decode_records(p.records.clone().unwrap_or_default()).expect("decode records");
    (p.high_watermark, p.last_stable_offset, aborted, records)
}

fn values_of(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .filter(|r| !r.control)
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotent_producer_writes_each_record_once_in_order_across_a_restart() {
    let port = reserved_port();
    let broker = TestBroker::start(|c| c.listen = format!("127.0.0.1:{port}")).await;
    create_topic(broker.addr, "idem", 1, &[]).await;
    let producer = idempotent_producer(&broker.bootstrap());
    for i in 0..100 {
        send(&producer, "idem", &format!("v{i}")).await;
    }
    // Keep sending while the broker restarts: the producer retries what was in flight, the broker must keep
    // (from its producer state snapshot) what it already has.
    let pending: Vec<_> = (100..200)
        .map(|i| {
            let value = format!("v{i}");
            producer
                .send_result(
                    FutureRecord::<(), str>::to("idem")
                        .partition(0)
                        .payload(&value),
                )
                .unwrap_or_else(|(e, _)| panic!("enqueue {value}: {e}"))
        })
        .collect();
    let broker = broker.restart().await;
    for (i, delivery) in pending.into_iter().enumerate() {
        let outcome = tokio::time::timeout(TIMEOUT, delivery)
            .await
            .expect("delivered in time");
        match outcome {
            Ok(Ok(_)) => {}
            Ok(Err((e, _))) => panic!("delivering v{}: {e}", 100 + i),
            Err(_) => panic!("the delivery of v{} was canceled", 100 + i),
        }
    }
    let got = values_until(&broker.bootstrap(), "idem", "read_uncommitted", "v199").await;
    let want: Vec<String> = (0..200).map(|i| format!("v{i}")).collect();
    assert_eq!(got, want, "every record once, in order");
    let mut raw = RawClient::connect(broker.addr).await.expect("connect");
    let (hw, lso, _, _) = fetch_isolated(&mut raw, "idem", 0, true).await;
    assert_eq!((hw, lso), (200, 200), "no offsets spent on duplicates");
    broker.stop().await;
}

/// Produces one idempotent batch (raw): (error code, base offset).
async fn produce_seq(
    client: &mut RawClient,
    topic: &str,
    pid: i64,
    epoch: i16,
    seq: i32,
    n: usize,
) -> (i16, i64) {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            producer_id: pid,
            producer_epoch: epoch,
            sequence: seq + i as i32,
            ..record(
                None,
                Some(format!("s{}", seq + i as i32).as_bytes()),
                now_ms(),
            )
        })
        .collect();
    let response: ProduceResponse = client
        .send(
            PRODUCE_VERSION,
            &produce_request(topic, 0, -1, encode_batch(&records)),
        )
        .await
        .expect("Produce answered");
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_get_their_first_offsets_and_gaps_are_refused_also_after_a_restart() {
    let broker = TestBroker::start(|_| {}).await;
    create_topic(broker.addr, "seq", 1, &[]).await;
    let mut client = RawClient::connect(broker.addr).await.expect("connect");
    let request = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000);
    let init = client
        .send(4, &request)
        .await
        .expect("InitProducerId answered");
    assert_eq!(init.error_code, 0);
    let (pid, epoch) = (init.producer_id.0, init.producer_epoch);
    assert_eq!(
        produce_seq(&mut client, "seq", pid, epoch, 0, 3).await,
        (0, 0)
    );
    assert_eq!(
        produce_seq(&mut client, "seq", pid, epoch, 3, 2).await,
        (0, 3)
    );
    assert_eq!(
        produce_seq(&mut client, "seq", pid, epoch, 0, 3).await,
        (0, 0),
        "a retry answers its first offset"
    );
    assert_eq!(
        produce_seq(&mut client, "seq", pid, epoch, 9, 1).await.0,
        45,
        "OUT_OF_ORDER_SEQUENCE_NUMBER"
    );
    assert_eq!(
        produce_seq(&mut client, "seq", pid, epoch - 1, 5, 1)
            .await
            .0,
        47,
        "INVALID_PRODUCER_EPOCH"
    );

    let broker = broker.restart().await;
    let mut client = RawClient::connect(broker.addr).await.expect("connect");
    assert_eq!(
        produce_seq(&mut client, "seq", pid, epoch, 3, 2).await,
        (0, 3),
        "dedup state survives a restart"
    );
    assert_eq!(
        produce_seq(&mut client, "seq", pid, epoch, 9, 1).await.0,
        45
    );
    assert_eq!(
        produce_seq(&mut client, "seq", pid, epoch, 5, 1).await,
        (0, 5)
    );
    let (hw, _, _, records) = fetch_isolated(&mut client, "seq", 0, false).await;
    assert_eq!(hw, 6);
    assert_eq!(values_of(&records), ["s0", "s1", "s2", "s3", "s4", "s5"]);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn committed_records_are_visible_to_read_committed_and_aborted_ones_never() {
    let broker = TestBroker::start(|_| {}).await;
    let bootstrap = broker.bootstrap();
    create_topic(broker.addr, "tx", 1, &[]).await;
    let producer = transactional_producer(&bootstrap, "tx-writer", 60_000);
    blocking(|| producer.init_transactions(TIMEOUT)).expect("init_transactions");

    blocking(|| producer.begin_transaction()).expect("begin");
    for i in 0..5 {
        send(&producer, "tx", &format!("c{i}")).await;
    }
    blocking(|| producer.commit_transaction(TIMEOUT)).expect("commit");

    blocking(|| producer.begin_transaction()).expect("begin");
    for i in 0..5 {
        send(&producer, "tx", &format!("a{i}")).await;
    }
    // While the transaction is open, read_committed readers stop at its first offset (6: 5 records + marker).
    let mut raw = RawClient::connect(broker.addr).await.expect("connect");
    let (hw, lso, _, records) = fetch_isolated(&mut raw, "tx", 0, true).await;
    assert_eq!(
        (hw, lso),
        (11, 6),
        "last stable offset at the open transaction"
    );
    assert_eq!(values_of(&records), ["c0", "c1", "c2", "c3", "c4"]);
    blocking(|| producer.abort_transaction(TIMEOUT)).expect("abort");

    blocking(|| producer.begin_transaction()).expect("begin");
    for i in 5..10 {
        send(&producer, "tx", &format!("c{i}")).await;
    }
    blocking(|| producer.commit_transaction(TIMEOUT)).expect("commit");

    let committed = values_until(&bootstrap, "tx", "read_committed", "c9").await;
    let want: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
    assert_eq!(
        committed, want,
        "read_committed sees only committed records"
    );
    let everything = values_until(&bootstrap, "tx", "read_uncommitted", "c9").await;
    assert_eq!(
        everything.len(),
        15,
        "read_uncommitted sees aborted records too: {everything:?}"
    );
    assert!(everything.contains(&"a3".to_string()));

    let (hw, lso, aborted, _) = fetch_isolated(&mut raw, "tx", 0, true).await;
    assert_eq!((hw, lso), (18, 18));
    let aborted = aborted.expect("read_committed answers list aborted transactions");
    assert_eq!(aborted.len(), 1);
    assert_eq!(
        aborted[0].1, 6,
        "the aborted transaction starts after the first commit marker"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_producer_with_the_same_transactional_id_fences_the_first() {
    let broker = TestBroker::start(|_| {}).await;
    let bootstrap = broker.bootstrap();
    create_topic(broker.addr, "fence", 1, &[]).await;
    let zombie = transactional_producer(&bootstrap, "fenced-id", 60_000);
    blocking(|| zombie.init_transactions(TIMEOUT)).expect("init");
    blocking(|| zombie.begin_transaction()).expect("begin");
    send(&zombie, "fence", "zombie").await;

    let successor = transactional_producer(&bootstrap, "fenced-id", 60_000);
    blocking(|| successor.init_transactions(TIMEOUT)).expect("the successor initialises");
    let result = blocking(|| zombie.commit_transaction(TIMEOUT));
    match result {
        Err(KafkaError::Transaction(e)) => assert!(e.is_fatal() || e.txn_requires_abort(), "{e}"),
        other => panic!("the fenced producer's commit must fail, got {other:?}"),
    }

    blocking(|| successor.begin_transaction()).expect("begin");
    send(&successor, "fence", "successor").await;
    blocking(|| successor.commit_transaction(TIMEOUT)).expect("commit");
    let seen = values_until(&bootstrap, "fence", "read_committed", "successor").await;
    assert_eq!(
        seen,
        ["successor"],
        "the fenced producer's records were aborted"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_left_open_past_its_timeout_is_aborted() {
    let broker = TestBroker::start(|c| c.transaction_abort_check_interval_ms = 100).await;
    let bootstrap = broker.bootstrap();
    create_topic(broker.addr, "slow", 1, &[]).await;
    let producer = transactional_producer(&bootstrap, "slow-id", 2_000);
    blocking(|| producer.init_transactions(TIMEOUT)).expect("init");
    blocking(|| producer.begin_transaction()).expect("begin");
    send(&producer, "slow", "never").await;

    let mut raw = RawClient::connect(broker.addr).await.expect("connect");
    let (hw, lso, _, _) = fetch_isolated(&mut raw, "slow", 0, true).await;
    assert_eq!(
        (hw, lso),
        (1, 0),
        "the open transaction holds the last stable offset"
    );
    let addr = broker.addr;
    wait_until(
        TIMEOUT,
        "the coordinator aborts the transaction",
        || async move {
            let mut raw = RawClient::connect(addr).await.map_err(|e| e.to_string())?;
            let request = DescribeTransactionsRequest::default().with_transactional_ids(vec![
                TransactionalId(StrBytes::from_static_str("slow-id")),
            ]);
            let described = raw.send(0, &request).await.map_err(|e| e.to_string())?;
            let state = described.transaction_states[0]
                .transaction_state
                .to_string();
            let (hw, lso, aborted, records) = fetch_isolated(&mut raw, "slow", 0, true).await;
            if state == "CompleteAbort" && lso == hw && hw == 2 {
                Ok((aborted, records))
            } else {
                Err(format!(
                    "state {state}, high watermark {hw}, last stable offset {lso}"
                ))
            }
        },
    )
    .await;
    let (_, _, aborted, records) = fetch_isolated(&mut raw, "slow", 0, true).await;
    assert_eq!(aborted.map(|a| a.len()), Some(1));
    assert_eq!(
        values_of(&records),
        ["never"],
        "the record is sent, and the consumer is told to drop it"
    );
    assert!(
        blocking(|| producer.commit_transaction(TIMEOUT)).is_err(),
        "the timed-out producer cannot commit"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn offsets_sent_to_a_transaction_commit_with_it() {
    let broker = TestBroker::start(|c| c.group_initial_rebalance_delay_ms = 0).await;
    let bootstrap = broker.bootstrap();
    create_topic(broker.addr, "in", 1, &[]).await;
    create_topic(broker.addr, "out", 1, &[]).await;
    let seed = idempotent_producer(&bootstrap);
    for i in 0..3 {
        send(&seed, "in", &format!("m{i}")).await;
    }
    let consumer: StreamConsumer = client_config(&bootstrap)
        .set("group.id", "txn-group")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()
        .expect("create a consumer");
    consumer.subscribe(&["in"]).expect("subscribe");
    for _ in 0..3 {
        tokio::time::timeout(TIMEOUT, consumer.recv())
            .await
            .expect("a record in time")
            .expect("a record");
    }
    let producer = transactional_producer(&bootstrap, "eos-id", 60_000);
    blocking(|| producer.init_transactions(TIMEOUT)).expect("init");
    blocking(|| producer.begin_transaction()).expect("begin");
    send(&producer, "out", "processed").await;
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset("in", 0, Offset::Offset(3))
        .expect("offsets");
    let metadata = consumer.group_metadata().expect("group metadata");
    blocking(|| producer.send_offsets_to_transaction(&offsets, &metadata, TIMEOUT))
        .expect("send offsets");
    blocking(|| producer.commit_transaction(TIMEOUT)).expect("commit");
    let committed = blocking(|| consumer.committed(TIMEOUT)).expect("committed offsets");
    let offset = committed.find_partition("in", 0).map(|p| p.offset());
    assert_eq!(
        offset,
        Some(Offset::Offset(3)),
        "the transaction's offsets are committed"
    );
    broker.stop().await;
}

/// Offsets staged by a transaction that times out are dropped by the coordinator's timeout task itself: a
/// `require_stable` OffsetFetch stops answering UNSTABLE_OFFSET_COMMIT with no transaction request in between
/// (before, they waited for the next InitProducerId or EndTxn to be delivered).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn offsets_of_a_timed_out_transaction_are_dropped_by_the_timeout_task() {
    let broker = TestBroker::start(|c| c.transaction_abort_check_interval_ms = 100).await;
    create_topic(broker.addr, "staged", 1, &[]).await;
    let mut raw = RawClient::connect(broker.addr).await.expect("connect");
    let txn_id = TransactionalId(StrBytes::from_static_str("staged-id"));
    let group = GroupId(StrBytes::from_static_str("staged-group"));
    let init = raw
        .send(
            4,
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(txn_id.clone()))
                .with_transaction_timeout_ms(1_000),
        )
        .await
        .expect("InitProducerId answered");
    assert_eq!(init.error_code, 0);
    let added = raw
        .send(
            3,
            &AddOffsetsToTxnRequest::default()
                .with_transactional_id(txn_id.clone())
                .with_producer_id(init.producer_id)
                .with_producer_epoch(init.producer_epoch)
                .with_group_id(group.clone()),
        )
        .await
        .expect("AddOffsetsToTxn answered");
    assert_eq!(added.error_code, 0);
    let partition = TxnOffsetCommitRequestPartition::default()
        .with_partition_index(0)
        .with_committed_offset(5);
    let committed = raw
        .send(
            3,
            &TxnOffsetCommitRequest::default()
                .with_transactional_id(txn_id.clone())
                .with_group_id(group.clone())
                .with_producer_id(init.producer_id)
                .with_producer_epoch(init.producer_epoch)
                .with_generation_id(-1)
                .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                    .with_name(crate::support::topic_name("staged"))
                    .with_partitions(vec![partition])]),
        )
        .await
        .expect("TxnOffsetCommit answered");
    assert_eq!(committed.topics[0].partitions[0].error_code, 0);

    let fetch = OffsetFetchRequest::default()
        .with_group_id(group.clone())
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(crate::support::topic_name("staged"))
            .with_partition_indexes(vec![0])]))
        .with_require_stable(true);
    let first = raw.send(7, &fetch).await.expect("OffsetFetch answered");
    assert_eq!(
        first.topics[0].partitions[0].error_code,
        ResponseError::UnstableOffsetCommit.code(),
        "the staged offset is pending"
    );
    let addr = broker.addr;
    wait_until(TIMEOUT, "the timed-out transaction's offsets are dropped", || {
        let fetch = fetch.clone();
        async move {
            let mut raw = RawClient::connect(addr).await.map_err(|e| e.to_string())?;
            let answer = raw.send(7, &fetch).await.map_err(|e| e.to_string())?;
            let p = &answer.topics[0].partitions[0];
            if p.error_code == 0 {
                Ok(())
            } else {
                Err(format!("error code {}", p.error_code))
            }
        }
    })
    .await;
    let last = raw.send(7, &fetch).await.expect("OffsetFetch answered");
    assert_eq!(last.topics[0].partitions[0].committed_offset, -1, "an aborted offset never becomes visible");
    broker.stop().await;
}

/// Sends TxnOffsetCommit of `offset` for partition 0 of `topic`; answers the partition's error code.
async fn txn_offset_commit(
    raw: &mut RawClient,
    txn_id: &TransactionalId,
    group: &GroupId,
    (producer_id, epoch): (ProducerId, i16),
    topic: &str,
    offset: i64,
) -> i16 {
    let partition = TxnOffsetCommitRequestPartition::default()
        .with_partition_index(0)
        .with_committed_offset(offset);
    let request = TxnOffsetCommitRequest::default()
        .with_transactional_id(txn_id.clone())
        .with_group_id(group.clone())
        .with_producer_id(producer_id)
        .with_producer_epoch(epoch)
        .with_generation_id(-1)
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(crate::support::topic_name(topic))
            .with_partitions(vec![partition])]);
    let answer = raw.send(3, &request).await.expect("TxnOffsetCommit answered");
    answer.topics[0].partitions[0].error_code
}

/// A `require_stable` OffsetFetch of partition 0 of `topic`: (error code, committed offset).
async fn fetch_stable_offset(raw: &mut RawClient, group: &GroupId, topic: &str) -> (i16, i64) {
    let fetch = OffsetFetchRequest::default()
        .with_group_id(group.clone())
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(crate::support::topic_name(topic))
            .with_partition_indexes(vec![0])]))
        .with_require_stable(true);
    let answer = raw.send(7, &fetch).await.expect("OffsetFetch answered");
    let p = &answer.topics[0].partitions[0];
    (p.error_code, p.committed_offset)
}

/// TxnOffsetCommit offsets are in `__consumer_offsets` before the answer: a broker restart in the middle of the
/// transaction keeps them pending (not lost, not visible), the producer's EndTxn after the restart commits
/// them, and they survive the next restart. A transaction that never adds the group cannot stage offsets.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transactional_offsets_survive_a_restart_before_the_commit() {
    let broker = TestBroker::start(|c| c.group_initial_rebalance_delay_ms = 0).await;
    create_topic(broker.addr, "eos-in", 1, &[]).await;
    let mut raw = RawClient::connect(broker.addr).await.expect("connect");
    let txn_id = TransactionalId(StrBytes::from_static_str("durable-id"));
    let group = GroupId(StrBytes::from_static_str("durable-group"));
    let init = raw
        .send(
            4,
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(txn_id.clone()))
                .with_transaction_timeout_ms(60_000),
        )
        .await
        .expect("InitProducerId answered");
    assert_eq!(init.error_code, 0);
    let producer = (init.producer_id, init.producer_epoch);
    assert_eq!(
        txn_offset_commit(&mut raw, &txn_id, &group, producer, "eos-in", 4).await,
        ResponseError::InvalidTxnState.code(),
        "offsets of a transaction that did not add the group are refused"
    );
    let added = raw
        .send(
            3,
            &AddOffsetsToTxnRequest::default()
                .with_transactional_id(txn_id.clone())
                .with_producer_id(init.producer_id)
                .with_producer_epoch(init.producer_epoch)
                .with_group_id(group.clone()),
        )
        .await
        .expect("AddOffsetsToTxn answered");
    assert_eq!(added.error_code, 0);
    assert_eq!(txn_offset_commit(&mut raw, &txn_id, &group, producer, "eos-in", 5).await, 0);
    drop(raw);

    let broker = broker.restart().await;
    let mut raw = RawClient::connect(broker.addr).await.expect("connect");
    assert_eq!(
        fetch_stable_offset(&mut raw, &group, "eos-in").await,
        (ResponseError::UnstableOffsetCommit.code(), -1),
        "the staged offset survived the restart, still pending"
    );
    let ended = raw
        .send(
            3,
            &EndTxnRequest::default()
                .with_transactional_id(txn_id.clone())
                .with_producer_id(init.producer_id)
                .with_producer_epoch(init.producer_epoch)
                .with_committed(true),
        )
        .await
        .expect("EndTxn answered");
    assert_eq!(ended.error_code, 0);
    assert_eq!(fetch_stable_offset(&mut raw, &group, "eos-in").await, (0, 5), "the commit made it visible");
    drop(raw);

    let broker = broker.restart().await;
    let mut raw = RawClient::connect(broker.addr).await.expect("connect");
    assert_eq!(
        fetch_stable_offset(&mut raw, &group, "eos-in").await,
        (0, 5),
        "the commit marker in __consumer_offsets keeps the offset committed"
    );
    broker.stop().await;
}

/// A transaction whose offsets were staged before a restart and that then times out is aborted by the
/// coordinator: its ABORT marker drops the offsets, which stay invisible after the next restart too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transactional_offsets_aborted_after_a_restart_stay_invisible() {
    let broker = TestBroker::start(|c| c.transaction_abort_check_interval_ms = 100).await;
    create_topic(broker.addr, "eos-abort", 1, &[]).await;
    let mut raw = RawClient::connect(broker.addr).await.expect("connect");
    let txn_id = TransactionalId(StrBytes::from_static_str("doomed-id"));
    let group = GroupId(StrBytes::from_static_str("doomed-group"));
    let init = raw
        .send(
            4,
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(txn_id.clone()))
                .with_transaction_timeout_ms(1_000),
        )
        .await
        .expect("InitProducerId answered");
    let added = raw
        .send(
            3,
            &AddOffsetsToTxnRequest::default()
                .with_transactional_id(txn_id.clone())
                .with_producer_id(init.producer_id)
                .with_producer_epoch(init.producer_epoch)
                .with_group_id(group.clone()),
        )
        .await
        .expect("AddOffsetsToTxn answered");
    assert_eq!(added.error_code, 0);
    let producer = (init.producer_id, init.producer_epoch);
    assert_eq!(txn_offset_commit(&mut raw, &txn_id, &group, producer, "eos-abort", 5).await, 0);
    drop(raw);

    let broker = broker.restart().await;
    let addr = broker.addr;
    wait_until(TIMEOUT, "the timed-out transaction's offsets are dropped", || {
        let group = group.clone();
        async move {
            let mut raw = RawClient::connect(addr).await.map_err(|e| e.to_string())?;
            match fetch_stable_offset(&mut raw, &group, "eos-abort").await {
                (0, offset) => Ok(offset),
                (code, _) => Err(format!("error code {code}")),
            }
        }
    })
    .await;
    let broker = broker.restart().await;
    let mut raw = RawClient::connect(broker.addr).await.expect("connect");
    assert_eq!(
        fetch_stable_offset(&mut raw, &group, "eos-abort").await,
        (0, -1),
        "the ABORT marker keeps the offset out after a restart"
    );
    let mut raw2 = RawClient::connect(broker.addr).await.expect("connect");
    assert_eq!(
        txn_offset_commit(&mut raw2, &txn_id, &group, producer, "eos-abort", 6).await,
        ResponseError::ProducerFenced.code(),
        "the fenced producer cannot stage more offsets"
    );
    broker.stop().await;
}
