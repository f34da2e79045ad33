//! The file sink in exactly-once mode over transactional records, on three distributed workers: the worker
//! running the sink task crashes mid-run and the task moves; a write cut short (a duplicate line and a torn
//! partial one after the last durable flush) is left in the file and the group's offsets are reset, which only
//! the sink's own record of what is durable (`<file>.offsets`, answered from `open`) can recover from. The
//! file ends with every committed record exactly once, none of the aborted ones and no torn line. The same
//! holds on a single-threaded runtime, where partitions are opened from the run loop and the consumer seeks.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use reqwest::Method;
use serde_json::{json, Value as Json};
use tempfile::TempDir;

use crate::distributed::{three_workers, wait_connector};
use crate::support::{produce, wait_until, Rest, TestBroker, TestWorker, WAIT};

const TOPIC: &str = "eos-sink-in";
const PARTITIONS: i32 = 3;
/// Records per committed batch; three batches.
const BATCH: u64 = 200;
/// Sequence numbers of records in aborted transactions start here; none may reach the file.
const ABORTED: u64 = 1_000_000;

async fn create_topic(bootstrap: &str) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("create an admin client");
    let topic = NewTopic::new(TOPIC, PARTITIONS, TopicReplication::Fixed(1));
    let results = admin.create_topics([&topic], &AdminOptions::new()).await.expect("create the topic");
    for result in results {
        result.unwrap_or_else(|(t, e)| panic!("create topic {t}: {e}"));
    }
}

/// Sends `{"orderid": n}` for each `n` in `sequences` (spread over the partitions) in one transaction, then
/// commits it or aborts it.
async fn transaction(bootstrap: &str, id: &str, sequences: std::ops::Range<u64>, commit: bool) {
    let (bootstrap, id) = (bootstrap.to_string(), id.to_string());
    tokio::task::spawn_blocking(move || {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("transactional.id", &id)
            .set("message.timeout.ms", "30000")
            .create()
            .expect("create a transactional producer");
        producer.init_transactions(Duration::from_secs(30)).expect("init transactions");
        producer.begin_transaction().expect("begin a transaction");
        for n in sequences {
            let payload = json!({ "orderid": n }).to_string();
            let partition = (n % PARTITIONS as u64) as i32;
            producer
                .send(BaseRecord::<(), str>::to(TOPIC).partition(partition).payload(&payload))
                .unwrap_or_else(|(e, _)| panic!("send record {n}: {e}"));
            producer.poll(Duration::ZERO);
        }
        if commit {
            producer.commit_transaction(Duration::from_secs(30)).expect("commit the transaction");
        } else {
            producer.flush(Duration::from_secs(30)).expect("flush the aborted transaction's records");
            producer.abort_transaction(Duration::from_secs(30)).expect("abort the transaction");
        }
    })
    .await
    .expect("producer thread");
}

/// How often each `orderid` appears among complete lines, and the complete lines that are not records.
fn sequence_counts(path: &Path) -> (BTreeMap<u64, u32>, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rsplit_once('\n').map_or("", |(done, _)| done);
    let mut counts = BTreeMap::new();
    let mut torn = Vec::new();
    for line in complete.lines() {
        match serde_json::from_str::<Json>(line).ok().and_then(|v| v["orderid"].as_u64()) {
            Some(seq) => *counts.entry(seq).or_default() += 1,
            None => torn.push(line.to_string()),
        }
    }
    (counts, torn)
}

async fn wait_for_records(path: &Path, expected: u64) {
    wait_until(WAIT, &format!("the file holds sequence numbers 0..{expected}"), || async {
        let counts = sequence_counts(path).0;
        if (0..expected).all(|s| counts.contains_key(&s)) {
            Ok(())
        } else {
            let missing: Vec<u64> = (0..expected).filter(|s| !counts.contains_key(s)).take(10).collect();
            Err(format!("{} distinct; first missing {missing:?}", counts.len()))
        }
    })
    .await;
}

