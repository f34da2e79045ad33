//! Herder behaviour of a standalone worker, driven through the [`Herder`] trait against a real in-process
//! Sluice broker: validation and refusals, target states, KIP-745 restarts, offsets while stopped, the
//! connector file, and connector files given at start. (The REST API over HTTP is tested in `tests/it`.)

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sluice_broker::{Broker, BrokerConfig, BrokerHandle};
use tempfile::TempDir;

use super::loggers::LogLevels;
use super::StandaloneWorker;
use crate::connector::Config;
use crate::runtime::herder::{ConnectorOffsets, Herder, PartitionOffset, State, TargetState};
use crate::runtime::worker_config::WorkerConfig;

const WAIT: Duration = Duration::from_secs(60);

struct Setup {
    broker: Option<BrokerHandle>,
    bootstrap: String,
    dir: TempDir,
}

impl Setup {
    async fn new() -> Setup {
        let dir = TempDir::new().expect("tempdir");
        let config = BrokerConfig {
            listen: "127.0.0.1:0".to_string(),
            data_dir: dir.path().join("broker"),
            ..BrokerConfig::default()
        };
        let broker = Broker::start(config).await.expect("the broker starts");
        let bootstrap = broker.local_addr().to_string();
        Setup { broker: Some(broker), bootstrap, dir }
    }

    fn config(&self, extra: &[(&str, &str)]) -> WorkerConfig {
        let offsets = self.dir.path().join("connect.offsets").display().to_string();
        let mut settings = vec![
            ("bootstrap.servers".to_string(), self.bootstrap.clone()),
            ("offset.storage.file.filename".to_string(), offsets),
            ("offset.flush.interval.ms".to_string(), "200".to_string()),
        ];
        settings.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        WorkerConfig::from_settings(settings.into_iter().map(|(k, v)| (k, v, None)), "test").expect("valid settings")
    }

