//! Progress of bounded work: a datagen task with `iterations` reports how many of its records it has made, up to
//! its whole share, on the worker's progress board; the board forgets the task when it stops; a worker's
//! `/metrics` shows each task's done and total.

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_connect::connector::{Config, Connector, Plugin};
use sluice_connect::connectors::datagen::{DatagenConnector, DatagenPlugin};
use sluice_connect::runtime::herder::{State, TaskId};
use sluice_connect::runtime::offsets::FileOffsetStore;
use sluice_connect::runtime::progress::ProgressBoard;
use sluice_connect::runtime::task::{start_source_task, OffsetStore, StatusListener, TaskSpec, WorkerContext};

use crate::support::{read_topic, wait_until, Rest, TestBroker, WAIT};

const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";

/// Status changes are not what these tests look at.
struct IgnoreStatus;

impl StatusListener for IgnoreStatus {
    fn task_state(&self, _: &TaskId, _: State, _: Option<String>) {}
}

fn datagen_config(topic: &str, iterations: u64, tasks: usize) -> Config {
    [
        ("connector.class", "datagen".to_string()),
        ("kafka.topic", topic.to_string()),
        ("quickstart", "orders".to_string()),
        ("max.interval", "0".to_string()),
        ("iterations", iterations.to_string()),
        ("random.seed", "3".to_string()),
        ("tasks.max", tasks.to_string()),
        ("key.converter", JSON_CONVERTER.to_string()),
        ("value.converter", JSON_CONVERTER.to_string()),
        ("offset.flush.interval.ms", "100".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_datagen_task_with_iterations_reports_its_whole_share_done_on_the_board() {
    let broker = TestBroker::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let offsets: Arc<dyn OffsetStore> = Arc::new(FileOffsetStore::open(dir.path().join("offsets.json")).expect("open"));
    let board = Arc::new(ProgressBoard::default());
    let ctx = Arc::new(WorkerContext {
        worker_id: "127.0.0.1:0".to_string(),
        bootstrap_servers: broker.bootstrap.clone(),
        client_config: BTreeMap::new(),
        offsets,
        status: Arc::new(IgnoreStatus),
        progress: board.clone(),
    });
    let config = datagen_config("generated", 1_001, 2);
    let task_configs = DatagenConnector.task_configs(&config, 2).expect("task configs");
    let mut handles = Vec::new();
    for (task, task_config) in task_configs.into_iter().enumerate() {
        let spec =
            TaskSpec { id: TaskId { connector: "gen".into(), task }, connector_config: config.clone(), task_config };
        let source = DatagenPlugin.source_task().expect("datagen has a source task");
        handles.push(start_source_task(ctx.clone(), spec, source));
    }

    let finished = wait_until(WAIT, "both datagen tasks report their whole share done", || async {
        let snapshot = board.snapshot();
        if snapshot.len() == 2 && snapshot.iter().all(|(_, p)| p.finished()) {
            Ok(snapshot)
        } else {
            Err(format!("{snapshot:?}"))
        }
    })
    .await;
    let shares: Vec<_> = finished.iter().map(|(id, p)| (id.task, p.done, p.total, p.unit.as_str())).collect();
    assert_eq!(shares, vec![(0, 501, Some(501), "records"), (1, 500, Some(500), "records")]);
    assert!(finished.iter().all(|(_, p)| p.what == "generating orders into generated"), "{finished:?}");
    assert_eq!(read_topic(&broker.bootstrap, "generated", 1_001).await.len(), 1_001);

    for handle in handles {
        handle.stop().await;
    }
    assert!(board.snapshot().is_empty(), "stopped tasks leave the board: {:?}", board.snapshot());
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_metrics_endpoint_shows_each_tasks_progress() {
    let broker = TestBroker::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (base, stop) = crate::worker::start(&broker.bootstrap, dir.path()).await;
    let rest = Rest::new(base.clone());
    let config: serde_json::Map<_, _> =
        datagen_config("metered", 1_000, 2).into_iter().map(|(k, v)| (k, serde_json::Value::from(v))).collect();
    rest.create("gen", serde_json::Value::Object(config)).await;

    let http = reqwest::Client::new();
    let expected = [
        r#"connect_task_progress_done{connector="gen",task="0",unit="records"} 500"#,
        r#"connect_task_progress_done{connector="gen",task="1",unit="records"} 500"#,
        r#"connect_task_progress_total{connector="gen",task="0",unit="records"} 500"#,
        r#"connect_task_progress_total{connector="gen",task="1",unit="records"} 500"#,
    ];
    wait_until(WAIT, "/metrics shows both tasks done", || async {
        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        match expected.iter().find(|line| !text.lines().any(|l| l == **line)) {
            None => Ok(()),
            Some(missing) => Err(format!("missing {missing:?} in\n{text}")),
        }
    })
    .await;

    rest.expect(reqwest::Method::DELETE, "/connectors/gen", None, 204).await;
    let text = http.get(format!("{base}/metrics")).send().await.expect("GET /metrics").text().await.expect("body");
    assert!(!text.contains("connect_task_progress_done{"), "a deleted connector's tasks left the board:\n{text}");
    stop().await;
    broker.stop().await;
}
