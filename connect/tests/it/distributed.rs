//! Distributed mode: three workers in this process share one group on a real in-process broker, each with its
//! REST API on its own port. Connectors created on one worker are visible and running across all; when a worker
//! dies without a goodbye (its tasks abandoned, its group member gone silent), its tasks move to the others after
//! the session timeout, at-least-once sinks miss nothing, and exactly-once sources write each record once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::ClientConfig;
use serde_json::{json, Value as Json};
use sluice_connect::runtime::distributed::DistributedWorker;
use sluice_connect::runtime::herder::Herder;
use sluice_connect::runtime::standalone::loggers::LogLevels;
use sluice_connect::runtime::worker_config::WorkerConfig;
use tempfile::TempDir;

use crate::support::{wait_until, Rest, TestBroker, WAIT};

/// The workers' session timeout: how long a dead worker's tasks wait before moving.
const SESSION_TIMEOUT_MS: u64 = 3000;

/// One distributed worker with its REST API.
pub(crate) struct Node {
    pub(crate) id: String,
    pub(crate) rest: Rest,
    pub(crate) worker: Arc<DistributedWorker>,
    stop_server: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Node {
    async fn start(bootstrap: &str) -> Node {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the REST listener");
        let addr = listener.local_addr().expect("the REST listener's address");
        let settings = [
            ("bootstrap.servers", bootstrap.to_string()),
            ("listeners", format!("http://{addr}")),
            ("group.id", "connect-it".to_string()),
            ("offset.flush.interval.ms", "200".to_string()),
            ("offset.storage.partitions", "5".to_string()),
            ("session.timeout.ms", SESSION_TIMEOUT_MS.to_string()),
            ("heartbeat.interval.ms", "500".to_string()),
        ];
        let config = WorkerConfig::from_settings(
            settings.into_iter().map(|(k, v)| (k.to_string(), v, None)),
            "test distributed worker settings",
        )
        .expect("the test worker settings are valid");
        let worker = DistributedWorker::start(config, addr.to_string(), LogLevels::new(BTreeMap::new(), None))
            .await
            .expect("the distributed worker starts");
        let (stop_server, rx) = tokio::sync::oneshot::channel::<()>();
        let herder: Arc<dyn Herder> = worker.clone();
        let server = tokio::spawn(sluice_connect::rest::serve(listener, herder, async {
            let _ = rx.await;
        }));
        Node { id: addr.to_string(), rest: Rest::new(format!("http://{addr}")), worker, stop_server, server }
    }

    pub(crate) async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(60), self.worker.shutdown()).await.expect("worker stops within 60 s");
        let _ = self.stop_server.send(());
        let _ = self.server.await;
    }

    /// Dies as a crashed process would: tasks abandoned, nothing committed, the group not told.
    fn crash(self) {
        self.worker.kill();
        self.server.abort();
    }
}

pub(crate) async fn three_workers(bootstrap: &str) -> Vec<Node> {
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(Node::start(bootstrap).await);
    }
    nodes
}

/// Waits until every task of `name` (there are `tasks`) is RUNNING on a worker other than `not_on`; answers
/// the worker id of each task.
async fn wait_tasks_running(rest: &Rest, name: &str, tasks: usize, not_on: Option<&str>) -> Vec<String> {
    let what = format!("all {tasks} tasks of {name} are RUNNING (not on {not_on:?})");
    wait_until(WAIT, &what, || async {
        let (code, status) = rest.get(&format!("/connectors/{name}/status")).await;
        let list = status["tasks"].as_array().cloned().unwrap_or_default();
        let ok = code == 200
            && status["connector"]["state"] == "RUNNING"
            && list.len() == tasks
            && list.iter().all(|t| t["state"] == "RUNNING" && Some(t["worker_id"].as_str().unwrap_or("")) != not_on);
        if ok {
            Ok(list.iter().map(|t| t["worker_id"].as_str().unwrap_or_default().to_string()).collect())
        } else {
            Err(format!("{code} {status}"))
        }
    })
    .await
}

fn datagen(topic: &str, records: u64, extra: &[(&str, &str)]) -> Json {
    let mut config = json!({
        "connector.class": "datagen",
        "kafka.topic": topic,
        "quickstart": "orders",
        "max.interval": "5",
        "iterations": records.to_string(),
        "random.seed": "7",
        "tasks.max": "3",
    });
    for (k, v) in extra {
        config[*k] = json!(v);
    }
    config
}