/// An exactly-once file sink of `topic` into `out`; `tasks.max` above one shows the single-writer cap.
fn sink_config(topic: &str, out: &Path) -> Json {
    json!({"connector.class": "FileStreamSink", "topics": topic, "tasks.max": "3",
        "file": out.display().to_string(), "exactly.once": "true",
        "consumer.override.isolation.level": "read_committed",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter"})
}

/// Waits until the sidecar's recorded length is the whole file: everything written is flushed and recorded,
/// so a sink that resumed at the wrong place has had its chance to write duplicates.
async fn wait_settled(out: &Path) {
    let sidecar = out.with_file_name(format!("{}.offsets", out.file_name().unwrap_or_default().to_string_lossy()));
    wait_until(WAIT, "the sidecar covers the whole file", || async {
        let record: Json = serde_json::from_slice(&std::fs::read(&sidecar).unwrap_or_default()).unwrap_or_default();
        let length = std::fs::metadata(out).map(|m| m.len()).unwrap_or_default();
        if record["length"].as_u64() == Some(length) {
            Ok(())
        } else {
            Err(format!("{record} vs {length} bytes"))
        }
    })
    .await;
}

/// The file holds `0..expected` each once, nothing else, and no torn line.
fn assert_exactly_once(out: &Path, expected: u64) {
    let text = std::fs::read_to_string(out).expect("read the sink's file");
    assert!(text.ends_with('\n'), "no torn line at the end: {:?}", &text[text.len().saturating_sub(40)..]);
    let (counts, torn) = sequence_counts(out);
    assert!(torn.is_empty(), "no torn lines: {torn:?}");
    let keys: Vec<u64> = counts.keys().copied().collect();
    assert_eq!(keys, (0..expected).collect::<Vec<_>>(), "exactly the committed records, none aborted");
    let repeated: Vec<(&u64, &u32)> = counts.iter().filter(|(_, c)| **c > 1).take(10).collect();
    assert!(repeated.is_empty(), "each record once; repeated: {repeated:?}");
}

/// What a task killed mid-write leaves after its last durable flush: a line already written once, then half
/// a line.
fn append_torn_write(out: &Path) {
    let mut file = std::fs::OpenOptions::new().append(true).open(out).expect("open the sink's file");
    file.write_all(b"{\"orderid\":1}\n{\"orderid\":2").expect("append a torn write");
}

/// Waits until the sink's task is RUNNING on a worker other than `not_on`.
async fn wait_sink_moved(rest: &Rest, not_on: &str) {
    wait_until(WAIT, &format!("the sink task runs on a worker other than {not_on}"), || async {
        let (code, status) = rest.get("/connectors/sink/status").await;
        let task = &status["tasks"][0];
        if code == 200 && task["state"] == "RUNNING" && task["worker_id"] != not_on {
            Ok(())
        } else {
            Err(format!("{code} {status}"))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_exactly_once_file_sink_writes_each_record_once_across_a_crash_and_a_torn_write() {
    let broker = TestBroker::start_fast().await;
    create_topic(&broker.bootstrap).await;
    let mut nodes = three_workers(&broker.bootstrap).await;
    let dir = TempDir::new().expect("temp dir");
    let out = dir.path().join("eos.txt");

    transaction(&broker.bootstrap, "eos-it-1", 0..BATCH, true).await;
    transaction(&broker.bootstrap, "eos-it-2", ABORTED..ABORTED + 50, false).await;
    let rest = &nodes[0].rest;
    rest.create("sink", sink_config(TOPIC, &out)).await;
    wait_connector(rest, "sink", "RUNNING", 1).await;
    wait_for_records(&out, BATCH).await;

    // (1) The worker running the sink task dies; the task moves while more records arrive.
    // Right after the records land a rebalance may still be moving the task (the status lags it): wait for its
    // owner rather than expect one at this instant.
    let victim = wait_until(WAIT, "some worker runs the sink task", || async {
        nodes
            .iter()
            .position(|n| n.worker.running_tasks().iter().any(|t| t.connector == "sink"))
            .ok_or_else(|| "no worker runs it".to_string())
    })
    .await;
    let dead = nodes.remove(victim);
    let dead_id = dead.id.clone();
    dead.worker.kill();
    drop(dead);
    let rest = &nodes[0].rest;
    transaction(&broker.bootstrap, "eos-it-1", BATCH..2 * BATCH, true).await;
    wait_sink_moved(rest, &dead_id).await;
    wait_for_records(&out, 2 * BATCH).await;

    // (2) With the task stopped: what a task killed mid-write leaves after its last durable flush (a line
    // already written once, then half a line), and group offsets reset to the start. Only the sidecar knows
    // where the durable part of the file ends.
    rest.expect(Method::PUT, "/connectors/sink/stop", None, 204).await;
    wait_connector(rest, "sink", "STOPPED", 0).await;
    let sidecar = dir.path().join("eos.txt.offsets");
    assert!(sidecar.exists(), "exactly-once mode keeps {}", sidecar.display());
    append_torn_write(&out);
    rest.expect(Method::DELETE, "/connectors/sink/offsets", None, 200).await;

    // (3) More committed records, and an aborted transaction, then the sink resumes.
    transaction(&broker.bootstrap, "eos-it-1", 2 * BATCH..3 * BATCH, true).await;
    transaction(&broker.bootstrap, "eos-it-2", ABORTED + 50..ABORTED + 100, false).await;
    rest.expect(Method::PUT, "/connectors/sink/resume", None, 202).await;
    wait_connector(rest, "sink", "RUNNING", 1).await;
    wait_for_records(&out, 3 * BATCH).await;
    wait_settled(&out).await;
    assert_exactly_once(&out, 3 * BATCH);
    eprintln!("exactly-once file sink across a crash and a torn write: {} records, each once", 3 * BATCH);

    for node in nodes {
        node.stop().await;
    }
    broker.stop().await;
}

/// Without a multi-threaded runtime the rebalance callback cannot wait for the task: the run loop opens the
/// partitions and the consumer seeks to the task's offsets before any of their records is put.
#[tokio::test]
async fn on_a_single_threaded_runtime_the_sink_still_resumes_where_its_sidecar_says() {
    const TOPIC: &str = "eos-single";
    let broker = TestBroker::start().await;
    let worker = TestWorker::start(&broker.bootstrap).await;
    let rest = &worker.rest;
    let out = worker.path("eos.txt");
    let records =
        |range: std::ops::Range<u64>| -> Vec<String> { range.map(|n| json!({ "orderid": n }).to_string()).collect() };
    let first = records(0..20);
    produce(&broker.bootstrap, TOPIC, &first.iter().map(String::as_bytes).collect::<Vec<_>>()).await;
    rest.create("sink", sink_config(TOPIC, &out)).await;
    rest.wait_state("sink", "RUNNING", Some(1)).await;
    wait_for_records(&out, 20).await;

    rest.expect(Method::PUT, "/connectors/sink/stop", None, 204).await;
    rest.wait_state("sink", "STOPPED", Some(0)).await;
    append_torn_write(&out);
    rest.expect(Method::DELETE, "/connectors/sink/offsets", None, 200).await;
    let second = records(20..40);
    produce(&broker.bootstrap, TOPIC, &second.iter().map(String::as_bytes).collect::<Vec<_>>()).await;
    rest.expect(Method::PUT, "/connectors/sink/resume", None, 202).await;
    wait_for_records(&out, 40).await;
    wait_settled(&out).await;
    assert_exactly_once(&out, 40);

    worker.stop().await;
    broker.stop().await;
}
