//! Acceptance 1: a connector's whole life over the REST API: create a datagen source and a file sink, watch
//! them run, pause, resume, restart with tasks, stop, read and alter offsets (refused while running), delete;
//! and validation answering per-field errors.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::support::{wait_until, TestBroker, TestWorker};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connector_lives_through_the_rest_api() {
    let broker = TestBroker::start().await;
    let worker = TestWorker::start(&broker.bootstrap).await;
    let rest = &worker.rest;
    let out = worker.path("orders.txt");

    let created = rest
        .create(
            "gen",
            json!({
                "connector.class": "io.sluice.connect.datagen.DatagenConnector",
                "kafka.topic": "orders",
                "quickstart": "orders",
                "max.interval": "20",
                "tasks.max": "1",
            }),
        )
        .await;
    assert_eq!(created["name"], "gen");
    assert_eq!(created["type"], "source");
    rest.create(
        "sink",
        json!({"connector.class": "FileStreamSink", "topics": "orders", "file": out.display().to_string()}),
    )
    .await;

    let (code, list) = rest.get("/connectors").await;
    assert_eq!(code, 200);
    let mut names: Vec<String> = serde_json::from_value(list).expect("a list of names");
    names.sort();
    assert_eq!(names, ["gen", "sink"]);

    rest.wait_state("gen", "RUNNING", Some(1)).await;
    rest.wait_state("sink", "RUNNING", Some(1)).await;

    // Both connectors report the topic they used once records flowed (the source after a delivery).
    for name in ["gen", "sink"] {
        let path = format!("/connectors/{name}/topics");
        wait_until(Duration::from_secs(30), &format!("{name} reports the topic orders"), || async {
            let (code, body) = rest.get(&path).await;
            (code == 200 && body[name]["topics"] == json!(["orders"])).then_some(()).ok_or(format!("{code} {body}"))
        })
        .await;
    }

    rest.expect(Method::PUT, "/connectors/gen/pause", None, 202).await;
    rest.wait_state("gen", "PAUSED", Some(1)).await;
    rest.expect(Method::PUT, "/connectors/gen/resume", None, 202).await;
    rest.wait_state("gen", "RUNNING", Some(1)).await;

    let restarted = rest.expect(Method::POST, "/connectors/gen/restart?includeTasks=true", None, 202).await;
    assert_eq!(restarted["name"], "gen", "restart answers the instances restarted: {restarted}");
    rest.wait_state("gen", "RUNNING", Some(1)).await;

    // Offsets may be read while running; altering them is refused until the connector is stopped.
    rest.expect(Method::GET, "/connectors/gen/offsets", None, 200).await;
    let alter = json!({"offsets": [{"partition": {"task": 0}, "offset": {"position": 5}}]});
    rest.expect(Method::PATCH, "/connectors/gen/offsets", Some(alter.clone()), 400).await;

    // Kafka answers a stop with 204 (a pause or resume with 202).
    rest.expect(Method::PUT, "/connectors/gen/stop", None, 204).await;
    let stopped = rest.wait_state("gen", "STOPPED", None).await;
    assert_eq!(stopped["tasks"], json!([]), "a stopped connector has no tasks: {stopped}");

    let offsets = rest.expect(Method::GET, "/connectors/gen/offsets", None, 200).await;
    let entries = offsets["offsets"].as_array().expect("an offsets list");
    let task0 = entries
        .iter()
        .find(|e| e["partition"] == json!({"task": 0}))
        .unwrap_or_else(|| panic!("the stopped datagen connector has committed an offset for task 0: {offsets}"));
    assert!(task0["offset"]["position"].as_u64().is_some_and(|p| p > 0), "{offsets}");

    let answer = rest.expect(Method::PATCH, "/connectors/gen/offsets", Some(alter), 200).await;
    assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    let offsets = rest.expect(Method::GET, "/connectors/gen/offsets", None, 200).await;
    assert_eq!(
        offsets["offsets"],
        json!([{"partition": {"task": 0}, "offset": {"position": 5}}]),
        "the altered offset is what GET shows"
    );

    rest.expect(Method::DELETE, "/connectors/gen", None, 204).await;
    rest.expect(Method::GET, "/connectors/gen", None, 404).await;
    rest.expect(Method::GET, "/connectors/gen/status", None, 404).await;

    // Validation: 200 with per-field errors, not a refusal. `quickstart` fails the connector's own check,
    // `max.interval` (a LONG) and `kafka.topic` (required) its config definition.
    let bad = json!({
        "connector.class": "io.sluice.connect.datagen.DatagenConnector",
        "name": "bad",
        "quickstart": "nope",
        "max.interval": "soon",
    });
    let infos = rest.expect(Method::PUT, "/connector-plugins/DatagenConnector/config/validate", Some(bad), 200).await;
    assert!(infos["error_count"].as_u64().is_some_and(|n| n > 0), "{infos}");
    for field in ["quickstart", "max.interval", "kafka.topic"] {
        let config = infos["configs"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["value"]["name"] == field))
            .unwrap_or_else(|| panic!("validation lists {field}: {infos}"));
        let errors = config["value"]["errors"].as_array().expect("an errors list");
        assert!(!errors.is_empty(), "{field} has errors: {config}");
    }

    worker.stop().await;
    broker.stop().await;
}
