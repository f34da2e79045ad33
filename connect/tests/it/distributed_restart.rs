//! Restarts in distributed mode, over plain HTTP against three in-process workers on a real in-process broker: a
//! task restart sent to a worker that does not run the task is forwarded to its owner, which restarts it; and
//! `POST /connectors/{name}/restart?includeTasks=true&onlyFailed=true` restarts the FAILED tasks and nothing
//! else, answering 202 with those instances as RESTARTING (KIP-745), or with the status as it is when nothing
//! failed, as the standalone worker does.
//!
//! What really restarted is read from the status topic: a task stopping writes UNASSIGNED and starting again
//! writes its new state, so the records written for a task after a mark say whether it was restarted.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use reqwest::Method;
use serde_json::{json, Value as Json};
use sluice_connect::runtime::herder::TaskId;
use tempfile::TempDir;

use crate::distributed::{three_workers, wait_connector, Node};
use crate::support::{wait_until, TestBroker, TestWorker, WAIT};

/// The workers' group (`group.id` of [`Node`]) and status topic (the default `status.storage.topic`).
const GROUP: &str = "connect-it";
const STATUS_TOPIC: &str = "connect-status";
/// Slots of the work topic the workers share (`WORK_PARTITIONS`).
const SLOTS: usize = 32;

/// How many partitions a consumer-protocol assignment (as DescribeGroups answers it) gives its member; `None`
/// when the bytes are not one.
fn assigned_partitions(assignment: &[u8]) -> Option<usize> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, tail) = (bytes.get(..n)?, bytes.get(n..)?);
        *bytes = tail;
        Some(head)
    }
    let int = |bytes: &mut &[u8]| take(bytes, 4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let mut bytes = assignment;
    take(&mut bytes, 2)?; // version
    let mut total = 0;
    for _ in 0..int(&mut bytes)?.max(0) {
        let name = take(&mut bytes, 2)?;
        take(&mut bytes, usize::from(u16::from_be_bytes([name[0], name[1]])))?;
        let partitions = usize::try_from(int(&mut bytes)?.max(0)).ok()?;
        take(&mut bytes, 4 * partitions)?;
        total += partitions;
    }
    Some(total)
}

/// Waits until the workers' group is stable with `members` members that share all the slots, each holding
/// some: the cooperative rebalances that follow the workers' joins are over, so nothing moves from here on
/// and whatever is restarted below is restarted by a request, not by a rebalance.
async fn wait_group_settled(bootstrap: &str, members: usize) {
    let client: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("create a client to describe groups");
    let client = std::sync::Arc::new(client);
    wait_until(WAIT, &format!("the group {GROUP} is stable with {members} members sharing {SLOTS} slots"), || {
        let client = client.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let groups = client.fetch_group_list(Some(GROUP), Duration::from_secs(5)).map_err(|e| e.to_string())?;
                let group = groups.groups().iter().find(|g| g.name() == GROUP).ok_or("the group is not listed")?;
                let shares: Vec<Option<usize>> =
                    group.members().iter().map(|m| m.assignment().and_then(assigned_partitions)).collect();
                let settled = group.state() == "Stable"
                    && shares.len() == members
                    && shares.iter().all(|s| s.is_some_and(|n| n > 0))
                    && shares.iter().flatten().sum::<usize>() == SLOTS;
                if settled {
                    Ok(())
                } else {
                    Err(format!("{} with slots per member {shares:?}", group.state()))
                }
            })
            .await
            .expect("group describer thread")
        }
    })
    .await;
}

/// One record of the status topic: the state it says (`None` for a tombstone) and the worker that wrote it.
#[derive(Debug, Clone, PartialEq)]
struct Written {
    state: Option<String>,
    worker_id: String,
}

/// Every record of the status topic written so far (up to each partition's end when called), by key, in the
/// order written: a key always lands in the same partition, so each key's records keep their order.
async fn status_history(bootstrap: &str) -> BTreeMap<String, Vec<Written>> {
    let bootstrap = bootstrap.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "status-history-reader")
            .set("enable.auto.commit", "false")
            .create()
            .expect("create a consumer");
        let timeout = Duration::from_secs(10);
        let metadata = consumer.fetch_metadata(Some(STATUS_TOPIC), timeout).expect("status topic metadata");
        let topic = metadata.topics().first().expect("the status topic is described");
        let mut ends = BTreeMap::new();
        let mut tpl = TopicPartitionList::new();
        for partition in topic.partitions().iter().map(|p| p.id()) {
            let (_, end) = consumer.fetch_watermarks(STATUS_TOPIC, partition, timeout).expect("status watermarks");
            if end > 0 {
                ends.insert(partition, end);
                tpl.add_partition_offset(STATUS_TOPIC, partition, Offset::Beginning).expect("assign a partition");
            }
        }
        consumer.assign(&tpl).expect("assign the status topic");
        let deadline = Instant::now() + WAIT;
        let mut history: BTreeMap<String, Vec<Written>> = BTreeMap::new();
        while !ends.is_empty() {
            assert!(Instant::now() < deadline, "timed out reading the status topic up to {ends:?}");
            let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) else { continue };
            let Some(&end) = ends.get(&m.partition()) else { continue };
            if m.offset() + 1 >= end {
                ends.remove(&m.partition());
            }
            let Some(key) = m.key().and_then(|k| std::str::from_utf8(k).ok()) else { continue };
            let value: Option<Json> = m.payload().map(|p| serde_json::from_slice(p).expect("status records are JSON"));
            let written = Written {
                state: value.as_ref().and_then(|v| v["state"].as_str()).map(str::to_string),
                worker_id: value.as_ref().and_then(|v| v["worker_id"].as_str()).unwrap_or_default().to_string(),
            };
            history.entry(key.to_string()).or_default().push(written);
        }
        history
    })
    .await
    .expect("status reader thread")
}