/// The `orderid` (the sequence number) of each complete line of `path`, counted, and how many complete lines
/// are not records. A line still being written (no newline yet) is left for the next look. A crashed sink task
/// can leave a torn line (the part of its buffer that reached the file before it died, glued to the next
/// line); its records were never committed, so they are delivered again, whole.
fn sequence_counts(path: &std::path::Path) -> (BTreeMap<u64, u32>, Vec<String>) {
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

/// The worker running the most tasks of `name` (at least one, so its crash interrupts the connector).
fn busiest(nodes: &[Node], name: &str) -> usize {
    let count = |n: &Node| n.worker.running_tasks().iter().filter(|t| t.connector == name).count();
    let victim = (0..nodes.len()).max_by_key(|i| count(&nodes[*i])).expect("three workers");
    assert!(count(&nodes[victim]) > 0, "some worker runs a task of {name}");
    victim
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_spread_and_move_off_a_crashed_worker_without_gaps() {
    const RECORDS: u64 = 3000;
    let broker = TestBroker::start_fast().await;
    let mut nodes = three_workers(&broker.bootstrap).await;
    let dir = TempDir::new().expect("temp dir");
    let out = dir.path().join("orders.txt");

    // (1) Created on worker A, visible and running from worker C, spread over more than one worker.
    let (a, c) = (&nodes[0].rest, &nodes[2].rest);
    a.create(
        "sink",
        json!({"connector.class": "FileStreamSink", "topics": "orders", "tasks.max": "2",
        "file": out.display().to_string()}),
    )
    .await;
    a.create("gen", datagen("orders", RECORDS, &[])).await;
    // Workers join one after another; the cooperative rebalance spreads the slots once all are in.
    let all = wait_until(WAIT, "the five tasks run on more than one worker", || async {
        let gen_workers = wait_tasks_running(c, "gen", 3, None).await;
        let sink_workers = wait_tasks_running(c, "sink", 2, None).await;
        let all: BTreeSet<String> = gen_workers.into_iter().chain(sink_workers).collect();
        if all.len() > 1 {
            Ok(all)
        } else {
            Err(format!("all on {all:?}"))
        }
    })
    .await;
    eprintln!("tasks run on {all:?}");
    let listed = c.expect(reqwest::Method::GET, "/connectors", None, 200).await;
    assert_eq!(listed, json!(["gen", "sink"]));

    // (2) Crash the worker running the most datagen tasks while records flow; talk to a survivor after.
    wait_until(WAIT, "some records reach the file", || async {
        let n = sequence_counts(&out).0.len();
        if n >= 300 {
            Ok(())
        } else {
            Err(format!("{n} lines"))
        }
    })
    .await;
    let victim = busiest(&nodes, "gen");
    let dead = nodes.remove(victim);
    let dead_id = dead.id.clone();
    let lost = dead.worker.running_tasks();
    let crashed_at = Instant::now();
    dead.crash();
    eprintln!("crashed {dead_id}, which ran {lost:?}");
    let a = &nodes[0].rest;
    let moved = wait_tasks_running(a, "gen", 3, Some(&dead_id)).await;
    wait_tasks_running(a, "sink", 2, Some(&dead_id)).await;
    eprintln!("tasks moved off {dead_id} in {:?}: gen on {moved:?}", crashed_at.elapsed());

    let (counts, torn) =
        wait_until(WAIT * 2, &format!("the file holds every sequence number below {RECORDS}"), || async {
            let (counts, torn) = sequence_counts(&out);
            if counts.len() as u64 >= RECORDS {
                Ok((counts, torn))
            } else {
                let missing: Vec<u64> = (0..RECORDS).filter(|s| !counts.contains_key(s)).take(10).collect();
                Err(format!("{} distinct; first missing {missing:?}", counts.len()))
            }
        })
        .await;
    let keys: Vec<u64> = counts.keys().copied().collect();
    assert_eq!(keys, (0..RECORDS).collect::<Vec<_>>(), "exactly the sequence numbers 0..{RECORDS}, no others");
    let sink_tasks_lost = lost.iter().filter(|t| t.connector == "sink").count();
    assert!(
        torn.len() <= sink_tasks_lost,
        "only a crashed sink task tears a line ({sink_tasks_lost} crashed): {torn:?}"
    );
    let duplicates: u32 = counts.values().map(|c| c - 1).sum();
    eprintln!(
        "distributed datagen → file across a crash: {RECORDS} records, {duplicates} duplicates, {} torn lines",
        torn.len()
    );

    for node in nodes {
        node.stop().await;
    }
    broker.stop().await;
}

/// Reads every committed record of `topic` (all partitions) until `expected` distinct sequence numbers arrived
/// and nothing more came for a while; answers how often each sequence number was seen.
async fn read_committed_sequences(bootstrap: &str, topic: &str, expected: u64) -> BTreeMap<u64, u32> {
    let bootstrap = bootstrap.to_string();
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", format!("eos-reader-{}", uuid_like()))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .create()
            .expect("create a consumer");
        consumer.subscribe(&[&topic]).expect("subscribe");
        let deadline = Instant::now() + WAIT * 2;
        let mut counts: BTreeMap<u64, u32> = BTreeMap::new();
        let mut quiet_since = Instant::now();
        loop {
            let done = counts.len() as u64 >= expected && quiet_since.elapsed() > Duration::from_secs(3);
            if done {
                return counts;
            }
            assert!(
                Instant::now() < deadline,
                "timed out reading {expected} sequence numbers of {topic}; got {} distinct",
                counts.len()
            );
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                quiet_since = Instant::now();
                let seq = m
                    .headers()
                    .and_then(|hs| hs.iter().find(|h| h.key == "datagen.sequence").and_then(|h| h.value))
                    .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
                    .unwrap_or_else(|| panic!("a record of {topic} without a datagen.sequence header"));
                *counts.entry(seq).or_default() += 1;
            }
        }
    })
    .await
    .expect("reader thread")
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_exactly_once_source_writes_each_record_once_across_a_crash() {
    const RECORDS: u64 = 1500;
    let broker = TestBroker::start_fast().await;
    let mut nodes = three_workers(&broker.bootstrap).await;
    let a = &nodes[0].rest;
    a.create("eos-gen", datagen("eos-orders", RECORDS, &[("exactly.once.support", "required")])).await;
    wait_tasks_running(&nodes[1].rest, "eos-gen", 3, None).await;

    // Crash a worker running tasks once some transactions have committed.
    wait_until(WAIT, "the source has committed offsets", || async {
        let (code, offsets) = nodes[0].rest.get("/connectors/eos-gen/offsets").await;
        let n = offsets["offsets"].as_array().map_or(0, Vec::len);
        if code == 200 && n > 0 {
            Ok(())
        } else {
            Err(format!("{code} {offsets}"))
        }
    })
    .await;
    let victim = busiest(&nodes, "eos-gen");
    let dead = nodes.remove(victim);
    let dead_id = dead.id.clone();
    let lost = dead.worker.running_tasks();
    dead.crash();
    let moved = wait_tasks_running(&nodes[0].rest, "eos-gen", 3, Some(&dead_id)).await;
    eprintln!("crashed {dead_id}, which ran {lost:?}; eos-gen now on {moved:?}");

    let counts = read_committed_sequences(&broker.bootstrap, "eos-orders", RECORDS).await;
    let keys: Vec<u64> = counts.keys().copied().collect();
    assert_eq!(keys, (0..RECORDS).collect::<Vec<_>>(), "exactly the sequence numbers 0..{RECORDS}");
    let repeated: Vec<(&u64, &u32)> = counts.iter().filter(|(_, c)| **c > 1).take(10).collect();
    assert!(repeated.is_empty(), "a read_committed reader sees each record once; repeated: {repeated:?}");
    eprintln!("exactly-once across a crash: {RECORDS} records, each seen once");

    for node in nodes {
        node.stop().await;
    }
    broker.stop().await;
}

