//! Acceptance 3: a record whose bytes are not JSON goes to the dead-letter queue with the `__connect.errors.*`
//! headers while later records still reach the file; with `errors.tolerance=none` the task fails instead and
//! its trace names the conversion error.

use serde_json::json;

use crate::support::{lines, produce, read_topic, wait_until, TestBroker, TestWorker, WAIT};

const POISON: &[u8] = b"this is {not json";

fn sink_config(topic: &str, file: &std::path::Path) -> serde_json::Value {
    json!({
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "topics": topic,
        "file": file.display().to_string(),
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_record_goes_to_the_dlq_and_the_pipeline_continues() {
    let broker = TestBroker::start().await;
    let worker = TestWorker::start(&broker.bootstrap).await;
    let out = worker.path("raw.txt");
    produce(&broker.bootstrap, "raw", &[br#"{"n": 1}"#, POISON, br#"{"n": 2}"#]).await;

    let mut config = sink_config("raw", &out);
    let extra = json!({
        "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": "raw-dlq",
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "true",
    });
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    worker.rest.create("tolerant", config).await;

    let got = wait_until(WAIT, "both good records are in the file", || async {
        let l = lines(&out);
        if l.len() >= 2 {
            Ok(l)
        } else {
            Err(format!("{l:?}"))
        }
    })
    .await;
    let values: Vec<serde_json::Value> =
        got.iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {l:?}: {e}"))).collect();
    assert_eq!(values, [json!({"n": 1}), json!({"n": 2})]);

    let dead = read_topic(&broker.bootstrap, "raw-dlq", 1).await;
    assert_eq!(dead[0].payload.as_deref(), Some(POISON), "the DLQ holds the original bytes");
    assert_eq!(dead[0].header("__connect.errors.topic"), Some("raw"));
    assert_eq!(dead[0].header("__connect.errors.partition"), Some("0"));
    assert_eq!(dead[0].header("__connect.errors.offset"), Some("1"));
    assert_eq!(dead[0].header("__connect.errors.connector.name"), Some("tolerant"));
    assert_eq!(dead[0].header("__connect.errors.stage"), Some("VALUE_CONVERTER"));
    for key in ["__connect.errors.exception.class.name", "__connect.errors.exception.message"] {
        assert!(dead[0].header(key).is_some_and(|v| !v.is_empty()), "header {key} in {:?}", dead[0].headers);
    }

    // Still running, and still delivering.
    produce(&broker.bootstrap, "raw", &[br#"{"n": 3}"#]).await;
    wait_until(WAIT, "a record sent after the poison reaches the file", || async {
        let l = lines(&out);
        if l.len() >= 3 {
            Ok(())
        } else {
            Err(format!("{l:?}"))
        }
    })
    .await;
    worker.rest.wait_state("tolerant", "RUNNING", Some(1)).await;

    worker.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_no_tolerance_a_poison_record_fails_the_task_with_the_conversion_error() {
    let broker = TestBroker::start().await;
    let worker = TestWorker::start(&broker.bootstrap).await;
    let out = worker.path("strict.txt");
    produce(&broker.bootstrap, "strict", &[br#"{"n": 1}"#, POISON]).await;

    let mut config = sink_config("strict", &out);
    config["errors.tolerance"] = json!("none");
    worker.rest.create("strict", config).await;

    let task = worker.rest.wait_task_failed("strict", 0).await;
    let trace = task["trace"].as_str().unwrap_or_else(|| panic!("a failed task has a trace: {task}"));
    let lower = trace.to_lowercase();
    assert!(lower.contains("conver"), "the trace names the conversion error: {trace}");

    worker.stop().await;
    broker.stop().await;
}