fn task_key(name: &str, task: usize) -> String {
    format!("status-task-{name}-{task}")
}

fn connector_key(name: &str) -> String {
    format!("status-connector-{name}")
}

/// The states written for `key` in `now` after the `mark` (an earlier [`status_history`]).
fn written_since(
    mark: &BTreeMap<String, Vec<Written>>,
    now: &BTreeMap<String, Vec<Written>>,
    key: &str,
) -> Vec<Written> {
    let seen = mark.get(key).map_or(0, Vec::len);
    now.get(key).map(|all| all[seen.min(all.len())..].to_vec()).unwrap_or_default()
}

fn states(written: &[Written]) -> Vec<&str> {
    written.iter().map(|w| w.state.as_deref().unwrap_or("(deleted)")).collect()
}

/// `(id, state)` of each task of a status answer.
fn task_states(status: &Json) -> Vec<(u64, String)> {
    status["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("a status with tasks: {status}"))
        .iter()
        .map(|t| (t["id"].as_u64().expect("a task id"), t["state"].as_str().expect("a task state").to_string()))
        .collect()
}

/// The worker id of task `task` of `name`, from its status.
async fn owner_of(node: &Node, name: &str, task: usize) -> String {
    let status = node.rest.expect(Method::GET, &format!("/connectors/{name}/tasks/{task}/status"), None, 200).await;
    status["worker_id"].as_str().unwrap_or_else(|| panic!("a worker id in {status}")).to_string()
}

/// Pauses `name` and waits until it and its `tasks` tasks are PAUSED. Every worker that runs a task of `name`
/// has then handled every config record written before the pause (restart requests included), so the status
/// topic holds whatever those requests made them write.
async fn pause_and_settle(nodes: &[Node], name: &str, tasks: usize) {
    nodes[1].rest.expect(Method::PUT, &format!("/connectors/{name}/pause"), None, 202).await;
    wait_connector(&nodes[2].rest, name, "PAUSED", tasks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_restart_sent_to_another_worker_restarts_the_task_on_its_owner() {
    let broker = TestBroker::start_fast().await;
    let nodes = three_workers(&broker.bootstrap).await;
    wait_group_settled(&broker.bootstrap, nodes.len()).await;
    let gen = json!({"connector.class": "datagen", "kafka.topic": "restarted", "quickstart": "orders",
        "max.interval": "50", "tasks.max": "3"});
    nodes[0].rest.create("gen", gen).await;
    wait_connector(&nodes[1].rest, "gen", "RUNNING", 3).await;

    let owner = owner_of(&nodes[0], "gen", 0).await;
    let id = TaskId { connector: "gen".into(), task: 0 };
    let owner_node = nodes.iter().find(|n| n.id == owner).unwrap_or_else(|| panic!("{owner} is one of the workers"));
    assert!(owner_node.worker.running_tasks().contains(&id), "gen-0 runs on {owner}, as its status says");
    let asked = nodes.iter().find(|n| n.id != owner).expect("another worker");
    assert!(!asked.worker.running_tasks().contains(&id), "{} does not run gen-0", asked.id);

    let mark = status_history(&broker.bootstrap).await;
    asked.rest.expect(Method::POST, "/connectors/gen/tasks/0/restart", None, 204).await;
    let key = task_key("gen", 0);
    let restart = wait_until(WAIT, &format!("{owner} writes gen-0 stopped then running again"), || async {
        let written = written_since(&mark, &status_history(&broker.bootstrap).await, &key);
        if states(&written).ends_with(&["UNASSIGNED", "RUNNING"]) {
            Ok(written)
        } else {
            Err(format!("{written:?}"))
        }
    })
    .await;
    assert_eq!(states(&restart), ["UNASSIGNED", "RUNNING"], "gen-0 was stopped and started once: {restart:?}");
    assert!(restart.iter().all(|w| w.worker_id == owner), "the owner {owner} restarted gen-0: {restart:?}");
    assert!(owner_node.worker.running_tasks().contains(&id), "gen-0 still runs on {owner}");
    assert!(!asked.worker.running_tasks().contains(&id), "the worker asked did not take gen-0 over");
    wait_connector(&asked.rest, "gen", "RUNNING", 3).await;

    for node in nodes {
        node.stop().await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarting_only_failed_tasks_restarts_them_and_nothing_else() {
    let broker = TestBroker::start_fast().await;
    let nodes = three_workers(&broker.bootstrap).await;
    wait_group_settled(&broker.bootstrap, nodes.len()).await;
    let (a, c) = (&nodes[0].rest, &nodes[2].rest);

    // Both tasks fail to start: the sink's file is in a directory that does not exist yet.
    let dir = TempDir::new().expect("temp dir");
    let later = dir.path().join("later");
    let file = later.join("out.txt");
    let sink = json!({"connector.class": "FileStreamSink", "topics": "restart-in", "tasks.max": "2",
        "file": file.display().to_string()});
    a.create("sink", sink).await;
    for task in 0..2 {
        let failed = a.wait_task_failed("sink", task).await;
        assert!(failed["trace"].as_str().is_some_and(|t| t.contains("cannot open")), "why it failed: {failed}");
    }
    std::fs::create_dir_all(&later).expect("create the sink's directory");

    // Task 1 alone is restarted (through a worker that does not run it): task 0 stays FAILED, task 1 RUNNING.
    let owner = owner_of(&nodes[0], "sink", 1).await;
    let asked = nodes.iter().find(|n| n.id != owner).expect("another worker");
    asked.rest.expect(Method::POST, "/connectors/sink/tasks/1/restart", None, 204).await;
    wait_until(WAIT, "sink-1 is RUNNING and sink-0 still FAILED", || async {
        let (code, status) = c.get("/connectors/sink/status").await;
        let tasks = task_states(&status);
        if code == 200 && tasks == [(0, "FAILED".to_string()), (1, "RUNNING".to_string())] {
            Ok(())
        } else {
            Err(format!("{code} {status}"))
        }
    })
    .await;

    // Only the failed task is restarted, and the answer says so.
    let mark = status_history(&broker.bootstrap).await;
    let answer = c.expect(Method::POST, "/connectors/sink/restart?includeTasks=true&onlyFailed=true", None, 202).await;
    assert_eq!(answer["connector"]["state"], "RUNNING", "the running connector is not restarted: {answer}");
    let planned = task_states(&answer);
    assert_eq!(planned, [(0, "RESTARTING".to_string()), (1, "RUNNING".to_string())], "{answer}");
    assert!(answer["tasks"][0].get("trace").is_none_or(Json::is_null), "a restarting task has no trace: {answer}");
    wait_connector(a, "sink", "RUNNING", 2).await;
    pause_and_settle(&nodes, "sink", 2).await;
    let now = status_history(&broker.bootstrap).await;
    let failed = written_since(&mark, &now, &task_key("sink", 0));
    assert!(states(&failed).starts_with(&["UNASSIGNED", "RUNNING"]), "sink-0 was restarted: {failed:?}");
    let running = written_since(&mark, &now, &task_key("sink", 1));
    assert_eq!(states(&running), ["PAUSED"], "sink-1, RUNNING, was not restarted (only paused): {running:?}");
    let connector = written_since(&mark, &now, &connector_key("sink"));
    assert_eq!(states(&connector), ["PAUSED"], "the connector was not restarted (only paused): {connector:?}");

    // Nothing failed: 202 with the status as it is, and nothing restarts.
    nodes[0].rest.expect(Method::PUT, "/connectors/sink/resume", None, 202).await;
    let status = c.wait_state("sink", "RUNNING", Some(2)).await;
    let mark = status_history(&broker.bootstrap).await;
    for query in ["includeTasks=true&onlyFailed=true", "onlyFailed=true"] {
        let answer = c.expect(Method::POST, &format!("/connectors/sink/restart?{query}"), None, 202).await;
        assert_eq!(answer, status, "?{query} with nothing failed answers the status as it is");
    }
    pause_and_settle(&nodes, "sink", 2).await;
    let now = status_history(&broker.bootstrap).await;
    for key in [connector_key("sink"), task_key("sink", 0), task_key("sink", 1)] {
        let written = written_since(&mark, &now, &key);
        assert_eq!(states(&written), ["PAUSED"], "{key} was not restarted (only paused): {written:?}");
    }

    for node in nodes {
        node.stop().await;
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn standalone_restart_of_only_failed_with_nothing_failed_answers_the_status() {
    let broker = TestBroker::start().await;
    let worker = TestWorker::start(&broker.bootstrap).await;
    let sink = json!({"connector.class": "FileStreamSink", "topics": "quiet", "tasks.max": "2",
        "file": worker.path("out.txt").display().to_string()});
    worker.rest.create("sink", sink).await;
    let status = worker.rest.wait_state("sink", "RUNNING", Some(2)).await;
    for query in ["includeTasks=true&onlyFailed=true", "onlyFailed=true"] {
        let answer = worker.rest.expect(Method::POST, &format!("/connectors/sink/restart?{query}"), None, 202).await;
        assert_eq!(answer, status, "?{query} with nothing failed answers the status as it is");
    }
    worker.rest.expect(Method::POST, "/connectors/sink/restart", None, 204).await;
    worker.stop().await;
    broker.stop().await;
}