/// Waits until `name`'s connector state (from `rest`) is `state` with `tasks` tasks all in that state.
pub(crate) async fn wait_connector(rest: &Rest, name: &str, state: &str, tasks: usize) {
    wait_until(WAIT, &format!("{name} is {state} with {tasks} tasks {state}"), || async {
        let (code, status) = rest.get(&format!("/connectors/{name}/status")).await;
        let list = status["tasks"].as_array().cloned().unwrap_or_default();
        if code == 200
            && status["connector"]["state"] == state
            && list.len() == tasks
            && list.iter().all(|t| t["state"] == state)
        {
            Ok(())
        } else {
            Err(format!("{code} {status}"))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn any_worker_changes_a_connector_and_reads_its_own_writes() {
    let broker = TestBroker::start_fast().await;
    let nodes = three_workers(&broker.bootstrap).await;
    let (a, b, c) = (&nodes[0].rest, &nodes[1].rest, &nodes[2].rest);
    a.create(
        "slow",
        json!({"connector.class": "datagen", "kafka.topic": "slow", "quickstart": "orders",
        "max.interval": "50", "tasks.max": "2"}),
    )
    .await;
    wait_connector(c, "slow", "RUNNING", 2).await;

    // A write answers once the writing worker has read it back.
    let put = json!({"connector.class": "datagen", "kafka.topic": "slow", "quickstart": "orders",
        "max.interval": "40", "tasks.max": "2"});
    b.expect(reqwest::Method::PUT, "/connectors/slow/config", Some(put), 200).await;
    let config = b.expect(reqwest::Method::GET, "/connectors/slow/config", None, 200).await;
    assert_eq!(config["max.interval"], "40", "worker B reads its own write at once: {config}");

    b.expect(reqwest::Method::PUT, "/connectors/slow/pause", None, 202).await;
    wait_connector(c, "slow", "PAUSED", 2).await;
    c.expect(reqwest::Method::PUT, "/connectors/slow/resume", None, 202).await;
    wait_connector(a, "slow", "RUNNING", 2).await;
    a.expect(reqwest::Method::PUT, "/connectors/slow/stop", None, 204).await;
    wait_connector(b, "slow", "STOPPED", 0).await;
    let tasks = a.expect(reqwest::Method::GET, "/connectors/slow/tasks", None, 200).await;
    assert_eq!(tasks, json!([]), "a stopped connector has no task configs");

    b.expect(reqwest::Method::DELETE, "/connectors/slow", None, 204).await;
    b.expect(reqwest::Method::GET, "/connectors/slow", None, 404).await;
    wait_until(WAIT, "the deletion reaches worker A", || async {
        match a.get("/connectors/slow").await {
            (404, _) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    for node in nodes {
        node.stop().await;
    }
    broker.stop().await;
}