    async fn worker(&self, extra: &[(&str, &str)]) -> Arc<StandaloneWorker> {
        StandaloneWorker::start(self.config(extra), "127.0.0.1:8083".into(), LogLevels::default())
            .await
            .expect("the worker starts")
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    async fn stop(mut self) {
        if let Some(broker) = self.broker.take() {
            broker.shutdown().await.expect("the broker stops");
        }
    }
}

fn config(pairs: &[(&str, &str)]) -> Config {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn source(setup: &Setup) -> Config {
    config(&[("connector.class", "FileStreamSource"), ("file", &setup.path("in.txt")), ("topic", "lines")])
}

fn sink(setup: &Setup) -> Config {
    config(&[("connector.class", "FileStreamSink"), ("file", &setup.path("out.txt")), ("topics", "lines")])
}

async fn create_topic(bootstrap: &str, topic: &str) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> =
        rdkafka::ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("an admin client");
    let results = admin
        .create_topics(&[NewTopic::new(topic, 1, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await
        .expect("create topics");
    for result in results {
        match result {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => panic!("cannot create topic {name}: {code}"),
        }
    }
}

async fn wait_until<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        match probe().await {
            Ok(()) => return,
            Err(seen) if Instant::now() >= deadline => panic!("timed out waiting until {what}; last seen: {seen}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Waits until the connector and all of its `tasks` tasks are in `state`.
async fn wait_state(worker: &StandaloneWorker, name: &str, state: State, tasks: usize) {
    wait_until(&format!("{name} is {state:?} with {tasks} tasks"), || async {
        let status = worker.connector_status(name).await.map_err(|e| e.to_string())?;
        let ok = status.connector.state == state
            && status.tasks.len() == tasks
            && status.tasks.iter().all(|t| t.state.state == state);
        if ok {
            Ok(())
        } else {
            Err(format!("{status:?}"))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configs_are_refused_with_kafkas_answers() {
    let setup = Setup::new().await;
    let worker = setup.worker(&[]).await;

    let err = worker.put_connector_config("a", config(&[("topics", "t")]), None, true).await.expect_err("no class");
    assert_eq!(err.error_code, 400);
    assert!(err.message.contains("contains no connector type"), "{}", err.message);

    let err = worker
        .put_connector_config("a", config(&[("connector.class", "NoSuchConnector")]), None, true)
        .await
        .expect_err("unknown class");
    assert_eq!(err.error_code, 400);
    assert!(
        err.message.contains("NoSuchConnector") && err.message.contains("FileStreamSinkConnector"),
        "{}",
        err.message
    );

    let mut bad = sink(&setup);
    bad.insert("tasks.max".into(), "0".into());
    bad.remove("topics");
    let err = worker.put_connector_config("a", bad.clone(), None, true).await.expect_err("two errors");
    assert_eq!(err.error_code, 400);
    assert!(
        err.message.starts_with("Connector configuration is invalid and contains the following 3 error(s):"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("Value must be at least 1") && err.message.contains("topics.regex"),
        "{}",
        err.message
    );

    bad.insert("name".into(), "a".into());
    let infos = worker.validate("FileStreamSink", &bad).expect("a known plugin");
    assert_eq!(infos.name, "org.apache.kafka.connect.file.FileStreamSinkConnector");
    assert_eq!(infos.error_count, 3);
    let errors_of = |name: &str| {
        infos.configs.iter().find(|c| c.definition.name == name).map(|c| c.value.errors.len()).unwrap_or_default()
    };
    assert_eq!((errors_of("tasks.max"), errors_of("topics"), errors_of("topics.regex")), (1, 1, 1));
    assert_eq!(worker.validate("NoSuchConnector", &bad).expect_err("unknown").error_code, 404);

    let mut named = sink(&setup);
    named.insert("name".into(), "other".into());
    let err = worker.put_connector_config("a", named, None, true).await.expect_err("name mismatch");
    assert!(err.message.contains("doesn't match connector name in the URL"), "{}", err.message);

    assert!(worker.connectors().await.is_empty(), "nothing was created");
    for missing in [
        worker.connector_status("a").await.map(|_| ()),
        worker.delete_connector("a").await,
        worker.set_target_state("a", TargetState::Paused).await,
        worker.restart_task("a", 0).await,
    ] {
        let err = missing.expect_err("unknown connector");
        assert_eq!((err.error_code, err.message.as_str()), (404, "Connector a not found"));
    }
    worker.shutdown().await;
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_goes_through_its_target_states() {
    let setup = Setup::new().await;
    std::fs::write(setup.path("in.txt"), "one\ntwo\n").expect("write the source file");
    let worker = setup.worker(&[]).await;

    let created = worker.put_connector_config("src", source(&setup), None, true).await.expect("created");
    assert!(created.created);
    assert_eq!(created.info.config["name"], "src", "the name is part of the stored config");
    assert_eq!(created.info.tasks.len(), 1);
    let err = worker.put_connector_config("src", source(&setup), None, true).await.expect_err("exists");
    assert_eq!((err.error_code, err.message.as_str()), (409, "Connector src already exists"));
    wait_state(&worker, "src", State::Running, 1).await;
    assert_eq!(worker.connector_status("src").await.expect("status").connector.worker_id, "127.0.0.1:8083");

    worker.set_target_state("src", TargetState::Paused).await.expect("pause");
    wait_state(&worker, "src", State::Paused, 1).await;
    worker.set_target_state("src", TargetState::Started).await.expect("resume");
    wait_state(&worker, "src", State::Running, 1).await;
    worker.set_target_state("src", TargetState::Stopped).await.expect("stop");
    wait_state(&worker, "src", State::Stopped, 0).await;
    assert!(worker.connector_info("src").await.expect("info").tasks.is_empty(), "a stopped connector has no tasks");
    assert!(worker.task_infos("src").await.expect("tasks").is_empty());
    worker.set_target_state("src", TargetState::Started).await.expect("start again");
    wait_state(&worker, "src", State::Running, 1).await;

    // An update keeps the target state and restarts the tasks with the new config.
    let mut updated = source(&setup);
    updated.insert("batch.size".into(), "10".into());
    let upserted = worker.put_connector_config("src", updated, Some(TargetState::Paused), false).await.expect("update");
    assert!(!upserted.created);
    assert_eq!(upserted.info.config.get("batch.size").map(String::as_str), Some("10"));
    wait_state(&worker, "src", State::Running, 1).await;

    worker.delete_connector("src").await.expect("delete");
    assert!(worker.connectors().await.is_empty());
    assert_eq!(worker.connector_status("src").await.expect_err("gone").error_code, 404);
    worker.shutdown().await;
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_states_and_restarts_follow_kip_745() {
    let setup = Setup::new().await;
    std::fs::write(setup.path("in.txt"), "one\n").expect("write the source file");
    let worker = setup.worker(&[]).await;

    worker.put_connector_config("paused", source(&setup), Some(TargetState::Paused), true).await.expect("created");
    wait_state(&worker, "paused", State::Paused, 1).await;
    worker.put_connector_config("stopped", sink(&setup), Some(TargetState::Stopped), true).await.expect("created");
    wait_state(&worker, "stopped", State::Stopped, 0).await;

    let plain = worker.restart_connector("paused", false, false).await.expect("restart");
    assert!(plain.is_none(), "a plain restart answers nothing (204)");
    wait_state(&worker, "paused", State::Paused, 1).await;

    let plan = worker.restart_connector("paused", true, true).await.expect("restart").expect("a plan");
    assert_eq!(plan.connector.state, State::Paused, "only failed instances restart, and none failed");
    assert!(plan.tasks.iter().all(|t| t.state.state == State::Paused), "{plan:?}");

    let plan = worker.restart_connector("paused", true, false).await.expect("restart").expect("a plan");
    assert_eq!(plan.connector.state, State::Restarting);
    assert_eq!(plan.tasks.iter().map(|t| t.state.state).collect::<Vec<_>>(), vec![State::Restarting]);
    wait_state(&worker, "paused", State::Paused, 1).await;

    worker.restart_task("paused", 0).await.expect("restart task");
    wait_state(&worker, "paused", State::Paused, 1).await;
    let err = worker.restart_task("paused", 3).await.expect_err("no task 3");
    assert_eq!((err.error_code, err.message.as_str()), (404, "Task paused-3 not found"));
    let err = worker.task_status("paused", 3).await.expect_err("no task 3");
    assert_eq!(err.error_code, 404);
    worker.shutdown().await;
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_change_only_while_stopped() {
    let setup = Setup::new().await;
    std::fs::write(setup.path("in.txt"), "").expect("write the source file");
    let worker = setup.worker(&[]).await;
    worker.put_connector_config("src", source(&setup), None, true).await.expect("created");
    worker.put_connector_config("snk", sink(&setup), None, true).await.expect("created");
    wait_state(&worker, "snk", State::Running, 1).await;
    assert_eq!(worker.connector_topics("snk").await.expect("topics"), vec!["lines"]);

    let partition = json!({"filename": setup.path("in.txt")}).as_object().cloned().expect("object");
    let offset = json!({"position": 42}).as_object().cloned().expect("object");
    let source_offsets = ConnectorOffsets {
        offsets: vec![PartitionOffset { partition: partition.clone(), offset: Some(offset.clone()) }],
    };
    let err = worker.alter_offsets("src", source_offsets.clone(), false).await.expect_err("running");
    assert_eq!(err.error_code, 400);
    assert!(err.message.starts_with("Connectors must be in the STOPPED state"), "{}", err.message);
    assert!(err.message.contains("'/connectors/src/stop'"), "{}", err.message);

    worker.set_target_state("src", TargetState::Stopped).await.expect("stop");
    let message = worker.alter_offsets("src", source_offsets, false).await.expect("altered");
    assert!(message.contains("altered successfully"), "{message}");
    let offsets = worker.offsets("src").await.expect("offsets");
    assert_eq!(offsets.offsets, vec![PartitionOffset { partition, offset: Some(offset) }]);
    let message = worker.alter_offsets("src", ConnectorOffsets::default(), true).await.expect("reset");
    assert!(message.contains("reset successfully"), "{message}");
    assert!(worker.offsets("src").await.expect("offsets").offsets.is_empty());

    // A sink's offsets are its consumer group's committed offsets, of partitions that exist.
    create_topic(&setup.bootstrap, "lines").await;
    worker.set_target_state("snk", TargetState::Stopped).await.expect("stop");
    let sink_partition = json!({"kafka_topic": "lines", "kafka_partition": 0}).as_object().cloned().expect("object");
    let sink_offset = json!({"kafka_offset": 3}).as_object().cloned().expect("object");
    let sink_offsets = ConnectorOffsets {
        offsets: vec![PartitionOffset { partition: sink_partition.clone(), offset: Some(sink_offset.clone()) }],
    };
    worker.alter_offsets("snk", sink_offsets, false).await.expect("altered");
    let read = worker.offsets("snk").await.expect("offsets");
    assert_eq!(read.offsets, vec![PartitionOffset { partition: sink_partition, offset: Some(sink_offset) }]);
    worker.alter_offsets("snk", ConnectorOffsets::default(), true).await.expect("reset");
    assert!(worker.offsets("snk").await.expect("offsets").offsets.is_empty());
    worker.shutdown().await;
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_file_brings_connectors_back_after_a_restart() {
    let setup = Setup::new().await;
    std::fs::write(setup.path("in.txt"), "").expect("write the source file");
    let file = setup.path("connectors.json");
    let extra = [("config.storage.file.filename", file.as_str())];
    let worker = setup.worker(&extra).await;
    worker.put_connector_config("src", source(&setup), None, true).await.expect("created");
    worker.put_connector_config("snk", sink(&setup), Some(TargetState::Paused), true).await.expect("created");
    worker.set_target_state("src", TargetState::Stopped).await.expect("stop");
    worker.shutdown().await;
    drop(worker);

    let worker = setup.worker(&extra).await;
    assert_eq!(worker.connectors().await, vec!["snk", "src"]);
    wait_state(&worker, "src", State::Stopped, 0).await;
    wait_state(&worker, "snk", State::Paused, 1).await;
    assert_eq!(worker.connector_config("snk").await.expect("config"), {
        let mut c = sink(&setup);
        c.insert("name".into(), "snk".into());
        c
    });
    worker.delete_connector("snk").await.expect("delete");
    worker.shutdown().await;
    drop(worker);

    let worker = setup.worker(&extra).await;
    assert_eq!(worker.connectors().await, vec!["src"], "deletion was saved too");
    worker.shutdown().await;

    // Without the setting, nothing is remembered.
    let worker = setup.worker(&[]).await;
    assert!(worker.connectors().await.is_empty());
    worker.shutdown().await;
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_come_from_properties_and_json_files() {
    let setup = Setup::new().await;
    std::fs::write(setup.path("in.txt"), "").expect("write the source file");
    let worker = setup.worker(&[]).await;
    let props = setup.dir.path().join("sink.properties");
    std::fs::write(
        &props,
        format!(
            "# a sink\nname = from-props\nconnector.class=FileStreamSink\ntopics=lines\nfile={}\n",
            setup.path("o")
        ),
    )
    .expect("write");
    let info = worker.create_from_file(&props).await.expect("created from properties");
    assert_eq!(info.name, "from-props");

    let json_file = setup.dir.path().join("source.json");
    let body = json!({"name": "from-json", "config": {"connector.class": "FileStreamSource", "file": setup.path("in.txt"),
        "topic": "lines", "tasks.max": 1}, "initial_state": "STOPPED"});
    std::fs::write(&json_file, body.to_string()).expect("write");
    let info = worker.create_from_file(&json_file).await.expect("created from JSON");
    assert_eq!((info.name.as_str(), info.config["tasks.max"].as_str()), ("from-json", "1"));
    wait_state(&worker, "from-json", State::Stopped, 0).await;

    let flat = setup.dir.path().join("flat.json");
    std::fs::write(
        &flat,
        json!({"name": "flat", "connector.class": "FileStreamSink", "topics": "x", "file": setup.path("f")})
            .to_string(),
    )
    .expect("write");
    worker.create_from_file(&flat).await.expect("created from a flat JSON config");

    let nameless = setup.dir.path().join("nameless.properties");
    std::fs::write(&nameless, "connector.class=FileStreamSink\n").expect("write");
    let err = worker.create_from_file(&nameless).await.expect_err("no name").to_string();
    assert!(err.contains("nameless.properties") && err.contains("name"), "{err}");
    let bad = setup.dir.path().join("bad.properties");
    std::fs::write(&bad, "name=bad\nconnector.class=FileStreamSink\n").expect("write");
    let err = worker.create_from_file(&bad).await.expect_err("no topics").to_string();
    assert!(err.contains("bad.properties") && err.contains("topics"), "{err}");
    worker.shutdown().await;
    setup.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_loggers_and_cluster_id() {
    let setup = Setup::new().await;
    let worker = setup.worker(&[]).await;
    assert!(worker.kafka_cluster_id().is_some_and(|id| !id.is_empty()));
    let plugins = worker.plugins();
    assert!(plugins.iter().any(|p| p.class_name == "org.apache.kafka.connect.file.FileStreamSinkConnector"));
    assert!(plugins.windows(2).all(|w| w[0].class_name <= w[1].class_name), "sorted by class");
    assert_eq!(worker.loggers(), BTreeMap::from([("root".to_string(), "INFO".to_string())]));
    assert_eq!(worker.set_logger("sluice_connect", "debug").expect("set"), vec!["sluice_connect"]);
    assert_eq!(worker.loggers()["sluice_connect"], "DEBUG");
    worker.shutdown().await;
    setup.stop().await;
}

#[tokio::test]
async fn a_worker_without_an_offsets_file_does_not_start() {
    let settings = [("bootstrap.servers", "127.0.0.1:9")];
    let config =
        WorkerConfig::from_settings(settings.iter().map(|(k, v)| (k.to_string(), v.to_string(), None)), "test")
            .expect("valid");
    let err = StandaloneWorker::start(config, "w".into(), LogLevels::default()).await.expect_err("no offsets file");
    assert!(err.to_string().contains("offset.storage.file.filename"), "{err}");
}
